// What-if simulations (server/simulations, POST/GET/DELETE /v1/simulations): runSimulation's
// day-by-day record adds up to its totals and respects budgets; a job runs to completion in the
// worker pool with ordered percentiles, spend that adds up, marginal ROAS = Δrevenue/Δspend and
// previews consistent with the levels; the same request gives the same numbers whatever the task
// split, another seed other numbers; a repeated request is served from the cache; cancelling stops
// the running task in the pool (its thread is replaced) and queued jobs; the served policy flies
// the worlds; bad bodies are 400 naming the field; the risk rules give known answers.
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GaelpConfig, resolveConfig } from "../env/config.js";
import { EVAL_STREAM } from "../env/seeds.js";
import { createBidder } from "../agents/baselines/index.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { initialCanonical } from "../agents/policy/init.js";
import { PolicyBidder } from "../agents/policy/bidder.js";
import { DAILY_METRICS, runSimulation } from "../trainer/simulate.js";
import { quantileSorted } from "../trainer/stats.js";
import { type App, buildApp } from "../server/app.js";
import type { ServedPolicy } from "../server/contracts.js";
import { PRESETS, applyMultipliers, prepare } from "../server/simulations/plan.js";
import { type WorldsData, choosePivots, emptyWorlds, marginalRoas, risks } from "../server/simulations/analysis.js";
import type { SimulationJob, SimulationRequest } from "../server/simulations/schemas.js";

const tmp = () => mkdtempSync(join(tmpdir(), "gaelp-sims-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function poll(app: App, id: string, done: (j: SimulationJob) => boolean = (j) => j.status !== "queued" && j.status !== "processing", timeoutMs = 90_000): Promise<{ job: SimulationJob; progress: number[] }> {
  const t0 = Date.now();
  const progress: number[] = [];
  for (;;) {
    const r = await app.inject({ method: "GET", url: `/v1/simulations/${id}` });
    expect(r.statusCode).toBe(200);
    const job = r.json() as SimulationJob;
    progress.push(job.progress);
    if (done(job)) return { job, progress };
    if (Date.now() - t0 > timeoutMs) throw new Error(`simulation ${id} still ${job.status} after ${timeoutMs} ms`);
    await sleep(40);
  }
}

const post = (app: App, payload: unknown) => app.inject({ method: "POST", url: "/v1/simulations", payload: payload as object });

// a small what-if: 4 worlds x 4 days, two scenarios, three budget levels, every pivot
const SMALL = {
  market: "default",
  days: 4,
  worlds: 4,
  seed: 3,
  bidder: { name: "pacing" },
  campaign: { dailyBudget: 20 },
  scenarios: ["realistic", "pessimistic"],
  budgetMultipliers: [0.5, 2],
};

describe("runSimulation day by day", () => {
  const config = resolveConfig({ overrides: { population: { users: 600 }, market: { warmupDays: 1 }, campaign: { dailyBudget: 5, flightBudget: 15 } } });
  const days = 6;
  const whole = runSimulation({ config, bidder: createBidder("truthful"), worlds: 4, days, seed: 2, daily: true });

  it("adds up to the flight's totals, never spends over a budget, and splits spend by channel", () => {
    const nd = DAILY_METRICS.length;
    for (const w of whole.perWorld) {
      const rec = w.daily!;
      expect(rec.values.length).toBe(days * nd);
      const sums = DAILY_METRICS.map((_, k) => { let s = 0; for (let d = 0; d < days; d++) s += rec.values[d * nd + k]; return s; });
      const k = w.kpis;
      const want = [k.impressions, k.clicks, k.conversions, k.spend, k.revenue];
      sums.forEach((s, i) => expect(s).toBeCloseTo(want[i], 6));
      for (let d = 0; d < days; d++) {
        expect(rec.values[d * nd + 3]).toBeGreaterThanOrEqual(0);
        expect(rec.values[d * nd + 3]).toBeLessThanOrEqual(5 + 1e-6);
      }
      expect(k.spend).toBeLessThanOrEqual(15 + 1e-6);
      expect(Array.from(rec.channelSpend).reduce((a, b) => a + b, 0)).toBeCloseTo(k.spend, 6);
      // a truthful bidder runs out of its 15-dollar flight budget: nothing after its last day
      expect(k.budgetExhausted).toBe(1);
      for (let d = rec.lastDay + 1; d < days; d++) for (let m = 0; m < nd; m++) expect(rec.values[d * nd + m]).toBe(0);
    }
  });

  it("a flight budget spent early leaves days without spend", () => {
    expect(whole.perWorld.some((w) => w.daily!.lastDay < days - 1)).toBe(true);
  });

  it("a world group run with worldOffset gives the same worlds as one run, and daily changes no KPI", () => {
    const tail = runSimulation({ config, bidder: createBidder("truthful"), worlds: 2, days, seed: 2, daily: true, worldOffset: 2 });
    expect(tail.perWorld.map((w) => w.world)).toEqual([2, 3]);
    expect(tail.perWorld.map((w) => [w.kpis, Array.from(w.daily!.values)])).toEqual(whole.perWorld.slice(2).map((w) => [w.kpis, Array.from(w.daily!.values)]));
    const plain = runSimulation({ config, bidder: createBidder("truthful"), worlds: 4, days, seed: 2 });
    expect(plain.perWorld.map((w) => w.kpis)).toEqual(whole.perWorld.map((w) => w.kpis));
    expect(plain.perWorld[0].daily).toBeUndefined();
  });
});

describe("analysis rules (known answers)", () => {
  it("quantiles interpolate between order statistics (type 7)", () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 12);
    expect(quantileSorted([7], 0.9)).toBe(7);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });

  it("marginal ROAS is the ratio of mean differences; a spend that does not move has none", () => {
    const f = (xs: number[]) => Float64Array.from(xs);
    const m = marginalRoas(f([10, 20]), f([30, 40]), f([20, 40]), f([50, 60]), "t");
    expect(m.value).toBeCloseTo(20 / 15, 12);
    expect(m.lo!).toBeLessThanOrEqual(m.hi!);
    expect(marginalRoas(f([10, 20]), f([30, 40]), f([10, 20]), f([50, 60]), "t")).toEqual({ value: null, lo: null, hi: null });
  });

  /** Two worlds x 6 days: world 0 dips, overruns, fatigues and suffers under the threat; world 1 is steady. */
  function synthetic(): { real: WorldsData; threat: WorldsData } {
    const days = 6;
    const real = emptyWorlds(2, days);
    const threat = emptyWorlds(2, days);
    const set = (d: WorldsData, w: number, day: number, vals: number[]) => d.daily.set(vals, (w * days + day) * DAILY_METRICS.length);
    const rev0 = [20, 20, 20, 20, 2, 2];
    const clicks0 = [5, 5, 5, 5, 3.8, 3.8];
    for (let day = 0; day < days; day++) {
      set(real, 0, day, [100, clicks0[day], 1, 10, rev0[day]]);
      set(real, 1, day, [100, 5, 1, 10, 14]);
      set(threat, 0, day, [100, 5, 1, 10, 10.5]);
      set(threat, 1, day, [100, 5, 1, 10, 14]);
    }
    real.exhausted[0] = 1;
    real.lastDay[0] = 3;
    real.lastDay[1] = 5;
    return { real, threat };
  }

  it("the four risks follow their stated rules", () => {
    const { real, threat } = synthetic();
    const r = Object.fromEntries(risks(real, threat, 1.25).map((x) => [x.kind, x]));
    // dip: 2-day windows from day 2; world 0's trough (2+2)/20 = 0.2 vs flight ROAS 84/60 = 1.4
    expect(r.performance_dip).toMatchObject({ worldsAffected: 1, worldsAssessed: 2, probability: 0.5, severity: "high" });
    expect(r.performance_dip.impact).toBeCloseTo(1 - 0.2 / 1.4, 12);
    // overrun: world 0's budget ran out on day 3 of 6 -> 2 dark days
    expect(r.budget_overrun).toMatchObject({ worldsAffected: 1, worldsAssessed: 2, probability: 0.5, severity: "high" });
    expect(r.budget_overrun.impact).toBeCloseTo(2 / 6, 12);
    // fatigue: CTR 0.038 in the last 2 days vs 0.05 in the first 2 -> impact 0.24, 0.5 x 0.24 = 0.12 -> medium
    expect(r.audience_fatigue).toMatchObject({ worldsAffected: 1, worldsAssessed: 2, probability: 0.5, severity: "medium" });
    expect(r.audience_fatigue.impact).toBeCloseTo(0.24, 12);
    // threat: world 0's ROAS 63/60 = 1.05 vs 1.4 -> impact 0.25, 0.5 x 0.25 = 0.125 -> medium
    expect(r.competitor_threat).toMatchObject({ worldsAffected: 1, worldsAssessed: 2, probability: 0.5, severity: "medium" });
    expect(r.competitor_threat.impact).toBeCloseTo(0.25, 12);
    // nothing happening is severity none
    const calm = risks(threat, threat, 1.25).find((x) => x.kind === "competitor_threat")!;
    expect(calm).toMatchObject({ probability: 0, severity: "none", impact: null });
  });

  it("pivots: the lowest-ROAS channel is dropped, an early-spending daily budget is paced evenly, the most profitable level is the reallocation", () => {
    const base = resolveConfig({ overrides: { campaign: { channels: ["search", "social", "display"], dailyBudget: 30, flightBudget: 120 } } });
    const { real } = synthetic();
    // world spend and credited value by channel: display has the lowest ROAS
    real.channelSpend.set([10, 10, 40, 0, 0], 0);
    real.channelValue.set([30, 20, 8, 0, 0], 0);
    const level = (m: number, profitPerDay: number): { multiplier: number; config: GaelpConfig; data: WorldsData } => {
      const data = emptyWorlds(2, 6);
      for (let i = 0; i < 12; i++) data.daily.set([1, 0, 0, 10, 10 + profitPerDay], i * DAILY_METRICS.length);
      return { multiplier: m, config: applyMultipliers(base, { ...PRESETS.realistic, budget: m }), data };
    };
    const pivots = Object.fromEntries(choosePivots(base, real, [level(0.5, 1), level(1, 2), level(2, 3)]).map((p) => [p.kind, p]));
    expect(pivots.channel_shift.config!.campaign.channels).toEqual(["search", "social"]);
    expect(pivots.timing.config!.campaign.dailyBudget).toBeCloseTo(120 / 6, 12); // 30 x 6 days > 120
    expect(pivots.budget_reallocation.config!.campaign.dailyBudget).toBe(60);
    expect(pivots.creative_refresh.config!.fatigue.creativePerExposure).toBeCloseTo(base.fatigue.creativePerExposure / 2, 12);
  });

  it("scenario multipliers land on the world parameters they are documented to move", () => {
    const base = resolveConfig();
    const c = applyMultipliers(base, { budget: 2, competition: 1.5, seasonality: 0.5, fatigue: 3 });
    expect(c.campaign.dailyBudget).toBe(base.campaign.dailyBudget * 2);
    expect(c.campaign.flightBudget).toBe(base.campaign.flightBudget * 2);
    expect(c.rivals.map((r) => r.valueMult)).toEqual(base.rivals.map((r) => r.valueMult * 1.5));
    expect(c.market.rivalBudgetScale).toBe(base.market.rivalBudgetScale * 1.5);
    expect(c.market.activityScale).toBe(base.market.activityScale * 0.5);
    expect(c.fatigue.creativePerExposure).toBeCloseTo(base.fatigue.creativePerExposure * 3, 12);
    expect(c.fatigue.userPerAd).toBeCloseTo(base.fatigue.userPerAd * 3, 12);
  });

  it("normalisation: key order, channel order and listing the current budget level do not change the request's hash", () => {
    const a = prepare({ days: 5, campaign: { channels: ["social", "search"], dailyBudget: 10 }, budgetMultipliers: [2, 0.5] }, undefined);
    const b = prepare({ budgetMultipliers: [0.5, 1, 2], campaign: { dailyBudget: 10, channels: ["search", "social"] }, days: 5 }, undefined);
    expect(a.hash).toBe(b.hash);
    expect(a.request.budgetMultipliers).toEqual([0.5, 1, 2]);
    expect(a.request.campaign.flightBudget).toBe(50); // dailyBudget x days
    expect(a.request.bidder).toEqual({ name: "pacing", params: { eta: 0.05, mu0: 0, muMax: 100, profileRate: 0.2 } });
    expect(a.request.scenarios.map((s) => s.name)).toEqual(["realistic", "optimistic", "pessimistic"]);
    expect(prepare({ days: 5, campaign: { dailyBudget: 11 } }, undefined).hash).not.toBe(a.hash);
  });
});

describe("POST/GET/DELETE /v1/simulations", () => {
  let appA: App;
  let appB: App;
  let first: SimulationJob;

  beforeAll(async () => {
    const dir = tmp();
    appA = await buildApp({ runsRoot: dir, dataDir: join(dir, "data"), loadShedding: false, simulations: { worldsPerTask: 2 } });
    const dir2 = tmp();
    appB = await buildApp({ runsRoot: dir2, dataDir: join(dir2, "data"), loadShedding: false, simulations: { worldsPerTask: 64, maxQueued: 1, maxJobs: 3 } });
  });
  afterAll(async () => {
    await appA?.close();
    await appB?.close();
  });

  it("runs a small simulation to completion: ordered percentiles, spend that adds up within budget, consistent levels and previews", async () => {
    const r = await post(appA, SMALL);
    expect(r.statusCode).toBe(202);
    expect(r.headers.location).toBe(`/v1/simulations/${r.json().id}`);
    const { job, progress } = await poll(appA, r.json().id);
    first = job;
    expect(job.status).toBe("completed");
    expect(job.error).toBeNull();
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    expect(progress.at(-1)).toBe(1);
    expect(job.stats.tasksDone).toBe(job.stats.tasks);
    const res = job.result!;
    expect(res.scenarios.map((s) => s.name)).toEqual(["realistic", "pessimistic"]);

    const ordered = (q: { p10: number | null; p50: number | null; p90: number | null }) => {
      if (q.p50 === null) return expect([q.p10, q.p90]).toEqual([null, null]);
      expect(q.p10!).toBeLessThanOrEqual(q.p50);
      expect(q.p50).toBeLessThanOrEqual(q.p90!);
    };
    for (const s of res.scenarios) {
      for (const series of Object.values(s.daily)) {
        expect(series.p50.length).toBe(4);
        series.p50.forEach((_, d) => ordered({ p10: series.p10[d], p50: series.p50[d], p90: series.p90[d] }));
      }
      for (const t of Object.values(s.totals)) ordered(t);
      // mean daily spend adds up to the mean flight spend; no world spends over a day's or the flight's budget
      const sum = s.daily.spend.mean.reduce((a, b) => a! + b!, 0)!;
      expect(sum).toBeCloseTo(s.totals.spend.mean!, 6);
      for (const p90 of s.daily.spend.p90) expect(p90!).toBeLessThanOrEqual(s.budget.daily + 1e-6);
      expect(s.totals.spend.p90!).toBeLessThanOrEqual(s.budget.flight + 1e-6);
      expect(s.totals.spend.mean!).toBeGreaterThan(0);
    }

    // budget levels: ascending, 1 included, the x1 level is the realistic scenario's own run
    expect(res.budgetLevels.map((l) => l.multiplier)).toEqual([0.5, 1, 2]);
    const one = res.budgetLevels[1];
    expect(one.spend.mean).toBe(res.scenarios[0].totals.spend.mean);
    expect(one.revenue.mean).toBe(res.scenarios[0].totals.revenue.mean);
    expect(res.budgetLevels[0].marginalRoas).toBeNull();
    for (let i = 1; i < res.budgetLevels.length; i++) {
      const [lo, hi] = [res.budgetLevels[i - 1], res.budgetLevels[i]];
      const m = hi.marginalRoas!;
      expect(m.value).toBe((hi.revenue.mean! - lo.revenue.mean!) / (hi.spend.mean! - lo.spend.mean!));
      expect(m.lo!).toBeLessThanOrEqual(m.hi!);
      expect(hi.spend.lo!).toBeLessThanOrEqual(hi.spend.hi!);
    }

    expect(res.risks.map((x) => x.kind)).toEqual(["performance_dip", "budget_overrun", "audience_fatigue", "competitor_threat"]);
    for (const x of res.risks) {
      expect(x.probability).toBeCloseTo(x.worldsAssessed === 0 ? 0 : x.worldsAffected / x.worldsAssessed, 12);
      const e = x.probability * (x.impact ?? 0);
      expect(x.severity).toBe(x.worldsAffected === 0 ? "none" : e >= 0.15 ? "high" : e >= 0.05 ? "medium" : "low");
    }

    expect(res.recommendations.map((x) => x.kind)).toEqual(["budget_reallocation", "creative_refresh", "channel_shift", "timing"]);
    for (const rec of res.recommendations) {
      if (!rec.applicable) continue;
      expect(rec.preview!.profit.n).toBe(4);
      expect(rec.recommended).toBe(rec.preview!.profit.lo! > 0);
    }
    // the reallocation preview is the paired difference between its level and the realistic run
    const realloc = res.recommendations[0];
    const target = res.budgetLevels.find((l) => l.dailyBudget === realloc.changes[0].to)!;
    expect(realloc.preview!.spend.mean!).toBeCloseTo(target.spend.mean! - one.spend.mean!, 9);
    expect(realloc.preview!.revenue.mean!).toBeCloseTo(target.revenue.mean! - one.revenue.mean!, 9);

    const metrics = await appA.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain('gaelp_simulations_total{status="completed"} 1');
  });

  it("a repeated request (keys in another order) is answered from the cache with the same id, without simulating again", async () => {
    const before = appA.gaelp.simulations.tasksRun;
    const reordered = { budgetMultipliers: [2, 1, 0.5], scenarios: ["pessimistic", "realistic"], campaign: { dailyBudget: 20 }, bidder: { name: "pacing", params: { eta: 0.05 } }, seed: 3, worlds: 4, days: 4, market: "default" };
    const r = await post(appA, reordered);
    expect(r.statusCode).toBe(200);
    const job = r.json() as SimulationJob;
    expect(job.id).toBe(first.id);
    expect(job.cached).toBe(true);
    expect(job.result).toEqual(first.result);
    expect(appA.gaelp.simulations.tasksRun).toBe(before);
  });

  it("another seed gives other numbers", async () => {
    const r = await post(appA, { ...SMALL, seed: 4, recommendations: false, scenarios: ["realistic"], budgetMultipliers: [1] });
    expect(r.statusCode).toBe(202);
    const { job } = await poll(appA, r.json().id);
    expect(job.status).toBe("completed");
    expect(job.result!.recommendations).toEqual([]);
    expect(job.result!.scenarios[0].totals.spend.mean).not.toBe(first.result!.scenarios[0].totals.spend.mean);
    expect(job.result!.scenarios[0].daily.impressions).not.toEqual(first.result!.scenarios[0].daily.impressions);
  });

  it("the same request gives the same numbers in another server, whatever the split into tasks", async () => {
    const r = await post(appB, SMALL);
    expect(r.statusCode).toBe(202);
    expect(r.json().id).not.toBe(first.id);
    const { job } = await poll(appB, r.json().id);
    expect(job.status).toBe("completed");
    expect(job.requestSha256).toBe(first.requestSha256);
    expect(job.result).toEqual(first.result);
  });

  it("cancelling a running job aborts its task in the pool (the thread is replaced); a queued job is cancelled; a full queue is 429", async () => {
    const svc = appB.gaelp.simulations;
    const big = await post(appB, { market: "default", worlds: 64, days: 30, seed: 9, recommendations: false, scenarios: ["realistic"], budgetMultipliers: [1] });
    expect(big.statusCode).toBe(202);
    const id = big.json().id;
    const waiting = await post(appB, { market: "default", worlds: 2, days: 2, seed: 9 });
    expect(waiting.statusCode).toBe(202);
    expect(waiting.json().status).toBe("queued");
    const refused = await post(appB, { market: "default", worlds: 2, days: 2, seed: 10 });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe("simulation_queue_full");

    await poll(appB, id, (j) => j.status === "processing");
    const t0 = Date.now();
    while (svc.poolStats().inflight === 0 && Date.now() - t0 < 10_000) await sleep(20);
    await sleep(300); // the task is running in the worker
    const threadsBefore = svc.poolStats().threadIds;
    expect(threadsBefore.length).toBe(1);

    const del = await appB.inject({ method: "DELETE", url: `/v1/simulations/${id}` });
    expect(del.statusCode).toBe(200);
    expect(del.json().status).toBe("cancelled");
    const delQueued = await appB.inject({ method: "DELETE", url: `/v1/simulations/${waiting.json().id}` });
    expect(delQueued.json().status).toBe("cancelled");

    const t1 = Date.now();
    while (svc.poolStats().inflight > 0 && Date.now() - t1 < 5_000) await sleep(10);
    expect(svc.poolStats()).toMatchObject({ inflight: 0, poolQueue: 0 });
    // the aborted task's thread was terminated and replaced (a 64-world x 30-day task runs for seconds)
    const t2 = Date.now();
    while ((svc.poolStats().threadIds.length !== 1 || svc.poolStats().threadIds[0] === threadsBefore[0]) && Date.now() - t2 < 5_000) await sleep(20);
    expect(svc.poolStats().threadIds).toHaveLength(1);
    expect(svc.poolStats().threadIds[0]).not.toBe(threadsBefore[0]);

    const after = (await appB.inject({ method: "GET", url: `/v1/simulations/${id}` })).json() as SimulationJob;
    expect(after.status).toBe("cancelled");
    expect(after.result).toBeNull();
    expect((await appB.inject({ method: "DELETE", url: `/v1/simulations/${id}` })).statusCode).toBe(200);
    const metrics = await appB.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain('gaelp_simulations_total{status="cancelled"} 2');
  });

  it("the served policy flies the worlds (as runSimulation with the same PolicyBidder measures them); the oldest finished job is evicted", async () => {
    const config = resolveConfig({ overrides: { population: { users: 600 }, market: { warmupDays: 1 } } });
    const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden: [16] });
    const weights = initialCanonical(spec, 5);
    const served: ServedPolicy = { run: "fake-run", step: 7, version: 3, spec, weights, config, loadedAt: new Date(0).toISOString() };
    appB.gaelp.policy = { current: () => served };
    const body: SimulationRequest = { worlds: 2, days: 3, seed: 5, recommendations: false, scenarios: ["realistic"], budgetMultipliers: [1] };

    const r = await post(appB, body);
    expect(r.statusCode).toBe(202);
    const { job } = await poll(appB, r.json().id);
    expect(job.status).toBe("completed");
    expect(job.request.bidder.name).toBe("policy");
    expect(job.request.market).toBe("served");
    expect(job.result!.bidder).toMatchObject({ name: "policy", run: "fake-run", step: 7, policyVersion: 3 });
    expect(job.result!.bidder.weightsSha256).toBe(createHash("sha256").update(new Uint8Array(weights.buffer)).digest("hex"));

    const p = prepare(body, served);
    const direct = runSimulation({ config: p.base, bidder: new PolicyBidder({ spec, weights }), worlds: 2, days: 3, seed: 5, stream: EVAL_STREAM });
    const spend = direct.perWorld.map((w) => w.kpis.spend);
    expect(job.result!.scenarios[0].totals.spend.mean).toBeCloseTo((spend[0] + spend[1]) / 2, 9);
    expect(spend[0] + spend[1]).toBeGreaterThan(0);

    // store of 3 jobs: the first (completed) one was evicted to make room
    expect((await appB.inject({ method: "GET", url: `/v1/simulations/${first.id}` })).statusCode).toBe(404);
    // a campaign whose creatives the policy cannot choose between
    const bad = await post(appB, { ...body, campaign: { creatives: [{ ctrMult: 1 }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe("body.campaign.creatives");
  });

  it("bad bodies are 400 naming the field; unknown ids 404; a completed job cannot be cancelled", async () => {
    const cases: [unknown, string][] = [
      [{ worlds: 1000 }, "body.worlds"],
      [{ days: 0 }, "body.days"],
      [{ foo: 1 }, "body.foo"],
      [{ campaign: { dailyBudget: "30" } }, "body.campaign.dailyBudget"],
      [{ scenarios: ["hopeful"] }, "body.scenarios[0]"],
      [{ bidder: { name: "linear", params: { eta: 0.1 } } }, "body.bidder.params.eta"],
      [{ bidder: { name: "pacing", params: { eta: 0 } } }, "body.bidder.params.eta"],
      [{ campaign: { surge: { startDay: 5, endDay: 3, activityMult: 1, valueMult: 1 } } }, "body.campaign.surge.endDay"],
      [{ customScenarios: [{ name: "realistic" }] }, "body.customScenarios[0].name"],
      [{ customScenarios: [{ name: "a" }, { name: "a" }] }, "body.customScenarios[1].name"],
      [{ budgetMultipliers: [] }, "body.budgetMultipliers"],
    ];
    for (const [payload, field] of cases) {
      const r = await post(appA, payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json().field, JSON.stringify(payload)).toBe(field);
    }
    const noPolicy = await post(appA, { bidder: { name: "policy" } });
    expect(noPolicy.statusCode).toBe(409);
    expect(noPolicy.json().field).toBe("body.bidder.name");
    expect((await appA.inject({ method: "GET", url: "/v1/simulations/sim_nope" })).statusCode).toBe(404);
    const badId = await appA.inject({ method: "GET", url: "/v1/simulations/no%20such!" });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().field).toBe("params.id");
    const done = await appA.inject({ method: "DELETE", url: `/v1/simulations/${first.id}` });
    expect(done.statusCode).toBe(409);
    expect(done.json().code).toBe("not_cancellable");
  });
});
