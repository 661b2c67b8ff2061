// Tables derived from the params once per configure(): hourly activity by segment, the expected
// share of a day's traffic by hour (the pacing target), channel choice, calendar and decay tables.
import {
  NUM_SEGMENTS, NUM_CHANNELS, P_SEGMENTS, SEG_STRIDE, SEGF_SHARE, SEGF_SESSIONS_PER_DAY,
  SEGF_PEAK_HOUR, SEGF_ACTIVITY_WIDTH_HOURS, SEGF_CHANNEL_WEIGHT, P_CHANNELS, CH_STRIDE,
  CHF_JOURNEY_ONLY, P_FATIGUE_RECOVERY_HOURS, P_CRISIS_DECAY_HOURS, P_CREATIVE_FATIGUE_PER_EXPOSURE,
  P_USER_FATIGUE_PER_AD,
} from "../../layout.js";
import { prm } from "./params.js";
import { memoryData, memoryFill, loadF32, storeF32, loadF64, storeF64 } from "./memory.js";

const ACT = memoryData(NUM_SEGMENTS * 24 * 8); // f64 [seg][hour] sessions per user-hour
const CUM_TRAFFIC = memoryData(25 * 8); // f64 [hour] share of daily traffic before hour h
const TRAFFIC = memoryData(24 * 8); // f64 [hour] expected sessions per user (scratch)
// channel choice: cumulative probabilities [seg][inJourney][channel]
const CH_CDF = memoryData(NUM_SEGMENTS * 2 * NUM_CHANNELS * 8);
const HOUR_SIN = memoryData(24 * 4);
const HOUR_COS = memoryData(24 * 4);
const DOW_SIN = memoryData(7 * 4);
const DOW_COS = memoryData(7 * 4);

// exp(-dt / tau) for whole hours dt, for fatigue recovery and urgency decay, as the product of
// two 64-entry tables (dt = 64 hi + lo)
export const DECAY_HOURS = 4096;
const FATIGUE_LO = memoryData(64 * 8);
const FATIGUE_HI = memoryData(64 * 8);
const URGENCY_LO = memoryData(64 * 8);
const URGENCY_HI = memoryData(64 * 8);
const RECENCY = memoryData(721 * 4); // log1p(h) / log1p(720)
const CREATIVE_WEAR = memoryData(256 * 8); // exp(-k x exposures)
// exp(-x) for x in [0, 16) by linear interpolation on a 1/64 grid, in f32
const EXP_NEG = memoryData(1025 * 4);
let FATIGUE_FACTOR_PER_AD = 1;
// exp(-fatigue added by one ad): how exp(-fatigue) changes with each impression
export function fatigueFactorPerAd(): number { return FATIGUE_FACTOR_PER_AD; }

export function expNeg(x: number): number {
  if (!(x > 0)) return 1.0;
  const t = x * 64.0;
  if (t >= 1024.0) return 0.0;
  const i = t | 0;
  const a = loadF32(EXP_NEG + (i << 2));
  const b = loadF32(EXP_NEG + ((i + 1) << 2));
  return a + (b - a) * (t - i);
}
export function creativeWear(exposures: number): number {
  return loadF64(CREATIVE_WEAR + (exposures << 3));
}
export function fatigueDecay(dt: number): number {
  return dt < DECAY_HOURS
    ? loadF64(FATIGUE_LO + ((dt & 63) << 3)) * loadF64(FATIGUE_HI + ((dt >> 6) << 3))
    : 0.0;
}
export function urgencyDecay(dt: number): number {
  return dt < DECAY_HOURS
    ? loadF64(URGENCY_LO + ((dt & 63) << 3)) * loadF64(URGENCY_HI + ((dt >> 6) << 3))
    : 0.0;
}
export function recencyFeature(h: number): number {
  return h <= 0 ? 0 : h >= 720 ? 1 : loadF32(RECENCY + (h << 2));
}

export function hourSin(h: number): number { return loadF32(HOUR_SIN + (h << 2)); }
export function hourCos(h: number): number { return loadF32(HOUR_COS + (h << 2)); }
export function dowSin(d: number): number { return loadF32(DOW_SIN + (d << 2)); }
export function dowCos(d: number): number { return loadF32(DOW_COS + (d << 2)); }

// Channel of an opportunity from one uniform: the segment's channel preferences, with channels
// that need an open journey (retargeting, email) excluded for users not in one.
export function pickChannel(seg: number, inJourney: boolean, r: number): number {
  const row = CH_CDF + (((seg * 2 + (inJourney ? 1 : 0)) * NUM_CHANNELS) << 3);
  for (let c = 0; c < NUM_CHANNELS - 1; c++) {
    if (r < loadF64(row + (c << 3))) return c;
  }
  return NUM_CHANNELS - 1;
}

function buildChannelTables(): void {
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    for (let j = 0; j < 2; j++) {
      const row = CH_CDF + (((s * 2 + j) * NUM_CHANNELS) << 3);
      let total = 0;
      for (let c = 0; c < NUM_CHANNELS; c++) {
        const allowed = j === 1 || prm(P_CHANNELS + c * CH_STRIDE + CHF_JOURNEY_ONLY) < 0.5;
        total += allowed ? segParam(s, SEGF_CHANNEL_WEIGHT + c) : 0;
      }
      let acc = 0;
      let lastAllowed = 0;
      for (let c = 0; c < NUM_CHANNELS; c++) {
        const allowed = j === 1 || prm(P_CHANNELS + c * CH_STRIDE + CHF_JOURNEY_ONLY) < 0.5;
        if (allowed && total > 0) {
          acc += segParam(s, SEGF_CHANNEL_WEIGHT + c) / total;
          lastAllowed = c;
        }
        storeF64(row + (c << 3), acc);
      }
      // guard rounding: everything past the last allowed channel maps to it
      for (let c = lastAllowed; c < NUM_CHANNELS; c++) storeF64(row + (c << 3), 2.0);
    }
  }
  for (let h = 0; h < 24; h++) {
    const a = 6.283185307179586 * (h + 0.5) / 24.0;
    storeF32(HOUR_SIN + (h << 2), Math.sin(a));
    storeF32(HOUR_COS + (h << 2), Math.cos(a));
  }
  const tf = prm(P_FATIGUE_RECOVERY_HOURS);
  const tu = prm(P_CRISIS_DECAY_HOURS);
  for (let t = 0; t < 64; t++) {
    storeF64(FATIGUE_LO + (t << 3), Math.exp(-t / tf));
    storeF64(FATIGUE_HI + (t << 3), Math.exp(-(t << 6) / tf));
    storeF64(URGENCY_LO + (t << 3), Math.exp(-t / tu));
    storeF64(URGENCY_HI + (t << 3), Math.exp(-(t << 6) / tu));
  }
  FATIGUE_FACTOR_PER_AD = Math.exp(-prm(P_USER_FATIGUE_PER_AD));
  for (let i = 0; i <= 1024; i++) storeF32(EXP_NEG + (i << 2), Math.exp(-i / 64.0));
  const k = prm(P_CREATIVE_FATIGUE_PER_EXPOSURE);
  for (let e = 0; e < 256; e++) storeF64(CREATIVE_WEAR + (e << 3), Math.exp(-k * e));
  for (let h = 0; h <= 720; h++) storeF32(RECENCY + (h << 2), Math.log1p(h) / Math.log1p(720.0));
  for (let d = 0; d < 7; d++) {
    const a = 6.283185307179586 * d / 7.0;
    storeF32(DOW_SIN + (d << 2), Math.sin(a));
    storeF32(DOW_COS + (d << 2), Math.cos(a));
  }
}

export function segParam(seg: number, field: number): number {
  return prm(P_SEGMENTS + seg * SEG_STRIDE + field);
}

export function activity(seg: number, hod: number): number {
  return loadF64(ACT + ((seg * 24 + hod) << 3));
}

// Share of the day's expected traffic that falls before hour-of-day `hod` (+ fraction `f` of it).
export function trafficShare(hod: number, f: number): number {
  const a = loadF64(CUM_TRAFFIC + (hod << 3));
  const b = loadF64(CUM_TRAFFIC + ((hod + 1) << 3));
  return a + (b - a) * f;
}

export function buildTables(): void {
  // Activity: a floor of 0.3 plus a circular Gaussian bump at the segment's peak hour, normalised
  // so the day's mean equals sessionsPerDay / 24.
  memoryFill(TRAFFIC, 0, 24 * 8);
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    const peak = segParam(s, SEGF_PEAK_HOUR);
    const width = Math.max(0.5, segParam(s, SEGF_ACTIVITY_WIDTH_HOURS));
    const perHour = segParam(s, SEGF_SESSIONS_PER_DAY) / 24.0;
    let sum = 0;
    for (let h = 0; h < 24; h++) {
      let d = Math.abs(h + 0.5 - peak);
      if (d > 12) d = 24 - d;
      const shape = 0.3 + Math.exp(-(d * d) / (2 * width * width));
      storeF64(ACT + ((s * 24 + h) << 3), shape);
      sum += shape;
    }
    for (let h = 0; h < 24; h++) {
      const p = ACT + ((s * 24 + h) << 3);
      const v = (loadF64(p) * 24.0 / sum) * perHour;
      storeF64(p, v);
      const t = TRAFFIC + (h << 3);
      storeF64(t, loadF64(t) + v * segParam(s, SEGF_SHARE));
    }
  }
  let total = 0;
  for (let h = 0; h < 24; h++) {
    total += loadF64(TRAFFIC + (h << 3));
  }
  let acc = 0;
  for (let h = 0; h < 24; h++) {
    storeF64(CUM_TRAFFIC + (h << 3), total > 0 ? acc / total : h / 24.0);
    acc += loadF64(TRAFFIC + (h << 3));
  }
  storeF64(CUM_TRAFFIC + (24 << 3), 1.0);
  buildChannelTables();
}
