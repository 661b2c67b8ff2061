// Proportional prioritized experience replay (Schaul et al. 2016, "Prioritized Experience Replay",
// section 3.3 and appendix B.2.1): rows are sampled with probability P(i) = p_i^alpha / sum_k p_k^alpha
// where p_i = |delta_i| + eps, and corrected by importance weights w_i = (N P(i))^-beta / max_j w_j
// with beta annealed linearly to 1.
//
// Storage is columnar: one typed array per named column, `capacity` rows, written as a ring. The
// same class holds PPO decision rows (obs f32[50], actions u8, log-prob, targets...) and the rivals'
// small transitions. Two heap-ordered trees over the rows' p^alpha give O(log n) updates: a
// sum-tree for the proportional prefix-sum search and a min-tree for max_j w_j (the rarest row has
// the largest weight). They share one Float64Array, a node's sum and min side by side, so an
// update walking up touches one cache line per level instead of two. Internal nodes are always
// recomputed from their two children (never adjusted by a delta), so the trees never drift and
// are a pure function of the leaves: a snapshot stores only the leaves.
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import seedrandom from "seedrandom";
import { assertSeed } from "../env/seeds.js";

export type ColumnType = "f32" | "f64" | "i32" | "u32" | "u8";
export type ColumnArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** values per row (e.g. 50 for an observation); default 1 */
  width?: number;
}

export interface ReplayOptions {
  columns: ColumnSpec[];
  /** upper bound on the bytes of all storage (columns + sum-tree + min-tree); fixes `capacity` */
  maxBytes: number;
  /** priority exponent: 0 = uniform sampling, 1 = fully proportional; default 0.6 */
  alpha?: number;
  /** importance-sampling exponent at the first sample() call, in [0, 1]; default 0.4 */
  beta0?: number;
  /** sample() calls over which beta rises linearly from beta0 to exactly 1; omitted = beta stays beta0 */
  betaSteps?: number;
  /** added to |delta| so no row's probability is 0; > 0, default 1e-6 */
  eps?: number;
  /** seed of the sampling stream (non-negative safe integer) */
  seed: number;
}

/** Preallocated outputs for sample(); each at least n long. */
export interface SampleOutput {
  idx: Int32Array;
  weights: Float32Array;
}

const ARRAYS = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
} as const;

/** Inclusive value ranges of the integer column types (floats take any number). */
const INT_RANGE: Partial<Record<ColumnType, readonly [number, number]>> = {
  i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1],
  u8: [0, 255],
};

/** Two float64 trees (sum, min) of 2 * capacity nodes each (node 0 unused, root at 1). */
export const TREE_BYTES_PER_ROW = 2 * 2 * Float64Array.BYTES_PER_ELEMENT;
/** Row limit: keeps heap node indices (< 2 * capacity) inside int32 arithmetic. */
export const MAX_CAPACITY = 2 ** 30;

const OPTION_KEYS = ["columns", "maxBytes", "alpha", "beta0", "betaSteps", "eps", "seed"] as const;
const DEFAULTS = { alpha: 0.6, beta0: 0.4, eps: 1e-6 } as const;
/** Priority given to rows added before any priority is known (Schaul: "maximal priority"). */
const INITIAL_MAX_PRIORITY = 1;

/** Snapshot framing: 8-byte format tag, CRC-32 of the payload (u32 LE), msgpack payload. */
const MAGIC = new TextEncoder().encode("GAELPPER");
const HEADER_BYTES = MAGIC.length + 4;
const FORMAT_VERSION = 1;
// moreTypes keeps each typed array's element type (plain msgpack bin would not, see
// tests/msgpackr.test.ts); no records so any msgpack reader can decode the payload.
const packr = new Packr({ moreTypes: true, useRecords: false });

interface Column {
  name: string;
  type: ColumnType;
  width: number;
  data: ColumnArray;
}

interface Resolved {
  columns: { name: string; type: ColumnType; width: number }[];
  maxBytes: number;
  alpha: number;
  beta0: number;
  betaSteps: number | undefined;
  eps: number;
  seed: number;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function resolveOptions(opts: ReplayOptions): Resolved {
  if (opts === null || typeof opts !== "object") throw new TypeError("replay options must be an object");
  for (const key of Object.keys(opts)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`replay option "${key}" is unknown; allowed: ${OPTION_KEYS.join(", ")}`);
    }
  }
  const { columns } = opts;
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new TypeError("replay option columns must be a non-empty array of {name, type, width?}");
  }
  const seen = new Set<string>();
  const resolved = columns.map((c, k) => {
    if (c === null || typeof c !== "object") throw new TypeError(`columns[${k}] must be an object {name, type, width?}`);
    if (typeof c.name !== "string" || c.name.length === 0) throw new TypeError(`columns[${k}].name must be a non-empty string`);
    if (seen.has(c.name)) throw new TypeError(`columns[${k}].name "${c.name}" is used by another column`);
    seen.add(c.name);
    if (!Object.hasOwn(ARRAYS, c.type)) {
      throw new TypeError(`columns[${k}].type (column "${c.name}") is ${JSON.stringify(c.type)}; allowed: ${Object.keys(ARRAYS).join(", ")}`);
    }
    const width = c.width ?? 1;
    if (!Number.isSafeInteger(width) || width < 1) {
      throw new RangeError(`columns[${k}].width (column "${c.name}") must be a positive integer, got ${c.width}`);
    }
    return { name: c.name, type: c.type, width };
  });
  if (!isFiniteNumber(opts.maxBytes) || opts.maxBytes <= 0) {
    throw new RangeError(`replay option maxBytes must be a finite number > 0, got ${opts.maxBytes}`);
  }
  const alpha = opts.alpha ?? DEFAULTS.alpha;
  if (!isFiniteNumber(alpha) || alpha < 0) throw new RangeError(`replay option alpha must be a finite number >= 0, got ${opts.alpha}`);
  const beta0 = opts.beta0 ?? DEFAULTS.beta0;
  if (!isFiniteNumber(beta0) || beta0 < 0 || beta0 > 1) throw new RangeError(`replay option beta0 must be in [0, 1], got ${opts.beta0}`);
  const { betaSteps } = opts;
  if (betaSteps !== undefined && (!Number.isSafeInteger(betaSteps) || betaSteps < 1)) {
    throw new RangeError(`replay option betaSteps must be a positive integer (or omitted for a constant beta), got ${betaSteps}`);
  }
  const eps = opts.eps ?? DEFAULTS.eps;
  if (!isFiniteNumber(eps) || eps <= 0) throw new RangeError(`replay option eps must be a finite number > 0, got ${opts.eps}`);
  assertSeed(opts.seed, "replay option seed");
  return { columns: resolved, maxBytes: opts.maxBytes, alpha, beta0, betaSteps, eps, seed: opts.seed };
}

export class PrioritizedReplay {
  /** rows that fit in maxBytes */
  readonly capacity: number;
  /** bytes one row costs: its column values plus its share of the two trees */
  readonly bytesPerRow: number;

  private readonly opts: Resolved;
  private readonly columns = new Map<string, Column>();
  /** Heap order: node i has children 2i and 2i+1; leaves (one per slot) at capacity + slot. Node i's
   *  sum is tree[2i], its min tree[2i + 1]. */
  private readonly tree: Float64Array;
  /** leaves of updatePriorities(), reused across calls */
  private scratch = new Float64Array(0);
  private cursor = 0;
  private count = 0;
  private maxRaw = INITIAL_MAX_PRIORITY;
  private betaStep = 0;
  private rng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;

  constructor(opts: ReplayOptions) {
    this.opts = resolveOptions(opts);
    let columnBytes = 0;
    for (const c of this.opts.columns) columnBytes += c.width * ARRAYS[c.type].BYTES_PER_ELEMENT;
    this.bytesPerRow = columnBytes + TREE_BYTES_PER_ROW;
    const capacity = Math.floor(this.opts.maxBytes / this.bytesPerRow);
    if (capacity < 1) {
      throw new RangeError(
        `replay option maxBytes = ${this.opts.maxBytes} holds no row: one row needs ${this.bytesPerRow} bytes ` +
          `(${columnBytes} of columns + ${TREE_BYTES_PER_ROW} of sum/min trees)`,
      );
    }
    if (capacity > MAX_CAPACITY) {
      throw new RangeError(`replay option maxBytes = ${this.opts.maxBytes} gives ${capacity} rows; at most ${MAX_CAPACITY} are supported`);
    }
    this.capacity = capacity;
    for (const c of this.opts.columns) {
      this.columns.set(c.name, { ...c, data: new ARRAYS[c.type](capacity * c.width) });
    }
    this.tree = new Float64Array(4 * capacity);
    for (let i = 1; i < 4 * capacity; i += 2) this.tree[i] = Infinity; // mins of empty subtrees
    this.rng = seedrandom.alea(`gaelp.replay/${this.opts.seed}`, { state: true });
  }

  /** rows stored (grows to capacity, then stays there as the ring overwrites the oldest) */
  get size(): number {
    return this.count;
  }

  /** the beta the next sample() will use */
  get beta(): number {
    const { beta0, betaSteps } = this.opts;
    if (betaSteps === undefined) return beta0;
    return this.betaStep >= betaSteps ? 1 : beta0 + ((1 - beta0) * this.betaStep) / betaSteps;
  }

  /** sum over stored rows of p^alpha */
  get totalPriority(): number {
    return this.tree[2];
  }

  /** smallest p^alpha over stored rows (Infinity while empty) */
  get minPriority(): number {
    return this.tree[3];
  }

  /** largest raw priority (|delta|) seen so far, given to rows added without priorities; starts at 1 */
  get maxPriority(): number {
    return this.maxRaw;
  }

  /** bytes held by the columns and trees: capacity * bytesPerRow <= maxBytes */
  get byteLength(): number {
    let bytes = this.tree.byteLength;
    for (const c of this.columns.values()) bytes += c.data.byteLength;
    return bytes;
  }

  /** the stored p^alpha of a filled slot */
  priority(slot: number): number {
    this.checkSlot(slot, "priority: slot");
    return this.tree[2 * (this.capacity + slot)];
  }

  /** A column's whole storage (capacity * width values; slot s at [s*width, (s+1)*width)). */
  column(name: string): ColumnArray {
    return this.getColumn(name, "column").data;
  }

  /**
   * Appends n rows at the ring cursor, overwriting the oldest rows once full (rows of this call
   * beyond capacity overwrite its own earlier rows, as if added one by one). `data` holds every
   * column, n * width values each: a typed array of the column's type is copied as is; any other
   * array-like is checked value by value (integer columns: integers in the type's range).
   * `priorities`: raw |delta| per row (alpha applied here); omitted = the max priority seen so far.
   * Everything is validated before anything is written. Returns the slot of each row.
   */
  add(n: number, data: Record<string, ArrayLike<number>>, priorities?: ArrayLike<number>): Int32Array {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`add: n must be a non-negative integer, got ${n}`);
    if (data === null || typeof data !== "object") throw new TypeError("add: data must be an object {column name: values}");
    for (const key of Object.keys(data)) this.getColumn(key, "add: data");
    for (const c of this.columns.values()) {
      const src = data[c.name];
      if (src === undefined || src === null || typeof src.length !== "number") {
        throw new TypeError(`add: data is missing column "${c.name}" (${n} x ${c.width} ${c.type} values)`);
      }
      if (src.length !== n * c.width) {
        throw new RangeError(`add: column "${c.name}" needs n * width = ${n} * ${c.width} = ${n * c.width} values, got ${src.length}`);
      }
      if (!(src instanceof ARRAYS[c.type])) checkValues(src, c);
    }
    let leaves: Float64Array | undefined;
    if (priorities !== undefined) {
      if (priorities === null || priorities.length !== n) {
        throw new RangeError(`add: priorities must hold one value per row (${n}), got ${priorities === null ? null : priorities.length}`);
      }
      leaves = new Float64Array(n);
      this.leaves(priorities, n, leaves, (r) => `add: priorities[${r}]`);
    }

    const cap = this.capacity;
    const start = this.cursor;
    const slots = new Int32Array(n);
    for (let r = 0; r < n; r++) slots[r] = (start + r) % cap;
    // Only the last `cap` rows survive; write just those.
    const skip = Math.max(0, n - cap);
    const first = (start + skip) % cap;
    const kept = n - skip;
    const headRows = Math.min(kept, cap - first); // rows up to the end of storage, then wrap to 0
    for (const c of this.columns.values()) {
      const src = data[c.name];
      const w = c.width;
      copyRows(c.data, first * w, src, skip * w, headRows * w);
      copyRows(c.data, 0, src, (skip + headRows) * w, (kept - headRows) * w);
    }
    const fallback = leaves === undefined ? this.leafOf(this.maxRaw, "max priority") : 0;
    if (priorities !== undefined) {
      for (let r = 0; r < n; r++) if (priorities[r] > this.maxRaw) this.maxRaw = priorities[r];
    }
    for (let r = skip; r < n; r++) this.setLeaf(slots[r], leaves === undefined ? fallback : leaves[r]);
    this.cursor = (start + n) % cap;
    this.count = Math.min(this.count + n, cap);
    return slots;
  }

  /**
   * Draws n slots with probability p^alpha / total, one uniform draw in each of n equal segments
   * of the total (stratified), and their importance weights (N P(i))^-beta / max_j (N P(j))^-beta
   * over all stored rows j; then advances beta. `out` reuses preallocated arrays (>= n long).
   */
  sample(n: number, out?: SampleOutput): { idx: Int32Array; weights: Float32Array } {
    if (this.count === 0) throw new RangeError("sample: the replay is empty; add() rows first");
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`sample: n must be a positive integer, got ${n}`);
    let idx: Int32Array;
    let weights: Float32Array;
    if (out === undefined) {
      idx = new Int32Array(n);
      weights = new Float32Array(n);
    } else {
      if (!(out.idx instanceof Int32Array) || out.idx.length < n) throw new RangeError(`sample: out.idx must be an Int32Array of at least ${n}`);
      if (!(out.weights instanceof Float32Array) || out.weights.length < n) {
        throw new RangeError(`sample: out.weights must be a Float32Array of at least ${n}`);
      }
      idx = out.idx.length === n ? out.idx : out.idx.subarray(0, n);
      weights = out.weights.length === n ? out.weights : out.weights.subarray(0, n);
    }
    const tree = this.tree;
    const cap = this.capacity;
    const segment = tree[2] / n;
    const minLeaf = tree[3];
    const negBeta = -this.beta;
    for (let k = 0; k < n; k++) {
      let target = (k + this.rng.double()) * segment;
      let i = 1;
      while (i < cap) {
        const leftSum = tree[4 * i];
        // Go right only into mass: rounding may leave target at or past the total, and an empty
        // slot (mass 0) must never be drawn.
        if (target < leftSum || tree[4 * i + 2] <= 0) {
          i = 2 * i;
        } else {
          target -= leftSum;
          i = 2 * i + 1;
        }
      }
      idx[k] = i - cap;
      // (N P(i))^-beta / max_j (N P(j))^-beta = (p_i / p_min)^-beta: N and the total cancel.
      weights[k] = Math.pow(tree[2 * i] / minLeaf, negBeta);
    }
    this.betaStep++;
    return { idx, weights };
  }

  /** Copies the rows `idx` of one column into `out` (or a new array): idx.length * width values. */
  gather(name: string, idx: Int32Array, out?: ColumnArray): ColumnArray {
    const c = this.getColumn(name, "gather");
    const w = c.width;
    const n = idx.length;
    let dst: ColumnArray;
    if (out === undefined) {
      dst = new ARRAYS[c.type](n * w);
    } else {
      if (!(out instanceof ARRAYS[c.type]) || out.length < n * w) {
        throw new RangeError(`gather: out for column "${name}" must be a ${ARRAYS[c.type].name} of at least ${n * w} values`);
      }
      dst = out.length === n * w ? out : out.subarray(0, n * w);
    }
    this.checkSlots(idx, "gather");
    const src = c.data;
    if (w === 1) {
      for (let k = 0; k < n; k++) dst[k] = src[idx[k]];
    } else {
      for (let k = 0; k < n; k++) {
        const from = idx[k] * w;
        const to = k * w;
        for (let j = 0; j < w; j++) dst[to + j] = src[from + j];
      }
    }
    return dst;
  }

  /**
   * Sets the priorities of filled slots to raw |delta| (alpha applied here); a slot listed twice
   * keeps its last value. All values are checked before any is applied.
   */
  updatePriorities(idx: Int32Array, priorities: ArrayLike<number>): void {
    if (!(idx instanceof Int32Array)) throw new TypeError("updatePriorities: idx must be an Int32Array (as sample() returns)");
    if (priorities === null || priorities === undefined || priorities.length !== idx.length) {
      throw new RangeError(`updatePriorities: priorities must hold one value per index (${idx.length}), got ${priorities?.length}`);
    }
    const n = idx.length;
    this.checkSlots(idx, "updatePriorities");
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const leaves = this.scratch;
    this.leaves(priorities, n, leaves, (k) => `updatePriorities: priorities[${k}] (slot ${idx[k]})`);
    for (let k = 0; k < n; k++) {
      if (priorities[k] > this.maxRaw) this.maxRaw = priorities[k];
      this.setLeaf(idx[k], leaves[k]);
    }
  }

  /**
   * Everything needed to continue bit-identically: options, the filled part of each column, the
   * trees' leaves, cursor, size, max priority, beta step and RNG state. Layout: "GAELPPER", CRC-32
   * (u32 little-endian) of the rest, then one msgpack map (docs/replay.md).
   */
  serialize(): Uint8Array {
    const o = this.opts;
    const data: Record<string, ColumnArray> = {};
    for (const c of this.columns.values()) data[c.name] = c.data.subarray(0, this.count * c.width);
    const st = this.rng.state();
    const leaves = new Float64Array(this.count);
    for (let s = 0; s < this.count; s++) leaves[s] = this.tree[2 * (this.capacity + s)];
    const payload = packr.pack({
      format: "gaelp.replay",
      version: FORMAT_VERSION,
      options: { columns: o.columns, maxBytes: o.maxBytes, alpha: o.alpha, beta0: o.beta0, betaSteps: o.betaSteps ?? null, eps: o.eps, seed: o.seed },
      capacity: this.capacity,
      size: this.count,
      cursor: this.cursor,
      maxPriority: this.maxRaw,
      betaStep: this.betaStep,
      rng: new Float64Array([st.c, st.s0, st.s1, st.s2]),
      leaves,
      data,
    });
    const bytes = new Uint8Array(HEADER_BYTES + payload.length);
    bytes.set(MAGIC, 0);
    new DataView(bytes.buffer).setUint32(MAGIC.length, crc32(payload), true);
    bytes.set(payload, HEADER_BYTES);
    return bytes;
  }

  /** Restores a serialize() snapshot; throws a clear error on a foreign, corrupt or truncated one. */
  static deserialize(bytes: Uint8Array): PrioritizedReplay {
    const fail = (why: string): never => {
      throw new Error(`PrioritizedReplay.deserialize: ${why}`);
    };
    if (!(bytes instanceof Uint8Array)) throw new TypeError("PrioritizedReplay.deserialize: bytes must be a Uint8Array");
    if (bytes.length < HEADER_BYTES || MAGIC.some((b, k) => bytes[k] !== b)) {
      fail(`not a replay snapshot (no "GAELPPER" format tag in the first ${MAGIC.length} bytes of ${bytes.length})`);
    }
    const payload = bytes.subarray(HEADER_BYTES);
    const want = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
    const got = crc32(payload);
    if (got !== want) fail(`corrupt or truncated snapshot: CRC-32 of the ${payload.length}-byte payload is ${got}, header says ${want}`);
    let s: Record<string, unknown>;
    try {
      s = packr.unpack(payload) as Record<string, unknown>;
    } catch (err) {
      return fail(`payload is not valid msgpack (${err instanceof Error ? err.message : String(err)})`);
    }
    if (s === null || typeof s !== "object" || s.format !== "gaelp.replay") fail('payload format is not "gaelp.replay"');
    if (s.version !== FORMAT_VERSION) fail(`snapshot version ${String(s.version)} is not supported (this build reads ${FORMAT_VERSION})`);
    const so = s.options as Record<string, unknown> | undefined;
    if (so === null || typeof so !== "object") return fail("options missing");
    let replay: PrioritizedReplay;
    try {
      replay = new PrioritizedReplay({ ...(so as unknown as ReplayOptions), betaSteps: (so.betaSteps ?? undefined) as number | undefined });
    } catch (err) {
      return fail(`options: ${err instanceof Error ? err.message : String(err)}`);
    }
    const cap = replay.capacity;
    if (s.capacity !== cap) fail(`capacity ${String(s.capacity)} does not match the ${cap} rows its options give`);
    const size = s.size;
    if (!Number.isSafeInteger(size) || (size as number) < 0 || (size as number) > cap) fail(`size ${String(size)} is not in [0, ${cap}]`);
    const n = size as number;
    const cursor = s.cursor;
    // Slots fill from 0, so until the ring is full the cursor is the size.
    if (!Number.isSafeInteger(cursor) || (cursor as number) < 0 || (cursor as number) >= cap || (n < cap && cursor !== n % cap)) {
      fail(`cursor ${String(cursor)} is inconsistent with size ${n} and capacity ${cap}`);
    }
    if (!isFiniteNumber(s.maxPriority) || s.maxPriority < 0) fail(`maxPriority ${String(s.maxPriority)} is not a finite number >= 0`);
    if (!Number.isSafeInteger(s.betaStep) || (s.betaStep as number) < 0) fail(`betaStep ${String(s.betaStep)} is not a non-negative integer`);
    const rng = s.rng;
    if (!(rng instanceof Float64Array) || rng.length !== 4 || !rng.every(Number.isFinite)) fail("rng state is not 4 finite float64 values");
    const leaves = s.leaves;
    if (!(leaves instanceof Float64Array) || leaves.length !== n) fail(`leaves must be a Float64Array of ${n} priorities`);
    for (let k = 0; k < n; k++) {
      const v = (leaves as Float64Array)[k];
      if (!(v > 0 && v < Infinity)) fail(`leaves[${k}] = ${v} is not a positive finite priority`);
    }
    const data = s.data as Record<string, unknown> | undefined;
    if (data === null || typeof data !== "object") return fail("column data missing");
    for (const key of Object.keys(data)) if (!replay.columns.has(key)) fail(`data has column "${key}" that the options do not declare`);
    for (const c of replay.columns.values()) {
      const src = data[c.name];
      if (!(src instanceof ARRAYS[c.type]) || src.length !== n * c.width) {
        fail(`column "${c.name}" must be a ${ARRAYS[c.type].name} of ${n} * ${c.width} values`);
      }
      c.data.set(src as ColumnArray);
    }

    for (let k = 0; k < n; k++) {
      replay.tree[2 * (cap + k)] = (leaves as Float64Array)[k];
      replay.tree[2 * (cap + k) + 1] = (leaves as Float64Array)[k];
    }
    replay.rebuild();
    replay.cursor = cursor as number;
    replay.count = n;
    replay.maxRaw = s.maxPriority as number;
    replay.betaStep = s.betaStep as number;
    const [c, s0, s1, s2] = rng as Float64Array;
    replay.rng = seedrandom.alea("", { state: { c, s0, s1, s2 } });
    return replay;
  }

  private getColumn(name: string, where: string): Column {
    const c = this.columns.get(name);
    if (c === undefined) {
      throw new RangeError(`${where}: unknown column "${name}"; columns: ${[...this.columns.keys()].join(", ")}`);
    }
    return c;
  }

  private checkSlot(slot: number, what: string): void {
    if (!(slot >= 0 && slot < this.count && Number.isInteger(slot))) {
      throw new RangeError(`${what} = ${slot} is not a filled slot (0..${this.count - 1})`);
    }
  }

  private checkSlots(idx: Int32Array, where: string): void {
    const n = this.count;
    for (let k = 0; k < idx.length; k++) {
      const s = idx[k];
      if (!(s >= 0 && s < n)) this.checkSlot(s, `${where}: idx[${k}]`);
    }
  }

  /** (|delta| + eps)^alpha of the first n priorities into `out`, checked; `what(k)` names a bad
   *  value and is only called on failure (these loops run for every learner minibatch). */
  private leaves(priorities: ArrayLike<number>, n: number, out: Float64Array, what: (k: number) => string): void {
    const { eps, alpha } = this.opts;
    for (let k = 0; k < n; k++) {
      const p = priorities[k];
      const leaf = Math.pow(p + eps, alpha);
      if (!(typeof p === "number" && p >= 0 && leaf > 0 && leaf < Infinity)) this.leafOf(p, what(k));
      out[k] = leaf;
    }
  }

  /** (|delta| + eps)^alpha, checked: the trees only ever hold positive finite leaves. */
  private leafOf(p: number, what: string): number {
    if (!(typeof p === "number" && p >= 0 && p < Infinity)) throw new RangeError(`${what} = ${p} must be a finite number >= 0`);
    const leaf = Math.pow(p + this.opts.eps, this.opts.alpha);
    if (!(leaf > 0 && leaf < Infinity)) {
      throw new RangeError(`${what} = ${p} gives (p + eps)^alpha = ${leaf}, outside float64's positive finite range`);
    }
    return leaf;
  }

  private setLeaf(slot: number, leaf: number): void {
    let i = this.capacity + slot;
    this.tree[2 * i] = leaf;
    this.tree[2 * i + 1] = leaf;
    for (i >>= 1; i >= 1; i >>= 1) this.pull(i);
  }

  /** Recomputes every internal node from its children (the same arithmetic as setLeaf). */
  private rebuild(): void {
    for (let i = this.capacity - 1; i >= 1; i--) this.pull(i);
  }

  /** Node i's sum and min from its children 2i and 2i+1 (at tree[4i..4i+3]). */
  private pull(i: number): void {
    const t = this.tree;
    const c = 4 * i;
    t[2 * i] = t[c] + t[c + 2];
    const a = t[c + 1];
    const b = t[c + 3];
    t[2 * i + 1] = a < b ? a : b;
  }
}

/** Rejects values an integer column would silently wrap or truncate. */
function checkValues(src: ArrayLike<number>, c: { name: string; type: ColumnType }): void {
  const range = INT_RANGE[c.type];
  for (let k = 0; k < src.length; k++) {
    const v = src[k];
    if (typeof v !== "number") throw new TypeError(`add: column "${c.name}" value [${k}] is ${typeof v}, not a number`);
    if (range !== undefined && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) {
      throw new RangeError(`add: column "${c.name}" (${c.type}) value [${k}] = ${v} is not an integer in [${range[0]}, ${range[1]}]`);
    }
  }
}

function copyRows(dst: ColumnArray, at: number, src: ArrayLike<number>, from: number, count: number): void {
  if (count <= 0) return;
  if (src.constructor === dst.constructor) {
    dst.set((src as ColumnArray).subarray(from, from + count), at);
  } else {
    for (let k = 0; k < count; k++) dst[at + k] = src[from + k];
  }
}
