// The auction benchmark's bid stream: xoshiro128** seeded by SplitMix64 expansion, kept in locals.
// bench/auction.bench.ts regenerates the same stream in plain TS so both sides run the same
// auctions; it is separate from the world generator (rng.ts) so either can change alone.
import { MAX_SLOTS } from "../layout";
import { allocate } from "./auction";

export function benchAuctionsWith(base: usize, count: i32, n: i32, mechanism: i32, slots: i32, seed: u32): f64 {
  const bids = base;
  const quality = base + (<usize>n << 2);
  const winners = quality + (<usize>n << 2);
  const prices = winners + (MAX_SLOTS << 2);
  for (let i = 0; i < n; i++) store<f32>(quality + (<usize>i << 2), 1.0);
  let x: u64 = (<u64>0x5eed << 32) | <u64>seed;
  x += 0x9e3779b97f4a7c15;
  let z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  let s0 = <u32>z;
  let s1 = <u32>(z >> 32);
  x += 0x9e3779b97f4a7c15;
  z = x;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  let s2 = <u32>z;
  let s3 = <u32>(z >> 32);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
  let sum: f64 = 0;
  for (let a = 0; a < count; a++) {
    for (let i = 0; i < n; i++) {
      const r = rotl<u32>(s1 * 5, 7) * 9;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl<u32>(s3, 11);
      store<f32>(bids + (<usize>i << 2), <f32>(<f64>r * 2.3283064365386963e-10));
    }
    const f = allocate(bids, quality, n, mechanism, slots, 0.05, false, winners, prices);
    for (let k = 0; k < f; k++) sum += <f64>load<f32>(prices + (<usize>k << 2));
  }
  return sum;
}
