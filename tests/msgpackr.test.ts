import { describe, expect, it } from "vitest";
import { Packr, pack, unpack } from "msgpackr";
import { packTaskDesc } from "../engine/rollout_engine.js";
import type { TaskDesc } from "../engine/world_runner.js";

// Task descriptors for worker threads carry typed arrays. msgpackr's default
// pack() writes any typed array as MessagePack bin through Uint8Array.set, which
// converts element by element (1.5 -> 1, -2.25 -> 254) and leaves the rest of
// the byte length stale: only Uint8Array survives it. moreTypes encodes each
// typed array as an extension with its element type, and round-trips them.
describe("msgpackr", () => {
  const descriptor = () => ({
    id: 7,
    kind: "rollout",
    weights: new Float64Array([1.5, -2.25, Math.PI, Number.MIN_VALUE, -0]),
    obs: new Float32Array([0.1, -3, 1e30]),
    mask: new Uint8Array([0, 1, 255]),
    seeds: new Int32Array([-5, 2 ** 31 - 1]),
    nested: { list: [1, "two", null, true] },
  });

  it("round-trips typed arrays with moreTypes", () => {
    const packr = new Packr({ moreTypes: true });
    const input = descriptor();
    const out = packr.unpack(packr.pack(input));
    expect(out.weights).toBeInstanceOf(Float64Array);
    expect(out.obs).toBeInstanceOf(Float32Array);
    expect(out.mask).toBeInstanceOf(Uint8Array);
    expect(out.seeds).toBeInstanceOf(Int32Array);
    expect(out).toEqual(input);
    expect(Object.is(out.weights[4], -0)).toBe(true);
  });

  it("default pack keeps a Uint8Array but not a Float64Array", () => {
    const input = descriptor();
    const out = unpack(pack(input));
    expect(Array.from(out.mask)).toEqual([0, 1, 255]);
    expect(out.weights).not.toBeInstanceOf(Float64Array);
    expect(out.weights.length).toBe(input.weights.byteLength);
  });
});

// Regression: after a checkpoint packed ~400 MB, every task message to the engine's workers cloned
// msgpackr's whole shared pack buffer (a posted Uint8Array view clones its entire ArrayBuffer)
describe("task descriptors", () => {
  const desc: TaskDesc = {
    iteration: 3, attempt: 0, untilHour: 240, greedy: false, policyVersion: 3, rivalParams: true,
    worlds: [
      { index: 0, seedLo: 17, seedHi: 0, salt: 5, fresh: false, readHalf: 1 },
      { index: 1, seedLo: 18, seedHi: 2, salt: 6, fresh: true, readHalf: 0 },
    ],
  };

  it("own exactly their bytes, also after msgpackr packed something large", () => {
    const big = pack({ blob: new Uint8Array(32 << 20) }); // grows msgpackr's shared buffer past 32 MB
    expect(big.buffer.byteLength).toBeGreaterThan(32 << 20);
    const plain = pack(desc);
    expect(plain.buffer.byteLength).toBeGreaterThan(32 << 20); // what a message used to carry
    const bytes = packTaskDesc(desc);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    // what a worker receives (postMessage clones as structuredClone does): the view's whole buffer
    expect(structuredClone({ desc: bytes }).desc.buffer.byteLength).toBeLessThan(1024);
    expect(structuredClone({ desc: plain }).desc.buffer.byteLength).toBeGreaterThan(32 << 20);
    expect(unpack(bytes)).toEqual(desc);
  });
});
