// Accessors for the world being stepped. `wb` is its base address; everything else is relative,
// so the same code runs any world (and a world restored into another slot).
import { H_STATS_EPISODE, H_RIVAL_STATS, RIVAL_STATS } from "../layout";
import { U_SEG, U_STAGE, U_CONF, U_CR_EXPO, RING, NU, USERS, NEXT_EVENTS, RINGS, ACT_CLASS, OUT_OF_MARKET, BLOCK_MIN, EVENT_BLOCK_SHIFT, SEG_USERS, USER_POS, DEVS, U_JSTART, R_FLAGS, R_HOUR, R_DECISION } from "./mem";
import { STAGE_CONVERTED, H_SEG_COUNT, H_SEG_START, NUM_SEGMENTS } from "../layout";

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

// Adds to a stat of the current flight's block. The world's lifetime totals are the closed block
// (H_STATS_TOTAL, everything before the current flight, folded in when a flight starts) plus this.
@inline export function stat(i: i32, v: f64): void {
  const a = wb + <usize>H_STATS_EPISODE + (<usize>i << 3);
  store<f64>(a, load<f64>(a) + v);
}

// Adds to rival r's lifetime outcome `field` (RS_* in layout.ts).
@inline export function rivalStat(r: i32, field: i32, v: f64): void {
  const a = wb + <usize>H_RIVAL_STATS + (<usize>(r * RIVAL_STATS + field) << 3);
  store<f64>(a, load<f64>(a) + v);
}

// per-user fields. The *At forms take the world base (or the user's record address) from the
// caller: a hot function holds it in a local, where the global `wb` costs V8 a reload at every use.
@inline export function userAddrAt(b: usize, u: i32): usize { return b + USERS + (<usize>u << 6); }
@inline export function userAddr(u: i32): usize { return userAddrAt(wb, u); }
@inline export function devAddrAt(b: usize, u: i32): usize { return b + DEVS + (<usize>u << 5); }
@inline export function devAddr(u: i32): usize { return devAddrAt(wb, u); }
@inline export function u8At(field: usize, u: i32): i32 { return <i32>load<u8>(userAddr(u) + field); }
@inline export function setU8(field: usize, u: i32, v: i32): void { store<u8>(userAddr(u) + field, <u8>v); }
@inline export function i32At(field: usize, u: i32): i32 { return load<i32>(userAddr(u) + field); }
@inline export function setI32(field: usize, u: i32, v: i32): void { store<i32>(userAddr(u) + field, v); }
@inline export function f32At(field: usize, u: i32): f32 { return load<f32>(userAddr(u) + field); }
@inline export function setF32(field: usize, u: i32, v: f32): void { store<f32>(userAddr(u) + field, v); }
@inline export function nextEventAt(u: i32): i32 { return load<i32>(wb + NEXT_EVENTS + (<usize>u << 2)); }
// Next-event hours also keep a per-block lower bound so the hourly scan skips quiet blocks.
@inline export function setNextEvent(u: i32, v: i32): void {
  store<i32>(wb + NEXT_EVENTS + (<usize>u << 2), v);
  const b = wb + BLOCK_MIN + (<usize>(u >> EVENT_BLOCK_SHIFT) << 2);
  if (v < load<i32>(b)) store<i32>(b, v);
}

// Users partitioned by segment in one array: opportunities pick a segment, then a user of it.
@inline export function segCountAt(b: usize, s: i32): i32 { return load<i32>(b + H_SEG_COUNT + (<usize>s << 2)); }
@inline export function segCount(s: i32): i32 { return segCountAt(wb, s); }
@inline function segStartAt(b: usize, s: i32): i32 { return load<i32>(b + H_SEG_START + (<usize>s << 2)); }
@inline function segStart(s: i32): i32 { return segStartAt(wb, s); }
// user i of segment s (i is evaluated after the segment's start is read)
@inline export function segUserAt(b: usize, s: i32, i: i32): i32 {
  return load<i32>(b + SEG_USERS + (<usize>(segStartAt(b, s) + i) << 2));
}
@inline export function segUser(s: i32, i: i32): i32 { return segUserAt(wb, s, i); }
@inline function placeAt(i: i32, u: i32): void {
  store<i32>(wb + SEG_USERS + (<usize>i << 2), u);
  store<i32>(wb + USER_POS + (<usize>u << 2), i);
}
@inline function userAtIndex(i: i32): i32 { return load<i32>(wb + SEG_USERS + (<usize>i << 2)); }
@inline function setSegStart(s: i32, v: i32): void { store<i32>(wb + H_SEG_START + (<usize>s << 2), v); }
@inline function setSegCount(s: i32, v: i32): void { store<i32>(wb + H_SEG_COUNT + (<usize>s << 2), v); }

// Builds the partition from the users' segments (after the population is drawn).
export function buildSegmentLists(): void {
  for (let s = 0; s < NUM_SEGMENTS; s++) setSegCount(s, 0);
  for (let u = 0; u < NU; u++) {
    const s = <i32>load<u8>(userAddr(u) + U_SEG);
    setSegCount(s, segCount(s) + 1);
  }
  let at = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    setSegStart(s, at);
    at += segCount(s);
    setSegCount(s, 0);
  }
  for (let u = 0; u < NU; u++) {
    const s = <i32>load<u8>(userAddr(u) + U_SEG);
    placeAt(segStart(s) + segCount(s), u);
    setSegCount(s, segCount(s) + 1);
  }
}

// Moves user u from segment `from` to segment `to`, passing it across the partitions between
// them one boundary swap at a time (at most NUM_SEGMENTS - 1 swaps).
export function segMove(u: i32, from: i32, to: i32): void {
  if (from == to) return;
  let pos = load<i32>(wb + USER_POS + (<usize>u << 2));
  if (from < to) {
    // to the end of `from`, then across each later partition by swapping with its last user
    let end = segStart(from) + segCount(from) - 1;
    placeAt(pos, userAtIndex(end));
    placeAt(end, u);
    setSegCount(from, segCount(from) - 1);
    pos = end;
    for (let s = from + 1; s < to; s++) {
      const last = segStart(s) + segCount(s) - 1;
      if (segCount(s) > 0) placeAt(pos, userAtIndex(last));
      setSegStart(s, segStart(s) - 1);
      pos = last;
      placeAt(pos, u);
    }
    setSegStart(to, segStart(to) - 1);
    setSegCount(to, segCount(to) + 1);
  } else {
    // to the start of `from`, then across each earlier partition by swapping with its first user
    let first = segStart(from);
    placeAt(pos, userAtIndex(first));
    placeAt(first, u);
    setSegStart(from, first + 1);
    setSegCount(from, segCount(from) - 1);
    pos = first;
    for (let s = from - 1; s > to; s--) {
      const head = segStart(s);
      if (segCount(s) > 0) placeAt(pos, userAtIndex(head));
      setSegStart(s, head + 1);
      pos = head;
      placeAt(pos, u);
    }
    setSegCount(to, segCount(to) + 1);
  }
}

// The compact activity class read by opportunity thinning (so rejected candidates cost no cache
// miss on their user record); call after any change of a user's segment or market status.
@inline export function activityClassAt(b: usize, u: i32): i32 { return <i32>load<u8>(b + ACT_CLASS + <usize>u); }
@inline export function refreshClass(u: i32): void {
  const out = <i32>load<u8>(userAddr(u) + U_STAGE) >= STAGE_CONVERTED;
  store<u8>(wb + ACT_CLASS + <usize>u, <u8>(out ? OUT_OF_MARKET : <i32>load<u8>(userAddr(u) + U_SEG)));
}
// address of touchpoint record k (k = ringIndex(u, slot))
@inline export function tpAddrAt(b: usize, k: usize): usize { return b + RINGS + (k << 3); }
@inline export function tpAddr(k: usize): usize { return tpAddrAt(wb, k); }
@inline export function tpFlags(k: usize): i32 { return <i32>load<u16>(tpAddr(k) + R_FLAGS); }
@inline export function tpHour(u: i32, k: usize): i32 {
  return load<i32>(userAddr(u) + U_JSTART) + <i32>load<u16>(tpAddr(k) + R_HOUR);
}
@inline export function tpDecision(k: usize): u32 { return load<u32>(tpAddr(k) + R_DECISION); }
@inline export function flagClicked(f: i32): bool { return (f & 1) != 0; }
@inline export function flagDevice(f: i32): i32 { return (f >> 1) & 3; }
@inline export function flagSlot(f: i32): i32 { return (f >> 3) & 3; }
@inline export function flagChannel(f: i32): i32 { return (f >> 5) & 7; }
@inline export function flagAdvertiser(f: i32): i32 { return (f >> 8) & 15; }
@inline export function flagCreative(f: i32): i32 { return (f >> 12) & 7; }
@inline export function segOf(u: i32): i32 { return u8At(U_SEG, u); }
@inline export function stageOf(u: i32): i32 { return u8At(U_STAGE, u); }

// match confidence is stored quantised to 1/255 (ua: the user's record address)
@inline export function confAt(ua: usize, d: i32): f32 {
  return <f32>load<u8>(ua + U_CONF + <usize>d) * (1.0 / 255.0);
}
@inline export function setConf(u: i32, d: i32, v: f32): void {
  store<u8>(userAddr(u) + U_CONF + <usize>d, <u8>(<i32>(v * 255.0 + 0.5)));
}
@inline export function exposuresAt(ua: usize, c: i32): i32 {
  return <i32>load<u8>(ua + U_CR_EXPO + <usize>c);
}
@inline export function exposuresOf(u: i32, c: i32): i32 { return exposuresAt(userAddr(u), c); }
@inline export function bumpExposure(u: i32, c: i32): void {
  const p = userAddr(u) + U_CR_EXPO + <usize>c;
  const v = load<u8>(p);
  if (v < 255) store<u8>(p, v + 1);
}
@inline export function ringIndex(u: i32, k: i32): usize {
  return <usize>u * <usize>RING + <usize>k;
}

