// A training run's folder: runs/<name>/ with config.json (what the run was started with).
// PROVISIONAL (branch evalx): the `infra` branch owns this file; this is the API it announced
// (resolveRunDir, readRunConfig), written so `gaelp eval` can be built and tested before it lands.
// On merge, infra's version replaces this one.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type GaelpConfig, validateConfig } from "../env/config.js";
import { type PolicySpec, validatePolicySpec } from "../agents/policy/spec.js";

export const RUN_FORMAT = "gaelp-run/1";
export const RUN_CONFIG_FILE = "config.json";

export class RunDirError extends Error {
  override name = "RunDirError";
}

export interface RunConfig {
  format: typeof RUN_FORMAT;
  scenario: string;
  exp: string;
  seed: number;
  createdAt: string;
  /** the resolved config the run trained in */
  config: GaelpConfig;
  train: Record<string, unknown>;
  policy: PolicySpec;
}

/** The run directory for a run name (under `runsRoot`) or a path; `..` is refused. */
export function resolveRunDir(nameOrPath: string, runsRoot = "runs"): string {
  if (typeof nameOrPath !== "string" || nameOrPath.trim() === "") throw new RunDirError("run: expected a run name or a path");
  if (nameOrPath.split(/[\\/]/).includes("..")) throw new RunDirError(`run ${JSON.stringify(nameOrPath)}: '..' is not allowed`);
  const isPath = isAbsolute(nameOrPath) || /[\\/]/.test(nameOrPath) || nameOrPath.startsWith(".");
  const dir = isPath ? resolve(nameOrPath) : resolve(runsRoot, nameOrPath);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RunDirError(`run ${JSON.stringify(nameOrPath)}: no run directory at ${dir}`);
  return dir;
}

/** `<run>/config.json`, checked: the format tag, the config (every field) and the policy spec. */
export function readRunConfig(run: string): RunConfig {
  const file = join(run, RUN_CONFIG_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new RunDirError(`${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `cannot read (${(e as Error).message})`}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new RunDirError(`${file}: must hold a JSON object`);
  const r = raw as Record<string, unknown>;
  if (r.format !== RUN_FORMAT) throw new RunDirError(`${file}: format must be "${RUN_FORMAT}", got ${JSON.stringify(r.format)}`);
  for (const k of ["scenario", "exp", "createdAt"] as const) if (typeof r[k] !== "string") throw new RunDirError(`${file}: ${k} must be a string`);
  if (!Number.isSafeInteger(r.seed) || (r.seed as number) < 0) throw new RunDirError(`${file}: seed must be a non-negative integer`);
  if (typeof r.policy !== "object" || r.policy === null || Array.isArray(r.policy)) throw new RunDirError(`${file}: policy must be an object (a PolicySpec)`);
  let config: GaelpConfig;
  let policy: PolicySpec;
  try {
    config = validateConfig(r.config);
    policy = validatePolicySpec(r.policy as PolicySpec);
  } catch (e) {
    throw new RunDirError(`${file}: ${(e as Error).message}`);
  }
  return { format: RUN_FORMAT, scenario: r.scenario as string, exp: r.exp as string, seed: r.seed as number, createdAt: r.createdAt as string, config, train: (r.train ?? {}) as Record<string, unknown>, policy };
}
