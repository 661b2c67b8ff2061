// CleanRL's PPO initialisation, written straight into the canonical layout: orthogonal kernels
// (gain sqrt(2) for the trunk, 0.01 for the two policy heads so the first policy is near uniform,
// 1 for the value head), zero biases, identity normalisation (mean 0, std 1).
//
// Why not tf.initializers.orthogonal: it is deterministic for a given seed, but it (a) prints a
// console warning for any kernel over 2000 elements (50x64 already is), (b) runs its QR as a chain of
// small tensor ops, which is slow (a 1024x1024 kernel did not finish in 10 minutes on the cpu
// backend), (c) draws the same Gaussian matrix for every layer given one seed, and (d) rounds
// through whichever backend is active, so tfjs-node, wasm and cpu could start from different bits.
// Here the QR runs in f64 in plain loops from a seeded stream per tensor, so an initial policy is
// one exact Float32Array whatever backend later trains it.
import seedrandom from "seedrandom";
import { type PolicySpec, policyLayout } from "./spec.js";

export const HIDDEN_GAIN = Math.SQRT2;
export const POLICY_HEAD_GAIN = 0.01;
export const VALUE_HEAD_GAIN = 1;

/** Standard normals from a seeded stream (Box-Muller on alea). */
function gaussians(count: number, seed: string): Float64Array {
  const rng = seedrandom.alea(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    // 1 - u keeps the log argument in (0, 1]
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const theta = 2 * Math.PI * rng();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * A [rows x cols] kernel (row-major) whose columns are orthonormal when rows >= cols and whose rows
 * are orthonormal otherwise, times `gain`: a Haar-distributed orthogonal matrix, as torch's
 * orthogonal_ draws it (Q of a Gaussian matrix's QR with R's diagonal made positive).
 */
export function orthogonalKernel(rows: number, cols: number, gain: number, seed: string): Float32Array {
  const tall = Math.max(rows, cols);
  const narrow = Math.min(rows, cols);
  // q holds `narrow` column vectors of length `tall`, vector k at [k * tall, (k + 1) * tall).
  const q = gaussians(tall * narrow, seed);
  // Modified Gram-Schmidt, each vector orthogonalised twice ("twice is enough"): the result is the
  // QR factor with a positive diagonal of R, which is what the sign fix of the textbook recipe yields.
  for (let k = 0; k < narrow; k++) {
    const vk = k * tall;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        const vj = j * tall;
        let dot = 0;
        for (let i = 0; i < tall; i++) dot += q[vj + i] * q[vk + i];
        for (let i = 0; i < tall; i++) q[vk + i] -= dot * q[vj + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < tall; i++) norm += q[vk + i] * q[vk + i];
    norm = Math.sqrt(norm);
    // A Gaussian matrix is full rank with probability 1; a zero here means a broken stream.
    if (!(norm > 0)) throw new Error(`orthogonalKernel: degenerate draw for ${rows}x${cols} (seed ${seed})`);
    for (let i = 0; i < tall; i++) q[vk + i] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // tall kernel: column c is vector c; wide kernel: row r is vector r
      out[r * cols + c] = gain * (rows >= cols ? q[c * tall + r] : q[r * tall + c]);
    }
  }
  return out;
}

/** The initial policy for `spec` in canonical layout; the same seed gives the same bits. */
export function initialCanonical(spec: PolicySpec, seed: number): Float32Array {
  const { slots, size } = policyLayout(spec);
  const out = new Float32Array(size);
  for (const slot of slots) {
    if (slot.name === "obs_std") {
      out.fill(1, slot.offset, slot.offset + slot.size);
      continue;
    }
    if (!slot.name.endsWith("/kernel")) continue; // means and biases start at zero
    const gain = slot.name.startsWith("hidden_") ? HIDDEN_GAIN
      : slot.name.startsWith("value/") ? VALUE_HEAD_GAIN
      : POLICY_HEAD_GAIN;
    // Seeding per tensor name keeps layers independent and a layer's draw unchanged when another
    // layer's size changes.
    const [rows, cols] = slot.shape;
    out.set(orthogonalKernel(rows, cols, gain, `${seed}/${slot.name}`), slot.offset);
  }
  return out;
}
