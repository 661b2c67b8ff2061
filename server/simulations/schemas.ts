// Request and response schemas of the what-if simulation routes (TypeBox; strict: every object
// closed, every string, array and number bounded). The meaning of each field is in its
// description and in docs/simulations.md.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ATTRIBUTION_MODELS, CHANNEL_NAMES, SCENARIOS, SEGMENT_NAMES } from "../../env/config.js";
import { BIDDERS, BIDDER_NAMES, type ParamSpec } from "../../agents/baselines/index.js";

export const MAX_WORLDS = 256;
export const MAX_DAYS = 90;
export const MAX_CUSTOM_SCENARIOS = 4;
export const MAX_BUDGET_LEVELS = 8;
export const JOB_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$";
export const SCENARIO_NAME_PATTERN = "^[A-Za-z0-9._-]{1,64}$";

export const PRESET_NAMES = ["optimistic", "realistic", "pessimistic"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;
/** World-config presets (env/scenarios.ts) a simulation may start from, plus the served policy's run config. */
export const MARKETS = [...Object.keys(SCENARIOS), "served"] as const;
export const BIDDER_CHOICES = ["policy", ...BIDDER_NAMES] as const;

const lit = <T extends string>(xs: readonly T[], description: string) => Type.Union(xs.map((x) => Type.Literal(x)), { description });
const num = (minimum: number, maximum: number, description: string) => Type.Number({ minimum, maximum, description });
const int = (minimum: number, maximum: number, description: string) => Type.Integer({ minimum, maximum, description });
const closed = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
const NumOrNull = Nullable(Type.Number());

// ---- request ---------------------------------------------------------------------------------------

const Creative = closed({
  ctrMult: num(0.01, 10, "click-through multiplier of this creative (also its ad quality)"),
  affinity: Type.Optional(Type.Array(num(0, 10, "CTR multiplier"), {
    minItems: SEGMENT_NAMES.length, maxItems: SEGMENT_NAMES.length, description: `CTR multiplier by audience segment (${SEGMENT_NAMES.join(", ")}); default all 1`,
  })),
});

const Surge = closed({
  startDay: int(0, 365, "first flight day of the surge (0 = launch day)"),
  endDay: int(1, 366, "flight day the surge ends (exclusive), > startDay"),
  activityMult: num(0, 20, "demand (auction volume) multiplier during the surge"),
  valueMult: num(0, 20, "conversion value multiplier during the surge"),
}, "a known demand surge (promotion, holiday) in the flight");

export const CampaignInput = closed({
  dailyBudget: Type.Optional(num(0.01, 1e7, "daily budget, dollars (default: the market's)")),
  flightBudget: Type.Optional(num(0.01, 1e9, "flight budget, dollars (default: dailyBudget x days)")),
  conversionValue: Type.Optional(num(0, 1e6, "value of a conversion, dollars (default: the market's)")),
  bidMax: Type.Optional(num(0.01, 1e4, "largest bid per impression, dollars (default: the market's)")),
  channels: Type.Optional(Type.Array(lit(CHANNEL_NAMES, "channel"), { minItems: 1, maxItems: CHANNEL_NAMES.length, uniqueItems: true, description: "channels the campaign bids on (default: the market's)" })),
  creatives: Type.Optional(Type.Array(Creative, { minItems: 1, maxItems: 8, description: "the campaign's creatives (default: the market's); a policy bidder needs as many as it was trained with" })),
  attributionModel: Type.Optional(lit(ATTRIBUTION_MODELS, "attribution model crediting conversions to touchpoints (default: the market's)")),
  launchWeekday: Type.Optional(lit(WEEKDAYS, "weekday of the flight's first day (default: the market's)")),
  surge: Type.Optional(Surge),
}, "what the marketer sets; anything left out comes from the market");

const paramSchemas: Record<string, TSchema> = {};
for (const name of BIDDER_NAMES) {
  for (const [k, spec] of Object.entries(BIDDERS[name].params as Record<string, ParamSpec>)) {
    const max = Math.min(spec.max, 1e6);
    paramSchemas[k] = Type.Optional(Type.Number({
      ...(spec.minExclusive ? { exclusiveMinimum: spec.min } : { minimum: spec.min }), maximum: max,
      description: `${name}: ${spec.description}`,
    }));
  }
}

export const BidderInput = closed({
  name: lit(BIDDER_CHOICES, "policy = the served policy (the default when one is loaded); else a baseline bidder (default pacing)"),
  params: Type.Optional(Type.Object(paramSchemas, { additionalProperties: false, description: "the baseline's parameters (agents/baselines); defaults for those left out" })),
}, "who bids in the simulated worlds");

const Multiplier = (what: string, min: number, max: number) => Type.Optional(num(min, max, `multiplier on ${what} (default 1)`));
export const CustomScenario = closed({
  name: Type.String({ pattern: SCENARIO_NAME_PATTERN, maxLength: 64, description: "scenario name (not a preset's)" }),
  budget: Multiplier("the daily and flight budget", 0.05, 20),
  competition: Multiplier("rival aggression (every rival's valueMult) and rival budgets (market.rivalBudgetScale)", 0.1, 5),
  seasonality: Multiplier("demand: auction volume (market.activityScale)", 0.1, 5),
  fatigue: Multiplier("creative and ad fatigue (fatigue.creativePerExposure, fatigue.userPerAd)", 0, 5),
});

export const SimulationRequest = closed({
  campaign: Type.Optional(CampaignInput),
  market: Type.Optional(lit(MARKETS as unknown as string[], "world-config preset the campaign runs in (env/scenarios.ts), or served = the served policy's training market (default: served when a policy is loaded, else default)")),
  days: Type.Optional(int(1, MAX_DAYS, "flight length, days (default 30)")),
  worlds: Type.Optional(int(1, MAX_WORLDS, "independent seeded markets simulated (default 32)")),
  seed: Type.Optional(int(0, 4294967295, "root seed of the worlds (default 1)")),
  bidder: Type.Optional(BidderInput),
  scenarios: Type.Optional(Type.Array(lit(PRESET_NAMES, "scenario preset"), { maxItems: PRESET_NAMES.length, uniqueItems: true, description: "scenario presets to simulate (default all three; realistic is always simulated)" })),
  customScenarios: Type.Optional(Type.Array(CustomScenario, { maxItems: MAX_CUSTOM_SCENARIOS, description: "scenarios with their own multipliers" })),
  budgetMultipliers: Type.Optional(Type.Array(num(0.05, 20, "budget level, x the campaign budget"), { minItems: 1, maxItems: MAX_BUDGET_LEVELS, uniqueItems: true, description: "budget levels to compare, as multipliers of the campaign's daily and flight budget (default [0.5, 0.75, 1, 1.25, 1.5]; 1 is always included)" })),
  recommendations: Type.Optional(Type.Boolean({ description: "compute pivot recommendations with re-simulated previews (default true)" })),
});
export type SimulationRequest = Static<typeof SimulationRequest>;

// ---- the normalised request (every default applied; what the cache key hashes) ----------------------

const MultipliersSchema = closed({ budget: Type.Number(), competition: Type.Number(), seasonality: Type.Number(), fatigue: Type.Number() });
export const NormalisedRequest = closed({
  campaign: closed({
    dailyBudget: Type.Number(),
    flightBudget: Type.Number(),
    conversionValue: Type.Number(),
    bidMax: Type.Number(),
    channels: Type.Array(Type.String({ maxLength: 16 }), { maxItems: CHANNEL_NAMES.length }),
    creatives: Type.Array(closed({ ctrMult: Type.Number(), affinity: Type.Array(Type.Number(), { maxItems: SEGMENT_NAMES.length }) }), { maxItems: 8 }),
    attributionModel: Type.String({ maxLength: 32 }),
    launchWeekday: Type.String({ maxLength: 16 }),
    surge: Nullable(closed({ startDay: Type.Integer(), endDay: Type.Integer(), activityMult: Type.Number(), valueMult: Type.Number() })),
  }),
  market: Type.String({ maxLength: 64 }),
  days: Type.Integer(),
  worlds: Type.Integer(),
  seed: Type.Integer(),
  bidder: closed({ name: Type.String({ maxLength: 32 }), params: Type.Record(Type.String({ maxLength: 32 }), Type.Number(), { maxProperties: 16 }) }),
  scenarios: Type.Array(closed({ name: Type.String({ maxLength: 64 }), multipliers: MultipliersSchema }), { maxItems: PRESET_NAMES.length + MAX_CUSTOM_SCENARIOS }),
  budgetMultipliers: Type.Array(Type.Number(), { maxItems: MAX_BUDGET_LEVELS + 1 }),
  recommendations: Type.Boolean(),
});
export type NormalisedRequest = Static<typeof NormalisedRequest>;
export type Multipliers = Static<typeof MultipliersSchema>;

// ---- results ------------------------------------------------------------------------------------------

const seriesOf = (days: string) => Type.Array(NumOrNull, { maxItems: MAX_DAYS, description: days });
const Series = closed({
  mean: seriesOf("mean over worlds, per day (null: undefined in every world, e.g. CTR without impressions)"),
  p10: seriesOf("10th percentile over worlds, per day"),
  p50: seriesOf("median over worlds, per day"),
  p90: seriesOf("90th percentile over worlds, per day"),
});
export const SERIES = ["impressions", "clicks", "ctr", "conversions", "spend", "cpc", "cpm", "roas"] as const;
export type SeriesName = (typeof SERIES)[number];
export const TOTALS = ["impressions", "clicks", "ctr", "conversions", "spend", "revenue", "profit", "cpc", "cpm", "roas"] as const;
export type TotalName = (typeof TOTALS)[number];

const Spread = closed({ mean: NumOrNull, p10: NumOrNull, p50: NumOrNull, p90: NumOrNull });
const ScenarioResult = closed({
  name: Type.String({ maxLength: 64 }),
  multipliers: MultipliersSchema,
  budget: closed({ daily: Type.Number(), flight: Type.Number() }),
  daily: closed(Object.fromEntries(SERIES.map((s) => [s, Series])) as Record<SeriesName, typeof Series>, "per-day trajectories (ctr = clicks/impressions, cpc = spend/clicks, cpm = 1000 x spend/impressions, roas = revenue/spend)"),
  totals: closed(Object.fromEntries(TOTALS.map((s) => [s, Spread])) as Record<TotalName, typeof Spread>, "flight totals over worlds"),
});

const Range90 = closed({ mean: NumOrNull, lo: NumOrNull, hi: NumOrNull }, "mean over worlds and the 5th..95th percentile of worlds (where 90% of simulated outcomes fall)");
const Ci90 = closed({ value: NumOrNull, lo: NumOrNull, hi: NumOrNull }, "estimate and 90% bootstrap confidence interval (paired worlds)");
const BudgetLevel = closed({
  multiplier: Type.Number(),
  dailyBudget: Type.Number(),
  flightBudget: Type.Number(),
  spend: Range90,
  revenue: Range90,
  profit: Range90,
  roas: Range90,
  marginalRoas: Nullable(Ci90),
});

export const RISK_KINDS = ["performance_dip", "budget_overrun", "audience_fatigue", "competitor_threat"] as const;
export const SEVERITIES = ["none", "low", "medium", "high"] as const;
const Risk = closed({
  kind: lit(RISK_KINDS, "risk"),
  severity: lit(SEVERITIES, "from probability x median impact (docs/simulations.md)"),
  probability: Type.Number({ description: "share of assessed worlds where the event happened" }),
  impact: NumOrNull,
  worldsAffected: Type.Integer(),
  worldsAssessed: Type.Integer(),
  rule: Type.String({ maxLength: 1024 }),
  summary: Type.String({ maxLength: 1024 }),
});

const Delta = closed({ mean: NumOrNull, lo: NumOrNull, hi: NumOrNull, n: Type.Integer() }, "paired change over worlds (variant - realistic): mean and 90% t-interval");
export const PIVOT_KINDS = ["budget_reallocation", "creative_refresh", "channel_shift", "timing"] as const;
const ChangeValue = Type.Union([Type.Number(), Type.String({ maxLength: 64 }), Type.Array(Type.String({ maxLength: 16 }), { maxItems: CHANNEL_NAMES.length })]);
const Recommendation = closed({
  kind: lit(PIVOT_KINDS, "pivot"),
  applicable: Type.Boolean(),
  recommended: Type.Boolean({ description: "the preview's 90% interval of the profit change lies above 0" }),
  action: Type.String({ maxLength: 1024 }),
  changes: Type.Array(closed({ path: Type.String({ maxLength: 128 }), from: ChangeValue, to: ChangeValue }), { maxItems: 8 }),
  preview: Nullable(closed({ profit: Delta, revenue: Delta, spend: Delta, roas: Delta })),
});

export const SimulationResult = closed({
  bidder: closed({
    name: Type.String({ maxLength: 32 }),
    params: Type.Record(Type.String({ maxLength: 32 }), Type.Number(), { maxProperties: 16 }),
    run: Type.Optional(Type.String({ maxLength: 200 })),
    step: Type.Optional(Type.Integer()),
    policyVersion: Type.Optional(Type.Integer()),
    weightsSha256: Type.Optional(Type.String({ maxLength: 64 })),
  }),
  worlds: Type.Integer(),
  days: Type.Integer(),
  seed: Type.Integer(),
  scenarios: Type.Array(ScenarioResult, { maxItems: PRESET_NAMES.length + MAX_CUSTOM_SCENARIOS }),
  budgetLevels: Type.Array(BudgetLevel, { maxItems: MAX_BUDGET_LEVELS + 1 }),
  risks: Type.Array(Risk, { maxItems: RISK_KINDS.length }),
  recommendations: Type.Array(Recommendation, { maxItems: PIVOT_KINDS.length }),
});
export type SimulationResult = Static<typeof SimulationResult>;
export type ScenarioResult = Static<typeof ScenarioResult>;
export type BudgetLevelResult = Static<typeof BudgetLevel>;
export type RiskResult = Static<typeof Risk>;
export type RecommendationResult = Static<typeof Recommendation>;
export type DeltaResult = Static<typeof Delta>;

export const JOB_STATUSES = ["queued", "processing", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const SimulationJob = closed({
  id: Type.String({ maxLength: 64 }),
  status: lit(JOB_STATUSES, "job status"),
  progress: Type.Number({ minimum: 0, maximum: 1, description: "share of the job's simulation tasks done" }),
  cached: Type.Boolean({ description: "this answer is an earlier job of the same normalised request" }),
  createdAt: Type.String({ maxLength: 40 }),
  startedAt: Nullable(Type.String({ maxLength: 40 })),
  finishedAt: Nullable(Type.String({ maxLength: 40 })),
  request: NormalisedRequest,
  requestSha256: Type.String({ maxLength: 64 }),
  stats: closed({
    tasks: Type.Integer({ description: "simulation tasks (world group x world config) so far planned" }),
    tasksDone: Type.Integer(),
    worldDays: Type.Integer({ description: "flight days simulated, summed over worlds and configs" }),
    seconds: Type.Number({ description: "wall time since the job started" }),
    mainThreadMs: Type.Number({ description: "time the server's main thread spent on this job's results (copying and aggregating); the simulating runs in worker threads" }),
  }),
  error: Nullable(closed({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 2048 }) })),
  result: Nullable(SimulationResult),
});
export type SimulationJob = Static<typeof SimulationJob>;

export const JobParams = closed({ id: Type.String({ pattern: JOB_ID_PATTERN, maxLength: 64, description: "simulation id" }) });
