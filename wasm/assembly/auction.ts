import { MECH_FIRST_PRICE, MECH_SECOND_PRICE, MAX_BIDDERS, MAX_SLOTS } from "../layout";

// The auction mechanism as one small kernel: rank the bids, fill slots, price them.
//   first price:  every slot winner pays its own bid;
//   second price: one slot, the winner pays max(reserve, runner-up score / own quality);
//   GSP:          slot k pays max(reserve, score of rank k+1 / own quality).
// Score = bid, or bid x quality when quality-weighted. Bids below the reserve (or <= 0) do not
// take part. Ties go to the lower bidder index, so results never depend on iteration order.
// Prices never exceed the payer's bid.

const NO_SCORE: f32 = -Infinity;

// Bidder i's ranking score, or NO_SCORE when its bid is below the reserve or not positive.
@inline function scoreOf(bids: usize, quality: usize, i: i32, reserve: f32, qualityWeighted: bool): f32 {
  const b = load<f32>(bids + (<usize>i << 2));
  if (!(b >= reserve) || b <= 0) return NO_SCORE;
  return qualityWeighted ? b * load<f32>(quality + (<usize>i << 2)) : b;
}

const ORDER = memory.data(MAX_BIDDERS * 4);
const SCORE = memory.data(MAX_BIDDERS * 4);

// Returns the number of filled slots; writes winner indices (i32) and prices (f32, dollars).
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
  // Keep only the top MAX_SLOTS + 1 (all that pricing reads) in locals, and insert each bidder
  // with selects instead of a data-dependent shifting loop: on random bids that loop's exit
  // branch mispredicts about once per bidder, which costs more than all the arithmetic here.
  // A new score lands after every kept score >= it, so ties keep index order.
  // Scores move as i32 bit patterns because V8 lowers an i32 select to cmov but an f32 select to a
  // branch, which would bring the misprediction back; comparisons stay in f32.
  const NEG_INF = reinterpret<i32>(<f32>-Infinity);
  let t0 = NEG_INF, t1 = NEG_INF, t2 = NEG_INF, t3 = NEG_INF, t4 = NEG_INF;
  let o0: i32 = -1, o1: i32 = -1, o2: i32 = -1, o3: i32 = -1, o4: i32 = -1;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scoreOf(bids, quality, i, reserve, qualityWeighted);
    if (s == NO_SCORE) continue;
    const sb = reinterpret<i32>(s);
    const k0 = reinterpret<f32>(t0) >= s, k1 = reinterpret<f32>(t1) >= s, k2 = reinterpret<f32>(t2) >= s;
    const k3 = reinterpret<f32>(t3) >= s, k4 = reinterpret<f32>(t4) >= s;
    t4 = select<i32>(t4, select<i32>(sb, t3, k3), k4);
    o4 = select<i32>(o4, select<i32>(i, o3, k3), k4);
    t3 = select<i32>(t3, select<i32>(sb, t2, k2), k3);
    o3 = select<i32>(o3, select<i32>(i, o2, k2), k3);
    t2 = select<i32>(t2, select<i32>(sb, t1, k1), k2);
    o2 = select<i32>(o2, select<i32>(i, o1, k1), k2);
    t1 = select<i32>(t1, select<i32>(sb, t0, k0), k1);
    o1 = select<i32>(o1, select<i32>(i, o0, k0), k1);
    t0 = select<i32>(t0, sb, k0);
    o0 = select<i32>(o0, i, k0);
    m++;
  }
  store<i32>(SCORE, t0); store<i32>(SCORE, t1, 4); store<i32>(SCORE, t2, 8); store<i32>(SCORE, t3, 12); store<i32>(SCORE, t4, 16);
  store<i32>(ORDER, o0); store<i32>(ORDER, o1, 4); store<i32>(ORDER, o2, 8); store<i32>(ORDER, o3, 12); store<i32>(ORDER, o4, 16);
  const filled = m < slots ? m : slots;
  for (let k = 0; k < filled; k++) {
    const w = load<i32>(ORDER + (<usize>k << 2));
    const bid = load<f32>(bids + (<usize>w << 2));
    let price: f32;
    if (mechanism == MECH_FIRST_PRICE) {
      price = bid;
    } else if (k + 1 < m) {
      const next = load<f32>(SCORE + (<usize>(k + 1) << 2));
      price = qualityWeighted ? next / load<f32>(quality + (<usize>w << 2)) : next;
      if (price < reserve) price = reserve;
    } else {
      price = reserve;
    }
    if (price > bid) price = bid;
    store<i32>(outWinners + (<usize>k << 2), w);
    store<f32>(outPrices + (<usize>k << 2), price);
  }
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
  const NEG_INF = reinterpret<i32>(<f32>-Infinity);
  let t0 = NEG_INF, t1 = NEG_INF;
  let o0: i32 = -1;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scoreOf(bids, quality, i, reserve, qualityWeighted);
    if (s == NO_SCORE) continue;
    const sb = reinterpret<i32>(s);
    const k0 = reinterpret<f32>(t0) >= s;
    const k1 = reinterpret<f32>(t1) >= s;
    t1 = select<i32>(t1, select<i32>(sb, t0, k0), k1);
    t0 = select<i32>(t0, sb, k0);
    o0 = select<i32>(o0, i, k0);
    m++;
  }
  if (m == 0) return 0;
  const bid = load<f32>(bids + (<usize>o0 << 2));
  let price: f32;
  if (mechanism == MECH_FIRST_PRICE) {
    price = bid;
  } else if (m > 1) {
    const next = reinterpret<f32>(t1);
    price = qualityWeighted ? next / load<f32>(quality + (<usize>o0 << 2)) : next;
    if (price < reserve) price = reserve;
  } else {
    price = reserve;
  }
  if (price > bid) price = bid;
  store<i32>(outWinners, o0);
  store<f32>(outPrices, price);
  return 1;
}
