// Bench entry point (`npm run bench`, `--quick` for CI): runs every suite, prints metric -> value
// and writes this run's figures to bench/results/latest.json as one flat {metric: number} object.
//
//   node dist/bench/run.js [--quick] [--only auction,...] [--out file.json] [--gate floors.json]
//
// --gate: fail (exit 1) when a ratio metric falls below its floor in the floors file. Only ratios
// are gated (WASM over TS, pool efficiency): absolute rates swing with the host and are reported.
import { arch, cpus, platform, totalmem } from "node:os";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../trainer/fsutil.js";

export interface SuiteOptions {
  /** Short budgets for CI: same metrics, wider error bars. */
  quick: boolean;
}
export type SuiteFn = (opts: SuiteOptions) => Promise<Record<string, number>>;

interface Suite {
  /** Also the required prefix of the suite's metric names (`auction.` ...) unless `prefix` is set. */
  name: string;
  prefix?: string;
  load: () => Promise<SuiteFn>;
}

// One line per suite. Loaded lazily so `--only` does not pay for (or break on) the others.
const SUITES: Suite[] = [
  { name: "auction", load: async () => (await import("./auction.bench.js")).benchAuction },
  { name: "world", load: async () => (await import("./world.bench.js")).benchWorld },
  { name: "world_reference", prefix: "world", load: async () => (await import("./world_reference.bench.js")).benchWorldReference },
  { name: "policy", load: async () => (await import("./engine.bench.js")).benchPolicy },
  { name: "engine", load: async () => (await import("./engine.bench.js")).benchEngine },
  { name: "eval", load: async () => (await import("./eval.bench.js")).benchEval },
  { name: "replay", load: async () => (await import("./replay.bench.js")).benchReplay },
  { name: "rivals", load: async () => (await import("./rivals.bench.js")).benchRivals },
  { name: "learner", load: async () => (await import("./learner.bench.js")).benchLearner },
  { name: "train", load: async () => (await import("./learner.bench.js")).benchTrain },
  { name: "server", load: async () => (await import("./server.bench.js")).benchServer },
  { name: "run_folder", load: async () => (await import("./run_folder.bench.js")).benchRunFolder },
  { name: "pacing", load: async () => (await import("./pacing.bench.js")).benchPacing },
  { name: "simulations", load: async () => (await import("./simulations.bench.js")).benchSimulations },
  { name: "feedback", load: async () => (await import("./feedback.bench.js")).benchFeedback },
];

/** Project root whether running from sources (bench/run.ts) or compiled (dist/bench/run.js). */
function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith("/dist/bench") ? resolve(here, "../..") : resolve(here, "..");
}

function machineMeta(quick: boolean): { text: string; meta: Record<string, number> } {
  const cpu = cpus();
  const [major, minor] = process.versions.node.split(".").map(Number);
  const memGb = totalmem() / 2 ** 30;
  return {
    text: `node ${process.version} | ${cpu[0]?.model ?? "unknown cpu"} x ${cpu.length} | ${platform()}/${arch()} | ${memGb.toFixed(1)} GB`,
    // Only numbers go into the results file; the strings above are for the reader.
    meta: {
      "meta.node_major": major,
      "meta.node_minor": minor,
      "meta.cpu_count": cpu.length,
      "meta.total_mem_gb": Math.round(memGb * 10) / 10,
      "meta.quick": quick ? 1 : 0,
      "meta.timestamp_unix_s": Math.floor(Date.now() / 1000),
      // Virtual machines often report 0 MHz, which is no measurement.
      ...(cpu[0]?.speed ? { "meta.cpu_mhz": cpu[0].speed } : {}),
    },
  };
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(4);
}

function printTable(metrics: Record<string, number>): void {
  const width = Math.max(...Object.keys(metrics).map((k) => k.length));
  const cells = Object.entries(metrics).map(([k, v]) => [k, formatValue(v)] as const);
  const valueWidth = Math.max(...cells.map(([, v]) => v.length));
  console.log(`${"metric".padEnd(width)}  ${"value".padStart(valueWidth)}`);
  console.log(`${"-".repeat(width)}  ${"-".repeat(valueWidth)}`);
  for (const [k, v] of cells) console.log(`${k.padEnd(width)}  ${v.padStart(valueWidth)}`);
}

/** A reader (or a crash) never sees half a results file: fsutil.writeFileAtomic. */
function writeJsonAtomic(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(data, null, 2) + "\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      gate: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const out = resolve(values.out ?? resolve(projectRoot(), "bench/results/latest.json"));
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !SUITES.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) {
    throw new Error(`--only: unknown suite(s) ${unknown.join(", ")}; known: ${SUITES.map((s) => s.name).join(", ")}`);
  }
  const suites = only ? SUITES.filter((s) => only.includes(s.name)) : SUITES;

  const machine = machineMeta(quick);
  console.log(machine.text);
  console.log(quick ? "mode: quick" : "mode: full");

  const started = performance.now();
  const metrics: Record<string, number> = {};
  for (const suite of suites) {
    const t0 = performance.now();
    const result = await (await suite.load())({ quick });
    for (const [key, value] of Object.entries(result)) {
      // A flat file merged from many suites only stays meaningful if names cannot collide.
      const prefix = suite.prefix ?? suite.name;
      if (!key.startsWith(`${prefix}.`)) throw new Error(`suite ${suite.name}: metric ${key} must start with "${prefix}."`);
      if (Object.hasOwn(metrics, key)) throw new Error(`suite ${suite.name}: metric ${key} is also reported by another suite`);
      if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`suite ${suite.name}: metric ${key} is not a finite number (${value})`);
      metrics[key] = value;
    }
    console.log(`suite ${suite.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  const results = { ...metrics, ...machine.meta, "meta.duration_s": Math.round((performance.now() - started) / 100) / 10 };
  console.log();
  printTable(results);
  writeJsonAtomic(out, results);
  console.log(`\nwrote ${out}`);
  if (values.gate !== undefined) gate(resolve(values.gate), results);
}

/** Checks ratio metrics against their floors; a missing metric fails too (a suite that silently
 *  stopped reporting must not pass the gate). */
function gate(file: string, results: Record<string, number>): void {
  const floors = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
  let failed = 0;
  console.log(`\ngate (${file}):`);
  for (const [metric, floor] of Object.entries(floors)) {
    if (metric.startsWith("$")) continue; // comments
    const v = results[metric];
    const ok = typeof v === "number" && v >= floor;
    if (!ok) failed++;
    console.log(`  ${ok ? "ok  " : "FAIL"} ${metric} = ${v === undefined ? "missing" : v.toFixed(3)} (floor ${floor})`);
  }
  if (failed > 0) {
    console.error(`gate: ${failed} ratio metric(s) below their floor`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
