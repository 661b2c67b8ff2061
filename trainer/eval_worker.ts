// One evaluation job: a bidder (a baseline by name and parameters, or a policy by spec and weights)
// flies one flight in each of N seeded worlds of one seed stream. trainer/evaluate.ts runs jobs
// in-process or, as this file's default export, in a Piscina pool; a job's result depends only on
// the job, so both give the same numbers.
import type { GaelpConfig } from "../env/config.js";
import type { WasmTarget } from "../wasm/loader.js";
import { type BidderName, createBidder } from "../agents/baselines/index.js";
import type { Bidder } from "../agents/baselines/bidder.js";
import { PolicyBidder } from "../agents/policy/bidder.js";
import type { PolicySpec } from "../agents/policy/spec.js";
import { type KpiRow, type WorldKpis, runSimulation } from "./simulate.js";

export type JobBidder =
  | { kind: "baseline"; name: BidderName; params: Record<string, number> }
  | { kind: "policy"; name: string; spec: PolicySpec; weights: Float32Array; greedy: boolean; seed?: number };

export interface SimJob {
  config: GaelpConfig;
  bidder: JobBidder;
  worlds: number;
  days: number;
  seed: number;
  stream: number;
  wasm?: WasmTarget;
}

export interface JobResult {
  kpis: KpiRow[];
  perWorld: WorldKpis[];
  decisions: number;
  seconds: number;
}

/** The bidder a job names (also used by the server's what-if worker, server/simulations/worker.ts). */
export function makeBidder(b: JobBidder, wasm?: WasmTarget): Bidder {
  if (b.kind === "baseline") return createBidder(b.name, b.params);
  return new PolicyBidder({ spec: b.spec, weights: b.weights, name: b.name, greedy: b.greedy, seed: b.seed, wasm });
}

export default function runJob(job: SimJob): JobResult {
  const r = runSimulation({
    config: job.config, bidder: makeBidder(job.bidder, job.wasm), worlds: job.worlds, days: job.days, seed: job.seed, stream: job.stream, wasm: job.wasm,
  });
  return { kpis: r.kpis, perWorld: r.perWorld.map((w) => w.kpis), decisions: r.rates.decisions, seconds: r.rates.wallSeconds };
}
