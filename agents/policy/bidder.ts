// A trained policy as a Bidder: it acts through the env's public API (observation and info arrays)
// exactly as the WASM policy acts in engine rollouts, so a policy evaluated here is the policy
// that was trained. The forward pass is the WASM core's own (engine/wasm_policy.ts, bound by a
// one-slot WorldRunner like a rollout worker's), the action is each head's argmax with ties to the
// lowest index (wasm/assembly/policy.ts chooseHead), and the bid is
//   bid = float32( min( float32(bidLevels[a]) x refValue , bidMax ) )
// which is what rolloutWorld (wasm/assembly/world.ts) places: the env action is a float32, and the
// rollout rounds its bid the same way. tests/policy_bidder.test.ts holds the two paths to the same
// world bytes.
//
// With `greedy: false` each head is sampled from its softmax, drawing from the bidder's own seeded
// stream (the engine draws from the world's RNG, which the env does not expose), so sampled
// evaluations are reproducible but not the engine's sampled rollouts.
import seedrandom from "seedrandom";
import type { GaelpConfig } from "../../env/config.js";
import type { BidAction } from "../../env/vector_env.js";
import { WorldRunner } from "../../engine/world_runner.js";
import type { WasmPolicy } from "../../engine/wasm_policy.js";
import type { WasmTarget } from "../../wasm/loader.js";
import { INFO_DIM, I_REF_VALUE_DOLLARS, OBS_DIM } from "../../wasm/layout.js";
import type { Bidder } from "../baselines/bidder.js";
import { checkAction } from "../baselines/bidder.js";
import { type PolicySpec, outputWidth, policySize, validatePolicySpec } from "./spec.js";

export interface PolicyBidderOptions {
  spec: PolicySpec;
  /** canonical weights (agents/policy/spec.ts layout) */
  weights: Float32Array;
  /** name in reports (default "ppo") */
  name?: string;
  /** take each head's argmax (default true); false samples from the softmax with `seed` */
  greedy?: boolean;
  /** seed of the sampling stream (greedy: false only) */
  seed?: number;
  wasm?: WasmTarget;
}

/** Index of the largest of n float32 values at `at`; the first wins a tie (as the WASM argmax). */
function argmax(x: Float32Array, at: number, n: number): number {
  let best = 0;
  let mx = x[at];
  for (let i = 1; i < n; i++) {
    if (x[at + i] > mx) {
      mx = x[at + i];
      best = i;
    }
  }
  return best;
}

export class PolicyBidder implements Bidder {
  readonly name: string;
  readonly spec: PolicySpec;
  readonly greedy: boolean;
  private readonly weights: Float32Array;
  private readonly levels: Float64Array; // bid levels as the WASM core holds them (float32)
  private readonly wasm: WasmTarget;
  private readonly seed: number;
  private policy: WasmPolicy | undefined;
  private numEnvs = 0;
  private bidMax = 0;
  private out = new Float32Array(0);
  private rng: () => number = Math.random;
  private levelChosen = new Int32Array(0);

  constructor(opts: PolicyBidderOptions) {
    this.spec = validatePolicySpec(structuredClone(opts.spec));
    const size = policySize(this.spec);
    if (!(opts.weights instanceof Float32Array) || opts.weights.length !== size) {
      throw new RangeError(`policy weights must be a Float32Array of ${size} values for this spec, got ${(opts.weights as { length?: number })?.length}`);
    }
    this.weights = opts.weights.slice();
    this.name = opts.name ?? "ppo";
    this.greedy = opts.greedy ?? true;
    this.seed = opts.seed ?? 0;
    this.wasm = opts.wasm ?? "release";
    this.levels = Float64Array.from(this.spec.bidLevels, Math.fround);
  }

  reset(numEnvs: number, config: GaelpConfig): void {
    if (!Number.isInteger(numEnvs) || numEnvs < 1) throw new RangeError(`${this.name}: numEnvs must be an integer >= 1, got ${numEnvs}`);
    const nc = config.campaign.creatives.length;
    if (nc !== this.spec.numCreatives) {
      throw new RangeError(`${this.name}: the policy chooses between ${this.spec.numCreatives} creatives, the campaign has ${nc} (campaign.creatives)`);
    }
    if (this.policy === undefined) {
      // the binding a rollout worker uses; the world slot it sizes is never run
      this.policy = new WorldRunner(config, this.spec, 1, this.wasm).policy;
      this.policy.setWeights(this.weights, 0);
    }
    this.numEnvs = numEnvs;
    this.bidMax = config.campaign.bidMax;
    this.out = new Float32Array(numEnvs * outputWidth(this.spec));
    this.levelChosen = new Int32Array(numEnvs);
    this.rng = seedrandom.alea(`policy-bidder/${this.seed}`);
  }

  act(obs: Float32Array, info: Float64Array, action: BidAction): void {
    const policy = this.policy;
    if (policy === undefined || this.numEnvs === 0) throw new Error(`${this.name}: call reset(numEnvs, config) before act()`);
    checkAction(action, this.numEnvs, this.name);
    const n = this.numEnvs;
    const out = policy.forward(obs.length === n * OBS_DIM ? obs : obs.subarray(0, n * OBS_DIM), n, this.out);
    const width = outputWidth(this.spec);
    const nBid = this.spec.bidLevels.length;
    const nCr = this.spec.numCreatives;
    for (let w = 0; w < n; w++) {
      const row = w * width;
      const level = this.greedy ? argmax(out, row, nBid) : this.sample(out, row, nBid);
      const creative = this.greedy ? argmax(out, row + nBid, nCr) : this.sample(out, row + nBid, nCr);
      let bid = this.levels[level] * info[w * INFO_DIM + I_REF_VALUE_DOLLARS];
      if (bid > this.bidMax) bid = this.bidMax;
      action.bid[w] = bid; // the float32 store is the rounding the rollout does
      action.creative[w] = creative;
      this.levelChosen[w] = level;
    }
  }

  /** The bid level (index into spec.bidLevels) each world chose in the last act(). */
  get lastLevels(): Int32Array {
    return this.levelChosen;
  }

  observe(_reward: Float32Array, _terminated: Uint8Array, _truncated: Uint8Array, _info: Float64Array): void {
    // the policy is stateless between decisions (its memory is in the observation)
  }

  /** Draws an index from the softmax of n logits at `at`. */
  private sample(x: Float32Array, at: number, n: number): number {
    let mx = x[at];
    for (let i = 1; i < n; i++) if (x[at + i] > mx) mx = x[at + i];
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x[at + i] - mx);
    const target = this.rng() * sum;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += Math.exp(x[at + i] - mx);
      if (target < acc) return i;
    }
    return n - 1;
  }
}
