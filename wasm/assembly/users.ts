// The user population of a world: segments, latent traits, devices and identity links.
// Users are world state: they persist across flights (episodes) of the same world.
import {
  NUM_SEGMENTS, SEGF_SHARE, SEGF_PRICE_SENSITIVITY, SEGF_ATTENTION, SEGF_URGENCY,
  P_DEVICE_COUNT_PROBS, P_DEVICE_MATCH_RATE, P_SEGMENT_ACCURACY, P_CRISIS_DECAY_HOURS,
  P_FATIGUE_RECOVERY_HOURS, MAX_DEVICES, STAGE_UNAWARE,
} from "../layout";
import {
  NU, U_SEG, U_OBS_SEG, U_STAGE, U_NDEV, U_MATCHED, U_ATTENTION, U_PRICE_SENS, U_URGENCY0,
  U_FATIGUE, U_CRISIS_HOUR, U_FATIGUE_HOUR, U_JSTART, U_LAST_TOUCH, U_CONV_CHECK,
  U_REENTRY, U_TOUCHES, U_RING_COUNT, U_RING_HEAD, BLOCK_MIN, NBLOCKS,
} from "./mem";
import { prm } from "./params";
import { uniform, below } from "./rng";
import { segParam, fatigueDecay, urgencyDecay } from "./tables";
import { clearDeviceHistory } from "./journey";
import {
  setU8, setF32, setI32, setConf, i32At, f32At, u8At, setNextEvent, refreshClass, buildSegmentLists, wb, userAddr,
} from "./state";

export const NEVER: i32 = 0x7fffffff;

@inline function clamp01(x: f64): f64 {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

// A trait around a segment mean: Beta-like spread from the mean of two uniforms.
@inline function trait(mean: f64): f32 {
  return <f32>clamp01(mean + (uniform() + uniform() - 1.0) * 0.35);
}

export function sampleSegment(): i32 {
  let total: f64 = 0;
  for (let s = 0; s < NUM_SEGMENTS; s++) total += segParam(s, SEGF_SHARE);
  let r = uniform() * total;
  for (let s = 0; s < NUM_SEGMENTS - 1; s++) {
    r -= segParam(s, SEGF_SHARE);
    if (r < 0) return s;
  }
  return NUM_SEGMENTS - 1;
}

export function initPopulation(): void {
  const matchRate = prm(P_DEVICE_MATCH_RATE);
  const accuracy = prm(P_SEGMENT_ACCURACY);
  const p1 = prm(P_DEVICE_COUNT_PROBS);
  const p2 = prm(P_DEVICE_COUNT_PROBS + 1);
  memory.fill(wb + BLOCK_MIN, 0x7f, <usize>NBLOCKS * 4); // NEVER in every block
  for (let u = 0; u < NU; u++) {
    const seg = sampleSegment();
    setU8(U_SEG, u, seg);
    // The platform's audience label is right with probability `accuracy`, else a random segment;
    // drawn once so a user's label is stable.
    setU8(U_OBS_SEG, u, uniform() < accuracy ? seg : below(NUM_SEGMENTS));
    setU8(U_STAGE, u, STAGE_UNAWARE);
    const r = uniform();
    const ndev = r < p1 ? 1 : r < p1 + p2 ? 2 : 3;
    setU8(U_NDEV, u, ndev);
    // Device 0 is the logged-in primary device and always linked; others link with matchRate.
    let mask = 1;
    setConf(u, 0, <f32>(0.85 + 0.15 * uniform()));
    for (let d = 1; d < MAX_DEVICES; d++) {
      if (d < ndev && uniform() < matchRate) {
        mask |= 1 << d;
        setConf(u, d, <f32>(0.6 + 0.4 * uniform()));
      } else {
        setConf(u, d, <f32>(0.5 * uniform()));
      }
    }
    setU8(U_MATCHED, u, mask);
    setF32(U_ATTENTION, u, trait(segParam(seg, SEGF_ATTENTION)));
    setF32(U_PRICE_SENS, u, trait(segParam(seg, SEGF_PRICE_SENSITIVITY)));
    setF32(U_URGENCY0, u, trait(segParam(seg, SEGF_URGENCY)));
    setF32(U_FATIGUE, u, 0);
    setI32(U_FATIGUE_HOUR, u, 0);
    setI32(U_CRISIS_HOUR, u, -1);
    setI32(U_JSTART, u, -1);
    setI32(U_LAST_TOUCH, u, -1);
    setNextEvent(u, NEVER);
    setI32(U_CONV_CHECK, u, -1);
    setI32(U_REENTRY, u, -1);
    setI32(U_TOUCHES, u, 0);
    setU8(U_RING_COUNT, u, 0);
    setU8(U_RING_HEAD, u, 0);
    clearDeviceHistory(u);
    refreshClass(u);
  }
  buildSegmentLists();
}

// Urgency: baseline, spiking to 1 at a crisis and decaying back exponentially.
export function urgencyAt(u: i32, hour: i32): f64 {
  const base = <f64>f32At(U_URGENCY0, u);
  const ch = i32At(U_CRISIS_HOUR, u);
  if (ch < 0) return base;
  return base + (1.0 - base) * urgencyDecay(hour - ch);
}

// Ad fatigue decays between exposures; stored with the hour it was last brought up to date.
// (the user's record address in a local: the accessors' global base costs V8 a reload per use)
@inline function fatigueAtAddr(ua: usize, hour: i32): f64 {
  const f = <f64>load<f32>(ua, U_FATIGUE);
  if (f == 0) return 0;
  const dt = hour - load<i32>(ua, U_FATIGUE_HOUR);
  return dt <= 0 ? f : f * fatigueDecay(dt);
}

export function fatigueAt(u: i32, hour: i32): f64 {
  return fatigueAtAddr(userAddr(u), hour);
}

export function addFatigue(u: i32, hour: i32, amount: f64): void {
  const ua = userAddr(u);
  store<f32>(ua, <f32>(fatigueAtAddr(ua, hour) + amount), U_FATIGUE);
  store<i32>(ua, hour, U_FATIGUE_HOUR);
}

// device d is linked in the identity graph, from the user's U_MATCHED mask
@inline export function linkedIn(matched: i32, d: i32): bool {
  return ((matched >> d) & 1) != 0;
}
@inline export function deviceLinked(u: i32, d: i32): bool {
  return linkedIn(u8At(U_MATCHED, u), d);
}
