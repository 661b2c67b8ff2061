// Tabular Q-learning over iterations. State: the band of the rival's win rate x the band of its
// budget utilisation in the iteration just run. Action: one of the configured aggression
// multipliers, epsilon-greedy with epsilon = max(epsilonMin, epsilon0 x epsilonDecay^updates).
// Reward: (expected value won - spend) / budget made available. Each iteration's transition goes
// into the learner's own prioritized replay (trainer/replay.ts); each update samples minibatches
// from it, steps Q by alpha x importance weight x TD error, and re-prioritises by |TD error|.
import { PrioritizedReplay, TREE_BYTES_PER_ROW } from "../../trainer/replay.js";
import { band, type OutcomeFeatures } from "./outcome.js";
import { stateNumber, type LearnerState, type RivalLearner, type RivalLearningConfig } from "./learner.js";
import type { Rng } from "./rng.js";

type QConfig = RivalLearningConfig["qLearning"];

// one transition: state, action, reward, next state
const COLUMNS = [
  { name: "s", type: "u8" as const },
  { name: "a", type: "u8" as const },
  { name: "r", type: "f64" as const },
  { name: "s2", type: "u8" as const },
];
const ROW_BYTES = 1 + 1 + 8 + 1 + TREE_BYTES_PER_ROW;

/** States of the configured discretisation: (win-rate bands) x (utilisation bands). */
export function qStates(cfg: QConfig): number {
  return (cfg.winRateBands.length + 1) * (cfg.utilisationBands.length + 1);
}

export function qState(f: OutcomeFeatures, cfg: QConfig): number {
  return band(f.winRate, cfg.winRateBands) * (cfg.utilisationBands.length + 1) + band(f.utilisation, cfg.utilisationBands);
}

export class QLearner implements RivalLearner {
  readonly kind = "q_learning" as const;
  /** Q[s * actions + a] */
  readonly q: Float64Array;
  /** the state the current action was chosen in, and the action */
  s = 0;
  a: number;
  /** updates so far (epsilon decays with them) */
  updates = 0;
  private replay: PrioritizedReplay;
  private readonly nA: number;
  private readonly buf: { s: Uint8Array; a: Uint8Array; r: Float64Array; s2: Uint8Array; td: Float64Array; idx: Int32Array; weights: Float32Array };

  constructor(private readonly cfg: QConfig, readonly defenseGain: number, replaySeed: number) {
    this.nA = cfg.actions.length;
    this.q = new Float64Array(qStates(cfg) * this.nA);
    // start where the config is: the action closest to aggression 1
    let best = 0;
    cfg.actions.forEach((x, i) => { if (Math.abs(x - 1) < Math.abs(cfg.actions[best] - 1)) best = i; });
    this.a = best;
    this.replay = new PrioritizedReplay({
      columns: COLUMNS, maxBytes: cfg.replayRows * ROW_BYTES, alpha: cfg.priorityAlpha, eps: cfg.priorityEps, beta0: cfg.priorityBeta0,
      betaSteps: cfg.betaSteps, seed: replaySeed,
    });
    const n = cfg.batchSize;
    this.buf = {
      s: new Uint8Array(n), a: new Uint8Array(n), r: new Float64Array(n), s2: new Uint8Array(n), td: new Float64Array(n),
      idx: new Int32Array(n), weights: new Float32Array(n),
    };
  }

  get aggression(): number {
    return this.cfg.actions[this.a];
  }

  /** the exploration rate of the next update */
  get epsilon(): number {
    const c = this.cfg;
    return Math.max(c.epsilonMin, c.epsilon0 * Math.pow(c.epsilonDecay, this.updates));
  }

  /** transitions in the replay */
  get stored(): number {
    return this.replay.size;
  }

  update(f: OutcomeFeatures, rng: Rng): void {
    const c = this.cfg;
    const s2 = qState(f, c);
    this.replay.add(1, { s: [this.s], a: [this.a], r: [f.reward], s2: [s2] });
    const b = this.buf;
    for (let k = 0; k < c.updatesPerIteration; k++) {
      const { idx, weights } = this.replay.sample(c.batchSize, b);
      this.replay.gather("s", idx, b.s);
      this.replay.gather("a", idx, b.a);
      this.replay.gather("r", idx, b.r);
      this.replay.gather("s2", idx, b.s2);
      for (let i = 0; i < idx.length; i++) {
        const at = b.s[i] * this.nA + b.a[i];
        const td = b.r[i] + c.gamma * this.maxQ(b.s2[i]) - this.q[at];
        this.q[at] += c.alpha * weights[i] * td;
        b.td[i] = Math.abs(td);
      }
      this.replay.updatePriorities(idx, b.td);
    }
    const eps = this.epsilon;
    this.updates++;
    this.s = s2;
    this.a = rng.uniform() < eps ? rng.below(this.nA) : this.greedy(s2, rng);
  }

  private maxQ(s: number): number {
    let m = -Infinity;
    for (let a = 0; a < this.nA; a++) m = Math.max(m, this.q[s * this.nA + a]);
    return m;
  }

  /** argmax_a Q[s, a], ties broken uniformly at random */
  greedy(s: number, rng: Rng): number {
    const m = this.maxQ(s);
    let ties = 0;
    for (let a = 0; a < this.nA; a++) if (this.q[s * this.nA + a] === m) ties++;
    let pick = ties > 1 ? rng.below(ties) : 0;
    for (let a = 0; a < this.nA; a++) {
      if (this.q[s * this.nA + a] === m && pick-- === 0) return a;
    }
    return 0;
  }

  state(): LearnerState {
    return { kind: this.kind, q: this.q.slice(), s: this.s, a: this.a, updates: this.updates, replay: this.replay.serialize() };
  }

  static restore(st: LearnerState, cfg: QConfig, defenseGain: number, where: string): QLearner {
    const l = new QLearner(cfg, defenseGain, 0);
    const q = st.q;
    if (!(q instanceof Float64Array) || q.length !== l.q.length || !q.every(Number.isFinite)) {
      throw new RangeError(`${where}: q must be a Float64Array of ${l.q.length} finite values (${qStates(cfg)} states x ${cfg.actions.length} actions)`);
    }
    l.q.set(q);
    l.s = stateNumber(st, "s", where, 0, qStates(cfg) - 1, true);
    l.a = stateNumber(st, "a", where, 0, cfg.actions.length - 1, true);
    l.updates = stateNumber(st, "updates", where, 0, Infinity, true);
    if (!(st.replay instanceof Uint8Array)) throw new RangeError(`${where}: replay must be a snapshot (Uint8Array)`);
    const replay = PrioritizedReplay.deserialize(st.replay);
    if (replay.capacity !== l.replay.capacity) throw new RangeError(`${where}: replay holds ${replay.capacity} rows, qLearning.replayRows is ${cfg.replayRows}`);
    l.replay = replay;
    return l;
  }
}
