// Parity between the wasm world core (wasm/assembly, driven through VectorEnv) and its plain-TS
// reference (wasm/reference/world): the same config, seeds and bids must give the same outputs and
// the same world bytes.
//
// Exact: every integer-valued output and field (decisions, won, clicked, slot, channel, user,
// hour, episode, stage counts, terminal flags, user records, touchpoint rings, the RNG state),
// every f32 (observations, bids, user traits, fatigue) and the f64 fields computed with + - * /
// only (spend in micros, EMAs, rival budgets, the pending CTR).
// Within a relative 1e-9: the f64 fields that go through exp / log / pow / sin / cos, which the
// kernel takes from AssemblyScript's musl ports and the reference from V8 (last-ulp differences):
// conversion credit and everything accumulated from it (stats, attribution split, delay
// histograms, credited value), the calendar cache, the activity CDF, the market noise and the
// pending exp(-fatigue). The f32 reward is the rounding of such an accumulator: exact when the
// step's credited value is bit-identical, else within one f32 ulp.
import { describe, expect, it } from "vitest";
import * as L from "../wasm/layout.js";
import { VectorEnv, type StatsBlock } from "../env/vector_env.js";
import { resolveConfig, type GaelpConfig } from "../env/config.js";
import { writeParams } from "../env/params.js";
import { TruthfulBidder } from "../agents/baselines/truthful.js";
import { TsWorldCore } from "../wasm/reference/world/index.js";
import { rngSeed, nextU64, nextLo, below, skipDraws } from "../wasm/reference/world/rng.js";
import { newAction, ruleAction, smallConfig } from "./helpers/world.js";
import { rivalRows } from "../env/params.js";
import type { WorldSettings } from "../env/world_settings.js";

// ---- which f64 world fields are compared with a tolerance ------------------------------------------

interface F64Field {
  name: string;
  offset: number;
  count: number;
}
const f64 = (name: string, offset: number, count = 1): F64Field => ({ name, offset, count });

/** f64 header fields that depend on V8's vs musl's transcendental functions. */
const TOLERANT_F64: F64Field[] = [
  f64("H_MARKET_NOISE (log, cos)", L.H_MARKET_NOISE),
  f64("H_REWARD_ACC (credit: pow)", L.H_REWARD_ACC),
  f64("H_STATS_EPISODE (credit: pow)", L.H_STATS_EPISODE, 64),
  f64("H_STATS_LAST_EPISODE (credit: pow)", L.H_STATS_LAST_EPISODE, 64),
  f64("H_STATS_TOTAL (credit: pow)", L.H_STATS_TOTAL, 64),
  f64("H_ATTR_SPLIT (credit: pow)", L.H_ATTR_SPLIT, 32),
  f64("H_DELAY_HIST_ALL (credit: pow)", L.H_DELAY_HIST_ALL, L.DELAY_BINS),
  f64("H_DELAY_HIST_OURS (credit: pow)", L.H_DELAY_HIST_OURS, L.DELAY_BINS),
  f64("H_CLOCK_ACTIVITY..TREND (sin, pow)", L.H_CLOCK_ACTIVITY, 4),
  f64("H_SEG_CDF (activity table: exp)", L.H_SEG_CDF, L.NUM_SEGMENTS),
  f64("H_P_EXPF (fatigue tables: exp)", L.H_P_EXPF),
  ...Array.from({ length: L.MAX_RIVALS }, (_, r) => [
    f64(`H_RIVAL_STATS[${r}] RS_VALUE (fatigue tables: exp)`, L.H_RIVAL_STATS + 8 * (r * L.RIVAL_STATS + L.RS_VALUE)),
    f64(`H_RIVAL_STATS[${r}] RS_CONVERSIONS, RS_REVENUE (credit: pow)`, L.H_RIVAL_STATS + 8 * (r * L.RIVAL_STATS + L.RS_CONVERSIONS), 2),
  ]).flat(),
];
const REL_TOL = 1e-9;

function close(a: number, b: number): boolean {
  return Object.is(a, b) || Math.abs(a - b) <= REL_TOL * Math.max(Math.abs(a), Math.abs(b));
}

/** Names the header field or world array an offset falls in, for failure messages. */
function describeOffset(off: number): string {
  if (off >= L.HEADER_BYTES) return `world byte ${off} (past the header: users, events, segment lists, devices or rings)`;
  const named = Object.entries(L)
    .filter(([k, v]) => k.startsWith("H_") && typeof v === "number" && v <= off)
    .sort((a, b) => (b[1] as number) - (a[1] as number))[0];
  return named ? `header ${named[0]} + ${off - (named[1] as number)}` : `header byte ${off}`;
}

/** Per-field tallies of tolerant f64 words that were not bit-identical. */
type NearTally = Map<string, number>;

/** Compares one world's bytes: exact everywhere but the tolerant f64 fields. Returns problems. */
function compareWorld(wasmBytes: Uint8Array, tsBytes: Uint8Array, near: NearTally): string[] {
  if (wasmBytes.length !== tsBytes.length) return [`world sizes differ: wasm ${wasmBytes.length}, ts ${tsBytes.length}`];
  const a = wasmBytes.slice();
  const b = tsBytes.slice();
  const fa = new Float64Array(a.buffer);
  const fb = new Float64Array(b.buffer);
  const bad: string[] = [];
  for (const f of TOLERANT_F64) {
    for (let i = 0; i < f.count; i++) {
      const j = (f.offset >> 3) + i;
      const x = fa[j];
      const y = fb[j];
      if (!Object.is(x, y)) {
        if (close(x, y)) near.set(f.name, (near.get(f.name) ?? 0) + 1);
        else bad.push(`${f.name}[${i}]: wasm ${x}, ts ${y}`);
      }
      fa[j] = 0;
      fb[j] = 0;
    }
  }
  if (Buffer.compare(a, b) !== 0) {
    let first = 0;
    while (a[first] === b[first]) first++;
    let count = 0;
    for (let i = first; i < a.length; i++) if (a[i] !== b[i]) count++;
    bad.push(`${count} bytes differ, the first at ${describeOffset(first)}: wasm ${a[first]}, ts ${b[first]}`);
  }
  return bad;
}

// ---- running both cores side by side -------------------------------------------------------------

type Policy = (obs: Float32Array, info: Float64Array, out: { bid: Float32Array; creative: Int32Array }) => void;

interface ParityRun {
  steps: number;
  decisions: number;
  terminated: number;
  truncated: number;
  won: number;
  clicked: number;
  multiSlotWins: number;
  episodes: number;
  rewardNotBitIdentical: number;
  near: NearTally;
  mismatches: string[];
}

interface ParityOptions {
  config: GaelpConfig;
  numWorlds: number;
  seed: number;
  steps: number;
  policy: (config: GaelpConfig, n: number) => Policy;
  /** compare world bytes every this many steps (and after reset and at the end) */
  worldEvery: number;
  /** test hook: changes the TS core's action after it was copied from the wasm one */
  perturb?: (step: number, bid: Float32Array, creative: Int32Array) => void;
  /** world settings (rival rows, budget scale) applied to both cores before step `step` */
  settings?: (step: number) => { w: number; settings: WorldSettings }[];
  /** test hook: runs on the TS core before the final comparison */
  tamper?: (ts: TsWorldCore) => void;
  /** stop at the first step with a mismatch (the rest would only repeat it) */
  maxMismatches?: number;
}

function truthfulPolicy(config: GaelpConfig, n: number): Policy {
  const bidder = new TruthfulBidder();
  bidder.reset(n, config);
  return (obs, info, out) => bidder.act(obs, info, out);
}

function rulePolicy(config: GaelpConfig, n: number): Policy {
  return (obs, info, out) => {
    ruleAction(obs, info, n, config.campaign.bidMax, config.campaign.creatives.length, out);
  };
}

function runParity(opts: ParityOptions): ParityRun {
  const { config, numWorlds: n, seed, steps } = opts;
  const env = VectorEnv.create({ config, numWorlds: n, seed });
  const ts = new TsWorldCore();
  writeParams(config, n, ts.params);
  expect(ts.configure()).toBe(env.bytesPerWorld);

  const run: ParityRun = {
    steps: 0, decisions: 0, terminated: 0, truncated: 0, won: 0, clicked: 0, multiSlotWins: 0, episodes: 0,
    rewardNotBitIdentical: 0, near: new Map(), mismatches: [],
  };
  const limit = opts.maxMismatches ?? 10;
  const fail = (msg: string): void => {
    if (run.mismatches.length < limit) run.mismatches.push(msg);
  };

  const compareWorlds = (when: string): void => {
    for (let w = 0; w < n; w++) {
      for (const m of compareWorld(env.serializeWorld(w), ts.worldView(w), run.near)) fail(`${when}, world ${w}: ${m}`);
      for (const block of ["episode", "last", "total"] as StatsBlock[]) {
        const a = env.statsOf(w, block);
        const b = ts.statsOf(w, block);
        for (let i = 0; i < L.NUM_STATS; i++) {
          if (!close(a[i], b[i])) fail(`${when}, world ${w}: stats ${block}[${i}] wasm ${a[i]}, ts ${b[i]}`);
        }
      }
    }
  };

  const compareOutputs = (when: string, obs: Float32Array, reward: Float32Array | null, terminated: Uint8Array | null, truncated: Uint8Array | null, info: Float64Array): void => {
    if (Buffer.compare(Buffer.from(obs.buffer, obs.byteOffset, obs.byteLength), Buffer.from(ts.obs.buffer, ts.obs.byteOffset, ts.obs.byteLength)) !== 0) {
      const i = obs.findIndex((x, k) => !Object.is(x, ts.obs[k]));
      fail(`${when}: obs[world ${Math.floor(i / L.OBS_DIM)}][${i % L.OBS_DIM}] wasm ${obs[i]}, ts ${ts.obs[i]}`);
    }
    for (let w = 0; w < n; w++) {
      let creditIdentical = true;
      for (let k = 0; k < L.INFO_DIM; k++) {
        const x = info[w * L.INFO_DIM + k];
        const y = ts.info[w * L.INFO_DIM + k];
        if (Object.is(x, y)) continue;
        if (k === L.I_CREDITED_VALUE && close(x, y)) {
          creditIdentical = false;
          continue;
        }
        fail(`${when}: info[world ${w}][${k}] wasm ${x}, ts ${y}`);
      }
      if (reward) {
        const x = reward[w];
        const y = ts.reward[w];
        if (!Object.is(x, y)) {
          run.rewardNotBitIdentical++;
          // one f32 ulp, and only when the accumulator it rounds was not bit-identical
          if (creditIdentical || !(Math.abs(x - y) <= Math.abs(x) * 2 ** -23)) fail(`${when}: reward[world ${w}] wasm ${x}, ts ${y}`);
        }
      }
      if (terminated && terminated[w] !== ts.terminated[w]) fail(`${when}: terminated[world ${w}] wasm ${terminated[w]}, ts ${ts.terminated[w]}`);
      if (truncated && truncated[w] !== ts.truncated[w]) fail(`${when}: truncated[world ${w}] wasm ${truncated[w]}, ts ${ts.truncated[w]}`);
    }
  };

  let [obs, info] = env.reset();
  ts.resetAll(seed);
  compareOutputs("after reset", obs, null, null, null, info);
  compareWorlds("after reset");

  const act = opts.policy(config, n);
  const action = newAction(n);
  for (let s = 0; s < steps && run.mismatches.length === 0; s++) {
    const changes = opts.settings?.(s) ?? [];
    for (const { w, settings } of changes) {
      env.applySettings(w, settings); // re-emits into the env's own buffers: obs and info
      if (settings.rivalParams) new Float32Array(ts.buffer, ts.worldPtr(w) + L.H_RIVALS, settings.rivalParams.length).set(settings.rivalParams);
      ts.applySettings(w, settings.budgetScale ?? -1);
    }
    if (changes.length > 0) compareOutputs(`settings before step ${s}`, obs, null, null, null, info);
    act(obs, info, action);
    ts.bid.set(action.bid);
    ts.creative.set(action.creative);
    opts.perturb?.(s, ts.bid, ts.creative);
    const [o, reward, terminated, truncated, inf] = env.step(action);
    ts.stepWorlds(0, n);
    obs = o;
    info = inf;
    compareOutputs(`step ${s}`, obs, reward, terminated, truncated, info);
    if ((s + 1) % opts.worldEvery === 0) compareWorlds(`step ${s}`);
    run.steps++;
    for (let w = 0; w < n; w++) {
      run.decisions++;
      run.terminated += terminated[w];
      run.truncated += truncated[w];
      run.won += info[w * L.INFO_DIM + L.I_WON];
      run.clicked += info[w * L.INFO_DIM + L.I_CLICKED];
      if (info[w * L.INFO_DIM + L.I_SLOT] > 0) run.multiSlotWins++;
    }
  }
  opts.tamper?.(ts);
  compareWorlds("at the end");
  for (let w = 0; w < n; w++) run.episodes += info[w * L.INFO_DIM + L.I_EPISODE] + 1;
  return run;
}

function summary(label: string, r: ParityRun): string {
  const near = [...r.near].map(([k, v]) => `${k}: ${v}`).join("; ") || "none";
  return `${label}: ${r.steps} steps, ${r.decisions} decisions, ${r.won} won (${r.multiSlotWins} below the top slot), ` +
    `${r.clicked} clicked, ${r.terminated} terminated, ${r.truncated} truncated, ${r.episodes} flights started; ` +
    `rewards not bit-identical: ${r.rewardNotBitIdentical}; tolerant f64 words not bit-identical (summed over checks): ${near}`;
}

// ---- the RNG's u32-halves arithmetic against BigInt ----------------------------------------------

describe("reference SplitMix64 (two u32 halves) == BigInt SplitMix64", () => {
  const M = (1n << 64n) - 1n;
  const mix = (z: bigint): bigint => {
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  };

  it("seeds and draws the same 64-bit stream, below(n) is the high word of u32 x n, skipDraws(k) skips k draws", () => {
    const seeds: [number, number][] = [[0, 0], [1, 0], [0xffffffff, 0xffffffff], [0x9e3779b9, 0x7f4a7c15], [123456789, 987654321]];
    const bounds = [1, 2, 3, 6, 7, 300, 4000, 65537, 1_000_000, 0x7fffffff];
    for (const [lo, hi] of seeds) {
      let s = mix(((BigInt(hi) << 32n) | BigInt(lo)) ^ 0x6a09e667f3bcc909n);
      rngSeed(lo, hi);
      for (let i = 0; i < 2000; i++) {
        s = (s + 0x9e3779b97f4a7c15n) & M;
        const z = mix(s);
        const hi = nextU64();
        expect([hi, nextLo >>> 0]).toEqual([Number(z >> 32n), Number(z & 0xffffffffn)]);
      }
      for (let i = 0; i < 2000; i++) {
        s = (s + 0x9e3779b97f4a7c15n) & M;
        const n = bounds[i % bounds.length];
        const want = Number(((mix(s) >> 32n) * BigInt(n)) >> 32n);
        expect(below(n)).toBe(want);
      }
      // skipDraws(k) moves the stream past k draws: the next draw is the (k+1)-th
      for (const k of [0, 1, 2, 3, 7]) {
        skipDraws(k);
        s = (s + BigInt(k + 1) * 0x9e3779b97f4a7c15n) & M;
        expect(nextU64()).toBe(Number(mix(s) >> 32n));
      }
    }
  });
});

// ---- parity ---------------------------------------------------------------------------------------

describe("world core parity: wasm == plain-TS reference", () => {
  it("default config, 4 worlds, truthful bidder, 30,000 steps (flight ends and budget exhaustion included)", () => {
    const r = runParity({ config: resolveConfig(), numWorlds: 4, seed: 7, steps: 30_000, policy: truthfulPolicy, worldEvery: 1000 });
    console.log(summary("default", r));
    expect(r.mismatches).toEqual([]);
    expect(r.steps).toBe(30_000);
    // the run went through the paths that matter
    expect(r.terminated + r.truncated).toBeGreaterThan(0);
    expect(r.clicked).toBeGreaterThan(100);
    expect(r.multiSlotWins).toBeGreaterThan(100);
  });

  it("crowded_market with quality-weighted GSP, 4 worlds, truthful bidder, 5,000 steps", () => {
    const config = resolveConfig({ scenario: "crowded_market", overrides: { auction: { qualityWeighted: true } } });
    expect(config.channels.search.mechanism).toBe("gsp");
    expect(config.channels.search.slots).toBeGreaterThan(1);
    const r = runParity({ config, numWorlds: 4, seed: 11, steps: 5_000, policy: truthfulPolicy, worldEvery: 500 });
    console.log(summary("crowded_market + qualityWeighted", r));
    expect(r.mismatches).toEqual([]);
    expect(r.multiSlotWins).toBeGreaterThan(10);
  });

  it.each(["last_click", "linear", "time_decay", "position"])(
    "small world, %s attribution, over- and under-bidding rule bidder, 3,000 steps",
    (model) => {
      // a flight budget the rule bidder can exhaust, so flights end both ways
      const config = smallConfig({ attribution: { model }, population: { crisisRatePerUserDay: 0.02 }, campaign: { dailyBudget: 40, flightBudget: 60 } });
      const r = runParity({ config, numWorlds: 3, seed: 3, steps: 3_000, policy: rulePolicy, worldEvery: 250 });
      console.log(summary(`small/${model}`, r));
      expect(r.mismatches).toEqual([]);
      expect(r.terminated).toBeGreaterThan(0);
      expect(r.truncated).toBeGreaterThan(0);
    },
  );
});

describe("world settings and per-world resampling parity", () => {
  it("rival rows and budget scales changed mid-run, per-world rival mixes and season periods: wasm == reference", () => {
    const config = smallConfig({ market: { resampleRivals: 1, seasonPeriodJitter: 0.3 }, campaign: { dailyBudget: 40, flightBudget: 120 } });
    const base = rivalRows(config);
    const changed = (k: number) => {
      const rows = base.slice();
      for (let r = 0; r < config.rivals.length; r++) {
        rows[r * L.RIV_STRIDE + L.RIVF_STRATEGY] = (r + k) % 4;
        rows[r * L.RIV_STRIDE + L.RIVF_VALUE_MULT] = 0.5 + 0.3 * ((r * 7 + k) % 5);
        rows[r * L.RIV_STRIDE + L.RIVF_DEFENSE_GAIN] = 1 + 0.2 * k;
        rows[r * L.RIV_STRIDE + L.RIVF_QUALITY] = 0.8 + 0.1 * r;
        rows[r * L.RIV_STRIDE + L.RIVF_DAILY_BUDGET_MICROS] = (20 + 10 * r) * 1e6;
      }
      return rows;
    };
    const r = runParity({
      config, numWorlds: 3, seed: 13, steps: 3_000, policy: rulePolicy, worldEvery: 250,
      settings: (step) => step > 0 && step % 500 === 0
        ? [{ w: step % 3, settings: { rivalParams: changed(step / 500) } }, { w: (step + 1) % 3, settings: { budgetScale: 0.3 + 0.25 * (step / 500) } }]
        : [],
    });
    console.log(summary("settings + resampling", r));
    expect(r.mismatches).toEqual([]);
    expect(r.terminated + r.truncated).toBeGreaterThan(0);
  });
});

describe("the parity check can fail", () => {
  it("notices different bids in one world", () => {
    const r = runParity({
      config: smallConfig(), numWorlds: 2, seed: 5, steps: 400, policy: truthfulPolicy, worldEvery: 100, maxMismatches: 1,
      perturb: (step, bid) => {
        if (step >= 100) bid[1] = 0; // from step 100 the TS core's world 1 stops bidding
      },
    });
    expect(r.mismatches.length).toBe(1);
    const at = Number(/^step (\d+): /.exec(r.mismatches[0])?.[1]);
    expect(at).toBeGreaterThanOrEqual(100);
    expect(r.steps).toBe(at + 1); // the run stopped at the first divergence
  });

  it("notices one changed byte of a user record", () => {
    const r = runParity({
      config: smallConfig(), numWorlds: 2, seed: 5, steps: 50, policy: truthfulPolicy, worldEvery: 50,
      tamper: (ts) => {
        const v = ts.worldView(1);
        v[v.length - 1] ^= 1; // last byte of the touchpoint rings
      },
    });
    expect(r.mismatches).toEqual([expect.stringMatching(/^at the end, world 1: 1 bytes differ/)]);
  });

  it("notices a tolerant f64 field that is off by more than the tolerance", () => {
    const r = runParity({
      config: smallConfig(), numWorlds: 1, seed: 5, steps: 50, policy: truthfulPolicy, worldEvery: 50,
      tamper: (ts) => {
        const stats = new Float64Array(ts.buffer, ts.worldPtr(0) + L.H_STATS_EPISODE, L.NUM_STATS);
        expect(stats[L.S_OPPORTUNITIES]).toBeGreaterThan(0);
        stats[L.S_OPPORTUNITIES] *= 1 + 1e-7;
      },
    });
    expect(r.mismatches.some((m) => m.includes(`H_STATS_EPISODE (credit: pow)[${L.S_OPPORTUNITIES}]`))).toBe(true);
    expect(r.mismatches.some((m) => m.includes(`stats episode[${L.S_OPPORTUNITIES}]`))).toBe(true);
  });
});

describe("TS cores are independent", () => {
  it("two cores stepped alternately give what each gives alone", () => {
    const configs = [smallConfig(), smallConfig({ population: { users: 500 }, campaign: { flightDays: 2 } })];
    const steps = 300;
    const trace = (cores: TsWorldCore[], interleave: boolean): number[][] => {
      const out: number[][] = cores.map(() => []);
      const acts = cores.map((_, i) => truthfulPolicy(configs[i], 2));
      const order = interleave ? [[0, 1]] : [[0], [1]];
      for (const group of order) {
        for (let s = 0; s < steps; s++) {
          for (const i of group) {
            const c = cores[i];
            acts[i](c.obs, c.info, { bid: c.bid, creative: c.creative });
            c.stepWorlds(0, 2);
            out[i].push(c.info[L.I_USER], c.info[L.INFO_DIM + L.I_HOUR], c.obs[L.F_PACING_RATIO], c.reward[1]);
          }
        }
      }
      return out;
    };
    const make = (): TsWorldCore[] =>
      configs.map((config) => {
        const c = new TsWorldCore();
        writeParams(config, 2, c.params);
        c.configure();
        c.resetAll(9);
        return c;
      });
    expect(trace(make(), true)).toEqual(trace(make(), false));
  });
});
