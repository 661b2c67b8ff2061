// The what-if job runner: a bounded store of jobs, a bounded FIFO queue (one job runs at a time,
// its tasks fill the pool), a cache from the normalised request's SHA-256 to its job, and a
// Piscina pool of worker threads (server/simulations/worker.ts) that runs the simulation tasks.
// The main thread only plans, copies task results into place and aggregates.
//
// A job runs in two phases. Phase 1: every scenario, every budget level and the competitor-threat
// stress run (equal configs once). Phase 2: the pivots chosen from phase 1, re-simulated on the
// same worlds. Each config runs as tasks of `worldsPerTask` worlds, so progress moves task by task
// and a cancelled job stops within one task: its queued tasks are dropped and its running task's
// worker thread is terminated by Piscina (the AbortSignal), then replaced.
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { Piscina } from "piscina";
import type { GaelpConfig } from "../../env/config.js";
import { compiledWorkerFile } from "../../engine/rollout_engine.js";
import type { WasmTarget } from "../../wasm/loader.js";
import { HttpError } from "../errors.js";
import {
  type LevelRun, type Pivot, type WorldsData, addTask, budgetLevels, choosePivots, emptyWorlds, recommendation, risks, scenarioResult,
} from "./analysis.js";
import { type Prepared, type SimTask, type SimTaskResult, THREAT_COMPETITION, configKey, tasksFor } from "./plan.js";
import type { JobStatus, SimulationJob, SimulationResult } from "./schemas.js";
import { LoadMonitor, type ThrottleOptions, throttleCell } from "./throttle.js";

export interface SimulationServiceOptions {
  /** worker threads running simulation tasks (default 1: the main thread keeps a core for bids) */
  threads?: number;
  /** jobs kept (queued, running and finished); the oldest finished are evicted beyond it (default 64) */
  maxJobs?: number;
  /** jobs waiting behind the running one; more are refused with 429 (default 16) */
  maxQueued?: number;
  /** worlds per task (default 8): smaller moves progress and cancellation in finer steps */
  worldsPerTask?: number;
  /** bids first: the workers' duty cycle while the event loop is busy (throttle.ts) */
  throttle?: ThrottleOptions;
  wasm?: WasmTarget;
}

export const SIMULATION_DEFAULTS = { threads: 1, maxJobs: 64, maxQueued: 16, worldsPerTask: 8 } as const;

/** Pivot previews a job plans for before it knows them (progress estimate). */
const PIVOTS_EXPECTED = 3;

interface Job {
  id: string;
  hash: string;
  status: JobStatus;
  prepared: Prepared;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  tasks: number;
  tasksDone: number;
  worldDays: number;
  mainThreadMs: number;
  t0: number;
  t1: number;
  controller: AbortController;
  result: SimulationResult | null;
  error: { code: string; message: string } | null;
}

interface ConfigRun {
  config: GaelpConfig;
  data: WorldsData;
  done: boolean;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`simulations option ${name} must be an integer in [${min}, ${max}], got ${v}`);
}

export class SimulationService {
  readonly threads: number;
  readonly maxJobs: number;
  readonly maxQueued: number;
  readonly worldsPerTask: number;
  /** tasks being run or waiting in the pool */
  inflight = 0;
  /** tasks completed since the service started */
  tasksRun = 0;
  private readonly jobs = new Map<string, Job>();
  private readonly byHash = new Map<string, string>();
  private readonly queue: Job[] = [];
  private running: Job | undefined;
  private pool: Piscina | undefined;
  private closed = false;
  private readonly wasm: WasmTarget | undefined;
  /** publishes the workers' duty cycle while a job runs */
  readonly monitor: LoadMonitor;

  constructor(opts: SimulationServiceOptions = {}, private readonly onFinal: (status: JobStatus) => void = () => {}) {
    this.threads = opts.threads ?? SIMULATION_DEFAULTS.threads;
    this.maxQueued = opts.maxQueued ?? SIMULATION_DEFAULTS.maxQueued;
    this.maxJobs = opts.maxJobs ?? SIMULATION_DEFAULTS.maxJobs;
    this.worldsPerTask = opts.worldsPerTask ?? SIMULATION_DEFAULTS.worldsPerTask;
    checkInt("threads", this.threads, 1, 64);
    checkInt("maxQueued", this.maxQueued, 0, 10_000);
    checkInt("maxJobs", this.maxJobs, this.maxQueued + 2, 100_000);
    checkInt("worldsPerTask", this.worldsPerTask, 1, 256);
    this.wasm = opts.wasm;
    this.monitor = new LoadMonitor(throttleCell(), opts.throttle);
  }

  /** The pool, started with the first job (an app that never simulates starts no threads). */
  private getPool(): Piscina {
    if (this.closed) throw new Error("the simulation service is closed");
    this.pool ??= new Piscina({
      filename: compiledWorkerFile("server/simulations/worker.js"),
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 3_600_000, // a worker holds a compiled WASM module: keep it
      workerData: { throttle: this.monitor.cell },
    });
    return this.pool;
  }

  /**
   * A job for a prepared request: the cached one when the same normalised request is queued,
   * running or completed (`cached: true`), else a new queued job. Throws 429 when the queue is full.
   */
  submit(p: Prepared): { job: SimulationJob; cached: boolean } {
    if (this.closed) throw new HttpError(503, "closing", "the server is shutting down");
    const hit = this.byHash.get(p.hash);
    const old = hit === undefined ? undefined : this.jobs.get(hit);
    if (old !== undefined && (old.status === "queued" || old.status === "processing" || old.status === "completed")) {
      return { job: this.view(old, true), cached: true };
    }
    if (this.running !== undefined && this.queue.length >= this.maxQueued) {
      throw new HttpError(429, "simulation_queue_full", `the simulation queue is full (${this.maxQueued} jobs waiting); retry when a job has finished`);
    }
    this.evict();
    const job: Job = {
      id: `sim_${randomBytes(12).toString("base64url")}`,
      hash: p.hash,
      status: "queued",
      prepared: p,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      tasks: 0,
      tasksDone: 0,
      worldDays: 0,
      mainThreadMs: 0,
      t0: 0,
      t1: 0,
      controller: new AbortController(),
      result: null,
      error: null,
    };
    setMaxListeners(0, job.controller.signal); // every task in the pool listens to it
    this.jobs.set(job.id, job);
    this.byHash.set(p.hash, job.id);
    this.queue.push(job);
    this.pump();
    return { job: this.view(job, false), cached: false };
  }

  get(id: string): SimulationJob | undefined {
    const job = this.jobs.get(id);
    return job === undefined ? undefined : this.view(job, false);
  }

  /** Cancels a queued or running job (a running one's tasks are aborted in the pool). */
  cancel(id: string): SimulationJob {
    const job = this.jobs.get(id);
    if (job === undefined) throw new HttpError(404, "not_found", `no simulation ${id}`, "params.id");
    if (job.status === "completed" || job.status === "failed") {
      throw new HttpError(409, "not_cancellable", `simulation ${id} has already ${job.status === "completed" ? "completed" : "failed"}`, "params.id");
    }
    if (job.status !== "cancelled") this.stop(job);
    return this.view(job, false);
  }

  /** The pool's state: worker thread ids (a thread whose task was aborted is replaced by a new
   *  one), tasks waiting in the pool, and tasks submitted and not yet settled. */
  poolStats(): { threadIds: number[]; poolQueue: number; inflight: number; dutyCycle: number } {
    return { threadIds: this.pool?.threads.map((t) => t.threadId) ?? [], poolQueue: this.pool?.queueSize ?? 0, inflight: this.inflight, dutyCycle: this.monitor.dutyCycle };
  }

  /** Cancels everything and stops the worker threads. */
  async close(): Promise<void> {
    this.closed = true;
    this.monitor.stop();
    for (const job of [...this.queue]) this.stop(job);
    if (this.running !== undefined) this.stop(this.running);
    await this.pool?.destroy();
    this.pool = undefined;
  }

  private stop(job: Job): void {
    const q = this.queue.indexOf(job);
    if (q >= 0) this.queue.splice(q, 1);
    job.controller.abort();
    this.finish(job, "cancelled");
  }

  private finish(job: Job, status: JobStatus, error?: { code: string; message: string }): void {
    if (job.finishedAt !== null) return;
    job.status = status;
    job.finishedAt = new Date().toISOString();
    job.t1 = performance.now();
    if (error !== undefined) job.error = error;
    this.onFinal(status);
  }

  /** Drops the oldest finished jobs while the store is full. */
  private evict(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size < this.maxJobs) return;
      if (job.finishedAt === null) continue;
      this.jobs.delete(id);
      if (this.byHash.get(job.hash) === id) this.byHash.delete(job.hash);
    }
  }

  private view(job: Job, cached: boolean): SimulationJob {
    const running = job.status === "processing";
    const seconds = job.startedAt === null ? 0 : ((job.finishedAt === null ? performance.now() : job.t1) - job.t0) / 1000;
    return {
      id: job.id,
      status: job.status,
      progress: job.status === "completed" ? 1 : job.tasks === 0 ? 0 : Math.min(running ? 0.999 : 1, job.tasksDone / job.tasks),
      cached,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      request: job.prepared.request,
      requestSha256: job.hash,
      stats: { tasks: job.tasks, tasksDone: job.tasksDone, worldDays: job.worldDays, seconds, mainThreadMs: job.mainThreadMs },
      error: job.error,
      result: job.result,
    };
  }

  private pump(): void {
    if (this.running !== undefined || this.closed) return;
    const job = this.queue.shift();
    if (job === undefined) {
      this.monitor.stop();
      return;
    }
    this.monitor.start();
    this.running = job;
    this.execute(job).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private async execute(job: Job): Promise<void> {
    job.status = "processing";
    job.startedAt = new Date().toISOString();
    job.t0 = performance.now();
    try {
      const result = await this.simulate(job);
      if (job.finishedAt !== null) return; // cancelled while aggregating
      job.result = result;
      this.finish(job, "completed");
    } catch (e) {
      if (job.finishedAt === null) {
        job.controller.abort();
        this.finish(job, "failed", { code: "simulation_failed", message: ((e as Error)?.message ?? String(e)).slice(0, 2000) });
      }
    }
  }

  /** Runs the configs not yet run, all tasks at once (the pool queues them). */
  private async runConfigs(job: Job, runs: ConfigRun[]): Promise<void> {
    const p = job.prepared;
    const signal = job.controller.signal;
    if (signal.aborted) throw new Error("cancelled");
    const pool = this.getPool();
    const pending = runs.filter((r) => !r.done);
    const work = pending.flatMap((r) => tasksFor(p, r.config, this.worldsPerTask, this.wasm).map((t): [ConfigRun, SimTask] => [r, t]));
    await Promise.all(work.map(async ([r, task]) => {
      this.inflight++;
      try {
        const out = (await pool.run(task, { signal })) as SimTaskResult;
        const t0 = performance.now();
        addTask(r.data, out);
        job.mainThreadMs += performance.now() - t0;
        job.tasksDone++;
        job.worldDays += out.worlds * p.request.days;
        this.tasksRun++;
      } catch (e) {
        if (!signal.aborted) job.controller.abort(); // one failed task fails the job: stop the rest
        throw e;
      } finally {
        this.inflight--;
      }
    }));
    for (const r of pending) r.done = true;
  }

  private async simulate(job: Job): Promise<SimulationResult> {
    const p = job.prepared;
    const { worlds, days, seed } = p.request;
    const groups = Math.ceil(worlds / this.worldsPerTask);
    const runs = new Map<string, ConfigRun>();
    const want = (config: GaelpConfig): ConfigRun => {
      const key = configKey(config);
      let r = runs.get(key);
      if (r === undefined) runs.set(key, (r = { config, data: emptyWorlds(worlds, days), done: false }));
      return r;
    };

    const scenarioRuns = p.configs.scenarios.map(want);
    const levelRuns = p.request.budgetMultipliers.map((m, i) => ({ multiplier: m, run: want(p.configs.levels[i]) }));
    const threatRun = want(p.configs.threat);
    const real = scenarioRuns[0];
    job.tasks = groups * (runs.size + (p.request.recommendations ? PIVOTS_EXPECTED : 0));
    await this.runConfigs(job, [...runs.values()]);

    const levels: LevelRun[] = levelRuns.map((l) => ({ multiplier: l.multiplier, config: l.run.config, data: l.run.data }));
    let pivots: Pivot[] = [];
    if (p.request.recommendations) {
      pivots = choosePivots(real.config, real.data, levels);
      const before = runs.size;
      const previews = pivots.flatMap((pv) => (pv.config === undefined ? [] : [want(pv.config)]));
      job.tasks = job.tasksDone + groups * (runs.size - before);
      await this.runConfigs(job, previews);
    }

    // aggregation, one piece per turn of the event loop so requests keep being answered
    let busy = 0;
    const step = async <T>(f: () => T): Promise<T> => {
      const s = performance.now();
      const out = f();
      busy += performance.now() - s;
      await yieldToLoop();
      return out;
    };
    const scenarios = [];
    for (const [i, s] of p.request.scenarios.entries()) scenarios.push(await step(() => scenarioResult(s.name, s.multipliers, scenarioRuns[i].config, scenarioRuns[i].data)));
    const budget = await step(() => budgetLevels(levels, seed));
    const riskList = await step(() => risks(real.data, threatRun.data, THREAT_COMPETITION));
    const recs = await step(() => pivots.map((pv) => recommendation(pv, real.data, pv.config === undefined ? undefined : runs.get(configKey(pv.config))?.data)));
    job.mainThreadMs += busy;
    return {
      bidder: p.bidderInfo,
      worlds,
      days,
      seed,
      scenarios,
      budgetLevels: budget,
      risks: riskList,
      recommendations: recs,
    };
  }
}
