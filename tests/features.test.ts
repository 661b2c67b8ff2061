// The observation feature table (env/features.ts) against the layout constants the WASM core
// writes with, and real observations against the table: one-hot groups have exactly one 1,
// cyclic encodings lie on the unit circle and agree with the clock in info, and derived features
// agree with each other.
import { describe, expect, it } from "vitest";
import * as L from "../wasm/layout.js";
import { FEATURES, OBS_HIGH, OBS_LOW, featureTableMarkdown } from "../env/features.js";
import { CHANNEL_NAMES, SEGMENT_NAMES, STAGE_NAMES, type GaelpConfig } from "../env/config.js";
import { VectorEnv } from "../env/vector_env.js";
import { newAction, ruleFor, smallConfig } from "./helpers/world.js";

const GROUPS = {
  stage: [L.F_STAGE_UNAWARE, 4],
  segment: [L.F_SEGMENT, L.NUM_SEGMENTS],
  channel: [L.F_CHANNEL, L.NUM_CHANNELS],
  pacing: [L.F_PACING_STATE, 3],
} as const;

describe("FEATURES table", () => {
  it("has OBS_DIM entries indexed 0..OBS_DIM-1 in order, unique names, low < high", () => {
    expect(FEATURES.length).toBe(L.OBS_DIM);
    FEATURES.forEach((f, i) => {
      expect(f.index, f.name).toBe(i);
      expect(f.low, f.name).toBeLessThan(f.high);
      expect(Number.isFinite(f.low) && Number.isFinite(f.high), f.name).toBe(true);
      expect(f.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(["journey", "user", "market", "budget"]).toContain(f.group);
      expect(f.unit.length, f.name).toBeGreaterThan(0);
      expect(f.normalisation.length, f.name).toBeGreaterThan(0);
    });
    expect(new Set(FEATURES.map((f) => f.name)).size).toBe(L.OBS_DIM);
    expect(Array.from(OBS_LOW)).toEqual(FEATURES.map((f) => f.low));
    expect(Array.from(OBS_HIGH)).toEqual(FEATURES.map((f) => f.high));
  });

  it("names agree with the layout constants the WASM core writes with", () => {
    const byName = (i: number) => FEATURES[i].name;
    SEGMENT_NAMES.forEach((s, i) => expect(byName(L.F_SEGMENT + i)).toBe(`segment_${s}`));
    CHANNEL_NAMES.forEach((c, i) => expect(byName(L.F_CHANNEL + i)).toBe(`channel_${c}`));
    STAGE_NAMES.slice(0, 4).forEach((s, i) => expect(byName(L.F_STAGE_UNAWARE + i)).toBe(`tracked_stage_${s}`));
    expect(byName(L.F_PACING_STATE + L.PACING_BEHIND)).toBe("pacing_behind");
    expect(byName(L.F_PACING_STATE + L.PACING_ON_TRACK)).toBe("pacing_on_track");
    expect(byName(L.F_PACING_STATE + L.PACING_AHEAD)).toBe("pacing_ahead");
    const named: [number, string][] = [
      [L.F_OUR_TOUCHES, "our_touches"], [L.F_OUR_CLICKS, "our_clicks"], [L.F_HOURS_SINCE_TOUCH, "hours_since_our_touch"],
      [L.F_JOURNEY_DAYS, "days_since_our_first_touch"], [L.F_HOUR_SIN, "hour_sin"], [L.F_HOUR_COS, "hour_cos"],
      [L.F_DOW_SIN, "day_of_week_sin"], [L.F_DOW_COS, "day_of_week_cos"], [L.F_DAILY_BUDGET_LEFT, "daily_budget_left"],
      [L.F_FLIGHT_BUDGET_LEFT, "flight_budget_left"], [L.F_PACING_RATIO, "pacing_ratio"], [L.F_DAY_LEFT, "day_left"],
      [L.F_REF_VALUE, "reference_value"], [L.F_WIN_RATE, "recent_win_rate"],
    ];
    for (const [i, name] of named) expect(byName(i)).toBe(name);
    // one-hot features are bounded [0, 1]; the cyclic ones [-1, 1]
    for (const [start, len] of Object.values(GROUPS)) {
      for (let i = start; i < start + len; i++) expect([FEATURES[i].low, FEATURES[i].high]).toEqual([0, 1]);
    }
    for (const i of [L.F_HOUR_SIN, L.F_HOUR_COS, L.F_DOW_SIN, L.F_DOW_COS]) expect([FEATURES[i].low, FEATURES[i].high]).toEqual([-1, 1]);
  });

  it("the markdown table has one row per feature", () => {
    const rows = featureTableMarkdown().split("\n");
    expect(rows.length).toBe(L.OBS_DIM + 2);
    FEATURES.forEach((f, i) => expect(rows[i + 2]).toContain(`\`${f.name}\``));
  });

  it("the env's observation spaces are built from the table", () => {
    const env = VectorEnv.create({ config: smallConfig(), numWorlds: 3, seed: 0 });
    expect(env.singleObservationSpace.shape).toEqual([L.OBS_DIM]);
    expect(Array.from(env.singleObservationSpace.low)).toEqual(Array.from(OBS_LOW));
    expect(Array.from(env.singleObservationSpace.high)).toEqual(Array.from(OBS_HIGH));
    expect(env.observationSpace.shape).toEqual([3, L.OBS_DIM]);
    expect(env.observationSpace.low.length).toBe(3 * L.OBS_DIM);
    expect(env.observationSpace.high[2 * L.OBS_DIM + L.F_HOUR_SIN]).toBe(1);
  });
});

/** Runs the rule bidder and calls `check` on every observation row with its info row. */
function forEachRow(config: GaelpConfig, steps: number, check: (obs: Float32Array, info: Float64Array, where: string) => void): void {
  const n = 8;
  const env = VectorEnv.create({ config, numWorlds: n, seed: 13 });
  let [obs, info] = env.reset();
  const act = newAction(n);
  for (let s = 0; s <= steps; s++) {
    for (let w = 0; w < n; w++) {
      check(obs.subarray(w * L.OBS_DIM, (w + 1) * L.OBS_DIM), info.subarray(w * L.INFO_DIM, (w + 1) * L.INFO_DIM), `step ${s} world ${w}`);
    }
    if (s === steps) break;
    const r = env.step(ruleFor(env, obs, info, act));
    obs = r[0];
    info = r[4];
  }
}

function hotIndex(row: Float32Array, start: number, len: number, what: string): number {
  let hot = -1;
  for (let i = start; i < start + len; i++) {
    const v = row[i];
    if (v !== 0 && v !== 1) throw new Error(`${what}: one-hot value ${v} at ${FEATURES[i].name}`);
    if (v === 1) {
      if (hot !== -1) throw new Error(`${what}: both ${FEATURES[hot].name} and ${FEATURES[i].name} are set`);
      hot = i;
    }
  }
  if (hot === -1) throw new Error(`${what}: no ${FEATURES[start].name.replace(/_[^_]+$/, "")} one-hot is set`);
  return hot - start;
}

const near = (a: number, b: number, tol: number, msg: string) => {
  if (!(Math.abs(a - b) <= tol)) throw new Error(`${msg}: ${a} vs ${b}`);
};

describe("observations of a real run", () => {
  it("set exactly one tracked-stage, segment, channel and pacing-state one-hot per row", () => {
    const config = smallConfig();
    const seen = { stage: new Set<number>(), segment: new Set<number>(), channel: new Set<number>(), pacing: new Set<number>() };
    forEachRow(config, 2500, (row, info, where) => {
      for (const [name, [start, len]] of Object.entries(GROUPS)) {
        seen[name as keyof typeof seen].add(hotIndex(row, start, len, `${where} ${name}`));
      }
    });
    // the checks ran over varied rows, not one repeated case
    expect(seen.stage.size).toBeGreaterThanOrEqual(3);
    expect(seen.segment.size).toBe(L.NUM_SEGMENTS);
    expect(seen.channel.size).toBe(L.NUM_CHANNELS);
    expect(seen.pacing.size).toBe(3);
  });

  it("cyclic time features lie on the unit circle and match the clock in info", () => {
    const config = smallConfig({ market: { startDayOfWeek: 3 } });
    const hods = new Set<number>();
    forEachRow(config, 2000, (row, info, where) => {
      near(row[L.F_HOUR_SIN] ** 2 + row[L.F_HOUR_COS] ** 2, 1, 1e-6, `${where} hour_sin²+hour_cos²`);
      near(row[L.F_DOW_SIN] ** 2 + row[L.F_DOW_COS] ** 2, 1, 1e-6, `${where} dow_sin²+dow_cos²`);
      const hour = info[L.I_HOUR];
      const hod = hour % 24;
      hods.add(hod);
      const ha = (2 * Math.PI * (hod + 0.5)) / 24;
      near(row[L.F_HOUR_SIN], Math.sin(ha), 1e-6, `${where} hour_sin at hour ${hour}`);
      near(row[L.F_HOUR_COS], Math.cos(ha), 1e-6, `${where} hour_cos at hour ${hour}`);
      const dow = (Math.floor(hour / 24) + config.market.startDayOfWeek) % 7;
      near(row[L.F_DOW_SIN], Math.sin((2 * Math.PI * dow) / 7), 1e-6, `${where} dow_sin`);
      near(row[L.F_DOW_COS], Math.cos((2 * Math.PI * dow) / 7), 1e-6, `${where} dow_cos`);
      near(row[L.F_DAY_LEFT], (24 - hod) / 24, 1e-6, `${where} day_left`);
    });
    expect(hods.size).toBe(24);
  });

  it("channel one-hot is the opportunity's channel and only our campaign's channels appear", () => {
    const config = smallConfig({ campaign: { channels: ["search", "display", "email"] }, population: { segmentAccuracy: 1, crisisRatePerUserDay: 0 } });
    const allowed = config.campaign.channels.map((c) => CHANNEL_NAMES.indexOf(c));
    const seen = new Set<number>();
    forEachRow(config, 1500, (row, info, where) => {
      const ch = hotIndex(row, L.F_CHANNEL, L.NUM_CHANNELS, where);
      if (ch !== info[L.I_CHANNEL]) throw new Error(`${where}: channel one-hot ${ch}, info says ${info[L.I_CHANNEL]}`);
      if (!allowed.includes(ch)) throw new Error(`${where}: decision on ${CHANNEL_NAMES[ch]}, not one of our channels`);
      seen.add(ch);
      // with a perfect audience label and no crises, the label is the true segment
      const seg = hotIndex(row, L.F_SEGMENT, L.NUM_SEGMENTS, where);
      if (seg !== info[L.I_SEGMENT]) throw new Error(`${where}: segment one-hot ${seg}, true segment ${info[L.I_SEGMENT]}`);
      // urgency is revealed only by search queries
      if (ch !== L.CH_SEARCH && row[L.F_URGENCY_SIGNAL] !== 0) throw new Error(`${where}: urgency signal off search`);
    });
    expect([...seen].sort()).toEqual([...allowed].sort());
  });

  it("journey features agree with each other (tracked stage from our touches and clicks)", () => {
    const config = smallConfig();
    let touched = 0;
    forEachRow(config, 2500, (row, _info, where) => {
      const stage = hotIndex(row, L.F_STAGE_UNAWARE, 4, where);
      const touches = row[L.F_OUR_TOUCHES];
      const clicks = Math.round(row[L.F_OUR_CLICKS] * 5);
      const expected = touches === 0 ? L.STAGE_UNAWARE : clicks >= 2 ? L.STAGE_INTENT : clicks === 1 ? L.STAGE_CONSIDERING : L.STAGE_AWARE;
      if (stage !== expected) throw new Error(`${where}: tracked stage ${stage} with touches ${touches} and clicks ${clicks}`);
      if (touches === 0) {
        if (row[L.F_HOURS_SINCE_TOUCH] !== 1 || row[L.F_JOURNEY_DAYS] !== 0 || row[L.F_LAST_TOUCH_CLICKED] !== 0 || row[L.F_CHANNELS_SEEN] !== 0 || clicks !== 0) {
          throw new Error(`${where}: never-touched user with journey features set`);
        }
      } else {
        touched++;
        if (row[L.F_CHANNELS_SEEN] === 0) throw new Error(`${where}: touched user with no channel seen`);
        if (row[L.F_LAST_TOUCH_CLICKED] === 1 && clicks === 0) throw new Error(`${where}: last touch clicked but no clicks`);
        if (touches < 1 && clicks > Math.round(touches * 10)) throw new Error(`${where}: more clicks than touches`);
      }
    });
    expect(touched).toBeGreaterThan(100);
  });

  it("pacing state agrees with the pacing ratio and the configured band", () => {
    const config = smallConfig({ pacing: { band: 0.15 } });
    const band = config.pacing.band;
    forEachRow(config, 2500, (row, _info, where) => {
      const state = hotIndex(row, L.F_PACING_STATE, 3, where);
      const enc = row[L.F_PACING_RATIO];
      if (enc >= 1) {
        if (state !== L.PACING_AHEAD) throw new Error(`${where}: ratio ≥ 2 but state ${state}`);
        return;
      }
      const ratio = enc * 2;
      if (Math.abs(ratio - (1 - band)) < 1e-5 || Math.abs(ratio - (1 + band)) < 1e-5) return; // float32 at the edge
      const expected = ratio > 1 + band ? L.PACING_AHEAD : ratio < 1 - band ? L.PACING_BEHIND : L.PACING_ON_TRACK;
      if (state !== expected) throw new Error(`${where}: pacing ratio ${ratio} (band ${band}) but state ${state}`);
    });
  });
});
