// Read-only view of the params block written by env/params.ts (f64 slots, indices in layout.ts).
// The block is static data, so its address is a compile-time constant: prm(i) with a constant i is
// one load from a fixed address (a pointer in a global costs V8 a load of the global, which it
// repeats at every use, and an add).
import { PARAMS_F64 } from "../layout";

export const PARAMS: usize = memory.data(PARAMS_F64 * 8, 16);

@inline export function prm(i: i32): f64 {
  return load<f64>(PARAMS + (<usize>i << 3));
}

@inline export function prmI(i: i32): i32 {
  return <i32>load<f64>(PARAMS + (<usize>i << 3));
}
