// From a what-if request to world configs: defaults applied (the normalised request, whose SHA-256
// is the cache key), the campaign mapped onto the world config (env/config.ts), each scenario's
// multipliers mapped onto real world parameters, and the tasks the worker pool runs.
//
// Scenario multipliers -> world config (applyMultipliers):
//   budget       campaign.dailyBudget and campaign.flightBudget           x budget
//   competition  every rivals[i].valueMult (bid aggression)              x competition
//                market.rivalBudgetScale (every rival's daily budget)     x competition
//   seasonality  market.activityScale (auction volume: users' sessions)   x seasonality
//   fatigue      fatigue.creativePerExposure (creative wear-out) and
//                fatigue.userPerAd (ad fatigue per impression)            x fatigue
import { createHash } from "node:crypto";
import { CHANNEL_NAMES, type GaelpConfig, ConfigError, resolveConfig, SEGMENT_NAMES, validateConfig } from "../../env/config.js";
import { EVAL_STREAM } from "../../env/seeds.js";
import { BidderParamError, resolveBidderParams } from "../../agents/baselines/index.js";
import type { JobBidder } from "../../trainer/eval_worker.js";
import type { WasmTarget } from "../../wasm/loader.js";
import type { ServedPolicy } from "../contracts.js";
import { HttpError } from "../errors.js";
import {
  type Multipliers, type NormalisedRequest, PRESET_NAMES, type PresetName, type SimulationRequest, WEEKDAYS,
} from "./schemas.js";

export const DEFAULTS = { days: 30, worlds: 32, seed: 1, budgetMultipliers: [0.5, 0.75, 1, 1.25, 1.5], baseline: "pacing" } as const;

/** The scenario presets' multipliers (docs/simulations.md). Budget stays the marketer's: presets
 *  move the market (rivals, demand, wear-out), custom scenarios may move the budget too. */
export const PRESETS: Record<PresetName, Multipliers> = {
  optimistic: { budget: 1, competition: 0.85, seasonality: 1.15, fatigue: 0.8 },
  realistic: { budget: 1, competition: 1, seasonality: 1, fatigue: 1 },
  pessimistic: { budget: 1, competition: 1.2, seasonality: 0.85, fatigue: 1.3 },
};

/** Rivals 25% more aggressive (bids and budgets): the stress run behind the competitor-threat risk. */
export const THREAT_COMPETITION = 1.25;

/** One config run: a world config flown in every world of the job. */
export interface SimTask {
  config: GaelpConfig;
  bidder: JobBidder;
  worldOffset: number;
  worlds: number;
  days: number;
  seed: number;
  stream: number;
  wasm?: WasmTarget;
}

/** What a task returns (server/simulations/worker.ts): world-major arrays for its world group. */
export interface SimTaskResult {
  worldOffset: number;
  worlds: number;
  /** world x day x DAILY_METRICS (trainer/simulate.ts) */
  daily: Float64Array;
  /** world x channel (CHANNEL_NAMES), dollars */
  channelSpend: Float64Array;
  channelValue: Float64Array;
  /** flight day of each world's last decision */
  lastDay: Int32Array;
  /** 1 when the world's flight budget ran out before its end */
  exhausted: Uint8Array;
  decisions: number;
  seconds: number;
}

/** The simulation a request asks for, with what it resolved to. */
export interface Prepared {
  request: NormalisedRequest;
  /** hex SHA-256 of the normalised request (and the served policy, when it is used) */
  hash: string;
  /** the realistic world config (the campaign in its market, flight length set) */
  base: GaelpConfig;
  /** the validated world configs of the job's phase 1: each scenario's (request order), each
   *  budget level's (ascending) and the competitor-threat stress run's */
  configs: { scenarios: GaelpConfig[]; levels: GaelpConfig[]; threat: GaelpConfig };
  bidder: JobBidder;
  bidderInfo: { name: string; params: Record<string, number>; run?: string; step?: number; policyVersion?: number; weightsSha256?: string };
}

const weightsHashes = new WeakMap<ServedPolicy, { weights: string; config: string }>();

/** SHA-256 of the served policy's weights and run config (computed once per loaded policy). */
function policyIdentity(p: ServedPolicy): { weights: string; config: string } {
  let id = weightsHashes.get(p);
  if (id === undefined) {
    id = {
      weights: createHash("sha256").update(new Uint8Array(p.weights.buffer, p.weights.byteOffset, p.weights.byteLength)).digest("hex"),
      config: createHash("sha256").update(stableJson(p.config)).digest("hex"),
    };
    weightsHashes.set(p, id);
  }
  return id;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON with every object's keys sorted (so equal values give equal text whatever the key order). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (isPlain(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

/** A ConfigError path (e.g. `campaign.dailyBudget`) as the request field that set it. */
const CONFIG_FIELDS: Record<string, string> = {
  "campaign.dailyBudget": "body.campaign.dailyBudget",
  "campaign.flightBudget": "body.campaign.flightBudget",
  "campaign.conversionValue": "body.campaign.conversionValue",
  "campaign.bidMax": "body.campaign.bidMax",
  "campaign.channels": "body.campaign.channels",
  "campaign.creatives": "body.campaign.creatives",
  "market.surgeStartDay": "body.campaign.surge.startDay",
  "market.surgeEndDay": "body.campaign.surge.endDay",
  "market.surgeActivityMult": "body.campaign.surge.activityMult",
  "market.surgeValueMult": "body.campaign.surge.valueMult",
};

/** Validates a derived config; a range error becomes a 400 naming the request field behind it. */
function checked(config: GaelpConfig, field: string): GaelpConfig {
  try {
    return validateConfig(config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // the campaign's own fields name themselves; a derived config (scenario, budget level) names what derived it
    const own = field === "body.campaign" ? Object.entries(CONFIG_FIELDS).find(([p]) => e.path === p || e.path.startsWith(`${p}.`))?.[1] : undefined;
    const f = own ?? field;
    throw new HttpError(400, "invalid_request", `${f}: the world config it leads to is invalid: ${e.message}`, f);
  }
}

/** The config with a scenario's multipliers applied (the mapping in the file comment). The parts
 *  not changed are shared with `config`, not copied: configs are never mutated once built. */
export function applyMultipliers(config: GaelpConfig, m: Multipliers, field = "body"): GaelpConfig {
  return checked({
    ...config,
    campaign: { ...config.campaign, dailyBudget: config.campaign.dailyBudget * m.budget, flightBudget: config.campaign.flightBudget * m.budget },
    rivals: config.rivals.map((r) => ({ ...r, valueMult: r.valueMult * m.competition })),
    market: { ...config.market, rivalBudgetScale: config.market.rivalBudgetScale * m.competition, activityScale: config.market.activityScale * m.seasonality },
    fatigue: { ...config.fatigue, creativePerExposure: config.fatigue.creativePerExposure * m.fatigue, userPerAd: config.fatigue.userPerAd * m.fatigue },
  }, field);
}

/** Weekday index (0 = Monday) of flight day 0 in `config` (the world clock starts warmupDays earlier). */
export function launchWeekdayOf(config: GaelpConfig): number {
  return (config.market.startDayOfWeek + config.market.warmupDays) % 7;
}

/** market.startDayOfWeek that puts flight day 0 on weekday `w`. */
export function startDayForLaunch(config: GaelpConfig, w: number): number {
  return (((w - config.market.warmupDays) % 7) + 7) % 7;
}

/**
 * Applies every default of a request (in the market it names, with the bidder it names or the
 * served policy), checks what the schema cannot (names, cross-field rules, the policy's creative
 * count), and builds the realistic world config. Errors are HttpErrors naming the field.
 */
export function prepare(body: SimulationRequest, served: ServedPolicy | undefined): Prepared {
  const bidderName = body.bidder?.name ?? (served !== undefined ? "policy" : DEFAULTS.baseline);
  const usesPolicy = bidderName === "policy";
  if (usesPolicy && served === undefined) {
    throw new HttpError(409, "no_policy", "body.bidder.name: no policy is loaded (start the server with a checkpoint or POST /v1/policy/reload), choose a baseline bidder", "body.bidder.name");
  }
  if (usesPolicy && body.bidder?.params !== undefined && Object.keys(body.bidder.params).length > 0) {
    throw new HttpError(400, "invalid_request", "body.bidder.params: the policy bidder takes no parameters", "body.bidder.params");
  }
  const market = body.market ?? (served !== undefined ? "served" : "default");
  if (market === "served" && served === undefined) {
    throw new HttpError(409, "no_policy", "body.market: \"served\" needs a loaded policy (its run's market); choose a preset", "body.market");
  }
  const days = body.days ?? DEFAULTS.days;
  const marketConfig = market === "served" ? structuredClone(served!.config) : resolveConfig({ scenario: market });

  // the campaign as the marketer set it, the market's values for the rest
  const c = body.campaign ?? {};
  const mc = marketConfig.campaign;
  const mk = marketConfig.market;
  const dailyBudget = c.dailyBudget ?? mc.dailyBudget;
  const surge = c.surge ?? (mk.surgeEndDay > mk.surgeStartDay && (mk.surgeActivityMult !== 1 || mk.surgeValueMult !== 1)
    ? { startDay: mk.surgeStartDay, endDay: mk.surgeEndDay, activityMult: mk.surgeActivityMult, valueMult: mk.surgeValueMult }
    : null);
  if (c.surge !== undefined && c.surge.endDay <= c.surge.startDay) {
    throw new HttpError(400, "invalid_request", `body.campaign.surge.endDay must be greater than startDay (${c.surge.startDay}), got ${c.surge.endDay}`, "body.campaign.surge.endDay");
  }
  const campaign: NormalisedRequest["campaign"] = {
    dailyBudget,
    flightBudget: c.flightBudget ?? dailyBudget * days,
    conversionValue: c.conversionValue ?? mc.conversionValue,
    bidMax: c.bidMax ?? mc.bidMax,
    // channels in the world's order, so [a, b] and [b, a] are one request
    channels: CHANNEL_NAMES.filter((ch) => (c.channels ?? mc.channels).includes(ch)),
    creatives: (c.creatives ?? mc.creatives).map((cr) => ({ ctrMult: cr.ctrMult, affinity: cr.affinity ?? SEGMENT_NAMES.map(() => 1) })),
    attributionModel: c.attributionModel ?? marketConfig.attribution.model,
    launchWeekday: c.launchWeekday ?? WEEKDAYS[launchWeekdayOf(marketConfig)],
    surge,
  };

  let params: Record<string, number> = {};
  if (!usesPolicy) {
    try {
      params = resolveBidderParams(bidderName, (body.bidder?.params ?? {}) as Record<string, number>);
    } catch (e) {
      if (!(e instanceof BidderParamError)) throw e;
      const field = e.param === "" ? "body.bidder.name" : `body.bidder.params.${e.param}`;
      throw new HttpError(400, "invalid_request", `${field}: ${e.message}`, field);
    }
  }

  const presets = body.scenarios ?? PRESET_NAMES;
  const custom = body.customScenarios ?? [];
  custom.forEach((s, i) => {
    if ((PRESET_NAMES as readonly string[]).includes(s.name)) throw new HttpError(400, "invalid_request", `body.customScenarios[${i}].name: "${s.name}" is a preset's name; allowed: any other name`, `body.customScenarios[${i}].name`);
    if (custom.findIndex((o) => o.name === s.name) !== i) throw new HttpError(400, "invalid_request", `body.customScenarios[${i}].name: "${s.name}" is used twice`, `body.customScenarios[${i}].name`);
  });
  const scenarios = [
    // realistic first and always: budget levels, risks and recommendations are computed on it
    { name: "realistic", multipliers: PRESETS.realistic },
    ...PRESET_NAMES.filter((p) => p !== "realistic" && presets.includes(p)).map((p) => ({ name: p, multipliers: PRESETS[p] })),
    ...custom.map((s) => ({ name: s.name, multipliers: { budget: s.budget ?? 1, competition: s.competition ?? 1, seasonality: s.seasonality ?? 1, fatigue: s.fatigue ?? 1 } })),
  ];
  const scenarioField = (i: number): string => (i < scenarios.length - custom.length ? "body.scenarios" : `body.customScenarios[${i - (scenarios.length - custom.length)}]`);
  const levels = [...new Set([...(body.budgetMultipliers ?? DEFAULTS.budgetMultipliers), 1])].sort((a, b) => a - b);

  const request: NormalisedRequest = {
    campaign,
    market,
    days,
    worlds: body.worlds ?? DEFAULTS.worlds,
    seed: body.seed ?? DEFAULTS.seed,
    bidder: { name: bidderName, params },
    scenarios,
    budgetMultipliers: levels,
    recommendations: body.recommendations ?? true,
  };

  // the realistic world config
  const cfg = structuredClone(marketConfig);
  cfg.campaign = {
    ...cfg.campaign, flightDays: days, dailyBudget: campaign.dailyBudget, flightBudget: campaign.flightBudget, conversionValue: campaign.conversionValue,
    bidMax: campaign.bidMax, channels: campaign.channels as GaelpConfig["campaign"]["channels"], creatives: campaign.creatives,
  };
  cfg.attribution.model = campaign.attributionModel as GaelpConfig["attribution"]["model"];
  cfg.market.startDayOfWeek = startDayForLaunch(cfg, WEEKDAYS.indexOf(campaign.launchWeekday as (typeof WEEKDAYS)[number]));
  const s = campaign.surge ?? { startDay: 0, endDay: 0, activityMult: 1, valueMult: 1 };
  Object.assign(cfg.market, { surgeStartDay: s.startDay, surgeEndDay: s.endDay, surgeActivityMult: s.activityMult, surgeValueMult: s.valueMult });
  const base = checked(cfg, "body.campaign");
  // every config of the job must be valid before the job is accepted
  const configs = {
    scenarios: scenarios.map((sc, i) => applyMultipliers(base, sc.multipliers, scenarioField(i))),
    levels: levels.map((m) => applyMultipliers(base, { ...PRESETS.realistic, budget: m }, "body.budgetMultipliers")),
    threat: applyMultipliers(base, { ...PRESETS.realistic, competition: THREAT_COMPETITION }, "body.market"),
  };

  let bidder: JobBidder;
  let bidderInfo: Prepared["bidderInfo"];
  let identity: unknown = null;
  if (usesPolicy) {
    const p = served!;
    if (p.spec.numCreatives !== base.campaign.creatives.length) {
      throw new HttpError(400, "invalid_request", `body.campaign.creatives: the served policy chooses between ${p.spec.numCreatives} creatives, the campaign has ${base.campaign.creatives.length}`, "body.campaign.creatives");
    }
    const id = policyIdentity(p);
    bidder = { kind: "policy", name: "policy", spec: p.spec, weights: p.weights, greedy: true };
    bidderInfo = { name: "policy", params: {}, run: p.run, step: p.step, policyVersion: p.version, weightsSha256: id.weights };
    identity = id;
  } else {
    bidder = { kind: "baseline", name: bidderName as Exclude<typeof bidderName, "policy">, params };
    bidderInfo = { name: bidderName, params };
  }
  if (market === "served") identity = policyIdentity(served!);
  const hash = createHash("sha256").update(stableJson({ request, served: identity })).digest("hex");
  return { request, hash, base, configs, bidder, bidderInfo };
}

/** Key of a world config within a job (equal configs are simulated once). */
export function configKey(config: GaelpConfig): string {
  return createHash("sha256").update(stableJson(config)).digest("hex");
}

/** The tasks of one config: its worlds in groups of `worldsPerTask` (the last may be smaller). */
export function tasksFor(p: Prepared, config: GaelpConfig, worldsPerTask: number, wasm?: WasmTarget): SimTask[] {
  const { worlds, days, seed } = p.request;
  const out: SimTask[] = [];
  for (let at = 0; at < worlds; at += worldsPerTask) {
    out.push({ config, bidder: p.bidder, worldOffset: at, worlds: Math.min(worldsPerTask, worlds - at), days, seed, stream: EVAL_STREAM, wasm });
  }
  return out;
}
