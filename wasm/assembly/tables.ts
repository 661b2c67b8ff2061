// Tables derived from the params once per configure(): hourly activity by segment, the expected
// share of a day's traffic by hour (the pacing target), channel choice, calendar and decay tables.
import {
  NUM_SEGMENTS, NUM_CHANNELS, P_SEGMENTS, SEG_STRIDE, SEGF_SHARE, SEGF_SESSIONS_PER_DAY,
  SEGF_PEAK_HOUR, SEGF_ACTIVITY_WIDTH_HOURS, SEGF_CHANNEL_WEIGHT, P_CHANNELS, CH_STRIDE,
  CHF_JOURNEY_ONLY, P_FATIGUE_RECOVERY_HOURS, P_CRISIS_DECAY_HOURS, P_CREATIVE_FATIGUE_PER_EXPOSURE,
  P_USER_FATIGUE_PER_AD, CHF_MECHANISM, CHF_SLOTS, P_JOURNEY_TIMEOUT_DAYS,
} from "../layout";
import { prm } from "./params";

const ACT = memory.data(NUM_SEGMENTS * 24 * 8); // f64 [seg][hour] sessions per user-hour
const CUM_TRAFFIC = memory.data(25 * 8); // f64 [hour] share of daily traffic before hour h
const TRAFFIC = memory.data(24 * 8); // f64 [hour] expected sessions per user (scratch)
// channel choice: cumulative probabilities [seg][inJourney][channel]
const CH_CDF = memory.data(NUM_SEGMENTS * 2 * NUM_CHANNELS * 8);
const HOUR_SIN = memory.data(24 * 4);
const HOUR_COS = memory.data(24 * 4);
const DOW_SIN = memory.data(7 * 4);
const DOW_COS = memory.data(7 * 4);

// exp(-dt / tau) for whole hours dt, for fatigue recovery and urgency decay, as the product of
// two 64-entry tables (dt = 64 hi + lo): 1 KB each instead of a 32 KB table that crowds L1
export const DECAY_HOURS = 4096;
const FATIGUE_LO = memory.data(64 * 8);
const FATIGUE_HI = memory.data(64 * 8);
const URGENCY_LO = memory.data(64 * 8);
const URGENCY_HI = memory.data(64 * 8);
const RECENCY = memory.data(721 * 4); // log1p(h) / log1p(720)
const CREATIVE_WEAR = memory.data(256 * 8); // exp(-k x exposures)
// exp(-x) for x in [0, 16) by linear interpolation on a 1/64 grid (relative error < 4e-5), in
// f32 (4 KB); for fatigue, which only needs to be smooth and monotone, at a fraction of Math.exp's cost
const EXP_NEG = memory.data(1025 * 4);
let FATIGUE_FACTOR_PER_AD: f64 = 1;
// whole-number params read per opportunity, converted once (a float-to-int conversion per use
// costs a rounding check in V8's code)
const CH_MECHANISM = memory.data(NUM_CHANNELS * 4);
const CH_SLOTS = memory.data(NUM_CHANNELS * 4);
let JOURNEY_TIMEOUT_HOURS: i32 = 0;
@inline export function channelMechanism(ch: i32): i32 { return load<i32>(CH_MECHANISM + (<usize>ch << 2)); }
@inline export function channelSlots(ch: i32): i32 { return load<i32>(CH_SLOTS + (<usize>ch << 2)); }
@inline export function journeyTimeoutHours(): i32 { return JOURNEY_TIMEOUT_HOURS; }
// exp(-fatigue added by one ad): how exp(-fatigue) changes with each impression
@inline export function fatigueFactorPerAd(): f64 { return FATIGUE_FACTOR_PER_AD; }

export function expNeg(x: f64): f64 {
  if (!(x > 0)) return 1.0;
  const t = x * 64.0;
  if (t >= 1024.0) return 0.0;
  const i = <i32>t;
  const a = <f64>load<f32>(EXP_NEG + (<usize>i << 2));
  const b = <f64>load<f32>(EXP_NEG + (<usize>(i + 1) << 2));
  return a + (b - a) * (t - <f64>i);
}
@inline export function creativeWear(exposures: i32): f64 {
  return load<f64>(CREATIVE_WEAR + (<usize>exposures << 3));
}
@inline export function fatigueDecay(dt: i32): f64 {
  return dt < DECAY_HOURS
    ? load<f64>(FATIGUE_LO + (<usize>(dt & 63) << 3)) * load<f64>(FATIGUE_HI + (<usize>(dt >> 6) << 3))
    : 0.0;
}
@inline export function urgencyDecay(dt: i32): f64 {
  return dt < DECAY_HOURS
    ? load<f64>(URGENCY_LO + (<usize>(dt & 63) << 3)) * load<f64>(URGENCY_HI + (<usize>(dt >> 6) << 3))
    : 0.0;
}
@inline export function recencyFeature(h: i32): f32 {
  return h <= 0 ? 0 : h >= 720 ? 1 : load<f32>(RECENCY + (<usize>h << 2));
}

@inline export function hourSin(h: i32): f32 { return load<f32>(HOUR_SIN + (<usize>h << 2)); }
@inline export function hourCos(h: i32): f32 { return load<f32>(HOUR_COS + (<usize>h << 2)); }
@inline export function dowSin(d: i32): f32 { return load<f32>(DOW_SIN + (<usize>d << 2)); }
@inline export function dowCos(d: i32): f32 { return load<f32>(DOW_COS + (<usize>d << 2)); }

// Channel of an opportunity from one uniform: the segment's channel preferences, with channels
// that need an open journey (retargeting, email) excluded for users not in one.
export function pickChannel(seg: i32, inJourney: bool, r: f64): i32 {
  const row = CH_CDF + (<usize>((seg * 2 + (inJourney ? 1 : 0)) * NUM_CHANNELS) << 3);
  // the first channel whose cumulative share exceeds r, counted without a branch (the row never
  // decreases, so that is the number of shares at or below r)
  let c = 0;
  for (let k = 0; k < NUM_CHANNELS - 1; k++) c += <i32>(r >= load<f64>(row + (<usize>k << 3)));
  return c;
}

function buildChannelTables(): void {
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    for (let j = 0; j < 2; j++) {
      const row = CH_CDF + (<usize>((s * 2 + j) * NUM_CHANNELS) << 3);
      let total: f64 = 0;
      for (let c = 0; c < NUM_CHANNELS; c++) {
        const allowed = j == 1 || prm(P_CHANNELS + c * CH_STRIDE + CHF_JOURNEY_ONLY) < 0.5;
        total += allowed ? segParam(s, SEGF_CHANNEL_WEIGHT + c) : 0;
      }
      let acc: f64 = 0;
      let lastAllowed = 0;
      for (let c = 0; c < NUM_CHANNELS; c++) {
        const allowed = j == 1 || prm(P_CHANNELS + c * CH_STRIDE + CHF_JOURNEY_ONLY) < 0.5;
        if (allowed && total > 0) {
          acc += segParam(s, SEGF_CHANNEL_WEIGHT + c) / total;
          lastAllowed = c;
        }
        store<f64>(row + (<usize>c << 3), acc);
      }
      // guard rounding: everything past the last allowed channel maps to it
      for (let c = lastAllowed; c < NUM_CHANNELS; c++) store<f64>(row + (<usize>c << 3), 2.0);
    }
  }
  for (let h = 0; h < 24; h++) {
    const a = 6.283185307179586 * (<f64>h + 0.5) / 24.0;
    store<f32>(HOUR_SIN + (<usize>h << 2), <f32>Math.sin(a));
    store<f32>(HOUR_COS + (<usize>h << 2), <f32>Math.cos(a));
  }
  const tf = prm(P_FATIGUE_RECOVERY_HOURS);
  const tu = prm(P_CRISIS_DECAY_HOURS);
  for (let t = 0; t < 64; t++) {
    store<f64>(FATIGUE_LO + (<usize>t << 3), Math.exp(-<f64>t / tf));
    store<f64>(FATIGUE_HI + (<usize>t << 3), Math.exp(-<f64>(t << 6) / tf));
    store<f64>(URGENCY_LO + (<usize>t << 3), Math.exp(-<f64>t / tu));
    store<f64>(URGENCY_HI + (<usize>t << 3), Math.exp(-<f64>(t << 6) / tu));
  }
  FATIGUE_FACTOR_PER_AD = Math.exp(-prm(P_USER_FATIGUE_PER_AD));
  for (let c = 0; c < NUM_CHANNELS; c++) {
    store<i32>(CH_MECHANISM + (<usize>c << 2), <i32>prm(P_CHANNELS + c * CH_STRIDE + CHF_MECHANISM));
    store<i32>(CH_SLOTS + (<usize>c << 2), <i32>prm(P_CHANNELS + c * CH_STRIDE + CHF_SLOTS));
  }
  JOURNEY_TIMEOUT_HOURS = <i32>(prm(P_JOURNEY_TIMEOUT_DAYS) * 24.0);
  for (let i = 0; i <= 1024; i++) store<f32>(EXP_NEG + (<usize>i << 2), <f32>Math.exp(-<f64>i / 64.0));
  const k = prm(P_CREATIVE_FATIGUE_PER_EXPOSURE);
  for (let e = 0; e < 256; e++) store<f64>(CREATIVE_WEAR + (<usize>e << 3), Math.exp(-k * <f64>e));
  for (let h = 0; h <= 720; h++) store<f32>(RECENCY + (<usize>h << 2), <f32>(Math.log1p(<f64>h) / Math.log1p(720.0)));
  for (let d = 0; d < 7; d++) {
    const a = 6.283185307179586 * <f64>d / 7.0;
    store<f32>(DOW_SIN + (<usize>d << 2), <f32>Math.sin(a));
    store<f32>(DOW_COS + (<usize>d << 2), <f32>Math.cos(a));
  }
}

@inline export function segParam(seg: i32, field: i32): f64 {
  return prm(P_SEGMENTS + seg * SEG_STRIDE + field);
}

@inline export function activity(seg: i32, hod: i32): f64 {
  return load<f64>(ACT + ((<usize>(seg * 24 + hod)) << 3));
}

// Share of the day's expected traffic that falls before hour-of-day `hod` (+ fraction `f` of it).
@inline export function trafficShare(hod: i32, f: f64): f64 {
  const a = load<f64>(CUM_TRAFFIC + (<usize>hod << 3));
  const b = load<f64>(CUM_TRAFFIC + (<usize>(hod + 1) << 3));
  return a + (b - a) * f;
}

export function buildTables(): void {
  // Activity: a floor of 0.3 plus a circular Gaussian bump at the segment's peak hour, normalised
  // so the day's mean equals sessionsPerDay / 24.
  memory.fill(TRAFFIC, 0, 24 * 8);
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    const peak = segParam(s, SEGF_PEAK_HOUR);
    const width = Math.max(0.5, segParam(s, SEGF_ACTIVITY_WIDTH_HOURS));
    const perHour = segParam(s, SEGF_SESSIONS_PER_DAY) / 24.0;
    let sum: f64 = 0;
    for (let h = 0; h < 24; h++) {
      let d = Math.abs(<f64>h + 0.5 - peak);
      if (d > 12) d = 24 - d;
      const shape = 0.3 + Math.exp(-(d * d) / (2 * width * width));
      store<f64>(ACT + (<usize>(s * 24 + h) << 3), shape);
      sum += shape;
    }
    for (let h = 0; h < 24; h++) {
      const p = ACT + (<usize>(s * 24 + h) << 3);
      const v = (load<f64>(p) * 24.0 / sum) * perHour;
      store<f64>(p, v);
      const t = TRAFFIC + (<usize>h << 3);
      store<f64>(t, load<f64>(t) + v * segParam(s, SEGF_SHARE));
    }
  }
  let total: f64 = 0;
  for (let h = 0; h < 24; h++) {
    total += load<f64>(TRAFFIC + (<usize>h << 3));
  }
  let acc: f64 = 0;
  for (let h = 0; h < 24; h++) {
    store<f64>(CUM_TRAFFIC + (<usize>h << 3), total > 0 ? acc / total : <f64>h / 24.0);
    acc += load<f64>(TRAFFIC + (<usize>h << 3));
  }
  store<f64>(CUM_TRAFFIC + (24 << 3), 1.0);
  buildChannelTables();
}
