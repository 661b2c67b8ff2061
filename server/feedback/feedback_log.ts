// The feedback log: impression, click and conversion events, idempotent by event id and durable
// before the route answers. Events of requests that arrive together are group-committed: one
// Arrow IPC segment (written atomically and fsync'd, segments.ts) per write, while the next
// requests gather for the following write. Small segments are compacted in the background into
// one file per `compactSegments` of them.
//
// Idempotency: every stored event id is kept in memory with the CRC-32 of its content (rebuilt
// from the segments at start-up, so it holds across restarts). A repeated id is a "duplicate"
// when its content is the same and a "conflict" when it differs; neither is stored again. An id
// whose first write is still in flight makes the repeating request wait for that write, so no
// answer ever claims an event that is not on disk; if that write fails, both requests get 503
// and a retry stores it.
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
}

export interface FeedbackLogHooks {
  onError?: (err: Error) => void;
}

export interface FeedbackOpenReport {
  segments: number;
  events: number;
}

interface Pending {
  digest: number;
  commit: Promise<void>;
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
  /** event id -> digest (durable) or the write it waits for */
  private readonly ids = new Map<string, number | Pending>();
  private readonly segments: SegmentDir;
  private readonly compactSegments: number;
  private batch: Batch | undefined;
  private writing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private closed = false;
  private readonly counts = { stored: 0, duplicate: 0, conflict: 0, writes: 0, compactions: 0 };

  constructor(dir: string, opts: FeedbackLogOptions = {}, private readonly hooks: FeedbackLogHooks = {}) {
    const cs = opts.compactSegments ?? 128;
    if (!Number.isInteger(cs) || cs < 2 || cs > 1_000_000) throw new RangeError(`server option feedback.compactSegments must be an integer in [2, 1000000], got ${cs}`);
    this.compactSegments = cs;
    this.segments = new SegmentDir(dir, FEEDBACK_PREFIX);
    const live = this.segments.list();
    let events = 0;
    for (const s of live) {
      for (const e of eventsOf(readSegment(s.path, FEEDBACK_SCHEMA), s.path)) {
        if (!this.ids.has(e.eventId)) this.ids.set(e.eventId, e.digest);
        events++;
      }
    }
    this.report = { segments: live.length, events };
  }

  /** Event ids stored (durable or being written). */
  get size(): number {
    return this.ids.size;
  }

  stats(): { ids: number; stored: number; duplicate: number; conflict: number; writes: number; compactions: number } {
    return { ids: this.ids.size, ...this.counts };
  }

  /**
   * Stores the events not seen before, in one durable write with whatever else arrives meanwhile.
   * Resolves with each event's result (in order) once every stored event -- and every event this
   * request repeats that is still being written -- is on disk; rejects with a 503 otherwise.
   */
  async submit(events: NewEvent[], receivedMs: number): Promise<EventResult[]> {
    if (this.closed) throw new HttpError(503, "shutting_down", "the feedback log is closed (server shutting down)");
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
        this.ids.set(e.eventId, { digest, commit: b.commit });
        waits.add(b.commit);
        results[i] = "stored";
      } else {
        const d = typeof seen === "number" ? seen : seen.digest;
        if (typeof seen !== "number") waits.add(seen.commit);
        results[i] = d === digest ? "duplicate" : "conflict";
      }
    }
    try {
      await Promise.all(waits);
    } catch (e) {
      throw new HttpError(503, "feedback_unavailable", `feedback could not be stored durably (${(e as Error).message}); nothing of this request is claimed, retry it (events already stored are answered as duplicates)`);
    }
    for (const r of results) this.counts[r]++;
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
          for (const ev of b.events) this.ids.set(ev.eventId, ev.digest);
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
