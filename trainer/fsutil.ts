// Crash-safe file writes. A reader (or a process started after a crash or power loss) sees either
// the old contents or the new, never a mix: data goes to a temporary name in the same directory
// (rename is only atomic within one file system), is fsync'd, renamed over the target, and the
// directory is fsync'd so the rename itself is durable.
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

export type FileData = string | Uint8Array;

/** Files to write: an object (JS key order: integer-like names first) or entries in the order wanted. */
export type FileSet = Readonly<Record<string, FileData>> | ReadonlyArray<readonly [string, FileData]>;

/** Prefix of every temporary name made here; a directory listing can skip or clean up these. */
export const TMP_PREFIX = ".tmp-";

const tmpTag = (): string => `${process.pid}-${randomBytes(4).toString("hex")}`;

/** A temporary sibling of `path`: `<dir>/.tmp-<name>-<pid>-<random>`. */
export function tmpSibling(path: string): string {
  const abs = resolve(path);
  return join(dirname(abs), `${TMP_PREFIX}${basename(abs)}-${tmpTag()}`);
}

/**
 * `name` must be a plain file name: non-empty, no path separator, not `.` or `..`, no NUL. The
 * message names `what` so callers can say which field was wrong.
 */
export function assertPlainFileName(name: string, what = "file name"): void {
  if (typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new Error(`${what} ${JSON.stringify(name)} must be a plain file name (non-empty, no '/', '\\' or NUL, not '.' or '..')`);
  }
}

// Linux and macOS can fsync a directory; Windows cannot open one for it (EISDIR/EPERM) and some
// file systems refuse (EINVAL). Durability of the rename is then up to the OS, as it is for every
// program there.
const DIR_FSYNC_UNSUPPORTED = new Set(["EISDIR", "EPERM", "EINVAL", "ENOTSUP", "EBADF"]);

const dirFsyncUnsupported = (e: unknown): boolean => DIR_FSYNC_UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? "");

/** Flushes a directory's entries (new names, renames, removals) to disk. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch (e) {
    if (dirFsyncUnsupported(e)) return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!dirFsyncUnsupported(e)) throw e;
  } finally {
    closeSync(fd);
  }
}

/** fsyncDir without blocking the event loop (for the server). */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, "r").catch((e: unknown) => {
    if (dirFsyncUnsupported(e)) return undefined;
    throw e;
  });
  if (fh === undefined) return;
  try {
    await fh.sync().catch((e: unknown) => {
      if (!dirFsyncUnsupported(e)) throw e;
    });
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` (created or truncated) and fsyncs it. Not atomic on its own: use it for
 *  files inside a directory that is renamed into place afterwards, or through writeFileAtomic. */
export function writeFileDurable(path: string, data: FileData): void {
  const fd = openSync(path, "w");
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically and durably. The parent directory must exist. */
export function writeFileAtomic(path: string, data: FileData): void {
  const target = resolve(path);
  const tmp = tmpSibling(target);
  try {
    writeFileDurable(tmp, data);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(target));
}

/** writeFileAtomic without blocking the event loop (for the server): same guarantees. */
export async function writeFileAtomicAsync(path: string, data: FileData): Promise<void> {
  const target = resolve(path);
  const tmp = tmpSibling(target);
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDirAsync(dirname(target));
}

function fileEntries(files: FileSet): (readonly [string, FileData])[] {
  const entries = Array.isArray(files) ? [...(files as ReadonlyArray<readonly [string, FileData]>)] : Object.entries(files);
  const seen = new Set<string>();
  for (const [name] of entries) {
    assertPlainFileName(name);
    if (seen.has(name)) throw new Error(`file name ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  return entries;
}

/**
 * Creates directory `dir` holding exactly `files`, atomically: the files are written (each fsync'd,
 * in the given order) into a temporary sibling directory `.tmp-<name>-...`, which is fsync'd and
 * renamed to `dir`; then the parent is fsync'd. Missing parents are created. Fails if `dir` exists.
 * On failure the temporary directory is removed; after a crash one may remain (its name starts
 * with TMP_PREFIX).
 */
export function writeDirAtomic(dir: string, files: FileSet): void {
  const target = resolve(dir);
  const entries = fileEntries(files);
  if (existsSync(target)) throw new Error(`${target} already exists; writeDirAtomic only creates new directories`);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const tmpDir = tmpSibling(target);
  try {
    mkdirSync(tmpDir);
    for (const [name, data] of entries) writeFileDurable(join(tmpDir, name), data);
    fsyncDir(tmpDir);
    renameSync(tmpDir, target);
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
}

/**
 * Writes `files` (name -> contents) into `dir` so a reader never sees a half-written file. A new
 * directory is made whole by writeDirAtomic. Into an existing directory every file is first
 * written and fsync'd under a temporary name, then all are renamed over their targets in the given
 * order (put the file readers open first last: e.g. data before the index that checksums it), then
 * the directory is fsync'd. Other files in `dir` are left alone.
 */
export function writeFilesAtomic(dir: string, files: FileSet): void {
  const target = resolve(dir);
  if (!existsSync(target)) return writeDirAtomic(target, files);
  const entries = fileEntries(files);
  const tmps = entries.map(([name]) => tmpSibling(join(target, name)));
  try {
    entries.forEach(([, data], i) => writeFileDurable(tmps[i], data));
    entries.forEach(([name], i) => renameSync(tmps[i], join(target, name)));
  } catch (e) {
    for (const t of tmps) rmSync(t, { force: true });
    throw e;
  }
  fsyncDir(target);
}
