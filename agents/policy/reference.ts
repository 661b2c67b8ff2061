// The policy's forward pass in plain f64 loops over the canonical layout: the yardstick that the
// tfjs model and the WASM forward pass (wasm/assembly/policy.ts) are both tested against. Written
// for clarity over speed; it reads offsets only through policyLayout so it cannot drift from it.
import { type PolicySpec, outputWidth, policyLayout } from "./spec.js";

/**
 * Outputs for `n` observations (`obs` row-major [n x obsDim]): per row, bidLevels.length bid logits,
 * numCreatives creative logits, then the value, i.e. outputWidth(spec) numbers.
 */
export function forwardReference(spec: PolicySpec, canonical: Float32Array, obs: Float32Array, n: number): Float32Array {
  const { slots, size } = policyLayout(spec);
  if (canonical.length !== size) {
    throw new Error(`forwardReference: canonical weights must hold ${size} values for this spec, got ${canonical.length}`);
  }
  if (!Number.isInteger(n) || n < 0) throw new Error(`forwardReference: n must be a non-negative integer, got ${n}`);
  if (obs.length !== n * spec.obsDim) {
    throw new Error(`forwardReference: obs must hold n x obsDim = ${n} x ${spec.obsDim} = ${n * spec.obsDim} values, got ${obs.length}`);
  }
  const slot = new Map(slots.map((s) => [s.name, s]));
  const at = (name: string) => slot.get(name)!.offset;
  const act = spec.activation === "relu" ? (v: number) => (v > 0 ? v : 0) : Math.tanh;
  const width = outputWidth(spec);
  const out = new Float32Array(n * width);

  /** y = x K + b for a [inputs x units] kernel; y gets `units` values. */
  const dense = (x: Float64Array, name: string, units: number): Float64Array => {
    const k = at(`${name}/kernel`);
    const b = at(`${name}/bias`);
    const y = new Float64Array(units);
    for (let j = 0; j < units; j++) y[j] = canonical[b + j];
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      const row = k + i * units;
      for (let j = 0; j < units; j++) y[j] += xi * canonical[row + j];
    }
    return y;
  };

  const mean = at("obs_mean");
  const std = at("obs_std");
  const clip = spec.obsClip;
  for (let r = 0; r < n; r++) {
    let x: Float64Array = new Float64Array(spec.obsDim);
    for (let i = 0; i < spec.obsDim; i++) {
      const z = (obs[r * spec.obsDim + i] - canonical[mean + i]) / canonical[std + i];
      x[i] = z < -clip ? -clip : z > clip ? clip : z;
    }
    spec.hidden.forEach((units, l) => {
      x = dense(x, `hidden_${l}`, units);
      for (let j = 0; j < units; j++) x[j] = act(x[j]);
    });
    const bid = dense(x, "bid", spec.bidLevels.length);
    const creative = dense(x, "creative", spec.numCreatives);
    const value = dense(x, "value", 1);
    const o = r * width;
    out.set(bid, o);
    out.set(creative, o + bid.length);
    out[o + bid.length + creative.length] = value[0];
  }
  return out;
}
