// Training progress on the terminal: a live bar (cli-progress) when the stream is a TTY, and one
// plain line per update otherwise, so logs from CI, nohup or `| tee` stay readable:
//
//   iter 12/40  decisions 1.2M  SPS 23k  return 4.12  kl 0.0123  elapsed 1m02s  eta 2m25s
import { MultiBar, type SingleBar } from "cli-progress";

export interface ProgressStats {
  /** iterations completed so far */
  iteration: number;
  /** decisions (environment steps) so far */
  decisions?: number;
  /** decisions per second */
  sps?: number;
  /** mean episodic return of the latest iteration */
  episodicReturn?: number;
  /** more columns, label -> value, printed in this order (e.g. { kl: 0.012, "win%": 31 }) */
  extra?: Record<string, number | string>;
}

export interface ProgressOptions {
  /** iterations in the run */
  total: number;
  /** where to write (default process.stderr, keeping stdout for --json output) */
  stream?: NodeJS.WritableStream;
  /** clock in ms, for tests (default performance.now) */
  now?: () => number;
}

const compact2 = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 2 });
const compact3 = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 3 });

/** A count for a progress line: 950, 23k, 1.2M. */
export const formatCount = (n: number): string => compact2.format(n).replace("K", "k");

/** A value for a progress line: 3 significant digits, compact when large (4.12, 0.0123, 12.3k). */
export const formatValue = (v: number): string => compact3.format(v).replace("K", "k");

/** 45s, 3m05s, 2h07m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The columns after `iter i/n` (shared by both modes). */
function statsText(s: ProgressStats): string {
  const parts: string[] = [];
  if (s.decisions !== undefined) parts.push(`decisions ${formatCount(s.decisions)}`);
  if (s.sps !== undefined) parts.push(`SPS ${formatCount(s.sps)}`);
  if (s.episodicReturn !== undefined) parts.push(`return ${formatValue(s.episodicReturn)}`);
  for (const [k, v] of Object.entries(s.extra ?? {})) parts.push(`${k} ${typeof v === "number" ? formatValue(v) : v}`);
  return parts.join("  ");
}

/** One plain progress line (no newline). */
export function formatProgressLine(s: ProgressStats, total: number, elapsedSeconds?: number): string {
  const parts = [`iter ${s.iteration}/${total}`];
  const stats = statsText(s);
  if (stats) parts.push(stats);
  if (elapsedSeconds !== undefined) {
    parts.push(`elapsed ${formatDuration(elapsedSeconds)}`);
    if (s.iteration > 0 && s.iteration < total) parts.push(`eta ${formatDuration((elapsedSeconds / s.iteration) * (total - s.iteration))}`);
  }
  return parts.join("  ");
}

export class Progress {
  /** "bar" on a TTY, "lines" otherwise */
  readonly mode: "bar" | "lines";
  private readonly total: number;
  private readonly stream: NodeJS.WritableStream;
  private readonly now: () => number;
  private readonly t0: number;
  private multi: MultiBar | undefined;
  private bar: SingleBar | undefined;
  private stopped = false;

  constructor(opts: ProgressOptions) {
    if (!Number.isInteger(opts.total) || opts.total < 1) throw new RangeError(`progress total must be an integer >= 1, got ${opts.total}`);
    this.total = opts.total;
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.mode = (this.stream as { isTTY?: boolean }).isTTY === true ? "bar" : "lines";
    if (this.mode === "bar") {
      this.multi = new MultiBar({
        stream: this.stream,
        format: "iter {value}/{total} {bar} {percentage}% | {stats} | elapsed {duration_formatted} eta {eta_formatted}",
        barsize: 20,
        hideCursor: false,
        clearOnComplete: false,
        // the trainer updates once an iteration; the timer only refreshes elapsed/eta
        fps: 2,
      });
      this.bar = this.multi.create(this.total, 0, { stats: "" });
    }
  }

  /** Shows the state after an iteration. */
  update(stats: ProgressStats): void {
    if (this.stopped) return;
    if (this.bar) {
      this.bar.update(stats.iteration, { stats: statsText(stats) });
      this.multi!.update();
    } else {
      this.stream.write(formatProgressLine(stats, this.total, (this.now() - this.t0) / 1000) + "\n");
    }
  }

  /** Prints a message on its own line (above the bar on a TTY). */
  log(message: string): void {
    const text = message.endsWith("\n") ? message : message + "\n";
    if (this.multi && !this.stopped) {
      this.multi.log(text);
      this.multi.update();
    } else {
      this.stream.write(text);
    }
  }

  /** Draws the final state and releases the terminal (and the bar's timer). Safe to call twice. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multi?.stop();
  }
}
