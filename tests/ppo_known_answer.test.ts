// Known answer from auction theory: in a second-price auction with no budget and i.i.d. values,
// bidding one's value is a dominant strategy (Vickrey 1961). A PPO policy trained with this
// project's learner and GAE on such a market must learn to bid within 5% of truthful on average.
//
// The market: each opportunity has a value v ~ U(0.5, 1.5) known to the bidder (observation
// feature 0 and the reference value), the highest competing bid c ~ U(0, 2) is independent of v,
// the bid is level x v, and the reward is (v - c) when the bid wins (the second price is c).
// Every decision is its own one-step journey (terminal), so GAE reduces to r - V(s).
import { beforeAll, describe, expect, it } from "vitest";
import seedrandom from "seedrandom";
import { initTf } from "../agents/tf.js";
import { PolicyModel } from "../agents/policy/model.js";
import { defaultPolicySpec, type PolicySpec } from "../agents/policy/spec.js";
import { PpoLearner } from "../agents/ppo/learner.js";
import { RowColumns, computeGae, END_CONVERTED, type TrajectoryBatch } from "../trainer/trajectories.js";
import { OBS_DIM } from "../wasm/layout.js";

const LEVELS = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3];

function sampleMarket(rng: () => number, n: number) {
  const v = new Float32Array(n);
  const c = new Float32Array(n);
  const obs = new Float32Array(n * OBS_DIM);
  for (let i = 0; i < n; i++) {
    v[i] = 0.5 + rng();
    c[i] = 2 * rng();
    obs[i * OBS_DIM] = v[i];
    obs[i * OBS_DIM + 1] = 1; // a constant feature, as real observations have
  }
  return { v, c, obs };
}

function probs(logits: Float32Array, row: number, k: number): number[] {
  let m = -Infinity;
  for (let j = 0; j < k; j++) m = Math.max(m, logits[row * k + j]);
  const e = Array.from({ length: k }, (_, j) => Math.exp(logits[row * k + j] - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

describe("PPO known answer: second price, no budget, i.i.d. values", () => {
  let tf: Awaited<ReturnType<typeof initTf>>["tf"];
  beforeAll(async () => {
    tf = (await initTf("wasm")).tf;
  });

  it("learns to bid within 5% of truthful on average", () => {
    const spec: PolicySpec = { ...defaultPolicySpec(1), hidden: [32, 32], bidLevels: LEVELS };
    const model = PolicyModel.create(spec, 7);
    model.setNormalization(
      Array.from({ length: OBS_DIM }, (_, j) => (j === 0 ? 1 : 0)),
      Array.from({ length: OBS_DIM }, (_, j) => (j === 0 ? 0.29 : 1)),
    );
    const learner = new PpoLearner(model, 2.5e-3, { entCoef: 0.001 });
    const rng = seedrandom.alea("known-answer");
    const n = 4096;
    const mbSize = 1024;
    const nBid = LEVELS.length;
    const greedyRatio = (): number => {
      const { v, obs } = sampleMarket(rng, 2000);
      const out = tf.tidy(() => model.forward(tf.tensor2d(obs, [2000, OBS_DIM])).bidLogits.dataSync() as Float32Array);
      let bid = 0;
      let val = 0;
      for (let i = 0; i < 2000; i++) {
        const p = probs(out, i, nBid);
        bid += LEVELS[p.indexOf(Math.max(...p))] * v[i];
        val += v[i];
      }
      return bid / val;
    };
    const before = greedyRatio();
    for (let iter = 0; iter < 40; iter++) {
      const { v, c, obs } = sampleMarket(rng, n);
      const logits = tf.tidy(() => model.forward(tf.tensor2d(obs, [n, OBS_DIM])).bidLogits.dataSync() as Float32Array);
      const rows = new RowColumns(n);
      rows.reserve(n);
      rows.obs.set(obs);
      for (let i = 0; i < n; i++) {
        const p = probs(logits, i, nBid);
        let u = rng();
        let a = 0;
        while (a < nBid - 1 && u >= p[a]) u -= p[a++];
        rows.bidLevel[i] = a;
        rows.logp[i] = Math.log(p[a]);
        const bid = LEVELS[a] * v[i];
        const won = bid > c[i];
        rows.attributed[i] = won ? v[i] : 0; // value of the impression
        rows.cost[i] = won ? c[i] : 0; // the second price
        rows.weight[i] = 1;
        rows.hour[i] = iter;
      }
      rows.n = n;
      const batch: TrajectoryBatch = { rows, start: Int32Array.from({ length: n + 1 }, (_, i) => i), kind: new Uint8Array(n).fill(END_CONVERTED), count: n };
      const values = learner.values(rows.obs, n);
      const { advantages, returns } = computeGae(batch, values, { gammaPerHour: 0.99, lambda: 0.95, costPenalty: 0, rewardScale: 1 });
      for (let epoch = 0; epoch < 4; epoch++) {
        for (let a = 0; a < n; a += mbSize) {
          const idx = Array.from({ length: mbSize }, (_, k) => a + k);
          const adv = Float32Array.from(idx, (r) => advantages[r]);
          let mu = 0;
          adv.forEach((x) => (mu += x / mbSize));
          let sd = 0;
          adv.forEach((x) => (sd += (x - mu) ** 2 / (mbSize - 1)));
          sd = Math.sqrt(sd) + 1e-8;
          learner.step({
            n: mbSize,
            obs: rows.obs.subarray(a * OBS_DIM, (a + mbSize) * OBS_DIM),
            bidAction: Int32Array.from(idx, (r) => rows.bidLevel[r]),
            creativeAction: new Int32Array(mbSize),
            logp: rows.logp.subarray(a, a + mbSize),
            advantage: adv.map((x) => (x - mu) / sd),
            returns: returns.subarray(a, a + mbSize),
            value: values.subarray(a, a + mbSize),
            weight: new Float32Array(mbSize).fill(1),
          });
        }
      }
    }
    const after = greedyRatio();
    // the untrained policy is not already truthful (otherwise the test proves nothing)
    expect(Math.abs(before - 1)).toBeGreaterThan(0.05);
    expect(Math.abs(after - 1)).toBeLessThanOrEqual(0.05);
    model.dispose();
  }, 240_000);
});
