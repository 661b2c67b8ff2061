// POST /v1/bids with an Apache Arrow IPC stream body (content-type application/vnd.apache.arrow.stream):
// the batch as columns, for clients that send many opportunities a second. Parsing 1,024 JSON
// opportunities (51 k numbers) is about a quarter of a JSON batch's main-thread time and checking
// them against the schema another few per cent; here the observations arrive as one float32 block
// that is checked against the feature bounds in one loop and handed to the policy as it is.
//
// Columns (any number of record batches, 1..maxBatch rows in all):
//   obs       FixedSizeList<Float32>[OBS_DIM], no nulls: the features in README's table order, each
//             within its bounds (the float32 value is compared, as the policy sees it)
//   refValue  Float32 or Float64, no nulls, in [0, 1e6]: dollars
//   maxBid    optional, Float32 or Float64, in [0, 1e6]; null = no cap for that row
// campaignId, sample and seed travel in the query string (the body is data only).
import { DataType, type Data, Precision, type Table, tableFromIPC } from "apache-arrow";
import { Message } from "apache-arrow/fb/message";
import { MessageHeader } from "apache-arrow/fb/message-header";
import { RecordBatch as FbRecordBatch } from "apache-arrow/fb/record-batch";
import { Schema as FbSchema } from "apache-arrow/fb/schema";
import type { Field as FbField } from "apache-arrow/fb/field";
import { ByteBuffer } from "flatbuffers";
import { FEATURES } from "../../env/features.js";
import { OBS_DIM } from "../../wasm/layout.js";
import { HttpError } from "../errors.js";

export const ARROW_STREAM = "application/vnd.apache.arrow.stream";
const MAX_DOLLARS = 1e6;
const LOW = Float64Array.from(FEATURES, (f) => f.low);
const HIGH = Float64Array.from(FEATURES, (f) => f.high);
const COLUMNS = ["obs", "refValue", "maxBid"];

/** A parsed Arrow batch: row i's features at obs[i * OBS_DIM ..], maxBid NaN where there is no cap. */
export class ArrowBatch {
  constructor(readonly n: number, readonly obs: Float32Array, readonly refValue: Float64Array, readonly maxBid: Float64Array) {}
}

const bad = (field: string, message: string): HttpError => new HttpError(400, "invalid_request", `${field} ${message}`, field);

function isFloat(t: DataType): boolean {
  return DataType.isFloat(t) && (t.precision === Precision.SINGLE || t.precision === Precision.DOUBLE);
}

/** The first null row of a chunk list, counted across chunks, or -1. */
function firstNull(chunks: readonly Data[]): number {
  let base = 0;
  for (const d of chunks) {
    if (d.nullCount > 0) for (let i = 0; i < d.length; i++) if (!d.getValid(i)) return base + i;
    base += d.length;
  }
  return -1;
}

/** A float column (Float32 or Float64 chunks) into one Float64Array; nulls become NaN. */
function floats(chunks: readonly Data[], n: number): Float64Array {
  const out = new Float64Array(n);
  let at = 0;
  for (const d of chunks) {
    const v = d.values as Float32Array | Float64Array; // starts at the chunk's row 0 (a slice's values are cut too)
    for (let i = 0; i < d.length; i++) out[at + i] = d.nullCount > 0 && !d.getValid(i) ? Number.NaN : v[i];
    at += d.length;
  }
  return out;
}

function dollars(col: Float64Array, field: string, nullable: boolean): void {
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v >= 0 && v <= MAX_DOLLARS) continue;
    if (nullable && Number.isNaN(v)) continue; // null: no cap (a NaN value was refused before)
    throw bad(`${field}[${i}]`, `must be a number in [0, ${MAX_DOLLARS}] (dollars), got ${v}`);
  }
}

const invalid = (why: string): HttpError => new HttpError(400, "invalid_arrow", `the body is not an Arrow IPC stream this route takes: ${why}`);

// Bounds on what a batch's stream may declare. apache-arrow builds an object for every field,
// child, metadata entry, node and buffer a message declares, before anything checks them: a
// corrupted count (one flipped byte can make a field claim 1.6 billion children) would exhaust the
// heap. So the messages' counts are read first, lazily from the flatbuffers (no allocation), and a
// stream that declares more than this route's schema could need is refused.
const MAX_FIELDS = 8;
const MAX_CHILDREN = 2;
const MAX_DEPTH = 3;
const MAX_METADATA = 64;
const MAX_NODES = 16;
const MAX_BUFFERS = 48;
const MAX_LIST_SIZE = 4096;

function checkField(f: FbField, depth: number): void {
  if (f.customMetadataLength() > MAX_METADATA) throw invalid(`a field declares ${f.customMetadataLength()} metadata entries`);
  const children = f.childrenLength();
  if (children > MAX_CHILDREN || (children > 0 && depth >= MAX_DEPTH)) throw invalid(`a field declares ${children} children`);
  for (let i = 0; i < children; i++) {
    const c = f.children(i);
    if (c === null) throw invalid("a field's child is missing");
    checkField(c, depth + 1);
  }
}

/** Walks the stream's message headers and refuses counts past the bounds above, dictionary and
 *  compressed batches, and rows past maxBatch, before apache-arrow reads it. */
export function prescanArrowStream(bytes: Uint8Array, maxBatch: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let rows = 0;
  let messages = 0;
  while (at + 4 <= bytes.length) {
    let len = view.getInt32(at, true);
    at += 4;
    if (len === -1) {
      // continuation marker, then the metadata length
      if (at + 4 > bytes.length) throw invalid("the stream ends inside a message prefix");
      len = view.getInt32(at, true);
      at += 4;
    }
    if (len === 0) return; // end-of-stream marker
    if (len < 0 || at + len > bytes.length) throw invalid(`a message declares ${len} bytes of metadata; ${bytes.length - at} are left`);
    if (++messages > 4096) throw invalid("more than 4096 messages");
    const m = Message.getRootAsMessage(new ByteBuffer(bytes.subarray(at, at + len)));
    const body = Number(m.bodyLength());
    at += len;
    if (!(body >= 0 && at + body <= bytes.length)) throw invalid(`a message declares a body of ${body} bytes; ${bytes.length - at} are left`);
    const kind = m.headerType();
    if (kind === MessageHeader.Schema) {
      const s = m.header(new FbSchema()) as FbSchema | null;
      if (s === null) throw invalid("the schema message has no schema");
      const n = s.fieldsLength();
      if (n > MAX_FIELDS) throw invalid(`the schema declares ${n} columns`);
      if (s.customMetadataLength() > MAX_METADATA || s.featuresLength() > MAX_METADATA) throw invalid("the schema declares too many metadata entries");
      for (let i = 0; i < n; i++) {
        const f = s.fields(i);
        if (f === null) throw invalid("a column of the schema is missing");
        checkField(f, 1);
      }
    } else if (kind === MessageHeader.RecordBatch) {
      const b = m.header(new FbRecordBatch()) as FbRecordBatch | null;
      if (b === null) throw invalid("a record batch message has no header");
      if (b.compression() !== null) throw invalid("compressed record batches are not accepted");
      if (b.nodesLength() > MAX_NODES || b.buffersLength() > MAX_BUFFERS || b.variadicBufferCountsLength() > MAX_BUFFERS) {
        throw invalid(`a record batch declares ${b.nodesLength()} nodes and ${b.buffersLength()} buffers`);
      }
      const length = Number(b.length());
      rows += length;
      if (!(length >= 0) || rows > maxBatch) throw bad("body", `must hold 1 to ${maxBatch} rows, got ${rows} or more`);
      for (let i = 0; i < b.nodesLength(); i++) {
        // a column holds `length` values, a list's child up to MAX_LIST_SIZE times that
        const node = b.nodes(i);
        const nodeLength = node === null ? -1 : Number(node.length());
        if (node === null || !(nodeLength >= 0 && nodeLength <= length * MAX_LIST_SIZE) || !(Number(node.nullCount()) <= nodeLength)) {
          throw invalid(`a record batch of ${length} rows declares a column of ${nodeLength} values`);
        }
      }
    } else {
      throw invalid(`message type ${kind} is not accepted (schema and record batches only: no dictionaries)`);
    }
    at += body;
  }
  if (messages === 0) throw invalid("no messages");
}

/** Index of the first feature value outside its bounds (or NaN) in rows of OBS_DIM, or -1. A small
 *  function of its own: inside the large checking function V8 compiled this loop about five times
 *  slower (10 ns a value against 2). */
function firstOutOfBounds(obs: Float32Array): number {
  const dim = OBS_DIM;
  const low = LOW;
  const high = HIGH;
  for (let k = 0; k < obs.length; k += dim) {
    for (let j = 0; j < dim; j++) {
      const v = obs[k + j];
      if (!(v >= low[j] && v <= high[j])) return k + j;
    }
  }
  return -1;
}

/** Parses and checks an Arrow IPC stream body; throws a 400 HttpError naming the field. */
export function parseArrowBatch(bytes: Uint8Array, maxBatch: number): ArrowBatch {
  prescanArrowStream(bytes, maxBatch);
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new HttpError(400, "invalid_arrow", `the body is not an Arrow IPC stream: ${(e as Error)?.message ?? String(e)}`);
  }
  return checkArrowTable(table, maxBatch);
}

/** Checks a table's columns as parseArrowBatch does. Chunks may be slices (Table.slice): apache-arrow
 *  cuts a slice's values (and a FixedSizeList's child) to its rows and keeps `offset` for the
 *  validity bitmap only, so values are read from index 0 and getValid takes the chunk's row. */
export function checkArrowTable(table: Table, maxBatch: number): ArrowBatch {
  for (const f of table.schema.fields) {
    if (!COLUMNS.includes(f.name)) throw bad(`body.${f.name}`, `is not a known column (allowed: ${COLUMNS.join(", ")})`);
  }
  const n = table.numRows;
  if (!(n >= 1 && n <= maxBatch)) throw bad("body", `must hold 1 to ${maxBatch} rows, got ${n}`);

  const obsField = table.schema.fields.find((f) => f.name === "obs");
  if (obsField === undefined) throw bad("body.obs", "is required");
  const t = obsField.type;
  if (!(DataType.isFixedSizeList(t) && t.listSize === OBS_DIM && DataType.isFloat(t.children[0].type) && t.children[0].type.precision === Precision.SINGLE)) {
    throw bad("body.obs", `must be FixedSizeList<Float32>[${OBS_DIM}], got ${String(t)}`);
  }
  const obsChunks = table.getChild("obs")!.data;
  const nullRow = firstNull(obsChunks);
  if (nullRow >= 0) throw bad(`body.obs[${nullRow}]`, "is null (every row needs its features)");
  const obs = new Float32Array(n * OBS_DIM);
  let row = 0;
  for (const d of obsChunks) {
    const child = d.children[0];
    if (child.nullCount > 0) {
      for (let k = 0; k < d.length * OBS_DIM; k++) {
        if (!child.getValid(k)) throw bad(`body.obs[${row + Math.floor(k / OBS_DIM)}][${k % OBS_DIM}]`, "is null");
      }
    }
    obs.set((child.values as Float32Array).subarray(0, d.length * OBS_DIM), row * OBS_DIM);
    row += d.length;
  }
  const k = firstOutOfBounds(obs);
  if (k >= 0) {
    const i = Math.floor(k / OBS_DIM);
    const j = k % OBS_DIM;
    throw bad(`body.obs[${i}][${j}]`, `(${FEATURES[j].name}) must be in [${LOW[j]}, ${HIGH[j]}], got ${obs[k]}`);
  }

  const numeric = (name: string, required: boolean): Float64Array | undefined => {
    const field = table.schema.fields.find((f) => f.name === name);
    if (field === undefined) {
      if (required) throw bad(`body.${name}`, "is required");
      return undefined;
    }
    if (!isFloat(field.type)) throw bad(`body.${name}`, `must be Float32 or Float64, got ${String(field.type)}`);
    const chunks = table.getChild(name)!.data;
    if (required) {
      const r = firstNull(chunks);
      if (r >= 0) throw bad(`body.${name}[${r}]`, "is null");
    } else {
      // NaN stands for null below: a NaN value is refused here, not read as "no cap"
      let at = 0;
      for (const d of chunks) {
        const v = d.values as Float32Array | Float64Array;
        for (let i = 0; i < d.length; i++) if (Number.isNaN(v[i]) && d.getValid(i)) throw bad(`body.${name}[${at + i}]`, "must be a number in [0, 1000000] (dollars) or null, got NaN");
        at += d.length;
      }
    }
    const col = floats(chunks, n);
    dollars(col, `body.${name}`, !required);
    return col;
  };
  const refValue = numeric("refValue", true)!;
  const maxBid = numeric("maxBid", false) ?? new Float64Array(n).fill(Number.NaN);
  return new ArrowBatch(n, obs, refValue, maxBid);
}
