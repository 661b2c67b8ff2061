// JSON.stringify turns NaN and Infinity into null, drops undefined and functions, and turns a Date
// into a string: a value that does not survive the round trip would be changed on disk without a
// word. Values the trainer stores as JSON (checkpoint meta, run config) are checked here first.

/**
 * Throws naming the path (e.g. `meta.optimizer.lr`) of the first part of `value` that JSON would
 * not store as is: a non-finite number, undefined, a function, symbol or bigint, an object that is
 * not a plain object or array (Date, Map, typed array...), or a cycle. (-0 passes and is read back as 0.)
 */
export function assertJsonValue(value: unknown, path: string): void {
  check(value, path, new Set());
}

function check(v: unknown, path: string, stack: Set<object>): void {
  switch (typeof v) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`${path} is ${v}; JSON can only store finite numbers`);
      return;
    case "object":
      break;
    default:
      throw new TypeError(`${path} is ${v === undefined ? "undefined" : `a ${typeof v}`}; only JSON values (object, array, string, finite number, boolean, null) can be stored`);
  }
  if (v === null) return;
  const proto = Object.getPrototypeOf(v);
  const isArray = Array.isArray(v);
  if (!isArray && proto !== Object.prototype && proto !== null) {
    throw new TypeError(`${path} is a ${proto?.constructor?.name ?? "non-plain object"}; only plain objects and arrays can be stored as JSON`);
  }
  if (stack.has(v)) throw new TypeError(`${path} refers back to itself (a cycle); JSON cannot store it`);
  stack.add(v);
  if (isArray) {
    const a = v as unknown[];
    // a hole reads as undefined and is rejected like one (JSON would write null)
    for (let i = 0; i < a.length; i++) check(a[i], `${path}[${i}]`, stack);
  } else {
    for (const [k, x] of Object.entries(v)) check(x, `${path}.${k}`, stack);
  }
  stack.delete(v);
}
