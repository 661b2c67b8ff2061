// The experience writer: one row per decision of a rollout, struct-of-arrays (column ids in
// layout.ts) so the engine builds Arrow vectors straight over these bytes.
//
// Delayed credit: a conversion's attributed value reaches the decisions that bought its
// touchpoints. While a world is being rolled out its rows are addressable by decision id (a
// world's decisions are numbered consecutively), so credit and journey ends for decisions of the
// current rollout are written into their rows in place. Those for decisions of an earlier rollout
// become late events (world, decision, kind, value) that the learner applies to what it holds.
// Which events are late depends only on the iteration boundaries, never on how worlds were split
// into tasks, so the bytes are the same for any split.
import {
  OBS_DIM, X_COLS, X_WORLD, X_DECISION, X_USER, X_HOUR, X_EPISODE, X_OBS, X_BID_LEVEL, X_CREATIVE,
  X_BID, X_LOGP, X_VALUE, X_REWARD, X_COST, X_WON, X_CLICKED, X_SLOT, X_TERMINAL, X_JOURNEY_END,
  X_ATTRIBUTED, X_WEIGHT, X_POLICY_VERSION, X_SEGMENT, X_CHANNEL, X_REF_VALUE, X_KEEP,
  LATE_BYTES, LATE_CREDIT, P_SAMPLE_KEEP,
} from "../layout";
import { heapAlloc } from "./heap";
import { prm } from "./params";
import { devAddr } from "./state";

const COL = memory.data(X_COLS * 8); // usize column base pointers
let ROW_CAP: i32 = 0;
export let ROWS: i32 = 0;
let LATE: usize = 0;
let LATE_CAP: i32 = 0;
export let LATE_N: i32 = 0;

export let recording = false;
let worldGlobal: u32 = 0;
let firstDecision: u32 = 0;
let row0: i32 = 0;
let salt: u32 = 0;
let policyVersion: u32 = 0;

// bytes per row of each column
function width(c: i32): usize {
  switch (c) {
    case X_OBS: return <usize>OBS_DIM * 4;
    case X_ATTRIBUTED: return 8;
    case X_BID_LEVEL: case X_CREATIVE: case X_WON: case X_CLICKED: case X_SLOT: case X_TERMINAL:
    case X_JOURNEY_END: case X_SEGMENT: case X_CHANNEL: case X_KEEP: return 1;
    default: return 4;
  }
}

@inline export function col(c: i32): usize {
  return load<usize>(COL + (<usize>c << 3));
}

// Lays the columns out for `rows` rows and `late` late events at a fresh region, keeping what the
// old region held (the first ROWS rows and LATE_N events).
export function expReserve(rows: i32, late: i32): void {
  if (rows < ROW_CAP) rows = ROW_CAP;
  if (late < LATE_CAP) late = LATE_CAP;
  let bytes: usize = 0;
  for (let c = 0; c < X_COLS; c++) bytes += ((<usize>rows * width(c)) + 15) & ~15;
  bytes += <usize>late * LATE_BYTES;
  const base = heapAlloc(bytes);
  let p = base;
  for (let c = 0; c < X_COLS; c++) {
    const w = width(c);
    if (ROWS > 0) memory.copy(p, col(c), <usize>ROWS * w);
    store<usize>(COL + (<usize>c << 3), p);
    p += ((<usize>rows * w) + 15) & ~15;
  }
  if (LATE_N > 0) memory.copy(p, LATE, <usize>LATE_N * LATE_BYTES);
  LATE = p;
  ROW_CAP = rows;
  LATE_CAP = late;
}

/** Empties the buffers (the next task starts at row 0). */
export function expClear(): void {
  ROWS = 0;
  LATE_N = 0;
}

export function expColumnPtr(c: i32): usize { return col(c); }
export function expLatePtr(): usize { return LATE; }

function lateEvent(decision: u32, kind: u32, value: f64): void {
  if (LATE_N == LATE_CAP) expReserve(ROW_CAP, LATE_CAP < 256 ? 256 : LATE_CAP * 2);
  const p = LATE + <usize>LATE_N * LATE_BYTES;
  store<u32>(p, worldGlobal);
  store<u32>(p + 4, decision);
  store<u32>(p + 8, kind);
  store<u32>(p + 12, 0);
  store<f64>(p + 16, value);
  LATE_N++;
}

export function expBeginWorld(global: u32, first: u32, worldSalt: u32, version: u32): void {
  recording = true;
  worldGlobal = global;
  firstDecision = first;
  row0 = ROWS;
  salt = worldSalt;
  policyVersion = version;
}

// Row of decision d of the current world, or -1 when it belongs to an earlier rollout.
@inline function rowOf(d: u32): i32 {
  if (d < firstDecision) return -1;
  const r = row0 + <i32>(d - firstDecision);
  return r < ROWS ? r : -1;
}

/** A new row for the current world's next decision; returns its index. */
export function expNewRow(): i32 {
  if (ROWS == ROW_CAP) expReserve(ROW_CAP < 1024 ? 1024 : ROW_CAP * 2, LATE_CAP);
  return ROWS++;
}

@inline export function expObs(r: i32): usize {
  return col(X_OBS) + <usize>r * OBS_DIM * 4;
}

// Importance sampling: the row of user u (segment seg) is kept with probability keep[seg], decided
// by a hash of (world salt, user) so a user's rows are kept or dropped together and the world's
// random stream is untouched.
function keepProbability(seg: i32): f64 {
  return prm(P_SAMPLE_KEEP + seg);
}
function userUniform(u: i32): f64 {
  let h: u32 = salt ^ (<u32>u * 0x9e3779b1);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return <f64>h * 2.3283064365386963e-10;
}

export function expWriteDecision(
  r: i32, decision: u32, u: i32, hour: i32, episode: i32, seg: i32, ch: i32, refValue: f32,
  level: i32, creative: i32, bid: f64, logp: f64, value: f64,
): void {
  const ur = <usize>r;
  store<u32>(col(X_WORLD) + (ur << 2), worldGlobal);
  store<u32>(col(X_DECISION) + (ur << 2), decision);
  store<u32>(col(X_USER) + (ur << 2), <u32>u);
  store<i32>(col(X_HOUR) + (ur << 2), hour);
  store<i32>(col(X_EPISODE) + (ur << 2), episode);
  store<u8>(col(X_BID_LEVEL) + ur, <u8>level);
  store<u8>(col(X_CREATIVE) + ur, <u8>creative);
  store<f32>(col(X_BID) + (ur << 2), <f32>bid);
  store<f32>(col(X_LOGP) + (ur << 2), <f32>logp);
  store<f32>(col(X_VALUE) + (ur << 2), <f32>value);
  store<f32>(col(X_REWARD) + (ur << 2), 0);
  store<f64>(col(X_ATTRIBUTED) + (ur << 3), 0);
  store<u8>(col(X_JOURNEY_END) + ur, 0);
  store<u32>(col(X_POLICY_VERSION) + (ur << 2), policyVersion);
  store<u8>(col(X_SEGMENT) + ur, <u8>seg);
  store<u8>(col(X_CHANNEL) + ur, <u8>ch);
  store<f32>(col(X_REF_VALUE) + (ur << 2), refValue);
  const keep = keepProbability(seg);
  const kept = keep >= 1.0 || userUniform(u) < keep;
  store<u8>(col(X_KEEP) + ur, kept ? 1 : 0);
  store<f32>(col(X_WEIGHT) + (ur << 2), kept ? <f32>(1.0 / (keep >= 1.0 ? 1.0 : keep)) : 0);
  // the user's latest decision, so a journey end can be marked on it
  store<u32>(devAddr(u) + 24, decision + 1);
}

export function expWriteOutcome(r: i32, cost: f64, won: i32, clicked: i32, slot: i32, terminal: i32): void {
  const ur = <usize>r;
  const pr = col(X_REWARD) + (ur << 2);
  store<f32>(pr, <f32>(<f64>load<f32>(pr) - cost));
  store<f32>(col(X_COST) + (ur << 2), <f32>cost);
  store<u8>(col(X_WON) + ur, <u8>won);
  store<u8>(col(X_CLICKED) + ur, <u8>clicked);
  store<i8>(col(X_SLOT) + ur, <i8>slot);
  store<u8>(col(X_TERMINAL) + ur, <u8>terminal);
}

/** Conversion value credited to our decision d (called by convert()). */
export function expCredit(d: u32, dollars: f64): void {
  if (!recording) return;
  const r = rowOf(d);
  if (r < 0) {
    lateEvent(d, LATE_CREDIT, dollars);
    return;
  }
  const pa = col(X_ATTRIBUTED) + (<usize>r << 3);
  store<f64>(pa, load<f64>(pa) + dollars);
  const pr = col(X_REWARD) + (<usize>r << 2);
  store<f32>(pr, <f32>(<f64>load<f32>(pr) + dollars));
}

/** User u's journey ended (kind LATE_CONVERTED or LATE_LOST): marks our latest decision on u. */
export function expJourneyEnd(u: i32, kind: u32): void {
  if (!recording) return;
  const p = devAddr(u) + 24;
  const last = load<u32>(p);
  if (last == 0) return;
  store<u32>(p, 0);
  const d = last - 1;
  const r = rowOf(d);
  if (r < 0) {
    lateEvent(d, kind, 0);
    return;
  }
  store<u8>(col(X_JOURNEY_END) + <usize>r, <u8>(kind - 1));
}

// Drops the rows importance sampling did not keep (from the current world's first row on), moving
// the kept ones down; credit already landed in them, and nothing can reach them any more.
export function expEndWorld(): void {
  recording = false;
  const keepCol = col(X_KEEP);
  let w = row0;
  for (let r = row0; r < ROWS; r++) {
    if (load<u8>(keepCol + <usize>r) == 0) continue;
    if (w != r) {
      for (let c = 0; c < X_COLS; c++) {
        const bytes = width(c);
        const base = col(c);
        memory.copy(base + <usize>w * bytes, base + <usize>r * bytes, bytes);
      }
    }
    w++;
  }
  ROWS = w;
}
