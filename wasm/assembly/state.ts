// Accessors for the world being stepped. `wb` is its base address; everything else is relative,
// so the same code runs any world (and a world restored into another slot).
import {
  H_STATS_EPISODE, H_STATS_TOTAL, MAX_CREATIVES, MAX_DEVICES,
} from "../layout";
import { U_SEG, U_STAGE, U_CONF, U_CR_EXPO, RING } from "./mem";

export let wb: usize = 0;
export function setWorldBase(p: usize): void {
  wb = p;
}

// header scalars
@inline export function hI32(off: i32): i32 { return load<i32>(wb + <usize>off); }
@inline export function hSetI32(off: i32, v: i32): void { store<i32>(wb + <usize>off, v); }
@inline export function hF32(off: i32): f32 { return load<f32>(wb + <usize>off); }
@inline export function hSetF32(off: i32, v: f32): void { store<f32>(wb + <usize>off, v); }
@inline export function hF64(off: i32): f64 { return load<f64>(wb + <usize>off); }
@inline export function hSetF64(off: i32, v: f64): void { store<f64>(wb + <usize>off, v); }
@inline export function hAddF64(off: i32, v: f64): void {
  const p = wb + <usize>off;
  store<f64>(p, load<f64>(p) + v);
}

// Adds to a stat in both the current flight's block and the world's lifetime block.
@inline export function stat(i: i32, v: f64): void {
  const a = wb + <usize>H_STATS_EPISODE + (<usize>i << 3);
  store<f64>(a, load<f64>(a) + v);
  const b = wb + <usize>H_STATS_TOTAL + (<usize>i << 3);
  store<f64>(b, load<f64>(b) + v);
}

// per-user fields
@inline export function u8At(arr: usize, u: i32): i32 { return <i32>load<u8>(wb + arr + <usize>u); }
@inline export function setU8(arr: usize, u: i32, v: i32): void { store<u8>(wb + arr + <usize>u, <u8>v); }
@inline export function i32At(arr: usize, u: i32): i32 { return load<i32>(wb + arr + (<usize>u << 2)); }
@inline export function setI32(arr: usize, u: i32, v: i32): void { store<i32>(wb + arr + (<usize>u << 2), v); }
@inline export function f32At(arr: usize, u: i32): f32 { return load<f32>(wb + arr + (<usize>u << 2)); }
@inline export function setF32(arr: usize, u: i32, v: f32): void { store<f32>(wb + arr + (<usize>u << 2), v); }

@inline export function segOf(u: i32): i32 { return u8At(U_SEG, u); }
@inline export function stageOf(u: i32): i32 { return u8At(U_STAGE, u); }
@inline export function confOf(u: i32, d: i32): f32 {
  return load<f32>(wb + U_CONF + ((<usize>u * MAX_DEVICES + <usize>d) << 2));
}
@inline export function setConf(u: i32, d: i32, v: f32): void {
  store<f32>(wb + U_CONF + ((<usize>u * MAX_DEVICES + <usize>d) << 2), v);
}
@inline export function exposuresOf(u: i32, c: i32): i32 {
  return <i32>load<u8>(wb + U_CR_EXPO + <usize>u * MAX_CREATIVES + <usize>c);
}
@inline export function bumpExposure(u: i32, c: i32): void {
  const p = wb + U_CR_EXPO + <usize>u * MAX_CREATIVES + <usize>c;
  const v = load<u8>(p);
  if (v < 255) store<u8>(p, v + 1);
}
@inline export function ringIndex(u: i32, k: i32): usize {
  return <usize>u * <usize>RING + <usize>k;
}

