// Evaluation of a trained policy against every baseline bidder on held-out worlds.
//
//   1. Tune: each baseline's parameters are chosen by grid search on `tuneWorlds` worlds of the
//      TRAINING stream (env/seeds.ts TRAIN_STREAM: the worlds the policy trained on first), the
//      objective being mean profit over those worlds (the same worlds for every grid point, so
//      points are compared on common random numbers). When the best point sits on the edge of
//      its grid the grid is extended outward (within the parameter's allowed range) until it is
//      inside; then the grid is refined once around it (points 1/3 and 2/3 of the way to each
//      neighbour, all combinations), and the best point overall is kept.
//   2. Evaluate: the policy (greedy, through agents/policy/bidder.ts) and each tuned baseline run
//      one flight in each of `worlds` HELD-OUT worlds (EVAL_STREAM), the same worlds for every
//      bidder; KPIs come from trainer/simulate.ts (runSimulation/worldKpis) with 95% t-intervals
//      over worlds, plus PPO's profit minus each baseline's, paired over worlds.
// Tuning on training worlds and reporting on held-out ones keeps the winner's curse of the grid
// search (the best of many noisy points looks better than it is) out of the reported figures.
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import Table from "cli-table3";
import { Piscina } from "piscina";
import type { GaelpConfig } from "../env/config.js";
import { EVAL_STREAM, TRAIN_STREAM, assertSeed } from "../env/seeds.js";
import { BIDDERS, BIDDER_NAMES, type BidderName, type ParamSpec, createBidder } from "../agents/baselines/index.js";
import { type PolicySpec, canonicalFromBytes, canonicalToBytes, policySize, policySpecFromJson, validatePolicySpec } from "../agents/policy/spec.js";
import type { WasmTarget } from "../wasm/loader.js";
import { compiledWorkerFile } from "../engine/rollout_engine.js";
import { KPI_COLUMNS, type KpiKey, type KpiRow, type WorldKpis, csvCell } from "./simulate.js";
import runJob, { type JobBidder, type JobResult, type SimJob } from "./eval_worker.js";
import { type CheckpointInfo, loadLatestCheckpoint } from "./checkpoint.js";
import { type Interval, tInterval } from "./stats.js";
import { fmt } from "./format.js";
import { writeFilesAtomic } from "./fsutil.js";

/** The name the trained policy goes by in reports. */
export const POLICY_NAME = "ppo";

export interface ParamGrid {
  /** grid values, strictly increasing */
  values: number[];
  /** spacing used to extend and refine the grid: ratios ("log") or differences ("linear") */
  scale: "log" | "linear";
  /** bounds the grid may be extended to (default: the bidder's declared range) */
  min?: number;
  max?: number;
}

/** The tuned parameters of one bidder and their grids; parameters left out keep their defaults. */
export type BidderGrid = Record<string, ParamGrid>;

/** Times a grid may be extended past its edge, per parameter. */
const MAX_EXTENSIONS = 8;

const geometric = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, k) => Number((lo * (hi / lo) ** (k / (n - 1))).toPrecision(4)));

/** The grids evaluateRun searches unless told otherwise (see docs/evaluation.md). */
export function defaultGrids(config: GaelpConfig): Record<BidderName, BidderGrid> {
  const bidMax = config.campaign.bidMax;
  return {
    truthful: {},
    // a constant bid only makes sense relative to what bids can be: 10 points from bidMax/500 to bidMax
    fixed: { bid: { values: geometric(bidMax / 500, bidMax, 10), scale: "log", max: bidMax } },
    // shading and overbidding around truthful (a = 1), dense where the optimum usually is
    linear: { a: { values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 3], scale: "linear" } },
    // the dual step over four decades, times the initial multiplier (0 = start truthful)
    pacing: {
      eta: { values: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1], scale: "log" },
      mu0: { values: [0, 1, 2], scale: "linear" },
    },
  };
}

export interface EvalOptions {
  /** resolved config of the market (the run's) */
  config: GaelpConfig;
  spec: PolicySpec;
  /** canonical policy weights (agents/policy/spec.ts) */
  weights: Float32Array;
  /** scenario name, for the report */
  scenario: string;
  /** held-out worlds, integer >= 2 (an interval needs two) */
  worlds: number;
  /** flight length in days */
  days: number;
  /** root seed (the run's): held-out worlds are its EVAL_STREAM, tuning worlds its TRAIN_STREAM */
  seed: number;
  /** training-distribution worlds the baselines are tuned on (default 32) */
  tuneWorlds?: number;
  /** baselines to compare with (default: all, in BIDDER_NAMES order) */
  baselines?: BidderName[];
  /** grids to search instead of defaultGrids(config), by bidder */
  grids?: Partial<Record<BidderName, BidderGrid>>;
  /** the policy takes each head's argmax (default true); false samples with `policySeed` */
  greedy?: boolean;
  policySeed?: number;
  /** worker threads running simulations side by side (default: the machine's cores, at most 4;
   *  0 runs them on the calling thread); the numbers do not depend on it */
  threads?: number;
  wasm?: WasmTarget;
  /** progress lines (one per phase), e.g. to stderr */
  onProgress?: (line: string) => void;
}

export interface TuningPoint {
  params: Record<string, number>;
  phase: "grid" | "extend" | "refine";
  profit: number;
  profitCi: [number, number];
}

export interface TuningResult {
  grid: BidderGrid;
  best: Record<string, number>;
  bestProfit: number;
  points: TuningPoint[];
  seconds: number;
}

export interface BidderEval {
  name: string;
  params: Record<string, number>;
  /** every KPI of trainer/simulate.ts KPI_COLUMNS: mean and 95% t-interval over held-out worlds */
  kpis: KpiRow[];
  /** per held-out world, in world order */
  perWorld: WorldKpis[];
  /** PPO's profit minus this bidder's, paired over the same worlds (baselines only) */
  ppoAdvantage?: Interval;
  seconds: number;
  decisions: number;
}

export interface EvalReport {
  format: "gaelp-eval/1";
  scenario: string;
  worlds: number;
  days: number;
  seed: number;
  tuneWorlds: number;
  streams: { eval: number; tune: number };
  greedy: boolean;
  attributionModel: string;
  budget: { daily: number; flight: number };
  policy: { spec: PolicySpec; parameters: number; weightsSha256: string };
  /** the policy first, then the baselines */
  bidders: Record<string, BidderEval>;
  tuned: Record<string, Record<string, number>>;
  tuning: Record<string, TuningResult>;
  seconds: { tuning: number; evaluation: number; total: number };
  /** decisions simulated, tuning included */
  decisions: number;
  /** worker threads used (0: in-process) */
  threads: number;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/** Bounds a parameter's grid may be extended to. */
function bounds(name: BidderName, param: string, grid: ParamGrid): ParamBounds {
  const spec = (BIDDERS[name].params as Record<string, ParamSpec>)[param];
  if (spec === undefined) {
    const allowed = Object.keys(BIDDERS[name].params).join(", ") || "(none)";
    throw new RangeError(`grid for bidder '${name}': no parameter '${param}'; allowed: ${allowed}`);
  }
  return {
    lo: Math.max(spec.min, grid.min ?? -Infinity),
    hi: Math.min(spec.max, grid.max ?? Infinity),
    loOpen: spec.minExclusive === true && (grid.min === undefined || grid.min <= spec.min),
  };
}

function checkGrid(name: BidderName, grid: BidderGrid): void {
  for (const [param, g] of Object.entries(grid)) {
    const { lo, hi, loOpen } = bounds(name, param, g);
    if (!Array.isArray(g.values) || g.values.length < 2) throw new RangeError(`grid ${name}.${param}: needs at least 2 values, got ${JSON.stringify(g.values)}`);
    g.values.forEach((v, i) => {
      if (!Number.isFinite(v) || v < lo || v > hi || (loOpen && v <= lo)) throw new RangeError(`grid ${name}.${param}: value ${v} is outside the allowed range ${loOpen ? "(" : "["}${lo}, ${hi}]`);
      if (i > 0 && !(v > g.values[i - 1])) throw new RangeError(`grid ${name}.${param}: values must increase, got ${v} after ${g.values[i - 1]}`);
    });
    if (g.scale === "log" && g.values[0] <= 0) throw new RangeError(`grid ${name}.${param}: a log grid needs positive values, got ${g.values[0]}`);
    if (g.scale !== "log" && g.scale !== "linear") throw new RangeError(`grid ${name}.${param}: scale must be "log" or "linear", got ${String(g.scale)}`);
  }
}

/** The value one grid step beyond the edge (`up` or down), within bounds; undefined when none. */
function extendValue(values: number[], g: ParamGrid, b: ParamBounds, up: boolean): number | undefined {
  const n = values.length;
  const [edge, inner] = up ? [values[n - 1], values[n - 2]] : [values[0], values[1]];
  let next = g.scale === "log" ? edge * (edge / inner) : edge + (edge - inner);
  if (up && next > b.hi) next = b.hi;
  if (!up && (next < b.lo || (b.loOpen && next <= b.lo))) next = b.loOpen ? (edge + b.lo) / 2 : b.lo;
  return up ? (next > edge ? next : undefined) : next < edge ? next : undefined;
}

/** Points 1/3 and 2/3 of the way from `from` to `to` (geometric on a log grid). */
function between(from: number, to: number, scale: ParamGrid["scale"]): number[] {
  const geo = scale === "log" && from > 0 && to > 0;
  return [1 / 3, 2 / 3].map((t) => Number((geo ? from * (to / from) ** t : from + (to - from) * t).toPrecision(6)));
}

function product(axes: [string, number[]][]): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const [k, vs] of axes) out = out.flatMap((p) => vs.map((v) => ({ ...p, [k]: v })));
  return out;
}

const profitRow = (kpis: KpiRow[]): KpiRow => kpis.find((k) => k.key === "profit")!;

/** Runs simulation jobs, in-process one after another or in a pool side by side. */
class JobRunner {
  private readonly pool: Piscina | undefined;
  decisions = 0;

  constructor(threads: number) {
    this.pool = threads > 0 ? new Piscina({ filename: compiledWorkerFile("trainer/eval_worker.js"), minThreads: threads, maxThreads: threads }) : undefined;
  }

  async run(jobs: SimJob[]): Promise<JobResult[]> {
    const out: JobResult[] = [];
    if (this.pool) out.push(...(await Promise.all(jobs.map((j) => this.pool!.run(j) as Promise<JobResult>))));
    else {
      for (const j of jobs) {
        out.push(runJob(j));
        await yieldToLoop();
      }
    }
    for (const r of out) this.decisions += r.decisions;
    return out;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

/** Where a parameter's grid may be extended to. */
export interface ParamBounds {
  lo: number;
  hi: number;
  /** lo itself is excluded (e.g. a step size must be > 0) */
  loOpen: boolean;
}

/** Objective values (mean and 95% interval of profit) of a batch of points, in order. */
export type Objective = (points: Record<string, number>[]) => Promise<Pick<Interval, "mean" | "lo" | "hi">[]>;

/**
 * Maximises `objective` over `grid` (see the file comment): every combination of the grid values;
 * then, while the best point sits on the edge of an axis, one more grid step outward along that
 * axis (the others at their best; at most MAX_EXTENSIONS rounds, never past `limits`); then one
 * refinement along every axis through the best point, at 1/3 and 2/3 of the way to each
 * neighbouring grid value (geometric on a log axis). Ties go to the point evaluated first. A grid
 * with no axes is one point (the defaults).
 */
export async function gridSearch(grid: BidderGrid, limits: Record<string, ParamBounds>, objective: Objective): Promise<Omit<TuningResult, "seconds">> {
  const axes = Object.entries(grid).map(([k, g]) => [k, g.values.slice()] as [string, number[]]);
  const seen = new Map<string, TuningPoint>();
  let best: TuningPoint | undefined;
  const key = (p: Record<string, number>) => axes.map(([k]) => `${k}=${p[k]}`).join(",");
  const evaluate = async (candidates: Record<string, number>[], phase: TuningPoint["phase"]) => {
    const fresh = candidates.filter((p, i) => !seen.has(key(p)) && candidates.findIndex((q) => key(q) === key(p)) === i);
    const values = await objective(fresh);
    fresh.forEach((params, i) => {
      const v = values[i];
      const point: TuningPoint = { params, phase, profit: v.mean, profitCi: [v.lo, v.hi] };
      seen.set(key(params), point);
      if (best === undefined || point.profit > best.profit) best = point;
    });
  };
  await evaluate(product(axes), "grid");
  for (let round = 0; round < MAX_EXTENSIONS; round++) {
    const more: Record<string, number>[] = [];
    for (const [k, values] of axes) {
      const at = values.indexOf(best!.params[k]);
      const up = at === values.length - 1;
      if (at !== 0 && !up) continue;
      const next = extendValue(values, grid[k], limits[k], up);
      if (next === undefined) continue;
      if (up) values.push(next);
      else values.unshift(next);
      more.push({ ...best!.params, [k]: next });
    }
    if (more.length === 0) break;
    await evaluate(more, "extend");
  }
  const fine: Record<string, number>[] = [];
  for (const [k, values] of axes) {
    const v = best!.params[k];
    const at = values.indexOf(v);
    if (at > 0) for (const x of between(v, values[at - 1], grid[k].scale)) fine.push({ ...best!.params, [k]: x });
    if (at < values.length - 1) for (const x of between(v, values[at + 1], grid[k].scale)) fine.push({ ...best!.params, [k]: x });
  }
  await evaluate(fine, "refine");
  return {
    grid: Object.fromEntries(axes.map(([k, values]) => [k, { ...grid[k], values }])),
    best: best!.params,
    bestProfit: best!.profit,
    points: [...seen.values()],
  };
}

/** Tunes one baseline on the training worlds: gridSearch with mean profit over them. */
async function tune(name: BidderName, grid: BidderGrid, job: (b: JobBidder) => SimJob, runner: JobRunner): Promise<TuningResult> {
  const t0 = performance.now();
  const limits = Object.fromEntries(Object.entries(grid).map(([k, g]) => [k, bounds(name, k, g)]));
  const objective: Objective = async (points) => {
    const results = await runner.run(points.map((params) => job({ kind: "baseline", name, params })));
    return results.map((r) => profitRow(r.kpis));
  };
  const result = await gridSearch(grid, limits, objective);
  return { ...result, seconds: (performance.now() - t0) / 1000 };
}

/** Tunes every baseline on training worlds, then evaluates the policy and the tuned baselines on
 *  held-out worlds. */
export async function evaluateRun(opts: EvalOptions): Promise<EvalReport> {
  const t0 = performance.now();
  const { config, scenario, worlds, days, seed } = opts;
  const tuneWorlds = opts.tuneWorlds ?? 32;
  checkInt("worlds", worlds, 2);
  checkInt("days", days, 1);
  checkInt("tuneWorlds", tuneWorlds, 1);
  assertSeed(seed);
  const spec = validatePolicySpec(structuredClone(opts.spec));
  const nc = config.campaign.creatives.length;
  if (spec.numCreatives !== nc) throw new RangeError(`the policy chooses between ${spec.numCreatives} creatives; this config's campaign has ${nc} (campaign.creatives)`);
  if (!(opts.weights instanceof Float32Array) || opts.weights.length !== policySize(spec)) {
    throw new RangeError(`weights must be a Float32Array of ${policySize(spec)} values for the policy spec, got ${(opts.weights as { length?: number })?.length}`);
  }
  const baselines = opts.baselines ?? BIDDER_NAMES;
  for (const b of baselines) if (!BIDDER_NAMES.includes(b)) throw new RangeError(`unknown baseline '${b}'; allowed: ${BIDDER_NAMES.join(", ")}`);
  const grids = { ...defaultGrids(config), ...opts.grids };
  for (const b of baselines) checkGrid(b, grids[b]);
  const progress = opts.onProgress ?? (() => {});
  const greedy = opts.greedy ?? true;
  const threads = opts.threads ?? Math.min(4, availableParallelism());
  checkInt("threads", threads, 0);
  const job = (bidder: JobBidder, stream: number, n: number): SimJob => ({ config, bidder, worlds: n, days, seed, stream, wasm: opts.wasm });

  const runner = new JobRunner(threads);
  try {
    const tuning: Record<string, TuningResult> = {};
    const tuned: Record<string, Record<string, number>> = {};
    for (const name of baselines) {
      const axes = Object.keys(grids[name]);
      if (axes.length === 0) {
        tuned[name] = {};
        continue;
      }
      progress(`tuning ${name} (${axes.join(" x ")}) on ${tuneWorlds} training worlds x ${days} days`);
      const result = await tune(name, grids[name], (b) => job(b, TRAIN_STREAM, tuneWorlds), runner);
      tuning[name] = result;
      tuned[name] = result.best;
      progress(`  ${name}: best ${JSON.stringify(result.best)}, mean profit $${result.bestProfit.toFixed(2)}, ${result.points.length} points in ${result.seconds.toFixed(1)} s`);
    }
    const tuningSeconds = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    progress(`evaluating ${[POLICY_NAME, ...baselines].join(", ")} on ${worlds} held-out worlds x ${days} days`);
    const contenders: [string, Record<string, number>, JobBidder][] = [
      [POLICY_NAME, {}, { kind: "policy", name: POLICY_NAME, spec, weights: opts.weights, greedy, seed: opts.policySeed }],
      ...baselines.map((b): [string, Record<string, number>, JobBidder] => [b, tuned[b], { kind: "baseline", name: b, params: tuned[b] }]),
    ];
    const results = await runner.run(contenders.map(([, , b]) => job(b, EVAL_STREAM, worlds)));
    const bidders: Record<string, BidderEval> = {};
    contenders.forEach(([name, params], i) => {
      const r = results[i];
      bidders[name] = { name, params, kpis: r.kpis, perWorld: r.perWorld, seconds: r.seconds, decisions: r.decisions };
    });
    const ppo = bidders[POLICY_NAME].perWorld.map((k) => k.profit);
    for (const b of baselines) bidders[b].ppoAdvantage = tInterval(ppo.map((p, w) => p - bidders[b].perWorld[w].profit));
    const evaluationSeconds = (performance.now() - t1) / 1000;
    const decisions = runner.decisions;
    return {
      format: "gaelp-eval/1",
      scenario,
      worlds,
      days,
      seed,
      tuneWorlds,
      streams: { eval: EVAL_STREAM, tune: TRAIN_STREAM },
      greedy,
      attributionModel: config.attribution.model,
      budget: { daily: config.campaign.dailyBudget, flight: config.campaign.flightBudget },
      policy: { spec, parameters: opts.weights.length, weightsSha256: createHash("sha256").update(canonicalToBytes(opts.weights)).digest("hex") },
      bidders,
      tuned,
      tuning,
      seconds: { tuning: tuningSeconds, evaluation: evaluationSeconds, total: (performance.now() - t0) / 1000 },
      decisions,
      threads,
    };
  } finally {
    await runner.close();
  }
}

// ---- the policy of a run ---------------------------------------------------------------------------

/** Checkpoint files holding the policy (written by the trainer into every checkpoint). */
export const POLICY_SPEC_FILE = "policy_spec.json";
export const POLICY_WEIGHTS_FILE = "policy.f32";

export interface CheckpointPolicy {
  spec: PolicySpec;
  weights: Float32Array;
  checkpoint: CheckpointInfo;
  /** newer checkpoints that failed verification, newest first */
  skipped: { dir: string; reason: string }[];
}

/** The policy of the newest valid checkpoint under `<run>/checkpoints` (a damaged newer one is
 *  skipped and listed). Throws naming the run, the checkpoint and the file when there is none. */
export function loadCheckpointPolicy(run: string): CheckpointPolicy {
  const root = join(run, "checkpoints");
  // only the policy's files are read and verified (a checkpoint also holds the replay buffer and
  // world states, tens of MB that acting does not need)
  const latest = loadLatestCheckpoint(root, { only: [POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE] });
  if (latest === undefined) throw new Error(`no checkpoint in ${root}`);
  const dir = latest.info.dir;
  const file = (name: string): Uint8Array => {
    const bytes = latest.files.get(name);
    if (bytes === undefined) throw new Error(`checkpoint ${dir} has no ${name} (files: ${[...latest.files.keys()].join(", ") || "none"})`);
    return bytes;
  };
  const spec = policySpecFromJson(Buffer.from(file(POLICY_SPEC_FILE)).toString("utf8"), join(dir, POLICY_SPEC_FILE));
  const weights = canonicalFromBytes(file(POLICY_WEIGHTS_FILE), spec, join(dir, POLICY_WEIGHTS_FILE));
  return { spec, weights, checkpoint: latest.info, skipped: latest.skipped };
}

// ---- output ----------------------------------------------------------------------------------------

/** KPIs in the table, in order (every KPI is in the JSON and CSV). */
export const EVAL_TABLE_KPIS: readonly KpiKey[] = [
  "profit", "revenue", "spend", "roas", "cac", "conversions", "winRate", "journeyDays", "journeyTouches", "impressions", "clicks", "budgetUsed",
];

const ci = (r: Pick<Interval, "lo" | "hi">): [number, number] => [r.lo, r.hi];

/** The compact form `gaelp eval --json` prints: per bidder its parameters, every KPI as `key` (mean)
 *  and `keyCi` ([lo, hi] 95%), and for baselines `ppoAdvantage` (PPO profit minus theirs, paired). */
/** Writes <run>/eval/eval__<scenario>__<unix>.json (the whole report plus `extra`) and .csv atomically. */
export function writeEvalFiles(run: string, report: EvalReport, extra: Record<string, unknown>): { files: { json: string; csv: string }; stem: string } {
  const stem = `eval__${report.scenario}__${Math.floor(Date.now() / 1000)}`;
  const outDir = join(run, "eval");
  const files = { json: join(outDir, `${stem}.json`), csv: join(outDir, `${stem}.csv`) };
  writeFilesAtomic(outDir, [
    [`${stem}.csv`, evalCsv(report)],
    [`${stem}.json`, JSON.stringify({ ...extra, ...report }, null, 2) + "\n"],
  ]);
  return { files, stem };
}

export function evalSummary(report: EvalReport): Record<string, unknown> {
  const bidders: Record<string, Record<string, unknown>> = {};
  for (const [name, b] of Object.entries(report.bidders)) {
    const o: Record<string, unknown> = { params: b.params };
    for (const r of b.kpis) {
      o[r.key] = r.mean;
      o[`${r.key}Ci`] = ci(r);
    }
    if (b.ppoAdvantage) {
      o.ppoAdvantage = b.ppoAdvantage.mean;
      o.ppoAdvantageCi = ci(b.ppoAdvantage);
    }
    bidders[name] = o;
  }
  return {
    bidders,
    scenario: report.scenario,
    worlds: report.worlds,
    days: report.days,
    seed: report.seed,
    tuneWorlds: report.tuneWorlds,
    streams: report.streams,
    tuned: report.tuned,
    greedy: report.greedy,
    seconds: report.seconds,
  };
}

/** One row per (bidder, metric): bidder,metric,unit,mean,sd,ci95_lo,ci95_hi,n; the paired PPO
 *  advantage is metric `ppo_advantage.profit`. */
export function evalCsv(report: EvalReport): string {
  const rows = [["bidder", "metric", "unit", "mean", "sd", "ci95_lo", "ci95_hi", "n"].join(",")];
  for (const b of Object.values(report.bidders)) {
    const all: (Interval & { key: string; unit: string })[] = [...b.kpis];
    if (b.ppoAdvantage) all.push({ ...b.ppoAdvantage, key: "ppo_advantage.profit", unit: "$" });
    for (const r of all) rows.push([b.name, r.key, r.unit, r.mean, r.sd, r.lo, r.hi, r.n].map(csvCell).join(","));
  }
  return rows.join("\n") + "\n";
}

const paramText = (p: Record<string, number>): string =>
  Object.entries(p).map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`).join(" ") || "-";

function cell(r: Interval, unit: string): string {
  if (r.n === 0) return "n/a";
  if (r.n === 1) return fmt(r.mean, unit);
  return `${fmt(r.mean, unit)} ± ${fmt(r.hi - r.mean, unit, r.mean)}`;
}

/** The comparison table: one column per bidder, mean ± 95% half-width over held-out worlds. */
export function formatEvalTable(report: EvalReport): string {
  const names = Object.keys(report.bidders);
  const t = new Table({ head: ["metric", ...names], style: { head: [], border: [], compact: true } });
  t.push(["tuned params", ...names.map((n) => paramText(report.bidders[n].params))]);
  for (const key of EVAL_TABLE_KPIS) {
    const col = KPI_COLUMNS.find((c) => c.key === key)!;
    t.push([col.label, ...names.map((n) => {
      const r = report.bidders[n].kpis.find((k) => k.key === key)!;
      return cell(r, col.unit) + (r.n < report.worlds && r.n > 0 ? ` (n=${r.n})` : "");
    })]);
  }
  t.push([`${POLICY_NAME} profit - this (paired)`, ...names.map((n) => (report.bidders[n].ppoAdvantage ? cell(report.bidders[n].ppoAdvantage!, "$") : ""))]);
  const head =
    `eval: scenario ${report.scenario}, ${report.worlds} held-out worlds x ${report.days} days (seed ${report.seed}, stream 2^52), ` +
    `policy ${report.greedy ? "greedy" : "sampled"}; baselines tuned for profit on ${report.tuneWorlds} training worlds (stream ${report.streams.tune})\n`;
  const s = report.seconds;
  const foot = `mean ± 95% t half-width over worlds; ${(report.decisions / 1e6).toFixed(2)} M decisions in ${s.total.toFixed(1)} s (tuning ${s.tuning.toFixed(1)} s, evaluation ${s.evaluation.toFixed(1)} s)\n`;
  return head + t.toString() + "\n" + foot;
}
