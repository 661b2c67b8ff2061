// The auction mechanism as one small kernel: rank the bids, fill slots, price them.
//   first price:  every slot winner pays its own bid;
//   second price: one slot, the winner pays max(reserve, runner-up score / own quality);
//   GSP:          slot k pays max(reserve, score of rank k+1 / own quality).
// Score = bid, or bid x quality when quality-weighted. Bids below the reserve (or <= 0) do not
// take part. Ties go to the lower bidder index. Prices never exceed the payer's bid.
//
// The kernel keeps the top scores in locals and inserts with select<i32> on the scores' bit
// patterns; here the same selects are conditional expressions on the scores themselves (numbers
// holding f32 values): the comparisons are the same f32 comparisons, so the ranking is the same.
// (wasm/reference/auction.ts is the simpler insertion-sort reference of the same rules.)
import { MECH_FIRST_PRICE, MECH_SECOND_PRICE, MAX_BIDDERS, MAX_SLOTS } from "../../layout.js";
import { memoryData, loadF32, storeF32, loadI32, storeI32 } from "./memory.js";

const NO_SCORE = -Infinity;

// Bidder i's ranking score, or NO_SCORE when its bid is below the reserve or not positive.
function scoreOf(bids: number, quality: number, i: number, reserve: number, qualityWeighted: boolean): number {
  const b = loadF32(bids + (i << 2));
  if (!(b >= reserve) || b <= 0) return NO_SCORE;
  return qualityWeighted ? Math.fround(b * loadF32(quality + (i << 2))) : b;
}

const ORDER = memoryData(MAX_BIDDERS * 4);
const SCORE = memoryData(MAX_BIDDERS * 4);

// Returns the number of filled slots; writes winner indices (i32) and prices (f32, dollars).
// `reserve` is an f32 value.
export function allocate(
  bids: number,
  quality: number,
  n: number,
  mechanism: number,
  slots: number,
  reserve: number,
  qualityWeighted: boolean,
  outWinners: number,
  outPrices: number,
): number {
  if (mechanism === MECH_SECOND_PRICE || slots < 1) slots = 1;
  if (slots > MAX_SLOTS) slots = MAX_SLOTS;
  if (slots === 1) return allocateOne(bids, quality, n, mechanism, reserve, qualityWeighted, outWinners, outPrices);
  // Keep only the top MAX_SLOTS + 1 (all that pricing reads); a new score lands after every kept
  // score >= it, so ties keep index order.
  let t0 = NO_SCORE, t1 = NO_SCORE, t2 = NO_SCORE, t3 = NO_SCORE, t4 = NO_SCORE;
  let o0 = -1, o1 = -1, o2 = -1, o3 = -1, o4 = -1;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scoreOf(bids, quality, i, reserve, qualityWeighted);
    if (s === NO_SCORE) continue;
    const k0 = t0 >= s, k1 = t1 >= s, k2 = t2 >= s;
    const k3 = t3 >= s, k4 = t4 >= s;
    // select<i32>(a, b, c) is c ? a : b
    t4 = k4 ? t4 : k3 ? s : t3;
    o4 = k4 ? o4 : k3 ? i : o3;
    t3 = k3 ? t3 : k2 ? s : t2;
    o3 = k3 ? o3 : k2 ? i : o2;
    t2 = k2 ? t2 : k1 ? s : t1;
    o2 = k2 ? o2 : k1 ? i : o1;
    t1 = k1 ? t1 : k0 ? s : t0;
    o1 = k1 ? o1 : k0 ? i : o0;
    t0 = k0 ? t0 : s;
    o0 = k0 ? o0 : i;
    m++;
  }
  storeF32(SCORE, t0); storeF32(SCORE + 4, t1); storeF32(SCORE + 8, t2); storeF32(SCORE + 12, t3); storeF32(SCORE + 16, t4);
  storeI32(ORDER, o0); storeI32(ORDER + 4, o1); storeI32(ORDER + 8, o2); storeI32(ORDER + 12, o3); storeI32(ORDER + 16, o4);
  const filled = m < slots ? m : slots;
  for (let k = 0; k < filled; k++) {
    const w = loadI32(ORDER + (k << 2));
    const bid = loadF32(bids + (w << 2));
    let price: number;
    if (mechanism === MECH_FIRST_PRICE) {
      price = bid;
    } else if (k + 1 < m) {
      const next = loadF32(SCORE + ((k + 1) << 2));
      price = qualityWeighted ? Math.fround(next / loadF32(quality + (w << 2))) : next;
      if (price < reserve) price = reserve;
    } else {
      price = reserve;
    }
    if (price > bid) price = bid;
    storeI32(outWinners + (k << 2), w);
    storeF32(outPrices + (k << 2), price);
  }
  return filled;
}

// One slot (most auctions): the same ranking with only the top two kept.
function allocateOne(
  bids: number,
  quality: number,
  n: number,
  mechanism: number,
  reserve: number,
  qualityWeighted: boolean,
  outWinners: number,
  outPrices: number,
): number {
  let t0 = NO_SCORE, t1 = NO_SCORE;
  let o0 = -1;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scoreOf(bids, quality, i, reserve, qualityWeighted);
    if (s === NO_SCORE) continue;
    const k0 = t0 >= s;
    const k1 = t1 >= s;
    t1 = k1 ? t1 : k0 ? s : t0;
    t0 = k0 ? t0 : s;
    o0 = k0 ? o0 : i;
    m++;
  }
  if (m === 0) return 0;
  const bid = loadF32(bids + (o0 << 2));
  let price: number;
  if (mechanism === MECH_FIRST_PRICE) {
    price = bid;
  } else if (m > 1) {
    const next = t1;
    price = qualityWeighted ? Math.fround(next / loadF32(quality + (o0 << 2))) : next;
    if (price < reserve) price = reserve;
  } else {
    price = reserve;
  }
  if (price > bid) price = bid;
  storeI32(outWinners, o0);
  storeF32(outPrices, price);
  return 1;
}
