// Running mean and variance of observation features (CleanRL/Gymnasium RunningMeanStd: the
// parallel-variance update of Chan et al.), in f64 so a long run does not drift. The trainer folds
// every iteration's fresh observations in and copies mean and sqrt(var + eps) into the policy's
// obs_mean / obs_std, which the WASM policy and the tfjs learner both apply.
export class RunningMeanStd {
  readonly dim: number;
  mean: Float64Array;
  var: Float64Array;
  count: number;

  constructor(dim: number, epsilon = 1e-4) {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
    this.count = epsilon;
  }

  /** Folds in `n` rows of `x` (row-major, n x dim). */
  update(x: Float32Array, n: number): void {
    if (n <= 0) return;
    const d = this.dim;
    if (x.length < n * d) throw new RangeError(`RunningMeanStd.update: ${x.length} values for ${n} rows of ${d}`);
    const bMean = new Float64Array(d);
    const bVar = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) bMean[j] += x[o + j];
    }
    for (let j = 0; j < d; j++) bMean[j] /= n;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const e = x[o + j] - bMean[j];
        bVar[j] += e * e;
      }
    }
    const tot = this.count + n;
    for (let j = 0; j < d; j++) {
      const v = bVar[j] / n;
      if (!Number.isFinite(bMean[j]) || !Number.isFinite(v)) throw new RangeError(`observation feature ${j} is not finite in this batch (mean ${bMean[j]})`);
      const delta = bMean[j] - this.mean[j];
      const m2 = this.var[j] * this.count + v * n + (delta * delta * this.count * n) / tot;
      this.mean[j] += (delta * n) / tot;
      this.var[j] = m2 / tot;
    }
    this.count = tot;
  }

  /** std = sqrt(var + eps), never 0. */
  std(eps = 1e-8): Float64Array {
    const s = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) s[j] = Math.sqrt(this.var[j] + eps);
    return s;
  }

  toJSON(): { mean: number[]; var: number[]; count: number } {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }

  static fromJSON(o: { mean: number[]; var: number[]; count: number }, dim: number): RunningMeanStd {
    if (o.mean?.length !== dim || o.var?.length !== dim || !(o.count > 0)) throw new RangeError(`running stats: expected ${dim} means and variances and a count > 0`);
    const r = new RunningMeanStd(dim);
    r.mean = Float64Array.from(o.mean);
    r.var = Float64Array.from(o.var);
    r.count = o.count;
    return r;
  }
}
