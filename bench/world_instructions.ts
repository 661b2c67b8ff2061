// Fixed-work driver for counting the WASM world step's instructions with callgrind, which does not
// drift with the host as wall-clock rates do. It resets a 4-world VectorEnv (seed 7, default config)
// and calls the core's stepWorlds directly `steps` times, bidding each world's reference value
// (the truthful bidder, creative 0) from the info the step wrote. Run it at two lengths and take
// the difference, which cancels start-up, compilation and the reset:
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//     node --no-liftoff --no-wasm-dynamic-tiering dist/bench/world_instructions.js 20000
//   (the same with 60000) -> (Ir(60000) - Ir(20000)) / (decisions or opportunities difference)
//
// It prints the decisions and opportunities it ran and a digest of the final observations, infos
// and rewards (with --check also every 1000th step's and the worlds' bytes), so two builds can be
// checked for bit-identical output: `node dist/bench/world_instructions.js 30000 --check`.
import { VectorEnv, type StepBuffers } from "../env/vector_env.js";
import { resolveConfig } from "../env/config.js";
import { INFO_DIM, I_OPPORTUNITIES, I_REF_VALUE_DOLLARS } from "../wasm/layout.js";

function digest(bytes: Uint8Array, h: number): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h;
}

function digestOut(out: StepBuffers, h: number): number {
  h = digest(new Uint8Array(out.obs.buffer, out.obs.byteOffset, out.obs.byteLength), h);
  h = digest(new Uint8Array(out.info.buffer, out.info.byteOffset, out.info.byteLength), h);
  return digest(new Uint8Array(out.reward.buffer, out.reward.byteOffset, out.reward.byteLength), h);
}

function main(): void {
  const steps = Number(process.argv[2] ?? "20000");
  // --check: also digest the outputs every 1000 steps and every world's bytes at the end (slower;
  // leave it off when counting instructions)
  const check = process.argv.includes("--check");
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`steps must be a non-negative integer, got ${process.argv[2]}`);
  const worlds = 4;
  const config = resolveConfig();
  const env = VectorEnv.create({ config, numWorlds: worlds, seed: 7 });
  env.reset();
  const core = (env as unknown as { core: { stepWorlds(a: number, b: number): number } }).core;
  const { bid, creative } = env.actions;
  const out = env.buffers;
  const bidMax = config.campaign.bidMax;
  creative.fill(0);
  let opportunities = 0;
  let h = 2166136261;
  for (let s = 0; s < steps; s++) {
    for (let w = 0; w < worlds; w++) {
      const v = out.info[w * INFO_DIM + I_REF_VALUE_DOLLARS];
      bid[w] = v > bidMax ? bidMax : v;
    }
    if (core.stepWorlds(0, worlds) !== 0) throw new Error("a world stalled");
    for (let w = 0; w < worlds; w++) opportunities += out.info[w * INFO_DIM + I_OPPORTUNITIES];
    if (check && s % 1000 === 999) h = digestOut(out, h);
  }
  h = digestOut(out, h);
  if (check) for (let w = 0; w < worlds; w++) h = digest(env.serializeWorld(w), h);
  console.log(JSON.stringify({ steps, decisions: steps * worlds, opportunities, digest: h.toString(16) }));
}

main();
