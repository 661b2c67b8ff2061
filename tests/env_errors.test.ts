// Misuse fails loudly, at the boundary, naming the field: stepping before reset, malformed actions
// (type, length, NaN, range), caller-owned output buffers of the wrong type or length, bad seeds,
// and bad configs (unknown keys, wrong types, out-of-range values, cross-field rules). A rejected
// call leaves the env exactly as it was.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as L from "../wasm/layout.js";
import { VectorEnv, type BidAction, type StepBuffers } from "../env/vector_env.js";
import { AuctionEnv } from "../env/auction_env.js";
import {
  ConfigError, DEFAULT_CONFIG, parseSetOverride, resolveConfig, validateConfig, type GaelpConfig,
} from "../env/config.js";
import { SCENARIOS } from "../env/scenarios.js";
import { worldSeed } from "../env/seeds.js";
import { digest, f32AtMost, newAction, newBuffers, ruleFor, smallConfig } from "./helpers/world.js";

const config = smallConfig();
const n = 3;

/** Expects `f` to throw a ConfigError whose path is `path` and whose message names it. */
function expectConfigError(f: () => unknown, path: string, message?: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ConfigError at ${path}`).toBeInstanceOf(ConfigError);
  const ce = err as ConfigError;
  expect(ce.path).toBe(path);
  expect(ce.message).toContain(path);
  if (message) expect(ce.message).toMatch(message);
}

/** Two envs stepped alike; `a` then receives bad calls, and must still match `b` afterwards. */
function twins(): { a: VectorEnv; b: VectorEnv; stepBoth: (steps: number) => void } {
  const a = VectorEnv.create({ config, numWorlds: n, seed: 2 });
  const b = VectorEnv.create({ config, numWorlds: n, seed: 2 });
  a.reset();
  b.reset();
  const act = newAction(n);
  const stepBoth = (steps: number) => {
    for (let s = 0; s < steps; s++) {
      const ra = a.step(ruleFor(a, a.buffers.obs, a.buffers.info, act));
      const rb = b.step(ruleFor(b, b.buffers.obs, b.buffers.info, act));
      expect(digest(...ra)).toBe(digest(...rb));
    }
  };
  stepBoth(50);
  return { a, b, stepBoth };
}

describe("VectorEnv misuse", () => {
  it("step before reset throws 'call reset'", () => {
    const env = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    expect(() => env.step(newAction(n))).toThrow(/call reset/);
    expect(() => env.serializeWorld(0)).toThrow(/call reset/);
    // reset then works
    env.reset();
    expect(() => env.step(newAction(n))).not.toThrow();
  });

  it("step after close throws 'call reset'", () => {
    const env = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    env.reset();
    env.close();
    expect(() => env.step(newAction(n))).toThrow(/call reset/);
  });

  it("malformed actions name the field and leave the env untouched", () => {
    const { a, stepBoth } = twins();
    const bidMax = config.campaign.bidMax;
    const ok = () => newAction(n);
    const cases: [string, unknown, RegExp][] = [
      ["null action", null, /action/],
      ["undefined action", undefined, /action/],
      ["a number", 3, /action/],
      ["Float64Array bid", { ...ok(), bid: new Float64Array(n) }, /action\.bid.*Float32Array.*Float64Array/],
      ["plain array bid", { ...ok(), bid: [1, 1, 1] }, /action\.bid.*Float32Array/],
      ["missing bid", { creative: new Int32Array(n) }, /action\.bid/],
      ["bid too short", { ...ok(), bid: new Float32Array(n - 1) }, new RegExp(`action\\.bid.*length ${n}`)],
      ["bid too long", { ...ok(), bid: new Float32Array(n + 1) }, new RegExp(`action\\.bid.*length ${n + 1}`)],
      ["NaN bid", { ...ok(), bid: Float32Array.of(1, NaN, 1) }, /action\.bid\[1\] = NaN/],
      ["negative bid", { ...ok(), bid: Float32Array.of(1, 1, -0.5) }, /action\.bid\[2\] = -0\.5.*bidMax/],
      ["bid > bidMax", { ...ok(), bid: Float32Array.of(bidMax * 2, 0, 0) }, new RegExp(`action\\.bid\\[0\\].*\\[0, ${bidMax}\\]`)],
      ["infinite bid", { ...ok(), bid: Float32Array.of(Infinity, 0, 0) }, /action\.bid\[0\]/],
      ["Float32Array creative", { ...ok(), creative: new Float32Array(n) }, /action\.creative.*Int32Array/],
      ["plain array creative", { ...ok(), creative: [0, 0, 0] }, /action\.creative.*Int32Array/],
      ["creative wrong length", { ...ok(), creative: new Int32Array(n + 2) }, /action\.creative.*length/],
      ["creative too large", { ...ok(), creative: Int32Array.of(0, config.campaign.creatives.length, 0) }, /action\.creative\[1\].*campaign\.creatives/],
      ["creative negative", { ...ok(), creative: Int32Array.of(0, 0, -1) }, /action\.creative\[2\] = -1/],
    ];
    for (const [name, action, re] of cases) {
      expect(() => a.step(action as BidAction), name).toThrow(re);
    }
    stepBoth(100);
  });

  it("a bid of exactly bidMax is accepted", () => {
    const env = VectorEnv.create({ config, numWorlds: 1, seed: 0 });
    env.reset();
    expect(() => env.step({ bid: Float32Array.of(config.campaign.bidMax), creative: Int32Array.of(0) })).not.toThrow();
  });

  // Regression: the action space's high bound is float32(bidMax), but validateAction compares the
  // float32 bid against the float64 bidMax, so when bidMax has no exact float32 (0.3, 2.7, ...)
  // a bid equal to actionSpace.high — the largest bid the space allows — is rejected.
  it("a bid equal to the action space's high bound is accepted when bidMax is not a float32", () => {
    for (const bidMax of [0.3, 2.7, 7.1]) {
      expect(Math.fround(bidMax)).not.toBe(bidMax);
      const env = VectorEnv.create({ config: smallConfig({ campaign: { bidMax } }), numWorlds: 1, seed: 0 });
      env.reset();
      const high = (env.singleActionSpace.spaces.bid as { high: Float32Array }).high[0];
      expect(() => env.step({ bid: Float32Array.of(high), creative: Int32Array.of(0) }), `bidMax ${bidMax}`).not.toThrow();
    }
  });

  it("caller-owned out buffers of the wrong type or length are rejected before anything changes", () => {
    const { a, stepBoth } = twins();
    const bad: [string, Partial<StepBuffers>, RegExp][] = [
      ["obs as Float64Array", { obs: new Float64Array(n * L.OBS_DIM) as unknown as Float32Array }, /out\.obs.*Float32Array/],
      ["obs too short", { obs: new Float32Array(n * L.OBS_DIM - 1) }, new RegExp(`out\\.obs.*length ${n * L.OBS_DIM}`)],
      ["reward as Float64Array", { reward: new Float64Array(n) as unknown as Float32Array }, /out\.reward/],
      ["terminated as Int8Array", { terminated: new Int8Array(n) as unknown as Uint8Array }, /out\.terminated.*Uint8Array/],
      ["truncated too long", { truncated: new Uint8Array(n + 1) }, /out\.truncated/],
      ["info as Float32Array", { info: new Float32Array(n * L.INFO_DIM) as unknown as Float64Array }, /out\.info.*Float64Array/],
      ["info missing", { info: undefined as unknown as Float64Array }, /out\.info/],
    ];
    const act = newAction(n);
    for (const [name, patch, re] of bad) {
      const out = { ...newBuffers(n), ...patch } as StepBuffers;
      expect(() => a.step(ruleFor(a, a.buffers.obs, a.buffers.info, act), out), name).toThrow(re);
      expect(() => a.reset({}, out), `reset: ${name}`).toThrow(re);
    }
    // reset with a bad out buffer must not have reset the worlds either
    stepBoth(100);
  });

  it("statsOf rejects unknown block names, including Object.prototype keys", () => {
    const env = VectorEnv.create({ config, numWorlds: 1, seed: 0 });
    env.reset();
    expect(() => env.statsOf(0, "nope" as "total")).toThrow(/block/);
    // Regression: STATS_OFFSET is a plain object, so "toString" finds a function and the call
    // returns 24 numbers read from the wrong place instead of an error.
    for (const key of ["toString", "constructor", "hasOwnProperty"]) {
      expect(() => env.statsOf(0, key as "total"), key).toThrow(/block/);
    }
  });

  it("world and user indices are range-checked", () => {
    const env = VectorEnv.create({ config, numWorlds: 2, seed: 0 });
    env.reset();
    expect(() => env.statsOf(2)).toThrow(/world/);
    expect(() => env.statsOf(-1)).toThrow(/world/);
    expect(() => env.serializeWorld(1.5)).toThrow(/world/);
    expect(() => env.user(0, config.population.users)).toThrow(/user/);
    expect(() => env.touchpoints(0, -1)).toThrow(/user/);
    expect(() => env.attributeUser(0, 0.5, 0, 100)).toThrow(/user/);
  });

  it("numWorlds must be a positive integer", () => {
    for (const numWorlds of [0, -1, 1.5, NaN]) {
      expect(() => VectorEnv.create({ config, numWorlds, seed: 0 }), `${numWorlds}`).toThrow(/numWorlds/);
    }
  });
});

describe("seeds", () => {
  it("negative, non-integer and unsafe seeds are rejected, naming the seed", () => {
    for (const seed of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      expect(() => VectorEnv.create({ config, numWorlds: 1, seed }), `create ${seed}`).toThrow(/seed/);
      expect(() => new AuctionEnv({ config, seed }), `AuctionEnv ${seed}`).toThrow(/seed/);
      expect(() => worldSeed(seed, 0), `worldSeed ${seed}`).toThrow(/rootSeed/);
    }
    const env = VectorEnv.create({ config, numWorlds: 1, seed: 0 });
    for (const seed of [-3, 0.25]) expect(() => env.reset({ seed }), `reset ${seed}`).toThrow(/seed/);
    // the env is still usable after a rejected reset
    env.reset({ seed: 0 });
    expect(() => env.step(newAction(1))).not.toThrow();
  });

  // Regression: stream and worldOffset feed worldSeed like the seed does, but are not validated:
  // negatives are silently accepted (-1 becomes another seed) and 1.5 fails inside BigInt with a
  // message that does not name the option.
  it("stream and worldOffset must be non-negative integers, named in the error", () => {
    for (const bad of [-1, 1.5]) {
      expect(() => VectorEnv.create({ config, numWorlds: 1, seed: 0, stream: bad }).reset(), `stream ${bad}`).toThrow(/stream/);
      expect(() => VectorEnv.create({ config, numWorlds: 1, seed: 0, worldOffset: bad }).reset(), `worldOffset ${bad}`).toThrow(/worldOffset/);
    }
  });
});

describe("AuctionEnv misuse", () => {
  function fresh(): AuctionEnv {
    const env = new AuctionEnv({ config, seed: 0 });
    env.reset({ seed: 0 });
    return env;
  }

  it("step before reset throws 'call reset'", () => {
    const env = new AuctionEnv({ config, seed: 0 });
    expect(() => env.step({ bid: 1 })).toThrow(/call reset/);
  });

  it("malformed actions name the field", () => {
    const env = fresh();
    const bidMax = config.campaign.bidMax;
    const cases: [string, unknown, RegExp][] = [
      ["bid string", { bid: "x" }, /bid/],
      ["null", null, /action/],
      ["missing bid", {}, /bid/],
      ["bid array", { bid: [1] }, /bid/],
      ["NaN bid", { bid: NaN }, /bid/],
      ["negative bid", { bid: -1 }, /bid/],
      ["bid > bidMax", { bid: bidMax + 1 }, /bid.*bidMax/],
      ["creative out of range", { bid: 1, creative: config.campaign.creatives.length }, /creative/],
      ["creative negative", { bid: 1, creative: -1 }, /creative/],
      ["creative fraction", { bid: 1, creative: 0.5 }, /creative/],
      ["creative string", { bid: 1, creative: "1" }, /creative/],
    ];
    for (const [name, action, re] of cases) {
      expect(() => env.step(action as { bid: number }), name).toThrow(re);
    }
    expect(() => env.step({ bid: 1, creative: 1 })).not.toThrow();
  });

  // Regression: AuctionEnv only checks Number.isInteger(creative) and writes it into an
  // Int32Array, which wraps 2^32 to 0 and 2^32 + 1 to 1, so out-of-range creatives are accepted.
  it("creatives that wrap around in an Int32Array are rejected", () => {
    const env = fresh();
    for (const creative of [2 ** 32, 2 ** 32 + 1, -(2 ** 32)]) {
      expect(() => env.step({ bid: 1, creative }), `${creative}`).toThrow(/creative/);
    }
  });
});

describe("config errors name the field", () => {
  it("unknown key", () => {
    expectConfigError(() => resolveConfig({ overrides: { campaign: { budget: 5 } } }), "campaign.budget");
    expectConfigError(() => resolveConfig({ overrides: { nonsense: 1 } }), "nonsense");
  });

  it("wrong type", () => {
    expectConfigError(() => resolveConfig({ overrides: { population: { users: "many" } } }), "population.users", /integer/);
    expectConfigError(() => resolveConfig({ overrides: { population: { users: 300.5 } } }), "population.users", /integer/);
    expectConfigError(() => resolveConfig({ overrides: { campaign: { dailyBudget: "30" } } }), "campaign.dailyBudget", /number/);
    expectConfigError(() => resolveConfig({ overrides: { auction: { qualityWeighted: 1 } } }), "auction.qualityWeighted", /boolean/);
    expectConfigError(() => resolveConfig({ overrides: { attribution: { model: "first_click" } } }), "attribution.model");
    expectConfigError(() => resolveConfig({ overrides: { channels: { search: { mechanism: "vickrey" } } } }), "channels.search.mechanism");
  });

  it("out of range", () => {
    expectConfigError(() => resolveConfig({ overrides: { campaign: { dailyBudget: -5 } } }), "campaign.dailyBudget", /0\.01/);
    expectConfigError(() => resolveConfig({ overrides: { population: { users: 0 } } }), "population.users", /10/);
    expectConfigError(() => resolveConfig({ overrides: { journey: { ringSize: 100 } } }), "journey.ringSize", /32/);
    expectConfigError(() => resolveConfig({ overrides: { campaign: { flightDays: 0 } } }), "campaign.flightDays");
    expectConfigError(() => resolveConfig({ overrides: { campaign: { bidMax: 0 } } }), "campaign.bidMax");
    expectConfigError(() => resolveConfig({ overrides: { campaign: { dailyBudget: NaN } } }), "campaign.dailyBudget");
    expectConfigError(() => resolveConfig({ overrides: { channels: { search: { slots: 5 } } } }), "channels.search.slots");
    expectConfigError(() => resolveConfig({ overrides: { rivals: [] } }), "rivals");
    expectConfigError(() => resolveConfig({ overrides: { rivals: Array.from({ length: 16 }, () => ({})) } }), "rivals");
    expectConfigError(() => resolveConfig({ overrides: { campaign: { channels: ["search", "search"] } } }), "campaign.channels");
    expectConfigError(() => resolveConfig({ overrides: { journey: { delayDays: [1, 2, 3] } } }), "journey.delayDays");
  });

  it("unknown scenario lists the allowed ones", () => {
    expectConfigError(() => resolveConfig({ scenario: "black_friday" }), "scenario", new RegExp(Object.keys(SCENARIOS).join(".*")));
    for (const name of Object.keys(SCENARIOS)) expect(() => resolveConfig({ scenario: name })).not.toThrow();
  });

  // Regression: resolveConfig looks the name up with SCENARIOS[name] on a plain object, so
  // inherited names ("toString", "constructor") pass the check and silently resolve to the
  // defaults (their `overrides` is undefined).
  it("inherited object keys are not scenarios", () => {
    for (const name of ["toString", "constructor", "hasOwnProperty"]) {
      expectConfigError(() => resolveConfig({ scenario: name }), "scenario");
    }
  });

  it("__proto__, constructor and prototype keys are refused and nothing is polluted", () => {
    const overrides = [
      JSON.parse('{"__proto__": {"polluted": 1}}'),
      JSON.parse('{"campaign": {"__proto__": {"polluted": 1}}}'),
      { constructor: { polluted: 1 } },
      { market: { prototype: 1 } },
    ];
    for (const o of overrides) {
      expect(() => resolveConfig({ overrides: o })).toThrow(ConfigError);
      expect(() => resolveConfig({ overrides: o })).toThrow(/__proto__|constructor|prototype/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("cross-field rules", () => {
    expectConfigError(() => resolveConfig({ overrides: { attribution: { positionFirst: 0.6, positionLast: 0.5 } } }), "attribution.positionFirst", /≤ 1/);
    expect(() => resolveConfig({ overrides: { attribution: { positionFirst: 0.5, positionLast: 0.5 } } })).not.toThrow();
    expectConfigError(() => resolveConfig({ overrides: { journey: { delayQuantiles: [0, 0.1, 0.5, 0.25, 0.75, 0.9, 0.97, 1] } } }), "journey.delayQuantiles", /non-decreasing/);
    expectConfigError(() => resolveConfig({ overrides: { journey: { delayQuantiles: [0.1, 0.2, 0.25, 0.5, 0.75, 0.9, 0.97, 1] } } }), "journey.delayQuantiles", /start at 0/);
    expectConfigError(() => resolveConfig({ overrides: { journey: { delayDays: [0.04, 0.25, 1.0, 3.7, 2, 19, 25, 30] } } }), "journey.delayDays", /non-decreasing/);
    expectConfigError(() => resolveConfig({ overrides: { channels: { social: { slots: 3 } } } }), "channels.social.slots", /second_price/);
    expect(() => resolveConfig({ overrides: { channels: { social: { mechanism: "gsp", slots: 3 } } } })).not.toThrow();
    expectConfigError(() => resolveConfig({ overrides: { population: { deviceCountProbs: [0.5, 0.4, 0.3] } } }), "population.deviceCountProbs", /sum to 1/);
    expectConfigError(() => resolveConfig({ overrides: { calibration: { histFromDay: 5, histToDay: 5 } } }), "calibration.histToDay");
  });

  it("validateConfig checks a whole object, and the defaults are valid", () => {
    expect(validateConfig(structuredClone(DEFAULT_CONFIG))).toEqual(DEFAULT_CONFIG);
    const broken = structuredClone(DEFAULT_CONFIG) as GaelpConfig & { extra?: number };
    broken.pacing.band = 2;
    expectConfigError(() => validateConfig(broken), "pacing.band");
    expectConfigError(() => validateConfig({ ...structuredClone(DEFAULT_CONFIG), campaign: undefined }), "campaign");
    expectConfigError(() => validateConfig(null), "(root)");
  });

  it("overrides never mutate the defaults", () => {
    const before = JSON.stringify(DEFAULT_CONFIG);
    const c = resolveConfig({ overrides: { campaign: { dailyBudget: 99 }, rivals: [{ dailyBudget: 1 }] } });
    c.population.users = 12;
    c.rivals[0].channelMult[0] = 7;
    expect(JSON.stringify(DEFAULT_CONFIG)).toBe(before);
    expect(resolveConfig().campaign.dailyBudget).toBe(DEFAULT_CONFIG.campaign.dailyBudget);
  });
});

describe("parseSetOverride", () => {
  /** Every scalar leaf (and whole array) of the default config, as [path, value]. */
  function leaves(x: unknown, path: string[] = []): [string, unknown][] {
    if (x !== null && typeof x === "object" && !Array.isArray(x)) {
      return Object.entries(x).flatMap(([k, v]) => leaves(v, [...path, k]));
    }
    if (Array.isArray(x) && x.some((v) => typeof v === "object")) return []; // rivals, creatives: not addressable by path
    return [[path.join("."), x]];
  }
  const get = (c: unknown, path: string) => path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);

  it("round trips every field of the config: key=JSON(value) resolves to that value", () => {
    const all = leaves(DEFAULT_CONFIG);
    expect(all.length).toBeGreaterThan(100);
    for (const [path, value] of all) {
      const c = resolveConfig({ overrides: parseSetOverride(`${path}=${JSON.stringify(value)}`) });
      expect(get(c, path), path).toEqual(value);
      expect(c).toEqual(resolveConfig());
    }
  });

  it("round trips changed values (property)", () => {
    fc.assert(fc.property(
      fc.double({ min: 0.01, max: 1e6, noNaN: true }),
      fc.integer({ min: 10, max: 100000 }),
      fc.constantFrom("last_click", "linear", "time_decay", "position", "data_driven"),
      (budget, users, model) => {
        const overrides = [
          parseSetOverride(`campaign.dailyBudget=${budget}`),
          parseSetOverride(`population.users=${users}`),
          parseSetOverride(`attribution.model=${model}`), // not JSON: kept as a string
        ];
        const merged = overrides.reduce((acc, o) => ({ ...acc, ...o }), {} as Record<string, unknown>);
        const c = resolveConfig({ overrides: merged });
        expect(c.campaign.dailyBudget).toBe(budget);
        expect(c.population.users).toBe(users);
        expect(c.attribution.model).toBe(model);
      },
    ), { numRuns: 50, seed: 1 });
  });

  it("parses nested keys, JSON values and plain strings", () => {
    expect(parseSetOverride("campaign.dailyBudget=80")).toEqual({ campaign: { dailyBudget: 80 } });
    expect(parseSetOverride("a.b.c=true")).toEqual({ a: { b: { c: true } } });
    expect(parseSetOverride('campaign.channels=["search","email"]')).toEqual({ campaign: { channels: ["search", "email"] } });
    expect(parseSetOverride("attribution.model=linear")).toEqual({ attribution: { model: "linear" } });
    expect(parseSetOverride("x=a=b")).toEqual({ x: "a=b" });
  });

  it("rejects bad expressions with a ConfigError naming the expression", () => {
    for (const expr of ["campaign.dailyBudget", "=5", "", "a..b=1", ".a=1", "a.=1", "__proto__.x=1", "campaign.__proto__=1", "constructor=1", "a.prototype.b=1"]) {
      let err: unknown;
      try {
        parseSetOverride(expr);
      } catch (e) {
        err = e;
      }
      expect(err, expr).toBeInstanceOf(ConfigError);
      expect((err as Error).message, expr).toContain(expr);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("a parsed override that is out of range fails validation naming the field", () => {
    expectConfigError(() => resolveConfig({ overrides: parseSetOverride("campaign.dailyBudget=-1") }), "campaign.dailyBudget");
    expectConfigError(() => resolveConfig({ overrides: parseSetOverride("campaign.dailyBudgt=10") }), "campaign.dailyBudgt");
    expectConfigError(() => resolveConfig({ overrides: parseSetOverride("journey.ringSize=big") }), "journey.ringSize");
  });
});

describe("bid clamping helper", () => {
  // guards the helper the other env tests rely on to stay inside the action space
  it("f32AtMost returns the largest float32 not above x", () => {
    fc.assert(fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (x) => {
      const f = f32AtMost(x);
      expect(f).toBe(Math.fround(f));
      expect(f).toBeLessThanOrEqual(x);
      const next = new Float32Array([f]);
      new Int32Array(next.buffer)[0] += 1;
      expect(next[0]).toBeGreaterThan(x);
    }), { numRuns: 200, seed: 3 });
  });
});
