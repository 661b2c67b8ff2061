// The bench's policy: seeded random weights (a policy that spreads its bids) with the observation
// normalisation a trained policy has. Training folds every observation into running means and
// variances (agents/ppo/running_stats.ts), so a trained policy's obs_mean is not 0: one-hot and
// mostly-zero features normalise to nonzero inputs and every input of the first layer is nonzero.
// Identity normalisation (mean 0, std 1) would leave about 21 of the 50 inputs nonzero and
// flatter the forward pass, so the statistics here come from the bench policy's own rollouts.
import * as L from "../wasm/layout.js";
import type { GaelpConfig } from "../env/config.js";
import { worldSeed } from "../env/seeds.js";
import { policyLayout, type PolicySpec } from "../agents/policy/spec.js";
import { RunningMeanStd } from "../agents/ppo/running_stats.js";
import { WorldRunner } from "../engine/world_runner.js";

type Fn = (...a: number[]) => number;

/** Seeded random weights over identity normalisation (mean 0, std 1). */
export function randomWeights(spec: PolicySpec): Float32Array {
  const { slots, size } = policyLayout(spec);
  const w = new Float32Array(size);
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  for (const t of slots) for (let i = 0; i < t.size; i++) w[t.offset + i] = t.name === "obs_std" ? 1 : t.name === "obs_mean" ? 0 : rnd() * 0.3;
  return w;
}

/** The random weights with obs_mean / obs_std set as training would: running statistics of the
 *  observations of `worlds` worlds rolled out for `hours` hours by the random-weight policy. */
export function trainedLikeWeights(config: GaelpConfig, spec: PolicySpec, worlds = 4, hours = 48): Float32Array {
  const w = randomWeights(spec);
  const runner = new WorldRunner(config, spec, worlds);
  runner.setPolicy(w, 1);
  const f = runner.core as unknown as Record<string, Fn>;
  const stats = new RunningMeanStd(L.OBS_DIM);
  const until = config.market.warmupDays * 24 + hours;
  for (let i = 0; i < worlds; i++) {
    const [lo, hi] = worldSeed(7, i);
    f.resetWorld(i, lo, hi);
    f.expClear();
    f.rolloutWorld(i, i, 1, until, 0, 1);
    const rows = f.expRows();
    stats.update(new Float32Array(runner.core.memory.buffer, f.expColumnPtr(L.X_OBS), rows * L.OBS_DIM), rows);
  }
  const { slots } = policyLayout(spec);
  const mean = slots.find((t) => t.name === "obs_mean")!;
  const std = slots.find((t) => t.name === "obs_std")!;
  w.set(stats.mean, mean.offset);
  w.set(stats.std(), std.offset);
  return w;
}
