// Evaluation: held-out worlds never coincide with training worlds; the grid search finds known
// optima (extending past the grid's edge, refining once, within bounds); evaluateRun reports the
// policy's KPIs exactly as runSimulation measures them on the held-out stream, the tuned
// parameters are the best points of their search, the paired advantage is the paired difference,
// and threads change nothing.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { EVAL_STREAM, TRAIN_STREAM, worldSeed } from "../env/seeds.js";
import { resolveConfig } from "../env/config.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { initialCanonical } from "../agents/policy/init.js";
import { PolicyBidder } from "../agents/policy/bidder.js";
import { createBidder } from "../agents/baselines/index.js";
import { runSimulation } from "../trainer/simulate.js";
import { type BidderGrid, type EvalOptions, type Objective, type ParamBounds, evalCsv, evalSummary, evaluateRun, formatEvalTable, gridSearch } from "../trainer/evaluate.js";
import { mean } from "../trainer/stats.js";

describe("seed streams", () => {
  it("held-out worlds never coincide with training worlds (epochs and salts) of the same root seed", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), (root) => {
        const key = ([lo, hi]: [number, number]) => `${lo}:${hi}`;
        const train = new Set<string>();
        for (let epoch = 0; epoch < 8; epoch++) {
          for (let i = 0; i < 128; i++) {
            train.add(key(worldSeed(root, i, TRAIN_STREAM + epoch)));
            train.add(key(worldSeed(root, i, 0x5a17 + epoch))); // the engine's salt streams
          }
        }
        for (let i = 0; i < 128; i++) expect(train.has(key(worldSeed(root, i, EVAL_STREAM)))).toBe(false);
      }),
      { numRuns: 25 },
    );
  });

  it("the same stream gives the same worlds, the eval stream other ones", () => {
    const config = resolveConfig({ overrides: { population: { users: 600 }, market: { warmupDays: 1 } } });
    const run = (stream: number) => runSimulation({ config, bidder: createBidder("truthful"), worlds: 2, days: 2, seed: 4, stream }).perWorld.map((w) => w.kpis);
    expect(run(EVAL_STREAM)).toEqual(run(EVAL_STREAM));
    expect(run(EVAL_STREAM)).not.toEqual(run(TRAIN_STREAM));
    // stream 0 is what runSimulation always used (the training worlds)
    expect(runSimulation({ config, bidder: createBidder("truthful"), worlds: 2, days: 2, seed: 4 }).perWorld.map((w) => w.kpis)).toEqual(run(TRAIN_STREAM));
  });
});

describe("gridSearch", () => {
  const open: ParamBounds = { lo: 0, hi: Infinity, loOpen: true };
  /** A deterministic objective with its peak at `peak` (one axis, log-concave). */
  const peaked = (peak: number, calls: Record<string, number>[][]): Objective => async (points) => {
    calls.push(points);
    return points.map((p) => {
      const m = -((Math.log(p.x) - Math.log(peak)) ** 2);
      return { mean: m, lo: m - 1, hi: m + 1 };
    });
  };

  it("finds an interior optimum: the grid, then thirds toward both neighbours of the best point", async () => {
    const calls: Record<string, number>[][] = [];
    const grid: BidderGrid = { x: { values: [0.1, 1, 10], scale: "log" } };
    const r = await gridSearch(grid, { x: open }, peaked(1.5, calls));
    expect(calls[0].map((p) => p.x)).toEqual([0.1, 1, 10]);
    const refine = calls[calls.length - 1].map((p) => p.x);
    for (const [got, want] of refine.map((x, i) => [x, [10 ** (-1 / 3), 10 ** (-2 / 3), 10 ** (1 / 3), 10 ** (2 / 3)][i]])) expect(got).toBeCloseTo(want, 5);
    expect(r.best.x).toBeCloseTo(10 ** (1 / 3), 5); // 2.15: the closest evaluated point to 1.5 in log
    expect(r.points.filter((p) => p.phase === "extend")).toEqual([]);
    expect(r.bestProfit).toBe(Math.max(...r.points.map((p) => p.profit)));
  });

  it("extends past the edge until the optimum is inside, then refines around it", async () => {
    const calls: Record<string, number>[][] = [];
    const r = await gridSearch({ x: { values: [0.1, 0.2, 0.4], scale: "log" } }, { x: open }, peaked(3, calls));
    const extended = r.points.filter((p) => p.phase === "extend").map((p) => p.params.x);
    expect(extended.map((x) => Number(x.toPrecision(6)))).toEqual([0.8, 1.6, 3.2, 6.4]);
    expect(r.grid.x.values.at(-1)).toBeCloseTo(6.4, 9);
    expect(r.best.x).toBeCloseTo(3.2, 9);
    expect(Math.abs(Math.log(r.best.x / 3))).toBeLessThan(Math.log(2) / 3);
  });

  it("never extends past a bound, and stops at it", async () => {
    const r = await gridSearch({ x: { values: [1, 2, 4], scale: "log" } }, { x: { lo: 0, hi: 5, loOpen: false } }, peaked(100, []));
    expect(r.points.map((p) => p.params.x).every((x) => x <= 5)).toBe(true);
    expect(r.best.x).toBe(5);
    const down = await gridSearch({ a: { values: [0.2, 0.4], scale: "linear" } }, { a: { lo: 0, hi: 10, loOpen: false } }, async (pts) => pts.map((p) => ({ mean: -p.a, lo: -p.a, hi: -p.a })));
    expect(down.best.a).toBe(0);
    expect(down.points.every((p) => p.params.a >= 0)).toBe(true);
  });

  it("searches every combination of a two-axis grid and refines along both axes", async () => {
    const f = (p: Record<string, number>) => -((p.u - 2) ** 2) - (Math.log(p.v) - Math.log(0.05)) ** 2;
    const r = await gridSearch(
      { u: { values: [0, 1, 2, 3, 4], scale: "linear" }, v: { values: [0.01, 0.1, 1], scale: "log" } },
      { u: { lo: 0, hi: 4, loOpen: false }, v: open },
      async (pts) => pts.map((p) => ({ mean: f(p), lo: f(p), hi: f(p) })),
    );
    expect(r.points.filter((p) => p.phase === "grid")).toHaveLength(15);
    expect(r.best.u).toBe(2);
    expect(r.best.v).toBeCloseTo(0.1 * 10 ** (-1 / 3), 5); // 0.046, the refinement point nearest 0.05
    const refine = r.points.filter((p) => p.phase === "refine");
    expect(refine.every((p) => p.params.u === 2 || Math.abs(p.params.v - 0.1) < 1e-12)).toBe(true);
  });
});

// small worlds and short flights keep every evaluation below a second
const config = resolveConfig({ overrides: { population: { users: 600 }, market: { warmupDays: 1 }, campaign: { flightDays: 3 } } });
const spec = defaultPolicySpec(config.campaign.creatives.length);
const weights = initialCanonical(spec, 7);
const small: EvalOptions = {
  config, spec, weights, scenario: "default", worlds: 4, days: 3, seed: 9, tuneWorlds: 2, threads: 0,
  grids: { fixed: { bid: { values: [0.05, 0.2, 0.8], scale: "log", max: config.campaign.bidMax } }, linear: { a: { values: [0.5, 1], scale: "linear" } }, pacing: { eta: { values: [0.01, 0.1], scale: "log" } } },
};

describe("evaluateRun", () => {
  it("reports the policy and every tuned baseline on the held-out worlds, as runSimulation measures them", async () => {
    const r = await evaluateRun(small);
    expect(Object.keys(r.bidders)).toEqual(["ppo", "truthful", "fixed", "linear", "pacing"]);
    expect(r.streams).toEqual({ eval: EVAL_STREAM, tune: TRAIN_STREAM });
    const direct = runSimulation({ config, bidder: new PolicyBidder({ spec, weights }), worlds: 4, days: 3, seed: 9, stream: EVAL_STREAM });
    expect(r.bidders.ppo.kpis).toEqual(direct.kpis);
    expect(r.bidders.ppo.perWorld).toEqual(direct.perWorld.map((w) => w.kpis));
    for (const b of ["fixed", "linear", "pacing"]) {
      const t = r.tuning[b];
      // the tuned parameters are the best point of the search, which includes its refinement
      expect(r.tuned[b]).toEqual(t.best);
      expect(t.bestProfit).toBe(Math.max(...t.points.map((p) => p.profit)));
      expect(t.points.some((p) => p.phase === "refine")).toBe(true);
      const direct = runSimulation({ config, bidder: createBidder(b, r.tuned[b]), worlds: 2, days: 3, seed: 9, stream: TRAIN_STREAM });
      expect(direct.kpis.find((k) => k.key === "profit")!.mean).toBe(t.bestProfit);
      expect(r.bidders[b].params).toEqual(r.tuned[b]);
    }
    expect(r.tuned.truthful).toEqual({});
    for (const b of ["truthful", "fixed", "linear", "pacing"]) {
      const adv = r.bidders[b].ppoAdvantage!;
      const diffs = r.bidders.ppo.perWorld.map((k, w) => k.profit - r.bidders[b].perWorld[w].profit);
      expect(adv.mean).toBeCloseTo(mean(diffs), 9);
      expect(adv.mean).toBeCloseTo(r.bidders.ppo.kpis.find((k) => k.key === "profit")!.mean - r.bidders[b].kpis.find((k) => k.key === "profit")!.mean, 9);
      expect(adv.lo).toBeLessThanOrEqual(adv.mean);
    }
    expect(r.bidders.ppo.ppoAdvantage).toBeUndefined();

    const summary = evalSummary(r) as { bidders: Record<string, Record<string, unknown>> };
    expect(summary.bidders.fixed.profit).toBe(r.bidders.fixed.kpis.find((k) => k.key === "profit")!.mean);
    expect((summary.bidders.fixed.profitCi as number[]).length).toBe(2);
    const csv = evalCsv(r).trim().split("\n");
    expect(csv[0]).toBe("bidder,metric,unit,mean,sd,ci95_lo,ci95_hi,n");
    expect(csv.filter((l) => l.startsWith("pacing,ppo_advantage.profit,"))).toHaveLength(1);
    const table = formatEvalTable(r);
    expect(table).toMatch(/│ metric\s+│ ppo\s+│ truthful\s+│ fixed\s+│ linear\s+│ pacing/);
    expect(table).toMatch(/eta=0\.\d+/);
  });

  it("gives the same report with worker threads (numbers do not depend on them)", async () => {
    const a = await evaluateRun({ ...small, baselines: ["linear"] });
    const b = await evaluateRun({ ...small, baselines: ["linear"], threads: 2 });
    expect(b.threads).toBe(2);
    const numbers = (r: typeof a) => Object.values(r.bidders).map(({ seconds: _, ...rest }) => rest);
    expect(numbers(b)).toEqual(numbers(a));
    expect(b.tuning.linear.points).toEqual(a.tuning.linear.points);
  });

  it("names the bad option", async () => {
    await expect(evaluateRun({ ...small, worlds: 1 })).rejects.toThrow(/worlds must be an integer >= 2, got 1/);
    await expect(evaluateRun({ ...small, weights: new Float32Array(5) })).rejects.toThrow(/weights must be a Float32Array of \d+ values/);
    await expect(evaluateRun({ ...small, spec: defaultPolicySpec(2) })).rejects.toThrow(/2 creatives; this config's campaign has 3 \(campaign\.creatives\)/);
    await expect(evaluateRun({ ...small, grids: { linear: { b: { values: [1, 2], scale: "linear" } } } })).rejects.toThrow(/bidder 'linear': no parameter 'b'; allowed: a/);
    await expect(evaluateRun({ ...small, grids: { pacing: { eta: { values: [0, 1], scale: "log" } } } })).rejects.toThrow(/grid pacing\.eta: value 0 is outside the allowed range \(0, 10\]/);
    await expect(evaluateRun({ ...small, grids: { fixed: { bid: { values: [2, 1], scale: "log" } } } })).rejects.toThrow(/values must increase/);
  });
});
