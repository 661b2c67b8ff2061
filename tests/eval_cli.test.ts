// Smoke-runs the real `gaelp eval` (compiled to dist/) on a run folder built here: config.json and
// checkpoints holding a freshly initialised policy, as the trainer writes them.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { resolveConfig } from "../env/config.js";
import { canonicalToBytes, defaultPolicySpec, type PolicySpec } from "../agents/policy/spec.js";
import { initialCanonical } from "../agents/policy/init.js";
import { writeCheckpoint } from "../trainer/checkpoint.js";
import { POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE } from "../trainer/evaluate.js";
import { scratchDir } from "./helpers/scratch.js";

const ROOT = resolve(import.meta.dirname, "..");
const scratch = scratchDir("eval-cli");
const CLI = join(ROOT, "dist/trainer/cli.js");

function gaelp(args: string[], cwd = ROOT): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  // the CLI and its eval worker run compiled, as `npm run build:ts` leaves them
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json")], { cwd: ROOT, encoding: "utf8" });
  if (!existsSync(CLI)) throw new Error(`tsc did not produce ${CLI}:\n${tsc.stdout}${tsc.stderr}`);
}, 300_000);

// small worlds and a short flight keep a full eval (default grids included) to a few seconds
const config = resolveConfig({ overrides: { population: { users: 500 }, market: { warmupDays: 1 }, campaign: { flightDays: 2 } } });
const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden: [16] });

function policyFiles(s: PolicySpec, seed: number): Record<string, Uint8Array> {
  return { [POLICY_SPEC_FILE]: Buffer.from(JSON.stringify(s)), [POLICY_WEIGHTS_FILE]: canonicalToBytes(initialCanonical(s, seed)) };
}

/** runs/<name> with config.json and checkpoints at steps 10 and 20. */
function makeRun(name = "exp__1"): { root: string; run: string } {
  const root = scratch.next("runs");
  const run = join(root, name);
  writeCheckpoint(join(run, "checkpoints"), 10, policyFiles(spec, 1));
  writeCheckpoint(join(run, "checkpoints"), 20, policyFiles(spec, 2));
  writeFileSync(join(run, "config.json"), JSON.stringify({ format: "gaelp-run/1", scenario: "default", exp: "exp", seed: 7, createdAt: new Date().toISOString(), config, train: {}, policy: spec }));
  return { root, run };
}

const FAST = ["--worlds", "3", "--tune-worlds", "2", "--threads", "0"];

describe("gaelp eval", () => {
  it("evaluates a run by name: one JSON object on stdout, JSON and CSV in <run>/eval", () => {
    const { root, run } = makeRun();
    const r = gaelp(["eval", "--checkpoint", "exp__1", "--runs-root", root, ...FAST, "--json"]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const doc = JSON.parse(lines[0]);
    expect(doc).toMatchObject({ scenario: "default", worlds: 3, days: 2, seed: 7, tuneWorlds: 2, checkpoint: { step: 20 }, run });
    expect(Object.keys(doc.bidders)).toEqual(["ppo", "truthful", "fixed", "linear", "pacing"]);
    for (const b of Object.values(doc.bidders) as Record<string, unknown>[]) {
      for (const k of ["profit", "roas", "cac", "conversions", "winRate", "spend", "revenue", "journeyDays", "journeyTouches"]) expect(k in b, k).toBe(true);
      expect(typeof b.profit).toBe("number");
      expect(b.profitCi).toHaveLength(2);
      const [lo, hi] = b.profitCi as number[];
      expect(lo).toBeLessThanOrEqual(b.profit as number);
      expect(hi).toBeGreaterThanOrEqual(b.profit as number);
    }
    expect(Object.keys(doc.tuned)).toEqual(["truthful", "fixed", "linear", "pacing"]);
    expect(Object.keys(doc.tuned.pacing).sort()).toEqual(["eta", "mu0"]);
    expect(typeof doc.tuned.fixed.bid).toBe("number");

    const files = readdirSync(join(run, "eval")).sort();
    expect(files).toHaveLength(2); // nothing temporary left behind
    expect(files[0]).toMatch(/^eval__default__\d+\.csv$/);
    expect(files[1]).toBe(files[0].replace(/\.csv$/, ".json"));
    expect(basename(doc.files.json)).toBe(files[1]);
    const full = JSON.parse(readFileSync(join(run, "eval", files[1]), "utf8"));
    expect(full).toMatchObject({ format: "gaelp-eval/1", command: "eval", worlds: 3, days: 2, seed: 7 });
    expect(full.bidders.ppo.perWorld).toHaveLength(3);
    expect(full.tuning.pacing.points.length).toBeGreaterThan(20);
    expect(full.bidders.fixed.kpis.find((k: { key: string }) => k.key === "profit").mean).toBe(doc.bidders.fixed.profit);
    const csv = readFileSync(join(run, "eval", files[0]), "utf8").trim().split("\n");
    expect(csv[0]).toBe("bidder,metric,unit,mean,sd,ci95_lo,ci95_hi,n");
    expect(csv.find((l) => l.startsWith("ppo,profit,"))!.split(",")[3]).toBe(String(doc.bidders.ppo.profit));
  }, 300_000);

  it("prints the table by path, and falls back from a damaged newest checkpoint, saying so on stderr", () => {
    const { root, run } = makeRun();
    // flip a byte of the newest checkpoint's weights: its SHA-256 no longer matches
    const weights = join(run, "checkpoints", "ckpt-000000020", POLICY_WEIGHTS_FILE);
    const bytes = readFileSync(weights);
    bytes[100] ^= 0xff;
    writeFileSync(weights, bytes);
    const r = gaelp(["eval", "--checkpoint", run, ...FAST, "--days", "1", "--seed", "3"]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/skipped damaged checkpoint .*ckpt-000000020: .*policy\.f32/);
    expect(r.err).toMatch(/using .*ckpt-000000010 \(step 10\)/);
    expect(r.out).toMatch(/checkpoint step 10/);
    expect(r.out).toMatch(/│ metric\s+│ ppo\s+│ truthful\s+│ fixed\s+│ linear\s+│ pacing/);
    expect(r.out).toMatch(/3 held-out worlds x 1 days \(seed 3/);
    expect(r.out).toMatch(/wrote .*eval__default__\d+\.json/);
  }, 300_000);

  it("exits 2 with a clear message on bad flags, a missing run and unusable checkpoints", () => {
    const { root, run } = makeRun();
    const bad: [string[], RegExp][] = [
      [["eval"], /required option '--checkpoint <run>' not specified/],
      [["eval", "--checkpoint", "nope", "--runs-root", root], /--checkpoint nope: run "nope" not found: no folder at/],
      [["eval", "--checkpoint", join(root, "exp__1", "checkpoints")], /is not a run folder: it has no config\.json/],
      [["eval", "--checkpoint", run, "--worlds", "1"], /option '--worlds <n>' argument '1' is invalid\. Allowed: an integer from 2 to 65536/],
      [["eval", "--checkpoint", run, "--days", "x"], /option '--days <n>' argument 'x' is invalid/],
      [["eval", "--checkpoint", run, "--scenario", "moon"], /argument 'moon' is invalid\. Allowed choices are default, holiday_surge, crowded_market/],
      [["eval", "--checkpoint", run, "--set", "campaign.dailyBudget=-5"], /invalid configuration \(from --set\): .*campaign\.dailyBudget/],
      [["eval", "--checkpoint", run, "--set", "campaign.creatives=[{\"ctrMult\":1,\"affinity\":[1,1,1,1,1,1]}]"], /chooses between 3 creatives; scenario default's campaign has 1/],
    ];
    for (const [args, msg] of bad) {
      const r = gaelp(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(msg);
      expect(r.out).toBe("");
    }
    // no checkpoint at all, every checkpoint damaged, a checkpoint without the policy
    rmSync(join(run, "checkpoints"), { recursive: true });
    let r = gaelp(["eval", "--checkpoint", run]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no checkpoint in .*checkpoints/);
    writeCheckpoint(join(run, "checkpoints"), 5, { "other.bin": new Uint8Array(4) });
    r = gaelp(["eval", "--checkpoint", run]);
    expect(r.code).toBe(2);
    // a checkpoint without the policy's files does not verify for acting (only they are read)
    expect(r.err).toMatch(/ckpt-000000005: policy_spec\.json: not in the manifest; policy\.f32: not in the manifest/);
    writeFileSync(join(run, "checkpoints", "ckpt-000000005", "other.bin"), "damaged");
    r = gaelp(["eval", "--checkpoint", run]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no valid checkpoint in .*all damaged/);
    writeFileSync(join(run, "config.json"), "{}");
    r = gaelp(["eval", "--checkpoint", run]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/config\.json: format is undefined, expected "gaelp-run\/1"/);
    rmSync(join(run, "checkpoints"), { recursive: true });
    writeCheckpoint(join(run, "checkpoints"), 1, policyFiles(spec, 1));
    writeFileSync(join(run, "config.json"), JSON.stringify({ format: "gaelp-run/1", scenario: "default", exp: "exp", seed: 7, createdAt: new Date().toISOString(), config: { ...config, campaign: { ...config.campaign, bidMax: -1 } }, train: {}, policy: spec }));
    r = gaelp(["eval", "--checkpoint", run]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/config\.json: config campaign\.bidMax: Expected number to be greater or equal to 0\.01 \(got -1\)/);
    expect(existsSync(join(run, "eval"))).toBe(false);
  }, 300_000);

  it("--help names every flag", () => {
    const r = gaelp(["eval", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--checkpoint", "--runs-root", "--scenario", "--worlds", "--days", "--seed", "--tune-worlds", "--threads", "--set", "--json"]) expect(r.out).toContain(flag);
  });
});
