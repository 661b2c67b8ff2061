// Stand-in for AssemblyScript's linear-memory builtins, which the other files of this folder use
// where the kernel uses load<T>, store<T>, memory.fill, memory.copy and memory.data. No AS module
// of that name exists: this file is what `wasm/assembly` gets from the compiler.
//
// One ArrayBuffer is the whole linear memory of a reference core: static data (the kernel's
// memory.data tables), then the params block, io buffers and worlds at the offsets wasm/assembly
// /mem.ts computes. Every access in the kernel is naturally aligned (the layout is built that way),
// so a typed-array view indexed by (byte address >> log2 size) reads exactly the bytes load<T> reads.
//
// Conversions (AS cast -> here):
//   <i32>f64, <i32>f32   i32.trunc_sat_*_s -> truncSatI32 (x | 0 is the same for in-range values)
//   <u32>f64              i32.trunc_sat_f64_u -> truncSatU32
//   <f32>f64 / f32 ops    Math.fround (or a Float32Array store)
//   <u8>, <u16> stores    typed-array stores wrap modulo 2^8 / 2^16 like the wasm stores
export let U8: Uint8Array = new Uint8Array(0);
export let U16: Uint16Array = new Uint16Array(0);
export let I32: Int32Array = new Int32Array(0);
export let U32: Uint32Array = new Uint32Array(0);
export let F32: Float32Array = new Float32Array(0);
export let F64: Float64Array = new Float64Array(0);

/** Points every load/store at `buf` (a core's memory). */
export function bindMemory(buf: ArrayBuffer): void {
  U8 = new Uint8Array(buf);
  U16 = new Uint16Array(buf, 0, buf.byteLength >>> 1);
  I32 = new Int32Array(buf, 0, buf.byteLength >>> 2);
  U32 = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  F32 = new Float32Array(buf, 0, buf.byteLength >>> 2);
  F64 = new Float64Array(buf, 0, buf.byteLength >>> 3);
}

// memory.data(n): static regions handed out once, when the modules are evaluated. Address 0 stays
// unused (as in wasm, where static data starts above it).
let staticCursor = 16;
export function memoryData(bytes: number): number {
  const at = staticCursor;
  staticCursor = (staticCursor + bytes + 15) & ~15;
  return at;
}
/** End of the static data: the first free byte once every module of the core has been evaluated. */
export function staticEnd(): number {
  return staticCursor;
}

export function loadU8(p: number): number { return U8[p]; }
export function storeU8(p: number, v: number): void { U8[p] = v; }
export function loadU16(p: number): number { return U16[p >>> 1]; }
export function storeU16(p: number, v: number): void { U16[p >>> 1] = v; }
export function loadI32(p: number): number { return I32[p >>> 2]; }
export function storeI32(p: number, v: number): void { I32[p >>> 2] = v; }
export function loadU32(p: number): number { return U32[p >>> 2]; }
export function storeU32(p: number, v: number): void { U32[p >>> 2] = v; }
export function loadF32(p: number): number { return F32[p >>> 2]; }
export function storeF32(p: number, v: number): void { F32[p >>> 2] = v; }
export function loadF64(p: number): number { return F64[p >>> 3]; }
export function storeF64(p: number, v: number): void { F64[p >>> 3] = v; }

export function memoryFill(dst: number, value: number, bytes: number): void {
  U8.fill(value, dst, dst + bytes);
}
export function memoryCopy(dst: number, src: number, bytes: number): void {
  U8.copyWithin(dst, src, src + bytes);
}

/** i32.trunc_sat_f64_s / _f32_s: toward zero, saturating, NaN -> 0. */
export function truncSatI32(x: number): number {
  return x >= 2147483647 ? 2147483647 : x <= -2147483648 ? -2147483648 : x | 0;
}
/** i32.trunc_sat_f64_u: toward zero, saturating at 0 and 2^32 - 1, NaN -> 0. */
export function truncSatU32(x: number): number {
  return x >= 4294967295 ? 4294967295 : x > 0 ? x >>> 0 : 0;
}
/** popcnt<u32>. */
export function popcnt32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
