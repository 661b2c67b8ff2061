// Binds a PolicySpec to a WASM core: declares the architecture, writes canonical weights and
// runs the forward pass. The same binding acts in rollout workers and serves bids.
import type { CoreExports } from "../wasm/loader.js";
import { OBS_DIM } from "../wasm/layout.js";
import { type PolicySpec, policySize, outputWidth, validatePolicySpec } from "../agents/policy/spec.js";

type Fn = (...a: number[]) => number;

export class WasmPolicy {
  readonly spec: PolicySpec;
  readonly size: number;
  version = -1;

  constructor(private readonly core: CoreExports, spec: PolicySpec) {
    this.spec = validatePolicySpec(spec);
    const h = spec.hidden;
    const f = core as unknown as Record<string, Fn>;
    const len = f.policySetup(h.length, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, spec.activation === "tanh" ? 1 : 0,
      spec.bidLevels.length, spec.numCreatives, spec.obsClip);
    this.size = policySize(spec);
    if (len !== this.size) throw new Error(`policy: the WASM core laid out ${len} weights, the spec needs ${this.size}`);
    new Float32Array(core.memory.buffer, f.policyLevelsPtr(), spec.bidLevels.length).set(spec.bidLevels);
  }

  /** Loads canonical weights (agents/policy/spec.ts order) and tags them with a version. */
  setWeights(weights: Float32Array, version = 0): void {
    if (!(weights instanceof Float32Array) || weights.length !== this.size) {
      throw new RangeError(`policy weights must be a Float32Array of ${this.size} values for this spec, got ${(weights as { length?: number })?.length}`);
    }
    const f = this.core as unknown as Record<string, Fn>;
    new Float32Array(this.core.memory.buffer, f.policyCanonicalPtr(), this.size).set(weights);
    const code = f.policyLoad();
    if (code === 1) throw new RangeError("policy weights contain a NaN or an infinity");
    if (code === 2) throw new RangeError("policy obs_std must be > 0 everywhere");
    this.version = version;
  }

  /** Raw outputs (bid logits, creative logits, value) of n observations: a new array, or written
   *  into `out` (n x outputWidth(spec) values) when given, so a caller stepping every decision
   *  allocates nothing. */
  forward(obs: Float32Array, n = obs.length / OBS_DIM, out?: Float32Array): Float32Array {
    if (obs.length !== n * OBS_DIM) throw new RangeError(`obs must hold n x ${OBS_DIM} values, got ${obs.length}`);
    if (this.version < 0) throw new Error("policy: setWeights() before forward()");
    const f = this.core as unknown as Record<string, Fn>;
    const width = outputWidth(this.spec);
    const bytes = n * (OBS_DIM + width) * 4;
    const base = (this.core.scratch as (b: number) => number)(bytes);
    const mem = this.core.memory.buffer;
    if (out !== undefined && out.length !== n * width) throw new RangeError(`out must hold n x ${width} values, got ${out.length}`);
    new Float32Array(mem, base, n * OBS_DIM).set(obs);
    const outPtr = base + n * OBS_DIM * 4;
    f.policyForward(n, base, outPtr);
    const result = new Float32Array(this.core.memory.buffer, outPtr, n * width);
    if (out === undefined) return result.slice();
    out.set(result);
    return out;
  }

  /** Greedy decisions of n observations into `out` (n x 4 float32: bid level, creative, joint
   *  log-probability, value): each head's argmax with the log-probability act() computes in
   *  rollouts (the WASM softmax), in one call. */
  decideGreedy(obs: Float32Array, n: number, out: Float32Array): Float32Array {
    if (obs.length !== n * OBS_DIM) throw new RangeError(`obs must hold n x ${OBS_DIM} values, got ${obs.length}`);
    if (out.length !== n * 4) throw new RangeError(`out must hold n x 4 values, got ${out.length}`);
    if (this.version < 0) throw new Error("policy: setWeights() before decideGreedy()");
    const f = this.core as unknown as Record<string, Fn>;
    const base = (this.core.scratch as (b: number) => number)(n * (OBS_DIM + 4) * 4);
    new Float32Array(this.core.memory.buffer, base, n * OBS_DIM).set(obs);
    const outPtr = base + n * OBS_DIM * 4;
    f.policyDecideGreedy(n, base, outPtr);
    out.set(new Float32Array(this.core.memory.buffer, outPtr, n * 4));
    return out;
  }
}
