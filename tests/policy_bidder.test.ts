// Train/eval parity: a policy acting through the env's public API (PolicyBidder) makes exactly the
// decisions the engine's greedy rollout records for the same worlds, and leaves every world in the
// same bytes (so every KPI agrees). Negative controls show the comparison can fail.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { RecordBatch } from "apache-arrow";
import { PolicyBidder } from "../agents/policy/bidder.js";
import { canonicalFromBytes, canonicalToBytes, defaultPolicySpec, policySize, policySpecFromJson } from "../agents/policy/spec.js";
import { RolloutEngine } from "../engine/rollout_engine.js";
import { resolveConfig } from "../env/config.js";
import { VectorEnv } from "../env/vector_env.js";
import * as L from "../wasm/layout.js";
import { writeParams } from "../env/params.js";
import { TsWorldCore } from "../wasm/reference/world/index.js";
import * as refMem from "../wasm/reference/world/mem.js";
import { randomPolicy } from "./helpers/policy.js";

// small worlds with short flights, so the rollout crosses a flight end and first-price auctions
// (display) where the bid is the price
const config = resolveConfig({ overrides: { population: { users: 800 }, market: { warmupDays: 2 }, campaign: { flightDays: 2 }, journey: { timeoutDays: 2 } } });
const spec = defaultPolicySpec(config.campaign.creatives.length);
const weights = randomPolicy(spec, 11);
const SEED = 5;
const WORLDS = 3;
const HOURS = 60; // past the first 2-day flight
const untilHour = config.market.warmupDays * 24 + HOURS;

const engines: RolloutEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

interface Decision {
  decision: number;
  level: number;
  creative: number;
  bid: number;
}

async function greedyRollout(w: Float32Array): Promise<{ rows: Decision[][]; states: Uint8Array[] }> {
  const engine = new RolloutEngine({ config, policy: spec, seed: SEED, worlds: WORLDS, threads: 0 });
  engines.push(engine);
  engine.setPolicy(w, 1);
  const it = await engine.run({ hours: HOURS, greedy: true });
  const rows = it.batches.map((b: RecordBatch) => {
    const col = (name: string) => Array.from(b.getChild(name)!, Number);
    const [decision, level, creative, bid] = ["decision", "bid_level", "creative", "bid"].map(col);
    return decision.map((d, i) => ({ decision: d, level: level[i], creative: creative[i], bid: bid[i] }));
  });
  return { rows, states: Array.from({ length: WORLDS }, (_, k) => engine.worldState(k)) };
}

/** Steps `env` with `bidder` until every world's pending decision is at or after untilHour,
 *  recording each world's decisions before that hour. */
function envRollout(env: VectorEnv, bidder: PolicyBidder): Decision[][] {
  const n = env.numEnvs;
  bidder.reset(n, config);
  let [obs, info] = env.reset();
  const out = Array.from({ length: n }, () => [] as Decision[]);
  const action = { bid: new Float32Array(n), creative: new Int32Array(n) };
  for (;;) {
    let pending = 0;
    for (let w = 0; w < n; w++) if (info[w * L.INFO_DIM + L.I_HOUR] < untilHour) pending++;
    if (pending === 0) return out;
    bidder.act(obs, info, action);
    for (let w = 0; w < n; w++) {
      if (info[w * L.INFO_DIM + L.I_HOUR] >= untilHour) continue;
      out[w].push({ decision: info[w * L.INFO_DIM + L.I_DECISION_ID], level: bidder.lastLevels[w], creative: action.creative[w], bid: action.bid[w] });
    }
    [obs, , , , info] = env.step(action);
  }
}

/** Zeroes what only the experience writer keeps in a world: each user's latest decision id, so a
 *  journey end can be marked on its row (wasm/assembly/experience.ts: DEVS record bytes 24..27).
 *  Observations never read it. Offsets from the plain-TS reference's layout of this config. */
function maskExperienceBookkeeping(world: Uint8Array): void {
  for (let u = 0; u < config.population.users; u++) world.fill(0, refMem.DEVS + u * refMem.DEV_STRIDE + 24, refMem.DEVS + u * refMem.DEV_STRIDE + 28);
}
const ref = new TsWorldCore();
writeParams(config, 1, ref.params);
ref.configure();

describe("PolicyBidder acts as the engine's greedy rollout", () => {
  it("makes the same decisions (level, creative, float32 bid) as the rows of the rollout, in one env of all worlds", async () => {
    const { rows } = await greedyRollout(weights);
    const env = VectorEnv.create({ config, numWorlds: WORLDS, seed: SEED });
    const got = envRollout(env, new PolicyBidder({ spec, weights }));
    for (let w = 0; w < WORLDS; w++) {
      expect(rows[w].length).toBeGreaterThan(200);
      expect(got[w]).toEqual(rows[w]);
    }
    // the check is not vacuous: the policy spreads over bid levels and creatives
    const all = rows.flat();
    expect(new Set(all.map((r) => r.level)).size).toBeGreaterThan(3);
    expect(new Set(all.map((r) => r.creative)).size).toBeGreaterThan(1);
  });

  it("leaves every world in the engine's bytes (same users, budgets, statistics: same KPIs)", async () => {
    const { states } = await greedyRollout(weights);
    for (let w = 0; w < WORLDS; w++) {
      // one world per env, stopped exactly where the rollout stopped
      const env = VectorEnv.create({ config, numWorlds: 1, seed: SEED, worldOffset: w });
      envRollout(env, new PolicyBidder({ spec, weights }));
      const mine = env.serializeWorld(0);
      expect(mine.length).toBe(states[w].length);
      const theirs = states[w].slice();
      // the rollout's experience bookkeeping differs, and only it: unmasked, the bytes differ
      expect(Buffer.compare(Buffer.from(mine), Buffer.from(theirs))).not.toBe(0);
      maskExperienceBookkeeping(mine);
      maskExperienceBookkeeping(theirs);
      expect(Buffer.compare(Buffer.from(mine), Buffer.from(theirs)), `world ${w}`).toBe(0);
      const stats = env.statsOf(0, "total");
      expect(stats[L.S_DECISIONS]).toBeGreaterThan(200);
      expect(stats[L.S_IMPRESSIONS]).toBeGreaterThan(0);
    }
  });

  it("negative controls: other weights, or sampling, give other decisions", async () => {
    const { rows } = await greedyRollout(weights);
    const other = envRollout(VectorEnv.create({ config, numWorlds: WORLDS, seed: SEED }), new PolicyBidder({ spec, weights: randomPolicy(spec, 12) }));
    expect(other[0]).not.toEqual(rows[0]);
    const sampled = envRollout(VectorEnv.create({ config, numWorlds: WORLDS, seed: SEED }), new PolicyBidder({ spec, weights, greedy: false, seed: 3 }));
    expect(sampled[0]).not.toEqual(rows[0]);
    // sampling is reproducible from its seed
    const again = envRollout(VectorEnv.create({ config, numWorlds: WORLDS, seed: SEED }), new PolicyBidder({ spec, weights, greedy: false, seed: 3 }));
    expect(again).toEqual(sampled);
  });
});

describe("PolicyBidder input checks", () => {
  it("rejects weights of the wrong size and a campaign with another number of creatives", () => {
    expect(() => new PolicyBidder({ spec, weights: new Float32Array(10) })).toThrow(/Float32Array of \d+ values/);
    const two = resolveConfig({ overrides: { campaign: { creatives: [{ ctrMult: 1, affinity: [1, 1, 1, 1, 1, 1] }, { ctrMult: 1, affinity: [1, 1, 1, 1, 1, 1] }] } } });
    expect(() => new PolicyBidder({ spec, weights }).reset(1, two)).toThrow(/3 creatives, the campaign has 2 \(campaign\.creatives\)/);
    expect(() => new PolicyBidder({ spec, weights }).act(new Float32Array(L.OBS_DIM), new Float64Array(L.INFO_DIM), { bid: new Float32Array(1), creative: new Int32Array(1) })).toThrow(/reset/);
  });
});

describe("policy files", () => {
  it("weights round-trip through little-endian bytes bit for bit", () => {
    fc.assert(
      fc.property(fc.float32Array({ minLength: policySize(spec), maxLength: policySize(spec), noNaN: true, noDefaultInfinity: true }), (w) => {
        const back = canonicalFromBytes(canonicalToBytes(w), spec);
        expect(Buffer.compare(Buffer.from(back.buffer), Buffer.from(w.buffer))).toBe(0);
      }),
      { numRuns: 20 },
    );
    const bytes = canonicalToBytes(weights);
    expect(new DataView(bytes.buffer).getFloat32(4, true)).toBe(weights[1]);
  });

  it("names the problem in a bad weights file or spec", () => {
    expect(() => canonicalFromBytes(new Uint8Array(12), spec, "policy.f32")).toThrow(/policy\.f32: 12 bytes; .* needs \d+ float32 values/);
    const nan = canonicalToBytes(weights);
    new DataView(nan.buffer).setFloat32(8, Number.NaN, true);
    expect(() => canonicalFromBytes(nan, spec, "policy.f32")).toThrow(/policy\.f32: value 2 is NaN/);
    expect(policySpecFromJson(JSON.stringify(spec))).toEqual(spec);
    expect(() => policySpecFromJson("{", "policy_spec.json")).toThrow(/policy_spec\.json is not valid JSON/);
    expect(() => policySpecFromJson(JSON.stringify({ ...spec, extra: 1 }))).toThrow(/policy\.extra: unknown field/);
    expect(() => policySpecFromJson(JSON.stringify({ ...spec, hidden: [0] }))).toThrow(/policy\.hidden\.0/);
  });
});
