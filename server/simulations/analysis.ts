// What a what-if job reports, computed from its simulated worlds (pure functions, no I/O): daily
// trajectories with P10/P50/P90 over worlds, budget levels with marginal ROAS, risks, and the pivot
// recommendations with their re-simulated previews. Every rule is stated here and in
// docs/simulations.md; worlds are paired (world i has the same seed in every config of a job).
import seedrandom from "seedrandom";
import { CHANNEL_NAMES, type GaelpConfig } from "../../env/config.js";
import { DAILY_METRICS } from "../../trainer/simulate.js";
import { finiteSorted, mean, quantileSorted, tInterval } from "../../trainer/stats.js";
import { launchWeekdayOf, startDayForLaunch } from "./plan.js";
import type { SimTaskResult } from "./plan.js";
import {
  type BudgetLevelResult, type DeltaResult, type Multipliers, type RecommendationResult, type RiskResult, type ScenarioResult,
  SERIES, type SeriesName, TOTALS, type TotalName, WEEKDAYS,
} from "./schemas.js";

const ND = DAILY_METRICS.length;
const NC = CHANNEL_NAMES.length;
const [IMP, CLK, CONV, SPEND, REV] = [0, 1, 2, 3, 4];

/** Every world of one config run, gathered from its tasks. */
export interface WorldsData {
  worlds: number;
  days: number;
  /** world x day x DAILY_METRICS */
  daily: Float64Array;
  channelSpend: Float64Array;
  channelValue: Float64Array;
  lastDay: Int32Array;
  exhausted: Uint8Array;
}

export function emptyWorlds(worlds: number, days: number): WorldsData {
  return {
    worlds, days, daily: new Float64Array(worlds * days * ND), channelSpend: new Float64Array(worlds * NC),
    channelValue: new Float64Array(worlds * NC), lastDay: new Int32Array(worlds), exhausted: new Uint8Array(worlds),
  };
}

/** Copies one task's world group into place. */
export function addTask(d: WorldsData, r: SimTaskResult): void {
  const o = r.worldOffset;
  d.daily.set(r.daily, o * d.days * ND);
  d.channelSpend.set(r.channelSpend, o * NC);
  d.channelValue.set(r.channelValue, o * NC);
  d.lastDay.set(r.lastDay, o);
  d.exhausted.set(r.exhausted, o);
}

const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Sum of metric k over days [from, to) of world w. */
function windowSum(d: WorldsData, w: number, k: number, from = 0, to = d.days): number {
  let s = 0;
  for (let day = from; day < to; day++) s += d.daily[(w * d.days + day) * ND + k];
  return s;
}

/** Per world flight totals of every metric of TOTALS. */
export function worldTotals(d: WorldsData): Record<TotalName, Float64Array> {
  const out = Object.fromEntries(TOTALS.map((t) => [t, new Float64Array(d.worlds)])) as Record<TotalName, Float64Array>;
  for (let w = 0; w < d.worlds; w++) {
    const [imp, clk, conv, spend, rev] = [IMP, CLK, CONV, SPEND, REV].map((k) => windowSum(d, w, k));
    out.impressions[w] = imp;
    out.clicks[w] = clk;
    out.conversions[w] = conv;
    out.spend[w] = spend;
    out.revenue[w] = rev;
    out.profit[w] = rev - spend;
    out.ctr[w] = ratio(clk, imp);
    out.cpc[w] = ratio(spend, clk);
    out.cpm[w] = 1000 * ratio(spend, imp);
    out.roas[w] = ratio(rev, spend);
  }
  return out;
}

/** The value of a series on one day of one world (ratios NaN when undefined). */
function seriesValue(d: WorldsData, w: number, day: number, s: SeriesName): number {
  const at = (w * d.days + day) * ND;
  const x = d.daily;
  switch (s) {
    case "impressions": return x[at + IMP];
    case "clicks": return x[at + CLK];
    case "conversions": return x[at + CONV];
    case "spend": return x[at + SPEND];
    case "ctr": return ratio(x[at + CLK], x[at + IMP]);
    case "cpc": return ratio(x[at + SPEND], x[at + CLK]);
    case "cpm": return 1000 * ratio(x[at + SPEND], x[at + IMP]);
    case "roas": return ratio(x[at + REV], x[at + SPEND]);
  }
}

/** Mean of the finite values, in their order (NaN when there are none). */
function finiteMean(xs: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) { sum += xs[i]; n++; }
  return sum / n;
}

/** Mean and P10/P50/P90 of the finite values (all null when there are none). */
export function spread(xs: ArrayLike<number>): { mean: number | null; p10: number | null; p50: number | null; p90: number | null } {
  const s = finiteSorted(xs);
  return { mean: orNull(finiteMean(xs)), p10: orNull(quantileSorted(s, 0.1)), p50: orNull(quantileSorted(s, 0.5)), p90: orNull(quantileSorted(s, 0.9)) };
}

/** Daily trajectories and flight totals of one scenario. */
export function scenarioResult(name: string, multipliers: Multipliers, config: GaelpConfig, d: WorldsData): ScenarioResult {
  const daily = {} as ScenarioResult["daily"];
  const vals = new Float64Array(d.worlds);
  for (const s of SERIES) {
    const series = { mean: [] as (number | null)[], p10: [] as (number | null)[], p50: [] as (number | null)[], p90: [] as (number | null)[] };
    for (let day = 0; day < d.days; day++) {
      for (let w = 0; w < d.worlds; w++) vals[w] = seriesValue(d, w, day, s);
      const q = spread(vals);
      series.mean.push(q.mean);
      series.p10.push(q.p10);
      series.p50.push(q.p50);
      series.p90.push(q.p90);
    }
    daily[s] = series;
  }
  const t = worldTotals(d);
  const totals = Object.fromEntries(TOTALS.map((k) => [k, spread(t[k])])) as ScenarioResult["totals"];
  return { name, multipliers, budget: { daily: config.campaign.dailyBudget, flight: config.campaign.flightBudget }, daily, totals };
}

/** Mean and the 5th..95th percentile of the finite values. */
function range90(xs: ArrayLike<number>): { mean: number | null; lo: number | null; hi: number | null } {
  const s = finiteSorted(xs);
  return { mean: orNull(finiteMean(xs)), lo: orNull(quantileSorted(s, 0.05)), hi: orNull(quantileSorted(s, 0.95)) };
}

/** Bootstrap resamples behind a marginal ROAS interval. */
export const BOOTSTRAP_RESAMPLES = 1000;

/**
 * Marginal ROAS between two budget levels over paired worlds: Δ mean revenue / Δ mean spend (null
 * when the spend does not move), with the 5th and 95th percentiles of the same ratio over
 * BOOTSTRAP_RESAMPLES resamples of the worlds (pairs kept together), drawn from a stream seeded
 * by `seed` so a job's numbers repeat.
 */
export function marginalRoas(spendLo: Float64Array, revLo: Float64Array, spendHi: Float64Array, revHi: Float64Array, seed: string): { value: number | null; lo: number | null; hi: number | null } {
  const n = spendLo.length;
  const dSpend = mean(spendHi) - mean(spendLo);
  const dRev = mean(revHi) - mean(revLo);
  // a spend change below a hundredth of a cent per world is no change (rounding of micros)
  const EPS = 1e-4;
  if (!(Math.abs(dSpend) > EPS)) return { value: null, lo: null, hi: null };
  const rng = seedrandom.alea(seed);
  const boot = new Float64Array(BOOTSTRAP_RESAMPLES);
  for (let b = 0; b < BOOTSTRAP_RESAMPLES; b++) {
    let ds = 0;
    let dr = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.floor(rng() * n);
      ds += spendHi[w] - spendLo[w];
      dr += revHi[w] - revLo[w];
    }
    boot[b] = Math.abs(ds / n) > EPS ? dr / ds : Number.NaN;
  }
  const s = finiteSorted(boot);
  return { value: dRev / dSpend, lo: orNull(quantileSorted(s, 0.05)), hi: orNull(quantileSorted(s, 0.95)) };
}

export interface LevelRun { multiplier: number; config: GaelpConfig; data: WorldsData }

/** Per budget level (ascending): spend, revenue, profit and ROAS over worlds, and the marginal
 *  ROAS from the level below. */
export function budgetLevels(levels: LevelRun[], seed: number): BudgetLevelResult[] {
  const totals = levels.map((l) => worldTotals(l.data));
  return levels.map((l, i) => {
    const t = totals[i];
    return {
      multiplier: l.multiplier,
      dailyBudget: l.config.campaign.dailyBudget,
      flightBudget: l.config.campaign.flightBudget,
      spend: range90(t.spend),
      revenue: range90(t.revenue),
      profit: range90(t.profit),
      roas: range90(t.roas),
      marginalRoas: i === 0 ? null : marginalRoas(totals[i - 1].spend, totals[i - 1].revenue, t.spend, t.revenue, `marginal/${seed}/${levels[i - 1].multiplier}/${l.multiplier}`),
    };
  });
}

// ---- risks ---------------------------------------------------------------------------------------------

/** Thresholds of the risk rules (docs/simulations.md). */
export const RISK_RULES = {
  /** a window's ROAS below this share of the world's flight ROAS is a dip */
  dipRatio: 0.7,
  /** late-flight CTR below this share of early-flight CTR is audience fatigue */
  fatigueRatio: 0.8,
  /** ROAS with rivals THREAT_COMPETITION x as aggressive below this share of the realistic ROAS */
  threatRatio: 0.9,
  /** severity from expected impact = probability x median impact */
  high: 0.15,
  medium: 0.05,
} as const;

/** Window (days) of the dip and fatigue rules: a week, or a third of a shorter flight (at least 1). */
export const riskWindow = (days: number): number => Math.max(1, Math.min(7, Math.floor(days / 3)));

function severity(probability: number, impact: number | null): RiskResult["severity"] {
  if (!(probability > 0) || impact === null) return "none";
  const e = probability * impact;
  return e >= RISK_RULES.high ? "high" : e >= RISK_RULES.medium ? "medium" : "low";
}

function median(xs: number[]): number | null {
  return orNull(quantileSorted(Float64Array.from(xs).sort(), 0.5));
}

const pct = (x: number | null): string => (x === null ? "n/a" : `${Math.round(x * 100)}%`);

function risk(kind: RiskResult["kind"], impacts: number[], assessed: number, rule: string, what: string): RiskResult {
  const probability = assessed > 0 ? impacts.length / assessed : 0;
  const impact = median(impacts);
  return {
    kind, severity: severity(probability, impact), probability, impact, worldsAffected: impacts.length, worldsAssessed: assessed, rule,
    summary: assessed === 0 ? `not assessed: ${what}` : `${impacts.length} of ${assessed} worlds (${pct(probability)}); median impact ${pct(impact)}`,
  };
}

/** The four risks of the realistic scenario; `threat` is the same worlds with rivals
 *  THREAT_COMPETITION x as aggressive. */
export function risks(real: WorldsData, threat: WorldsData, threatCompetition: number): RiskResult[] {
  const days = real.days;
  const k = riskWindow(days);
  const R = RISK_RULES;

  const dips: number[] = [];
  let dipAssessed = 0;
  for (let w = 0; w < real.worlds; w++) {
    const flight = ratio(windowSum(real, w, REV), windowSum(real, w, SPEND));
    if (!Number.isFinite(flight)) continue;
    let trough = Number.POSITIVE_INFINITY;
    for (let s = k; s + k <= days; s++) {
      const r = ratio(windowSum(real, w, REV, s, s + k), windowSum(real, w, SPEND, s, s + k));
      if (Number.isFinite(r) && r < trough) trough = r;
    }
    if (!Number.isFinite(trough)) continue;
    dipAssessed++;
    if (trough < R.dipRatio * flight) dips.push(1 - trough / flight);
  }

  const overruns: number[] = [];
  for (let w = 0; w < real.worlds; w++) if (real.exhausted[w] === 1 && real.lastDay[w] < days - 1) overruns.push((days - 1 - real.lastDay[w]) / days);

  const fatigue: number[] = [];
  let fatigueAssessed = 0;
  if (days >= 2) {
    for (let w = 0; w < real.worlds; w++) {
      const early = ratio(windowSum(real, w, CLK, 0, k), windowSum(real, w, IMP, 0, k));
      const late = ratio(windowSum(real, w, CLK, days - k, days), windowSum(real, w, IMP, days - k, days));
      if (!Number.isFinite(early) || !Number.isFinite(late) || early === 0) continue;
      fatigueAssessed++;
      if (late < R.fatigueRatio * early) fatigue.push(1 - late / early);
    }
  }

  const threats: number[] = [];
  let threatAssessed = 0;
  for (let w = 0; w < real.worlds; w++) {
    const a = ratio(windowSum(real, w, REV), windowSum(real, w, SPEND));
    const b = ratio(windowSum(threat, w, REV), windowSum(threat, w, SPEND));
    if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0) continue;
    threatAssessed++;
    if (b < R.threatRatio * a) threats.push(1 - b / a);
  }

  return [
    risk("performance_dip", dips, dipAssessed,
      `a world dips when the ROAS of some ${k}-day window after the first ${k} days (ramp-up) is below ${R.dipRatio} x its flight ROAS; impact = 1 - window ROAS / flight ROAS`,
      "no world had spend in a window after the ramp-up"),
    risk("budget_overrun", overruns, real.worlds,
      "a world overruns when its flight budget runs out before the flight's last day; impact = share of the flight's days left without budget",
      "no worlds"),
    risk("audience_fatigue", fatigue, fatigueAssessed,
      `a world fatigues when the CTR of the last ${k} days is below ${R.fatigueRatio} x the CTR of the first ${k} days; impact = 1 - late CTR / early CTR`,
      "needs a flight of 2+ days with impressions early and late"),
    risk("competitor_threat", threats, threatAssessed,
      `the same worlds re-simulated with rivals ${threatCompetition} x as aggressive (bids and budgets); a world is threatened when its ROAS falls below ${R.threatRatio} x the realistic ROAS; impact = 1 - ROAS under threat / realistic ROAS`,
      "no world had spend and revenue in both runs"),
  ];
}

// ---- pivots --------------------------------------------------------------------------------------------

export type Change = RecommendationResult["changes"][number];

/** A pivot to preview: its config (undefined when not applicable). */
export interface Pivot {
  kind: RecommendationResult["kind"];
  action: string;
  changes: Change[];
  config?: GaelpConfig;
}

/** Creative refresh = creatives wearing out this much slower (a fresh set at mid-flight halves
 *  the exposures each creative collects per user). */
export const REFRESH_FATIGUE = 0.5;

const money = (x: number): string => `$${Number(x.toFixed(2))}`;

/**
 * The four pivots, chosen from the realistic worlds (`real`, flown with `base`) and the budget
 * levels (rules in docs/simulations.md). Each applicable pivot carries the changed config to
 * re-simulate on the same worlds.
 */
export function choosePivots(base: GaelpConfig, real: WorldsData, levels: LevelRun[]): Pivot[] {
  const days = real.days;
  const c = base.campaign;
  const out: Pivot[] = [];

  // budget reallocation: to the level (other than the current) with the highest mean profit
  const others = levels.filter((l) => l.multiplier !== 1).map((l) => ({ l, profit: mean(worldTotals(l.data).profit) }));
  if (others.length === 0) {
    out.push({ kind: "budget_reallocation", action: "no other budget level was simulated (budgetMultipliers)", changes: [] });
  } else {
    const best = others.reduce((a, b) => (b.profit > a.profit ? b : a)).l;
    const bc = best.config.campaign;
    out.push({
      kind: "budget_reallocation",
      action: `${best.multiplier > 1 ? "raise" : "cut"} the budget to x${best.multiplier}: ${money(bc.dailyBudget)} a day, ${money(bc.flightBudget)} for the flight (the most profitable other level simulated)`,
      changes: [
        { path: "campaign.dailyBudget", from: c.dailyBudget, to: bc.dailyBudget },
        { path: "campaign.flightBudget", from: c.flightBudget, to: bc.flightBudget },
      ],
      config: best.config,
    });
  }

  // creative refresh
  const f = base.fatigue.creativePerExposure;
  if (f > 0) {
    const config = structuredClone(base);
    config.fatigue.creativePerExposure = f * REFRESH_FATIGUE;
    out.push({
      kind: "creative_refresh",
      action: `refresh the creatives at mid-flight (modelled as creatives wearing out ${1 / REFRESH_FATIGUE}x slower: fatigue.creativePerExposure ${f} -> ${f * REFRESH_FATIGUE})`,
      changes: [{ path: "fatigue.creativePerExposure", from: f, to: f * REFRESH_FATIGUE }],
      config,
    });
  } else {
    out.push({ kind: "creative_refresh", action: "creatives do not wear out in this market (fatigue.creativePerExposure = 0)", changes: [] });
  }

  // channel shift: stop bidding on the channel with the lowest pooled ROAS
  const spent = CHANNEL_NAMES.map((name, ch) => {
    let spend = 0;
    let value = 0;
    for (let w = 0; w < real.worlds; w++) {
      spend += real.channelSpend[w * NC + ch];
      value += real.channelValue[w * NC + ch];
    }
    return { name, spend, roas: ratio(value, spend) };
  }).filter((x) => c.channels.includes(x.name) && x.spend > 0);
  if (c.channels.length < 2 || spent.length === 0) {
    out.push({ kind: "channel_shift", action: c.channels.length < 2 ? "the campaign bids on one channel only" : "no channel had spend", changes: [] });
  } else {
    const worst = spent.reduce((a, b) => (b.roas < a.roas ? b : a));
    const rest = c.channels.filter((ch) => ch !== worst.name);
    let restSpend = 0;
    let restValue = 0;
    for (const x of spent) if (x.name !== worst.name) { restSpend += x.spend; restValue += x.roas * x.spend; }
    const config = structuredClone(base);
    config.campaign.channels = rest;
    out.push({
      kind: "channel_shift",
      action: `stop bidding on ${worst.name} (ROAS ${worst.roas.toFixed(2)} vs ${ratio(restValue, restSpend).toFixed(2)} on the other channels); its budget goes to ${rest.join(", ")}`,
      changes: [{ path: "campaign.channels", from: [...c.channels], to: rest }],
      config,
    });
  }

  // timing: pace the flight budget evenly when the daily budget would spend it early, else launch
  // on the weekday whose leftover days (days mod 7) had the best ROAS
  if (c.dailyBudget * days > c.flightBudget * (1 + 1e-9)) {
    const even = c.flightBudget / days;
    const config = structuredClone(base);
    config.campaign.dailyBudget = even;
    out.push({
      kind: "timing",
      action: `spread the flight budget over the whole flight: ${money(even)} a day instead of ${money(c.dailyBudget)} (at full daily spend the flight budget lasts ${Math.floor(c.flightBudget / c.dailyBudget)} of ${days} days)`,
      changes: [{ path: "campaign.dailyBudget", from: c.dailyBudget, to: even }],
      config,
    });
  } else if (days % 7 === 0) {
    out.push({ kind: "timing", action: "the flight covers whole weeks: the budget lasts the flight and the launch weekday does not change its weekday mix", changes: [] });
  } else {
    const launch = launchWeekdayOf(base);
    const rev = new Float64Array(7);
    const spend = new Float64Array(7);
    for (let w = 0; w < real.worlds; w++) {
      for (let day = 0; day < days; day++) {
        const at = (w * days + day) * ND;
        rev[(launch + day) % 7] += real.daily[at + REV];
        spend[(launch + day) % 7] += real.daily[at + SPEND];
      }
    }
    const roas = Array.from({ length: 7 }, (_, i) => ratio(rev[i], spend[i]));
    const extra = days % 7;
    const score = (start: number) => { let s = 0; for (let i = 0; i < extra; i++) s += Number.isFinite(roas[(start + i) % 7]) ? roas[(start + i) % 7] : 0; return s; };
    let best = launch;
    for (let d = 0; d < 7; d++) if (score(d) > score(best) + 1e-12) best = d;
    if (best === launch) {
      out.push({ kind: "timing", action: `launching on ${WEEKDAYS[launch]} already puts the flight's ${extra} extra weekday(s) on the best simulated ROAS`, changes: [] });
    } else {
      const config = structuredClone(base);
      config.market.startDayOfWeek = startDayForLaunch(base, best);
      out.push({
        kind: "timing",
        action: `launch on ${WEEKDAYS[best]} instead of ${WEEKDAYS[launch]}: the flight's ${extra} extra weekday(s) then fall on the days with the best simulated ROAS`,
        changes: [{ path: "campaign.launchWeekday", from: WEEKDAYS[launch], to: WEEKDAYS[best] }],
        config,
      });
    }
  }
  return out;
}

function delta(a: Float64Array, b: Float64Array): DeltaResult {
  const xs = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) xs[i] = b[i] - a[i];
  const t = tInterval(xs, 0.9);
  return { mean: orNull(t.mean), lo: orNull(t.lo), hi: orNull(t.hi), n: t.n };
}

/** A pivot's preview: variant minus realistic, paired over worlds, with 90% t-intervals; it is
 *  recommended when the profit change's interval lies above 0 (two worlds or more). */
export function recommendation(p: Pivot, real: WorldsData | undefined, variant: WorldsData | undefined): RecommendationResult {
  if (p.config === undefined || real === undefined || variant === undefined) {
    return { kind: p.kind, applicable: false, recommended: false, action: p.action, changes: p.changes, preview: null };
  }
  const a = worldTotals(real);
  const b = worldTotals(variant);
  const preview = { profit: delta(a.profit, b.profit), revenue: delta(a.revenue, b.revenue), spend: delta(a.spend, b.spend), roas: delta(a.roas, b.roas) };
  const recommended = preview.profit.n >= 2 && preview.profit.lo !== null && preview.profit.lo > 0;
  return { kind: p.kind, applicable: true, recommended, action: p.action, changes: p.changes, preview };
}
