// Instructions per decision of each WASM function in the world step, counted exactly: callgrind
// counts every instruction, V8's perf map (--perf-basic-prof) names the machine code of each wasm
// function, and a single-threaded V8 with Liftoff off compiles the same code on every run, so two
// runs of the same build give the same counts to the instruction (a wall-clock rate on this host
// drifts by 10-30% within the hour). Use it to see where the step's instructions go and to A/B a
// change: run it on both builds and compare the rows.
//
//   node dist/bench/wasm_profile.js [steps=60000] [rows=25]
//
// It compiles a copy of the core with function names (asc --debug over the release target, the
// same optimised code plus a name section, then the release build's second Binaryen pass of
// wasm/optimize.mjs, so functions inlined there count in their callers) into a temporary tree
// beside a copy of dist/, runs bench/world_instructions.ts (4 worlds, truthful bids) under
// valgrind, and attributes every instruction address to the wasm function whose code holds it.
// The counts include the worlds' reset, the same for both builds of an A/B. Needs valgrind
// (Debian: apt-get install valgrind).
import { spawnSync } from "node:child_process";
import { cpSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface CodeRange {
  start: number;
  end: number;
  name: string;
}

function fail(message: string): never {
  console.error(`wasm_profile: ${message}`);
  process.exit(1);
}

function parseArgs(argv: string[]): { steps: number; rows: number } {
  const steps = argv[0] === undefined ? 60000 : Number(argv[0]);
  const rows = argv[1] === undefined ? 25 : Number(argv[1]);
  if (!Number.isInteger(steps) || steps < 1000) fail(`steps must be an integer >= 1000, got ${argv[0]}`);
  if (!Number.isInteger(rows) || rows < 1) fail(`rows must be a positive integer, got ${argv[1]}`);
  return { steps, rows };
}

/** The wasm functions' code ranges from V8's perf map ("addr size name" per line, hex). */
export function wasmRanges(mapFile: string): CodeRange[] {
  const ranges: CodeRange[] = [];
  for (const line of readFileSync(mapFile, "utf8").split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (!m || !m[3].includes("turbofan") || !m[3].includes("wasm")) continue;
    const start = Number.parseInt(m[1], 16);
    // "JS:wasm/assembly/market/nextOpportunity-55-turbofan" -> "market/nextOpportunity"
    const name = m[3].replace(/^JS:/, "").replace(/-\d+-turbofan$/, "").replace(/^wasm\/assembly\//, "");
    ranges.push({ start, end: start + Number.parseInt(m[2], 16), name });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** Instructions by wasm function from a callgrind file written with --dump-instr=yes. Cost lines
 *  start with an address (absolute 0x..., relative +n / -n, or * for the same); the line after
 *  a calls= line is an inclusive call cost, skipped so nothing counts twice. */
export async function countByFunction(cgFile: string, ranges: CodeRange[]): Promise<Map<string, number>> {
  const starts = ranges.map((r) => r.start);
  const find = (a: number): CodeRange | undefined => {
    let lo = 0;
    let hi = starts.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= a) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at >= 0 && a < ranges[at].end ? ranges[at] : undefined;
  };
  const counts = new Map<string, number>();
  let addr = 0;
  let afterCalls = false;
  const lines = createInterface({ input: createReadStream(cgFile), crlfDelay: Infinity });
  for await (const line of lines) {
    const c = line.charCodeAt(0);
    const isCost = (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42; // digit + - *
    if (!isCost) {
      if (line.startsWith("calls=")) afterCalls = true;
      continue;
    }
    const sp = line.indexOf(" ");
    const pos = line.slice(0, sp);
    if (pos.startsWith("0x")) addr = Number.parseInt(pos, 16);
    else if (c === 43) addr += Number(pos.slice(1));
    else if (c === 45) addr -= Number(pos.slice(1));
    else if (c !== 42) addr = Number(pos);
    if (afterCalls) {
      afterCalls = false;
      continue;
    }
    const r = find(addr);
    if (r) counts.set(r.name, (counts.get(r.name) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

async function main(): Promise<void> {
  const { steps, rows } = parseArgs(process.argv.slice(2));
  if (spawnSync("valgrind", ["--version"]).status !== 0) fail("valgrind is not installed (Debian: apt-get install valgrind)");
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const asc = join(root, "node_modules", ".bin", "asc");
  if (!existsSync(asc)) fail(`no AssemblyScript compiler at ${asc}: run npm install`);
  const tmp = mkdtempSync(join(tmpdir(), "gaelp-wasm-profile-"));
  let mapFile = "";
  try {
    // a tree the loader finds the named build in: dist/ and wasm/build/ side by side
    cpSync(join(root, "dist"), join(tmp, "dist"), { recursive: true });
    cpSync(join(root, "wasm", "build"), join(tmp, "wasm", "build"), { recursive: true });
    cpSync(join(root, "package.json"), join(tmp, "package.json"));
    symlinkSync(join(root, "node_modules"), join(tmp, "node_modules"));
    const build = spawnSync(asc, ["wasm/assembly/index.ts", "--target", "release", "--debug", "--outFile", join(tmp, "wasm", "build", "release.wasm")], { cwd: root, encoding: "utf8" });
    if (build.status !== 0) fail(`asc failed: ${build.stderr}`);
    // the release build's second Binaryen pass (wasm/optimize.mjs), names kept: the profile is of
    // the code that runs, so functions inlined there count in their callers here
    const named = join(tmp, "wasm", "build", "release.wasm");
    const post = spawnSync(process.execPath, [join(root, "wasm", "optimize.mjs"), named, named, "--names"], { cwd: root, encoding: "utf8" });
    if (post.status !== 0) fail(`wasm/optimize.mjs failed: ${post.stderr}`);
    const cgFile = join(tmp, "callgrind.out");
    const run = spawnSync("valgrind", [
      "--tool=callgrind", "--dump-instr=yes", `--callgrind-out-file=${cgFile}`,
      process.execPath, "--no-liftoff", "--no-wasm-dynamic-tiering", "--single-threaded", "--perf-basic-prof",
      join(tmp, "dist", "bench", "world_instructions.js"), String(steps),
    ], { cwd: tmp, encoding: "utf8", maxBuffer: 64 << 20 });
    if (run.status !== 0) fail(`the run under valgrind failed (exit ${run.status}): ${run.stderr.slice(-2000)}`);
    const pid = /^pid: (\d+)$/m.exec(readFileSync(cgFile, "utf8").slice(0, 4096))?.[1];
    if (!pid) fail("no pid in the callgrind output");
    mapFile = join(tmpdir(), `perf-${pid}.map`);
    if (!existsSync(mapFile)) fail(`V8 wrote no perf map at ${mapFile}`);
    const counts = await countByFunction(cgFile, wasmRanges(mapFile));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    // the driver's own count of what it ran (its last output line)
    const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as { decisions?: number; opportunities?: number; digest?: string };
    const { decisions, opportunities } = result;
    if (!decisions || !opportunities) fail(`world_instructions printed no counts: ${run.stdout.slice(-500)}`);
    console.log(`${steps} steps: ${decisions} decisions, ${opportunities} opportunities; digest ${result.digest}`);
    console.log(`wasm instructions per decision: ${(total / decisions).toFixed(1)} (per opportunity ${(total / opportunities).toFixed(1)})\n`);
    console.log(`${"per decision".padStart(12)}  ${"share".padStart(6)}  function`);
    for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      console.log(`${(n / decisions).toFixed(1).padStart(12)}  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (mapFile) rmSync(mapFile, { force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
