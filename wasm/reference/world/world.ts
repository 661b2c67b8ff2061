// One world's life: hours, flights (episodes), the decision loop and the auction outcome.
// A step resolves our pending bid, then runs the world forward (rival-only auctions, hourly
// events, day and flight boundaries) until the next auction where our campaign is eligible.
import {
  INFO_DIM, MAX_SLOTS, NUM_STATS, OUR_BIDDER, LAYOUT_VERSION, WORLD_MAGIC,
  H_MAGIC, H_VERSION, H_SHAPE_HASH, H_RNG, H_HOUR, H_FLIGHT_START, H_EPISODE,
  H_PENDING, H_P_USER, H_P_CHANNEL, H_P_DEVICE, H_P_REF_VALUE, H_P_RESERVE, H_P_BIDS, H_QUALITY,
  H_FLIGHT_OVER, H_STARTED, H_LAST_TERMINAL, H_DECISIONS, H_SPEND_TODAY, H_SPEND_FLIGHT,
  H_MARKET_NOISE, H_PRICE_INDEX, H_REWARD_ACC, H_FLIGHT_FIRST_DECISION, H_SEASON_PHASE,
  H_WIN_EMA, H_CPC_EMA, H_RIVALS, H_RIVAL_LEFT, H_STATS_EPISODE, H_STATS_LAST_EPISODE, H_STATS_TOTAL,
  RIV_STRIDE, P_RIVALS, RIVF_STRATEGY, RIVF_VALUE_MULT,
  P_RESAMPLE_RIVALS, P_RESAMPLE_VALUE_SD, P_SEASON_PERIOD_JITTER, P_SEASON_PERIOD_DAYS, H_SEASON_PERIOD,
  H_BUDGET_SCALE, H_DAILY_BUDGET_MICROS, H_FLIGHT_BUDGET_MICROS, STAGE_CONSIDERING,
  P_FLIGHT_DAYS, P_WARMUP_DAYS, P_DAILY_BUDGET_MICROS, P_FLIGHT_BUDGET_MICROS, P_BID_MAX,
  P_OUR_CHANNEL_ENABLED, P_QUALITY_WEIGHTED, P_MARKET_NOISE_SD, P_USER_FATIGUE_PER_AD,
  P_PRICE_INDEX_DECAY, P_CREATIVE_CTR_MULT, CHF_MECHANISM, CHF_SLOTS, SEGF_IMPORTANCE_WEIGHT,
  S_OPPORTUNITIES, S_DECISIONS, S_IMPRESSIONS, S_CLICKS, S_SPEND, S_UNSOLD, S_WIN_VALUE,
  S_RIVAL_SPEND, S_RIVAL_IMPRESSIONS, S_REWARD, S_BUDGET_EXHAUSTED_HOURS,
  I_COST, I_WON, I_CLICKED, I_SLOT, I_CHANNEL, I_SEGMENT, I_CREDITED_VALUE, I_DECISION_ID, I_HOUR,
  I_USER, I_IMPORTANCE, I_REF_VALUE_DOLLARS, I_EPISODE, I_OPPORTUNITIES, I_TERMINAL_KIND,
} from "../../layout.js";
import {
  NR, NB, NC, WORLDS_BASE, WORLD_STRIDE, IO_BID, IO_CREATIVE, IO_REWARD, IO_TERMINATED,
  IO_TRUNCATED, IO_INFO, shapeHash,
} from "./mem.js";
import { prm, prmI } from "./params.js";
import { rngLoad, rngStore, rngSeed, uniform, normal, below } from "./rng.js";
import { allocate } from "./auction.js";
import { deriveClock, HOUR, HOD } from "./clock.js";
import { wb, setWorldBase, hI32, hSetI32, hF32, hSetF32, hF64, hSetF64, stat, segOf, stageOf, bumpExposure } from "./state.js";
import { initPopulation, addFatigue } from "./users.js";
import { segParam, fatigueFactorPerAd } from "./tables.js";
import { recordTouch, onImpression, processUserEvents, crisisEvents, scheduleNext } from "./journey.js";
import {
  chParam, clickProb, nextOpportunity, ourEstimates, startHourOpportunities, saveOpportunity, restoreOpportunity,
  fatigueAdded, refillRivalBudgets, refreshRivalQuality, accrueRivalBudgets, trueImpressionValue, rivalWon, rivalEntries,
} from "./market.js";
import { scanVisible, trackedStage, writeObs } from "./observation.js";
import {
  memoryData, memoryFill, memoryCopy, loadI32, loadU32, storeU32, loadF32, storeF32, storeF64, storeU8,
  truncSatI32, truncSatU32,
} from "./memory.js";

export const TERMINAL_NONE = 0;
export const TERMINAL_BUDGET = 1; // flight budget exhausted: terminated
export const TERMINAL_FLIGHT_END = 2; // end of the flight: truncated
const MIN_BUDGET_MICROS = 10000; // below one cent left, the campaign stops bidding

const WINNERS = memoryData(MAX_SLOTS * 4);
const PRICES = memoryData(MAX_SLOTS * 4);

// outcome of the current step
let stepTerminal = 0;
let stepOpps = 0;
let stepCost = 0;
let stepWon = 0;
let stepClicked = 0;
let stepSlot = -1;

function worldBase(w: number): number {
  return WORLDS_BASE + w * WORLD_STRIDE;
}

function enterWorld(w: number): void {
  setWorldBase(worldBase(w));
  rngLoad(wb + H_RNG);
  deriveClock();
}

function leaveWorld(): void {
  rngStore(wb + H_RNG);
}

function startFlight(): void {
  hSetI32(H_EPISODE, hI32(H_EPISODE) + 1);
  hSetI32(H_FLIGHT_START, HOUR);
  hSetI32(H_FLIGHT_OVER, 0);
  hSetF64(H_SPEND_FLIGHT, 0);
  hSetF64(H_FLIGHT_FIRST_DECISION, hF64(H_DECISIONS));
  // fold what the ending block counted (the last flight and any gap after it) into the totals
  for (let i = 0; i < NUM_STATS; i++) {
    const t = H_STATS_TOTAL + (i << 3);
    hSetF64(t, hF64(t) + hF64(H_STATS_EPISODE + (i << 3)));
  }
  memoryFill(wb + H_STATS_EPISODE, 0, NUM_STATS * 8);
}

function endFlight(kind: number): void {
  memoryCopy(wb + H_STATS_LAST_EPISODE, wb + H_STATS_EPISODE, NUM_STATS * 8);
  hSetI32(H_LAST_TERMINAL, kind);
  hSetI32(H_FLIGHT_OVER, 1);
  if (stepTerminal === TERMINAL_NONE) stepTerminal = kind;
}

function beginHour(): void {
  deriveClock();
  if (HOD === 0 && HOUR > 0) {
    hSetF64(H_SPEND_TODAY, 0);
    refillRivalBudgets();
  }
  accrueRivalBudgets();
  const flightHours = prmI(P_FLIGHT_DAYS) * 24;
  if (hI32(H_FLIGHT_OVER) === 0) {
    if (HOUR >= hI32(H_FLIGHT_START) + flightHours) {
      endFlight(TERMINAL_FLIGHT_END);
      startFlight();
    }
  } else if (HOD === 0 && HOUR >= prmI(P_WARMUP_DAYS) * 24) {
    startFlight();
  }
  processUserEvents(HOUR);
  crisisEvents(HOUR);
  startHourOpportunities();
  if (hI32(H_FLIGHT_OVER) === 0 && hF64(H_DAILY_BUDGET_MICROS) - hF64(H_SPEND_TODAY) < MIN_BUDGET_MICROS) {
    stat(S_BUDGET_EXHAUSTED_HOURS, 1);
  }
}

function ourEligible(ch: number): boolean {
  if (hI32(H_FLIGHT_OVER) !== 0) return false;
  if (prm(P_OUR_CHANNEL_ENABLED + ch) < 0.5) return false;
  if (hF64(H_DAILY_BUDGET_MICROS) - hF64(H_SPEND_TODAY) < MIN_BUDGET_MICROS) return false;
  return hF64(H_FLIGHT_BUDGET_MICROS) - hF64(H_SPEND_FLIGHT) >= MIN_BUDGET_MICROS;
}

// Runs the auction of the pending opportunity. `ours` is false for rival-only auctions.
function resolve(ourBid: number, creative: number, ours: boolean): void {
  const u = hI32(H_P_USER);
  const ch = hI32(H_P_CHANNEL);
  const device = hI32(H_P_DEVICE);
  const reserve = hF32(H_P_RESERVE);
  // what the rivals' outcome statistics need of the page as they bid on it (its ads change both)
  const highValue = stageOf(u) >= STAGE_CONSIDERING;
  const topValue = trueImpressionValue(u, ch);
  let rivalsWon = 0; // bit a: advertiser a won a slot
  let leftMicros = 0;
  if (ours) {
    const leftDay = hF64(H_DAILY_BUDGET_MICROS) - hF64(H_SPEND_TODAY);
    const leftFlight = hF64(H_FLIGHT_BUDGET_MICROS) - hF64(H_SPEND_FLIGHT);
    leftMicros = leftDay < leftFlight ? leftDay : leftFlight;
    // the bid can never commit more than the budget left (prices never exceed bids)
    const cap = leftMicros * 1e-6;
    if (ourBid > cap) ourBid = cap;
  }
  // the auction reads the pending bids and the quality row in place in the world header
  hSetF32(H_P_BIDS, ours ? ourBid : 0);
  hSetF32(H_QUALITY, ours ? prm(P_CREATIVE_CTR_MULT + creative) : 1);
  const filled = allocate(
    wb + H_P_BIDS, wb + H_QUALITY, NB, truncSatI32(chParam(ch, CHF_MECHANISM)), truncSatI32(chParam(ch, CHF_SLOTS)), reserve,
    prm(P_QUALITY_WEIGHTED) > 0.5, WINNERS, PRICES,
  );
  if (filled === 0) stat(S_UNSOLD, 1);
  let clickedAny = false;
  const fatiguePerAd = prm(P_USER_FATIGUE_PER_AD);
  const fatigueFactor = fatigueFactorPerAd();
  let won = false;
  for (let k = 0; k < filled; k++) {
    const a = loadI32(WINNERS + (k << 2));
    const price = loadF32(PRICES + (k << 2));
    const cr = a === OUR_BIDDER ? creative : 0;
    // cascade: a user clicks at most one ad of a page, scanning from the top slot
    const clicked = !clickedAny && uniform() < clickProb(u, ch, k, a, cr);
    if (clicked) clickedAny = true;
    let micros = Math.floor(price * 1e6);
    if (a === OUR_BIDDER) {
      if (micros > leftMicros) micros = leftMicros;
      hSetF64(H_SPEND_TODAY, hF64(H_SPEND_TODAY) + micros);
      hSetF64(H_SPEND_FLIGHT, hF64(H_SPEND_FLIGHT) + micros);
      const cost = micros * 1e-6;
      stat(S_IMPRESSIONS, 1);
      stat(S_SPEND, cost);
      stat(S_REWARD, -cost);
      stat(S_WIN_VALUE, hF32(H_P_REF_VALUE));
      if (clicked) stat(S_CLICKS, 1);
      bumpExposure(u, creative);
      won = true;
      stepWon = 1;
      stepCost = cost;
      stepSlot = k;
      stepClicked = clicked ? 1 : 0;
      recordTouch(u, HOUR, OUR_BIDDER, ch, creative, device, k, clicked, truncSatU32(hF64(H_DECISIONS)));
    } else {
      const p = H_RIVAL_LEFT + ((a - 1) << 3);
      const cost = micros * 1e-6;
      hSetF64(p, hF64(p) - cost);
      stat(S_RIVAL_SPEND, cost);
      stat(S_RIVAL_IMPRESSIONS, 1);
      rivalWon(a - 1, ch, k, topValue, cost, clicked);
      rivalsWon |= 1 << a;
      recordTouch(u, HOUR, a, ch, 0, device, k, clicked, 0);
    }
    fatigueAdded(fatigueFactor);
    onImpression(u, HOUR, ch, clicked);
  }
  rivalEntries(highValue, rivalsWon, won);
  if (filled > 0) {
    // one update for the page: fatigue of all its ads, and the user's next due event
    addFatigue(u, HOUR, fatiguePerAd * filled);
    scheduleNext(u);
    const d = prm(P_PRICE_INDEX_DECAY);
    hSetF64(H_PRICE_INDEX, hF64(H_PRICE_INDEX) * d + loadF32(PRICES) * (1.0 - d));
  }
  if (ours) {
    hSetF64(H_WIN_EMA, hF64(H_WIN_EMA) * 0.99 + (won ? 0.01 : 0.0));
    if (won) hSetF64(H_CPC_EMA, hF64(H_CPC_EMA) * 0.95 + stepCost * 0.05);
    if (hF64(H_FLIGHT_BUDGET_MICROS) - hF64(H_SPEND_FLIGHT) < MIN_BUDGET_MICROS) endFlight(TERMINAL_BUDGET);
  }
}

// A world that goes this many hours without an auction we may bid in is misconfigured (no
// traffic, no enabled channel): the step stops and reports it rather than spinning forever.
const MAX_IDLE_HOURS = 24 * 366 * 5;
export let stalled = 0;
/** No AS counterpart: the kernel's `stalled` belongs to its instance, while this module is shared
 *  by every TsWorldCore of the JS realm, so index.ts saves and restores it per core. */
export function setStalled(v: number): void {
  stalled = v;
}

// Runs the world until an auction where our campaign bids; leaves it pending.
function advance(): void {
  let idle = 0;
  while (true) {
    if (!nextOpportunity(HOUR)) {
      if (++idle > MAX_IDLE_HOURS) {
        stalled = 1;
        return;
      }
      hSetI32(H_HOUR, HOUR + 1);
      beginHour();
      continue;
    }
    stepOpps++;
    stat(S_OPPORTUNITIES, 1);
    const ch = hI32(H_P_CHANNEL);
    if (ourEligible(ch)) {
      const u = hI32(H_P_USER);
      scanVisible(u, hI32(H_P_DEVICE));
      ourEstimates(u, ch, HOUR, trackedStage());
      saveOpportunity();
      hSetI32(H_PENDING, 1);
      return;
    }
    resolve(0, 0, false);
  }
}

function writeInfo(w: number, reward: number): void {
  const info = IO_INFO + w * INFO_DIM * 8;
  const u = hI32(H_P_USER);
  storeF32(IO_REWARD + (w << 2), reward);
  storeU8(IO_TERMINATED + w, stepTerminal === TERMINAL_BUDGET ? 1 : 0);
  storeU8(IO_TRUNCATED + w, stepTerminal === TERMINAL_FLIGHT_END ? 1 : 0);
  storeF64(info + (I_COST << 3), stepCost);
  storeF64(info + (I_WON << 3), stepWon);
  storeF64(info + (I_CLICKED << 3), stepClicked);
  storeF64(info + (I_SLOT << 3), stepSlot);
  storeF64(info + (I_CHANNEL << 3), hI32(H_P_CHANNEL));
  storeF64(info + (I_SEGMENT << 3), segOf(u));
  storeF64(info + (I_CREDITED_VALUE << 3), hF64(H_REWARD_ACC));
  storeF64(info + (I_DECISION_ID << 3), hF64(H_DECISIONS));
  storeF64(info + (I_HOUR << 3), HOUR);
  storeF64(info + (I_USER << 3), u);
  storeF64(info + (I_IMPORTANCE << 3), segParam(segOf(u), SEGF_IMPORTANCE_WEIGHT));
  storeF64(info + (I_REF_VALUE_DOLLARS << 3), hF32(H_P_REF_VALUE));
  storeF64(info + (I_EPISODE << 3), hI32(H_EPISODE));
  storeF64(info + (I_OPPORTUNITIES << 3), stepOpps);
  storeF64(info + (I_TERMINAL_KIND << 3), stepTerminal);
}

function clearStep(): void {
  stepTerminal = TERMINAL_NONE;
  stepOpps = 0;
  stepCost = 0;
  stepWon = 0;
  stepClicked = 0;
  stepSlot = -1;
  hSetF64(H_REWARD_ACC, 0);
}

// Per-world variation of the market drawn at reset (the Monte Carlo design: each world a different
// rival mix and season). Off by default; draws happen only when enabled, so the default stream is
// unchanged.
function resampleMarket(): void {
  const redraw = prm(P_RESAMPLE_RIVALS);
  const valueSd = prm(P_RESAMPLE_VALUE_SD);
  if (redraw > 0 || valueSd > 0) {
    for (let r = 0; r < NR; r++) {
      const base = H_RIVALS + ((r * RIV_STRIDE) << 2);
      if (redraw > 0 && uniform() < redraw) hSetF32(base + (RIVF_STRATEGY << 2), below(4));
      if (valueSd > 0) {
        const p = base + (RIVF_VALUE_MULT << 2);
        hSetF32(p, hF32(p) * Math.exp(valueSd * normal()));
      }
    }
  }
  const jitter = prm(P_SEASON_PERIOD_JITTER);
  if (jitter > 0) hSetF64(H_SEASON_PERIOD, prm(P_SEASON_PERIOD_DAYS) * (1.0 + jitter * (2.0 * uniform() - 1.0)));
}

export function resetWorld(w: number, seedLo: number, seedHi: number): void {
  const base = worldBase(w);
  memoryFill(base, 0, WORLD_STRIDE);
  setWorldBase(base);
  storeU32(wb + H_MAGIC, WORLD_MAGIC);
  storeU32(wb + H_VERSION, LAYOUT_VERSION);
  storeU32(wb + H_SHAPE_HASH, shapeHash());
  rngSeed(seedLo >>> 0, seedHi >>> 0);
  hSetI32(H_HOUR, 0);
  hSetI32(H_EPISODE, -1);
  hSetI32(H_FLIGHT_OVER, 1);
  hSetI32(H_FLIGHT_START, prmI(P_WARMUP_DAYS) * 24);
  setBudgetScale(1.0);
  let noise = 1.0 + prm(P_MARKET_NOISE_SD) * normal();
  if (noise < 0.5) noise = 0.5;
  hSetF64(H_MARKET_NOISE, noise);
  hSetF64(H_SEASON_PHASE, 6.283185307179586 * uniform());
  for (let r = 0; r < NR; r++) {
    for (let f = 0; f < RIV_STRIDE; f++) {
      hSetF32(H_RIVALS + ((r * RIV_STRIDE + f) << 2), prm(P_RIVALS + r * RIV_STRIDE + f));
    }
  }
  resampleMarket();
  initPopulation();
  refillRivalBudgets();
  refreshRivalQuality();
  hSetI32(H_STARTED, 1);
  clearStep();
  deriveClock();
  beginHour();
  advance();
  writeInfo(w, 0);
  writeObs(w, true);
  leaveWorld();
}

function stepWorld(w: number): void {
  enterWorld(w);
  clearStep();
  let bid = loadF32(IO_BID + (w << 2));
  const bidMax = prm(P_BID_MAX);
  if (!(bid >= 0)) bid = 0; // NaN and negatives (the env rejects them before they get here)
  if (bid > bidMax) bid = bidMax;
  let creative = loadI32(IO_CREATIVE + (w << 2));
  if (creative < 0 || creative >= NC) creative = 0;
  stat(S_DECISIONS, 1);
  restoreOpportunity();
  resolve(bid, creative, true);
  hSetI32(H_PENDING, 0);
  hSetF64(H_DECISIONS, hF64(H_DECISIONS) + 1);
  advance();
  const reward = hF64(H_REWARD_ACC) - stepCost;
  writeInfo(w, reward);
  writeObs(w, true);
  leaveWorld();
}

// Returns 1 when a world stalled (see MAX_IDLE_HOURS), so the caller needs no second call.
export function stepWorlds(from: number, to: number): number {
  for (let w = from; w < to; w++) stepWorld(w);
  return stalled;
}

// 0 when the world in slot w is a valid world of this shape; otherwise a reason code.
export function checkWorld(w: number): number {
  const base = worldBase(w);
  if (loadU32(base + H_MAGIC) !== WORLD_MAGIC) return 1;
  if (loadU32(base + H_VERSION) !== LAYOUT_VERSION) return 2;
  if (loadU32(base + H_SHAPE_HASH) !== shapeHash()) return 3;
  if (loadI32(base + H_STARTED) !== 1 || loadI32(base + H_PENDING) !== 1) return 4;
  return 0;
}

// Our budgets as the params' budgets x `scale`, in whole micros (scale 1: the params' budgets).
function setBudgetScale(scale: number): void {
  hSetF64(H_BUDGET_SCALE, scale);
  hSetF64(H_DAILY_BUDGET_MICROS, Math.floor(prm(P_DAILY_BUDGET_MICROS) * scale));
  hSetF64(H_FLIGHT_BUDGET_MICROS, Math.floor(prm(P_FLIGHT_BUDGET_MICROS) * scale));
}

function reemit(w: number): void {
  clearStep();
  restoreOpportunity();
  writeInfo(w, 0);
  writeObs(w, false);
}

// After a world's bytes were copied into slot w: re-emit its pending observation.
export function reemitWorld(w: number): void {
  enterWorld(w);
  reemit(w);
  leaveWorld();
}

// Between iterations the trainer may change a world: its rival rows (the caller writes them into
// the header at H_RIVALS first) and our budget scale (< 0: keep the world's). Re-derives what
// depends on them and re-emits the pending observation, whose budget features may have changed.
// The pending auction keeps the bids its rivals already made; rival budgets change at midnight.
export function applySettings(w: number, budgetScale: number): void {
  enterWorld(w);
  if (budgetScale >= 0) setBudgetScale(budgetScale);
  refreshRivalQuality();
  reemit(w);
  leaveWorld();
}

export function worldPtr(w: number): number {
  return worldBase(w);
}
