// Exports of the gaelp world core. Everything is plain numbers and pointers into linear memory;
// wasm/loader.ts wraps them in typed-array views.
import { PARAMS_F64, MAX_SLOTS } from "../layout";
import { allocate } from "./auction";
import { setParamsPtr } from "./params";
import { rngSeed, uniform } from "./rng";
import {
  computeLayout, NW, WORLD_STRIDE, MEMORY_END, IO_OBS, IO_BID, IO_CREATIVE, IO_REWARD,
  IO_TERMINATED, IO_TRUNCATED, IO_INFO,
} from "./mem";
import { buildTables } from "./tables";
export { resetWorld, stepWorlds, checkWorld, reemitWorld, worldPtr } from "./world";
import { stalled } from "./world";
/** 1 when a world went MAX_IDLE_HOURS without an auction our campaign could bid in. */
export function isStalled(): i32 { return stalled; }

const PARAMS_BASE: usize = (__heap_base + 15) & ~15;
setParamsPtr(PARAMS_BASE);

let scratchBase: usize = 0; // set by configure (after the worlds); before that, right after params
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
  return PARAMS_BASE;
}

let configured = false;

export function memoryEnd(): usize {
  return configured ? MEMORY_END : PARAMS_BASE + (<usize>PARAMS_F64 << 3);
}

// Reads the params block, lays out the io buffers and NW worlds, grows memory to fit.
// Returns the number of bytes of one world.
export function configure(): i32 {
  computeLayout();
  buildTables();
  ensureMemory(MEMORY_END);
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
  if (scratchBase == 0) scratchBase = (memoryEnd() + 15) & ~15;
  if (<usize>bytes > scratchCap) {
    ensureMemory(scratchBase + <usize>bytes);
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
  const bids = base;
  const quality = base + (<usize>n << 2);
  const winners = quality + (<usize>n << 2);
  const prices = winners + (MAX_SLOTS << 2);
  for (let i = 0; i < n; i++) store<f32>(quality + (<usize>i << 2), 1.0);
  rngSeed(seed, 0x5eed);
  let sum: f64 = 0;
  for (let a = 0; a < count; a++) {
    for (let i = 0; i < n; i++) store<f32>(bids + (<usize>i << 2), <f32>uniform());
    const f = allocate(bids, quality, n, mechanism, slots, 0.05, false, winners, prices);
    for (let k = 0; k < f; k++) sum += <f64>load<f32>(prices + (<usize>k << 2));
  }
  return sum;
}
