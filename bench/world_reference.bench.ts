// The full world step, wasm against its plain-TS reference (wasm/reference/world) on identical
// work: the default config, 4 worlds, seed 7 and the truthful bidder, stepped the same number of
// decisions from a fresh reset. The two cores are bit-for-bit the same world (tests/
// world_reference.test.ts), so both sides run the same auctions, hours and conversions; a check
// after timing holds their last decision ids and hours equal.
//
// A decision's cost depends on where the world is (a step can run hours of rivals-only auctions
// when our budget is out), so the workload is a fixed number of steps, not a fixed time. Each side
// first warms up by wall time on a separate instance (V8 tiers hot JS and wasm up to TurboFan in
// the background), then the timed instance is reset (not timed) and stepped. Sides alternate and
// each reports its best of three runs.
//
//   world.ts_reference.decisions_per_s       plain-TS reference, decisions (our bids) per second
//   world.ts_reference.wasm_decisions_per_s  wasm VectorEnv on the same workload
//   world.wasm_over_ts                       the ratio of the two
import { VectorEnv } from "../env/vector_env.js";
import { resolveConfig, type GaelpConfig } from "../env/config.js";
import { writeParams } from "../env/params.js";
import { TruthfulBidder } from "../agents/baselines/truthful.js";
import { TsWorldCore } from "../wasm/reference/world/index.js";
import { I_DECISION_ID, I_HOUR, INFO_DIM } from "../wasm/layout.js";
import type { SuiteOptions } from "./run.js";

const WORLDS = 4;
const SEED = 7;

/** One side of the comparison: start() makes a fresh instance reset from SEED and returns a
 *  function that steps it once (bidder included) and returns the info array. */
interface Side {
  name: "wasm" | "ts";
  start(config: GaelpConfig): () => Float64Array;
}

const wasmSide: Side = {
  name: "wasm",
  start(config) {
    const env = VectorEnv.create({ config, numWorlds: WORLDS, seed: SEED });
    const bidder = new TruthfulBidder();
    bidder.reset(WORLDS, config);
    let [obs, info] = env.reset();
    const action = env.actions; // the bidder writes straight into the env's action buffers
    return () => {
      bidder.act(obs, info, action);
      const r = env.step(action);
      bidder.observe(r[1], r[2], r[3], r[4]);
      obs = r[0];
      info = r[4];
      return info;
    };
  },
};

const tsSide: Side = {
  name: "ts",
  start(config) {
    const core = new TsWorldCore();
    writeParams(config, WORLDS, core.params);
    core.configure();
    core.resetAll(SEED);
    const bidder = new TruthfulBidder();
    bidder.reset(WORLDS, config);
    const action = { bid: core.bid, creative: core.creative };
    const { obs, reward, terminated, truncated, info } = core;
    return () => {
      bidder.act(obs, info, action);
      core.stepWorlds(0, WORLDS);
      bidder.observe(reward, terminated, truncated, info);
      return info;
    };
  },
};

function warm(side: Side, config: GaelpConfig, ms: number): void {
  const step = side.start(config);
  const end = performance.now() + ms;
  while (performance.now() < end) for (let k = 0; k < 100; k++) step();
}

interface Timed {
  seconds: number;
  lastDecision: number;
  lastHour: number;
}

function timed(side: Side, config: GaelpConfig, steps: number): Timed {
  const step = side.start(config);
  let info!: Float64Array;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) info = step();
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, lastDecision: info[I_DECISION_ID], lastHour: info[(WORLDS - 1) * INFO_DIM + I_HOUR] };
}

export async function benchWorldReference(opts: SuiteOptions): Promise<Record<string, number>> {
  const config = resolveConfig();
  // From reset, 60,000 steps cover the warm-up and about six 30-day flights, 200,000 about
  // seventeen (most ended by the budget): about 1.5 s / 5 s of TS stepping per run on a 2-vCPU VM.
  const steps = opts.quick ? 60_000 : 200_000;
  const warmMs = opts.quick ? 400 : 1500;
  const repeats = 3;
  warm(wasmSide, config, warmMs);
  warm(tsSide, config, warmMs);
  const best = { wasm: Infinity, ts: Infinity };
  let reference: Timed | undefined;
  for (let r = 0; r < repeats; r++) {
    for (const side of [wasmSide, tsSide]) {
      const t = timed(side, config, steps);
      // same workload on both sides, every run
      reference ??= t;
      if (t.lastDecision !== reference.lastDecision || t.lastHour !== reference.lastHour) {
        throw new Error(
          `world_reference bench: ${side.name} ended at decision ${t.lastDecision}, hour ${t.lastHour}; ` +
            `expected ${reference.lastDecision}, ${reference.lastHour} (the cores diverged: run tests/world_reference.test.ts)`,
        );
      }
      if (t.seconds < best[side.name]) best[side.name] = t.seconds;
    }
  }
  const decisions = steps * WORLDS;
  const wasmRate = decisions / best.wasm;
  const tsRate = decisions / best.ts;
  return {
    "world.ts_reference.decisions_per_s": tsRate,
    "world.ts_reference.wasm_decisions_per_s": wasmRate,
    "world.wasm_over_ts": wasmRate / tsRate,
  };
}
