// Smoke-runs the real `gaelp` command (compiled to dist/) with tiny budgets, as a user would.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/trainer/cli.js");

function gaelp(args: string[], cwd = ROOT): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...rows] = text.trim().split("\n");
  const keys = head.split(",");
  return rows.map((r) => Object.fromEntries(r.split(",").map((v, i) => [keys[i], v])));
}

/** The mean column of a metric row of the printed table, as a number. */
function tableValue(table: string, metric: string): number {
  const line = table.split("\n").find((l) => l.split("│")[1]?.trim() === metric);
  if (!line) throw new Error(`no row '${metric}' in:\n${table}`);
  return Number(line.split("│")[2].trim().replace(/[$%,]/g, ""));
}

beforeAll(() => {
  // Compile the project the way `npm run build:ts` does. Type errors elsewhere in the tree do not
  // stop tsc from emitting, so the CLI's presence is what this suite needs.
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json")], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (!existsSync(CLI)) throw new Error(`tsc did not produce ${CLI}:\n${tsc.stdout}${tsc.stderr}`);
}, 300_000);

describe("gaelp simulate", () => {
  it("prints the KPI table and writes JSON and CSV that parse; spend stays within budget", () => {
    const dir = mkdtempSync(join(tmpdir(), "gaelp-cli-"));
    const out = join(dir, "run");
    const r = gaelp(["simulate", "--worlds", "2", "--days", "2", "--seed", "3", "--bidder", "truthful", "--set", "campaign.dailyBudget=3", "--out", out]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/metric\s+│ mean\s+│ 95% CI/);
    expect(r.out).toMatch(/decisions\/s/);

    const doc = JSON.parse(readFileSync(join(out, "simulate.json"), "utf8"));
    expect(doc).toMatchObject({ command: "simulate", scenario: "default", bidder: "truthful", worlds: 2, days: 2, seed: 3 });
    expect(doc.config.campaign.flightDays).toBe(2);
    expect(doc.perWorld).toHaveLength(2);
    const cap = doc.budget.cap;
    expect(cap).toBe(Math.min(doc.config.campaign.flightBudget, 3 * 2));
    for (const w of doc.perWorld) {
      expect(w.kpis.spend).toBeLessThanOrEqual(cap + 1e-6);
      expect(w.kpis.decisions).toBeGreaterThan(0);
      expect(w.kpis.impressions).toBeLessThanOrEqual(w.kpis.decisions);
    }
    expect(doc.rates.decisionsPerSec).toBeGreaterThan(0);

    const table = tableValue(r.out, "spend");
    expect(table).toBeGreaterThanOrEqual(0);
    expect(table).toBeLessThanOrEqual(cap);

    const summary = parseCsv(readFileSync(join(out, "simulate.csv"), "utf8"));
    const spend = summary.find((row) => row.metric === "spend")!;
    expect(Number(spend.mean)).toBeCloseTo(doc.kpis.find((k: { key: string }) => k.key === "spend").mean, 9);
    expect(Number(spend.n)).toBe(2);
    const worlds = parseCsv(readFileSync(join(out, "simulate_worlds.csv"), "utf8"));
    expect(worlds.map((w) => w.world)).toEqual(["0", "1"]);
    // nothing temporary left behind
    expect(readdirSync(dir)).toEqual(["run"]);
    expect(readdirSync(out).sort()).toEqual(["simulate.csv", "simulate.json", "simulate_worlds.csv"]);
  }, 120_000);

  it("--json prints exactly one JSON object; the same seed gives the same numbers", () => {
    const dir = mkdtempSync(join(tmpdir(), "gaelp-cli-"));
    const args = ["simulate", "--json", "--worlds", "2", "--days", "2", "--seed", "7", "--bidder", "pacing", "--bidder-param", "eta=0.1"];
    const a = gaelp([...args, "--out", join(dir, "a")]);
    const b = gaelp([...args, "--out", join(dir, "b")]);
    expect(a.code).toBe(0);
    const ja = JSON.parse(a.out);
    const jb = JSON.parse(b.out);
    expect(ja.bidderParams).toMatchObject({ eta: 0.1 });
    expect(ja.perWorld).toEqual(jb.perWorld);
    expect(readFileSync(join(dir, "a/simulate_worlds.csv"), "utf8")).toBe(readFileSync(join(dir, "b/simulate_worlds.csv"), "utf8"));
  }, 120_000);

  it("names its default run directory runs/simulate__<scenario>__<bidder>__<seed>__<unix>", () => {
    const cwd = mkdtempSync(join(tmpdir(), "gaelp-cli-"));
    const r = gaelp(["simulate", "--worlds", "1", "--days", "1", "--seed", "5", "--bidder", "fixed", "--bidder-param", "bid=0.5"], cwd);
    expect(r.code).toBe(0);
    const runs = readdirSync(join(cwd, "runs"));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^simulate__default__fixed__5__\d{10}$/);
  }, 120_000);

  it("--help describes the command and its bidders", () => {
    const r = gaelp(["simulate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: gaelp simulate/);
    expect(r.out).toMatch(/pacing: adaptive pacing/);
  });
});

describe("gaelp calibrate", () => {
  it("--json prints one object with the delay and multi-touch figures", () => {
    const r = gaelp(["calibrate", "--worlds", "2", "--days", "2", "--seed", "2", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    for (const key of ["delayMedianDays", "delayMeanDays", "delayP75Days", "delayMaxDays", "multiTouchShare"]) {
      expect(typeof j[key]).toBe("number");
    }
    expect(j.delayMedianDays).toBeLessThanOrEqual(j.delayP75Days);
    expect(j.delayP75Days).toBeLessThanOrEqual(j.delayMaxDays);
    expect(j.multiTouchShare).toBeGreaterThanOrEqual(0);
    expect(j.multiTouchShare).toBeLessThanOrEqual(1);
    expect(j.rows).toHaveLength(5);
  }, 120_000);

  it("--help", () => {
    const r = gaelp(["calibrate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: gaelp calibrate/);
  });
});

describe("bad input exits 2 and names the flag", () => {
  const cases: Array<[string[], RegExp]> = [
    [["simulate", "--worlds", "0"], /--worlds.*integer from 1/],
    [["simulate", "--worlds", "two"], /--worlds/],
    [["simulate", "--days", "1.5"], /--days.*integer/],
    [["simulate", "--seed", "-1"], /--seed.*integer >= 0/],
    [["simulate", "--scenario", "mars"], /--scenario.*default, holiday_surge, crowded_market/],
    [["simulate", "--bidder", "oracle"], /--bidder.*truthful, fixed, linear, pacing/],
    [["simulate", "--bidder-param", "eta=0"], /--bidder-param.*'eta' must be a number > 0/],
    [["simulate", "--bidder-param", "speed=1"], /--bidder-param.*no parameter 'speed'/],
    [["simulate", "--set", "campaign.dailyBudget=-1"], /--set.*campaign\.dailyBudget/],
    [["simulate", "--config", "/nonexistent/gaelp.json"], /--config/],
    [["simulate", "--no-such-flag"], /unknown option '--no-such-flag'/],
    [["calibrate", "--days", "0"], /--days/],
    [["calibrate", "--scenario", "mars"], /--scenario/],
  ];
  for (const [args, message] of cases) {
    it(args.join(" "), () => {
      const cwd = mkdtempSync(join(tmpdir(), "gaelp-cli-"));
      const r = gaelp(args, cwd);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.out).toBe("");
      expect(existsSync(join(cwd, "runs"))).toBe(false);
    });
  }
});
