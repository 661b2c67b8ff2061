// Rule-based defensive learner: a rival that lost too many of the high-value auctions it entered
// (users CONSIDERING or INTENT) escalates -- defense gain and aggression x (1 + raise), bounded --
// and otherwise relaxes a fraction of the way back to its configured values each iteration.
import type { OutcomeFeatures } from "./outcome.js";
import { stateNumber, type LearnerState, type RivalLearner, type RivalLearningConfig } from "./learner.js";

export class DefensiveLearner implements RivalLearner {
  readonly kind = "defensive" as const;
  aggression = 1;
  defenseGain: number;
  /** escalations so far (for logging) */
  escalations = 0;
  private readonly gainCap: number;

  constructor(
    private readonly cfg: RivalLearningConfig["defensive"],
    private readonly aggressionMax: number,
    private readonly baseGain: number,
  ) {
    this.defenseGain = baseGain;
    this.gainCap = Math.max(baseGain, cfg.maxDefenseGain);
  }

  update(f: OutcomeFeatures): void {
    const c = this.cfg;
    if (f.hvEntered >= c.minAuctions && f.hvEntered > 0 && f.hvLossRate > c.lossRate) {
      this.defenseGain = Math.min(this.gainCap, this.defenseGain * (1 + c.raise));
      this.aggression = Math.min(this.aggressionMax, this.aggression * (1 + c.raise));
      this.escalations++;
    } else {
      this.defenseGain += c.relax * (this.baseGain - this.defenseGain);
      this.aggression += c.relax * (1 - this.aggression);
    }
  }

  state(): LearnerState {
    return { kind: this.kind, aggression: this.aggression, defenseGain: this.defenseGain, escalations: this.escalations };
  }

  static restore(s: LearnerState, cfg: RivalLearningConfig["defensive"], aggressionMax: number, baseGain: number, where: string): DefensiveLearner {
    const l = new DefensiveLearner(cfg, aggressionMax, baseGain);
    l.aggression = stateNumber(s, "aggression", where, 0);
    l.defenseGain = stateNumber(s, "defenseGain", where, 0);
    l.escalations = stateNumber(s, "escalations", where, 0, Infinity, true);
    return l;
  }
}
