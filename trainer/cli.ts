#!/usr/bin/env node
// The `gaelp` command: parses flags, runs trainer/simulate.ts or trainer/calibrate.ts, prints.
// Exit codes: 0 ok, 1 run failed (or `calibrate --check` out of band), 2 bad input.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import Table from "cli-table3";
import { ConfigError, type GaelpConfig, mergeOverrides, parseSetOverride, resolveConfig } from "../env/config.js";
import { SCENARIOS } from "../env/scenarios.js";
import { BIDDER_NAMES, BIDDERS, BidderParamError, createBidder, describeRange, resolveBidderParams } from "../agents/baselines/index.js";
import type { KpiRow, SimulationReport } from "./simulate.js";
import { perWorldCsv, runSimulation, summaryCsv } from "./simulate.js";
import { writeFilesAtomic } from "./fsutil.js";
import { type CalibrationReport, runCalibration } from "./calibrate.js";
import { readWeightsFile, runRollout } from "./rollout.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** Bad user input: reported with the flag it came from, exit code 2. */
class UsageError extends Error {}

// ---- flag parsers (commander turns InvalidArgumentError into "option '--x' argument 'v' is invalid. <msg>")

const intIn = (min: number, max: number) => (raw: string): number => {
  const v = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(max >= Number.MAX_SAFE_INTEGER ? `Allowed: an integer >= ${min}.` : `Allowed: an integer from ${min} to ${max}.`);
  }
  return v;
};
const collect = (raw: string, acc: string[]): string[] => [...acc, raw];

function keyValue(flag: string, raw: string): [string, string] {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new UsageError(`${flag} ${JSON.stringify(raw)}: expected key=value`);
  return [raw.slice(0, eq).trim(), raw.slice(eq + 1).trim()];
}

interface ConfigFlags {
  scenario: string;
  config?: string;
  set: string[];
}

function loadConfig(flags: ConfigFlags): GaelpConfig {
  const parts: Record<string, unknown>[] = [];
  if (flags.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.config, "utf8");
    } catch (e) {
      throw new UsageError(`--config ${flags.config}: cannot read the file (${(e as Error).message})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--config ${flags.config}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new UsageError(`--config ${flags.config}: must hold a JSON object of config overrides`);
    }
    parts.push(parsed as Record<string, unknown>);
  }
  for (const expr of flags.set) {
    try {
      parts.push(parseSetOverride(expr));
    } catch (e) {
      throw new UsageError(`--set ${JSON.stringify(expr)}: ${(e as Error).message}`);
    }
  }
  try {
    return resolveConfig({ scenario: flags.scenario, overrides: mergeOverrides(...parts) });
  } catch (e) {
    if (e instanceof ConfigError) {
      const from = [flags.config !== undefined ? "--config" : "", flags.set.length ? "--set" : ""].filter(Boolean).join("/");
      throw new UsageError(`invalid configuration${from ? ` (from ${from})` : ""}: ${e.message}`);
    }
    throw e;
  }
}

// ---- printing --------------------------------------------------------------------------------------

const isPercent = (unit: string): boolean =>
  unit === "share" || unit === "spend/cap" || unit.endsWith("/decisions") || unit.endsWith("/impressions");

/** Formats v in `unit`; `scale` (the row's mean) fixes the decimals so bounds match the mean. */
function fmt(v: number, unit: string, scale = v): string {
  if (!Number.isFinite(v)) return "n/a";
  if (isPercent(unit)) return `${(100 * v).toFixed(1)}%`;
  const a = Math.abs(scale);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : 2;
  return unit.startsWith("$") ? `${v < 0 ? "-" : ""}$${Math.abs(v).toFixed(digits)}` : v.toFixed(digits);
}

function kpiTable(rows: KpiRow[], worlds: number): string {
  const t = new Table({ head: ["metric", "mean", "95% CI"], style: { head: [], border: [], compact: true } });
  for (const r of rows) {
    const ci = r.n >= 2 ? `[${fmt(r.lo, r.unit, r.mean)}, ${fmt(r.hi, r.unit, r.mean)}]` : r.n === 1 ? "(n = 1)" : "";
    const nNote = r.n < worlds ? ` (n = ${r.n})` : "";
    t.push([r.label, fmt(r.mean, r.unit), ci + (r.n >= 2 ? nNote : "")]);
  }
  return t.toString();
}

function printSimulation(io: CliIo, report: SimulationReport, scenario: string, outDir: string): void {
  io.out(
    `simulate: scenario ${scenario}, bidder ${report.bidder}, ${report.worlds} worlds x ${report.days} days, seed ${report.seed}` +
      ` (budget $${report.budget.daily}/day, $${report.budget.flight}/flight; attribution ${report.attributionModel})\n`,
  );
  io.out(kpiTable([...report.kpis, ...report.attribution], report.worlds) + "\n");
  const r = report.rates;
  io.out(
    `${r.opportunities.toFixed(0)} auctions, ${r.decisions.toFixed(0)} decisions in ${r.wallSeconds.toFixed(2)} s ` +
      `(${r.opportunitiesPerSec.toFixed(0)} auctions/s, ${r.decisionsPerSec.toFixed(0)} decisions/s, warm-up included)\n`,
  );
  io.out(`wrote ${outDir}/simulate.json, simulate.csv, simulate_worlds.csv\n`);
}

function printCalibration(io: CliIo, report: CalibrationReport): void {
  io.out(
    `calibrate: ${report.worlds} worlds, journeys starting on world days [${report.window.fromDay}, ${report.window.toDay}), ` +
      `run to day ${report.window.runUntilDay}, seed ${report.seed}; ${report.conversions.toFixed(0)} conversions\n`,
  );
  const t = new Table({ head: ["metric", "value", "target", "per world (95% CI)", "pass"], style: { head: [], border: [], compact: true } });
  for (const r of report.rows) {
    const share = r.unit === "share";
    const f = (v: number) => (!Number.isFinite(v) ? "n/a" : share ? `${(100 * v).toFixed(1)}%` : `${v.toFixed(2)} d`);
    const target = r.min <= 0 ? `<= ${f(r.max)}` : `${f(r.min)} - ${f(r.max)}`;
    const ci = r.overWorlds.n >= 2 ? `${f(r.overWorlds.mean)} [${f(r.overWorlds.lo)}, ${f(r.overWorlds.hi)}]` : f(r.overWorlds.mean);
    t.push([r.metric, f(r.value), target, ci, r.pass ? "pass" : "FAIL"]);
  }
  io.out(t.toString() + "\n");
  io.out(
    `multi-touch share over all conversions (incl. warm-up): ${(100 * report.multiTouchShareAllTime).toFixed(1)}%; ` +
      `conversions > 30 d after first touch: ${(100 * report.beyond30DaysShare).toFixed(2)}%; ${report.wallSeconds.toFixed(1)} s\n`,
  );
}

// ---- commands --------------------------------------------------------------------------------------

const SCENARIO_NAMES = Object.keys(SCENARIOS);

function commonOptions(cmd: Command, defaults: { worlds: number; days: number; daysHelp: string }): Command {
  return cmd
    .addOption(new Option("--scenario <name>", "scenario preset").choices(SCENARIO_NAMES).default("default"))
    .addOption(new Option("--worlds <n>", "independent seeded worlds").argParser(intIn(1, 65536)).default(defaults.worlds))
    .addOption(new Option("--days <n>", defaults.daysHelp).argParser(intIn(1, 365)).default(defaults.days))
    .addOption(new Option("--seed <n>", "root seed (a non-negative integer)").argParser(intIn(0, Number.MAX_SAFE_INTEGER)).default(1))
    .option("--config <file>", "JSON file of config overrides (applied on top of the scenario)")
    .addOption(
      new Option("--set <key.path=value>", "override one config field, e.g. campaign.dailyBudget=80 (repeatable)").argParser(collect).default([], "none"),
    )
    .option("--json", "print one JSON object instead of the table", false);
}

function bidderHelp(): string {
  const lines = ["", "Bidders and their --bidder-param parameters:"];
  for (const name of BIDDER_NAMES) {
    lines.push(`  ${name}: ${BIDDERS[name].description}`);
    for (const [k, spec] of Object.entries(BIDDERS[name].params) as [string, { default: number; description: string } & Parameters<typeof describeRange>[0]][]) {
      lines.push(`    ${k}=${spec.default}  ${spec.description} (${describeRange(spec)})`);
    }
  }
  return lines.join("\n");
}

export function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command()
    .name("gaelp")
    .description("Simulate ad auctions with persistent users, delayed conversions and rival bidders")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError("(add --help for usage)");

  commonOptions(
    program
      .command("simulate")
      .description("Run one flight of --days days in each of --worlds worlds with a baseline bidder and report campaign KPIs (mean and 95% CI over worlds)")
      .addOption(new Option("--bidder <name>", "baseline bidder").choices(BIDDER_NAMES).default("pacing")),
    { worlds: 16, days: 30, daysHelp: "flight length in days (sets campaign.flightDays)" },
  )
    .addOption(new Option("--bidder-param <key=value>", "bidder parameter (repeatable; see below)").argParser(collect).default([], "none"))
    .option("--out <dir>", "output directory (default runs/simulate__<scenario>__<bidder>__<seed>__<unix>)")
    .addHelpText("after", bidderHelp())
    .action((o: { scenario: string; bidder: string; worlds: number; days: number; seed: number; config?: string; set: string[]; bidderParam: string[]; out?: string; json: boolean }) => {
      const config = loadConfig(o);
      const raw: Record<string, string> = {};
      for (const kv of o.bidderParam) {
        const [k, v] = keyValue("--bidder-param", kv);
        raw[k] = v;
      }
      let bidder;
      let bidderParams: Record<string, number>;
      try {
        bidderParams = resolveBidderParams(o.bidder, raw);
        bidder = createBidder(o.bidder, raw);
      } catch (e) {
        if (e instanceof BidderParamError) throw new UsageError(`--bidder-param: ${e.message}`);
        throw e;
      }
      const outDir = o.out ?? `runs/simulate__${o.scenario}__${o.bidder}__${o.seed}__${Math.floor(Date.now() / 1000)}`;
      const report = runSimulation({ config, bidder, worlds: o.worlds, days: o.days, seed: o.seed });
      const doc = {
        command: "simulate",
        scenario: o.scenario,
        bidderParams,
        ...report,
        config: { ...config, campaign: { ...config.campaign, flightDays: o.days } },
      };
      writeFilesAtomic(outDir, {
        "simulate.json": JSON.stringify(doc, null, 2) + "\n",
        "simulate.csv": summaryCsv(report),
        "simulate_worlds.csv": perWorldCsv(report),
      });
      if (o.json) io.out(JSON.stringify({ ...doc, outDir }) + "\n");
      else printSimulation(io, report, o.scenario, outDir);
      setCode(0);
    });

  commonOptions(
    program
      .command("calibrate")
      .description(
        "Measure the market's conversion delays and multi-touch share against the Criteo targets: journeys starting in the " +
          "--days days after warm-up are followed for the conversion window (truthful bidder)",
      ),
    { worlds: 16, days: 30, daysHelp: "days of journey starts counted, from the end of the warm-up" },
  )
    .option("--check", "exit 1 when a metric is outside its target band", false)
    .action((o: { scenario: string; worlds: number; days: number; seed: number; config?: string; set: string[]; json: boolean; check: boolean }) => {
      const config = loadConfig(o);
      const report = runCalibration({ config, worlds: o.worlds, days: o.days, seed: o.seed });
      if (o.json) io.out(JSON.stringify(report) + "\n");
      else printCalibration(io, report);
      setCode(o.check && !report.pass ? 1 : 0);
    });

  program
    .command("rollout")
    .description("Roll out --worlds worlds for --iterations x --hours simulated hours with a policy in the Piscina pool and write the experience as an Arrow IPC file (one row per decision; late credit for earlier rows goes to <out>.late.arrow)")
    .addOption(new Option("--scenario <name>", "scenario preset").choices(SCENARIO_NAMES).default("default"))
    .addOption(new Option("--worlds <n>", "independent seeded worlds").argParser(intIn(1, 65536)).default(64))
    .addOption(new Option("--hours <n>", "simulated hours per iteration").argParser(intIn(1, 87600)).default(24))
    .addOption(new Option("--iterations <n>", "iterations (worlds persist between them)").argParser(intIn(1, 100000)).default(1))
    .addOption(new Option("--seed <n>", "root seed (a non-negative integer)").argParser(intIn(0, Number.MAX_SAFE_INTEGER)).default(1))
    .addOption(new Option("--threads <n>", "worker threads (0: run on the main thread)").argParser(intIn(0, 256)))
    .addOption(new Option("--worlds-per-task <n>", "worlds per pool task (default: 4 tasks per thread)").argParser(intIn(1, 65536)))
    .option("--weights <file>", "policy weights: raw float32 in the canonical layout (agents/policy/spec.ts); default: the uniform policy")
    .option("--greedy", "take the most likely action instead of sampling", false)
    .requiredOption("--out <file>", "Arrow IPC file to write (written atomically)")
    .option("--config <file>", "JSON file of config overrides (applied on top of the scenario)")
    .addOption(new Option("--set <key.path=value>", "override one config field (repeatable)").argParser(collect).default([], "none"))
    .option("--json", "print one JSON object instead of the summary", false)
    .action(async (o: { scenario: string; worlds: number; hours: number; iterations: number; seed: number; threads?: number; worldsPerTask?: number; weights?: string; greedy: boolean; out: string; config?: string; set: string[]; json: boolean }) => {
      const config = loadConfig(o);
      const spec = defaultPolicySpec(config.campaign.creatives.length);
      let weights: Float32Array | undefined;
      if (o.weights !== undefined) {
        try {
          weights = readWeightsFile(o.weights, spec);
        } catch (e) {
          throw new UsageError(`--weights ${o.weights}: ${(e as Error).message}`);
        }
      }
      if (o.worldsPerTask !== undefined && o.worldsPerTask > o.worlds) throw new UsageError(`--worlds-per-task ${o.worldsPerTask}: Allowed: at most --worlds (${o.worlds}).`);
      const report = await runRollout({ config, spec, weights, worlds: o.worlds, hours: o.hours, iterations: o.iterations, seed: o.seed, threads: o.threads, worldsPerTask: o.worldsPerTask, greedy: o.greedy, out: o.out });
      if (o.json) io.out(JSON.stringify(report) + "\n");
      else {
        io.out(`gaelp rollout: ${o.scenario}, ${o.worlds} worlds x ${o.iterations} x ${o.hours} h, seed ${o.seed}\n`);
        io.out(`  ${report.rows.toLocaleString("en-US")} rows (${report.decisions.toLocaleString("en-US")} decisions), ${report.lateEvents} late events, ${report.retries} retried tasks\n`);
        io.out(`  ${report.seconds.toFixed(2)} s engine time, ${Math.round(report.rowsPerSecond).toLocaleString("en-US")} rows/s\n`);
        io.out(`  wrote ${report.out} (${(report.bytes / 1e6).toFixed(1)} MB)${report.lateOut ? ` and ${report.lateOut}` : ""}\n`);
      }
      setCode(0);
    });

  return program;
}

/** Runs the CLI on `argv` (as process.argv: node, script, ...args); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // help/version, or bad flags
    if (e instanceof UsageError) {
      io.err(`gaelp: ${e.message}\n`);
      return 2;
    }
    io.err(`gaelp: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `gaelp ... | head` closes the pipe early: stop quietly instead of crashing on EPIPE
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
