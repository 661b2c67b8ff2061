// xoshiro128** (Blackman & Vigna): 4 x u32 of state, fast on wasm32, period 2^128 - 1.
// The state of the world being stepped lives in these globals; world.ts loads it from the world
// header before a world runs and stores it back after, so the world buffer stays the whole state.
let s0: u32 = 1;
let s1: u32 = 2;
let s2: u32 = 3;
let s3: u32 = 4;

export function rngLoad(ptr: usize): void {
  s0 = load<u32>(ptr);
  s1 = load<u32>(ptr, 4);
  s2 = load<u32>(ptr, 8);
  s3 = load<u32>(ptr, 12);
}

export function rngStore(ptr: usize): void {
  store<u32>(ptr, s0);
  store<u32>(ptr, s1, 4);
  store<u32>(ptr, s2, 8);
  store<u32>(ptr, s3, 12);
}

// SplitMix64 expands a 64-bit seed into a well-mixed xoshiro state (never all zero).
export function rngSeed(seedLo: u32, seedHi: u32): void {
  let x: u64 = (<u64>seedHi << 32) | <u64>seedLo;
  x += 0x9e3779b97f4a7c15;
  let z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  s0 = <u32>z;
  s1 = <u32>(z >> 32);
  x += 0x9e3779b97f4a7c15;
  z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  s2 = <u32>z;
  s3 = <u32>(z >> 32);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
}

@inline export function nextU32(): u32 {
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  return result;
}

// Uniform in [0, 1) with 32 bits of resolution.
@inline export function uniform(): f64 {
  return <f64>nextU32() * 2.3283064365386963e-10;
}

// Uniform integer in [0, n).
@inline export function below(n: i32): i32 {
  return <i32>((<u64>nextU32() * <u64>n) >> 32);
}

@inline export function bernoulli(p: f64): bool {
  return uniform() < p;
}

// Standard normal by Box-Muller (one of the pair is discarded so no hidden state is carried).
export function normal(): f64 {
  let u = uniform();
  if (u < 1e-300) u = 1e-300;
  const v = uniform();
  return Math.sqrt(-2.0 * Math.log(u)) * Math.cos(6.283185307179586 * v);
}

// Zero-mean noise with unit variance from one uniform (cheap; used per opportunity).
@inline export function uniformNoise(): f64 {
  return (uniform() - 0.5) * 3.4641016151377544;
}

// Poisson sample: Knuth's product method for small means, normal approximation above 30.
export function poisson(lambda: f64): i32 {
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
  return x < 0 ? 0 : <i32>x;
}
