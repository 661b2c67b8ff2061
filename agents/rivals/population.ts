// Every world's rivals and their learners: one learner per (world, rival) slot, chosen by the
// rival's configured strategy (rivalLearning.learners). Between training iterations the trainer
// hands the engine params() (RunOptions.rivalParams) and then update()s the population with the
// iteration's rivalStats; curriculum levels scale aggression, activate rivals and tighten our
// budgets (curriculumBudgetScale). docs/rivals.md has the details.
import { Packr } from "msgpackr";
import * as L from "../../wasm/layout.js";
import { RIVAL_STRATEGIES, type GaelpConfig } from "../../env/config.js";
import { rivalRows } from "../../env/params.js";
import { worldSeed, assertSeed } from "../../env/seeds.js";
import { outcomeFeatures } from "./outcome.js";
import { Rng } from "./rng.js";
import { FixedLearner, RandomLearner, type LearnerState, type RivalLearner, type RivalLearnerKind } from "./learner.js";
import { QLearner } from "./q_learning.js";
import { PolicyGradientLearner } from "./policy_gradient.js";
import { DefensiveLearner } from "./defensive.js";

export type RivalStrategy = (typeof RIVAL_STRATEGIES)[number];

// the schema's bounds of the two fields learners write (a world refuses rows outside them)
const VALUE_MULT_MAX = 100;
const DEFENSE_GAIN_MAX = 10;
const MAX_LEVEL = 1000;
const REPLAY_STREAM = 0x71e5;
const FORMAT = "gaelp.rivals";
const VERSION = 1;
const packr = new Packr({ moreTypes: true, useRecords: false });

/** Means over the active rivals of one group. */
export interface GroupSummary {
  rivals: number;
  /** effective aggression: learner multiplier x curriculum factor (x the configured valueMult in the world) */
  aggression: number;
  reward: number;
  winRate: number;
  hvLossRate: number;
}

export interface RivalUpdateSummary {
  iteration: number;
  level: number;
  /** rivals active per world at this level */
  activeRivals: number;
  /** means over every active (world, rival) */
  all: GroupSummary;
  /** by the rivals' configured strategy (strategies with no active rival are absent) */
  byStrategy: Partial<Record<RivalStrategy, GroupSummary>>;
  /** by learner kind */
  byLearner: Partial<Record<RivalLearnerKind, GroupSummary>>;
  /** mean epsilon of the Q-learners' next action (absent without Q-learners) */
  epsilon?: number;
  /** mean sd of the policy-gradient learners' log-aggression (absent without them) */
  pgSd?: number;
  /** mean defense gain of the defensive learners (absent without them) */
  defenseGain?: number;
}

/** Our budget scale at a curriculum level: budgetPerLevel^level, floored at minBudgetScale (level 0: 1). */
export function curriculumBudgetScale(config: GaelpConfig, level: number): number {
  checkLevel(level);
  const c = config.rivalLearning.curriculum;
  return Math.max(c.minBudgetScale, Math.pow(c.budgetPerLevel, level));
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL) throw new RangeError(`curriculum level must be an integer in [0, ${MAX_LEVEL}], got ${level}`);
}

/** What a saved population depends on: a population only resumes under the same. */
function fingerprint(config: GaelpConfig): string {
  return JSON.stringify({ rivals: config.rivals, rivalLearning: config.rivalLearning });
}

export class RivalPopulation {
  readonly config: GaelpConfig;
  readonly numWorlds: number;
  readonly numRivals: number;
  private readonly seed: number;
  private readonly base: Float32Array; // the config's rows
  private readonly strategies: RivalStrategy[];
  /** learners[w * numRivals + r] */
  private readonly learners: RivalLearner[];
  private rng: Rng;
  private lvl = 0;
  private lastIteration = -1;

  constructor(config: GaelpConfig, numWorlds: number, seed: number) {
    if (!Number.isInteger(numWorlds) || numWorlds < 1 || numWorlds > 65536) throw new RangeError(`numWorlds must be an integer in [1, 65536], got ${numWorlds}`);
    assertSeed(seed);
    this.config = config;
    this.numWorlds = numWorlds;
    this.numRivals = config.rivals.length;
    this.seed = seed;
    this.base = rivalRows(config);
    this.strategies = config.rivals.map((r) => r.strategy);
    this.rng = Rng.seeded(`gaelp.rivals/${seed}`);
    this.learners = [];
    for (let w = 0; w < numWorlds; w++) {
      for (let r = 0; r < this.numRivals; r++) this.learners.push(this.newLearner(w, r));
    }
  }

  private learnerKind(r: number): RivalLearnerKind {
    return this.config.rivalLearning.learners[this.strategies[r]];
  }

  private newLearner(w: number, r: number): RivalLearner {
    const rl = this.config.rivalLearning;
    const gain = this.config.rivals[r].defenseGain;
    switch (this.learnerKind(r)) {
      case "q_learning": return new QLearner(rl.qLearning, gain, worldSeed(this.seed, w * L.MAX_RIVALS + r, REPLAY_STREAM)[0]);
      case "policy_gradient": return new PolicyGradientLearner(rl.policyGradient, rl.aggressionMin, rl.aggressionMax, gain);
      case "defensive": return new DefensiveLearner(rl.defensive, rl.aggressionMax, gain);
      case "random": return new RandomLearner(rl.random, gain);
      case "fixed": return new FixedLearner(gain);
    }
  }

  private restoreLearner(w: number, r: number, s: LearnerState): RivalLearner {
    const rl = this.config.rivalLearning;
    const gain = this.config.rivals[r].defenseGain;
    const kind = this.learnerKind(r);
    const where = `rival learner of world ${w}, rival ${r} (${kind})`;
    if (s === null || typeof s !== "object" || s.kind !== kind) throw new RangeError(`${where}: saved state is of kind ${String((s as LearnerState)?.kind)}`);
    switch (kind) {
      case "q_learning": return QLearner.restore(s, rl.qLearning, gain, where);
      case "policy_gradient": return PolicyGradientLearner.restore(s, rl.policyGradient, rl.aggressionMin, rl.aggressionMax, gain, where);
      case "defensive": return DefensiveLearner.restore(s, rl.defensive, rl.aggressionMax, gain, where);
      case "random": return RandomLearner.restore(s, rl.random, gain, where);
      case "fixed": return new FixedLearner(gain);
    }
  }

  /** the current curriculum level */
  get level(): number {
    return this.lvl;
  }

  /** Rivals active per world at the current level: startRivals (0: all) + level x rivalsPerLevel, at most all. */
  get activeRivals(): number {
    const c = this.config.rivalLearning.curriculum;
    if (c.startRivals === 0) return this.numRivals;
    return Math.min(this.numRivals, c.startRivals + this.lvl * c.rivalsPerLevel);
  }

  /** every rival's aggression x aggressionPerLevel^level */
  get aggressionFactor(): number {
    return Math.pow(this.config.rivalLearning.curriculum.aggressionPerLevel, this.lvl);
  }

  /** Level 0 is the config; each level multiplies every rival's aggression by aggressionPerLevel,
   *  activates rivalsPerLevel more rivals (when startRivals > 0) and scales our budgets
   *  (budgetScale()). Learners keep what they learned. */
  setCurriculum(level: number): void {
    checkLevel(level);
    this.lvl = level;
  }

  /** our budget scale at the current level (for RunOptions.budgetScale) */
  budgetScale(): number {
    return curriculumBudgetScale(this.config, this.lvl);
  }

  /** Per world, its rivals' rows for RunOptions.rivalParams: the config's, with valueMult =
   *  configured x learner aggression x curriculum factor (0 for inactive rivals) and the learner's
   *  defense gain. A new population at level 0 gives exactly the config's rows. */
  params(): Float32Array[] {
    const nr = this.numRivals;
    const active = this.activeRivals;
    const factor = this.aggressionFactor;
    return Array.from({ length: this.numWorlds }, (_, w) => {
      const rows = this.base.slice();
      for (let r = 0; r < nr; r++) {
        const at = r * L.RIV_STRIDE;
        const l = this.learners[w * nr + r];
        const vm = r < active ? this.base[at + L.RIVF_VALUE_MULT] * l.aggression * factor : 0;
        rows[at + L.RIVF_VALUE_MULT] = Math.min(VALUE_MULT_MAX, vm);
        rows[at + L.RIVF_DEFENSE_GAIN] = Math.min(DEFENSE_GAIN_MAX, l.defenseGain);
      }
      return rows;
    });
  }

  /** Learns from an iteration's per-world rival outcomes (engine IterationResult.rivalStats, in
   *  world order) and sets every learner's values for the next iteration. `iteration` must grow
   *  from call to call. With rivalLearning.enabled = false nothing is learned (the summary still
   *  reports the outcomes). Inactive rivals are skipped. */
  update(rivalStats: Float64Array[], iteration: number): RivalUpdateSummary {
    const nr = this.numRivals;
    const len = nr * L.RIVAL_STATS;
    if (!Number.isSafeInteger(iteration) || iteration <= this.lastIteration) {
      throw new RangeError(`iteration must be an integer greater than the last one updated (${this.lastIteration}), got ${iteration}`);
    }
    if (!Array.isArray(rivalStats) || rivalStats.length !== this.numWorlds) {
      throw new RangeError(`rivalStats must be an array of ${this.numWorlds} Float64Arrays (one per world), got ${Array.isArray(rivalStats) ? `${rivalStats.length} entries` : typeof rivalStats}`);
    }
    rivalStats.forEach((s, w) => {
      if (!(s instanceof Float64Array) || s.length !== len) throw new RangeError(`rivalStats[${w}] must be a Float64Array of ${len} values (${nr} rivals x RIVAL_STATS ${L.RIVAL_STATS}), got ${s?.constructor?.name} of ${(s as { length?: number })?.length}`);
      const bad = s.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new RangeError(`rivalStats[${w}][${bad}] (rival ${Math.floor(bad / L.RIVAL_STATS)}, stat ${bad % L.RIVAL_STATS}) is ${s[bad]}`);
    });
    this.lastIteration = iteration;
    const learn = this.config.rivalLearning.enabled;
    const active = this.activeRivals;
    const factor = this.aggressionFactor;
    const groups = new Map<string, { n: number; aggression: number; reward: number; winRate: number; hvLossRate: number }>();
    const add = (key: string, aggression: number, f: ReturnType<typeof outcomeFeatures>) => {
      const g = groups.get(key) ?? { n: 0, aggression: 0, reward: 0, winRate: 0, hvLossRate: 0 };
      g.n++;
      g.aggression += aggression;
      g.reward += f.reward;
      g.winRate += f.winRate;
      g.hvLossRate += f.hvLossRate;
      groups.set(key, g);
    };
    const extra = { epsilon: [0, 0], pgSd: [0, 0], defenseGain: [0, 0] };
    for (let w = 0; w < this.numWorlds; w++) {
      for (let r = 0; r < active; r++) {
        const l = this.learners[w * nr + r];
        const f = outcomeFeatures(rivalStats[w], r * L.RIVAL_STATS);
        if (learn) l.update(f, this.rng);
        // the summary reports the values for the next iteration next to the outcome just seen
        const agg = l.aggression * factor;
        add("all", agg, f);
        add(`s:${this.strategies[r]}`, agg, f);
        add(`l:${l.kind}`, agg, f);
        if (l instanceof QLearner) { extra.epsilon[0] += l.epsilon; extra.epsilon[1]++; }
        if (l instanceof PolicyGradientLearner) { extra.pgSd[0] += l.sd; extra.pgSd[1]++; }
        if (l instanceof DefensiveLearner) { extra.defenseGain[0] += l.defenseGain; extra.defenseGain[1]++; }
      }
    }
    const mean = (key: string): GroupSummary | undefined => {
      const g = groups.get(key);
      return g && { rivals: g.n, aggression: g.aggression / g.n, reward: g.reward / g.n, winRate: g.winRate / g.n, hvLossRate: g.hvLossRate / g.n };
    };
    const pick = <K extends string>(keys: readonly K[], prefix: string) => {
      const out: Partial<Record<K, GroupSummary>> = {};
      for (const k of keys) { const g = mean(`${prefix}${k}`); if (g) out[k] = g; }
      return out;
    };
    const summary: RivalUpdateSummary = {
      iteration, level: this.lvl, activeRivals: active,
      all: mean("all") ?? { rivals: 0, aggression: 0, reward: 0, winRate: 0, hvLossRate: 0 },
      byStrategy: pick(RIVAL_STRATEGIES, "s:"),
      byLearner: pick(["q_learning", "policy_gradient", "defensive", "random", "fixed"] as const, "l:"),
    };
    if (extra.epsilon[1] > 0) summary.epsilon = extra.epsilon[0] / extra.epsilon[1];
    if (extra.pgSd[1] > 0) summary.pgSd = extra.pgSd[0] / extra.pgSd[1];
    if (extra.defenseGain[1] > 0) summary.defenseGain = extra.defenseGain[0] / extra.defenseGain[1];
    return summary;
  }

  /** Everything a resumed run needs to continue bit-identically: level, last iteration, the RNG,
   *  every learner (Q tables with their replay snapshots, policy-gradient means, sds and
   *  baselines, defensive gains). msgpack; decode with RivalPopulation.deserialize. */
  serialize(): Uint8Array {
    return packr.pack({
      format: FORMAT, version: VERSION, fingerprint: fingerprint(this.config), numWorlds: this.numWorlds, seed: this.seed,
      level: this.lvl, lastIteration: this.lastIteration, rng: this.rng.state(), learners: this.learners.map((l) => l.state()),
    });
  }

  /** Restores serialize() bytes under `config`, which must be the config they were saved with
   *  (the same rivals and rivalLearning section). */
  static deserialize(bytes: Uint8Array, config: GaelpConfig): RivalPopulation {
    const fail = (why: string): never => { throw new Error(`RivalPopulation.deserialize: ${why}`); };
    if (!(bytes instanceof Uint8Array)) fail("bytes must be a Uint8Array");
    let s: Record<string, unknown>;
    try {
      s = packr.unpack(bytes) as Record<string, unknown>;
    } catch (err) {
      return fail(`not msgpack (${err instanceof Error ? err.message : String(err)})`);
    }
    if (s === null || typeof s !== "object" || s.format !== FORMAT) fail(`not a rival population (format is not "${FORMAT}")`);
    if (s.version !== VERSION) fail(`version ${String(s.version)} is not supported (this build reads ${VERSION})`);
    if (s.fingerprint !== fingerprint(config)) fail("the config's rivals or rivalLearning section differ from the ones the population was saved with");
    let pop: RivalPopulation;
    try {
      pop = new RivalPopulation(config, s.numWorlds as number, s.seed as number);
      const learners = s.learners;
      if (!Array.isArray(learners) || learners.length !== pop.learners.length) throw new RangeError(`learners must be an array of ${pop.learners.length} (worlds x rivals)`);
      checkLevel(s.level as number);
      pop.lvl = s.level as number;
      if (!Number.isSafeInteger(s.lastIteration) || (s.lastIteration as number) < -1) throw new RangeError(`lastIteration ${String(s.lastIteration)} is not an integer >= -1`);
      pop.lastIteration = s.lastIteration as number;
      pop.rng = Rng.restore(s.rng);
      (learners as LearnerState[]).forEach((st, i) => {
        pop.learners[i] = pop.restoreLearner(Math.floor(i / pop.numRivals), i % pop.numRivals, st);
      });
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    }
    return pop;
  }
}
