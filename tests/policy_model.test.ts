import { afterAll, beforeAll, describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as TfTypes from "@tensorflow/tfjs";
import { initTf, tfBackendAvailable } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { type DenseActivation, dense } from "../agents/policy/dense.js";
import { forwardReference } from "../agents/policy/reference.js";
import { HIDDEN_GAIN, POLICY_HEAD_GAIN, VALUE_HEAD_GAIN, initialCanonical, orthogonalKernel } from "../agents/policy/init.js";
import { type Activation, type PolicySpec, defaultPolicySpec, outputWidth, policyLayout } from "../agents/policy/spec.js";

let tf: typeof TfTypes;
let backend: string;
let tmp: string;

beforeAll(async () => {
  ({ tf, backend } = await initTf("wasm"));
  tmp = await mkdtemp(join(tmpdir(), "gaelp-policy-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function gauss(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** Weights of order 1/sqrt(fan-in) and non-trivial normalisation, so outputs are O(1), not O(0.01). */
function randomCanonical(spec: PolicySpec, seed: string): Float32Array {
  const rng = seedrandom(seed);
  const { slots, size } = policyLayout(spec);
  const out = new Float32Array(size);
  for (const s of slots) {
    for (let i = 0; i < s.size; i++) {
      out[s.offset + i] =
        s.name === "obs_mean" ? 3 * gauss(rng)
        : s.name === "obs_std" ? 0.2 + 3 * rng()
        : s.name.endsWith("/kernel") ? (1.5 * gauss(rng)) / Math.sqrt(s.shape[0])
        : 0.3 * gauss(rng);
    }
  }
  return out;
}

/** Observations around the normalisation's scale, one in ten blown far past the clip either way. */
function randomObs(spec: PolicySpec, n: number, seed: string): Float32Array {
  const rng = seedrandom(seed);
  const obs = new Float32Array(n * spec.obsDim);
  for (let i = 0; i < obs.length; i++) obs[i] = (rng() < 0.1 ? 1e3 : 5) * gauss(rng);
  return obs;
}

function forwardFlat(model: PolicyModel, obs: Float32Array, n: number): Float32Array {
  const x = tf.tensor2d(obs, [n, model.spec.obsDim]);
  const { bidLogits, creativeLogits, value } = model.forward(x);
  const b = bidLogits.dataSync();
  const c = creativeLogits.dataSync();
  const v = value.dataSync();
  tf.dispose([x, bidLogits, creativeLogits, value]);
  const nb = model.spec.bidLevels.length;
  const nc = model.spec.numCreatives;
  const w = outputWidth(model.spec);
  const out = new Float32Array(n * w);
  for (let r = 0; r < n; r++) {
    out.set(b.subarray(r * nb, (r + 1) * nb), r * w);
    out.set(c.subarray(r * nc, (r + 1) * nc), r * w + nb);
    out[r * w + nb + nc] = v[r];
  }
  return out;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("backend", () => {
  it("selects wasm when its package is installed, else falls back to cpu", () => {
    expect(backend).toBe(tfBackendAvailable("wasm") ? "wasm" : "cpu");
    expect(tf.getBackend()).toBe(backend);
  });

  it("initTf is idempotent for one preference", async () => {
    const a = initTf("wasm");
    const b = initTf("wasm");
    expect(a).toBe(b);
    expect((await a).backend).toBe(backend);
  });

  it("gradients reach every weight and match finite differences of the reference", () => {
    const spec = defaultPolicySpec(3, { hidden: [16, 8], activation: "tanh" });
    const canon = randomCanonical(spec, "grad");
    const model = PolicyModel.fromCanonical(spec, canon);
    const n = 5;
    const obs = randomObs(spec, n, "grad-obs");
    const x = tf.tensor2d(obs, [n, spec.obsDim]);
    const vars = model.model.trainableWeights.map((w) => w.read() as TfTypes.Variable);
    // loss = sum of every output: a plain function of the reference's outputs too
    const { value: loss, grads } = tf.variableGrads(() => {
      const o = model.forward(x);
      return tf.addN([tf.sum(o.bidLogits), tf.sum(o.creativeLogits), tf.sum(o.value)]) as TfTypes.Scalar;
    }, vars);
    expect(Object.keys(grads).length).toBe(vars.length);
    for (const v of vars) {
      const g = grads[v.name].dataSync();
      expect(g.every(Number.isFinite), v.name).toBe(true);
    }
    const gradOf = (layer: string, which: 0 | 1) => grads[(model.model.getLayer(layer).trainableWeights[which].read() as TfTypes.Variable).name].dataSync();
    expect(Array.from(gradOf("value", 1))).toEqual([n]);

    const refLoss = (c: Float32Array) => forwardReference(spec, c, obs, n).reduce((a, b) => a + b, 0);
    const kOff = policyLayout(spec).slots.find((s) => s.name === "hidden_0/kernel")!.offset;
    const g0 = gradOf("hidden_0", 0);
    for (const i of [0, 7, 3 * 16 + 5, 49 * 16 + 15]) {
      const eps = 1e-2;
      const up = canon.slice();
      const dn = canon.slice();
      up[kOff + i] += eps;
      dn[kOff + i] -= eps;
      // eps as actually stored in f32
      const fd = (refLoss(up) - refLoss(dn)) / (up[kOff + i] - dn[kOff + i]);
      expect(Math.abs(g0[i] - fd), `hidden_0/kernel[${i}]: tf ${g0[i]} vs fd ${fd}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)));
    }
    tf.dispose([x, loss, ...Object.values(grads)]);
    model.dispose();
  });
});

// forward() runs the model's variables through dense() (agents/policy/dense.ts), whose gradient is
// hand-written with plain products only; tfjs's own autodiff of the layers model is the yardstick
describe("hand-written dense gradients equal tfjs autodiff", () => {
  const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  for (const [hidden, activation] of [[[64, 64], "relu"], [[16, 8, 12], "tanh"], [[32], "relu"]] as [number[], Activation][]) {
    it(`policy weights: hidden [${hidden.join(", ")}], ${activation}`, () => {
      const spec = defaultPolicySpec(3, { hidden, activation });
      const model = PolicyModel.fromCanonical(spec, randomCanonical(spec, `cg-${activation}`));
      const n = 301;
      const x = tf.tensor2d(randomObs(spec, n, `cg-obs-${activation}`), [n, spec.obsDim]);
      const rng = seedrandom(`cg-mix-${activation}`);
      // a loss that weighs every output differently, so a swapped or transposed gradient shows
      const mix = (cols: number) => tf.tensor2d(Float32Array.from({ length: n * cols }, () => gauss(rng) / n), [n, cols]);
      const wb = mix(spec.bidLevels.length);
      const wc = mix(spec.numCreatives);
      const wv = tf.reshape(mix(1), [-1]);
      const loss = (bid: TfTypes.Tensor, cre: TfTypes.Tensor, v: TfTypes.Tensor) =>
        tf.addN([tf.sum(tf.mul(bid, wb)), tf.sum(tf.mul(tf.square(cre), wc)), tf.sum(tf.mul(v, wv))]) as TfTypes.Scalar;
      const vars = model.model.trainableWeights.map((w) => w.read() as TfTypes.Variable);
      const custom = tf.variableGrads(() => {
        const o = model.forward(x);
        return loss(o.bidLogits, o.creativeLogits, o.value);
      }, vars);
      const auto = tf.variableGrads(() => {
        const clip = spec.obsClip;
        const { mean, std } = model.getNormalization();
        const z = tf.clipByValue(tf.div(tf.sub(x, tf.tensor1d(mean)), tf.tensor1d(std)), -clip, clip);
        const [b, c, v] = model.model.apply(z) as TfTypes.Tensor2D[];
        return loss(b, c, tf.reshape(v, [-1]));
      }, vars);
      expect(Math.abs(custom.value.dataSync()[0] - auto.value.dataSync()[0])).toBeLessThan(1e-5);
      let largest = 0;
      for (const v of vars) {
        const a = auto.grads[v.name].dataSync();
        largest = Math.max(largest, ...Array.from(a, Math.abs));
        expect(maxAbsDiff(custom.grads[v.name].dataSync(), a), v.name).toBeLessThan(1e-5);
      }
      expect(largest).toBeGreaterThan(1e-3); // the comparison is not between two sets of zeros
      tf.dispose([x, wb, wc, wv, custom.value, auto.value, ...Object.values(custom.grads), ...Object.values(auto.grads)]);
      model.dispose();
    });
  }

  for (const activation of ["relu", "tanh", "linear"] as DenseActivation[]) {
    it(`dense() input, kernel and bias gradients: ${activation}`, () => {
      const rng = seedrandom(`dense-${activation}`);
      const r = (shape: number[], scale: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => scale * gauss(rng)), shape);
      const n = 67;
      const x = r([n, 9], 1) as TfTypes.Tensor2D;
      const k = r([9, 13], 0.5) as TfTypes.Tensor2D;
      const b = r([13], 0.3) as TfTypes.Tensor1D;
      const w = r([n, 13], 1 / n);
      const act = (z: TfTypes.Tensor) => (activation === "relu" ? tf.relu(z) : activation === "tanh" ? tf.tanh(z) : z);
      const f = (which: (x: TfTypes.Tensor2D, k: TfTypes.Tensor2D, b: TfTypes.Tensor1D) => TfTypes.Tensor) =>
        tf.grads((xi: TfTypes.Tensor, ki: TfTypes.Tensor, bi: TfTypes.Tensor) => tf.sum(tf.mul(which(xi as TfTypes.Tensor2D, ki as TfTypes.Tensor2D, bi as TfTypes.Tensor1D), w)))([x, k, b]);
      const custom = f((xi, ki, bi) => dense(xi, ki, bi, activation));
      const auto = f((xi, ki, bi) => act(tf.add(tf.matMul(xi, ki), bi)));
      ["x", "kernel", "bias"].forEach((name, i) => {
        expect(maxAbsDiff(custom[i].dataSync(), auto[i].dataSync()), name).toBeLessThan(1e-5);
        expect(custom[i].shape, name).toEqual(auto[i].shape);
      });
      // without the input gradient the parameters' gradients are the same
      const [gk, gb] = tf.grads((ki: TfTypes.Tensor, bi: TfTypes.Tensor) => tf.sum(tf.mul(dense(x, ki as TfTypes.Tensor2D, bi as TfTypes.Tensor1D, activation, false), w)))([k, b]);
      expect(maxAbsDiff(gk.dataSync(), auto[1].dataSync())).toBeLessThan(1e-5);
      expect(maxAbsDiff(gb.dataSync(), auto[2].dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, k, b, w, gk, gb, ...custom, ...auto]);
    });
  }

  it("dense() names the shapes it cannot multiply", () => {
    const x = tf.zeros([4, 3]) as TfTypes.Tensor2D;
    const k = tf.zeros([5, 2]) as TfTypes.Tensor2D;
    const b = tf.zeros([2]) as TfTypes.Tensor1D;
    expect(() => dense(x, k, b, "relu")).toThrow(/x \[4, 3\], kernel \[5, 2\], bias \[2\]/);
    tf.dispose([x, k, b]);
  });
});

describe("tfjs forward equals the f64 reference", () => {
  const archs: number[][] = [[64, 64], [32], [16, 8, 12]];
  const acts: Activation[] = ["relu", "tanh"];
  for (const hidden of archs) {
    for (const activation of acts) {
      it(`hidden [${hidden.join(", ")}], ${activation}`, () => {
        const spec = defaultPolicySpec(4, { hidden, activation, obsClip: 5 });
        const canon = randomCanonical(spec, `w-${hidden.join("-")}-${activation}`);
        const n = 64;
        const obs = randomObs(spec, n, `obs-${hidden.join("-")}`);
        // the clip must actually bite, on both sides
        const { slots } = policyLayout(spec);
        const mean = canon.subarray(slots[0].offset, slots[0].offset + spec.obsDim);
        const std = canon.subarray(slots[1].offset, slots[1].offset + spec.obsDim);
        const z = Array.from(obs, (o, i) => (o - mean[i % spec.obsDim]) / std[i % spec.obsDim]);
        expect(z.filter((v) => v > spec.obsClip).length).toBeGreaterThan(10);
        expect(z.filter((v) => v < -spec.obsClip).length).toBeGreaterThan(10);

        const model = PolicyModel.fromCanonical(spec, canon);
        const got = forwardFlat(model, obs, n);
        const want = forwardReference(spec, canon, obs, n);
        model.dispose();
        expect(got.length).toBe(n * outputWidth(spec));
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
        expect(worst).toBeLessThan(1e-5);
        // outputs of order one, so the tolerance is a real constraint
        expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(0.5);
      });
    }
  }
});

describe("canonical layout", () => {
  const spec = defaultPolicySpec(3, { hidden: [16, 8, 12] });

  it("export after import is bit-exact, and a fresh model exports its init", () => {
    const canon = randomCanonical(spec, "roundtrip");
    const model = PolicyModel.fromCanonical(spec, canon);
    expect(sameBits(model.toCanonical(), canon)).toBe(true);
    const other = randomCanonical(spec, "roundtrip-2");
    model.setCanonical(other);
    expect(sameBits(model.toCanonical(), other)).toBe(true);
    model.dispose();

    const fresh = PolicyModel.create(spec, 11);
    expect(sameBits(fresh.toCanonical(), initialCanonical(spec, 11))).toBe(true);
    fresh.dispose();
  });

  it("a wrong-length array is rejected naming the expected and actual lengths", () => {
    const size = policyLayout(spec).size;
    expect(() => PolicyModel.fromCanonical(spec, new Float32Array(size - 1))).toThrow(`expected ${size} f32 values`);
    expect(() => PolicyModel.fromCanonical(spec, new Float32Array(size + 3))).toThrow(`got ${size + 3}`);
    const model = PolicyModel.create(spec, 1);
    const before = model.toCanonical();
    expect(() => model.setCanonical(new Float32Array(7))).toThrow(/expected \d+ f32 values .*got 7/);
    expect(sameBits(model.toCanonical(), before)).toBe(true);
    model.dispose();
  });

  it("rejects a non-positive std and non-finite weights, naming the entry", () => {
    const canon = randomCanonical(spec, "bad");
    const stdOff = policyLayout(spec).slots[1].offset;
    const zeroStd = canon.slice();
    zeroStd[stdOff + 4] = 0;
    expect(() => PolicyModel.fromCanonical(spec, zeroStd)).toThrow("obsStd[4]");
    const nan = canon.slice();
    const biasOff = policyLayout(spec).slots.find((s) => s.name === "bid/bias")!.offset;
    nan[biasOff + 2] = NaN;
    expect(() => PolicyModel.fromCanonical(spec, nan)).toThrow("bid/bias[2]");
    // a rejection part-way through the array must not leave the normalisation already replaced
    const model = PolicyModel.fromCanonical(spec, canon);
    const other = randomCanonical(spec, "bad-2");
    other[biasOff + 2] = Infinity;
    expect(() => model.setCanonical(other)).toThrow("bid/bias[2]");
    expect(sameBits(model.toCanonical(), canon)).toBe(true);
    model.dispose();
  });
});

describe("save and load", () => {
  it("reproduces spec, weights and outputs exactly, leaving only model.json and weights.bin", async () => {
    const spec = defaultPolicySpec(5, { hidden: [32, 16], activation: "tanh", obsClip: 4 });
    const canon = randomCanonical(spec, "save");
    const model = PolicyModel.fromCanonical(spec, canon);
    const dir = join(tmp, "nested", "policy");
    await model.saveModel(dir);
    // a second save over the first must also leave nothing behind
    await model.saveModel(dir);
    expect((await readdir(dir)).sort()).toEqual(["model.json", "weights.bin"]);

    const loaded = await PolicyModel.loadModel(dir);
    expect(loaded.spec).toEqual(spec);
    expect(sameBits(loaded.toCanonical(), canon)).toBe(true);
    const obs = randomObs(spec, 16, "save-obs");
    expect(sameBits(forwardFlat(loaded, obs, 16), forwardFlat(model, obs, 16))).toBe(true);
    model.dispose();
    loaded.dispose();
  });

  it("refuses a weights.bin that is not the one model.json was saved with", async () => {
    const spec = defaultPolicySpec(2, { hidden: [8] });
    const model = PolicyModel.create(spec, 5);
    const dir = join(tmp, "tampered");
    await model.saveModel(dir);
    model.dispose();
    const size = policyLayout(spec).size - 2 * spec.obsDim;
    await writeFile(join(dir, "weights.bin"), Buffer.alloc(size * 4));
    await expect(PolicyModel.loadModel(dir)).rejects.toThrow(/weights\.bin .*is not the weights/);
  });
});

describe("orthogonal init", () => {
  /** max |G - gain^2 I| / gain^2 where G is the Gram matrix of the kernel's shorter side. */
  function orthogonalityError(k: Float32Array, rows: number, cols: number, gain: number): number {
    const byCols = rows >= cols; // tall: columns orthonormal; wide: rows orthonormal
    const m = byCols ? cols : rows;
    const len = byCols ? rows : cols;
    const at = (v: number, i: number) => (byCols ? k[i * cols + v] : k[v * cols + i]);
    let worst = 0;
    for (let a = 0; a < m; a++) {
      for (let b = a; b < m; b++) {
        let dot = 0;
        for (let i = 0; i < len; i++) dot += at(a, i) * at(b, i);
        worst = Math.max(worst, Math.abs(dot / (gain * gain) - (a === b ? 1 : 0)));
      }
    }
    return worst;
  }

  it("kernels satisfy W^T W = gain^2 I (or W W^T for wide ones)", () => {
    for (const [rows, cols, gain] of [[64, 64, HIDDEN_GAIN], [50, 64, HIDDEN_GAIN], [64, 16, POLICY_HEAD_GAIN], [64, 1, VALUE_HEAD_GAIN], [12, 40, 2]]) {
      const k = orthogonalKernel(rows, cols, gain, `ortho-${rows}x${cols}`);
      expect(orthogonalityError(k, rows, cols, gain), `${rows}x${cols}`).toBeLessThan(1e-5);
      // not a permutation or a scaled identity: the mass is spread over the entries
      const nonzero = k.filter((v) => Math.abs(v) > 1e-3 * gain).length;
      expect(nonzero).toBeGreaterThan(0.9 * k.length);
    }
  });

  it("a model's initial weights have the CleanRL gains, zero biases and identity normalisation", () => {
    const spec = defaultPolicySpec(3);
    const canon = initialCanonical(spec, 42);
    const gains: Record<string, number> = { hidden_0: HIDDEN_GAIN, hidden_1: HIDDEN_GAIN, bid: POLICY_HEAD_GAIN, creative: POLICY_HEAD_GAIN, value: VALUE_HEAD_GAIN };
    for (const s of policyLayout(spec).slots) {
      const v = canon.subarray(s.offset, s.offset + s.size);
      if (s.name === "obs_std") expect(v.every((x) => x === 1)).toBe(true);
      else if (s.name === "obs_mean" || s.name.endsWith("/bias")) expect(v.every((x) => x === 0), s.name).toBe(true);
      else {
        const gain = gains[s.name.split("/")[0]];
        expect(orthogonalityError(v, s.shape[0], s.shape[1], gain), s.name).toBeLessThan(1e-5);
      }
    }
  });

  it("the same seed gives identical weights, another seed or another layer differs", () => {
    const spec = defaultPolicySpec(3, { hidden: [64, 64, 64] });
    const a = initialCanonical(spec, 7);
    expect(sameBits(a, initialCanonical(spec, 7))).toBe(true);
    const b = initialCanonical(spec, 8);
    const kernels = policyLayout(spec).slots.filter((s) => s.name.endsWith("/kernel"));
    for (const s of kernels) {
      let differ = 0;
      for (let i = s.offset; i < s.offset + s.size; i++) if (a[i] !== b[i]) differ++;
      expect(differ, s.name).toBeGreaterThan(0.9 * s.size);
    }
    // equal shapes under one seed must still be independent draws
    const [h1, h2] = kernels.filter((s) => s.name === "hidden_1/kernel" || s.name === "hidden_2/kernel");
    expect(sameBits(a.subarray(h1.offset, h1.offset + h1.size), a.subarray(h2.offset, h2.offset + h2.size))).toBe(false);
  });
});
