// Plain-TypeScript reference of wasm/assembly/auction.ts: the same rules computed the plain way
// (a stable insertion sort where the kernel runs a branch-free network of u64 keys);
// tests/auction.test.ts holds the two bit-identical.
//
//   first price:  every slot winner pays its own bid;
//   second price: one slot, the winner pays max(reserve, runner-up score / own quality);
//   GSP:          slot k pays max(reserve, score of rank k+1 / own quality).
// Score = bid, or bid x quality when quality-weighted. Bids below the reserve (or <= 0) do not
// take part. Ties go to the lower bidder index. Prices never exceed the payer's bid.
//
// The kernel computes in f32. Every f32 operation here is one f64 operation followed by
// Math.fround (directly or by storing into a Float32Array): for +, -, *, / that double rounding
// gives the correctly rounded f32 result, so the outputs match the kernel bit for bit.
import { MAX_BIDDERS, MECH_FIRST_PRICE, MECH_SECOND_PRICE } from "../layout.js";

// Module-level like the kernel's static ORDER/SCORE, so the reference allocates nothing per call
// and its benchmark measures the auction, not the garbage collector.
const ORDER = new Int32Array(MAX_BIDDERS);
const SCORE = new Float32Array(MAX_BIDDERS);

/** Runs one auction of `n` bidders; writes winners and prices for the filled slots and returns how many were filled. */
export function allocate(
  bids: Float32Array,
  quality: Float32Array,
  n: number,
  mechanism: number,
  slots: number,
  reserve: number,
  qualityWeighted: boolean,
  outWinners: Int32Array,
  outPrices: Float32Array,
): number {
  // The kernel would write past its static buffers; a typed array would silently drop the
  // writes. Neither is an auction, so say so.
  if (!(n >= 0 && n <= MAX_BIDDERS)) throw new RangeError(`auction: n must be in 0..${MAX_BIDDERS}, got ${n}`);
  const r = Math.fround(reserve); // the kernel receives reserve as an f32 argument

  // insertion sort of eligible bidders by score, descending; stable so ties keep index order
  let m = 0;
  for (let i = 0; i < n; i++) {
    const b = bids[i];
    if (!(b >= r) || b <= 0) continue;
    const s = qualityWeighted ? Math.fround(b * quality[i]) : b;
    let j = m;
    while (j > 0) {
      const sj = SCORE[j - 1];
      if (sj >= s) break;
      SCORE[j] = sj;
      ORDER[j] = ORDER[j - 1];
      j--;
    }
    SCORE[j] = s;
    ORDER[j] = i;
    m++;
  }

  if (mechanism === MECH_SECOND_PRICE) slots = 1;
  const filled = m < slots ? m : slots;
  for (let k = 0; k < filled; k++) {
    const w = ORDER[k];
    const bid = bids[w];
    let price: number;
    if (mechanism === MECH_FIRST_PRICE) {
      price = bid;
    } else if (k + 1 < m) {
      const next = SCORE[k + 1];
      price = qualityWeighted ? Math.fround(next / quality[w]) : next;
      if (price < r) price = r;
    } else {
      price = r;
    }
    if (price > bid) price = bid;
    outWinners[k] = w;
    outPrices[k] = price;
  }
  return filled;
}
