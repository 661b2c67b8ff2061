import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  histogramQuantile,
  incompleteBeta,
  lnGamma,
  mean,
  sd,
  summarizeHistogram,
  tCdf,
  tInterval,
  tQuantile,
} from "../trainer/stats.js";

describe("mean and sd", () => {
  it("match hand computations", () => {
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    // sample sd of 2,4,4,4,5,5,7,9: sum of squares 32, / 7
    expect(sd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(sd([3])).toBe(0);
    expect(mean([])).toBeNaN();
  });
});

describe("Student-t", () => {
  it("lnGamma matches factorials and Γ(1/2) = √π", () => {
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lnGamma(100)).toBeCloseTo(359.1342053695754, 9);
  });

  it("incomplete beta known values", () => {
    // I_x(1, 1) = x, I_x(2, 1) = x^2, I_0.5(a, a) = 0.5
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(incompleteBeta(0.3, 2, 1)).toBeCloseTo(0.09, 12);
    expect(incompleteBeta(0.5, 7.5, 7.5)).toBeCloseTo(0.5, 12);
  });

  it("t quantiles match published tables (two-sided 95% and others)", () => {
    const table: Array<[number, number, number]> = [
      // [p, df, t]
      [0.975, 1, 12.7062047362],
      [0.975, 2, 4.3026527297],
      [0.975, 3, 3.1824463053],
      [0.975, 4, 2.7764451052],
      [0.975, 5, 2.5705818366],
      [0.975, 9, 2.2621571628],
      [0.975, 15, 2.1314495456],
      [0.975, 30, 2.0422724563],
      [0.975, 120, 1.9799304050],
      [0.975, 1e6, 1.9599663],
      [0.95, 10, 1.8124611228],
      [0.995, 7, 3.4994832974],
      [0.9, 1, 3.0776835372],
      [0.999, 3, 10.2145318524],
    ];
    for (const [p, df, t] of table) {
      expect(tQuantile(p, df)).toBeCloseTo(t, 6);
      expect(tQuantile(1 - p, df)).toBeCloseTo(-t, 6);
    }
    expect(tQuantile(0.975, 9)).toBeCloseTo(2.262, 3);
    expect(tQuantile(0.5, 4)).toBe(0);
  });

  it("quantile inverts the CDF (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.integer({ min: 1, max: 500 }), (p, df) => {
        expect(tCdf(tQuantile(p, df), df)).toBeCloseTo(p, 8);
      }),
      { numRuns: 200 },
    );
  });

  it("rejects bad arguments", () => {
    expect(() => tQuantile(1, 3)).toThrow(/p must be in \(0, 1\)/);
    expect(() => tQuantile(0.9, 0)).toThrow(/df must be > 0/);
  });
});

describe("tInterval", () => {
  it("95% interval of 1..10", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const ci = tInterval(xs);
    const half = 2.2621571628 * (sd(xs) / Math.sqrt(10));
    expect(ci.n).toBe(10);
    expect(ci.mean).toBe(5.5);
    expect(ci.sd).toBeCloseTo(3.0276503541, 9);
    expect(ci.lo).toBeCloseTo(5.5 - half, 8);
    expect(ci.hi).toBeCloseTo(5.5 + half, 8);
    expect(ci.note).toBeUndefined();
  });

  it("n = 1 gives the mean as both bounds, with a note", () => {
    const ci = tInterval([4.2]);
    expect(ci).toMatchObject({ n: 1, mean: 4.2, lo: 4.2, hi: 4.2, sd: 0 });
    expect(ci.note).toMatch(/n = 1/);
  });

  it("drops non-finite values and reports how many were used", () => {
    const ci = tInterval([1, Number.NaN, 3, Number.POSITIVE_INFINITY]);
    expect(ci.n).toBe(2);
    expect(ci.mean).toBe(2);
    expect(tInterval([Number.NaN]).mean).toBeNaN();
  });

  it("constant data has a zero-width interval", () => {
    const ci = tInterval([2, 2, 2, 2]);
    expect(ci.lo).toBe(2);
    expect(ci.hi).toBe(2);
  });
});

describe("histogram quantiles", () => {
  it("point mass", () => {
    const h = new Float64Array(100);
    h[48] = 3;
    expect(summarizeHistogram(h, 1 / 24)).toEqual({ total: 3, mean: 2, median: 2, p75: 2, max: 2 });
  });

  it("hand-made histogram in hours", () => {
    // weights: 1 at 0 h, 2 at 24 h, 1 at 72 h, 1 at 240 h (total 5)
    const h = new Float64Array(1441);
    h[0] = 1;
    h[24] = 2;
    h[72] = 1;
    h[240] = 1;
    const s = summarizeHistogram(h, 1 / 24);
    expect(s.total).toBe(5);
    expect(s.mean).toBeCloseTo((0 + 2 * 24 + 72 + 240) / 5 / 24, 12); // 3.0 days
    expect(s.median).toBe(1); // cumulative 1, 3 >= 2.5 at 24 h
    expect(s.p75).toBe(3); // cumulative 3 < 3.75, 4 at 72 h
    expect(s.max).toBe(10);
    expect(histogramQuantile(h, 0)).toBe(0);
    expect(histogramQuantile(h, 1)).toBe(240);
    expect(histogramQuantile(h, 0.2)).toBe(0); // exactly reaches 1/5 at bin 0
  });

  it("fractional weights (attributed credit) and negative noise", () => {
    const h = [0.25, 0, 0.25, -1, 0.5];
    expect(histogramQuantile(h, 0.5)).toBe(2);
    expect(histogramQuantile(h, 0.51)).toBe(4);
    expect(summarizeHistogram(h).mean).toBeCloseTo(0.25 * 2 + 0.5 * 4, 12);
  });

  it("empty histogram gives NaN, not 0", () => {
    const s = summarizeHistogram(new Float64Array(10));
    expect(s.total).toBe(0);
    expect(s.median).toBeNaN();
    expect(s.max).toBeNaN();
  });

  it("median of a uniform histogram is its middle (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), (n) => {
        const h = new Float64Array(n).fill(1);
        expect(histogramQuantile(h, 0.5)).toBe(Math.ceil(n / 2) - 1);
      }),
    );
  });
});
