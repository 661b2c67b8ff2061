// A training run's folder: runs/<scenario>__<exp>__<seed>__<unix seconds>/ (CleanRL's naming),
// holding config.json (what the run is), metrics.jsonl/.csv, checkpoints/, eval/ and plots/.
// `--checkpoint RUN` and `--resume RUN` name a run by its folder path or by its name under runs/.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { writeFileAtomic } from "./fsutil.js";
import { assertJsonValue } from "./json_value.js";
import { METRICS_CSV, METRICS_JSONL } from "./metrics.js";

export const RUN_FORMAT = "gaelp-run/1";
export const RUN_CONFIG_FILE = "config.json";
export const DEFAULT_RUNS_ROOT = "runs";

/** What identifies a run; the three parts of its folder name before the time. */
export interface RunId {
  scenario: string;
  exp: string;
  seed: number;
}

/** <run>/config.json. `config`, `train` and `policy` are the trainer's own JSON objects. */
export interface RunConfig extends RunId {
  format: typeof RUN_FORMAT;
  /** ISO 8601 time the run was created */
  createdAt: string;
  config: Record<string, unknown>;
  train: Record<string, unknown>;
  policy: Record<string, unknown>;
}

/** Paths inside a run folder. */
export interface RunPaths {
  dir: string;
  config: string;
  metricsJsonl: string;
  metricsCsv: string;
  checkpoints: string;
  eval: string;
  plots: string;
}

export class RunDirError extends Error {
  override name = "RunDirError";
}

const NAME_PART = /^[A-Za-z0-9_.-]+$/;

/** Why `value` cannot be a scenario or exp part of a run name, or undefined when it can. */
function namePartProblem(value: unknown): string | undefined {
  if (typeof value !== "string" || !NAME_PART.test(value)) return "must be non-empty and use only letters, digits, '_', '.' and '-'";
  // "__" separates the parts of the folder name: inside a part, or a part starting or ending
  // with "_", would make the name split ambiguously
  if (value.includes("__") || value.startsWith("_") || value.endsWith("_")) return `must not contain "__" or start or end with "_" ("__" separates the parts of the run name)`;
  if (/^\.+$/.test(value)) return "must not be only dots";
  return undefined;
}

function assertNamePart(value: unknown, field: "scenario" | "exp"): asserts value is string {
  const problem = namePartProblem(value);
  if (problem) throw new RunDirError(`run ${field} ${JSON.stringify(value)} ${problem}`);
}

function assertSeed(seed: unknown): asserts seed is number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) throw new RunDirError(`run seed must be an integer >= 0, got ${JSON.stringify(seed)}`);
}

/** `<scenario>__<exp>__<seed>__<unix seconds>` after checking each part. */
export function runName(id: RunId, unixSeconds: number): string {
  assertNamePart(id.scenario, "scenario");
  assertNamePart(id.exp, "exp");
  assertSeed(id.seed);
  if (!Number.isSafeInteger(unixSeconds) || unixSeconds < 0) throw new RunDirError(`run time must be whole unix seconds >= 0, got ${unixSeconds}`);
  return `${id.scenario}__${id.exp}__${id.seed}__${unixSeconds}`;
}

/** The parts of a run folder name, or undefined when it is not one. */
export function parseRunName(name: string): (RunId & { unixSeconds: number }) | undefined {
  const parts = name.split("__");
  if (parts.length !== 4) return undefined;
  const [scenario, exp, seed, unix] = parts;
  if (namePartProblem(scenario) || namePartProblem(exp) || !/^\d+$/.test(seed) || !/^\d+$/.test(unix)) return undefined;
  const out = { scenario, exp, seed: Number(seed), unixSeconds: Number(unix) };
  return Number.isSafeInteger(out.seed) && Number.isSafeInteger(out.unixSeconds) ? out : undefined;
}

export function runPaths(dir: string): RunPaths {
  const d = resolve(dir);
  return {
    dir: d,
    config: join(d, RUN_CONFIG_FILE),
    metricsJsonl: join(d, METRICS_JSONL),
    metricsCsv: join(d, METRICS_CSV),
    checkpoints: join(d, "checkpoints"),
    eval: join(d, "eval"),
    plots: join(d, "plots"),
  };
}

/**
 * Creates `<root>/<scenario>__<exp>__<seed>__<unix seconds>/` with its checkpoints/, eval/ and
 * plots/ folders (root created if missing) and returns its absolute path (runPaths() names what is
 * inside). Fails if that folder exists: two runs started in the same second with the same id
 * would otherwise share it.
 */
export function createRunDir(root: string, id: RunId, opts: { now?: Date } = {}): string {
  const name = runName(id, Math.floor((opts.now ?? new Date()).getTime() / 1000));
  const paths = runPaths(join(root, name));
  mkdirSync(resolve(root), { recursive: true });
  try {
    mkdirSync(paths.dir); // not recursive: EEXIST is the signal
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new RunDirError(`run folder ${paths.dir} already exists; wait a second, or change --exp or --seed`);
    }
    throw e;
  }
  for (const sub of [paths.checkpoints, paths.eval, paths.plots]) mkdirSync(sub);
  return paths.dir;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/**
 * The run folder (absolute path) for `--checkpoint RUN` / `--resume RUN`: `nameOrPath` is a path to
 * a run folder or the name of one under `runsRoot`. It must hold config.json.
 */
export function resolveRunDir(nameOrPath: string, runsRoot = DEFAULT_RUNS_ROOT): string {
  if (typeof nameOrPath !== "string" || nameOrPath.trim() === "") throw new RunDirError("run: expected a run folder path or a run name, got an empty string");
  const candidates = [resolve(nameOrPath)];
  const bare = !isAbsolute(nameOrPath) && !nameOrPath.includes("/") && !nameOrPath.includes(sep);
  if (bare) candidates.push(resolve(runsRoot, nameOrPath));
  const found = candidates.find(isDir);
  if (found === undefined) {
    throw new RunDirError(`run ${JSON.stringify(nameOrPath)} not found: no folder at ${[...new Set(candidates)].join(" or ")}`);
  }
  if (!existsSync(join(found, RUN_CONFIG_FILE))) {
    throw new RunDirError(`${found} is not a run folder: it has no ${RUN_CONFIG_FILE} (a run folder is made by \`gaelp train\`)`);
  }
  return found;
}

/** Writes <dir>/config.json atomically; createdAt defaults to now. Returns what was written. */
export function writeRunConfig(dir: string, rc: Omit<RunConfig, "format" | "createdAt"> & { createdAt?: string }): RunConfig {
  const out: RunConfig = {
    format: RUN_FORMAT,
    scenario: rc.scenario,
    exp: rc.exp,
    seed: rc.seed,
    createdAt: rc.createdAt ?? new Date().toISOString(),
    config: rc.config,
    train: rc.train,
    policy: rc.policy,
  };
  validateRunConfig(out, "run config");
  writeFileAtomic(join(dir, RUN_CONFIG_FILE), JSON.stringify(out, null, 2) + "\n");
  return out;
}

/** Reads and checks <dir>/config.json; errors name the file and the field. */
export function readRunConfig(dir: string): RunConfig {
  const file = join(resolve(dir), RUN_CONFIG_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RunDirError(code === "ENOENT" ? `${file} is missing: ${dir} is not a run folder` : `${file}: ${code ?? "not valid JSON"} (${(e as Error).message})`);
  }
  validateRunConfig(raw, file);
  return raw;
}

function validateRunConfig(v: unknown, where: string): asserts v is RunConfig {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (!isObj(v)) throw new RunDirError(`${where}: must be a JSON object`);
  if (v.format !== RUN_FORMAT) throw new RunDirError(`${where}: format is ${JSON.stringify(v.format)}, expected "${RUN_FORMAT}"`);
  try {
    assertNamePart(v.scenario, "scenario");
    assertNamePart(v.exp, "exp");
    assertSeed(v.seed);
  } catch (e) {
    throw new RunDirError(`${where}: ${(e as Error).message}`);
  }
  if (typeof v.createdAt !== "string" || Number.isNaN(Date.parse(v.createdAt))) {
    throw new RunDirError(`${where}: createdAt must be an ISO 8601 time, got ${JSON.stringify(v.createdAt)}`);
  }
  for (const k of ["config", "train", "policy"] as const) {
    if (!isObj(v[k])) throw new RunDirError(`${where}: ${k} must be a JSON object, got ${Array.isArray(v[k]) ? "an array" : JSON.stringify(v[k])}`);
    try {
      assertJsonValue(v[k], k);
    } catch (e) {
      throw new RunDirError(`${where}: ${(e as Error).message}`);
    }
  }
}

