// Budget pacing state: today's spend against the share of the day's traffic seen so far.
import {
  H_SPEND_TODAY, H_DAILY_BUDGET_MICROS, P_PACING_BAND, PACING_AHEAD, PACING_BEHIND, PACING_ON_TRACK,
} from "../layout";
import { prm } from "./params";
import { hF64 } from "./state";
import { trafficShare } from "./tables";
import { HOD } from "./clock";

// 1 = spending exactly at the traffic-weighted pace; > 1 ahead, < 1 behind.
export function pacingRatio(): f64 {
  const target = hF64(H_DAILY_BUDGET_MICROS) * Math.max(trafficShare(HOD, 0.5), 0.02);
  return target > 0 ? hF64(H_SPEND_TODAY) / target : 1.0;
}

export function pacingState(ratio: f64): i32 {
  const band = prm(P_PACING_BAND);
  return ratio > 1.0 + band ? PACING_AHEAD : ratio < 1.0 - band ? PACING_BEHIND : PACING_ON_TRACK;
}
