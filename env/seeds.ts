// Every world seed comes from here: one root seed, a world's global index and a stream (e.g. the
// training iteration) mixed by SplitMix64. The result does not depend on how worlds are split
// across env instances or workers.
const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

export function assertSeed(seed: number, field = "seed"): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`${field} must be a non-negative safe integer, got ${seed}`);
  }
}

/** [lo, hi] 32-bit halves of the seed of world `index` in `stream` under `rootSeed`. */
export function worldSeed(rootSeed: number, index: number, stream = 0): [number, number] {
  assertSeed(rootSeed, "rootSeed");
  let x = splitmix64(BigInt(rootSeed));
  x = splitmix64(x ^ BigInt(stream));
  x = splitmix64(x ^ BigInt(index));
  return [Number(x & 0xffffffffn), Number(x >> 32n)];
}
