// How sure the guard is that a platform record is the tracker's campaign and that its numbers are
// current (the pacing-agent design's confidence score):
//
//   confidence = 0.5 · metadata + 0.3 · nameSimilarity + 0.2 · freshness      (rounded to 6 decimals)
//   metadata       = a quarter for each of market, product, start, end that agree (market and
//                    product compared as normalised names; a field the platform lacks disagrees)
//   nameSimilarity = 1 - levenshtein(a, b) / max(|a|, |b|) over normalised names (1 when both empty)
//   freshness      = data age < 4 h: 1.0 · 4-12 h: 0.8 · 12-24 h: 0.5 · 24 h or older: 0.2
//                    (each bucket includes its lower bound: exactly 4 h is 0.8)
import { distance } from "fastest-levenshtein";
import { HOUR_MS, round6 } from "./pace.js";
import type { Confidence, PlatformRecord, TrackerRecord } from "./schemas.js";

export const METADATA_WEIGHT = 0.5;
export const NAME_WEIGHT = 0.3;
export const FRESHNESS_WEIGHT = 0.2;

/** Lower case, accents stripped, every run of non-letters/digits one space, trimmed. */
export function normalizeName(name: string): string {
  return name.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** 1 - Levenshtein distance / longer length, over normalised names: 1 identical, 0 nothing shared. */
export function nameSimilarity(a: string, b: string): number {
  return normalizedSimilarity(normalizeName(a), normalizeName(b));
}

/** nameSimilarity of names already passed through normalizeName. */
export function normalizedSimilarity(x: string, y: string): number {
  const longest = Math.max(x.length, y.length);
  return longest === 0 ? 1 : 1 - distance(x, y) / longest;
}

/** Freshness of data `ageMs` old (negative ages, from clock skew, count as 0). */
export function freshness(ageMs: number): number {
  const hours = Math.max(0, ageMs) / HOUR_MS;
  if (hours < 4) return 1;
  if (hours < 12) return 0.8;
  if (hours < 24) return 0.5;
  return 0.2;
}

export const METADATA_FIELDS = ["market", "product", "start", "end"] as const;

/** Share (0, .25, ..., 1) of market, product, start and end that agree, and the ones that do not. */
export function metadataMatch(tracker: TrackerRecord, platform: PlatformRecord): { score: number; mismatched: string[] } {
  const mismatched: string[] = [];
  for (const f of METADATA_FIELDS) {
    const p = platform[f];
    const same = p !== undefined && (f === "market" || f === "product" ? normalizeName(p) === normalizeName(tracker[f]) : p === tracker[f]);
    if (!same) mismatched.push(f);
  }
  return { score: (METADATA_FIELDS.length - mismatched.length) / METADATA_FIELDS.length, mismatched };
}

/** The confidence of matching `tracker` to `platform` with the platform data as of `updatedAtMs`. */
export function confidence(tracker: TrackerRecord, platform: PlatformRecord, updatedAtMs: number, nowMs: number): Confidence {
  const meta = metadataMatch(tracker, platform);
  const name = nameSimilarity(tracker.name, platform.name);
  const ageMs = Math.max(0, nowMs - updatedAtMs);
  const fresh = freshness(ageMs);
  return {
    score: round6(METADATA_WEIGHT * meta.score + NAME_WEIGHT * name + FRESHNESS_WEIGHT * fresh),
    metadata: meta.score,
    nameSimilarity: round6(name),
    freshness: fresh,
    dataAgeHours: round6(ageMs / HOUR_MS),
    mismatched: meta.mismatched,
  };
}
