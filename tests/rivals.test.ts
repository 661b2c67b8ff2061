// Rival learners (agents/rivals): Q-learning finds the best arm of a bandit, policy gradient climbs
// to a reward peak, the defensive rule escalates after high-value losses and relaxes otherwise;
// the population reproduces the config at level 0, applies curriculum levels, is deterministic,
// serialises and resumes bit-identically, refuses bad input, and changes a real engine's market.
import { describe, expect, it, afterAll } from "vitest";
import fc from "fast-check";
import { createHash } from "node:crypto";
import * as L from "../wasm/layout.js";
import { resolveConfig, ConfigError, type GaelpConfig } from "../env/config.js";
import { rivalRows } from "../env/params.js";
import {
  RivalPopulation, curriculumBudgetScale, QLearner, qState, PolicyGradientLearner, DefensiveLearner, RandomLearner,
  Rng, type OutcomeFeatures, type RivalUpdateSummary,
} from "../agents/rivals/index.js";
import { RolloutEngine, iterationIpc } from "../engine/rollout_engine.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { randomPolicy } from "./helpers/policy.js";

const config = resolveConfig();
const rl = config.rivalLearning;
const NR = config.rivals.length;

const feat = (f: Partial<OutcomeFeatures>): OutcomeFeatures => ({ winRate: 0.3, utilisation: 0.7, hvLossRate: 0, hvEntered: 0, reward: 0, ...f });
const withLearning = (over: Record<string, unknown>) => resolveConfig({ overrides: { rivalLearning: over } });

/** One world's rivalStats row for every rival, from per-rival outcome fields. */
function statsRow(per: (r: number) => Partial<Record<number, number>>, numRivals = NR): Float64Array {
  const row = new Float64Array(numRivals * L.RIVAL_STATS);
  for (let r = 0; r < numRivals; r++) for (const [k, v] of Object.entries(per(r))) row[r * L.RIVAL_STATS + Number(k)] = v!;
  return row;
}

/** Outcomes that vary with the world, rival and iteration (so every learner sees something). */
function syntheticStats(numWorlds: number, it: number, numRivals = NR): Float64Array[] {
  return Array.from({ length: numWorlds }, (_, w) => statsRow((r) => {
    const k = (w * 7 + r * 3 + it * 5) % 11;
    return {
      [L.RS_ENTERED]: 1000, [L.RS_IMPRESSIONS]: 100 + 40 * k, [L.RS_SPEND]: 30 + 4 * k, [L.RS_VALUE]: 20 + 7 * ((k * 3) % 11),
      [L.RS_BUDGET]: 60, [L.RS_HV_ENTERED]: 200, [L.RS_HV_LOSSES]: 20 * k,
    };
  }, numRivals));
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const paramsHash = (p: Float32Array[]) => sha(new Uint8Array(Float32Array.from(p.flatMap((x) => Array.from(x))).buffer));

describe("Q-learning", () => {
  it("converges to the best arm of a noisy bandit (any best arm, any seed)", () => {
    // enough exploration that every arm is tried (~15 times) and a replay that keeps every transition
    const cfg = { ...rl.qLearning, epsilon0: 0.5, epsilonDecay: 0.99, epsilonMin: 0.1, replayRows: 512 };
    fc.assert(fc.property(fc.integer({ min: 0, max: cfg.actions.length - 1 }), fc.integer({ min: 0, max: 1e6 }), (best, seed) => {
      const rng = Rng.seeded(`bandit/${seed}`);
      const noise = Rng.seeded(`noise/${seed}`);
      const q = new QLearner(cfg, 1, seed);
      const target = cfg.actions[best];
      const picks: number[] = [];
      for (let t = 0; t < 400; t++) {
        const a = cfg.actions[q.a];
        picks.push(q.a);
        q.update(feat({ reward: 0.5 - 4 * (a - target) ** 2 + 0.02 * noise.normal() }), rng);
      }
      const s = qState(feat({}), cfg);
      expect(q.greedy(s, rng)).toBe(best);
      const late = picks.slice(-50).filter((a) => a === best).length;
      expect(late).toBeGreaterThanOrEqual(35); // epsilon is 0.1 by then: 45.8 +- 2 expected
    }), { numRuns: 20 });
  });

  it("decays epsilon exponentially to its floor and keeps its transitions in the replay", () => {
    const cfg = { ...rl.qLearning, epsilon0: 0.4, epsilonDecay: 0.9, epsilonMin: 0.1, replayRows: 12 };
    const q = new QLearner(cfg, 1, 3);
    const rng = Rng.seeded("eps");
    for (let k = 0; k < 20; k++) {
      expect(q.epsilon).toBeCloseTo(Math.max(0.1, 0.4 * 0.9 ** k), 12);
      q.update(feat({ reward: 0.1 }), rng);
      expect(q.stored).toBe(Math.min(k + 1, 12));
    }
  });

  it("starts at the action closest to the config's aggression (1)", () => {
    expect(new QLearner({ ...rl.qLearning, actions: [0.5, 0.9, 1.2] }, 1, 0).aggression).toBe(0.9);
    expect(new QLearner(rl.qLearning, 1, 0).aggression).toBe(1);
  });
});

describe("policy gradient", () => {
  it("moves the mean of log-aggression to the reward's peak, from below and above", () => {
    for (const peak of [1.4, 0.6]) {
      const pg = new PolicyGradientLearner({ ...rl.policyGradient, lr: 0.05 }, rl.aggressionMin, rl.aggressionMax, 1);
      const rng = Rng.seeded(`pg/${peak}`);
      for (let t = 0; t < 600; t++) pg.update(feat({ reward: 1 - 4 * (pg.aggression - peak) ** 2 }), rng);
      expect(Math.abs(pg.mean - Math.log(peak)), `peak ${peak}: mean ${Math.exp(pg.mean)}`).toBeLessThan(0.1);
      expect(pg.sd).toBeGreaterThanOrEqual(rl.policyGradient.sigmaMin);
      expect(pg.sd).toBeLessThanOrEqual(rl.policyGradient.sigmaMax);
    }
  });

  it("keeps aggression within the bounds however large the rewards", () => {
    const pg = new PolicyGradientLearner({ ...rl.policyGradient, lr: 5, maxStep: 5 }, 0.5, 2, 1);
    const rng = Rng.seeded("pg-bounds");
    for (let t = 0; t < 200; t++) {
      pg.update(feat({ reward: 1e3 * pg.aggression }), rng);
      expect(pg.aggression).toBeGreaterThanOrEqual(0.5 * (1 - 1e-12));
      expect(pg.aggression).toBeLessThanOrEqual(2 * (1 + 1e-12));
      expect(pg.mean).toBeGreaterThanOrEqual(Math.log(0.5));
      expect(pg.mean).toBeLessThanOrEqual(Math.log(2));
      expect(pg.sd).toBeGreaterThanOrEqual(rl.policyGradient.sigmaMin * (1 - 1e-12));
      expect(pg.sd).toBeLessThanOrEqual(rl.policyGradient.sigmaMax * (1 + 1e-12));
    }
  });
});

describe("defensive rule", () => {
  const cfg = rl.defensive; // loss rate 0.5, min 20 auctions, raise 0.1, relax 0.05, max gain 3

  it("raises defense gain and aggression after losing high-value users, up to the bounds", () => {
    const d = new DefensiveLearner(cfg, rl.aggressionMax, 1.4);
    let gain = 1.4;
    let agg = 1;
    for (let t = 0; t < 40; t++) {
      d.update(feat({ hvLossRate: 0.8, hvEntered: 100 }));
      gain = Math.min(3, gain * 1.1);
      agg = Math.min(rl.aggressionMax, agg * 1.1);
      expect(d.defenseGain).toBeCloseTo(gain, 12);
      expect(d.aggression).toBeCloseTo(agg, 12);
    }
    expect(d.defenseGain).toBe(3);
    expect(d.aggression).toBe(rl.aggressionMax);
  });

  it("does not react to few auctions or a loss rate at the threshold, and relaxes slowly to the config", () => {
    const d = new DefensiveLearner(cfg, rl.aggressionMax, 1.4);
    d.update(feat({ hvLossRate: 1, hvEntered: cfg.minAuctions - 1 }));
    d.update(feat({ hvLossRate: cfg.lossRate, hvEntered: 1000 }));
    expect([d.defenseGain, d.aggression]).toEqual([1.4, 1]);
    for (let t = 0; t < 5; t++) d.update(feat({ hvLossRate: 0.9, hvEntered: 500 }));
    let prev = d.defenseGain;
    for (let t = 0; t < 100; t++) {
      d.update(feat({ hvLossRate: 0.1, hvEntered: 500 }));
      expect(d.defenseGain).toBeLessThan(prev);
      expect(d.defenseGain).toBeGreaterThan(1.4);
      expect(prev - d.defenseGain).toBeCloseTo(0.05 * (prev - 1.4), 12); // 5% of the way per iteration
      prev = d.defenseGain;
    }
  });

  it("a configured gain above maxDefenseGain is the cap", () => {
    const d = new DefensiveLearner({ ...cfg, maxDefenseGain: 1 }, rl.aggressionMax, 2);
    d.update(feat({ hvLossRate: 1, hvEntered: 1000 }));
    expect(d.defenseGain).toBe(2);
  });
});

describe("random learner", () => {
  it("redraws aggression uniformly in [min, max] every iteration", () => {
    const l = new RandomLearner({ min: 0.7, max: 1.5 }, 1);
    const rng = Rng.seeded("random");
    const xs: number[] = [];
    for (let t = 0; t < 2000; t++) { l.update(feat({}), rng); xs.push(l.aggression); }
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0.7);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1.5);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeCloseTo(1.1, 1);
    expect(xs.filter((x) => x < 0.9).length / xs.length).toBeCloseTo(0.25, 1);
  });
});

describe("RivalPopulation", () => {
  it("a new population at level 0 gives exactly the config's rows in every world", () => {
    const pop = new RivalPopulation(config, 3, 1);
    const want = rivalRows(config);
    for (const rows of pop.params()) expect(Buffer.from(rows.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    expect(pop.budgetScale()).toBe(1);
  });

  it("is deterministic: the same seed gives the same parameters and summaries, another seed others", () => {
    const run = (seed: number) => {
      const pop = new RivalPopulation(config, 4, seed);
      const trace: string[] = [];
      for (let it = 0; it < 12; it++) {
        const s = pop.update(syntheticStats(4, it), it);
        trace.push(paramsHash(pop.params()), JSON.stringify(s));
      }
      return trace;
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    // learning happened
    const pop = new RivalPopulation(config, 4, 7);
    const before = paramsHash(pop.params());
    pop.update(syntheticStats(4, 0), 0);
    expect(paramsHash(pop.params())).not.toBe(before);
  });

  it("serialize / deserialize mid-run continues bit-identically (Q tables, replays, RNG, baselines, gains, level)", () => {
    const a = new RivalPopulation(config, 3, 11);
    a.setCurriculum(2);
    for (let it = 0; it < 7; it++) a.update(syntheticStats(3, it), it);
    const bytes = a.serialize();
    const b = RivalPopulation.deserialize(bytes, config);
    expect(Buffer.from(b.serialize()).equals(Buffer.from(bytes))).toBe(true);
    expect(b.level).toBe(2);
    for (let it = 7; it < 20; it++) {
      const sa = a.update(syntheticStats(3, it), it);
      const sb = b.update(syntheticStats(3, it), it);
      expect(sb).toEqual(sa);
      expect(paramsHash(b.params())).toBe(paramsHash(a.params()));
    }
    expect(Buffer.from(b.serialize()).equals(Buffer.from(a.serialize()))).toBe(true);
  });

  it("deserialize refuses another config, foreign bytes and damaged learner state", () => {
    const pop = new RivalPopulation(config, 2, 1);
    pop.update(syntheticStats(2, 0), 0);
    const bytes = pop.serialize();
    const other = withLearning({ qLearning: { alpha: 0.5 } });
    expect(() => RivalPopulation.deserialize(bytes, other)).toThrow(/rivals or rivalLearning section differ/);
    expect(() => RivalPopulation.deserialize(new Uint8Array([1, 2, 3]), config)).toThrow(/RivalPopulation.deserialize/);
    expect(() => RivalPopulation.deserialize(bytes.subarray(0, bytes.length >> 1), config)).toThrow(/RivalPopulation.deserialize/);
  });

  it("curriculum levels scale aggression, activate rivals and tighten our budgets", () => {
    const cfg = withLearning({ curriculum: { startRivals: 2, rivalsPerLevel: 1, aggressionPerLevel: 1.2, budgetPerLevel: 0.8, minBudgetScale: 0.3 } });
    const pop = new RivalPopulation(cfg, 2, 5);
    const base = rivalRows(cfg);
    for (const level of [0, 1, 3, 6]) {
      pop.setCurriculum(level);
      expect(pop.activeRivals).toBe(Math.min(NR, 2 + level));
      expect(pop.budgetScale()).toBe(Math.max(0.3, 0.8 ** level));
      expect(curriculumBudgetScale(cfg, level)).toBe(pop.budgetScale());
      for (const rows of pop.params()) {
        for (let r = 0; r < NR; r++) {
          const vm = rows[r * L.RIV_STRIDE + L.RIVF_VALUE_MULT];
          if (r < 2 + level) expect(vm).toBe(Math.fround(base[r * L.RIV_STRIDE + L.RIVF_VALUE_MULT] * 1.2 ** level));
          else expect(vm).toBe(0);
        }
      }
    }
    expect(() => pop.setCurriculum(-1)).toThrow(/curriculum level must be an integer in \[0, 1000\], got -1/);
    expect(() => pop.setCurriculum(1.5)).toThrow(/curriculum level/);
    // inactive rivals do not learn: their learners' values stay the config's
    pop.setCurriculum(0);
    for (let it = 0; it < 5; it++) pop.update(syntheticStats(2, it), it);
    for (const rows of pop.params()) {
      for (let r = 2; r < NR; r++) expect(rows[r * L.RIV_STRIDE + L.RIVF_DEFENSE_GAIN]).toBe(base[r * L.RIV_STRIDE + L.RIVF_DEFENSE_GAIN]);
    }
  });

  it("a rival that keeps losing high-value users becomes more aggressive; one that does not, does not", () => {
    const pop = new RivalPopulation(config, 2, 3);
    const defensive = config.rivals.map((r, i) => (r.strategy === "defensive" ? i : -1)).filter((i) => i >= 0);
    expect(defensive.length).toBeGreaterThanOrEqual(2);
    const [loser, winner] = defensive;
    const base = rivalRows(config);
    const field = (rows: Float32Array, r: number, f: number) => rows[r * L.RIV_STRIDE + f];
    let prev = pop.params();
    for (let it = 0; it < 8; it++) {
      const stats = Array.from({ length: 2 }, () => statsRow((r) => ({
        [L.RS_ENTERED]: 500, [L.RS_IMPRESSIONS]: 100, [L.RS_SPEND]: 50, [L.RS_VALUE]: 50, [L.RS_BUDGET]: 60,
        [L.RS_HV_ENTERED]: 100, [L.RS_HV_LOSSES]: r === loser ? 90 : 10,
      })));
      const s = pop.update(stats, it);
      const now = pop.params();
      for (let w = 0; w < 2; w++) {
        expect(field(now[w], loser, L.RIVF_VALUE_MULT)).toBeGreaterThan(field(prev[w], loser, L.RIVF_VALUE_MULT));
        expect(field(now[w], loser, L.RIVF_DEFENSE_GAIN)).toBeGreaterThan(field(prev[w], loser, L.RIVF_DEFENSE_GAIN));
        expect(field(now[w], winner, L.RIVF_VALUE_MULT)).toBe(field(base, winner, L.RIVF_VALUE_MULT));
        expect(field(now[w], winner, L.RIVF_DEFENSE_GAIN)).toBe(field(base, winner, L.RIVF_DEFENSE_GAIN));
      }
      expect(s.byLearner.defensive!.rivals).toBe(4);
      prev = now;
    }
  });

  it("with learning disabled the rows stay the config's (curriculum still applies)", () => {
    const cfg = withLearning({ enabled: false });
    const pop = new RivalPopulation(cfg, 2, 1);
    for (let it = 0; it < 5; it++) pop.update(syntheticStats(2, it), it);
    const want = rivalRows(cfg);
    for (const rows of pop.params()) expect(Buffer.from(rows.buffer).equals(Buffer.from(want.buffer))).toBe(true);
  });

  it("refuses bad updates with the field named", () => {
    const pop = new RivalPopulation(config, 2, 1);
    expect(() => pop.update(syntheticStats(3, 0), 0)).toThrow(/rivalStats must be an array of 2 Float64Arrays/);
    expect(() => pop.update([syntheticStats(2, 0)[0], new Float64Array(3)], 0)).toThrow(/rivalStats\[1\] must be a Float64Array of 60 values/);
    const nan = syntheticStats(2, 0);
    nan[1][L.RIVAL_STATS + L.RS_SPEND] = Number.NaN;
    expect(() => pop.update(nan, 0)).toThrow(/rivalStats\[1\]\[15\] \(rival 1, stat 3\) is NaN/);
    pop.update(syntheticStats(2, 0), 4);
    expect(() => pop.update(syntheticStats(2, 0), 4)).toThrow(/iteration must be an integer greater than the last one updated \(4\), got 4/);
    expect(() => new RivalPopulation(config, 0, 1)).toThrow(/numWorlds must be an integer/);
    expect(() => new RivalPopulation(config, 1, -1)).toThrow(/seed must be a non-negative safe integer/);
  });
});

describe("rivalLearning config", () => {
  it("has defaults and names the bad field", () => {
    expect(config.rivalLearning.learners).toEqual({ defensive: "defensive", aggressive: "q_learning", shading: "policy_gradient", random: "random" });
    const bad = (over: Record<string, unknown>, re: RegExp) => {
      expect(() => withLearning(over)).toThrow(ConfigError);
      expect(() => withLearning(over)).toThrow(re);
    };
    bad({ learners: { shading: "sarsa" } }, /rivalLearning\.learners\.shading/);
    bad({ qLearning: { actions: [1, 0.8] } }, /rivalLearning\.qLearning\.actions: must be strictly ascending/);
    bad({ qLearning: { actions: [0.1, 1] } }, /rivalLearning\.qLearning\.actions\.0: 0.1 is outside \[aggressionMin, aggressionMax\]/);
    bad({ qLearning: { epsilon0: 1.5 } }, /rivalLearning\.qLearning\.epsilon0/);
    bad({ qLearning: { epsilonMin: 0.5, epsilon0: 0.2 } }, /rivalLearning\.qLearning\.epsilonMin: must be ≤ epsilon0/);
    bad({ qLearning: { winRateBands: [0.5, 0.2] } }, /rivalLearning\.qLearning\.winRateBands: must be strictly ascending/);
    bad({ policyGradient: { sigma0: 1 } }, /rivalLearning\.policyGradient\.sigma0: must lie in \[sigmaMin, sigmaMax\]/);
    bad({ aggressionMin: 2, aggressionMax: 1 }, /rivalLearning\.aggressionMin: must be ≤ aggressionMax/);
    bad({ random: { min: 0.1 } }, /rivalLearning\.random/);
    bad({ curriculum: { startRivals: 9 } }, /rivalLearning\.curriculum\.startRivals: 9 is more than the 5 configured rivals/);
    bad({ curriculum: { budgetPerLevel: 0 } }, /rivalLearning\.curriculum\.budgetPerLevel/);
  });
});

describe("rival learners in a real engine run", () => {
  const small = (over: Record<string, unknown> = {}): GaelpConfig => resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 2 }, campaign: { flightDays: 4 }, journey: { timeoutDays: 2 }, rivalLearning: over } });
  const spec = defaultPolicySpec(config.campaign.creatives.length);
  const engines: RolloutEngine[] = [];
  afterAll(async () => { await Promise.all(engines.map((e) => e.close())); });

  /** The trainer's loop: params and budget scale in, rival stats out, learners updated. */
  async function loop(cfg: GaelpConfig, threads: number, iterations: number, level = 0) {
    const e = new RolloutEngine({ config: cfg, seed: 4, worlds: 4, threads, worldsPerTask: threads === 0 ? 4 : 1 });
    engines.push(e);
    e.setPolicy(randomPolicy(spec, 2), 1);
    const pop = new RivalPopulation(cfg, 4, 9);
    pop.setCurriculum(level);
    const trace: { params: Float32Array[]; rivalStats: Float64Array[]; ipc: string; summary: RivalUpdateSummary; state: Uint8Array[] }[] = [];
    for (let it = 0; it < iterations; it++) {
      const params = pop.params();
      const r = await e.run({ hours: 36, rivalParams: params, budgetScale: pop.budgetScale() });
      const summary = pop.update(r.rivalStats, r.iteration);
      trace.push({ params, rivalStats: r.rivalStats, ipc: sha(iterationIpc(r)), summary, state: [0, 1, 2, 3].map((w) => e.worldState(w)) });
    }
    return trace;
  }

  it("learners change the rivals' parameters and spend across iterations, deterministically across workers", async () => {
    const learned = await loop(small(), 0, 6);
    const fixed = await loop(small({ enabled: false }), 0, 6);
    // the worlds ran with the rows the population gave
    for (const t of learned) {
      t.state.forEach((st, w) => {
        expect(Buffer.from(st.buffer, st.byteOffset + L.H_RIVALS, t.params[w].byteLength).equals(Buffer.from(t.params[w].buffer))).toBe(true);
      });
    }
    // same market until the learners first act, different after
    expect(learned[0].ipc).toBe(fixed[0].ipc);
    const rivalSpend = (t: (typeof learned)[number], r: number) => t.rivalStats.reduce((a, s) => a + s[r * L.RIVAL_STATS + L.RS_SPEND], 0);
    const later = learned.slice(2);
    expect(later.some((t, i) => t.ipc !== fixed[i + 2].ipc)).toBe(true);
    let differs = 0;
    for (let i = 2; i < learned.length; i++) for (let r = 0; r < NR; r++) if (rivalSpend(learned[i], r) !== rivalSpend(fixed[i], r)) differs++;
    expect(differs).toBeGreaterThan(NR);
    // aggression moved away from the config for the learning strategies
    const last = learned[learned.length - 1].summary;
    expect(last.byStrategy.random!.aggression).not.toBe(1);
    expect(last.byStrategy.shading!.aggression).not.toBe(1);
    expect(last.epsilon).toBeLessThan(rl.qLearning.epsilon0);
    // and the whole loop gives the same bytes with two workers
    const pooled = await loop(small(), 2, 6);
    expect(pooled.map((t) => [t.ipc, paramsHash(t.params), JSON.stringify(t.summary)])).toEqual(learned.map((t) => [t.ipc, paramsHash(t.params), JSON.stringify(t.summary)]));
  });

  it("a curriculum level scales the rivals' aggression in the worlds and our budgets", async () => {
    const [t] = await loop(small(), 0, 1, 3);
    const base = rivalRows(small());
    for (const st of t.state) {
      const rows = new Float32Array(st.buffer.slice(st.byteOffset + L.H_RIVALS, st.byteOffset + L.H_RIVALS + NR * L.RIV_STRIDE * 4));
      for (let r = 0; r < NR; r++) expect(rows[r * L.RIV_STRIDE + L.RIVF_VALUE_MULT]).toBe(Math.fround(base[r * L.RIV_STRIDE + L.RIVF_VALUE_MULT] * 1.1 ** 3));
      expect(new DataView(st.buffer, st.byteOffset).getFloat64(L.H_BUDGET_SCALE, true)).toBeCloseTo(0.9 ** 3, 15);
    }
  });
});
