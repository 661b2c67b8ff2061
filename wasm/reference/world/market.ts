// Opportunities and the other bidders. Active users emit opportunities (thinned Poisson per hour
// from segment activity curves); each opportunity is an auction on a channel, which the rivals
// bid on from their own (noisy) valuation of the user.
import {
  STAGE_UNAWARE, STAGE_CONSIDERING, P_CHANNELS, CH_STRIDE,
  CHF_BASE_CTR, CHF_POS_EFFECT, CHF_QUERY_INTENT, CHF_VALUE_MULT, CHF_RESERVE,
  SEGF_CTR_MULT, SEGF_VALUE_MULT, P_STAGE_CTR_MULT, P_REF_CVR,
  P_CONVERSION_VALUE, P_CREATIVE_CTR_MULT, P_CREATIVE_AFFINITY, NUM_SEGMENTS, P_ACTIVITY_SCALE,
  H_OPPS_LEFT, H_P_USER, H_P_CHANNEL, H_P_DEVICE, H_P_QUERY_INTENT, H_P_PCTR, H_P_REF_VALUE,
  H_P_RESERVE, H_P_BIDS, H_QUALITY, H_P_EXPF, H_P_CTR0, H_RIVALS, H_RIVAL_LEFT, RIV_STRIDE, RIVF_STRATEGY,
  RIVF_VALUE_MULT, RIVF_SHADE, RIVF_NOISE, RIVF_DAILY_BUDGET_MICROS, RIVF_DEFENSE_GAIN,
  RIVF_SEGMENT_MULT, RIVF_CHANNEL_MULT, RIVF_STAGE_MULT, RIVF_QUALITY, RIVAL_DEFENSIVE,
  RIVAL_RANDOM, P_RIVAL_BUDGET_SCALE, H_SEG_CDF, P_RIVAL_CVR,
  RS_ENTERED, RS_IMPRESSIONS, RS_CLICKS, RS_SPEND, RS_VALUE, RS_HV_ENTERED, RS_HV_LOSSES, RS_HV_LOST_TO_US,
  RS_BUDGET, RS_BUDGET_OUT,
} from "../../layout.js";
import { NR, U_NDEV, U_ATTENTION, U_OBS_SEG, OUT_OF_MARKET } from "./mem.js";
import { prm } from "./params.js";
import { uniform, below, uniformNoise, poisson, skipDraws } from "./rng.js";
import { segParam, activity, pickChannel, creativeWear, expNeg } from "./tables.js";
import { HOD, ACTIVITY_MULT, VALUE_MULT, TREND_MULT, MARKET_NOISE } from "./clock.js";
import { wb, hI32, hSetI32, hF32, hSetF32, hF64, hSetF64, u8At, f32At, stageOf, segOf, exposuresOf, activityClass, segCount, segUser, rivalStat } from "./state.js";
import { fatigueAt } from "./users.js";
import { loadF32, truncSatI32 } from "./memory.js";

// The current opportunity's user-and-channel factors, computed once when the opportunity is drawn
// (or re-entered for our decision): exp(-fatigue), kept current as the auction's ads add fatigue,
// and the CTR before slot, advertiser and fatigue factors.
export let OPP_EXPF = 1;
export let OPP_CTR0 = 0;
export function loadOpportunity(u: number, ch: number, hour: number): void {
  OPP_EXPF = expNeg(fatigueAt(u, hour));
  OPP_CTR0 = chParam(ch, CHF_BASE_CTR) * segParam(segOf(u), SEGF_CTR_MULT) * prm(P_STAGE_CTR_MULT + stageOf(u))
    * f32At(U_ATTENTION, u);
}
// The pending decision's factors travel in the world header, so stepping the world later (after
// other worlds ran, or after a restore) needs no recomputation.
export function saveOpportunity(): void {
  hSetF64(H_P_EXPF, OPP_EXPF);
  hSetF64(H_P_CTR0, OPP_CTR0);
}
export function restoreOpportunity(): void {
  OPP_EXPF = hF64(H_P_EXPF);
  OPP_CTR0 = hF64(H_P_CTR0);
}
export function fatigueAdded(factor: number): void {
  OPP_EXPF *= factor;
}

export function chParam(ch: number, field: number): number {
  return prm(P_CHANNELS + ch * CH_STRIDE + field);
}

export function rivalParam(r: number, field: number): number {
  return hF32(H_RIVALS + ((r * RIV_STRIDE + field) << 2));
}

// Expected opportunities this hour: each segment's users x its activity at this hour x calendar
// factors. Candidates then pick a segment by its share and a user of it; users out of the market
// (converted, lost) emit nothing.
export function startHourOpportunities(): void {
  let lambda = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    lambda += segCount(s) * activity(s, HOD);
    hSetF64(H_SEG_CDF + (s << 3), lambda);
  }
  if (lambda > 0) {
    for (let s = 0; s < NUM_SEGMENTS; s++) hSetF64(H_SEG_CDF + (s << 3), hF64(H_SEG_CDF + (s << 3)) / lambda);
  }
  hSetI32(H_OPPS_LEFT, poisson(lambda * ACTIVITY_MULT * prm(P_ACTIVITY_SCALE)));
}

// Click probability of advertiser `adv` (0 = us, with creative `creative`) in `slot` for user u.
export function clickProb(u: number, ch: number, slot: number, adv: number, creative: number): number {
  let p = OPP_CTR0 * OPP_EXPF * chParam(ch, CHF_POS_EFFECT + slot);
  if (adv === 0) {
    p *= prm(P_CREATIVE_CTR_MULT + creative) * prm(P_CREATIVE_AFFINITY + creative * NUM_SEGMENTS + segOf(u))
      * creativeWear(exposuresOf(u, creative));
  } else {
    p *= rivalParam(adv - 1, RIVF_QUALITY);
  }
  return p > 0.95 ? 0.95 : p;
}

// Expected value of a top-slot impression given the true user state (what a well-informed bidder
// would estimate): CTR x value per click at this stage x conversion value.
export function trueImpressionValue(u: number, ch: number): number {
  return OPP_CTR0 * OPP_EXPF * chParam(ch, CHF_POS_EFFECT) * prm(P_RIVAL_CVR + stageOf(u))
    * prm(P_CONVERSION_VALUE) * segParam(segOf(u), SEGF_VALUE_MULT) * VALUE_MULT;
}

// The bidders' ad quality in one contiguous row, as the auction kernel reads it; call after the
// world's rival parameters change.
export function refreshRivalQuality(): void {
  for (let r = 0; r < NR; r++) {
    hSetF32(H_QUALITY + ((r + 1) << 2), hF32(H_RIVALS + ((r * RIV_STRIDE + RIVF_QUALITY) << 2)));
  }
}

// Each rival's budget for the day, in dollars (at the world's start and every midnight).
export function refillRivalBudgets(): void {
  const scale = prm(P_RIVAL_BUDGET_SCALE) * 1e-6;
  for (let r = 0; r < NR; r++) {
    const micros = hF32(H_RIVALS + ((r * RIV_STRIDE + RIVF_DAILY_BUDGET_MICROS) << 2));
    hSetF64(H_RIVAL_LEFT + (r << 3), micros * scale);
  }
}

// Budget made available to each rival this hour (its daily budget pro rata): the denominator of
// its budget utilisation.
export function accrueRivalBudgets(): void {
  const scale = prm(P_RIVAL_BUDGET_SCALE) * 1e-6 / 24.0;
  for (let r = 0; r < NR; r++) {
    rivalStat(r, RS_BUDGET, hF32(H_RIVALS + ((r * RIV_STRIDE + RIVF_DAILY_BUDGET_MICROS) << 2)) * scale);
  }
}

// Rival r won `slot` of the page at `cost` dollars. Its value is the true top-slot value the
// rivals bid from (`topValue`, before this page's ads), times its ad quality and the slot's
// position effect relative to the top.
export function rivalWon(r: number, ch: number, slot: number, topValue: number, cost: number, clicked: boolean): void {
  rivalStat(r, RS_IMPRESSIONS, 1);
  if (clicked) rivalStat(r, RS_CLICKS, 1);
  rivalStat(r, RS_SPEND, cost);
  const top = chParam(ch, CHF_POS_EFFECT);
  if (top > 0) {
    rivalStat(r, RS_VALUE, topValue * rivalParam(r, RIVF_QUALITY) * (chParam(ch, CHF_POS_EFFECT + slot) / top));
  }
}

// Entries and high-value losses of an auction's rivals: `wonMask` has bit a set for each advertiser
// a that won a slot; `highValue` when the user was CONSIDERING or INTENT as the rivals bid.
export function rivalEntries(highValue: boolean, wonMask: number, oursWon: boolean): void {
  for (let r = 0; r < NR; r++) {
    if (!(hF32(H_P_BIDS + ((r + 1) << 2)) > 0)) continue;
    rivalStat(r, RS_ENTERED, 1);
    if (highValue) {
      rivalStat(r, RS_HV_ENTERED, 1);
      if (((wonMask >> (r + 1)) & 1) === 0) {
        rivalStat(r, RS_HV_LOSSES, 1);
        if (oursWon) rivalStat(r, RS_HV_LOST_TO_US, 1);
      }
    }
  }
}

function rivalBids(u: number, ch: number): void {
  const base = trueImpressionValue(u, ch) * MARKET_NOISE * TREND_MULT * chParam(ch, CHF_VALUE_MULT);
  const seg = segOf(u);
  const stage = stageOf(u);
  const segOff = (RIVF_SEGMENT_MULT + seg) << 2;
  const chOff = (RIVF_CHANNEL_MULT + ch) << 2;
  const stageOff = (RIVF_STAGE_MULT + stage) << 2;
  for (let r = 0; r < NR; r++) {
    const row = wb + H_RIVALS + ((r * RIV_STRIDE) << 2);
    // a rival with under a cent of today's budget left sits the auction out: it values nothing and
    // draws nothing, but the stream moves past the draws it would have made (its noise, and the
    // random strategy's draw), so the other bidders' draws are those of a rival that bid 0
    const left = hF64(H_RIVAL_LEFT + (r << 3));
    if (left < 0.01) {
      skipDraws(truncSatI32(loadF32(row + (RIVF_STRATEGY << 2))) === RIVAL_RANDOM ? 2 : 1);
      hSetF32(H_P_BIDS + ((r + 1) << 2), 0);
      rivalStat(r, RS_BUDGET_OUT, 1);
      continue;
    }
    // the product of the five multipliers is f32 arithmetic, rounded after each multiply
    let v = base * Math.fround(Math.fround(Math.fround(Math.fround(loadF32(row + (RIVF_VALUE_MULT << 2)) * loadF32(row + segOff))
      * loadF32(row + chOff)) * loadF32(row + stageOff)) * loadF32(row + (RIVF_QUALITY << 2)));
    v *= 1.0 + loadF32(row + (RIVF_NOISE << 2)) * uniformNoise();
    if (v < 0) v = 0;
    const strategy = truncSatI32(loadF32(row + (RIVF_STRATEGY << 2)));
    let bid = v;
    if (strategy === RIVAL_DEFENSIVE) {
      // protects users deep in the funnel
      if (stage >= STAGE_CONSIDERING) bid = v * loadF32(row + (RIVF_DEFENSE_GAIN << 2));
    } else if (strategy === RIVAL_RANDOM) {
      bid = v * 2.0 * uniform();
    } else {
      bid = v * loadF32(row + (RIVF_SHADE << 2)); // shading (< 1) and aggressive (>= 1)
    }
    // a rival never bids more than what is left of its daily budget
    if (bid > left) bid = left;
    hSetF32(H_P_BIDS + ((r + 1) << 2), bid);
  }
}

// Our side's estimates, from what we can observe: the platform's segment label, our pCTR model
// (true CTR with model error) and a value-per-click table by the tracked stage.
export function ourEstimates(u: number, ch: number, hour: number, trackedStage: number): void {
  const obsSeg = u8At(U_OBS_SEG, u);
  const stage = stageOf(u);
  const ctr = OPP_CTR0 * OPP_EXPF * chParam(ch, CHF_POS_EFFECT);
  let pctr = ctr * (1.0 + 0.25 * uniformNoise());
  if (pctr < 0) pctr = 0;
  const ref = pctr * prm(P_REF_CVR + trackedStage) * prm(P_CONVERSION_VALUE)
    * segParam(obsSeg, SEGF_VALUE_MULT) * VALUE_MULT;
  hSetF32(H_P_PCTR, pctr);
  hSetF32(H_P_REF_VALUE, ref);
  let qi = 0;
  const meanIntent = chParam(ch, CHF_QUERY_INTENT);
  if (meanIntent > 0) {
    qi = meanIntent * (0.5 + 0.25 * stage) * (1.0 + 0.3 * uniformNoise());
    qi = qi < 0 ? 0 : qi > 1 ? 1 : qi;
  }
  hSetF32(H_P_QUERY_INTENT, qi);
}

// Draws the next opportunity of this hour into the pending fields. Returns false when the hour's
// candidates are used up.
export function nextOpportunity(hour: number): boolean {
  let left = hI32(H_OPPS_LEFT);
  while (left > 0) {
    left--;
    const r = uniform();
    let seg = 0;
    while (seg < NUM_SEGMENTS - 1 && r >= hF64(H_SEG_CDF + (seg << 3))) seg++;
    const n = segCount(seg);
    if (n === 0) continue;
    const u = segUser(seg, below(n));
    if (activityClass(u) === OUT_OF_MARKET) continue; // converted or lost: out of the market until re-entry
    const ch = pickChannel(seg, stageOf(u) !== STAGE_UNAWARE, uniform());
    const device = below(u8At(U_NDEV, u));
    hSetI32(H_OPPS_LEFT, left);
    hSetI32(H_P_USER, u);
    hSetI32(H_P_CHANNEL, ch);
    hSetI32(H_P_DEVICE, device);
    hSetF32(H_P_RESERVE, chParam(ch, CHF_RESERVE));
    loadOpportunity(u, ch, hour);
    rivalBids(u, ch);
    return true;
  }
  hSetI32(H_OPPS_LEFT, 0);
  return false;
}
