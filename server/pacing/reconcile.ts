// Reconciliation: pairs each tracker record (the plan of record) with the platform record that
// reports its delivery, scores the pair and runs the decision matrix. Pure: no state, no I/O.
//
// Matching, in this order:
//  1. by id: the platform record whose id equals the tracker record's id;
//  2. by name, among the records left on both sides: every pair whose name similarity is at least
//     `nameMatchThreshold` (default 0.75) is a candidate; candidates are taken best first (ties:
//     earlier tracker record, then earlier platform record) and each platform record is used at
//     most once, so the assignment does not depend on which tracker record happens to come first.
// Tracker records left over get an "unmatched" escalation (with the nearest unused name for the
// human); platform records left over are listed. Nothing is dropped.
import { HttpError } from "../errors.js";
import { confidence, normalizeName, normalizedSimilarity } from "./confidence.js";
import { explainMatched, explainUnmatched, type Explained, type ResumeCover, type Thresholds } from "./matrix.js";
import { flightOf, paceAt, parseIsoDate, parseIsoDateTime, type Flight } from "./pace.js";
import type { Confidence, Pace, PlatformRecord, TrackerRecord } from "./schemas.js";

/** Platform data may be stamped this far in the future (clock skew) before it is refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface ReconcileOptions extends Thresholds {
  /** lowest name similarity that pairs records whose ids differ (default 0.75) */
  nameMatchThreshold: number;
  /** the latest human resume of a campaign, which keeps data it covered from halting it again */
  resumeOf?: (campaignId: string) => ResumeCover | undefined;
  /** prefix of field names in errors (the route passes "body.") */
  fieldPrefix?: string;
}

export interface Assessment extends Explained {
  tracker: TrackerRecord;
  flight: Flight;
  platform: PlatformRecord | null;
  matchedBy: "id" | "name" | null;
  confidence: Confidence | null;
  pace: Pace | null;
  zeroDelivery: boolean;
}

export interface Candidate {
  id: string;
  name: string;
  similarity: number;
}

export interface ReconcileResult {
  /** one per tracker record, in their order */
  assessments: Assessment[];
  unmatchedTracker: { id: string; name: string; nearest: Candidate | null }[];
  unmatchedPlatform: { id: string; name: string }[];
}

function assertUniqueIds(records: readonly { id: string }[], field: string): void {
  const first = new Map<string, number>();
  records.forEach((r, i) => {
    const j = first.get(r.id);
    if (j !== undefined) throw new HttpError(400, "invalid_request", `${field}[${i}].id ${JSON.stringify(r.id)} repeats ${field}[${j}].id`, `${field}[${i}].id`);
    first.set(r.id, i);
  });
}

/** Which platform record (index) goes with each tracker record (index), and how. */
export function matchRecords(
  tracker: readonly TrackerRecord[],
  platform: readonly PlatformRecord[],
  nameMatchThreshold: number,
): { platformOf: (number | undefined)[]; by: ("id" | "name" | undefined)[]; nearest: (Candidate | undefined)[] } {
  const platformOf: (number | undefined)[] = new Array(tracker.length).fill(undefined);
  const by: ("id" | "name" | undefined)[] = new Array(tracker.length).fill(undefined);
  const used = new Uint8Array(platform.length);
  const byId = new Map(platform.map((p, j) => [p.id, j]));
  tracker.forEach((t, i) => {
    const j = byId.get(t.id);
    if (j !== undefined) {
      platformOf[i] = j;
      by[i] = "id";
      used[j] = 1;
    }
  });
  const tNames = tracker.map((t) => normalizeName(t.name));
  const pNames = platform.map((p) => normalizeName(p.name));
  const sims: { i: number; j: number; s: number }[] = [];
  for (let i = 0; i < tracker.length; i++) {
    if (platformOf[i] !== undefined) continue;
    for (let j = 0; j < platform.length; j++) if (!used[j]) sims.push({ i, j, s: normalizedSimilarity(tNames[i], pNames[j]) });
  }
  const candidates = sims.filter((c) => c.s >= nameMatchThreshold).sort((a, b) => b.s - a.s || a.i - b.i || a.j - b.j);
  for (const c of candidates) {
    if (platformOf[c.i] !== undefined || used[c.j]) continue;
    platformOf[c.i] = c.j;
    by[c.i] = "name";
    used[c.j] = 1;
  }
  const nearest: (Candidate | undefined)[] = new Array(tracker.length).fill(undefined);
  for (const c of sims) {
    if (platformOf[c.i] !== undefined || used[c.j]) continue;
    const cur = nearest[c.i];
    if (cur === undefined || c.s > cur.similarity) nearest[c.i] = { id: platform[c.j].id, name: platform[c.j].name, similarity: c.s };
  }
  return { platformOf, by, nearest };
}

/**
 * Matches `tracker` to `platform` records and decides for each tracker record as of `nowMs`. Bad
 * semantic input (repeated ids, impossible dates, end before start, platform data stamped in the
 * future) throws a 400 HttpError naming the field; nothing is decided then.
 */
export function reconcile(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nowMs: number, opts: ReconcileOptions): ReconcileResult {
  const pre = opts.fieldPrefix ?? "";
  assertUniqueIds(tracker, `${pre}tracker`);
  assertUniqueIds(platform, `${pre}platform`);
  const flights = tracker.map((t, i) => flightOf(t, `${pre}tracker[${i}]`));
  const updatedMs = platform.map((p, j) => {
    const field = `${pre}platform[${j}]`;
    if (p.start !== undefined) parseIsoDate(p.start, `${field}.start`);
    if (p.end !== undefined) parseIsoDate(p.end, `${field}.end`);
    const ms = parseIsoDateTime(p.updatedAt, `${field}.updatedAt`);
    if (ms > nowMs + MAX_CLOCK_SKEW_MS) {
      throw new HttpError(400, "invalid_request", `${field}.updatedAt ${p.updatedAt} is more than 5 minutes after the server's time ${new Date(nowMs).toISOString()}`, `${field}.updatedAt`);
    }
    return ms;
  });

  const { platformOf, by, nearest } = matchRecords(tracker, platform, opts.nameMatchThreshold);
  const assessments: Assessment[] = [];
  const unmatchedTracker: ReconcileResult["unmatchedTracker"] = [];
  tracker.forEach((t, i) => {
    const j = platformOf[i];
    const flight = flights[i];
    if (j === undefined) {
      unmatchedTracker.push({ id: t.id, name: t.name, nearest: nearest[i] ?? null });
      const ex = explainUnmatched(t, nearest[i], opts.nameMatchThreshold);
      assessments.push({ ...ex, tracker: t, flight, platform: null, matchedBy: null, confidence: null, pace: null, zeroDelivery: false });
      return;
    }
    const p = platform[j];
    // the target is taken when the platform measured the spend, not later: stale data must not look behind
    const asOfMs = Math.min(updatedMs[j], nowMs);
    const pace = paceAt(t, flight, p.spend, asOfMs);
    const conf = confidence(t, p, updatedMs[j], nowMs);
    const zeroDelivery = p.spend === 0 && asOfMs > flight.startMs && asOfMs < flight.endMs;
    const ex = explainMatched(
      { tracker: t, flight, platform: p, matchedBy: by[i]!, confidence: conf, pace, asOfMs, zeroDelivery, resume: opts.resumeOf?.(t.id) },
      opts,
    );
    assessments.push({ ...ex, tracker: t, flight, platform: p, matchedBy: by[i]!, confidence: conf, pace, zeroDelivery });
  });
  const matched = new Set(platformOf.filter((j): j is number => j !== undefined));
  const unmatchedPlatform = platform.filter((_, j) => !matched.has(j)).map((p) => ({ id: p.id, name: p.name }));
  return { assessments, unmatchedTracker, unmatchedPlatform };
}
