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
import { type PolicyModel, headColumns } from "../policy/model.js";
import { type LossParts, ppoLossAndGrad } from "./loss.js";

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

/** The loss parts and KL / clipping statistics of a step (loss.ts), plus: */
export interface UpdateStats extends Omit<LossParts, "loss"> {
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

  /**
   * One gradient step on a minibatch. tfjs runs the network (forward and backward through its
   * weights); the PPO loss and its gradient with respect to the heads' outputs are computed here
   * row by row in f64 (loss.ts), so the backward pass starts from one
   * [n, heads] tensor: the loss as tf ops was some hundred small kernels per step, more time on
   * the wasm backend than the network's products.
   */
  step(mb: Minibatch): UpdateStats {
    const { n } = mb;
    const spec = this.policy.spec;
    const d = spec.obsDim;
    const h = this.hyper;
    if (n < 1) throw new RangeError(`minibatch must hold at least 1 sample, got ${n}`);
    const cols = headColumns(spec);
    let wSum = 0;
    for (let i = 0; i < n; i++) wSum += mb.weight[i];
    const obs = tf.tensor2d(mb.obs.subarray(0, n * d), [n, d]);
    const absLogRatio = new Float32Array(n);
    const newValue = new Float32Array(n);
    let parts: LossParts | undefined;
    let grads: tf.NamedTensorMap | undefined;
    let surrogate: tf.Scalar | undefined;
    try {
      const res = tf.variableGrads(() => {
        const out = this.policy.forwardHeads(obs);
        const dOut = new Float32Array(n * cols.width);
        parts = ppoLossAndGrad(out.dataSync() as Float32Array, dOut, mb, wSum, cols, h, absLogRatio, newValue);
        // d(sum(out * dOut))/d(weights) = dLoss/d(out) . d(out)/d(weights) = dLoss/d(weights)
        return tf.sum(tf.mul(out, tf.tensor2d(dOut, [n, cols.width]))) as tf.Scalar;
      }, this.vars);
      grads = res.grads;
      surrogate = res.value;
      const p = parts!;
      const sqT = tf.tidy(() => tf.addN(Object.values(grads!).map((g) => tf.sum(tf.square(g)))));
      const sq = sqT.dataSync()[0];
      sqT.dispose();
      const checks: [string, number][] = [["loss", p.loss], ["policy loss", p.pgLoss], ["value loss", p.vLoss], ["entropy", p.entropy], ["gradient norm", sq]];
      for (const [name, v] of checks) {
        if (!Number.isFinite(v)) throw new NonFiniteError(name, `${name} is ${v} on a minibatch of ${n} samples`);
      }
      const gradNorm = Math.sqrt(sq);
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
      return {
        pgLoss: p.pgLoss, vLoss: p.vLoss, entropy: p.entropy, gradNorm, approxKl: p.approxKl, oldApproxKl: p.oldApproxKl, clipfrac: p.clipfrac,
        absLogRatio, newValue,
      };
    } finally {
      obs.dispose();
      if (grads) tf.dispose(grads);
      if (surrogate) surrogate.dispose();
    }
  }

  /** Value estimates for raw observations (n x obsDim), in batches. */
  values(obs: Float32Array, n: number, batch = 8192): Float32Array {
    const d = this.policy.spec.obsDim;
    const { width, value } = headColumns(this.policy.spec);
    const out = new Float32Array(n);
    for (let a = 0; a < n; a += batch) {
      const b = Math.min(n, a + batch);
      const heads = tf.tidy(() => this.policy.forwardHeads(tf.tensor2d(obs.subarray(a * d, b * d), [b - a, d])));
      const o = heads.dataSync() as Float32Array;
      heads.dispose();
      for (let i = a; i < b; i++) out[i] = o[(i - a) * width + value];
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
