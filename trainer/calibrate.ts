// Checks the market's conversion-delay shape and multi-touch share against the published Criteo
// attribution data (DESIGN.md: median ≈ 3.7 d, mean ≈ 7.1 d, p75 ≈ 12 d, max 30 d, about a third
// of conversions after more than one impression).
//
// Journeys are counted when their first touch falls in a window of `days` days that opens when the
// warm-up ends (config.calibration.histFromDay/histToDay, in world days). Each world then runs on
// for the conversion window so every counted journey has had its full chance to convert: stopping
// earlier would right-censor the long delays and bias every statistic short. Our campaign bids
// with the truthful bidder meanwhile, so it takes part in journeys like any advertiser.
import type { GaelpConfig } from "../env/config.js";
import { type BidAction, VectorEnv } from "../env/vector_env.js";
import type { WasmTarget } from "../wasm/loader.js";
import * as L from "../wasm/layout.js";
import { createBidder } from "../agents/baselines/index.js";
import { summarizeHistogram, tInterval, type Interval } from "./stats.js";
import { validateConfig } from "../env/config.js";

export interface CalibrationOptions {
  config: GaelpConfig;
  worlds: number;
  /** days of journey starts counted (the histogram window) */
  days: number;
  seed: number;
  wasm?: WasmTarget;
}

export interface CalibrationTarget {
  metric: "delayMedianDays" | "delayMeanDays" | "delayP75Days" | "delayMaxDays" | "multiTouchShare";
  min: number;
  max: number;
  unit: string;
}

/** Acceptance bands around the Criteo figures. */
export const CALIBRATION_TARGETS: readonly CalibrationTarget[] = [
  { metric: "delayMedianDays", min: 3, max: 5, unit: "days" },
  { metric: "delayMeanDays", min: 5.5, max: 9, unit: "days" },
  { metric: "delayP75Days", min: 9, max: 15, unit: "days" },
  { metric: "delayMaxDays", min: 0, max: 30, unit: "days" },
  { metric: "multiTouchShare", min: 0.25, max: 0.45, unit: "share" },
];

export interface CalibrationRow {
  metric: string;
  value: number;
  min: number;
  max: number;
  unit: string;
  pass: boolean;
  /** spread over worlds of the per-world statistic */
  overWorlds: Interval;
}

export interface CalibrationReport {
  delayMedianDays: number;
  delayMeanDays: number;
  delayP75Days: number;
  delayMaxDays: number;
  multiTouchShare: number;
  /** all conversions of the world's life, not only window journeys (includes warm-up) */
  multiTouchShareAllTime: number;
  /** conversions of window journeys (summed credit over advertisers) */
  conversions: number;
  /** share of window conversions more than 30 days after the advertiser's first touch */
  beyond30DaysShare: number;
  pass: boolean;
  rows: CalibrationRow[];
  worlds: number;
  days: number;
  seed: number;
  window: { fromDay: number; toDay: number; runUntilDay: number };
  wallSeconds: number;
}

const HOURS_PER_DAY = 24;

export function runCalibration(opts: CalibrationOptions): CalibrationReport {
  const { worlds, days, seed } = opts;
  if (!Number.isInteger(worlds) || worlds < 1) throw new RangeError(`worlds must be an integer >= 1, got ${worlds}`);
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be an integer >= 1, got ${days}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  const base = opts.config;
  const fromDay = base.market.warmupDays;
  const toDay = fromDay + days;
  const runUntilDay = toDay + Math.ceil(base.journey.conversionWindowDays) + 1;
  const config = validateConfig({ ...structuredClone(base), calibration: { histFromDay: fromDay, histToDay: toDay } });

  const t0 = performance.now();
  const env = VectorEnv.create({ config, numWorlds: worlds, seed, wasm: opts.wasm });
  const hist = new Float64Array(L.DELAY_BINS);
  const perWorld: Record<CalibrationTarget["metric"], number[]> = {
    delayMedianDays: [],
    delayMeanDays: [],
    delayP75Days: [],
    delayMaxDays: [],
    multiTouchShare: [],
  };
  let calConversions = 0;
  let calMulti = 0;
  let allConversions = 0;
  let allMulti = 0;
  try {
    const bidder = createBidder("truthful");
    bidder.reset(worlds, config);
    let [obs, info] = env.reset({ seed });
    const action: BidAction = { bid: new Float32Array(worlds), creative: new Int32Array(worlds) };
    const endHour = runUntilDay * HOURS_PER_DAY;
    const behind = (): boolean => {
      for (let w = 0; w < worlds; w++) if (info[w * L.INFO_DIM + L.I_HOUR] < endHour) return true;
      return false;
    };
    while (behind()) {
      bidder.act(obs, info, action);
      const [o, reward, terminated, truncated, i] = env.step(action);
      bidder.observe(reward, terminated, truncated, i);
      obs = o;
      info = i;
    }
    for (let w = 0; w < worlds; w++) {
      const h = env.delayHistogram(w, "all");
      for (let b = 0; b < L.DELAY_BINS; b++) hist[b] += h[b];
      const s = summarizeHistogram(h, 1 / HOURS_PER_DAY);
      const t = env.statsOf(w, "total");
      perWorld.delayMedianDays.push(s.median);
      perWorld.delayMeanDays.push(s.mean);
      perWorld.delayP75Days.push(s.p75);
      perWorld.delayMaxDays.push(s.max);
      perWorld.multiTouchShare.push(t[L.S_CAL_MULTI_TOUCH] / t[L.S_CAL_CONVERSIONS]);
      calConversions += t[L.S_CAL_CONVERSIONS];
      calMulti += t[L.S_CAL_MULTI_TOUCH];
      allConversions += t[L.S_MARKET_CONVERSIONS];
      allMulti += t[L.S_MULTI_TOUCH_CONVERSIONS];
    }
  } finally {
    env.close();
  }

  const summary = summarizeHistogram(hist, 1 / HOURS_PER_DAY);
  let beyond = 0;
  for (let b = 30 * HOURS_PER_DAY + 1; b < L.DELAY_BINS; b++) beyond += hist[b];
  const values: Record<CalibrationTarget["metric"], number> = {
    delayMedianDays: summary.median,
    delayMeanDays: summary.mean,
    delayP75Days: summary.p75,
    delayMaxDays: summary.max,
    multiTouchShare: calConversions > 0 ? calMulti / calConversions : Number.NaN,
  };
  const rows = CALIBRATION_TARGETS.map((t) => ({
    metric: t.metric,
    value: values[t.metric],
    min: t.min,
    max: t.max,
    unit: t.unit,
    pass: values[t.metric] >= t.min && values[t.metric] <= t.max,
    overWorlds: tInterval(perWorld[t.metric]),
  }));
  return {
    ...values,
    multiTouchShareAllTime: allConversions > 0 ? allMulti / allConversions : Number.NaN,
    conversions: summary.total,
    beyond30DaysShare: summary.total > 0 ? beyond / summary.total : Number.NaN,
    pass: rows.every((r) => r.pass),
    rows,
    worlds,
    days,
    seed,
    window: { fromDay, toDay, runUntilDay },
    wallSeconds: (performance.now() - t0) / 1000,
  };
}
