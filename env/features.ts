// The observation table: what each of the OBS_DIM features is, its unit before normalisation,
// how it is normalised and its bounds. The WASM core writes them (wasm/assembly/observation.ts);
// README's table is printed from this one (`node dist/env/features.js`).
import * as L from "../wasm/layout.js";
import { SEGMENT_NAMES, CHANNEL_NAMES } from "./config.js";

export type FeatureGroup = "journey" | "user" | "market" | "budget";

export interface Feature {
  index: number;
  name: string;
  group: FeatureGroup;
  unit: string;
  normalisation: string;
  low: number;
  high: number;
}

const f = (index: number, name: string, group: FeatureGroup, unit: string, normalisation: string, low = 0, high = 1): Feature =>
  ({ index, name, group, unit, normalisation, low, high });

export const FEATURES: readonly Feature[] = [
  ...["unaware", "aware", "considering", "intent"].map((s, i) =>
    f(L.F_STAGE_UNAWARE + i, `tracked_stage_${s}`, "journey", "one-hot", "stage by our own tracking: no touch, touched, 1 click, ≥ 2 clicks")),
  f(L.F_OUR_TOUCHES, "our_touches", "journey", "count", "visible touchpoints of ours / 10, clipped"),
  f(L.F_OUR_CLICKS, "our_clicks", "journey", "count", "visible clicks on our ads / 5, clipped"),
  f(L.F_HOURS_SINCE_TOUCH, "hours_since_our_touch", "journey", "hours", "log1p(h) / log1p(720), clipped; 1 when never touched"),
  f(L.F_JOURNEY_DAYS, "days_since_our_first_touch", "journey", "hours", "h / 720, clipped; 0 when never touched"),
  f(L.F_CHANNELS_SEEN, "channels_seen", "journey", "count", "distinct channels of our visible touchpoints / 5"),
  f(L.F_COMPETITOR_TOUCHES, "competitor_touches", "journey", "count", "rival touchpoints reported on visible devices / 10, clipped"),
  f(L.F_LAST_TOUCH_CLICKED, "last_touch_clicked", "journey", "bool", "our last visible touchpoint was clicked"),
  ...[0, 1, 2].map((c) => f(L.F_CREATIVE_EXPOSURE + c, `creative_${c}_exposures`, "journey", "count", "exposures of our creative on this user / 10, clipped")),
  ...SEGMENT_NAMES.map((s, i) => f(L.F_SEGMENT + i, `segment_${s}`, "user", "one-hot", "the platform's audience label (right with probability segmentAccuracy)")),
  f(L.F_DEVICES_KNOWN, "devices_known", "user", "count", "linked devices / 3 (1 when this device is not linked)"),
  f(L.F_MATCH_CONFIDENCE, "match_confidence", "user", "probability", "identity-graph confidence for this device"),
  f(L.F_DEVICE_MATCHED, "device_matched", "user", "bool", "this device is linked: history on other linked devices is visible"),
  f(L.F_URGENCY_SIGNAL, "urgency_signal", "user", "0..1", "urgency as revealed by search queries (0 off search)"),
  f(L.F_FATIGUE_SIGNAL, "ad_fatigue", "user", "0..1", "1 - exp(-fatigue) from the user's recent ad load"),
  ...CHANNEL_NAMES.map((c, i) => f(L.F_CHANNEL + i, `channel_${c}`, "market", "one-hot", "channel of the opportunity")),
  f(L.F_HOUR_SIN, "hour_sin", "market", "hour", "sin(2π (hour + 0.5) / 24)", -1, 1),
  f(L.F_HOUR_COS, "hour_cos", "market", "hour", "cos(2π (hour + 0.5) / 24)", -1, 1),
  f(L.F_DOW_SIN, "day_of_week_sin", "market", "day", "sin(2π dow / 7)", -1, 1),
  f(L.F_DOW_COS, "day_of_week_cos", "market", "day", "cos(2π dow / 7)", -1, 1),
  f(L.F_QUERY_INTENT, "query_intent", "market", "0..1", "observable keyword intent (search-like channels)"),
  f(L.F_PCTR, "pctr", "market", "probability", "our predicted CTR / 0.2, clipped"),
  f(L.F_REF_VALUE, "reference_value", "market", "dollars", "pCTR × value-per-click(stage) × conversion value / bidMax, clipped"),
  f(L.F_RESERVE, "reserve_price", "market", "dollars", "reserve / bidMax, clipped"),
  f(L.F_PRICE_INDEX, "price_index", "market", "dollars", "EMA of clearing prices / bidMax, clipped"),
  f(L.F_SEASONALITY, "seasonality", "market", "multiplier", "today's activity multiplier / 2, clipped"),
  f(L.F_DAILY_BUDGET_LEFT, "daily_budget_left", "budget", "fraction", "1 - spend today / daily budget"),
  f(L.F_FLIGHT_BUDGET_LEFT, "flight_budget_left", "budget", "fraction", "1 - spend this flight / flight budget"),
  f(L.F_PACING_RATIO, "pacing_ratio", "budget", "ratio", "(spend today / traffic-weighted target) / 2, clipped; 0.5 = on pace"),
  f(L.F_DAY_LEFT, "day_left", "budget", "fraction", "(24 - hour) / 24"),
  f(L.F_FLIGHT_LEFT, "flight_left", "budget", "fraction", "hours left in the flight / flight hours"),
  ...["behind", "on_track", "ahead"].map((s, i) => f(L.F_PACING_STATE + i, `pacing_${s}`, "budget", "one-hot", "pacing ratio below / within / above 1 ± band")),
  f(L.F_WIN_RATE, "recent_win_rate", "budget", "fraction", "EMA (0.99) of our auction wins"),
  f(L.F_RECENT_CPM, "recent_price", "budget", "dollars", "EMA (0.95) of our price per won impression / bidMax, clipped"),
];

export const OBS_LOW = Float32Array.from(FEATURES, (x) => x.low);
export const OBS_HIGH = Float32Array.from(FEATURES, (x) => x.high);

export function featureTableMarkdown(): string {
  const rows = FEATURES.map((x) => `| ${x.index} | \`${x.name}\` | ${x.group} | ${x.unit} | ${x.normalisation} | [${x.low}, ${x.high}] |`);
  return ["| # | feature | group | unit | normalisation | bounds |", "|---|---|---|---|---|---|", ...rows].join("\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, "/"))) {
  console.log(featureTableMarkdown());
}
