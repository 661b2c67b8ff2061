// Memory map shared by the AssemblyScript core (wasm/assembly) and the TypeScript around it.
// Only integer constants live here so the same file compiles under asc and tsc.
//
// Linear memory, from __heap_base upwards (all regions 16-byte aligned):
//   [params: PARAMS_F64 x f64]          written by env/params.ts before configure()
//   [io: per-world observation, action, reward, done and info buffers]
//   [world 0][world 1]...[world W-1]    each WORLD_STRIDE bytes, relocatable (offsets are relative)
// A world's bytes are its whole persistent state: serialising a world is copying its slice.

export const LAYOUT_VERSION = 15;
export const WORLD_MAGIC = 0x47414550; // "GAEP"

// ---- fixed maxima ------------------------------------------------------------------------------
export const NUM_SEGMENTS = 6;
export const NUM_CHANNELS = 5;
export const NUM_STAGES = 6; // UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED, LOST
export const MAX_RIVALS = 15;
export const MAX_BIDDERS = 16; // rivals + our agent
export const MAX_CREATIVES = 8;
export const MAX_SLOTS = 4;
export const MAX_RING = 32;
export const MAX_DEVICES = 3;
export const DELAY_KNOTS = 8;
export const MAX_DELAY_DAYS = 60;
export const DELAY_BINS = 1441; // hourly bins 0..MAX_DELAY_DAYS*24 inclusive
export const NUM_ATTRIBUTION_MODELS = 5;

// ---- enums -------------------------------------------------------------------------------------
export const STAGE_UNAWARE = 0;
export const STAGE_AWARE = 1;
export const STAGE_CONSIDERING = 2;
export const STAGE_INTENT = 3;
export const STAGE_CONVERTED = 4;
export const STAGE_LOST = 5;

export const CH_SEARCH = 0;
export const CH_SOCIAL = 1;
export const CH_DISPLAY = 2;
export const CH_RETARGETING = 3;
export const CH_EMAIL = 4;

export const MECH_FIRST_PRICE = 0;
export const MECH_SECOND_PRICE = 1;
export const MECH_GSP = 2;

export const ATTR_LAST_CLICK = 0;
export const ATTR_LINEAR = 1;
export const ATTR_TIME_DECAY = 2;
export const ATTR_POSITION = 3;
export const ATTR_DATA_DRIVEN = 4;

export const RIVAL_DEFENSIVE = 0;
export const RIVAL_AGGRESSIVE = 1;
export const RIVAL_SHADING = 2;
export const RIVAL_RANDOM = 3;

export const PACING_BEHIND = 0;
export const PACING_ON_TRACK = 1;
export const PACING_AHEAD = 2;

export const OUR_BIDDER = 0; // advertiser id 0 is our agent; rivals are 1..K

// ---- params block (f64 indices) ----------------------------------------------------------------
export const P_NUM_WORLDS = 0;
export const P_NUM_USERS = 1;
export const P_NUM_RIVALS = 2;
export const P_NUM_CREATIVES = 3;
export const P_RING_SIZE = 4;
export const P_FLIGHT_DAYS = 5;
export const P_JOURNEY_TIMEOUT_DAYS = 6;
export const P_CONVERSION_WINDOW_DAYS = 7;
export const P_DAILY_BUDGET_MICROS = 8;
export const P_FLIGHT_BUDGET_MICROS = 9;
export const P_CONVERSION_VALUE = 10; // dollars per conversion (before segment multiplier)
export const P_ATTRIBUTION_MODEL = 11;
export const P_TIME_DECAY_HALF_LIFE_HOURS = 12;
export const P_POSITION_FIRST_SHARE = 13;
export const P_POSITION_LAST_SHARE = 14;
export const P_DDA_FIRST_BONUS = 15;
export const P_DDA_LAST_BONUS = 16;
export const P_DDA_HALF_LIFE_HOURS = 17;
export const P_QUALITY_WEIGHTED = 18;
export const P_MARKET_NOISE_SD = 19;
export const P_CPC_TREND_PER_DAY = 20;
export const P_SURGE_START_DAY = 21;
export const P_SURGE_END_DAY = 22;
export const P_SURGE_ACTIVITY_MULT = 23;
export const P_SURGE_VALUE_MULT = 24;
export const P_CRISIS_RATE_PER_USER_DAY = 25;
export const P_CRISIS_DECAY_HOURS = 26;
export const P_CREATIVE_FATIGUE_PER_EXPOSURE = 27;
export const P_USER_FATIGUE_PER_AD = 28;
export const P_FATIGUE_RECOVERY_HOURS = 29;
export const P_DEVICE_MATCH_RATE = 30;
export const P_SEGMENT_ACCURACY = 31;
export const P_REENTRY_DAYS_CONVERTED = 32;
export const P_REENTRY_DAYS_LOST = 33;
export const P_RECHECK_PROB = 34;
export const P_BID_MAX = 35; // dollars; upper bound of the bid action
export const P_ACTIVITY_SCALE = 36;
export const P_PACING_BAND = 37;
export const P_SEASON_PERIOD_DAYS = 38;
export const P_SEASON_AMPLITUDE = 39;
export const P_RIVAL_BUDGET_SCALE = 40;
export const P_CLICK_ADVANCE_PROB = 41;
export const P_IMPRESSION_ADVANCE_PROB = 42;
export const P_PRICE_INDEX_DECAY = 43;
export const P_START_DAY_OF_WEEK = 44;
export const P_WARMUP_DAYS = 45; // rivals-only days before the first flight (market burn-in)
export const P_HIST_FROM_HOUR = 46; // delay histograms count journeys whose first touch is in [from, to)
export const P_HIST_TO_HOUR = 47;
// arrays
export const P_DOW_MULT = 48; // [7] day-of-week activity multiplier
export const P_DELAY_Q = 56; // [DELAY_KNOTS] quantile levels 0..1 of the intent-delay distribution
export const P_DELAY_DAYS = 64; // [DELAY_KNOTS] delay in days at those quantiles
export const P_CONV_PROB_BY_STAGE = 72; // [4] conversion probability at a check, by stage UNAWARE..INTENT
export const P_OUR_CHANNEL_ENABLED = 76; // [NUM_CHANNELS]
export const P_DDA_CHANNEL_WEIGHT = 81; // [NUM_CHANNELS]
export const P_DEVICE_COUNT_PROBS = 86; // [MAX_DEVICES] probability of having 1, 2, 3 devices
export const P_CREATIVE_CTR_MULT = 90; // [MAX_CREATIVES]
export const P_CREATIVE_AFFINITY = 98; // [MAX_CREATIVES * NUM_SEGMENTS] creative x segment CTR multiplier
export const P_REF_CVR = 146; // [4] conversion value rate per click by stage (UNAWARE..INTENT), for value estimates
export const P_STAGE_CTR_MULT = 150; // [4] click propensity by stage UNAWARE..INTENT
export const P_URGENCY_CONV_GAIN = 154; // conversion probability x (1 + gain * urgency)
export const P_URGENCY_DELAY_CUT = 155; // intent delay x (1 - cut * urgency)
export const P_RIVAL_CVR = 156; // [4] rivals' value-per-click rate by true stage UNAWARE..INTENT

// channel table: NUM_CHANNELS rows of CH_STRIDE
export const P_CHANNELS = 160;
export const CH_STRIDE = 16;
export const CHF_BASE_CTR = 0;
export const CHF_MECHANISM = 1;
export const CHF_SLOTS = 2;
export const CHF_RESERVE = 3; // dollars per impression
export const CHF_POS_EFFECT = 4; // [MAX_SLOTS] CTR multiplier by slot
export const CHF_INTENT_LIFT = 9; // multiplies stage-advance probabilities
export const CHF_QUERY_INTENT = 10; // mean observable query intent (search-like channels)
export const CHF_JOURNEY_ONLY = 11; // 1: only users already in a journey (retargeting, email)
export const CHF_VALUE_MULT = 12; // rivals' valuation multiplier on this channel

// segment table: NUM_SEGMENTS rows of SEG_STRIDE
export const P_SEGMENTS = 256;
export const SEG_STRIDE = 24;
export const SEGF_SHARE = 0;
export const SEGF_SESSIONS_PER_DAY = 1;
export const SEGF_PEAK_HOUR = 2;
export const SEGF_ACTIVITY_WIDTH_HOURS = 3;
export const SEGF_CTR_MULT = 4;
export const SEGF_CONV_MULT = 5;
export const SEGF_VALUE_MULT = 6;
export const SEGF_PRICE_SENSITIVITY = 7;
export const SEGF_ATTENTION = 8;
export const SEGF_URGENCY = 9;
export const SEGF_CHANNEL_WEIGHT = 10; // [NUM_CHANNELS]
export const SEGF_IMPORTANCE_WEIGHT = 15;
export const SEGF_CRISIS_PRONE = 16; // 1: crisis events can move this segment to CRISIS_SEGMENT
export const SEGF_DELAY_SCALE = 17; // multiplies sampled intent delays
export const CRISIS_SEGMENT = 2;

// rival table: MAX_RIVALS rows of RIV_STRIDE (also copied into each world, where learners adapt it)
export const P_RIVALS = 400;
export const RIV_STRIDE = 24;
export const RIVF_STRATEGY = 0;
export const RIVF_VALUE_MULT = 1; // aggression: multiplier on the rival's value estimate
export const RIVF_SHADE = 2; // bid = value * valueMult * shade (shading strategy)
export const RIVF_NOISE = 3; // relative sd of the value estimate
export const RIVF_DAILY_BUDGET_MICROS = 4;
export const RIVF_DEFENSE_GAIN = 5; // defensive: extra multiplier on users in CONSIDERING/INTENT
export const RIVF_SEGMENT_MULT = 6; // [NUM_SEGMENTS]
export const RIVF_CHANNEL_MULT = 12; // [NUM_CHANNELS]
export const RIVF_STAGE_MULT = 17; // [4] UNAWARE..INTENT
export const RIVF_QUALITY = 21; // ad quality (multiplies CTR; quality-weighted ranking uses it)

export const PARAMS_F64 = P_RIVALS + MAX_RIVALS * RIV_STRIDE; // 760

// ---- observation -------------------------------------------------------------------------------
// Indices of the observation vector. The table with units and normalisation is env/features.ts.
export const F_STAGE_UNAWARE = 0; // tracked stage one-hot (from our own observations)
export const F_STAGE_AWARE = 1;
export const F_STAGE_CONSIDERING = 2;
export const F_STAGE_INTENT = 3;
export const F_OUR_TOUCHES = 4;
export const F_OUR_CLICKS = 5;
export const F_HOURS_SINCE_TOUCH = 6;
export const F_JOURNEY_DAYS = 7;
export const F_CHANNELS_SEEN = 8;
export const F_COMPETITOR_TOUCHES = 9;
export const F_LAST_TOUCH_CLICKED = 10;
export const F_CREATIVE_EXPOSURE = 11; // [3] exposures of our creatives 0..2 on this user
export const F_SEGMENT = 14; // [NUM_SEGMENTS] inferred segment one-hot
export const F_DEVICES_KNOWN = 20;
export const F_MATCH_CONFIDENCE = 21;
export const F_DEVICE_MATCHED = 22;
export const F_URGENCY_SIGNAL = 23;
export const F_FATIGUE_SIGNAL = 24;
export const F_CHANNEL = 25; // [NUM_CHANNELS] one-hot
export const F_HOUR_SIN = 30;
export const F_HOUR_COS = 31;
export const F_DOW_SIN = 32;
export const F_DOW_COS = 33;
export const F_QUERY_INTENT = 34;
export const F_PCTR = 35;
export const F_REF_VALUE = 36;
export const F_RESERVE = 37;
export const F_PRICE_INDEX = 38;
export const F_SEASONALITY = 39;
export const F_DAILY_BUDGET_LEFT = 40;
export const F_FLIGHT_BUDGET_LEFT = 41;
export const F_PACING_RATIO = 42;
export const F_DAY_LEFT = 43;
export const F_FLIGHT_LEFT = 44;
export const F_PACING_STATE = 45; // [3] behind, on track, ahead
export const F_WIN_RATE = 48; // our recent win rate
export const F_RECENT_CPM = 49; // our recent price per won impression / bidMax
export const OBS_DIM = 50;

// ---- info (f64 per world, written by step) -----------------------------------------------------
export const I_COST = 0; // dollars paid for this decision
export const I_WON = 1;
export const I_CLICKED = 2;
export const I_SLOT = 3; // -1 when lost
export const I_CHANNEL = 4;
export const I_SEGMENT = 5; // true segment (for analysis, not observable)
export const I_CREDITED_VALUE = 6; // attributed conversion value credited during this step
export const I_DECISION_ID = 7; // id of the decision the current observation asks for
export const I_HOUR = 8; // world clock hour of the current observation
export const I_USER = 9;
export const I_IMPORTANCE = 10;
export const I_REF_VALUE_DOLLARS = 11; // reference value of the current opportunity in dollars
export const I_EPISODE = 12;
export const I_OPPORTUNITIES = 13; // auctions the world ran during this step (ours and rivals-only)
export const I_TERMINAL_KIND = 14; // 0 none, 1 flight budget exhausted, 2 end of flight
export const INFO_DIM = 16;

// ---- world header (byte offsets from a world's base) -------------------------------------------
export const H_MAGIC = 0; // u32
export const H_VERSION = 4; // u32
export const H_SHAPE_HASH = 8; // u32: hash of (users, ring, rivals, creatives)
export const H_RESERVED = 12; // u32 (zero: a world's bytes do not depend on the slot it runs in)
export const H_RNG = 16; // u64 SplitMix64 state (8 bytes; the next 8 are spare)
export const H_HOUR = 32; // i32 world clock
export const H_FLIGHT_START = 36; // i32
export const H_EPISODE = 40; // i32
export const H_OPPS_LEFT = 44; // i32 opportunities left in the current hour
export const H_PENDING = 48; // i32 1 when a decision awaits our action
export const H_P_USER = 52; // i32
export const H_P_CHANNEL = 56; // i32
export const H_P_DEVICE = 60; // i32
export const H_P_QUERY_INTENT = 64; // f32
export const H_P_PCTR = 68; // f32
export const H_P_REF_VALUE = 72; // f32 dollars
export const H_P_RESERVE = 76; // f32 dollars
export const H_FLIGHT_OVER = 80; // i32 1 between a terminated flight and the next day boundary
export const H_STARTED = 84; // i32 1 after reset
export const H_LAST_TERMINAL = 92; // i32 terminal kind of the last finished flight
export const H_DECISIONS = 96; // f64 decision counter (decision ids)
export const H_SPEND_TODAY = 104; // f64 micros
export const H_SPEND_FLIGHT = 112; // f64 micros
export const H_MARKET_NOISE = 120; // f64
export const H_PRICE_INDEX = 128; // f64 dollars, EMA of clearing prices
export const H_REWARD_ACC = 136; // f64 dollars credited since last step
export const H_FLIGHT_FIRST_DECISION = 144; // f64
export const H_SEASON_PHASE = 152; // f64 radians
export const H_WIN_EMA = 160; // f64 our recent win rate (EMA over decisions)
export const H_CPC_EMA = 168; // f64 dollars, our recent price per won impression (EMA)
export const H_P_BIDS = 176; // f32 x MAX_BIDDERS bids of the pending auction: [0] ours (set when resolved), [1..] rivals
export const H_RIVAL_LEFT = 240; // f64 x MAX_RIVALS dollars left of each rival's budget today
export const H_RIVALS = 360; // f32 x MAX_RIVALS*RIV_STRIDE: this world's rival parameters
export const H_STATS_EPISODE = 1800; // f64 x NUM_STATS
export const H_STATS_LAST_EPISODE = H_STATS_EPISODE + 8 * 64;
export const H_STATS_TOTAL = H_STATS_LAST_EPISODE + 8 * 64; // closed totals: add H_STATS_EPISODE for the lifetime
export const H_ATTR_SPLIT = H_STATS_TOTAL + 8 * 64; // f64 [NUM_ATTRIBUTION_MODELS][NUM_CHANNELS] our credited value
export const H_DELAY_HIST_ALL = H_ATTR_SPLIT + 8 * 32; // f64 [DELAY_BINS] all conversions, by hours since first touch
export const H_DELAY_HIST_OURS = H_DELAY_HIST_ALL + 8 * DELAY_BINS; // f64 [DELAY_BINS] weighted by our credit
export const H_CLOCK_DAY = H_DELAY_HIST_OURS + 8 * DELAY_BINS; // i32 day the calendar cache below is for (-1 none)
export const H_CLOCK_ACTIVITY = H_CLOCK_DAY + 8; // f64 day-of-week x season x surge
export const H_CLOCK_SEASON = H_CLOCK_DAY + 16; // f64
export const H_CLOCK_VALUE = H_CLOCK_DAY + 24; // f64 surge on conversion value
export const H_CLOCK_TREND = H_CLOCK_DAY + 32; // f64 CPC trend multiplier
export const H_SEG_COUNT = H_CLOCK_DAY + 48; // i32 [NUM_SEGMENTS] users per segment
export const H_SEG_START = H_SEG_COUNT + 24; // i32 [NUM_SEGMENTS] where each segment's users start in the partitioned list
export const H_SEG_CDF = H_SEG_START + 24; // f64 [NUM_SEGMENTS] this hour's cumulative opportunity share by segment
export const H_QUALITY = H_SEG_CDF + 48; // f32 x MAX_BIDDERS ad quality by bidder ([0] our creative's, set per auction)
export const H_P_EXPF = H_QUALITY + 64; // f64 exp(-fatigue) of the pending opportunity's user
export const H_P_CTR0 = H_P_EXPF + 8; // f64 its CTR before slot, advertiser and fatigue factors
export const H_SEASON_PERIOD = H_P_CTR0 + 8; // f64 this world's season period in days (0: the param's)
// Our budgets as this world runs them: the params' budgets x H_BUDGET_SCALE (the trainer's curriculum
// sets the scale between iterations), floored to whole micros; set at reset with scale 1.
export const H_BUDGET_SCALE = H_SEASON_PERIOD + 8; // f64
export const H_DAILY_BUDGET_MICROS = H_BUDGET_SCALE + 8; // f64
export const H_FLIGHT_BUDGET_MICROS = H_DAILY_BUDGET_MICROS + 8; // f64
export const H_RIVAL_STATS = H_FLIGHT_BUDGET_MICROS + 8; // f64 [MAX_RIVALS][RIVAL_STATS] each rival's lifetime outcomes (RS_* below)
export const HEADER_BYTES = H_RIVAL_STATS + 8 * MAX_RIVALS * 12; // 12 = RIVAL_STATS

// ---- stats (f64 indices within a stats block; NUM_STATS <= 64) ---------------------------------
export const S_OPPORTUNITIES = 0; // auctions run in the world
export const S_DECISIONS = 1; // auctions where our agent bid
export const S_IMPRESSIONS = 2; // our ad shown (won a slot)
export const S_CLICKS = 3;
export const S_SPEND = 4; // dollars
export const S_CONVERSIONS = 5; // our attributed conversions (fractional credit)
export const S_REVENUE = 6; // our attributed conversion value, dollars
export const S_MARKET_CONVERSIONS = 7; // all users' conversions
export const S_MULTI_TOUCH_CONVERSIONS = 8; // conversions with > 1 touchpoint in the journey
export const S_JOURNEY_DAYS_W = 9; // sum of credit x journey days (first touch -> conversion)
export const S_JOURNEY_TOUCHES_W = 10; // sum of credit x touchpoints in the journey
export const S_LATE_CONVERSIONS_W = 11; // sum of credit for conversions > 24 h after first touch
export const S_CENSORED_VALUE = 12; // our credit that arrived after its flight ended (dollars)
export const S_LOST_JOURNEYS = 13;
export const S_CRISIS_EVENTS = 14;
export const S_REWARD = 15; // sum of step rewards (dollars)
export const S_BUDGET_EXHAUSTED_HOURS = 16;
export const S_RIVAL_SPEND = 17;
export const S_RIVAL_IMPRESSIONS = 18;
export const S_UNSOLD = 19; // opportunities where no bid met the reserve
export const S_WIN_VALUE = 20; // sum of reference value of won impressions
export const S_CAL_CONVERSIONS = 21; // conversions of journeys whose first touch is in the histogram window
export const S_CAL_MULTI_TOUCH = 22; // ... credit-weighted share from advertisers with > 1 touchpoint
export const S_CREDITED_DECISIONS = 23; // our touchpoints that received conversion credit
export const NUM_STATS = 24;

// ---- rival outcomes (f64 indices within a rival's row of H_RIVAL_STATS; lifetime sums) ----------
// "High value" = the user was CONSIDERING or INTENT when the rivals bid (the users the defensive
// strategy protects, and where the value per click is highest).
export const RS_ENTERED = 0; // auctions the rival bid in (bid > 0)
export const RS_IMPRESSIONS = 1; // slots won
export const RS_CLICKS = 2;
export const RS_SPEND = 3; // dollars paid
export const RS_VALUE = 4; // expected value of the impressions won, dollars: the true top-slot value it bids from x its ad quality x the slot's position effect relative to the top
export const RS_HV_ENTERED = 5; // high-value auctions entered
export const RS_HV_LOSSES = 6; // high-value auctions entered and not won
export const RS_HV_LOST_TO_US = 7; // ... of which our agent won a slot
export const RS_CONVERSIONS = 8; // conversion credit under the configured attribution model (fractional)
export const RS_REVENUE = 9; // that credit x conversion value, dollars
export const RS_BUDGET = 10; // budget made available, dollars: daily budget x rival budget scale / 24 every hour (spend / this = utilisation)
export const RS_BUDGET_OUT = 11; // auctions sat out for want of budget (under one cent left today)
export const RIVAL_STATS = 12; // f64 per rival (HEADER_BYTES assumes 12)

// ---- experience rows (column ids; engine/experience.ts holds the Arrow schema) -----------------
// One row per decision of a rollout, struct-of-arrays in WASM memory, one column per id.
export const X_WORLD = 0; // u32 global world index
export const X_DECISION = 1; // u32 decision id within the world
export const X_USER = 2; // u32
export const X_HOUR = 3; // i32 world clock hour of the decision
export const X_EPISODE = 4; // i32 flight number
export const X_OBS = 5; // f32 [OBS_DIM]
export const X_BID_LEVEL = 6; // u8 index into the policy's bid levels
export const X_CREATIVE = 7; // u8
export const X_BID = 8; // f32 dollars
export const X_LOGP = 9; // f32 behaviour log-probability of (bid level, creative)
export const X_VALUE = 10; // f32 value estimate
export const X_REWARD = 11; // f32 attributed value - cost (dollars)
export const X_COST = 12; // f32 dollars paid
export const X_WON = 13; // u8
export const X_CLICKED = 14; // u8
export const X_SLOT = 15; // i8 (-1 lost)
export const X_TERMINAL = 16; // u8 flight terminal after this decision: 0 none, 1 budget, 2 flight end
export const X_JOURNEY_END = 17; // u8 the user's journey ended after this decision: 0 no, 1 converted, 2 lost
export const X_ATTRIBUTED = 18; // f64 conversion value credited to this decision (dollars)
export const X_WEIGHT = 19; // f32 importance weight (1 / probability the row was kept)
export const X_POLICY_VERSION = 20; // u32
export const X_SEGMENT = 21; // u8 true segment
export const X_CHANNEL = 22; // u8
export const X_REF_VALUE = 23; // f32 reference value of the opportunity (dollars)
export const X_KEEP = 24; // u8 internal: row kept by importance sampling
export const X_COLS = 25;
// late events: credit or journey ends for decisions emitted by an earlier rollout (24-byte records)
export const LATE_BYTES = 24; // u32 world, u32 decision, u32 kind, u32 pad, f64 value
export const LATE_CREDIT = 1;
export const LATE_CONVERTED = 2;
export const LATE_LOST = 3;
// per-world resampling and experience sampling params (f64 slots in the free range after channels)
export const P_RESAMPLE_RIVALS = 240; // probability each rival's strategy is redrawn at world reset
export const P_RESAMPLE_VALUE_SD = 241; // log-sd of a multiplier on each rival's aggression at reset
export const P_SEASON_PERIOD_JITTER = 242; // relative half-width of a uniform jitter on the season period
export const P_SAMPLE_KEEP = 243; // [NUM_SEGMENTS] probability a decision row of the segment is kept
