// Known answers for the auction kernel (wasm/assembly/auction.ts) and its plain-TS reference
// (wasm/reference/auction.ts): parity between the two, the pricing rules of each mechanism
// checked against an independent sort-based oracle, and two results of auction theory
// (truthful bidding is dominant in a second-price auction; it earns nothing in a first-price one).
// Every random input comes from a fixed seed.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { MAX_BIDDERS, MAX_SLOTS, MECH_FIRST_PRICE, MECH_GSP, MECH_SECOND_PRICE } from "../wasm/layout.js";
import { allocate } from "../wasm/reference/auction.js";
import { WasmAuction } from "../wasm/reference/auction_wasm.js";

const MECHANISMS = [
  ["first price", MECH_FIRST_PRICE],
  ["second price", MECH_SECOND_PRICE],
  ["GSP", MECH_GSP],
] as const;

const wasm = new WasmAuction();
const f32 = Math.fround;

// ---- one auction through either implementation --------------------------------------------------

interface Auction {
  bids: number[];
  quality: number[] | null; // null: ranked by bid alone (quality 1)
  mechanism: number;
  slots: number;
  reserve: number;
}

interface Outcome {
  winners: number[];
  prices: number[];
}

type Runner = (a: Auction) => Outcome;

const runReference: Runner = (a) => {
  const n = a.bids.length;
  const winners = new Int32Array(MAX_SLOTS);
  const prices = new Float32Array(MAX_SLOTS);
  const quality = a.quality ? Float32Array.from(a.quality) : new Float32Array(n).fill(1);
  const filled = allocate(Float32Array.from(a.bids), quality, n, a.mechanism, a.slots, a.reserve, a.quality !== null, winners, prices);
  return { winners: Array.from(winners.subarray(0, filled)), prices: Array.from(prices.subarray(0, filled)) };
};

const runWasm: Runner = (a) => {
  const n = a.bids.length;
  const quality = a.quality ? Float32Array.from(a.quality) : new Float32Array(n).fill(1);
  const r = wasm.run(Float32Array.from(a.bids), quality, n, a.mechanism, a.slots, a.reserve, a.quality !== null);
  const filled = r.filled[0];
  return { winners: Array.from(r.winners.subarray(0, filled)), prices: Array.from(r.prices.subarray(0, filled)) };
};

// ---- oracle: what the rules say, written as a sort rather than the kernel's insertion sort ------

interface Ranked {
  index: number;
  bid: number;
  score: number;
}

/** Eligible bidders, best score first, ties to the lower index (Array.prototype.sort is stable). */
function ranking(a: Auction): Ranked[] {
  const reserve = f32(a.reserve);
  return a.bids
    .map((bid, index) => ({ index, bid, score: a.quality ? f32(bid * a.quality[index]) : bid }))
    .filter((x) => x.bid >= reserve && x.bid > 0)
    .sort((x, y) => y.score - x.score);
}

// ---- generators ---------------------------------------------------------------------------------

// Bids mix a continuous range with a coarse grid (ties, exact zeros) and non-positive values
// (never eligible). All values are exact f32 so the oracle sees what the kernel sees.
const bidArb = fc.oneof(
  fc.float({ min: 0, max: 10, noNaN: true }),
  fc.integer({ min: 0, max: 8 }).map((k) => k / 4),
  fc.float({ min: -1, max: 0, noNaN: true }),
);
const qualityArb = fc.oneof(
  fc.float({ min: f32(0.05), max: 2, noNaN: true }),
  fc.integer({ min: 1, max: 8 }).map((k) => k / 4),
);
const reserveArb = fc.oneof(fc.constant(0), fc.float({ min: 0, max: 3, noNaN: true }), fc.integer({ min: 0, max: 8 }).map((k) => k / 4));

function auctionArb(mechanism: fc.Arbitrary<number>, weighted: fc.Arbitrary<boolean>): fc.Arbitrary<Auction> {
  return fc.integer({ min: 1, max: MAX_BIDDERS }).chain((n) =>
    fc.record({
      bids: fc.array(bidArb, { minLength: n, maxLength: n }),
      quality: fc.array(qualityArb, { minLength: n, maxLength: n }),
      weighted,
      mechanism,
      slots: fc.integer({ min: 1, max: MAX_SLOTS }),
      reserve: reserveArb,
    }).map(({ weighted: w, quality, ...rest }) => ({ ...rest, quality: w ? quality : null })),
  );
}

const anyMechanism = fc.constantFrom(MECH_FIRST_PRICE, MECH_SECOND_PRICE, MECH_GSP);
const FC = { seed: 20240611, numRuns: 400 };

// ---- parity -------------------------------------------------------------------------------------

/** Bitwise f32 equality: distinguishes -0 from 0 and would catch any last-bit rounding difference. */
function sameBits(a: number, b: number): boolean {
  const u = new Uint32Array(new Float32Array([a, b]).buffer);
  return u[0] === u[1];
}

interface Batch {
  n: number;
  mechanism: number;
  slots: number;
  reserve: number;
  qualityWeighted: boolean;
  bids: Float32Array;
  quality: Float32Array;
}

/** Differences between the wasm kernel and the reference on one batch, described for the failure message. */
function parityMismatches(batch: Batch): string[] {
  const { n, mechanism, slots, reserve, qualityWeighted } = batch;
  const out = wasm.run(batch.bids, batch.quality, n, mechanism, slots, reserve, qualityWeighted);
  const winners = new Int32Array(MAX_SLOTS);
  const prices = new Float32Array(MAX_SLOTS);
  const bad: string[] = [];
  for (let a = 0; a < out.filled.length; a++) {
    const row = a * n;
    const filled = allocate(batch.bids.subarray(row, row + n), batch.quality.subarray(row, row + n), n, mechanism, slots, reserve, qualityWeighted, winners, prices);
    let same = filled === out.filled[a];
    for (let k = 0; same && k < filled; k++) {
      same = winners[k] === out.winners[a * MAX_SLOTS + k] && sameBits(prices[k], out.prices[a * MAX_SLOTS + k]);
    }
    if (!same) {
      bad.push(
        `mech=${mechanism} slots=${slots} reserve=${reserve} qw=${qualityWeighted} bids=[${Array.from(batch.bids.subarray(row, row + n))}] ` +
          `quality=[${Array.from(batch.quality.subarray(row, row + n))}]: ts filled=${filled} winners=[${Array.from(winners.subarray(0, filled))}] prices=[${Array.from(prices.subarray(0, filled))}] ` +
          `wasm filled=${out.filled[a]} winners=[${Array.from(out.winners.subarray(a * MAX_SLOTS, a * MAX_SLOTS + out.filled[a]))}] prices=[${Array.from(out.prices.subarray(a * MAX_SLOTS, a * MAX_SLOTS + out.filled[a]))}]`,
      );
    }
  }
  return bad;
}

describe("auction kernel parity: wasm == TS reference, bit for bit", () => {
  it("agrees on 12,288 seeded auctions over every mechanism, slot count, bidder count and weighting", () => {
    const rng = seedrandom("gaelp/auction-parity");
    const AUCTIONS_PER_CASE = 32;
    const mismatches: string[] = [];
    let auctions = 0;
    for (const [, mechanism] of MECHANISMS) {
      for (let slots = 1; slots <= MAX_SLOTS; slots++) {
        for (const qualityWeighted of [false, true]) {
          for (let n = 1; n <= MAX_BIDDERS; n++) {
            // Most reserves are not f32 values (0.1 rounds up, 0.7 down) to exercise their rounding.
            const reserve = [0, 0.05, 0.1, 0.7, rng() * 0.6, 0.5][Math.floor(rng() * 6)];
            const bids = new Float32Array(AUCTIONS_PER_CASE * n);
            const quality = new Float32Array(AUCTIONS_PER_CASE * n);
            for (let i = 0; i < bids.length; i++) {
              const u = rng();
              // Mostly continuous bids; some on a coarse grid so ties happen; some ineligible.
              bids[i] = u < 0.7 ? rng() : u < 0.9 ? Math.floor(rng() * 5) / 4 : u < 0.95 ? 0 : -rng();
              quality[i] = rng() < 0.2 ? (1 + Math.floor(rng() * 8)) / 4 : 0.05 + 1.95 * rng();
            }
            mismatches.push(...parityMismatches({ n, mechanism, slots, reserve, qualityWeighted, bids, quality }));
            auctions += AUCTIONS_PER_CASE;
          }
        }
      }
    }
    expect(auctions).toBeGreaterThanOrEqual(10_000);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it("agrees on arbitrary finite f32 inputs, including subnormal and huge bids (fast-check)", () => {
    // Quality is kept away from 0 so no price is 0/0 (NaN, whose bit pattern is not portable).
    const finite = fc.float({ noNaN: true, noDefaultInfinity: true });
    const batchArb = fc
      .record({
        n: fc.integer({ min: 1, max: MAX_BIDDERS }),
        count: fc.integer({ min: 1, max: 8 }),
        mechanism: anyMechanism,
        slots: fc.integer({ min: 1, max: MAX_SLOTS }),
        reserve: fc.oneof(finite, fc.constant(0)),
        qualityWeighted: fc.boolean(),
      })
      .chain((c) =>
        fc.record({
          bids: fc.array(finite, { minLength: c.n * c.count, maxLength: c.n * c.count }),
          quality: fc.array(fc.float({ min: f32(1e-3), max: 1e3, noNaN: true }), { minLength: c.n * c.count, maxLength: c.n * c.count }),
        }).map((io) => ({ ...c, bids: Float32Array.from(io.bids), quality: Float32Array.from(io.quality) })),
      );
    fc.assert(
      fc.property(batchArb, (batch) => {
        expect(parityMismatches(batch)).toEqual([]);
      }),
      FC,
    );
  });
});

// ---- pricing rules, on both implementations -----------------------------------------------------

describe.each([
  ["TS reference", runReference],
  ["wasm kernel", runWasm],
] as const)("%s: pricing rules", (_name, run) => {
  it("second price: the winner pays the runner-up bid", () => {
    expect(run({ bids: [3, 5, 4], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 1 })).toEqual({ winners: [1], prices: [4] });
    // one slot whatever `slots` says
    expect(run({ bids: [3, 5, 4], quality: null, mechanism: MECH_SECOND_PRICE, slots: 4, reserve: 1 })).toEqual({ winners: [1], prices: [4] });
  });

  it("second price: the winner pays the reserve when it is above the runner-up, or when alone", () => {
    expect(run({ bids: [3, 5, 4], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 4.5 })).toEqual({ winners: [1], prices: [4.5] });
    expect(run({ bids: [2], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 0.5 })).toEqual({ winners: [0], prices: [0.5] });
    // a runner-up below the reserve is not a bidder
    expect(run({ bids: [0.25, 3], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 0.5 })).toEqual({ winners: [1], prices: [0.5] });
  });

  it("bids below the reserve, zero or negative never win", () => {
    expect(run({ bids: [0.25, 0, -1], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 0.5 })).toEqual({ winners: [], prices: [] });
    expect(run({ bids: [0, -2], quality: null, mechanism: MECH_GSP, slots: 4, reserve: 0 })).toEqual({ winners: [], prices: [] });
  });

  it("the reserve is compared in f32: a bid of f32(0.7) meets a reserve of 0.7", () => {
    // f32(0.7) < 0.7, so comparing against the f64 reserve would wrongly exclude this bid.
    expect(run({ bids: [f32(0.7)], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 0.7 })).toEqual({ winners: [0], prices: [f32(0.7)] });
  });

  it("ties go to the lower bidder index", () => {
    expect(run({ bids: [1, 2, 2, 2], quality: null, mechanism: MECH_GSP, slots: 3, reserve: 0 })).toEqual({ winners: [1, 2, 3], prices: [2, 2, 1] });
    expect(run({ bids: [2, 2], quality: null, mechanism: MECH_SECOND_PRICE, slots: 1, reserve: 0 })).toEqual({ winners: [0], prices: [2] });
  });

  it("first price: each slot winner pays its own bid", () => {
    expect(run({ bids: [1, 4, 2, 3], quality: null, mechanism: MECH_FIRST_PRICE, slots: 2, reserve: 0.5 })).toEqual({ winners: [1, 3], prices: [4, 3] });
  });

  it("GSP: slot k pays the (k+1)-th ranked bid, the last filled slot pays the reserve", () => {
    expect(run({ bids: [1, 4, 2, 3], quality: null, mechanism: MECH_GSP, slots: 3, reserve: 0.5 })).toEqual({ winners: [1, 3, 2], prices: [3, 2, 1] });
    expect(run({ bids: [1, 4, 2, 3], quality: null, mechanism: MECH_GSP, slots: 4, reserve: 0.5 })).toEqual({ winners: [1, 3, 2, 0], prices: [3, 2, 1, 0.5] });
  });

  it("quality-weighted GSP: slot k pays the next score divided by its own quality", () => {
    // scores 2*0.5=1, 1*2=2, 3*0.5=1.5 -> ranking 1, 2, 0
    const out = run({ bids: [2, 1, 3], quality: [0.5, 2, 0.5], mechanism: MECH_GSP, slots: 3, reserve: 0.125 });
    expect(out).toEqual({ winners: [1, 2, 0], prices: [1.5 / 2, 1 / 0.5, 0.125] });
  });

  it("first price: every winner pays exactly its bid (property)", () => {
    fc.assert(
      fc.property(auctionArb(fc.constant(MECH_FIRST_PRICE), fc.boolean()), (a) => {
        const out = run(a);
        expect(out.prices).toEqual(out.winners.map((w) => a.bids[w]));
      }),
      FC,
    );
  });

  it("second price: price = max(reserve, runner-up bid), or the reserve when alone (property)", () => {
    fc.assert(
      fc.property(auctionArb(fc.constant(MECH_SECOND_PRICE), fc.constant(false)), (a) => {
        const ranked = ranking(a);
        const out = run(a);
        if (ranked.length === 0) {
          expect(out.winners).toEqual([]);
          return;
        }
        const runnerUp = ranked.length > 1 ? ranked[1].bid : -Infinity;
        expect(out).toEqual({ winners: [ranked[0].index], prices: [Math.max(f32(a.reserve), runnerUp)] });
      }),
      FC,
    );
  });

  it("GSP: slot k pays max(reserve, (k+1)-th ranked bid), the reserve when no one ranks below (property)", () => {
    fc.assert(
      fc.property(auctionArb(fc.constant(MECH_GSP), fc.constant(false)), (a) => {
        const ranked = ranking(a);
        const filled = Math.min(a.slots, ranked.length);
        const reserve = f32(a.reserve);
        const out = run(a);
        expect(out.winners).toEqual(ranked.slice(0, filled).map((x) => x.index));
        expect(out.prices).toEqual(ranked.slice(0, filled).map((_, k) => (k + 1 < ranked.length ? Math.max(reserve, ranked[k + 1].bid) : reserve)));
      }),
      FC,
    );
  });

  it("quality-weighted GSP: slot k pays max(reserve, score of rank k+1 / own quality), capped at the bid (property)", () => {
    fc.assert(
      fc.property(auctionArb(fc.constant(MECH_GSP), fc.constant(true)), (a) => {
        const q = a.quality!;
        const ranked = ranking(a);
        const filled = Math.min(a.slots, ranked.length);
        const reserve = f32(a.reserve);
        const out = run(a);
        expect(out.winners).toEqual(ranked.slice(0, filled).map((x) => x.index));
        const expected = ranked.slice(0, filled).map((x, k) => {
          const perScore = k + 1 < ranked.length ? Math.max(reserve, f32(ranked[k + 1].score / q[x.index])) : reserve;
          return Math.min(perScore, x.bid);
        });
        expect(out.prices).toEqual(expected);
      }),
      FC,
    );
  });

  it("winners are the top scores in order; prices lie in [reserve, bid] (property, all mechanisms)", () => {
    fc.assert(
      fc.property(auctionArb(anyMechanism, fc.boolean()), (a) => {
        const ranked = ranking(a);
        const slots = a.mechanism === MECH_SECOND_PRICE ? 1 : a.slots;
        const out = run(a);
        expect(out.winners).toEqual(ranked.slice(0, Math.min(slots, ranked.length)).map((x) => x.index));
        out.winners.forEach((w, k) => {
          expect(a.bids[w]).toBeGreaterThanOrEqual(f32(a.reserve)); // below-reserve bids never win
          expect(out.prices[k]).toBeLessThanOrEqual(a.bids[w]);
          expect(out.prices[k]).toBeGreaterThanOrEqual(f32(a.reserve));
        });
      }),
      FC,
    );
  });
});

// ---- auction theory: the value of shading -------------------------------------------------------

describe("bid shading against 5 rivals with i.i.d. U(0,1) bids (wasm kernel, common random numbers)", () => {
  const AUCTIONS = 200_000;
  const RIVALS = 5;
  const N = RIVALS + 1; // our agent is bidder 0
  const SHADES = [0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5];

  // The same values and rival bids for every shading factor, so utility differences between
  // factors measure the factor, not the draw.
  const rng = seedrandom("gaelp/auction-shading");
  const values = new Float32Array(AUCTIONS);
  const rivalBids = new Float32Array(AUCTIONS * RIVALS);
  for (let i = 0; i < AUCTIONS; i++) values[i] = rng();
  for (let i = 0; i < rivalBids.length; i++) rivalBids[i] = rng();
  const quality = new Float32Array(AUCTIONS * N).fill(1);

  /** Our utility (value - price if we win, else 0) in each auction when we bid shade * value. */
  function utilities(mechanism: number, shade: number): Float64Array {
    const bids = new Float32Array(AUCTIONS * N);
    for (let a = 0; a < AUCTIONS; a++) {
      bids[a * N] = shade * values[a];
      bids.set(rivalBids.subarray(a * RIVALS, (a + 1) * RIVALS), a * N + 1);
    }
    const out = wasm.run(bids, quality, N, mechanism, 1, 0, false);
    const u = new Float64Array(AUCTIONS);
    for (let a = 0; a < AUCTIONS; a++) {
      if (out.filled[a] > 0 && out.winners[a * MAX_SLOTS] === 0) u[a] = values[a] - out.prices[a * MAX_SLOTS];
    }
    return u;
  }

  function mean(x: Float64Array): number {
    let s = 0;
    for (const v of x) s += v;
    return s / x.length;
  }

  /** Mean and standard error of x - y, auction by auction. */
  function paired(x: Float64Array, y: Float64Array): { mean: number; se: number; min: number } {
    let s = 0;
    let ss = 0;
    let min = Infinity;
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - y[i];
      s += d;
      ss += d * d;
      if (d < min) min = d;
    }
    const m = s / x.length;
    const variance = (ss - x.length * m * m) / (x.length - 1);
    return { mean: m, se: Math.sqrt(variance / x.length), min };
  }

  function standardError(x: Float64Array): number {
    return paired(x, new Float64Array(x.length)).se;
  }

  it("second price: truthful bidding beats every other shading factor, in every single auction and on average", () => {
    const u = new Map(SHADES.map((s) => [s, utilities(MECH_SECOND_PRICE, s)]));
    const truthful = u.get(1.0)!;
    // E[(v - M)+] with M the max of 5 U(0,1) rivals: integral of v^6/6 over [0,1] = 1/42.
    expect(Math.abs(mean(truthful) - 1 / 42)).toBeLessThan(4 * standardError(truthful));
    for (const shade of SHADES) {
      if (shade === 1.0) continue;
      const d = paired(truthful, u.get(shade)!);
      expect(d.min, `shade ${shade}: truthful must be weakly better in each auction`).toBeGreaterThanOrEqual(0);
      expect(d.mean, `shade ${shade}: mean gain ${d.mean} vs 3 SE ${3 * d.se}`).toBeGreaterThan(3 * d.se);
    }
  });

  it("first price: truthful bidding earns exactly zero and shading near the optimum 5/6 wins", () => {
    const u = new Map(SHADES.map((s) => [s, utilities(MECH_FIRST_PRICE, s)]));
    const truthful = u.get(1.0)!;
    expect(truthful.every((x) => x === 0)).toBe(true);
    for (const shade of SHADES) {
      const us = u.get(shade)!;
      if (shade < 1) {
        // E[(1 - a) v 1{a v > M}] = (1 - a) a^5 / 7 for a <= 1; maximised at a = 5/6.
        const expected = ((1 - shade) * shade ** 5) / 7;
        expect(Math.abs(mean(us) - expected), `shade ${shade}`).toBeLessThan(4 * standardError(us));
        const d = paired(us, truthful);
        expect(d.mean, `shade ${shade} should beat truthful`).toBeGreaterThan(3 * d.se);
      } else if (shade > 1) {
        expect(mean(us), `overbidding ${shade} pays more than the value`).toBeLessThan(0);
      }
    }
    const best = SHADES.reduce((a, b) => (mean(u.get(b)!) > mean(u.get(a)!) ? b : a));
    expect(best).toBe(0.85); // the grid point nearest 5/6
    for (const shade of SHADES) {
      if (shade === best) continue;
      const d = paired(u.get(best)!, u.get(shade)!);
      expect(d.mean, `0.85 vs ${shade}`).toBeGreaterThan(3 * d.se);
    }
  });
});
