// The pacing guard's audit log: an append-only JSONL file, one JSON object per line, each with a
// `seq` that increases by one from line to line. `append` resolves only once its lines are written
// and fsync'd, so a route that awaits it answers after the record is durable. Appends that arrive
// while a write is in flight are grouped into the next write + fsync (group commit), which keeps
// the file in append order and the fsync count low under load.
//
// A crash (SIGKILL, power loss) can cut the last write short: on open, a last line without its
// newline is a write that was never acknowledged, and is truncated away and reported. Any other
// damage (a complete line that is not JSON, a seq out of order) refuses to open, naming the line:
// an audit log is not silently repaired.
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncDir } from "../../trainer/fsutil.js";

export interface AuditOpenReport {
  path: string;
  /** complete lines in the file after opening */
  lines: number;
  /** bytes of a torn last line that were truncated away (0 when the file ended cleanly) */
  tornBytes: number;
  /** the first 200 characters of the torn line, for the operator's log */
  tornPreview: string;
}

export interface AuditLine {
  seq: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Reads `path` (if it exists), truncates a torn last line, and returns its lines parsed. */
function readLog(path: string): { lines: Record<string, unknown>[]; report: AuditOpenReport } {
  const report: AuditOpenReport = { path, lines: 0, tornBytes: 0, tornPreview: "" };
  if (!existsSync(path)) return { lines: [], report };
  const buf = readFileSync(path);
  const cut = buf.lastIndexOf(0x0a) + 1; // bytes up to and including the last newline
  if (cut < buf.length) {
    report.tornBytes = buf.length - cut;
    report.tornPreview = buf.subarray(cut, cut + 200).toString("utf8");
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, cut);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const text = buf.subarray(0, cut).toString("utf8");
  const lines: Record<string, unknown>[] = [];
  let prev = 0;
  // text is "" or ends with the last line's newline
  text.slice(0, -1).split("\n").forEach((line, i) => {
    if (text === "") return;
    const n = i + 1;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${n}: not valid JSON (${(e as Error).message}); the audit log is damaged, fix or move it before starting`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw new Error(`${path}:${n}: must be a JSON object`);
    const seq = (row as { seq?: unknown }).seq;
    if (seq !== prev + 1) throw new Error(`${path}:${n}: seq ${JSON.stringify(seq)} should be ${prev + 1} (lines lost or reordered)`);
    prev = seq;
    lines.push(row as Record<string, unknown>);
  });
  report.lines = lines.length;
  return { lines, report };
}

export class AuditLog {
  private pending: string[] = [];
  private pendingLines = 0;
  private waiters: Waiter[] = [];
  private flushing = false;
  private failed: Error | undefined;
  private closed = false;
  private count: number;

  private constructor(readonly path: string, private readonly fh: FileHandle, lines: number) {
    this.count = lines;
  }

  /**
   * Opens (creating it and its folder's entry if missing) the log at `path` for appending. Returns
   * the lines already there, parsed, for the caller to replay, and what was repaired.
   */
  static async open(path: string): Promise<{ log: AuditLog; lines: Record<string, unknown>[]; report: AuditOpenReport }> {
    const { lines, report } = readLog(path);
    const created = !existsSync(path);
    const fh = await open(path, "a");
    if (created) fsyncDir(dirname(path));
    return { log: new AuditLog(path, fh, lines.length), lines, report };
  }

  /** Complete lines in the file, including those appended and made durable since opening. */
  get lines(): number {
    return this.count;
  }

  /**
   * Appends `entries` (one line each, in order) and resolves once they are written and fsync'd.
   * After a write or fsync error every later append rejects with that error: the log's tail is
   * then unknown, and the guard must not claim records it cannot prove.
   */
  append(entries: readonly AuditLine[]): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error(`audit log ${this.path} is closed`));
    let text = "";
    for (const e of entries) text += `${JSON.stringify(e)}\n`;
    this.pending.push(text);
    this.pendingLines += entries.length;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) void this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const buf = Buffer.from(this.pending.join(""), "utf8");
        const waiters = this.waiters;
        const lines = this.pendingLines;
        this.pending = [];
        this.pendingLines = 0;
        this.waiters = [];
        try {
          for (let off = 0; off < buf.length; ) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
          await this.fh.sync();
        } catch (e) {
          this.failed = new Error(`audit log ${this.path}: write failed (${(e as Error).message}); pacing changes are refused until restart`);
          for (const w of [...waiters, ...this.waiters]) w.reject(this.failed);
          this.pending = [];
          this.waiters = [];
          return;
        }
        this.count += lines;
        for (const w of waiters) w.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Waits for pending appends, then closes the file. Later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    const drained = this.failed === undefined ? this.append([]).catch(() => undefined) : Promise.resolve();
    this.closed = true;
    await drained;
    await this.fh.close();
  }
}
