// One world's life: hours, flights (episodes), the decision loop and the auction outcome.
// A step resolves our pending bid, then runs the world forward (rival-only auctions, hourly
// events, day and flight boundaries) until the next auction where our campaign is eligible.
import {
  OBS_DIM, INFO_DIM, MAX_BIDDERS, MAX_SLOTS, NUM_STATS, OUR_BIDDER, LAYOUT_VERSION, WORLD_MAGIC,
  H_MAGIC, H_VERSION, H_SHAPE_HASH, H_RNG, H_HOUR, H_FLIGHT_START, H_EPISODE,
  H_PENDING, H_P_USER, H_P_CHANNEL, H_P_DEVICE, H_P_REF_VALUE, H_P_RESERVE, H_P_BIDS, H_QUALITY,
  H_FLIGHT_OVER, H_STARTED, H_LAST_TERMINAL, H_DECISIONS, H_SPEND_TODAY, H_SPEND_FLIGHT,
  H_MARKET_NOISE, H_PRICE_INDEX, H_REWARD_ACC, H_FLIGHT_FIRST_DECISION, H_SEASON_PHASE,
  H_WIN_EMA, H_CPC_EMA, H_RIVALS, H_RIVAL_LEFT, H_STATS_EPISODE, H_STATS_LAST_EPISODE, H_STATS_TOTAL,
  RIV_STRIDE, RIVF_QUALITY, P_RIVALS, MAX_RIVALS, RIVF_STRATEGY, RIVF_VALUE_MULT,
  P_RESAMPLE_RIVALS, P_RESAMPLE_VALUE_SD, P_SEASON_PERIOD_JITTER, P_SEASON_PERIOD_DAYS, H_SEASON_PERIOD,
  H_BUDGET_SCALE, H_DAILY_BUDGET_MICROS, H_FLIGHT_BUDGET_MICROS, STAGE_CONSIDERING,
  P_FLIGHT_DAYS, P_WARMUP_DAYS, P_DAILY_BUDGET_MICROS, P_FLIGHT_BUDGET_MICROS, P_BID_MAX,
  P_OUR_CHANNEL_ENABLED, P_QUALITY_WEIGHTED, P_MARKET_NOISE_SD, P_USER_FATIGUE_PER_AD,
  P_PRICE_INDEX_DECAY, P_CREATIVE_CTR_MULT, SEGF_IMPORTANCE_WEIGHT,
  S_OPPORTUNITIES, S_DECISIONS, S_IMPRESSIONS, S_CLICKS, S_SPEND, S_UNSOLD, S_WIN_VALUE,
  S_RIVAL_SPEND, S_RIVAL_IMPRESSIONS, S_REWARD, S_BUDGET_EXHAUSTED_HOURS,
  I_COST, I_WON, I_CLICKED, I_SLOT, I_CHANNEL, I_SEGMENT, I_CREDITED_VALUE, I_DECISION_ID, I_HOUR,
  I_USER, I_IMPORTANCE, I_REF_VALUE_DOLLARS, I_EPISODE, I_OPPORTUNITIES, I_TERMINAL_KIND,
} from "../layout";
import {
  NW, NR, NB, NC, WORLDS_BASE, WORLD_STRIDE, IO_OBS, IO_BID, IO_CREATIVE, IO_REWARD, IO_TERMINATED,
  IO_TRUNCATED, IO_INFO, U_SEG, shapeHash,
} from "./mem";
import { prm, prmI } from "./params";
import { rngLoad, rngStore, rngSeed, uniform, normal, below } from "./rng";
import { act, actBid, actCreative, actLogp, actValue, bidLevel } from "./policy";
import { expBeginWorld, expEndWorld, expNewRow, expObs, expWriteDecision, expWriteOutcome } from "./experience";
import { allocate } from "./auction";
import { deriveClock, HOUR, HOD } from "./clock";
import { wb, setWorldBase, hI32, hSetI32, hF32, hSetF32, hF64, hSetF64, stat, segOf, stageOf, bumpExposure, userAddrAt } from "./state";
import { initPopulation, addFatigue } from "./users";
import { segParam, fatigueFactorPerAd, channelMechanism, channelSlots } from "./tables";
import { recordTouch, onImpression, processUserEvents, crisisEvents, scheduleNext } from "./journey";
import {
  chParam, clickProb, nextOpportunity, ourEstimates, startHourOpportunities, saveOpportunity, restoreOpportunity,
  fatigueAdded, refillRivalBudgets, refreshRivalQuality, accrueRivalBudgets, trueImpressionValue, rivalWon, rivalEntries,
} from "./market";
import { scanVisible, trackedStage, writeObs } from "./observation";

export const TERMINAL_NONE = 0;
export const TERMINAL_BUDGET = 1; // flight budget exhausted: terminated
export const TERMINAL_FLIGHT_END = 2; // end of the flight: truncated
const MIN_BUDGET_MICROS: f64 = 10000; // below one cent left, the campaign stops bidding

const WINNERS = memory.data(MAX_SLOTS * 4);
const PRICES = memory.data(MAX_SLOTS * 4);
const TOP_VALUE = memory.data(8); // the pending auction's true top-slot value (f64)

// outcome of the current step
let stepTerminal: i32 = 0;
let stepOpps: i32 = 0;
let stepCost: f64 = 0;
let stepWon: i32 = 0;
let stepClicked: i32 = 0;
let stepSlot: i32 = -1;

@inline function worldBase(w: i32): usize {
  return WORLDS_BASE + <usize>w * WORLD_STRIDE;
}

function enterWorld(w: i32): void {
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
  memory.fill(wb + H_STATS_EPISODE, 0, NUM_STATS * 8);
}

function endFlight(kind: i32): void {
  memory.copy(wb + H_STATS_LAST_EPISODE, wb + H_STATS_EPISODE, NUM_STATS * 8);
  hSetI32(H_LAST_TERMINAL, kind);
  hSetI32(H_FLIGHT_OVER, 1);
  if (stepTerminal == TERMINAL_NONE) stepTerminal = kind;
}

function beginHour(): void {
  deriveClock();
  if (HOD == 0 && HOUR > 0) {
    hSetF64(H_SPEND_TODAY, 0);
    refillRivalBudgets();
  }
  accrueRivalBudgets();
  const flightHours = prmI(P_FLIGHT_DAYS) * 24;
  if (hI32(H_FLIGHT_OVER) == 0) {
    if (HOUR >= hI32(H_FLIGHT_START) + flightHours) {
      endFlight(TERMINAL_FLIGHT_END);
      startFlight();
    }
  } else if (HOD == 0 && HOUR >= prmI(P_WARMUP_DAYS) * 24) {
    startFlight();
  }
  processUserEvents(HOUR);
  crisisEvents(HOUR);
  startHourOpportunities();
  if (hI32(H_FLIGHT_OVER) == 0 && hF64(H_DAILY_BUDGET_MICROS) - hF64(H_SPEND_TODAY) < MIN_BUDGET_MICROS) {
    stat(S_BUDGET_EXHAUSTED_HOURS, 1);
  }
}

function ourEligible(ch: i32): bool {
  const b = wb;
  if (load<i32>(b, H_FLIGHT_OVER) != 0) return false;
  if (prm(P_OUR_CHANNEL_ENABLED + ch) < 0.5) return false;
  if (load<f64>(b, H_DAILY_BUDGET_MICROS) - load<f64>(b, H_SPEND_TODAY) < MIN_BUDGET_MICROS) return false;
  return load<f64>(b, H_FLIGHT_BUDGET_MICROS) - load<f64>(b, H_SPEND_FLIGHT) >= MIN_BUDGET_MICROS;
}

// Offsets of the stats a resolve updates, as constants: `load<f64>(b, OFFSET)` on a base held in a
// local is one machine load, where the accessors' `wb + offset` costs V8 a reload of the global and
// an add at every use (it does not reuse wasm global reads).
const ST_OPPORTUNITIES = H_STATS_EPISODE + (S_OPPORTUNITIES << 3);
const ST_UNSOLD = H_STATS_EPISODE + (S_UNSOLD << 3);
const ST_IMPRESSIONS = H_STATS_EPISODE + (S_IMPRESSIONS << 3);
const ST_SPEND = H_STATS_EPISODE + (S_SPEND << 3);
const ST_REWARD = H_STATS_EPISODE + (S_REWARD << 3);
const ST_WIN_VALUE = H_STATS_EPISODE + (S_WIN_VALUE << 3);
const ST_CLICKS = H_STATS_EPISODE + (S_CLICKS << 3);
const ST_RIVAL_SPEND = H_STATS_EPISODE + (S_RIVAL_SPEND << 3);
const ST_RIVAL_IMPRESSIONS = H_STATS_EPISODE + (S_RIVAL_IMPRESSIONS << 3);

// Runs the auction of the pending opportunity. `ours` is false for rival-only auctions.
function resolve(ourBid: f64, creative: i32, ours: bool): void {
  const b = wb;
  const u = load<i32>(b, H_P_USER);
  const ch = load<i32>(b, H_P_CHANNEL);
  const device = load<i32>(b, H_P_DEVICE);
  const reserve = load<f32>(b, H_P_RESERVE);
  // what the rivals' outcome statistics need of the page as they bid on it (its ads change both)
  const highValue = stageOf(u) >= STAGE_CONSIDERING;
  // through memory, or V8 recomputes its chain of multiplies at every use
  store<f64>(TOP_VALUE, trueImpressionValue(u, ch));
  let rivalsWon = 0; // bit a: advertiser a won a slot
  let leftMicros: f64 = 0;
  if (ours) {
    const leftDay = load<f64>(b, H_DAILY_BUDGET_MICROS) - load<f64>(b, H_SPEND_TODAY);
    const leftFlight = load<f64>(b, H_FLIGHT_BUDGET_MICROS) - load<f64>(b, H_SPEND_FLIGHT);
    leftMicros = leftDay < leftFlight ? leftDay : leftFlight;
    // the bid can never commit more than the budget left (prices never exceed bids)
    const cap = leftMicros * 1e-6;
    if (ourBid > cap) ourBid = cap;
  }
  // the auction reads the pending bids and the quality row in place in the world header
  store<f32>(b, ours ? <f32>ourBid : 0, H_P_BIDS);
  store<f32>(b, ours ? <f32>prm(P_CREATIVE_CTR_MULT + creative) : 1, H_QUALITY);
  const filled = allocate(
    b + H_P_BIDS, b + H_QUALITY, NB, channelMechanism(ch), channelSlots(ch), reserve,
    prm(P_QUALITY_WEIGHTED) > 0.5, WINNERS, PRICES,
  );
  if (filled == 0) store<f64>(b, load<f64>(b, ST_UNSOLD) + 1, ST_UNSOLD);
  let clickedAny = false;
  const fatiguePerAd = prm(P_USER_FATIGUE_PER_AD);
  const fatigueFactor = fatigueFactorPerAd();
  let won = false;
  for (let k = 0; k < filled; k++) {
    const a = load<i32>(WINNERS + (<usize>k << 2));
    const price = <f64>load<f32>(PRICES + (<usize>k << 2));
    const cr = a == OUR_BIDDER ? creative : 0;
    // cascade: a user clicks at most one ad of a page, scanning from the top slot
    const clicked = !clickedAny && uniform() < clickProb(u, ch, k, a, cr);
    if (clicked) clickedAny = true;
    let micros = Math.floor(price * 1e6);
    if (a == OUR_BIDDER) {
      if (micros > leftMicros) micros = leftMicros;
      store<f64>(b, load<f64>(b, H_SPEND_TODAY) + micros, H_SPEND_TODAY);
      store<f64>(b, load<f64>(b, H_SPEND_FLIGHT) + micros, H_SPEND_FLIGHT);
      const cost = micros * 1e-6;
      store<f64>(b, load<f64>(b, ST_IMPRESSIONS) + 1, ST_IMPRESSIONS);
      store<f64>(b, load<f64>(b, ST_SPEND) + cost, ST_SPEND);
      store<f64>(b, load<f64>(b, ST_REWARD) - cost, ST_REWARD);
      store<f64>(b, load<f64>(b, ST_WIN_VALUE) + <f64>load<f32>(b, H_P_REF_VALUE), ST_WIN_VALUE);
      if (clicked) store<f64>(b, load<f64>(b, ST_CLICKS) + 1, ST_CLICKS);
      bumpExposure(u, creative);
      won = true;
      stepWon = 1;
      stepCost = cost;
      stepSlot = k;
      stepClicked = clicked ? 1 : 0;
      recordTouch(u, HOUR, OUR_BIDDER, ch, creative, device, k, clicked, <u32>load<f64>(b, H_DECISIONS));
    } else {
      const p = b + H_RIVAL_LEFT + (<usize>(a - 1) << 3);
      const cost = micros * 1e-6;
      store<f64>(p, load<f64>(p) - cost);
      store<f64>(b, load<f64>(b, ST_RIVAL_SPEND) + cost, ST_RIVAL_SPEND);
      store<f64>(b, load<f64>(b, ST_RIVAL_IMPRESSIONS) + 1, ST_RIVAL_IMPRESSIONS);
      rivalWon(a - 1, ch, k, load<f64>(TOP_VALUE), cost, clicked);
      rivalsWon |= 1 << a;
      recordTouch(u, HOUR, a, ch, 0, device, k, clicked, 0);
    }
    fatigueAdded(fatigueFactor);
    onImpression(u, HOUR, ch, clicked);
  }
  rivalEntries(highValue, rivalsWon, won);
  if (filled > 0) {
    // one update for the page: fatigue of all its ads, and the user's next due event
    addFatigue(u, HOUR, fatiguePerAd * <f64>filled);
    scheduleNext(u);
    const d = prm(P_PRICE_INDEX_DECAY);
    store<f64>(b, load<f64>(b, H_PRICE_INDEX) * d + <f64>load<f32>(PRICES) * (1.0 - d), H_PRICE_INDEX);
  }
  if (ours) {
    store<f64>(b, load<f64>(b, H_WIN_EMA) * 0.99 + (won ? 0.01 : 0.0), H_WIN_EMA);
    if (won) store<f64>(b, load<f64>(b, H_CPC_EMA) * 0.95 + stepCost * 0.05, H_CPC_EMA);
    if (load<f64>(b, H_FLIGHT_BUDGET_MICROS) - load<f64>(b, H_SPEND_FLIGHT) < MIN_BUDGET_MICROS) endFlight(TERMINAL_BUDGET);
  }
}

// A world that goes this many hours without an auction we may bid in is misconfigured (no
// traffic, no enabled channel): the step stops and reports it rather than spinning forever.
const MAX_IDLE_HOURS: i32 = 24 * 366 * 5;
export let stalled: i32 = 0;
/** Clears the stall flag (before a batch of resets or rollouts). */
export function clearStalled(): void {
  stalled = 0;
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
    const b = wb;
    store<f64>(b, load<f64>(b, ST_OPPORTUNITIES) + 1, ST_OPPORTUNITIES);
    const ch = load<i32>(b, H_P_CHANNEL);
    if (ourEligible(ch)) {
      const u = load<i32>(b, H_P_USER);
      scanVisible(u, load<i32>(b, H_P_DEVICE));
      ourEstimates(u, ch, HOUR, trackedStage());
      saveOpportunity();
      store<i32>(b, 1, H_PENDING);
      return;
    }
    resolve(0, 0, false);
  }
}

function writeInfo(w: i32, reward: f64): void {
  const info = IO_INFO + <usize>w * INFO_DIM * 8;
  // the world base through a local and constant offsets (the global costs V8 a reload per use)
  const b = wb;
  const u = load<i32>(b, H_P_USER);
  const seg = <i32>load<u8>(userAddrAt(b, u), U_SEG);
  store<f32>(IO_REWARD + (<usize>w << 2), <f32>reward);
  store<u8>(IO_TERMINATED + <usize>w, stepTerminal == TERMINAL_BUDGET ? 1 : 0);
  store<u8>(IO_TRUNCATED + <usize>w, stepTerminal == TERMINAL_FLIGHT_END ? 1 : 0);
  store<f64>(info, stepCost, I_COST << 3);
  store<f64>(info, <f64>stepWon, I_WON << 3);
  store<f64>(info, <f64>stepClicked, I_CLICKED << 3);
  store<f64>(info, <f64>stepSlot, I_SLOT << 3);
  store<f64>(info, <f64>load<i32>(b, H_P_CHANNEL), I_CHANNEL << 3);
  store<f64>(info, <f64>seg, I_SEGMENT << 3);
  store<f64>(info, load<f64>(b, H_REWARD_ACC), I_CREDITED_VALUE << 3);
  store<f64>(info, load<f64>(b, H_DECISIONS), I_DECISION_ID << 3);
  store<f64>(info, <f64>HOUR, I_HOUR << 3);
  store<f64>(info, <f64>u, I_USER << 3);
  store<f64>(info, segParam(seg, SEGF_IMPORTANCE_WEIGHT), I_IMPORTANCE << 3);
  store<f64>(info, <f64>load<f32>(b, H_P_REF_VALUE), I_REF_VALUE_DOLLARS << 3);
  store<f64>(info, <f64>load<i32>(b, H_EPISODE), I_EPISODE << 3);
  store<f64>(info, <f64>stepOpps, I_OPPORTUNITIES << 3);
  store<f64>(info, <f64>stepTerminal, I_TERMINAL_KIND << 3);
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
      if (redraw > 0 && uniform() < redraw) hSetF32(base + (RIVF_STRATEGY << 2), <f32>below(4));
      if (valueSd > 0) {
        const p = base + (RIVF_VALUE_MULT << 2);
        hSetF32(p, <f32>(<f64>hF32(p) * Math.exp(valueSd * normal())));
      }
    }
  }
  const jitter = prm(P_SEASON_PERIOD_JITTER);
  if (jitter > 0) hSetF64(H_SEASON_PERIOD, prm(P_SEASON_PERIOD_DAYS) * (1.0 + jitter * (2.0 * uniform() - 1.0)));
}

export function resetWorld(w: i32, seedLo: u32, seedHi: u32): void {
  const base = worldBase(w);
  memory.fill(base, 0, WORLD_STRIDE);
  setWorldBase(base);
  store<u32>(wb + H_MAGIC, WORLD_MAGIC);
  store<u32>(wb + H_VERSION, LAYOUT_VERSION);
  store<u32>(wb + H_SHAPE_HASH, shapeHash());
  rngSeed(seedLo, seedHi);
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
      hSetF32(H_RIVALS + ((r * RIV_STRIDE + f) << 2), <f32>prm(P_RIVALS + r * RIV_STRIDE + f));
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

// One decision of the entered world, whoever made it (env step or policy rollout): our bid
// (clamped to [0, bidMax]) goes into the pending auction, then the world runs to its next decision.
function decide(bid: f64, creative: i32): void {
  clearStep();
  const bidMax = prm(P_BID_MAX);
  if (!(bid >= 0)) bid = 0; // NaN and negatives (the env rejects them before they get here)
  if (bid > bidMax) bid = bidMax;
  stat(S_DECISIONS, 1);
  restoreOpportunity();
  resolve(bid, creative, true);
  hSetI32(H_PENDING, 0);
  hSetF64(H_DECISIONS, hF64(H_DECISIONS) + 1);
  advance();
}

function stepWorld(w: i32): void {
  enterWorld(w);
  let creative = load<i32>(IO_CREATIVE + (<usize>w << 2));
  if (creative < 0 || creative >= NC) creative = 0;
  decide(<f64>load<f32>(IO_BID + (<usize>w << 2)), creative);
  const reward = hF64(H_REWARD_ACC) - stepCost;
  writeInfo(w, reward);
  writeObs(w, true);
  leaveWorld();
}

// Rolls world w out with the loaded policy until its pending decision is at or after `untilHour`,
// writing one experience row per decision (experience.ts). The world is left pending at a decision,
// so rollouts, env steps and serialisation compose. `global` names the world in the rows, `salt`
// drives importance sampling; greedy != 0 takes each head's argmax instead of sampling.
export function rolloutWorld(w: i32, global: u32, salt: u32, untilHour: i32, greedy: i32, version: u32): i32 {
  enterWorld(w);
  expBeginWorld(global, <u32>hF64(H_DECISIONS), salt, version);
  const bidMax = prm(P_BID_MAX);
  const obsIo = IO_OBS + <usize>w * OBS_DIM * 4;
  let decisions = 0;
  while (HOUR < untilHour && stalled == 0) {
    const r = expNewRow();
    // the policy reads the pending observation and copies it into the row as it normalises it
    act(obsIo, greedy != 0, expObs(r));
    const refValue = hF32(H_P_REF_VALUE);
    let bid = bidLevel(actBid) * <f64>refValue;
    if (bid > bidMax) bid = bidMax;
    // An env action is a float32 (IO_BID): round the same way, so a policy acting through the env
    // (agents/policy/bidder.ts) places bit-identical bids and the row records the bid placed
    // (decide clamps to bidMax again, as it does for env steps).
    bid = <f64><f32>bid;
    const u = hI32(H_P_USER);
    expWriteDecision(r, <u32>hF64(H_DECISIONS), u, HOUR, hI32(H_EPISODE), segOf(u), hI32(H_P_CHANNEL), refValue, actBid, actCreative, bid, actLogp, actValue);
    decide(bid, actCreative);
    expWriteOutcome(r, stepCost, stepWon, stepClicked, stepSlot, stepTerminal);
    writeObs(w, true);
    decisions++;
  }
  expEndWorld();
  clearStep();
  writeInfo(w, 0);
  leaveWorld();
  return decisions;
}

// Returns 1 when a world stalled (see MAX_IDLE_HOURS), so the caller needs no second call.
export function stepWorlds(from: i32, to: i32): i32 {
  stalled = 0;
  for (let w = from; w < to; w++) stepWorld(w);
  return stalled;
}

// 0 when the world in slot w is a valid world of this shape; otherwise a reason code.
export function checkWorld(w: i32): i32 {
  const base = worldBase(w);
  if (load<u32>(base + H_MAGIC) != WORLD_MAGIC) return 1;
  if (load<u32>(base + H_VERSION) != LAYOUT_VERSION) return 2;
  if (load<u32>(base + H_SHAPE_HASH) != shapeHash()) return 3;
  if (load<i32>(base + H_STARTED) != 1 || load<i32>(base + H_PENDING) != 1) return 4;
  return 0;
}

// Our budgets as the params' budgets x `scale`, in whole micros (scale 1: the params' budgets).
function setBudgetScale(scale: f64): void {
  hSetF64(H_BUDGET_SCALE, scale);
  hSetF64(H_DAILY_BUDGET_MICROS, Math.floor(prm(P_DAILY_BUDGET_MICROS) * scale));
  hSetF64(H_FLIGHT_BUDGET_MICROS, Math.floor(prm(P_FLIGHT_BUDGET_MICROS) * scale));
}

function reemit(w: i32): void {
  clearStep();
  restoreOpportunity();
  writeInfo(w, 0);
  writeObs(w, false);
}

// After a world's bytes were copied into slot w: re-emit its pending observation.
export function reemitWorld(w: i32): void {
  enterWorld(w);
  reemit(w);
  leaveWorld();
}

// Between iterations the trainer may change a world: its rival rows (the caller writes them into
// the header at H_RIVALS first) and our budget scale (< 0: keep the world's). Re-derives what
// depends on them and re-emits the pending observation, whose budget features may have changed.
// The pending auction keeps the bids its rivals already made; rival budgets change at midnight.
export function applySettings(w: i32, budgetScale: f64): void {
  enterWorld(w);
  if (budgetScale >= 0) setBudgetScale(budgetScale);
  refreshRivalQuality();
  reemit(w);
  leaveWorld();
}

export function worldPtr(w: i32): usize {
  return worldBase(w);
}

