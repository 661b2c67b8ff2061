// What a rival learner reads of its own outcomes in one iteration: a row of RIVAL_STATS values
// (RS_* in wasm/layout.ts, engine IterationResult.rivalStats).
import * as L from "../../wasm/layout.js";

/** Fractions derived from one outcome row; 0 where the denominator is 0. */
export interface OutcomeFeatures {
  /** slots won / auctions entered */
  winRate: number;
  /** spend / budget made available (pro-rata daily budget over the iteration's hours) */
  utilisation: number;
  /** high-value auctions lost / high-value auctions entered */
  hvLossRate: number;
  /** high-value auctions entered */
  hvEntered: number;
  /** (expected value won - spend) / budget made available: the learners' reward */
  reward: number;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

export function outcomeFeatures(row: ArrayLike<number>, at = 0): OutcomeFeatures {
  const v = (f: number) => row[at + f];
  const budget = v(L.RS_BUDGET);
  return {
    winRate: ratio(v(L.RS_IMPRESSIONS), v(L.RS_ENTERED)),
    utilisation: ratio(v(L.RS_SPEND), budget),
    hvLossRate: ratio(v(L.RS_HV_LOSSES), v(L.RS_HV_ENTERED)),
    hvEntered: v(L.RS_HV_ENTERED),
    reward: ratio(v(L.RS_VALUE) - v(L.RS_SPEND), budget),
  };
}

/** Index of the band `x` falls in, given ascending thresholds: 0 below the first, n at or above the last. */
export function band(x: number, thresholds: readonly number[]): number {
  let i = 0;
  while (i < thresholds.length && x >= thresholds[i]) i++;
  return i;
}
