// POST /v1/bids with an Arrow IPC stream body: the same opportunities answered as from JSON (greedy
// and seeded sampling, caps, several record batches), every malformed column refused with a 400
// naming the field, and no byte string (random or a valid stream cut short) answered with a 5xx.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  Field, FixedSizeList, Float32, Float64, Int32, RecordBatch, Table, makeData, makeVector, tableToIPC, vectorFromArray, type Vector,
} from "apache-arrow";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { resolveConfig } from "../env/config.js";
import { OBS_HIGH, OBS_LOW } from "../env/features.js";
import { type App, buildApp } from "../server/app.js";
import type { DecisionLog } from "../server/feedback/decision_log.js";
import { HttpError } from "../server/errors.js";
import { ArrowBatch, parseArrowBatch } from "../server/routes/arrow_batch.js";
import { writePolicyRun } from "../trainer/policy_run.js";
import { OBS_DIM } from "../wasm/layout.js";
import { checkArrowTable } from "../server/routes/arrow_batch.js";
import { randomPolicy } from "./helpers/policy.js";

const ARROW = "application/vnd.apache.arrow.stream";
const root = mkdtempSync(join(tmpdir(), "gaelp-bids-arrow-"));
let app: App;

beforeAll(async () => {
  const config = resolveConfig({ scenario: "default" });
  const spec = defaultPolicySpec(config.campaign.creatives.length);
  const run = basename(writePolicyRun({ runsRoot: join(root, "runs"), scenario: "default", exp: "arrow", seed: 1, config, spec, weights: randomPolicy(spec, 5, 0.5) }));
  app = await buildApp({ runsRoot: join(root, "runs"), dataDir: join(root, "data"), checkpoint: run, deadlineMs: 60_000, loadShedding: false, maxBatch: 64 });
});
afterAll(async () => {
  await app.close();
  rmSync(root, { recursive: true, force: true });
});

/** n observations inside the feature bounds, spread over them (one-hot blocks as 0/1 values). */
function observations(n: number, seed: string): Float32Array {
  const rng = seedrandom(seed);
  const obs = new Float32Array(n * OBS_DIM);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < OBS_DIM; j++) obs[i * OBS_DIM + j] = OBS_LOW[j] + (OBS_HIGH[j] - OBS_LOW[j]) * rng();
  }
  return obs;
}

const obsVector = (obs: Float32Array, listSize = OBS_DIM): Vector => {
  const n = obs.length / listSize;
  const child = makeData({ type: new Float32(), length: obs.length, data: obs });
  return makeVector(makeData({ type: new FixedSizeList(listSize, new Field("item", new Float32(), false)), length: n, nullCount: 0, child }));
};

/** An Arrow IPC stream of the batch: `cols` overrides or adds columns. */
function arrowBody(obs: Float32Array, refValue: number[], maxBid?: (number | null)[], cols: Record<string, Vector> = {}): Buffer {
  const columns: Record<string, Vector> = { obs: obsVector(obs), refValue: vectorFromArray(Float64Array.from(refValue)) };
  if (maxBid !== undefined) columns.maxBid = vectorFromArray(maxBid, new Float64());
  return Buffer.from(tableToIPC(new Table({ ...columns, ...cols }), "stream"));
}

const postArrow = (body: Buffer, query = "campaignId=c-arrow") =>
  app.inject({ method: "POST", url: `/v1/bids${query === "" ? "" : `?${query}`}`, headers: { "content-type": ARROW }, payload: body });
const postJson = (payload: unknown) => app.inject({ method: "POST", url: "/v1/bids", headers: { "content-type": "application/json" }, payload: payload as object });

const rowsOf = (obs: Float32Array) => Array.from({ length: obs.length / OBS_DIM }, (_, i) => Array.from(obs.subarray(i * OBS_DIM, (i + 1) * OBS_DIM)));
/** The answers without their ids (ids differ between requests by design). */
const answers = (body: string) => (JSON.parse(body) as { bids: Record<string, unknown>[] }).bids.map(({ bidId: _id, ...rest }) => rest);

describe("POST /v1/bids with an Arrow body", () => {
  it("answers exactly as the same batch sent as JSON, caps included", async () => {
    const n = 40;
    const obs = observations(n, "same");
    const refValue = Array.from({ length: n }, (_, i) => 0.2 + i / 10);
    const maxBid = refValue.map((_, i) => (i % 3 === 0 ? null : i % 3 === 1 ? 0.05 : 100));
    const a = await postArrow(arrowBody(obs, refValue, maxBid));
    expect(a.statusCode, a.body).toBe(200);
    const j = await postJson({
      campaignId: "c-arrow",
      opportunities: rowsOf(obs).map((o, i) => (maxBid[i] === null ? { obs: o, refValue: refValue[i] } : { obs: o, refValue: refValue[i], maxBid: maxBid[i] })),
    });
    expect(j.statusCode, j.body).toBe(200);
    expect(JSON.parse(a.body).status).toBe("bid");
    expect(answers(a.body)).toEqual(answers(j.body));
    // the batch reaches several bid levels and the caps bind, so a row mix-up would show
    const levels = new Set(answers(a.body).map((b) => b.bidLevel));
    expect(levels.size).toBeGreaterThan(2);
    expect(answers(a.body).filter((b, i) => maxBid[i] === 0.05 && b.bid === 0.05).length).toBeGreaterThan(0);
  });

  it("reads a stream of several record batches as one batch, in order", async () => {
    const obs = observations(12, "batches");
    const refValue = Array.from({ length: 12 }, (_, i) => 1 + i);
    const whole = new Table({ obs: obsVector(obs), refValue: vectorFromArray(Float64Array.from(refValue)) });
    const parts: RecordBatch[] = [whole.slice(0, 5), whole.slice(5, 12)].flatMap((t) => t.batches);
    const split = Buffer.from(tableToIPC(new Table(parts), "stream"));
    const one = await postArrow(arrowBody(obs, refValue));
    const two = await postArrow(split);
    expect(two.statusCode, two.body).toBe(200);
    expect(answers(two.body)).toEqual(answers(one.body));
    expect(answers(two.body)).toHaveLength(12);
  });

  it("samples with a seed from the query string as JSON does with the same seed", async () => {
    const obs = observations(30, "sample");
    const refValue = new Array(30).fill(1);
    const a = await postArrow(arrowBody(obs, refValue), "campaignId=c-arrow&sample=true&seed=77");
    const j = await postJson({ campaignId: "c-arrow", sample: true, seed: 77, opportunities: rowsOf(obs).map((o) => ({ obs: o, refValue: 1 })) });
    expect(a.statusCode, a.body).toBe(200);
    expect(JSON.parse(a.body).deterministic).toBe(false);
    expect(answers(a.body)).toEqual(answers(j.body));
    const greedy = await postArrow(arrowBody(obs, refValue));
    expect(answers(greedy.body)).not.toEqual(answers(a.body));
  });

  it("logs its decisions like JSON ones", async () => {
    const log = app.gaelp.decisions as DecisionLog;
    const before = log.snapshot().recorded;
    const r = await postArrow(arrowBody(observations(7, "log"), new Array(7).fill(0.5)));
    expect(r.statusCode).toBe(200);
    expect(log.snapshot().recorded - before).toBe(7);
  });

  const obs3 = observations(3, "bad");
  const ref3 = [1, 1, 1];
  const outOfRange = obs3.slice();
  outOfRange[OBS_DIM + 7] = OBS_HIGH[7] + 1;
  const nanObs = obs3.slice();
  nanObs[2 * OBS_DIM + 1] = Number.NaN;
  const cases: [string, () => Buffer, string, string, RegExp][] = [
    ["a feature out of its bounds", () => arrowBody(outOfRange, ref3), "", "body.obs[1][7]", /must be in \[/],
    ["a NaN feature", () => arrowBody(nanObs, ref3), "", "body.obs[2][1]", /got NaN/],
    ["obs of the wrong list size", () => arrowBody(obs3, ref3, undefined, { obs: obsVector(observations(3, "x").subarray(0, 3 * 10), 10) }), "", "body.obs", /FixedSizeList<Float32>\[50\]/],
    ["no obs column", () => Buffer.from(tableToIPC(new Table({ refValue: vectorFromArray(Float64Array.from(ref3)) }), "stream")), "", "body.obs", /required/],
    ["no refValue column", () => Buffer.from(tableToIPC(new Table({ obs: obsVector(obs3) }), "stream")), "", "body.refValue", /required/],
    ["an integer refValue", () => arrowBody(obs3, ref3, undefined, { refValue: vectorFromArray(Int32Array.from([1, 2, 3])) }), "", "body.refValue", /Float32 or Float64/],
    ["a null refValue", () => arrowBody(obs3, ref3, undefined, { refValue: vectorFromArray([1, null, 2], new Float64()) }), "", "body.refValue[1]", /null/],
    ["a negative refValue", () => arrowBody(obs3, [1, -1, 1]), "", "body.refValue[1]", /\[0, 1000000\]/],
    ["a NaN maxBid", () => arrowBody(obs3, ref3, [1, Number.NaN, null]), "", "body.maxBid[1]", /NaN/],
    ["an unknown column", () => arrowBody(obs3, ref3, undefined, { extra: vectorFromArray(Float64Array.from(ref3)) }), "", "body.extra", /not a known column/],
    ["more rows than maxBatch", () => arrowBody(observations(65, "big"), new Array(65).fill(1)), "", "body", /1 to 64 rows/],
    ["no campaignId", () => arrowBody(obs3, ref3), "sample=true", "querystring.campaignId", /required/],
    ["a seed past 2^32 - 1", () => arrowBody(obs3, ref3), "campaignId=c&seed=4294967296", "querystring.seed", /4294967295/],
    ["an unknown query parameter", () => arrowBody(obs3, ref3), "campaignId=c&x=1", "querystring.x", /not a known field/],
  ];
  for (const [name, body, query, field, message] of cases) {
    it(`refuses ${name} with a 400 naming ${field}`, async () => {
      const r = await postArrow(body(), query === "" ? undefined : query);
      expect(r.statusCode, r.body).toBe(400);
      const e = r.json();
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
      expect(e.message).toContain(field);
    });
  }

  it("refuses a query string with a JSON body, naming it", async () => {
    const r = await app.inject({ method: "POST", url: "/v1/bids?campaignId=x", headers: { "content-type": "application/json" }, payload: { campaignId: "c", opportunities: [{ obs: rowsOf(obs3)[0], refValue: 1 }] } });
    expect(r.statusCode).toBe(400);
    expect(r.json().field).toBe("querystring.campaignId");
  });

  it("every single-byte corruption of a stream is a batch or a 400, with the heap bounded", () => {
    // one flipped byte in the schema can declare a field with 1.6 billion children, for which
    // apache-arrow would build an object each: the parser's prescan refuses such counts first
    const valid = arrowBody(observations(4, "flip"), [1, 2, 3, 4], [1, null, 2, null]);
    const heap0 = process.memoryUsage().heapUsed;
    const outcomes = new Map<string, number>();
    for (let k = 0; k < valid.length; k++) {
      for (const v of [0x00, 0x0e, 0x7f, 0x80, 0xff]) {
        if (valid[k] === v) continue;
        const c = Buffer.from(valid);
        c[k] = v;
        let outcome: string;
        try {
          outcome = parseArrowBatch(c, 64) instanceof ArrowBatch ? "batch" : "other";
        } catch (e) {
          outcome = e instanceof HttpError && e.statusCode === 400 ? e.code : `thrown: ${(e as Error).message}`;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }
    expect([...outcomes.keys()].sort()).toEqual(["batch", "invalid_arrow", "invalid_request"]);
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(256 * 1024 * 1024);
    // the corruption that exhausted the heap before the prescan: a field's children count
    expect(outcomes.get("invalid_arrow")).toBeGreaterThan(100);
  });

  it("answers random bytes and cut-short streams with a 4xx, never a 5xx (fast-check)", async () => {
    const valid = arrowBody(observations(6, "cut"), new Array(6).fill(1), [1, null, 2, null, 3, null]);
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
      fc.integer({ min: 0, max: valid.length - 1 }).map((k) => valid.subarray(0, k)),
      fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([k, v]) => {
        const c = Buffer.from(valid);
        c[k] = v;
        return c;
      }),
    );
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(bytes, async (b) => {
        const r = await postArrow(b);
        seen.set(r.statusCode, (seen.get(r.statusCode) ?? 0) + 1);
        expect(r.statusCode, r.body).toBeLessThan(500);
        if (r.statusCode >= 400) {
          const e = r.json();
          expect(e.statusCode).toBe(r.statusCode);
          expect(e.message.length).toBeGreaterThan(0);
        } else {
          // whatever was read is answered row for row
          expect(r.json().bids.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
    expect(seen.get(400) ?? 0).toBeGreaterThan(100);
  }, 120_000);
});

describe("checkArrowTable", () => {
  it("reads sliced chunks (offset > 0) as their own rows, nulls included", () => {
    const n = 10;
    const obs = observations(n, "slices");
    const refValue = Array.from({ length: n }, (_, i) => 1 + i);
    const maxBid = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? null : 0.5 + i));
    const whole = new Table({ obs: obsVector(obs), refValue: vectorFromArray(Float64Array.from(refValue)), maxBid: vectorFromArray(maxBid, new Float64()) });
    const sliced = new Table([whole.slice(2, 5), whole.slice(5, 9)].flatMap((t) => t.batches));
    expect(sliced.getChild("refValue")!.data.map((d) => d.offset)).toEqual([2, 5]); // the chunks really are offset
    const b = checkArrowTable(sliced, 64);
    expect(b.n).toBe(7);
    expect(Array.from(b.obs)).toEqual(Array.from(obs.subarray(2 * OBS_DIM, 9 * OBS_DIM)));
    expect(Array.from(b.refValue)).toEqual(refValue.slice(2, 9));
    expect(Array.from(b.maxBid)).toEqual(maxBid.slice(2, 9).map((v) => v ?? Number.NaN));
    // a bad value in a slice is named by its row in the batch (row 3 = whole row 5)
    const badObs = obs.slice();
    badObs[5 * OBS_DIM + 1] = Number.NaN;
    const bad = new Table({ obs: obsVector(badObs), refValue: vectorFromArray(Float64Array.from(refValue)) });
    expect(() => checkArrowTable(new Table([bad.slice(2, 9)].flatMap((t) => t.batches)), 64)).toThrow(/body\.obs\[3\]\[1\]/);
  });
});
