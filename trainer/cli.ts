#!/usr/bin/env node
// The `gaelp` command: parses flags, runs trainer/simulate.ts, calibrate.ts, rollout.ts or
// evaluate.ts, prints.
// Exit codes: 0 ok, 1 run failed (or `calibrate --check` out of band), 2 bad input.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import Table from "cli-table3";
import { join } from "node:path";
import { ATTRIBUTION_MODELS, ConfigError, type GaelpConfig, mergeOverrides, parseSetOverride, resolveConfig, validateConfig } from "../env/config.js";
import { SCENARIOS } from "../env/scenarios.js";
import { BIDDER_NAMES, BIDDERS, BidderParamError, createBidder, describeRange, resolveBidderParams } from "../agents/baselines/index.js";
import type { KpiRow, SimulationReport } from "./simulate.js";
import { perWorldCsv, runSimulation, summaryCsv } from "./simulate.js";
import { writeFilesAtomic } from "./fsutil.js";
import { type CalibrationReport, runCalibration } from "./calibrate.js";
import { readWeightsFile, runRollout } from "./rollout.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { fmt } from "./format.js";
import { type CheckpointPolicy, evalSummary, evaluateRun, formatEvalTable, loadCheckpointPolicy, writeEvalFiles } from "./evaluate.js";
import { DEFAULT_RUNS_ROOT, type RunConfig, RunDirError, readRunConfig, resolveRunDir } from "./run_dir.js";
import type { TObject } from "@sinclair/typebox";
import { DEFAULT_TRAIN, TRAIN_PRESETS, TrainSchema, resolveTrain, type TrainOptions } from "./train_config.js";
import { runTraining } from "./train_run.js";
import { CheckpointError } from "./checkpoint.js";
import { type AttributionModel, OfflineDataError } from "./offline.js";

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

/** A JSON object from a file named by `flag`, or a UsageError saying what is wrong with it. */
function readJsonObject(flag: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot read the file (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag} ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${flag} ${file}: must hold a JSON object of config overrides`);
  }
  return parsed as Record<string, unknown>;
}

/** The scenario, then the file's overrides, then each --set; errors name where they came from. */
function resolveWorld(scenario: string, fileParts: Record<string, unknown>[], sets: string[], file: string | undefined): GaelpConfig {
  const parts = [...fileParts];
  for (const expr of sets) {
    try {
      parts.push(parseSetOverride(expr));
    } catch (e) {
      throw new UsageError(`--set ${JSON.stringify(expr)}: ${(e as Error).message}`);
    }
  }
  try {
    return resolveConfig({ scenario, overrides: mergeOverrides(...parts) });
  } catch (e) {
    if (e instanceof ConfigError) {
      const from = [file !== undefined ? "--config" : "", sets.length ? "--set" : ""].filter(Boolean).join("/");
      throw new UsageError(`invalid configuration${from ? ` (from ${from})` : ""}: ${e.message}`);
    }
    throw e;
  }
}

function loadConfig(flags: ConfigFlags): GaelpConfig {
  const parts = flags.config !== undefined ? [readJsonObject("--config", flags.config)] : [];
  return resolveWorld(flags.scenario, parts, flags.set, flags.config);
}

// ---- printing --------------------------------------------------------------------------------------

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

function trainHelp(): string {
  const lines = ["", "Training options (set with --set train.<key>=<value> or a \"train\" object in --config; defaults shown):"];
  const describe = (schema: TObject, prefix: string, values: Record<string, unknown>) => {
    for (const [k, sub] of Object.entries(schema.properties)) {
      const v = values[k];
      if ((sub as TObject).type === "object" && (sub as TObject).properties) describe(sub as TObject, `${prefix}${k}.`, v as Record<string, unknown>);
      else lines.push(`  ${prefix}${k}=${JSON.stringify(v)}  ${(sub as { description?: string }).description ?? ""}`);
    }
  };
  describe(TrainSchema, "train.", DEFAULT_TRAIN as unknown as Record<string, unknown>);
  lines.push("", `Presets (--preset): ${Object.entries(TRAIN_PRESETS).map(([k, v]) => `${k}${Object.keys(v).length ? ` (${Object.entries(v).map(([a, b]) => `${a}=${JSON.stringify(b)}`).join(", ")})` : ""}`).join("; ")}`);
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

  program
    .command("eval")
    .description(
      "Evaluate a training run's latest valid checkpoint against every baseline (truthful, fixed, linear, pacing) on held-out " +
        "worlds; each baseline is first tuned for profit by grid search on training worlds. Writes <run>/eval/eval__<scenario>__<unix>.json and .csv",
    )
    .requiredOption("--checkpoint <run>", "the run: a path to its folder, or its name (looked up here, then under --runs-root)")
    .option("--runs-root <dir>", "folder holding runs by name", DEFAULT_RUNS_ROOT)
    .addOption(new Option("--scenario <name>", "scenario to evaluate in (default: the run's, with its config; another starts from that preset)").choices(SCENARIO_NAMES))
    .addOption(new Option("--worlds <n>", "held-out worlds (the 95% intervals are over them)").argParser(intIn(2, 65536)).default(64))
    .addOption(new Option("--days <n>", "flight length in days (default: the run's campaign.flightDays)").argParser(intIn(1, 365)))
    .addOption(new Option("--seed <n>", "root seed (default: the run's; held-out worlds are its eval stream)").argParser(intIn(0, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option("--tune-worlds <n>", "training worlds each baseline is tuned on").argParser(intIn(1, 65536)).default(32))
    .addOption(new Option("--threads <n>", "worker threads running simulations side by side (0: main thread only)").argParser(intIn(0, 256)))
    .addOption(new Option("--set <key.path=value>", "override one config field on top of the run's, e.g. campaign.dailyBudget=80 (repeatable)").argParser(collect).default([], "none"))
    .option("--json", "print one JSON object instead of the table", false)
    .action(async (o: { checkpoint: string; runsRoot: string; scenario?: string; worlds: number; days?: number; seed?: number; tuneWorlds: number; threads?: number; set: string[]; json: boolean }) => {
      let run: string;
      let runConfig: RunConfig;
      let policy: CheckpointPolicy;
      try {
        run = resolveRunDir(o.checkpoint, o.runsRoot);
        runConfig = readRunConfig(run);
        policy = loadCheckpointPolicy(run);
      } catch (e) {
        throw new UsageError(`--checkpoint ${o.checkpoint}: ${(e as Error).message}`);
      }
      for (const s of policy.skipped) io.err(`gaelp eval: skipped damaged checkpoint ${s.dir}: ${s.reason}\n`);
      if (policy.skipped.length > 0) io.err(`gaelp eval: using ${policy.checkpoint.dir} (step ${policy.checkpoint.step})\n`);

      const scenario = o.scenario ?? runConfig.scenario;
      let base: GaelpConfig;
      if (scenario === runConfig.scenario) {
        try {
          base = validateConfig(structuredClone(runConfig.config));
        } catch (e) {
          throw new UsageError(`--checkpoint ${o.checkpoint}: ${join(run, "config.json")}: ${(e as Error).message}`);
        }
      } else base = resolveConfig({ scenario });
      let config: GaelpConfig;
      try {
        config = validateConfig(mergeOverrides(base, ...o.set.map(parseSetOverride)));
      } catch (e) {
        throw new UsageError(`invalid configuration${o.set.length ? " (from --set)" : ""}: ${(e as Error).message}`);
      }
      const nc = config.campaign.creatives.length;
      if (policy.spec.numCreatives !== nc) {
        throw new UsageError(`the policy in ${policy.checkpoint.dir} chooses between ${policy.spec.numCreatives} creatives; scenario ${scenario}'s campaign has ${nc} (campaign.creatives)`);
      }
      const days = o.days ?? config.campaign.flightDays;
      const seed = o.seed ?? runConfig.seed;
      const report = await evaluateRun({
        config, spec: policy.spec, weights: policy.weights, scenario, worlds: o.worlds, days, seed, tuneWorlds: o.tuneWorlds, threads: o.threads,
        onProgress: (line) => io.err(`gaelp eval: ${line}\n`),
      });
      const checkpoint = { dir: policy.checkpoint.dir, step: policy.checkpoint.step, skipped: policy.skipped };
      const { files, stem } = writeEvalFiles(run, report, { command: "eval", run, checkpoint, config: { ...config, campaign: { ...config.campaign, flightDays: days } } });
      if (o.json) io.out(JSON.stringify({ ...evalSummary(report), run, checkpoint, files }) + "\n");
      else {
        io.out(`run ${run}, checkpoint step ${policy.checkpoint.step}\n`);
        io.out(formatEvalTable(report));
        io.out(`wrote ${files.json} and ${stem}.csv\n`);
      }
      setCode(0);
    });

  program
    .command("train")
    .description(
      "Train a PPO bidding policy: worlds roll out in the engine's pool, journeys with delayed credit feed GAE and PPO with " +
        "prioritized replay, rivals adapt, a curriculum raises competition; checkpoints and metrics go to a run folder, and the " +
        "final policy is evaluated against tuned baselines on held-out worlds",
    )
    .addOption(new Option("--scenario <name>", "scenario preset").choices(SCENARIO_NAMES).default("default"))
    .addOption(new Option("--preset <name>", "training option preset").choices(Object.keys(TRAIN_PRESETS)).default("default"))
    .addOption(new Option("--seed <n>", "root seed (a non-negative integer)").argParser(intIn(0, Number.MAX_SAFE_INTEGER)).default(1))
    .option("--exp <name>", "experiment name (part of the run folder name)", "ppo")
    .addOption(new Option("--iterations <n>", "iterations (overrides train.iterations; with --resume: the new total)").argParser(intIn(1, 1_000_000)))
    .addOption(new Option("--worlds <n>", "training worlds (overrides train.worlds)").argParser(intIn(1, 4096)))
    .addOption(new Option("--threads <n>", "engine worker threads (overrides train.threads)").argParser(intIn(0, 256)))
    .option("--config <file>", 'JSON file of world config overrides; a top-level "train" object holds training options')
    .addOption(
      new Option("--set <key.path=value>", "override one field: world config (campaign.dailyBudget=80) or training option (train.learningRate=1e-3); repeatable")
        .argParser(collect).default([], "none"),
    )
    .option("--resume <run>", "continue a run (folder name under --runs, or a path) from its newest valid checkpoint")
    .option("--offline-data <dir>", "a gaelp serve --data-dir: its served decisions joined with their feedback join the replay before the first iteration (README: offline data)")
    .addOption(new Option("--offline-attribution <model>", "attribution model spreading conversion value over touchpoints (default: the world config's attribution.model)").choices([...ATTRIBUTION_MODELS]))
    .option("--runs <dir>", "runs folder", "runs")
    .option("--no-eval", "skip the final evaluation")
    .option("--json", "print one JSON object (run folder, evaluation) instead of tables", false)
    .addHelpText("after", trainHelp())
    .action(async (o: { scenario: string; preset: string; seed: number; exp: string; iterations?: number; worlds?: number; threads?: number; config?: string; set: string[]; resume?: string; offlineData?: string; offlineAttribution?: AttributionModel; runs: string; eval: boolean; json: boolean }, cmd: Command) => {
      const flagsGiven = (names: string[]) => names.filter((n) => cmd.getOptionValueSource(n) === "cli");
      if (o.resume !== undefined) {
        // a resumed run's offline rows are in its checkpointed replay already
        const clash = flagsGiven(["scenario", "preset", "seed", "exp", "worlds", "threads", "config", "set", "offlineData", "offlineAttribution"]).map((c) => c.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`));
        if (clash.length) throw new UsageError(`--resume continues a run with its own configuration; drop ${clash.map((c) => `--${c}`).join(", ")} (only --iterations may extend it)`);
      }
      const worldSets = o.set.filter((e) => !e.startsWith("train."));
      const trainSets = o.set.filter((e) => e.startsWith("train."));
      const worldParts: Record<string, unknown>[] = [];
      const trainParts: Record<string, unknown>[] = [];
      if (o.config !== undefined) {
        const { train, ...world } = readJsonObject("--config", o.config);
        if (train !== undefined) {
          if (typeof train !== "object" || train === null || Array.isArray(train)) throw new UsageError(`--config ${o.config}: "train" must be an object of training options`);
          trainParts.push(train as Record<string, unknown>);
        }
        worldParts.push(world);
      }
      for (const expr of trainSets) {
        try {
          trainParts.push(parseSetOverride(expr.slice("train.".length)));
        } catch (e) {
          throw new UsageError(`--set ${JSON.stringify(expr)}: ${(e as Error).message}`);
        }
      }
      const flagTrain: Record<string, unknown> = {};
      if (o.iterations !== undefined) flagTrain.iterations = o.iterations;
      if (o.worlds !== undefined) flagTrain.worlds = o.worlds;
      if (o.threads !== undefined) flagTrain.threads = o.threads;
      trainParts.push(flagTrain);
      const config = resolveWorld(o.scenario, worldParts, worldSets, o.config);
      let train: TrainOptions;
      try {
        train = resolveTrain(o.preset, mergeOverrides(...trainParts));
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(`invalid training options: ${e.message}`);
        throw e;
      }
      if (o.offlineAttribution !== undefined && o.offlineData === undefined) throw new UsageError("--offline-attribution needs --offline-data");
      if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(o.exp) || o.exp.length > 64) throw new UsageError(`--exp ${JSON.stringify(o.exp)}: Allowed: 1-64 letters, digits, '.' or '-'.`);
      let result;
      try {
        result = await runTraining(
          {
            scenario: o.scenario, exp: o.exp, seed: o.seed, config, train, runsRoot: o.runs, resume: o.resume, extendIterations: o.resume !== undefined ? o.iterations : undefined,
            noEval: !o.eval, json: o.json, offlineData: o.offlineData, offlineAttribution: o.offlineAttribution,
          },
          { out: io.out, err: io.err },
        );
      } catch (e) {
        if (e instanceof RunDirError || e instanceof CheckpointError) throw new UsageError(e.message);
        if (e instanceof OfflineDataError || (e instanceof RangeError && e.message.startsWith("--offline-data"))) throw new UsageError(`--offline-data ${o.offlineData}: ${e.message.replace(/^--offline-data: /, "")}`);
        throw e;
      }
      if (o.json && !result.eval) io.out(JSON.stringify({ run: result.run, iterations: result.iterations, checkpoint: result.checkpoint, seconds: result.seconds, offline: result.offline }) + "\n");
      setCode(0);
    });

  program
    .command("serve")
    .description("serve the policy of a run over HTTP: bids behind pacing guardrails, what-if simulations, feedback (README: Serving)")
    .option("--checkpoint <run>", "name of the run folder under --runs whose newest valid checkpoint serves bids (no paths)")
    .option("--runs <dir>", "runs folder: checkpoints are loaded by name from here only", DEFAULT_RUNS_ROOT)
    .option("--data-dir <dir>", "folder for the server's files (pacing audit log, feedback and decision logs)", "server-data")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .addOption(new Option("--port <n>", "TCP port (0: any free port)").argParser(intIn(0, 65535)).default(8080))
    .addOption(new Option("--api-key <key>", "accept this API key (x-api-key or Authorization: Bearer; repeatable; also GAELP_API_KEYS=k1,k2); none = no auth").argParser(collect).default([], "none"))
    .addOption(new Option("--deadline-ms <ms>", "bid deadline from arrival; a later decision answers the fallback bid").argParser(intIn(0, 60_000)).default(10))
    .addOption(new Option("--rate-limit <n>", "requests per minute per API key (or client address)").argParser(intIn(1, Number.MAX_SAFE_INTEGER)).default(1_000_000))
    .option("--log", "log every request (pino JSON lines on stdout)", false)
    .action(async (o: { checkpoint?: string; runs: string; dataDir: string; host: string; port: number; apiKey: string[]; deadlineMs: number; rateLimit: number; log: boolean }) => {
      const keys = [...o.apiKey, ...(process.env.GAELP_API_KEYS ?? "").split(",").map((k) => k.trim()).filter((k) => k !== "")];
      const { serve } = await import("../server/main.js");
      let server;
      try {
        server = await serve({
          host: o.host, port: o.port, runsRoot: o.runs, dataDir: o.dataDir, checkpoint: o.checkpoint,
          apiKeys: keys.length > 0 ? keys : undefined, deadlineMs: o.deadlineMs,
          rateLimit: { max: o.rateLimit, timeWindowMs: 60_000 }, logger: o.log ? { level: "info" } : false,
        }, (l) => io.err(l + "\n"));
      } catch (e) {
        const err = e as Error & { statusCode?: number; field?: string };
        if (err.statusCode !== undefined || e instanceof RangeError) throw new UsageError(`${err.field === "checkpoint" ? "--checkpoint: " : ""}${err.message}`);
        throw e;
      }
      await server.closed;
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
