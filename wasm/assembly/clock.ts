// Calendar factors of the current hour, derived from the world clock (never stored: a world's
// bytes stay its whole state). deriveClock() runs at every hour start and when a world is entered.
import {
  H_HOUR, H_SEASON_PHASE, H_MARKET_NOISE, P_DOW_MULT, P_START_DAY_OF_WEEK, P_SEASON_PERIOD_DAYS,
  P_SEASON_AMPLITUDE, P_SURGE_START_DAY, P_SURGE_END_DAY, P_SURGE_ACTIVITY_MULT,
  P_SURGE_VALUE_MULT, P_CPC_TREND_PER_DAY, P_WARMUP_DAYS, H_CLOCK_DAY, H_CLOCK_ACTIVITY,
  H_CLOCK_SEASON, H_CLOCK_VALUE, H_CLOCK_TREND, H_SEASON_PERIOD,
} from "../layout";
import { prm, prmI } from "./params";
import { wb, hSetI32, hF64, hSetF64 } from "./state";

export let HOUR: i32 = 0;
export let HOD: i32 = 0; // hour of day 0..23
export let DAY: i32 = 0; // days since the world began
export let DOW: i32 = 0; // day of week 0..6
export let ACTIVITY_MULT: f64 = 1; // day-of-week x season x surge
export let SEASON_MULT: f64 = 1;
export let VALUE_MULT: f64 = 1; // surge on conversion value
export let TREND_MULT: f64 = 1; // CPC trend on rivals' valuations
export let MARKET_NOISE: f64 = 1;

export function deriveClock(): void {
  // locals, the world base among them: V8 reloads a wasm global at every use, also right after
  // storing it (this runs each time a world is entered, so once a decision in env steps)
  const b = wb;
  const hour = load<i32>(b, H_HOUR);
  const day = hour / 24;
  HOUR = hour;
  HOD = hour % 24;
  DAY = day;
  DOW = (day + prmI(P_START_DAY_OF_WEEK)) % 7;
  MARKET_NOISE = load<f64>(b, H_MARKET_NOISE);
  // the day's factors are cached in the world header: they change once a day
  if (load<i32>(b, H_CLOCK_DAY) == day) {
    ACTIVITY_MULT = load<f64>(b, H_CLOCK_ACTIVITY);
    SEASON_MULT = load<f64>(b, H_CLOCK_SEASON);
    VALUE_MULT = load<f64>(b, H_CLOCK_VALUE);
    TREND_MULT = load<f64>(b, H_CLOCK_TREND);
    return;
  }
  // Calendar days count from the end of the warm-up, so scenario day numbers mean flight days.
  const calDay = <f64>(DAY - prmI(P_WARMUP_DAYS));
  const own = hF64(H_SEASON_PERIOD);
  const period = own > 0 ? own : prm(P_SEASON_PERIOD_DAYS);
  SEASON_MULT = period > 0
    ? 1.0 + prm(P_SEASON_AMPLITUDE) * Math.sin(6.283185307179586 * calDay / period + hF64(H_SEASON_PHASE))
    : 1.0;
  let surgeAct: f64 = 1;
  VALUE_MULT = 1;
  if (calDay >= prm(P_SURGE_START_DAY) && calDay < prm(P_SURGE_END_DAY)) {
    surgeAct = prm(P_SURGE_ACTIVITY_MULT);
    VALUE_MULT = prm(P_SURGE_VALUE_MULT);
  }
  ACTIVITY_MULT = prm(P_DOW_MULT + DOW) * SEASON_MULT * surgeAct;
  TREND_MULT = Math.pow(1.0 + prm(P_CPC_TREND_PER_DAY), calDay > 0 ? calDay : 0);
  hSetI32(H_CLOCK_DAY, DAY);
  hSetF64(H_CLOCK_ACTIVITY, ACTIVITY_MULT);
  hSetF64(H_CLOCK_SEASON, SEASON_MULT);
  hSetF64(H_CLOCK_VALUE, VALUE_MULT);
  hSetF64(H_CLOCK_TREND, TREND_MULT);
}
