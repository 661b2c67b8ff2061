// Summary statistics for evaluation reports: mean and 95% Student-t interval over worlds, and
// quantiles of weighted hourly histograms (conversion delays).

export interface Interval {
  n: number;
  mean: number;
  /** sample standard deviation (n - 1 denominator); 0 when n = 1 */
  sd: number;
  lo: number;
  hi: number;
  /** set when the interval is degenerate (n <= 1) */
  note?: string;
}

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Sample standard deviation (Bessel-corrected); 0 for one value, NaN for none. */
export function sd(xs: ArrayLike<number>): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return 0;
  const m = mean(xs);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - m) * (xs[i] - m);
  return Math.sqrt(ss / (n - 1));
}

// ---- Student-t ---------------------------------------------------------------------------------

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Student-t CDF with `df` > 0 degrees of freedom. */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`tCdf: df must be > 0, got ${df}`);
  if (t === 0) return 0.5;
  if (!Number.isFinite(t)) return t > 0 ? 1 : 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t > 0 ? 1 - tail : tail;
}

/** Student-t quantile: the t with P(T <= t) = p for `df` > 0 degrees of freedom (|error| < 1e-9). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`tQuantile: df must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  // closed forms
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) {
    const a = 4 * p * (1 - p);
    return (2 * (p - 0.5) * Math.sqrt(2 / a));
  }
  // bracket then bisect on the monotone CDF (robust for any df; ~60 iterations)
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e12) return hi;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = 0.5 * (lo + hi);
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** Mean and two-sided `level` Student-t interval (df = n - 1) of `xs`. NaN and ±Infinity are
 *  dropped (e.g. a CAC with no conversions); `n` says how many values were used. */
export function tInterval(xs: ArrayLike<number>, level = 0.95): Interval {
  if (!(level > 0 && level < 1)) throw new RangeError(`tInterval: level must be in (0, 1), got ${level}`);
  const vals: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) vals.push(xs[i]);
  const n = vals.length;
  if (n === 0) return { n, mean: Number.NaN, sd: Number.NaN, lo: Number.NaN, hi: Number.NaN, note: "no finite values" };
  const m = mean(vals);
  if (n === 1) return { n, mean: m, sd: 0, lo: m, hi: m, note: "n = 1: no interval, bounds equal the mean" };
  const s = sd(vals);
  const half = tQuantile(0.5 + level / 2, n - 1) * (s / Math.sqrt(n));
  return { n, mean: m, sd: s, lo: m - half, hi: m + half };
}

// ---- weighted histograms -----------------------------------------------------------------------

export interface HistogramSummary {
  /** total weight */
  total: number;
  mean: number;
  median: number;
  p75: number;
  max: number;
}

/**
 * Weighted quantile of a histogram whose bin i holds weight at value `i * binWidth` (the hourly
 * delay histograms count a conversion `floor(hours)` after first touch in bin `hours`): the
 * smallest bin value whose cumulative weight reaches q of the total. NaN for an empty histogram.
 */
export function histogramQuantile(hist: ArrayLike<number>, q: number, binWidth = 1): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`histogramQuantile: q must be in [0, 1], got ${q}`);
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += Math.max(0, hist[i]);
  if (!(total > 0)) return Number.NaN;
  const target = q * total;
  let cum = 0;
  let last = 0;
  for (let i = 0; i < hist.length; i++) {
    const w = Math.max(0, hist[i]);
    if (w <= 0) continue;
    cum += w;
    last = i;
    // relative tolerance: summed float weights must not skip a bin that reaches q exactly
    if (cum >= target * (1 - 1e-12)) return i * binWidth;
  }
  return last * binWidth;
}

/** Mean, median, 75th percentile and maximum of a weighted histogram, in units of `binWidth`
 *  (pass 1/24 to turn hourly bins into days). Negative weights are treated as 0. */
export function summarizeHistogram(hist: ArrayLike<number>, binWidth = 1): HistogramSummary {
  let total = 0;
  let sum = 0;
  let max = Number.NaN;
  for (let i = 0; i < hist.length; i++) {
    const w = Math.max(0, hist[i]);
    if (w <= 0) continue;
    total += w;
    sum += w * i;
    max = i;
  }
  if (!(total > 0)) return { total: 0, mean: Number.NaN, median: Number.NaN, p75: Number.NaN, max: Number.NaN };
  return {
    total,
    mean: (sum / total) * binWidth,
    median: histogramQuantile(hist, 0.5, binWidth),
    p75: histogramQuantile(hist, 0.75, binWidth),
    max: max * binWidth,
  };
}

// ---- empirical quantiles -------------------------------------------------------------------------

/** The q-quantile (0 <= q <= 1) of ascending-sorted values, linearly interpolated between order
 *  statistics (Hyndman & Fan type 7, the default of R, NumPy and pandas); NaN for no values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantileSorted: q must be in [0, 1], got ${q}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The finite values of xs, ascending (NaN and ±Infinity dropped, as tInterval drops them). */
export function finiteSorted(xs: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i])) out.push(xs[i]);
  return Float64Array.from(out).sort();
}
