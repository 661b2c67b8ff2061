// The PPO update (Schulman et al. 2017) with CleanRL's core details, in tfjs: Adam with eps 1e-5,
// a learning rate the trainer anneals, clipped surrogate objective, clipped value loss, entropy
// bonus, and one global gradient-norm clip over all trainable weights. It learns the weights of a
// PolicyModel (agents/policy/model.ts) whose forward pass normalises raw observations with the
// running statistics, so the WASM policy that acts (same canonical weights) and this learner see
// the same network.
//
// The action is a pair (bid level, creative) from two categorical heads; its log-probability is
// the sum of both heads' log-probabilities, as the WASM policy records it (X_LOGP). Each sample may
// carry a weight: the product of its importance-sampling weight from the engine (rows of rarely
// kept segments stand for more decisions) and the prioritized-replay correction.
//
// A non-finite loss or gradient stops the update before the optimiser touches the weights and
// raises NonFiniteError naming the quantity, so a NaN can never reach a checkpoint.
import * as tf from "@tensorflow/tfjs";
import type { PolicyModel } from "../policy/model.js";

export interface PpoHyper {
  /** surrogate clip coefficient */
  clipCoef: number;
  /** clip the value loss around the behaviour value estimate (CleanRL clip_vloss) */
  clipVloss: boolean;
  /** entropy bonus coefficient */
  entCoef: number;
  /** value loss coefficient */
  vfCoef: number;
  /** global gradient-norm clip */
  maxGradNorm: number;
}

export const DEFAULT_PPO_HYPER: PpoHyper = { clipCoef: 0.2, clipVloss: true, entCoef: 0.01, vfCoef: 0.5, maxGradNorm: 0.5 };

/** One minibatch, already gathered into contiguous typed arrays (n rows). */
export interface Minibatch {
  n: number;
  obs: Float32Array; // n x obsDim raw observations
  bidAction: Int32Array;
  creativeAction: Int32Array;
  logp: Float32Array; // behaviour log-probability
  advantage: Float32Array; // already normalised by the caller (per minibatch or per batch)
  returns: Float32Array;
  value: Float32Array; // value estimate the returns were computed against (for the clipped value loss)
  weight: Float32Array; // per-sample loss weight (1 for plain PPO)
}

export interface UpdateStats {
  pgLoss: number;
  vLoss: number;
  entropy: number;
  approxKl: number;
  oldApproxKl: number;
  clipfrac: number;
  gradNorm: number;
  /** |new logp - behaviour logp| per sample, for replay priorities (length n) */
  absLogRatio?: Float32Array;
  /** new value estimates (length n) */
  newValue: Float32Array;
}

export class NonFiniteError extends Error {
  constructor(readonly where: string, detail: string) {
    super(`non-finite ${where}: ${detail}; training stopped before the weights were changed (no checkpoint is written from this state)`);
    this.name = "NonFiniteError";
  }
}

const ACC_PREFIX = "gaelp/adam/";
const ACC_BETAS = ["accBeta1", "accBeta2"] as const;

export class PpoLearner {
  readonly policy: PolicyModel;
  readonly optimizer: tf.AdamOptimizer;
  readonly hyper: PpoHyper;
  private readonly vars: tf.Variable[];

  constructor(policy: PolicyModel, learningRate: number, hyper: Partial<PpoHyper> = {}) {
    this.policy = policy;
    this.hyper = { ...DEFAULT_PPO_HYPER, ...hyper };
    this.optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-5);
    this.vars = policy.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  get learningRate(): number {
    return (this.optimizer as unknown as { learningRate: number }).learningRate;
  }

  set learningRate(lr: number) {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`learning rate must be finite and >= 0, got ${lr}`);
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
  }

  /** One gradient step on a minibatch. */
  step(mb: Minibatch): UpdateStats {
    const { n } = mb;
    const spec = this.policy.spec;
    const d = spec.obsDim;
    const h = this.hyper;
    if (n < 1) throw new RangeError(`minibatch must hold at least 1 sample, got ${n}`);
    const inputs = tf.tidy(() => ({
      obs: tf.tensor2d(mb.obs.subarray(0, n * d), [n, d]),
      bidOneHot: tf.oneHot(tf.tensor1d(mb.bidAction.subarray(0, n), "int32"), spec.bidLevels.length),
      // one creative: its head is a constant log-probability 0 and entropy 0
      creOneHot: spec.numCreatives > 1 ? tf.oneHot(tf.tensor1d(mb.creativeAction.subarray(0, n), "int32"), spec.numCreatives) : tf.ones([n, 1]),
      oldLogp: tf.tensor1d(mb.logp.subarray(0, n)),
      negAdv: tf.neg(tf.tensor1d(mb.advantage.subarray(0, n))),
      ret: tf.tensor1d(mb.returns.subarray(0, n)),
      oldV: tf.tensor1d(mb.value.subarray(0, n)),
      w: tf.div(tf.tensor1d(mb.weight.subarray(0, n)), tf.sum(tf.tensor1d(mb.weight.subarray(0, n)))),
    }));
    let kept: { pgLoss: tf.Scalar; vLoss: tf.Scalar; entropy: tf.Scalar; logRatio: tf.Tensor1D; value: tf.Tensor1D } | undefined;
    let grads: tf.NamedTensorMap | undefined;
    let loss: tf.Scalar | undefined;
    try {
      const res = tf.variableGrads(() => {
        const { obs, bidOneHot, creOneHot, oldLogp, negAdv, ret, oldV, w } = inputs;
        const o = this.policy.forward(obs);
        const lpBid = tf.logSoftmax(o.bidLogits);
        const lpCre = tf.logSoftmax(o.creativeLogits);
        const logp = tf.add(tf.sum(tf.mul(lpBid, bidOneHot), 1), tf.sum(tf.mul(lpCre, creOneHot), 1));
        const logRatio = tf.sub(logp, oldLogp) as tf.Tensor1D;
        const ratio = tf.exp(logRatio);
        const pgPer = tf.maximum(tf.mul(negAdv, ratio), tf.mul(negAdv, tf.clipByValue(ratio, 1 - h.clipCoef, 1 + h.clipCoef)));
        const pgLoss = tf.sum(tf.mul(w, pgPer)) as tf.Scalar;
        const v = o.value;
        let vPer: tf.Tensor = tf.square(tf.sub(v, ret));
        if (h.clipVloss) {
          const vClipped = tf.add(oldV, tf.clipByValue(tf.sub(v, oldV), -h.clipCoef, h.clipCoef));
          vPer = tf.maximum(vPer, tf.square(tf.sub(vClipped, ret)));
        }
        const vLoss = tf.mul(0.5, tf.sum(tf.mul(w, vPer))) as tf.Scalar;
        const entPer = tf.neg(tf.add(tf.sum(tf.mul(tf.exp(lpBid), lpBid), 1), tf.sum(tf.mul(tf.exp(lpCre), lpCre), 1)));
        const entropy = tf.sum(tf.mul(w, entPer)) as tf.Scalar;
        kept = { pgLoss: tf.keep(pgLoss), vLoss: tf.keep(vLoss), entropy: tf.keep(entropy), logRatio: tf.keep(logRatio), value: tf.keep(v) };
        return tf.add(tf.sub(pgLoss, tf.mul(h.entCoef, entropy)), tf.mul(h.vfCoef, vLoss)) as tf.Scalar;
      }, this.vars);
      grads = res.grads;
      loss = res.value;
      const k = kept!;
      // one read for every scalar: loss parts, the squared global gradient norm, kl and clip stats
      const summary = tf.tidy(() => {
        const sq = tf.addN(Object.values(grads!).map((g) => tf.sum(tf.square(g))));
        const ratio = tf.exp(k.logRatio);
        const approxKl = tf.mean(tf.sub(tf.sub(ratio, 1), k.logRatio));
        const oldApproxKl = tf.mean(tf.neg(k.logRatio));
        const clipfrac = tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), h.clipCoef), "float32"));
        return tf.stack([loss!, k.pgLoss, k.vLoss, k.entropy, sq, approxKl, oldApproxKl, clipfrac]);
      });
      const s = summary.dataSync();
      summary.dispose();
      const names = ["loss", "policy loss", "value loss", "entropy", "gradient norm"];
      for (let i = 0; i < 5; i++) {
        if (!Number.isFinite(s[i])) throw new NonFiniteError(names[i], `${names[i]} is ${s[i]} on a minibatch of ${n} samples`);
      }
      const gradNorm = Math.sqrt(s[4]);
      const scale = gradNorm > h.maxGradNorm ? h.maxGradNorm / (gradNorm + 1e-6) : 1;
      if (scale < 1) {
        const scaled = tf.tidy(() => {
          const m: tf.NamedTensorMap = {};
          for (const [name, g] of Object.entries(grads!)) m[name] = tf.mul(g, scale);
          return m;
        });
        this.optimizer.applyGradients(scaled as unknown as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
        tf.dispose(scaled);
      } else {
        this.optimizer.applyGradients(grads as unknown as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
      }
      const logRatio = k.logRatio.dataSync() as Float32Array;
      const absLogRatio = new Float32Array(n);
      for (let i = 0; i < n; i++) absLogRatio[i] = Math.abs(logRatio[i]);
      return {
        pgLoss: s[1], vLoss: s[2], entropy: s[3], gradNorm, approxKl: s[5], oldApproxKl: s[6], clipfrac: s[7],
        absLogRatio, newValue: Float32Array.from(k.value.dataSync() as Float32Array),
      };
    } finally {
      tf.dispose(inputs as unknown as tf.Tensor[]);
      if (kept) tf.dispose(Object.values(kept));
      if (grads) tf.dispose(grads);
      if (loss) loss.dispose();
    }
  }

  /** Value estimates for raw observations (n x obsDim), in batches. */
  values(obs: Float32Array, n: number, batch = 8192): Float32Array {
    const d = this.policy.spec.obsDim;
    const out = new Float32Array(n);
    for (let a = 0; a < n; a += batch) {
      const b = Math.min(n, a + batch);
      const v = tf.tidy(() => this.policy.forward(tf.tensor2d(obs.subarray(a * d, b * d), [b - a, d])).value);
      out.set(v.dataSync() as Float32Array, a);
      v.dispose();
    }
    for (let i = 0; i < n; i++) if (!Number.isFinite(out[i])) throw new NonFiniteError("value estimate", `V(obs row ${i}) is ${out[i]}`);
    return out;
  }

  /** Adam's state (moments, step counter and the running bias-correction products) as plain
   *  arrays, in a stable order. tfjs's setWeights recomputes the products as beta^(t+1), which
   *  differs in the last bits from the product it accumulated; they are saved and put back as
   *  they were so a resumed run continues bit-identically. */
  async optimizerState(): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
    const ws = await this.optimizer.getWeights();
    const out = ws.map((w) => ({ name: w.name, shape: w.tensor.shape.slice(), data: Float32Array.from(w.tensor.dataSync() as Float32Array) }));
    // getWeights hands out the live moment variables, plus a new scalar for the step counter
    for (const w of ws) if (w.name === "iter") w.tensor.dispose();
    for (const key of ACC_BETAS) {
      const v = (this.optimizer as unknown as Record<string, tf.Variable | undefined>)[key];
      if (v) out.push({ name: `${ACC_PREFIX}${key}`, shape: [], data: Float32Array.from(v.dataSync() as Float32Array) });
    }
    return out;
  }

  async setOptimizerState(state: { name: string; shape: number[]; data: Float32Array }[]): Promise<void> {
    const acc = state.filter((s) => s.name.startsWith(ACC_PREFIX));
    await this.optimizer.setWeights(state.filter((s) => !s.name.startsWith(ACC_PREFIX)).map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape) })));
    for (const s of acc) {
      const key = s.name.slice(ACC_PREFIX.length);
      const v = (this.optimizer as unknown as Record<string, tf.Variable | undefined>)[key];
      if (!ACC_BETAS.includes(key as (typeof ACC_BETAS)[number]) || !v || s.data.length !== 1) throw new Error(`optimizer state: unexpected entry ${s.name}`);
      v.assign(tf.scalar(s.data[0]));
    }
  }
}
