// SplitMix64 (Steele, Lea & Flood; the generator Java's SplittableRandom uses): one u64 of state,
// so a draw is one global read and write plus a few multiplies -- V8 keeps wasm globals in memory,
// and a four-word generator costs eight memory operations a draw. Passes BigCrush.
// The state of the world being stepped lives here; world.ts loads it from the world header before
// a world runs and stores it back after, so the world buffer stays the whole state.
let S: u64 = 0x853c49e6748fea9b;

export function rngLoad(ptr: usize): void {
  S = load<u64>(ptr);
}

export function rngStore(ptr: usize): void {
  store<u64>(ptr, S);
}

// Seeds from a 64-bit value (already mixed by env/seeds.ts; mixed once more here).
export function rngSeed(seedLo: u32, seedHi: u32): void {
  let z: u64 = ((<u64>seedHi << 32) | <u64>seedLo) ^ 0x6a09e667f3bcc909;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  S = z ^ (z >> 31);
}

@inline export function nextU64(): u64 {
  const s = S + 0x9e3779b97f4a7c15;
  S = s;
  let z = s;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Advances the stream past k draws without computing them (SplitMix64's state moves by a fixed
// increment a draw): a skipped computation leaves every later draw where it was.
@inline export function skipDraws(k: u64): void {
  S += k * 0x9e3779b97f4a7c15;
}

@inline export function nextU32(): u32 {
  return <u32>(nextU64() >> 32);
}

// Uniform in [0, 1) with 32 bits of resolution.
@inline export function uniform(): f64 {
  return <f64>nextU32() * 2.3283064365386963e-10;
}

// Uniform integer in [0, n).
@inline export function below(n: i32): i32 {
  return <i32>((<u64>nextU32() * <u64>n) >> 32);
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
