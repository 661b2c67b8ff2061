// EnvPool-style determinism: two envs built from the same config and seed, given the same
// actions, produce the same bytes at every step (obs, reward, terminated, truncated, info);
// another seed or stream gives another run; observations stay inside the declared space; worlds
// are the same however they are split across env instances; reset(seed) replays a run; and the
// release and debug WASM builds simulate the same worlds bit for bit.
import { describe, expect, it } from "vitest";
import * as L from "../wasm/layout.js";
import { VectorEnv } from "../env/vector_env.js";
import { AuctionEnv, type StepInfo } from "../env/auction_env.js";
import { firstOutOfBounds } from "../env/spaces.js";
import type { WasmTarget } from "../wasm/loader.js";
import { digest, newAction, newBuffers, ruleFor, sameBytes, smallConfig, worldRow, f32AtMost } from "./helpers/world.js";

const config = smallConfig();
const STEPS = 5000;

/** Runs `steps` steps of the rule bidder; returns one digest of all outputs per step (reset first). */
function recordDigests(env: VectorEnv, steps: number, seed?: number): string[] {
  let [obs, info] = env.reset(seed === undefined ? {} : { seed });
  const out = [digest(obs, info)];
  const act = newAction(env.numEnvs);
  for (let s = 0; s < steps; s++) {
    const r = env.step(ruleFor(env, obs, info, act));
    obs = r[0];
    info = r[4];
    out.push(digest(...r));
  }
  return out;
}

function expectObsInSpace(env: VectorEnv, obs: Float32Array, step: number): void {
  const space = env.singleObservationSpace;
  for (let w = 0; w < env.numEnvs; w++) {
    const row = worldRow(obs, w, L.OBS_DIM);
    const bad = firstOutOfBounds(space, row);
    if (bad !== -1) {
      expect.fail(`step ${step}, world ${w}: obs[${bad}] = ${row[bad]} outside [${space.low[bad]}, ${space.high[bad]}]`);
    }
  }
}

function expectFinite(a: ArrayLike<number>, what: string, step: number): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) expect.fail(`step ${step}: ${what}[${i}] = ${a[i]} is not finite`);
  }
}

describe("VectorEnv determinism (EnvPool check)", () => {
  const n = 8;
  let seed0Digests: string[] = [];

  it(`two envs with seed 0 match byte for byte for ${STEPS} steps, inside the observation space`, () => {
    const a = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    const b = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    // a reads and writes the env's own zero-copy buffers (outputs and actions), b copies into
    // caller-owned ones: both paths must give the same bytes
    const outB = newBuffers(n);
    let [obsA, infoA] = a.reset();
    let [obsB, infoB] = b.reset({}, outB);
    expect(sameBytes(obsA, obsB)).toBe(true);
    expect(sameBytes(infoA, infoB)).toBe(true);
    expectObsInSpace(a, obsA, 0);
    seed0Digests = [digest(obsA, infoA)];
    const actA = a.actions;
    const actB = newAction(n);
    let dones = 0;
    let truncations = 0;
    for (let s = 1; s <= STEPS; s++) {
      const ra = a.step(ruleFor(a, obsA, infoA, actA));
      const rb = b.step(ruleFor(b, obsB, infoB, actB), outB);
      if (rb[0] !== outB.obs || ra[0] !== a.buffers.obs) expect.fail("step must return the buffers it wrote");
      for (let k = 0; k < 5; k++) {
        if (!sameBytes(ra[k], rb[k])) expect.fail(`step ${s}: output ${k} differs between two envs with the same seed`);
      }
      [obsA, , , , infoA] = ra;
      [obsB, , , , infoB] = rb;
      expectObsInSpace(a, obsA, s);
      expectFinite(ra[1], "reward", s);
      expectFinite(ra[4], "info", s);
      for (let w = 0; w < n; w++) {
        if (ra[2][w] || ra[3][w]) dones++;
        if (ra[3][w]) truncations++;
        expect(ra[2][w] & ra[3][w]).toBe(0);
      }
      seed0Digests.push(digest(...ra));
    }
    // the run crossed flight boundaries, so same-step autoreset was exercised
    expect(truncations).toBeGreaterThan(n);
    expect(dones).toBeGreaterThanOrEqual(truncations);
  });

  it("seed 1 gives a different run (every world, from the first observation)", () => {
    expect(seed0Digests.length).toBe(STEPS + 1);
    const c = VectorEnv.create({ config, numWorlds: n, seed: 1 });
    const d0 = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    const [obs1] = c.reset();
    const [obs0] = d0.reset();
    for (let w = 0; w < n; w++) {
      expect(sameBytes(worldRow(obs1, w, L.OBS_DIM), worldRow(obs0, w, L.OBS_DIM)) && sameBytes(c.serializeWorld(w), d0.serializeWorld(w))).toBe(false);
    }
    const digests1 = recordDigests(c, 500);
    let same = 0;
    for (let s = 0; s < digests1.length; s++) if (digests1[s] === seed0Digests[s]) same++;
    expect(same).toBe(0);
  });

  it("worlds of one env are distinct, and another stream gives other worlds", () => {
    const e = VectorEnv.create({ config, numWorlds: n, seed: 0 });
    const f = VectorEnv.create({ config, numWorlds: n, seed: 0, stream: 1 });
    e.reset();
    f.reset();
    const bytes = Array.from({ length: n }, (_, w) => e.serializeWorld(w));
    const rng = (b: Uint8Array) => Buffer.from(b.subarray(L.H_RNG, L.H_RNG + 16)).toString("hex");
    expect(new Set(bytes.map(rng)).size).toBe(n);
    for (let w = 0; w < n; w++) expect(rng(f.serializeWorld(w))).not.toBe(rng(bytes[w]));
    expect(recordDigests(f, 200).slice(1)).not.toEqual(seed0Digests.slice(1, 201));
  });

  it("reset with the same seed replays the run; reset({seed}) equals a fresh env with that seed", () => {
    const e = VectorEnv.create({ config, numWorlds: 4, seed: 0 });
    const first = recordDigests(e, 1500);
    const again = recordDigests(e, 1500);
    expect(again).toEqual(first);
    const viaReset = recordDigests(e, 800, 7);
    const fresh = recordDigests(VectorEnv.create({ config, numWorlds: 4, seed: 7 }), 800);
    expect(viaReset).toEqual(fresh);
    expect(viaReset).not.toEqual(first.slice(0, 801));
    // back to seed 0 explicitly
    expect(recordDigests(e, 1500, 0)).toEqual(first);
  });
});

describe("split envs reproduce one big env (seeds derive from the global world index)", () => {
  it("4 worlds equal 2 + 2 worlds with worldOffset 0 and 2, step by step", () => {
    const big = VectorEnv.create({ config, numWorlds: 4, seed: 3 });
    const lo = VectorEnv.create({ config, numWorlds: 2, seed: 3, worldOffset: 0 });
    const hi = VectorEnv.create({ config, numWorlds: 2, seed: 3, worldOffset: 2 });
    const one = VectorEnv.create({ config, numWorlds: 1, seed: 3, worldOffset: 3 });
    let [obsBig, infoBig] = big.reset();
    const parts = [lo, hi].map((e) => e.reset());
    let [obsOne, infoOne] = one.reset();
    const actBig = newAction(4);
    const actPart = [newAction(2), newAction(2)];
    const actOne = newAction(1);
    const STEP_DIMS = [L.OBS_DIM, 1, 1, 1, L.INFO_DIM];
    const RESET_DIMS = [L.OBS_DIM, L.INFO_DIM];
    const check = (s: number, rBig: ArrayBufferView[], rParts: ArrayBufferView[][], rOne: ArrayBufferView[]) => {
      const dims = s === 0 ? RESET_DIMS : STEP_DIMS;
      for (let k = 0; k < rBig.length; k++) {
        const all = rBig[k] as Float32Array;
        for (let w = 0; w < 4; w++) {
          const part = rParts[w >> 1][k] as Float32Array;
          if (!sameBytes(worldRow(all, w, dims[k]), worldRow(part, w & 1, dims[k]))) {
            expect.fail(`step ${s}: world ${w} output ${k} differs between the 4-world env and its split`);
          }
        }
        if (!sameBytes(worldRow(all, 3, dims[k]), rOne[k])) expect.fail(`step ${s}: world 3 output ${k} differs from a 1-world env at offset 3`);
      }
    };
    check(0, [obsBig, infoBig], parts, [obsOne, infoOne]);
    let partObs = parts.map((p) => p[0]);
    let partInfo = parts.map((p) => p[1]);
    for (let s = 1; s <= 3000; s++) {
      const rBig = big.step(ruleFor(big, obsBig, infoBig, actBig));
      const rParts = [lo, hi].map((e, i) => e.step(ruleFor(e, partObs[i], partInfo[i], actPart[i])));
      const rOne = one.step(ruleFor(one, obsOne, infoOne, actOne));
      check(s, rBig, rParts, rOne);
      [obsBig, , , , infoBig] = rBig;
      partObs = rParts.map((r) => r[0]);
      partInfo = rParts.map((r) => r[4]);
      [obsOne, , , , infoOne] = rOne;
    }
  });
});

describe("AuctionEnv determinism", () => {
  type Rec = [Float32Array, number, boolean, boolean, StepInfo];
  const act = (info: StepInfo, bidMax: number) => ({
    bid: Math.min(f32AtMost(bidMax), Math.fround(info.refValue * (0.25 + (info.decisionId % 9) * 0.5))),
    creative: info.decisionId % 3,
  });
  const enc = (r: Rec) => digest(r[0], Float64Array.of(r[1], +r[2], +r[3], ...Object.values(r[4]).map(Number)));

  function run(env: AuctionEnv, steps: number, seed: number, check?: (r: Rec, s: number) => void): string[] {
    const [obs0, info0] = env.reset({ seed });
    check?.([obs0, 0, false, false, info0], 0);
    let info = info0;
    const out = [enc([obs0, 0, false, false, info0])];
    for (let s = 1; s <= steps; s++) {
      const r = env.step(act(info, env.config.campaign.bidMax));
      check?.(r, s);
      info = r[4];
      out.push(enc(r));
    }
    return out;
  }

  it(`two AuctionEnvs with seed 0 match for ${STEPS} steps, inside the observation space, and seed 1 differs`, () => {
    const a = new AuctionEnv({ config, seed: 0 });
    const b = new AuctionEnv({ config, seed: 0 });
    let dones = 0;
    const da = run(a, STEPS, 0, (r, s) => {
      const bad = firstOutOfBounds(a.observationSpace, r[0]);
      if (bad !== -1) expect.fail(`step ${s}: obs[${bad}] = ${r[0][bad]} outside the observation space`);
      if (!Number.isFinite(r[1])) expect.fail(`step ${s}: reward ${r[1]}`);
      if (r[2] || r[3]) dones++;
    });
    const db = run(b, STEPS, 0);
    expect(db.length).toBe(STEPS + 1);
    for (let s = 0; s <= STEPS; s++) if (da[s] !== db[s]) expect.fail(`step ${s}: AuctionEnvs with the same seed differ`);
    expect(dones).toBeGreaterThan(0);
    const dc = run(new AuctionEnv({ config, seed: 1 }), 300, 1);
    expect(dc.filter((d, s) => d === da[s]).length).toBe(0);
  });

  it("AuctionEnv(seed) is world 0 of a VectorEnv with that seed", () => {
    const single = new AuctionEnv({ config, seed: 5 });
    const vec = VectorEnv.create({ config, numWorlds: 3, seed: 5 });
    let [obsS, infoS] = single.reset({ seed: 5 });
    let [obsV, infoV] = vec.reset();
    const action = newAction(3);
    for (let s = 0; s < 1500; s++) {
      if (!sameBytes(obsS, worldRow(obsV, 0, L.OBS_DIM))) expect.fail(`step ${s}: observations differ`);
      expect(infoS.decisionId).toBe(infoV[L.I_DECISION_ID]);
      ruleFor(vec, obsV, infoV, action);
      const r = single.step({ bid: action.bid[0], creative: action.creative[0] });
      const rv = vec.step(action);
      expect(r[1]).toBe(rv[1][0]);
      expect([r[2], r[3]]).toEqual([rv[2][0] === 1, rv[3][0] === 1]);
      expect(r[4].cost).toBe(rv[4][L.I_COST]);
      expect(r[4].creditedValue).toBe(rv[4][L.I_CREDITED_VALUE]);
      [obsS, , , , infoS] = r;
      [obsV, , , , infoV] = rv;
    }
  });
});

describe("release and debug WASM builds", () => {
  it("simulate the same worlds bit for bit", () => {
    const envs = (["release", "debug"] as WasmTarget[]).map((wasm) => VectorEnv.create({ config, numWorlds: 4, seed: 11, wasm }));
    const outs = envs.map((e) => e.reset());
    expect(sameBytes(outs[0][0], outs[1][0])).toBe(true);
    expect(sameBytes(outs[0][1], outs[1][1])).toBe(true);
    let [obs, info] = outs[0];
    const acts = [newAction(4), newAction(4)];
    for (let s = 1; s <= 3000; s++) {
      const r0 = envs[0].step(ruleFor(envs[0], obs, info, acts[0]));
      const r1 = envs[1].step(ruleFor(envs[1], outs[1][0], outs[1][1], acts[1]));
      for (let k = 0; k < 5; k++) if (!sameBytes(r0[k], r1[k])) expect.fail(`step ${s}: output ${k} differs between release and debug`);
      [obs, , , , info] = r0;
      outs[1] = [r1[0], r1[4]];
    }
    for (let w = 0; w < 4; w++) expect(sameBytes(envs[0].serializeWorld(w), envs[1].serializeWorld(w))).toBe(true);
  });
});
