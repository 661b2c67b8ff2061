// Prioritized replay throughput at the PPO learner's scale: a 1M-row ring of decision rows
// (obs f32[50], two u8 actions, behaviour log-prob, advantage, return, value, importance weight:
// 254 bytes a row with the trees, 266 MB), full before timing, with priorities spread over four
// orders of magnitude so the tree descent is not trivially short.
//
// replay.samples_per_s: rows per second of one minibatch step: sample(4096) into preallocated
//   outputs, then gather() of every column of those rows into preallocated buffers.
// replay.updates_per_s: priorities per second of updatePriorities() on 4096 sampled slots.
import { Bench } from "tinybench";
import { type ColumnSpec, PrioritizedReplay } from "../trainer/replay.js";
import { itemsPerSecond } from "./rate.js";

const OBS_DIM = 50;
const CAPACITY = 1 << 20;
const BATCH = 4096;
const FILL_CHUNK = 1 << 16;

const COLUMNS: ColumnSpec[] = [
  { name: "obs", type: "f32", width: OBS_DIM },
  { name: "bid_level", type: "u8" },
  { name: "creative", type: "u8" },
  { name: "logp", type: "f32" },
  { name: "advantage", type: "f32" },
  { name: "ret", type: "f32" },
  { name: "value", type: "f32" },
  { name: "weight", type: "f32" },
];

/** A full replay of CAPACITY rows (deterministic contents). */
function filledReplay(): PrioritizedReplay {
  const probe = new PrioritizedReplay({ columns: COLUMNS, maxBytes: 1 << 20, seed: 1 });
  const replay = new PrioritizedReplay({ columns: COLUMNS, maxBytes: CAPACITY * probe.bytesPerRow, alpha: 0.6, beta0: 0.4, betaSteps: 100_000, seed: 1 });
  if (replay.capacity !== CAPACITY) throw new Error(`replay bench: capacity ${replay.capacity}, expected ${CAPACITY}`);
  const chunk: Record<string, Float32Array | Uint8Array> = {};
  for (const c of COLUMNS) chunk[c.name] = c.type === "u8" ? new Uint8Array(FILL_CHUNK * (c.width ?? 1)) : new Float32Array(FILL_CHUNK * (c.width ?? 1));
  const priorities = new Float64Array(FILL_CHUNK);
  for (let row0 = 0; row0 < CAPACITY; row0 += FILL_CHUNK) {
    for (let k = 0; k < FILL_CHUNK; k++) {
      const row = row0 + k;
      (chunk.obs as Float32Array).fill(row % 997, k * OBS_DIM, (k + 1) * OBS_DIM);
      chunk.bid_level[k] = row % 11;
      chunk.creative[k] = row % 5;
      // |delta| in [1e-3, 10), spread by a multiplicative hash so neighbouring slots differ.
      priorities[k] = 1e-3 * Math.pow(10, (Math.imul(row, 0x9e3779b1) >>> 0) / 2 ** 32 * 4);
    }
    replay.add(FILL_CHUNK, chunk, priorities);
  }
  return replay;
}

export async function benchReplay(opts: { quick: boolean }): Promise<Record<string, number>> {
  const replay = filledReplay();

  const sampled = { idx: new Int32Array(BATCH), weights: new Float32Array(BATCH) };
  const gathered = COLUMNS.map((c) => ({
    name: c.name,
    out: c.type === "u8" ? new Uint8Array(BATCH * (c.width ?? 1)) : new Float32Array(BATCH * (c.width ?? 1)),
  }));
  const deltas = new Float64Array(BATCH);
  let updateRound = 0;
  let sink = 0; // read after the run so no call is dead code

  const bench = new Bench(
    opts.quick
      ? { time: 200, iterations: 10, warmupTime: 50, warmupIterations: 3, throws: true }
      : { time: 2000, iterations: 50, warmupTime: 300, warmupIterations: 10, throws: true },
  );
  bench.add("sample_gather", () => {
    const { idx, weights } = replay.sample(BATCH, sampled);
    for (const g of gathered) replay.gather(g.name, idx, g.out);
    sink += weights[0] + gathered[0].out[BATCH * OBS_DIM - 1];
  });
  bench.add("update", () => {
    // Fresh |delta| each round, as a learner's new TD errors would be.
    updateRound++;
    for (let k = 0; k < BATCH; k++) deltas[k] = ((k * 31 + updateRound * 17) % 1000) / 100;
    replay.updatePriorities(sampled.idx, deltas);
  });
  await bench.run();
  if (!Number.isFinite(sink)) throw new Error("replay bench: non-finite sink");

  return {
    "replay.samples_per_s": itemsPerSecond(bench, "sample_gather", BATCH, "replay"),
    "replay.updates_per_s": itemsPerSecond(bench, "update", BATCH, "replay"),
  };
}
