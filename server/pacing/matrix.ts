// The decision matrix of the pacing guard, and the root cause and mitigation it writes for each
// decision. Rows, first that applies wins:
//
//   zero delivery (no spend as of a moment inside the flight)  -> halt      whatever the confidence
//   confidence < minConfidence (0.7)                           -> escalate  to a human, no halt
//   variance > criticalVariance (25%)                          -> halt      (critical)
//   variance >= warnVariance (10%)                             -> warn
//   otherwise                                                  -> log
//
// Boundaries: exactly 10% warns, exactly 25% warns, confidence exactly 0.7 acts. A low-confidence
// match escalates whatever its variance (a wrong match makes an "on pace" reading as unreliable
// as a critical one). A halt is not repeated for data a human already saw: when the campaign was
// resumed at or after the time the platform measured its numbers, the decision warns instead
// (`suppressedByResume`); newer data that is still critical halts again.
import type { Action, Confidence, Pace, PlatformRecord, Rule, Severity, TrackerRecord } from "./schemas.js";
import { remainingAt, type Flight } from "./pace.js";

export interface Thresholds {
  /** variance from which a decision warns (default 0.10) */
  warnVariance: number;
  /** variance above which a decision is critical and halts (default 0.25) */
  criticalVariance: number;
  /** confidence below which the guard escalates instead of acting (default 0.7) */
  minConfidence: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({ warnVariance: 0.1, criticalVariance: 0.25, minConfidence: 0.7 });

export interface Classified {
  rule: Rule;
  action: Action;
  severity: Severity;
}

/** Severity of a variance alone. */
export function varianceSeverity(variance: number, th: Thresholds): Severity {
  return variance > th.criticalVariance ? "critical" : variance >= th.warnVariance ? "warning" : "info";
}

/** The matrix row for a matched record. */
export function classify(variance: number, confidenceScore: number, zeroDelivery: boolean, th: Thresholds): Classified {
  if (zeroDelivery) return { rule: "zero_delivery", action: "halt", severity: "critical" };
  const severity = varianceSeverity(variance, th);
  if (confidenceScore < th.minConfidence) return { rule: "low_confidence", action: "escalate", severity };
  if (severity === "critical") return { rule: "critical", action: "halt", severity };
  if (severity === "warning") return { rule: "warning", action: "warn", severity };
  return { rule: "on_pace", action: "log", severity };
}

/** A human's resume, as far as the matrix cares: it covers platform data measured up to `atMs`. */
export interface ResumeCover {
  id: string;
  by: string;
  atMs: number;
}

export interface Explained extends Classified {
  rootCause: string;
  mitigation: string;
  suppressedByResume: string | null;
}

export interface MatchedInput {
  tracker: TrackerRecord;
  flight: Flight;
  platform: PlatformRecord;
  matchedBy: "id" | "name";
  confidence: Confidence;
  pace: Pace;
  asOfMs: number;
  zeroDelivery: boolean;
  /** the campaign's latest resume, if any */
  resume?: ResumeCover;
}

// one formatter for all (toLocaleString builds a new one per call, which dominated reconcile's time)
const DOLLARS = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usd = (x: number): string => `$${DOLLARS.format(x)}`;
const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const num = (x: number, d = 2): string => x.toFixed(d);
const quote = (s: string): string => JSON.stringify(s);

function paceContext(p: MatchedInput): string {
  const { tracker: t, pace } = p;
  const budget = pace.effectiveBudget < pace.budget ? `${usd(pace.effectiveBudget)} (budget ${usd(pace.budget)} capped by ${usd(t.dailyBudget!)}/day)` : usd(pace.budget);
  return `${budget}; ${pct(pace.flightShare)} of the flight ${t.start} to ${t.end} elapsed as of ${pace.asOf}, platform record ${quote(p.platform.id)}`;
}

/** "to spend the remaining $R over D days: $r/day against $c/day so far" */
function runRate(p: MatchedInput): { text: string; changePct: number | undefined } {
  const rem = remainingAt(p.pace, p.flight, p.asOfMs);
  if (rem.days <= 0) return { text: "the flight has ended", changePct: undefined };
  if (rem.dollars <= 0) return { text: `the budget is spent with ${num(rem.days, 1)} days of flight left`, changePct: undefined };
  const need = rem.dollars / rem.days;
  const sofar = rem.elapsedDays > 0 ? p.pace.actual / rem.elapsedDays : 0;
  const text = `the remaining ${usd(rem.dollars)} over ${num(rem.days, 1)} days needs ${usd(need)}/day against ${usd(sofar)}/day so far`;
  return { text, changePct: sofar > 0 ? (need / sofar - 1) * 100 : undefined };
}

function varianceCause(p: MatchedInput, what: string): string {
  const { pace } = p;
  if (pace.target === 0) return `Spend ${usd(pace.actual)} was reported as of ${pace.asOf}, before the flight starts on ${p.tracker.start} (nothing was due yet; counted as 100% variance, ${what}); platform record ${quote(p.platform.id)}.`;
  const dir = pace.actual >= pace.target ? "above" : "below";
  return `Spend ${usd(pace.actual)} is ${pct(pace.variance)} ${dir} the target pace ${usd(pace.target)} (${what}); budget ${paceContext(p)}.`;
}

function adjustText(p: MatchedInput): string {
  const rr = runRate(p);
  if (rr.changePct === undefined) return `${rr.text}.`;
  const dir = rr.changePct < 0 ? "lower" : "raise";
  return `${rr.text}: ${dir} bids or the daily cap by about ${Math.abs(rr.changePct).toFixed(0)}%.`;
}

function lowConfidenceCause(p: MatchedInput, th: Thresholds, would: Classified): string {
  const c = p.confidence;
  const t = p.tracker;
  const f = p.platform;
  const diffs = c.mismatched.map((k) => {
    const key = k as "market" | "product" | "start" | "end";
    return `${k} ${quote(t[key])} vs ${f[key] === undefined ? "missing" : quote(f[key]!)}`;
  });
  const meta = `metadata ${c.metadata * 4}/4 agree${diffs.length > 0 ? ` (${diffs.join("; ")})` : ""}`;
  return (
    `Match confidence ${num(c.score, 3)} is below ${num(th.minConfidence, 2)}: ${meta}, name similarity ${num(c.nameSimilarity, 2)} ` +
    `(${quote(t.name)} vs ${quote(f.name)}, matched by ${p.matchedBy}), data ${num(c.dataAgeHours, 1)} h old (freshness ${c.freshness}). ` +
    `Spend ${usd(p.pace.actual)} against the target pace ${usd(p.pace.target)} would be ${pct(p.pace.variance)} off (${would.severity}).`
  );
}

/** Classifies a matched record and writes why and what to do, naming the numbers. */
export function explainMatched(p: MatchedInput, th: Thresholds): Explained {
  const row = classify(p.pace.variance, p.confidence.score, p.zeroDelivery, th);
  const id = p.tracker.id;
  let rootCause: string;
  /** what a human should do; for a halt, before resuming */
  let fix: string;
  switch (row.rule) {
    case "zero_delivery":
      rootCause =
        `No spend as of ${p.pace.asOf} although the flight started on ${p.tracker.start}: ${pct(p.pace.flightShare)} of it has elapsed and ` +
        `${usd(p.pace.target)} was due (platform record ${quote(p.platform.id)}, match confidence ${num(p.confidence.score, 3)}).`;
      fix =
        `Check that platform campaign ${quote(p.platform.id)} is live (not paused, creatives approved, payment valid) and that it is the ` +
        `campaign for ${id}.`;
      break;
    case "low_confidence": {
      const would = classify(p.pace.variance, 1, false, th);
      rootCause = lowConfidenceCause(p, th, would);
      fix =
        `Not acted on: a human should confirm that platform record ${quote(p.platform.id)} is campaign ${id}, correct the fields that differ in the ` +
        `tracker or on the platform, refresh stale platform data and reconcile again. Trusted, this match would have meant: ${would.action}.`;
      break;
    }
    case "critical": {
      rootCause = varianceCause(p, `critical above ${pct(th.criticalVariance)}`);
      fix =
        p.pace.actual >= p.pace.target
          ? `Find why spend ran ahead (a bid or daily-cap change, a budget mistyped on the platform); ${adjustText(p)}`
          : `Delivery is behind: check targeting, bids, creative approval and payment on the platform; ${adjustText(p)}`;
      break;
    }
    case "warning":
      rootCause = varianceCause(p, `warning from ${pct(th.warnVariance)}, critical above ${pct(th.criticalVariance)}`);
      fix = `${p.pace.actual >= p.pace.target ? "Slow down" : "Speed up"} before it turns critical: ${adjustText(p)}`;
      break;
    default:
      rootCause = `Spend ${usd(p.pace.actual)} is within ${pct(th.warnVariance)} of the target pace ${usd(p.pace.target)} (variance ${pct(p.pace.variance)}); budget ${paceContext(p)}.`;
      fix = `None needed; ${runRate(p).text}.`;
  }
  if (row.action !== "halt") return { ...row, rootCause, mitigation: fix, suppressedByResume: null };
  if (p.resume !== undefined && p.resume.atMs >= p.asOfMs) {
    const still = row.rule === "zero_delivery" ? "without spend" : "critical";
    return {
      ...row,
      action: "warn",
      suppressedByResume: p.resume.id,
      rootCause: `${rootCause} Not halted again: ${p.resume.by} resumed ${id} at ${new Date(p.resume.atMs).toISOString()} (${p.resume.id}), after this data was measured.`,
      mitigation: `Newer platform data that is still ${still} will halt it again. ${fix}`,
    };
  }
  const whatever = row.rule === "zero_delivery" ? " whatever the match confidence" : "";
  return {
    ...row,
    rootCause,
    mitigation: `Bidding for ${id} is halted${whatever}. ${fix} Then resume it with POST /v1/campaigns/${id}/resume.`,
    suppressedByResume: null,
  };
}

/** The decision for a tracker record no platform record matched. */
export function explainUnmatched(tracker: TrackerRecord, best: { id: string; name: string; similarity: number } | undefined, nameThreshold: number): Explained {
  const near = best === undefined ? "no unmatched platform record was left to compare" : `the nearest was ${quote(best.name)} (${quote(best.id)}) at ${num(best.similarity, 2)}`;
  return {
    rule: "unmatched",
    action: "escalate",
    severity: "warning",
    suppressedByResume: null,
    rootCause: `No platform record has id ${quote(tracker.id)} and none of the unmatched ones has a name at least ${num(nameThreshold, 2)} similar to ${quote(tracker.name)}: ${near}.`,
    mitigation: `Nothing to pace ${tracker.id} against: check that the campaign exists on the platform and is in its export, or give the platform record the tracker id ${quote(tracker.id)}; reconcile again.`,
  };
}
