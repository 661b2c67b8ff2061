// REINFORCE with a running baseline over iterations. The policy is a Gaussian on log-aggression,
// N(mean, sd), with the mean and log-sd learned; each iteration plays one sample. After the
// iteration, with reward R = (expected value won - spend) / budget made available and advantage
// A = R - baseline:
//   mean   += lr * A * (x - mean) / sd^2
//   log-sd += lr * A * ((x - mean)^2 / sd^2 - 1)
// each step clipped to +-maxStep, the mean kept within log [aggressionMin, aggressionMax] and the
// sd within [sigmaMin, sigmaMax]; then baseline = decay * baseline + (1 - decay) * R (the first
// reward sets the baseline, so the first update has no advantage).
import type { OutcomeFeatures } from "./outcome.js";
import { stateNumber, type LearnerState, type RivalLearner, type RivalLearningConfig } from "./learner.js";
import type { Rng } from "./rng.js";

type PgConfig = RivalLearningConfig["policyGradient"];

const clip = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

export class PolicyGradientLearner implements RivalLearner {
  readonly kind = "policy_gradient" as const;
  /** mean and log-sd of log-aggression */
  mean = 0;
  logSd: number;
  /** the log-aggression played in the current iteration (starts at the config: 0) */
  x = 0;
  /** running reward baseline (NaN before the first reward) */
  baseline = Number.NaN;
  private readonly lo: number;
  private readonly hi: number;

  constructor(private readonly cfg: PgConfig, aggressionMin: number, aggressionMax: number, readonly defenseGain: number) {
    this.logSd = Math.log(cfg.sigma0);
    this.lo = Math.log(aggressionMin);
    this.hi = Math.log(aggressionMax);
  }

  get aggression(): number {
    return Math.exp(this.x);
  }

  get sd(): number {
    return Math.exp(this.logSd);
  }

  update(f: OutcomeFeatures, rng: Rng): void {
    const c = this.cfg;
    const r = f.reward;
    const adv = Number.isNaN(this.baseline) ? 0 : r - this.baseline;
    this.baseline = Number.isNaN(this.baseline) ? r : c.baselineDecay * this.baseline + (1 - c.baselineDecay) * r;
    const sd = this.sd;
    const z = (this.x - this.mean) / sd;
    const dMean = clip(c.lr * adv * z / sd, -c.maxStep, c.maxStep);
    const dLogSd = clip(c.lr * adv * (z * z - 1), -c.maxStep, c.maxStep);
    this.mean = clip(this.mean + dMean, this.lo, this.hi);
    this.logSd = clip(this.logSd + dLogSd, Math.log(c.sigmaMin), Math.log(c.sigmaMax));
    this.x = clip(this.mean + this.sd * rng.normal(), this.lo, this.hi);
  }

  state(): LearnerState {
    return { kind: this.kind, mean: this.mean, logSd: this.logSd, x: this.x, baseline: this.baseline };
  }

  static restore(s: LearnerState, cfg: PgConfig, aggressionMin: number, aggressionMax: number, defenseGain: number, where: string): PolicyGradientLearner {
    const l = new PolicyGradientLearner(cfg, aggressionMin, aggressionMax, defenseGain);
    l.mean = stateNumber(s, "mean", where, l.lo, l.hi);
    l.logSd = stateNumber(s, "logSd", where, Math.log(cfg.sigmaMin), Math.log(cfg.sigmaMax));
    l.x = stateNumber(s, "x", where, l.lo, l.hi);
    // NaN (no reward yet) travels as NaN
    l.baseline = Number.isNaN(s.baseline) ? Number.NaN : stateNumber(s, "baseline", where);
    return l;
  }
}
