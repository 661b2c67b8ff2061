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
import { explainMatched, explainUnmatched, type Explained, type MatchedInput, type ResumeCover, type Thresholds } from "./matrix.js";
import { flightOf, paceAt, parseIsoDate, parseIsoDateTime, type Flight } from "./pace.js";
import { MAX_RECORDS, type Confidence, type Pace, type PlatformRecord, type TrackerRecord } from "./schemas.js";

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

export interface Matching {
  /** the platform record (index) of each tracker record, if any */
  platformOf: (number | undefined)[];
  by: ("id" | "name" | undefined)[];
  /** for a tracker record left unmatched: the most similar platform record left unused */
  nearest: (Candidate | undefined)[];
}

/** Tracker records decided between two yields (each costs tens of microseconds: a name comparison and texts). */
const ASSESS_SLICE = 25;

/** Pairs of records one reconciliation may compare (i · nP + j fits 18 bits of a sort key). */
const PAIR_SPACE = 2 ** 18;

/** Work (characters compared, roughly) between two yields of the step generators: about a millisecond. */
const SLICE_WORK = 2_000_000;

/**
 * The matching as a generator that yields between slices of about a millisecond of name
 * comparisons: 500 × 500 names of 200 characters take seconds, which must not stall the server's
 * event loop (see reconcileYielding).
 */
function* matchSteps(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nameMatchThreshold: number): Generator<void, Matching> {
  if (tracker.length * platform.length >= PAIR_SPACE) {
    throw new RangeError(`matchRecords: ${tracker.length} × ${platform.length} records is more than ${PAIR_SPACE - 1} pairs (the routes allow ${MAX_RECORDS} × ${MAX_RECORDS})`);
  }
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
  const nP = platform.length;
  // similarity of every pair left after the id matches (row-major, NaN elsewhere): typed, so that a
  // 500 × 500 request allocates one 2 MB array rather than 250,000 objects for the collector
  const sim = new Float64Array(tracker.length * nP).fill(NaN);
  let work = 0;
  let candidates = 0;
  for (let i = 0; i < tracker.length; i++) {
    if (platformOf[i] !== undefined) continue;
    for (let j = 0; j < nP; j++) {
      if (used[j]) continue;
      const s = normalizedSimilarity(tNames[i], pNames[j]);
      sim[i * nP + j] = s;
      if (s >= nameMatchThreshold) candidates++;
      work += tNames[i].length * pNames[j].length + 64;
      if (work >= SLICE_WORK) {
        work = 0;
        yield;
      }
    }
  }
  // Best first, ties by tracker then platform position, as one numeric sort of exact integer keys.
  // A similarity is 1 - d/m with m the longer normalised name (at most 3,600 characters: 200 input
  // characters that NFKD expands at most 18-fold), so two different similarities differ by at least
  // 1/3600² > 2 · 2^-30, and q = round(s · 2^30) keeps their order (equal ones round the same);
  // key = (2^30 - q) · 2^18 + (i · nP + j) < 2^49, exact in a double.
  const keys = new Float64Array(candidates);
  let k = 0;
  for (let ij = 0; ij < sim.length; ij++) {
    const s = sim[ij];
    if (s >= nameMatchThreshold) keys[k++] = (2 ** 30 - Math.round(s * 2 ** 30)) * PAIR_SPACE + ij;
  }
  keys.sort();
  yield;
  for (let c = 0; c < keys.length; c++) {
    const ij = keys[c] % PAIR_SPACE;
    const i = Math.floor(ij / nP);
    const j = ij - i * nP;
    if (platformOf[i] !== undefined || used[j]) continue;
    platformOf[i] = j;
    by[i] = "name";
    used[j] = 1;
  }
  const nearest: (Candidate | undefined)[] = new Array(tracker.length).fill(undefined);
  for (let i = 0; i < tracker.length; i++) {
    if (platformOf[i] !== undefined) continue;
    let best = -1;
    for (let j = 0; j < nP; j++) if (!used[j] && (best < 0 || sim[i * nP + j] > sim[i * nP + best])) best = j;
    if (best >= 0) nearest[i] = { id: platform[best].id, name: platform[best].name, similarity: sim[i * nP + best] };
  }
  return { platformOf, by, nearest };
}

function runSync<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

async function runYielding<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    await new Promise<void>((res) => setImmediate(res));
  }
}

/** Which platform record (index) goes with each tracker record (index), and how. */
export function matchRecords(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nameMatchThreshold: number): Matching {
  return runSync(matchSteps(tracker, platform, nameMatchThreshold));
}

/**
 * Matches `tracker` to `platform` records and decides for each tracker record as of `nowMs`. Bad
 * semantic input (repeated ids, impossible dates, end before start, platform data stamped in the
 * future) throws a 400 HttpError naming the field; nothing is decided then.
 */
export function reconcile(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nowMs: number, opts: ReconcileOptions): ReconcileResult {
  return runSync(reconcileSteps(tracker, platform, nowMs, opts));
}

/**
 * reconcile() for a server: the name comparisons run in slices of about a millisecond with the
 * event loop free between them. Validation comes first (a 400 rejects before any slice); the
 * decisions are made after the last slice, from the state of `opts.resumeOf` at that moment.
 */
export function reconcileYielding(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nowMs: number, opts: ReconcileOptions): Promise<ReconcileResult> {
  const steps = reconcileSteps(tracker, platform, nowMs, opts);
  const first = steps.next(); // runs the validation synchronously: it throws here, not in a later tick
  return first.done === true ? Promise.resolve(first.value) : runYielding(steps);
}

function* reconcileSteps(tracker: readonly TrackerRecord[], platform: readonly PlatformRecord[], nowMs: number, opts: ReconcileOptions): Generator<void, ReconcileResult> {
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

  yield; // validated
  const { platformOf, by, nearest } = yield* matchSteps(tracker, platform, opts.nameMatchThreshold);
  const assessments: Assessment[] = [];
  const unmatchedTracker: ReconcileResult["unmatchedTracker"] = [];
  const matchedInputs: (MatchedInput | undefined)[] = [];
  for (let i = 0; i < tracker.length; i++) {
    const t = tracker[i];
    const j = platformOf[i];
    const flight = flights[i];
    if (j === undefined) {
      unmatchedTracker.push({ id: t.id, name: t.name, nearest: nearest[i] ?? null });
      const ex = explainUnmatched(t, nearest[i], opts.nameMatchThreshold);
      assessments.push({ ...ex, tracker: t, flight, platform: null, matchedBy: null, confidence: null, pace: null, zeroDelivery: false });
      matchedInputs.push(undefined);
      continue;
    }
    const p = platform[j];
    // the target is taken when the platform measured the spend, not later: stale data must not look behind
    const asOfMs = Math.min(updatedMs[j], nowMs);
    const pace = paceAt(t, flight, p.spend, asOfMs);
    const conf = confidence(t, p, updatedMs[j], nowMs);
    const zeroDelivery = p.spend === 0 && asOfMs > flight.startMs && asOfMs < flight.endMs;
    const input: MatchedInput = { tracker: t, flight, platform: p, matchedBy: by[i]!, confidence: conf, pace, asOfMs, zeroDelivery, resume: opts.resumeOf?.(t.id) };
    assessments.push({ ...explainMatched(input, opts), tracker: t, flight, platform: p, matchedBy: by[i]!, confidence: conf, pace, zeroDelivery });
    matchedInputs.push(input);
    if (i % ASSESS_SLICE === ASSESS_SLICE - 1) yield;
  }
  // a human may have resumed a campaign while this ran: decide those again with the resume in view
  for (let i = 0; i < tracker.length; i++) {
    const input = matchedInputs[i];
    if (input === undefined) continue;
    const resume = opts.resumeOf?.(input.tracker.id);
    if (resume?.id !== input.resume?.id) assessments[i] = { ...assessments[i], ...explainMatched({ ...input, resume }, opts) };
  }
  const matched = new Set(platformOf.filter((j): j is number => j !== undefined));
  const unmatchedPlatform = platform.filter((_, j) => !matched.has(j)).map((p) => ({ id: p.id, name: p.name }));
  return { assessments, unmatchedTracker, unmatchedPlatform };
}
