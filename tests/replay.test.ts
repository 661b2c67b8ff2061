import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { type ColumnSpec, PrioritizedReplay, type ReplayOptions } from "../trainer/replay.js";

const ELEMENT_BYTES = { f32: 4, f64: 8, i32: 4, u32: 4, u8: 1 } as const;
/** sum-tree + min-tree, each 2 float64 nodes per row */
const TREE_BYTES = 32;

function rowBytes(columns: ColumnSpec[]): number {
  return columns.reduce((s, c) => s + ELEMENT_BYTES[c.type] * (c.width ?? 1), 0) + TREE_BYTES;
}

// A small schema in the shape of the PPO rows: an observation, actions, an id to follow rows by.
const COLUMNS: ColumnSpec[] = [
  { name: "id", type: "u32" },
  { name: "obs", type: "f32", width: 3 },
  { name: "bid_level", type: "u8" },
  { name: "ret", type: "f64" },
];

function makeReplay(capacity: number, extra: Partial<ReplayOptions> = {}): PrioritizedReplay {
  return new PrioritizedReplay({ columns: COLUMNS, maxBytes: capacity * rowBytes(COLUMNS), seed: 7, ...extra });
}

/** Rows whose every column is a function of the row id, so any slot can be checked. */
function rows(ids: number[]): Record<string, ArrayLike<number>> {
  const n = ids.length;
  const obs = new Float32Array(n * 3);
  ids.forEach((id, r) => obs.set([id, id + 0.5, -id], r * 3));
  return {
    id: Uint32Array.from(ids),
    obs,
    bid_level: Uint8Array.from(ids, (id) => id % 256),
    ret: Float64Array.from(ids, (id) => id / 3),
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** Pearson chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: ArrayLike<number>, probs: ArrayLike<number>, draws: number): number {
  let x2 = 0;
  for (let k = 0; k < counts.length; k++) {
    const e = probs[k] * draws;
    x2 += ((counts[k] - e) * (counts[k] - e)) / e;
  }
  return x2;
}
// Upper 0.1% points of chi-square (standard tables): a correct sampler fails one in a thousand seeds.
const CHI2_999 = { 7: 24.322 } as const;

describe("capacity and the byte bound", () => {
  it("capacity = floor(maxBytes / bytesPerRow) and the storage stays within maxBytes", () => {
    const spec = fc.record({
      name: fc.string({ minLength: 1, maxLength: 6 }),
      type: fc.constantFrom("f32", "f64", "i32", "u32", "u8" as const),
      width: fc.integer({ min: 1, max: 64 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(spec, { minLength: 1, maxLength: 5, selector: (c) => c.name }),
        fc.integer({ min: 1, max: 300_000 }),
        (columns, maxBytes) => {
          const per = rowBytes(columns);
          fc.pre(maxBytes >= per);
          const replay = new PrioritizedReplay({ columns, maxBytes, seed: 1 });
          expect(replay.bytesPerRow).toBe(per);
          expect(replay.capacity).toBe(Math.floor(maxBytes / per));
          expect(replay.byteLength).toBe(replay.capacity * per);
          expect(replay.byteLength).toBeLessThanOrEqual(maxBytes);
          expect((replay.capacity + 1) * per).toBeGreaterThan(maxBytes);
          for (const c of columns) expect(replay.column(c.name).length).toBe(replay.capacity * c.width);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a maxBytes below one row is a RangeError naming maxBytes", () => {
    expect(() => new PrioritizedReplay({ columns: COLUMNS, maxBytes: rowBytes(COLUMNS) - 1, seed: 1 })).toThrow(
      /maxBytes = \d+ holds no row: one row needs 57 bytes/,
    );
    expect(makeReplay(1).capacity).toBe(1);
  });
});

describe("option validation", () => {
  const ok: ReplayOptions = { columns: COLUMNS, maxBytes: 10_000, seed: 1 };
  const cases: [string, Partial<ReplayOptions> | Record<string, unknown>, RegExp][] = [
    ["empty columns", { columns: [] }, /columns must be a non-empty array/],
    ["column without name", { columns: [{ name: "", type: "f32" }] }, /columns\[0\]\.name/],
    ["duplicate column", { columns: [{ name: "a", type: "f32" }, { name: "a", type: "u8" }] }, /columns\[1\]\.name "a" is used/],
    ["bad type", { columns: [{ name: "a", type: "f16" }] }, /columns\[0\]\.type \(column "a"\) is "f16"; allowed: f32, f64, i32, u32, u8/],
    ["bad width", { columns: [{ name: "a", type: "f32", width: 0 }] }, /columns\[0\]\.width \(column "a"\)/],
    ["fractional width", { columns: [{ name: "a", type: "f32", width: 1.5 }] }, /columns\[0\]\.width/],
    ["maxBytes NaN", { maxBytes: Number.NaN }, /maxBytes must be a finite number > 0/],
    ["negative alpha", { alpha: -0.1 }, /alpha must be a finite number >= 0/],
    ["beta0 > 1", { beta0: 1.2 }, /beta0 must be in \[0, 1\]/],
    ["betaSteps 0", { betaSteps: 0 }, /betaSteps must be a positive integer/],
    ["eps 0", { eps: 0 }, /eps must be a finite number > 0/],
    ["negative seed", { seed: -1 }, /seed must be a non-negative safe integer/],
    ["unknown option", { betasteps: 10 }, /option "betasteps" is unknown; allowed: columns, maxBytes/],
  ];
  it.each(cases)("%s", (_name, patch, message) => {
    expect(() => new PrioritizedReplay({ ...ok, ...patch } as ReplayOptions)).toThrow(message);
  });
});

describe("sum-tree and min-tree", () => {
  // Model: raw priority per slot, ring cursor, running max. The replay must agree slot by slot.
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("add" as const),
      n: fc.integer({ min: 1, max: 40 }),
      prio: fc.option(fc.array(fc.double({ min: 0, max: 1e3, noNaN: true }), { minLength: 40, maxLength: 40 }), { nil: undefined }),
    }),
    fc.record({
      kind: fc.constant("update" as const),
      picks: fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1e3, noNaN: true })), { minLength: 1, maxLength: 20 }),
    }),
  );

  it("root = sum of leaves, min-tree root = min leaf, leaves = (|delta| + eps)^alpha, under random add/update", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 37 }),
        fc.double({ min: 0, max: 1.5, noNaN: true }),
        fc.array(op, { minLength: 1, maxLength: 30 }),
        (capacity, alpha, ops) => {
          const eps = 1e-6;
          const replay = makeReplay(capacity, { alpha, eps });
          const raw: number[] = [];
          let cursor = 0;
          let max = 1;
          let nextId = 0;
          for (const o of ops) {
            if (o.kind === "add") {
              const prio = o.prio?.slice(0, o.n);
              const ids = range(nextId, nextId + o.n);
              nextId += o.n;
              const slots = replay.add(o.n, rows(ids), prio);
              for (let r = 0; r < o.n; r++) {
                expect(slots[r]).toBe((cursor + r) % capacity);
                raw[slots[r]] = prio ? prio[r] : max;
              }
              if (prio) max = Math.max(max, ...prio);
              cursor = (cursor + o.n) % capacity;
            } else if (raw.length > 0) {
              const idx = Int32Array.from(o.picks, ([k]) => k % raw.length);
              const p = o.picks.map(([, v]) => v);
              replay.updatePriorities(idx, p);
              idx.forEach((s, k) => (raw[s] = p[k]));
              max = Math.max(max, ...p);
            }
            expect(replay.size).toBe(raw.length);
            expect(replay.maxPriority).toBe(max);
            const leaves = raw.map((p) => Math.pow(p + eps, alpha));
            leaves.forEach((leaf, s) => expect(replay.priority(s)).toBe(leaf));
            const sum = leaves.reduce((a, b) => a + b, 0);
            expect(Math.abs(replay.totalPriority - sum)).toBeLessThanOrEqual(1e-12 * sum);
            expect(replay.minPriority).toBe(Math.min(...leaves));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("sampling distribution", () => {
  const RAW = [0.1, 0.5, 1, 2, 3, 0.05, 4, 0.7];
  const probabilities = (alpha: number, eps = 1e-6): number[] => {
    const m = RAW.map((p) => Math.pow(p + eps, alpha));
    const total = m.reduce((a, b) => a + b, 0);
    return m.map((x) => x / total);
  };
  function counts(replay: PrioritizedReplay, batch: number, batches: number): Float64Array {
    const c = new Float64Array(RAW.length);
    for (let b = 0; b < batches; b++) for (const s of replay.sample(batch).idx) c[s]++;
    return c;
  }
  function filled(alpha: number, seed: number): PrioritizedReplay {
    const replay = makeReplay(RAW.length, { alpha, seed });
    replay.add(RAW.length, rows(range(0, RAW.length)), RAW);
    return replay;
  }

  it("independent draws match p^alpha / sum (chi-square, 7 df, 0.1% level)", () => {
    const draws = 40_000;
    const c = counts(filled(0.6, 11), 1, draws);
    expect(chiSquare(c, probabilities(0.6), draws)).toBeLessThan(CHI2_999[7]);
    // The same counts are far from uniform: the test can tell the distributions apart.
    expect(chiSquare(c, RAW.map(() => 1 / RAW.length), draws)).toBeGreaterThan(1000);
  });

  it("stratified batches match p^alpha / sum too (their spread is at most the multinomial's)", () => {
    const c = counts(filled(0.6, 12), 64, 625);
    expect(chiSquare(c, probabilities(0.6), 40_000)).toBeLessThan(CHI2_999[7]);
  });

  it("alpha = 1 samples in proportion to |delta| + eps", () => {
    const c = counts(filled(1, 13), 50, 800);
    expect(chiSquare(c, probabilities(1), 40_000)).toBeLessThan(CHI2_999[7]);
  });

  it("alpha = 0 samples uniformly whatever the priorities, with all weights 1", () => {
    const replay = filled(0, 14);
    const c = counts(replay, 1, 40_000);
    expect(chiSquare(c, RAW.map(() => 1 / RAW.length), 40_000)).toBeLessThan(CHI2_999[7]);
    expect([...replay.sample(16).weights]).toEqual(new Array(16).fill(1));
  });

  it("a batch of n draws takes one draw from each of n equal segments of the total", () => {
    // Two rows of mass 1 and 3 (alpha 1): with n = 4 segments of width 1, exactly one draw lands
    // in row 0's interval [0, 1) and three in row 1's, every time.
    const replay = makeReplay(2, { alpha: 1, eps: 1e-300 });
    replay.add(2, rows([0, 1]), [1, 3]);
    for (let k = 0; k < 100; k++) expect([...replay.sample(4).idx].sort()).toEqual([0, 1, 1, 1]);
  });

  it("never draws an empty slot", () => {
    const replay = makeReplay(64, { seed: 3 });
    replay.add(5, rows(range(0, 5)), [1e-9, 0, 5, 1e6, 2]);
    for (let k = 0; k < 200; k++) for (const s of replay.sample(33).idx) expect(s).toBeLessThan(5);
  });
});

describe("importance weights", () => {
  it("equal (N P(i))^-beta / max_j (N P(j))^-beta computed directly, with beta annealed to exactly 1", () => {
    const raw = [0.2, 1.5, 0.01, 3, 0.7, 2.2];
    const alpha = 0.7;
    const beta0 = 0.4;
    const betaSteps = 5;
    const eps = 1e-6;
    const replay = makeReplay(10, { alpha, beta0, betaSteps, eps, seed: 5 });
    replay.add(raw.length, rows(range(0, raw.length)), raw);
    const N = raw.length;
    const mass = raw.map((p) => Math.pow(p + eps, alpha));
    const total = mass.reduce((a, b) => a + b, 0);
    const P = mass.map((m) => m / total);
    for (let step = 0; step < 9; step++) {
      const beta = step >= betaSteps ? 1 : beta0 + ((1 - beta0) * step) / betaSteps;
      expect(replay.beta).toBeCloseTo(beta, 15);
      const w = P.map((p) => Math.pow(N * p, -beta));
      const wMax = Math.max(...w);
      const { idx, weights } = replay.sample(32);
      idx.forEach((s, k) => {
        const want = w[s] / wMax;
        expect(Math.abs(weights[k] - want)).toBeLessThanOrEqual(1e-6 * want);
      });
      expect(Math.max(...weights)).toBeLessThanOrEqual(1);
    }
    expect(replay.beta).toBe(1);
  });

  it("without betaSteps beta stays beta0", () => {
    const replay = makeReplay(4, { beta0: 0.3 });
    replay.add(2, rows([0, 1]), [1, 2]);
    for (let k = 0; k < 5; k++) replay.sample(2);
    expect(replay.beta).toBe(0.3);
  });

  it("the rarest stored row has weight 1 even when it is not in the batch", () => {
    const replay = makeReplay(4, { alpha: 1, beta0: 1, eps: 1e-12 });
    replay.add(3, rows([0, 1, 2]), [1e-6, 100, 100]);
    const { idx, weights } = replay.sample(2);
    expect([...idx]).toEqual([1, 2]);
    // (p_i / p_min)^-1 with p_min = 1e-6: rows 1 and 2 carry 1e-8 relative to the rare row.
    for (const w of weights) expect(w).toBeCloseTo(1e-8, 12);
  });
});

describe("ring", () => {
  it("keeps the newest rows, whatever the batch sizes (including batches larger than capacity)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 45 }), { minLength: 1, maxLength: 12 }), (capacity, batches) => {
        const replay = makeReplay(capacity);
        let next = 0;
        for (const n of batches) {
          const slots = replay.add(n, rows(range(next, next + n)));
          expect([...slots]).toEqual(range(next, next + n).map((id) => id % capacity));
          next += n;
        }
        expect(replay.size).toBe(Math.min(next, capacity));
        const live = range(Math.max(0, next - capacity), next);
        const slots = Int32Array.from(live, (id) => id % capacity);
        expect([...replay.gather("id", slots)]).toEqual(live);
        expect([...replay.gather("obs", slots)]).toEqual(live.flatMap((id) => [id, id + 0.5, -id]));
        expect([...replay.gather("bid_level", slots)]).toEqual(live.map((id) => id % 256));
        expect([...replay.gather("ret", slots)]).toEqual(live.map((id) => id / 3));
      }),
      { numRuns: 200 },
    );
  });

  it("replaces the priorities of overwritten slots", () => {
    const replay = makeReplay(4, { alpha: 1, eps: 1e-6 });
    replay.add(4, rows([0, 1, 2, 3]), [100, 100, 100, 100]);
    replay.add(3, rows([4, 5, 6]), [1, 2, 3]);
    expect([0, 1, 2, 3].map((s) => replay.priority(s))).toEqual([1 + 1e-6, 2 + 1e-6, 3 + 1e-6, 100 + 1e-6]);
    expect(replay.totalPriority).toBeCloseTo(106 + 4e-6, 10);
    // Rows added without priorities take the largest seen so far (100), not the old slot's.
    replay.updatePriorities(Int32Array.from([3]), [0.5]);
    replay.add(2, rows([7, 8]));
    expect([replay.priority(3), replay.priority(0)]).toEqual([100 + 1e-6, 100 + 1e-6]);
    expect(replay.minPriority).toBeCloseTo(2 + 1e-6, 12);
  });

  it("new rows before any priority is known get priority 1 (+ eps)", () => {
    const replay = makeReplay(3, { alpha: 0.5, eps: 1e-6 });
    replay.add(2, rows([0, 1]));
    expect(replay.priority(0)).toBe(Math.pow(1 + 1e-6, 0.5));
  });
});

describe("determinism and snapshots", () => {
  type Op = { kind: "add"; n: number; prio: boolean } | { kind: "sample"; n: number } | { kind: "update" };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), n: fc.integer({ min: 1, max: 30 }), prio: fc.boolean() }),
    fc.record({ kind: fc.constant("sample" as const), n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant("update" as const) }),
  );

  /** Runs ops[from..to), recording every sample; rows, priorities and updated slots are derived from
   *  the step number so a run split in two feeds the same values. */
  function run(replay: PrioritizedReplay, ops: Op[], from: number, to: number, trace: unknown[]): void {
    for (let k = from; k < to; k++) {
      const o = ops[k];
      const start = k * 1000;
      if (o.kind === "add") {
        replay.add(o.n, rows(range(start, start + o.n)), o.prio ? range(0, o.n).map((r) => ((start + r) % 17) / 4) : undefined);
      } else if (o.kind === "sample" && replay.size > 0) {
        const s = replay.sample(o.n);
        trace.push([...s.idx], [...s.weights], replay.beta);
      } else if (o.kind === "update" && replay.size > 0) {
        const idx = Int32Array.from({ length: 1 + (k % 5) }, (_, j) => (k * 7 + j * 3) % replay.size);
        replay.updatePriorities(idx, Array.from(idx, (s, j) => ((s * 7 + j + k) % 13) / 3));
      }
    }
  }

  it("same seed and calls give identical samples; another seed differs", () => {
    const ops: Op[] = [{ kind: "add", n: 30, prio: true }, ...Array.from({ length: 6 }, () => ({ kind: "sample" as const, n: 16 }))];
    const traces = [7, 7, 8].map((seed) => {
      const t: unknown[] = [];
      run(makeReplay(50, { seed, betaSteps: 4 }), ops, 0, ops.length, t);
      return t;
    });
    expect(traces[1]).toEqual(traces[0]);
    expect(traces[2]).not.toEqual(traces[0]);
  });

  it("serialize mid-run, deserialize, continue: identical to the uninterrupted run", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 25 }), fc.array(opArb, { minLength: 2, maxLength: 25 }), fc.nat(), (capacity, ops, cut) => {
        const split = cut % (ops.length + 1);
        const opts = { seed: 99, alpha: 0.7, betaSteps: 6 };
        const whole: unknown[] = [];
        const a = makeReplay(capacity, opts);
        run(a, ops, 0, ops.length, whole);

        const resumed: unknown[] = [];
        const first = makeReplay(capacity, opts);
        run(first, ops, 0, split, resumed);
        const b = PrioritizedReplay.deserialize(first.serialize());
        expect(b.size).toBe(first.size);
        expect(b.beta).toBe(first.beta);
        run(b, ops, split, ops.length, resumed);

        expect(resumed).toEqual(whole);
        expect(b.serialize()).toEqual(a.serialize());
        expect(b.totalPriority).toBe(a.totalPriority);
        expect(b.minPriority).toBe(a.minPriority);
        for (const c of COLUMNS) expect(b.column(c.name).subarray(0, b.size)).toEqual(a.column(c.name).subarray(0, a.size));
      }),
      { numRuns: 100 },
    );
  });

  it("a snapshot holds only the filled rows", () => {
    const replay = makeReplay(10_000);
    const empty = replay.serialize().length;
    replay.add(10, rows(range(0, 10)));
    expect(replay.serialize().length - empty).toBeLessThan(10 * rowBytes(COLUMNS) + 200);
    expect(empty).toBeLessThan(1000);
  });
});

describe("corrupt snapshots", () => {
  const good = (): Uint8Array => {
    const replay = makeReplay(16, { betaSteps: 3 });
    replay.add(12, rows(range(0, 12)), range(0, 12).map((k) => k / 5));
    replay.sample(4);
    return replay.serialize();
  };
  const packr = new Packr({ moreTypes: true, useRecords: false });
  /** Re-frames an edited payload with a valid tag and CRC, so field validation is what must catch it. */
  function reframe(bytes: Uint8Array, edit: (s: Record<string, unknown>) => void): Uint8Array {
    const s = packr.unpack(bytes.subarray(12)) as Record<string, unknown>;
    edit(s);
    const payload = packr.pack(s);
    const out = new Uint8Array(12 + payload.length);
    out.set(bytes.subarray(0, 8));
    new DataView(out.buffer).setUint32(8, crc32(payload), true);
    out.set(payload, 12);
    return out;
  }

  it("the unedited frame round-trips (the reframing below is faithful)", () => {
    const bytes = good();
    expect(reframe(bytes, () => {})).toEqual(bytes);
  });

  it("truncation at any length is an error", () => {
    const bytes = good();
    for (let len = 0; len < bytes.length; len += 7) {
      expect(() => PrioritizedReplay.deserialize(bytes.subarray(0, len))).toThrow(/PrioritizedReplay\.deserialize: (not a replay snapshot|corrupt or truncated)/);
    }
  });

  it("any flipped byte is an error", () => {
    const bytes = good();
    for (let at = 0; at < bytes.length; at += 5) {
      const bad = bytes.slice();
      bad[at] ^= 0x40;
      expect(() => PrioritizedReplay.deserialize(bad)).toThrow(/PrioritizedReplay\.deserialize/);
    }
  });

  it("foreign bytes are not a snapshot", () => {
    expect(() => PrioritizedReplay.deserialize(new TextEncoder().encode("hello, this is not a replay"))).toThrow(/no "GAELPPER" format tag/);
    expect(() => PrioritizedReplay.deserialize(new Uint8Array(0))).toThrow(/not a replay snapshot/);
  });

  const edits: [string, (s: Record<string, unknown>) => void, RegExp][] = [
    ["version", (s) => (s.version = 2), /version 2 is not supported/],
    ["format", (s) => (s.format = "other"), /format is not "gaelp.replay"/],
    ["size past capacity", (s) => (s.size = 17), /size 17 is not in \[0, 16\]/],
    ["cursor", (s) => (s.cursor = 3), /cursor 3 is inconsistent with size 12/],
    ["capacity", (s) => (s.capacity = 15), /capacity 15 does not match the 16 rows/],
    ["negative leaf", (s) => ((s.leaves as Float64Array)[2] = -1), /leaves\[2\] = -1 is not a positive finite priority/],
    ["short leaves", (s) => (s.leaves = new Float64Array(3)), /leaves must be a Float64Array of 12/],
    ["column type", (s) => ((s.data as Record<string, unknown>).obs = new Float64Array(36)), /column "obs" must be a Float32Array of 12 \* 3 values/],
    ["column length", (s) => ((s.data as Record<string, unknown>).id = new Uint32Array(11)), /column "id" must be a Uint32Array of 12 \* 1 values/],
    ["extra column", (s) => ((s.data as Record<string, unknown>).extra = new Uint8Array(12)), /data has column "extra"/],
    ["bad option", (s) => ((s.options as Record<string, unknown>).alpha = -1), /options: replay option alpha must be/],
    ["rng", (s) => (s.rng = new Float64Array(3)), /rng state is not 4 finite float64 values/],
  ];
  it.each(edits)("a payload with a bad %s is rejected by name", (_name, edit, message) => {
    expect(() => PrioritizedReplay.deserialize(reframe(good(), edit))).toThrow(message);
  });
});

describe("input validation", () => {
  it("add: unknown, missing, wrong-length and out-of-range columns are named, and nothing is written", () => {
    const replay = makeReplay(8);
    replay.add(2, rows([0, 1]), [1, 2]);
    const before = replay.serialize();
    const good = rows([5, 6, 7]);
    expect(() => replay.add(3, { ...good, extra: new Float32Array(3) })).toThrow(/add: data: unknown column "extra"; columns: id, obs, bid_level, ret/);
    const { obs: _omit, ...noObs } = good;
    expect(() => replay.add(3, noObs)).toThrow(/add: data is missing column "obs" \(3 x 3 f32 values\)/);
    expect(() => replay.add(3, { ...good, obs: new Float32Array(8) })).toThrow(/column "obs" needs n \* width = 3 \* 3 = 9 values, got 8/);
    expect(() => replay.add(3, { ...good, bid_level: [1, 256, 2] })).toThrow(/column "bid_level" \(u8\) value \[1\] = 256 is not an integer in \[0, 255\]/);
    expect(() => replay.add(3, { ...good, id: [1, 2.5, 3] })).toThrow(/column "id" \(u32\) value \[1\] = 2.5/);
    expect(() => replay.add(3, good, [1, Number.NaN, 1])).toThrow(/add: priorities\[1\] = NaN must be a finite number >= 0/);
    expect(() => replay.add(3, good, [1, 1])).toThrow(/priorities must hold one value per row \(3\), got 2/);
    expect(() => replay.add(-1, good)).toThrow(/add: n must be a non-negative integer/);
    expect(replay.serialize()).toEqual(before);
    // Plain arrays in range are accepted and converted.
    replay.add(1, { id: [9], obs: [1, 2, 3], bid_level: [255], ret: [0.25] });
    expect([...replay.gather("bid_level", Int32Array.from([2]))]).toEqual([255]);
  });

  it("updatePriorities: non-finite or negative priorities and unfilled slots are named, and nothing is applied", () => {
    const replay = makeReplay(8);
    replay.add(4, rows([0, 1, 2, 3]), [1, 1, 1, 1]);
    const before = replay.serialize();
    expect(() => replay.updatePriorities(Int32Array.from([0, 1]), [2, -1])).toThrow(/priorities\[1\] \(slot 1\) = -1 must be a finite number >= 0/);
    expect(() => replay.updatePriorities(Int32Array.from([0, 3]), [2, Infinity])).toThrow(/priorities\[1\] \(slot 3\) = Infinity/);
    expect(() => replay.updatePriorities(Int32Array.from([0, 4]), [2, 2])).toThrow(/idx\[1\] = 4 is not a filled slot \(0\.\.3\)/);
    expect(() => replay.updatePriorities(Int32Array.from([0]), [2, 2])).toThrow(/one value per index \(1\), got 2/);
    expect(replay.serialize()).toEqual(before);
  });

  it("sample and gather reject bad arguments", () => {
    const replay = makeReplay(8);
    expect(() => replay.sample(4)).toThrow(/sample: the replay is empty/);
    replay.add(3, rows([0, 1, 2]));
    expect(() => replay.sample(0)).toThrow(/sample: n must be a positive integer/);
    expect(() => replay.sample(4, { idx: new Int32Array(3), weights: new Float32Array(4) })).toThrow(/out\.idx must be an Int32Array of at least 4/);
    expect(() => replay.gather("nope", Int32Array.from([0]))).toThrow(/gather: unknown column "nope"/);
    expect(() => replay.gather("id", Int32Array.from([3]))).toThrow(/gather: idx\[0\] = 3 is not a filled slot/);
    expect(() => replay.gather("obs", Int32Array.from([0]), new Float64Array(3))).toThrow(/out for column "obs" must be a Float32Array of at least 3/);
  });

  it("preallocated outputs give the same results as fresh ones", () => {
    const a = makeReplay(32, { seed: 4 });
    const b = makeReplay(32, { seed: 4 });
    for (const r of [a, b]) r.add(20, rows(range(0, 20)), range(0, 20).map((k) => k % 5));
    const out = { idx: new Int32Array(16), weights: new Float32Array(16) };
    const obs = new Float32Array(16 * 3 + 5);
    for (let k = 0; k < 3; k++) {
      const fresh = a.sample(12);
      const reused = b.sample(12, out);
      expect(reused.idx).toEqual(fresh.idx);
      expect(reused.weights).toEqual(fresh.weights);
      expect(b.gather("obs", reused.idx, obs)).toEqual(a.gather("obs", fresh.idx));
    }
  });
});
