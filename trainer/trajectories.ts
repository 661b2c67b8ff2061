// Journeys as trajectories. A trajectory is one user's journey as our agent saw it: our decisions
// on that user, in order, until the journey ends (converted or lost). Conversion credit reaches a
// decision days after it was made -- in place while the decision's rows are still in the engine's
// iteration, as late events afterwards -- so a trajectory is only complete, and its returns only
// known, when the journey ends. The store keeps the rows of open journeys across iterations,
// applies late credit and journey ends to them, and hands out complete trajectories (plus
// trajectories truncated because they stayed open too long or their world was re-created), each
// contiguous and in decision order, for GAE.
//
// Rows of users that the engine's importance sampling dropped never arrive; late events addressed
// to them are counted (`unmatchedLate`), never silently ignored.
import type { RecordBatch, Vector } from "apache-arrow";
import { OBS_DIM } from "../wasm/layout.js";

export const END_NONE = 0;
export const END_CONVERTED = 1;
export const END_LOST = 2;
/** a trajectory cut by the trainer (too old, or its world re-created): bootstrapped, not terminal */
export const END_TRUNCATED = 3;

/** Rows in columns; obs is rows x OBS_DIM. */
export class RowColumns {
  n = 0;
  cap: number;
  world: Uint32Array;
  decision: Uint32Array;
  user: Uint32Array;
  hour: Int32Array;
  obs: Float32Array;
  bidLevel: Uint8Array;
  creative: Uint8Array;
  logp: Float32Array;
  value: Float32Array;
  cost: Float32Array;
  attributed: Float64Array;
  weight: Float32Array;
  end: Uint8Array;
  won: Uint8Array;
  version: Uint32Array;

  constructor(cap = 1024) {
    this.cap = Math.max(1, cap);
    this.world = new Uint32Array(this.cap);
    this.decision = new Uint32Array(this.cap);
    this.user = new Uint32Array(this.cap);
    this.hour = new Int32Array(this.cap);
    this.obs = new Float32Array(this.cap * OBS_DIM);
    this.bidLevel = new Uint8Array(this.cap);
    this.creative = new Uint8Array(this.cap);
    this.logp = new Float32Array(this.cap);
    this.value = new Float32Array(this.cap);
    this.cost = new Float32Array(this.cap);
    this.attributed = new Float64Array(this.cap);
    this.weight = new Float32Array(this.cap);
    this.end = new Uint8Array(this.cap);
    this.won = new Uint8Array(this.cap);
    this.version = new Uint32Array(this.cap);
  }

  static readonly FIELDS = ["world", "decision", "user", "hour", "obs", "bidLevel", "creative", "logp", "value", "cost", "attributed", "weight", "end", "won", "version"] as const;

  reserve(total: number): void {
    if (total <= this.cap) return;
    let cap = this.cap;
    while (cap < total) cap *= 2;
    for (const f of RowColumns.FIELDS) {
      const old = this[f];
      const width = f === "obs" ? OBS_DIM : 1;
      const next = new (old.constructor as new (n: number) => typeof old)(cap * width);
      next.set(old.subarray(0, this.n * width) as never);
      (this as unknown as Record<string, unknown>)[f] = next;
    }
    this.cap = cap;
  }

  /** Copies rows `idx` of `src` (in that order) to the end of this. */
  appendFrom(src: RowColumns, idx: ArrayLike<number>): void {
    const m = idx.length;
    this.reserve(this.n + m);
    const at = this.n;
    // one monomorphic loop per element type: a loop over all fields sees five array types and
    // goes megamorphic, which made this the trainer's costliest function
    gatherU32(this.world, src.world, idx, at);
    gatherU32(this.decision, src.decision, idx, at);
    gatherU32(this.user, src.user, idx, at);
    gatherU32(this.version, src.version, idx, at);
    gatherI32(this.hour, src.hour, idx, at);
    gatherF32(this.logp, src.logp, idx, at);
    gatherF32(this.value, src.value, idx, at);
    gatherF32(this.cost, src.cost, idx, at);
    gatherF32(this.weight, src.weight, idx, at);
    gatherF64(this.attributed, src.attributed, idx, at);
    gatherU8(this.bidLevel, src.bidLevel, idx, at);
    gatherU8(this.creative, src.creative, idx, at);
    gatherU8(this.end, src.end, idx, at);
    gatherU8(this.won, src.won, idx, at);
    const so = src.obs;
    const d = this.obs;
    for (let i = 0; i < m; i++) {
      const a = idx[i] * OBS_DIM;
      const b = (at + i) * OBS_DIM;
      for (let k = 0; k < OBS_DIM; k++) d[b + k] = so[a + k];
    }
    this.n += m;
  }

  /** Appends every row of an experience record batch (engine/experience.ts schema). */
  appendBatch(b: RecordBatch): void {
    const m = b.numRows;
    if (m === 0) return;
    this.reserve(this.n + m);
    const n0 = this.n;
    const col = (name: string): Vector => {
      const c = b.getChild(name);
      if (!c) throw new Error(`experience batch has no column '${name}'`);
      return c;
    };
    const copy = (name: string, dst: { set(a: ArrayLike<number>, o: number): void }) => {
      // one contiguous typed array per column for the batches the engine emits (one chunk each)
      const v = col(name);
      let at = n0;
      for (const d of v.data) {
        const values = d.values as ArrayLike<number>;
        const len = d.length;
        dst.set((values as Float32Array).subarray(d.offset, d.offset + len), at);
        at += len;
      }
    };
    copy("world", this.world);
    copy("decision", this.decision);
    copy("user", this.user);
    copy("hour", this.hour);
    copy("bid_level", this.bidLevel);
    copy("creative", this.creative);
    copy("logp", this.logp);
    copy("value", this.value);
    copy("cost", this.cost);
    copy("attributed_value", this.attributed);
    copy("weight", this.weight);
    copy("journey_end", this.end);
    copy("won", this.won);
    copy("policy_version", this.version);
    let at = n0;
    for (const d of col("obs").data) {
      const child = d.children[0];
      const values = child.values as Float32Array;
      const off = (d.offset + child.offset) * OBS_DIM;
      this.obs.set(values.subarray(off, off + d.length * OBS_DIM), at * OBS_DIM);
      at += d.length;
    }
    this.n += m;
  }
}

function gatherU32(dst: Uint32Array, src: Uint32Array, idx: ArrayLike<number>, at: number): void {
  for (let i = 0; i < idx.length; i++) dst[at + i] = src[idx[i]];
}
function gatherI32(dst: Int32Array, src: Int32Array, idx: ArrayLike<number>, at: number): void {
  for (let i = 0; i < idx.length; i++) dst[at + i] = src[idx[i]];
}
function gatherF32(dst: Float32Array, src: Float32Array, idx: ArrayLike<number>, at: number): void {
  for (let i = 0; i < idx.length; i++) dst[at + i] = src[idx[i]];
}
function gatherF64(dst: Float64Array, src: Float64Array, idx: ArrayLike<number>, at: number): void {
  for (let i = 0; i < idx.length; i++) dst[at + i] = src[idx[i]];
}
function gatherU8(dst: Uint8Array, src: Uint8Array, idx: ArrayLike<number>, at: number): void {
  for (let i = 0; i < idx.length; i++) dst[at + i] = src[idx[i]];
}

export interface LateEvents {
  world: ArrayLike<number>;
  decision: ArrayLike<number>;
  kind: ArrayLike<number>; // 1 credit, 2 converted, 3 lost
  value: ArrayLike<number>;
  length: number;
}

/** The engine's late-event record batches (LATE_SCHEMA) as columns for TrajectoryStore.ingest. */
export function lateEventsOf(batches: RecordBatch[]): LateEvents[] {
  return batches.filter((b) => b.numRows > 0).map((b) => {
    const col = (n: string) => b.getChild(n)!.toArray() as ArrayLike<number>;
    return { world: col("world"), decision: col("decision"), kind: col("kind"), value: col("value"), length: b.numRows };
  });
}

/** Complete trajectories, rows contiguous per trajectory and in decision order. */
export interface TrajectoryBatch {
  rows: RowColumns;
  /** trajectory t spans rows [start[t], start[t+1]) */
  start: Int32Array;
  /** END_* of each trajectory */
  kind: Uint8Array;
  count: number;
}

export interface IngestStats {
  rowsIn: number;
  lateCredit: number;
  lateEnds: number;
  unmatchedLate: number;
  completed: number;
  truncated: number;
  open: number;
  openRows: number;
}

const worldKey = (world: number, user: number): number => world * 0x100000000 + user;

const NO_ROW = -1;

/**
 * Open trajectories over one append-only row table. Each trajectory is a slot holding its rows as a
 * linked list in row order (head, tail, next per row), so an iteration's work is proportional to
 * its new rows, its late events and the rows it hands out -- not to every open row. Handed-out rows
 * are marked dead and the table is compacted (order kept) once dead rows outnumber live ones.
 */
export class TrajectoryStore {
  private rows = new RowColumns(4096);
  /** slot of each row's trajectory; NO_ROW once the row was handed out */
  private rowSlot = new Int32Array(4096);
  /** next row of the same trajectory, NO_ROW at its tail */
  private rowNext = new Int32Array(4096);
  private liveRows = 0;
  // trajectory slots (reused through a free list)
  private slotId = new Float64Array(256);
  private slotKey = new Float64Array(256);
  private slotHead = new Int32Array(256);
  private slotTail = new Int32Array(256);
  /** END_* once closed in this ingest, END_NONE while open */
  private slotEnd = new Uint8Array(256);
  private freeSlots: number[] = [];
  private slotsUsed = 0;
  private nextTraj = 0;
  /** (world, user) -> slot of its open trajectory (insertion order is the checkpoint's order) */
  private open = new Map<number, number>();
  /** (world, decision) -> live row, for late events */
  private byDecision = new Map<number, number>();
  /** slots closed in this ingest */
  private closed: number[] = [];
  unmatchedLateTotal = 0;

  get openRows(): number {
    return this.liveRows;
  }

  get openTrajectories(): number {
    return this.open.size;
  }

  /**
   * Adds one iteration's experience: late events first (they address rows of earlier iterations),
   * then the new rows. Trajectories whose journey ended, whose newest row is older than
   * `maxOpenHours` before `nowHour`, whose first row is older than `maxAgeHours` (0: no limit), or
   * whose world is listed in `resetWorlds` (re-created: the journey can never end) are removed and
   * returned.
   *
   * `maxAgeHours` bounds the store: a journey times out only after days without any advertiser's
   * touch, so a user the market keeps reaching holds a journey open indefinitely, long after its
   * conversion window has closed and nothing but costs can reach its rows.
   */
  ingest(batches: RecordBatch[], late: LateEvents[], nowHour: number, maxOpenHours: number, resetWorlds?: ReadonlySet<number>, maxAgeHours = 0): { out: TrajectoryBatch; stats: IngestStats } {
    const st: IngestStats = { rowsIn: 0, lateCredit: 0, lateEnds: 0, unmatchedLate: 0, completed: 0, truncated: 0, open: 0, openRows: 0 };
    this.closed.length = 0;
    if (resetWorlds && resetWorlds.size > 0) {
      for (const [key, slot] of this.open) {
        if (resetWorlds.has(Math.floor(key / 0x100000000))) this.close(slot, END_TRUNCATED);
      }
    }
    const R = this.rows;
    for (const ev of late) {
      for (let i = 0; i < ev.length; i++) {
        const r = this.byDecision.get(worldKey(ev.world[i], ev.decision[i]));
        if (r === undefined || this.slotEnd[this.rowSlot[r]] !== END_NONE) {
          st.unmatchedLate++;
          continue;
        }
        const kind = ev.kind[i];
        if (kind === 1) {
          R.attributed[r] += ev.value[i];
          st.lateCredit++;
        } else if (kind === 2 || kind === 3) {
          R.end[r] = kind === 2 ? END_CONVERTED : END_LOST;
          this.close(this.rowSlot[r], R.end[r]);
          st.lateEnds++;
        } else {
          throw new Error(`late event ${i}: unknown kind ${kind} (allowed: 1 credit, 2 converted, 3 lost)`);
        }
      }
    }
    this.unmatchedLateTotal += st.unmatchedLate;
    for (const slot of this.closed) this.open.delete(this.slotKey[slot]);
    // new rows
    const n0 = R.n;
    for (const b of batches) R.appendBatch(b);
    st.rowsIn = R.n - n0;
    this.growRowIndex(R.cap);
    for (let r = n0; r < R.n; r++) {
      const key = worldKey(R.world[r], R.user[r]);
      let slot = this.open.get(key);
      if (slot === undefined) {
        slot = this.newSlot(key);
        this.open.set(key, slot);
        this.slotHead[slot] = r;
      } else {
        this.rowNext[this.slotTail[slot]] = r;
      }
      this.slotTail[slot] = r;
      this.rowSlot[r] = slot;
      this.rowNext[r] = NO_ROW;
      this.byDecision.set(worldKey(R.world[r], R.decision[r]), r);
      if (R.end[r] !== END_NONE) {
        this.close(slot, R.end[r]);
        this.open.delete(key);
      }
    }
    this.liveRows += st.rowsIn;
    // stale trajectories: newest row (the tail: a journey's rows arrive in time order) or first
    // row (the head) too old
    if (maxOpenHours > 0 || maxAgeHours > 0) {
      const idle = maxOpenHours > 0 ? maxOpenHours : Infinity;
      const age = maxAgeHours > 0 ? maxAgeHours : Infinity;
      for (const [key, slot] of this.open) {
        if (nowHour - R.hour[this.slotTail[slot]] > idle || nowHour - R.hour[this.slotHead[slot]] > age) {
          this.close(slot, END_TRUNCATED);
          this.open.delete(key);
        }
      }
    }
    for (const slot of this.closed) {
      if (this.slotEnd[slot] === END_TRUNCATED) st.truncated++;
      else st.completed++;
    }
    const out = this.extract();
    st.open = this.open.size;
    st.openRows = this.liveRows;
    return { out, stats: st };
  }

  private close(slot: number, kind: number): void {
    this.slotEnd[slot] = kind;
    this.closed.push(slot);
  }

  private newSlot(key: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.slotsUsed++;
      if (slot >= this.slotId.length) {
        const cap = this.slotId.length * 2;
        const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T): T => {
          const b = new (a.constructor as new (n: number) => T)(cap);
          b.set(a as never);
          return b;
        };
        this.slotId = grow(this.slotId);
        this.slotKey = grow(this.slotKey);
        this.slotHead = grow(this.slotHead);
        this.slotTail = grow(this.slotTail);
        this.slotEnd = grow(this.slotEnd);
      }
    }
    this.slotId[slot] = this.nextTraj++;
    this.slotKey[slot] = key;
    this.slotEnd[slot] = END_NONE;
    return slot;
  }

  private growRowIndex(cap: number): void {
    if (this.rowSlot.length >= cap) return;
    const s = new Int32Array(cap);
    s.set(this.rowSlot);
    const nx = new Int32Array(cap);
    nx.set(this.rowNext);
    this.rowSlot = s;
    this.rowNext = nx;
  }

  /** Removes closed trajectories' rows into a batch (ordered by trajectory id, each in row order). */
  private extract(): TrajectoryBatch {
    const R = this.rows;
    const closed = this.closed.slice().sort((a, b) => this.slotId[a] - this.slotId[b]);
    const start = new Int32Array(closed.length + 1);
    const kind = new Uint8Array(closed.length);
    let total = 0;
    closed.forEach((slot, i) => {
      for (let r = this.slotHead[slot]; r !== NO_ROW; r = this.rowNext[r]) total++;
      start[i + 1] = total;
      kind[i] = this.slotEnd[slot];
    });
    const order = new Int32Array(total);
    let k = 0;
    for (const slot of closed) {
      for (let r = this.slotHead[slot]; r !== NO_ROW; r = this.rowNext[r]) {
        order[k++] = r;
        this.rowSlot[r] = NO_ROW;
        const dk = worldKey(R.world[r], R.decision[r]);
        // a re-created world may reuse a decision id: only this row's own entry goes
        if (this.byDecision.get(dk) === r) this.byDecision.delete(dk);
      }
      this.slotEnd[slot] = END_NONE;
      this.freeSlots.push(slot);
    }
    const out = new RowColumns(Math.max(1, total));
    out.appendFrom(R, order);
    this.liveRows -= total;
    this.closed.length = 0;
    const dead = R.n - this.liveRows;
    if (dead > 4096 && dead > this.liveRows) this.compact();
    return { rows: out, start, kind, count: closed.length };
  }

  /** Drops dead rows, keeping the live ones in order, and renumbers the row links. */
  private compact(): void {
    const R = this.rows;
    const keep = new Int32Array(this.liveRows);
    const newIndex = new Int32Array(R.n);
    let k = 0;
    for (let r = 0; r < R.n; r++) {
      if (this.rowSlot[r] === NO_ROW) continue;
      newIndex[r] = k;
      keep[k++] = r;
    }
    const next = new RowColumns(Math.max(4096, keep.length));
    next.appendFrom(R, keep);
    const rowSlot = new Int32Array(next.cap);
    const rowNext = new Int32Array(next.cap);
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i];
      rowSlot[i] = this.rowSlot[r];
      rowNext[i] = this.rowNext[r] === NO_ROW ? NO_ROW : newIndex[this.rowNext[r]];
    }
    for (const slot of this.open.values()) {
      this.slotHead[slot] = newIndex[this.slotHead[slot]];
      this.slotTail[slot] = newIndex[this.slotTail[slot]];
    }
    this.rows = next;
    this.rowSlot = rowSlot;
    this.rowNext = rowNext;
    this.byDecision.clear();
    for (let r = 0; r < next.n; r++) this.byDecision.set(worldKey(next.world[r], next.decision[r]), r);
  }

  /** Every open trajectory, truncated (e.g. at the end of training, for reporting). */
  flushAll(): TrajectoryBatch {
    for (const [key, slot] of this.open) {
      this.close(slot, END_TRUNCATED);
      this.open.delete(key);
    }
    return this.extract();
  }

  /** The open rows (in arrival order) and their grouping, for checkpoints. */
  serialize(): { columns: Record<string, Uint8Array>; meta: { n: number; nextTraj: number; unmatchedLateTotal: number; open: [number, number][] } } {
    const R = this.rows;
    const live = new Int32Array(this.liveRows);
    let k = 0;
    for (let r = 0; r < R.n; r++) if (this.rowSlot[r] !== NO_ROW) live[k++] = r;
    const L = new RowColumns(Math.max(1, live.length));
    L.appendFrom(R, live);
    const columns: Record<string, Uint8Array> = {};
    for (const f of RowColumns.FIELDS) {
      const a = L[f];
      const width = f === "obs" ? OBS_DIM : 1;
      columns[f] = new Uint8Array(a.buffer, a.byteOffset, L.n * width * a.BYTES_PER_ELEMENT).slice();
    }
    const traj = new Int32Array(live.length);
    for (let i = 0; i < live.length; i++) traj[i] = this.slotId[this.rowSlot[live[i]]];
    columns.traj = new Uint8Array(traj.buffer);
    const open: [number, number][] = [];
    for (const [key, slot] of this.open) open.push([key, this.slotId[slot]]);
    return { columns, meta: { n: L.n, nextTraj: this.nextTraj, unmatchedLateTotal: this.unmatchedLateTotal, open } };
  }

  static deserialize(s: ReturnType<TrajectoryStore["serialize"]>): TrajectoryStore {
    const st = new TrajectoryStore();
    const n = s.meta.n;
    if (!Number.isInteger(n) || n < 0) throw new Error(`trajectory store: bad row count ${n}`);
    const R = new RowColumns(Math.max(4096, n));
    for (const f of RowColumns.FIELDS) {
      const bytes = s.columns[f];
      const dst = R[f];
      const width = f === "obs" ? OBS_DIM : 1;
      if (!bytes || bytes.byteLength !== n * width * dst.BYTES_PER_ELEMENT) throw new Error(`trajectory store: column ${f} has ${bytes?.byteLength} bytes, expected ${n * width * dst.BYTES_PER_ELEMENT}`);
      new Uint8Array(dst.buffer, 0, bytes.byteLength).set(bytes);
    }
    R.n = n;
    if (s.columns.traj?.byteLength !== n * 4) throw new Error(`trajectory store: traj column has ${s.columns.traj?.byteLength} bytes, expected ${n * 4}`);
    const traj = new Int32Array(n);
    new Uint8Array(traj.buffer).set(s.columns.traj);
    st.rows = R;
    st.growRowIndex(R.cap);
    st.nextTraj = s.meta.nextTraj;
    st.unmatchedLateTotal = s.meta.unmatchedLateTotal;
    const slotOf = new Map<number, number>();
    for (const [key, id] of s.meta.open) {
      const slot = st.newSlot(key);
      st.slotId[slot] = id;
      st.slotHead[slot] = NO_ROW;
      st.open.set(key, slot);
      slotOf.set(id, slot);
    }
    st.nextTraj = s.meta.nextTraj; // newSlot counted the restored ids
    for (let r = 0; r < n; r++) {
      const slot = slotOf.get(traj[r]);
      if (slot === undefined) throw new Error(`trajectory store: row ${r} belongs to trajectory ${traj[r]}, which is not open`);
      if (st.slotHead[slot] === NO_ROW) st.slotHead[slot] = r;
      else st.rowNext[st.slotTail[slot]] = r;
      st.slotTail[slot] = r;
      st.rowSlot[r] = slot;
      st.rowNext[r] = NO_ROW;
      st.byDecision.set(worldKey(R.world[r], R.decision[r]), r);
    }
    st.liveRows = n;
    return st;
  }
}

export interface GaeOptions {
  /** discount per simulated hour */
  gammaPerHour: number;
  /** GAE lambda per decision */
  lambda: number;
  /** reward = (attributed - (1 + costPenalty) x cost) x rewardScale */
  costPenalty: number;
  rewardScale: number;
}

/**
 * GAE over each trajectory with time gaps: between decisions t and t+1, h hours apart, the next
 * value is discounted by gammaPerHour^h and the trace by (gammaPerHour^h x lambda). A journey that
 * ended (converted or lost) is terminal; a truncated one bootstraps from its last value.
 * `values` are the critic's estimates for the rows (rows order). Returns advantages and returns.
 */
export function computeGae(batch: TrajectoryBatch, values: Float32Array, o: GaeOptions): { advantages: Float32Array; returns: Float32Array; rewards: Float32Array } {
  const R = batch.rows;
  const n = R.n;
  const adv = new Float32Array(n);
  const ret = new Float32Array(n);
  const rew = new Float32Array(n);
  const lnGamma = Math.log(o.gammaPerHour);
  for (let t = 0; t < batch.count; t++) {
    const a = batch.start[t];
    const b = batch.start[t + 1];
    const terminal = batch.kind[t] === END_CONVERTED || batch.kind[t] === END_LOST;
    let nextValue = terminal ? 0 : values[b - 1];
    let nextAdv = 0;
    let nextHour = R.hour[b - 1];
    for (let i = b - 1; i >= a; i--) {
      const r = (R.attributed[i] - (1 + o.costPenalty) * R.cost[i]) * o.rewardScale;
      rew[i] = r;
      const disc = Math.exp(lnGamma * Math.max(0, nextHour - R.hour[i]));
      const last = i === b - 1;
      const nv = last ? (terminal ? 0 : nextValue * disc) : nextValue * disc;
      const delta = r + nv - values[i];
      const g = delta + (last ? 0 : disc * o.lambda * nextAdv);
      adv[i] = g;
      ret[i] = g + values[i];
      nextAdv = g;
      nextValue = values[i];
      nextHour = R.hour[i];
    }
  }
  return { advantages: adv, returns: ret, rewards: rew };
}
