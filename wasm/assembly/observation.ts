// The observation of a pending decision, built only from what a real bidder could see: our own
// touch history on this device (or on every linked device when this one is matched in the
// identity graph), the platform's audience label, the context, our estimates and our budget.
// Pure function of world state, so a restored world re-emits the same observation.
import {
  OBS_DIM, NUM_SEGMENTS, NUM_CHANNELS, OUR_BIDDER, STAGE_UNAWARE, STAGE_AWARE, STAGE_CONSIDERING,
  STAGE_INTENT, MAX_DEVICES,
  F_STAGE_UNAWARE, F_OUR_TOUCHES, F_OUR_CLICKS, F_HOURS_SINCE_TOUCH, F_JOURNEY_DAYS,
  F_CHANNELS_SEEN, F_COMPETITOR_TOUCHES, F_LAST_TOUCH_CLICKED, F_CREATIVE_EXPOSURE, F_SEGMENT,
  F_DEVICES_KNOWN, F_MATCH_CONFIDENCE, F_DEVICE_MATCHED, F_URGENCY_SIGNAL, F_FATIGUE_SIGNAL,
  F_CHANNEL, F_HOUR_SIN, F_HOUR_COS, F_DOW_SIN, F_DOW_COS, F_QUERY_INTENT, F_PCTR, F_REF_VALUE,
  F_RESERVE, F_PRICE_INDEX, F_SEASONALITY, F_DAILY_BUDGET_LEFT, F_FLIGHT_BUDGET_LEFT,
  F_PACING_RATIO, F_DAY_LEFT, F_FLIGHT_LEFT, F_PACING_STATE, F_WIN_RATE, F_RECENT_CPM,
  H_P_USER, H_P_CHANNEL, H_P_DEVICE, H_P_QUERY_INTENT, H_P_PCTR, H_P_REF_VALUE, H_P_RESERVE,
  H_PRICE_INDEX, H_SPEND_TODAY, H_SPEND_FLIGHT, H_FLIGHT_START, H_WIN_EMA, H_CPC_EMA,
  H_DAILY_BUDGET_MICROS, H_FLIGHT_BUDGET_MICROS, P_BID_MAX, P_FLIGHT_DAYS, CH_SEARCH,
} from "../layout";
import { IO_OBS, U_JSTART, U_OBS_SEG, U_MATCHED, U_NDEV, DEV_BYTES, D_OUR_TOUCHES, D_OUR_CLICKS, D_CHANNELS, U_RIVAL_TOUCHES, D_FIRST_OUR, D_LAST_OUR } from "./mem";
import { prm } from "./params";
import { wb, u8At, i32At, confAt, exposuresAt, devAddr, userAddrAt } from "./state";
import { HOUR, HOD, DOW, ACTIVITY_MULT } from "./clock";
import { urgencyAt, deviceLinked, linkedIn } from "./users";
import { OPP_EXPF } from "./market";
import { hourSin, hourCos, dowSin, dowCos, recencyFeature } from "./tables";
import { pacingRatio, pacingState } from "./pacing";

// what we can see of a user's history (filled by scanVisible)
export let visOurTouches: i32 = 0;
export let visOurClicks: i32 = 0;
export let visFirstOur: i32 = -1;
export let visLastOur: i32 = -1;
export let visLastClicked: bool = false;
export let visChannels: i32 = 0;
export let visRivalTouches: i32 = 0;

export function scanVisible(u: i32, device: i32): void {
  visOurTouches = 0;
  visOurClicks = 0;
  visFirstOur = -1;
  visLastOur = -1;
  visLastClicked = false;
  visChannels = 0;
  visRivalTouches = 0;
  const linked = deviceLinked(u, device);
  const mask = u8At(U_MATCHED, u);
  const ndev = u8At(U_NDEV, u);
  const base = devAddr(u);
  const jstart = i32At(U_JSTART, u);
  visRivalTouches = u8At(U_RIVAL_TOUCHES, u);
  for (let e = 0; e < ndev; e++) {
    if (e != device && !(linked && ((mask >> e) & 1) != 0)) continue;
    const dv = base + <usize>e * DEV_BYTES;
    const n = <i32>load<u8>(dv + D_OUR_TOUCHES);
    if (n == 0) continue;
    visOurTouches += n;
    visOurClicks += <i32>load<u8>(dv + D_OUR_CLICKS);
    const flags = <i32>load<u8>(dv + D_CHANNELS);
    visChannels |= flags & 31;
    const first = jstart + <i32>load<u16>(dv + D_FIRST_OUR);
    if (visFirstOur < 0 || first < visFirstOur) visFirstOur = first;
    const last = jstart + <i32>load<u16>(dv + D_LAST_OUR);
    if (last > visLastOur) {
      visLastOur = last;
      visLastClicked = (flags & 128) != 0;
    }
  }
}

// The funnel stage as our own tracking would label it.
export function trackedStage(): i32 {
  if (visOurTouches == 0) return STAGE_UNAWARE;
  if (visOurClicks >= 2) return STAGE_INTENT;
  if (visOurClicks == 1) return STAGE_CONSIDERING;
  return STAGE_AWARE;
}

@inline function clip01(x: f64): f32 {
  return <f32>(x < 0 ? 0 : x > 1 ? 1 : x);
}
// clip01 of a value that cannot be negative (counts, our pCTR)
@inline function min1(x: f64): f32 {
  return <f32>(x > 1 ? 1 : x);
}

@inline function popcnt5(x: i32): i32 {
  return <i32>popcnt<u32>(<u32>x & 31);
}

// `scanned`: scanVisible already ran for this decision (the step that drew it), else scan now.
export function writeObs(w: i32, scanned: bool): void {
  const o = IO_OBS + <usize>w * OBS_DIM * 4;
  // zeroed with vector stores (memory.fill is a call out of the wasm code): 13 stores cover
  // OBS_DIM = 50 floats, the last one overlapping the one before it
  if (OBS_DIM <= 48 || OBS_DIM > 52) ERROR("writeObs zeroes 49..52 floats: update it for OBS_DIM");
  const zero = i32x4.splat(0);
  v128.store(o, zero, 0); v128.store(o, zero, 16); v128.store(o, zero, 32); v128.store(o, zero, 48);
  v128.store(o, zero, 64); v128.store(o, zero, 80); v128.store(o, zero, 96); v128.store(o, zero, 112);
  v128.store(o, zero, 128); v128.store(o, zero, 144); v128.store(o, zero, 160); v128.store(o, zero, 176);
  v128.store(o, zero, (OBS_DIM - 4) << 2);
  // the world base and the user's record through locals, read with constant offsets (the
  // accessors' global base costs V8 a reload and an add at every use)
  const b = wb;
  const u = load<i32>(b, H_P_USER);
  const ch = load<i32>(b, H_P_CHANNEL);
  const device = load<i32>(b, H_P_DEVICE);
  const ua = userAddrAt(b, u);
  const invBidMax = 1.0 / prm(P_BID_MAX);
  if (!scanned) scanVisible(u, device);

  store<f32>(o + ((F_STAGE_UNAWARE + trackedStage()) << 2), 1);
  store<f32>(o + (F_OUR_TOUCHES << 2), min1(<f64>visOurTouches * 0.1));
  store<f32>(o + (F_OUR_CLICKS << 2), min1(<f64>visOurClicks * 0.2));
  store<f32>(o + (F_HOURS_SINCE_TOUCH << 2),
    visLastOur < 0 ? 1 : recencyFeature(HOUR - visLastOur));
  store<f32>(o + (F_JOURNEY_DAYS << 2), visFirstOur < 0 ? 0 : clip01(<f64>(HOUR - visFirstOur) * (1.0 / 720.0)));
  store<f32>(o + (F_CHANNELS_SEEN << 2), <f32>popcnt5(visChannels) / <f32>NUM_CHANNELS);
  store<f32>(o + (F_COMPETITOR_TOUCHES << 2), min1(<f64>visRivalTouches * 0.1));
  store<f32>(o + (F_LAST_TOUCH_CLICKED << 2), visLastClicked ? 1 : 0);
  for (let c = 0; c < 3; c++) {
    store<f32>(o + ((F_CREATIVE_EXPOSURE + c) << 2), min1(<f64>exposuresAt(ua, c) * 0.1));
  }
  store<f32>(o + ((F_SEGMENT + <i32>load<u8>(ua, U_OBS_SEG)) << 2), 1);
  const matched = <i32>load<u8>(ua, U_MATCHED);
  const linked = linkedIn(matched, device);
  const known = linked ? <i32>popcnt<u32>(<u32>matched) : 1;
  store<f32>(o + (F_DEVICES_KNOWN << 2), <f32>known / <f32>MAX_DEVICES);
  store<f32>(o + (F_MATCH_CONFIDENCE << 2), confAt(ua, device));
  store<f32>(o + (F_DEVICE_MATCHED << 2), linked ? 1 : 0);
  // urgency shows only through search queries
  store<f32>(o + (F_URGENCY_SIGNAL << 2), ch == CH_SEARCH ? clip01(urgencyAt(u, HOUR)) : 0);
  store<f32>(o + (F_FATIGUE_SIGNAL << 2), <f32>(1.0 - OPP_EXPF));
  store<f32>(o + ((F_CHANNEL + ch) << 2), 1);
  store<f32>(o + (F_HOUR_SIN << 2), hourSin(HOD));
  store<f32>(o + (F_HOUR_COS << 2), hourCos(HOD));
  store<f32>(o + (F_DOW_SIN << 2), dowSin(DOW));
  store<f32>(o + (F_DOW_COS << 2), dowCos(DOW));
  store<f32>(o + (F_QUERY_INTENT << 2), load<f32>(b, H_P_QUERY_INTENT));
  store<f32>(o + (F_PCTR << 2), min1(<f64>load<f32>(b, H_P_PCTR) * 5.0));
  store<f32>(o + (F_REF_VALUE << 2), clip01(<f64>load<f32>(b, H_P_REF_VALUE) * invBidMax));
  store<f32>(o + (F_RESERVE << 2), clip01(<f64>load<f32>(b, H_P_RESERVE) * invBidMax));
  store<f32>(o + (F_PRICE_INDEX << 2), clip01(load<f64>(b, H_PRICE_INDEX) * invBidMax));
  store<f32>(o + (F_SEASONALITY << 2), clip01(ACTIVITY_MULT * 0.5));
  const daily = load<f64>(b, H_DAILY_BUDGET_MICROS);
  const flight = load<f64>(b, H_FLIGHT_BUDGET_MICROS);
  store<f32>(o + (F_DAILY_BUDGET_LEFT << 2), clip01(1.0 - load<f64>(b, H_SPEND_TODAY) / daily));
  store<f32>(o + (F_FLIGHT_BUDGET_LEFT << 2), clip01(1.0 - load<f64>(b, H_SPEND_FLIGHT) / flight));
  const ratio = pacingRatio();
  store<f32>(o + (F_PACING_RATIO << 2), clip01(ratio * 0.5));
  store<f32>(o + (F_DAY_LEFT << 2), <f32>(<f64>(24 - HOD) / 24.0));
  const flightHours = prm(P_FLIGHT_DAYS) * 24.0;
  store<f32>(o + (F_FLIGHT_LEFT << 2), clip01(1.0 - <f64>(HOUR - load<i32>(b, H_FLIGHT_START)) / flightHours));
  store<f32>(o + ((F_PACING_STATE + pacingState(ratio)) << 2), 1);
  store<f32>(o + (F_WIN_RATE << 2), clip01(load<f64>(b, H_WIN_EMA)));
  store<f32>(o + (F_RECENT_CPM << 2), clip01(load<f64>(b, H_CPC_EMA) * invBidMax));
}

