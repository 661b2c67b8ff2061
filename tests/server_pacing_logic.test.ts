// The pacing guard's logic without the server: target pace, the confidence formula and each
// freshness bucket, every row of the decision matrix with its boundaries, and matching tracker to
// platform records by id and by fuzzy name.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { confidence, freshness, metadataMatch, nameSimilarity, normalizeName } from "../server/pacing/confidence.js";
import { classify, DEFAULT_THRESHOLDS } from "../server/pacing/matrix.js";
import { DAY_MS, flightOf, HOUR_MS, paceAt, parseIsoDate, parseIsoDateTime } from "../server/pacing/pace.js";
import { matchRecords, reconcile, reconcileYielding, type ReconcileOptions } from "../server/pacing/reconcile.js";
import type { PlatformRecord, TrackerRecord } from "../server/pacing/schemas.js";
import { HttpError } from "../server/errors.js";

const T0 = Date.parse("2024-06-01T00:00:00Z");
const at = (days: number): number => T0 + days * DAY_MS;
const iso = (ms: number): string => new Date(ms).toISOString();
const OPTS: ReconcileOptions = { ...DEFAULT_THRESHOLDS, nameMatchThreshold: 0.75 };

/** A 30-day flight (June 2024) with a $3,000 budget: $100 a day on pace. */
const tracker = (over: Partial<TrackerRecord> = {}): TrackerRecord => ({
  id: "c1", name: "Summer Sale US", market: "US", product: "Shoes", start: "2024-06-01", end: "2024-06-30", budget: 3000, ...over,
});
const platform = (over: Partial<PlatformRecord> = {}): PlatformRecord => ({
  id: "c1", name: "Summer Sale US", market: "US", product: "Shoes", start: "2024-06-01", end: "2024-06-30", spend: 1000, updatedAt: iso(at(10)), ...over,
});

/** The 400 HttpError `fn` throws, for checking the field it names. */
function http400(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).statusCode).toBe(400);
    return e as HttpError;
  }
  throw new Error("expected a 400");
}

describe("target pace", () => {
  const plan = tracker();
  const flight = flightOf(plan, "body");

  it("is budget × elapsed share of the flight (end date inclusive, UTC)", () => {
    expect(flight).toEqual({ startMs: T0, endMs: Date.parse("2024-07-01T00:00:00Z"), days: 30 });
    expect(paceAt(plan, flight, 1000, at(10)).target).toBeCloseTo(1000, 9); // 10 of 30 days
    expect(paceAt(plan, flight, 0, at(7.5)).target).toBeCloseTo(750, 9);
    expect(paceAt(plan, flight, 0, at(30)).target).toBe(3000);
    expect(paceAt(plan, flight, 0, at(45)).target).toBe(3000); // after the end: the whole budget
  });

  it("caps the budget by the daily budget over the flight", () => {
    const capped = { ...plan, dailyBudget: 50 }; // 30 days × $50 = $1,500 < $3,000
    const p = paceAt(capped, flight, 400, at(10));
    expect(p.effectiveBudget).toBe(1500);
    expect(p.target).toBeCloseTo(500, 9);
    expect(p.variance).toBe(0.2);
    expect(paceAt({ ...plan, dailyBudget: 500 }, flight, 0, at(10)).effectiveBudget).toBe(3000); // a loose cap changes nothing
  });

  it("variance is |actual - target| / target, and defined when the target is 0", () => {
    expect(paceAt(plan, flight, 1100, at(10)).variance).toBe(0.1);
    expect(paceAt(plan, flight, 750, at(10)).variance).toBe(0.25);
    expect(paceAt(plan, flight, 0, at(10)).variance).toBe(1);
    // before the start nothing is due: no spend is on pace, any spend is 100% off
    expect(paceAt(plan, flight, 0, at(-2))).toMatchObject({ target: 0, flightShare: 0, variance: 0 });
    expect(paceAt(plan, flight, 0.01, at(-2))).toMatchObject({ target: 0, variance: 1 });
    expect(paceAt(plan, flight, 0, T0)).toMatchObject({ target: 0, variance: 0 });
  });

  it("target never falls with time and stays within [0, effective budget]", () => {
    fc.assert(
      fc.property(fc.double({ min: -40, max: 80, noNaN: true }), fc.double({ min: 0, max: 40, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true }), (d, step, budget) => {
        const p = { ...plan, budget };
        const a = paceAt(p, flight, 0, at(d)).target;
        const b = paceAt(p, flight, 0, at(d + step)).target;
        return a >= 0 && b >= a && b <= budget;
      }),
    );
  });

  it("refuses impossible dates and an end before the start, naming the field", () => {
    expect(http400(() => parseIsoDate("2024-02-30", "body.start")).field).toBe("body.start");
    expect(parseIsoDate("2024-02-29", "x")).toBe(Date.parse("2024-02-29T00:00:00Z"));
    expect(http400(() => flightOf(tracker({ start: "2024-06-10", end: "2024-06-09" }), "body")).field).toBe("body.end");
    expect(flightOf(tracker({ start: "2024-06-10", end: "2024-06-10" }), "body").days).toBe(1);
    expect(http400(() => parseIsoDateTime("2024-06-01T24:00:00Z", "t")).message).toMatch(/out of range/);
    expect(http400(() => parseIsoDateTime("2023-02-29T10:00:00Z", "t")).message).toMatch(/calendar date/);
    expect(parseIsoDateTime("2024-06-01T02:00:00+02:00", "t")).toBe(T0);
  });
});

describe("confidence", () => {
  it("freshness buckets: < 4 h 1.0, 4-12 h 0.8, 12-24 h 0.5, older 0.2 (lower bounds included)", () => {
    const h = HOUR_MS;
    const table: [number, number][] = [
      [-h, 1], [0, 1], [4 * h - 1, 1], [4 * h, 0.8], [12 * h - 1, 0.8], [12 * h, 0.5], [24 * h - 1, 0.5], [24 * h, 0.2], [1000 * h, 0.2],
    ];
    for (const [age, f] of table) expect(freshness(age), `age ${age / h} h`).toBe(f);
  });

  it("name similarity is 1 - Levenshtein / longer length over normalised names", () => {
    expect(nameSimilarity("kitten", "sitting")).toBeCloseTo(1 - 3 / 7, 12);
    expect(nameSimilarity("Summer Sale — US (2024)", "summer-sale us 2024")).toBe(1);
    expect(normalizeName("  Crème  Brûlée_FR!! ")).toBe("creme brulee fr");
    expect(nameSimilarity("", "")).toBe(1);
    expect(nameSimilarity("abc", "xyz")).toBe(0);
    fc.assert(fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (a, b) => {
      const s = nameSimilarity(a, b);
      return s >= 0 && s <= 1 && s === nameSimilarity(b, a) && nameSimilarity(a, a) === 1;
    }));
  });

  it("metadata: a quarter each for market, product, start, end; a field the platform lacks disagrees", () => {
    expect(metadataMatch(tracker(), platform())).toEqual({ score: 1, mismatched: [] });
    expect(metadataMatch(tracker(), platform({ market: " us ", product: "SHOES" }))).toEqual({ score: 1, mismatched: [] });
    expect(metadataMatch(tracker(), platform({ market: "CA" }))).toEqual({ score: 0.75, mismatched: ["market"] });
    expect(metadataMatch(tracker(), platform({ end: "2024-07-31", start: undefined }))).toEqual({ score: 0.5, mismatched: ["start", "end"] });
    expect(metadataMatch(tracker(), { id: "x", name: "n", spend: 0, updatedAt: iso(T0) })).toEqual({ score: 0, mismatched: ["market", "product", "start", "end"] });
  });

  it("is 0.5·metadata + 0.3·name similarity + 0.2·freshness", () => {
    const now = at(10);
    // 3 of 4 fields, names "kitten"/"sitting", data 5 h old
    const c = confidence(tracker({ name: "kitten" }), platform({ name: "sitting", product: "Hats", updatedAt: iso(now - 5 * HOUR_MS) }), now - 5 * HOUR_MS, now);
    expect(c.metadata).toBe(0.75);
    expect(c.freshness).toBe(0.8);
    expect(c.dataAgeHours).toBe(5);
    expect(c.score).toBeCloseTo(0.5 * 0.75 + 0.3 * (4 / 7) + 0.2 * 0.8, 6);
    const perfect = confidence(tracker(), platform(), now, now);
    expect(perfect.score).toBe(1);
    const worst = confidence(tracker({ name: "abc" }), { id: "x", name: "xyz", spend: 0, updatedAt: iso(now) }, now - 30 * HOUR_MS, now);
    expect(worst.score).toBeCloseTo(0.2 * 0.2, 12);
  });
});

describe("decision matrix", () => {
  const th = DEFAULT_THRESHOLDS;
  it("every row, boundaries included", () => {
    const rows: [variance: number, confidence: number, zero: boolean, rule: string, action: string][] = [
      [0, 1, false, "on_pace", "log"],
      [0.099999, 1, false, "on_pace", "log"],
      [0.1, 1, false, "warning", "warn"], // exactly 10% warns
      [0.18, 0.9, false, "warning", "warn"],
      [0.25, 1, false, "warning", "warn"], // exactly 25% still warns
      [0.250001, 1, false, "critical", "halt"],
      [3, 0.7, false, "critical", "halt"], // confidence exactly 0.7 acts
      [3, 0.699999, false, "low_confidence", "escalate"],
      [0.02, 0.5, false, "low_confidence", "escalate"], // low confidence escalates even on pace
      [0.15, 0.1, false, "low_confidence", "escalate"],
      [1, 0.95, true, "zero_delivery", "halt"], // zero delivery halts at high confidence ...
      [1, 0.2, true, "zero_delivery", "halt"], // ... and at low confidence
    ];
    for (const [v, c, z, rule, action] of rows) expect(classify(v, c, z, th), `variance ${v}, confidence ${c}, zero ${z}`).toMatchObject({ rule, action });
    expect(classify(0.3, 0.5, false, th).severity).toBe("critical"); // the escalation says how bad it would be
    expect(classify(0.05, 0.5, false, th).severity).toBe("info");
  });

  // the same rows through reconcile, with numbers that land exactly on the boundaries:
  // as of day 10 the target is $1,000
  const decide = (p: Partial<PlatformRecord>, t: Partial<TrackerRecord> = {}, now = at(10)) =>
    reconcile([tracker(t)], [platform(p)], now, OPTS).assessments[0];

  it("from platform numbers: 10% and 25% warn, above 25% halts, both directions", () => {
    expect(decide({ spend: 1099.99 })).toMatchObject({ rule: "on_pace", action: "log" });
    expect(decide({ spend: 1100 })).toMatchObject({ rule: "warning", action: "warn", pace: { variance: 0.1 } });
    expect(decide({ spend: 900 })).toMatchObject({ rule: "warning", action: "warn", pace: { variance: 0.1 } });
    expect(decide({ spend: 1250 })).toMatchObject({ rule: "warning", action: "warn", pace: { variance: 0.25 } });
    expect(decide({ spend: 750 })).toMatchObject({ rule: "warning", action: "warn", pace: { variance: 0.25 } });
    expect(decide({ spend: 1250.01 })).toMatchObject({ rule: "critical", action: "halt" });
    expect(decide({ spend: 749.99 })).toMatchObject({ rule: "critical", action: "halt" });
  });

  it("confidence exactly 0.7 acts, just below escalates instead of halting", () => {
    // metadata 1 (0.5) + names sharing nothing (0) + fresh (0.2) = 0.7; a match by id
    const exact = decide({ spend: 2000, name: "zzzzzzzzzzzzzz" });
    expect(exact.confidence!.score).toBe(0.7);
    expect(exact).toMatchObject({ matchedBy: "id", rule: "critical", action: "halt" });
    // 2 of 4 fields and "summer sale" vs "summer sale us" (3 edits in 14): 0.25 + 0.3 × 11/14 + 0.2 = 0.6857
    const low = decide({ spend: 2000, market: "CA", product: "Hats", name: "Summer Sale" });
    expect(low.confidence!.score).toBeCloseTo(0.5 * 0.5 + 0.3 * (11 / 14) + 0.2, 6);
    expect(low.confidence!.score).toBeLessThan(0.7);
    expect(low).toMatchObject({ rule: "low_confidence", action: "escalate", severity: "critical" });
    expect(low.rootCause).toContain('market "US" vs "CA"');
    expect(low.mitigation).toContain("would have meant: halt");
  });

  it("zero delivery halts whatever the confidence; not before the flight or after it", () => {
    const high = decide({ spend: 0 });
    expect(high).toMatchObject({ rule: "zero_delivery", action: "halt", zeroDelivery: true });
    expect(high.confidence!.score).toBe(1);
    const low = decide({ spend: 0, market: "CA", product: undefined, name: "other thing", updatedAt: iso(at(8)) });
    expect(low.confidence!.score).toBeLessThan(0.7);
    expect(low).toMatchObject({ rule: "zero_delivery", action: "halt" });
    // before the start nothing is due: on pace
    expect(decide({ spend: 0, updatedAt: iso(at(-1)) }, {}, at(-1))).toMatchObject({ rule: "on_pace", action: "log", zeroDelivery: false });
    // after the end no spend is a 100% shortfall (critical), not "zero delivery while it should deliver"
    expect(decide({ spend: 0, updatedAt: iso(at(31)) }, {}, at(31))).toMatchObject({ rule: "critical", zeroDelivery: false });
  });

  it("spend before the flight starts is 100% off pace", () => {
    expect(decide({ spend: 5, updatedAt: iso(at(-1)) }, {}, at(-1))).toMatchObject({ rule: "critical", action: "halt", pace: { target: 0, variance: 1 } });
  });

  it("the target is taken when the platform measured the spend", () => {
    // data measured at day 8 ($800 due then), read at day 10: on pace, not 20% behind
    const d = decide({ spend: 800, updatedAt: iso(at(8)) });
    expect(d.pace).toMatchObject({ asOf: iso(at(8)), actual: 800, variance: 0 });
    expect(d.confidence!.freshness).toBe(0.2); // 48 h old
  });

  it("root cause and mitigation name the numbers of the case", () => {
    const over = decide({ spend: 1300 });
    expect(over.rootCause).toContain("$1,300.00 is 30.0% above the target pace $1,000.00");
    expect(over.mitigation).toContain("Bidding for c1 is halted");
    expect(over.mitigation).toContain("remaining $1,700.00 over 20.0 days needs $85.00/day against $130.00/day so far: lower bids");
    const under = decide({ spend: 850 });
    expect(under.rootCause).toContain("$850.00 is 15.0% below the target pace $1,000.00");
    expect(under.mitigation).toMatch(/^Speed up/);
    expect(under.mitigation).toContain("$107.50/day against $85.00/day so far: raise bids");
    expect(decide({ spend: 1020 }).mitigation).toMatch(/^None needed/);
    expect(decide({ spend: 0 }).rootCause).toContain("$1,000.00 was due");
  });

  it("a resume covers data measured up to it: no second halt for it, a halt for newer data", () => {
    const resume = { id: "resume-7", by: "ana", atMs: at(10) };
    const opts = { ...OPTS, resumeOf: () => resume };
    const old = reconcile([tracker()], [platform({ spend: 2000, updatedAt: iso(at(10)) })], at(10.5), opts).assessments[0];
    expect(old).toMatchObject({ rule: "critical", action: "warn", suppressedByResume: "resume-7" });
    expect(old.rootCause).toContain("Not halted again: ana resumed c1");
    const newer = reconcile([tracker()], [platform({ spend: 2000, updatedAt: iso(at(10.25)) })], at(10.5), opts).assessments[0];
    expect(newer).toMatchObject({ rule: "critical", action: "halt", suppressedByResume: null });
  });
});

describe("matching tracker to platform records", () => {
  const now = at(10);
  it("by id first, then by fuzzy name; each platform record used once; leftovers reported", () => {
    const ts = [
      tracker({ id: "a", name: "Alpha Launch" }),
      tracker({ id: "b", name: "Bravo Retargeting EU" }),
      tracker({ id: "c", name: "Charlie Brand" }),
      tracker({ id: "d", name: "Nothing Like It" }),
    ];
    const ps = [
      platform({ id: "p1", name: "bravo retargeting - EU" }),
      platform({ id: "a", name: "completely different" }), // same id: matched by id whatever the name
      platform({ id: "p3", name: "Charlie Brand (copy)" }),
      platform({ id: "p4", name: "Zulu" }),
    ];
    const r = reconcile(ts, ps, now, OPTS);
    expect(r.assessments.map((a) => [a.tracker.id, a.platform?.id ?? null, a.matchedBy])).toEqual([
      ["a", "a", "id"], ["b", "p1", "name"], ["c", null, null], ["d", null, null],
    ]);
    // "charlie brand" vs "charlie brand copy": 1 - 5/18 = 0.72 < 0.75
    // the nearest is looked for among the platform records left unused (p3, p4)
    const nearestOfD = nameSimilarity("Nothing Like It", "Charlie Brand (copy)") > nameSimilarity("Nothing Like It", "Zulu") ? "p3" : "p4";
    expect(r.unmatchedTracker.map((u) => [u.id, u.nearest?.id])).toEqual([["c", "p3"], ["d", nearestOfD]]);
    expect(r.unmatchedTracker[0].nearest!.similarity).toBeCloseTo(1 - 5 / 18, 12);
    expect(r.unmatchedPlatform).toEqual([{ id: "p3", name: "Charlie Brand (copy)" }, { id: "p4", name: "Zulu" }]);
    expect(r.assessments[2]).toMatchObject({ rule: "unmatched", action: "escalate" });
    expect(r.assessments[2].rootCause).toContain('"Charlie Brand (copy)" ("p3") at 0.72');
    expect(reconcile(ts, ps, now, { ...OPTS, nameMatchThreshold: 0.7 }).assessments[2].platform?.id).toBe("p3");
  });

  it("a platform record goes to the most similar tracker name, whatever the order", () => {
    const ts = [tracker({ id: "x", name: "Spring Promo 2" }), tracker({ id: "y", name: "Spring Promo" })];
    const ps = [platform({ id: "p", name: "spring promo" })];
    const m = matchRecords(ts, ps, 0.75);
    expect(m.platformOf).toEqual([undefined, 0]);
    expect(matchRecords([...ts].reverse(), ps, 0.75).platformOf).toEqual([0, undefined]);
  });

  it("the pairs matched do not depend on the order of the records", () => {
    const names = fc.constantFrom("alpha", "alpha 1", "alpha 2", "beta", "beta x", "gamma", "gamma ray", "delta");
    fc.assert(
      fc.property(fc.uniqueArray(names, { minLength: 1, maxLength: 6 }), fc.uniqueArray(names, { maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), (tn, pn, seed) => {
        const ts = tn.map((n, i) => tracker({ id: `t${i}`, name: n }));
        const ps = pn.map((n, j) => platform({ id: `p${j}`, name: n }));
        const pairs = (t: TrackerRecord[], p: PlatformRecord[]) => {
          const m = matchRecords(t, p, 0.6);
          return t.map((r, i) => `${r.id}:${m.platformOf[i] === undefined ? "-" : p[m.platformOf[i]!].id}`).sort();
        };
        const rot = (a: unknown[]) => (a.length === 0 ? a : [...a.slice(seed % a.length), ...a.slice(0, seed % a.length)]);
        // equal similarities are broken by position, so only compare when every score is distinct
        const sims = ts.flatMap((t) => ps.map((p) => nameSimilarity(t.name, p.name)));
        fc.pre(new Set(sims).size === sims.length);
        expect(pairs(rot(ts) as TrackerRecord[], rot(ps) as PlatformRecord[])).toEqual(pairs(ts, ps));
      }),
    );
  });

  it("refuses repeated ids and platform data from the future, naming the field", () => {
    expect(http400(() => reconcile([tracker(), tracker()], [], now, { ...OPTS, fieldPrefix: "body." })).field).toBe("body.tracker[1].id");
    expect(http400(() => reconcile([tracker()], [platform({ id: "p" }), platform({ id: "p" })], now, OPTS)).field).toBe("platform[1].id");
    const future = http400(() => reconcile([tracker()], [platform({ updatedAt: iso(now + 6 * 60_000) })], now, OPTS));
    expect(future.field).toBe("platform[0].updatedAt");
    expect(reconcile([tracker()], [platform({ updatedAt: iso(now + 4 * 60_000) })], now, OPTS).assessments[0].confidence!.dataAgeHours).toBe(0);
  });
});

describe("reconcileYielding (the server's way)", () => {
  const now = at(10);
  const letters = (k: number, len: number): string => Array.from({ length: len }, (_, c) => "abcdefghij"[(k * 7 + c * c + k * c) % 10]).join("");

  it("decides exactly as reconcile() while letting other callbacks run between slices", async () => {
    // 120 × 120 names of 150 characters with no id in common: about 330 M character pairs
    const ts = Array.from({ length: 120 }, (_, i) => tracker({ id: `t${i}`, name: letters(i, 150) }));
    const ps = Array.from({ length: 120 }, (_, j) => platform({ id: `p${j}`, name: letters(j + (j % 2) * 1000, 150), spend: (j % 13) * 100 }));
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const yielded = await reconcileYielding(ts, ps, now, OPTS);
    running = false;
    expect(yielded).toEqual(reconcile(ts, ps, now, OPTS));
    expect(yielded.assessments.filter((a) => a.matchedBy === "name").length).toBeGreaterThan(0);
    expect(ticks).toBeGreaterThan(50); // the event loop turned between slices
  });

  it("validation throws before the first slice, and nothing runs after", () => {
    expect(() => reconcileYielding([tracker(), tracker()], [], now, OPTS)).toThrow(HttpError);
  });

  it("a resume that lands while it runs is taken into account", async () => {
    const ts = Array.from({ length: 60 }, (_, i) => tracker({ id: `t${i}` }));
    const ps = ts.map((t) => platform({ id: t.id, spend: 2000 })); // all critical
    let cover: { id: string; by: string; atMs: number } | undefined;
    setImmediate(() => (cover = { id: "resume-1", by: "ana", atMs: now }));
    const r = await reconcileYielding(ts, ps, now, { ...OPTS, resumeOf: (id) => (id === "t0" ? cover : undefined) });
    expect(cover).toBeDefined();
    expect(r.assessments[0]).toMatchObject({ rule: "critical", action: "warn", suppressedByResume: "resume-1" });
    expect(r.assessments[1]).toMatchObject({ rule: "critical", action: "halt", suppressedByResume: null });
  });
});
