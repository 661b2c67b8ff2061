// Journeys as trajectories: every row the engine emits ends up in exactly one trajectory, delayed
// credit is conserved, late events all find their rows, trajectories come out contiguous and in
// decision order, the store round-trips through serialisation, and GAE with per-hour discounting
// matches a hand computation.
import { describe, expect, it } from "vitest";
import { pack, unpack } from "msgpackr";
import { RolloutEngine } from "../engine/rollout_engine.js";
import { resolveConfig } from "../env/config.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { OBS_DIM } from "../wasm/layout.js";
import { randomPolicy } from "./helpers/policy.js";
import {
  END_CONVERTED, END_LOST, END_NONE, END_TRUNCATED, RowColumns, TrajectoryStore, computeGae, lateEventsOf, type TrajectoryBatch,
} from "../trainer/trajectories.js";


describe("TrajectoryStore over real engine iterations", () => {
  it("conserves rows and credit, matches every late event, and emits ordered journeys", async () => {
    const config = resolveConfig();
    const spec = defaultPolicySpec(config.campaign.creatives.length);
    const engine = new RolloutEngine({ config, seed: 11, worlds: 4, threads: 0 });
    engine.setPolicy(randomPolicy(spec, 3), 1);
    const store = new TrajectoryStore();
    let rowsIn = 0;
    let rowsOut = 0;
    let creditIn = 0; // in place at emission + late credit
    let creditOut = 0;
    let completed = 0;
    let lateEvents = 0;
    const seen = new Set<string>();
    try {
      for (let it = 0; it < 6; it++) {
        const res = await engine.run({ hours: 72 });
        for (const b of res.batches) {
          const a = b.getChild("attributed_value")!.toArray() as Float64Array;
          for (let i = 0; i < a.length; i++) creditIn += a[i];
        }
        const ev = lateEventsOf(res.late);
        for (const e of ev) for (let i = 0; i < e.length; i++) if (e.kind[i] === 1) creditIn += e.value[i];
        lateEvents += res.lateEvents;
        const { out, stats } = store.ingest(res.batches, ev, res.untilHour, 24 * 60);
        expect(stats.unmatchedLate).toBe(0); // every row is kept by default: every late event has its row
        rowsIn += stats.rowsIn;
        rowsOut += out.rows.n;
        completed += out.count;
        for (let t = 0; t < out.count; t++) {
          const a = out.start[t];
          const z = out.start[t + 1];
          expect(z).toBeGreaterThan(a);
          expect([END_CONVERTED, END_LOST, END_TRUNCATED]).toContain(out.kind[t]);
          for (let i = a; i < z; i++) {
            creditOut += out.rows.attributed[i];
            expect(out.rows.world[i]).toBe(out.rows.world[a]);
            expect(out.rows.user[i]).toBe(out.rows.user[a]);
            if (i > a) expect(out.rows.decision[i]).toBeGreaterThan(out.rows.decision[i - 1]);
            // only the last row of a completed journey carries its end
            if (i < z - 1) expect(out.rows.end[i]).toBe(END_NONE);
            const key = `${out.rows.world[i]}:${out.rows.decision[i]}`;
            expect(seen.has(key)).toBe(false);
            seen.add(key);
          }
          if (out.kind[t] !== END_TRUNCATED) expect(out.rows.end[z - 1]).toBe(out.kind[t]);
        }
      }
      expect(lateEvents).toBeGreaterThan(0);
      expect(completed).toBeGreaterThan(100);
      const rest = store.flushAll();
      rowsOut += rest.rows.n;
      for (let i = 0; i < rest.rows.n; i++) creditOut += rest.rows.attributed[i];
      expect(rowsOut).toBe(rowsIn);
      expect(creditOut).toBeCloseTo(creditIn, 6);
      expect(creditIn).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 120_000);

  it("serialises open journeys and continues identically", async () => {
    const config = resolveConfig();
    const spec = defaultPolicySpec(config.campaign.creatives.length);
    const engine = new RolloutEngine({ config, seed: 12, worlds: 3, threads: 0 });
    engine.setPolicy(randomPolicy(spec, 4), 1);
    try {
      const a = new TrajectoryStore();
      const r1 = await engine.run({ hours: 96 });
      a.ingest(r1.batches, lateEventsOf(r1.late), r1.untilHour, 24 * 60);
      expect(a.openRows).toBeGreaterThan(0);
      const b = TrajectoryStore.deserialize(unpack(pack(a.serialize())));
      const r2 = await engine.run({ hours: 96 });
      const oa = a.ingest(r2.batches, lateEventsOf(r2.late), r2.untilHour, 24 * 60).out;
      const ob = b.ingest(r2.batches, lateEventsOf(r2.late), r2.untilHour, 24 * 60).out;
      expect(ob.count).toBe(oa.count);
      expect(Array.from(ob.start)).toEqual(Array.from(oa.start));
      expect(Array.from(ob.kind)).toEqual(Array.from(oa.kind));
      for (const f of RowColumns.FIELDS) {
        const w = f === "obs" ? OBS_DIM : 1;
        expect(Buffer.from(ob.rows[f].buffer, 0, ob.rows.n * w * ob.rows[f].BYTES_PER_ELEMENT).equals(Buffer.from(oa.rows[f].buffer, 0, oa.rows.n * w * oa.rows[f].BYTES_PER_ELEMENT))).toBe(true);
      }
      expect(() => TrajectoryStore.deserialize({ ...a.serialize(), meta: { ...a.serialize().meta, n: a.openRows + 1 } })).toThrow(/column world has/);
    } finally {
      await engine.close();
    }
  }, 120_000);

  it("cuts journeys older than maxAgeHours, so open rows stay bounded (without it they do not)", async () => {
    const config = resolveConfig();
    const spec = defaultPolicySpec(config.campaign.creatives.length);
    const maxAge = config.journey.conversionWindowDays * 24;
    const run = async (ageLimit: number) => {
      const engine = new RolloutEngine({ config, seed: 13, worlds: 3, threads: 0 });
      engine.setPolicy(randomPolicy(spec, 5), 1);
      const store = new TrajectoryStore();
      let oldestOpen = 0;
      let longestOut = 0;
      let rowsIn = 0;
      let rowsOut = 0;
      try {
        for (let it = 0; it < 16; it++) {
          const res = await engine.run({ hours: 72 });
          const { out, stats } = store.ingest(res.batches, lateEventsOf(res.late), res.untilHour, 24 * 21, undefined, ageLimit);
          rowsIn += stats.rowsIn;
          rowsOut += out.rows.n;
          for (let t = 0; t < out.count; t++) longestOut = Math.max(longestOut, out.rows.hour[out.start[t + 1] - 1] - out.rows.hour[out.start[t]]);
          const hours = new Int32Array(store.serialize().columns.hour.slice().buffer);
          for (const h of hours) oldestOpen = Math.max(oldestOpen, res.untilHour - h);
        }
        rowsOut += store.flushAll().rows.n;
      } finally {
        await engine.close();
      }
      expect(rowsOut).toBe(rowsIn);
      return { oldestOpen, longestOut };
    };
    const unbounded = await run(0);
    expect(unbounded.oldestOpen).toBeGreaterThan(maxAge); // the market keeps some journeys open past their window
    const bounded = await run(maxAge);
    expect(bounded.oldestOpen).toBeLessThanOrEqual(maxAge);
    // checked once an iteration: a journey may gain one more iteration's rows before its cut
    expect(bounded.longestOut).toBeLessThanOrEqual(maxAge + 72);
    expect(unbounded.longestOut).toBeGreaterThan(maxAge + 72);
  }, 180_000);

  it("truncates journeys of re-created worlds and counts late events that have no row", () => {
    const store = new TrajectoryStore();
    const { out, stats } = store.ingest([], [{ world: [0], decision: [5], kind: [1], value: [3], length: 1 }], 0, 100);
    expect(out.count).toBe(0);
    expect(stats.unmatchedLate).toBe(1);
    expect(store.unmatchedLateTotal).toBe(1);
  });
});

describe("GAE over journeys with time gaps", () => {
  function batch(hours: number[], attributed: number[], cost: number[], kind: number): TrajectoryBatch {
    const n = hours.length;
    const rows = new RowColumns(n);
    rows.n = n;
    hours.forEach((h, i) => {
      rows.hour[i] = h;
      rows.attributed[i] = attributed[i];
      rows.cost[i] = cost[i];
    });
    return { rows, start: Int32Array.from([0, n]), kind: Uint8Array.from([kind]), count: 1 };
  }

  it("matches a hand computation (terminal journey)", () => {
    const g = 0.9;
    const lam = 0.8;
    const b = batch([0, 2, 5], [0, 0, 10], [1, 2, 0.5], END_CONVERTED);
    const V = Float32Array.from([1, 2, 3]);
    const { advantages, returns, rewards } = computeGae(b, V, { gammaPerHour: g, lambda: lam, costPenalty: 0.5, rewardScale: 0.1 });
    const r = [(0 - 1.5 * 1) * 0.1, (0 - 1.5 * 2) * 0.1, (10 - 1.5 * 0.5) * 0.1];
    const d2 = r[2] - 3;
    const d1 = r[1] + g ** 3 * 3 - 2;
    const d0 = r[0] + g ** 2 * 2 - 1;
    const a2 = d2;
    const a1 = d1 + g ** 3 * lam * a2;
    const a0 = d0 + g ** 2 * lam * a1;
    expect(Array.from(rewards)).toEqual(r.map((x) => Math.fround(x)));
    [a0, a1, a2].forEach((a, i) => expect(advantages[i]).toBeCloseTo(a, 5));
    [a0 + 1, a1 + 2, a2 + 3].forEach((x, i) => expect(returns[i]).toBeCloseTo(x, 5));
  });

  it("bootstraps a truncated journey from its last value", () => {
    const b = batch([0, 1], [0, 0], [0, 0], END_TRUNCATED);
    const V = Float32Array.from([0.5, 2]);
    const { advantages } = computeGae(b, V, { gammaPerHour: 0.9, lambda: 1, costPenalty: 0, rewardScale: 1 });
    expect(advantages[1]).toBeCloseTo(0, 6); // r + V_T - V_T
    expect(advantages[0]).toBeCloseTo(0.9 * 2 - 0.5, 6);
    const t = computeGae({ ...b, kind: Uint8Array.from([END_LOST]) }, V, { gammaPerHour: 0.9, lambda: 1, costPenalty: 0, rewardScale: 1 });
    expect(t.advantages[1]).toBeCloseTo(-2, 6); // terminal: no bootstrap
  });
});
