// Shared pieces of the env tests: small configs that run fast, a deterministic bidder that reads
// only what the env returned (so two envs given the same outputs bid the same), f32-safe bid
// clamping, and byte-level comparison of step outputs.
import { createHash } from "node:crypto";
import * as L from "../../wasm/layout.js";
import { resolveConfig, type GaelpConfig } from "../../env/config.js";
import type { BidAction, StepBuffers, VectorEnv } from "../../env/vector_env.js";

/** A world small enough for thousands of steps per second: 300 users, one warm-up day, 3-day flights. */
export function smallConfig(overrides: Record<string, unknown> = {}): GaelpConfig {
  const base = { population: { users: 300 }, market: { warmupDays: 1 }, campaign: { flightDays: 3 } };
  return resolveConfig({ overrides: deepMerge(base, overrides) });
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] = isObj(av) && isObj(v) ? deepMerge(av, v) : v;
  }
  return out;
}
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The largest float32 that is <= x (the bid buffer is Float32Array; fround may round up). */
export function f32AtMost(x: number): number {
  const f = Math.fround(x);
  if (f <= x) return f;
  const buf = new Float32Array([f]);
  const bits = new Int32Array(buf.buffer);
  bits[0] += f > 0 ? -1 : 1;
  return buf[0];
}

/** A fresh action buffer for `n` worlds. */
export function newAction(n: number): BidAction {
  return { bid: new Float32Array(n), creative: new Int32Array(n) };
}

/** Fresh caller-owned output buffers for `n` worlds. */
export function newBuffers(n: number): StepBuffers {
  return {
    obs: new Float32Array(n * L.OBS_DIM),
    reward: new Float32Array(n),
    terminated: new Uint8Array(n),
    truncated: new Uint8Array(n),
    info: new Float64Array(n * L.INFO_DIM),
  };
}

/**
 * Deterministic bid rule computed only from the last observation/info of each world: a multiple of
 * the reference value that cycles with the decision id (so bids span under- and over-bidding),
 * and a creative that cycles too. Bids stay inside [0, bidMax] after float32 rounding.
 */
export function ruleAction(obs: Float32Array, info: Float64Array, n: number, bidMax: number, nCreatives: number, out: BidAction): BidAction {
  const cap = f32AtMost(bidMax);
  for (let w = 0; w < n; w++) {
    const o = w * L.INFO_DIM;
    const id = info[o + L.I_DECISION_ID];
    const k = 0.25 + (id % 9) * 0.5; // 0.25 .. 4.25
    // a little of the observation too, so a wrong observation changes the actions
    const pacing = obs[w * L.OBS_DIM + L.F_PACING_RATIO];
    let b = Math.fround(info[o + L.I_REF_VALUE_DOLLARS] * k * (1.25 - 0.5 * pacing));
    if (!(b >= 0)) b = 0;
    if (b > cap) b = cap;
    out.bid[w] = b;
    out.creative[w] = (id + info[o + L.I_USER]) % nCreatives; // never the slot index: split envs must agree
  }
  return out;
}

/** Rule action for an env, from its latest outputs. */
export function ruleFor(env: VectorEnv, obs: Float32Array, info: Float64Array, out: BidAction): BidAction {
  return ruleAction(obs, info, env.numEnvs, env.config.campaign.bidMax, env.config.campaign.creatives.length, out);
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Byte equality of two typed arrays (NaN payloads and -0 included). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(bytesOf(a), bytesOf(b)) === 0;
}

/** SHA-256 over the bytes of several typed arrays, in order. */
export function digest(...parts: ArrayBufferView[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(bytesOf(p));
  return h.digest("hex");
}

/** The slice of world w in a batched output (obs, info, reward, flags). */
export function worldRow<T extends Float32Array | Float64Array | Uint8Array>(a: T, w: number, dim: number): T {
  return a.subarray(w * dim, (w + 1) * dim) as T;
}

/** i32 field of a serialised world's header. */
export function headerI32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(offset, true);
}
