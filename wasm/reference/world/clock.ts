// Calendar factors of the current hour, derived from the world clock (never stored: a world's
// bytes stay its whole state). deriveClock() runs at every hour start and when a world is entered.
import {
  H_HOUR, H_SEASON_PHASE, H_SEASON_PERIOD, H_MARKET_NOISE, P_DOW_MULT, P_START_DAY_OF_WEEK, P_SEASON_PERIOD_DAYS,
  P_SEASON_AMPLITUDE, P_SURGE_START_DAY, P_SURGE_END_DAY, P_SURGE_ACTIVITY_MULT,
  P_SURGE_VALUE_MULT, P_CPC_TREND_PER_DAY, P_WARMUP_DAYS, H_CLOCK_DAY, H_CLOCK_ACTIVITY,
  H_CLOCK_SEASON, H_CLOCK_VALUE, H_CLOCK_TREND,
} from "../../layout.js";
import { prm, prmI } from "./params.js";
import { hI32, hSetI32, hF64, hSetF64 } from "./state.js";

export let HOUR = 0;
export let HOD = 0; // hour of day 0..23
export let DAY = 0; // days since the world began
export let DOW = 0; // day of week 0..6
export let ACTIVITY_MULT = 1; // day-of-week x season x surge
export let SEASON_MULT = 1;
export let VALUE_MULT = 1; // surge on conversion value
export let TREND_MULT = 1; // CPC trend on rivals' valuations
export let MARKET_NOISE = 1;

export function deriveClock(): void {
  HOUR = hI32(H_HOUR);
  HOD = HOUR % 24;
  DAY = (HOUR / 24) | 0;
  DOW = (DAY + prmI(P_START_DAY_OF_WEEK)) % 7;
  MARKET_NOISE = hF64(H_MARKET_NOISE);
  // the day's factors are cached in the world header: they change once a day
  if (hI32(H_CLOCK_DAY) === DAY) {
    ACTIVITY_MULT = hF64(H_CLOCK_ACTIVITY);
    SEASON_MULT = hF64(H_CLOCK_SEASON);
    VALUE_MULT = hF64(H_CLOCK_VALUE);
    TREND_MULT = hF64(H_CLOCK_TREND);
    return;
  }
  // Calendar days count from the end of the warm-up, so scenario day numbers mean flight days.
  const calDay = DAY - prmI(P_WARMUP_DAYS);
  const own = hF64(H_SEASON_PERIOD);
  const period = own > 0 ? own : prm(P_SEASON_PERIOD_DAYS);
  SEASON_MULT = period > 0
    ? 1.0 + prm(P_SEASON_AMPLITUDE) * Math.sin(6.283185307179586 * calDay / period + hF64(H_SEASON_PHASE))
    : 1.0;
  let surgeAct = 1;
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
