import { MECH_FIRST_PRICE, MECH_SECOND_PRICE, MAX_SLOTS } from "../layout";

// The auction mechanism as one small kernel: rank the bids, fill slots, price them.
//   first price:  every slot winner pays its own bid;
//   second price: one slot, the winner pays max(reserve, runner-up score / own quality);
//   GSP:          slot k pays max(reserve, score of rank k+1 / own quality).
// Score = bid, or bid x quality when quality-weighted. Bids below the reserve (or <= 0) do not
// take part. Ties go to the lower bidder index, so results never depend on iteration order.
// Prices never exceed the payer's bid.
//
// Ranking works on one u64 key per bidder: the score's f32 bit pattern in the high half (scores
// of bidders that take part are >= +0, and non-negative floats order like their bit patterns)
// and 0xFFFF - index in the low half, so keys are unique and order by score descending, then
// index ascending; a bidder that does not take part has key 0, below every real key. One key
// carries both score and index, so keeping the top MAX_SLOTS + 1 (all that pricing reads) is a
// network of unsigned compares and selects with no branch on the bids: on random bids a
// data-dependent shifting loop mispredicts about once per bidder, which costs more than all the
// arithmetic here. V8 lowers these i64 selects to cmov. The plain-TS reference
// (wasm/reference/auction.ts) ranks by insertion sort; tests hold the two bit-identical.
// bench/auction.bench.ts: 9.1 -> 12.8 M GSP auctions/s against the previous (score, index) pair
// network on the same host, first price 9.3 -> 12.7 M, second price 18.4 -> 20.6 M.

// The network below keeps five keys: pricing reads ranks 0..MAX_SLOTS.
// @ts-ignore: compile-time check (AssemblyScript evaluates ERROR only in a branch it keeps)
if (MAX_SLOTS != 4) ERROR("auction.ts keeps the top 5 keys; widen the network for MAX_SLOTS != 4");

@inline function keyOf(bids: usize, quality: usize, i: i32, reserve: f32, qualityWeighted: bool): u64 {
  const b = load<f32>(bids + (<usize>i << 2));
  const s = qualityWeighted ? b * load<f32>(quality + (<usize>i << 2)) : b;
  const key = (<u64>reinterpret<u32>(s) << 32) | <u64>(0xFFFF - i);
  return select<u64>(key, 0, (b >= reserve) & (b > 0));
}

// Writes slot k for the bidder with `key`; `nextKey` is rank k+1's key (0 when there is none,
// which m tells apart from a real key).
@inline function emitSlot(
  k: i32, key: u64, nextKey: u64, m: i32, mechanism: i32,
  bids: usize, quality: usize, reserve: f32, qualityWeighted: bool, outWinners: usize, outPrices: usize,
): void {
  const w = 0xFFFF - <i32>(<u32>key);
  const bid = load<f32>(bids + (<usize>w << 2));
  const next = reinterpret<f32>(<u32>(nextKey >> 32));
  let price = qualityWeighted ? next / load<f32>(quality + (<usize>w << 2)) : next;
  price = select<f32>(price, reserve, k + 1 < m);
  price = select<f32>(price, reserve, price >= reserve);
  price = select<f32>(bid, price, mechanism == MECH_FIRST_PRICE);
  price = select<f32>(bid, price, price > bid);
  store<i32>(outWinners + (<usize>k << 2), w);
  store<f32>(outPrices + (<usize>k << 2), price);
}

// Returns the number of filled slots; writes winner indices (i32) and prices (f32, dollars).
// n <= 0xFFFF bidders (the world has at most MAX_BIDDERS).
export function allocate(
  bids: usize,
  quality: usize,
  n: i32,
  mechanism: i32,
  slots: i32,
  reserve: f32,
  qualityWeighted: bool,
  outWinners: usize,
  outPrices: usize,
): i32 {
  if (mechanism == MECH_SECOND_PRICE || slots < 1) slots = 1;
  if (slots > MAX_SLOTS) slots = MAX_SLOTS;
  if (slots == 1) return allocateOne(bids, quality, n, mechanism, reserve, qualityWeighted, outWinners, outPrices);
  // t0 >= t1 >= ... >= t4: the top five keys so far. A new key lands below every kept key
  // greater than it (keys are unique, and key 0 lands nowhere).
  let t0: u64 = 0, t1: u64 = 0, t2: u64 = 0, t3: u64 = 0, t4: u64 = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const key = keyOf(bids, quality, i, reserve, qualityWeighted);
    const k0 = t0 >= key, k1 = t1 >= key, k2 = t2 >= key, k3 = t3 >= key, k4 = t4 >= key;
    t4 = select<u64>(t4, select<u64>(key, t3, k3), k4);
    t3 = select<u64>(t3, select<u64>(key, t2, k2), k3);
    t2 = select<u64>(t2, select<u64>(key, t1, k1), k2);
    t1 = select<u64>(t1, select<u64>(key, t0, k0), k1);
    t0 = select<u64>(t0, key, k0);
    m += <i32>(key != 0);
  }
  const filled = m < slots ? m : slots;
  if (filled > 0) emitSlot(0, t0, t1, m, mechanism, bids, quality, reserve, qualityWeighted, outWinners, outPrices);
  if (filled > 1) emitSlot(1, t1, t2, m, mechanism, bids, quality, reserve, qualityWeighted, outWinners, outPrices);
  if (filled > 2) emitSlot(2, t2, t3, m, mechanism, bids, quality, reserve, qualityWeighted, outWinners, outPrices);
  if (filled > 3) emitSlot(3, t3, t4, m, mechanism, bids, quality, reserve, qualityWeighted, outWinners, outPrices);
  return filled;
}

// One slot (most auctions): the same ranking with only the top two kept.
function allocateOne(
  bids: usize,
  quality: usize,
  n: i32,
  mechanism: i32,
  reserve: f32,
  qualityWeighted: bool,
  outWinners: usize,
  outPrices: usize,
): i32 {
  let t0: u64 = 0, t1: u64 = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const key = keyOf(bids, quality, i, reserve, qualityWeighted);
    const k0 = t0 >= key, k1 = t1 >= key;
    t1 = select<u64>(t1, select<u64>(key, t0, k0), k1);
    t0 = select<u64>(t0, key, k0);
    m += <i32>(key != 0);
  }
  if (m == 0) return 0;
  emitSlot(0, t0, t1, m, mechanism, bids, quality, reserve, qualityWeighted, outWinners, outPrices);
  return 1;
}
