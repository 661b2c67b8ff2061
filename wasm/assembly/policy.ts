// The bidding policy's forward pass: observation normalisation, an MLP trunk, and one fused output
// layer holding the bid logits, the creative logits and the value. The same code acts in rollouts
// (sampling with the world's RNG) and serves bids, so training and serving cannot drift apart.
//
// JS writes the canonical weights (agents/policy/spec.ts) at CANON and calls policyLoad(), which
// repacks them for the kernel: every layer's kernel is [inputs x outputs padded to 4], input-major,
// so a layer is a sum of input-scaled weight rows -- one SIMD accumulator per 4 outputs, held in
// registers across the rows, and an input that is zero (one-hot features, ReLU outputs) costs no
// row at all (dense() gathers the nonzero inputs first).
import { OBS_DIM } from "../layout";
import { uniform } from "./rng";

export const ACT_RELU = 0;
export const ACT_TANH = 1;
const MAX_LAYERS = 4;
const MAX_UNITS = 1024;

// activations (padded widths; 16-byte aligned)
const HA = memory.data(MAX_UNITS * 4, 16);
const HB = memory.data(MAX_UNITS * 4, 16);
const OUT = memory.data(64 * 4, 16);
const EXPS = memory.data(64 * 4, 16);
const HIDDEN = memory.data(MAX_LAYERS * 4); // i32 units per layer
const LEVELS = memory.data(32 * 4); // f32 bid multipliers

let nLayers: i32 = 0;
let activation: i32 = ACT_RELU;
let nBid: i32 = 0;
let nCr: i32 = 0;
let nOut: i32 = 0; // nBid + nCr + 1
let clipHi: f32 = 10;
export let CANON: usize = 0; // f32 canonical weights, written by JS
export let CANON_LEN: i32 = 0;
let PACKED: usize = 0; // repacked weights
let NORM_MEAN: usize = 0; // f32 [OBS_DIM]
let NORM_INV: usize = 0; // f32 [OBS_DIM] 1 / std
export let policyLoaded = false;

// outputs of the last act()
export let actBid: i32 = 0;
export let actCreative: i32 = 0;
export let actLogp: f64 = 0;
export let actValue: f64 = 0;

// layer widths are padded to whole f32x4 lanes
@inline function pad4(n: i32): i32 {
  return (n + 3) & ~3;
}
@inline function units(l: i32): i32 {
  return load<i32>(HIDDEN + (<usize>l << 2));
}

function packedBytes(): usize {
  let bytes: usize = <usize>OBS_DIM * 8;
  let inputs = OBS_DIM;
  for (let l = 0; l < nLayers; l++) {
    const h = pad4(units(l));
    bytes += <usize>(inputs * h + h) << 2;
    inputs = units(l);
  }
  const o = pad4(nOut);
  bytes += <usize>(inputs * o + o) << 2;
  return bytes;
}

function canonicalLength(): i32 {
  let n = OBS_DIM * 2;
  let inputs = OBS_DIM;
  for (let l = 0; l < nLayers; l++) {
    n += inputs * units(l) + units(l);
    inputs = units(l);
  }
  return n + inputs * nOut + nOut;
}

/** Declares the architecture and places its buffers at `base`. Returns the end of the region
 *  (0 when the architecture is out of range). The canonical array lives at policyCanonicalPtr(). */
export function policySetup(base: usize, layers: i32, h0: i32, h1: i32, h2: i32, h3: i32, act: i32, bidLevels: i32, creatives: i32, obsClip: f32): usize {
  if (layers < 1 || layers > MAX_LAYERS || bidLevels < 2 || bidLevels > 32 || creatives < 1 || creatives > 8) return 0;
  store<i32>(HIDDEN, h0);
  store<i32>(HIDDEN + 4, h1);
  store<i32>(HIDDEN + 8, h2);
  store<i32>(HIDDEN + 12, h3);
  for (let l = 0; l < layers; l++) {
    const h = load<i32>(HIDDEN + (<usize>l << 2));
    if (h < 1 || h > MAX_UNITS) return 0;
  }
  nLayers = layers;
  activation = act;
  nBid = bidLevels;
  nCr = creatives;
  nOut = bidLevels + creatives + 1;
  clipHi = obsClip;
  CANON_LEN = canonicalLength();
  CANON = (base + 15) & ~15;
  PACKED = (CANON + (<usize>CANON_LEN << 2) + 15) & ~15;
  NORM_MEAN = PACKED;
  NORM_INV = PACKED + (<usize>OBS_DIM << 2);
  policyLoaded = false;
  return PACKED + packedBytes();
}

export function policyLevelsPtr(): usize {
  return LEVELS;
}

export function policyOutputWidth(): i32 {
  return nOut;
}

/** Repacks the canonical weights. Returns 0, or 1 when a weight is not finite, 2 when a std is not > 0. */
export function policyLoad(): i32 {
  let c = CANON;
  for (let i = 0; i < CANON_LEN; i++) {
    const v = load<f32>(CANON + (<usize>i << 2));
    if (!isFinite(v)) return 1;
  }
  for (let i = 0; i < OBS_DIM; i++) {
    store<f32>(NORM_MEAN + (<usize>i << 2), load<f32>(c + (<usize>i << 2)));
    const sd = load<f32>(c + (<usize>(OBS_DIM + i) << 2));
    if (!(sd > 0)) return 2;
    store<f32>(NORM_INV + (<usize>i << 2), <f32>1.0 / sd);
  }
  c += <usize>OBS_DIM << 3;
  let p = PACKED + (<usize>OBS_DIM << 3);
  let inputs = OBS_DIM;
  for (let l = 0; l < nLayers; l++) {
    const n = units(l);
    const np = pad4(n);
    // kernel rows, each padded with zeros to np; then the bias
    for (let i = 0; i < inputs; i++) {
      for (let j = 0; j < np; j++) {
        store<f32>(p + (<usize>(i * np + j) << 2), j < n ? load<f32>(c + (<usize>(i * n + j) << 2)) : 0);
      }
    }
    c += <usize>(inputs * n) << 2;
    p += <usize>(inputs * np) << 2;
    for (let j = 0; j < np; j++) store<f32>(p + (<usize>j << 2), j < n ? load<f32>(c + (<usize>j << 2)) : 0);
    c += <usize>n << 2;
    p += <usize>np << 2;
    inputs = n;
  }
  packHeads();
  foldZeroInputs();
  policyLoaded = true;
  return 0;
}

// The first layer sees each input as its offset from the input's value at a raw 0 (Z0): a raw 0
// is then an input of exactly 0, which the gather drops, and about 22 of the 50 raw features are
// 0 in a typical observation (one-hot groups, counts of a fresh journey). The layer's bias takes
// what the Z0s contribute: W x + b = W (x - Z0) + (b + W Z0), for every clipped value too (Z0 is
// normalised and clipped as an input is). The folded bias is summed in f64 and rounded once.
const Z0 = memory.data(<i32>(((OBS_DIM + 3) & ~3) << 2), 16);
function foldZeroInputs(): void {
  for (let i = 0; i < OBS_DIM; i++) store<f32>(Z0 + (<usize>i << 2), normaliseOne(0, i));
  const n = units(0);
  const np = pad4(n);
  const kernel = PACKED + (<usize>OBS_DIM << 3);
  const bias = kernel + (<usize>(OBS_DIM * np) << 2);
  for (let j = 0; j < n; j++) {
    let sum = <f64>load<f32>(bias + (<usize>j << 2));
    for (let i = 0; i < OBS_DIM; i++) {
      sum += <f64>load<f32>(kernel + (<usize>(i * np + j) << 2)) * <f64>load<f32>(Z0 + (<usize>i << 2));
    }
    store<f32>(bias + (<usize>j << 2), <f32>sum);
  }
}

// The canonical layout keeps the three heads as separate tensors (kernel, bias each); the kernel
// computes them as one layer, so their columns are gathered into one padded matrix.
function packHeads(): void {
  let c = CANON + (<usize>OBS_DIM << 3);
  let inputs = OBS_DIM;
  let p = PACKED + (<usize>OBS_DIM << 3);
  for (let l = 0; l < nLayers; l++) {
    const n = units(l);
    c += <usize>(inputs * n + n) << 2;
    p += <usize>(inputs * pad4(n) + pad4(n)) << 2;
    inputs = n;
  }
  const np = pad4(nOut);
  const kb = p;
  const bb = p + (<usize>(inputs * np) << 2);
  memory.fill(kb, 0, <usize>(inputs * np + np) << 2);
  let col = 0;
  for (let head = 0; head < 3; head++) {
    const n = head == 0 ? nBid : head == 1 ? nCr : 1;
    for (let i = 0; i < inputs; i++) {
      for (let j = 0; j < n; j++) {
        store<f32>(kb + (<usize>(i * np + col + j) << 2), load<f32>(c + (<usize>(i * n + j) << 2)));
      }
    }
    c += <usize>(inputs * n) << 2;
    for (let j = 0; j < n; j++) store<f32>(bb + (<usize>(col + j) << 2), load<f32>(c + (<usize>j << 2)));
    c += <usize>n << 2;
    col += n;
  }
}

// out[0..np) = bias + sum_i x[i] * W[i, :]. The nonzero inputs are gathered first, so one-hot
// features and inactive ReLU units cost nothing in the row loop and that loop has no
// data-dependent branch. Every output lane sums its terms in input order whatever the blocking,
// so the result does not depend on it. ReLU is applied as the outputs are stored (max with the
// floor 0).
//
// The gather is SIMD and branch-free: four inputs at a time, their nonzero mask picks a byte
// shuffle (COMPRESS) that packs the nonzero values, and their row offsets, to the front of a
// vector stored at the end of the list. Inputs are read in whole vectors up to pad4(nIn): the
// padding lanes of XIN and of the hidden layers are zero, so they are never gathered.

// One region: the row offsets, then at NZ_SPLIT bytes further the values (so the row loops walk one
// pointer and read the value at a constant offset from it)
const NZ_SPLIT: usize = (MAX_UNITS + 4) * 4;
const NZ_OFF = memory.data(<i32>NZ_SPLIT * 2, 16); // byte offset of the input's weight row
const NZ_VAL = NZ_OFF + NZ_SPLIT;
const COMPRESS = memory.data(16 * 16, 16);

function buildCompress(): void {
  for (let mask = 0; mask < 16; mask++) {
    let p = 0;
    const row = COMPRESS + (<usize>mask << 4);
    for (let lane = 0; lane < 4; lane++) {
      if (((mask >> lane) & 1) == 0) continue;
      for (let b = 0; b < 4; b++) store<u8>(row + <usize>(p * 4 + b), <u8>(lane * 4 + b));
      p++;
    }
    // lanes past the nonzero ones: bytes >= 16 select zero
    for (let b = p * 4; b < 16; b++) store<u8>(row + <usize>b, 0xff);
  }
}
buildCompress();

@inline function gatherNonzero(x: usize, nIn: i32, stride: i32): i32 {
  let m = 0;
  let off = i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(stride));
  const step = i32x4.splat(stride << 2);
  const zero = f32x4.splat(0);
  for (let i = 0; i < nIn; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const mask = i32x4.bitmask(f32x4.ne(v, zero));
    const sh = v128.load(COMPRESS + (<usize>mask << 4));
    const mb = <usize>m << 2;
    v128.store(NZ_VAL + mb, i8x16.swizzle(v, sh));
    v128.store(NZ_OFF + mb, i8x16.swizzle(off, sh));
    m += <i32>popcnt<u32>(mask);
    off = i32x4.add(off, step);
  }
  return m;
}

// The first layer's inputs (normalise), padded to whole vectors with zeros.
const XIN = memory.data(<i32>(((OBS_DIM + 3) & ~3) << 2), 16);

// max(x, -inf) = x: the floor of layers without ReLU
const NO_FLOOR = f32x4.splat(-Infinity);

// k (1..6, a constant where it is inlined) 4-lane outputs at o: bias at b plus the listed inputs'
// rows (row offsets in [nz, nzEnd), values NZ_SPLIT bytes further) from column block wc. The
// accumulators past k are never used, so the optimiser drops them and their tests.
@inline function block(nz: usize, nzEnd: usize, wc: usize, b: usize, o: usize, floor: v128, k: i32): void {
  const z = f32x4.splat(0);
  let a0 = v128.load(b);
  let a1 = k > 1 ? v128.load(b, 16) : z;
  let a2 = k > 2 ? v128.load(b, 32) : z;
  let a3 = k > 3 ? v128.load(b, 48) : z;
  let a4 = k > 4 ? v128.load(b, 64) : z;
  let a5 = k > 5 ? v128.load(b, 80) : z;
  let q = nz;
  // up to 16 lanes, two rows a pass (the loop's own instructions are a good part of a row); wider
  // blocks one row a pass (two rows of 24 lanes spill vector registers: +2 k instructions a decision)
  for (; k <= 4 && q + 4 < nzEnd; q += 8) {
    const wp = wc + <usize>load<i32>(q);
    const wq = wc + <usize>load<i32>(q, 4);
    const s = v128.load32_splat(q, NZ_SPLIT);
    a0 = f32x4.add(a0, f32x4.mul(s, v128.load(wp)));
    if (k > 1) a1 = f32x4.add(a1, f32x4.mul(s, v128.load(wp, 16)));
    if (k > 2) a2 = f32x4.add(a2, f32x4.mul(s, v128.load(wp, 32)));
    if (k > 3) a3 = f32x4.add(a3, f32x4.mul(s, v128.load(wp, 48)));
    if (k > 4) a4 = f32x4.add(a4, f32x4.mul(s, v128.load(wp, 64)));
    if (k > 5) a5 = f32x4.add(a5, f32x4.mul(s, v128.load(wp, 80)));
    const t = v128.load32_splat(q, NZ_SPLIT + 4);
    a0 = f32x4.add(a0, f32x4.mul(t, v128.load(wq)));
    if (k > 1) a1 = f32x4.add(a1, f32x4.mul(t, v128.load(wq, 16)));
    if (k > 2) a2 = f32x4.add(a2, f32x4.mul(t, v128.load(wq, 32)));
    if (k > 3) a3 = f32x4.add(a3, f32x4.mul(t, v128.load(wq, 48)));
    if (k > 4) a4 = f32x4.add(a4, f32x4.mul(t, v128.load(wq, 64)));
    if (k > 5) a5 = f32x4.add(a5, f32x4.mul(t, v128.load(wq, 80)));
  }
  for (; q < nzEnd; q += 4) {
    const wp = wc + <usize>load<i32>(q);
    const s = v128.load32_splat(q, NZ_SPLIT);
    a0 = f32x4.add(a0, f32x4.mul(s, v128.load(wp)));
    if (k > 1) a1 = f32x4.add(a1, f32x4.mul(s, v128.load(wp, 16)));
    if (k > 2) a2 = f32x4.add(a2, f32x4.mul(s, v128.load(wp, 32)));
    if (k > 3) a3 = f32x4.add(a3, f32x4.mul(s, v128.load(wp, 48)));
    if (k > 4) a4 = f32x4.add(a4, f32x4.mul(s, v128.load(wp, 64)));
    if (k > 5) a5 = f32x4.add(a5, f32x4.mul(s, v128.load(wp, 80)));
  }
  v128.store(o, f32x4.max(a0, floor));
  if (k > 1) v128.store(o, f32x4.max(a1, floor), 16);
  if (k > 2) v128.store(o, f32x4.max(a2, floor), 32);
  if (k > 3) v128.store(o, f32x4.max(a3, floor), 48);
  if (k > 4) v128.store(o, f32x4.max(a4, floor), 64);
  if (k > 5) v128.store(o, f32x4.max(a5, floor), 80);
}

// out[0..np) = bias + the rows of the listed inputs [nz, nzEnd) (row offsets there, values NZ_SPLIT
// bytes further). Output blocks of 24, then one of 20, 16, 12, 8 or 4 lanes: V8 keeps a block's
// accumulators, its weight loads and the splatted input in the 15 vector registers it allocates
// (a block of 32 spilled to the stack).
function dense(nz: usize, nzEnd: usize, nIn: i32, w: usize, np: i32, out: usize, floor: v128): void {
  const stride = np << 2;
  const bias = w + <usize>nIn * <usize>stride;
  let c = 0;
  for (; c + 24 <= np; c += 24) {
    const cb = <usize>c << 2;
    block(nz, nzEnd, w + cb, bias + cb, out + cb, floor, 6);
  }
  const rest = np - c;
  const cb = <usize>c << 2;
  const wc = w + cb;
  const o = out + cb;
  const b = bias + cb;
  if (rest == 20) {
    block(nz, nzEnd, wc, b, o, floor, 5);
  } else if (rest == 16) {
    block(nz, nzEnd, wc, b, o, floor, 4);
  } else if (rest == 12) {
    block(nz, nzEnd, wc, b, o, floor, 3);
  } else if (rest == 8) {
    block(nz, nzEnd, wc, b, o, floor, 2);
  } else if (rest == 4) {
    block(nz, nzEnd, wc, b, o, floor, 1);
  }
}

// A layer over the nonzero inputs of x (gathered into NZ_OFF).
@inline function denseSparse(x: usize, nIn: i32, w: usize, np: i32, out: usize, floor: v128): void {
  const nzEnd = NZ_OFF + (<usize>gatherNonzero(x, nIn, np << 2) << 2);
  dense(NZ_OFF, nzEnd, nIn, w, np, out, floor);
}

// e^x for four lanes: range reduction to r in [-ln2/2, ln2/2], a degree-6 Taylor polynomial
// (relative error < 2e-7), and 2^n built in the exponent bits. x is clamped to [-87, 88].
@inline function expv(x: v128): v128 {
  x = f32x4.max(f32x4.min(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.4426950408889634)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.3888889e-3);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3333333e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1666667e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666667e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  const bits = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, bits);
}

// tanh in place over a layer's outputs (ReLU happens in dense).
function activateTanh(h: usize, np: i32): void {
  // tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); |x| > 9 is +-1 to f32 precision
  const one = f32x4.splat(1.0);
  const two = f32x4.splat(2.0);
  for (let j = 0; j < np; j += 4) {
    const p = h + (<usize>j << 2);
    const x = v128.load(p);
    const ax = f32x4.min(f32x4.abs(x), f32x4.splat(9.0));
    const e = expv(f32x4.mul(ax, two));
    const t = f32x4.sub(one, f32x4.div(two, f32x4.add(e, one)));
    // copy the sign of x onto t
    v128.store(p, v128.or(v128.and(t, i32x4.splat(0x7fffffff)), v128.and(x, i32x4.splat(0x80000000))));
  }
}

// Input i of value raw normalised: clip((raw - mean) / std), as the vector lanes of normalise
// compute it.
@inline function normaliseOne(raw: f32, i: i32): f32 {
  const o = <usize>i << 2;
  let v = (raw - load<f32>(NORM_MEAN + o)) * load<f32>(NORM_INV + o);
  if (v > clipHi) v = clipHi;
  if (v < -clipHi) v = -clipHi;
  return v;
}

// XIN = clip((obs - mean) / std) - Z0 over OBS_DIM inputs (see foldZeroInputs: exactly 0 where the
// raw feature is 0), zero in the padding lanes up to pad4(OBS_DIM). Vector lanes first, then the
// scalar tail (obs rows are OBS_DIM floats: no read past a row). With copy != 0 the raw observation
// is also copied there (a rollout's experience row) as it is read.
function normalise(obs: usize, copy: usize): void {
  const hi = f32x4.splat(clipHi);
  const lo = f32x4.splat(-clipHi);
  let i = 0;
  for (; i + 4 <= OBS_DIM; i += 4) {
    const o = <usize>i << 2;
    const raw = v128.load(obs + o);
    if (copy != 0) v128.store(copy + o, raw);
    const v = f32x4.mul(f32x4.sub(raw, v128.load(NORM_MEAN + o)), v128.load(NORM_INV + o));
    v128.store(XIN + o, f32x4.sub(f32x4.max(f32x4.min(v, hi), lo), v128.load(Z0 + o)));
  }
  v128.store(XIN + (<usize>i << 2), f32x4.splat(0));
  for (; i < OBS_DIM; i++) {
    const o = <usize>i << 2;
    const raw = load<f32>(obs + o);
    if (copy != 0) store<f32>(copy + o, raw);
    store<f32>(XIN + o, normaliseOne(raw, i) - load<f32>(Z0 + o));
  }
}

// Forward pass of one observation into OUT (bid logits, creative logits, value); see normalise
// for `copy`.
function forward(obs: usize, copy: usize): void {
  normalise(obs, copy);
  const relu = activation == ACT_RELU;
  const floor = relu ? f32x4.splat(0) : NO_FLOOR;
  let w = PACKED + (<usize>OBS_DIM << 3);
  let np = pad4(units(0));
  denseSparse(XIN, OBS_DIM, w, np, HA, floor);
  if (!relu) activateTanh(HA, np);
  w += <usize>(OBS_DIM * np + np) << 2;
  let x = HA;
  let out = HB;
  let inputs = units(0);
  for (let l = 1; l < nLayers; l++) {
    const n = units(l);
    np = pad4(n);
    denseSparse(x, inputs, w, np, out, floor);
    if (!relu) activateTanh(out, np);
    w += <usize>(inputs * np + np) << 2;
    x = out;
    out = out == HA ? HB : HA;
    inputs = n;
  }
  denseSparse(x, inputs, w, pad4(nOut), OUT, NO_FLOOR);
}

/** Forward pass of n observations (f32 [n x OBS_DIM]) into out (f32 [n x policyOutputWidth()]). */
export function policyForward(n: i32, obs: usize, out: usize): void {
  for (let r = 0; r < n; r++) {
    forward(obs + <usize>r * OBS_DIM * 4, 0);
    memory.copy(out + <usize>r * nOut * 4, OUT, <usize>nOut << 2);
  }
}

// Samples (or, greedy, takes the argmax of) a categorical over n logits at p; returns the index
// and leaves its log-probability in headLogp. Branch-free where the data decides (which logit is
// largest, where the draw lands), since those branches are coin flips for the predictor.
//
// The largest logit is found in vectors (lanes past n masked to -inf), then the first lane equal to
// it: that is the index and value a scalar scan with `>` picks, also when +0 and -0 tie. Only NaN
// logits (where a vector max would differ from that scan) take the scalar scan.
//
// The draw lands on the first i whose running sum CUM[i] exceeds it: as the sums never decrease,
// that i is the number of sums at or below the draw, counted two f64 lanes at a time (a pad lane
// past an odd n holds +inf, which is never at or below a draw that is below the sum).
const CUM = memory.data(34 * 8, 16); // f64 running sums of the exps
const LANE = i32x4(0, 1, 2, 3);
let headLogp: f64 = 0;
function chooseHead(p: usize, n: i32, greedy: bool): i32 {
  const full = n & ~3;
  const tail = i32x4.lt_s(LANE, i32x4.splat(n - full)); // lanes of the last partial vector
  const negInf = f32x4.splat(-Infinity);
  let mv = negInf;
  for (let i = 0; i < full; i += 4) mv = f32x4.max(mv, v128.load(p + (<usize>i << 2)));
  if (full < n) mv = f32x4.max(mv, v128.bitselect(v128.load(p + (<usize>full << 2)), negInf, tail));
  mv = f32x4.max(mv, i8x16.shuffle(mv, mv, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  mv = f32x4.max(mv, i8x16.shuffle(mv, mv, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
  const top = f32x4.extract_lane(mv, 0);
  let arg = 0;
  let mx: f32;
  if (top == top) {
    const ts = f32x4.splat(top);
    let bits: u32 = 0;
    for (let i = 0; i < full; i += 4) {
      bits |= <u32>i32x4.bitmask(f32x4.eq(v128.load(p + (<usize>i << 2)), ts)) << <u32>i;
    }
    if (full < n) {
      const v = v128.and(f32x4.eq(v128.load(p + (<usize>full << 2)), ts), tail);
      bits |= <u32>i32x4.bitmask(v) << <u32>full;
    }
    arg = <i32>ctz<u32>(bits);
    mx = load<f32>(p + (<usize>arg << 2));
  } else {
    mx = load<f32>(p);
    for (let i = 1; i < n; i++) {
      const v = load<f32>(p + (<usize>i << 2));
      const up = v > mx;
      arg = select<i32>(i, arg, up);
      mx = select<f32>(v, mx, up);
    }
  }
  const m = f32x4.splat(mx);
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(EXPS + o, expv(f32x4.sub(v128.load(p + o), m)));
  }
  let sum: f64 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const e = EXPS + (<usize>i << 2);
    const c = CUM + (<usize>i << 3);
    sum += <f64>load<f32>(e);
    store<f64>(c, sum);
    sum += <f64>load<f32>(e, 4);
    store<f64>(c, sum, 8);
    sum += <f64>load<f32>(e, 8);
    store<f64>(c, sum, 16);
    sum += <f64>load<f32>(e, 12);
    store<f64>(c, sum, 24);
  }
  for (; i < n; i++) {
    sum += <f64>load<f32>(EXPS + (<usize>i << 2));
    store<f64>(CUM + (<usize>i << 3), sum);
  }
  store<f64>(CUM + (<usize>n << 3), Infinity);
  let a = arg;
  if (!greedy) {
    const target = uniform() * sum;
    if (target < sum) {
      const t = f64x2.splat(target);
      let cnt = i64x2.splat(0);
      for (let j = 0; j < n; j += 2) cnt = i64x2.sub(cnt, f64x2.le(v128.load(CUM + (<usize>j << 3)), t));
      a = <i32>(i64x2.extract_lane(cnt, 0) + i64x2.extract_lane(cnt, 1));
    } else {
      a = n - 1; // no sum exceeds the draw (NaN logits)
    }
  }
  headLogp = <f64>(load<f32>(p + (<usize>a << 2)) - mx) - Math.log(sum);
  return a;
}

/** Acts on one observation: bid level, creative, joint log-probability and value (act* globals).
 *  Sampling draws from the current world's RNG, so actions are part of the world's stream. With
 *  copy != 0 the observation is also copied there (OBS_DIM floats) on the way. */
export function act(obs: usize, greedy: bool, copy: usize = 0): void {
  forward(obs, copy);
  actBid = chooseHead(OUT, nBid, greedy);
  let logp = headLogp;
  actCreative = chooseHead(OUT + (<usize>nBid << 2), nCr, greedy);
  logp += headLogp;
  actLogp = logp;
  actValue = <f64>load<f32>(OUT + (<usize>(nBid + nCr) << 2));
}

/** Greedy decisions of n observations (f32 [n x OBS_DIM]) into out (f32 [n x 4]: bid level,
 *  creative, joint log-probability, value), each head's argmax exactly as act(greedy) takes it in
 *  rollouts: the serving path's batch in one call, instead of the raw outputs and an argmax and
 *  log-sum-exp per head in JS. */
export function policyDecideGreedy(n: i32, obs: usize, out: usize): void {
  for (let r = 0; r < n; r++) {
    act(obs + <usize>r * OBS_DIM * 4, true);
    const o = out + (<usize>r << 4);
    store<f32>(o, <f32>actBid);
    store<f32>(o, <f32>actCreative, 4);
    store<f32>(o, <f32>actLogp, 8);
    store<f32>(o, <f32>actValue, 12);
  }
}

@inline export function bidLevel(a: i32): f64 {
  return <f64>load<f32>(LEVELS + (<usize>a << 2));
}
