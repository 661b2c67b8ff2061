// `gaelp rollout`: run the engine for a few iterations and write the experience as an Arrow IPC
// file (one record batch per world per iteration) that any Arrow reader opens.
import { readFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { RecordBatch } from "apache-arrow";
import type { GaelpConfig } from "../env/config.js";
import { RolloutEngine } from "../engine/rollout_engine.js";
import { EXPERIENCE_SCHEMA, LATE_SCHEMA, toIpcFile } from "../engine/experience.js";
import { writeFileAtomic } from "./fsutil.js";
import { defaultPolicySpec, policyLayout, type PolicySpec } from "../agents/policy/spec.js";

export interface RolloutOptions {
  config: GaelpConfig;
  worlds: number;
  hours: number;
  iterations: number;
  seed: number;
  threads?: number;
  worldsPerTask?: number;
  greedy?: boolean;
  /** canonical policy weights; default: the uniform policy (every bid level and creative equally likely) */
  weights?: Float32Array;
  spec?: PolicySpec;
  out: string;
}

export interface RolloutReport {
  out: string;
  lateOut: string | null;
  worlds: number;
  iterations: number;
  hours: number;
  rows: number;
  decisions: number;
  lateEvents: number;
  retries: number;
  seconds: number;
  rowsPerSecond: number;
  bytes: number;
}

/** The uniform policy: zero weights (equal logits) over identity normalisation. */
export function uniformPolicy(spec: PolicySpec): Float32Array {
  const { slots, size } = policyLayout(spec);
  const w = new Float32Array(size);
  const std = slots.find((s) => s.name === "obs_std")!;
  w.fill(1, std.offset, std.offset + std.size);
  return w;
}

/** Raw little-endian float32 weights in the canonical layout (agents/policy/spec.ts). */
export function readWeightsFile(file: string, spec: PolicySpec): Float32Array {
  const buf = readFileSync(file);
  const want = policyLayout(spec).size;
  if (buf.byteLength !== want * 4) throw new RangeError(`${file}: ${buf.byteLength} bytes; the policy needs ${want} float32 values (${want * 4} bytes)`);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Writes an Arrow IPC file atomically and durably (fsutil.writeFileAtomic). */
export function writeArrowFile(file: string, schema: typeof EXPERIENCE_SCHEMA, batches: RecordBatch[]): number {
  const bytes = toIpcFile(schema, batches);
  const target = resolve(file);
  mkdirSync(dirname(target), { recursive: true });
  writeFileAtomic(target, bytes);
  return bytes.byteLength;
}

export async function runRollout(o: RolloutOptions): Promise<RolloutReport> {
  const spec = o.spec ?? defaultPolicySpec(o.config.campaign.creatives.length);
  const engine = new RolloutEngine({ config: o.config, policy: spec, worlds: o.worlds, seed: o.seed, threads: o.threads, worldsPerTask: o.worldsPerTask });
  try {
    engine.setPolicy(o.weights ?? uniformPolicy(spec), 0);
    const batches: RecordBatch[] = [];
    const late: RecordBatch[] = [];
    let decisions = 0;
    let retries = 0;
    let seconds = 0;
    for (let i = 0; i < o.iterations; i++) {
      const r = await engine.run({ hours: o.hours, greedy: o.greedy });
      batches.push(...r.batches);
      late.push(...r.late);
      decisions += r.decisions;
      retries += r.retries;
      seconds += r.seconds;
    }
    const rows = batches.reduce((a, b) => a + b.numRows, 0);
    const lateEvents = late.reduce((a, b) => a + b.numRows, 0);
    const bytes = writeArrowFile(o.out, EXPERIENCE_SCHEMA, batches);
    let lateOut: string | null = null;
    if (lateEvents > 0) {
      lateOut = o.out.replace(/(\.arrow)?$/, ".late.arrow");
      writeArrowFile(lateOut, LATE_SCHEMA, late);
    }
    return { out: resolve(o.out), lateOut: lateOut && resolve(lateOut), worlds: o.worlds, iterations: o.iterations, hours: o.hours, rows, decisions, lateEvents, retries, seconds, rowsPerSecond: rows / seconds, bytes };
  } finally {
    await engine.close();
  }
}
