// Macro benchmarks of the policy acting inside the world and of the rollout engine.
//   policy.decisions_per_s   decisions/s of worlds rolled out by a 64-64 MLP in WASM (one thread,
//                            experience rows written, no Arrow); bench/rollout_instructions.ts
//                            counts the same rollout's instructions per decision under callgrind
//   engine.rows_per_s        rows/s delivered to the main thread as Arrow record batches through
//                            the Piscina pool (one thread per vCPU)
//   engine.inprocess.rows_per_s  the same worlds and tasks run on the main thread
//   engine.pool_efficiency   the ratio of the two: what the pool costs (1 = free). On this
//                            machine two vCPUs give about one core, so this is overhead, not speed-up.
import { availableParallelism } from "node:os";
import { resolveConfig } from "../env/config.js";
import { worldSeed } from "../env/seeds.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { WorldRunner } from "../engine/world_runner.js";
import { RolloutEngine } from "../engine/rollout_engine.js";
import { trainedLikeWeights } from "./policy_weights.js";
import type { SuiteOptions } from "./run.js";

const config = resolveConfig();
const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden: [64, 64], activation: "relu" });
// random weights over the normalisation a trained policy has (policy_weights.ts): every input of the
// first layer nonzero, as in training and serving (identity normalisation would leave ~21 of 50)
// (computed on first use: importing the suite costs nothing)
let cachedWeights: Float32Array | undefined;
const benchWeights = (): Float32Array => (cachedWeights ??= trainedLikeWeights(config, spec));

function policyRun(warmMs: number, runMs: number): number {
  const worlds = 4;
  const runner = new WorldRunner(config, spec, worlds);
  runner.setPolicy(benchWeights(), 1);
  const f = runner.core as unknown as Record<string, (...a: number[]) => number>;
  for (let w = 0; w < worlds; w++) {
    const [lo, hi] = worldSeed(9, w);
    f.resetWorld(w, lo, hi);
  }
  let hour = config.market.warmupDays * 24;
  const step = (): number => {
    hour += 6;
    f.expClear();
    let d = 0;
    for (let w = 0; w < worlds; w++) d += f.rolloutWorld(w, w, 1, hour, 0, 1);
    return d;
  };
  const warmEnd = performance.now() + warmMs;
  while (performance.now() < warmEnd) step();
  let decisions = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < runMs) decisions += step();
  return decisions / ((performance.now() - t0) / 1000);
}

export async function benchPolicy(opts: SuiteOptions): Promise<Record<string, number>> {
  const runs = Array.from({ length: opts.quick ? 1 : 3 }, () => policyRun(opts.quick ? 400 : 1000, opts.quick ? 800 : 3000));
  return { "policy.decisions_per_s": Math.max(...runs) };
}

async function engineRun(threads: number, worlds: number, hours: number, iterations: number): Promise<number> {
  const engine = new RolloutEngine({ config, policy: spec, worlds, seed: 3, threads, worldsPerTask: Math.max(1, Math.ceil(worlds / 8)) });
  try {
    engine.setPolicy(benchWeights(), 1);
    // the first iteration creates the worlds (warm-up days) and tiers the WASM up in every thread
    await engine.run({ hours });
    let rows = 0;
    let seconds = 0;
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      const r = await engine.run({ hours });
      seconds += (performance.now() - t0) / 1000;
      rows += r.rows;
    }
    return rows / seconds;
  } finally {
    await engine.close();
  }
}

export async function benchEngine(opts: SuiteOptions): Promise<Record<string, number>> {
  const worlds = opts.quick ? 16 : 64;
  // a week per iteration: record batches of a few thousand rows, where Arrow's per-batch cost is small
  const hours = 168;
  const iterations = opts.quick ? 2 : 4;
  const threads = Math.max(1, availableParallelism());
  const repeats = opts.quick ? 1 : 2;
  let pool = 0;
  let local = 0;
  // interleaved, so slow phases of the host hit both sides alike
  for (let r = 0; r < repeats; r++) {
    local = Math.max(local, await engineRun(0, worlds, hours, iterations));
    pool = Math.max(pool, await engineRun(threads, worlds, hours, iterations));
  }
  return {
    "engine.rows_per_s": pool,
    "engine.inprocess.rows_per_s": local,
    "engine.pool_efficiency": pool / local,
    "engine.threads": threads,
  };
}
