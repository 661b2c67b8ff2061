// Evaluation benchmarks (trainer/evaluate.ts):
//   eval.policy_bidder.decisions_per_s  4 worlds stepped through the env's public API by a 64-64
//                                       ReLU policy (PolicyBidder: WASM forward pass, argmax in JS),
//                                       one thread; compare policy.decisions_per_s, the same policy
//                                       rolled out inside WASM
//   eval.default_seconds                wall time of a default evaluation (full runs only): 64
//                                       held-out worlds x 30 days, every baseline tuned on 32
//                                       training worlds, default threads
import { resolveConfig } from "../env/config.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { initialCanonical } from "../agents/policy/init.js";
import { PolicyBidder } from "../agents/policy/bidder.js";
import { evaluateRun } from "../trainer/evaluate.js";
import { best, runWorlds } from "./world.bench.js";
import type { SuiteOptions } from "./run.js";

const config = resolveConfig();
const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden: [64, 64], activation: "relu" });
const weights = initialCanonical(spec, 1);

export async function benchEval(opts: SuiteOptions): Promise<Record<string, number>> {
  const warm = opts.quick ? 300 : 1000;
  const run = opts.quick ? 700 : 3000;
  const runs = Array.from({ length: opts.quick ? 1 : 3 }, () => runWorlds(() => new PolicyBidder({ spec, weights }), 4, warm, run));
  const out: Record<string, number> = { "eval.policy_bidder.decisions_per_s": best(runs).decisionsPerS };
  if (!opts.quick) {
    const t0 = performance.now();
    await evaluateRun({ config, spec, weights, scenario: "default", worlds: 64, days: 30, seed: 1 });
    out["eval.default_seconds"] = (performance.now() - t0) / 1000;
  }
  return out;
}
