// The Arrow schemas of the decision log and the feedback log, the columnar buffers that build
// their record batches, and the readers `gaelp train --offline-data` and the server's start-up use.
// One row per served bid decision (decisions/) and one per stored feedback event (feedback/).
// Column docs are the reference (README "Serving: feedback" lists them).
import {
  Field, FixedSizeList, Float32, Float64, List, RecordBatch, Schema, Struct, Uint8, Uint32, Utf8, makeData, vectorFromArray,
  type Data, type Table,
} from "apache-arrow";
import { OBS_DIM } from "../../wasm/layout.js";

export const DECISIONS_DIR = "decisions";
export const FEEDBACK_DIR = "feedback";
export const DECISION_PREFIX = "decisions";
export const FEEDBACK_PREFIX = "feedback";

const obsType = () => new FixedSizeList(OBS_DIM, new Field("item", new Float32(), false));
const tpType = () => new List(new Field("item", new Utf8(), false));

export const DECISION_COLUMN_DOCS: Record<string, string> = {
  bid_id: "id of the decision, quoted by feedback events (utf8)",
  campaign_id: "campaign the bid was for (utf8)",
  at_ms: "when the decision was made, unix milliseconds (float64)",
  obs: `the observation the policy saw, FixedSizeList<Float32>[${OBS_DIM}] (raw features, env/features.ts)`,
  ref_value: "reference value of the opportunity, dollars (float32)",
  bid_level: "action: index into the serving policy's bid levels (uint8)",
  creative: "action: creative index (uint8)",
  multiplier: "the bid level's multiplier (float32): offline training checks it against its own bid levels",
  bid: "bid answered, dollars (float32)",
  logp: "log-probability of (bid_level, creative) under the serving policy's softmax heads (float32)",
  value: "the serving policy's value estimate (float32)",
  policy_version: "version of the served policy (uint32; increases at each reload)",
  policy_run: "run folder the served policy came from (utf8)",
  sampled: "1 when the action was sampled from the softmax, 0 when greedy (argmax) (uint8)",
};

export const DECISION_SCHEMA = new Schema([
  new Field("bid_id", new Utf8(), false),
  new Field("campaign_id", new Utf8(), false),
  new Field("at_ms", new Float64(), false),
  new Field("obs", obsType(), false),
  new Field("ref_value", new Float32(), false),
  new Field("bid_level", new Uint8(), false),
  new Field("creative", new Uint8(), false),
  new Field("multiplier", new Float32(), false),
  new Field("bid", new Float32(), false),
  new Field("logp", new Float32(), false),
  new Field("value", new Float32(), false),
  new Field("policy_version", new Uint32(), false),
  new Field("policy_run", new Utf8(), false),
  new Field("sampled", new Uint8(), false),
]);

export const FEEDBACK_COLUMN_DOCS: Record<string, string> = {
  event_id: "the event's id (utf8; unique: a repeated id is a duplicate and not stored)",
  kind: "impression, click or conversion (utf8)",
  campaign_id: "campaign (utf8)",
  bid_id: "the decision an impression or click belongs to (utf8; null for conversions)",
  touchpoints: "a conversion's touchpoints: bid ids of the journey, oldest first (List<Utf8>; null for impressions and clicks)",
  at_ms: "when the event happened, unix milliseconds (float64)",
  cost: "dollars paid (impressions, clicks; float64)",
  value: "conversion value, dollars (conversions; float64)",
  received_ms: "when the server stored it, unix milliseconds (float64)",
  digest: "CRC-32 of the event's content: a repeated id with another digest is a conflict (uint32)",
};

export const FEEDBACK_SCHEMA = new Schema([
  new Field("event_id", new Utf8(), false),
  new Field("kind", new Utf8(), false),
  new Field("campaign_id", new Utf8(), false),
  new Field("bid_id", new Utf8(), true),
  new Field("touchpoints", tpType(), true),
  new Field("at_ms", new Float64(), false),
  new Field("cost", new Float64(), false),
  new Field("value", new Float64(), false),
  new Field("received_ms", new Float64(), false),
  new Field("digest", new Uint32(), false),
]);

const num = (type: Float32 | Float64 | Uint8 | Uint32, data: Float32Array | Float64Array | Uint8Array | Uint32Array): Data =>
  makeData({ type, length: data.length, nullCount: 0, data } as never);
/**
 * A Utf8 column built directly (offsets + bytes + validity): apache-arrow's builder (vectorFromArray)
 * takes ~5 µs a string, which for a 16k-row decision segment would hold the event loop for 100 ms.
 * All-ASCII columns (ids, run names) take one join and one copy.
 */
function strings(values: readonly (string | null)[], n = values.length): Data {
  const offsets = new Int32Array(n + 1);
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
  const joined = nulls === 0 ? (n === values.length ? values : values.slice(0, n)).join("") : "";
  let data: Uint8Array;
  if (nulls === 0 && Buffer.byteLength(joined, "utf8") === joined.length) {
    for (let i = 0, at = 0; i < n; i++) offsets[i + 1] = at += (values[i] as string).length;
    data = Buffer.from(joined, "latin1");
  } else {
    let bytes = 0;
    for (let i = 0; i < n; i++) offsets[i + 1] = bytes += values[i] === null ? 0 : Buffer.byteLength(values[i] as string, "utf8");
    const buf = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < n; i++) if (values[i] !== null) buf.write(values[i] as string, offsets[i], "utf8");
    data = buf;
  }
  let nullBitmap: Uint8Array | undefined;
  if (nulls > 0) {
    nullBitmap = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) if (values[i] !== null) nullBitmap[i >> 3] |= 1 << (i & 7);
  }
  return makeData({ type: new Utf8(), length: n, nullCount: nulls, valueOffsets: offsets, data, nullBitmap });
}

/** A string column as one string and the end of each value in it (UTF-16 units): what crosses to
 *  the decision log's writer thread as one copy instead of one clone per string. */
export interface PackedStrings {
  joined: string;
  ends: Int32Array;
}

export function packStrings(values: readonly string[], n = values.length): PackedStrings {
  const ends = new Int32Array(n);
  for (let i = 0, at = 0; i < n; i++) ends[i] = at += values[i].length;
  return { joined: (n === values.length ? values : values.slice(0, n)).join(""), ends };
}

/** The Utf8 column of packed strings (all-ASCII: one copy; else each value encoded in place). */
function packedStrings(p: PackedStrings): Data {
  const n = p.ends.length;
  const offsets = new Int32Array(n + 1);
  let data: Uint8Array;
  if (Buffer.byteLength(p.joined, "utf8") === p.joined.length) {
    offsets.set(p.ends, 1);
    data = Buffer.from(p.joined, "latin1");
  } else {
    const parts = new Array<string>(n);
    let bytes = 0;
    for (let i = 0, from = 0; i < n; from = p.ends[i++]) {
      parts[i] = p.joined.slice(from, p.ends[i]);
      offsets[i + 1] = bytes += Buffer.byteLength(parts[i], "utf8");
    }
    const buf = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < n; i++) buf.write(parts[i], offsets[i], "utf8");
    data = buf;
  }
  return makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data });
}

function batchOf(schema: Schema, children: Data[], n: number): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }));
}

/** The numeric columns of DecisionColumns: what the writer thread gets transferred and gives back. */
export type DecisionNumbers = Pick<DecisionColumns, "atMs" | "obs" | "refValue" | "bidLevel" | "creative" | "multiplier" | "bid" | "logp" | "value" | "version" | "sampled">;

/** The first n rows of DecisionColumns as they cross to the writer thread: numeric columns
 *  (full-length; their buffers are transferred) and the string columns packed. */
export interface DecisionSegment {
  n: number;
  nums: DecisionNumbers;
  bidId: PackedStrings;
  campaignId: PackedStrings;
  run: PackedStrings;
}

/** One record batch of a segment's rows (numeric columns are views, not copies). */
export function decisionBatch(seg: DecisionSegment): RecordBatch {
  const { n, nums: c } = seg;
  const obsChild = makeData({ type: new Float32(), length: n * OBS_DIM, nullCount: 0, data: c.obs.subarray(0, n * OBS_DIM) });
  return batchOf(DECISION_SCHEMA, [
    packedStrings(seg.bidId),
    packedStrings(seg.campaignId),
    num(new Float64(), c.atMs.subarray(0, n)),
    makeData({ type: obsType(), length: n, nullCount: 0, child: obsChild }),
    num(new Float32(), c.refValue.subarray(0, n)),
    num(new Uint8(), c.bidLevel.subarray(0, n)),
    num(new Uint8(), c.creative.subarray(0, n)),
    num(new Float32(), c.multiplier.subarray(0, n)),
    num(new Float32(), c.bid.subarray(0, n)),
    num(new Float32(), c.logp.subarray(0, n)),
    num(new Float32(), c.value.subarray(0, n)),
    num(new Uint32(), c.version.subarray(0, n)),
    packedStrings(seg.run),
    num(new Uint8(), c.sampled.subarray(0, n)),
  ], n);
}

/** The buffers of numeric columns: what postMessage transfers instead of copying. */
export const numberBuffers = (c: DecisionNumbers): ArrayBuffer[] =>
  [c.atMs, c.obs, c.refValue, c.bidLevel, c.creative, c.multiplier, c.bid, c.logp, c.value, c.version, c.sampled].map((a) => a.buffer as ArrayBuffer);

/** Served decisions in columns, preallocated: appending one is a few stores and a 50-float copy. */
export class DecisionColumns {
  n = 0;
  readonly bidId: string[];
  readonly campaignId: string[];
  readonly run: string[];
  readonly atMs: Float64Array;
  readonly obs: Float32Array;
  readonly refValue: Float32Array;
  readonly bidLevel: Uint8Array;
  readonly creative: Uint8Array;
  readonly multiplier: Float32Array;
  readonly bid: Float32Array;
  readonly logp: Float32Array;
  readonly value: Float32Array;
  readonly version: Uint32Array;
  readonly sampled: Uint8Array;

  /** Empty columns for `cap` rows; `from` gives the numeric columns (back from the writer thread)
   *  and `strs` the string arrays. */
  constructor(readonly cap: number, from?: DecisionNumbers, strs?: Pick<DecisionColumns, "bidId" | "campaignId" | "run">) {
    this.bidId = strs?.bidId ?? new Array<string>(cap).fill("");
    this.campaignId = strs?.campaignId ?? new Array<string>(cap).fill("");
    this.run = strs?.run ?? new Array<string>(cap).fill("");
    this.atMs = from?.atMs ?? new Float64Array(cap);
    this.obs = from?.obs ?? new Float32Array(cap * OBS_DIM);
    this.refValue = from?.refValue ?? new Float32Array(cap);
    this.bidLevel = from?.bidLevel ?? new Uint8Array(cap);
    this.creative = from?.creative ?? new Uint8Array(cap);
    this.multiplier = from?.multiplier ?? new Float32Array(cap);
    this.bid = from?.bid ?? new Float32Array(cap);
    this.logp = from?.logp ?? new Float32Array(cap);
    this.value = from?.value ?? new Float32Array(cap);
    this.version = from?.version ?? new Uint32Array(cap);
    this.sampled = from?.sampled ?? new Uint8Array(cap);
  }

  /** The first n rows, strings packed, numeric columns shared (not copied). */
  segment(): DecisionSegment {
    const n = this.n;
    const nums: DecisionNumbers = {
      atMs: this.atMs, obs: this.obs, refValue: this.refValue, bidLevel: this.bidLevel, creative: this.creative, multiplier: this.multiplier,
      bid: this.bid, logp: this.logp, value: this.value, version: this.version, sampled: this.sampled,
    };
    return { n, nums, bidId: packStrings(this.bidId, n), campaignId: packStrings(this.campaignId, n), run: packStrings(this.run, n) };
  }

  /** The first n rows as one record batch (numeric columns are views, not copies). */
  batch(): RecordBatch {
    return decisionBatch(this.segment());
  }
}

export type FeedbackKind = "impression" | "click" | "conversion";

/** One feedback event as stored. */
export interface StoredEvent {
  eventId: string;
  kind: FeedbackKind;
  campaignId: string;
  /** impressions and clicks */
  bidId: string | null;
  /** conversions: the journey's bid ids, oldest first */
  touchpoints: string[] | null;
  atMs: number;
  cost: number;
  value: number;
  receivedMs: number;
  digest: number;
}

export function feedbackBatch(events: StoredEvent[]): RecordBatch {
  const n = events.length;
  const f64 = (get: (e: StoredEvent) => number) => num(new Float64(), Float64Array.from(events, get));
  return batchOf(FEEDBACK_SCHEMA, [
    strings(events.map((e) => e.eventId)),
    strings(events.map((e) => e.kind)),
    strings(events.map((e) => e.campaignId)),
    strings(events.map((e) => e.bidId)),
    vectorFromArray(events.map((e) => e.touchpoints), tpType()).data[0],
    f64((e) => e.atMs),
    f64((e) => e.cost),
    f64((e) => e.value),
    f64((e) => e.receivedMs),
    num(new Uint32(), Uint32Array.from(events, (e) => e.digest)),
  ], n);
}

const KINDS = new Set<string>(["impression", "click", "conversion"]);

/** The events of a feedback segment, checked row by row (a bad row names the file and row). */
export function eventsOf(table: Table, path: string): StoredEvent[] {
  const col = <T>(name: string) => table.getChild(name)!.toArray() as T;
  const ids = col<string[]>("event_id");
  const kinds = col<string[]>("kind");
  const campaigns = col<string[]>("campaign_id");
  const bids = col<(string | null)[]>("bid_id");
  const tps = table.getChild("touchpoints")!;
  const at = col<Float64Array>("at_ms");
  const cost = col<Float64Array>("cost");
  const value = col<Float64Array>("value");
  const recv = col<Float64Array>("received_ms");
  const digest = col<Uint32Array>("digest");
  const out: StoredEvent[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const kind = kinds[i];
    const t = tps.get(i) as { toArray(): string[] } | null;
    const touchpoints = t === null ? null : Array.from(t.toArray());
    const bad = (why: string): never => {
      throw new Error(`${path}: row ${i} (event ${JSON.stringify(ids[i])}): ${why}`);
    };
    if (!KINDS.has(kind)) bad(`kind ${JSON.stringify(kind)} is not impression, click or conversion`);
    if (kind === "conversion" ? touchpoints === null || touchpoints.length === 0 : bids[i] === null) {
      bad(kind === "conversion" ? "a conversion without touchpoints" : `a ${kind} without bid_id`);
    }
    if (!(Number.isFinite(at[i]) && cost[i] >= 0 && cost[i] < Infinity && value[i] >= 0 && value[i] < Infinity)) {
      bad(`at_ms ${at[i]}, cost ${cost[i]} and value ${value[i]} must be finite and cost, value >= 0`);
    }
    out[i] = {
      eventId: ids[i], kind: kind as FeedbackKind, campaignId: campaigns[i], bidId: bids[i], touchpoints,
      atMs: at[i], cost: cost[i], value: value[i], receivedMs: recv[i], digest: digest[i],
    };
  }
  return out;
}
