// What the trainer changes in a world between iterations -- its rival rows (RIV_STRIDE f32 per
// rival, adapted by agents/rivals) and our budget scale (the curriculum) -- and the outcome blocks
// it reads back: validation with field-level errors, and the byte-level reads and writes shared by
// VectorEnv and the engine's WorldRunner. The world core applies a change with applySettings().
import * as L from "../wasm/layout.js";
import { ConfigSchema, RIVAL_STRATEGIES, type GaelpConfig } from "./config.js";

/** Settings of one world (each optional: omitted keeps the world's own). */
export interface WorldSettings {
  /** rivals x RIV_STRIDE f32 rows (RIVF_* in wasm/layout.ts; env/params.ts rivalRows(config) gives the config's) */
  rivalParams?: Float32Array;
  /** multiplies our campaign's daily and flight budgets (1 = the config's) */
  budgetScale?: number;
}

const MIN_BUDGET_DOLLARS = 0.01; // the world stops bidding below one cent left (wasm/assembly/world.ts)
export const BUDGET_SCALE_MAX = 1000;

interface FieldRange {
  name: string;
  lo: number;
  hi: number;
  integer?: boolean;
}

// Allowed range of each RIVF_* slot: the config schema's (as f32, so a config value written as f32
// passes), budgets in micros; the slots past RIVF_QUALITY are unused and must be 0.
const FIELDS: FieldRange[] = (() => {
  const rival = ConfigSchema.properties.rivals.items.properties;
  const num = (key: "valueMult" | "shade" | "noise" | "dailyBudget" | "defenseGain" | "quality", scale = 1): [number, number] =>
    [Math.fround(rival[key].minimum! * scale), Math.fround(rival[key].maximum! * scale)];
  const vec = (key: "segmentMult" | "channelMult" | "stageMult"): [number, number] =>
    [Math.fround(rival[key].items.minimum!), Math.fround(rival[key].items.maximum!)];
  const out: FieldRange[] = Array.from({ length: L.RIV_STRIDE }, (_, i) => ({ name: `unused slot ${i}`, lo: 0, hi: 0 }));
  const set = (i: number, name: string, [lo, hi]: [number, number], integer = false) => { out[i] = { name, lo, hi, integer }; };
  set(L.RIVF_STRATEGY, `strategy (index into ${RIVAL_STRATEGIES.join(", ")})`, [0, RIVAL_STRATEGIES.length - 1], true);
  set(L.RIVF_VALUE_MULT, "valueMult", num("valueMult"));
  set(L.RIVF_SHADE, "shade", num("shade"));
  set(L.RIVF_NOISE, "noise", num("noise"));
  set(L.RIVF_DAILY_BUDGET_MICROS, "dailyBudget (micros)", num("dailyBudget", 1e6));
  set(L.RIVF_DEFENSE_GAIN, "defenseGain", num("defenseGain"));
  for (let s = 0; s < L.NUM_SEGMENTS; s++) set(L.RIVF_SEGMENT_MULT + s, `segmentMult[${s}]`, vec("segmentMult"));
  for (let c = 0; c < L.NUM_CHANNELS; c++) set(L.RIVF_CHANNEL_MULT + c, `channelMult[${c}]`, vec("channelMult"));
  for (let s = 0; s < 4; s++) set(L.RIVF_STAGE_MULT + s, `stageMult[${s}]`, vec("stageMult"));
  set(L.RIVF_QUALITY, "quality", num("quality"));
  return out;
})();

/** Checks one world's rival rows; the error names `name`, the rival, the field and its range. */
export function validateRivalParams(rows: unknown, numRivals: number, name: string): Float32Array {
  const want = numRivals * L.RIV_STRIDE;
  if (!(rows instanceof Float32Array) || rows.length !== want) {
    const got = rows instanceof Float32Array ? `a Float32Array of ${rows.length}` : (rows as object)?.constructor?.name ?? typeof rows;
    throw new RangeError(`${name} must be a Float32Array of ${want} values (${numRivals} rivals x RIV_STRIDE ${L.RIV_STRIDE}), got ${got}`);
  }
  for (let r = 0; r < numRivals; r++) {
    for (let f = 0; f < L.RIV_STRIDE; f++) {
      const v = rows[r * L.RIV_STRIDE + f];
      const { name: field, lo, hi, integer } = FIELDS[f];
      if (!(v >= lo && v <= hi) || (integer && !Number.isInteger(v))) {
        const range = lo === hi ? `must be ${lo}` : `must be ${integer ? "an integer " : ""}in [${lo}, ${hi}]`;
        throw new RangeError(`${name}: rival ${r} ${field} (index ${r * L.RIV_STRIDE + f}) is ${v}; it ${range}`);
      }
    }
  }
  return rows;
}

/** Checks a budget scale: finite, in (0, BUDGET_SCALE_MAX], and leaving at least a cent a day. */
export function validateBudgetScale(scale: unknown, config: GaelpConfig, name = "budgetScale"): number {
  if (typeof scale !== "number" || !(scale > 0 && scale <= BUDGET_SCALE_MAX)) {
    throw new RangeError(`${name} must be a number in (0, ${BUDGET_SCALE_MAX}], got ${String(scale)}`);
  }
  const daily = Math.floor(Math.floor(config.campaign.dailyBudget * 1e6) * scale) / 1e6;
  if (daily < MIN_BUDGET_DOLLARS) {
    throw new RangeError(`${name} ${scale} leaves a daily budget of $${daily} (campaign.dailyBudget ${config.campaign.dailyBudget} x ${name}); the campaign needs at least $${MIN_BUDGET_DOLLARS} to bid`);
  }
  return scale;
}

/** Writes rival rows into the world whose bytes start at `worldBase` in `mem` (then call the core's applySettings). */
export function writeRivalRows(mem: ArrayBuffer, worldBase: number, rows: Float32Array): void {
  new Float32Array(mem, worldBase + L.H_RIVALS, rows.length).set(rows);
}

/** Adds the world's lifetime stats (closed flights + the current one; NUM_STATS, S_*) times `sign` into `out`. */
export function addWorldTotals(mem: ArrayBuffer, worldBase: number, out: Float64Array, sign: 1 | -1 = 1): void {
  const closed = new Float64Array(mem, worldBase + L.H_STATS_TOTAL, L.NUM_STATS);
  const current = new Float64Array(mem, worldBase + L.H_STATS_EPISODE, L.NUM_STATS);
  for (let i = 0; i < L.NUM_STATS; i++) out[i] += sign * (closed[i] + current[i]);
}

/** The world's rival outcome totals: numRivals x RIVAL_STATS (RS_*), a view into `mem`. */
export function rivalTotals(mem: ArrayBuffer, worldBase: number, numRivals: number): Float64Array {
  return new Float64Array(mem, worldBase + L.H_RIVAL_STATS, numRivals * L.RIVAL_STATS);
}
