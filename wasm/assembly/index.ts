// Exports of the gaelp world core. Everything is plain numbers and pointers into linear memory;
// wasm/loader.ts wraps them in typed-array views.
import { MAX_SLOTS } from "../layout";
import { allocate } from "./auction";
import { PARAMS } from "./params";
import { benchAuctionsWith } from "./benchrng";
import {
  computeLayout, NW, WORLD_STRIDE, MEMORY_END, IO_OBS, IO_BID, IO_CREATIVE, IO_REWARD,
  IO_TERMINATED, IO_TRUNCATED, IO_INFO,
} from "./mem";
import { buildTables } from "./tables";
export { resetWorld, stepWorlds, checkWorld, reemitWorld, applySettings, worldPtr, rolloutWorld, clearStalled } from "./world";
export { policyLevelsPtr, policyOutputWidth, policyLoad, policyForward, policyDecideGreedy } from "./policy";
export { expReserve, expClear, expColumnPtr, expLatePtr } from "./experience";
import { ROWS, LATE_N } from "./experience";
import { policySetup as setupPolicy, CANON, CANON_LEN } from "./policy";
import { heapReset, heapAlloc, heapTop } from "./heap";
export function expRows(): i32 { return ROWS; }
export function expLateCount(): i32 { return LATE_N; }
export function policyCanonicalPtr(): usize { return CANON; }
export function policyCanonicalLength(): i32 { return CANON_LEN; }

/** Declares the policy architecture (after configure); returns the canonical length, 0 when invalid. */
export function policySetup(layers: i32, h0: i32, h1: i32, h2: i32, h3: i32, act: i32, bidLevels: i32, creatives: i32, obsClip: f32): i32 {
  const base = heapTop();
  const end = setupPolicy(base, layers, h0, h1, h2, h3, act, bidLevels, creatives, obsClip);
  if (end == 0) return 0;
  heapAlloc(end - base);
  return CANON_LEN;
}
import { stalled } from "./world";
/** 1 when a world went MAX_IDLE_HOURS without an auction our campaign could bid in. */
export function isStalled(): i32 { return stalled; }

let scratchBase: usize = 0; // set by configure (after the worlds); before that, right after the static data (params included)
let scratchCap: usize = 0;

@inline function pagesFor(end: usize): i32 {
  return <i32>((end + 0xffff) >> 16);
}

export function ensureMemory(end: usize): void {
  const have = memory.size();
  const need = pagesFor(end);
  if (need > have) {
    if (memory.grow(need - have) < 0) unreachable();
  }
}

export function paramsPtr(): usize {
  return PARAMS;
}

let configured = false;

export function memoryEnd(): usize {
  return configured ? heapTop() : (__heap_base + 15) & ~15;
}

// Reads the params block, lays out the io buffers and NW worlds, grows memory to fit.
// Returns the number of bytes of one world.
export function configure(): i32 {
  computeLayout();
  buildTables();
  ensureMemory(MEMORY_END);
  heapReset(MEMORY_END);
  configured = true;
  scratchBase = 0;
  scratchCap = 0;
  return <i32>WORLD_STRIDE;
}

export function numWorlds(): i32 { return NW; }
export function worldBytes(): i32 { return <i32>WORLD_STRIDE; }
export function obsPtr(): usize { return IO_OBS; }
export function bidPtr(): usize { return IO_BID; }
export function creativePtr(): usize { return IO_CREATIVE; }
export function rewardPtr(): usize { return IO_REWARD; }
export function terminatedPtr(): usize { return IO_TERMINATED; }
export function truncatedPtr(): usize { return IO_TRUNCATED; }
export function infoPtr(): usize { return IO_INFO; }

// A scratch region of at least `bytes` bytes after everything else; growing memory detaches the
// caller's views, so callers re-read views after calling this.
export function scratch(bytes: i32): usize {
  if (!configured) {
    if (scratchBase == 0) scratchBase = (memoryEnd() + 15) & ~15;
    if (<usize>bytes > scratchCap) {
      ensureMemory(scratchBase + <usize>bytes);
      scratchCap = <usize>bytes;
    }
    return scratchBase;
  }
  if (scratchBase == 0 || <usize>bytes > scratchCap) {
    scratchBase = heapAlloc(<usize>bytes);
    scratchCap = <usize>bytes;
  }
  return scratchBase;
}

// Runs `count` independent auctions of `n` bidders. bids and quality: count*n f32;
// winners: count*MAX_SLOTS i32; prices: count*MAX_SLOTS f32; filled: count i32.
export function auctionBatch(
  count: i32,
  n: i32,
  bids: usize,
  quality: usize,
  mechanism: i32,
  slots: i32,
  reserve: f32,
  qualityWeighted: i32,
  winners: usize,
  prices: usize,
  filled: usize,
): void {
  const rowBytes = <usize>n << 2;
  for (let i = 0; i < count; i++) {
    const off = <usize>i;
    const f = allocate(
      bids + off * rowBytes,
      quality + off * rowBytes,
      n,
      mechanism,
      slots,
      reserve,
      qualityWeighted != 0,
      winners + off * (MAX_SLOTS << 2),
      prices + off * (MAX_SLOTS << 2),
    );
    store<i32>(filled + (off << 2), f);
  }
}

// Raw kernel throughput: `count` auctions of `n` uniform random bids (quality 1) generated in
// place; returns the sum of prices so the work cannot be optimised away.
export function benchAuctions(count: i32, n: i32, mechanism: i32, slots: i32, seed: u32): f64 {
  const base = scratch((n << 3) + (MAX_SLOTS << 3));
  return benchAuctionsWith(base, count, n, mechanism, slots, seed);
}

// ---- inspection (tests and tools; not on the hot path) -----------------------------------------
import { attribute, orderTouchpoints, slotAt, CREDIT } from "./attribution";
import { setWorldBase, ringIndex, u8At, i32At, wb, tpFlags, tpHour, tpDecision, flagAdvertiser, flagChannel, flagClicked, flagCreative, flagDevice, flagSlot } from "./state";
import { worldPtr } from "./world";
import {
  U_SEG, U_STAGE, U_JSTART, U_TOUCHES, U_RING_COUNT, U_LAST_TOUCH, U_NDEV, U_MATCHED,
} from "./mem";

/** Credits of user u's touchpoints under `model` for a conversion at `hour`; returns how many. */
export function attributeUser(w: i32, u: i32, model: i32, hour: i32): i32 {
  setWorldBase(worldPtr(w));
  const n = orderTouchpoints(u);
  attribute(u, n, model, hour);
  return n;
}

export function creditPtr(): usize {
  return CREDIT;
}

/** Field of user u's i-th touchpoint in time order (call attributeUser or touchpointCount first):
 *  0 hour, 1 advertiser, 2 channel, 3 clicked, 5 decision id, 6 creative, 7 device, 8 slot. */
export function touchpoint(w: i32, u: i32, i: i32, field: i32): f64 {
  setWorldBase(worldPtr(w));
  orderTouchpoints(u);
  const k = ringIndex(u, slotAt(i));
  const flags = tpFlags(k);
  switch (field) {
    case 0: return <f64>tpHour(u, k);
    case 1: return <f64>flagAdvertiser(flags);
    case 2: return <f64>flagChannel(flags);
    case 3: return flagClicked(flags) ? 1 : 0;
    case 5: return <f64>tpDecision(k);
    case 6: return <f64>flagCreative(flags);
    case 7: return <f64>flagDevice(flags);
    default: return <f64>flagSlot(flags);
  }
}

/** 0 segment, 1 stage, 2 journey start hour, 3 journey touches, 4 touchpoints in ring,
 *  5 last touch hour, 6 devices, 7 linked-device mask. */
export function userField(w: i32, u: i32, field: i32): f64 {
  setWorldBase(worldPtr(w));
  switch (field) {
    case 0: return <f64>u8At(U_SEG, u);
    case 1: return <f64>u8At(U_STAGE, u);
    case 2: return <f64>i32At(U_JSTART, u);
    case 3: return <f64>i32At(U_TOUCHES, u);
    case 4: return <f64>u8At(U_RING_COUNT, u);
    case 5: return <f64>i32At(U_LAST_TOUCH, u);
    case 6: return <f64>u8At(U_NDEV, u);
    default: return <f64>u8At(U_MATCHED, u);
  }
}

import { NU as NUSERS, SEG_USERS, USER_POS } from "./mem";
import { segCount, segUser } from "./state";
import { NUM_SEGMENTS, H_SEG_START } from "../layout";
/** 0 when world w's segment partition is consistent (every user once, in its own segment's range,
 *  positions matching); otherwise a code naming the first violation. */
export function checkSegmentLists(w: i32): i32 {
  setWorldBase(worldPtr(w));
  let expectStart = 0;
  let total = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) {
    const start = load<i32>(wb + H_SEG_START + (<usize>s << 2));
    if (start != expectStart) return 1;
    const n = segCount(s);
    for (let i = 0; i < n; i++) {
      const u = segUser(s, i);
      if (u < 0 || u >= NUSERS) return 2;
      if (u8At(U_SEG, u) != s) return 3;
      if (load<i32>(wb + USER_POS + (<usize>u << 2)) != start + i) return 4;
    }
    expectStart += n;
    total += n;
  }
  return total == NUSERS ? 0 : 5;
}
