// SplitMix64 (Steele, Lea & Flood; the generator Java's SplittableRandom uses): one u64 of state.
// Reference of wasm/assembly/rng.ts: the u64 is two 32-bit halves (S_HI:S_LO) and every 64-bit
// step is done on the halves with Math.imul, so no BigInt is in the hot path. Module variables
// keep the halves as int32 bit patterns (`| 0`), which V8 stores unboxed; arithmetic reads them
// back as u32 with `>>> 0`.
// The state of the world being stepped lives here; world.ts loads it from the world header before
// a world runs and stores it back after, so the world buffer stays the whole state.
import { loadI32, storeI32 } from "./memory.js";

// 0x853c49e6748fea9b
let S_LO = 0x748fea9b | 0;
let S_HI = 0x853c49e6 | 0;

export function rngLoad(ptr: number): void {
  S_LO = loadI32(ptr);
  S_HI = loadI32(ptr + 4);
}

export function rngStore(ptr: number): void {
  storeI32(ptr, S_LO);
  storeI32(ptr + 4, S_HI);
}

/** High 32 bits of the 64-bit product of two u32. The f64 product is within 2^12 of the exact
 *  one and its low 32 bits are known exactly (Math.imul), so rounding (p - lo) / 2^32 is exact. */
function mulHi32(a: number, b: number): number {
  const lo = Math.imul(a, b) >>> 0;
  return Math.round((a * b - lo) * 2.3283064365386963e-10) >>> 0;
}

// the mixer's output, z ^ (z >> 31) after the two multiplies (int32 bit patterns)
let Z_LO = 0;
let Z_HI = 0;

// z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb; z ^ (z >> 31)
// hi, lo: the u32 halves of z
function mix64(hi: number, lo: number): void {
  // z ^= z >> 30
  let xl = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  let xh = (hi ^ (hi >>> 30)) >>> 0;
  // z *= 0xbf58476d_1ce4e5b9
  let l = Math.imul(xl, 0x1ce4e5b9) >>> 0;
  let h = (mulHi32(xl, 0x1ce4e5b9) + Math.imul(xh, 0x1ce4e5b9) + Math.imul(xl, 0xbf58476d)) >>> 0;
  // z ^= z >> 27
  xl = (l ^ ((l >>> 27) | (h << 5))) >>> 0;
  xh = (h ^ (h >>> 27)) >>> 0;
  // z *= 0x94d049bb_133111eb
  l = Math.imul(xl, 0x133111eb) >>> 0;
  h = (mulHi32(xl, 0x133111eb) + Math.imul(xh, 0x133111eb) + Math.imul(xl, 0x94d049bb)) >>> 0;
  // z ^ (z >> 31)
  Z_LO = l ^ ((l >>> 31) | (h << 1));
  Z_HI = h ^ (h >>> 31);
}

// Seeds from a 64-bit value (already mixed by env/seeds.ts; mixed once more here).
export function rngSeed(seedLo: number, seedHi: number): void {
  // ((seedHi << 32) | seedLo) ^ 0x6a09e667f3bcc909
  mix64((seedHi ^ 0x6a09e667) >>> 0, (seedLo ^ 0xf3bcc909) >>> 0);
  S_LO = Z_LO;
  S_HI = Z_HI;
}

/** nextU64(): returns the draw's high half (u32); the low half is left in nextLo (int32 bits). */
export let nextLo = 0;
// S += 0x9e3779b97f4a7c15: the state's move for one draw
function advance(): void {
  const s = S_LO >>> 0;
  const lo = (s + 0x7f4a7c15) >>> 0;
  S_HI = (((S_HI >>> 0) + 0x9e3779b9 + (lo < s ? 1 : 0)) >>> 0) | 0;
  S_LO = lo | 0;
}

export function nextU64(): number {
  advance();
  mix64(S_HI >>> 0, S_LO >>> 0);
  nextLo = Z_LO;
  return Z_HI >>> 0;
}

/** Advances the stream past k draws without computing them (the state moves by a fixed increment
 *  a draw), as skipDraws(k) in the kernel. */
export function skipDraws(k: number): void {
  for (let i = 0; i < k; i++) advance();
}

export function nextU32(): number {
  return nextU64(); // the high half, as <u32>(nextU64() >> 32)
}

// Uniform in [0, 1) with 32 bits of resolution.
export function uniform(): number {
  return nextU32() * 2.3283064365386963e-10;
}

// Uniform integer in [0, n): <i32>((<u64>nextU32() * <u64>n) >> 32). Callers pass n >= 0 (the
// kernel would sign-extend a negative n; n >>> 0 does not).
export function below(n: number): number {
  return mulHi32(nextU32(), n >>> 0) | 0;
}

// Standard normal by Box-Muller (one of the pair is discarded so no hidden state is carried).
export function normal(): number {
  let u = uniform();
  if (u < 1e-300) u = 1e-300;
  const v = uniform();
  return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(6.283185307179586 * v);
}

// Zero-mean noise with unit variance from one uniform (cheap; used per opportunity).
export function uniformNoise(): number {
  return (uniform() - 0.5) * 3.4641016151377544;
}

// Poisson sample: Knuth's product method for small means, normal approximation above 30.
export function poisson(lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda < 30.0) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = uniform();
    while (p > limit) {
      k++;
      p *= uniform();
    }
    return k;
  }
  const x = lambda + Math.sqrt(lambda) * normal() + 0.5;
  return x < 0 ? 0 : x >= 2147483647 ? 2147483647 : x | 0;
}
