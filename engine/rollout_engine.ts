// The Monte Carlo engine: W seeded worlds rolled out by the WASM policy in a Piscina pool, the
// experience delivered as Arrow record batches (one per world per iteration, in world order).
//
// World state lives in one SharedArrayBuffer per world holding two copies: a task reads the
// committed copy and writes the other, and the engine flips which copy is committed only when
// the whole iteration has succeeded. So a worker that dies mid-task leaves the committed state
// intact, its task is retried from the same bytes, and no state is ever cloned between threads.
// Users persist across iterations whichever worker runs a world.
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { Piscina, FixedQueue } from "piscina";
import { pack, unpack } from "msgpackr";
import { Table, tableFromIPC, type RecordBatch } from "apache-arrow";
import { resolveConfig, type GaelpConfig } from "../env/config.js";
import { worldSeed, assertSeed } from "../env/seeds.js";
import { defaultPolicySpec, validatePolicySpec, policySize, type PolicySpec } from "../agents/policy/spec.js";
import type { WasmTarget } from "../wasm/loader.js";
import { WorldRunner, type TaskDesc, type TaskResult, type WorldJob } from "./world_runner.js";
import { EXPERIENCE_SCHEMA, LATE_SCHEMA, toIpcStream } from "./experience.js";
import { validateRivalParams, validateBudgetScale } from "../env/world_settings.js";
import * as L from "../wasm/layout.js";

export interface RolloutEngineOptions {
  /** world and campaign config (env/config.ts); default: the default scenario */
  config?: GaelpConfig;
  /** policy architecture; default: 64-64 ReLU over the campaign's creatives */
  policy?: PolicySpec;
  /** number of worlds W */
  worlds?: number;
  /** root seed: every world seed derives from it (env/seeds.ts) */
  seed: number;
  /** worker threads; 0 runs tasks on the calling thread (same code, no pool) */
  threads?: number;
  /** worlds per task; default splits each iteration into 4 tasks per thread */
  worldsPerTask?: number;
  /** attempts after the first before an iteration fails */
  maxRetries?: number;
  /** a task running longer than this is aborted and retried */
  taskTimeoutMs?: number;
  /** re-create every world from a fresh seed every k iterations (0: worlds live forever) */
  resampleEvery?: number;
  /** per-worker memory limit (a worker exceeding it fails its task, which is retried) */
  maxOldGenerationSizeMb?: number;
  wasm?: WasmTarget;
  /** honour `fault` in run() (tests only) */
  faultInjection?: boolean;
}

export interface RunOptions {
  /** simulated hours to advance every world */
  hours: number;
  /** take each head's argmax instead of sampling */
  greedy?: boolean;
  /** per world (in world order), its rivals' rows: rivals x RIV_STRIDE f32 (RIVF_* in wasm/layout.ts;
   *  agents/rivals RivalPopulation.params() makes them). Written into each world after it is created
   *  or loaded and before its rollout, and kept in its state. The engine keeps the last rows given
   *  and writes them in later iterations too (worlds re-created by resampleEvery included). They
   *  replace what market.resampleRivals / resampleValueSd drew for the world. */
  rivalParams?: Float32Array[];
  /** multiplies our campaign's daily and flight budgets in every world (the curriculum; 1 = the
   *  config's). Kept in each world's state and by the engine for later iterations, like rivalParams.
   *  A flight already past a lowered budget stops bidding until it ends. */
  budgetScale?: number;
  /** test hook: make task `task` fail after its world `afterWorld` on its first `attempts` attempts */
  fault?: { task: number; afterWorld: number; kind: "exit" | "throw" | "oom"; attempts?: number };
}

export interface IterationResult {
  iteration: number;
  fromHour: number;
  untilHour: number;
  /** one record batch per world, in world order (EXPERIENCE_SCHEMA) */
  batches: RecordBatch[];
  /** late credit and journey ends for rows of earlier iterations (LATE_SCHEMA) */
  late: RecordBatch[];
  rows: number;
  decisions: number;
  lateEvents: number;
  /** task attempts that failed and were retried */
  retries: number;
  /** per world, in world order: the iteration's change of the world's lifetime stats (NUM_STATS
   *  values by S_* index in wasm/layout.ts). A world created this iteration counts from zero, so its
   *  warm-up is in its first iteration; summed over an epoch's iterations they give the world's totals. */
  worldStats: Float64Array[];
  /** per world, in world order: its rivals' outcome change, rivals x RIVAL_STATS (RS_* in wasm/layout.ts) */
  rivalStats: Float64Array[];
  seconds: number;
}

export interface EngineSnapshot {
  iteration: number;
  clock: number;
  started: Uint8Array;
  worldBytes: number;
  worlds: Uint8Array[];
}

/** Sent to each worker once, at thread start. */
export interface WorkerInit {
  config: GaelpConfig;
  spec: PolicySpec;
  slots: number;
  wasm: WasmTarget;
  faultInjection: boolean;
}

/** One task as it crosses the thread boundary. */
export interface TaskPayload {
  desc: Uint8Array; // msgpack(TaskDesc)
  states: SharedArrayBuffer[];
  weights: SharedArrayBuffer;
  rivalParams: SharedArrayBuffer; // f32 [worlds][rivals * RIV_STRIDE], read when desc.rivalParams
}

/** A compiled worker file `dist/<rel>` (e.g. "engine/worker.js"), also when running from TS sources:
 *  worker threads load JavaScript. */
export function compiledWorkerFile(rel: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.endsWith("/dist/engine") ? resolve(here, "../..") : resolve(here, "..");
  const file = resolve(root, "dist", rel);
  if (!existsSync(file)) throw new Error(`gaelp: ${file} is missing; run \`npm run build\` (npm install does this)`);
  return file;
}

const SALT_STREAM = 0x5a17;

/**
 * A task descriptor as msgpack bytes that own exactly their buffer. msgpackr packs into one
 * module-wide buffer (shared by every Packr) and returns a view of it; posting a view to a worker
 * clones its whole ArrayBuffer, and once a checkpoint has packed hundreds of MB that buffer is
 * hundreds of MB: every task message then copied it, slowing runs down after their first checkpoint.
 */
export function packTaskDesc(desc: TaskDesc): Uint8Array {
  return Uint8Array.prototype.slice.call(pack(desc));
}

export class RolloutEngine {
  readonly config: GaelpConfig;
  readonly spec: PolicySpec;
  readonly numWorlds: number;
  readonly threads: number;
  readonly worldsPerTask: number;
  readonly worldBytes: number;
  private readonly opts: Required<Omit<RolloutEngineOptions, "config" | "policy" | "worlds" | "threads" | "worldsPerTask">>;
  private readonly local: WorldRunner | undefined;
  private readonly pool: Piscina | undefined;
  private readonly states: SharedArrayBuffer[];
  private readonly committed: Uint8Array; // committed half per world
  private readonly started: Uint8Array; // world created in the current epoch
  private readonly weights: SharedArrayBuffer;
  private readonly rivalRows: SharedArrayBuffer;
  private rivalRowsSet = false;
  private budgetScale: number | undefined;
  private policyVersion = -1;
  private iteration = 0;
  private clock: number;
  private closed = false;

  constructor(options: RolloutEngineOptions) {
    assertSeed(options.seed);
    this.config = options.config ?? resolveConfig();
    this.spec = validatePolicySpec(options.policy ?? defaultPolicySpec(this.config.campaign.creatives.length));
    if (this.spec.numCreatives !== this.config.campaign.creatives.length) {
      throw new RangeError(`policy.numCreatives (${this.spec.numCreatives}) must equal the campaign's creatives (${this.config.campaign.creatives.length})`);
    }
    const int = (v: number | undefined, dflt: number, lo: number, hi: number, name: string): number => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < lo || x > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}], got ${x}`);
      return x;
    };
    this.numWorlds = int(options.worlds, 64, 1, 65536, "worlds");
    this.threads = int(options.threads, Math.max(1, availableParallelism()), 0, 256, "threads");
    const tasksWanted = Math.max(1, this.threads) * 4;
    this.worldsPerTask = int(options.worldsPerTask, Math.max(1, Math.ceil(this.numWorlds / tasksWanted)), 1, this.numWorlds, "worldsPerTask");
    this.opts = {
      seed: options.seed,
      maxRetries: int(options.maxRetries, 2, 0, 100, "maxRetries"),
      taskTimeoutMs: int(options.taskTimeoutMs, 120_000, 1, 86_400_000, "taskTimeoutMs"),
      resampleEvery: int(options.resampleEvery, 0, 0, 1_000_000, "resampleEvery"),
      maxOldGenerationSizeMb: int(options.maxOldGenerationSizeMb, 512, 16, 1 << 20, "maxOldGenerationSizeMb"),
      wasm: options.wasm ?? "release",
      faultInjection: options.faultInjection ?? false,
    };
    // the main thread's runner sizes the world state and runs tasks itself when threads = 0
    const probe = new WorldRunner(this.config, this.spec, this.threads === 0 ? this.worldsPerTask : 1, this.opts.wasm);
    this.worldBytes = probe.worldBytes;
    this.local = this.threads === 0 ? probe : undefined;
    this.states = Array.from({ length: this.numWorlds }, () => new SharedArrayBuffer(2 * this.worldBytes));
    this.committed = new Uint8Array(this.numWorlds);
    this.started = new Uint8Array(this.numWorlds);
    this.weights = new SharedArrayBuffer(policySize(this.spec) * 4);
    this.rivalRows = new SharedArrayBuffer(this.numWorlds * this.config.rivals.length * L.RIV_STRIDE * 4);
    this.clock = this.config.market.warmupDays * 24;
    if (this.threads > 0) {
      const init: WorkerInit = { config: this.config, spec: this.spec, slots: this.worldsPerTask, wasm: this.opts.wasm, faultInjection: this.opts.faultInjection };
      this.pool = new Piscina({
        filename: compiledWorkerFile("engine/worker.js"),
        minThreads: this.threads,
        maxThreads: this.threads,
        idleTimeout: 3_600_000, // workers hold a loaded WASM instance: keep them
        maxQueue: Math.ceil(this.numWorlds / this.worldsPerTask), // one iteration's tasks
        taskQueue: new FixedQueue(),
        resourceLimits: { maxOldGenerationSizeMb: this.opts.maxOldGenerationSizeMb },
        workerData: init,
      });
    }
  }

  /** Policy weights in the canonical layout (agents/policy/spec.ts), tagged with a version that
   *  goes into every row they produce. */
  setPolicy(weights: Float32Array, version: number): void {
    const n = policySize(this.spec);
    if (!(weights instanceof Float32Array) || weights.length !== n) throw new RangeError(`policy weights must be a Float32Array of ${n} values, got ${(weights as { length?: number })?.length}`);
    if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) throw new RangeError(`policy version must be a u32, got ${version}`);
    for (let i = 0; i < n; i++) if (!Number.isFinite(weights[i])) throw new RangeError(`policy weights[${i}] is ${weights[i]}`);
    new Float32Array(this.weights).set(weights);
    this.policyVersion = version;
  }

  get hour(): number {
    return this.clock;
  }

  private epoch(iteration: number): number {
    return this.opts.resampleEvery > 0 ? Math.floor(iteration / this.opts.resampleEvery) : 0;
  }

  private job(index: number, iteration: number): WorldJob {
    const epoch = this.epoch(iteration);
    const fresh = this.started[index] === 0;
    const [seedLo, seedHi] = worldSeed(this.opts.seed, index, epoch);
    const [salt] = worldSeed(this.opts.seed, index, SALT_STREAM + epoch);
    return { index, seedLo, seedHi, salt, fresh, readHalf: this.committed[index] as 0 | 1 };
  }

  /** Advances every world `hours` simulated hours; returns the iteration's experience. */
  async run(options: RunOptions): Promise<IterationResult> {
    if (this.closed) throw new Error("RolloutEngine: closed");
    if (this.policyVersion < 0) throw new Error("RolloutEngine: setPolicy() before run()");
    if (!Number.isInteger(options.hours) || options.hours < 1 || options.hours > 24 * 3650) throw new RangeError(`hours must be an integer in [1, 87600], got ${options.hours}`);
    this.takeSettings(options);
    const t0 = performance.now();
    const it = this.iteration;
    if (this.opts.resampleEvery > 0 && it > 0 && it % this.opts.resampleEvery === 0) {
      // a new epoch: every world is re-created from its seed for this epoch
      this.started.fill(0);
      this.clock = this.config.market.warmupDays * 24;
    }
    const fromHour = this.clock;
    const untilHour = fromHour + options.hours;
    const tasks: TaskDesc[] = [];
    for (let a = 0, t = 0; a < this.numWorlds; a += this.worldsPerTask, t++) {
      const worlds: WorldJob[] = [];
      for (let w = a; w < Math.min(this.numWorlds, a + this.worldsPerTask); w++) worlds.push(this.job(w, it));
      const f = options.fault && options.fault.task === t ? options.fault : undefined;
      tasks.push({
        iteration: it, attempt: 0, untilHour, greedy: options.greedy ?? false, policyVersion: this.policyVersion, worlds,
        budgetScale: this.budgetScale, rivalParams: this.rivalRowsSet,
        fault: f ? { afterWorld: f.afterWorld, kind: f.kind } : undefined,
      });
    }
    let retries = 0;
    const results = await Promise.all(tasks.map(async (desc, t) => {
      for (let attempt = 0; ; attempt++) {
        const faultAttempts = options.fault?.attempts ?? 1;
        const d: TaskDesc = { ...desc, attempt, fault: attempt < faultAttempts ? desc.fault : undefined };
        try {
          return await this.runTask(d);
        } catch (err) {
          if (attempt >= this.opts.maxRetries) {
            const w = desc.worlds;
            throw new Error(`iteration ${it}: task ${t} (worlds ${w[0].index}..${w[w.length - 1].index}) failed ${attempt + 1} times; last error: ${(err as Error).message}`, { cause: err });
          }
          retries++;
        }
      }
    }));
    // account for every world exactly once before committing anything
    const batches: RecordBatch[] = [];
    const late: RecordBatch[] = [];
    const worldStats: Float64Array[] = [];
    const rivalStats: Float64Array[] = [];
    let rows = 0;
    let decisions = 0;
    let lateEvents = 0;
    results.forEach((res, t) => {
      const worlds = tasks[t].worlds;
      if (res.worldStats.length !== worlds.length || res.rivalStats.length !== worlds.length) throw new Error(`iteration ${it}: task ${t} returned stats for ${res.worldStats.length} worlds, expected ${worlds.length}`);
      worldStats.push(...res.worldStats);
      rivalStats.push(...res.rivalStats);
      const table = tableFromIPC(res.rowsIpc);
      if (table.batches.length !== worlds.length) throw new Error(`iteration ${it}: task ${t} returned ${table.batches.length} batches for ${worlds.length} worlds`);
      table.batches.forEach((b, i) => {
        if (b.numRows !== res.rowsPerWorld[i]) throw new Error(`iteration ${it}: world ${worlds[i].index} sent ${b.numRows} rows, counted ${res.rowsPerWorld[i]}`);
        const world = b.getChild("world");
        if (b.numRows > 0 && (world?.get(0) !== worlds[i].index || world?.get(b.numRows - 1) !== worlds[i].index)) {
          throw new Error(`iteration ${it}: batch ${i} of task ${t} is not world ${worlds[i].index}`);
        }
        rows += b.numRows;
        batches.push(b);
      });
      const lt = tableFromIPC(res.lateIpc);
      if (lt.numRows !== res.late || lt.batches.length !== worlds.length) throw new Error(`iteration ${it}: task ${t} sent ${lt.numRows} late events in ${lt.batches.length} batches, counted ${res.late} for ${worlds.length} worlds`);
      late.push(...lt.batches);
      lateEvents += lt.numRows;
      decisions += res.decisions;
    });
    if (batches.length !== this.numWorlds) throw new Error(`iteration ${it}: ${batches.length} world batches for ${this.numWorlds} worlds`);
    for (let w = 0; w < this.numWorlds; w++) {
      this.committed[w] ^= 1;
      this.started[w] = 1;
    }
    this.clock = untilHour;
    this.iteration++;
    return { iteration: it, fromHour, untilHour, batches, late, rows, decisions, lateEvents, retries, worldStats, rivalStats, seconds: (performance.now() - t0) / 1000 };
  }

  private async runTask(desc: TaskDesc): Promise<TaskResult> {
    const states = desc.worlds.map((w) => this.states[w.index]);
    if (this.local) {
      // same path as a worker, minus the thread hop (faults are a worker concern)
      const d = unpack(packTaskDesc({ ...desc, fault: undefined })) as TaskDesc;
      this.local.setPolicy(new Float32Array(this.weights), d.policyVersion);
      return this.local.run(d, states.map((s) => new Uint8Array(s)), undefined, new Float32Array(this.rivalRows));
    }
    const payload: TaskPayload = { desc: packTaskDesc(desc), states, weights: this.weights, rivalParams: this.rivalRows };
    return (await this.pool!.run(payload, { signal: AbortSignal.timeout(this.opts.taskTimeoutMs) })) as TaskResult;
  }

  /** Validates run()'s world settings (all of them before any is taken) and keeps them for this
   *  and later iterations. */
  private takeSettings(options: RunOptions): void {
    const nr = this.config.rivals.length;
    let rows: Float32Array[] | undefined;
    if (options.rivalParams !== undefined) {
      const given = options.rivalParams;
      if (!Array.isArray(given) || given.length !== this.numWorlds) {
        throw new RangeError(`rivalParams must be an array of ${this.numWorlds} Float32Arrays (one per world), got ${Array.isArray(given) ? `${given.length} entries` : typeof given}`);
      }
      rows = given.map((r, w) => validateRivalParams(r, nr, `rivalParams[${w}]`));
    }
    const scale = options.budgetScale === undefined ? undefined : validateBudgetScale(options.budgetScale, this.config);
    if (rows) {
      const all = new Float32Array(this.rivalRows);
      rows.forEach((r, w) => all.set(r, w * nr * L.RIV_STRIDE));
      this.rivalRowsSet = true;
    }
    if (scale !== undefined) this.budgetScale = scale;
  }

  /** World w's committed state (a copy), e.g. for checkpoints. */
  worldState(w: number): Uint8Array {
    if (!Number.isInteger(w) || w < 0 || w >= this.numWorlds) throw new RangeError(`world must be in [0, ${this.numWorlds - 1}], got ${w}`);
    const half = this.committed[w];
    return new Uint8Array(this.states[w], half * this.worldBytes, this.worldBytes).slice();
  }

  /** Everything needed to continue this engine exactly (checkpoints): the committed state of every
   *  world, which worlds exist in the current epoch, the clock and the iteration counter. */
  snapshot(): EngineSnapshot {
    return {
      iteration: this.iteration,
      clock: this.clock,
      started: this.started.slice(),
      worldBytes: this.worldBytes,
      worlds: Array.from({ length: this.numWorlds }, (_, w) => this.worldState(w)),
    };
  }

  /** Puts this engine (same config, seed, world count) back into a snapshot's state. */
  restore(s: EngineSnapshot): void {
    if (this.closed) throw new Error("RolloutEngine: closed");
    if (s.worldBytes !== this.worldBytes) throw new RangeError(`engine snapshot: worlds are ${s.worldBytes} bytes, this engine's are ${this.worldBytes} (different config?)`);
    if (s.worlds.length !== this.numWorlds || s.started.length !== this.numWorlds) {
      throw new RangeError(`engine snapshot: ${s.worlds.length} worlds, this engine runs ${this.numWorlds}`);
    }
    if (!Number.isInteger(s.iteration) || s.iteration < 0 || !Number.isInteger(s.clock) || s.clock < 0) {
      throw new RangeError(`engine snapshot: bad iteration ${s.iteration} or clock ${s.clock}`);
    }
    s.worlds.forEach((bytes, w) => {
      if (bytes.byteLength !== this.worldBytes) throw new RangeError(`engine snapshot: world ${w} is ${bytes.byteLength} bytes, expected ${this.worldBytes}`);
    });
    s.worlds.forEach((bytes, w) => {
      new Uint8Array(this.states[w], 0, this.worldBytes).set(bytes);
      this.committed[w] = 0;
      this.started[w] = s.started[w] ? 1 : 0;
    });
    this.iteration = s.iteration;
    this.clock = s.clock;
  }

  /** Iterations run so far (the next run() is this iteration). */
  get iterations(): number {
    return this.iteration;
  }

  /** True when the next run() re-creates every world (a new resampling epoch). */
  get resamplesNext(): boolean {
    return this.opts.resampleEvery > 0 && this.iteration > 0 && this.iteration % this.opts.resampleEvery === 0;
  }

  /** Threads currently in the pool (0 in-process). */
  get poolSize(): number {
    return this.pool ? this.pool.threads.length : 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.destroy();
  }
}

/** An iteration's experience as one Arrow IPC stream (schema, then one batch per world in order). */
export function iterationIpc(result: Pick<IterationResult, "batches">): Uint8Array {
  return toIpcStream(EXPERIENCE_SCHEMA, result.batches);
}

export function lateIpc(result: Pick<IterationResult, "late">): Uint8Array {
  return toIpcStream(LATE_SCHEMA, result.late);
}

export function experienceTable(result: Pick<IterationResult, "batches">): Table {
  return new Table(EXPERIENCE_SCHEMA, result.batches);
}
