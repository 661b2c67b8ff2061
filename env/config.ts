// The world and campaign configuration: one TypeBox schema (types, ranges, one-line docs), one
// object of defaults, scenario presets as partial overrides, and validation with field paths.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { SCENARIOS } from "./scenarios.js";

const Num = (min: number, max: number, description: string) => Type.Number({ minimum: min, maximum: max, description });
const Int = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });
const Vec = (n: number, min: number, max: number, description: string) =>
  Type.Array(Type.Number({ minimum: min, maximum: max }), { minItems: n, maxItems: n, description });
const Strict = <T extends Record<string, TSchema>>(props: T, description: string) =>
  Type.Object(props, { additionalProperties: false, description });

export const SEGMENT_NAMES = ["researcher", "concerned_parent", "crisis_parent", "price_shopper", "loyal", "window_shopper"] as const;
export const CHANNEL_NAMES = ["search", "social", "display", "retargeting", "email"] as const;
export const STAGE_NAMES = ["unaware", "aware", "considering", "intent", "converted", "lost"] as const;
export const MECHANISMS = ["first_price", "second_price", "gsp"] as const;
export const ATTRIBUTION_MODELS = ["last_click", "linear", "time_decay", "position", "data_driven"] as const;
export const RIVAL_STRATEGIES = ["defensive", "aggressive", "shading", "random"] as const;
export const RIVAL_LEARNERS = ["q_learning", "policy_gradient", "defensive", "random", "fixed"] as const;

const Segment = Strict({
  share: Num(0, 1, "share of the population drawn into this segment"),
  sessionsPerDay: Num(0, 24, "ad opportunities a user of this segment emits per day on average"),
  peakHour: Num(0, 24, "hour of day of peak activity"),
  activityWidthHours: Num(0.5, 12, "spread of the activity peak (hours, Gaussian sd)"),
  ctrMult: Num(0, 10, "click propensity multiplier"),
  convMult: Num(0, 10, "conversion probability multiplier"),
  valueMult: Num(0, 10, "conversion value multiplier"),
  priceSensitivity: Num(0, 1, "mean price sensitivity (lowers conversion probability)"),
  attention: Num(0, 1, "mean attention span (scales CTR and stage progress)"),
  urgency: Num(0, 1, "mean baseline urgency (raises conversion probability, shortens delays)"),
  channelWeights: Vec(5, 0, 100, "relative use of search, social, display, retargeting, email"),
  importanceWeight: Num(0.001, 1000, "relative sampling rate of this segment's decisions in experience: rows are kept with probability w / max w and carry weight max w / w (raise it to oversample rare valuable segments)"),
  crisisProne: Type.Boolean({ description: "crisis events can move these users to crisis_parent" }),
  delayScale: Num(0.05, 5, "multiplies sampled intent delays"),
}, "a user segment");

const Channel = Strict({
  baseCtr: Num(0, 1, "click-through rate of a top-slot impression before multipliers"),
  mechanism: Type.Union(MECHANISMS.map((m) => Type.Literal(m)), { description: "auction mechanism" }),
  slots: Int(1, 4, "ad slots per opportunity (GSP uses > 1)"),
  reserve: Num(0, 1000, "reserve price, dollars per impression"),
  positionEffects: Vec(4, 0, 1, "CTR multiplier by slot"),
  intentLift: Num(0, 10, "multiplies stage-advance probabilities on this channel"),
  queryIntent: Num(0, 1, "mean observable query intent (search-like channels, else 0)"),
  journeyOnly: Type.Boolean({ description: "only users already in a journey (retargeting, email)" }),
  valueMult: Num(0, 10, "rivals' valuation multiplier on this channel"),
}, "an ad channel");

const Rival = Strict({
  strategy: Type.Union(RIVAL_STRATEGIES.map((s) => Type.Literal(s)), { description: "bidding strategy" }),
  valueMult: Num(0, 100, "aggression: multiplier on the rival's value estimate"),
  shade: Num(0, 10, "bid / value for shading and aggressive strategies"),
  noise: Num(0, 2, "relative sd of the rival's value estimate"),
  dailyBudget: Num(0, 1e9, "rival daily budget, dollars"),
  defenseGain: Num(0, 10, "defensive: bid multiplier on users considering or intending"),
  segmentMult: Vec(6, 0, 100, "bid multiplier by segment"),
  channelMult: Vec(5, 0, 100, "bid multiplier by channel"),
  stageMult: Vec(4, 0, 100, "bid multiplier by stage unaware..intent"),
  quality: Num(0.01, 10, "ad quality: CTR multiplier, and rank weight when quality-weighted"),
}, "a rival bidder");

const Creative = Strict({
  ctrMult: Num(0.01, 10, "CTR multiplier of this creative (also its ad quality)"),
  affinity: Vec(6, 0, 10, "CTR multiplier by segment"),
}, "one of our creatives");

const Learner = (description: string) => Type.Union(RIVAL_LEARNERS.map((l) => Type.Literal(l)), { description });
const Ascending = (min: number, max: number, description: string) =>
  Type.Array(Type.Number({ minimum: min, maximum: max }), { minItems: 1, maxItems: 8, description });

// How rivals adapt between training iterations (agents/rivals, docs/rivals.md). A learner sets a
// rival's aggression (a multiplier on its configured valueMult) and, the defensive rule, its
// defense gain, from the rival's own outcomes in the iteration.
const RivalLearning = Strict({
  enabled: Type.Boolean({ description: "rivals adapt between training iterations from their own outcomes (off: they keep the config's values, curriculum levels still apply)" }),
  learners: Strict({
    defensive: Learner("learner of rivals whose strategy is defensive"),
    aggressive: Learner("learner of rivals whose strategy is aggressive"),
    shading: Learner("learner of rivals whose strategy is shading"),
    random: Learner("learner of rivals whose strategy is random"),
  }, "which learner adapts the rivals of each strategy (q_learning, policy_gradient, defensive, random, fixed = never changes)"),
  aggressionMin: Num(0.01, 100, "lower bound of a learned aggression multiplier (x the rival's valueMult)"),
  aggressionMax: Num(0.01, 100, "upper bound of a learned aggression multiplier"),
  qLearning: Strict({
    actions: Type.Array(Type.Number({ minimum: 0.01, maximum: 100 }), { minItems: 2, maxItems: 32, description: "the discrete actions: aggression multipliers, ascending, within [aggressionMin, aggressionMax]" }),
    epsilon0: Num(0, 1, "exploration rate of the first update"),
    epsilonDecay: Num(0, 1, "epsilon x this after every update (exponential decay)"),
    epsilonMin: Num(0, 1, "floor of epsilon"),
    alpha: Num(0, 1, "Q update step size"),
    gamma: Num(0, 0.999, "discount from one iteration to the next"),
    winRateBands: Ascending(0, 1, "win-rate thresholds (impressions / auctions entered) cutting the state's win-rate bands, ascending"),
    utilisationBands: Ascending(0, 100, "budget-utilisation thresholds (spend / budget made available) cutting the state's utilisation bands, ascending"),
    replayRows: Int(1, 1_000_000, "transitions kept per learner in its prioritized replay"),
    batchSize: Int(1, 4096, "transitions sampled per Q update"),
    updatesPerIteration: Int(1, 1000, "Q updates (minibatches) per iteration"),
    priorityAlpha: Num(0, 1, "replay priority exponent (0: uniform)"),
    priorityEps: Num(1e-9, 10, "added to |TD error| in a priority: bounds how rarely a settled transition is replayed and how small the others' importance weights get"),
    priorityBeta0: Num(0, 1, "replay importance-sampling exponent at the first sample"),
    betaSteps: Int(1, 10_000_000, "minibatches over which the importance-sampling exponent rises to 1"),
  }, "tabular Q-learning: state = win-rate band x utilisation band, epsilon-greedy over the actions, reward = (value won - spend) / budget made available"),
  policyGradient: Strict({
    lr: Num(0, 10, "REINFORCE step size on the mean and log-sd of log-aggression"),
    sigma0: Num(0.001, 2, "initial sd of log-aggression"),
    sigmaMin: Num(0.001, 2, "lower bound of the sd"),
    sigmaMax: Num(0.001, 2, "upper bound of the sd"),
    baselineDecay: Num(0, 0.9999, "running reward baseline: b = decay x b + (1 - decay) x reward"),
    maxStep: Num(0, 10, "largest change of the mean or log-sd in one update"),
  }, "REINFORCE with a running baseline: log-aggression ~ N(mean, sd), one sample per iteration"),
  defensive: Strict({
    lossRate: Num(0, 1, "high-value loss rate (losses / high-value auctions entered) above which the rival escalates"),
    minAuctions: Int(0, 1_000_000_000, "high-value auctions it must have entered in the iteration to react"),
    raise: Num(0, 10, "on escalation, defense gain and aggression x (1 + raise)"),
    relax: Num(0, 1, "otherwise both move this fraction of the way back to the configured values"),
    maxDefenseGain: Num(0, 10, "upper bound of the defense gain (never below the configured gain)"),
  }, "rule-based defensive learner: escalates after losing high-value users, relaxes slowly otherwise"),
  random: Strict({
    min: Num(0.01, 100, "smallest aggression drawn"),
    max: Num(0.01, 100, "largest aggression drawn"),
  }, "random learner: aggression redrawn uniformly every iteration"),
  curriculum: Strict({
    aggressionPerLevel: Num(1, 10, "every rival's aggression x this per curriculum level"),
    startRivals: Int(0, 15, "rivals active at level 0, in config order (0: all); inactive rivals never bid"),
    rivalsPerLevel: Int(0, 15, "rivals activated per level, up to all configured rivals"),
    budgetPerLevel: Num(0.01, 1, "our budgets x this per level (curriculumBudgetScale)"),
    minBudgetScale: Num(0.001, 1, "floor of our budget scale"),
  }, "what each curriculum level changes (level 0 = the config); the trainer decides when to advance"),
}, "rival learners");

export const ConfigSchema = Strict({
  population: Strict({
    users: Int(10, 1_000_000, "users per world (persist across episodes)"),
    segments: Strict(Object.fromEntries(SEGMENT_NAMES.map((s) => [s, Segment])) as Record<(typeof SEGMENT_NAMES)[number], typeof Segment>, "segment parameters"),
    deviceCountProbs: Vec(3, 0, 1, "probability of having 1, 2, 3 devices"),
    deviceMatchRate: Num(0, 1, "probability a secondary device is linked in the identity graph"),
    segmentAccuracy: Num(0, 1, "probability the platform's audience label is the true segment"),
    crisisRatePerUserDay: Num(0, 1, "crisis events per user per day"),
    crisisDecayHours: Num(1, 10000, "time constant of urgency decay after a crisis"),
  }, "users"),
  journey: Strict({
    timeoutDays: Num(1, 60, "days without a touch before an open journey is LOST"),
    conversionWindowDays: Num(1, 60, "no conversion later than this after the first touch"),
    ringSize: Int(2, 32, "touchpoints kept per user (attribution looks at these)"),
    delayQuantiles: Vec(8, 0, 1, "quantile levels of the intent-delay distribution (0 ... 1)"),
    delayDays: Vec(8, 0, 60, "intent delay in days at those quantiles"),
    convProbByStage: Vec(4, 0, 1, "conversion probability at a decision point, by stage unaware..intent"),
    recheckProb: Num(0, 1, "chance a non-converting considering/intent user decides again later"),
    reentryDaysConverted: Num(0, 3650, "days before a converted user is back in the market"),
    reentryDaysLost: Num(0, 3650, "days before a lost user is back in the market"),
    clickAdvanceProb: Num(0, 1, "probability a click advances the stage"),
    impressionAdvanceProb: Num(0, 1, "probability an impression advances the stage (x attention)"),
    stageCtrMult: Vec(4, 0, 20, "click propensity by stage unaware..intent"),
    urgencyConvGain: Num(0, 10, "conversion probability x (1 + gain x urgency)"),
    urgencyDelayCut: Num(0, 0.95, "intent delay x (1 - cut x urgency)"),
  }, "the funnel"),
  channels: Strict(Object.fromEntries(CHANNEL_NAMES.map((c) => [c, Channel])) as Record<(typeof CHANNEL_NAMES)[number], typeof Channel>, "channels"),
  auction: Strict({
    qualityWeighted: Type.Boolean({ description: "rank by bid x quality instead of bid" }),
  }, "auction rules"),
  rivals: Type.Array(Rival, { minItems: 1, maxItems: 15, description: "rival bidders (5+ by default)" }),
  campaign: Strict({
    flightDays: Int(1, 365, "days in a flight (one episode)"),
    dailyBudget: Num(0.01, 1e9, "daily budget, dollars"),
    flightBudget: Num(0.01, 1e12, "flight budget, dollars"),
    conversionValue: Num(0, 1e6, "value of a conversion, dollars (x segment multiplier)"),
    bidMax: Num(0.01, 1e6, "largest bid the agent may place, dollars per impression"),
    channels: Type.Array(Type.Union(CHANNEL_NAMES.map((c) => Type.Literal(c))), { minItems: 1, maxItems: 5, uniqueItems: true, description: "channels we bid on" }),
    creatives: Type.Array(Creative, { minItems: 1, maxItems: 8, description: "our creatives (the action picks one)" }),
    refCvr: Vec(4, 0, 10, "our estimate of attributed conversions per click (view-through credit included) by tracked stage; sets the reference value"),
  }, "our campaign"),
  attribution: Strict({
    model: Type.Union(ATTRIBUTION_MODELS.map((m) => Type.Literal(m)), { description: "model that pays rewards" }),
    timeDecayHalfLifeHours: Num(1, 10000, "time-decay model half-life"),
    positionFirst: Num(0, 1, "position-based: first touch share"),
    positionLast: Num(0, 1, "position-based: last touch share"),
    ddaFirstBonus: Num(0, 10, "data-driven: first touch multiplier"),
    ddaLastBonus: Num(0, 10, "data-driven: last touch multiplier"),
    ddaHalfLifeHours: Num(1, 10000, "data-driven: time-decay half-life"),
    ddaChannelWeights: Vec(5, 0, 10, "data-driven: channel weights"),
  }, "attribution"),
  market: Strict({
    noiseSd: Num(0, 0.5, "sd of the per-world market multiplier N(1, sd) on rival valuations"),
    cpcTrendPerDay: Num(-0.1, 0.1, "daily growth of rival valuations"),
    dayOfWeek: Vec(7, 0, 10, "activity multiplier Monday..Sunday"),
    startDayOfWeek: Int(0, 6, "day of week of the world's first day (0 = Monday)"),
    seasonPeriodDays: Num(0, 3650, "seasonality period (0 = none)"),
    seasonAmplitude: Num(0, 0.9, "seasonality amplitude on activity"),
    surgeStartDay: Num(0, 3650, "first flight day of a demand surge"),
    surgeEndDay: Num(0, 3650, "day the surge ends (exclusive)"),
    surgeActivityMult: Num(0, 20, "activity multiplier during the surge"),
    surgeValueMult: Num(0, 20, "conversion value multiplier during the surge"),
    activityScale: Num(0, 100, "global multiplier on opportunities"),
    warmupDays: Int(0, 365, "rivals-only days before the first flight (market burn-in)"),
    rivalBudgetScale: Num(0, 100, "multiplies every rival's daily budget"),
    priceIndexDecay: Num(0, 0.9999, "EMA decay of the observed clearing-price index"),
    valuePerClickByStage: Vec(4, 0, 10, "rivals' estimate of attributed conversions per click by the user's true stage unaware..intent"),
    resampleRivals: Num(0, 1, "probability each rival's strategy is redrawn at random when a world is created (per-world rival mix)"),
    resampleValueSd: Num(0, 2, "log-sd of a per-world multiplier on each rival's aggression, drawn when a world is created"),
    seasonPeriodJitter: Num(0, 0.9, "per-world season period = seasonPeriodDays x U(1 - j, 1 + j), drawn when a world is created"),
  }, "the market"),
  fatigue: Strict({
    creativePerExposure: Num(0, 10, "creative wear-out: CTR x exp(-k x exposures)"),
    userPerAd: Num(0, 10, "ad fatigue added per impression"),
    recoveryHours: Num(1, 10000, "time constant of fatigue recovery"),
  }, "fatigue"),
  pacing: Strict({
    band: Num(0, 1, "pacing ratio band around 1 that counts as on track"),
  }, "pacing"),
  calibration: Strict({
    histFromDay: Num(0, 1e5, "delay histograms count journeys whose first touch is on or after this world day"),
    histToDay: Num(0, 1e5, "... and before this world day"),
  }, "statistics windows"),
  rivalLearning: RivalLearning,
}, "gaelp world and campaign configuration");

export type GaelpConfig = Static<typeof ConfigSchema>;
export type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

const ones = (n: number) => Array.from({ length: n }, () => 1);

export const RIVAL_TEMPLATE: GaelpConfig["rivals"][number] = {
  strategy: "defensive", valueMult: 1, shade: 1, noise: 0.2, dailyBudget: 60, defenseGain: 1.3,
  segmentMult: ones(6), channelMult: ones(5), stageMult: ones(4), quality: 1,
};

const seg = (s: Partial<GaelpConfig["population"]["segments"]["researcher"]>) => ({
  share: 0.1, sessionsPerDay: 0.3, peakHour: 20, activityWidthHours: 3, ctrMult: 1, convMult: 1, valueMult: 1,
  priceSensitivity: 0.5, attention: 0.6, urgency: 0.2, channelWeights: [0.3, 0.25, 0.2, 0.15, 0.1],
  importanceWeight: 1, crisisProne: false, delayScale: 1, ...s,
});

export const DEFAULT_CONFIG: GaelpConfig = {
  population: {
    users: 4000,
    segments: {
      researcher: seg({ share: 0.22, sessionsPerDay: 0.14, peakHour: 20, ctrMult: 1.0, convMult: 0.9, priceSensitivity: 0.4, attention: 0.7, urgency: 0.2, channelWeights: [0.45, 0.15, 0.2, 0.1, 0.1], delayScale: 1.2 }),
      concerned_parent: seg({ share: 0.25, sessionsPerDay: 0.12, peakHour: 21, ctrMult: 1.1, convMult: 1.0, attention: 0.6, urgency: 0.35, channelWeights: [0.3, 0.35, 0.15, 0.1, 0.1], crisisProne: true }),
      crisis_parent: seg({ share: 0.03, sessionsPerDay: 0.36, peakHour: 22, activityWidthHours: 4, ctrMult: 1.6, convMult: 2.0, valueMult: 1.3, priceSensitivity: 0.2, attention: 0.8, urgency: 0.9, channelWeights: [0.6, 0.15, 0.05, 0.15, 0.05], importanceWeight: 1, delayScale: 0.3 }),
      price_shopper: seg({ share: 0.2, sessionsPerDay: 0.14, peakHour: 13, activityWidthHours: 4, ctrMult: 0.8, convMult: 0.7, valueMult: 0.8, priceSensitivity: 0.9, attention: 0.5, urgency: 0.2, channelWeights: [0.4, 0.15, 0.25, 0.1, 0.1], delayScale: 1.1 }),
      loyal: seg({ share: 0.1, sessionsPerDay: 0.1, peakHour: 19, ctrMult: 1.3, convMult: 1.4, valueMult: 1.2, priceSensitivity: 0.2, attention: 0.7, urgency: 0.3, channelWeights: [0.25, 0.2, 0.1, 0.15, 0.3], delayScale: 0.8 }),
      window_shopper: seg({ share: 0.2, sessionsPerDay: 0.12, peakHour: 15, activityWidthHours: 5, ctrMult: 0.7, convMult: 0.4, valueMult: 0.9, priceSensitivity: 0.6, attention: 0.35, urgency: 0.1, channelWeights: [0.2, 0.4, 0.3, 0.05, 0.05], delayScale: 1.2 }),
    },
    deviceCountProbs: [0.45, 0.4, 0.15],
    deviceMatchRate: 0.6,
    segmentAccuracy: 0.85,
    crisisRatePerUserDay: 0.002,
    crisisDecayHours: 72,
  },
  journey: {
    timeoutDays: 14,
    conversionWindowDays: 30,
    ringSize: 8,
    delayQuantiles: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 1],
    delayDays: [0.04, 0.25, 0.9, 3.3, 14, 21, 26, 30],
    convProbByStage: [0, 0.03, 0.1, 0.35],
    recheckProb: 0.5,
    reentryDaysConverted: 45,
    reentryDaysLost: 10,
    clickAdvanceProb: 0.5,
    impressionAdvanceProb: 0.08,
    stageCtrMult: [1.0, 1.3, 1.8, 2.5],
    urgencyConvGain: 1.0,
    urgencyDelayCut: 0.5,
  },
  channels: {
    search: { baseCtr: 0.04, mechanism: "gsp", slots: 3, reserve: 0.05, positionEffects: [1, 0.6, 0.4, 0.25], intentLift: 1.5, queryIntent: 0.6, journeyOnly: false, valueMult: 1 },
    social: { baseCtr: 0.012, mechanism: "second_price", slots: 1, reserve: 0.02, positionEffects: [1, 0.6, 0.4, 0.25], intentLift: 1.0, queryIntent: 0, journeyOnly: false, valueMult: 1 },
    display: { baseCtr: 0.004, mechanism: "first_price", slots: 1, reserve: 0.01, positionEffects: [1, 0.6, 0.4, 0.25], intentLift: 0.6, queryIntent: 0, journeyOnly: false, valueMult: 1 },
    retargeting: { baseCtr: 0.015, mechanism: "second_price", slots: 1, reserve: 0.03, positionEffects: [1, 0.6, 0.4, 0.25], intentLift: 1.2, queryIntent: 0, journeyOnly: true, valueMult: 1 },
    email: { baseCtr: 0.03, mechanism: "second_price", slots: 1, reserve: 0.02, positionEffects: [1, 0.6, 0.4, 0.25], intentLift: 1.0, queryIntent: 0, journeyOnly: true, valueMult: 1 },
  },
  auction: { qualityWeighted: false },
  rivals: [
    { ...RIVAL_TEMPLATE, strategy: "defensive", valueMult: 1.0, defenseGain: 1.4, noise: 0.2, dailyBudget: 90, quality: 1.0 },
    { ...RIVAL_TEMPLATE, strategy: "aggressive", valueMult: 1.3, shade: 1.0, noise: 0.25, dailyBudget: 60, quality: 0.9 },
    { ...RIVAL_TEMPLATE, strategy: "shading", valueMult: 1.1, shade: 0.75, noise: 0.2, dailyBudget: 100, quality: 1.1 },
    { ...RIVAL_TEMPLATE, strategy: "random", valueMult: 1.0, noise: 0.3, dailyBudget: 40, quality: 0.8 },
    { ...RIVAL_TEMPLATE, strategy: "defensive", valueMult: 1.0, defenseGain: 1.2, channelMult: [1.3, 0.8, 0.8, 0.8, 0.8], dailyBudget: 70, quality: 1.0 },
  ],
  campaign: {
    flightDays: 30,
    dailyBudget: 30,
    flightBudget: 750,
    conversionValue: 60,
    bidMax: 10,
    channels: [...CHANNEL_NAMES],
    creatives: [
      { ctrMult: 1.0, affinity: ones(6) },
      { ctrMult: 1.15, affinity: [1.2, 1.3, 1.4, 0.8, 1.0, 0.8] },
      { ctrMult: 0.9, affinity: [0.9, 1.0, 0.9, 1.4, 1.2, 1.1] },
    ],
    refCvr: [0.2, 0.32, 0.52, 0.8],
  },
  attribution: {
    model: "data_driven",
    timeDecayHalfLifeHours: 168,
    positionFirst: 0.4,
    positionLast: 0.4,
    ddaFirstBonus: 1.3,
    ddaLastBonus: 1.5,
    ddaHalfLifeHours: 120,
    ddaChannelWeights: [1.2, 0.9, 0.7, 1.1, 1.0],
  },
  market: {
    noiseSd: 0.1,
    cpcTrendPerDay: 0.002,
    dayOfWeek: [1.0, 1.0, 1.0, 1.05, 1.1, 0.85, 0.9],
    startDayOfWeek: 0,
    seasonPeriodDays: 365,
    seasonAmplitude: 0.1,
    surgeStartDay: 0,
    surgeEndDay: 0,
    surgeActivityMult: 1,
    surgeValueMult: 1,
    activityScale: 1,
    warmupDays: 14,
    rivalBudgetScale: 1,
    priceIndexDecay: 0.98,
    valuePerClickByStage: [0.2, 0.32, 0.52, 0.8],
    resampleRivals: 0,
    resampleValueSd: 0,
    seasonPeriodJitter: 0,
  },
  fatigue: { creativePerExposure: 0.15, userPerAd: 0.05, recoveryHours: 72 },
  pacing: { band: 0.1 },
  calibration: { histFromDay: 0, histToDay: 1e5 },
  rivalLearning: {
    enabled: true,
    learners: { defensive: "defensive", aggressive: "q_learning", shading: "policy_gradient", random: "random" },
    aggressionMin: 0.3,
    aggressionMax: 3,
    qLearning: {
      actions: [0.7, 0.85, 1, 1.15, 1.3, 1.5],
      epsilon0: 0.3,
      epsilonDecay: 0.95,
      epsilonMin: 0.02,
      alpha: 0.3,
      gamma: 0.5,
      winRateBands: [0.15, 0.4],
      utilisationBands: [0.5, 0.9],
      replayRows: 256,
      batchSize: 16,
      updatesPerIteration: 4,
      priorityAlpha: 0.6,
      priorityEps: 0.01,
      priorityBeta0: 0.4,
      betaSteps: 2000,
    },
    policyGradient: { lr: 0.05, sigma0: 0.15, sigmaMin: 0.02, sigmaMax: 0.5, baselineDecay: 0.8, maxStep: 0.2 },
    defensive: { lossRate: 0.5, minAuctions: 20, raise: 0.1, relax: 0.05, maxDefenseGain: 3 },
    random: { min: 0.7, max: 1.5 },
    curriculum: { aggressionPerLevel: 1.1, startRivals: 0, rivalsPerLevel: 1, budgetPerLevel: 0.9, minBudgetScale: 0.25 },
  },
};

export class ConfigError extends Error {
  constructor(readonly path: string, message: string) {
    super(`config ${path}: ${message}`);
    this.name = "ConfigError";
  }
}

const isPlain = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

// Objects merge key by key; arrays of objects merge element-wise onto the base element (or the
// rival template for extra rivals); other arrays and scalars replace.
function merge(base: unknown, over: unknown, template?: unknown, path = ""): unknown {
  if (over === undefined) return structuredClone(base);
  if (isPlain(base) && isPlain(over)) {
    const out: Record<string, unknown> = structuredClone(base);
    for (const [k, v] of Object.entries(over)) {
      const at = path ? `${path}.${k}` : k;
      if (k === "__proto__" || k === "constructor" || k === "prototype") throw new ConfigError(at, "is not an allowed key");
      out[k] = Object.hasOwn(base, k) ? merge(base[k], v, k === "rivals" ? RIVAL_TEMPLATE : undefined, at) : structuredClone(v);
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over) && over.every(isPlain) && (base.every(isPlain) || template)) {
    return over.map((v, i) => merge(i < base.length ? base[i] : template, v, undefined, `${path}.${i}`));
  }
  // {"0": {...}} onto an array (from --set rivals.0.dailyBudget=5): merge into that element only
  if (Array.isArray(base) && isPlain(over) && Object.keys(over).every((k) => /^\d+$/.test(k))) {
    const out = structuredClone(base) as unknown[];
    for (const [k, v] of Object.entries(over)) {
      const i = Number(k);
      if (i > out.length) throw new ConfigError(`${path}.${k}`, `array index ${i} skips elements (the array has ${out.length})`);
      out[i] = merge(i < base.length ? base[i] : template, v, undefined, `${path}.${k}`);
    }
    return out;
  }
  return structuredClone(over);
}

function pathOf(p: string): string {
  return p.replace(/^\//, "").replace(/\//g, ".") || "(root)";
}

// Compiled on first use: checking a valid config this way is several times faster than walking it
// for errors (the server validates a dozen derived configs per what-if request on its main thread).
let compiledSchema: TypeCheck<typeof ConfigSchema> | undefined;

export function validateConfig(value: unknown): GaelpConfig {
  compiledSchema ??= TypeCompiler.Compile(ConfigSchema);
  const first = compiledSchema.Check(value) ? undefined : Value.Errors(ConfigSchema, value).First();
  if (first) {
    const shown = JSON.stringify(first.value);
    throw new ConfigError(pathOf(first.path), `${first.message} (got ${shown === undefined ? "nothing" : shown.slice(0, 80)})`);
  }
  const c = value as GaelpConfig;
  const q = c.journey.delayQuantiles;
  const d = c.journey.delayDays;
  if (q[0] !== 0 || q[q.length - 1] !== 1) throw new ConfigError("journey.delayQuantiles", "must start at 0 and end at 1");
  for (let i = 1; i < q.length; i++) {
    if (!(q[i] >= q[i - 1])) throw new ConfigError("journey.delayQuantiles", `must be non-decreasing (index ${i})`);
    if (!(d[i] >= d[i - 1])) throw new ConfigError("journey.delayDays", `must be non-decreasing (index ${i})`);
  }
  if (c.attribution.positionFirst + c.attribution.positionLast > 1) {
    throw new ConfigError("attribution.positionFirst", "positionFirst + positionLast must be ≤ 1");
  }
  const shares = SEGMENT_NAMES.reduce((s, n) => s + c.population.segments[n].share, 0);
  if (!(shares > 0)) throw new ConfigError("population.segments", "segment shares must sum to more than 0");
  const dev = c.population.deviceCountProbs;
  if (Math.abs(dev[0] + dev[1] + dev[2] - 1) > 1e-6) throw new ConfigError("population.deviceCountProbs", "must sum to 1");
  for (const name of CHANNEL_NAMES) {
    const ch = c.channels[name];
    if (ch.mechanism === "second_price" && ch.slots !== 1) {
      throw new ConfigError(`channels.${name}.slots`, "second_price sells one slot; use gsp for several");
    }
  }
  if (c.calibration.histToDay <= c.calibration.histFromDay) {
    throw new ConfigError("calibration.histToDay", "must be greater than histFromDay");
  }
  validateRivalLearning(c);
  return c;
}

function validateRivalLearning(c: GaelpConfig): void {
  const rl = c.rivalLearning;
  const at = (k: string) => `rivalLearning.${k}`;
  if (rl.aggressionMin > rl.aggressionMax) throw new ConfigError(at("aggressionMin"), `must be ≤ aggressionMax (${rl.aggressionMax})`);
  const within = (v: number) => v >= rl.aggressionMin && v <= rl.aggressionMax;
  const ascending = (xs: number[], path: string) => {
    for (let i = 1; i < xs.length; i++) if (!(xs[i] > xs[i - 1])) throw new ConfigError(at(path), `must be strictly ascending (index ${i})`);
  };
  const q = rl.qLearning;
  ascending(q.actions, "qLearning.actions");
  q.actions.forEach((a, i) => {
    if (!within(a)) throw new ConfigError(at(`qLearning.actions.${i}`), `${a} is outside [aggressionMin, aggressionMax] = [${rl.aggressionMin}, ${rl.aggressionMax}]`);
  });
  ascending(q.winRateBands, "qLearning.winRateBands");
  ascending(q.utilisationBands, "qLearning.utilisationBands");
  if (q.epsilonMin > q.epsilon0) throw new ConfigError(at("qLearning.epsilonMin"), `must be ≤ epsilon0 (${q.epsilon0})`);
  const pg = rl.policyGradient;
  if (!(pg.sigmaMin <= pg.sigma0 && pg.sigma0 <= pg.sigmaMax)) {
    throw new ConfigError(at("policyGradient.sigma0"), `must lie in [sigmaMin, sigmaMax] = [${pg.sigmaMin}, ${pg.sigmaMax}]`);
  }
  if (rl.random.min > rl.random.max) throw new ConfigError(at("random.min"), `must be ≤ random.max (${rl.random.max})`);
  if (!within(rl.random.min) || !within(rl.random.max)) {
    throw new ConfigError(at("random"), `[${rl.random.min}, ${rl.random.max}] must lie within [aggressionMin, aggressionMax] = [${rl.aggressionMin}, ${rl.aggressionMax}]`);
  }
  if (rl.curriculum.startRivals > c.rivals.length) {
    throw new ConfigError(at("curriculum.startRivals"), `${rl.curriculum.startRivals} is more than the ${c.rivals.length} configured rivals`);
  }
}

export interface ResolveOptions {
  scenario?: string;
  overrides?: DeepPartial<GaelpConfig> | Record<string, unknown>;
}

/** Defaults, then the scenario's overrides, then the caller's; validated. */
export function resolveConfig(opts: ResolveOptions = {}): GaelpConfig {
  const name = opts.scenario ?? "default";
  const scenario = Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined;
  if (!scenario) {
    throw new ConfigError("scenario", `unknown scenario "${name}"; allowed: ${Object.keys(SCENARIOS).join(", ")}`);
  }
  const withScenario = merge(DEFAULT_CONFIG, scenario.overrides);
  return validateConfig(merge(withScenario, opts.overrides ?? {}));
}

/** Parses "a.b.c=value" into a nested override (value as JSON when it parses, else a string). */
export function parseSetOverride(expr: string): Record<string, unknown> {
  const eq = expr.indexOf("=");
  if (eq <= 0) throw new ConfigError(expr, 'expected key.path=value (e.g. campaign.dailyBudget=80)');
  const keys = expr.slice(0, eq).split(".");
  const raw = expr.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const root: Record<string, unknown> = {};
  let node = root;
  keys.forEach((k, i) => {
    if (k === "__proto__" || k === "constructor" || k === "prototype" || k === "") throw new ConfigError(expr, `"${k}" is not an allowed key`);
    if (i === keys.length - 1) node[k] = value;
    else node = (node[k] = {}) as Record<string, unknown>;
  });
  return root;
}

export function mergeOverrides(...parts: Record<string, unknown>[]): Record<string, unknown> {
  return parts.reduce((acc, p) => merge(acc, p) as Record<string, unknown>, {});
}
export { SCENARIOS } from "./scenarios.js";
