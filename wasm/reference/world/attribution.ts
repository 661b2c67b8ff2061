// Multi-touch attribution over a user's journey touchpoints (all advertisers, oldest first).
// Each model writes one credit per touchpoint into CREDIT; credits sum to 1.
import {
  MAX_RING, ATTR_LAST_CLICK, ATTR_LINEAR, ATTR_TIME_DECAY, ATTR_POSITION,
  P_TIME_DECAY_HALF_LIFE_HOURS, P_POSITION_FIRST_SHARE, P_POSITION_LAST_SHARE,
  P_DDA_FIRST_BONUS, P_DDA_LAST_BONUS, P_DDA_HALF_LIFE_HOURS, P_DDA_CHANNEL_WEIGHT,
} from "../../layout.js";
import { RING, U_RING_HEAD, U_RING_COUNT } from "./mem.js";
import { prm } from "./params.js";
import { u8At, ringIndex, tpHour, tpFlags, flagClicked, flagChannel } from "./state.js";
import { memoryData, loadF64, storeF64, loadI32, storeI32 } from "./memory.js";

export const CREDIT = memoryData(MAX_RING * 8); // f64 credits, chronological
export const TP_SLOT = memoryData(MAX_RING * 4); // i32 ring slot of the i-th touchpoint

export function creditAt(i: number): number {
  return loadF64(CREDIT + (i << 3));
}
function setCredit(i: number, v: number): void {
  storeF64(CREDIT + (i << 3), v);
}
export function slotAt(i: number): number {
  return loadI32(TP_SLOT + (i << 2));
}

// Fills TP_SLOT with the ring slots of u's touchpoints in time order; returns how many.
export function orderTouchpoints(u: number): number {
  const count = u8At(U_RING_COUNT, u);
  const head = u8At(U_RING_HEAD, u);
  for (let i = 0; i < count; i++) {
    let k = head - count + i;
    if (k < 0) k += RING;
    storeI32(TP_SLOT + (i << 2), k);
  }
  return count;
}

function ithHour(u: number, i: number): number {
  return tpHour(u, ringIndex(u, slotAt(i)));
}
function tpClicked(u: number, i: number): boolean {
  return flagClicked(tpFlags(ringIndex(u, slotAt(i))));
}
function tpChannel(u: number, i: number): number {
  return flagChannel(tpFlags(ringIndex(u, slotAt(i))));
}

function normalise(n: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += creditAt(i);
  if (sum > 0) {
    for (let i = 0; i < n; i++) setCredit(i, creditAt(i) / sum);
  } else {
    for (let i = 0; i < n; i++) setCredit(i, i === n - 1 ? 1.0 : 0.0);
  }
}

// Credits for touchpoints 0..n-1 (already ordered by orderTouchpoints) of user u converting at `hour`.
export function attribute(u: number, n: number, model: number, hour: number): void {
  if (n <= 0) return;
  if (model === ATTR_LAST_CLICK) {
    // last clicked touchpoint; with no click at all, the last touchpoint
    let winner = n - 1;
    for (let i = n - 1; i >= 0; i--) {
      if (tpClicked(u, i)) { winner = i; break; }
    }
    for (let i = 0; i < n; i++) setCredit(i, i === winner ? 1.0 : 0.0);
    return;
  }
  if (model === ATTR_LINEAR) {
    const c = 1.0 / n;
    for (let i = 0; i < n; i++) setCredit(i, c);
    return;
  }
  if (model === ATTR_TIME_DECAY) {
    const hl = prm(P_TIME_DECAY_HALF_LIFE_HOURS);
    for (let i = 0; i < n; i++) setCredit(i, Math.pow(2.0, -(hour - ithHour(u, i)) / hl));
    normalise(n);
    return;
  }
  if (model === ATTR_POSITION) {
    // U-shaped: first and last get fixed shares, the middle splits the rest
    if (n === 1) { setCredit(0, 1.0); return; }
    const first = prm(P_POSITION_FIRST_SHARE);
    const last = prm(P_POSITION_LAST_SHARE);
    if (n === 2) {
      const f = first + last > 0 ? first / (first + last) : 0.5;
      setCredit(0, f);
      setCredit(1, 1.0 - f);
      return;
    }
    const mid = (1.0 - first - last) / (n - 2);
    for (let i = 0; i < n; i++) setCredit(i, i === 0 ? first : i === n - 1 ? last : mid);
    normalise(n);
    return;
  }
  // data-driven style: time decay x first/last bonus x channel weight, normalised
  const hl = prm(P_DDA_HALF_LIFE_HOURS);
  const fb = prm(P_DDA_FIRST_BONUS);
  const lb = prm(P_DDA_LAST_BONUS);
  for (let i = 0; i < n; i++) {
    let w = Math.pow(2.0, -(hour - ithHour(u, i)) / hl) * prm(P_DDA_CHANNEL_WEIGHT + tpChannel(u, i));
    if (i === 0) w *= fb;
    if (i === n - 1) w *= lb;
    setCredit(i, w);
  }
  normalise(n);
}
