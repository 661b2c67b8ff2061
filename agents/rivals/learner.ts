// The contract of a rival learner, and the two learners without a model: random (a fresh
// aggression every iteration) and fixed (never changes). One learner adapts one rival of one world.
import type { GaelpConfig, RIVAL_LEARNERS } from "../../env/config.js";
import type { OutcomeFeatures } from "./outcome.js";
import type { Rng } from "./rng.js";

export type RivalLearnerKind = (typeof RIVAL_LEARNERS)[number];
export type RivalLearningConfig = GaelpConfig["rivalLearning"];

/** A learner's whole state as plain values and typed arrays (msgpack with moreTypes). */
export type LearnerState = Record<string, number | string | Float64Array | Uint8Array>;

export interface RivalLearner {
  readonly kind: RivalLearnerKind;
  /** aggression for the next iteration: a multiplier on the rival's configured valueMult */
  readonly aggression: number;
  /** defense gain for the next iteration (absolute; learners other than defensive keep the configured one) */
  readonly defenseGain: number;
  /** learns from the outcome of the iteration just run, then chooses the next iteration's values */
  update(f: OutcomeFeatures, rng: Rng): void;
  state(): LearnerState;
}

/** s[key], or a RangeError naming the learner and field unless it is a finite number in [lo, hi]
 *  (an integer when `integer`). */
export function stateNumber(s: LearnerState, key: string, where: string, lo = -Infinity, hi = Infinity, integer = false): number {
  const v = s[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
    throw new RangeError(`${where}: ${key} must be a finite ${integer ? "integer" : "number"} in [${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

export class FixedLearner implements RivalLearner {
  readonly kind = "fixed" as const;
  readonly aggression = 1;
  constructor(readonly defenseGain: number) {}
  update(): void {}
  state(): LearnerState {
    return { kind: this.kind };
  }
}

export class RandomLearner implements RivalLearner {
  readonly kind = "random" as const;
  aggression = 1;
  constructor(private readonly cfg: RivalLearningConfig["random"], readonly defenseGain: number) {}

  update(_f: OutcomeFeatures, rng: Rng): void {
    this.aggression = this.cfg.min + (this.cfg.max - this.cfg.min) * rng.uniform();
  }

  state(): LearnerState {
    return { kind: this.kind, aggression: this.aggression };
  }

  static restore(s: LearnerState, cfg: RivalLearningConfig["random"], defenseGain: number, where: string): RandomLearner {
    const l = new RandomLearner(cfg, defenseGain);
    l.aggression = stateNumber(s, "aggression", where, 0);
    return l;
  }
}
