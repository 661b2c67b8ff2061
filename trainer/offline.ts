// `gaelp train --offline-data DIR`: served decisions joined with their feedback, as replay rows.
//
// DIR is a `gaelp serve --data-dir`: decisions/ holds every served bid (bid id, observation,
// action, behaviour log-prob), feedback/ the impression, click and conversion events reported for
// them (server/feedback/format.ts has both schemas). They are joined by bid id:
//
//   won        an impression (or a click) was reported for the decision
//   clicked    a click was reported
//   cost       the sum of the costs of its impressions and clicks (and of conversions whose last
//              touchpoint it is: CPA billing), dollars
//   attributed its share of the value of every conversion naming it as a touchpoint: each
//              conversion's value is spread over its touchpoints found in the decision log by the
//              attribution model (credits >= 0, summing to 1 over them), with the touchpoints'
//              decision times, click flags, and the conversion's time
//
// A decision becomes a row when at least one event reached it. Nothing is dropped silently: the
// summary counts decisions without feedback (the server cannot tell a lost auction from feedback
// not reported yet, so they are not replayed), events whose decision is not in the log (by kind),
// conversion touchpoints not in the log (their conversions' credit goes to the touchpoints that
// are), conversions with none in the log (their value is reported as unattributed), repeated
// event ids (kept once), and impressions or clicks whose campaign differs from their decision's.
//
// Data-driven attribution weighs channels, which the server does not see: every touchpoint gets
// channel weight 1. A damaged file, an observation of the wrong width, or an action the training
// policy does not have (another number of creatives, other bid levels) stops with an error naming
// the file and row: such rows cannot be replayed with their behaviour log-probabilities.
import { existsSync, statSync } from "node:fs";
import { makeVector } from "apache-arrow";
import { join } from "node:path";
import { ATTRIBUTION_MODELS, type GaelpConfig } from "../env/config.js";
import type { PolicySpec } from "../agents/policy/spec.js";
import { OBS_DIM } from "../wasm/layout.js";
import {
  DECISIONS_DIR, DECISION_PREFIX, DECISION_SCHEMA, FEEDBACK_DIR, FEEDBACK_PREFIX, FEEDBACK_SCHEMA, eventsOf, type StoredEvent,
} from "../server/feedback/format.js";
import { listSegments, readSegment } from "../server/feedback/segments.js";

export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

export class OfflineDataError extends Error {}

/** Joined rows, one per decision that feedback reached, in decision-log order. */
export interface OfflineRows {
  n: number;
  obs: Float32Array;
  bidLevel: Uint8Array;
  creative: Uint8Array;
  logp: Float32Array;
  /** the serving policy's value estimate (for reference; training recomputes values) */
  value: Float32Array;
  cost: Float64Array;
  attributed: Float64Array;
  won: Uint8Array;
  clicked: Uint8Array;
  bidId: string[];
}

export interface OfflineSummary {
  dir: string;
  attribution: AttributionModel;
  decisionSegments: number;
  feedbackSegments: number;
  decisions: number;
  events: number;
  /** replay rows: decisions reached by at least one event */
  rows: number;
  /** rows whose action was greedy (argmax) when served; their log-prob is still the softmax's */
  greedyRows: number;
  decisionsWithoutFeedback: number;
  eventsWithoutDecision: { impression: number; click: number; conversion: number };
  touchpointsWithoutDecision: number;
  duplicateEvents: number;
  duplicateDecisions: number;
  campaignMismatches: number;
  impressions: number;
  clicks: number;
  conversions: number;
  /** dollars charged to joined decisions */
  cost: number;
  /** dollars of conversions (CPA) whose last touchpoint is not in the decision log */
  costWithoutDecision: number;
  conversionValue: number;
  attributedValue: number;
  unattributedValue: number;
}

/**
 * Credits of one conversion over its touchpoints (oldest first), summing to 1 -- the definitions of
 * DESIGN.md's attribution models as the simulator uses them (wasm/assembly/attribution.ts), with
 * channel weight 1. `hours` are touchpoint times, `convHour` the conversion's, in hours.
 */
export function attributionCredits(model: AttributionModel, hours: ArrayLike<number>, clicked: ArrayLike<boolean>, convHour: number, a: GaelpConfig["attribution"]): Float64Array {
  const n = hours.length;
  const c = new Float64Array(n);
  if (n === 0) return c;
  const decay = (h: number, halfLife: number) => 2 ** (-Math.max(0, convHour - h) / halfLife);
  switch (model) {
    case "last_click": {
      let winner = n - 1;
      for (let i = n - 1; i >= 0; i--) if (clicked[i]) { winner = i; break; }
      c[winner] = 1;
      return c;
    }
    case "linear":
      return c.fill(1 / n);
    case "time_decay":
      for (let i = 0; i < n; i++) c[i] = decay(hours[i], a.timeDecayHalfLifeHours);
      break;
    case "position": {
      if (n === 1) return c.fill(1);
      const f = a.positionFirst;
      const l = a.positionLast;
      if (n === 2) {
        c[0] = f + l > 0 ? f / (f + l) : 0.5;
        c[1] = 1 - c[0];
        return c;
      }
      for (let i = 0; i < n; i++) c[i] = i === 0 ? f : i === n - 1 ? l : (1 - f - l) / (n - 2);
      break;
    }
    case "data_driven":
      for (let i = 0; i < n; i++) c[i] = decay(hours[i], a.ddaHalfLifeHours) * (i === 0 ? a.ddaFirstBonus : 1) * (i === n - 1 ? a.ddaLastBonus : 1);
      break;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += c[i];
  if (sum > 0) for (let i = 0; i < n; i++) c[i] /= sum;
  else c.fill(0).fill(1, n - 1);
  return c;
}

interface Decisions {
  n: number;
  index: Map<string, number>;
  obs: Float32Array;
  bidLevel: Uint8Array;
  creative: Uint8Array;
  logp: Float32Array;
  value: Float32Array;
  atMs: Float64Array;
  sampled: Uint8Array;
  campaign: string[];
  bidId: string[];
  duplicates: number;
  segments: number;
}

function readDecisions(dir: string, spec: PolicySpec): Decisions {
  const segs = listSegments(dir, DECISION_PREFIX).live;
  const tables = segs.map((s) => ({ path: s.path, t: readSegment(s.path, DECISION_SCHEMA) }));
  const total = tables.reduce((a, x) => a + x.t.numRows, 0);
  const d: Decisions = {
    n: 0, index: new Map(), obs: new Float32Array(total * OBS_DIM), bidLevel: new Uint8Array(total), creative: new Uint8Array(total),
    logp: new Float32Array(total), value: new Float32Array(total), atMs: new Float64Array(total), sampled: new Uint8Array(total),
    campaign: [], bidId: [], duplicates: 0, segments: segs.length,
  };
  const levels = Float32Array.from(spec.bidLevels);
  for (const { path, t } of tables) {
    const obsCol = t.getChild("obs")!;
    if ((obsCol.type as { listSize: number }).listSize !== OBS_DIM) throw new OfflineDataError(`${path}: column obs holds ${(obsCol.type as { listSize: number }).listSize} features per row; this build's observation has ${OBS_DIM}`);
    // per record batch: its rows' features as one Float32Array (child offsets applied by makeVector)
    const obs = obsCol.data.map((x) => makeVector(x.children[0]).toArray() as Float32Array);
    const col = <T>(name: string) => t.getChild(name)!.toArray() as T;
    const ids = col<string[]>("bid_id");
    const campaigns = col<string[]>("campaign_id");
    const lvl = col<Uint8Array>("bid_level");
    const cre = col<Uint8Array>("creative");
    const mult = col<Float32Array>("multiplier");
    const lp = col<Float32Array>("logp");
    const val = col<Float32Array>("value");
    const at = col<Float64Array>("at_ms");
    const smp = col<Uint8Array>("sampled");
    let chunk = 0;
    let chunkStart = 0;
    for (let i = 0; i < t.numRows; i++) {
      while (i - chunkStart >= obsCol.data[chunk].length) chunkStart += obsCol.data[chunk++].length;
      const bad = (why: string): never => {
        throw new OfflineDataError(`${path}: row ${i} (bid ${JSON.stringify(ids[i])}): ${why}`);
      };
      if (d.index.has(ids[i])) {
        d.duplicates++;
        continue;
      }
      if (lvl[i] >= levels.length) bad(`bid_level ${lvl[i]} does not exist in the training policy's ${levels.length} bid levels`);
      if (Math.abs(mult[i] - levels[lvl[i]]) > 1e-6 * Math.max(1, Math.abs(levels[lvl[i]]))) {
        bad(`bid_level ${lvl[i]} was multiplier ${mult[i]} for the serving policy but is ${levels[lvl[i]]} in the training policy (train.bidLevels ${JSON.stringify(spec.bidLevels)}): served with other bid levels`);
      }
      if (cre[i] >= spec.numCreatives) bad(`creative ${cre[i]} does not exist: the training policy has ${spec.numCreatives} creatives`);
      if (!(lp[i] <= 0 && Number.isFinite(at[i]))) bad(`logp ${lp[i]} must be <= 0 and at_ms ${at[i]} finite`);
      const src = obs[chunk];
      const from = (i - chunkStart + obsCol.data[chunk].offset) * OBS_DIM;
      for (let j = 0; j < OBS_DIM; j++) {
        const v = src[from + j];
        if (!Number.isFinite(v)) bad(`obs[${j}] is ${v}`);
      }
      const k = d.n++;
      d.obs.set(src.subarray(from, from + OBS_DIM), k * OBS_DIM);
      d.bidLevel[k] = lvl[i];
      d.creative[k] = cre[i];
      d.logp[k] = lp[i];
      d.value[k] = val[i];
      d.atMs[k] = at[i];
      d.sampled[k] = smp[i];
      d.campaign.push(campaigns[i]);
      d.bidId.push(ids[i]);
      d.index.set(ids[i], k);
    }
  }
  return d;
}

/** Reads and joins DIR's decision and feedback logs (see the file comment). */
export function readOfflineData(dir: string, o: { spec: PolicySpec; attribution: GaelpConfig["attribution"]; model?: AttributionModel }): { rows: OfflineRows; summary: OfflineSummary } {
  const model = o.model ?? o.attribution.model;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new OfflineDataError(`${dir} is not a folder (expected a gaelp serve --data-dir)`);
  const dDir = join(dir, DECISIONS_DIR);
  const fDir = join(dir, FEEDBACK_DIR);
  if (!existsSync(dDir) && !existsSync(fDir)) throw new OfflineDataError(`${dir} holds neither ${DECISIONS_DIR}/ nor ${FEEDBACK_DIR}/ (expected a gaelp serve --data-dir)`);
  const d = readDecisions(dDir, o.spec);
  const fSegs = listSegments(fDir, FEEDBACK_PREFIX).live;
  const seen = new Set<string>();
  const events: StoredEvent[] = [];
  let duplicateEvents = 0;
  for (const s of fSegs) {
    let evs: StoredEvent[];
    try {
      evs = eventsOf(readSegment(s.path, FEEDBACK_SCHEMA), s.path);
    } catch (e) {
      throw new OfflineDataError((e as Error).message);
    }
    for (const e of evs) {
      if (seen.has(e.eventId)) duplicateEvents++;
      else {
        seen.add(e.eventId);
        events.push(e);
      }
    }
  }
  const n = d.n;
  const cost = new Float64Array(n);
  const attributed = new Float64Array(n);
  const won = new Uint8Array(n);
  const clicked = new Uint8Array(n);
  const reached = new Uint8Array(n);
  const s: OfflineSummary = {
    dir, attribution: model, decisionSegments: d.segments, feedbackSegments: fSegs.length, decisions: n + d.duplicates, events: events.length,
    rows: 0, greedyRows: 0, decisionsWithoutFeedback: 0, eventsWithoutDecision: { impression: 0, click: 0, conversion: 0 },
    touchpointsWithoutDecision: 0, duplicateEvents, duplicateDecisions: d.duplicates, campaignMismatches: 0,
    impressions: 0, clicks: 0, conversions: 0, cost: 0, costWithoutDecision: 0, conversionValue: 0, attributedValue: 0, unattributedValue: 0,
  };
  // impressions and clicks first: last-click attribution needs every decision's click flag
  for (const e of events) {
    if (e.kind === "conversion") continue;
    const k = d.index.get(e.bidId!);
    if (k === undefined) {
      s.eventsWithoutDecision[e.kind]++;
      continue;
    }
    if (d.campaign[k] !== e.campaignId) {
      s.campaignMismatches++;
      continue;
    }
    won[k] = 1;
    if (e.kind === "click") {
      clicked[k] = 1;
      s.clicks++;
    } else s.impressions++;
    cost[k] += e.cost;
    s.cost += e.cost;
    reached[k] = 1;
  }
  const HOUR_MS = 3_600_000;
  for (const e of events) {
    if (e.kind !== "conversion") continue;
    s.conversions++;
    s.conversionValue += e.value;
    const known: number[] = [];
    for (const b of e.touchpoints!) {
      const k = d.index.get(b);
      if (k === undefined) s.touchpointsWithoutDecision++;
      else known.push(k);
    }
    // a conversion's own cost (CPA billing) is charged to its last touchpoint
    const last = d.index.get(e.touchpoints![e.touchpoints!.length - 1]);
    if (e.cost > 0) {
      if (last === undefined) s.costWithoutDecision += e.cost;
      else {
        cost[last] += e.cost;
        s.cost += e.cost;
        reached[last] = 1;
      }
    }
    if (known.length === 0) {
      s.eventsWithoutDecision.conversion++;
      s.unattributedValue += e.value;
      continue;
    }
    const credits = attributionCredits(model, known.map((k) => d.atMs[k] / HOUR_MS), known.map((k) => clicked[k] === 1), e.atMs / HOUR_MS, o.attribution);
    known.forEach((k, i) => {
      attributed[k] += credits[i] * e.value;
      s.attributedValue += credits[i] * e.value;
      reached[k] = 1;
    });
  }
  let m = 0;
  for (let k = 0; k < n; k++) m += reached[k];
  const rows: OfflineRows = {
    n: m, obs: new Float32Array(m * OBS_DIM), bidLevel: new Uint8Array(m), creative: new Uint8Array(m), logp: new Float32Array(m),
    value: new Float32Array(m), cost: new Float64Array(m), attributed: new Float64Array(m), won: new Uint8Array(m), clicked: new Uint8Array(m), bidId: [],
  };
  let r = 0;
  for (let k = 0; k < n; k++) {
    if (reached[k] === 0) {
      s.decisionsWithoutFeedback++;
      continue;
    }
    rows.obs.set(d.obs.subarray(k * OBS_DIM, (k + 1) * OBS_DIM), r * OBS_DIM);
    rows.bidLevel[r] = d.bidLevel[k];
    rows.creative[r] = d.creative[k];
    rows.logp[r] = d.logp[k];
    rows.value[r] = d.value[k];
    rows.cost[r] = cost[k];
    rows.attributed[r] = attributed[k];
    rows.won[r] = won[k];
    rows.clicked[r] = clicked[k];
    rows.bidId.push(d.bidId[k]);
    if (d.sampled[k] === 0) s.greedyRows++;
    r++;
  }
  s.rows = m;
  return { rows, summary: s };
}

/** One line for the log: what was joined and what was not. */
export function describeOffline(s: OfflineSummary): string {
  const u = s.eventsWithoutDecision;
  return `offline data ${s.dir}: ${s.decisions} decisions (${s.decisionSegments} segments), ${s.events} feedback events (${s.feedbackSegments} segments) -> ` +
    `${s.rows} replay rows (${s.impressions} impressions, ${s.clicks} clicks, ${s.conversions} conversions; cost $${s.cost.toFixed(2)}, ` +
    `attributed $${s.attributedValue.toFixed(2)} by ${s.attribution}); not joined: ${s.decisionsWithoutFeedback} decisions without feedback, ` +
    `events without a decision: ${u.impression} impressions, ${u.click} clicks, ${u.conversion} conversions ($${s.unattributedValue.toFixed(2)} unattributed), ` +
    `${s.touchpointsWithoutDecision} conversion touchpoints without a decision ($${s.costWithoutDecision.toFixed(2)} CPA cost unjoined), ${s.campaignMismatches} events of another campaign than their decision, ` +
    `${s.duplicateEvents} repeated event ids, ${s.duplicateDecisions} repeated bid ids`;
}
