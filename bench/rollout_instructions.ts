// Counts what a rollout decision costs in x86 instructions, which do not drift with the host the
// way wall-clock rates do. Rolls 4 worlds out with the bench's 64-64 policy (policy_weights.ts)
// as engine.bench.ts's policyRun does: a day of warm-up, then `hours` measured hours between two
// marker calls into libuv that callgrind zeroes and dumps its counters at. Prints the decisions
// of the measured hours; the instructions are those of the dump (its "summary:" line):
//
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p --zero-before=uv_os_getpriority \
//     --dump-before=uv_loadavg node --single-threaded --no-liftoff --no-wasm-dynamic-tiering \
//     dist/bench/rollout_instructions.js 240
//   grep summary: /tmp/cg.<pid>.1     # instructions of the measured hours; / decisions
//
// --single-threaded keeps V8's background threads (GC, compilers) out of the count, and
// --no-liftoff --no-wasm-dynamic-tiering compile the WASM with TurboFan up front, as the
// long-running bench ends up with. Flags: --sparse uses identity normalisation (mean 0, std 1:
// about 21 of the 50 first-layer inputs nonzero) instead of the trained-like statistics;
// --write-weights FILE writes the weights as raw float32 (for `gaelp rollout --weights`);
// --hidden 4 (comma-separated widths) rolls out with another trunk than 64,64.
import { writeFileSync } from "node:fs";
import { getPriority, loadavg } from "node:os";
import { resolveConfig } from "../env/config.js";
import { worldSeed } from "../env/seeds.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { WorldRunner } from "../engine/world_runner.js";
import { randomWeights, trainedLikeWeights } from "./policy_weights.js";

type Fn = (...a: number[]) => number;

const args = process.argv.slice(2);
const hours = Number(args[0]);
if (!(Number.isInteger(hours) && hours > 0)) throw new RangeError(`the first argument, hours, must be a positive integer; got ${args[0]}`);
const out = args.includes("--write-weights") ? args[args.indexOf("--write-weights") + 1] : undefined;
const config = resolveConfig();
const hiddenArg = args.includes("--hidden") ? args[args.indexOf("--hidden") + 1] : "64,64";
const hidden = hiddenArg.split(",").map(Number);
if (!hidden.every((h) => Number.isInteger(h) && h > 0)) throw new RangeError(`--hidden must be comma-separated positive integers (e.g. 64,64), got ${hiddenArg}`);
const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden, activation: "relu" });
const weights = args.includes("--sparse") ? randomWeights(spec) : trainedLikeWeights(config, spec);
if (out) writeFileSync(out, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));

const worlds = 4;
const runner = new WorldRunner(config, spec, worlds);
runner.setPolicy(weights, 1);
const f = runner.core as unknown as Record<string, Fn>;
for (let w = 0; w < worlds; w++) {
  const [lo, hi] = worldSeed(9, w);
  f.resetWorld(w, lo, hi);
}
let hour = config.market.warmupDays * 24;
const rollout = (until: number): { decisions: number; rows: number } => {
  let decisions = 0;
  let rows = 0;
  while (hour < until) {
    hour = Math.min(until, hour + 6);
    f.expClear();
    for (let w = 0; w < worlds; w++) decisions += f.rolloutWorld(w, w, 1, hour, 0, 1);
    rows += f.expRows();
  }
  return { decisions, rows };
};
rollout(hour + 24); // warm-up
getPriority(); // marker: callgrind --zero-before=uv_os_getpriority
const measured = rollout(hour + hours);
loadavg(); // marker: callgrind --dump-before=uv_loadavg
console.log(JSON.stringify({ hours, ...measured }));
