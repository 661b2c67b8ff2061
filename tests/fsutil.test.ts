import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertPlainFileName, fsyncDir, writeDirAtomic, writeFileAtomic, writeFilesAtomic } from "../trainer/fsutil.js";
import { assertJsonValue } from "../trainer/json_value.js";
import { tableFromIPC } from "apache-arrow";
import { LATE_SCHEMA } from "../engine/experience.js";
import { writeArrowFile } from "../trainer/rollout.js";
import { scratchDir } from "./helpers/scratch.js";

const scratch = scratchDir("fsutil");
const fresh = (): string => scratch.next();

describe("writeFileAtomic", () => {
  it("writes strings and bytes, replaces the old contents and leaves no temporary file", () => {
    const dir = fresh();
    mkdirSync(dir);
    const f = join(dir, "a.json");
    writeFileAtomic(f, '{"v":1}');
    expect(readFileSync(f, "utf8")).toBe('{"v":1}');
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 255);
    writeFileAtomic(f, bytes);
    expect(readFileSync(f).equals(Buffer.from(bytes))).toBe(true);
    writeFileAtomic(f, bytes.subarray(5, 9));
    expect(Array.from(readFileSync(f))).toEqual(Array.from(bytes.subarray(5, 9)));
    expect(readdirSync(dir)).toEqual(["a.json"]);
  });

  it("leaves the old file and no temporary file when the write fails", () => {
    const dir = fresh();
    mkdirSync(join(dir, "target"), { recursive: true }); // renaming a file over a directory fails
    expect(() => writeFileAtomic(join(dir, "target"), "x")).toThrow(/EISDIR|EEXIST|ENOTEMPTY/);
    expect(readdirSync(dir)).toEqual(["target"]);
    expect(() => writeFileAtomic(join(dir, "missing", "f"), "x")).toThrow(/ENOENT/);
  });
});

describe("writeDirAtomic / writeFilesAtomic", () => {
  it("creates a directory (and its parents) holding exactly the files, in one rename", () => {
    const dir = join(fresh(), "nested", "out");
    writeDirAtomic(dir, [
      ["b.txt", "bee"],
      ["a.bin", Uint8Array.of(1, 2, 3)],
    ]);
    expect(readdirSync(dir).sort()).toEqual(["a.bin", "b.txt"]);
    expect(readFileSync(join(dir, "b.txt"), "utf8")).toBe("bee");
    expect(readdirSync(join(dir, ".."))).toEqual(["out"]);
    expect(() => writeDirAtomic(dir, { "c.txt": "x" })).toThrow(/already exists/);
  });

  it("round-trips any set of plain file names and contents, into a new or an existing directory", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((s) => s !== "." && s !== ".." && !s.startsWith(".tmp-"));
    fc.assert(
      fc.property(fc.dictionary(name, fc.oneof(fc.string(), fc.uint8Array({ maxLength: 300 })), { minKeys: 1, maxKeys: 6 }), fc.boolean(), (files, existing) => {
        const dir = fresh();
        if (existing) {
          mkdirSync(dir);
          writeFileSync(join(dir, "other.keep"), "untouched");
        }
        writeFilesAtomic(dir, files);
        const want = Object.keys(files).concat(existing && !("other.keep" in files) ? ["other.keep"] : []);
        expect(readdirSync(dir).sort()).toEqual(want.sort());
        for (const [k, v] of Object.entries(files)) {
          expect(readFileSync(join(dir, k)).equals(typeof v === "string" ? Buffer.from(v) : Buffer.from(v))).toBe(true);
        }
        expect(readdirSync(scratch.root()).some((d) => d.startsWith(".tmp-"))).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it("replaces files in an existing directory and removes every temporary file when one rename fails", () => {
    const dir = fresh();
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "a.txt"), "old");
    expect(() => writeFilesAtomic(dir, [["sub", "cannot replace a directory"], ["a.txt", "new"]])).toThrow();
    // the failing rename came first, so a.txt was not replaced either
    expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("old");
    expect(readdirSync(dir).sort()).toEqual(["a.txt", "sub"]);
  });

  it("rejects path-like, empty and duplicate names before touching the disk", () => {
    const dir = fresh();
    for (const bad of ["", ".", "..", "a/b", "a\\b", "nul\0"]) {
      expect(() => writeFilesAtomic(dir, { [bad]: "x" })).toThrow(/must be a plain file name/);
    }
    expect(() => writeFilesAtomic(dir, [["a", "1"], ["a", "2"]])).toThrow(/"a" appears twice/);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
    expect(() => assertPlainFileName("x/y", "bundle entry")).toThrow(/^bundle entry "x\/y" must be a plain file name/);
  });

  it("fsyncDir accepts an existing directory and names a missing one", () => {
    fsyncDir(scratch.root());
    expect(() => fsyncDir(fresh())).toThrow(/ENOENT/);
  });
});

describe("call sites", () => {
  it("writeArrowFile (gaelp rollout) replaces an Arrow file atomically, creating its folder", () => {
    const file = join(fresh(), "out", "late.arrow");
    const bytes = writeArrowFile(file, LATE_SCHEMA, []);
    writeFileSync(file + ".other", "x");
    expect(writeArrowFile(file, LATE_SCHEMA, [])).toBe(bytes);
    const table = tableFromIPC(readFileSync(file));
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(LATE_SCHEMA.fields.map((f) => f.name));
    expect(readdirSync(join(file, "..")).sort()).toEqual(["late.arrow", "late.arrow.other"]);
  });
});

describe("assertJsonValue", () => {
  it("accepts what JSON stores unchanged (property: the JSON round trip is the identity, up to -0)", () => {
    // JSON writes -0 as 0, the one change assertJsonValue lets through
    const unsign = (v: unknown): unknown =>
      Object.is(v, -0) ? 0 : Array.isArray(v) ? v.map(unsign) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unsign(x)])) : v;
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assertJsonValue(v, "v");
        expect(JSON.parse(JSON.stringify(v))).toEqual(unsign(v));
      }),
    );
  });

  it("names the path of what JSON would change or drop", () => {
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    const cases: [unknown, RegExp][] = [
      [{ a: { b: [1, Number.NaN] } }, /^cfg\.a\.b\[1\] is NaN; JSON can only store finite numbers$/],
      [{ x: Infinity }, /^cfg\.x is Infinity/],
      [{ u: undefined }, /^cfg\.u is undefined; only JSON values/],
      [{ f: () => 1 }, /^cfg\.f is a function/],
      [{ big: 1n }, /^cfg\.big is a bigint/],
      [{ d: new Date(0) }, /^cfg\.d is a Date/],
      [{ t: new Float32Array(2) }, /^cfg\.t is a Float32Array/],
      [{ m: new Map() }, /^cfg\.m is a Map/],
      [[1, , 3], /^cfg\[1\] is undefined/],
      [cyc, /^cfg\.self refers back to itself/],
    ];
    for (const [v, re] of cases) expect(() => assertJsonValue(v, "cfg")).toThrow(re);
    // a shared (not cyclic) object is fine
    const shared = { k: 1 };
    assertJsonValue({ a: shared, b: shared, n: null, o: Object.create(null) }, "cfg");
  });
});
