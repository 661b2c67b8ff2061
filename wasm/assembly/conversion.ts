// A conversion: the user's value is split across the journey's touchpoints by the attribution
// model; our touchpoints' credit becomes reward for the decisions that bought them (delayed),
// and the delay/multi-touch statistics used for calibration are recorded.
import {
  MAX_BIDDERS, NUM_CHANNELS, NUM_ATTRIBUTION_MODELS, DELAY_BINS, OUR_BIDDER,
  P_ATTRIBUTION_MODEL, P_CONVERSION_VALUE, P_HIST_FROM_HOUR, P_HIST_TO_HOUR, SEGF_VALUE_MULT,
  H_FLIGHT_OVER, H_EPISODE, H_FLIGHT_FIRST_DECISION, H_REWARD_ACC, H_ATTR_SPLIT,
  H_DELAY_HIST_ALL, H_DELAY_HIST_OURS,
  S_CONVERSIONS, S_REVENUE, S_MARKET_CONVERSIONS, S_MULTI_TOUCH_CONVERSIONS, S_JOURNEY_DAYS_W,
  S_JOURNEY_TOUCHES_W, S_LATE_CONVERSIONS_W, S_CENSORED_VALUE, S_CAL_CONVERSIONS,
  S_CAL_MULTI_TOUCH, S_CREDITED_DECISIONS, S_REWARD, RS_CONVERSIONS, RS_REVENUE,
} from "../layout";
import { NB, U_JSTART, U_TOUCHES } from "./mem";
import { prm, prmI } from "./params";
import { segParam } from "./tables";
import { VALUE_MULT } from "./clock";
import { i32At, segOf, ringIndex, tpFlags, tpHour, tpDecision, flagAdvertiser, flagChannel, stat, rivalStat, hI32, hF64, hAddF64 } from "./state";
import { attribute, orderTouchpoints, creditAt, slotAt } from "./attribution";
import { expCredit } from "./experience";

const ADV_CREDIT = memory.data(MAX_BIDDERS * 8); // f64
const ADV_COUNT = memory.data(MAX_BIDDERS * 4); // i32
const ADV_FIRST = memory.data(MAX_BIDDERS * 4); // i32 first touch hour

@inline function histAdd(off: i32, delayHours: i32, w: f64): void {
  const bin = delayHours < 0 ? 0 : delayHours >= DELAY_BINS ? DELAY_BINS - 1 : delayHours;
  hAddF64(off + (bin << 3), w);
}

export function convert(u: i32, hour: i32): void {
  const n = orderTouchpoints(u);
  if (n == 0) return;
  const value = prm(P_CONVERSION_VALUE) * segParam(segOf(u), SEGF_VALUE_MULT) * VALUE_MULT;
  const jstart = i32At(U_JSTART, u);
  const touches = <f64>i32At(U_TOUCHES, u);
  const inFlight = hI32(H_FLIGHT_OVER) == 0 && hI32(H_EPISODE) >= 0;
  const firstDecision = <u32>hF64(H_FLIGHT_FIRST_DECISION);

  for (let a = 0; a < NB; a++) {
    store<f64>(ADV_CREDIT + (<usize>a << 3), 0);
    store<i32>(ADV_COUNT + (<usize>a << 2), 0);
    store<i32>(ADV_FIRST + (<usize>a << 2), hour);
  }

  // the configured model pays rewards and counts conversions
  attribute(u, n, prmI(P_ATTRIBUTION_MODEL), hour);
  let live: f64 = 0; // our credit for decisions of the current flight
  let censored: f64 = 0; // our credit for decisions of an earlier flight (right-censored)
  for (let i = 0; i < n; i++) {
    const k = ringIndex(u, slotAt(i));
    const f = tpFlags(k);
    const a = flagAdvertiser(f);
    const c = creditAt(i);
    const t = tpHour(u, k);
    const pc = ADV_CREDIT + (<usize>a << 3);
    store<f64>(pc, load<f64>(pc) + c);
    const pn = ADV_COUNT + (<usize>a << 2);
    store<i32>(pn, load<i32>(pn) + 1);
    const pf = ADV_FIRST + (<usize>a << 2);
    if (t < load<i32>(pf)) store<i32>(pf, t);
    if (a == OUR_BIDDER && c > 0) {
      const d = tpDecision(k);
      expCredit(d, c * value);
      if (inFlight && d >= firstDecision) {
        live += c;
        stat(S_CREDITED_DECISIONS, 1);
      } else {
        censored += c;
      }
    }
  }

  if (live > 0) {
    const dollars = live * value;
    hAddF64(H_REWARD_ACC, dollars);
    stat(S_CONVERSIONS, live);
    stat(S_REVENUE, dollars);
    stat(S_REWARD, dollars);
    stat(S_JOURNEY_DAYS_W, live * <f64>(hour - jstart) / 24.0);
    stat(S_JOURNEY_TOUCHES_W, live * touches);
    if (hour - jstart > 24) stat(S_LATE_CONVERSIONS_W, live);
    // channel split of our credit under every model (for reporting)
    for (let m = 0; m < NUM_ATTRIBUTION_MODELS; m++) {
      attribute(u, n, m, hour);
      for (let i = 0; i < n; i++) {
        const k = ringIndex(u, slotAt(i));
        const f = tpFlags(k);
        if (flagAdvertiser(f) != OUR_BIDDER) continue;
        if (tpDecision(k) < firstDecision) continue;
        const ch = flagChannel(f);
        hAddF64(H_ATTR_SPLIT + ((m * NUM_CHANNELS + ch) << 3), creditAt(i) * value);
      }
    }
  }
  if (censored > 0) stat(S_CENSORED_VALUE, censored * value);

  // market-wide statistics, per credited advertiser (the Criteo view: one advertiser's
  // conversion, its delay from that advertiser's first impression, its impression count)
  let multi: f64 = 0;
  const inWindow = <f64>jstart >= prm(P_HIST_FROM_HOUR) && <f64>jstart < prm(P_HIST_TO_HOUR);
  const ourCredit = load<f64>(ADV_CREDIT);
  for (let a = 0; a < NB; a++) {
    const c = load<f64>(ADV_CREDIT + (<usize>a << 3));
    if (c <= 0) continue;
    if (load<i32>(ADV_COUNT + (<usize>a << 2)) > 1) multi += c;
    if (inWindow) histAdd(H_DELAY_HIST_ALL, hour - load<i32>(ADV_FIRST + (<usize>a << 2)), c);
    if (a != OUR_BIDDER) {
      rivalStat(a - 1, RS_CONVERSIONS, c);
      rivalStat(a - 1, RS_REVENUE, c * value);
    }
  }
  if (ourCredit > 0 && inWindow) histAdd(H_DELAY_HIST_OURS, hour - load<i32>(ADV_FIRST), ourCredit);
  stat(S_MARKET_CONVERSIONS, 1);
  stat(S_MULTI_TOUCH_CONVERSIONS, multi);
  if (inWindow) {
    stat(S_CAL_CONVERSIONS, 1);
    stat(S_CAL_MULTI_TOUCH, multi);
  }
}
