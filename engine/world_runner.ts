// Runs one task -- a batch of worlds for one iteration -- in a WASM instance: load or create each
// world, roll it out with the policy, write its next state, and return the experience as Arrow
// IPC bytes. Worker threads and the in-process path run exactly this code.
import { instantiateCore, type CoreExports, type WasmTarget } from "../wasm/loader.js";
import * as L from "../wasm/layout.js";
import { writeParams } from "../env/params.js";
import type { GaelpConfig } from "../env/config.js";
import type { PolicySpec } from "../agents/policy/spec.js";
import { WasmPolicy } from "./wasm_policy.js";
import { EXPERIENCE_SCHEMA, LATE_SCHEMA, experienceBatch, lateBatch, toIpcStream } from "./experience.js";
import { writeRivalRows, addWorldTotals, rivalTotals } from "../env/world_settings.js";
import type { RecordBatch } from "apache-arrow";

/** One world of a task. */
export interface WorldJob {
  index: number; // global world index
  seedLo: number; // world seed (used when fresh)
  seedHi: number;
  salt: number; // importance-sampling salt
  fresh: boolean; // create from the seed instead of loading the committed state
  readHalf: 0 | 1; // which half of its state buffer holds the committed state (the other is written)
}

export interface TaskDesc {
  iteration: number;
  attempt: number;
  untilHour: number;
  greedy: boolean;
  policyVersion: number;
  worlds: WorldJob[];
  /** our budget scale to set in every world before its rollout (absent: each world keeps its own) */
  budgetScale?: number;
  /** write each world's rival rows from the shared rival-params buffer before its rollout */
  rivalParams: boolean;
  /** test hook (only honoured when the engine enables fault injection) */
  fault?: { afterWorld: number; kind: "exit" | "throw" | "oom" };
}

export interface TaskResult {
  rowsIpc: Uint8Array; // Arrow IPC stream: one record batch per world, in task order
  lateIpc: Uint8Array; // Arrow IPC stream of late events: one batch per world, in task order
  rowsPerWorld: number[];
  latePerWorld: number[];
  decisions: number; // decisions made (before importance sampling drops rows)
  late: number;
  /** per world in task order: the iteration's change of the world's lifetime stats (NUM_STATS, S_*);
   *  a fresh world counts from zero, so its creation (warm-up) is in its first iteration */
  worldStats: Float64Array[];
  /** per world in task order: the same for its rivals, rivals x RIVAL_STATS (RS_*) */
  rivalStats: Float64Array[];
}

type Fn = (...a: number[]) => number;

export class WorldRunner {
  readonly core: CoreExports;
  readonly slots: number;
  readonly worldBytes: number;
  readonly policy: WasmPolicy;
  readonly numRivals: number;
  private readonly f: Record<string, Fn>;

  constructor(config: GaelpConfig, spec: PolicySpec, slots: number, wasm: WasmTarget = "release") {
    this.core = instantiateCore(wasm);
    this.slots = slots;
    this.numRivals = config.rivals.length;
    this.f = this.core as unknown as Record<string, Fn>;
    writeParams(config, slots, new Float64Array(this.core.memory.buffer, this.core.paramsPtr(), L.PARAMS_F64));
    this.worldBytes = this.f.configure();
    this.policy = new WasmPolicy(this.core, spec);
    this.f.expReserve(4096, 256);
  }

  setPolicy(weights: Float32Array, version: number): void {
    if (this.policy.version !== version) this.policy.setWeights(weights, version);
  }

  /** Runs a task. `states[i]` is world i's double buffer (2 x worldBytes): the committed half is
   *  read, the other written, so a task that dies leaves the committed state intact. With
   *  `desc.rivalParams`, world `index`'s rival rows are `rivalParams` [index * rivals * RIV_STRIDE, ...). */
  run(desc: TaskDesc, states: Uint8Array[], onWorldDone?: (i: number) => void, rivalParams?: Float32Array): TaskResult {
    const n = desc.worlds.length;
    if (n > this.slots) throw new RangeError(`task has ${n} worlds; this runner holds ${this.slots}`);
    const f = this.f;
    f.expClear();
    f.clearStalled();
    const wb = this.worldBytes;
    const rowsPerWorld: number[] = [];
    const latePerWorld: number[] = [];
    let decisions = 0;
    const rowLen = this.numRivals * L.RIV_STRIDE;
    if (desc.rivalParams && !(rivalParams && rivalParams.length >= (Math.max(...desc.worlds.map((j) => j.index)) + 1) * rowLen)) {
      throw new RangeError("task asks for rival params but the rival-params buffer does not cover its worlds");
    }
    // one buffer (transferred back) holds every world's outcome deltas: stats, then its rivals'
    const statsLen = L.NUM_STATS + this.numRivals * L.RIVAL_STATS;
    const outcomes = new Float64Array(n * statsLen);
    const worldStats: Float64Array[] = [];
    const rivalStats: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      const job = desc.worlds[i];
      const state = states[i];
      if (state.byteLength !== 2 * wb) throw new RangeError(`world ${job.index}: state buffer is ${state.byteLength} bytes, expected ${2 * wb}`);
      if (job.fresh) {
        f.resetWorld(i, job.seedLo, job.seedHi);
      } else {
        const mem = new Uint8Array(this.core.memory.buffer);
        mem.set(state.subarray(job.readHalf * wb, (job.readHalf + 1) * wb), f.worldPtr(i));
        const code = f.checkWorld(i);
        if (code !== 0) throw new Error(`world ${job.index}: committed state is invalid (code ${code})`);
        f.reemitWorld(i);
      }
      const base = f.worldPtr(i);
      if (desc.rivalParams) writeRivalRows(this.core.memory.buffer as ArrayBuffer, base, rivalParams!.subarray(job.index * rowLen, (job.index + 1) * rowLen));
      if (desc.rivalParams || desc.budgetScale !== undefined) f.applySettings(i, desc.budgetScale ?? -1);
      const ws = outcomes.subarray(i * statsLen, i * statsLen + L.NUM_STATS);
      const rs = outcomes.subarray(i * statsLen + L.NUM_STATS, (i + 1) * statsLen);
      if (!job.fresh) {
        addWorldTotals(this.core.memory.buffer as ArrayBuffer, base, ws, -1);
        const was = rivalTotals(this.core.memory.buffer as ArrayBuffer, base, this.numRivals);
        for (let k = 0; k < rs.length; k++) rs[k] = -was[k];
      }
      const before = f.expRows();
      const lateBefore = f.expLateCount();
      decisions += f.rolloutWorld(i, job.index, job.salt, desc.untilHour, desc.greedy ? 1 : 0, desc.policyVersion);
      if (f.isStalled() !== 0) throw new Error(`world ${job.index} stalled: no auction our campaign may bid in for 5 years`);
      rowsPerWorld.push(f.expRows() - before);
      latePerWorld.push(f.expLateCount() - lateBefore);
      addWorldTotals(this.core.memory.buffer as ArrayBuffer, base, ws);
      const after = rivalTotals(this.core.memory.buffer as ArrayBuffer, base, this.numRivals);
      for (let k = 0; k < rs.length; k++) rs[k] += after[k];
      worldStats.push(ws);
      rivalStats.push(rs);
      const mem = new Uint8Array(this.core.memory.buffer);
      const w = 1 - job.readHalf;
      const src = f.worldPtr(i);
      state.set(mem.subarray(src, src + wb), w * wb);
      onWorldDone?.(i);
    }
    const mem = this.core.memory.buffer as ArrayBuffer;
    const colPtr = (id: number) => f.expColumnPtr(id);
    const batches: RecordBatch[] = [];
    let row = 0;
    for (const rows of rowsPerWorld) {
      batches.push(experienceBatch(mem, colPtr, row, rows));
      row += rows;
    }
    const lateBatches: RecordBatch[] = [];
    let at = 0;
    for (const k of latePerWorld) {
      lateBatches.push(lateBatch(mem, f.expLatePtr(), at, at + k));
      at += k;
    }
    return {
      rowsIpc: toIpcStream(EXPERIENCE_SCHEMA, batches),
      lateIpc: toIpcStream(LATE_SCHEMA, lateBatches),
      rowsPerWorld,
      latePerWorld,
      decisions,
      late: at,
      worldStats,
      rivalStats,
    };
  }
}
