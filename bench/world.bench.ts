// Macro benchmark of the full world: VectorEnv worlds stepped by a baseline bidder through the
// public API (the bidder's JS, action validation and output copies included). Reports
// opportunities/s (every auction the worlds ran, ours and rivals-only) and decisions/s (auctions
// our campaign bid in), per core: one thread.
import { VectorEnv } from "../env/vector_env.js";
import { resolveConfig } from "../env/config.js";
import { createBidder } from "../agents/baselines/index.js";
import { I_OPPORTUNITIES, INFO_DIM } from "../wasm/layout.js";
import type { SuiteOptions } from "./run.js";

interface WorldRun {
  opportunitiesPerS: number;
  decisionsPerS: number;
  resetMs: number;
}

function runWorlds(bidderName: string, numWorlds: number, steps: number): WorldRun {
  const config = resolveConfig();
  const env = VectorEnv.create({ config, numWorlds, seed: 7 });
  const bidder = createBidder(bidderName);
  bidder.reset(numWorlds, config);
  const t0 = performance.now();
  let [obs, info] = env.reset();
  const action = env.actions; // the bidder writes straight into the env's action buffers
  const resetMs = performance.now() - t0;
  // warm-up so the JIT has settled before timing
  for (let s = 0; s < Math.min(200, steps); s++) {
    bidder.act(obs, info, action);
    const r = env.step(action);
    bidder.observe(r[1], r[2], r[3], r[4]);
    obs = r[0];
    info = r[4];
  }
  let opportunities = 0;
  const t1 = performance.now();
  for (let s = 0; s < steps; s++) {
    bidder.act(obs, info, action);
    const r = env.step(action);
    bidder.observe(r[1], r[2], r[3], r[4]);
    obs = r[0];
    info = r[4];
    for (let w = 0; w < numWorlds; w++) opportunities += info[w * INFO_DIM + I_OPPORTUNITIES];
  }
  const seconds = (performance.now() - t1) / 1000;
  return { opportunitiesPerS: opportunities / seconds, decisionsPerS: (steps * numWorlds) / seconds, resetMs };
}

export async function benchWorld(opts: SuiteOptions): Promise<Record<string, number>> {
  const worlds = 8;
  const steps = opts.quick ? 4_000 : 40_000;
  const truthful = runWorlds("truthful", worlds, steps);
  const pacing = runWorlds("pacing", worlds, steps);
  const wide = runWorlds("truthful", 128, Math.max(250, steps / 16));
  return {
    "world.opportunities_per_s": truthful.opportunitiesPerS,
    "world.decisions_per_s": truthful.decisionsPerS,
    "world.pacing.opportunities_per_s": pacing.opportunitiesPerS,
    "world.w128.opportunities_per_s": wide.opportunitiesPerS,
    "world.reset_ms_per_world": truthful.resetMs / worlds,
  };
}
