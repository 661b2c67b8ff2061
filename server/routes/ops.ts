// Operations: liveness, readiness and Prometheus metrics.
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

const Ready = Type.Object({
  ready: Type.Boolean(),
  policy: Type.Union([Type.Null(), Type.Object({ run: Type.String({ maxLength: 200 }), step: Type.Integer(), version: Type.Integer() }, { additionalProperties: false })]),
  underPressure: Type.Boolean(),
  reasons: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 8 }),
}, { additionalProperties: false });

export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/healthz", {
    schema: { tags: ["ops"], summary: "liveness: the process answers", response: { 200: Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false }) } },
  }, async () => ({ status: "ok" as const }));

  app.get("/readyz", {
    schema: { tags: ["ops"], summary: "readiness: a policy is loaded and the server is not overloaded (503 otherwise)", response: { 200: Ready, 503: Ready } },
  }, async (_req, reply) => {
    const p = app.gaelp.policy.current();
    const pressure = typeof app.isUnderPressure === "function" ? app.isUnderPressure() : false;
    const reasons: string[] = [];
    if (p === undefined) reasons.push("no policy loaded (start with a checkpoint or POST /v1/policy/reload)");
    if (pressure) reasons.push("under pressure: requests are being shed");
    const body = { ready: reasons.length === 0, policy: p === undefined ? null : { run: p.run, step: p.step, version: p.version }, underPressure: pressure, reasons };
    return reply.code(body.ready ? 200 : 503).send(body);
  });

  app.get("/metrics", {
    schema: { tags: ["ops"], summary: "Prometheus metrics (text exposition format)", produces: ["text/plain"] },
  }, async (_req, reply) => {
    const reg = app.gaelp.metrics.registry;
    return reply.type(reg.contentType).send(await reg.metrics());
  });
};
