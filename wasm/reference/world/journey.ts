// Journeys: UNAWARE -> AWARE -> CONSIDERING -> INTENT -> CONVERTED, or LOST after a timeout with
// no touch. A journey starts at its first impression; a conversion check is scheduled from the
// intent-delay distribution (calibrated quantile knots) and its outcome depends on the stage
// reached, urgency and price sensitivity. Touchpoints live in a bounded ring per user.
import {
  STAGE_UNAWARE, STAGE_AWARE, STAGE_CONSIDERING, STAGE_INTENT, STAGE_CONVERTED, STAGE_LOST,
  DELAY_KNOTS, P_DELAY_Q, P_DELAY_DAYS, P_JOURNEY_TIMEOUT_DAYS, P_CONVERSION_WINDOW_DAYS,
  P_CONV_PROB_BY_STAGE, P_RECHECK_PROB, P_REENTRY_DAYS_CONVERTED, P_REENTRY_DAYS_LOST,
  P_CLICK_ADVANCE_PROB, P_IMPRESSION_ADVANCE_PROB, P_CHANNELS, CH_STRIDE, CHF_INTENT_LIFT,
  SEGF_CONV_MULT, SEGF_DELAY_SCALE, SEGF_CRISIS_PRONE, CRISIS_SEGMENT, P_URGENCY_CONV_GAIN,
  P_URGENCY_DELAY_CUT, P_CRISIS_RATE_PER_USER_DAY, S_LOST_JOURNEYS, S_CRISIS_EVENTS, MAX_CREATIVES,
  MAX_DEVICES,
} from "../../layout.js";
import {
  NU, RING, NEXT_EVENTS, BLOCK_MIN, NBLOCKS, EVENT_BLOCK, EVENT_BLOCK_SHIFT, U_STAGE, U_JSTART, U_LAST_TOUCH, U_CONV_CHECK, U_REENTRY, U_TOUCHES,
  U_RING_HEAD, U_RING_COUNT, U_ATTENTION, U_PRICE_SENS, U_CRISIS_HOUR, U_SEG, U_CR_EXPO,
  R_HOUR, R_DECISION, R_FLAGS, DEV_BYTES,
  D_OUR_TOUCHES, D_OUR_CLICKS, D_CHANNELS, D_FIRST_OUR, D_LAST_OUR, U_RIVAL_TOUCHES, NO_TOUCH,
} from "./mem.js";
import { prm } from "./params.js";
import { uniform, below, poisson } from "./rng.js";
import { segParam } from "./tables.js";
import { wb, u8At, setU8, i32At, setI32, f32At, stageOf, segOf, ringIndex, tpAddr, userAddr, setNextEvent, refreshClass, segMove, devAddr, stat } from "./state.js";
import { OPP_EXPF } from "./market.js";
import { NEVER, urgencyAt } from "./users.js";
import { convert } from "./conversion.js";
import { loadI32, storeI32, loadU8, storeU8, loadU16, storeU16, storeU32, memoryFill, truncSatI32 } from "./memory.js";

// Intent delay in hours: inverse CDF through the quantile knots, scaled by segment and urgency.
export function sampleDelayHours(u: number, hour: number): number {
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
  const h = truncSatI32(days * 24.0 + 0.5);
  return h < 1 ? 1 : h;
}

function windowEnd(u: number): number {
  return (i32At(U_JSTART, u) + truncSatI32(prm(P_CONVERSION_WINDOW_DAYS) * 24.0)) | 0;
}

export function scheduleNext(u: number): void {
  const stage = stageOf(u);
  let next = NEVER;
  if (stage >= STAGE_CONVERTED) {
    next = i32At(U_REENTRY, u);
  } else if (stage !== STAGE_UNAWARE) {
    next = (i32At(U_LAST_TOUCH, u) + truncSatI32(prm(P_JOURNEY_TIMEOUT_DAYS) * 24.0)) | 0;
    const cc = i32At(U_CONV_CHECK, u);
    if (cc >= 0 && cc < next) next = cc;
  }
  setNextEvent(u, next);
}

function scheduleCheck(u: number, at: number): void {
  setI32(U_CONV_CHECK, u, at < windowEnd(u) ? at : -1);
}

function startJourney(u: number, hour: number): void {
  setU8(U_STAGE, u, STAGE_AWARE);
  setI32(U_JSTART, u, hour);
  scheduleCheck(u, (hour + sampleDelayHours(u, hour)) | 0);
}

export function recordTouch(
  u: number, hour: number, adv: number, channel: number, creative: number, device: number, slot: number,
  clicked: boolean, decision: number,
): void {
  const head = u8At(U_RING_HEAD, u);
  const k = ringIndex(u, head);
  // hours are kept relative to the journey's first touch; this touch starts the journey when the
  // user is still unaware (onImpression sets U_JSTART to this hour right after)
  const start = stageOf(u) === STAGE_UNAWARE ? hour : i32At(U_JSTART, u);
  let delta = (hour - start) | 0;
  if (delta > 65534) delta = 65534; // 65535 marks 'no touch' in the device counters
  const p = tpAddr(k);
  storeU32(p + R_DECISION, decision);
  storeU16(p + R_HOUR, delta);
  storeU16(p + R_FLAGS, (clicked ? 1 : 0) | (device << 1) | (slot << 3) | (channel << 5) | (adv << 8) | (creative << 12));
  setU8(U_RING_HEAD, u, head + 1 === RING ? 0 : head + 1);
  const dv = devAddr(u) + device * DEV_BYTES;
  if (adv === 0) {
    const n = loadU8(dv + D_OUR_TOUCHES);
    if (n < 255) storeU8(dv + D_OUR_TOUCHES, n + 1);
    if (clicked) {
      const c = loadU8(dv + D_OUR_CLICKS);
      if (c < 255) storeU8(dv + D_OUR_CLICKS, c + 1);
    }
    storeU8(dv + D_CHANNELS, (loadU8(dv + D_CHANNELS) & 31) | (1 << channel) | (clicked ? 128 : 0));
    if (loadU16(dv + D_FIRST_OUR) === NO_TOUCH) storeU16(dv + D_FIRST_OUR, delta);
    storeU16(dv + D_LAST_OUR, delta);
  } else {
    const r = u8At(U_RIVAL_TOUCHES, u);
    if (r < 255) setU8(U_RIVAL_TOUCHES, u, r + 1);
  }
  const count = u8At(U_RING_COUNT, u);
  if (count < RING) setU8(U_RING_COUNT, u, count + 1);
  setI32(U_TOUCHES, u, (i32At(U_TOUCHES, u) + 1) | 0);
}

// Stage transitions after an impression (and its click, if any) on channel `ch`. The caller
// reschedules the user's next event (scheduleNext) once the page's ads are all shown.
export function onImpression(u: number, hour: number, ch: number, clicked: boolean): void {
  let stage = stageOf(u);
  if (stage === STAGE_UNAWARE) {
    startJourney(u, hour);
    stage = STAGE_AWARE;
  } else if (stage < STAGE_INTENT) {
    const lift = prm(P_CHANNELS + ch * CH_STRIDE + CHF_INTENT_LIFT);
    const p = prm(P_IMPRESSION_ADVANCE_PROB) * lift * f32At(U_ATTENTION, u) * OPP_EXPF;
    if (uniform() < p) stage++;
  }
  if (clicked && stage < STAGE_INTENT) {
    const lift = prm(P_CHANNELS + ch * CH_STRIDE + CHF_INTENT_LIFT);
    if (uniform() < prm(P_CLICK_ADVANCE_PROB) * lift) stage++;
  }
  setU8(U_STAGE, u, stage);
  setI32(U_LAST_TOUCH, u, hour);
}

export function clearDeviceHistory(u: number): void {
  const base = devAddr(u);
  memoryFill(base, 0, MAX_DEVICES * DEV_BYTES);
  for (let d = 0; d < MAX_DEVICES; d++) {
    storeU16(base + d * DEV_BYTES + D_FIRST_OUR, NO_TOUCH);
    storeU16(base + d * DEV_BYTES + D_LAST_OUR, NO_TOUCH);
  }
}

function reenter(u: number): void {
  setU8(U_STAGE, u, STAGE_UNAWARE);
  setI32(U_JSTART, u, -1);
  setI32(U_CONV_CHECK, u, -1);
  setI32(U_REENTRY, u, -1);
  setI32(U_TOUCHES, u, 0);
  setU8(U_RING_COUNT, u, 0);
  setU8(U_RING_HEAD, u, 0);
  // a new journey starts with fresh creative wear-out
  memoryFill(userAddr(u) + U_CR_EXPO, 0, MAX_CREATIVES);
  clearDeviceHistory(u);
  setU8(U_RIVAL_TOUCHES, u, 0);
  refreshClass(u);
}

function checkConversion(u: number, hour: number): void {
  const stage = stageOf(u);
  const urgency = urgencyAt(u, hour);
  let p = prm(P_CONV_PROB_BY_STAGE + stage) * segParam(segOf(u), SEGF_CONV_MULT);
  p *= (1.0 + prm(P_URGENCY_CONV_GAIN) * urgency) * (1.2 - 0.4 * f32At(U_PRICE_SENS, u));
  if (uniform() < p) {
    convert(u, hour);
    setU8(U_STAGE, u, STAGE_CONVERTED);
    setI32(U_CONV_CHECK, u, -1);
    setI32(U_REENTRY, u, (hour + truncSatI32(prm(P_REENTRY_DAYS_CONVERTED) * 24.0)) | 0);
    refreshClass(u);
    return;
  }
  // Not yet: users who are at least considering may decide again later within the window.
  if (stage >= STAGE_CONSIDERING && uniform() < prm(P_RECHECK_PROB)) {
    scheduleCheck(u, (hour + (sampleDelayHours(u, hour) >> 1) + 1) | 0);
  } else {
    setI32(U_CONV_CHECK, u, -1);
  }
}

function lose(u: number, hour: number): void {
  setU8(U_STAGE, u, STAGE_LOST);
  setI32(U_CONV_CHECK, u, -1);
  setI32(U_REENTRY, u, (hour + truncSatI32(prm(P_REENTRY_DAYS_LOST) * 24.0)) | 0);
  refreshClass(u);
  stat(S_LOST_JOURNEYS, 1);
}

function processUser(u: number, hour: number): void {
  const stage = stageOf(u);
  if (stage >= STAGE_CONVERTED) {
    if (i32At(U_REENTRY, u) <= hour) reenter(u);
  } else if (stage !== STAGE_UNAWARE) {
    const cc = i32At(U_CONV_CHECK, u);
    if (cc >= 0 && cc <= hour) checkConversion(u, hour);
    if (stageOf(u) < STAGE_CONVERTED &&
        ((i32At(U_LAST_TOUCH, u) + truncSatI32(prm(P_JOURNEY_TIMEOUT_DAYS) * 24.0)) | 0) <= hour) {
      lose(u, hour);
    }
  }
  scheduleNext(u);
}

// Everything due this hour: conversion checks, timeouts, re-entries. Blocks of EVENT_BLOCK users
// whose lower bound is in the future are skipped; a due block is swept in one pass that processes
// the due users and recomputes the block's bound.
// The kernel sweeps four users at a time with i32x4 compares; here the sweep is one user at a time.
// Same result: processUser(u) only changes user u's next-event hour, users are processed in the
// same (increasing) order, and the bound is the minimum of the hours left after processing.
export function processUserEvents(hour: number): void {
  const base = wb + NEXT_EVENTS;
  for (let b = 0; b < NBLOCKS; b++) {
    const bm = wb + BLOCK_MIN + (b << 2);
    if (loadI32(bm) > hour) continue;
    const from = b << EVENT_BLOCK_SHIFT;
    const to = from + EVENT_BLOCK < NU ? from + EVENT_BLOCK : NU;
    let m = NEVER;
    for (let u = from; u < to; u++) {
      if (loadI32(base + (u << 2)) <= hour) processUser(u, hour);
      const v = loadI32(base + (u << 2));
      if (v < m) m = v;
    }
    storeI32(bm, m);
  }
}

// Crisis events: a Poisson number per hour, each hitting a random user; crisis-prone users move
// to the crisis segment with urgency 1, and an open journey jumps to CONSIDERING with an earlier
// decision.
export function crisisEvents(hour: number): void {
  const rate = prm(P_CRISIS_RATE_PER_USER_DAY);
  if (rate <= 0) return;
  const n = poisson(NU * rate / 24.0);
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
      const at = (hour + sampleDelayHours(u, hour)) | 0;
      const cc = i32At(U_CONV_CHECK, u);
      if (cc < 0 || cc > at) scheduleCheck(u, at);
      scheduleNext(u);
    }
  }
}
