// CI smoke of the main job: the real `gaelp train` with a tiny budget writes a complete run folder
// (config, metrics JSONL + CSV, checkpoints with a manifest, evaluation, plots), then
// `gaelp eval --checkpoint RUN --json` evaluates its checkpoint.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listCheckpoints, loadLatestCheckpoint } from "../trainer/checkpoint.js";
import { canonicalFromBytes, policySpecFromJson } from "../agents/policy/spec.js";

const CLI = resolve("dist/trainer/cli.js");
const root = mkdtempSync(join(tmpdir(), "gaelp-train-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const gaelp = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 300_000 });

describe("gaelp train (smoke) then gaelp eval", () => {
  it("trains, checkpoints, evaluates, plots, and the checkpoint evaluates again from the CLI", () => {
    const t = gaelp(["train", "--preset", "smoke", "--seed", "4", "--runs", root, "--json"]);
    expect(t.status, t.stderr).toBe(0);
    const out = JSON.parse(t.stdout.trim().split("\n").pop()!);
    const run: string = out.run;
    expect(existsSync(join(run, "config.json"))).toBe(true);
    // metrics: one line per iteration with CleanRL-style keys, the CSV with the same steps
    const lines = readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3]);
    for (const k of ["charts/SPS", "charts/episodic_return", "losses/approx_kl", "losses/clipfrac", "losses/explained_variance", "losses/value_loss", "auction/win_rate", "charts/lambda"]) {
      expect(lines.every((l) => Number.isFinite(l[k])), k).toBe(true);
    }
    expect(readFileSync(join(run, "metrics.csv"), "utf8").trim().split("\n")).toHaveLength(4);
    // checkpoints: every iteration (smoke), the newest 3 kept, each verified by its manifest
    expect(listCheckpoints(join(run, "checkpoints")).map((c) => c.step)).toEqual([1, 2, 3]);
    const ck = loadLatestCheckpoint(join(run, "checkpoints"))!;
    for (const f of ["model.json", "weights.bin", "policy_spec.json", "policy.f32", "optimizer.msgpack", "trainer.msgpack", "replay.bin", "trajectories.msgpack", "worlds.msgpack", "rivals.bin"]) {
      expect(ck.files.has(f), f).toBe(true);
    }
    const spec = policySpecFromJson(new TextDecoder().decode(ck.files.get("policy_spec.json")!));
    const w = canonicalFromBytes(ck.files.get("policy.f32")!, spec);
    expect(w.every(Number.isFinite)).toBe(true);
    // the final evaluation: PPO and every tuned baseline with intervals
    for (const name of ["ppo", "truthful", "fixed", "linear", "pacing"]) {
      const b = out.bidders[name];
      expect(Number.isFinite(b.profit), name).toBe(true);
      expect(b.profitCi[0]).toBeLessThanOrEqual(b.profit);
      expect(b.profitCi[1]).toBeGreaterThanOrEqual(b.profit);
    }
    expect(readdirSync(join(run, "plots")).sort()).toEqual(["baselines.svg", "learning_curves.svg"]);
    // gaelp eval on the run's checkpoint
    const e = gaelp(["eval", "--checkpoint", run, "--worlds", "3", "--days", "5", "--tune-worlds", "2", "--threads", "0", "--json"]);
    expect(e.status, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout);
    expect(Object.keys(ev.bidders).sort()).toEqual(["fixed", "linear", "pacing", "ppo", "truthful"]);
    expect(ev.worlds).toBe(3);
  }, 300_000);
});
