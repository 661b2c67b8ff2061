// Operations: liveness, readiness and Prometheus metrics.
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/healthz", {
    schema: { tags: ["ops"], summary: "liveness: the process answers", response: { 200: Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false }) } },
  }, async () => ({ status: "ok" as const }));

  app.get("/metrics", {
    schema: { tags: ["ops"], summary: "Prometheus metrics (text exposition format)", produces: ["text/plain"] },
  }, async (_req, reply) => {
    const reg = app.gaelp.metrics.registry;
    return reply.type(reg.contentType).send(await reg.metrics());
  });
};
