// The decision log: every served bid decision, so feedback can later be joined to it by bid id
// (`gaelp train --offline-data`). It is the app's DecisionSink. record() runs on the bid hot path:
// it copies the decision into preallocated columns (no allocation but the strings it keeps);
// full columns, or whatever is buffered every flushMs, become one Arrow IPC segment under
// <dataDir>/decisions/ written atomically off the hot path (segments.ts). close() (the app's
// onClose, i.e. graceful shutdown) writes what is buffered and waits for it.
//
// Nothing is lost silently: a failed write is kept and retried at the next flush; only when more
// than maxPendingRows decisions wait for the disk are new ones refused, and they are counted
// (`dropped`, the gaelp_decision_log_rows_total{result="dropped"} metric) and reported to onError.
import { OBS_DIM } from "../../wasm/layout.js";
import type { DecisionRecord, DecisionSink } from "../contracts.js";
import { DECISION_PREFIX, DECISION_SCHEMA, DecisionColumns } from "./format.js";
import { toIpcFile } from "../../engine/experience.js";
import { SegmentDir } from "./segments.js";

export interface DecisionLogOptions {
  /** decisions per segment: a full buffer is written at once (default 8,192; ~1.8 MB of columns, a few ms
   *  of encoding on the main thread per segment) */
  flushRows?: number;
  /** a partly filled buffer is written after this long (ms, default 5,000) */
  flushMs?: number;
  /** decisions waiting for the disk beyond which new ones are refused and counted (default 262,144 or 4 segments) */
  maxPendingRows?: number;
}

export interface DecisionLogHooks {
  /** a segment write failed (it is retried), or decisions were refused */
  onError?: (err: Error) => void;
  /** rows written to a segment, or dropped */
  onRows?: (result: "written" | "dropped", n: number) => void;
}

export interface DecisionLogStats {
  recorded: number;
  written: number;
  pending: number;
  dropped: number;
  segments: number;
}

function intOption(v: number | undefined, name: string, dflt: number, lo: number, hi: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < lo || x > hi) throw new RangeError(`server option decisionLog.${name} must be an integer in [${lo}, ${hi}], got ${x}`);
  return x;
}

export class DecisionLog implements DecisionSink {
  private readonly segments: SegmentDir;
  private readonly flushRows: number;
  private readonly maxPendingRows: number;
  private cur: DecisionColumns;
  /** full (or timed-out) buffers waiting to be written, oldest first */
  private readonly queue: DecisionColumns[] = [];
  private readonly spare: DecisionColumns[] = [];
  private draining: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly stats = { recorded: 0, written: 0, dropped: 0, segments: 0 };

  constructor(dir: string, opts: DecisionLogOptions = {}, private readonly hooks: DecisionLogHooks = {}) {
    this.flushRows = intOption(opts.flushRows, "flushRows", 8_192, 1, 1 << 20);
    const flushMs = intOption(opts.flushMs, "flushMs", 5_000, 10, 3_600_000);
    this.maxPendingRows = intOption(opts.maxPendingRows, "maxPendingRows", Math.max(262_144, 4 * this.flushRows), this.flushRows, 1 << 26);
    this.segments = new SegmentDir(dir, DECISION_PREFIX);
    this.stats.segments = this.segments.list().length;
    this.cur = new DecisionColumns(this.flushRows);
    this.timer = setInterval(() => {
      if (this.cur.n > 0) this.rotate();
      void this.drain();
    }, flushMs);
    this.timer.unref();
  }

  record(d: DecisionRecord): void {
    if (this.closed) {
      this.stats.dropped++;
      this.hooks.onRows?.("dropped", 1);
      return;
    }
    const c = this.cur;
    const i = c.n;
    c.bidId[i] = d.bidId;
    c.campaignId[i] = d.campaignId;
    c.run[i] = d.policyRun;
    c.atMs[i] = d.atMs;
    c.obs.set(d.obs.length === OBS_DIM ? d.obs : d.obs.subarray(0, OBS_DIM), i * OBS_DIM);
    c.refValue[i] = d.refValue;
    c.bidLevel[i] = d.bidLevel;
    c.creative[i] = d.creative;
    c.multiplier[i] = d.multiplier;
    c.bid[i] = d.bid;
    c.logp[i] = d.logProb;
    c.value[i] = d.value;
    c.version[i] = d.policyVersion;
    c.sampled[i] = d.sampled ? 1 : 0;
    c.n = i + 1;
    this.stats.recorded++;
    if (c.n === this.flushRows) {
      this.rotate();
      // encoding the segment (a few ms) waits for the next turn: the bid that filled it answers first
      setImmediate(() => void this.drain());
    }
  }

  /** Moves the current buffer to the write queue (or refuses its rows when too many wait). */
  private rotate(): void {
    const c = this.cur;
    if (this.pendingRows() > this.maxPendingRows) {
      this.stats.dropped += c.n;
      this.hooks.onRows?.("dropped", c.n);
      this.hooks.onError?.(new Error(`decision log: ${c.n} decisions dropped: ${this.pendingRows()} decisions already wait for the disk (maxPendingRows ${this.maxPendingRows})`));
      c.n = 0;
      return;
    }
    this.queue.push(c);
    this.cur = this.spare.pop() ?? new DecisionColumns(this.flushRows);
    this.cur.n = 0;
  }

  private pendingRows(): number {
    let n = this.cur.n;
    for (const q of this.queue) n += q.n;
    return n;
  }

  /** Writes queued buffers in order; stops at the first failure (retried at the next flush). */
  private drain(): Promise<void> {
    // (checked first: an async body that finishes synchronously would clear `draining` before
    // `??=` sets it, leaving a settled promise there for good)
    if (this.draining !== undefined || this.queue.length === 0) return this.draining ?? Promise.resolve();
    this.draining = (async () => {
      try {
        while (this.queue.length > 0) {
          const c = this.queue[0];
          try {
            await this.segments.write(toIpcFile(DECISION_SCHEMA, [c.batch()]));
          } catch (e) {
            this.hooks.onError?.(new Error(`decision log: writing a segment of ${c.n} decisions to ${this.segments.dir} failed (${(e as Error).message}); retrying at the next flush`));
            return;
          }
          this.queue.shift();
          this.stats.written += c.n;
          this.stats.segments++;
          this.hooks.onRows?.("written", c.n);
          c.n = 0;
          if (this.spare.length < 2) this.spare.push(c);
        }
      } finally {
        this.draining = undefined;
      }
    })();
    return this.draining;
  }

  /** Writes everything buffered now; resolves when it is durable (or rejects naming what is left). */
  async flush(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
    if (this.cur.n > 0) this.rotate();
    await this.drain();
    const left = this.pendingRows();
    if (left > 0) throw new Error(`decision log: ${left} decisions could not be written to ${this.segments.dir} (see the errors logged before)`);
  }

  snapshot(): DecisionLogStats {
    return { ...this.stats, pending: this.pendingRows() };
  }

  /** Stops taking decisions and writes the buffered ones. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}
