// Writes a resolved config into the WASM params block (f64 slots laid out in wasm/layout.ts).
import * as L from "../wasm/layout.js";
import {
  type GaelpConfig, SEGMENT_NAMES, CHANNEL_NAMES, MECHANISMS, ATTRIBUTION_MODELS, RIVAL_STRATEGIES,
} from "./config.js";

const MICROS = 1e6;

export function writeParams(c: GaelpConfig, numWorlds: number, p: Float64Array): void {
  if (p.length < L.PARAMS_F64) throw new RangeError(`params block has ${p.length} slots, needs ${L.PARAMS_F64}`);
  p.fill(0);
  p[L.P_NUM_WORLDS] = numWorlds;
  p[L.P_NUM_USERS] = c.population.users;
  p[L.P_NUM_RIVALS] = c.rivals.length;
  p[L.P_NUM_CREATIVES] = c.campaign.creatives.length;
  p[L.P_RING_SIZE] = c.journey.ringSize;
  p[L.P_FLIGHT_DAYS] = c.campaign.flightDays;
  p[L.P_JOURNEY_TIMEOUT_DAYS] = c.journey.timeoutDays;
  p[L.P_CONVERSION_WINDOW_DAYS] = c.journey.conversionWindowDays;
  // budgets in whole micros so spend arithmetic is exact in f64
  p[L.P_DAILY_BUDGET_MICROS] = Math.floor(c.campaign.dailyBudget * MICROS);
  p[L.P_FLIGHT_BUDGET_MICROS] = Math.floor(c.campaign.flightBudget * MICROS);
  p[L.P_CONVERSION_VALUE] = c.campaign.conversionValue;
  p[L.P_ATTRIBUTION_MODEL] = ATTRIBUTION_MODELS.indexOf(c.attribution.model);
  p[L.P_TIME_DECAY_HALF_LIFE_HOURS] = c.attribution.timeDecayHalfLifeHours;
  p[L.P_POSITION_FIRST_SHARE] = c.attribution.positionFirst;
  p[L.P_POSITION_LAST_SHARE] = c.attribution.positionLast;
  p[L.P_DDA_FIRST_BONUS] = c.attribution.ddaFirstBonus;
  p[L.P_DDA_LAST_BONUS] = c.attribution.ddaLastBonus;
  p[L.P_DDA_HALF_LIFE_HOURS] = c.attribution.ddaHalfLifeHours;
  p[L.P_QUALITY_WEIGHTED] = c.auction.qualityWeighted ? 1 : 0;
  p[L.P_MARKET_NOISE_SD] = c.market.noiseSd;
  p[L.P_CPC_TREND_PER_DAY] = c.market.cpcTrendPerDay;
  p[L.P_SURGE_START_DAY] = c.market.surgeStartDay;
  p[L.P_SURGE_END_DAY] = c.market.surgeEndDay;
  p[L.P_SURGE_ACTIVITY_MULT] = c.market.surgeActivityMult;
  p[L.P_SURGE_VALUE_MULT] = c.market.surgeValueMult;
  p[L.P_CRISIS_RATE_PER_USER_DAY] = c.population.crisisRatePerUserDay;
  p[L.P_CRISIS_DECAY_HOURS] = c.population.crisisDecayHours;
  p[L.P_CREATIVE_FATIGUE_PER_EXPOSURE] = c.fatigue.creativePerExposure;
  p[L.P_USER_FATIGUE_PER_AD] = c.fatigue.userPerAd;
  p[L.P_FATIGUE_RECOVERY_HOURS] = c.fatigue.recoveryHours;
  p[L.P_DEVICE_MATCH_RATE] = c.population.deviceMatchRate;
  p[L.P_SEGMENT_ACCURACY] = c.population.segmentAccuracy;
  p[L.P_REENTRY_DAYS_CONVERTED] = c.journey.reentryDaysConverted;
  p[L.P_REENTRY_DAYS_LOST] = c.journey.reentryDaysLost;
  p[L.P_RECHECK_PROB] = c.journey.recheckProb;
  p[L.P_BID_MAX] = c.campaign.bidMax;
  p[L.P_ACTIVITY_SCALE] = c.market.activityScale;
  p[L.P_PACING_BAND] = c.pacing.band;
  p[L.P_SEASON_PERIOD_DAYS] = c.market.seasonPeriodDays;
  p[L.P_SEASON_AMPLITUDE] = c.market.seasonAmplitude;
  p[L.P_RIVAL_BUDGET_SCALE] = c.market.rivalBudgetScale;
  p[L.P_CLICK_ADVANCE_PROB] = c.journey.clickAdvanceProb;
  p[L.P_IMPRESSION_ADVANCE_PROB] = c.journey.impressionAdvanceProb;
  p[L.P_PRICE_INDEX_DECAY] = c.market.priceIndexDecay;
  p[L.P_START_DAY_OF_WEEK] = c.market.startDayOfWeek;
  p[L.P_WARMUP_DAYS] = c.market.warmupDays;
  p[L.P_HIST_FROM_HOUR] = c.calibration.histFromDay * 24;
  p[L.P_HIST_TO_HOUR] = c.calibration.histToDay * 24;
  p.set(c.market.dayOfWeek, L.P_DOW_MULT);
  p.set(c.journey.delayQuantiles, L.P_DELAY_Q);
  p.set(c.journey.delayDays, L.P_DELAY_DAYS);
  p.set(c.journey.convProbByStage, L.P_CONV_PROB_BY_STAGE);
  CHANNEL_NAMES.forEach((name, i) => {
    p[L.P_OUR_CHANNEL_ENABLED + i] = c.campaign.channels.includes(name) ? 1 : 0;
  });
  p.set(c.attribution.ddaChannelWeights, L.P_DDA_CHANNEL_WEIGHT);
  p.set(c.population.deviceCountProbs, L.P_DEVICE_COUNT_PROBS);
  c.campaign.creatives.forEach((cr, i) => {
    p[L.P_CREATIVE_CTR_MULT + i] = cr.ctrMult;
    p.set(cr.affinity, L.P_CREATIVE_AFFINITY + i * L.NUM_SEGMENTS);
  });
  p.set(c.campaign.refCvr, L.P_REF_CVR);
  p.set(c.market.valuePerClickByStage, L.P_RIVAL_CVR);
  p.set(c.journey.stageCtrMult, L.P_STAGE_CTR_MULT);
  p[L.P_URGENCY_CONV_GAIN] = c.journey.urgencyConvGain;
  p[L.P_URGENCY_DELAY_CUT] = c.journey.urgencyDelayCut;

  CHANNEL_NAMES.forEach((name, i) => {
    const ch = c.channels[name];
    const b = L.P_CHANNELS + i * L.CH_STRIDE;
    p[b + L.CHF_BASE_CTR] = ch.baseCtr;
    p[b + L.CHF_MECHANISM] = MECHANISMS.indexOf(ch.mechanism);
    p[b + L.CHF_SLOTS] = ch.slots;
    p[b + L.CHF_RESERVE] = ch.reserve;
    p.set(ch.positionEffects, b + L.CHF_POS_EFFECT);
    p[b + L.CHF_INTENT_LIFT] = ch.intentLift;
    p[b + L.CHF_QUERY_INTENT] = ch.queryIntent;
    p[b + L.CHF_JOURNEY_ONLY] = ch.journeyOnly ? 1 : 0;
    p[b + L.CHF_VALUE_MULT] = ch.valueMult;
  });
  SEGMENT_NAMES.forEach((name, i) => {
    const s = c.population.segments[name];
    const b = L.P_SEGMENTS + i * L.SEG_STRIDE;
    p[b + L.SEGF_SHARE] = s.share;
    p[b + L.SEGF_SESSIONS_PER_DAY] = s.sessionsPerDay;
    p[b + L.SEGF_PEAK_HOUR] = s.peakHour;
    p[b + L.SEGF_ACTIVITY_WIDTH_HOURS] = s.activityWidthHours;
    p[b + L.SEGF_CTR_MULT] = s.ctrMult;
    p[b + L.SEGF_CONV_MULT] = s.convMult;
    p[b + L.SEGF_VALUE_MULT] = s.valueMult;
    p[b + L.SEGF_PRICE_SENSITIVITY] = s.priceSensitivity;
    p[b + L.SEGF_ATTENTION] = s.attention;
    p[b + L.SEGF_URGENCY] = s.urgency;
    p.set(s.channelWeights, b + L.SEGF_CHANNEL_WEIGHT);
    p[b + L.SEGF_IMPORTANCE_WEIGHT] = s.importanceWeight;
    p[b + L.SEGF_CRISIS_PRONE] = s.crisisProne ? 1 : 0;
    p[b + L.SEGF_DELAY_SCALE] = s.delayScale;
  });
  p[L.P_RESAMPLE_RIVALS] = c.market.resampleRivals;
  p[L.P_RESAMPLE_VALUE_SD] = c.market.resampleValueSd;
  p[L.P_SEASON_PERIOD_JITTER] = c.market.seasonPeriodJitter;
  // importance sampling of experience rows: the most important segment is always kept
  const weights = SEGMENT_NAMES.map((name) => c.population.segments[name].importanceWeight);
  const top = Math.max(...weights);
  weights.forEach((w, i) => { p[L.P_SAMPLE_KEEP + i] = w / top; });
  c.rivals.forEach((r, i) => writeRivalRow(r, p, L.P_RIVALS + i * L.RIV_STRIDE));
}

/** One rival's RIV_STRIDE row (layout RIVF_* in wasm/layout.ts) at `b`: the params block's rival
 *  table, and each world's copy of it (f32) that the rival learners adapt. */
export function writeRivalRow(r: GaelpConfig["rivals"][number], p: Float64Array | Float32Array, b: number): void {
  p.fill(0, b, b + L.RIV_STRIDE);
  p[b + L.RIVF_STRATEGY] = RIVAL_STRATEGIES.indexOf(r.strategy);
  p[b + L.RIVF_VALUE_MULT] = r.valueMult;
  p[b + L.RIVF_SHADE] = r.shade;
  p[b + L.RIVF_NOISE] = r.noise;
  p[b + L.RIVF_DAILY_BUDGET_MICROS] = Math.floor(r.dailyBudget * MICROS);
  p[b + L.RIVF_DEFENSE_GAIN] = r.defenseGain;
  p.set(r.segmentMult, b + L.RIVF_SEGMENT_MULT);
  p.set(r.channelMult, b + L.RIVF_CHANNEL_MULT);
  p.set(r.stageMult, b + L.RIVF_STAGE_MULT);
  p[b + L.RIVF_QUALITY] = r.quality;
}

/** The config's rival rows as a world holds them right after creation (before any
 *  market.resample* draws): rivals x RIV_STRIDE f32. */
export function rivalRows(c: GaelpConfig): Float32Array {
  const rows = new Float32Array(c.rivals.length * L.RIV_STRIDE);
  c.rivals.forEach((r, i) => writeRivalRow(r, rows, i * L.RIV_STRIDE));
  return rows;
}
