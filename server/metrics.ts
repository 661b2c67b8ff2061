// Prometheus metrics of one app (its own Registry, so tests can build many apps in one process).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ServerMetrics } from "./contracts.js";

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "gaelp_" });
  return {
    registry,
    httpDuration: new Histogram({
      name: "gaelp_http_request_duration_seconds",
      help: "HTTP request latency by route, method and status",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    bids: new Counter({ name: "gaelp_bids_total", help: "bid decisions served, by status (bid, halted, fallback)", labelNames: ["status"] as const, registers: [registry] }),
    halts: new Counter({ name: "gaelp_pacing_halts_total", help: "campaigns halted by the pacing guard", labelNames: ["campaign"] as const, registers: [registry] }),
    simulations: new Counter({ name: "gaelp_simulations_total", help: "what-if simulations by final status", labelNames: ["status"] as const, registers: [registry] }),
    shed: new Counter({ name: "gaelp_shed_requests_total", help: "requests shed with 503 under overload, by pressure type", labelNames: ["type"] as const, registers: [registry] }),
    feedbackEvents: new Counter({ name: "gaelp_feedback_events_total", help: "feedback events by kind and result (stored, duplicate, conflict)", labelNames: ["kind", "result"] as const, registers: [registry] }),
    decisionLog: new Counter({ name: "gaelp_decision_log_rows_total", help: "served decisions written to the decision log, or dropped", labelNames: ["result"] as const, registers: [registry] }),
  };
}
