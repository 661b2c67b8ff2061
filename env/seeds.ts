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

// ---- seed streams ------------------------------------------------------------------------------
// A stream splits one root seed into disjoint families of worlds. worldSeed mixes the stream in
// with SplitMix64's finaliser, a bijection on 64 bits, so two streams give two different inner
// states; their world seeds could only meet if those states agreed on their upper 48 bits (world
// indices are < 2^16), a 2^-48 chance per pair of streams, and tests/evaluate.test.ts checks the
// streams below against each other.

/** The training worlds: RolloutEngine creates epoch e's worlds in stream TRAIN_STREAM + e (and
 *  draws their importance-sampling salts from stream 0x5a17 + e). */
export const TRAIN_STREAM = 0;

/** Held-out evaluation worlds (trainer/evaluate.ts): 2^52, far above any training epoch, so an
 *  evaluation never meets a world the policy was trained on under the same root seed. */
export const EVAL_STREAM = 2 ** 52;
