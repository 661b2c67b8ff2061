// Training options: one TypeBox schema (ranges and one-line docs), defaults, presets, and
// validation that names the field. They sit beside the world config under the key `train` in a
// config file, and `--set train.<key>=<value>` overrides them from the command line.
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ConfigError, mergeOverrides } from "../env/config.js";

const Num = (min: number, max: number, description: string) => Type.Number({ minimum: min, maximum: max, description });
const Int = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });

export const TrainSchema = Type.Object({
  worlds: Int(1, 4096, "training worlds rolled out in parallel every iteration"),
  hoursPerIteration: Int(1, 24 * 365, "simulated hours every world advances per iteration"),
  iterations: Int(1, 1_000_000, "iterations (rollout + PPO update) to run"),
  threads: Int(0, 256, "engine worker threads (0: roll out on the main thread)"),
  resampleEvery: Int(0, 1_000_000, "re-create every world from a fresh seed every k iterations (0: never)"),
  hidden: Type.Array(Int(1, 1024, "units"), { minItems: 1, maxItems: 4, description: "hidden layer sizes of the policy trunk" }),
  activation: Type.Union([Type.Literal("relu"), Type.Literal("tanh")], { description: "hidden activation" }),
  bidLevels: Type.Array(Num(0, 100, "multiplier"), { minItems: 2, maxItems: 32, description: "bid actions: increasing multipliers on the opportunity's reference value" }),
  learningRate: Num(0, 1, "Adam learning rate at the start"),
  annealLr: Type.Boolean({ description: "anneal the learning rate linearly to 0 over the run (CleanRL anneal_lr)" }),
  epochs: Int(1, 100, "PPO epochs over each iteration's fresh trajectories"),
  minibatchSize: Int(16, 1 << 20, "fresh samples per minibatch"),
  maxSamplesPerIteration: Int(0, 1 << 30, "cap on fresh samples per iteration (a uniform subsample; 0: no cap)"),
  gammaPerHour: Num(0.5, 1, "discount per simulated hour (time gaps between decisions are discounted)"),
  gaeLambda: Num(0, 1, "GAE lambda per decision"),
  clipCoef: Num(0, 10, "PPO surrogate clip"),
  clipVloss: Type.Boolean({ description: "clip the value loss (CleanRL clip_vloss)" }),
  entCoef: Num(0, 10, "entropy bonus coefficient"),
  vfCoef: Num(0, 100, "value loss coefficient"),
  maxGradNorm: Num(0.001, 1000, "global gradient-norm clip"),
  normAdv: Type.Boolean({ description: "normalise advantages per minibatch" }),
  targetKl: Num(0, 10, "stop the iteration's epochs early when approx_kl exceeds this (0: off)"),
  maxOpenHours: Int(24, 24 * 365, "a journey with no new decision for this many hours is cut (truncated, bootstrapped)"),
  replay: Type.Object({
    fraction: Num(0, 4, "replayed samples per fresh sample in each minibatch (0: plain on-policy PPO)"),
    maxMegabytes: Num(1, 1 << 16, "replay buffer bound, MiB"),
    alpha: Num(0, 1, "priority exponent"),
    beta0: Num(0, 1, "initial importance-sampling exponent (annealed to 1 over the run)"),
  }, { additionalProperties: false, description: "prioritized replay" }),
  lagrangian: Type.Object({
    enabled: Type.Boolean({ description: "price cost by (1 + lambda), lambda by dual ascent on the share of hours the budget has run dry" }),
    targetDryShare: Num(0, 1, "share of world-hours with the budget run dry that the dual ascent aims at"),
    init: Num(0, 100, "initial lambda"),
    lr: Num(0, 100, "dual ascent step"),
    max: Num(0, 1000, "upper bound of lambda"),
  }, { additionalProperties: false, description: "budget constraint as a Lagrangian penalty on cost" }),
  curriculum: Type.Object({
    enabled: Type.Boolean({ description: "raise competition when our win rate is high" }),
    winRate: Num(0, 1, "win rate over the window that triggers the next level"),
    window: Int(1, 1000, "iterations in the evaluation window"),
    maxLevel: Int(0, 20, "highest level"),
  }, { additionalProperties: false, description: "curriculum" }),
  checkpointEvery: Int(1, 1_000_000, "iterations between checkpoints (the last iteration always checkpoints)"),
  keepCheckpoints: Int(1, 100, "checkpoints kept"),
  evalWorlds: Int(0, 4096, "held-out worlds of the final evaluation (0: skip it)"),
  evalDays: Int(1, 365, "flight days of the final evaluation"),
  tuneWorlds: Int(1, 4096, "training-distribution worlds per grid point when tuning the baselines"),
  backend: Type.Union([Type.Literal("node"), Type.Literal("wasm"), Type.Literal("cpu")], { description: "preferred tfjs backend (falls back node -> wasm -> cpu)" }),
}, { additionalProperties: false });

export type TrainOptions = Static<typeof TrainSchema>;

export const DEFAULT_TRAIN: TrainOptions = {
  worlds: 32,
  hoursPerIteration: 72,
  iterations: 150,
  threads: 2,
  resampleEvery: 0,
  hidden: [64, 64],
  activation: "relu",
  // geometric below truthful (the reference value overstates many impressions), 1.0 exact, some room above
  bidLevels: [0, 0.03, 0.05, 0.08, 0.12, 0.17, 0.25, 0.35, 0.5, 0.7, 1, 1.25, 1.5, 2, 2.5, 3],
  learningRate: 1e-3,
  annealLr: true,
  epochs: 2,
  minibatchSize: 2048,
  maxSamplesPerIteration: 0,
  gammaPerHour: 0.998,
  gaeLambda: 0.95,
  clipCoef: 0.2,
  clipVloss: true,
  entCoef: 0.001,
  vfCoef: 0.5,
  maxGradNorm: 0.5,
  normAdv: true,
  targetKl: 0,
  maxOpenHours: 24 * 21,
  replay: { fraction: 0.25, maxMegabytes: 64, alpha: 0.6, beta0: 0.4 },
  lagrangian: { enabled: true, targetDryShare: 0.1, init: 0, lr: 1, max: 10 },
  curriculum: { enabled: true, winRate: 0.7, window: 5, maxLevel: 5 },
  checkpointEvery: 5,
  keepCheckpoints: 3,
  evalWorlds: 64,
  evalDays: 30,
  tuneWorlds: 16,
  backend: "node",
};

/** Named option sets: `--preset smoke` for CI, `default` for `npm start`. */
export const TRAIN_PRESETS: Record<string, Partial<TrainOptions>> = {
  default: {},
  smoke: { worlds: 4, hoursPerIteration: 48, iterations: 3, threads: 1, checkpointEvery: 1, evalWorlds: 4, evalDays: 7, tuneWorlds: 2, minibatchSize: 512 },
};

export function validateTrain(value: unknown): TrainOptions {
  const first = Value.Errors(TrainSchema, value).First();
  if (first) {
    const shown = JSON.stringify(first.value);
    const path = `train.${first.path.replace(/^\//, "").replace(/\//g, ".")}`;
    throw new ConfigError(path, `${first.message} (got ${shown === undefined ? "nothing" : shown.slice(0, 80)})`);
  }
  return value as TrainOptions;
}

/** Defaults, then the preset, then overrides; validated. */
export function resolveTrain(preset = "default", overrides: Record<string, unknown> = {}): TrainOptions {
  if (!Object.hasOwn(TRAIN_PRESETS, preset)) throw new ConfigError("preset", `unknown preset "${preset}"; allowed: ${Object.keys(TRAIN_PRESETS).join(", ")}`);
  return validateTrain(mergeOverrides(structuredClone(DEFAULT_TRAIN) as unknown as Record<string, unknown>, TRAIN_PRESETS[preset] as Record<string, unknown>, overrides));
}
