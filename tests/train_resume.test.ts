// Exact resume, end to end through the real `gaelp train` (compiled CLI in child processes):
// a run killed with SIGKILL in the middle of writing a checkpoint, whose newest complete
// checkpoint is then corrupted, resumes from the previous valid one and ends with weights
// bit-identical to an uninterrupted run with the same seed. Also: training options are validated
// with the field named, and --resume refuses flags that would change the run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadLatestCheckpoint, listCheckpoints } from "../trainer/checkpoint.js";

const CLI = resolve("dist/trainer/cli.js");
const KILL = resolve("tests/fixtures/kill_in_checkpoint.mjs");
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function scratch(): string {
  const r = mkdtempSync(join(tmpdir(), "gaelp-train-"));
  roots.push(r);
  return r;
}

function gaelp(args: string[], env: Record<string, string> = {}, preload = false) {
  return spawnSync(process.execPath, [...(preload ? ["--import", KILL] : []), CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 240_000,
  });
}

const COMMON = ["--preset", "smoke", "--seed", "7", "--threads", "0", "--no-eval", "--set", "train.iterations=4", "--set", "train.hoursPerIteration=36"];

function onlyRun(root: string): string {
  const runs = readdirSync(root);
  expect(runs).toHaveLength(1);
  return join(root, runs[0]);
}

describe("gaelp train --resume", () => {
  it("continues bit-identically after SIGKILL during a checkpoint write and a corrupted newest checkpoint", () => {
    const rootA = scratch();
    const a = gaelp(["train", ...COMMON, "--runs", rootA]);
    expect(a.status, a.stderr).toBe(0);
    const runA = onlyRun(rootA);
    const finalA = loadLatestCheckpoint(join(runA, "checkpoints"))!;
    expect(finalA.info.step).toBe(4);

    // killed while writing checkpoint 3 (before its 4th file is opened)
    const rootB = scratch();
    const b = gaelp(["train", ...COMMON, "--runs", rootB], { GAELP_KILL_CHECKPOINT: "3", GAELP_KILL_AT_FILE: "4" }, true);
    expect(b.signal).toBe("SIGKILL");
    const runB = onlyRun(rootB);
    const ckRoot = join(runB, "checkpoints");
    expect(listCheckpoints(ckRoot).map((c) => c.step)).toEqual([1, 2]);
    expect(readdirSync(ckRoot).some((n) => n.startsWith(".tmp-"))).toBe(true); // the half-written one
    // the newest complete checkpoint is damaged too: one flipped byte in its weights
    const weights = join(listCheckpoints(ckRoot)[1].dir, "policy.f32");
    const bytes = readFileSync(weights);
    bytes[100] ^= 0xff;
    writeFileSync(weights, bytes);

    const c = gaelp(["train", "--resume", runB, "--runs", rootB, "--no-eval"]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/skipped damaged checkpoint .*ckpt-000000002.*policy\.f32/);
    expect(c.stderr).toMatch(/resuming .* from .*ckpt-000000001 \(1 iterations done\)/);
    const finalB = loadLatestCheckpoint(join(runB, "checkpoints"))!;
    expect(finalB.info.step).toBe(4);
    expect(finalB.skipped).toEqual([]);
    expect(Buffer.from(finalB.files.get("policy.f32")!).equals(Buffer.from(finalA.files.get("policy.f32")!))).toBe(true);
    expect(Buffer.from(finalB.files.get("optimizer.msgpack")!).equals(Buffer.from(finalA.files.get("optimizer.msgpack")!))).toBe(true);
    expect(Buffer.from(finalB.files.get("worlds.msgpack")!).equals(Buffer.from(finalA.files.get("worlds.msgpack")!))).toBe(true);
    // the metrics file holds each iteration once, in order
    const steps = readFileSync(join(runB, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4]);
    // a different seed trains different weights (the comparison above can fail)
    const rootD = scratch();
    const d = gaelp(["train", ...COMMON.map((x) => (x === "7" ? "8" : x)), "--runs", rootD]);
    expect(d.status, d.stderr).toBe(0);
    const finalD = loadLatestCheckpoint(join(onlyRun(rootD), "checkpoints"))!;
    expect(Buffer.from(finalD.files.get("policy.f32")!).equals(Buffer.from(finalA.files.get("policy.f32")!))).toBe(false);
  }, 300_000);

  it("names bad training options and refuses to change a resumed run", () => {
    const root = scratch();
    const bad = gaelp(["train", "--preset", "smoke", "--runs", root, "--set", "train.learningRate=-1"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/train\.learningRate/);
    const unknown = gaelp(["train", "--preset", "smoke", "--runs", root, "--set", "train.nope=1"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/train/);
    const clash = gaelp(["train", "--resume", "whatever", "--seed", "3", "--runs", root]);
    expect(clash.status).toBe(2);
    expect(clash.stderr).toMatch(/--seed/);
    const missing = gaelp(["train", "--resume", "no_such_run", "--runs", root]);
    expect(missing.status).toBe(2);
    expect(existsSync(join(root, "no_such_run"))).toBe(false);
  }, 120_000);
});
