// buildApp(opts): the whole HTTP surface of gaelp as one Fastify instance, without listening
// (server/main.ts listens; tests use app.inject). Parts are plugins wired through the contracts in
// server/contracts.ts: the pacing guard gates bids and takes delivered spend from feedback; the
// decision log records served bids so feedback can be joined to them for offline training.
import { join } from "node:path";
import Fastify, {
  type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type RawReplyDefaultExpression,
  type RawRequestDefaultExpression, type RawServerDefault,
} from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { createMetrics } from "./metrics.js";
import type { CampaignGate, DecisionSink, DeliverySink, PolicyProvider, ServerMetrics } from "./contracts.js";
import { registerErrors } from "./errors.js";
import { opsRoutes } from "./routes/ops.js";
import { PacingGuard, type PacingOptions } from "./pacing/guard.js";
import { pacingRoutes } from "./routes/pacing.js";

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppOptions {
  /** folder holding run folders; checkpoints are loaded by run name only, from here */
  runsRoot: string;
  /** folder for the server's own files (pacing audit log, feedback and decision logs) */
  dataDir: string;
  /** run name (a folder under runsRoot) whose newest valid checkpoint serves bids */
  checkpoint?: string;
  /** API keys accepted in `x-api-key` (or `authorization: Bearer KEY`); none = no auth */
  apiKeys?: string[];
  /** pacing guard thresholds and limits (docs/pacing.md); its files go to <dataDir>/pacing/ */
  pacing?: PacingOptions;
  /** pino logger options, or false (default) */
  logger?: FastifyServerOptions["logger"];
}

/** Shared state the plugins read (decorated on the app as `app.gaelp`). */
export interface AppContext {
  opts: Required<Pick<AppOptions, "runsRoot" | "dataDir">> & AppOptions;
  metrics: ServerMetrics;
  gate: CampaignGate;
  delivery: DeliverySink;
  decisions: DecisionSink;
  policy: PolicyProvider;
}

declare module "fastify" {
  interface FastifyInstance {
    gaelp: AppContext;
  }
}

const ALWAYS_ACTIVE: CampaignGate = { status: () => ({ state: "active" }) };
const NO_SINK = { record(): void {} };

export async function buildApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    logger: opts.logger ?? false,
    // bodies are JSON parsed with secure-json-parse: __proto__ and constructor keys are refused
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const ctx: AppContext = {
    opts: { ...opts, runsRoot: opts.runsRoot, dataDir: opts.dataDir },
    metrics: createMetrics(),
    gate: ALWAYS_ACTIVE,
    delivery: NO_SINK,
    decisions: NO_SINK,
    policy: { current: () => undefined },
  };
  app.decorate("gaelp", ctx);
  registerErrors(app);
  const pacing = await PacingGuard.open(join(opts.dataDir, "pacing"), opts.pacing, {
    onHalt: (campaign) => ctx.metrics.halts.inc({ campaign }),
    onError: (err) => app.log.error({ err }, "pacing guard"),
  });
  if (pacing.report.tornBytes > 0) {
    app.log.warn({ audit: pacing.report.path, tornBytes: pacing.report.tornBytes, torn: pacing.report.tornPreview }, "pacing audit log: truncated a torn last line (a write cut short by a crash)");
  }
  ctx.gate = pacing;
  ctx.delivery = pacing;
  app.addHook("onClose", () => pacing.close());
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "gaelp", version: "1", description: "Bids from a trained gaelp policy behind pacing guardrails, what-if simulations and outcome feedback" },
      components: { securitySchemes: { apiKey: { type: "apiKey", name: "x-api-key", in: "header" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  await app.register(opsRoutes);
  await app.register(pacingRoutes, { guard: pacing });
  // parts register below (each a plugin in server/routes/): bids, pacing, simulations, feedback
  return app;
}
