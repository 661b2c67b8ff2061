// Train/serve parity: the WASM forward pass that acts in rollouts and serves bids equals the tfjs
// model that learns (and the f64 reference) within 1e-5, for ReLU and tanh trunks of several shapes,
// on observations that hit the normalisation clip on both sides.
import { beforeAll, describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import type * as TfTypes from "@tensorflow/tfjs";
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { forwardReference } from "../agents/policy/reference.js";
import { type Activation, type PolicySpec, defaultPolicySpec, outputWidth, policyLayout } from "../agents/policy/spec.js";
import { WorldRunner } from "../engine/world_runner.js";
import { resolveConfig } from "../env/config.js";
import { OBS_DIM } from "../wasm/layout.js";

let tf: typeof TfTypes;
beforeAll(async () => {
  ({ tf } = await initTf("wasm"));
});

const config = resolveConfig();
const gauss = (rng: () => number) => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());

/** Weights of order 1/sqrt(fan-in) and non-trivial normalisation, so outputs are O(1). */
function randomCanonical(spec: PolicySpec, seed: string): Float32Array {
  const rng = seedrandom(seed);
  const { slots, size } = policyLayout(spec);
  const out = new Float32Array(size);
  for (const s of slots) {
    for (let i = 0; i < s.size; i++) {
      out[s.offset + i] = s.name === "obs_mean" ? 3 * gauss(rng)
        : s.name === "obs_std" ? 0.2 + 3 * rng()
        : s.name.endsWith("/kernel") ? (1.5 * gauss(rng)) / Math.sqrt(s.shape[0])
        : 0.3 * gauss(rng);
    }
  }
  return out;
}

/** Observations like the env's (one-hot blocks, zeros) plus wide values that hit the clip. */
function observations(n: number, seed: string): Float32Array {
  const rng = seedrandom(seed);
  const obs = new Float32Array(n * OBS_DIM);
  for (let i = 0; i < obs.length; i++) {
    const r = rng();
    obs[i] = r < 0.3 ? 0 : r < 0.4 ? 1 : r < 0.95 ? gauss(rng) : 80 * gauss(rng);
  }
  return obs;
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(1, Math.abs(b));

describe("WASM policy forward pass", () => {
  const cases: [number[], Activation][] = [[[64, 64], "relu"], [[64, 64], "tanh"], [[32], "relu"], [[16, 8, 12], "tanh"], [[5, 70], "relu"]];
  for (const [hidden, activation] of cases) {
    it(`equals tfjs and the f64 reference within 1e-5: ${hidden.join("-")} ${activation}`, () => {
      const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden, activation });
      const canonical = randomCanonical(spec, `${hidden}-${activation}`);
      const n = 257;
      const obs = observations(n, `obs-${hidden}`);
      const policy = new WorldRunner(config, spec, 1).policy;
      policy.setWeights(canonical, 1);
      const wasm = policy.forward(obs);
      const ref = forwardReference(spec, canonical, obs, n);
      const model = PolicyModel.fromCanonical(spec, canonical);
      const t = tf.tidy(() => {
        const o = model.forward(tf.tensor2d(obs, [n, OBS_DIM]));
        return tf.concat([o.bidLogits, o.creativeLogits, o.value.reshape([n, 1])], 1);
      });
      const tfOut = t.dataSync();
      t.dispose();
      model.dispose();
      const w = outputWidth(spec);
      expect(wasm.length).toBe(n * w);
      let worstRef = 0;
      let worstTf = 0;
      for (let i = 0; i < n * w; i++) {
        worstRef = Math.max(worstRef, relErr(wasm[i], ref[i]));
        worstTf = Math.max(worstTf, relErr(wasm[i], tfOut[i]));
      }
      expect(worstRef).toBeLessThan(1e-5);
      expect(worstTf).toBeLessThan(1e-5);
      // the outputs are not trivially small: a wrong weight would show
      expect(Math.max(...Array.from(ref, Math.abs))).toBeGreaterThan(0.5);
    });
  }

  it("decideGreedy takes each head's argmax of the forward pass, with its log-softmax and the value head", () => {
    const spec = defaultPolicySpec(config.campaign.creatives.length, { hidden: [64, 64] });
    const canonical = randomCanonical(spec, "greedy");
    const n = 301;
    const obs = observations(n, "obs-greedy");
    const policy = new WorldRunner(config, spec, 1).policy;
    policy.setWeights(canonical, 1);
    const y = policy.forward(obs);
    const out = policy.decideGreedy(obs, n, new Float32Array(n * 4));
    const w = outputWidth(spec);
    const nBid = spec.bidLevels.length;
    const nCr = spec.numCreatives;
    // f64 argmax (first of equal maxima) and log-softmax of one head
    const head = (at: number, k: number): [number, number] => {
      let arg = 0;
      for (let i = 1; i < k; i++) if (y[at + i] > y[at + arg]) arg = i;
      let sum = 0;
      for (let i = 0; i < k; i++) sum += Math.exp(y[at + i] - y[at + arg]);
      return [arg, -Math.log(sum)];
    };
    const levels = new Set<number>();
    for (let r = 0; r < n; r++) {
      const [b, lb] = head(r * w, nBid);
      const [c, lc] = head(r * w + nBid, nCr);
      levels.add(b);
      expect([out[r * 4], out[r * 4 + 1]]).toEqual([b, c]);
      expect(Math.abs(out[r * 4 + 2] - (lb + lc))).toBeLessThan(1e-5 * Math.max(1, Math.abs(lb + lc)));
      expect(out[r * 4 + 3]).toBe(y[r * w + nBid + nCr]);
    }
    // the observations reach several bid levels, so a wrong row or head offset would show
    expect(levels.size).toBeGreaterThan(2);
    expect(() => policy.decideGreedy(obs, n, new Float32Array(n * 4 - 1))).toThrow(/n x 4/);
  });

  it("rejects weights of the wrong length, non-finite weights and a zero std", () => {
    const spec = defaultPolicySpec(config.campaign.creatives.length);
    const policy = new WorldRunner(config, spec, 1).policy;
    const good = randomCanonical(spec, "x");
    expect(() => policy.setWeights(good.subarray(1))).toThrow(new RegExp(`Float32Array of ${good.length} values`));
    const nan = good.slice();
    nan[500] = Number.NaN;
    expect(() => policy.setWeights(nan)).toThrow(/NaN/);
    const zero = good.slice();
    zero[OBS_DIM + 3] = 0;
    expect(() => policy.setWeights(zero)).toThrow(/obs_std/);
  });
});
