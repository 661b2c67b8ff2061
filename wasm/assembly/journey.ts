// Journeys: UNAWARE -> AWARE -> CONSIDERING -> INTENT -> CONVERTED, or LOST after a timeout with
// no touch. A journey starts at its first impression; a conversion check is scheduled from the
// intent-delay distribution (calibrated quantile knots) and its outcome depends on the stage
// reached, urgency and price sensitivity. Touchpoints live in a bounded ring per user.
import {
  STAGE_UNAWARE, STAGE_AWARE, STAGE_CONSIDERING, STAGE_INTENT, STAGE_CONVERTED, STAGE_LOST,
  DELAY_KNOTS, P_DELAY_Q, P_DELAY_DAYS, P_CONVERSION_WINDOW_DAYS,
  P_CONV_PROB_BY_STAGE, P_RECHECK_PROB, P_REENTRY_DAYS_CONVERTED, P_REENTRY_DAYS_LOST,
  P_CLICK_ADVANCE_PROB, P_IMPRESSION_ADVANCE_PROB, P_CHANNELS, CH_STRIDE, CHF_INTENT_LIFT,
  SEGF_CONV_MULT, SEGF_DELAY_SCALE, SEGF_CRISIS_PRONE, CRISIS_SEGMENT, P_URGENCY_CONV_GAIN,
  P_URGENCY_DELAY_CUT, P_CRISIS_RATE_PER_USER_DAY, S_LOST_JOURNEYS, S_CRISIS_EVENTS, MAX_CREATIVES,
  MAX_DEVICES,
} from "../layout";
import { LATE_CONVERTED, LATE_LOST } from "../layout";
import { expJourneyEnd } from "./experience";
import {
  NU, RING, NEXT_EVENTS, BLOCK_MIN, NBLOCKS, EVENT_BLOCK, EVENT_BLOCK_SHIFT, U_STAGE, U_JSTART, U_LAST_TOUCH, U_CONV_CHECK, U_REENTRY, U_TOUCHES,
  U_RING_HEAD, U_RING_COUNT, U_ATTENTION, U_PRICE_SENS, U_CRISIS_HOUR, U_SEG, U_CR_EXPO,
  R_HOUR, R_DECISION, R_FLAGS, DEV_BYTES,
  D_OUR_TOUCHES, D_OUR_CLICKS, D_CHANNELS, D_FIRST_OUR, D_LAST_OUR, U_RIVAL_TOUCHES, NO_TOUCH,
} from "./mem";
import { prm } from "./params";
import { uniform, below, poisson } from "./rng";
import { segParam, journeyTimeoutHours } from "./tables";
import { wb, setU8, i32At, setI32, f32At, stageOf, segOf, ringIndex, tpAddrAt, userAddr, userAddrAt, setNextEvent, refreshClass, segMove, devAddr, devAddrAt, stat } from "./state";
import { OPP_EXPF } from "./market";
import { NEVER, urgencyAt } from "./users";
import { convert } from "./conversion";

// Intent delay in hours: inverse CDF through the quantile knots, scaled by segment and urgency.
export function sampleDelayHours(u: i32, hour: i32): i32 {
  const q = uniform();
  let days = prm(P_DELAY_DAYS + DELAY_KNOTS - 1);
  for (let i = 0; i < DELAY_KNOTS - 1; i++) {
    const q1 = prm(P_DELAY_Q + i + 1);
    if (q < q1) {
      const q0 = prm(P_DELAY_Q + i);
      const d0 = prm(P_DELAY_DAYS + i);
      const d1 = prm(P_DELAY_DAYS + i + 1);
      days = q1 > q0 ? d0 + (d1 - d0) * (q - q0) / (q1 - q0) : d1;
      break;
    }
  }
  days *= segParam(segOf(u), SEGF_DELAY_SCALE) * (1.0 - prm(P_URGENCY_DELAY_CUT) * urgencyAt(u, hour));
  const h = <i32>(days * 24.0 + 0.5);
  return h < 1 ? 1 : h;
}

@inline function windowEnd(u: i32): i32 {
  return i32At(U_JSTART, u) + <i32>(prm(P_CONVERSION_WINDOW_DAYS) * 24.0);
}

export function scheduleNext(u: i32): void {
  const ua = userAddr(u);
  const stage = <i32>load<u8>(ua, U_STAGE);
  let next = NEVER;
  if (stage >= STAGE_CONVERTED) {
    next = load<i32>(ua, U_REENTRY);
  } else if (stage != STAGE_UNAWARE) {
    next = load<i32>(ua, U_LAST_TOUCH) + journeyTimeoutHours();
    const cc = load<i32>(ua, U_CONV_CHECK);
    if (cc >= 0 && cc < next) next = cc;
  }
  setNextEvent(u, next);
}

function scheduleCheck(u: i32, at: i32): void {
  setI32(U_CONV_CHECK, u, at < windowEnd(u) ? at : -1);
}

function startJourney(u: i32, hour: i32): void {
  setU8(U_STAGE, u, STAGE_AWARE);
  setI32(U_JSTART, u, hour);
  scheduleCheck(u, hour + sampleDelayHours(u, hour));
}

export function recordTouch(
  u: i32, hour: i32, adv: i32, channel: i32, creative: i32, device: i32, slot: i32,
  clicked: bool, decision: u32,
): void {
  // the world base and the user's record through locals, read with constant offsets (the
  // accessors' global bases cost V8 a reload at every use)
  const b = wb;
  const ua = userAddrAt(b, u);
  const head = <i32>load<u8>(ua, U_RING_HEAD);
  // hours are kept relative to the journey's first touch; this touch starts the journey when the
  // user is still unaware (onImpression sets U_JSTART to this hour right after)
  const start = <i32>load<u8>(ua, U_STAGE) == STAGE_UNAWARE ? hour : load<i32>(ua, U_JSTART);
  let delta = hour - start;
  if (delta > 65534) delta = 65534; // 65535 marks 'no touch' in the device counters
  const p = tpAddrAt(b, ringIndex(u, head));
  store<u32>(p, decision, R_DECISION);
  store<u16>(p, <u16>delta, R_HOUR);
  store<u16>(p, <u16>((clicked ? 1 : 0) | (device << 1) | (slot << 3) | (channel << 5) | (adv << 8) | (creative << 12)), R_FLAGS);
  store<u8>(ua, <u8>(head + 1 == RING ? 0 : head + 1), U_RING_HEAD);
  if (adv == 0) {
    const dv = devAddrAt(b, u) + <usize>device * DEV_BYTES;
    const n = load<u8>(dv, D_OUR_TOUCHES);
    if (n < 255) store<u8>(dv, n + 1, D_OUR_TOUCHES);
    if (clicked) {
      const c = load<u8>(dv, D_OUR_CLICKS);
      if (c < 255) store<u8>(dv, c + 1, D_OUR_CLICKS);
    }
    store<u8>(dv, <u8>((<i32>load<u8>(dv, D_CHANNELS) & 31) | (1 << channel) | (clicked ? 128 : 0)), D_CHANNELS);
    if (<i32>load<u16>(dv, D_FIRST_OUR) == NO_TOUCH) store<u16>(dv, <u16>delta, D_FIRST_OUR);
    store<u16>(dv, <u16>delta, D_LAST_OUR);
  } else {
    const r = load<u8>(ua, U_RIVAL_TOUCHES);
    if (r < 255) store<u8>(ua, r + 1, U_RIVAL_TOUCHES);
  }
  const count = <i32>load<u8>(ua, U_RING_COUNT);
  if (count < RING) store<u8>(ua, <u8>(count + 1), U_RING_COUNT);
  store<i32>(ua, load<i32>(ua, U_TOUCHES) + 1, U_TOUCHES);
}

// Stage transitions after an impression (and its click, if any) on channel `ch`. The caller
// reschedules the user's next event (scheduleNext) once the page's ads are all shown.
export function onImpression(u: i32, hour: i32, ch: i32, clicked: bool): void {
  const ua = userAddr(u); // one read of the world base (V8 reloads the global at every use)
  let stage = <i32>load<u8>(ua, U_STAGE);
  if (stage == STAGE_UNAWARE) {
    startJourney(u, hour);
    stage = STAGE_AWARE;
  } else if (stage < STAGE_INTENT) {
    const lift = prm(P_CHANNELS + ch * CH_STRIDE + CHF_INTENT_LIFT);
    const p = prm(P_IMPRESSION_ADVANCE_PROB) * lift * <f64>load<f32>(ua, U_ATTENTION) * OPP_EXPF;
    if (uniform() < p) stage++;
  }
  if (clicked && stage < STAGE_INTENT) {
    const lift = prm(P_CHANNELS + ch * CH_STRIDE + CHF_INTENT_LIFT);
    if (uniform() < prm(P_CLICK_ADVANCE_PROB) * lift) stage++;
  }
  store<u8>(ua, <u8>stage, U_STAGE);
  store<i32>(ua, hour, U_LAST_TOUCH);
}

export function clearDeviceHistory(u: i32): void {
  const base = devAddr(u);
  memory.fill(base, 0, <usize>MAX_DEVICES * DEV_BYTES);
  for (let d = 0; d < MAX_DEVICES; d++) {
    store<u16>(base + <usize>d * DEV_BYTES + D_FIRST_OUR, <u16>NO_TOUCH);
    store<u16>(base + <usize>d * DEV_BYTES + D_LAST_OUR, <u16>NO_TOUCH);
  }
}

function reenter(u: i32): void {
  setU8(U_STAGE, u, STAGE_UNAWARE);
  setI32(U_JSTART, u, -1);
  setI32(U_CONV_CHECK, u, -1);
  setI32(U_REENTRY, u, -1);
  setI32(U_TOUCHES, u, 0);
  setU8(U_RING_COUNT, u, 0);
  setU8(U_RING_HEAD, u, 0);
  // a new journey starts with fresh creative wear-out
  memory.fill(userAddr(u) + U_CR_EXPO, 0, MAX_CREATIVES);
  clearDeviceHistory(u);
  setU8(U_RIVAL_TOUCHES, u, 0);
  refreshClass(u);
}

function checkConversion(u: i32, hour: i32): void {
  const stage = stageOf(u);
  const urgency = urgencyAt(u, hour);
  let p = prm(P_CONV_PROB_BY_STAGE + stage) * segParam(segOf(u), SEGF_CONV_MULT);
  p *= (1.0 + prm(P_URGENCY_CONV_GAIN) * urgency) * (1.2 - 0.4 * <f64>f32At(U_PRICE_SENS, u));
  if (uniform() < p) {
    convert(u, hour);
    expJourneyEnd(u, LATE_CONVERTED);
    setU8(U_STAGE, u, STAGE_CONVERTED);
    setI32(U_CONV_CHECK, u, -1);
    setI32(U_REENTRY, u, hour + <i32>(prm(P_REENTRY_DAYS_CONVERTED) * 24.0));
    refreshClass(u);
    return;
  }
  // Not yet: users who are at least considering may decide again later within the window.
  if (stage >= STAGE_CONSIDERING && uniform() < prm(P_RECHECK_PROB)) {
    scheduleCheck(u, hour + (sampleDelayHours(u, hour) >> 1) + 1);
  } else {
    setI32(U_CONV_CHECK, u, -1);
  }
}

function lose(u: i32, hour: i32): void {
  setU8(U_STAGE, u, STAGE_LOST);
  setI32(U_CONV_CHECK, u, -1);
  setI32(U_REENTRY, u, hour + <i32>(prm(P_REENTRY_DAYS_LOST) * 24.0));
  refreshClass(u);
  stat(S_LOST_JOURNEYS, 1);
  expJourneyEnd(u, LATE_LOST);
}

function processUser(u: i32, hour: i32): void {
  const stage = stageOf(u);
  if (stage >= STAGE_CONVERTED) {
    if (i32At(U_REENTRY, u) <= hour) reenter(u);
  } else if (stage != STAGE_UNAWARE) {
    const cc = i32At(U_CONV_CHECK, u);
    if (cc >= 0 && cc <= hour) checkConversion(u, hour);
    if (stageOf(u) < STAGE_CONVERTED &&
        i32At(U_LAST_TOUCH, u) + journeyTimeoutHours() <= hour) {
      lose(u, hour);
    }
  }
  scheduleNext(u);
}

// Everything due this hour: conversion checks, timeouts, re-entries. Blocks of EVENT_BLOCK users
// whose lower bound is in the future are skipped; a due block is swept sixteen users at a time in one
// pass that processes the due ones and recomputes the block's bound.
export function processUserEvents(hour: i32): void {
  const base = wb + NEXT_EVENTS;
  const limit = i32x4.splat(hour + 1);
  for (let b = 0; b < NBLOCKS; b++) {
    const bm = wb + BLOCK_MIN + (<usize>b << 2);
    if (load<i32>(bm) > hour) continue;
    const from = b << EVENT_BLOCK_SHIFT;
    const to = from + EVENT_BLOCK < NU ? from + EVENT_BLOCK : NU;
    let mv = i32x4.splat(NEVER);
    let u = from;
    // sixteen users a test: most groups have nobody due (the same users, in the same order, are
    // processed as four at a time would)
    for (; u + 16 <= to; u += 16) {
      const p = base + (<usize>u << 2);
      let v0 = v128.load(p);
      let v1 = v128.load(p, 16);
      let v2 = v128.load(p, 32);
      let v3 = v128.load(p, 48);
      const due = v128.or(v128.or(i32x4.lt_s(v0, limit), i32x4.lt_s(v1, limit)), v128.or(i32x4.lt_s(v2, limit), i32x4.lt_s(v3, limit)));
      if (v128.any_true(due)) {
        for (let j = 0; j < 16; j++) {
          if (load<i32>(p + (<usize>j << 2)) <= hour) processUser(u + j, hour);
        }
        v0 = v128.load(p);
        v1 = v128.load(p, 16);
        v2 = v128.load(p, 32);
        v3 = v128.load(p, 48);
      }
      mv = i32x4.min_s(mv, i32x4.min_s(i32x4.min_s(v0, v1), i32x4.min_s(v2, v3)));
    }
    for (; u + 4 <= to; u += 4) {
      const p = base + (<usize>u << 2);
      let v = v128.load(p);
      if (v128.any_true(i32x4.lt_s(v, limit))) {
        for (let j = 0; j < 4; j++) {
          if (load<i32>(p + (<usize>j << 2)) <= hour) processUser(u + j, hour);
        }
        v = v128.load(p);
      }
      mv = i32x4.min_s(mv, v);
    }
    let m = i32x4.extract_lane(mv, 0);
    const m1 = i32x4.extract_lane(mv, 1);
    const m2 = i32x4.extract_lane(mv, 2);
    const m3 = i32x4.extract_lane(mv, 3);
    if (m1 < m) m = m1;
    if (m2 < m) m = m2;
    if (m3 < m) m = m3;
    for (; u < to; u++) {
      if (load<i32>(base + (<usize>u << 2)) <= hour) processUser(u, hour);
      const v = load<i32>(base + (<usize>u << 2));
      if (v < m) m = v;
    }
    store<i32>(bm, m);
  }
}

// Crisis events: a Poisson number per hour, each hitting a random user; crisis-prone users move
// to the crisis segment with urgency 1, and an open journey jumps to CONSIDERING with an earlier
// decision.
export function crisisEvents(hour: i32): void {
  const rate = prm(P_CRISIS_RATE_PER_USER_DAY);
  if (rate <= 0) return;
  const n = poisson(<f64>NU * rate / 24.0);
  for (let i = 0; i < n; i++) {
    const u = below(NU);
    if (segParam(segOf(u), SEGF_CRISIS_PRONE) < 0.5) continue;
    segMove(u, segOf(u), CRISIS_SEGMENT);
    setU8(U_SEG, u, CRISIS_SEGMENT);
    refreshClass(u);
    setI32(U_CRISIS_HOUR, u, hour);
    stat(S_CRISIS_EVENTS, 1);
    const stage = stageOf(u);
    if (stage >= STAGE_AWARE && stage < STAGE_CONVERTED) {
      if (stage < STAGE_CONSIDERING) setU8(U_STAGE, u, STAGE_CONSIDERING);
      const at = hour + sampleDelayHours(u, hour);
      const cc = i32At(U_CONV_CHECK, u);
      if (cc < 0 || cc > at) scheduleCheck(u, at);
      scheduleNext(u);
    }
  }
}

