// Reads Arrow IPC bytes with nodejs-polars (Rust arrow reader), so tests can check
// what apache-arrow JS writes against an independent Arrow implementation.
// nodejs-polars is CommonJS; Node's ESM default import of it is module.exports,
// which carries every reader and dtype.
import pl from "nodejs-polars";

export interface PolarsIpcSummary {
  rows: number;
  /** dtype per column, polars' names without the "DataType(...)" wrapper: "UInt32", "FixedSizeList(Float32,4)". */
  schema: Record<string, string>;
  /** sum per numeric column; booleans count as 0/1, list columns sum all their elements. */
  sums: Record<string, number>;
}

// The file format starts with this magic; a stream starts with a message (0xFFFFFFFF).
const FILE_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"

export function readIpcWithPolars(bytes: Uint8Array): PolarsIpcSummary {
  // readIPC/readIPCStream accept only a Node Buffer (a plain Uint8Array is taken for
  // "no path or body"); each reader rejects the other format, so pick by the magic.
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isFile = FILE_MAGIC.every((b, i) => bytes[i] === b);
  const df = isFile ? pl.readIPC(body) : pl.readIPCStream(body);

  const schema: Record<string, string> = {};
  const sums: Record<string, number> = {};
  for (const col of df.getColumns()) {
    schema[col.name] = dtypeName(String(col.dtype));
    // List and FixedSizeList columns: explode to one row per element first.
    const values = col.dtype.variant === "List" || col.dtype.variant === "FixedSizeList" ? col.explode() : col;
    if (values.isNumeric() || values.dtype.variant === "Bool") {
      // Sum in Float64: polars sums UInt32 in UInt32 (wraps past 2^32) and returns
      // `false` for a Bool sum. Exact for integer sums below 2^53.
      sums[col.name] = Number(values.cast(pl.Float64).sum());
    }
  }
  return { rows: df.height, schema, sums };
}

// "DataType(FixedSizeList(DataType(Float32),4))" -> "FixedSizeList(Float32,4)":
// unwrap the innermost DataType(...) until none is left.
function dtypeName(s: string): string {
  for (let prev = ""; prev !== s; ) {
    prev = s;
    s = s.replace(/DataType\(([^()]*(?:\([^()]*\))*)\)/g, "$1");
  }
  return s;
}
