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
    const n0 = this.n;
    for (const f of RowColumns.FIELDS) {
      const a = src[f];
      const b = this[f];
      if (f === "obs") {
        for (let i = 0; i < m; i++) b.set(a.subarray(idx[i] * OBS_DIM, (idx[i] + 1) * OBS_DIM) as never, (n0 + i) * OBS_DIM);
      } else {
        for (let i = 0; i < m; i++) b[n0 + i] = a[idx[i]];
      }
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

export class TrajectoryStore {
  private rows = new RowColumns(4096);
  /** open trajectory id of each row (parallel to rows) */
  private traj = new Int32Array(4096);
  private nextTraj = 0;
  /** (world, user) -> open trajectory id */
  private open = new Map<number, number>();
  /** (world, decision) -> row, for late events */
  private byDecision = new Map<number, number>();
  /** trajectories closed this round: id -> END_* */
  private closed = new Map<number, number>();
  unmatchedLateTotal = 0;

  get openRows(): number {
    return this.rows.n;
  }

  get openTrajectories(): number {
    return this.open.size;
  }

  /**
   * Adds one iteration's experience: late events first (they address rows of earlier iterations),
   * then the new rows. Trajectories whose journey ended, whose newest row is older than
   * `maxOpenHours` before `nowHour`, or whose world is listed in `resetWorlds` (re-created: the
   * journey can never end) are removed and returned.
   */
  ingest(batches: RecordBatch[], late: LateEvents[], nowHour: number, maxOpenHours: number, resetWorlds?: ReadonlySet<number>): { out: TrajectoryBatch; stats: IngestStats } {
    const st: IngestStats = { rowsIn: 0, lateCredit: 0, lateEnds: 0, unmatchedLate: 0, completed: 0, truncated: 0, open: 0, openRows: 0 };
    this.closed.clear();
    if (resetWorlds && resetWorlds.size > 0) {
      for (const [key, t] of this.open) {
        if (resetWorlds.has(Math.floor(key / 0x100000000))) this.closed.set(t, END_TRUNCATED);
      }
    }
    const R = this.rows;
    for (const ev of late) {
      for (let i = 0; i < ev.length; i++) {
        const r = this.byDecision.get(worldKey(ev.world[i], ev.decision[i]));
        if (r === undefined || this.closed.has(this.traj[r])) {
          st.unmatchedLate++;
          continue;
        }
        const kind = ev.kind[i];
        if (kind === 1) {
          R.attributed[r] += ev.value[i];
          st.lateCredit++;
        } else if (kind === 2 || kind === 3) {
          R.end[r] = kind === 2 ? END_CONVERTED : END_LOST;
          this.closed.set(this.traj[r], R.end[r]);
          st.lateEnds++;
        } else {
          throw new Error(`late event ${i}: unknown kind ${kind} (allowed: 1 credit, 2 converted, 3 lost)`);
        }
      }
    }
    this.unmatchedLateTotal += st.unmatchedLate;
    for (const [key, t] of this.open) if (this.closed.has(t)) this.open.delete(key);
    // new rows
    const n0 = R.n;
    for (const b of batches) R.appendBatch(b);
    st.rowsIn = R.n - n0;
    if (this.traj.length < R.cap) {
      const t = new Int32Array(R.cap);
      t.set(this.traj.subarray(0, n0));
      this.traj = t;
    }
    for (let r = n0; r < R.n; r++) {
      const key = worldKey(R.world[r], R.user[r]);
      let t = this.open.get(key);
      if (t === undefined) {
        t = this.nextTraj++;
        this.open.set(key, t);
      }
      this.traj[r] = t;
      this.byDecision.set(worldKey(R.world[r], R.decision[r]), r);
      if (R.end[r] !== END_NONE) {
        this.closed.set(t, R.end[r]);
        this.open.delete(key);
      }
    }
    // stale trajectories: newest row too old
    if (maxOpenHours > 0) {
      const newest = new Map<number, number>();
      for (let r = 0; r < R.n; r++) newest.set(this.traj[r], R.hour[r]);
      for (const [key, t] of this.open) {
        if (nowHour - (newest.get(t) ?? nowHour) > maxOpenHours) {
          this.closed.set(t, END_TRUNCATED);
          this.open.delete(key);
        }
      }
    }
    for (const k of this.closed.values()) {
      if (k === END_TRUNCATED) st.truncated++;
      else st.completed++;
    }
    const out = this.extract();
    st.open = this.open.size;
    st.openRows = this.rows.n;
    return { out, stats: st };
  }

  /** Removes closed trajectories' rows into a batch (grouped by trajectory, order kept). */
  private extract(): TrajectoryBatch {
    const R = this.rows;
    const closedIds = [...this.closed.keys()].sort((a, b) => a - b);
    const slot = new Map<number, number>();
    closedIds.forEach((t, i) => slot.set(t, i));
    const counts = new Int32Array(closedIds.length + 1);
    const keep: number[] = [];
    for (let r = 0; r < R.n; r++) {
      const s = slot.get(this.traj[r]);
      if (s === undefined) keep.push(r);
      else counts[s + 1]++;
    }
    const start = new Int32Array(closedIds.length + 1);
    for (let i = 0; i < closedIds.length; i++) start[i + 1] = start[i] + counts[i + 1];
    const fill = start.slice(0, closedIds.length);
    const order = new Int32Array(start[closedIds.length]);
    for (let r = 0; r < R.n; r++) {
      const s = slot.get(this.traj[r]);
      if (s !== undefined) order[fill[s]++] = r;
    }
    const out = new RowColumns(Math.max(1, order.length));
    out.appendFrom(R, order);
    const kind = new Uint8Array(closedIds.length);
    closedIds.forEach((t, i) => (kind[i] = this.closed.get(t)!));
    // compact the open rows
    const next = new RowColumns(Math.max(4096, keep.length));
    next.appendFrom(R, keep);
    const traj = new Int32Array(next.cap);
    for (let i = 0; i < keep.length; i++) traj[i] = this.traj[keep[i]];
    this.rows = next;
    this.traj = traj;
    this.byDecision.clear();
    for (let r = 0; r < next.n; r++) this.byDecision.set(worldKey(next.world[r], next.decision[r]), r);
    this.closed.clear();
    return { rows: out, start, kind, count: closedIds.length };
  }

  /** Every open trajectory, truncated (e.g. at the end of training, for reporting). */
  flushAll(): TrajectoryBatch {
    for (const [key, t] of this.open) {
      this.closed.set(t, END_TRUNCATED);
      this.open.delete(key);
    }
    return this.extract();
  }

  /** The open rows and their grouping, for checkpoints. */
  serialize(): { columns: Record<string, Uint8Array>; meta: { n: number; nextTraj: number; unmatchedLateTotal: number; open: [number, number][] } } {
    const R = this.rows;
    const columns: Record<string, Uint8Array> = {};
    for (const f of RowColumns.FIELDS) {
      const a = R[f];
      const width = f === "obs" ? OBS_DIM : 1;
      columns[f] = new Uint8Array(a.buffer, a.byteOffset, R.n * width * a.BYTES_PER_ELEMENT).slice();
    }
    columns.traj = new Uint8Array(this.traj.buffer, 0, R.n * 4).slice();
    return { columns, meta: { n: R.n, nextTraj: this.nextTraj, unmatchedLateTotal: this.unmatchedLateTotal, open: [...this.open.entries()] } };
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
    const traj = new Int32Array(R.cap);
    if (s.columns.traj?.byteLength !== n * 4) throw new Error(`trajectory store: traj column has ${s.columns.traj?.byteLength} bytes, expected ${n * 4}`);
    new Uint8Array(traj.buffer, 0, n * 4).set(s.columns.traj);
    st.rows = R;
    st.traj = traj;
    st.nextTraj = s.meta.nextTraj;
    st.unmatchedLateTotal = s.meta.unmatchedLateTotal;
    st.open = new Map(s.meta.open);
    for (let r = 0; r < n; r++) st.byDecision.set(worldKey(R.world[r], R.decision[r]), r);
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
