// The checkpoint store of a run: <run>/checkpoints/ckpt-<step, 9 digits>/ holding the caller's
// files and a manifest.json (format, step, createdAt, meta, and every file's size and SHA-256).
//
// A checkpoint directory appears whole or not at all: it is filled under a temporary name
// (.tmp-ckpt-...), each file fsync'd, the manifest written last, the directory fsync'd and renamed
// into place, and the root fsync'd (fsutil.writeDirAtomic). Directories are removed the same way in
// reverse: renamed to a .tmp- name first, so a crash mid-delete never leaves half a checkpoint
// under a ckpt- name. The checksums catch what atomic renames cannot: a file damaged afterwards.
//
// One writer per root: writeCheckpoint removes every .tmp-* entry it finds there as debris of a
// crashed write.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { assertPlainFileName, fsyncDir, TMP_PREFIX, tmpSibling, writeDirAtomic } from "./fsutil.js";
import { assertJsonValue } from "./json_value.js";

export const CHECKPOINT_FORMAT = "gaelp-checkpoint/1";
export const MANIFEST_FILE = "manifest.json";
/** Steps are written with 9 digits so a directory listing sorts by step. */
export const MAX_CHECKPOINT_STEP = 999_999_999;
export const DEFAULT_KEEP = 3;

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface CheckpointInfo {
  /** absolute path of the ckpt-<step> directory */
  dir: string;
  step: number;
  /** ISO 8601 time the checkpoint was written */
  createdAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
  meta: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  info: CheckpointInfo;
  /** file name -> contents, in manifest order */
  files: Map<string, Uint8Array>;
  /** newer checkpoints that failed verification, newest first, each with what is wrong */
  skipped: { dir: string; reason: string }[];
}

const DIR_PATTERN = /^ckpt-(\d{9})$/;

/** `ckpt-000000042` for step 42. */
export function checkpointDirName(step: number): string {
  assertStep(step);
  return `ckpt-${String(step).padStart(9, "0")}`;
}

function assertStep(step: number): void {
  if (!Number.isInteger(step) || step < 0 || step > MAX_CHECKPOINT_STEP) {
    throw new RangeError(`checkpoint step must be an integer in [0, ${MAX_CHECKPOINT_STEP}], got ${step}`);
  }
}

function assertCheckpointFileName(name: string): void {
  assertPlainFileName(name, "checkpoint file name");
  if (name === MANIFEST_FILE) throw new Error(`checkpoint file name "${MANIFEST_FILE}" is reserved for the checkpoint's own manifest`);
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/** ckpt-* directories under `root` by step ascending; [] when root does not exist. */
export function listCheckpoints(root: string): { dir: string; step: number }[] {
  const abs = resolve(root);
  let entries;
  try {
    entries = readdirSync(abs, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: { dir: string; step: number }[] = [];
  for (const e of entries) {
    const m = DIR_PATTERN.exec(e.name);
    if (m && e.isDirectory()) out.push({ dir: join(abs, e.name), step: Number(m[1]) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Writes checkpoint `step` under `root` (created if missing) and returns what it wrote. Before
 * writing it removes stale .tmp-* entries and every ckpt dir with a step >= `step` (left by a run
 * that crashed after that point and is being resumed); after, it keeps the newest `keep` valid
 * checkpoints (this one included) and deletes those older than the oldest kept.
 */
export function writeCheckpoint(
  root: string,
  step: number,
  files: Record<string, Uint8Array>,
  opts: { keep?: number; meta?: Record<string, unknown> } = {},
): CheckpointInfo {
  assertStep(step);
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`checkpoint keep must be an integer >= 1, got ${keep}`);
  const meta = opts.meta ?? {};
  if (!isPlainObject(meta)) throw new TypeError("checkpoint meta must be a plain object");
  assertJsonValue(meta, "checkpoint meta");
  if (!isPlainObject(files)) throw new TypeError("checkpoint files must be a plain object of name -> Uint8Array");
  const entries = Object.entries(files);
  for (const [name, bytes] of entries) {
    assertCheckpointFileName(name);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`checkpoint file ${JSON.stringify(name)} must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
    }
  }

  const absRoot = resolve(root);
  mkdirSync(absRoot, { recursive: true });
  removeStaleTemps(absRoot);
  for (const c of listCheckpoints(absRoot)) if (c.step >= step) discardDir(c.dir);
  fsyncDir(absRoot);

  const dir = join(absRoot, checkpointDirName(step));
  const manifest = {
    format: CHECKPOINT_FORMAT,
    step,
    createdAt: new Date().toISOString(),
    meta,
    files: Object.fromEntries(entries.map(([name, bytes]) => [name, { bytes: bytes.byteLength, sha256: sha256(bytes) }])),
  };
  writeDirAtomic(dir, [...entries, [MANIFEST_FILE, JSON.stringify(manifest, null, 2) + "\n"]]);

  prune(absRoot, dir, keep);
  return { dir, step, createdAt: manifest.createdAt, files: manifest.files, meta: structuredClone(meta) };
}

/** Reads and verifies one checkpoint directory; throws CheckpointError naming every problem. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const abs = resolve(dir);
  const r = verify(abs, true);
  if ("reason" in r) throw new CheckpointError(`checkpoint ${abs} is not valid: ${r.reason}`);
  return { info: r.info, files: r.files, skipped: [] };
}

/**
 * The newest checkpoint under `root` that verifies; newer damaged ones are listed in `skipped`.
 * undefined when there is no checkpoint; CheckpointError (every reason) when none verifies.
 */
export function loadLatestCheckpoint(root: string, opts: { only?: readonly string[] } = {}): LoadedCheckpoint | undefined {
  const all = listCheckpoints(root);
  if (all.length === 0) return undefined;
  const skipped: { dir: string; reason: string }[] = [];
  for (let i = all.length - 1; i >= 0; i--) {
    const r = verify(all[i].dir, true, opts.only);
    if ("reason" in r) skipped.push({ dir: all[i].dir, reason: r.reason });
    else return { info: r.info, files: r.files, skipped };
  }
  throw new CheckpointError(
    `no valid checkpoint in ${resolve(root)} (${all.length} found, all damaged):\n` + skipped.map((s) => `  ${s.dir}: ${s.reason}`).join("\n"),
  );
}

type Verified = { info: CheckpointInfo; files: Map<string, Uint8Array> } | { reason: string };

/** Checks the manifest and every file it lists (or only the files in `only`, which the manifest
 *  must list); `keepBytes` false drops the contents after hashing. */
function verify(dir: string, keepBytes: boolean, only?: readonly string[]): Verified {
  const m = DIR_PATTERN.exec(basename(dir));
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(manifestPath, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { reason: code === "ENOENT" ? `${MANIFEST_FILE}: missing` : `${MANIFEST_FILE}: cannot read (${code ?? (e as Error).message})` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { reason: `${MANIFEST_FILE}: not valid JSON (${(e as Error).message})` };
  }
  const parsed = parseManifest(raw, m ? Number(m[1]) : undefined);
  if (typeof parsed === "string") return { reason: `${MANIFEST_FILE}: ${parsed}` };

  const problems: string[] = [];
  const files = new Map<string, Uint8Array>();
  const wanted = only === undefined ? Object.entries(parsed.files) : only.map((n) => [n, parsed.files[n]] as const);
  for (const [name, want] of wanted) {
    if (want === undefined) {
      problems.push(`${name}: not in the manifest`);
      continue;
    }
    let buf: Buffer;
    try {
      buf = readFileSync(join(dir, name));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push(code === "ENOENT" ? `${name}: missing` : `${name}: cannot read (${code ?? (e as Error).message})`);
      continue;
    }
    if (buf.byteLength !== want.bytes) {
      const how = buf.byteLength < want.bytes ? "truncated" : "longer than written";
      problems.push(`${name}: ${buf.byteLength} bytes, the manifest says ${want.bytes} (${how})`);
      continue;
    }
    const got = sha256(buf);
    if (got !== want.sha256) {
      problems.push(`${name}: SHA-256 ${got.slice(0, 16)}… differs from the manifest's ${want.sha256.slice(0, 16)}… (contents changed)`);
      continue;
    }
    if (keepBytes) files.set(name, new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  }
  if (problems.length > 0) return { reason: problems.join("; ") };
  return { info: { dir, step: parsed.step, createdAt: parsed.createdAt, files: parsed.files, meta: parsed.meta }, files };
}

/** The manifest's fields, or what is wrong with them. */
function parseManifest(raw: unknown, dirStep: number | undefined): Omit<CheckpointInfo, "dir"> | string {
  if (!isPlainObject(raw)) return "must be a JSON object";
  if (raw.format !== CHECKPOINT_FORMAT) return `format is ${JSON.stringify(raw.format)}, expected "${CHECKPOINT_FORMAT}"`;
  const step = raw.step;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step > MAX_CHECKPOINT_STEP) {
    return `step must be an integer in [0, ${MAX_CHECKPOINT_STEP}], got ${JSON.stringify(step)}`;
  }
  if (dirStep !== undefined && step !== dirStep) return `step ${step} does not match the directory name (step ${dirStep})`;
  if (typeof raw.createdAt !== "string" || Number.isNaN(Date.parse(raw.createdAt))) {
    return `createdAt must be an ISO 8601 time, got ${JSON.stringify(raw.createdAt)}`;
  }
  if (!isPlainObject(raw.meta)) return "meta must be an object";
  if (!isPlainObject(raw.files)) return "files must be an object of name -> {bytes, sha256}";
  const files: [string, { bytes: number; sha256: string }][] = [];
  for (const [name, f] of Object.entries(raw.files)) {
    try {
      assertCheckpointFileName(name);
    } catch (e) {
      return `files: ${(e as Error).message}`;
    }
    if (!isPlainObject(f) || !Number.isSafeInteger(f.bytes) || (f.bytes as number) < 0 || typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      return `files[${JSON.stringify(name)}] must be {bytes: integer >= 0, sha256: 64 lowercase hex digits}, got ${JSON.stringify(f)}`;
    }
    files.push([name, { bytes: f.bytes as number, sha256: f.sha256 }]);
  }
  return { step, createdAt: raw.createdAt, files: Object.fromEntries(files), meta: raw.meta };
}

/** Removes .tmp-* entries (debris of writes or deletes cut short by a crash). */
function removeStaleTemps(root: string): void {
  for (const name of readdirSync(root)) {
    if (name.startsWith(TMP_PREFIX)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/** Deletes a checkpoint dir without ever leaving part of one under its ckpt- name. */
function discardDir(dir: string): void {
  const doomed = tmpSibling(dir);
  renameSync(dir, doomed);
  rmSync(doomed, { recursive: true, force: true });
}

/** Keeps the newest `keep` valid checkpoints (`fresh`, just written, counts without re-reading). */
function prune(root: string, fresh: string, keep: number): void {
  const all = listCheckpoints(root).reverse();
  let valid = 0;
  let removed = false;
  for (const c of all) {
    if (valid >= keep) {
      discardDir(c.dir);
      removed = true;
    } else if (c.dir === fresh || !("reason" in verify(c.dir, false))) {
      valid++;
    }
  }
  if (removed) fsyncDir(root);
}
