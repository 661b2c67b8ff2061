// The feedback log: impression, click and conversion events, idempotent by event id and durable
// before the route answers. Events of requests that arrive together are group-committed: one
// Arrow IPC segment (written atomically and fsync'd, segments.ts) per write, while the next
// requests gather for the following write. Small segments are compacted in the background into
// one file per `compactSegments` of them.
//
// Idempotency: every event id stored within the idempotency window (default 7 days of receipt
// time) is kept in memory with the CRC-32 of its content (rebuilt from the segments at start-up,
// so it holds across restarts). A repeated id is a "duplicate" when its content is the same and a
// "conflict" when it differs; neither is stored again. An id whose first write is still in flight
// makes the repeating request wait for that write, so no answer ever claims an event that is not
// on disk; if that write fails, both requests get 503 and a retry stores it.
//
// Memory is bounded: ids older than the window are forgotten (oldest first, as requests arrive),
// and beyond `maxIds` ids the oldest are forgotten early -- counted as `evictedEarly` in the
// stats, so a too-small bound shows. An id repeated after it was forgotten is stored again; the
// offline join (`gaelp train --offline-data`) keeps the first copy of every event id.
import { crc32 } from "node:zlib";
import { HttpError } from "../errors.js";
import { FEEDBACK_PREFIX, FEEDBACK_SCHEMA, eventsOf, feedbackBatch, type StoredEvent } from "./format.js";
import { toIpcFile } from "../../engine/experience.js";
import { SegmentDir, readSegment, type Segment } from "./segments.js";

export type EventResult = "stored" | "duplicate" | "conflict";

/** An event as the route hands it over (validated). */
export type NewEvent = Omit<StoredEvent, "receivedMs" | "digest">;

export interface FeedbackLogOptions {
  /** single segments that trigger a background compaction into one file (default 128) */
  compactSegments?: number;
  /** how long (hours of receipt time) an event id is remembered for idempotency (default 168, a week) */
  idempotencyWindowHours?: number;
  /** most event ids remembered; beyond it the oldest are forgotten early (default 5,000,000) */
  maxIds?: number;
}

export interface FeedbackLogHooks {
  onError?: (err: Error) => void;
}

export interface FeedbackOpenReport {
  segments: number;
  events: number;
}

interface Known {
  digest: number;
  /** when the first copy was received (ms since the epoch) */
  receivedMs: number;
  /** the write it waits for; undefined once durable */
  commit: Promise<void> | undefined;
}

interface Batch {
  events: StoredEvent[];
  commit: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

/** CRC-32 of what makes an event the event (not when it was received). */
export function eventDigest(e: NewEvent): number {
  return crc32(`${e.kind}\n${e.campaignId}\n${e.bidId ?? ""}\n${(e.touchpoints ?? []).join(",")}\n${e.atMs}\n${e.cost}\n${e.value}`);
}

export class FeedbackLog {
  readonly report: FeedbackOpenReport;
  /** event id -> its digest and receipt time, oldest first (insertion order) */
  private readonly ids = new Map<string, Known>();
  private readonly segments: SegmentDir;
  private readonly compactSegments: number;
  private readonly windowMs: number;
  private readonly maxIds: number;
  private batch: Batch | undefined;
  private writing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private closed = false;
  private readonly counts = { stored: 0, duplicate: 0, conflict: 0, writes: 0, compactions: 0, expired: 0, evictedEarly: 0 };

  /** `nowMs` is the clock the window is measured against at start-up (tests pass their own). */
  constructor(dir: string, opts: FeedbackLogOptions = {}, private readonly hooks: FeedbackLogHooks = {}, nowMs: number = Date.now()) {
    const int = (name: string, v: number, lo: number, hi: number): number => {
      if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`server option feedback.${name} must be an integer in [${lo}, ${hi}], got ${v}`);
      return v;
    };
    this.compactSegments = int("compactSegments", opts.compactSegments ?? 128, 2, 1_000_000);
    this.windowMs = int("idempotencyWindowHours", opts.idempotencyWindowHours ?? 168, 1, 24 * 366) * 3_600_000;
    this.maxIds = int("maxIds", opts.maxIds ?? 5_000_000, 1, 100_000_000);
    this.segments = new SegmentDir(dir, FEEDBACK_PREFIX);
    const live = this.segments.list();
    let events = 0;
    // segments oldest first: the map's insertion order stays (close to) receipt order
    for (const s of live) {
      for (const e of eventsOf(readSegment(s.path, FEEDBACK_SCHEMA), s.path)) {
        events++;
        if (e.receivedMs < nowMs - this.windowMs || this.ids.has(e.eventId)) continue;
        this.ids.set(e.eventId, { digest: e.digest, receivedMs: e.receivedMs, commit: undefined });
      }
    }
    this.evict(nowMs);
    this.report = { segments: live.length, events };
  }

  /** Forgets durable ids received before the window, and the oldest beyond maxIds. */
  private evict(nowMs: number): void {
    const before = nowMs - this.windowMs;
    for (const [id, k] of this.ids) {
      const over = this.ids.size > this.maxIds;
      if (!over && k.receivedMs >= before) break;
      if (k.commit !== undefined) break; // still being written: it and everything after are recent
      this.ids.delete(id);
      if (k.receivedMs < before) this.counts.expired++;
      else this.counts.evictedEarly++;
    }
  }

  /** Event ids stored (durable or being written). */
  get size(): number {
    return this.ids.size;
  }

  stats(): { ids: number; stored: number; duplicate: number; conflict: number; writes: number; compactions: number; expired: number; evictedEarly: number } {
    return { ids: this.ids.size, ...this.counts };
  }

  /**
   * Stores the events not seen before, in one durable write with whatever else arrives meanwhile.
   * Resolves with each event's result (in order) once every stored event -- and every event this
   * request repeats that is still being written -- is on disk; rejects with a 503 otherwise.
   */
  async submit(events: NewEvent[], receivedMs: number): Promise<EventResult[]> {
    if (this.closed) throw new HttpError(503, "shutting_down", "the feedback log is closed (server shutting down)");
    this.evict(receivedMs);
    const results: EventResult[] = new Array(events.length);
    const waits = new Set<Promise<void>>();
    const fresh: StoredEvent[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const digest = eventDigest(e);
      const seen = this.ids.get(e.eventId);
      if (seen === undefined) {
        const b = this.openBatch();
        const stored: StoredEvent = { ...e, receivedMs, digest };
        b.events.push(stored);
        fresh.push(stored);
        this.ids.set(e.eventId, { digest, receivedMs, commit: b.commit });
        waits.add(b.commit);
        results[i] = "stored";
      } else {
        if (seen.commit !== undefined) waits.add(seen.commit);
        results[i] = seen.digest === digest ? "duplicate" : "conflict";
      }
    }
    try {
      await Promise.all(waits);
    } catch (e) {
      throw new HttpError(503, "feedback_unavailable", `feedback could not be stored durably (${(e as Error).message}); nothing of this request is claimed, retry it (events already stored are answered as duplicates)`);
    }
    for (const r of results) this.counts[r]++;
    this.evict(receivedMs); // this request's ids are durable now, so the bound holds between requests
    return results;
  }

  private openBatch(): Batch {
    if (this.batch !== undefined) return this.batch;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const commit = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    commit.catch(() => {}); // a request awaits it; this only keeps an unawaited rejection quiet
    this.batch = { events: [], commit, resolve, reject };
    // the write starts on the next turn of the event loop, so requests parsed together share it
    if (this.writing === undefined) setImmediate(() => void this.writeLoop());
    return this.batch;
  }

  private writeLoop(): Promise<void> {
    // (checked first: an async body that finishes synchronously would clear `writing` before the
    // assignment sets it, leaving a settled promise there for good)
    if (this.writing !== undefined || this.batch === undefined) return this.writing ?? Promise.resolve();
    this.writing = (async () => {
      try {
        while (this.batch !== undefined) {
          const b = this.batch;
          this.batch = undefined;
          try {
            await this.segments.write(toIpcFile(FEEDBACK_SCHEMA, [feedbackBatch(b.events)]));
          } catch (e) {
            for (const ev of b.events) this.ids.delete(ev.eventId);
            this.hooks.onError?.(new Error(`feedback log: writing ${b.events.length} events to ${this.segments.dir} failed: ${(e as Error).message}`));
            b.reject(e as Error);
            continue;
          }
          for (const ev of b.events) {
            const k = this.ids.get(ev.eventId);
            if (k !== undefined) k.commit = undefined;
          }
          this.counts.writes++;
          b.resolve();
          this.maybeCompact();
        }
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  private maybeCompact(): void {
    if (this.compacting !== undefined) return;
    const singles = this.segments.list().filter((s: Segment) => s.first === s.last);
    if (singles.length < this.compactSegments) return;
    this.compacting = this.segments.compact(singles, FEEDBACK_SCHEMA)
      .then(() => void this.counts.compactions++)
      .catch((e: unknown) => this.hooks.onError?.(new Error(`feedback log: compacting ${singles.length} segments failed (${(e as Error).message}); they stay as they are`)))
      .finally(() => (this.compacting = undefined));
  }

  /** Waits for writes in flight and the compaction, then refuses new events. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing !== undefined || this.batch !== undefined) await (this.writing ?? this.writeLoop());
    await this.compacting;
  }
}
