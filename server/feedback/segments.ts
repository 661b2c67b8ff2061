// A folder of Arrow IPC segment files: the on-disk form of the decision log and the feedback log
// (<dataDir>/decisions/, <dataDir>/feedback/), and what `gaelp train --offline-data` reads.
//
// Every segment is one complete Arrow IPC *file* (readable by pyarrow, polars, apache-arrow),
// written atomically (temp name, fsync, rename, fsync of the folder: trainer/fsutil.ts), so a
// reader never sees half a segment. Names carry a sequence number that only grows:
//
//   <prefix>-<seq>.arrow             one write (a flush of the decision log, a feedback group commit)
//   <prefix>-<first>-<last>.arrow    a compaction of the single segments first..last
//
// A compaction writes the merged file first and then removes the singles it covers; after a crash
// between the two, the merged file wins: listing skips covered singles and open() removes them.
// Leftover temporary files (`.tmp-*`, a write cut short) are never segments and open() removes them.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { tableFromIPC, type RecordBatch, type Schema, type Table } from "apache-arrow";
import { toIpcFile } from "../../engine/experience.js";
import { TMP_PREFIX, fsyncDir, fsyncDirAsync, writeFileAtomicAsync } from "../../trainer/fsutil.js";

export interface Segment {
  /** file name */
  name: string;
  path: string;
  first: number;
  last: number;
}

const SEQ_DIGITS = 12;
const pad = (n: number): string => String(n).padStart(SEQ_DIGITS, "0");

/** Segments of `dir` named `<prefix>-...`, oldest first, without the singles a compaction covers. */
export function listSegments(dir: string, prefix: string): { live: Segment[]; covered: Segment[] } {
  if (!existsSync(dir)) return { live: [], covered: [] };
  const re = new RegExp(`^${prefix}-(\\d{${SEQ_DIGITS}})(?:-(\\d{${SEQ_DIGITS}}))?\\.arrow$`);
  const all: Segment[] = [];
  for (const name of readdirSync(dir)) {
    const m = re.exec(name);
    if (m === null) continue;
    const first = Number(m[1]);
    all.push({ name, path: join(dir, name), first, last: m[2] === undefined ? first : Number(m[2]) });
  }
  const merged = all.filter((s) => s.last > s.first);
  const isCovered = (s: Segment): boolean => s.first === s.last && merged.some((m) => m.first <= s.first && s.first <= m.last);
  const live = all.filter((s) => !isCovered(s)).sort((a, b) => a.first - b.first);
  return { live, covered: all.filter(isCovered) };
}

/** Reads a segment as an Arrow table, checking it holds `schema`'s columns with their types. */
export function readSegment(path: string, schema: Schema): Table {
  let table: Table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (e) {
    throw new Error(`${path}: not a readable Arrow IPC file (${(e as Error).message})`);
  }
  for (const f of schema.fields) {
    const got = table.schema.fields.find((g) => g.name === f.name);
    if (got === undefined) throw new Error(`${path}: column ${f.name} is missing (expected ${String(f.type)}; the file has ${table.schema.fields.map((g) => g.name).join(", ")})`);
    if (String(got.type) !== String(f.type)) throw new Error(`${path}: column ${f.name} is ${String(got.type)}, expected ${String(f.type)}`);
  }
  return table;
}

/** A segment folder being written: sequence numbers, atomic writes, compaction. */
export class SegmentDir {
  private next: number;

  constructor(readonly dir: string, readonly prefix: string) {
    mkdirSync(dir, { recursive: true });
    let removed = false;
    for (const name of readdirSync(dir)) {
      if (name.startsWith(TMP_PREFIX)) {
        rmSync(join(dir, name), { force: true, recursive: true });
        removed = true;
      }
    }
    const { live, covered } = listSegments(dir, prefix);
    for (const s of covered) rmSync(s.path, { force: true });
    if (removed || covered.length > 0) fsyncDir(dir);
    this.next = 1 + Math.max(0, ...live.map((s) => s.last));
  }

  list(): Segment[] {
    return listSegments(this.dir, this.prefix).live;
  }

  /** Writes `bytes` as the next single segment; resolves once it is durable. */
  async write(bytes: Uint8Array): Promise<Segment> {
    const seg = this.reserve();
    await writeFileAtomicAsync(seg.path, bytes);
    return seg;
  }

  /** The next single segment's name and path, for a writer elsewhere (a worker thread) that writes
   *  it atomically; a reservation that is never written leaves a gap in the numbers, nothing else. */
  reserve(): Segment {
    const seq = this.next++;
    const name = `${this.prefix}-${pad(seq)}.arrow`;
    return { name, path: join(this.dir, name), first: seq, last: seq };
  }

  /**
   * Merges `singles` (single segments, oldest first) into one file `<prefix>-<first>-<last>.arrow`
   * holding their rows in order, then removes them. Readers see the rows once at every moment.
   */
  async compact(singles: Segment[], schema: Schema): Promise<Segment | undefined> {
    if (singles.length < 2) return undefined;
    const batches: RecordBatch[] = [];
    for (const s of singles) batches.push(...readSegment(s.path, schema).batches);
    const first = singles[0].first;
    const last = singles[singles.length - 1].last;
    const name = `${this.prefix}-${pad(first)}-${pad(last)}.arrow`;
    const path = join(this.dir, name);
    await writeFileAtomicAsync(path, toIpcFile(schema, batches));
    await Promise.all(singles.map((s) => rm(s.path, { force: true })));
    await fsyncDirAsync(this.dir);
    return { name, path, first, last };
  }
}
