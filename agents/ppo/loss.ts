// The PPO loss of one minibatch and its gradient with respect to the policy's head outputs, row by
// row in f64. Per sample i with normalised weight w_i (weight / sum of weights):
//   logp_i   = log softmax(bid logits)[bid action] + log softmax(creative logits)[creative action]
//   ratio_i  = exp(logp_i - behaviour logp_i)
//   pg_i     = max(-A_i ratio_i, -A_i clip(ratio_i, 1 - clipCoef, 1 + clipCoef))
//   v_i      = (V_i - R_i)^2, or with clipVloss max(that, (V_old + clip(V_i - V_old, +-clipCoef) - R_i)^2)
//   H_i      = entropy of the bid head + entropy of the creative head
//   loss     = sum_i w_i pg_i - entCoef sum_i w_i H_i + vfCoef 0.5 sum_i w_i v_i
// Gradients follow tfjs's conventions where a choice exists, so they equal tfjs autodiff of the
// same loss written in tf ops: max(a, b) passes the gradient to a when a >= b, clip passes it
// when the value lies inside the closed interval. With one creative its head is constant
// (log-probability 0, entropy 0) and gets no gradient.
//   d logp / d z_j = onehot_j - p_j       d H / d z_j = -p_j (log p_j + H_head)
import type { Minibatch, PpoHyper } from "./learner.js";

export interface LossParts {
  loss: number;
  pgLoss: number;
  vLoss: number;
  entropy: number;
  approxKl: number;
  oldApproxKl: number;
  clipfrac: number;
}

/** Softmax of logits z[at .. at + k) into p, log-softmax into lp; returns the entropy. */
function softmaxEntropy(z: Float32Array, at: number, k: number, p: Float64Array, lp: Float64Array): number {
  let m = -Infinity;
  for (let j = 0; j < k; j++) if (z[at + j] > m) m = z[at + j];
  let s = 0;
  for (let j = 0; j < k; j++) {
    p[j] = Math.exp(z[at + j] - m);
    s += p[j];
  }
  const lse = m + Math.log(s);
  let H = 0;
  for (let j = 0; j < k; j++) {
    p[j] /= s;
    lp[j] = z[at + j] - lse;
    H -= p[j] * lp[j];
  }
  return H;
}

/** Writes d(loss)/d(logits) of one categorical head into g[at .. at + k): gLogp = d(loss)/d(logp),
 *  gH = -d(loss)/d(H). */
function headGrad(g: Float32Array, at: number, k: number, action: number, p: Float64Array, lp: Float64Array, H: number, gLogp: number, gH: number): void {
  for (let j = 0; j < k; j++) g[at + j] = gLogp * ((j === action ? 1 : 0) - p[j]) + gH * p[j] * (lp[j] + H);
}

/**
 * `out` holds the heads row by row ([n, cols.width]: bid logits, creative logits, value); fills
 * `dOut` (same shape) with d(loss)/d(out), `absLogRatio` and `newValue` (length n), and returns
 * the loss, its parts and the KL and clipping statistics (unweighted means over the rows).
 */
export function ppoLossAndGrad(
  out: Float32Array, dOut: Float32Array, mb: Minibatch, weightSum: number,
  cols: { bid: number; creative: number; value: number; width: number }, h: PpoHyper,
  absLogRatio: Float32Array, newValue: Float32Array,
): LossParts {
  const { n } = mb;
  const W = cols.width;
  const nb = cols.bid;
  const nc = cols.creative;
  const pB = new Float64Array(nb);
  const lpB = new Float64Array(nb);
  const pC = new Float64Array(nc);
  const lpC = new Float64Array(nc);
  const lo = 1 - h.clipCoef;
  const hi = 1 + h.clipCoef;
  let pgLoss = 0;
  let vLoss = 0;
  let entropy = 0;
  let approxKl = 0;
  let oldApproxKl = 0;
  let clipped = 0;
  for (let i = 0; i < n; i++) {
    const row = i * W;
    const a = mb.bidAction[i];
    const c = mb.creativeAction[i];
    const Hb = softmaxEntropy(out, row, nb, pB, lpB);
    const Hc = nc > 1 ? softmaxEntropy(out, row + nb, nc, pC, lpC) : 0;
    const logp = lpB[a] + (nc > 1 ? lpC[c] : 0);
    const logRatio = logp - mb.logp[i];
    const ratio = Math.exp(logRatio);
    const A = mb.advantage[i];
    const unclipped = -A * ratio;
    const rc = ratio < lo ? lo : ratio > hi ? hi : ratio;
    const clippedTerm = -A * rc;
    let pg: number;
    let dPgDRatio: number;
    if (unclipped >= clippedTerm) {
      pg = unclipped;
      dPgDRatio = -A;
    } else {
      pg = clippedTerm;
      dPgDRatio = ratio >= lo && ratio <= hi ? -A : 0;
    }
    const v = out[row + cols.value];
    const ret = mb.returns[i];
    let vPer = (v - ret) * (v - ret);
    let dV = 2 * (v - ret);
    if (h.clipVloss) {
      const oldV = mb.value[i];
      const dv = v - oldV;
      const vc = oldV + (dv < -h.clipCoef ? -h.clipCoef : dv > h.clipCoef ? h.clipCoef : dv);
      const alt = (vc - ret) * (vc - ret);
      if (!(vPer >= alt)) {
        vPer = alt;
        dV = dv >= -h.clipCoef && dv <= h.clipCoef ? 2 * (vc - ret) : 0;
      }
    }
    const w = mb.weight[i] / weightSum;
    pgLoss += w * pg;
    vLoss += 0.5 * w * vPer;
    entropy += w * (Hb + Hc);
    const gLogp = w * dPgDRatio * ratio;
    const gH = h.entCoef * w; // the loss holds -entCoef H, and dH/dz_j = -p_j (log p_j + H)
    headGrad(dOut, row, nb, a, pB, lpB, Hb, gLogp, gH);
    if (nc > 1) headGrad(dOut, row + nb, nc, c, pC, lpC, Hc, gLogp, gH);
    else for (let j = 0; j < nc; j++) dOut[row + nb + j] = 0;
    dOut[row + cols.value] = h.vfCoef * 0.5 * w * dV;
    approxKl += ratio - 1 - logRatio;
    oldApproxKl -= logRatio;
    if (Math.abs(ratio - 1) > h.clipCoef) clipped++;
    absLogRatio[i] = Math.abs(logRatio);
    newValue[i] = v;
  }
  return {
    loss: pgLoss - h.entCoef * entropy + h.vfCoef * vLoss,
    pgLoss, vLoss, entropy, approxKl: approxKl / n, oldApproxKl: oldApproxKl / n, clipfrac: clipped / n,
  };
}
