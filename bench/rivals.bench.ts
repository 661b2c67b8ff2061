// Rival learners between iterations at training scale: 512 worlds x the default 5 rivals (one
// Q-learner with its prioritized replay, one policy-gradient learner, two defensive rules and one
// random learner per world), fed outcome rows that vary by world, rival and iteration.
//
// rivals.learner_updates_per_s: (world, rival) learners updated per second by update(), the
//   params() rows for the next iteration included.
// rivals.state_bytes_per_world: serialize() bytes per world after the timed iterations (what a
//   checkpoint carries).
import { Bench } from "tinybench";
import * as L from "../wasm/layout.js";
import { resolveConfig } from "../env/config.js";
import { RivalPopulation } from "../agents/rivals/index.js";
import { itemsPerSecond } from "./rate.js";

const WORLDS = 512;

export async function benchRivals(opts: { quick: boolean }): Promise<Record<string, number>> {
  const config = resolveConfig();
  const nr = config.rivals.length;
  const pop = new RivalPopulation(config, WORLDS, 1);
  const stats = (it: number) => Array.from({ length: WORLDS }, (_, w) => {
    const row = new Float64Array(nr * L.RIVAL_STATS);
    for (let r = 0; r < nr; r++) {
      const k = (w * 7 + r * 3 + it * 5) % 11;
      const at = r * L.RIVAL_STATS;
      row[at + L.RS_ENTERED] = 1000;
      row[at + L.RS_IMPRESSIONS] = 100 + 40 * k;
      row[at + L.RS_SPEND] = 30 + 4 * k;
      row[at + L.RS_VALUE] = 20 + 7 * ((k * 3) % 11);
      row[at + L.RS_BUDGET] = 60;
      row[at + L.RS_HV_ENTERED] = 200;
      row[at + L.RS_HV_LOSSES] = 20 * k;
    }
    return row;
  });
  const inputs = Array.from({ length: 11 }, (_, it) => stats(it));
  let it = 0;
  let sink = 0;
  const bench = new Bench(
    opts.quick
      ? { time: 200, iterations: 5, warmupTime: 50, warmupIterations: 2, throws: true }
      : { time: 2000, iterations: 20, warmupTime: 300, warmupIterations: 5, throws: true },
  );
  bench.add("update_params", () => {
    const s = pop.update(inputs[it % inputs.length], it);
    it++;
    sink += s.all.aggression + pop.params()[WORLDS - 1][L.RIVF_VALUE_MULT];
  });
  await bench.run();
  if (!Number.isFinite(sink)) throw new Error("rivals bench: non-finite sink");
  return {
    "rivals.learner_updates_per_s": itemsPerSecond(bench, "update_params", WORLDS * nr, "rivals"),
    "rivals.state_bytes_per_world": pop.serialize().length / WORLDS,
  };
}
