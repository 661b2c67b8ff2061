// Read-only view of the params block written by env/params.ts (f64 slots, indices in layout.ts).
export let PARAMS: usize = 0;

@inline export function prm(i: i32): f64 {
  return load<f64>(PARAMS + (<usize>i << 3));
}

@inline export function prmI(i: i32): i32 {
  return <i32>load<f64>(PARAMS + (<usize>i << 3));
}

export function setParamsPtr(p: usize): void {
  PARAMS = p;
}
