// The rollout engine: the same seed gives the same Arrow bytes whatever the number of workers and
// the task split; a worker that dies, throws or runs out of memory costs a retry, not a row;
// delayed credit is conserved; importance sampling is unbiased; another Arrow reader agrees.
import { describe, expect, it, afterAll } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Table, tableFromIPC, type RecordBatch } from "apache-arrow";
import { WorldRunner } from "../engine/world_runner.js";
import * as L from "../wasm/layout.js";
import { RolloutEngine, iterationIpc, lateIpc, type RolloutEngineOptions } from "../engine/rollout_engine.js";
import { EXPERIENCE_COLUMNS } from "../engine/experience.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { resolveConfig, type GaelpConfig } from "../env/config.js";
import { randomPolicy } from "./helpers/policy.js";
import { readIpcWithPolars } from "./helpers/polars.js";

// small worlds with short journeys, so conversions, losses and flight ends all happen in a few days
const config = resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 2 }, campaign: { flightDays: 4 }, journey: { timeoutDays: 2 } } });
const spec = defaultPolicySpec(config.campaign.creatives.length);
const weights = randomPolicy(spec, 11);
const engines: RolloutEngine[] = [];
afterAll(async () => { await Promise.all(engines.map((e) => e.close())); });

function engine(opts: Partial<RolloutEngineOptions> & { config?: GaelpConfig } = {}): RolloutEngine {
  const e = new RolloutEngine({ config, seed: 5, worlds: 6, threads: 0, ...opts });
  e.setPolicy(weights, 7);
  engines.push(e);
  return e;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Runs `iterations` iterations of `hours`; returns each iteration's experience and late bytes. */
async function record(e: RolloutEngine, iterations: number, hours: number, fault?: Parameters<RolloutEngine["run"]>[0]["fault"]) {
  const out: { rows: string; late: string; n: number; retries: number }[] = [];
  for (let i = 0; i < iterations; i++) {
    const r = await e.run({ hours, fault: i === 1 ? fault : undefined });
    out.push({ rows: sha(iterationIpc(r)), late: sha(lateIpc(r)), n: r.rows, retries: r.retries });
  }
  return out;
}

function column(batches: RecordBatch[], name: string): number[] {
  const out: number[] = [];
  for (const b of batches) for (const v of b.getChild(name)!) out.push(Number(v));
  return out;
}

/** Lifetime total of stat s of world state bytes (closed flights + the current one). */
function lifetimeStat(state: Uint8Array, s: number): number {
  const f = new Float64Array(state.buffer, state.byteOffset, state.byteLength >> 3);
  return f[(L.H_STATS_TOTAL >> 3) + s] + f[(L.H_STATS_EPISODE >> 3) + s];
}

describe("determinism across workers and task splits", () => {
  it("gives identical Arrow bytes in-process, with 1 and 2 workers, and for any split", async () => {
    const base = await record(engine({ threads: 0, worldsPerTask: 6 }), 3, 30);
    expect(base[0].n).toBeGreaterThan(500);
    expect(base.some((x) => x.late !== base[0].late)).toBe(true); // late credit happens
    for (const [threads, split] of [[0, 1], [1, 4], [2, 1], [2, 2], [2, 5]] as const) {
      const got = await record(engine({ threads, worldsPerTask: split }), 3, 30);
      expect(got, `threads ${threads}, ${split} worlds per task`).toEqual(base);
    }
  });

  it("gives different bytes for another seed or policy", async () => {
    const a = await record(engine({ seed: 5 }), 1, 24);
    const b = await record(engine({ seed: 6 }), 1, 24);
    expect(b[0].rows).not.toBe(a[0].rows);
    const e = engine({ seed: 5 });
    e.setPolicy(randomPolicy(spec, 12), 7);
    const c = await record(e, 1, 24);
    expect(c[0].rows).not.toBe(a[0].rows);
  });
});

describe("fault tolerance", () => {
  const undisturbed = () => record(engine({ threads: 2, worldsPerTask: 2 }), 3, 24);
  for (const kind of ["exit", "throw", "oom"] as const) {
    it(`a worker that ${kind === "exit" ? "dies" : kind === "throw" ? "throws" : "exceeds its memory limit"} mid-task is retried with no lost or duplicated rows`, async () => {
      const want = await undisturbed();
      const e = engine({ threads: 2, worldsPerTask: 2, faultInjection: true, maxOldGenerationSizeMb: 48 });
      const got = await record(e, 3, 24, { task: 1, afterWorld: 0, kind });
      expect(got[1].retries).toBe(1);
      expect(got.map(({ rows, late, n }) => ({ rows, late, n }))).toEqual(want.map(({ rows, late, n }) => ({ rows, late, n })));
      expect(e.poolSize).toBe(2);
    });
  }

  it("fails the iteration with a clear error after the retries, and can run it again", async () => {
    const e = engine({ threads: 2, worldsPerTask: 3, faultInjection: true, maxRetries: 2 });
    await e.run({ hours: 12 });
    await expect(e.run({ hours: 12, fault: { task: 0, afterWorld: 0, kind: "exit", attempts: 3 } }))
      .rejects.toThrow(/iteration 1: task 0 \(worlds 0\.\.2\) failed 3 times; last error: .*exited/);
    const again = await e.run({ hours: 12 });
    const ref = engine({ threads: 0, worldsPerTask: 6 });
    await ref.run({ hours: 12 });
    expect(sha(iterationIpc(again))).toBe(sha(iterationIpc(await ref.run({ hours: 12 }))));
  });
});

describe("experience content", () => {
  it("credits conversion value to decision rows: rows + late credit = conversion value x our credit share", async () => {
    const e = engine({ worlds: 4, worldsPerTask: 4 });
    const before = Array.from({ length: 4 }, (_, w) => 0 * w);
    let credited = 0;
    let rows = 0;
    let decisions = 0;
    for (let i = 0; i < 4; i++) {
      const r = await e.run({ hours: 36 });
      credited += column(r.batches, "attributed_value").reduce((a, b) => a + b, 0);
      for (const b of r.late) {
        const kind = column([b], "kind");
        column([b], "value").forEach((v, k) => { if (kind[k] === L.LATE_CREDIT) credited += v; });
      }
      rows += r.rows;
      decisions += r.decisions;
      // decision ids are consecutive per world across iterations: nothing lost or duplicated
      for (const b of r.batches) {
        const d = column([b], "decision");
        d.forEach((x, k) => { if (k > 0) expect(x).toBe(d[k - 1] + 1); });
      }
    }
    let value = 0;
    for (let w = 0; w < 4; w++) {
      const st = e.worldState(w);
      value += lifetimeStat(st, L.S_REVENUE) + lifetimeStat(st, L.S_CENSORED_VALUE) - before[w];
      expect(lifetimeStat(st, L.S_DECISIONS)).toBeGreaterThan(0);
    }
    expect(rows).toBe(decisions);
    expect(value).toBeGreaterThan(100);
    expect(credited).toBeCloseTo(value, 6);
  });

  it("rows are consistent: reward = attributed - cost, cost only when won, bids from the levels", async () => {
    const r = await engine().run({ hours: 48 });
    const cost = column(r.batches, "cost");
    const won = column(r.batches, "won");
    const reward = column(r.batches, "reward");
    const attributed = column(r.batches, "attributed_value");
    const bid = column(r.batches, "bid");
    const ref = column(r.batches, "ref_value");
    const level = column(r.batches, "bid_level");
    const logp = column(r.batches, "logp");
    const ends = column(r.batches, "journey_end");
    for (let i = 0; i < r.rows; i++) {
      expect(reward[i]).toBeCloseTo(attributed[i] - cost[i], 3);
      if (!won[i]) expect(cost[i]).toBe(0);
      expect(cost[i]).toBeLessThanOrEqual(bid[i] + 1e-6);
      expect(bid[i]).toBeCloseTo(Math.min(spec.bidLevels[level[i]] * ref[i], config.campaign.bidMax), 4);
      expect(logp[i]).toBeLessThanOrEqual(0);
    }
    expect(won.some((x) => x === 1) && won.some((x) => x === 0)).toBe(true);
    expect(ends.filter((x) => x === 1).length).toBeGreaterThan(0);
    expect(ends.filter((x) => x === 2).length).toBeGreaterThan(0);
    expect(new Set(column(r.batches, "policy_version"))).toEqual(new Set([7]));
  });

  it("acts with the loaded policy: greedy rows take the argmax of its logits, sampled rows log their probability", async () => {
    const policy = new WorldRunner(config, spec, 1).policy;
    policy.setWeights(weights, 7);
    const nb = spec.bidLevels.length;
    const nc = spec.numCreatives;
    for (const greedy of [true, false]) {
      const r = await engine().run({ hours: 24, greedy });
      const t = new Table(r.batches);
      const obs = new Float32Array(t.numRows * L.OBS_DIM);
      let i = 0;
      for (const row of t.getChild("obs")!) obs.set((row as { toArray(): Float32Array }).toArray(), (i++) * L.OBS_DIM);
      const out = policy.forward(obs);
      const level = column(r.batches, "bid_level");
      const creative = column(r.batches, "creative");
      const logp = column(r.batches, "logp");
      const value = column(r.batches, "value");
      const w = nb + nc + 1;
      for (let k = 0; k < t.numRows; k++) {
        const o = out.subarray(k * w, (k + 1) * w);
        const lse = (a: Float32Array) => { const m = Math.max(...a); return m + Math.log(a.reduce((s, x) => s + Math.exp(x - m), 0)); };
        const bl = o.subarray(0, nb);
        const cl = o.subarray(nb, nb + nc);
        if (greedy) {
          expect(level[k]).toBe(bl.indexOf(Math.max(...bl)));
          expect(creative[k]).toBe(cl.indexOf(Math.max(...cl)));
        }
        expect(logp[k]).toBeCloseTo(bl[level[k]] - lse(bl) + cl[creative[k]] - lse(cl), 4);
        expect(value[k]).toBeCloseTo(o[nb + nc], 5);
      }
    }
  });

  it("samples each action with its softmax probability: counts per bid level and creative within 4.5 sd of the expected", async () => {
    const policy = new WorldRunner(config, spec, 1).policy;
    policy.setWeights(weights, 7);
    const nb = spec.bidLevels.length;
    const nc = spec.numCreatives;
    const w = nb + nc + 1;
    const r = await engine({ seed: 23 }).run({ hours: 144 });
    const t = new Table(r.batches);
    const obs = new Float32Array(t.numRows * L.OBS_DIM);
    let i = 0;
    for (const row of t.getChild("obs")!) obs.set((row as { toArray(): Float32Array }).toArray(), (i++) * L.OBS_DIM);
    const out = policy.forward(obs);
    const softmax = (a: Float32Array) => { const m = Math.max(...a); const e = Array.from(a, (x) => Math.exp(x - m)); const s = e.reduce((x, y) => x + y, 0); return e.map((x) => x / s); };
    for (const [name, from, n] of [["bid_level", 0, nb], ["creative", nb, nc]] as const) {
      const taken = column(r.batches, name);
      const expected = new Float64Array(n);
      const variance = new Float64Array(n);
      const observed = new Float64Array(n);
      for (let k = 0; k < t.numRows; k++) {
        const p = softmax(out.subarray(k * w + from, k * w + from + n));
        for (let j = 0; j < n; j++) {
          expected[j] += p[j];
          variance[j] += p[j] * (1 - p[j]);
        }
        observed[taken[k]]++;
      }
      expect(t.numRows).toBeGreaterThan(2000);
      for (let j = 0; j < n; j++) expect(Math.abs(observed[j] - expected[j]), `${name} ${j}`).toBeLessThanOrEqual(4.5 * Math.sqrt(variance[j]) + 1);
    }
  });
});

describe("importance sampling", () => {
  it("oversamples crisis parents, and weighted KPIs match a uniform sample within its 95% interval", async () => {
    const kpis = (batches: RecordBatch[], worlds: number) => {
      const per = Array.from({ length: worlds }, () => ({ rows: 0, cost: 0, value: 0, crisis: 0 }));
      for (const b of batches) {
        const world = column([b], "world");
        const weight = column([b], "weight");
        const cost = column([b], "cost");
        const value = column([b], "attributed_value");
        const seg = column([b], "segment");
        world.forEach((w, i) => {
          const k = per[w];
          k.rows += weight[i];
          k.cost += weight[i] * cost[i];
          k.value += weight[i] * value[i];
          if (seg[i] === 2) k.crisis += 1;
        });
      }
      return per;
    };
    const worlds = 12;
    const uniform = engine({ worlds, worldsPerTask: 12 });
    // crisis parents kept whole, every other segment's users kept with probability 1/2
    const overrides = { population: { users: 800, segments: { crisis_parent: { importanceWeight: 2 } } }, market: { warmupDays: 2 }, campaign: { flightDays: 4 }, journey: { timeoutDays: 2 } };
    const sampled = engine({ worlds, worldsPerTask: 12, config: resolveConfig({ overrides }) });
    const u = await uniform.run({ hours: 96 });
    const s = await sampled.run({ hours: 96 });
    expect(s.rows).toBeLessThan(u.rows * 0.65); // half of the common segments' users dropped
    const ku = kpis(u.batches, worlds);
    const ks = kpis(s.batches, worlds);
    const share = (k: typeof ku, r: number) => k.reduce((a, x) => a + x.crisis, 0) / r;
    expect(share(ks, s.rows)).toBeGreaterThan(1.6 * share(ku, u.rows)); // 1 / (p + (1 - p) / 2) ~ 1.86 x
    for (const key of ["rows", "cost", "value"] as const) {
      const xs = ku.map((k) => k[key]);
      const mean = xs.reduce((a, b) => a + b, 0) / worlds;
      const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (worlds - 1));
      const half = 2.2 * sd / Math.sqrt(worlds); // t(0.975, 11)
      const est = ks.reduce((a, k) => a + k[key], 0) / worlds;
      expect(Math.abs(est - mean), `${key}: weighted ${est} vs uniform ${mean} +- ${half}`).toBeLessThan(half);
      // and the weights are unbiased: the paired per-world difference is not significant
      const d = ks.map((k, w) => k[key] - ku[w][key]);
      const dm = d.reduce((a, b) => a + b, 0) / worlds;
      const dsd = Math.sqrt(d.reduce((a, b) => a + (b - dm) ** 2, 0) / (worlds - 1));
      expect(Math.abs(dm), `${key}: paired difference ${dm} +- ${2.2 * dsd / Math.sqrt(worlds)}`).toBeLessThan(2.2 * dsd / Math.sqrt(worlds));
    }
  });
});

describe("world resampling", () => {
  it("re-creates worlds from fresh seeds every k iterations, with per-world rival mixes", async () => {
    const cfg = resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 2, resampleRivals: 1, seasonPeriodJitter: 0.3 }, campaign: { flightDays: 4 } } });
    const e = engine({ config: cfg, resampleEvery: 2 });
    const r0 = await e.run({ hours: 12 });
    const strategies = (w: number) => {
      const st = e.worldState(w);
      const f = new Float32Array(st.buffer, st.byteOffset + L.H_RIVALS, L.MAX_RIVALS * L.RIV_STRIDE);
      return Array.from({ length: cfg.rivals.length }, (_, r) => f[r * L.RIV_STRIDE + L.RIVF_STRATEGY]);
    };
    const mixes = new Set(Array.from({ length: 6 }, (_, w) => strategies(w).join()));
    expect(mixes.size).toBeGreaterThan(1);
    const r1 = await e.run({ hours: 12 });
    const r2 = await e.run({ hours: 12 });
    expect(r1.fromHour).toBe(r0.untilHour);
    expect(r2.fromHour).toBe(r0.fromHour); // a new epoch starts over ...
    expect(sha(iterationIpc(r2))).not.toBe(sha(iterationIpc(r0))); // ... with other worlds
    expect(column(r2.batches, "decision")[0]).toBe(0);
  });
});

describe("documentation", () => {
  it("README's schema table lists every experience column with its Arrow type", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const c of EXPERIENCE_COLUMNS) expect(readme, c.name).toMatch(new RegExp(`\\| \`${c.name}\` \\| [a-z_0-9<>\\[\\]]+ \\|`));
  });
});

describe("independent Arrow reader", () => {
  it("nodejs-polars reads the experience stream: rows, schema and column sums agree", async () => {
    const r = await engine().run({ hours: 24 });
    const bytes = iterationIpc(r);
    const pl = readIpcWithPolars(bytes);
    expect(pl.rows).toBe(r.rows);
    expect(Object.keys(pl.schema)).toEqual(EXPERIENCE_COLUMNS.map((c) => c.name));
    expect(pl.schema.obs).toBe(`FixedSizeList(Float32,${L.OBS_DIM})`);
    expect(pl.schema.attributed_value).toBe("Float64");
    expect(pl.schema.world).toBe("UInt32");
    const t = tableFromIPC(bytes);
    for (const name of ["cost", "attributed_value", "won", "decision", "bid_level", "slot", "obs"]) {
      let want = 0;
      const v = t.getChild(name)!;
      if (name === "obs") for (const row of v) for (const x of row as Float32Array) want += x;
      else for (const x of v) want += Number(x);
      expect(pl.sums[name], name).toBeCloseTo(want, 2);
    }
  });
});
