// A dense layer y = act(x K + b) with a hand-written gradient that uses only non-transposed matrix
// products. tfjs's autodiff of matMul asks for transposed products (dx = dy Kᵀ, dK = xᵀ dy), and
// the wasm backend runs every transposed (or batched) matMul in a scalar triple loop; only
// the plain [1, m, k] x [1, k, n] product goes to XNNPACK. The PPO update spent about 40% of a
// training run in that loop. Here the operands are transposed explicitly (dz, and the small
// kernel) and the products themselves are plain ones.
//
// The forward value is tfjs's fused matMul (bias and ReLU inside the XNNPACK call), the op tfjs
// Dense layers use, so outputs match a tfjs Dense layer's.
import * as tf from "@tensorflow/tfjs";

export type DenseActivation = "relu" | "tanh" | "linear";
type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** x [n, in] · k [in, units] with both operands as given (no transpose flags). */
const plainMatMul = (a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D => tf.matMul(a, b);

/** The gradient at the pre-activation from the gradient at the output y = act(z). */
function preActivationGrad(dy: tf.Tensor2D, y: tf.Tensor2D, act: DenseActivation): tf.Tensor2D {
  if (act === "relu") return tf.mul(dy, tf.step(y)); // y > 0 exactly where z > 0; step(0) = 0
  if (act === "tanh") return tf.mul(dy, tf.sub(1, tf.square(y)));
  return dy;
}

function forwardValue(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, act: DenseActivation): tf.Tensor2D {
  if (act === "tanh") return tf.tanh(tf.fused.matMul({ a: x, b: kernel, bias })) as tf.Tensor2D;
  return tf.fused.matMul({ a: x, b: kernel, bias, activation: act }) as tf.Tensor2D;
}

/**
 * act(x · kernel + bias) for x [n, in], kernel [in, units], bias [units]. With `inputGrad` false the
 * gradient reaches kernel and bias only (the layer that reads the observations, which nothing
 * upstream learns from), which saves the dx product.
 */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, act: DenseActivation, inputGrad = true): tf.Tensor2D {
  if (x.rank !== 2 || kernel.rank !== 2 || bias.rank !== 1 || x.shape[1] !== kernel.shape[0] || bias.shape[0] !== kernel.shape[1]) {
    throw new Error(`dense: shapes x [${x.shape.join(", ")}], kernel [${kernel.shape.join(", ")}], bias [${bias.shape.join(", ")}] do not fit x [n, in], kernel [in, units], bias [units]`);
  }
  const value = (xi: tf.Tensor2D, k: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const y = forwardValue(xi, k, b, act);
    save([xi, k, y]);
    return y;
  };
  const paramGrads = (dy: tf.Tensor2D, saved: tf.Tensor[]): { dz: tf.Tensor2D; dk: tf.Tensor2D; db: tf.Tensor1D } => {
    const [xs, , y] = saved as tf.Tensor2D[];
    const dz = preActivationGrad(dy, y, act);
    // dK = xᵀ dz computed as (dzᵀ x)ᵀ: dz is transposed once and then serves both dK and db, whose
    // sum over rows becomes a sum along dzᵀ's innermost axis (the wasm Sum kernel transposes its
    // input first for any other axis)
    const dzT = tf.transpose(dz);
    return { dz, dk: tf.transpose(plainMatMul(dzT, xs)), db: tf.sum(dzT, 1) };
  };
  if (!inputGrad) {
    const op = tf.customGrad(((k: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => ({
      value: value(x, k, b, save),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const { dk, db } = paramGrads(dy, saved);
        return [dk, db];
      },
    })) as unknown as CustomGradFn);
    return op(kernel, bias) as tf.Tensor2D;
  }
  const op = tf.customGrad(((xi: tf.Tensor2D, k: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => ({
    value: value(xi, k, b, save),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const { dz, dk, db } = paramGrads(dy, saved);
      // dz Kᵀ with K (in x units, small) transposed first
      return [plainMatMul(dz, tf.transpose(saved[1] as tf.Tensor2D)), dk, db];
    },
  })) as unknown as CustomGradFn);
  return op(x, kernel, bias) as tf.Tensor2D;
}
