// Accessors for the world being stepped. `wb` is its base address; everything else is relative,
// so the same code runs any world (and a world restored into another slot).
import { H_STATS_EPISODE, H_RIVAL_STATS, RIVAL_STATS, STAGE_CONVERTED, H_SEG_COUNT, H_SEG_START, NUM_SEGMENTS } from "../../layout.js";
import {
  U_SEG, U_STAGE, U_CONF, U_CR_EXPO, RING, NU, USERS, NEXT_EVENTS, RINGS, ACT_CLASS, OUT_OF_MARKET,
  BLOCK_MIN, EVENT_BLOCK_SHIFT, SEG_USERS, USER_POS, DEVS, U_JSTART, R_FLAGS, R_HOUR, R_DECISION,
} from "./mem.js";
import {
  loadU8, storeU8, loadU16, loadI32, storeI32, loadU32, loadF32, storeF32, loadF64, storeF64, truncSatI32,
} from "./memory.js";

export let wb = 0;
export function setWorldBase(p: number): void {
  wb = p;
}

// header scalars
export function hI32(off: number): number { return loadI32(wb + off); }
export function hSetI32(off: number, v: number): void { storeI32(wb + off, v); }
export function hF32(off: number): number { return loadF32(wb + off); }
export function hSetF32(off: number, v: number): void { storeF32(wb + off, v); }
export function hF64(off: number): number { return loadF64(wb + off); }
export function hSetF64(off: number, v: number): void { storeF64(wb + off, v); }
export function hAddF64(off: number, v: number): void {
  const p = wb + off;
  storeF64(p, loadF64(p) + v);
}

// Adds to a stat of the current flight's block. The world's lifetime totals are the closed block
// (H_STATS_TOTAL, everything before the current flight, folded in when a flight starts) plus this.
export function stat(i: number, v: number): void {
  const a = wb + H_STATS_EPISODE + (i << 3);
  storeF64(a, loadF64(a) + v);
}

// Adds to rival r's lifetime outcome `field` (RS_* in layout.ts).
export function rivalStat(r: number, field: number, v: number): void {
  const a = wb + H_RIVAL_STATS + ((r * RIVAL_STATS + field) << 3);
  storeF64(a, loadF64(a) + v);
}

// per-user fields
export function userAddr(u: number): number { return wb + USERS + (u << 6); }
export function devAddr(u: number): number { return wb + DEVS + (u << 5); }
export function u8At(field: number, u: number): number { return loadU8(userAddr(u) + field); }
export function setU8(field: number, u: number, v: number): void { storeU8(userAddr(u) + field, v); }
export function i32At(field: number, u: number): number { return loadI32(userAddr(u) + field); }
export function setI32(field: number, u: number, v: number): void { storeI32(userAddr(u) + field, v); }
export function f32At(field: number, u: number): number { return loadF32(userAddr(u) + field); }
export function setF32(field: number, u: number, v: number): void { storeF32(userAddr(u) + field, v); }
export function nextEventAt(u: number): number { return loadI32(wb + NEXT_EVENTS + (u << 2)); }
// Next-event hours also keep a per-block lower bound so the hourly scan skips quiet blocks.
export function setNextEvent(u: number, v: number): void {
  storeI32(wb + NEXT_EVENTS + (u << 2), v);
  const b = wb + BLOCK_MIN + ((u >> EVENT_BLOCK_SHIFT) << 2);
  if (v < loadI32(b)) storeI32(b, v);
}

// Users partitioned by segment in one array: opportunities pick a segment, then a user of it.
export function segCount(s: number): number { return loadI32(wb + H_SEG_COUNT + (s << 2)); }
function segStart(s: number): number { return loadI32(wb + H_SEG_START + (s << 2)); }
export function segUser(s: number, i: number): number {
  return loadI32(wb + SEG_USERS + ((segStart(s) + i) << 2));
}
function placeAt(i: number, u: number): void {
  storeI32(wb + SEG_USERS + (i << 2), u);
  storeI32(wb + USER_POS + (u << 2), i);
}
function userAtIndex(i: number): number { return loadI32(wb + SEG_USERS + (i << 2)); }
function setSegStart(s: number, v: number): void { storeI32(wb + H_SEG_START + (s << 2), v); }
function setSegCount(s: number, v: number): void { storeI32(wb + H_SEG_COUNT + (s << 2), v); }

// Builds the partition from the users' segments (after the population is drawn).
export function buildSegmentLists(): void {
  for (let s = 0; s < NUM_SEGMENTS; s++) setSegCount(s, 0);
  for (let u = 0; u < NU; u++) {
    const s = loadU8(userAddr(u) + U_SEG);
    setSegCount(s, segCount(s) + 1);
  }
  let at = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    setSegStart(s, at);
    at += segCount(s);
    setSegCount(s, 0);
  }
  for (let u = 0; u < NU; u++) {
    const s = loadU8(userAddr(u) + U_SEG);
    placeAt(segStart(s) + segCount(s), u);
    setSegCount(s, segCount(s) + 1);
  }
}

// Moves user u from segment `from` to segment `to`, passing it across the partitions between
// them one boundary swap at a time (at most NUM_SEGMENTS - 1 swaps).
export function segMove(u: number, from: number, to: number): void {
  if (from === to) return;
  let pos = loadI32(wb + USER_POS + (u << 2));
  if (from < to) {
    // to the end of `from`, then across each later partition by swapping with its last user
    const end = segStart(from) + segCount(from) - 1;
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
    const first = segStart(from);
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

// The compact activity class read by opportunity thinning; call after any change of a user's
// segment or market status.
export function activityClass(u: number): number { return loadU8(wb + ACT_CLASS + u); }
export function refreshClass(u: number): void {
  const out = loadU8(userAddr(u) + U_STAGE) >= STAGE_CONVERTED;
  storeU8(wb + ACT_CLASS + u, out ? OUT_OF_MARKET : loadU8(userAddr(u) + U_SEG));
}
// address of touchpoint record k (k = ringIndex(u, slot))
export function tpAddr(k: number): number { return wb + RINGS + (k << 3); }
export function tpFlags(k: number): number { return loadU16(tpAddr(k) + R_FLAGS); }
export function tpHour(u: number, k: number): number {
  return (loadI32(userAddr(u) + U_JSTART) + loadU16(tpAddr(k) + R_HOUR)) | 0;
}
export function tpDecision(k: number): number { return loadU32(tpAddr(k) + R_DECISION); }
export function flagClicked(f: number): boolean { return (f & 1) !== 0; }
export function flagDevice(f: number): number { return (f >> 1) & 3; }
export function flagSlot(f: number): number { return (f >> 3) & 3; }
export function flagChannel(f: number): number { return (f >> 5) & 7; }
export function flagAdvertiser(f: number): number { return (f >> 8) & 15; }
export function flagCreative(f: number): number { return (f >> 12) & 7; }
export function segOf(u: number): number { return u8At(U_SEG, u); }
export function stageOf(u: number): number { return u8At(U_STAGE, u); }

// match confidence is stored quantised to 1/255: <f32>u8 * (1.0 / 255.0), all in f32
const INV_255_F32 = Math.fround(1.0 / 255.0);
export function confOf(u: number, d: number): number {
  return Math.fround(loadU8(userAddr(u) + U_CONF + d) * INV_255_F32);
}
// v is an f32: <u8>(<i32>(v * 255.0 + 0.5)) with the arithmetic in f32
export function setConf(u: number, d: number, v: number): void {
  storeU8(userAddr(u) + U_CONF + d, truncSatI32(Math.fround(Math.fround(v * 255.0) + 0.5)));
}
export function exposuresOf(u: number, c: number): number {
  return loadU8(userAddr(u) + U_CR_EXPO + c);
}
export function bumpExposure(u: number, c: number): void {
  const p = userAddr(u) + U_CR_EXPO + c;
  const v = loadU8(p);
  if (v < 255) storeU8(p, v + 1);
}
export function ringIndex(u: number, k: number): number {
  return u * RING + k;
}
