// The bidding policy's architecture and its weight layout: one Float32Array shared by the tfjs
// model that learns (agents/policy/model.ts) and the WASM forward pass that acts in rollouts and
// serves bids (wasm/assembly/policy.ts). Both read and write this order, so a policy moves between
// them as one buffer.
//
// Canonical layout (f32, in this order; D = obsDim, H_l = hidden[l], H = last hidden size):
//   obsMean[D]  obsStd[D]                      running observation normalisation
//   for each hidden layer l:  kernel[in_l x H_l] (row-major: kernel[i * H_l + j]), bias[H_l]
//   bid head:      kernel[H x nBid], bias[nBid]  logits over spec.bidLevels
//   creative head: kernel[H x nCr],  bias[nCr]   logits over the campaign's creatives
//   value head:    kernel[H x 1],    bias[1]
// The input of layer 0 is clip((obs - obsMean) / obsStd, -obsClip, obsClip). Kernels are in the
// order tfjs Dense layers keep them ([inputs, units]), so export is a concatenation.
import { OBS_DIM } from "../../wasm/layout.js";

export type Activation = "relu" | "tanh";
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh"];
export const MAX_HIDDEN_LAYERS = 4;
export const MAX_HIDDEN_UNITS = 1024;
export const MAX_BID_LEVELS = 32;
export const MAX_POLICY_CREATIVES = 8;

export interface PolicySpec {
  /** observation features (the env's OBS_DIM) */
  obsDim: number;
  /** hidden layer sizes of the shared trunk */
  hidden: number[];
  /** activation of the hidden layers */
  activation: Activation;
  /** bid action = bidLevels[a] x the opportunity's reference value (dollars), capped at bidMax */
  bidLevels: number[];
  /** creatives the creative head chooses between */
  numCreatives: number;
  /** normalised observations are clipped to +-obsClip */
  obsClip: number;
}

/** Bid multipliers on the reference value: dense around truthful (1.0), with room to shade and to overbid. */
export const DEFAULT_BID_LEVELS = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1, 1.05, 1.1, 1.2, 1.35, 1.5, 2, 3];

export function defaultPolicySpec(numCreatives: number, over: Partial<PolicySpec> = {}): PolicySpec {
  return validatePolicySpec({
    obsDim: OBS_DIM,
    hidden: [64, 64],
    activation: "relu",
    bidLevels: DEFAULT_BID_LEVELS.slice(),
    numCreatives,
    obsClip: 10,
    ...over,
  });
}

export class PolicySpecError extends Error {
  constructor(readonly field: string, message: string) {
    super(`policy.${field}: ${message}`);
    this.name = "PolicySpecError";
  }
}

const isInt = (x: unknown, lo: number, hi: number): x is number => Number.isInteger(x) && (x as number) >= lo && (x as number) <= hi;

export function validatePolicySpec(s: PolicySpec): PolicySpec {
  if (s.obsDim !== OBS_DIM) throw new PolicySpecError("obsDim", `must equal the observation size ${OBS_DIM}, got ${s.obsDim}`);
  if (!Array.isArray(s.hidden) || s.hidden.length < 1 || s.hidden.length > MAX_HIDDEN_LAYERS) {
    throw new PolicySpecError("hidden", `must list 1..${MAX_HIDDEN_LAYERS} layer sizes, got ${JSON.stringify(s.hidden)}`);
  }
  s.hidden.forEach((h, i) => {
    if (!isInt(h, 1, MAX_HIDDEN_UNITS)) throw new PolicySpecError(`hidden.${i}`, `must be an integer in [1, ${MAX_HIDDEN_UNITS}], got ${h}`);
  });
  if (!ACTIVATIONS.includes(s.activation)) throw new PolicySpecError("activation", `must be one of ${ACTIVATIONS.join(", ")}, got ${String(s.activation)}`);
  if (!Array.isArray(s.bidLevels) || s.bidLevels.length < 2 || s.bidLevels.length > MAX_BID_LEVELS) {
    throw new PolicySpecError("bidLevels", `must list 2..${MAX_BID_LEVELS} multipliers, got ${JSON.stringify(s.bidLevels)}`);
  }
  s.bidLevels.forEach((m, i) => {
    if (!(Number.isFinite(m) && m >= 0 && m <= 100)) throw new PolicySpecError(`bidLevels.${i}`, `must be a multiplier in [0, 100], got ${m}`);
    if (i > 0 && !(m > s.bidLevels[i - 1])) throw new PolicySpecError(`bidLevels.${i}`, `must be increasing, got ${m} after ${s.bidLevels[i - 1]}`);
  });
  if (!isInt(s.numCreatives, 1, MAX_POLICY_CREATIVES)) throw new PolicySpecError("numCreatives", `must be an integer in [1, ${MAX_POLICY_CREATIVES}], got ${s.numCreatives}`);
  if (!(Number.isFinite(s.obsClip) && s.obsClip > 0 && s.obsClip <= 1e6)) throw new PolicySpecError("obsClip", `must be in (0, 1e6], got ${s.obsClip}`);
  return s;
}

export interface TensorSlot {
  name: string;
  offset: number; // f32 index into the canonical array
  shape: number[];
  size: number;
}

/** Every tensor of the canonical layout, in order, with its offset. */
export function policyLayout(spec: PolicySpec): { slots: TensorSlot[]; size: number } {
  const slots: TensorSlot[] = [];
  let off = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    slots.push({ name, offset: off, shape, size });
    off += size;
  };
  add("obs_mean", [spec.obsDim]);
  add("obs_std", [spec.obsDim]);
  let inputs = spec.obsDim;
  spec.hidden.forEach((h, l) => {
    add(`hidden_${l}/kernel`, [inputs, h]);
    add(`hidden_${l}/bias`, [h]);
    inputs = h;
  });
  add("bid/kernel", [inputs, spec.bidLevels.length]);
  add("bid/bias", [spec.bidLevels.length]);
  add("creative/kernel", [inputs, spec.numCreatives]);
  add("creative/bias", [spec.numCreatives]);
  add("value/kernel", [inputs, 1]);
  add("value/bias", [1]);
  return { slots, size: off };
}

export function policySize(spec: PolicySpec): number {
  return policyLayout(spec).size;
}

/** Outputs of the forward pass per observation, in this order: bid logits, creative logits, value. */
export function outputWidth(spec: PolicySpec): number {
  return spec.bidLevels.length + spec.numCreatives + 1;
}

/** The canonical weights as little-endian float32 bytes (the `policy.f32` file of a checkpoint). */
export function canonicalToBytes(weights: Float32Array): Uint8Array {
  const out = new Uint8Array(weights.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < weights.length; i++) view.setFloat32(i * 4, weights[i], true);
  return out;
}

/** Canonical weights for `spec` from little-endian float32 bytes; `what` names the source in errors
 *  (a wrong size, or a value that is not finite). */
export function canonicalFromBytes(bytes: Uint8Array, spec: PolicySpec, what = "policy weights"): Float32Array {
  const size = policySize(spec);
  if (bytes.byteLength !== size * 4) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes; the policy (hidden ${spec.hidden.join("-")}, ${spec.bidLevels.length} bid levels, ${spec.numCreatives} creatives) needs ${size} float32 values (${size * 4} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const v = view.getFloat32(i * 4, true);
    if (!Number.isFinite(v)) throw new RangeError(`${what}: value ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}

/** A PolicySpec from JSON text (the `policy_spec.json` file of a checkpoint), validated; `what`
 *  names the source in errors. Unknown fields are rejected so a newer format is not misread. */
export function policySpecFromJson(text: string, what = "policy spec"): PolicySpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PolicySpecError("(file)", `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PolicySpecError("(file)", `${what} must hold a JSON object`);
  const fields: (keyof PolicySpec)[] = ["obsDim", "hidden", "activation", "bidLevels", "numCreatives", "obsClip"];
  for (const key of Object.keys(raw)) {
    if (!(fields as string[]).includes(key)) throw new PolicySpecError(key, `unknown field in ${what}; allowed: ${fields.join(", ")}`);
  }
  const r = raw as Record<string, unknown>;
  const spec = {
    obsDim: r.obsDim,
    hidden: Array.isArray(r.hidden) ? r.hidden.slice() : r.hidden,
    activation: r.activation,
    bidLevels: Array.isArray(r.bidLevels) ? r.bidLevels.slice() : r.bidLevels,
    numCreatives: r.numCreatives,
    obsClip: r.obsClip,
  } as PolicySpec;
  return validatePolicySpec(spec);
}
