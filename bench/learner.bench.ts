// The PPO learner's throughput and the trainer's end-to-end rate.
//   learner.samples_per_s   samples/s through PpoLearner.step (forward, clipped losses, backward,
//                           global-norm clip, Adam) for the default 64-64 policy, minibatch 4096,
//                           on the selected tfjs backend (tfjs-node when installed, else wasm)
//   train.decisions_per_s   decisions simulated per second of wall time during a real training run
//                           (rollout + trajectories + GAE + PPO + replay + rivals), default options
//                           but fewer iterations
//   train.decisions_per_cpu_s  the same per second of the process's CPU time (all its threads): the
//                           per-core rate, less sensitive to other load on a shared host
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { PpoLearner, type Minibatch } from "../agents/ppo/learner.js";
import { resolveConfig } from "../env/config.js";
import { OBS_DIM } from "../wasm/layout.js";
import type { SuiteOptions } from "./run.js";

function minibatch(n: number, nBid: number, nCre: number): Minibatch {
  let s = 99;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return {
    n,
    obs: Float32Array.from({ length: n * OBS_DIM }, () => rnd() * 2 - 1),
    bidAction: Int32Array.from({ length: n }, () => Math.floor(rnd() * nBid)),
    creativeAction: Int32Array.from({ length: n }, () => Math.floor(rnd() * nCre)),
    logp: new Float32Array(n).fill(-Math.log(nBid * nCre)),
    advantage: Float32Array.from({ length: n }, () => rnd() * 2 - 1),
    returns: Float32Array.from({ length: n }, () => rnd()),
    value: new Float32Array(n),
    weight: new Float32Array(n).fill(1),
  };
}

export async function benchLearner(opts: SuiteOptions): Promise<Record<string, number>> {
  const { backend } = await initTf("node");
  const config = resolveConfig();
  const spec = defaultPolicySpec(config.campaign.creatives.length);
  const model = PolicyModel.create(spec, 1);
  const learner = new PpoLearner(model, 3e-4);
  const n = 4096;
  const mb = minibatch(n, spec.bidLevels.length, spec.numCreatives);
  const warmEnd = performance.now() + (opts.quick ? 500 : 1500);
  while (performance.now() < warmEnd) learner.step(mb);
  const t0 = performance.now();
  const until = t0 + (opts.quick ? 1500 : 6000);
  let steps = 0;
  while (performance.now() < until) {
    learner.step(mb);
    steps++;
  }
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  console.log(`  learner: backend ${backend}, ${steps} steps of ${n} in ${seconds.toFixed(2)} s`);
  return { "learner.samples_per_s": (steps * n) / seconds, "learner.backend_wasm": backend === "wasm" ? 1 : 0 };
}

export async function benchTrain(opts: SuiteOptions): Promise<Record<string, number>> {
  const { Trainer } = await import("../trainer/train.js");
  const { resolveTrain } = await import("../trainer/train_config.js");
  // the default training options (npm start's), fewer iterations; the first iterations are warm-up
  // (journeys only start completing after a few simulated days, so the learner's share grows)
  const warm = opts.quick ? 2 : 6;
  const measured = opts.quick ? 3 : 12;
  const train = resolveTrain("default", { iterations: warm + measured, ...(opts.quick ? { worlds: 8 } : {}) });
  const trainer = new Trainer({ config: resolveConfig(), train, seed: 3 });
  await trainer.start();
  let d0 = 0;
  let decisions = 0;
  let t0 = 0;
  let learnS = 0;
  let rolloutS = 0;
  let cpu0 = process.cpuUsage();
  try {
    await trainer.run({
      onIteration: (it, m) => {
        if (it === warm - 1) {
          t0 = performance.now();
          cpu0 = process.cpuUsage();
          d0 = m["charts/decisions"];
        }
        if (it >= warm) {
          decisions = m["charts/decisions"] - d0;
          learnS += m["time/learn_s"];
          rolloutS += m["time/rollout_s"];
        }
      },
    });
  } finally {
    await trainer.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    "train.decisions_per_s": decisions / seconds,
    // per core on a shared host: the process's CPU time (all threads, the engine's workers included)
    "train.decisions_per_cpu_s": decisions / ((cpu.user + cpu.system) / 1e6),
    "train.learner_share": learnS / seconds,
    "train.rollout_share": rolloutS / seconds,
  };
}
