// buildApp(opts): the whole HTTP surface of gaelp as one Fastify instance, without listening
// (server/main.ts listens; tests use app.inject). Parts are plugins wired through the contracts in
// server/contracts.ts: the pacing guard gates bids and takes delivered spend from feedback; the
// decision log records served bids so feedback can be joined to them for offline training.
import { join } from "node:path";
import Fastify, {
  type FastifyBaseLogger, type FastifyRequest, type FastifyInstance, type onResponseHookHandler, type FastifyServerOptions, type RawReplyDefaultExpression,
  type RawRequestDefaultExpression, type RawServerDefault,
} from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import rateLimit from "@fastify/rate-limit";
import underPressure from "@fastify/under-pressure";
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createMetrics } from "./metrics.js";
import type { CampaignGate, DecisionSink, DeliverySink, PolicyProvider, ServerMetrics } from "./contracts.js";
import { errorBody, registerErrors } from "./errors.js";
import { PolicyServer } from "./policy_server.js";
import { bidRoutes } from "./routes/bids.js";
import { opsRoutes } from "./routes/ops.js";
import { simulationRoutes } from "./routes/simulations.js";
import { SimulationService, type SimulationServiceOptions } from "./simulations/service.js";
import type { WasmTarget } from "../wasm/loader.js";
import { OBS_DIM } from "../wasm/layout.js";
import { PacingGuard, type PacingOptions } from "./pacing/guard.js";
import { pacingRoutes } from "./routes/pacing.js";
import { DecisionLog, type DecisionLogOptions } from "./feedback/decision_log.js";
import { FeedbackLog, type FeedbackLogOptions } from "./feedback/feedback_log.js";
import { DECISIONS_DIR, FEEDBACK_DIR } from "./feedback/format.js";
import { feedbackRoutes } from "./routes/feedback.js";

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
  /** bids: deadline from arrival (ms, default 10) after which the fallback is answered instead */
  deadlineMs?: number;
  /** bids: the fallback bid in dollars (default 0: no bid) */
  fallbackBid?: number;
  /** most opportunities in one POST /v1/bids (default 4096) */
  maxBatch?: number;
  /** body limits in bytes: a single bid (default 8 KiB), a batch (default 8 MiB), any other route (default 1 MiB) */
  bodyLimits?: { bid?: number; bids?: number; other?: number };
  /** requests per API key (or per client address without auth) per window; default 1e6 per minute */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** load shedding (503 + Retry-After) when the event loop is this late (ms, default 200) or this busy
   *  (0..1, default 0.98), sampled every sampleIntervalMs (default 100; at least 20: the delay
   *  monitor's resolution is 10 ms and an interval without a sample reads as overload) */
  loadShedding?: { maxEventLoopDelayMs?: number; maxEventLoopUtilization?: number; sampleIntervalMs?: number } | false;
  /** WASM build serving bids (default release) */
  wasm?: WasmTarget;
  /** seed of the server's sampling stream for `sample: true` requests without a seed (default: time) */
  seed?: number;
  /** what-if simulations: worker threads (default 1), jobs kept (64), jobs queued (16; more get 429),
   *  worlds per task (8) */
  simulations?: SimulationServiceOptions;
  /** decision log (<dataDir>/decisions/): rows per segment, flush interval, bound on rows waiting for the disk */
  decisionLog?: DecisionLogOptions;
  /** feedback (<dataDir>/feedback/): most events per request (default 1000), touchpoints per conversion (64),
   *  body limit (default 4 MiB), single segments per background compaction (128), idempotency window in
   *  hours of receipt time (168) and most event ids remembered (5,000,000) */
  feedback?: FeedbackLogOptions & { maxEvents?: number; maxTouchpoints?: number; bodyLimit?: number };
}

/** Shared state the plugins read (decorated on the app as `app.gaelp`). */
export interface AppContext {
  opts: Required<Pick<AppOptions, "runsRoot" | "dataDir">> & AppOptions;
  metrics: ServerMetrics;
  gate: CampaignGate;
  delivery: DeliverySink;
  decisions: DecisionSink;
  policy: PolicyProvider;
  /** every route with its schema, as registered (the property tests fire bodies at each) */
  routes: { method: string; url: string; schema?: Record<string, unknown>; bodyLimit?: number }[];
  /** the what-if simulation runner (its worker pool starts with the first job) */
  simulations: SimulationService;
}

declare module "fastify" {
  interface FastifyInstance {
    gaelp: AppContext;
  }
  interface FastifyRequest {
    /** which configured API key the auth hook matched (-1: none checked); the rate limit's key */
    apiKeyIndex: number;
  }
}

const ALWAYS_ACTIVE: CampaignGate = { status: () => ({ state: "active" }) };
const NO_SINK = { record(): void {}, recordBatch(): void {} };
/** Routes anyone may call when API keys are set (probes and the API description). */
const PUBLIC = /^\/(healthz|readyz|docs)(\/|$|\?)/;

const keyDigest = (k: string): Buffer => createHash("sha256").update(k).digest();

/** The API key of a request: `x-api-key`, else `authorization: Bearer KEY`. */
function apiKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const x = headers["x-api-key"];
  if (typeof x === "string" && x !== "") return x;
  const a = headers.authorization;
  if (typeof a === "string" && a.startsWith("Bearer ")) return a.slice(7);
  return undefined;
}

/**
 * Runs `rounds` bid requests through the whole stack (routing, validation, the forward pass,
 * serialization) so V8 has compiled the hot path before the first real request, which would
 * otherwise miss a 10 ms deadline. Warm-up decisions are not logged and the metrics are reset after.
 */
export async function warmUp(app: App, rounds = 200): Promise<void> {
  const ctx = app.gaelp;
  if (ctx.policy.current() === undefined) return;
  const sink = ctx.decisions;
  ctx.decisions = NO_SINK;
  try {
    const obs = new Array<number>(OBS_DIM).fill(0);
    const key = ctx.opts.apiKeys?.[0];
    const headers = key === undefined ? {} : { "x-api-key": key };
    for (let i = 0; i < rounds; i++) {
      await app.inject({ method: "POST", url: "/v1/bid", headers, payload: { campaignId: "warm-up", obs, refValue: 1 } });
      if (i % 20 === 0) await app.inject({ method: "POST", url: "/v1/bids", headers, payload: { campaignId: "warm-up", opportunities: [{ obs, refValue: 1 }, { obs, refValue: 2 }] } });
    }
  } finally {
    ctx.decisions = sink;
    ctx.metrics.registry.resetMetrics();
  }
}

export async function buildApp(opts: AppOptions): Promise<App> {
  for (const [k, v] of Object.entries({ deadlineMs: opts.deadlineMs, fallbackBid: opts.fallbackBid })) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`server option ${k} must be a finite number >= 0, got ${v}`);
  }
  if (opts.maxBatch !== undefined && !(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1 && opts.maxBatch <= 65536)) {
    throw new RangeError(`server option maxBatch must be an integer in [1, 65536], got ${opts.maxBatch}`);
  }
  if (opts.apiKeys !== undefined && opts.apiKeys.some((k) => typeof k !== "string" || k.length < 16)) {
    throw new RangeError("server option apiKeys: every key must be a string of at least 16 characters");
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const limits = { bid: 8 * 1024, bids: 8 * 1024 * 1024, other: 1024 * 1024, ...opts.bodyLimits };
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: limits.other,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // bodies are JSON parsed with secure-json-parse: __proto__ and constructor keys are refused
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const policy = new PolicyServer(opts.runsRoot, opts.wasm ?? "release", opts.seed);
  if (opts.checkpoint !== undefined) policy.load(opts.checkpoint, "checkpoint");

  const metrics = createMetrics();
  const ctx: AppContext = {
    opts: { ...opts, runsRoot: opts.runsRoot, dataDir: opts.dataDir },
    metrics,
    gate: ALWAYS_ACTIVE,
    delivery: NO_SINK,
    decisions: NO_SINK,
    policy,
    routes: [],
    simulations: new SimulationService(opts.simulations, (status) => metrics.simulations.inc({ status })),
  };
  app.decorate("gaelp", ctx);
  // feedback and the decision log, opened first: a damaged feedback segment fails start-up naming
  // the file before anything else holds files open
  const fb = opts.feedback ?? {};
  for (const [k, v, hi] of [["maxEvents", fb.maxEvents, 100_000], ["maxTouchpoints", fb.maxTouchpoints, 1024], ["bodyLimit", fb.bodyLimit, 1 << 30]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= hi)) throw new RangeError(`server option feedback.${k} must be an integer in [1, ${hi}], got ${v}`);
  }
  const feedbackLog = new FeedbackLog(join(opts.dataDir, FEEDBACK_DIR), fb, { onError: (err) => app.log.error({ err }, "feedback log") });
  const decisionLog = new DecisionLog(join(opts.dataDir, DECISIONS_DIR), opts.decisionLog, {
    onError: (err) => app.log.error({ err }, "decision log"),
    onRows: (result, n) => ctx.metrics.decisionLog.inc({ result }, n),
  });
  ctx.decisions = decisionLog;
  // latency by route (the route's pattern, not the raw URL, so labels stay bounded): each route gets
  // its own onResponse hook holding its labelled children by method and status, so a request costs
  // two small map lookups and one observe (no route lookup, no key string, no label hashing)
  const timerOf = (route: string) => {
    const children = new Map<string, Map<number, { observe(v: number): void }>>();
    return (method: string, status: number): { observe(v: number): void } => {
      let byStatus = children.get(method);
      if (byStatus === undefined) children.set(method, (byStatus = new Map()));
      let h = byStatus.get(status);
      if (h === undefined) byStatus.set(status, (h = ctx.metrics.httpDuration.labels({ method, route, status: String(status) })));
      return h;
    };
  };
  app.addHook("onRoute", (r) => {
    for (const m of [r.method].flat()) if (m !== "HEAD") ctx.routes.push({ method: m, url: r.url, schema: r.schema as Record<string, unknown> | undefined, bodyLimit: r.bodyLimit });
    const timer = timerOf(r.url);
    const observe: onResponseHookHandler = (req, reply, done) => {
      timer(req.method, reply.statusCode).observe(reply.elapsedTime / 1000);
      done();
    };
    r.onResponse = r.onResponse === undefined ? [observe] : [...[r.onResponse].flat(), observe];
  });
  // requests no route matched (404s) are timed under "unmatched"
  const unmatched = timerOf("unmatched");
  app.addHook("onResponse", (req, reply, done) => {
    if (req.is404) unmatched(req.method, reply.statusCode).observe(reply.elapsedTime / 1000);
    done();
  });
  registerErrors(app);



  if (opts.apiKeys !== undefined && opts.apiKeys.length > 0) {
    const digests = opts.apiKeys.map(keyDigest);
    app.decorateRequest("apiKeyIndex", -1);
    app.addHook("onRequest", async (req, reply) => {
      if (PUBLIC.test(req.url)) return;
      const key = apiKeyOf(req.headers);
      const d = key === undefined ? undefined : keyDigest(key);
      const i = d === undefined ? -1 : digests.findIndex((k) => timingSafeEqual(k, d));
      if (i < 0) {
        return reply.code(401).header("www-authenticate", "ApiKey").send(errorBody(401, "unauthorized", key === undefined ? "an API key is required (x-api-key header or Authorization: Bearer KEY)" : "the API key is not valid"));
      }
      req.apiKeyIndex = i;
    });
  }
  if (opts.rateLimit !== false) {
    const rl = opts.rateLimit ?? { max: 1_000_000, timeWindowMs: 60_000 };
    // probes and the API description are not limited: their routes get no rate-limit hook at all
    // (this onRoute hook runs before the plugin's), so no request pays for an allow-list check
    app.addHook("onRoute", (r) => {
      if (PUBLIC.test(r.url)) r.config = { ...(r.config as object | undefined), rateLimit: false } as typeof r.config;
    });
    const keyed = opts.apiKeys !== undefined && opts.apiKeys.length > 0;
    await app.register(rateLimit, {
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      // with API keys, one budget per key: the one the auth hook matched (it has refused unknown
      // keys already, and the key is not hashed twice); without, one per client address (the
      // plugin's own key), since an unchecked key header would let a client open a fresh budget
      // per request
      ...(keyed ? { keyGenerator: (req: FastifyRequest) => `key:${req.apiKeyIndex}` } : {}),
      errorResponseBuilder: (_req, c) => ({ ...errorBody(429, "rate_limited", `rate limit: at most ${c.max} requests per ${c.after} for this ${keyed ? "API key" : "client address"}; retry after ${c.after}`), statusCode: 429 }),
    });
  }
  if (opts.loadShedding !== false) {
    const ls = opts.loadShedding ?? {};
    if (ls.sampleIntervalMs !== undefined && !(ls.sampleIntervalMs >= 20)) throw new RangeError(`server option loadShedding.sampleIntervalMs must be >= 20, got ${ls.sampleIntervalMs}`);
    await app.register(underPressure, {
      maxEventLoopDelay: ls.maxEventLoopDelayMs ?? 200,
      maxEventLoopUtilization: ls.maxEventLoopUtilization ?? 0.98,
      sampleInterval: ls.sampleIntervalMs ?? 100,
      retryAfter: 1,
      pressureHandler: (req, reply, type, value) => {
        if (PUBLIC.test(req.url) || req.url === "/metrics") return; // probes and monitoring answer (readyz reports the pressure)
        ctx.metrics.shed.inc({ type });
        reply.code(503).header("retry-after", "1").send(errorBody(503, "overloaded", `server overloaded (${type} ${value === undefined ? "" : value.toFixed(2)}): request shed, retry after 1 s`));
      },
    });
    // start-up (WASM compile, schema compilation) blocks the loop once; let the pressure samples
    // move past it before the app is ready, so the first requests are not shed for it
    const interval = ls.sampleIntervalMs ?? 100;
    app.addHook("onReady", async () => {
      const sleep = () => new Promise((r) => setTimeout(r, interval));
      await sleep();
      await sleep();
      for (let waited = 0; app.isUnderPressure() && waited < 20 * interval; waited += interval) await sleep();
    });
  }
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
  await app.register(bidRoutes, {
    policy,
    deadlineMs: opts.deadlineMs ?? 10,
    fallbackBid: opts.fallbackBid ?? 0,
    bidBodyLimit: limits.bid,
    bidsBodyLimit: limits.bids,
    maxBatch: opts.maxBatch ?? 4096,
  });
  await app.register(simulationRoutes, { service: ctx.simulations, bodyLimit: 64 * 1024 });

  app.addHook("onClose", async () => {
    const results = await Promise.allSettled([decisionLog.close(), feedbackLog.close()]);
    for (const r of results) if (r.status === "rejected") app.log.error({ err: r.reason }, "closing the decision or feedback log");
  });
  await app.register(feedbackRoutes, {
    log: feedbackLog,
    decisions: decisionLog,
    maxEvents: fb.maxEvents ?? 1000,
    maxTouchpoints: fb.maxTouchpoints ?? 64,
    bodyLimit: fb.bodyLimit ?? 4 * 1024 * 1024,
  });
  return app;
}
