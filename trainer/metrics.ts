// Per-iteration metrics of a run: <run>/metrics.jsonl (the record: one JSON object per line,
// appended, fsync'd every few lines and on close) and <run>/metrics.csv (derived from the same
// rows for spreadsheets and pandas: every key ever logged is a column).
//
// Keys follow CleanRL: `charts/SPS`, `charts/episodic_return`, `losses/approx_kl`, plus our own
// groups (`auction/win_rate`, ...). Every value must be a finite number: a NaN loss is refused
// with an error naming the key, which is also how the trainer's NaN guard stops a run.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./fsutil.js";

export const METRICS_JSONL = "metrics.jsonl";
export const METRICS_CSV = "metrics.csv";

/** One line of metrics.jsonl: the step (iteration) and the values logged for it. */
export type MetricsRow = { step: number } & Record<string, number>;

export interface MetricsLoggerOptions {
  /**
   * Continue a run from the checkpoint at this step: lines with a larger step are removed (they
   * were logged after that checkpoint by the run that crashed), as is a torn last line. Without it
   * an existing non-empty metrics.jsonl is an error.
   */
  resumeStep?: number;
  /** fsync metrics.jsonl after this many lines (default 10; close() always does) */
  fsyncEvery?: number;
  /** bring metrics.csv up to date after this many lines (default 10; close() always does) */
  csvEvery?: number;
}

/** Metric names: letters, digits and `_ . / -`, e.g. `losses/approx_kl`. */
const KEY_PATTERN = /^[A-Za-z0-9_.\-/]+$/;

/**
 * Throws naming the key when a value is not a finite number or a key is not a valid metric name;
 * `step` (for the message) is where it happened. Exported for the trainer's own NaN guard.
 */
export function assertFiniteMetrics(step: number, values: Readonly<Record<string, unknown>>): void {
  for (const [key, v] of Object.entries(values)) {
    if (key === "step") throw new Error(`metrics at step ${step}: "step" is set by the logger; pass it as the first argument`);
    if (!KEY_PATTERN.test(key)) throw new Error(`metrics at step ${step}: key ${JSON.stringify(key)} must match ${KEY_PATTERN} (e.g. "losses/approx_kl")`);
    if (typeof v !== "number") throw new TypeError(`metrics at step ${step}: ${key} must be a number, got ${typeof v}`);
    if (!Number.isFinite(v)) throw new RangeError(`metrics at step ${step}: ${key} is ${v}; metrics must be finite`);
  }
}

function assertStep(step: number, after: number | undefined): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`metrics step must be an integer >= 0, got ${step}`);
  if (after !== undefined && step <= after) throw new RangeError(`metrics step ${step} must be greater than the last step logged (${after})`);
}

/**
 * The rows of a metrics.jsonl text. A last line without its newline that does not parse is a write
 * cut short by a crash: it is dropped and reported in `torn`. Any other bad line throws naming it.
 */
export function parseMetricsJsonl(text: string, file = METRICS_JSONL): { rows: MetricsRow[]; torn: boolean } {
  const lines = text.split("\n");
  const last = lines.pop()!; // "" when the text ends with a newline
  const rows: MetricsRow[] = [];
  let prev: number | undefined;
  const parseLine = (line: string, n: number): MetricsRow => {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${n}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw new Error(`${file}:${n}: must be a JSON object`);
    const { step, ...values } = row as Record<string, unknown>;
    try {
      assertStep(step as number, prev);
      assertFiniteMetrics(step as number, values);
    } catch (e) {
      throw new Error(`${file}:${n}: ${(e as Error).message}`);
    }
    prev = step as number;
    return row as MetricsRow;
  };
  lines.forEach((line, i) => rows.push(parseLine(line, i + 1)));
  let torn = false;
  if (last !== "") {
    try {
      rows.push(parseLine(last, lines.length + 1));
    } catch {
      torn = true;
    }
  }
  return { rows, torn };
}

/** Reads a metrics.jsonl file (see parseMetricsJsonl). */
export function readMetrics(file: string): MetricsRow[] {
  return parseMetricsJsonl(readFileSync(file, "utf8"), file).rows;
}

/**
 * The [x, y] points of metric `key` over the rows that have it (x from `xKey`, default the step),
 * ready for plots.learningCurveSvg. Throws when no row has the key, naming the keys there are.
 */
export function metricSeries(rows: readonly MetricsRow[], key: string, xKey = "step"): [number, number][] {
  const points: [number, number][] = [];
  for (const r of rows) if (key in r && xKey in r) points.push([r[xKey], r[key]]);
  if (points.length === 0) throw new Error(`metrics: no row has both ${xKey} and ${key}; keys logged: ${metricsColumns(rows).join(", ")}`);
  return points;
}

/** CSV columns: `step`, then every key in `rows` sorted (so groups like `charts/` sit together). */
export function metricsColumns(rows: readonly MetricsRow[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (k !== "step") keys.add(k);
  return ["step", ...[...keys].sort()];
}

/** One CSV line (no newline); a key missing from the row is an empty cell. */
function csvLine(row: MetricsRow, columns: readonly string[]): string {
  // keys match KEY_PATTERN and values are finite numbers, so no cell needs quoting
  return columns.map((c) => (c in row ? String(row[c]) : "")).join(",");
}

/** The whole CSV for `rows`: a header of metricsColumns, then one line per row. */
export function metricsCsv(rows: readonly MetricsRow[], columns = metricsColumns(rows)): string {
  return [columns.join(","), ...rows.map((r) => csvLine(r, columns))].join("\n") + "\n";
}

/**
 * Appends one row per iteration to <dir>/metrics.jsonl and keeps <dir>/metrics.csv in step.
 * Synchronous; one logger per run folder.
 */
export class MetricsLogger {
  readonly jsonlPath: string;
  readonly csvPath: string;
  /** lines removed when opening with resumeStep (step > resumeStep, or a torn last line) */
  readonly droppedOnResume: number;
  private readonly rows: MetricsRow[];
  private fd: number | undefined;
  private readonly fsyncEvery: number;
  private readonly csvEvery: number;
  private unsynced = 0;
  /** columns of metrics.csv on disk and how many rows it holds */
  private csvColumns: string[] = [];
  private csvRows = 0;

  constructor(dir: string, opts: MetricsLoggerOptions = {}) {
    this.jsonlPath = join(dir, METRICS_JSONL);
    this.csvPath = join(dir, METRICS_CSV);
    this.fsyncEvery = positiveInt(opts.fsyncEvery ?? 10, "fsyncEvery");
    this.csvEvery = positiveInt(opts.csvEvery ?? 10, "csvEvery");
    const text = existsSync(this.jsonlPath) ? readFileSync(this.jsonlPath, "utf8") : "";
    if (opts.resumeStep === undefined) {
      if (text !== "") throw new Error(`${this.jsonlPath} already has metrics; pass resumeStep (the checkpoint step) to continue that run`);
      this.rows = [];
      this.droppedOnResume = 0;
    } else {
      assertStep(opts.resumeStep, undefined);
      const { rows, torn } = parseMetricsJsonl(text, this.jsonlPath);
      this.rows = rows.filter((r) => r.step <= opts.resumeStep!);
      this.droppedOnResume = rows.length - this.rows.length + (torn ? 1 : 0);
      // rewritten whole so a crash here leaves the old file, never a half-truncated one
      if (this.droppedOnResume > 0) writeFileAtomic(this.jsonlPath, this.rows.map((r) => JSON.stringify(r) + "\n").join(""));
    }
    this.fd = openSync(this.jsonlPath, "a");
    this.rewriteCsv();
  }

  /** Steps logged so far (including those kept on resume). */
  get steps(): number[] {
    return this.rows.map((r) => r.step);
  }

  /** Every key seen so far, sorted. */
  get keys(): string[] {
    return metricsColumns(this.rows).slice(1);
  }

  /** Logs the metrics of `step` (greater than the last one). Nothing is written if any value is bad. */
  log(step: number, values: Readonly<Record<string, number>>): void {
    if (this.fd === undefined) throw new Error(`MetricsLogger(${this.jsonlPath}): log() after close()`);
    assertStep(step, this.rows.at(-1)?.step);
    assertFiniteMetrics(step, values);
    const row = { step, ...values } as MetricsRow;
    writeSync(this.fd, JSON.stringify(row) + "\n");
    this.rows.push(row);
    if (++this.unsynced >= this.fsyncEvery) this.sync();
    if (this.rows.length - this.csvRows >= this.csvEvery) this.updateCsv();
  }

  /** fsyncs metrics.jsonl and brings metrics.csv up to date. */
  flush(): void {
    if (this.fd === undefined) return;
    this.sync();
    this.updateCsv();
  }

  /** flush() and close the file; further log() calls throw. Safe to call twice. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }

  private sync(): void {
    if (this.unsynced === 0) return;
    fsyncSync(this.fd!);
    this.unsynced = 0;
  }

  /** Appends the new rows to metrics.csv, or rewrites it when a new key added a column. */
  private updateCsv(): void {
    if (this.csvRows === this.rows.length) return;
    const pending = this.rows.slice(this.csvRows);
    const columns = metricsColumns(this.rows);
    if (columns.join(",") !== this.csvColumns.join(",")) return this.rewriteCsv();
    // appending keeps the cost per row constant; a torn tail after a crash is repaired on open,
    // which rewrites the CSV from the JSONL
    const fd = openSync(this.csvPath, "a");
    try {
      writeSync(fd, pending.map((r) => csvLine(r, columns) + "\n").join(""));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.csvRows = this.rows.length;
  }

  private rewriteCsv(): void {
    this.csvColumns = metricsColumns(this.rows);
    writeFileAtomic(this.csvPath, metricsCsv(this.rows, this.csvColumns));
    this.csvRows = this.rows.length;
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`MetricsLogger ${name} must be an integer >= 1, got ${v}`);
  return v;
}
