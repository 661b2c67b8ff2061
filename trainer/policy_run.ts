// A run folder holding one policy and nothing else to resume: config.json plus one checkpoint with
// policy_spec.json and policy.f32 (the files `gaelp eval` and `gaelp serve` read). It packages a
// policy that did not come from `gaelp train` (an initial policy, one trained elsewhere) so it can
// be evaluated and served; benches and tests serve policies this way.
import { join } from "node:path";
import type { GaelpConfig } from "../env/config.js";
import { type PolicySpec, canonicalToBytes, policySize, validatePolicySpec } from "../agents/policy/spec.js";
import { writeCheckpoint } from "./checkpoint.js";
import { POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE } from "./evaluate.js";
import { createRunDir, writeRunConfig } from "./run_dir.js";

export interface PolicyRunOptions {
  runsRoot: string;
  scenario: string;
  exp: string;
  seed: number;
  config: GaelpConfig;
  spec: PolicySpec;
  weights: Float32Array;
  /** checkpoint step (default 0) */
  step?: number;
  now?: Date;
}

/** Writes the run folder and returns its path. */
export function writePolicyRun(o: PolicyRunOptions): string {
  const spec = validatePolicySpec(structuredClone(o.spec));
  if (o.weights.length !== policySize(spec)) throw new RangeError(`weights: ${o.weights.length} values, the spec needs ${policySize(spec)}`);
  const run = createRunDir(o.runsRoot, { scenario: o.scenario, exp: o.exp, seed: o.seed }, { now: o.now });
  writeRunConfig(run, {
    scenario: o.scenario, exp: o.exp, seed: o.seed,
    config: structuredClone(o.config) as unknown as Record<string, unknown>,
    train: {},
    policy: structuredClone(spec) as unknown as Record<string, unknown>,
  });
  writeCheckpoint(join(run, "checkpoints"), o.step ?? 0, {
    [POLICY_SPEC_FILE]: new TextEncoder().encode(JSON.stringify(spec)),
    [POLICY_WEIGHTS_FILE]: canonicalToBytes(o.weights),
  }, { meta: { source: "writePolicyRun" } });
  return run;
}
