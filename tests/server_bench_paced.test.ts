// The paced-load percentiles of bench/server.bench.ts (server.bid.p99_ms): h2load's per-request
// log parsed into exact nearest-rank percentiles of the 2xx latencies.
import { describe, expect, it } from "vitest";
import { pacedFromLog, percentile } from "../bench/server.bench.js";

describe("paced load percentiles", () => {
  it("nearest rank: the smallest value with at least p of the values at or below it", () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.99)).toBe(99);
    expect(percentile(v, 0.999)).toBe(100);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile([7], 0.99)).toBe(7);
    expect(() => percentile([], 0.5)).toThrow(/no values/);
  });

  it("reads latencies in µs as ms, counts non-2xx apart and rates over the measured seconds", () => {
    // 1,000 answers 200 with latencies 1..1000 µs in shuffled order, plus three 503s of 0 µs
    const rows: string[] = [];
    for (let i = 0; i < 1000; i++) rows.push(`${1796464163426626 + i}\t200\t${((i * 617) % 1000) + 1}`);
    rows.splice(10, 0, "1796464163426000\t503\t0", "1796464163426001\t503\t0");
    rows.push("1796464163427999\t503\t0");
    const r = pacedFromLog(rows.join("\n") + "\n", 2);
    expect(r.non2xx).toBe(3);
    expect(r.reqPerS).toBe(500);
    expect(r.p50Ms).toBeCloseTo(0.5, 12);
    expect(r.p99Ms).toBeCloseTo(0.99, 12);
    expect(r.p999Ms).toBeCloseTo(0.999, 12);
  });

  it("refuses a malformed row or a log with no 2xx answer, naming what it found", () => {
    expect(() => pacedFromLog("1\t200\t5\n2\t200\n", 1)).toThrow(/malformed row "2\\t200"/);
    expect(() => pacedFromLog("1\t200\tabc\n", 1)).toThrow(/malformed row/);
    expect(() => pacedFromLog("1\t503\t5\n", 1)).toThrow(/no 2xx answers \(1 others\)/);
  });
});
