// Opportunities and the other bidders. Active users emit opportunities (thinned Poisson per hour
// from segment activity curves); each opportunity is an auction on a channel, which the rivals
// bid on from their own (noisy) valuation of the user.
import {
  NUM_CHANNELS, STAGE_UNAWARE, STAGE_CONSIDERING, STAGE_CONVERTED, P_CHANNELS, CH_STRIDE,
  CHF_BASE_CTR, CHF_POS_EFFECT, CHF_JOURNEY_ONLY, CHF_QUERY_INTENT, CHF_VALUE_MULT, CHF_RESERVE,
  SEGF_CHANNEL_WEIGHT, SEGF_CTR_MULT, SEGF_VALUE_MULT, P_STAGE_CTR_MULT, P_REF_CVR,
  P_CONVERSION_VALUE, P_CREATIVE_CTR_MULT, P_CREATIVE_AFFINITY, NUM_SEGMENTS,
  P_CREATIVE_FATIGUE_PER_EXPOSURE, P_ACTIVITY_SCALE,
  H_OPPS_LEFT, H_P_USER, H_P_CHANNEL, H_P_DEVICE, H_P_QUERY_INTENT, H_P_PCTR, H_P_REF_VALUE,
  H_P_RESERVE, H_P_RIVAL_BIDS, H_RIVALS, H_RIVAL_SPEND, RIV_STRIDE, RIVF_STRATEGY,
  RIVF_VALUE_MULT, RIVF_SHADE, RIVF_NOISE, RIVF_DAILY_BUDGET_MICROS, RIVF_DEFENSE_GAIN,
  RIVF_SEGMENT_MULT, RIVF_CHANNEL_MULT, RIVF_STAGE_MULT, RIVF_QUALITY, RIVAL_DEFENSIVE,
  RIVAL_AGGRESSIVE, RIVAL_SHADING, RIVAL_RANDOM, P_RIVAL_BUDGET_SCALE, H_SEG_CDF, P_RIVAL_CVR,
} from "../layout";
import { NU, NR, U_NDEV, U_ATTENTION, U_OBS_SEG, OUT_OF_MARKET } from "./mem";
import { prm } from "./params";
import { uniform, below, uniformNoise, poisson } from "./rng";
import { segParam, activity, pickChannel } from "./tables";
import { HOD, ACTIVITY_MULT, VALUE_MULT, TREND_MULT, MARKET_NOISE } from "./clock";
import { hI32, hSetI32, hF32, hSetF32, hF64, hSetF64, u8At, f32At, stageOf, segOf, exposuresOf, activityClass, segCount, segUser } from "./state";
import { fatigueAt } from "./users";

// exp(-fatigue) of the current opportunity's user, set when the opportunity is drawn (or
// re-entered) and kept current as the auction's ads add fatigue.
export let OPP_EXPF: f64 = 1;
export function loadOpportunityUser(u: i32, hour: i32): void {
  OPP_EXPF = Math.exp(-fatigueAt(u, hour));
}
export function fatigueAdded(factor: f64): void {
  OPP_EXPF *= factor;
}

@inline export function chParam(ch: i32, field: i32): f64 {
  return prm(P_CHANNELS + ch * CH_STRIDE + field);
}

@inline export function rivalParam(r: i32, field: i32): f32 {
  return hF32(H_RIVALS + ((r * RIV_STRIDE + field) << 2));
}

// Expected opportunities this hour: users x the busiest segment's rate x calendar factors;
// candidates are then thinned by each user's own segment rate.
// Expected opportunities this hour: each segment's users x its activity at this hour x calendar
// factors. Candidates then pick a segment by its share and a user of it; users out of the market
// (converted, lost) emit nothing.
export function startHourOpportunities(): void {
  let lambda: f64 = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    lambda += <f64>segCount(s) * activity(s, HOD);
    hSetF64(H_SEG_CDF + (s << 3), lambda);
  }
  if (lambda > 0) {
    for (let s = 0; s < NUM_SEGMENTS; s++) hSetF64(H_SEG_CDF + (s << 3), hF64(H_SEG_CDF + (s << 3)) / lambda);
  }
  hSetI32(H_OPPS_LEFT, poisson(lambda * ACTIVITY_MULT * prm(P_ACTIVITY_SCALE)));
}

// Click probability of advertiser `adv` (0 = us, with creative `creative`) in `slot` for user u.
export function clickProb(u: i32, ch: i32, slot: i32, adv: i32, creative: i32, hour: i32): f64 {
  const seg = segOf(u);
  let p = chParam(ch, CHF_BASE_CTR) * chParam(ch, CHF_POS_EFFECT + slot) * segParam(seg, SEGF_CTR_MULT)
    * prm(P_STAGE_CTR_MULT + stageOf(u)) * <f64>f32At(U_ATTENTION, u) * OPP_EXPF;
  if (adv == 0) {
    p *= prm(P_CREATIVE_CTR_MULT + creative) * prm(P_CREATIVE_AFFINITY + creative * NUM_SEGMENTS + seg)
      * Math.exp(-prm(P_CREATIVE_FATIGUE_PER_EXPOSURE) * <f64>exposuresOf(u, creative));
  } else {
    p *= <f64>rivalParam(adv - 1, RIVF_QUALITY);
  }
  return p > 0.95 ? 0.95 : p;
}

// Expected value of a top-slot impression given the true user state (what a well-informed bidder
// would estimate): CTR x value per click at this stage x conversion value.
function trueImpressionValue(u: i32, ch: i32, hour: i32): f64 {
  const seg = segOf(u);
  const stage = stageOf(u);
  const ctr = chParam(ch, CHF_BASE_CTR) * chParam(ch, CHF_POS_EFFECT) * segParam(seg, SEGF_CTR_MULT)
    * prm(P_STAGE_CTR_MULT + stage) * <f64>f32At(U_ATTENTION, u) * OPP_EXPF;
  return ctr * prm(P_RIVAL_CVR + stage) * prm(P_CONVERSION_VALUE) * segParam(seg, SEGF_VALUE_MULT) * VALUE_MULT;
}

function rivalBids(u: i32, ch: i32, hour: i32): void {
  const base = trueImpressionValue(u, ch, hour) * MARKET_NOISE * TREND_MULT * chParam(ch, CHF_VALUE_MULT);
  const seg = segOf(u);
  const stage = stageOf(u);
  for (let r = 0; r < NR; r++) {
    let v = base * <f64>rivalParam(r, RIVF_VALUE_MULT) * <f64>rivalParam(r, RIVF_SEGMENT_MULT + seg)
      * <f64>rivalParam(r, RIVF_CHANNEL_MULT + ch) * <f64>rivalParam(r, RIVF_STAGE_MULT + stage)
      * <f64>rivalParam(r, RIVF_QUALITY);
    v *= 1.0 + <f64>rivalParam(r, RIVF_NOISE) * uniformNoise();
    if (v < 0) v = 0;
    const strategy = <i32>rivalParam(r, RIVF_STRATEGY);
    let bid: f64 = v;
    if (strategy == RIVAL_DEFENSIVE) {
      // protects users deep in the funnel
      if (stage >= STAGE_CONSIDERING) bid = v * <f64>rivalParam(r, RIVF_DEFENSE_GAIN);
    } else if (strategy == RIVAL_SHADING) {
      bid = v * <f64>rivalParam(r, RIVF_SHADE);
    } else if (strategy == RIVAL_RANDOM) {
      bid = v * 2.0 * uniform();
    } else if (strategy == RIVAL_AGGRESSIVE) {
      bid = v * <f64>rivalParam(r, RIVF_SHADE);
    }
    // a rival never bids more than what is left of its daily budget
    const left = (<f64>rivalParam(r, RIVF_DAILY_BUDGET_MICROS) * prm(P_RIVAL_BUDGET_SCALE)
      - hF64(H_RIVAL_SPEND + (r << 3))) * 1e-6;
    if (bid > left) bid = left < 0.01 ? 0 : left;
    hSetF32(H_P_RIVAL_BIDS + (r << 2), <f32>bid);
  }
}

// Our side's estimates, from what we can observe: the platform's segment label, our pCTR model
// (true CTR with model error) and a value-per-click table by the tracked stage.
export function ourEstimates(u: i32, ch: i32, hour: i32, trackedStage: i32): void {
  const obsSeg = u8At(U_OBS_SEG, u);
  const stage = stageOf(u);
  const ctr = chParam(ch, CHF_BASE_CTR) * chParam(ch, CHF_POS_EFFECT) * segParam(segOf(u), SEGF_CTR_MULT)
    * prm(P_STAGE_CTR_MULT + stage) * <f64>f32At(U_ATTENTION, u) * OPP_EXPF;
  let pctr = ctr * (1.0 + 0.25 * uniformNoise());
  if (pctr < 0) pctr = 0;
  const ref = pctr * prm(P_REF_CVR + trackedStage) * prm(P_CONVERSION_VALUE)
    * segParam(obsSeg, SEGF_VALUE_MULT) * VALUE_MULT;
  hSetF32(H_P_PCTR, <f32>pctr);
  hSetF32(H_P_REF_VALUE, <f32>ref);
  let qi: f64 = 0;
  const meanIntent = chParam(ch, CHF_QUERY_INTENT);
  if (meanIntent > 0) {
    qi = meanIntent * (0.5 + 0.25 * <f64>stage) * (1.0 + 0.3 * uniformNoise());
    qi = qi < 0 ? 0 : qi > 1 ? 1 : qi;
  }
  hSetF32(H_P_QUERY_INTENT, <f32>qi);
}

// Draws the next opportunity of this hour into the pending fields. Returns false when the hour's
// candidates are used up. `trackedStageOf` is supplied by the observation module.
export function nextOpportunity(hour: i32): bool {
  let left = hI32(H_OPPS_LEFT);
  while (left > 0) {
    left--;
    const r = uniform();
    let seg = 0;
    while (seg < NUM_SEGMENTS - 1 && r >= hF64(H_SEG_CDF + (seg << 3))) seg++;
    const n = segCount(seg);
    if (n == 0) continue;
    const u = segUser(seg, below(n));
    if (activityClass(u) == OUT_OF_MARKET) continue; // converted or lost: out of the market until re-entry
    const ch = pickChannel(seg, stageOf(u) != STAGE_UNAWARE, uniform());
    const device = below(u8At(U_NDEV, u));
    hSetI32(H_OPPS_LEFT, left);
    hSetI32(H_P_USER, u);
    hSetI32(H_P_CHANNEL, ch);
    hSetI32(H_P_DEVICE, device);
    hSetF32(H_P_RESERVE, <f32>chParam(ch, CHF_RESERVE));
    loadOpportunityUser(u, hour);
    rivalBids(u, ch, hour);
    return true;
  }
  hSetI32(H_OPPS_LEFT, 0);
  return false;
}

