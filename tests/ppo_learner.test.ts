// The PPO learner: a non-finite loss or gradient stops the update before any weight changes (so no
// NaN can reach a checkpoint), the Adam state round-trips bit-exactly, and updates move the policy
// toward actions with positive advantage.
import { beforeAll, describe, expect, it } from "vitest";
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import type * as TfTypes from "@tensorflow/tfjs";
import { DEFAULT_PPO_HYPER, NonFiniteError, PpoLearner, type Minibatch, type PpoHyper } from "../agents/ppo/learner.js";
import { ppoLossAndGrad } from "../agents/ppo/loss.js";
import { OBS_DIM } from "../wasm/layout.js";

const spec = defaultPolicySpec(3, { hidden: [16, 16] });

function minibatch(n: number, seed: number): Minibatch {
  let s = seed;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return {
    n,
    obs: Float32Array.from({ length: n * OBS_DIM }, () => rnd() * 2 - 1),
    bidAction: Int32Array.from({ length: n }, () => Math.floor(rnd() * spec.bidLevels.length)),
    creativeAction: Int32Array.from({ length: n }, () => Math.floor(rnd() * 3)),
    logp: new Float32Array(n).fill(-Math.log(spec.bidLevels.length * 3)),
    advantage: Float32Array.from({ length: n }, () => rnd() * 2 - 1),
    returns: Float32Array.from({ length: n }, () => rnd()),
    value: new Float32Array(n),
    weight: new Float32Array(n).fill(1),
  };
}

describe("PpoLearner", () => {
  beforeAll(async () => {
    await initTf("wasm");
  });

  it("refuses a non-finite loss before touching the weights", () => {
    const model = PolicyModel.create(spec, 1);
    const learner = new PpoLearner(model, 1e-3);
    const before = model.toCanonical();
    const mb = minibatch(64, 1);
    mb.advantage[5] = Number.NaN;
    expect(() => learner.step(mb)).toThrow(NonFiniteError);
    expect(() => learner.step(mb)).toThrow(/non-finite .*loss/);
    expect(Buffer.from(model.toCanonical().buffer).equals(Buffer.from(before.buffer))).toBe(true);
    const mb2 = minibatch(64, 2);
    mb2.obs[7] = Number.POSITIVE_INFINITY; // clipped by the normalisation: still finite, trains
    const mb3 = minibatch(64, 3);
    mb3.returns[0] = Number.POSITIVE_INFINITY;
    expect(() => learner.step(mb3)).toThrow(NonFiniteError);
    expect(Buffer.from(model.toCanonical().buffer).equals(Buffer.from(before.buffer))).toBe(true);
    model.dispose();
  });

  it("round-trips the optimizer state bit-exactly (resume continues identically)", async () => {
    const a = PolicyModel.create(spec, 2);
    const la = new PpoLearner(a, 1e-3);
    for (let i = 0; i < 40; i++) la.step(minibatch(128, 10 + i));
    const b = PolicyModel.fromCanonical(spec, a.toCanonical());
    const lb = new PpoLearner(b, 1e-3);
    await lb.setOptimizerState(await la.optimizerState());
    const mb = minibatch(128, 99);
    la.step(mb);
    lb.step(mb);
    expect(Buffer.from(b.toCanonical().buffer).equals(Buffer.from(a.toCanonical().buffer))).toBe(true);
    // without the saved bias-correction products the next step differs (tfjs recomputes them)
    const c = PolicyModel.fromCanonical(spec, a.toCanonical());
    const lc = new PpoLearner(c, 1e-3);
    const st = (await la.optimizerState()).filter((s) => !s.name.startsWith("gaelp/adam/"));
    await lc.setOptimizerState(st);
    const mb2 = minibatch(128, 100);
    la.step(mb2);
    lc.step(mb2);
    expect(Buffer.from(c.toCanonical().buffer).equals(Buffer.from(a.toCanonical().buffer))).toBe(false);
    [a, b, c].forEach((m) => m.dispose());
  });

  it("raises the log-probability of actions with positive advantage", async () => {
    const { tf } = await initTf("wasm");
    const model = PolicyModel.create(spec, 3);
    const learner = new PpoLearner(model, 3e-3, { entCoef: 0 });
    const mb = minibatch(256, 5);
    for (let i = 0; i < mb.n; i++) mb.advantage[i] = mb.bidAction[i] === 4 ? 1 : -0.1;
    const meanLogp = () =>
      tf.tidy(() => {
        const o = model.forward(tf.tensor2d(mb.obs, [mb.n, OBS_DIM]));
        return tf.mean(tf.gather(tf.logSoftmax(o.bidLogits), 4, 1)).dataSync()[0];
      });
    const before = meanLogp();
    for (let i = 0; i < 5; i++) learner.step(mb);
    expect(meanLogp()).toBeGreaterThan(before + 0.05);
    model.dispose();
  });
});

// loss.ts computes the PPO loss and its gradient at the heads by hand; the same loss written in tf
// ops (as the learner had it) and differentiated by tfjs is the yardstick
describe("hand-written PPO loss gradient equals tfjs autodiff", () => {
  beforeAll(async () => {
    await initTf("wasm");
  });

  function tfLoss(tf: typeof TfTypes, out: TfTypes.Tensor2D, mb: Minibatch, nb: number, nc: number, h: PpoHyper) {
    const n = mb.n;
    const [bid, cre, value] = tf.split(out, [nb, nc, 1], 1);
    const lpBid = tf.logSoftmax(bid);
    const lpCre = tf.logSoftmax(cre);
    const bidOneHot = tf.oneHot(tf.tensor1d(mb.bidAction, "int32"), nb);
    const creOneHot = nc > 1 ? tf.oneHot(tf.tensor1d(mb.creativeAction, "int32"), nc) : tf.ones([n, 1]);
    const w = tf.div(tf.tensor1d(mb.weight), tf.sum(tf.tensor1d(mb.weight)));
    const negAdv = tf.neg(tf.tensor1d(mb.advantage));
    const logp = tf.add(tf.sum(tf.mul(lpBid, bidOneHot), 1), tf.sum(tf.mul(lpCre, creOneHot), 1));
    const ratio = tf.exp(tf.sub(logp, tf.tensor1d(mb.logp)));
    const pgLoss = tf.sum(tf.mul(w, tf.maximum(tf.mul(negAdv, ratio), tf.mul(negAdv, tf.clipByValue(ratio, 1 - h.clipCoef, 1 + h.clipCoef)))));
    const v = tf.reshape(value, [-1]);
    const ret = tf.tensor1d(mb.returns);
    const oldV = tf.tensor1d(mb.value);
    let vPer: TfTypes.Tensor = tf.square(tf.sub(v, ret));
    if (h.clipVloss) vPer = tf.maximum(vPer, tf.square(tf.sub(tf.add(oldV, tf.clipByValue(tf.sub(v, oldV), -h.clipCoef, h.clipCoef)), ret)));
    const vLoss = tf.mul(0.5, tf.sum(tf.mul(w, vPer)));
    const entropy = tf.sum(tf.mul(w, tf.neg(tf.add(tf.sum(tf.mul(tf.exp(lpBid), lpBid), 1), tf.sum(tf.mul(tf.exp(lpCre), lpCre), 1)))));
    return { loss: tf.add(tf.sub(pgLoss, tf.mul(h.entCoef, entropy)), tf.mul(h.vfCoef, vLoss)) as TfTypes.Scalar, pgLoss, vLoss, entropy };
  }

  for (const [nc, clipVloss] of [[3, true], [3, false], [1, true]] as [number, boolean][]) {
    it(`${nc} creative(s), clipVloss ${clipVloss}`, async () => {
      const { tf } = await initTf("wasm");
      const nb = spec.bidLevels.length;
      const width = nb + nc + 1;
      const n = 513;
      const mb = minibatch(n, 7 + nc);
      let s = 31 + nc;
      const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const out = Float32Array.from({ length: n * width }, () => 3 * (rnd() * 2 - 1));
      for (let i = 0; i < n; i++) {
        mb.creativeAction[i] = Math.floor(rnd() * nc);
        // behaviour log-probabilities around the current ones, so ratios fall inside and outside the clip range
        mb.logp[i] = -Math.log(nb * nc) + (rnd() * 2 - 1) * 0.8;
        mb.value[i] = out[i * width + width - 1] + (rnd() * 2 - 1) * 0.5; // value clipping on for some rows
        mb.weight[i] = 0.2 + rnd();
      }
      // a large entropy coefficient, so an error in the entropy's gradient cannot hide under 1e-5
      const h: PpoHyper = { ...DEFAULT_PPO_HYPER, clipVloss, entCoef: 0.3 };
      const dOut = new Float32Array(n * width);
      const absLogRatio = new Float32Array(n);
      const newValue = new Float32Array(n);
      let wSum = 0;
      for (let i = 0; i < n; i++) wSum += mb.weight[i];
      const parts = ppoLossAndGrad(out, dOut, mb, wSum, { bid: nb, creative: nc, value: nb + nc, width }, h, absLogRatio, newValue);
      const x = tf.tensor2d(out, [n, width]);
      const ref = tfLoss(tf, x, mb, nb, nc, h);
      const g = tf.grad((t: TfTypes.Tensor) => tfLoss(tf, t as TfTypes.Tensor2D, mb, nb, nc, h).loss)(x).dataSync();
      for (const [name, mine, theirs] of [["loss", parts.loss, ref.loss], ["policy loss", parts.pgLoss, ref.pgLoss], ["value loss", parts.vLoss, ref.vLoss], ["entropy", parts.entropy, ref.entropy]] as const) {
        expect(Math.abs(mine - theirs.dataSync()[0]), name).toBeLessThan(1e-5);
      }
      let maxDiff = 0;
      let largest = 0;
      for (let i = 0; i < g.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(dOut[i] - g[i]));
        largest = Math.max(largest, Math.abs(g[i]));
      }
      expect(maxDiff).toBeLessThan(1e-5);
      expect(largest).toBeGreaterThan(1e-4);
      // the rows exercise both sides of each clip
      const ratios = Array.from(absLogRatio, (a) => a);
      expect(ratios.some((a) => a > Math.log(1 + h.clipCoef))).toBe(true);
      expect(ratios.some((a) => a < Math.log(1 + h.clipCoef) / 2)).toBe(true);
      expect(Array.from(newValue)).toEqual(Array.from({ length: n }, (_, i) => out[i * width + width - 1]));
      tf.dispose([x, ref.loss, ref.pgLoss, ref.vLoss, ref.entropy]);
    });
  }
});
