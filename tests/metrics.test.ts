import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./helpers/scratch.js";
import { assertFiniteMetrics, metricSeries, METRICS_CSV, METRICS_JSONL, MetricsLogger, type MetricsRow, parseMetricsJsonl, readMetrics } from "../trainer/metrics.js";

const scratch = scratchDir("metrics");
const freshDir = (): string => {
  const d = scratch.next("run");
  mkdirSync(d);
  return d;
};

const jsonlRows = (dir: string): MetricsRow[] =>
  readFileSync(join(dir, METRICS_JSONL), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** metrics.csv as rows of column -> number (undefined for an empty cell). */
function csvRows(dir: string): { header: string[]; rows: Record<string, number | undefined>[] } {
  const [head, ...lines] = readFileSync(join(dir, METRICS_CSV), "utf8").trimEnd().split("\n");
  const header = head.split(",");
  const rows = lines.map((l) => Object.fromEntries(l.split(",").map((c, i) => [header[i], c === "" ? undefined : Number(c)])));
  return { header, rows };
}

const iteration = (step: number) => ({
  "charts/SPS": 20_000 + step * 17.5,
  "charts/episodic_return": Math.sin(step) * 3,
  "losses/approx_kl": 0.01 / (step + 1),
});

describe("MetricsLogger", () => {
  it("writes one JSON line per iteration and a CSV with every key as a column, new keys appearing mid-run", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir, { csvEvery: 3 });
    for (let s = 1; s <= 4; s++) log.log(s, iteration(s));
    // a key first seen at step 5: earlier rows get empty cells
    log.log(5, { ...iteration(5), "auction/win_rate": 0.25 });
    log.log(6, { "charts/SPS": 1 });
    log.close();

    const want: MetricsRow[] = [1, 2, 3, 4].map((s) => ({ step: s, ...iteration(s) }));
    want.push({ step: 5, ...iteration(5), "auction/win_rate": 0.25 } as MetricsRow, { step: 6, "charts/SPS": 1 } as MetricsRow);
    expect(jsonlRows(dir)).toEqual(want);
    expect(readMetrics(join(dir, METRICS_JSONL))).toEqual(want);

    const csv = csvRows(dir);
    expect(csv.header).toEqual(["step", "auction/win_rate", "charts/SPS", "charts/episodic_return", "losses/approx_kl"]);
    expect(csv.rows).toEqual(want.map((r) => Object.fromEntries(csv.header.map((h) => [h, (r as Record<string, number>)[h]]))));
    expect(log.keys).toEqual(csv.header.slice(1));
    expect(log.steps).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("keeps the CSV on disk up to date every csvEvery lines, rewriting it when a column appears", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir, { csvEvery: 2 });
    log.log(0, { "charts/SPS": 1 });
    expect(csvRows(dir).rows).toHaveLength(0);
    log.log(1, { "charts/SPS": 2 });
    expect(csvRows(dir)).toEqual({ header: ["step", "charts/SPS"], rows: [{ step: 0, "charts/SPS": 1 }, { step: 1, "charts/SPS": 2 }] });
    log.log(2, { "charts/SPS": 3, "losses/value_loss": 0.5 });
    log.log(3, { "charts/SPS": 4 });
    expect(csvRows(dir).header).toEqual(["step", "charts/SPS", "losses/value_loss"]);
    expect(csvRows(dir).rows.map((r) => r["losses/value_loss"])).toEqual([undefined, undefined, 0.5, undefined]);
    log.log(4, { "charts/SPS": 5 });
    log.flush();
    expect(csvRows(dir).rows).toHaveLength(5);
    log.close();
  });

  it("stores every finite double exactly in both files (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 20 }), (values) => {
        const dir = freshDir();
        const log = new MetricsLogger(dir, { csvEvery: 7 });
        values.forEach((v, i) => log.log(i, { "x/value": v }));
        log.close();
        const fromJson = jsonlRows(dir).map((r) => r["x/value"]);
        const fromCsv = csvRows(dir).rows.map((r) => r["x/value"]);
        // -0 is written as 0 (JSON has no negative zero)
        const want = values.map((v) => (Object.is(v, -0) ? 0 : v));
        expect(fromJson).toEqual(want);
        expect(fromCsv).toEqual(want);
      }),
      { numRuns: 30 },
    );
  });

  it("produces a CSV that polars reads with the same columns and values", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir);
    for (let s = 0; s < 12; s++) log.log(s, s === 7 ? { ...iteration(s), "auction/win_rate": 0.5 } : iteration(s));
    log.close();
    const df = pl.readCSV(readFileSync(join(dir, METRICS_CSV), "utf8"));
    expect(df.columns).toEqual(["step", "auction/win_rate", "charts/SPS", "charts/episodic_return", "losses/approx_kl"]);
    expect(df.height).toBe(12);
    expect([...df.getColumn("charts/SPS").values()]).toEqual(Array.from({ length: 12 }, (_, s) => iteration(s)["charts/SPS"]));
    expect(df.getColumn("auction/win_rate").nullCount()).toBe(11);
  });

  it("refuses non-finite values naming the key, and writes nothing for that step", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir, { fsyncEvery: 1, csvEvery: 1 });
    log.log(1, { "charts/SPS": 10 });
    const before = readFileSync(join(dir, METRICS_JSONL), "utf8");
    expect(() => log.log(2, { "charts/SPS": 11, "losses/approx_kl": Number.NaN })).toThrow(/^metrics at step 2: losses\/approx_kl is NaN; metrics must be finite$/);
    expect(() => log.log(2, { "losses/value_loss": Infinity })).toThrow(/losses\/value_loss is Infinity/);
    expect(() => log.log(2, { "losses/value_loss": -Infinity })).toThrow(/losses\/value_loss is -Infinity/);
    expect(() => log.log(2, { "charts/x": "1" as unknown as number })).toThrow(/charts\/x must be a number, got string/);
    expect(() => log.log(2, { "bad key": 1 })).toThrow(/key "bad key" must match/);
    expect(() => log.log(2, { step: 3 })).toThrow(/"step" is set by the logger/);
    expect(() => log.log(1, { "charts/SPS": 1 })).toThrow(/metrics step 1 must be greater than the last step logged \(1\)/);
    expect(() => log.log(2.5, {})).toThrow(/metrics step must be an integer >= 0, got 2.5/);
    expect(readFileSync(join(dir, METRICS_JSONL), "utf8")).toBe(before);
    log.log(2, { "charts/SPS": 12 });
    log.close();
    expect(() => log.log(3, {})).toThrow(/after close/);
    expect(() => assertFiniteMetrics(9, { a: Number.NaN })).toThrow(/^metrics at step 9: a is NaN/);
  });

  it("will not start a fresh log over an existing one", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir);
    log.log(0, { a: 1 });
    log.close();
    expect(() => new MetricsLogger(dir)).toThrow(/already has metrics; pass resumeStep/);
    expect(() => new MetricsLogger(dir, { csvEvery: 0 })).toThrow(/csvEvery must be an integer >= 1, got 0/);
  });

  it("on resume drops lines after the checkpoint step and a torn last line, keeping both files consistent", () => {
    const dir = freshDir();
    const log = new MetricsLogger(dir);
    for (let s = 1; s <= 8; s++) log.log(s, s >= 6 ? { ...iteration(s), "late/key": s } : iteration(s));
    log.close();
    appendFileSync(join(dir, METRICS_JSONL), '{"step":9,"charts/SP'); // the crash cut this line short

    const resumed = new MetricsLogger(dir, { resumeStep: 5 });
    expect(resumed.droppedOnResume).toBe(4);
    expect(resumed.steps).toEqual([1, 2, 3, 4, 5]);
    // the CSV no longer has the column only later steps had
    expect(csvRows(dir).header).toEqual(["step", "charts/SPS", "charts/episodic_return", "losses/approx_kl"]);
    expect(csvRows(dir).rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
    expect(() => resumed.log(5, iteration(5))).toThrow(/greater than the last step logged \(5\)/);
    resumed.log(6, { ...iteration(6), "new/key": 1 });
    resumed.close();
    expect(jsonlRows(dir)).toEqual([...[1, 2, 3, 4, 5].map((s) => ({ step: s, ...iteration(s) })), { step: 6, ...iteration(6), "new/key": 1 }]);
    expect(csvRows(dir).rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);

    // resuming where nothing is dropped leaves the file byte for byte
    const text = readFileSync(join(dir, METRICS_JSONL), "utf8");
    new MetricsLogger(dir, { resumeStep: 100 }).close();
    expect(readFileSync(join(dir, METRICS_JSONL), "utf8")).toBe(text);
  });

  it("refuses to resume over a damaged line that is not the last, naming the line", () => {
    const dir = freshDir();
    writeFileSync(join(dir, METRICS_JSONL), '{"step":1,"a":1}\n{"step":2,"a":\n{"step":3,"a":3}\n');
    expect(() => new MetricsLogger(dir, { resumeStep: 3 })).toThrow(/metrics\.jsonl:2: not valid JSON/);
    writeFileSync(join(dir, METRICS_JSONL), '{"step":1,"a":1}\n{"step":1,"a":2}\n');
    expect(() => new MetricsLogger(dir, { resumeStep: 3 })).toThrow(/metrics\.jsonl:2: metrics step 1 must be greater/);
    writeFileSync(join(dir, METRICS_JSONL), '{"step":1,"a":null}\n');
    expect(() => new MetricsLogger(dir, { resumeStep: 3 })).toThrow(/metrics\.jsonl:1: metrics at step 1: a must be a number, got object/);
  });

  it("metricSeries gives the [x, y] points of one key, over the rows that have it", () => {
    const rows: MetricsRow[] = [
      { step: 1, "charts/SPS": 10, "charts/decisions": 100 },
      { step: 2, "charts/decisions": 200 },
      { step: 3, "charts/SPS": 30, "charts/decisions": 300 },
    ];
    expect(metricSeries(rows, "charts/SPS")).toEqual([[1, 10], [3, 30]]);
    expect(metricSeries(rows, "charts/SPS", "charts/decisions")).toEqual([[100, 10], [300, 30]]);
    expect(() => metricSeries(rows, "losses/kl")).toThrow(/no row has both step and losses\/kl; keys logged: step, charts\/SPS, charts\/decisions/);
  });

  it("parseMetricsJsonl keeps a complete last line without a newline", () => {
    expect(parseMetricsJsonl('{"step":1,"a":1}\n{"step":2,"a":2}')).toEqual({ rows: [{ step: 1, a: 1 }, { step: 2, a: 2 }], torn: false });
    expect(parseMetricsJsonl('{"step":1,"a":1}\n{"st')).toEqual({ rows: [{ step: 1, a: 1 }], torn: true });
    expect(parseMetricsJsonl("")).toEqual({ rows: [], torn: false });
  });
});
