import { describe, expect, it } from "vitest";
import {
  Bool,
  Field,
  FixedSizeList,
  Float32,
  Table,
  makeData,
  makeTable,
  makeVector,
  tableToIPC,
  vectorFromArray,
} from "apache-arrow";
import { readIpcWithPolars } from "./helpers/polars.js";

// 37 rows: not a multiple of 8, so the Bool bitmap ends mid-byte.
const N = 37;
const DIM = 4;

function inputs() {
  return {
    u32: Uint32Array.from({ length: N }, (_, i) => 4_000_000_000 - i * 12_345), // sum passes 2^32
    i32: Int32Array.from({ length: N }, (_, i) => (i % 2 ? -1 : 1) * i * 1_000_003),
    f32: Float32Array.from({ length: N }, (_, i) => i / 7 - 2.5),
    f64: Float64Array.from({ length: N }, (_, i) => Math.PI * i - 40),
    u8: Uint8Array.from({ length: N }, (_, i) => (i * 37) % 256),
    flag: Array.from({ length: N }, (_, i) => i % 3 === 0),
    emb: Float32Array.from({ length: N * DIM }, (_, i) => Math.sin(i) * 3),
  };
}

function buildTable(x: ReturnType<typeof inputs>): Table {
  const base = makeTable({ u32: x.u32, i32: x.i32, f32: x.f32, f64: x.f64, u8: x.u8 });
  const child = makeData({ type: new Float32(), length: N * DIM, data: x.emb });
  const emb = makeData({
    type: new FixedSizeList(DIM, new Field("item", new Float32(), false)),
    length: N,
    nullCount: 0,
    child,
  });
  return new Table({
    u32: base.getChild("u32")!,
    i32: base.getChild("i32")!,
    f32: base.getChild("f32")!,
    f64: base.getChild("f64")!,
    u8: base.getChild("u8")!,
    flag: vectorFromArray(x.flag, new Bool()),
    emb: makeVector(emb),
  });
}

const sum = (xs: ArrayLike<number | boolean>): number => Array.from(xs, Number).reduce((a, b) => a + b, 0);

describe("nodejs-polars reads apache-arrow IPC", () => {
  for (const format of ["file", "stream"] as const) {
    it(`${format} format: rows, dtypes and column sums`, () => {
      const x = inputs();
      const table = buildTable(x);
      expect(table.numRows).toBe(N);

      const got = readIpcWithPolars(tableToIPC(table, format));

      expect(got.rows).toBe(N);
      expect(got.schema).toEqual({
        u32: "UInt32",
        i32: "Int32",
        f32: "Float32",
        f64: "Float64",
        u8: "UInt8",
        flag: "Bool",
        emb: `FixedSizeList(Float32,${DIM})`,
      });

      // Integer sums are exact in Float64 at these magnitudes.
      expect(sum(x.u32)).toBeGreaterThan(2 ** 32);
      expect(got.sums.u32).toBe(sum(x.u32));
      expect(got.sums.i32).toBe(sum(x.i32));
      expect(got.sums.u8).toBe(sum(x.u8));
      expect(got.sums.flag).toBe(sum(x.flag));
      // Float sums: polars may add in another order.
      expect(got.sums.f32).toBeCloseTo(sum(x.f32), 9);
      expect(got.sums.f64).toBeCloseTo(sum(x.f64), 9);
      expect(got.sums.emb).toBeCloseTo(sum(x.emb), 9);
    });
  }

  it("reads a Buffer that is a view into a larger allocation", () => {
    const x = inputs();
    const ipc = tableToIPC(buildTable(x), "file");
    const padded = new Uint8Array(ipc.byteLength + 5);
    padded.set(ipc, 5);
    const got = readIpcWithPolars(padded.subarray(5));
    expect(got.rows).toBe(N);
    expect(got.sums.i32).toBe(sum(x.i32));
  });
});
