// World memory layout, computed once by configure() from the params. All worlds share one shape,
// so array offsets are the same relative to each world's base: a world is relocatable bytes.
import {
  HEADER_BYTES, OBS_DIM, INFO_DIM,
  P_NUM_WORLDS, P_NUM_USERS, P_NUM_RIVALS, P_NUM_CREATIVES, P_RING_SIZE,
} from "../layout";
import { prmI } from "./params";

// shape
export let NW: i32 = 0; // worlds
export let NU: i32 = 0; // users per world
export let NR: i32 = 0; // rivals
export let NB: i32 = 0; // bidders = rivals + us
export let NC: i32 = 0; // our creatives
export let RING: i32 = 0; // touchpoints kept per user

// io buffers (absolute)
export let IO_OBS: usize = 0; // f32 [NW * OBS_DIM]
export let IO_BID: usize = 0; // f32 [NW]
export let IO_CREATIVE: usize = 0; // i32 [NW]
export let IO_REWARD: usize = 0; // f32 [NW]
export let IO_TERMINATED: usize = 0; // u8 [NW]
export let IO_TRUNCATED: usize = 0; // u8 [NW]
export let IO_INFO: usize = 0; // f64 [NW * INFO_DIM]

export let WORLDS_BASE: usize = 0;
export let WORLD_STRIDE: usize = 0;
export let MEMORY_END: usize = 0;

// Users are 64-byte records (one cache line: an opportunity touches one user at random, so a
// struct-of-arrays layout would cost a cache miss per field). Our per-device touch counters,
// read only when we bid or win, are a separate 32-byte record per user (DEVS: 3 devices x 8 bytes, then our latest decision id + 1 as u32 for journey-end marks). The one field scanned every hour,
// the next-event hour, is its own array so the scan stays a dense SIMD sweep. Touchpoints are
// 8-byte records, RING per user, contiguous (8 x 8 = one cache line by default).
export let USERS: usize = 0; // [NU * USER_BYTES]
export let NEXT_EVENTS: usize = 0; // i32 [NU] earliest hour something is due for each user
export let ACT_CLASS: usize = 0; // u8 [NU] segment while in the market, OUT_OF_MARKET otherwise
export const OUT_OF_MARKET: i32 = 255;
export let BLOCK_MIN: usize = 0; // i32 [ceil(NU / EVENT_BLOCK)] lower bound of NEXT_EVENTS in each block of users
export const EVENT_BLOCK_SHIFT = 6;
export const EVENT_BLOCK: i32 = 1 << EVENT_BLOCK_SHIFT;
export let SEG_USERS: usize = 0; // i32 [NU] users partitioned by segment (H_SEG_START, H_SEG_COUNT)
export let DEVS: usize = 0; // [NU * DEV_STRIDE] our touch history per user and device
export let USER_POS: usize = 0; // i32 [NU] a user's position in its segment's list
export let NBLOCKS: i32 = 0;
export let RINGS: usize = 0; // [NU * RING * TP_BYTES]
export const USER_BYTES: usize = 64;
export const DEV_STRIDE: usize = 32;
export const TP_BYTES: usize = 8;
// user record fields (byte offsets)
export const U_SEG: usize = 0; // u8 true segment
export const U_OBS_SEG: usize = 1; // u8 segment as inferred by the ad platform
export const U_STAGE: usize = 2; // u8 funnel stage
export const U_NDEV: usize = 3; // u8 device count 1..3
export const U_MATCHED: usize = 4; // u8 bitmask of devices linked in the identity graph
export const U_RING_HEAD: usize = 5; // u8 next ring slot
export const U_RING_COUNT: usize = 6; // u8 touchpoints in ring
export const U_RIVAL_TOUCHES: usize = 7; // u8 rival impressions in this journey (the exchange reports frequency)
export const U_CR_EXPO: usize = 8; // u8 [MAX_CREATIVES] exposures to each of our creatives
export const U_ATTENTION: usize = 16; // f32 latent attention 0..1
export const U_PRICE_SENS: usize = 20; // f32 price sensitivity 0..1
export const U_URGENCY0: usize = 24; // f32 baseline urgency 0..1
export const U_FATIGUE: usize = 28; // f32 ad fatigue at U_FATIGUE_HOUR
export const U_CRISIS_HOUR: usize = 32; // i32 hour of the last crisis event (-1 none)
export const U_FATIGUE_HOUR: usize = 36; // i32
export const U_JSTART: usize = 40; // i32 first touch of the current journey (-1 none)
export const U_LAST_TOUCH: usize = 44; // i32
export const U_CONV_CHECK: usize = 48; // i32 hour of the next conversion check (-1 none)
export const U_REENTRY: usize = 52; // i32 hour a converted/lost user re-enters the market
export const U_TOUCHES: usize = 56; // i32 touchpoints in the current journey (all advertisers)
export const U_CONF: usize = 60; // u8 [MAX_DEVICES] identity match confidence per device, x255
// Our touch history per device d (DEV_BYTES each in the user's DEVS record): what a bidder can see of a journey
// is the sum over the devices visible from the current one. Reset with the journey.
export const DEV_BYTES: usize = 8;
export const D_OUR_TOUCHES: usize = 0; // u8
export const D_OUR_CLICKS: usize = 1; // u8
export const D_CHANNELS: usize = 3; // u8 bitmask of channels of our touches; bit 7: our last touch clicked
export const D_FIRST_OUR: usize = 4; // u16 hours from the journey start to our first touch (NO_TOUCH none)
export const D_LAST_OUR: usize = 6; // u16 hours from the journey start to our last touch (NO_TOUCH none)
export const NO_TOUCH: i32 = 0xffff;
// touchpoint record fields
export const R_DECISION: usize = 0; // u32 our decision id (advertiser 0 only)
export const R_HOUR: usize = 4; // u16 hours since the journey's first touch (U_JSTART)
export const R_FLAGS: usize = 6; // u16 bit 0 clicked, 1-2 device, 3-4 slot, 5-7 channel, 8-11 advertiser, 12-14 creative

@inline function align16(x: usize): usize {
  return (x + 15) & ~15;
}

let cursor: usize = 0;
function take(bytes: usize): usize {
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
  const nw = <usize>NW;
  const nu = <usize>NU;

  cursor = align16(__heap_base);
  IO_OBS = take(nw * OBS_DIM * 4);
  IO_BID = take(nw * 4);
  IO_CREATIVE = take(nw * 4);
  IO_REWARD = take(nw * 4);
  IO_TERMINATED = take(nw);
  IO_TRUNCATED = take(nw);
  IO_INFO = take(nw * INFO_DIM * 8);
  WORLDS_BASE = cursor;

  cursor = align16(<usize>HEADER_BYTES);
  cursor = (cursor + 63) & ~63;
  USERS = take(nu * USER_BYTES);
  NEXT_EVENTS = take(nu * 4);
  ACT_CLASS = take(nu);
  NBLOCKS = (NU + EVENT_BLOCK - 1) >> EVENT_BLOCK_SHIFT;
  BLOCK_MIN = take(<usize>NBLOCKS * 4);
  SEG_USERS = take(nu * 4);
  DEVS = take(nu * DEV_STRIDE);
  USER_POS = take(nu * 4);
  RINGS = take(nu * <usize>RING * TP_BYTES);
  WORLD_STRIDE = cursor;
  MEMORY_END = WORLDS_BASE + WORLD_STRIDE * nw;
}

// Shape fingerprint stored in each world header: a restored world must match it.
export function shapeHash(): u32 {
  let h: u32 = 2166136261;
  h = (h ^ <u32>NU) * 16777619;
  h = (h ^ <u32>RING) * 16777619;
  h = (h ^ <u32>NR) * 16777619;
  h = (h ^ <u32>NC) * 16777619;
  h = (h ^ <u32>WORLD_STRIDE) * 16777619;
  return h;
}
