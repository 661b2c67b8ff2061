// Evaluates a bidder over many seeded worlds for one flight each and summarises the campaign KPIs
// with 95% t-intervals over worlds. Worlds run in one VectorEnv; a world that finishes its first
// flight keeps stepping (the env steps every world) but its KPIs are frozen at that point.
//
// With `daily: true` each world also gets its flight day by day (the what-if simulations of the
// server, server/simulations). The env runs a world's clock forward inside a step, so a day is cut
// where the world's next decision falls on a later day: a day's figures are what accrued from its
// first decision up to the first decision of a later day (conversions arriving in the hours before
// that decision count for the earlier day). Spend is exact per day (it is paid at the decision),
// days without a decision (budget spent) are 0, and the days add up to the flight's totals.
import { ATTRIBUTION_MODELS, CHANNEL_NAMES, type GaelpConfig, validateConfig } from "../env/config.js";
import { type BidAction, VectorEnv } from "../env/vector_env.js";
import type { WasmTarget } from "../wasm/loader.js";
import * as L from "../wasm/layout.js";
import type { Bidder } from "../agents/baselines/index.js";
import { type Interval, tInterval } from "./stats.js";

export interface SimulationOptions {
  config: GaelpConfig;
  bidder: Bidder;
  /** worlds (independent seeded markets), integer >= 1 */
  worlds: number;
  /** flight length in days; overrides config.campaign.flightDays */
  days: number;
  /** root seed; world seeds are derived from it in env/seeds.ts */
  seed: number;
  /** seed stream mixed into every world seed (env/seeds.ts): TRAIN_STREAM (0, the default) gives
   *  the training worlds of this root seed, EVAL_STREAM held-out ones */
  stream?: number;
  wasm?: WasmTarget;
  /** safety stop: steps without every world finishing its flight (default: generous bound) */
  maxSteps?: number;
  /** global index of the first world (env/seeds.ts), so a run split into world groups gives the
   *  worlds of one big run (default 0) */
  worldOffset?: number;
  /** also record each world's flight day by day and its spend by channel (WorldResult.daily) */
  daily?: boolean;
  /** called every PACE_STEPS steps: a background runner (the server's what-if workers) may sleep
   *  here to give the CPU back; it must not touch the env */
  pace?: () => void;
}

/** Steps between calls of SimulationOptions.pace (a few hundred microseconds of work). */
export const PACE_STEPS = 32;

/** Columns of WorldResult.daily, per flight day. */
export const DAILY_METRICS = ["impressions", "clicks", "conversions", "spend", "revenue"] as const;
export type DailyMetric = (typeof DAILY_METRICS)[number];
const DAILY_STATS = [L.S_IMPRESSIONS, L.S_CLICKS, L.S_CONVERSIONS, L.S_SPEND, L.S_REVENUE];
const ND = DAILY_METRICS.length;

/** One world's flight day by day (SimulationOptions.daily). */
export interface DailyRecord {
  /** flight day x DAILY_METRICS, row-major: value of metric k on day d at [d * DAILY_METRICS.length + k] */
  values: Float64Array;
  /** our spend by channel over the flight, dollars (CHANNEL_NAMES order) */
  channelSpend: Float64Array;
  /** flight day of the flight's last decision (before days - 1 when the flight budget ran out) */
  lastDay: number;
}

/** Per-world campaign KPIs of one flight. Ratios are NaN when their denominator is 0. */
export interface WorldKpis {
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
  revenue: number;
  profit: number;
  cac: number;
  roas: number;
  winRate: number;
  ctr: number;
  avgCpc: number;
  budgetUsed: number;
  journeyDays: number;
  journeyTouches: number;
  lateConversionShare: number;
  decisions: number;
  opportunities: number;
  /** 1 when the flight ended because its budget ran out (terminated), 0 when its time ran out */
  budgetExhausted: number;
}

export type KpiKey = keyof WorldKpis;

export interface KpiRow extends Interval {
  key: string;
  label: string;
  unit: string;
}

export interface WorldResult {
  world: number;
  kpis: WorldKpis;
  /** fraction of our credited value by channel under the configured attribution model */
  attribution: Record<string, number>;
  /** raw statsOf(w, 'last') at the end of the first flight, by S_* index */
  stats: number[];
  /** with `daily: true` only */
  daily?: DailyRecord;
}

export interface SimulationReport {
  bidder: string;
  worlds: number;
  days: number;
  seed: number;
  attributionModel: string;
  budget: { daily: number; flight: number; /** the most the flight can spend */ cap: number };
  kpis: KpiRow[];
  attribution: KpiRow[];
  perWorld: WorldResult[];
  rates: {
    wallSeconds: number;
    steps: number;
    opportunities: number;
    decisions: number;
    opportunitiesPerSec: number;
    decisionsPerSec: number;
  };
}

/** KPI order, labels and units for tables and CSV. */
export const KPI_COLUMNS: ReadonlyArray<{ key: KpiKey; label: string; unit: string }> = [
  { key: "impressions", label: "impressions", unit: "count" },
  { key: "clicks", label: "clicks", unit: "count" },
  { key: "conversions", label: "conversions (attributed)", unit: "count" },
  { key: "spend", label: "spend", unit: "$" },
  { key: "revenue", label: "revenue (attributed)", unit: "$" },
  { key: "profit", label: "profit", unit: "$" },
  { key: "cac", label: "CAC", unit: "$/conversion" },
  { key: "roas", label: "ROAS", unit: "revenue/spend" },
  { key: "winRate", label: "win rate", unit: "impressions/decisions" },
  { key: "ctr", label: "CTR", unit: "clicks/impressions" },
  { key: "avgCpc", label: "avg CPC", unit: "$/click" },
  { key: "budgetUsed", label: "budget used", unit: "spend/cap" },
  { key: "journeyDays", label: "journey length (days, first touch to conversion)", unit: "days" },
  { key: "journeyTouches", label: "journey touchpoints (all advertisers)", unit: "count" },
  { key: "lateConversionShare", label: "conversions > 1 day after first touch", unit: "share" },
  { key: "decisions", label: "decisions", unit: "count" },
  { key: "opportunities", label: "auctions in the market", unit: "count" },
  { key: "budgetExhausted", label: "flights ended by budget", unit: "share" },
];

const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);

/** The config with the flight length set to `days` (validated again). */
export function withFlightDays(config: GaelpConfig, days: number): GaelpConfig {
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be an integer >= 1, got ${days}`);
  return validateConfig({ ...structuredClone(config), campaign: { ...structuredClone(config.campaign), flightDays: days } });
}

/** KPIs of one flight from its statistics block. */
export function worldKpis(stats: ArrayLike<number>, budgetCap: number, terminalKind: number): WorldKpis {
  const impressions = stats[L.S_IMPRESSIONS];
  const clicks = stats[L.S_CLICKS];
  const conversions = stats[L.S_CONVERSIONS];
  const spend = stats[L.S_SPEND];
  const revenue = stats[L.S_REVENUE];
  const decisions = stats[L.S_DECISIONS];
  return {
    impressions,
    clicks,
    conversions,
    spend,
    revenue,
    profit: revenue - spend,
    cac: ratio(spend, conversions),
    roas: ratio(revenue, spend),
    winRate: ratio(impressions, decisions),
    ctr: ratio(clicks, impressions),
    avgCpc: ratio(spend, clicks),
    budgetUsed: ratio(spend, budgetCap),
    journeyDays: ratio(stats[L.S_JOURNEY_DAYS_W], conversions),
    journeyTouches: ratio(stats[L.S_JOURNEY_TOUCHES_W], conversions),
    lateConversionShare: ratio(stats[L.S_LATE_CONVERSIONS_W], conversions),
    decisions,
    opportunities: stats[L.S_OPPORTUNITIES],
    budgetExhausted: terminalKind === 1 ? 1 : 0,
  };
}

/** Channel shares of our credited value under attribution model index `model`. */
export function attributionShares(split: ArrayLike<number>, model: number): Record<string, number> {
  let total = 0;
  for (let c = 0; c < L.NUM_CHANNELS; c++) total += split[model * L.NUM_CHANNELS + c];
  const out: Record<string, number> = {};
  CHANNEL_NAMES.forEach((name, c) => (out[name] = ratio(split[model * L.NUM_CHANNELS + c], total)));
  return out;
}

/** Books each world's first flight into days (SimulationOptions.daily; see the file comment). */
class DailyTracker {
  private readonly values: Float64Array[];
  private readonly channelSpend: Float64Array[];
  /** cumulative DAILY_STATS of the flight at the last day cut, per world */
  private readonly booked: Float64Array;
  private readonly day: Int32Array;
  /** channel of each world's pending decision (the env rewrites info in place on step) */
  private readonly channel: Int32Array;

  constructor(worlds: number, private readonly days: number, private readonly flightStartHour: number) {
    this.values = Array.from({ length: worlds }, () => new Float64Array(days * ND));
    this.channelSpend = Array.from({ length: worlds }, () => new Float64Array(L.NUM_CHANNELS));
    this.booked = new Float64Array(worlds * ND);
    this.day = new Int32Array(worlds);
    this.channel = new Int32Array(worlds);
  }

  beforeStep(info: Float64Array, results: (WorldResult | undefined)[]): void {
    for (let w = 0; w < this.channel.length; w++) if (results[w] === undefined) this.channel[w] = info[w * L.INFO_DIM + L.I_CHANNEL];
  }

  /** After world w's step: its decision's cost by channel, and a day cut when its next decision
   *  falls on a later flight day (or the flight ended: `stats` of the finished flight). */
  afterStep(w: number, info: Float64Array, ended: boolean, env: VectorEnv): void {
    this.channelSpend[w][this.channel[w]] += info[w * L.INFO_DIM + L.I_COST];
    if (ended) {
      this.cut(w, env.statsOf(w, "last"));
      return;
    }
    const day = Math.min(this.days - 1, Math.floor((info[w * L.INFO_DIM + L.I_HOUR] - this.flightStartHour) / 24));
    if (day > this.day[w]) {
      this.cut(w, env.statsOf(w, "episode"));
      this.day[w] = day;
    }
  }

  private cut(w: number, stats: Float64Array): void {
    const row = this.values[w];
    const at = this.day[w] * ND;
    for (let k = 0; k < ND; k++) {
      const now = stats[DAILY_STATS[k]];
      row[at + k] += now - this.booked[w * ND + k];
      this.booked[w * ND + k] = now;
    }
  }

  record(w: number): DailyRecord {
    return { values: this.values[w], channelSpend: this.channelSpend[w], lastDay: this.day[w] };
  }
}

export function runSimulation(opts: SimulationOptions): SimulationReport {
  const { bidder, worlds, days, seed } = opts;
  if (!Number.isInteger(worlds) || worlds < 1) throw new RangeError(`worlds must be an integer >= 1, got ${worlds}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  const config = withFlightDays(opts.config, days);
  const c = config.campaign;
  const budgetCap = Math.min(c.flightBudget, c.dailyBudget * days);
  const model = ATTRIBUTION_MODELS.indexOf(config.attribution.model);
  const worldOffset = opts.worldOffset ?? 0;

  const t0 = performance.now();
  const env = VectorEnv.create({ config, numWorlds: worlds, seed, stream: opts.stream, worldOffset, wasm: opts.wasm });
  const results: (WorldResult | undefined)[] = new Array(worlds);
  const track = opts.daily === true ? new DailyTracker(worlds, days, config.market.warmupDays * 24) : undefined;
  let steps = 0;
  let opportunities = 0;
  let decisions = 0;
  try {
    bidder.reset(worlds, config);
    let [obs, info] = env.reset({ seed });
    const action: BidAction = { bid: new Float32Array(worlds), creative: new Int32Array(worlds) };
    // a flight has at most a few thousand decisions a day per world; stop a runaway loop loudly
    const maxSteps = opts.maxSteps ?? 2_000_000 * days + 1_000_000;
    let finished = 0;
    while (finished < worlds) {
      if (steps >= maxSteps) {
        throw new Error(`simulate: ${worlds - finished} of ${worlds} worlds had not finished a ${days}-day flight after ${steps} steps`);
      }
      bidder.act(obs, info, action);
      track?.beforeStep(info, results);
      const [nextObs, reward, terminated, truncated, nextInfo] = env.step(action);
      steps++;
      bidder.observe(reward, terminated, truncated, nextInfo);
      for (let w = 0; w < worlds; w++) {
        if (results[w] !== undefined) continue;
        const ended = terminated[w] !== 0 || truncated[w] !== 0;
        if (track) track.afterStep(w, nextInfo, ended, env);
        if (!ended) continue;
        const stats = env.statsOf(w, "last");
        results[w] = {
          world: worldOffset + w,
          kpis: worldKpis(stats, budgetCap, nextInfo[w * L.INFO_DIM + L.I_TERMINAL_KIND]),
          attribution: attributionShares(env.attributionSplit(w), model),
          stats: Array.from(stats),
          ...(track ? { daily: track.record(w) } : {}),
        };
        finished++;
      }
      obs = nextObs;
      info = nextInfo;
      if (opts.pace !== undefined && steps % PACE_STEPS === 0) opts.pace();
    }
    for (let w = 0; w < worlds; w++) {
      const total = env.statsOf(w, "total");
      opportunities += total[L.S_OPPORTUNITIES];
      decisions += total[L.S_DECISIONS];
    }
  } finally {
    env.close();
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const perWorld = results as WorldResult[];

  const kpis = KPI_COLUMNS.map(({ key, label, unit }) => ({
    key,
    label,
    unit,
    ...tInterval(perWorld.map((r) => r.kpis[key])),
  }));
  const attribution = CHANNEL_NAMES.map((ch) => ({
    key: `attribution.${ch}`,
    label: `credit share: ${ch}`,
    unit: "share",
    ...tInterval(perWorld.map((r) => r.attribution[ch])),
  }));

  return {
    bidder: bidder.name,
    worlds,
    days,
    seed,
    attributionModel: config.attribution.model,
    budget: { daily: c.dailyBudget, flight: c.flightBudget, cap: budgetCap },
    kpis,
    attribution,
    perWorld,
    rates: {
      wallSeconds,
      steps,
      opportunities,
      decisions,
      opportunitiesPerSec: opportunities / wallSeconds,
      decisionsPerSec: decisions / wallSeconds,
    },
  };
}

// ---- output formats (shared by the CLI and tests) ------------------------------------------------

export const csvCell = (v: string | number): string => {
  const s = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One row per metric: metric,unit,mean,sd,ci95_lo,ci95_hi,n (empty cells for NaN). */
export function summaryCsv(report: SimulationReport): string {
  const rows = [["metric", "unit", "mean", "sd", "ci95_lo", "ci95_hi", "n"]];
  for (const r of [...report.kpis, ...report.attribution]) {
    rows.push([r.key, r.unit, r.mean, r.sd, r.lo, r.hi, r.n].map(csvCell));
  }
  return rows.map((r) => r.join(",")).join("\n") + "\n";
}

/** One row per world: world, then every KPI, then the attribution shares. */
export function perWorldCsv(report: SimulationReport): string {
  const header = ["world", ...KPI_COLUMNS.map((k) => k.key), ...CHANNEL_NAMES.map((c) => `attribution.${c}`)];
  const rows = report.perWorld.map((r) =>
    [r.world, ...KPI_COLUMNS.map((k) => r.kpis[k.key]), ...CHANNEL_NAMES.map((c) => r.attribution[c])].map(csvCell).join(","),
  );
  return [header.join(","), ...rows].join("\n") + "\n";
}
