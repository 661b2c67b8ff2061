// The decision log: every served bid decision, so feedback can later be joined to it by bid id
// (`gaelp train --offline-data`). It is the app's DecisionSink. record() runs on the bid hot path:
// it copies the decision into preallocated columns (no allocation but the strings it keeps);
// full columns, or whatever is buffered every flushMs, become one Arrow IPC segment under
// <dataDir>/decisions/. The segment's name is reserved here; a worker thread (decision_writer.ts)
// encodes the columns (transferred, not copied) and writes the file atomically (segments.ts), so
// the event loop answering bids neither encodes nor waits for the disk. close() (the app's
// onClose, i.e. graceful shutdown) writes what is buffered, waits for it and stops the worker.
//
// Nothing is lost silently: a failed write is kept and retried at the next flush; only when more
// than maxPendingRows decisions wait for the disk are new ones refused, and they are counted
// (`dropped`, the gaelp_decision_log_rows_total{result="dropped"} metric) and reported to onError.
// A writer thread that dies takes the buffer it held with it: those rows are counted as dropped
// and reported, and the next write starts a new thread.
import { OBS_DIM } from "../../wasm/layout.js";
import type { DecisionBatch, DecisionRecord, DecisionSink } from "../contracts.js";
import { Worker } from "node:worker_threads";
import { compiledWorkerFile } from "../../engine/rollout_engine.js";
import { DECISION_PREFIX, DecisionColumns, numberBuffers } from "./format.js";
import { SegmentDir } from "./segments.js";
import type { WriteAnswer, WriteRequest } from "./decision_writer.js";

export interface DecisionLogOptions {
  /** decisions per segment: a full buffer is written at once (default 8,192; ~1.8 MB of columns,
   *  encoded and written by the writer thread) */
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

/** The main thread's end of the writer thread: one segment in flight at a time. */
class SegmentWriter {
  private worker: Worker | undefined;
  private waiting: { ok: (a: WriteAnswer) => void; fail: (e: Error) => void } | undefined;

  private start(): Worker {
    const w = new Worker(compiledWorkerFile("server/feedback/decision_writer.js"));
    w.on("message", (a: WriteAnswer) => {
      const p = this.waiting;
      this.waiting = undefined;
      w.unref();
      p?.ok(a);
    });
    const died = (e: Error): void => {
      if (this.worker === w) this.worker = undefined;
      const p = this.waiting;
      this.waiting = undefined;
      p?.fail(e);
    };
    w.on("error", died);
    w.on("exit", (code) => died(new Error(`the decision log's writer thread exited (code ${code})`)));
    w.unref();
    return w;
  }

  /** Starts the thread now (loading its modules takes a moment of CPU): at start-up, not mid-traffic. */
  open(): void {
    this.worker ??= this.start();
  }

  /** Writes `cols` (its buffers are transferred: unusable until the answer) as segment `path`;
   *  resolves with the columns and the write's error, rejects when the writer thread died. */
  write(path: string, cols: DecisionColumns): Promise<WriteAnswer> {
    const w = (this.worker ??= this.start());
    // in flight, the thread keeps the process alive: a segment is never cut off by a natural exit
    w.ref();
    return new Promise((ok, fail) => {
      this.waiting = { ok, fail };
      const seg = cols.segment();
      const req: WriteRequest = { path, seg };
      w.postMessage(req, numberBuffers(seg.nums));
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) await w.terminate();
  }
}

export class DecisionLog implements DecisionSink {
  private readonly segments: SegmentDir;
  private readonly writer = new SegmentWriter();
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
    this.writer.open();
    this.timer = setInterval(() => {
      if (this.cur.n > 0) this.rotate();
      void this.drain();
    }, flushMs);
    this.timer.unref();
  }

  record(d: DecisionRecord): void {
    const from = d.obsAt ?? 0;
    this.recordBatch({
      n: 1, bidIds: [d.bidId], campaignId: d.campaignId, atMs: d.atMs, obs: d.obs.subarray(from, from + OBS_DIM),
      refValue: [d.refValue], decisions: [d], policyVersion: d.policyVersion, policyRun: d.policyRun, sampled: d.sampled,
    });
  }

  recordBatch(b: DecisionBatch): void {
    if (this.closed) {
      this.stats.dropped += b.n;
      this.hooks.onRows?.("dropped", b.n);
      return;
    }
    const sampled = b.sampled ? 1 : 0;
    let i = 0;
    while (i < b.n) {
      // as many rows as fit in the current buffer, the observations as one block
      const c = this.cur;
      const k = Math.min(b.n - i, this.flushRows - c.n);
      c.obs.set(b.obs.subarray(i * OBS_DIM, (i + k) * OBS_DIM), c.n * OBS_DIM);
      for (let r = 0; r < k; r++) {
        const at = c.n + r;
        const d = b.decisions[i + r];
        c.bidId[at] = b.bidIds[i + r];
        c.campaignId[at] = b.campaignId;
        c.run[at] = b.policyRun;
        c.atMs[at] = b.atMs;
        c.refValue[at] = b.refValue[i + r];
        c.bidLevel[at] = d.bidLevel;
        c.creative[at] = d.creative;
        c.multiplier[at] = d.multiplier;
        c.bid[at] = d.bid;
        c.logp[at] = d.logProb;
        c.value[at] = d.value;
        c.version[at] = b.policyVersion;
        c.sampled[at] = sampled;
      }
      c.n += k;
      i += k;
      this.stats.recorded += k;
      if (c.n === this.flushRows) {
        this.rotate();
        void this.drain();
      }
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
          const n = c.n;
          let answer: WriteAnswer;
          try {
            answer = await this.writer.write(this.segments.reserve().path, c);
          } catch (e) {
            // the thread died holding the buffer: its rows are gone, and said so
            this.queue.shift();
            this.stats.dropped += n;
            this.hooks.onRows?.("dropped", n);
            this.hooks.onError?.(new Error(`decision log: ${n} decisions dropped: ${(e as Error).message}`));
            continue;
          }
          const back = new DecisionColumns(c.cap, answer.nums, c);
          back.n = n;
          if (answer.error !== undefined) {
            this.queue[0] = back;
            this.hooks.onError?.(new Error(`decision log: writing a segment of ${n} decisions to ${this.segments.dir} failed (${answer.error}); retrying at the next flush`));
            return;
          }
          this.queue.shift();
          this.stats.written += n;
          this.stats.segments++;
          this.hooks.onRows?.("written", n);
          back.n = 0;
          if (this.spare.length < 2) this.spare.push(back);
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
    try {
      await this.flush();
    } finally {
      await this.writer.close();
    }
  }
}
