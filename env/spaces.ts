// Gymnasium-style spaces: enough to declare shapes and bounds, check values and sample actions.
export interface BoxSpace {
  kind: "box";
  shape: number[];
  low: Float32Array;
  high: Float32Array;
  dtype: "float32";
}

export interface DiscreteSpace {
  kind: "discrete";
  n: number;
  shape: number[];
  dtype: "int32";
}

export interface DictSpace {
  kind: "dict";
  spaces: Record<string, BoxSpace | DiscreteSpace>;
}

export type Space = BoxSpace | DiscreteSpace | DictSpace;

export function box(low: ArrayLike<number>, high: ArrayLike<number>, shape: number[]): BoxSpace {
  const size = shape.reduce((a, b) => a * b, 1);
  const lo = new Float32Array(size);
  const hi = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    lo[i] = low[i % low.length];
    hi[i] = high[i % high.length];
  }
  return { kind: "box", shape, low: lo, high: hi, dtype: "float32" };
}

export function discrete(n: number, shape: number[] = []): DiscreteSpace {
  return { kind: "discrete", n, shape, dtype: "int32" };
}

/** Index of the first element outside the box, or -1. */
export function firstOutOfBounds(space: BoxSpace, x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!(v >= space.low[i % space.low.length] && v <= space.high[i % space.high.length])) return i;
  }
  return -1;
}
