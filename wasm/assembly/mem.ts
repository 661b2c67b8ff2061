// World memory layout, computed once by configure() from the params. All worlds share one shape,
// so array offsets are the same relative to each world's base: a world is relocatable bytes.
import {
  HEADER_BYTES, MAX_CREATIVES, MAX_DEVICES, OBS_DIM, INFO_DIM, PARAMS_F64,
  P_NUM_WORLDS, P_NUM_USERS, P_NUM_RIVALS, P_NUM_CREATIVES, P_RING_SIZE,
} from "../layout";
import { PARAMS, prmI } from "./params";

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

// per-user arrays (offsets relative to a world's base)
export let U_SEG: usize = 0; // u8 true segment
export let U_OBS_SEG: usize = 0; // u8 segment as inferred by the ad platform
export let U_STAGE: usize = 0; // u8 funnel stage
export let U_NDEV: usize = 0; // u8 device count 1..3
export let U_MATCHED: usize = 0; // u8 bitmask of devices linked in the identity graph
export let U_RING_HEAD: usize = 0; // u8 next ring slot
export let U_RING_COUNT: usize = 0; // u8 touchpoints in ring
export let U_ATTENTION: usize = 0; // f32 latent attention 0..1
export let U_PRICE_SENS: usize = 0; // f32 price sensitivity 0..1
export let U_URGENCY0: usize = 0; // f32 baseline urgency 0..1
export let U_FATIGUE: usize = 0; // f32 ad fatigue at U_FATIGUE_HOUR
export let U_CONF: usize = 0; // f32 [MAX_DEVICES] match confidence per device
export let U_CRISIS_HOUR: usize = 0; // i32 hour of the last crisis event (-1 none)
export let U_FATIGUE_HOUR: usize = 0; // i32
export let U_JSTART: usize = 0; // i32 first touch of the current journey (-1 none)
export let U_LAST_TOUCH: usize = 0; // i32
export let U_NEXT_EVENT: usize = 0; // i32 earliest hour something is due for this user
export let U_CONV_CHECK: usize = 0; // i32 hour of the next conversion check (-1 none)
export let U_REENTRY: usize = 0; // i32 hour a converted/lost user re-enters the market
export let U_TOUCHES: usize = 0; // i32 touchpoints in the current journey (all advertisers)
export let U_CR_EXPO: usize = 0; // u8 [MAX_CREATIVES] exposures to each of our creatives
// touchpoint ring, [NU * RING]
export let R_HOUR: usize = 0; // i32
export let R_COST: usize = 0; // f32 dollars
export let R_DECISION: usize = 0; // u32 our decision id (advertiser 0 only)
export let R_CHANNEL: usize = 0; // u8
export let R_ADV: usize = 0; // u8 advertiser (0 = us)
export let R_CREATIVE: usize = 0; // u8
export let R_FLAGS: usize = 0; // u8 bit0 clicked, bits 1-2 device, bits 3-4 slot

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

  cursor = align16(PARAMS + (<usize>PARAMS_F64 << 3));
  IO_OBS = take(nw * OBS_DIM * 4);
  IO_BID = take(nw * 4);
  IO_CREATIVE = take(nw * 4);
  IO_REWARD = take(nw * 4);
  IO_TERMINATED = take(nw);
  IO_TRUNCATED = take(nw);
  IO_INFO = take(nw * INFO_DIM * 8);
  WORLDS_BASE = cursor;

  cursor = align16(<usize>HEADER_BYTES);
  U_SEG = take(nu);
  U_OBS_SEG = take(nu);
  U_STAGE = take(nu);
  U_NDEV = take(nu);
  U_MATCHED = take(nu);
  U_RING_HEAD = take(nu);
  U_RING_COUNT = take(nu);
  U_ATTENTION = take(nu * 4);
  U_PRICE_SENS = take(nu * 4);
  U_URGENCY0 = take(nu * 4);
  U_FATIGUE = take(nu * 4);
  U_CONF = take(nu * MAX_DEVICES * 4);
  U_CRISIS_HOUR = take(nu * 4);
  U_FATIGUE_HOUR = take(nu * 4);
  U_JSTART = take(nu * 4);
  U_LAST_TOUCH = take(nu * 4);
  U_NEXT_EVENT = take(nu * 4);
  U_CONV_CHECK = take(nu * 4);
  U_REENTRY = take(nu * 4);
  U_TOUCHES = take(nu * 4);
  U_CR_EXPO = take(nu * MAX_CREATIVES);
  const nr = nu * <usize>RING;
  R_HOUR = take(nr * 4);
  R_COST = take(nr * 4);
  R_DECISION = take(nr * 4);
  R_CHANNEL = take(nr);
  R_ADV = take(nr);
  R_CREATIVE = take(nr);
  R_FLAGS = take(nr);
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
