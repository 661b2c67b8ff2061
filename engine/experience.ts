// The experience stream's Arrow schema, and record batches built straight over the WASM
// experience columns (wasm/assembly/experience.ts) with makeData: no copies until IPC.
//
// One row per decision. Rows are grouped in one record batch per world per iteration, in world
// order, so the bytes of an iteration do not depend on how worlds were split into tasks.
import {
  Field, FixedSizeList, Float32, Float64, Int8, Int32, RecordBatch, Schema, Struct, Uint8, Uint32,
  makeData, RecordBatchFileWriter, RecordBatchStreamWriter, type DataType, type Data,
} from "apache-arrow";
import * as L from "../wasm/layout.js";

type Typed = Float32ArrayConstructor | Float64ArrayConstructor | Int8ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor | Uint32ArrayConstructor;

export interface ColumnDef {
  name: string;
  id: number; // X_* column id in wasm/layout.ts
  type: () => DataType;
  array: Typed;
  width: number; // values per row
  doc: string;
}

const obsType = () => new FixedSizeList(L.OBS_DIM, new Field("item", new Float32(), false));

/** The experience schema, in column order. README's table is generated from `doc`. */
export const EXPERIENCE_COLUMNS: readonly ColumnDef[] = [
  { name: "world", id: L.X_WORLD, type: () => new Uint32(), array: Uint32Array, width: 1, doc: "global world index (0..W-1)" },
  { name: "decision", id: L.X_DECISION, type: () => new Uint32(), array: Uint32Array, width: 1, doc: "decision id, consecutive within a world over its life" },
  { name: "user", id: L.X_USER, type: () => new Uint32(), array: Uint32Array, width: 1, doc: "user index within the world (with world: the trajectory key)" },
  { name: "hour", id: L.X_HOUR, type: () => new Int32(), array: Int32Array, width: 1, doc: "world clock hour of the decision" },
  { name: "episode", id: L.X_EPISODE, type: () => new Int32(), array: Int32Array, width: 1, doc: "flight number" },
  { name: "obs", id: L.X_OBS, type: obsType, array: Float32Array, width: L.OBS_DIM, doc: `observation, FixedSizeList<Float32>[${L.OBS_DIM}] (env/features.ts)` },
  { name: "bid_level", id: L.X_BID_LEVEL, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "action: index into the policy's bid levels" },
  { name: "creative", id: L.X_CREATIVE, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "action: creative index" },
  { name: "bid", id: L.X_BID, type: () => new Float32(), array: Float32Array, width: 1, doc: "bid placed, dollars (level x reference value, capped at bidMax)" },
  { name: "logp", id: L.X_LOGP, type: () => new Float32(), array: Float32Array, width: 1, doc: "behaviour log-probability of (bid_level, creative)" },
  { name: "value", id: L.X_VALUE, type: () => new Float32(), array: Float32Array, width: 1, doc: "value estimate of the behaviour policy" },
  { name: "reward", id: L.X_REWARD, type: () => new Float32(), array: Float32Array, width: 1, doc: "attributed_value - cost, dollars" },
  { name: "cost", id: L.X_COST, type: () => new Float32(), array: Float32Array, width: 1, doc: "price paid, dollars (0 when lost)" },
  { name: "won", id: L.X_WON, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "1 when our ad was shown" },
  { name: "clicked", id: L.X_CLICKED, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "1 when it was clicked" },
  { name: "slot", id: L.X_SLOT, type: () => new Int8(), array: Int8Array, width: 1, doc: "slot won (0 = top), -1 when lost" },
  { name: "terminal", id: L.X_TERMINAL, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "flight ended after this decision: 0 no, 1 budget exhausted (terminated), 2 end of flight (truncated)" },
  { name: "journey_end", id: L.X_JOURNEY_END, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "the user's journey ended after this decision (our last decision on it): 0 no, 1 converted, 2 lost" },
  { name: "attributed_value", id: L.X_ATTRIBUTED, type: () => new Float64(), array: Float64Array, width: 1, doc: "conversion value credited to this decision by the attribution model, dollars (delayed credit, applied in place)" },
  { name: "weight", id: L.X_WEIGHT, type: () => new Float32(), array: Float32Array, width: 1, doc: "importance weight: 1 / probability the row was kept" },
  { name: "policy_version", id: L.X_POLICY_VERSION, type: () => new Uint32(), array: Uint32Array, width: 1, doc: "version of the policy that acted" },
  { name: "segment", id: L.X_SEGMENT, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "true segment of the user (analysis only; not observed)" },
  { name: "channel", id: L.X_CHANNEL, type: () => new Uint8(), array: Uint8Array, width: 1, doc: "channel of the opportunity" },
  { name: "ref_value", id: L.X_REF_VALUE, type: () => new Float32(), array: Float32Array, width: 1, doc: "reference value of the opportunity, dollars (the bid levels multiply it)" },
];

export const EXPERIENCE_SCHEMA = new Schema(EXPERIENCE_COLUMNS.map((c) => new Field(c.name, c.type(), false)));

/** Late events: credit or journey ends reaching decisions emitted by an earlier iteration. */
export const LATE_SCHEMA = new Schema([
  new Field("world", new Uint32(), false),
  new Field("decision", new Uint32(), false),
  new Field("kind", new Uint8(), false), // 1 credit, 2 journey converted, 3 journey lost
  new Field("value", new Float64(), false), // dollars credited (kind 1)
]);
export const LATE_KIND = { credit: L.LATE_CREDIT, converted: L.LATE_CONVERTED, lost: L.LATE_LOST } as const;

function column(def: ColumnDef, mem: ArrayBuffer, ptr: number, row0: number, rows: number): Data {
  const values = new def.array(mem, ptr + row0 * def.width * def.array.BYTES_PER_ELEMENT, rows * def.width);
  if (def.width === 1) return makeData({ type: def.type(), length: rows, nullCount: 0, data: values } as never);
  const child = makeData({ type: new Float32(), length: rows * def.width, nullCount: 0, data: values as Float32Array });
  return makeData({ type: obsType(), length: rows, nullCount: 0, child });
}

/** A record batch over rows [row0, row0 + rows) of the WASM experience columns (no copy: valid
 *  until the WASM memory grows or the rows are overwritten). */
export function experienceBatch(mem: ArrayBuffer, colPtr: (id: number) => number, row0: number, rows: number): RecordBatch {
  const children = EXPERIENCE_COLUMNS.map((def) => column(def, mem, colPtr(def.id), row0, rows));
  const data = makeData({ type: new Struct(EXPERIENCE_SCHEMA.fields), length: rows, nullCount: 0, children });
  return new RecordBatch(EXPERIENCE_SCHEMA, data);
}

/** Late events, copied out of the WASM's 24-byte records into columns. */
export function lateBatch(mem: ArrayBuffer, ptr: number, from: number, to: number): RecordBatch {
  const n = to - from;
  const world = new Uint32Array(n);
  const decision = new Uint32Array(n);
  const kind = new Uint8Array(n);
  const value = new Float64Array(n);
  const dv = new DataView(mem);
  for (let i = 0; i < n; i++) {
    const p = ptr + (from + i) * L.LATE_BYTES;
    world[i] = dv.getUint32(p, true);
    decision[i] = dv.getUint32(p + 4, true);
    kind[i] = dv.getUint32(p + 8, true);
    value[i] = dv.getFloat64(p + 16, true);
  }
  const children = [
    makeData({ type: new Uint32(), length: n, nullCount: 0, data: world }),
    makeData({ type: new Uint32(), length: n, nullCount: 0, data: decision }),
    makeData({ type: new Uint8(), length: n, nullCount: 0, data: kind }),
    makeData({ type: new Float64(), length: n, nullCount: 0, data: value }),
  ];
  return new RecordBatch(LATE_SCHEMA, makeData({ type: new Struct(LATE_SCHEMA.fields), length: n, nullCount: 0, children }));
}

function writeIpc(writer: RecordBatchStreamWriter | RecordBatchFileWriter, schema: Schema, batches: RecordBatch[]): Uint8Array {
  writer.reset(undefined, schema);
  for (const b of batches) writer.write(b);
  writer.finish();
  return writer.toUint8Array(true);
}

/** Serialises batches as one Arrow IPC stream (schema once, then each batch in order). */
export const toIpcStream = (schema: Schema, batches: RecordBatch[]): Uint8Array => writeIpc(new RecordBatchStreamWriter(), schema, batches);

/** Serialises batches as one Arrow IPC file (the stream plus a footer: random access, what pyarrow
 *  and polars open as a file). */
export const toIpcFile = (schema: Schema, batches: RecordBatch[]): Uint8Array => writeIpc(new RecordBatchFileWriter(), schema, batches);
