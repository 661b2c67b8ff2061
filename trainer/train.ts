// The training loop: W seeded worlds roll out the current policy in the engine's pool (WASM
// forward pass, Arrow experience), journeys become trajectories when they end (delayed conversion
// credit included), GAE runs over each journey with per-hour discounting, and PPO updates the
// tfjs policy on the fresh trajectories mixed with prioritized replay. Between iterations the
// budget multiplier (Lagrangian) moves by dual ascent, the rivals adapt, and the curriculum may
// raise competition. Checkpoints hold everything a resume needs, so `--resume` continues
// bit-identically.
import { Packr, pack, unpack } from "msgpackr";
import seedrandom from "seedrandom";
import type { GaelpConfig } from "../env/config.js";
import * as L from "../wasm/layout.js";
import { RolloutEngine, type EngineSnapshot, type IterationResult } from "../engine/rollout_engine.js";
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { canonicalFromBytes, canonicalToBytes, defaultPolicySpec, validatePolicySpec, type PolicySpec } from "../agents/policy/spec.js";
import { PpoLearner, NonFiniteError, type Minibatch, type UpdateStats } from "../agents/ppo/learner.js";
import { RunningMeanStd } from "../agents/ppo/running_stats.js";
import { RivalPopulation } from "../agents/rivals/index.js";
import { PrioritizedReplay } from "./replay.js";
import { TrajectoryStore, computeGae, lateEventsOf, END_CONVERTED, type TrajectoryBatch } from "./trajectories.js";
import type { TrainOptions } from "./train_config.js";
import type { OfflineRows, OfflineSummary } from "./offline.js";

export const TRAINER_STATE_FORMAT = "gaelp-trainer/1";

/** Files of a checkpoint (trainer/checkpoint.ts stores them with a SHA-256 manifest). */
export const CKPT = {
  spec: "policy_spec.json",
  weights: "policy.f32",
  optimizer: "optimizer.msgpack",
  trainer: "trainer.msgpack",
  replay: "replay.bin",
  trajectories: "trajectories.msgpack",
  worlds: "worlds.msgpack",
  rivals: "rivals.bin",
} as const;

export interface IterationMetrics {
  [key: string]: number;
}

export interface TrainerHooks {
  /** after every iteration, with its metrics (the CLI logs and draws progress) */
  onIteration?(it: number, metrics: IterationMetrics): void | Promise<void>;
  /** a checkpoint is due: the files to store for iteration `it` (completed iterations = it + 1) */
  onCheckpoint?(it: number, files: Record<string, Uint8Array>): void | Promise<void>;
}

export interface TrainerInit {
  config: GaelpConfig;
  train: TrainOptions;
  seed: number;
  policy?: PolicySpec;
}

interface TrainerState {
  format: string;
  /** iterations completed */
  iteration: number;
  lambda: number;
  curriculumLevel: number;
  winRates: number[];
  decisions: number;
  rows: number;
  samples: number;
  obsStats: { mean: number[]; var: number[]; count: number };
  rng: object;
  curriculumLog: { iteration: number; level: number; winRate: number }[];
  /** what --offline-data added to the replay before the first iteration (absent: nothing) */
  offline?: OfflineSummary & { replayRows: number };
}

// typed arrays (the optimizer's moments) round-trip only with moreTypes; plain pack mangles them
const typedPackr = new Packr({ moreTypes: true });

const REPLAY_COLUMNS = [
  { name: "obs", type: "f32" as const, width: L.OBS_DIM },
  { name: "bid", type: "u8" as const },
  { name: "creative", type: "u8" as const },
  { name: "logp", type: "f32" as const },
  { name: "adv", type: "f32" as const },
  { name: "ret", type: "f32" as const },
  { name: "value", type: "f32" as const },
  { name: "weight", type: "f32" as const },
];

export class Trainer {
  readonly config: GaelpConfig;
  readonly opts: TrainOptions;
  readonly seed: number;
  readonly spec: PolicySpec;
  private engine!: RolloutEngine;
  private model!: PolicyModel;
  private learner!: PpoLearner;
  private replay!: PrioritizedReplay;
  private store = new TrajectoryStore();
  private rivals!: RivalPopulation;
  private obsStats: RunningMeanStd;
  private rng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;
  private iteration = 0;
  private lambda: number;
  private curriculumLevel = 0;
  private winRates: number[] = [];
  private curriculumLog: TrainerState["curriculumLog"] = [];
  private decisions = 0;
  private rows = 0;
  private samples = 0;
  private offline: TrainerState["offline"];
  backend = "";

  constructor(init: TrainerInit) {
    this.config = init.config;
    this.opts = init.train;
    this.seed = init.seed;
    this.spec = validatePolicySpec(
      init.policy ?? { ...defaultPolicySpec(init.config.campaign.creatives.length), hidden: init.train.hidden.slice(), activation: init.train.activation, bidLevels: init.train.bidLevels.slice() },
    );
    this.obsStats = new RunningMeanStd(this.spec.obsDim);
    this.rng = seedrandom.alea(`gaelp-train-${init.seed}`, { state: true });
    this.lambda = init.train.lagrangian.enabled ? init.train.lagrangian.init : 0;
  }

  /** Builds the engine, the model and every learner, fresh or from checkpoint files. */
  async start(resume?: Map<string, Uint8Array>): Promise<void> {
    const o = this.opts;
    const h = await initTf(o.backend);
    this.backend = h.backend;
    this.engine = new RolloutEngine({ config: this.config, policy: this.spec, worlds: o.worlds, seed: this.seed, threads: o.threads, resampleEvery: o.resampleEvery });
    // beta reaches 1 after iterations x epochs x 8 sample() calls (one per minibatch): about
    // halfway through a default run, whose iterations hold ~18 minibatches per epoch
    const totalSamples = o.iterations * o.epochs;
    this.replay = new PrioritizedReplay({
      columns: REPLAY_COLUMNS,
      maxBytes: Math.floor(o.replay.maxMegabytes * 1024 * 1024),
      alpha: o.replay.alpha,
      beta0: o.replay.beta0,
      betaSteps: Math.max(1, totalSamples * 8),
      seed: this.seed ^ 0x7e9a,
    });
    this.rivals = new RivalPopulation(this.config, o.worlds, this.seed);
    if (!resume) {
      this.model = PolicyModel.create(this.spec, this.seed);
      this.learner = new PpoLearner(this.model, o.learningRate, this.hyper());
      return;
    }
    const need = (name: string): Uint8Array => {
      const b = resume.get(name);
      if (!b) throw new Error(`checkpoint is missing ${name}`);
      return b;
    };
    const spec = validatePolicySpec(JSON.parse(new TextDecoder().decode(need(CKPT.spec))));
    if (JSON.stringify(spec) !== JSON.stringify(this.spec)) throw new Error(`checkpoint policy spec ${JSON.stringify(spec)} differs from the run's ${JSON.stringify(this.spec)}`);
    this.model = PolicyModel.fromCanonical(this.spec, canonicalFromBytes(need(CKPT.weights), this.spec, CKPT.weights));
    this.learner = new PpoLearner(this.model, o.learningRate, this.hyper());
    const opt = typedPackr.unpack(need(CKPT.optimizer)) as { name: string; shape: number[]; data: Float32Array }[];
    opt.forEach((w) => {
      if (!(w.data instanceof Float32Array)) throw new Error(`checkpoint ${CKPT.optimizer}: ${w.name} is not float32 data`);
    });
    await this.learner.setOptimizerState(opt);
    const st = unpack(need(CKPT.trainer)) as TrainerState;
    if (st.format !== TRAINER_STATE_FORMAT) throw new Error(`checkpoint ${CKPT.trainer}: format ${st.format}, expected ${TRAINER_STATE_FORMAT}`);
    this.iteration = st.iteration;
    this.lambda = st.lambda;
    this.curriculumLevel = st.curriculumLevel;
    this.winRates = st.winRates;
    this.curriculumLog = st.curriculumLog;
    this.decisions = st.decisions;
    this.rows = st.rows;
    this.samples = st.samples;
    this.offline = st.offline;
    this.obsStats = RunningMeanStd.fromJSON(st.obsStats, this.spec.obsDim);
    this.rng = seedrandom.alea("", { state: st.rng as seedrandom.State.Alea });
    this.replay = PrioritizedReplay.deserialize(need(CKPT.replay));
    this.store = TrajectoryStore.deserialize(unpack(need(CKPT.trajectories)));
    this.rivals = RivalPopulation.deserialize(need(CKPT.rivals), this.config);
    this.rivals.setCurriculum(this.curriculumLevel);
    const snap = unpack(need(CKPT.worlds)) as EngineSnapshot;
    this.engine.restore(snap);
  }

  /**
   * Adds joined served decisions (trainer/offline.ts) to the replay before the first iteration, so
   * PPO minibatches mix them in at train.replay.fraction, ratio against their behaviour log-prob.
   * Each row is a one-step terminal trajectory: the server sees a decision's own cost and its
   * attributed conversion credit, not the user's later decisions, so there is nothing to
   * bootstrap from. Its reward is priced as the simulator's rows are (computeGae: (attributed -
   * (1 + lambda) cost) / campaign.conversionValue with the current lambda), return = reward,
   * value = the training model's estimate now (as fresh rows get before their update), advantage
   * = return - value, priority = |advantage|, importance weight 1. The rows are checkpointed with
   * the replay, so a resumed run has them without reading the folder again.
   */
  addOfflineRows(rows: OfflineRows, summary: OfflineSummary): number {
    if (this.iteration > 0 || this.offline !== undefined) throw new Error("offline rows are added once, before the first iteration of a run");
    const n = rows.n;
    if (n > this.replay.capacity) {
      throw new RangeError(`--offline-data: ${n} joined rows do not fit the replay's ${this.replay.capacity} rows (train.replay.maxMegabytes = ${this.opts.replay.maxMegabytes}); raise it to at least ${Math.ceil((n * this.replay.bytesPerRow) / 1048576)}`);
    }
    if (n > 0) {
      const values = this.learner.values(rows.obs, n);
      const scale = 1 / this.config.campaign.conversionValue;
      const ret = new Float32Array(n);
      const adv = new Float32Array(n);
      const prio = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        ret[i] = (rows.attributed[i] - (1 + this.lambda) * rows.cost[i]) * scale;
        adv[i] = ret[i] - values[i];
        prio[i] = Math.abs(adv[i]);
      }
      checkFinite(ret, "offline return");
      this.replay.add(n, {
        obs: rows.obs, bid: rows.bidLevel, creative: rows.creative, logp: rows.logp, adv, ret, value: values, weight: new Float32Array(n).fill(1),
      }, prio);
    }
    this.offline = { ...summary, replayRows: n };
    return n;
  }

  private hyper() {
    const o = this.opts;
    return { clipCoef: o.clipCoef, clipVloss: o.clipVloss, entCoef: o.entCoef, vfCoef: o.vfCoef, maxGradNorm: o.maxGradNorm };
  }

  get completedIterations(): number {
    return this.iteration;
  }

  get policy(): PolicyModel {
    return this.model;
  }

  canonicalWeights(): Float32Array {
    return this.model.toCanonical();
  }

  /** Runs iterations until `opts.iterations` are complete (or `stopAfter` more). */
  async run(hooks: TrainerHooks = {}, stopAfter = Infinity): Promise<void> {
    let ran = 0;
    while (this.iteration < this.opts.iterations && ran < stopAfter) {
      const it = this.iteration;
      const metrics = await this.step();
      ran++;
      await hooks.onIteration?.(it, metrics);
      const last = this.iteration === this.opts.iterations;
      if (hooks.onCheckpoint && (last || this.iteration % this.opts.checkpointEvery === 0)) {
        await hooks.onCheckpoint(it, await this.checkpointFiles());
      }
    }
  }

  /** One iteration: rollout, trajectories, GAE, PPO, dual ascent, rivals, curriculum. */
  async step(): Promise<IterationMetrics> {
    const o = this.opts;
    const it = this.iteration;
    const t0 = performance.now();
    const std = this.obsStats.std();
    this.model.setNormalization(this.obsStats.mean, std);
    this.engine.setPolicy(this.model.toCanonical(), it);
    const resampled = this.engine.resamplesNext;
    const res = await this.engine.run({
      hours: o.hoursPerIteration,
      rivalParams: this.rivals.params(),
      budgetScale: this.rivals.budgetScale(),
    });
    const tRollout = performance.now();
    const late = lateEventsOf(res.late);
    const resetWorlds = resampled ? new Set(Array.from({ length: o.worlds }, (_, w) => w)) : undefined;
    // a journey older than the conversion window can no longer convert: cut it (bounds the store)
    const maxAgeHours = this.config.journey.conversionWindowDays * 24;
    const { out: batch, stats: ing } = this.store.ingest(res.batches, late, res.untilHour, o.maxOpenHours, resetWorlds, maxAgeHours);
    this.decisions += res.decisions;
    this.rows += res.rows;
    // learning rate schedule (CleanRL anneal_lr: linear to 0 over the run)
    const frac = o.annealLr ? 1 - it / o.iterations : 1;
    this.learner.learningRate = frac * o.learningRate;
    const m: IterationMetrics = {};
    let upd: UpdateStats[] = [];
    let ev = 0;
    const journeys = summariseJourneys(batch);
    if (batch.rows.n > 0) {
      const values = this.learner.values(batch.rows.obs, batch.rows.n);
      const gae = computeGae(batch, values, {
        gammaPerHour: o.gammaPerHour,
        lambda: o.gaeLambda,
        costPenalty: this.lambda,
        rewardScale: 1 / this.config.campaign.conversionValue,
      });
      checkFinite(gae.rewards, "reward");
      checkFinite(gae.advantages, "advantage");
      ev = explainedVariance(values, gae.returns);
      upd = this.update(batch, gae.advantages, gae.returns, values);
      // the fresh trajectories join the replay after the update that used them
      const n = batch.rows.n;
      const prio = new Float32Array(n);
      for (let i = 0; i < n; i++) prio[i] = Math.abs(gae.advantages[i]);
      this.replay.add(n, {
        obs: batch.rows.obs.subarray(0, n * L.OBS_DIM), bid: batch.rows.bidLevel.subarray(0, n), creative: batch.rows.creative.subarray(0, n),
        logp: batch.rows.logp.subarray(0, n), adv: gae.advantages, ret: gae.returns, value: values, weight: batch.rows.weight.subarray(0, n),
      }, prio);
    }
    const tLearn = performance.now();
    // observation statistics for the next rollout (from every fresh row of this iteration)
    this.obsStats.update(batch.rows.obs, batch.rows.n);
    // budget pressure -> lambda (dual ascent), auction metrics, rivals, curriculum
    const auction = auctionMetrics(res, o.hoursPerIteration);
    if (o.lagrangian.enabled) {
      // dual ascent on the constraint "the budget runs dry in at most targetDryShare of the hours"
      const g = auction.budget_exhausted_share - o.lagrangian.targetDryShare;
      this.lambda = Math.min(o.lagrangian.max, Math.max(0, this.lambda + o.lagrangian.lr * g));
    }
    // the rivals adapt unless the world config's rivalLearning.enabled is false
    const rivalSummary = this.rivals.update(res.rivalStats, it);
    this.winRates.push(auction.win_rate);
    if (this.winRates.length > o.curriculum.window) this.winRates.shift();
    let levelUp = 0;
    if (o.curriculum.enabled && this.winRates.length === o.curriculum.window && this.curriculumLevel < o.curriculum.maxLevel) {
      const mean = this.winRates.reduce((a, b) => a + b, 0) / this.winRates.length;
      if (mean > o.curriculum.winRate) {
        this.curriculumLevel++;
        this.rivals.setCurriculum(this.curriculumLevel);
        this.curriculumLog.push({ iteration: it, level: this.curriculumLevel, winRate: mean });
        this.winRates = [];
        levelUp = 1;
      }
    }
    this.iteration++;
    const t1 = performance.now();
    const mean = (k: keyof UpdateStats) => (upd.length ? upd.reduce((a, u) => a + (u[k] as number), 0) / upd.length : 0);
    Object.assign(m, {
      "charts/iteration": it,
      "charts/decisions": this.decisions,
      "charts/rows": this.rows,
      "charts/SPS": res.decisions / ((t1 - t0) / 1000),
      "charts/episodic_return": journeys.meanReturn,
      "charts/journeys_completed": ing.completed,
      "charts/mean_bid_multiplier": meanMultiplier(batch, this.spec),
      "charts/journeys_truncated": ing.truncated,
      "charts/journey_decisions": journeys.meanLength,
      "charts/conversion_rate": journeys.conversionRate,
      "charts/open_journeys": ing.open,
      "charts/open_rows": ing.openRows,
      "charts/unmatched_late_events": ing.unmatchedLate,
      "charts/learning_rate": this.learner.learningRate,
      "charts/lambda": this.lambda,
      "charts/curriculum_level": this.curriculumLevel,
      "charts/curriculum_level_up": levelUp,
      "losses/policy_loss": mean("pgLoss"),
      "losses/value_loss": mean("vLoss"),
      "losses/entropy": mean("entropy"),
      "losses/approx_kl": mean("approxKl"),
      "losses/old_approx_kl": mean("oldApproxKl"),
      "losses/clipfrac": mean("clipfrac"),
      "losses/grad_norm": mean("gradNorm"),
      "losses/explained_variance": ev,
      "losses/minibatches": upd.length,
      "replay/size": this.replay.size,
      "replay/offline_rows": this.offline?.replayRows ?? 0,
      "replay/beta": this.replay.beta,
      "time/rollout_s": (tRollout - t0) / 1000,
      "time/learn_s": (tLearn - tRollout) / 1000,
      "time/iteration_s": (t1 - t0) / 1000,
      "sys/rss_mb": process.memoryUsage.rss() / 1e6,
      "sys/heap_used_mb": process.memoryUsage().heapUsed / 1e6,
    });
    for (const [k, v] of Object.entries(auction)) m[`auction/${k}`] = v;
    if (rivalSummary) for (const [k, v] of Object.entries(rivalSummary)) if (typeof v === "number") m[`rivals/${k}`] = v;
    for (const [k, v] of Object.entries(m)) {
      if (!Number.isFinite(v)) throw new NonFiniteError(k, `metric ${k} is ${v} at iteration ${it}`);
    }
    return m;
  }

  /** PPO epochs over the fresh trajectories (subsampled to the cap), each minibatch topped up
   *  with prioritized replay. */
  private update(batch: TrajectoryBatch, adv: Float32Array, ret: Float32Array, values: Float32Array): UpdateStats[] {
    const o = this.opts;
    const R = batch.rows;
    const D = L.OBS_DIM;
    let idx = Int32Array.from({ length: R.n }, (_, i) => i);
    const stats: UpdateStats[] = [];
    const shuffle = (a: Int32Array) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(this.rng() * (i + 1));
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
      }
    };
    if (o.maxSamplesPerIteration > 0 && idx.length > o.maxSamplesPerIteration) {
      shuffle(idx);
      idx = idx.slice(0, o.maxSamplesPerIteration);
    }
    const fresh = Math.min(o.minibatchSize, idx.length);
    const replayN = this.replay.size > 0 ? Math.round(fresh * o.replay.fraction) : 0;
    const cap = fresh + replayN;
    const mb: Minibatch = {
      n: 0, obs: new Float32Array(cap * D), bidAction: new Int32Array(cap), creativeAction: new Int32Array(cap), logp: new Float32Array(cap),
      advantage: new Float32Array(cap), returns: new Float32Array(cap), value: new Float32Array(cap), weight: new Float32Array(cap),
    };
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      shuffle(idx);
      for (let a = 0; a < idx.length; a += o.minibatchSize) {
        const b = Math.min(idx.length, a + o.minibatchSize);
        let n = 0;
        for (let k = a; k < b; k++, n++) {
          const r = idx[k];
          mb.obs.set(R.obs.subarray(r * D, (r + 1) * D), n * D);
          mb.bidAction[n] = R.bidLevel[r];
          mb.creativeAction[n] = R.creative[r];
          mb.logp[n] = R.logp[r];
          mb.advantage[n] = adv[r];
          mb.returns[n] = ret[r];
          mb.value[n] = values[r];
          mb.weight[n] = R.weight[r];
        }
        const nFresh = n;
        let sampled: { idx: Int32Array; weights: Float32Array } | undefined;
        const want = Math.round((b - a) * o.replay.fraction);
        if (want > 0 && this.replay.size > 0) {
          sampled = this.replay.sample(want);
          const g = (name: string) => this.replay.gather(name, sampled!.idx);
          mb.obs.set(g("obs") as Float32Array, n * D);
          const bid = g("bid");
          const cre = g("creative");
          const lp = g("logp");
          const ad = g("adv");
          const rt = g("ret");
          const vl = g("value");
          const wt = g("weight");
          for (let i = 0; i < want; i++, n++) {
            mb.bidAction[n] = bid[i];
            mb.creativeAction[n] = cre[i];
            mb.logp[n] = lp[i];
            mb.advantage[n] = ad[i];
            mb.returns[n] = rt[i];
            mb.value[n] = vl[i];
            mb.weight[n] = wt[i] * sampled.weights[i];
          }
        }
        mb.n = n;
        if (o.normAdv) normalise(mb.advantage, n);
        const s = this.learner.step(mb);
        stats.push(s);
        this.samples += n;
        if (sampled) {
          // new priorities: |return - new value estimate| (the TD error of the stored return)
          const p = new Float32Array(sampled.idx.length);
          for (let i = 0; i < p.length; i++) p[i] = Math.abs(mb.returns[nFresh + i] - s.newValue[nFresh + i]);
          this.replay.updatePriorities(sampled.idx, p);
        }
        if (o.targetKl > 0 && s.approxKl > o.targetKl) return stats;
      }
    }
    return stats;
  }

  /** Everything resume needs, as named files. */
  async checkpointFiles(): Promise<Record<string, Uint8Array>> {
    const weights = this.model.toCanonical();
    for (let i = 0; i < weights.length; i++) {
      if (!Number.isFinite(weights[i])) throw new NonFiniteError("policy weights", `weight ${i} is ${weights[i]}; refusing to checkpoint`);
    }
    const opt = await this.learner.optimizerState();
    const st: TrainerState = {
      format: TRAINER_STATE_FORMAT,
      iteration: this.iteration,
      lambda: this.lambda,
      curriculumLevel: this.curriculumLevel,
      winRates: this.winRates,
      decisions: this.decisions,
      rows: this.rows,
      samples: this.samples,
      obsStats: this.obsStats.toJSON(),
      rng: this.rng.state(),
      curriculumLog: this.curriculumLog,
      ...(this.offline !== undefined ? { offline: this.offline } : {}),
    };
    const tfjs = await this.model.artifacts();
    return {
      ...tfjs,
      [CKPT.spec]: new TextEncoder().encode(JSON.stringify(this.spec)),
      [CKPT.weights]: canonicalToBytes(weights),
      [CKPT.optimizer]: typedPackr.pack(opt),
      [CKPT.trainer]: pack(st),
      [CKPT.replay]: this.replay.serialize(),
      [CKPT.trajectories]: pack(this.store.serialize()),
      [CKPT.worlds]: pack(this.engine.snapshot()),
      [CKPT.rivals]: this.rivals.serialize(),
    };
  }

  get curriculum(): TrainerState["curriculumLog"] {
    return this.curriculumLog.slice();
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }
}


/** Mean bid multiplier the behaviour policy chose over a batch's rows. */
function meanMultiplier(b: TrajectoryBatch, spec: PolicySpec): number {
  const R = b.rows;
  let s = 0;
  for (let i = 0; i < R.n; i++) s += spec.bidLevels[R.bidLevel[i]];
  return R.n > 0 ? s / R.n : 0;
}

function normalise(a: Float32Array, n: number): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i];
  const mu = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (a[i] - mu) ** 2;
  const sd = Math.sqrt(v / Math.max(1, n - 1)) + 1e-8;
  for (let i = 0; i < n; i++) a[i] = (a[i] - mu) / sd;
}

function checkFinite(a: Float32Array, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new NonFiniteError(what, `${what} of row ${i} is ${a[i]}`);
  }
}

/** 1 - Var(returns - values) / Var(returns) (CleanRL's explained_variance). */
export function explainedVariance(values: Float32Array, returns: Float32Array): number {
  const n = returns.length;
  if (n < 2) return 0;
  let mr = 0;
  let md = 0;
  for (let i = 0; i < n; i++) {
    mr += returns[i];
    md += returns[i] - values[i];
  }
  mr /= n;
  md /= n;
  let vr = 0;
  let vd = 0;
  for (let i = 0; i < n; i++) {
    vr += (returns[i] - mr) ** 2;
    vd += (returns[i] - values[i] - md) ** 2;
  }
  return vr > 0 ? 1 - vd / vr : 0;
}

function summariseJourneys(b: TrajectoryBatch): { meanReturn: number; meanLength: number; conversionRate: number } {
  if (b.count === 0) return { meanReturn: 0, meanLength: 0, conversionRate: 0 };
  let ret = 0;
  let conv = 0;
  const R = b.rows;
  for (let t = 0; t < b.count; t++) {
    for (let i = b.start[t]; i < b.start[t + 1]; i++) ret += R.attributed[i] - R.cost[i];
    if (b.kind[t] === END_CONVERTED) conv++;
  }
  return { meanReturn: ret / b.count, meanLength: R.n / b.count, conversionRate: conv / b.count };
}

/** Market-side metrics of an iteration from the worlds' statistics deltas. */
export function auctionMetrics(res: IterationResult, hours: number): Record<string, number> & { win_rate: number; budget_exhausted_share: number } {
  let decisions = 0;
  let imps = 0;
  let clicks = 0;
  let spend = 0;
  let revenue = 0;
  let exhausted = 0;
  let conversions = 0;
  for (const s of res.worldStats) {
    decisions += s[L.S_DECISIONS];
    imps += s[L.S_IMPRESSIONS];
    clicks += s[L.S_CLICKS];
    spend += s[L.S_SPEND];
    revenue += s[L.S_REVENUE];
    conversions += s[L.S_CONVERSIONS];
    exhausted += s[L.S_BUDGET_EXHAUSTED_HOURS];
  }
  const worldHours = res.worldStats.length * hours;
  return {
    win_rate: decisions > 0 ? imps / decisions : 0,
    budget_exhausted_share: Math.min(1, exhausted / worldHours),
    spend_per_world_day: (spend / worldHours) * 24,
    revenue_per_world_day: (revenue / worldHours) * 24,
    profit_per_world_day: ((revenue - spend) / worldHours) * 24,
    roas: spend > 0 ? revenue / spend : 0,
    cpc: clicks > 0 ? spend / clicks : 0,
    ctr: imps > 0 ? clicks / imps : 0,
    conversions_per_world_day: (conversions / worldHours) * 24,
  };
}
