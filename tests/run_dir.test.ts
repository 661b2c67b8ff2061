import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./helpers/scratch.js";
import { createRunDir, parseRunName, readRunConfig, resolveRunDir, RUN_FORMAT, RunDirError, runName, runPaths, writeRunConfig } from "../trainer/run_dir.js";

const scratch = scratchDir("rundir");
const freshRoot = (): string => join(scratch.next("root"), "runs");

const T = new Date("2025-03-01T12:00:00.900Z");
const UNIX = Math.floor(T.getTime() / 1000);
const id = { scenario: "default", exp: "ppo-v1.2", seed: 7 };
const body = { config: { campaign: { dailyBudget: 100 } }, train: { iterations: 40, lr: 2.5e-4 }, policy: { hidden: [64, 64] } };

describe("createRunDir", () => {
  it("makes runs/<scenario>__<exp>__<seed>__<unix>/ with checkpoints, eval and plots", () => {
    const root = freshRoot();
    const p = runPaths(createRunDir(root, id, { now: T }));
    expect(relative(root, p.dir)).toBe(`default__ppo-v1.2__7__${UNIX}`);
    expect(readdirSync(p.dir).sort()).toEqual(["checkpoints", "eval", "plots"]);
    expect(p.checkpoints).toBe(join(p.dir, "checkpoints"));
    expect(p.metricsJsonl).toBe(join(p.dir, "metrics.jsonl"));
    expect(p.metricsCsv).toBe(join(p.dir, "metrics.csv"));
    expect(p.config).toBe(join(p.dir, "config.json"));
  });

  it("fails clearly when the folder exists, leaving it untouched", () => {
    const root = freshRoot();
    const p = runPaths(createRunDir(root, id, { now: T }));
    writeFileSync(join(p.dir, "marker"), "first run");
    expect(() => createRunDir(root, id, { now: T })).toThrow(RunDirError);
    expect(() => createRunDir(root, id, { now: T })).toThrow(/run folder .*default__ppo-v1\.2__7__\d+ already exists/);
    expect(readFileSync(join(p.dir, "marker"), "utf8")).toBe("first run");
    // a second later is a different run
    expect(createRunDir(root, id, { now: new Date(T.getTime() + 1000) })).not.toBe(p.dir);
  });

  it("validates the name parts, naming the field", () => {
    const root = freshRoot();
    expect(() => createRunDir(root, { ...id, scenario: "a b" })).toThrow(/run scenario "a b" must be non-empty and use only letters, digits/);
    expect(() => createRunDir(root, { ...id, exp: "../up" })).toThrow(/run exp "\.\.\/up" must be non-empty/);
    expect(() => createRunDir(root, { ...id, exp: "" })).toThrow(/run exp "" must be non-empty/);
    expect(() => createRunDir(root, { ...id, exp: ".." })).toThrow(/run exp "\.\." must not be only dots/);
    expect(() => createRunDir(root, { ...id, exp: "a__b" })).toThrow(/run exp "a__b" must not contain "__" or start or end with "_"/);
    expect(() => createRunDir(root, { ...id, scenario: "a_" })).toThrow(/run scenario "a_" must not contain "__" or start or end with "_"/);
    expect(() => createRunDir(root, { ...id, seed: -1 })).toThrow(/run seed must be an integer >= 0, got -1/);
    expect(() => createRunDir(root, { ...id, seed: 1.5 })).toThrow(/got 1\.5/);
    expect(() => readdirSync(root)).toThrow(/ENOENT/);
  });

  it("run names parse back to their parts (property)", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/).filter((s) => !s.includes("__") && !/^_|_$/.test(s) && !/^\.+$/.test(s));
    fc.assert(
      fc.property(part, part, fc.nat(), fc.nat({ max: 4e9 }), (scenario, exp, seed, unix) => {
        expect(parseRunName(runName({ scenario, exp, seed }, unix))).toEqual({ scenario, exp, seed, unixSeconds: unix });
      }),
    );
    expect(parseRunName("not-a-run")).toBeUndefined();
    expect(parseRunName("a__b__c__1")).toBeUndefined();
    expect(parseRunName("a__b__1__2__3")).toBeUndefined();
    expect(parseRunName("simulate__default__fixed__5__1700000000")).toBeUndefined();
  });
});

describe("run config", () => {
  it("round-trips config.json and stamps format and createdAt", () => {
    const p = runPaths(createRunDir(freshRoot(), id, { now: T }));
    const written = writeRunConfig(p.dir, { ...id, ...body });
    expect(written.format).toBe(RUN_FORMAT);
    expect(Date.parse(written.createdAt)).toBeGreaterThan(0);
    expect(readRunConfig(p.dir)).toEqual(written);
    expect(JSON.parse(readFileSync(p.config, "utf8"))).toEqual({ format: "gaelp-run/1", ...id, createdAt: written.createdAt, ...body });
    expect(readdirSync(p.dir).sort()).toEqual(["checkpoints", "config.json", "eval", "plots"]);
  });

  it("refuses what JSON would not store, and a damaged config.json, naming the field", () => {
    const p = runPaths(createRunDir(freshRoot(), id, { now: T }));
    expect(() => writeRunConfig(p.dir, { ...id, ...body, train: { lr: Number.NaN } })).toThrow(/run config: train\.lr is NaN/);
    expect(() => writeRunConfig(p.dir, { ...id, ...body, policy: [] as unknown as Record<string, unknown> })).toThrow(/policy must be a JSON object, got an array/);
    expect(() => writeRunConfig(p.dir, { ...id, ...body, seed: -2 })).toThrow(/run seed must be an integer >= 0/);
    expect(() => readRunConfig(p.dir)).toThrow(/config\.json is missing/);

    writeFileSync(p.config, "{ not json");
    expect(() => readRunConfig(p.dir)).toThrow(/config\.json: .*JSON/);
    writeFileSync(p.config, JSON.stringify({ format: "gaelp-run/0" }));
    expect(() => readRunConfig(p.dir)).toThrow(/format is "gaelp-run\/0", expected "gaelp-run\/1"/);
    writeFileSync(p.config, JSON.stringify({ format: RUN_FORMAT, ...id, createdAt: "yesterday", ...body }));
    expect(() => readRunConfig(p.dir)).toThrow(/createdAt must be an ISO 8601 time, got "yesterday"/);
    writeFileSync(p.config, JSON.stringify({ format: RUN_FORMAT, ...id, createdAt: T.toISOString(), ...body, train: null }));
    expect(() => readRunConfig(p.dir)).toThrow(/train must be a JSON object, got null/);
  });
});

describe("resolveRunDir", () => {
  it("accepts a run name under the runs root or a path to the folder", () => {
    const root = freshRoot();
    const dir = createRunDir(root, id, { now: T });
    writeRunConfig(dir, { ...id, ...body });
    const name = `default__ppo-v1.2__7__${UNIX}`;
    expect(resolveRunDir(name, root)).toBe(dir);
    expect(resolveRunDir(dir, "/nonexistent")).toBe(dir);
    expect(resolveRunDir(relative(process.cwd(), dir), "/nonexistent")).toBe(dir);
    expect(resolveRunDir(dir + "/", "/nonexistent")).toBe(dir);
  });

  it("says what it looked for when the run is missing or the folder is not a run", () => {
    const root = freshRoot();
    mkdirSync(join(root, "empty"), { recursive: true });
    expect(() => resolveRunDir("nope", root)).toThrow(/run "nope" not found: no folder at .*nope or .*runs\/nope/);
    expect(() => resolveRunDir(join(root, "missing"), root)).toThrow(/not found/);
    expect(() => resolveRunDir("empty", root)).toThrow(/runs\/empty is not a run folder: it has no config\.json/);
    expect(() => resolveRunDir("", root)).toThrow(/expected a run folder path or a run name/);
  });
});
