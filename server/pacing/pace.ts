// The target pace of a campaign: how much it should have spent by a given moment if it spread its
// budget evenly over its flight, and how far the actual spend is from that.
//
//   flight          = [start 00:00Z, (end + 1 day) 00:00Z)          (end date inclusive, UTC)
//   flightShare     = clamp((asOf - flightStart) / (flightEnd - flightStart), 0, 1)
//   effectiveBudget = min(budget, dailyBudget × flight days)        (budget without a daily cap)
//   target          = effectiveBudget × flightShare
//   variance        = |actual - target| / target, rounded to 6 decimals
//                     target 0 (asOf at or before the start): 0 when actual is 0, else 1 (100%:
//                     spend before the flight is always off pace)
import { HttpError } from "../errors.js";
import type { CampaignPlan, Pace } from "./schemas.js";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Rounds to 6 decimals, so that thresholds like 10% are not missed by a last-bit float error. */
export const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

const bad = (field: string, message: string): HttpError => new HttpError(400, "invalid_request", `${field} ${message}`, field);

function calendarDayMs(y: number, m: number, d: number, field: string, text: string): number {
  const ms = Date.UTC(y, m - 1, d);
  const back = new Date(ms);
  if (y < 1970 || back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) {
    throw bad(field, `must be a calendar date from 1970 on, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** "2024-06-01" -> its 00:00 UTC in unix ms; a 400 naming `field` when it is not a real date. */
export function parseIsoDate(text: string, field: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m === null) throw bad(field, `must be a date YYYY-MM-DD, got ${JSON.stringify(text)}`);
  return calendarDayMs(+m[1], +m[2], +m[3], field, text);
}

/** An ISO-8601 date-time with offset -> unix ms; a 400 naming `field` when any part is out of range. */
export function parseIsoDateTime(text: string, field: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/.exec(text);
  if (m === null) throw bad(field, `must be an ISO-8601 date-time with offset (e.g. 2024-06-10T12:00:00Z), got ${JSON.stringify(text)}`);
  calendarDayMs(+m[1], +m[2], +m[3], field, text);
  if (+m[4] > 23 || +m[5] > 59 || +(m[6] ?? 0) > 59 || +(m[7] ?? 0) > 23 || +(m[8] ?? 0) > 59) {
    throw bad(field, `has an hour, minute, second or offset out of range: ${JSON.stringify(text)}`);
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw bad(field, `is not a valid time: ${JSON.stringify(text)}`);
  return ms;
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();

/** A campaign's flight in unix ms: [startMs, endMs), endMs exclusive. */
export interface Flight {
  startMs: number;
  endMs: number;
  days: number;
}

/** The flight of `plan`; `field` prefixes the names in errors (e.g. `body.tracker[2]`). */
export function flightOf(plan: Pick<CampaignPlan, "start" | "end">, field: string): Flight {
  const startMs = parseIsoDate(plan.start, `${field}.start`);
  const endDay = parseIsoDate(plan.end, `${field}.end`);
  if (endDay < startMs) throw bad(`${field}.end`, `(${plan.end}) must not be before ${field}.start (${plan.start})`);
  const endMs = endDay + DAY_MS;
  return { startMs, endMs, days: (endMs - startMs) / DAY_MS };
}

/** The budget that can be spent over the flight: the daily cap can make it smaller than `budget`. */
export function effectiveBudget(plan: Pick<CampaignPlan, "budget" | "dailyBudget">, flight: Flight): number {
  return plan.dailyBudget === undefined ? plan.budget : Math.min(plan.budget, plan.dailyBudget * flight.days);
}

/** Target pace and variance of `actual` dollars spent as of `asOfMs` (formulas at the top of the file). */
export function paceAt(plan: Pick<CampaignPlan, "budget" | "dailyBudget">, flight: Flight, actual: number, asOfMs: number): Pace {
  const flightShare = Math.min(1, Math.max(0, (asOfMs - flight.startMs) / (flight.endMs - flight.startMs)));
  const effective = effectiveBudget(plan, flight);
  const target = effective * flightShare;
  const variance = target > 0 ? round6(Math.abs(actual - target) / target) : actual > 0 ? 1 : 0;
  return { asOf: isoTime(asOfMs), flightShare, budget: plan.budget, effectiveBudget: effective, target, actual, variance };
}

/** What is left of the flight after `asOfMs`: dollars (never negative) and days. */
export function remainingAt(pace: Pace, flight: Flight, asOfMs: number): { dollars: number; days: number; elapsedDays: number } {
  return {
    dollars: Math.max(0, pace.effectiveBudget - pace.actual),
    days: Math.max(0, (flight.endMs - Math.max(asOfMs, flight.startMs)) / DAY_MS),
    elapsedDays: Math.max(0, (Math.min(asOfMs, flight.endMs) - flight.startMs) / DAY_MS),
  };
}
