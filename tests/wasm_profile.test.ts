// The instruction attribution of bench/wasm_profile.ts on synthetic inputs: V8 perf-map ranges
// and a callgrind file with absolute, relative and repeated addresses and an inclusive call cost.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { countByFunction, wasmRanges } from "../bench/wasm_profile.js";

const dir = mkdtempSync(join(tmpdir(), "gaelp-wasm-profile-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("wasm_profile attribution", () => {
  const map = join(dir, "perf.map");
  writeFileSync(map, [
    "1000 100 JS:wasm/assembly/world/resolve-18-turbofan",
    "1100 40 JS:wasm/assembly/auction/allocate-12-turbofan",
    "2000 50 JS:~main file:///x.js:1:1", // JS code: not counted
    "3000 20 JS:wasm/assembly/rng/poisson-23-liftoff", // baseline tier: not counted
  ].join("\n"));

  it("keeps the optimised wasm functions, named without the path and tier", () => {
    const r = wasmRanges(map);
    expect(r.map((x) => x.name)).toEqual(["world/resolve", "auction/allocate"]);
    expect(r[0]).toMatchObject({ start: 0x1000, end: 0x1100 });
  });

  it("attributes each cost line by its (compressed) address and skips inclusive call costs", async () => {
    const cg = join(dir, "cg.out");
    writeFileSync(cg, [
      "positions: instr line", "events: Ir", "fn=(1) x",
      "0x1000 0 5", // resolve
      "+16 0 7", // 0x1010 resolve
      "* 0 1", // same address: resolve
      "calls=3 0x1100", "0x1020 0 1000", // inclusive cost of the call: skipped
      "+224 0 11", // 0x1100: allocate
      "-4 0 2", // 0x10fc: resolve (last byte)
      "0x2000 0 99", // JS: not counted
      "0x1140 0 50", // just past allocate
    ].join("\n"));
    const counts = await countByFunction(cg, wasmRanges(map));
    expect(Object.fromEntries(counts)).toEqual({ "world/resolve": 5 + 7 + 1 + 2, "auction/allocate": 11 });
  });
});
