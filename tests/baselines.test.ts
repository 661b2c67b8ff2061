import { describe, expect, it } from "vitest";
import fc from "fast-check";
import seedrandom from "seedrandom";
import type { GaelpConfig } from "../env/config.js";
import type { BidAction } from "../env/vector_env.js";
import {
  BIDDER_NAMES,
  BidderParamError,
  PacingBidder,
  createBidder,
  leastExposedCreative,
  resolveBidderParams,
} from "../agents/baselines/index.js";
import { F_CREATIVE_EXPOSURE, INFO_DIM, I_COST, I_HOUR, I_REF_VALUE_DOLLARS, OBS_DIM } from "../wasm/layout.js";

// Only the campaign fields the baselines read; the rest of a resolved config is irrelevant here.
function campaign(over: Partial<{ dailyBudget: number; flightBudget: number; flightDays: number; bidMax: number; creatives: number }> = {}): GaelpConfig {
  const c = { dailyBudget: 100, flightBudget: 3000, flightDays: 30, bidMax: 5, creatives: 3, ...over };
  return {
    campaign: {
      dailyBudget: c.dailyBudget,
      flightBudget: c.flightBudget,
      flightDays: c.flightDays,
      bidMax: c.bidMax,
      conversionValue: 100,
      creatives: Array.from({ length: c.creatives }, (_, i) => ({ name: `c${i}` })),
      channels: ["search"],
    },
  } as unknown as GaelpConfig;
}

function buffers(n: number) {
  return {
    obs: new Float32Array(n * OBS_DIM),
    info: new Float64Array(n * INFO_DIM),
    out: { bid: new Float32Array(n), creative: new Int32Array(n) } satisfies BidAction,
    reward: new Float32Array(n),
    term: new Uint8Array(n),
    trunc: new Uint8Array(n),
  };
}

describe("registry and params", () => {
  it("every registered bidder builds with defaults and has its name", () => {
    expect(BIDDER_NAMES).toEqual(expect.arrayContaining(["truthful", "fixed", "linear", "pacing"]));
    for (const name of BIDDER_NAMES) expect(createBidder(name).name).toBe(name);
  });

  it("unknown bidder names the allowed ones", () => {
    expect(() => createBidder("greedy")).toThrow(/unknown bidder 'greedy'; allowed: truthful, fixed, linear, pacing/);
  });

  it("bad params name the param and its range", () => {
    expect(() => createBidder("fixed", { bid: -1 })).toThrow(BidderParamError);
    expect(() => createBidder("fixed", { bid: -1 })).toThrow(/'bid' must be a number >= 0/);
    expect(() => createBidder("linear", { a: "x" })).toThrow(/'a' must be a number >= 0 and <= 100, got "x"/);
    expect(() => createBidder("pacing", { eta: 0 })).toThrow(/'eta' must be a number > 0 and <= 10/);
    expect(() => createBidder("pacing", { etaa: 1 })).toThrow(/no parameter 'etaa'; allowed: eta, mu0, muMax, profileRate/);
    expect(() => createBidder("truthful", { a: 1 })).toThrow(/no parameter 'a'; allowed: \(none\)/);
  });

  it("string params from the command line are parsed", () => {
    expect(resolveBidderParams("linear", { a: "0.5" })).toEqual({ a: 0.5 });
    expect(resolveBidderParams("pacing", {})).toMatchObject({ eta: expect.any(Number), mu0: 0 });
  });
});

describe("shared rules", () => {
  it("creative: fewest exposures among the first min(3, creatives), ties to the lowest index", () => {
    const obs = new Float32Array(4 * OBS_DIM);
    const set = (w: number, e: number[]) => e.forEach((x, k) => (obs[w * OBS_DIM + F_CREATIVE_EXPOSURE + k] = x));
    set(0, [2, 1, 1]);
    set(1, [0, 0, 0]);
    set(2, [3, 2, 0.5]);
    set(3, [1, 0, 0]);
    expect([0, 1, 2, 3].map((w) => leastExposedCreative(obs, w, 3))).toEqual([1, 0, 2, 1]);
    expect(leastExposedCreative(obs, 2, 2)).toBe(1); // only two creatives configured
    expect(leastExposedCreative(obs, 2, 1)).toBe(0);

    const b = createBidder("truthful");
    const buf = buffers(4);
    buf.obs.set(obs);
    b.reset(4, campaign({ creatives: 2 }));
    b.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.creative)).toEqual([1, 0, 1, 1]);
    b.reset(4, campaign({ creatives: 8 }));
    b.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.creative)).toEqual([1, 0, 2, 1]);
  });

  it("truthful bids equal the reference value (within bidMax)", () => {
    const n = 5;
    const b = createBidder("truthful");
    const buf = buffers(n);
    const values = [0, 0.37, 1.25, 4.99, 5];
    values.forEach((v, w) => (buf.info[w * INFO_DIM + I_REF_VALUE_DOLLARS] = v));
    b.reset(n, campaign({ bidMax: 5 }));
    b.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.bid)).toEqual(values.map((v) => Math.fround(v)));
  });

  it("linear bids a x value and fixed bids its constant", () => {
    const buf = buffers(2);
    buf.info[I_REF_VALUE_DOLLARS] = 2;
    buf.info[INFO_DIM + I_REF_VALUE_DOLLARS] = 0.5;
    const lin = createBidder("linear", { a: 0.5 });
    lin.reset(2, campaign());
    lin.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.bid)).toEqual([1, 0.25]);
    const fixed = createBidder("fixed", { bid: 0.75 });
    fixed.reset(2, campaign());
    fixed.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.bid)).toEqual([0.75, 0.75]);
    fixed.reset(2, campaign({ bidMax: 0.5 }));
    fixed.act(buf.obs, buf.info, buf.out);
    expect(Array.from(buf.out.bid)).toEqual([0.5, 0.5]);
  });

  it("no bidder ever bids outside [0, bidMax] (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...BIDDER_NAMES),
        fc.double({ min: 0.01, max: 50, noNaN: true }),
        fc.array(fc.oneof(fc.double({ min: -10, max: 1e4 }), fc.constant(Number.NaN)), { minLength: 1, maxLength: 8 }),
        (name, bidMax, values) => {
          const n = values.length;
          const b = createBidder(name, name === "fixed" ? { bid: 100 } : name === "linear" ? { a: 3 } : {});
          const buf = buffers(n);
          values.forEach((v, w) => {
            buf.info[w * INFO_DIM + I_REF_VALUE_DOLLARS] = v;
            buf.info[w * INFO_DIM + I_HOUR] = 10;
          });
          b.reset(n, campaign({ bidMax }));
          for (let t = 0; t < 3; t++) {
            b.act(buf.obs, buf.info, buf.out);
            for (const bid of buf.out.bid) {
              expect(bid).toBeGreaterThanOrEqual(0);
              expect(bid).toBeLessThanOrEqual(Math.fround(bidMax));
            }
            b.observe(buf.reward, buf.term, buf.trunc, buf.info);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("misuse fails loudly", () => {
    const b = createBidder("truthful");
    const buf = buffers(2);
    expect(() => b.act(buf.obs, buf.info, buf.out)).toThrow(/call reset/);
    b.reset(3, campaign());
    expect(() => b.act(buf.obs, buf.info, buf.out)).toThrow(/need 3 \(one per world\)/);
    expect(() => b.reset(0, campaign())).toThrow(/numEnvs must be an integer >= 1/);
  });
});

describe("pacing (adaptive pacing, dual descent)", () => {
  /** One world, `perHour` decisions an hour at value v, each costing `cost` when the bid >= cost. */
  function drive(b: PacingBidder, hours: number, perHour: number, v: number, cost: number, startHour = 0) {
    const buf = buffers(1);
    for (let hr = startHour; hr < startHour + hours; hr++) {
      for (let k = 0; k < perHour; k++) {
        buf.info[I_HOUR] = hr;
        buf.info[I_REF_VALUE_DOLLARS] = v;
        b.act(buf.obs, buf.info, buf.out);
        buf.info[I_COST] = buf.out.bid[0] >= cost ? cost : 0;
        b.observe(buf.reward, buf.term, buf.trunc, buf.info);
      }
    }
    return buf.out.bid[0];
  }

  it("mu rises while spending faster than the budget allows", () => {
    // 10 decisions an hour, every one costs $1, budget $24 a day: target $0.10 per decision
    const b = createBidder("pacing") as PacingBidder;
    b.reset(1, campaign({ dailyBudget: 24, flightBudget: 24 * 30, bidMax: 10 }));
    drive(b, 2, 10, 10, 1);
    expect(b.multiplier(0)).toBeGreaterThan(0);
    const early = b.multiplier(0);
    drive(b, 2, 10, 10, 1, 2);
    expect(b.multiplier(0)).toBeGreaterThan(early);
  });

  it("mu falls while spending slower than the budget allows, down to truthful bidding", () => {
    const b = createBidder("pacing", { mu0: 3 }) as PacingBidder;
    b.reset(1, campaign({ dailyBudget: 1000, flightBudget: 30_000, bidMax: 10 }));
    const bid0 = drive(b, 1, 1, 2, 100); // never wins: cost 100 > any bid
    expect(bid0).toBeCloseTo(2 / 4, 5);
    const mu1 = b.multiplier(0);
    expect(mu1).toBeLessThan(3);
    const bid = drive(b, 30, 10, 2, 100, 1);
    expect(b.multiplier(0)).toBe(0);
    expect(bid).toBeCloseTo(2, 5);
  });

  it("learns the hourly decision profile from full days", () => {
    const b = createBidder("pacing") as PacingBidder;
    b.reset(1, campaign());
    drive(b, 48, 5, 1, 100);
    drive(b, 1, 1, 1, 100, 48); // rolls day 1 into the profile
    expect(b.expectedDecisionsPerDay(0)).toBeCloseTo(120, 6);
  });

  it("never offers more than the budget left, and starts afresh with the next flight", () => {
    const b = createBidder("pacing") as PacingBidder;
    const buf = buffers(1);
    b.reset(1, campaign({ dailyBudget: 100, flightBudget: 3, flightDays: 2, bidMax: 10 }));
    buf.info[I_HOUR] = 5;
    buf.info[I_REF_VALUE_DOLLARS] = 8;
    b.act(buf.obs, buf.info, buf.out);
    expect(buf.out.bid[0]).toBe(3); // capped by the flight budget left
    buf.info[I_COST] = 3;
    buf.term[0] = 1; // flight budget exhausted: the env starts the next flight at the next day
    b.observe(buf.reward, buf.term, buf.trunc, buf.info);
    buf.term[0] = 0;
    buf.info[I_HOUR] = 24;
    b.act(buf.obs, buf.info, buf.out);
    expect(buf.out.bid[0]).toBeGreaterThan(0);
    expect(buf.out.bid[0]).toBeLessThanOrEqual(3);
  });

  it("mu is per world", () => {
    const b = createBidder("pacing") as PacingBidder;
    const buf = buffers(2);
    b.reset(2, campaign({ dailyBudget: 24, flightBudget: 720 }));
    for (let t = 0; t < 50; t++) {
      buf.info[I_HOUR] = 1;
      buf.info[INFO_DIM + I_HOUR] = 1;
      buf.info[I_REF_VALUE_DOLLARS] = 2;
      buf.info[INFO_DIM + I_REF_VALUE_DOLLARS] = 2;
      b.act(buf.obs, buf.info, buf.out);
      buf.info[I_COST] = 1; // world 0 overspends
      buf.info[INFO_DIM + I_COST] = 0; // world 1 wins nothing
      b.observe(buf.reward, buf.term, buf.trunc, buf.info);
    }
    expect(b.multiplier(0)).toBeGreaterThan(0);
    expect(b.multiplier(1)).toBe(0);
  });

  it("in a synthetic second-price market it spends most of a binding budget, never more", () => {
    // values ~ U(0, 2), highest rival bid ~ U(0, 2), 40 decisions an hour. A truthful bidder
    // would pay E[price; win] ~ 0.33 per decision = $317 a day; the budget is $60 a day.
    const days = 14;
    const dailyBudget = 60;
    const n = 4;
    const rng = seedrandom("pacing-market");
    const b = createBidder("pacing") as PacingBidder;
    const config = campaign({ dailyBudget, flightBudget: dailyBudget * days, flightDays: days, bidMax: 5 });
    b.reset(n, config);
    const buf = buffers(n);
    const spend = new Float64Array(n);
    const spendByDay = Array.from({ length: days }, () => new Float64Array(n));
    let value = 0;
    const muNoon = new Float64Array(n);
    const lastWinHour = new Float64Array(n);
    for (let hr = 0; hr < days * 24; hr++) {
      if (hr === (days - 1) * 24 + 12) for (let w = 0; w < n; w++) muNoon[w] = b.multiplier(w);
      const d = Math.floor(hr / 24);
      for (let k = 0; k < 40; k++) {
        for (let w = 0; w < n; w++) {
          buf.info[w * INFO_DIM + I_HOUR] = hr;
          buf.info[w * INFO_DIM + I_REF_VALUE_DOLLARS] = 2 * rng();
        }
        b.act(buf.obs, buf.info, buf.out);
        for (let w = 0; w < n; w++) {
          const rival = 2 * rng();
          const left = Math.min(dailyBudget - spendByDay[d][w], config.campaign.flightBudget - spend[w]);
          const won = buf.out.bid[w] > rival && rival <= left;
          const cost = won ? rival : 0;
          if (won) value += buf.info[w * INFO_DIM + I_REF_VALUE_DOLLARS];
          if (won && d === days - 2) lastWinHour[w] = hr % 24;
          spend[w] += cost;
          spendByDay[d][w] += cost;
          buf.info[w * INFO_DIM + I_COST] = cost;
        }
        b.observe(buf.reward, buf.term, buf.trunc, buf.info);
      }
    }
    for (let w = 0; w < n; w++) {
      expect(spend[w]).toBeLessThanOrEqual(dailyBudget * days + 1e-9);
      expect(spend[w]).toBeGreaterThan(0.9 * dailyBudget * days);
      for (let d = 1; d < days; d++) expect(spendByDay[d][w]).toBeLessThanOrEqual(dailyBudget + 1e-9);
      // paced, not exhausted in the morning: bids are shaded (mu > 0.5; ~1.2 is optimal here)
      // and the budget lasts into the evening
      expect(muNoon[w]).toBeGreaterThan(0.5);
      expect(lastWinHour[w]).toBeGreaterThanOrEqual(20);
    }
    expect(value).toBeGreaterThan(0);
  });
});
