// Seeded policy weights in the canonical layout for tests: a random MLP whose outputs spread
// over many bid levels (so rollouts exercise winning and losing), normalisation included.
import seedrandom from "seedrandom";
import { policyLayout, type PolicySpec } from "../../agents/policy/spec.js";

export function randomPolicy(spec: PolicySpec, seed: number, scale = 0.3): Float32Array {
  const rng = seedrandom(String(seed));
  const { slots, size } = policyLayout(spec);
  const w = new Float32Array(size);
  for (const t of slots) {
    for (let i = 0; i < t.size; i++) {
      if (t.name === "obs_mean") w[t.offset + i] = (rng() - 0.5) * 0.2;
      else if (t.name === "obs_std") w[t.offset + i] = 0.5 + rng();
      else w[t.offset + i] = (rng() * 2 - 1) * scale;
    }
  }
  return w;
}
