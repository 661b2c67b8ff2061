// The PPO learner: a non-finite loss or gradient stops the update before any weight changes (so no
// NaN can reach a checkpoint), the Adam state round-trips bit-exactly, and updates move the policy
// toward actions with positive advantage.
import { beforeAll, describe, expect, it } from "vitest";
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { NonFiniteError, PpoLearner, type Minibatch } from "../agents/ppo/learner.js";
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
