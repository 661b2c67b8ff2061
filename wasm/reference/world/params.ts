// Read-only view of the params block written by env/params.ts (f64 slots, indices in layout.ts).
import { loadF64, truncSatI32 } from "./memory.js";

export let PARAMS = 0;

export function prm(i: number): number {
  return loadF64(PARAMS + (i << 3));
}

export function prmI(i: number): number {
  return truncSatI32(loadF64(PARAMS + (i << 3)));
}

export function setParamsPtr(p: number): void {
  PARAMS = p;
}
