// World memory layout, computed once by configure() from the params. All worlds share one shape,
// so array offsets are the same relative to each world's base: a world is relocatable bytes.
import {
  HEADER_BYTES, OBS_DIM, INFO_DIM, PARAMS_F64,
  P_NUM_WORLDS, P_NUM_USERS, P_NUM_RIVALS, P_NUM_CREATIVES, P_RING_SIZE,
} from "../../layout.js";
import { PARAMS, prmI } from "./params.js";

// shape
export let NW = 0; // worlds
export let NU = 0; // users per world
export let NR = 0; // rivals
export let NB = 0; // bidders = rivals + us
export let NC = 0; // our creatives
export let RING = 0; // touchpoints kept per user

// io buffers (absolute)
export let IO_OBS = 0; // f32 [NW * OBS_DIM]
export let IO_BID = 0; // f32 [NW]
export let IO_CREATIVE = 0; // i32 [NW]
export let IO_REWARD = 0; // f32 [NW]
export let IO_TERMINATED = 0; // u8 [NW]
export let IO_TRUNCATED = 0; // u8 [NW]
export let IO_INFO = 0; // f64 [NW * INFO_DIM]

export let WORLDS_BASE = 0;
export let WORLD_STRIDE = 0;
export let MEMORY_END = 0;

// Users are 64-byte records; our per-device touch counters are a separate 32-byte record per user
// (DEVS); the next-event hour is its own array (the hourly scan); touchpoints are 8-byte records,
// RING per user, contiguous. (Layout rationale: wasm/assembly/mem.ts.)
export let USERS = 0; // [NU * USER_BYTES]
export let NEXT_EVENTS = 0; // i32 [NU] earliest hour something is due for each user
export let ACT_CLASS = 0; // u8 [NU] segment while in the market, OUT_OF_MARKET otherwise
export const OUT_OF_MARKET = 255;
export let BLOCK_MIN = 0; // i32 [ceil(NU / EVENT_BLOCK)] lower bound of NEXT_EVENTS in each block of users
export const EVENT_BLOCK_SHIFT = 6;
export const EVENT_BLOCK = 1 << EVENT_BLOCK_SHIFT;
export let SEG_USERS = 0; // i32 [NU] users partitioned by segment (H_SEG_START, H_SEG_COUNT)
export let DEVS = 0; // [NU * DEV_STRIDE] our touch history per user and device
export let USER_POS = 0; // i32 [NU] a user's position in its segment's list
export let NBLOCKS = 0;
export let RINGS = 0; // [NU * RING * TP_BYTES]
export const USER_BYTES = 64;
export const DEV_STRIDE = 32;
export const TP_BYTES = 8;
// user record fields (byte offsets)
export const U_SEG = 0; // u8 true segment
export const U_OBS_SEG = 1; // u8 segment as inferred by the ad platform
export const U_STAGE = 2; // u8 funnel stage
export const U_NDEV = 3; // u8 device count 1..3
export const U_MATCHED = 4; // u8 bitmask of devices linked in the identity graph
export const U_RING_HEAD = 5; // u8 next ring slot
export const U_RING_COUNT = 6; // u8 touchpoints in ring
export const U_RIVAL_TOUCHES = 7; // u8 rival impressions in this journey
export const U_CR_EXPO = 8; // u8 [MAX_CREATIVES] exposures to each of our creatives
export const U_ATTENTION = 16; // f32 latent attention 0..1
export const U_PRICE_SENS = 20; // f32 price sensitivity 0..1
export const U_URGENCY0 = 24; // f32 baseline urgency 0..1
export const U_FATIGUE = 28; // f32 ad fatigue at U_FATIGUE_HOUR
export const U_CRISIS_HOUR = 32; // i32 hour of the last crisis event (-1 none)
export const U_FATIGUE_HOUR = 36; // i32
export const U_JSTART = 40; // i32 first touch of the current journey (-1 none)
export const U_LAST_TOUCH = 44; // i32
export const U_CONV_CHECK = 48; // i32 hour of the next conversion check (-1 none)
export const U_REENTRY = 52; // i32 hour a converted/lost user re-enters the market
export const U_TOUCHES = 56; // i32 touchpoints in the current journey (all advertisers)
export const U_CONF = 60; // u8 [MAX_DEVICES] identity match confidence per device, x255
// Our touch history per device d (DEV_BYTES each in the user's DEVS record).
export const DEV_BYTES = 8;
export const D_OUR_TOUCHES = 0; // u8
export const D_OUR_CLICKS = 1; // u8
export const D_CHANNELS = 3; // u8 bitmask of channels of our touches; bit 7: our last touch clicked
export const D_FIRST_OUR = 4; // u16 hours from the journey start to our first touch (NO_TOUCH none)
export const D_LAST_OUR = 6; // u16 hours from the journey start to our last touch (NO_TOUCH none)
export const NO_TOUCH = 0xffff;
// touchpoint record fields
export const R_DECISION = 0; // u32 our decision id (advertiser 0 only)
export const R_HOUR = 4; // u16 hours since the journey's first touch (U_JSTART)
export const R_FLAGS = 6; // u16 bit 0 clicked, 1-2 device, 3-4 slot, 5-7 channel, 8-11 advertiser, 12-14 creative

function align16(x: number): number {
  return (x + 15) & ~15;
}

let cursor = 0;
function take(bytes: number): number {
  const at = cursor;
  cursor = align16(cursor + bytes);
  return at;
}

export function computeLayout(): void {
  NW = prmI(P_NUM_WORLDS);
  NU = prmI(P_NUM_USERS);
  NR = prmI(P_NUM_RIVALS);
  NB = NR + 1;
  NC = prmI(P_NUM_CREATIVES);
  RING = prmI(P_RING_SIZE);
  const nw = NW;
  const nu = NU;

  cursor = align16(PARAMS + (PARAMS_F64 << 3));
  IO_OBS = take(nw * OBS_DIM * 4);
  IO_BID = take(nw * 4);
  IO_CREATIVE = take(nw * 4);
  IO_REWARD = take(nw * 4);
  IO_TERMINATED = take(nw);
  IO_TRUNCATED = take(nw);
  IO_INFO = take(nw * INFO_DIM * 8);
  WORLDS_BASE = cursor;

  cursor = align16(HEADER_BYTES);
  cursor = (cursor + 63) & ~63;
  USERS = take(nu * USER_BYTES);
  NEXT_EVENTS = take(nu * 4);
  ACT_CLASS = take(nu);
  NBLOCKS = (NU + EVENT_BLOCK - 1) >> EVENT_BLOCK_SHIFT;
  BLOCK_MIN = take(NBLOCKS * 4);
  SEG_USERS = take(nu * 4);
  DEVS = take(nu * DEV_STRIDE);
  USER_POS = take(nu * 4);
  RINGS = take(nu * RING * TP_BYTES);
  WORLD_STRIDE = cursor;
  MEMORY_END = WORLDS_BASE + WORLD_STRIDE * nw;
}

// Shape fingerprint stored in each world header: a restored world must match it.
export function shapeHash(): number {
  let h = 2166136261;
  h = Math.imul(h ^ NU, 16777619) >>> 0;
  h = Math.imul(h ^ RING, 16777619) >>> 0;
  h = Math.imul(h ^ NR, 16777619) >>> 0;
  h = Math.imul(h ^ NC, 16777619) >>> 0;
  h = Math.imul(h ^ WORLD_STRIDE, 16777619) >>> 0;
  return h;
}
