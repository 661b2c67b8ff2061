import fc from "fast-check";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { type BarRow, comparisonBarSvg, learningCurvePanelsSvg, learningCurveSvg, niceTicks, type Series } from "../trainer/plots.js";

interface El {
  tag: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

/** Parses SVG text (failing on malformed XML) into a tree of elements. */
function parseSvg(svg: string): El {
  const valid = XMLValidator.validate(svg);
  if (valid !== true) throw new Error(`not well-formed XML: ${JSON.stringify(valid.err)}`);
  const raw = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", preserveOrder: true, parseAttributeValue: false, trimValues: false }).parse(svg);
  const convert = (node: Record<string, unknown>): El | undefined => {
    const tag = Object.keys(node).find((k) => k !== ":@")!;
    if (tag === "#text") return undefined;
    const kids = (node[tag] as Record<string, unknown>[]).map(convert).filter((e): e is El => e !== undefined);
    const text = (node[tag] as Record<string, unknown>[])
      .filter((k) => "#text" in k)
      .map((k) => String(k["#text"]))
      .join("");
    return { tag, attrs: (node[":@"] as Record<string, string>) ?? {}, children: kids, text };
  };
  const roots = (raw as Record<string, unknown>[]).map(convert).filter((e): e is El => e !== undefined);
  expect(roots).toHaveLength(1);
  return roots[0];
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}
const byClass = (root: El, cls: string) => all(root, (e) => e.attrs.class === cls);
const num = (e: El, a: string) => Number(e.attrs[a]);

/** value -> pixel along an axis, fitted from two of its labelled ticks; checks every tick is on it. */
function axisMap(axis: El, coord: "x1" | "y1"): (v: number) => number {
  const ticks = byClass(axis, "tick").map((t) => ({ v: num(t, "data-value"), p: num(t, coord) }));
  expect(ticks.length).toBeGreaterThanOrEqual(2);
  const [a, b] = [ticks[0], ticks[ticks.length - 1]];
  const f = (v: number) => a.p + ((v - a.v) * (b.p - a.p)) / (b.v - a.v);
  for (const t of ticks) expect(Math.abs(f(t.v) - t.p)).toBeLessThan(0.02);
  return f;
}
const yAxisOf = (root: El) => byClass(root, "y-axis")[0];
const xAxisOf = (root: El) => byClass(root, "x-axis")[0];

describe("niceTicks", () => {
  it("gives evenly spaced round ticks covering the range (property)", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.double({ min: 0, max: 1e9, noNaN: true }), (lo, span) => {
        const hi = lo + span;
        const t = niceTicks(lo, hi);
        expect(t.length).toBeGreaterThanOrEqual(2);
        expect(t.length).toBeLessThanOrEqual(12);
        const step = t[1] - t[0];
        // covers the range, up to rounding far below a pixel
        expect(t[0]).toBeLessThanOrEqual(lo + step * 1e-9);
        expect(t[t.length - 1]).toBeGreaterThanOrEqual(hi - step * 1e-9);
        const mantissa = step / 10 ** Math.floor(Math.log10(step));
        expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
        // even spacing, up to double rounding at the ticks' magnitude
        for (let i = 1; i < t.length; i++) expect(Math.abs(t[i] - t[i - 1] - step)).toBeLessThanOrEqual(Math.max(step * 1e-9, Math.abs(t[i]) * 1e-14));
      }),
    );
  });

  it("knows a few answers", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3.2, 7.9)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(niceTicks(5, 5)).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
    expect(niceTicks(0, 5e-324)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(1e6, 2.2e6)).toEqual([1e6, 1.2e6, 1.4e6, 1.6e6, 1.8e6, 2e6, 2.2e6]);
    expect(niceTicks(0, 0)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(() => niceTicks(2, 1)).toThrow(/need finite lo <= hi/);
  });
});

describe("comparisonBarSvg", () => {
  const rows: BarRow[] = [
    { name: "ppo", mean: 120, lo: 100, hi: 140 },
    { name: "truthful", mean: 40, lo: 35, hi: 45 },
    { name: "random <&\"'>", mean: -30, lo: -55, hi: -5 },
  ];

  it("is well-formed XML whose bars and whiskers sit where the y axis puts their values", () => {
    const root = parseSvg(comparisonBarSvg(rows, { title: "profit <per world>", unit: "$ profit" }));
    expect(root.tag).toBe("svg");
    expect(root.attrs.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(byClass(root, "title")[0].text).toBe("profit <per world>");
    const y = axisMap(yAxisOf(root), "y1");
    const zero = num(byClass(root, "zero")[0], "y1");
    expect(zero).toBeCloseTo(y(0), 1);

    const bars = byClass(root, "bar");
    const cis = byClass(root, "ci");
    expect(bars.map((b) => b.attrs["data-name"])).toEqual(rows.map((r) => r.name));
    rows.forEach((r, i) => {
      const bar = bars[i];
      const top = num(bar, "y");
      const bottom = top + num(bar, "height");
      // a bar spans 0..mean: above the zero line for a positive mean, below it for a negative one
      expect(Math.min(top, bottom)).toBeCloseTo(Math.min(y(0), y(r.mean)), 1);
      expect(Math.max(top, bottom)).toBeCloseTo(Math.max(y(0), y(r.mean)), 1);
      if (r.mean < 0) expect(top).toBeCloseTo(zero, 1);
      else expect(bottom).toBeCloseTo(zero, 1);
      const whisker = byClass(cis[i], "whisker")[0];
      expect(num(whisker, "y1")).toBeCloseTo(y(r.hi), 1);
      expect(num(whisker, "y2")).toBeCloseTo(y(r.lo), 1);
      // the whisker is centred on its bar
      expect(num(whisker, "x1")).toBeCloseTo(num(bar, "x") + num(bar, "width") / 2, 1);
    });
    // the larger mean has the taller bar
    expect(num(bars[0], "height")).toBeGreaterThan(num(bars[1], "height"));
    expect(byClass(root, "category").map((t) => t.text)).toEqual(rows.map((r) => r.name));
  });

  it("maps any rows correctly (property): whiskers span lo..hi, bar heights order like |mean|", () => {
    const row = fc
      .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 1e5, noNaN: true }))
      .map(([mean, dl, dh]) => ({ mean, lo: mean - dl, hi: mean + dh }));
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 8 }), (raw) => {
        const rs = raw.map((r, i) => ({ name: `agent ${i}`, ...r }));
        const root = parseSvg(comparisonBarSvg(rs, { title: "t", unit: "u" }));
        const y = axisMap(yAxisOf(root), "y1");
        const span = Math.abs(y(1) - y(0));
        const bars = byClass(root, "bar");
        const whiskers = byClass(root, "whisker");
        rs.forEach((r, i) => {
          expect(Math.abs(num(bars[i], "height") - Math.abs(r.mean) * span)).toBeLessThan(0.02);
          expect(Math.abs(num(whiskers[i], "y1") - y(r.hi))).toBeLessThan(0.02);
          expect(Math.abs(num(whiskers[i], "y2") - y(r.lo))).toBeLessThan(0.02);
        });
      }),
      { numRuns: 60 },
    );
  });

  it("rotates long category names and rejects bad rows naming them", () => {
    const long = [{ name: "a very long agent name indeed", mean: 1, lo: 0, hi: 2 }, ...rows];
    const root = parseSvg(comparisonBarSvg(long, { title: "t", unit: "u" }));
    expect(byClass(root, "category")[0].attrs.transform).toMatch(/^rotate\(-35 /);
    expect(() => comparisonBarSvg([], { title: "t", unit: "u" })).toThrow(/rows must be a non-empty array/);
    expect(() => comparisonBarSvg([{ name: "x", mean: 1, lo: Number.NaN, hi: 2 }], { title: "t", unit: "u" })).toThrow(/rows\[0\] \(x\) lo is NaN/);
    expect(() => comparisonBarSvg([{ name: "x", mean: 3, lo: 0, hi: 2 }], { title: "t", unit: "u" })).toThrow(/rows\[0\] \(x\) needs lo <= mean <= hi, got 0, 3, 2/);
    expect(() => comparisonBarSvg(rows, { title: "t", unit: "u", width: 10 })).toThrow(/width must be a number of pixels in \[100, 10000\], got 10/);
  });
});

describe("learningCurveSvg", () => {
  const series: Series[] = [
    { name: "episodic return", points: Array.from({ length: 40 }, (_, i) => [i * 2048, Math.log1p(i) * 3 - 2] as [number, number]) },
    { name: "baseline & <truthful>", points: [[0, 1.5], [40 * 2048, 1.5]] },
  ];

  it("is well-formed XML with every point where the axes put it, and a legend", () => {
    const root = parseSvg(learningCurveSvg(series, { title: "return", xLabel: "decisions", yLabel: "$ per journey" }));
    const x = axisMap(xAxisOf(root), "x1");
    const y = axisMap(yAxisOf(root), "y1");
    const lines = byClass(root, "series");
    expect(lines.map((l) => l.attrs["data-name"])).toEqual(series.map((s) => s.name));
    series.forEach((s, i) => {
      const pts = lines[i].attrs.points.split(" ").map((p) => p.split(",").map(Number));
      expect(pts).toHaveLength(s.points.length);
      s.points.forEach(([px, py], j) => {
        expect(Math.abs(pts[j][0] - x(px))).toBeLessThan(0.02);
        expect(Math.abs(pts[j][1] - y(py))).toBeLessThan(0.02);
      });
    });
    const legend = byClass(root, "legend")[0];
    expect(all(legend, (e) => e.tag === "text").map((t) => t.text)).toEqual(series.map((s) => s.name));
    const labels = byClass(root, "axis-label").map((t) => t.text);
    expect(labels).toEqual(["$ per journey", "decisions"]);
  });

  it("keeps every point inside the plot frame for any data (property)", () => {
    const pt = fc.tuple(fc.double({ min: -1e7, max: 1e7, noNaN: true }), fc.double({ min: -1e7, max: 1e7, noNaN: true }));
    fc.assert(
      fc.property(fc.array(fc.array(pt, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }), (sets) => {
        const root = parseSvg(learningCurveSvg(sets.map((points, i) => ({ name: `s${i}`, points })), { title: "t", xLabel: "x", yLabel: "y" }));
        const frame = byClass(root, "frame")[0];
        const [fx, fy, fw, fh] = ["x", "y", "width", "height"].map((a) => num(frame, a));
        for (const line of byClass(root, "series")) {
          for (const [px, py] of line.attrs.points.split(" ").map((p) => p.split(",").map(Number))) {
            expect(px).toBeGreaterThanOrEqual(fx - 0.01);
            expect(px).toBeLessThanOrEqual(fx + fw + 0.01);
            expect(py).toBeGreaterThanOrEqual(fy - 0.01);
            expect(py).toBeLessThanOrEqual(fy + fh + 0.01);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it("draws a one-point series as a dot and rejects bad series naming them", () => {
    const root = parseSvg(learningCurveSvg([{ name: "only", points: [[3, 4]] }], { title: "t", xLabel: "x", yLabel: "y" }));
    expect(all(root, (e) => e.tag === "circle")).toHaveLength(1);
    expect(byClass(root, "legend")).toHaveLength(0);
    const o = { title: "t", xLabel: "x", yLabel: "y" };
    expect(() => learningCurveSvg([], o)).toThrow(/series must be a non-empty array/);
    expect(() => learningCurveSvg([{ name: "a", points: [] }], o)).toThrow(/series\[0\] \(a\) has no points/);
    expect(() => learningCurveSvg([{ name: "a", points: [[1, 2], [2, Number.NaN]] }], o)).toThrow(/series\[0\] \(a\) point 1 must be \[x, y\] with finite numbers, got \[2,null\]/);
  });

  it("draws a long run (100k points) without hitting the argument limit", () => {
    const points = Array.from({ length: 200_000 }, (_, i) => [i, Math.sin(i / 1000)] as [number, number]);
    expect(() => parseSvg(learningCurveSvg([{ name: "long", points }], { title: "t", xLabel: "x", yLabel: "y" }))).not.toThrow();
  });
});

describe("learningCurvePanelsSvg", () => {
  it("lays panels out in a grid of nested svgs, each with its own axes", () => {
    const mk = (k: number) => ({ title: `panel ${k}`, xLabel: "iteration", yLabel: `unit ${k}`, series: [{ name: `m${k}`, points: [[0, k], [10, k * 10 + 1]] as [number, number][] }] });
    const root = parseSvg(learningCurvePanelsSvg([mk(1), mk(2), mk(3)], { title: "run", columns: 2, panelWidth: 400, panelHeight: 300 }));
    expect(num(root, "width")).toBe(800);
    expect(num(root, "height")).toBe(40 + 2 * 300);
    const nested = root.children.filter((c) => c.tag === "svg");
    expect(nested.map((s) => [num(s, "x"), num(s, "y")])).toEqual([[0, 40], [400, 40], [0, 340]]);
    nested.forEach((s, i) => {
      const y = axisMap(yAxisOf(s), "y1");
      const pts = byClass(s, "series")[0].attrs.points.split(" ").map((p) => p.split(",").map(Number));
      expect(Math.abs(pts[1][1] - y((i + 1) * 10 + 1))).toBeLessThan(0.02);
    });
    expect(() => learningCurvePanelsSvg([], { title: "t" })).toThrow(/panels must be a non-empty array/);
  });
});
