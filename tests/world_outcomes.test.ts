// Per-iteration outcome statistics (engine worldStats / rivalStats) and the world settings the
// trainer changes between iterations (rival rows, our budget scale): deltas add up to the worlds'
// totals, rival outcomes agree with the world's own counters and with known answers, settings
// persist in world state, change behaviour as they should, keep determinism across workers, and
// bad settings are refused with the field named.
import { describe, expect, it, afterAll } from "vitest";
import { createHash } from "node:crypto";
import * as L from "../wasm/layout.js";
import { RolloutEngine, iterationIpc, type RolloutEngineOptions, type RunOptions } from "../engine/rollout_engine.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { resolveConfig, type GaelpConfig } from "../env/config.js";
import { rivalRows } from "../env/params.js";
import { VectorEnv } from "../env/vector_env.js";
import { randomPolicy } from "./helpers/policy.js";
import { newAction, smallConfig } from "./helpers/world.js";

const config = resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 2 }, campaign: { flightDays: 4 }, journey: { timeoutDays: 2 } } });
const spec = defaultPolicySpec(config.campaign.creatives.length);
const weights = randomPolicy(spec, 11);
const NR = config.rivals.length;
const engines: RolloutEngine[] = [];
afterAll(async () => { await Promise.all(engines.map((e) => e.close())); });

function engine(opts: Partial<RolloutEngineOptions> & { config?: GaelpConfig } = {}): RolloutEngine {
  const e = new RolloutEngine({ config, seed: 5, worlds: 4, threads: 0, ...opts });
  e.setPolicy(weights, 1);
  engines.push(e);
  return e;
}

/** Lifetime stats and rival totals in a world's state bytes. */
function totals(state: Uint8Array, numRivals = NR) {
  const f = new Float64Array(state.buffer, state.byteOffset, state.byteLength >> 3);
  const stats = Array.from({ length: L.NUM_STATS }, (_, s) => f[(L.H_STATS_TOTAL >> 3) + s] + f[(L.H_STATS_EPISODE >> 3) + s]);
  const rivals = Array.from(f.subarray(L.H_RIVAL_STATS >> 3, (L.H_RIVAL_STATS >> 3) + numRivals * L.RIVAL_STATS));
  return { stats, rivals };
}
const f64At = (state: Uint8Array, off: number) => new DataView(state.buffer, state.byteOffset).getFloat64(off, true);
const rs = (rivals: ArrayLike<number>, r: number, field: number) => rivals[r * L.RIVAL_STATS + field];

/** Stats whose every increment is a whole number (counts), so their sums are exact in f64. */
const COUNT_STATS = [L.S_OPPORTUNITIES, L.S_DECISIONS, L.S_IMPRESSIONS, L.S_CLICKS, L.S_MARKET_CONVERSIONS, L.S_LOST_JOURNEYS,
  L.S_CRISIS_EVENTS, L.S_BUDGET_EXHAUSTED_HOURS, L.S_RIVAL_IMPRESSIONS, L.S_UNSOLD, L.S_CAL_CONVERSIONS, L.S_CREDITED_DECISIONS];
const COUNT_RIVAL = [L.RS_ENTERED, L.RS_IMPRESSIONS, L.RS_CLICKS, L.RS_HV_ENTERED, L.RS_HV_LOSSES, L.RS_HV_LOST_TO_US, L.RS_BUDGET_OUT];

function expectSums(sum: number[], total: number[], counts: number[], what: string): void {
  sum.forEach((x, i) => {
    if (counts.includes(i % (what === "stats" ? L.NUM_STATS : L.RIVAL_STATS))) expect(x, `${what}[${i}]`).toBe(total[i]);
    else expect(Math.abs(x - total[i]), `${what}[${i}]: ${x} vs ${total[i]}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(total[i])));
  });
}

describe("per-iteration outcome deltas", () => {
  it("sum over iterations to each world's totals, per epoch (worlds re-created by resampleEvery start from zero)", async () => {
    const e = engine({ resampleEvery: 3 });
    const sums = Array.from({ length: 4 }, () => ({ stats: new Array(L.NUM_STATS).fill(0), rivals: new Array(NR * L.RIVAL_STATS).fill(0) }));
    for (let it = 0; it < 5; it++) {
      if (it === 3) for (const s of sums) { s.stats.fill(0); s.rivals.fill(0); } // a new epoch: new worlds
      const r = await e.run({ hours: 30 });
      expect(r.worldStats.length).toBe(4);
      expect(r.rivalStats.length).toBe(4);
      r.worldStats.forEach((ws, w) => {
        expect(ws.length).toBe(L.NUM_STATS);
        expect(r.rivalStats[w].length).toBe(NR * L.RIVAL_STATS);
        ws.forEach((x, i) => { sums[w].stats[i] += x; });
        r.rivalStats[w].forEach((x, i) => { sums[w].rivals[i] += x; });
      });
      if (it === 2 || it === 4) {
        for (let w = 0; w < 4; w++) {
          const t = totals(e.worldState(w));
          expectSums(sums[w].stats, t.stats, COUNT_STATS, "stats");
          expectSums(sums[w].rivals, t.rivals, COUNT_RIVAL, "rivals");
          expect(t.stats[L.S_DECISIONS]).toBeGreaterThan(0);
          expect(t.rivals[L.RS_IMPRESSIONS]).toBeGreaterThan(0);
        }
      }
      // the rows of the iteration are the decisions its stats count
      expect(r.worldStats.reduce((a, ws) => a + ws[L.S_DECISIONS], 0)).toBe(r.decisions);
    }
  });

  it("rival outcomes agree with the world's own counters and with each other", async () => {
    const r = await engine().run({ hours: 72 });
    let hvLosses = 0;
    let conversions = 0;
    for (let w = 0; w < 4; w++) {
      const ws = r.worldStats[w];
      const rv = r.rivalStats[w];
      let imps = 0;
      let spend = 0;
      for (let k = 0; k < NR; k++) {
        imps += rs(rv, k, L.RS_IMPRESSIONS);
        spend += rs(rv, k, L.RS_SPEND);
        expect(rs(rv, k, L.RS_IMPRESSIONS)).toBeLessThanOrEqual(rs(rv, k, L.RS_ENTERED));
        expect(rs(rv, k, L.RS_CLICKS)).toBeLessThanOrEqual(rs(rv, k, L.RS_IMPRESSIONS));
        expect(rs(rv, k, L.RS_HV_ENTERED)).toBeLessThanOrEqual(rs(rv, k, L.RS_ENTERED));
        expect(rs(rv, k, L.RS_HV_LOSSES)).toBeLessThanOrEqual(rs(rv, k, L.RS_HV_ENTERED));
        expect(rs(rv, k, L.RS_HV_LOST_TO_US)).toBeLessThanOrEqual(rs(rv, k, L.RS_HV_LOSSES));
        expect(rs(rv, k, L.RS_ENTERED)).toBeLessThanOrEqual(ws[L.S_OPPORTUNITIES]);
        expect(rs(rv, k, L.RS_VALUE)).toBeGreaterThan(0);
        expect(rs(rv, k, L.RS_REVENUE)).toBeGreaterThanOrEqual(0);
        hvLosses += rs(rv, k, L.RS_HV_LOST_TO_US);
        conversions += rs(rv, k, L.RS_CONVERSIONS);
      }
      expect(imps).toBe(ws[L.S_RIVAL_IMPRESSIONS]);
      expect(spend).toBeCloseTo(ws[L.S_RIVAL_SPEND], 6);
    }
    expect(hvLosses).toBeGreaterThan(0); // our policy takes high-value users from the rivals
    expect(conversions).toBeGreaterThan(0);
  });
});

describe("rival outcomes: known answers (VectorEnv)", () => {
  // rival 0 always bids (no noise, a budget it cannot spend); rival 1 never bids (aggression 0)
  const cfg = smallConfig({
    rivals: [
      { strategy: "aggressive", valueMult: 1, shade: 1, noise: 0, dailyBudget: 1e6 },
      { strategy: "aggressive", valueMult: 0, dailyBudget: 50 },
      { strategy: "defensive", valueMult: 1.2, dailyBudget: 0.5 },
    ],
    market: { rivalBudgetScale: 0.8 },
  });

  function run(bid: number, steps: number) {
    const env = VectorEnv.create({ config: cfg, numWorlds: 2, seed: 3 });
    const [, info] = env.reset();
    const a = newAction(2);
    a.bid.fill(bid);
    for (let s = 0; s < steps; s++) env.step(a);
    return { env, info };
  }

  it("entered, budget made available, budget outs and losses to us", () => {
    for (const bid of [0, cfg.campaign.bidMax]) { // bidMax (10) is a float32
      const { env, info } = run(bid, 1500);
      for (let w = 0; w < 2; w++) {
        const st = env.statsOf(w);
        const rv = env.rivalStatsOf(w);
        const hour = info[w * L.INFO_DIM + L.I_HOUR];
        // every auction resolved so far (all but the pending one) had rival 0's bid, none rival 1's
        expect(rs(rv, 0, L.RS_ENTERED)).toBe(st[L.S_OPPORTUNITIES] - 1);
        expect(rs(rv, 1, L.RS_ENTERED)).toBe(0);
        expect(rs(rv, 1, L.RS_IMPRESSIONS)).toBe(0);
        expect(rs(rv, 0, L.RS_BUDGET_OUT)).toBe(0);
        expect(rs(rv, 2, L.RS_BUDGET_OUT)).toBeGreaterThan(0); // 50 cents a day runs out
        // one pro-rata budget per hour begun (hours 0..hour), x rivalBudgetScale
        cfg.rivals.forEach((r, k) => {
          const want = (hour + 1) * Math.fround(Math.floor(r.dailyBudget * 1e6)) * 0.8 * 1e-6 / 24; // rows are f32
          expect(Math.abs(rs(rv, k, L.RS_BUDGET) - want), `rival ${k}`).toBeLessThanOrEqual(1e-9 * want);
        });
        if (bid === 0) expect(rs(rv, 0, L.RS_HV_LOST_TO_US)).toBe(0);
        else expect(rs(rv, 0, L.RS_HV_LOST_TO_US)).toBeGreaterThan(0);
        expect(rs(rv, 0, L.RS_HV_ENTERED)).toBeGreaterThan(0);
        expect(rs(rv, 0, L.RS_HV_ENTERED)).toBeLessThan(rs(rv, 0, L.RS_ENTERED));
      }
    }
  });

  it("with our agent out of the market, the rivals hold all conversion credit", () => {
    const { env } = run(0, 3000);
    for (let w = 0; w < 2; w++) {
      const st = env.statsOf(w);
      const rv = env.rivalStatsOf(w);
      expect(st[L.S_IMPRESSIONS]).toBe(0);
      const credit = cfg.rivals.reduce((a, _, k) => a + rs(rv, k, L.RS_CONVERSIONS), 0);
      expect(st[L.S_MARKET_CONVERSIONS]).toBeGreaterThan(5);
      expect(credit).toBeCloseTo(st[L.S_MARKET_CONVERSIONS], 9);
    }
  });
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const statsBytes = (xs: Float64Array[]) => sha(new Uint8Array(Float64Array.from(xs.flatMap((x) => Array.from(x))).buffer));

describe("world settings from the trainer", () => {
  /** Rival rows for iteration `it`: aggression and defense that vary by world and iteration. */
  function rows(it: number): Float32Array[] {
    const base = rivalRows(config);
    return Array.from({ length: 4 }, (_, w) => {
      const r = base.slice();
      for (let k = 0; k < NR; k++) {
        r[k * L.RIV_STRIDE + L.RIVF_VALUE_MULT] *= 0.6 + 0.2 * ((w + k + it) % 5);
        r[k * L.RIV_STRIDE + L.RIVF_DEFENSE_GAIN] = 1 + 0.3 * ((w * k + it) % 4);
      }
      return r;
    });
  }
  const schedule = (it: number): Omit<RunOptions, "hours"> => ({ rivalParams: it % 2 === 0 ? rows(it) : undefined, budgetScale: it === 1 ? 0.5 : it === 3 ? 0.8 : undefined });

  it("are deterministic in-process, with 1 and 2 workers and any split", async () => {
    const record = async (e: RolloutEngine) => {
      const out: string[] = [];
      for (let it = 0; it < 4; it++) {
        const r = await e.run({ hours: 30, ...schedule(it) });
        out.push(`${sha(iterationIpc(r))} ${statsBytes(r.worldStats)} ${statsBytes(r.rivalStats)}`);
      }
      return out;
    };
    const base = await record(engine({ threads: 0, worldsPerTask: 4 }));
    for (const [threads, split] of [[1, 3], [2, 1], [2, 2]] as const) {
      expect(await record(engine({ threads, worldsPerTask: split })), `threads ${threads}, split ${split}`).toEqual(base);
    }
  });

  it("are written into every world, persist in its state and carry over to later iterations", async () => {
    const e = engine();
    const given = rows(0);
    await e.run({ hours: 12, rivalParams: given, budgetScale: 0.5 });
    await e.run({ hours: 12 }); // nothing given: the worlds keep what they have
    for (let w = 0; w < 4; w++) {
      const st = e.worldState(w);
      expect(Buffer.from(st.buffer, st.byteOffset + L.H_RIVALS, given[w].byteLength).equals(Buffer.from(given[w].buffer))).toBe(true);
      expect(f64At(st, L.H_BUDGET_SCALE)).toBe(0.5);
      expect(f64At(st, L.H_DAILY_BUDGET_MICROS)).toBe(Math.floor(Math.floor(config.campaign.dailyBudget * 1e6) * 0.5));
      expect(f64At(st, L.H_FLIGHT_BUDGET_MICROS)).toBe(Math.floor(Math.floor(config.campaign.flightBudget * 1e6) * 0.5));
    }
  });

  it("scale 1 and the config's own rows change nothing", async () => {
    const a = engine();
    const b = engine();
    const own = Array.from({ length: 4 }, () => rivalRows(config));
    for (let it = 0; it < 2; it++) {
      const ra = await a.run({ hours: 30 });
      const rb = await b.run({ hours: 30, rivalParams: own, budgetScale: 1 });
      expect(sha(iterationIpc(rb))).toBe(sha(iterationIpc(ra)));
      expect(statsBytes(rb.worldStats)).toBe(statsBytes(ra.worldStats));
    }
  });

  it("a lower budget scale caps our daily spend at the scaled budget", async () => {
    // a policy that bids high: the budget binds
    const cfg = resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 1 }, campaign: { flightDays: 20, dailyBudget: 20, flightBudget: 400 } } });
    const e = new RolloutEngine({ config: cfg, seed: 2, worlds: 2, threads: 0 });
    engines.push(e);
    e.setPolicy(randomPolicy(spec, 3, 0.05), 1);
    const full = await e.run({ hours: 24 * 3 });
    const scaled = await e.run({ hours: 24 * 3, budgetScale: 0.25 });
    for (let w = 0; w < 2; w++) {
      const days = 3;
      expect(scaled.worldStats[w][L.S_SPEND]).toBeLessThanOrEqual(days * cfg.campaign.dailyBudget * 0.25 + 1e-6);
      expect(full.worldStats[w][L.S_SPEND]).toBeGreaterThan(days * cfg.campaign.dailyBudget * 0.25 * 1.5);
      expect(scaled.worldStats[w][L.S_BUDGET_EXHAUSTED_HOURS]).toBeGreaterThan(full.worldStats[w][L.S_BUDGET_EXHAUSTED_HOURS]);
    }
  });

  it("higher rival aggression raises rival spend and lowers our win rate", async () => {
    const quiet = engine();
    const loud = engine();
    const scaled = (m: number) => Array.from({ length: 4 }, () => {
      const r = rivalRows(config);
      for (let k = 0; k < NR; k++) r[k * L.RIV_STRIDE + L.RIVF_VALUE_MULT] *= m;
      return r;
    });
    await quiet.run({ hours: 24 });
    await loud.run({ hours: 24 });
    const q = await quiet.run({ hours: 72, rivalParams: scaled(0.5) });
    const l = await loud.run({ hours: 72, rivalParams: scaled(2) });
    const sum = (xs: Float64Array[], i: number) => xs.reduce((a, x) => a + x[i], 0);
    expect(sum(l.worldStats, L.S_RIVAL_SPEND)).toBeGreaterThan(1.3 * sum(q.worldStats, L.S_RIVAL_SPEND));
    const winRate = (r: typeof q) => sum(r.worldStats, L.S_IMPRESSIONS) / sum(r.worldStats, L.S_DECISIONS);
    expect(winRate(l)).toBeLessThan(winRate(q));
  });

  it("bad settings are refused with the field named, and nothing is taken", async () => {
    const e = engine();
    const good = rows(0);
    const bad = (mutate: (r: Float32Array[]) => void) => {
      const r = good.map((x) => x.slice());
      mutate(r);
      return r;
    };
    await expect(e.run({ hours: 1, rivalParams: good.slice(1) })).rejects.toThrow(/rivalParams must be an array of 4 Float32Arrays/);
    await expect(e.run({ hours: 1, rivalParams: bad((r) => { r[2] = r[2].subarray(1); }) })).rejects.toThrow(/rivalParams\[2\] must be a Float32Array of 120 values/);
    await expect(e.run({ hours: 1, rivalParams: bad((r) => { r[1][L.RIV_STRIDE + L.RIVF_STRATEGY] = 4; }) })).rejects.toThrow(/rivalParams\[1\]: rival 1 strategy .* is 4; it must be an integer in \[0, 3\]/);
    await expect(e.run({ hours: 1, rivalParams: bad((r) => { r[0][L.RIVF_QUALITY] = 0; }) })).rejects.toThrow(/rivalParams\[0\]: rival 0 quality .* is 0/);
    await expect(e.run({ hours: 1, rivalParams: bad((r) => { r[3][2 * L.RIV_STRIDE + L.RIVF_VALUE_MULT] = NaN; }) })).rejects.toThrow(/rivalParams\[3\]: rival 2 valueMult .* is NaN/);
    await expect(e.run({ hours: 1, rivalParams: bad((r) => { r[0][L.RIV_STRIDE - 1] = 1; }) })).rejects.toThrow(/unused slot 23 .* must be 0/);
    await expect(e.run({ hours: 1, budgetScale: 0 })).rejects.toThrow(/budgetScale must be a number in \(0, 1000\], got 0/);
    await expect(e.run({ hours: 1, budgetScale: Number.NaN })).rejects.toThrow(/budgetScale must be a number/);
    await expect(e.run({ hours: 1, budgetScale: 1e-4 })).rejects.toThrow(/leaves a daily budget of \$0\.00\d+ .*needs at least \$0\.01/);
    // nothing was taken: the run is the same as one that never saw the bad settings
    const ref = engine();
    expect(sha(iterationIpc(await e.run({ hours: 12 })))).toBe(sha(iterationIpc(await ref.run({ hours: 12 }))));
  });
});
