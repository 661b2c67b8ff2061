// POST /v1/feedback and the decision log: validation naming the field, idempotency by event id
// (within a request, across requests, concurrent requests, across a restart), durability (the
// Arrow segments exist and read back after the 200, no temporary files), delivered spend reaching
// the pacing guard, compaction, a damaged segment failing start-up, and the decision log holding
// exactly the served bids.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import type { App } from "../server/app.js";
import { FeedbackLog, type NewEvent } from "../server/feedback/feedback_log.js";
import { listSegments } from "../server/feedback/segments.js";
import { DecisionLog } from "../server/feedback/decision_log.js";
import * as L from "../wasm/layout.js";
import { scratchDir } from "./helpers/scratch.js";
import { bidOn, observations, serveApp, servedRun } from "./helpers/serving.js";

const scratch = scratchDir("feedback");

const imp = (eventId: string, bidId: string, cost = 0.5, campaignId = "c1") => ({ eventId, kind: "impression", campaignId, bidId, at: "2024-06-10T12:00:00Z", cost });
const post = (app: App, events: unknown[]) => app.inject({ method: "POST", url: "/v1/feedback", payload: { events } });
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

function setup() {
  const runsRoot = scratch.next("runs");
  const run = servedRun(runsRoot);
  const dataDir = scratch.next("data");
  return { runsRoot, run, dataDir, open: (o = {}) => serveApp(runsRoot, dataDir, run, o) };
}

describe("POST /v1/feedback: validation", () => {
  it("answers 400 naming the field for every kind of bad event", async () => {
    const { open } = setup();
    const app = await open();
    const cases: [unknown, string][] = [
      [{}, "body.events"],
      [{ events: [] }, "body.events"],
      [{ events: [{ ...imp("e1", "b1"), extra: 1 }] }, "body.events[0].extra"],
      [{ events: [{ ...imp("e1", "b1"), kind: "view" }] }, "body.events[0].kind"],
      [{ events: [imp("e 1", "b1")] }, "body.events[0].eventId"],
      [{ events: [{ ...imp("e1", "b1"), cost: -1 }] }, "body.events[0].cost"],
      [{ events: [{ ...imp("e1", "b1"), at: "yesterday" }] }, "body.events[0].at"],
      [{ events: [{ ...imp("e1", "b1"), at: "2024-13-01T00:00:00Z" }] }, "body.events[0].at"],
      [{ events: [imp("e1", "b1"), { eventId: "e2", kind: "click", campaignId: "c1", at: "2024-06-10T12:00:00Z" }] }, "body.events[1].bidId"],
      [{ events: [{ ...imp("e1", "b1"), value: 3 }] }, "body.events[0].value"],
      [{ events: [{ eventId: "e1", kind: "conversion", campaignId: "c1", at: "2024-06-10T12:00:00Z", value: 10 }] }, "body.events[0].touchpoints"],
      [{ events: [{ eventId: "e1", kind: "conversion", campaignId: "c1", at: "2024-06-10T12:00:00Z", touchpoints: ["b1"] }] }, "body.events[0].value"],
      [{ events: [{ eventId: "e1", kind: "conversion", campaignId: "c1", at: "2024-06-10T12:00:00Z", touchpoints: ["b1", "b1"], value: 1 }] }, "body.events[0].touchpoints"],
      [{ events: [{ ...imp("e1", "b1"), touchpoints: ["b1"] }] }, "body.events[0].touchpoints"],
      [{ events: Array.from({ length: 1001 }, (_, i) => imp(`e${i}`, "b1")) }, "body.events"],
    ];
    for (const [body, field] of cases) {
      const r = await app.inject({ method: "POST", url: "/v1/feedback", payload: body as object });
      expect(r.statusCode, JSON.stringify(body).slice(0, 200)).toBe(400);
      const e = r.json();
      expect(e.code).toBe("invalid_request");
      expect(e.field, e.message).toBe(field);
      expect(e.message).toContain(field);
    }
    // nothing of a refused request is stored
    expect(listSegments(join(app.gaelp.opts.dataDir, "feedback"), "feedback").live).toHaveLength(0);
    await app.close();
  });
});

describe("POST /v1/feedback: idempotent and durable", () => {
  it("stores each event id once: within a request, across requests, concurrently and across a restart", async () => {
    const { open, dataDir } = setup();
    let app = await open();
    let r = await post(app, [imp("a", "b1"), imp("b", "b2"), imp("a", "b1")]);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ accepted: 2, duplicates: 1, conflicts: 0, results: ["stored", "stored", "duplicate"] });
    // the same id with other content is a conflict: the first one stands
    r = await post(app, [imp("b", "b2"), imp("a", "b1", 0.75), imp("c", "b3")]);
    expect(r.json()).toEqual({ accepted: 1, duplicates: 1, conflicts: 1, results: ["duplicate", "conflict", "stored"] });
    // concurrent requests sharing ids: every id stored once, every answer after its write
    const answers = await Promise.all(Array.from({ length: 12 }, (_, k) => post(app, [imp(`k${k % 4}`, "b9"), imp(`u${k}`, "b9")])));
    const bodies = answers.map((a) => a.json());
    expect(bodies.reduce((s, b) => s + b.accepted, 0)).toBe(4 + 12);
    expect(bodies.reduce((s, b) => s + b.duplicates, 0)).toBe(8);
    // durable before the answer: the segments hold exactly the stored events, no temp files
    const dir = join(dataDir, "feedback");
    const ids: string[] = [];
    for (const s of listSegments(dir, "feedback").live) {
      const t = tableFromIPC(readFileSync(s.path));
      ids.push(...(t.getChild("event_id")!.toArray() as string[]));
    }
    expect(ids.sort()).toEqual(["a", "b", "c", ...Array.from({ length: 4 }, (_, k) => `k${k}`), ...Array.from({ length: 12 }, (_, k) => `u${k}`)].sort());
    expect(files(dir).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
    const seg0 = tableFromIPC(readFileSync(listSegments(dir, "feedback").live[0].path));
    expect(seg0.getChild("cost")!.toArray()).toEqual(new Float64Array([0.5, 0.5]));
    expect(seg0.getChild("at_ms")!.get(0)).toBe(Date.parse("2024-06-10T12:00:00Z"));
    // metrics by kind and result
    const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain('gaelp_feedback_events_total{kind="impression",result="stored"} 19');
    expect(metrics).toContain('gaelp_feedback_events_total{kind="impression",result="conflict"} 1');
    await app.close();
    // a restart rebuilds the ids from the segments
    app = await open();
    r = await post(app, [imp("a", "b1"), imp("u3", "b9"), imp("d", "b4"), imp("c", "b3", 9)]);
    expect(r.json()).toEqual({ accepted: 1, duplicates: 2, conflicts: 1, results: ["duplicate", "duplicate", "stored", "conflict"] });
    const st = (await app.inject({ method: "GET", url: "/v1/feedback" })).json();
    expect(st.feedback).toMatchObject({ eventIds: 20, eventsOnOpen: 19, stored: 1, duplicate: 2, conflict: 1 });
    await app.close();
  });

  it("compacts small segments into one file and keeps every event once", async () => {
    const { open, dataDir } = setup();
    let app = await open({ feedback: { compactSegments: 3 } });
    for (let k = 0; k < 7; k++) expect((await post(app, [imp(`e${k}`, "b1", k)])).json().accepted).toBe(1);
    await app.close();
    const { live } = listSegments(join(dataDir, "feedback"), "feedback");
    expect(live.some((s) => s.last > s.first)).toBe(true);
    expect(live.length).toBeLessThan(7);
    const costs: number[] = [];
    for (const s of live) costs.push(...(tableFromIPC(readFileSync(s.path)).getChild("cost")!.toArray() as Float64Array));
    expect(costs).toEqual([0, 1, 2, 3, 4, 5, 6]);
    app = await open();
    expect((await post(app, Array.from({ length: 7 }, (_, k) => imp(`e${k}`, "b1", k)))).json().duplicates).toBe(7);
    await app.close();
  });

  it("remembers ids for the idempotency window only, and at most maxIds of them (counted)", async () => {
    const dir = join(scratch.next("window"), "feedback");
    const H = 3_600_000;
    const t0 = Date.parse("2024-06-10T00:00:00Z");
    const ev = (eventId: string, cost = 0.5): NewEvent => ({ eventId, kind: "impression", campaignId: "c1", bidId: "b1", touchpoints: null, atMs: t0, cost, value: 0 });
    let log = new FeedbackLog(dir, { idempotencyWindowHours: 2, maxIds: 3 }, {}, t0);
    expect(await log.submit([ev("a"), ev("b")], t0)).toEqual(["stored", "stored"]);
    expect(await log.submit([ev("c")], t0 + H)).toEqual(["stored"]);
    // inside the window: remembered
    expect(await log.submit([ev("a"), ev("c", 9)], t0 + 2 * H - 1)).toEqual(["duplicate", "conflict"]);
    // a and b (received at t0) fall out of the window: a is stored again, c is still remembered
    expect(await log.submit([ev("a"), ev("c")], t0 + 2 * H + 1)).toEqual(["stored", "duplicate"]);
    expect(log.stats()).toMatchObject({ ids: 2, expired: 2, evictedEarly: 0 });
    // beyond maxIds the oldest (c) goes early, and is counted as such
    expect(await log.submit([ev("d"), ev("e")], t0 + 2 * H + 2)).toEqual(["stored", "stored"]);
    expect(await log.submit([ev("c")], t0 + 2 * H + 3)).toEqual(["stored"]);
    expect(log.stats().evictedEarly).toBeGreaterThanOrEqual(1);
    expect(log.size).toBeLessThanOrEqual(3);
    await log.close();
    // a restart remembers only the ids received within the window of its own clock
    log = new FeedbackLog(dir, { idempotencyWindowHours: 2, maxIds: 100 }, {}, t0 + 3 * H + 10);
    expect(log.report.events).toBe(7);
    expect(await log.submit([ev("a"), ev("b"), ev("d")], t0 + 3 * H + 10)).toEqual(["duplicate", "stored", "duplicate"]);
    await log.close();
    expect(() => new FeedbackLog(dir, { idempotencyWindowHours: 0 })).toThrow("feedback.idempotencyWindowHours must be an integer in [1, 8784], got 0");
    expect(() => new FeedbackLog(dir, { maxIds: 1.5 })).toThrow("feedback.maxIds");
  });

  it("a damaged segment fails start-up naming the file; a leftover temp file is removed", async () => {
    const { open, dataDir } = setup();
    let app = await open();
    await post(app, [imp("a", "b1")]);
    await app.close();
    const dir = join(dataDir, "feedback");
    writeFileSync(join(dir, ".tmp-feedback-000000000002.arrow-1-abcd"), "half");
    app = await open();
    expect(files(dir).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
    await app.close();
    const bad = join(dir, "feedback-000000000002.arrow");
    writeFileSync(bad, "not arrow");
    await expect(open()).rejects.toThrow(bad);
  });
});

describe("feedback reaches the pacing guard", () => {
  it("stored impressions, clicks and conversions change the campaign's delivery; duplicates do not", async () => {
    const { open } = setup();
    const app = await open();
    const put = await app.inject({ method: "PUT", url: "/v1/campaigns/c1", payload: { name: "C1", market: "US", product: "p", start: "2024-06-01", end: "2024-06-30", budget: 3000 } });
    expect(put.statusCode, put.body).toBe(201);
    const before = (await app.inject({ method: "GET", url: "/v1/campaigns/c1/pacing" })).json();
    expect(before.delivery.spend).toBe(0);
    const events = [
      imp("i1", "b1", 1.25), imp("i2", "b2", 0.5),
      { eventId: "k1", kind: "click", campaignId: "c1", bidId: "b1", at: "2024-06-10T12:05:00Z", cost: 2 },
      { eventId: "v1", kind: "conversion", campaignId: "c1", touchpoints: ["b1", "b2"], at: "2024-06-12T08:00:00Z", value: 120 },
    ];
    expect((await post(app, events)).json().accepted).toBe(4);
    expect((await post(app, events)).json().duplicates).toBe(4);
    const after = (await app.inject({ method: "GET", url: "/v1/campaigns/c1/pacing" })).json();
    expect(after.delivery).toMatchObject({ spend: 3.75, impressions: 2, clicks: 1, conversions: 1, value: 120, events: 4, lastEventAt: "2024-06-12T08:00:00.000Z" });
    await app.close();
  });
});

describe("decision log", () => {
  it("holds every served bid: bid ids as answered, observations as sent, actions and log-probs", async () => {
    const { open, dataDir, run } = setup();
    const app = await open({ decisionLog: { flushRows: 16 } });
    const obs = observations(40, 1);
    const served = [...await bidOn(app, "c1", obs.slice(0, 30)), ...await bidOn(app, "c2", obs.slice(30))];
    const one = await app.inject({ method: "POST", url: "/v1/bid", payload: { campaignId: "c3", obs: obs[0], refValue: 1.5, sample: true, seed: 4 } });
    served.push({ ...one.json(), obs: obs[0] });
    // 41 decisions: two full segments of 16 written at once, the rest on close
    await app.close();
    const segs = listSegments(join(dataDir, "decisions"), "decisions").live;
    expect(segs.length).toBe(3);
    const rows: Record<string, { obs: Float32Array; level: number; creative: number; campaign: string; run: string; logp: number; sampled: number; value: number }> = {};
    for (const s of segs) {
      const t = tableFromIPC(readFileSync(s.path));
      expect(t.schema.fields.find((f) => f.name === "obs")!.type.toString()).toBe(`FixedSizeList[${L.OBS_DIM}]<Float32>`);
      for (let i = 0; i < t.numRows; i++) {
        const r = t.get(i)!.toJSON() as Record<string, unknown>;
        rows[r.bid_id as string] = {
          obs: (r.obs as { toArray(): Float32Array }).toArray(), level: r.bid_level as number, creative: r.creative as number,
          campaign: r.campaign_id as string, run: r.policy_run as string, logp: r.logp as number, sampled: r.sampled as number, value: r.value as number,
        };
      }
    }
    expect(Object.keys(rows).sort()).toEqual(served.map((s) => s.bidId).sort());
    for (const [k, s] of served.entries()) {
      const r = rows[s.bidId];
      expect(Array.from(r.obs)).toEqual(s.obs);
      expect(r.level).toBe(s.bidLevel);
      expect(r.creative).toBe(s.creative);
      expect(r.value).toBe(Math.fround(s.value));
      expect(r.campaign).toBe(k < 30 ? "c1" : k < 40 ? "c2" : "c3");
      expect(r.run).toBe(run);
      expect(r.logp).toBeLessThanOrEqual(0);
      expect(r.sampled).toBe(k === 40 ? 1 : 0);
    }
    expect(files(join(dataDir, "decisions")).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
  });

  it("an idle flush tick does not wedge the log: decisions after it are still written and close returns", async () => {
    const { open, dataDir } = setup();
    const app = await open({ decisionLog: { flushMs: 20 } });
    await new Promise((r) => setTimeout(r, 120)); // several ticks with nothing buffered
    const served = await bidOn(app, "c1", observations(3, 2));
    // the timer writes the partial buffer (polled: the machine may be slow)
    const list = () => listSegments(join(dataDir, "decisions"), "decisions").live;
    for (let k = 0; k < 500 && list().length === 0; k++) await new Promise((r) => setTimeout(r, 20));
    const segs = list();
    expect(segs).toHaveLength(1);
    expect(tableFromIPC(readFileSync(segs[0].path)).getChild("bid_id")!.toArray()).toEqual(served.map((b) => b.bidId));
    await app.close();
  });

  it("recordBatch logs the same rows as record() one at a time, across buffer boundaries", async () => {
    const n = 10;
    const obs = Float32Array.from({ length: n * L.OBS_DIM }, (_, k) => k / 7);
    const decisions = Array.from({ length: n }, (_, i) => ({ bidLevel: i % 5, multiplier: 1 + i / 8, creative: i % 3, bid: i / 4, logProb: -i / 3, value: i / 8 }));
    const refValue = Float64Array.from({ length: n }, (_, i) => 0.25 + i);
    const bidIds = Array.from({ length: n }, (_, i) => `b-${i}`);
    const read = async (write: (log: DecisionLog) => void, name: string) => {
      const dir = scratch.next(name);
      const log = new DecisionLog(dir, { flushRows: 4, flushMs: 3_600_000 });
      write(log);
      await log.flush();
      expect(log.snapshot().recorded).toBe(n);
      await log.close();
      return listSegments(dir, "decisions").live.flatMap((seg) => {
        const t = tableFromIPC(readFileSync(seg.path));
        return Array.from({ length: t.numRows }, (_, k) => Object.fromEntries(t.schema.fields.map((f) => {
          const v = t.getChild(f.name)!.get(k);
          return [f.name, f.name === "obs" ? Array.from(v as ArrayLike<number>) : v];
        })));
      });
    };
    const common = { campaignId: "c", atMs: 1_700_000_000_000, policyVersion: 3, policyRun: "run", sampled: true };
    const batched = await read((log) => {
      log.recordBatch({ n: 3, bidIds: bidIds.slice(0, 3), obs: obs.subarray(0, 3 * L.OBS_DIM), refValue: refValue.subarray(0, 3), decisions: decisions.slice(0, 3), ...common });
      log.recordBatch({ n: 7, bidIds: bidIds.slice(3), obs: obs.subarray(3 * L.OBS_DIM), refValue: refValue.subarray(3), decisions: decisions.slice(3), ...common });
    }, "decisions-batch");
    const single = await read((log) => {
      for (let i = 0; i < n; i++) log.record({ bidId: bidIds[i], obs, obsAt: i * L.OBS_DIM, refValue: refValue[i], ...decisions[i], ...common });
    }, "decisions-single");
    expect(batched).toHaveLength(n);
    expect(batched).toEqual(single);
    expect(batched.map((r) => r.bid_id)).toEqual(bidIds);
    expect((batched[9].obs as number[])[0]).toBe(Math.fround((9 * L.OBS_DIM) / 7));
  });

  it("the writer thread keeps rows in order across segments, keeps non-ASCII strings, and retries a failed write", async () => {
    const dir = scratch.next("decisions-direct");
    const errors: string[] = [];
    const rows = { written: 0, dropped: 0 };
    const log = new DecisionLog(dir, { flushRows: 4, flushMs: 3_600_000 }, {
      onError: (e) => errors.push(e.message),
      onRows: (r, n) => (rows[r] += n),
    });
    const obs = new Float32Array(2 * L.OBS_DIM);
    const record = (i: number): void => {
      obs.fill(i + 0.5, L.OBS_DIM, 2 * L.OBS_DIM);
      log.record({
        bidId: `b-${i}`, campaignId: i % 2 === 0 ? "café-ü" : "c", atMs: 1_700_000_000_000 + i, obs, obsAt: L.OBS_DIM, refValue: i, bidLevel: i % 5,
        multiplier: 1, creative: i % 3, bid: i / 4, logProb: -i, value: i / 8, policyVersion: 1, policyRun: "run-✓", sampled: i % 2 === 1,
      });
    };
    for (let i = 0; i < 10; i++) record(i);
    await log.flush();
    // the folder becomes unwritable: the write fails, is reported, and its rows wait for the next flush
    const aside = `${dir}-aside`;
    renameSync(dir, aside);
    writeFileSync(dir, "not a folder");
    for (let i = 10; i < 14; i++) record(i);
    await expect(log.flush()).rejects.toThrow(/could not be written/);
    expect(errors.some((m) => /failed .*retrying/.test(m))).toBe(true);
    rmSync(dir);
    renameSync(aside, dir);
    await log.close();
    expect(rows).toEqual({ written: 14, dropped: 0 });
    const segs = listSegments(dir, "decisions").live;
    expect(segs.length).toBeGreaterThanOrEqual(4);
    const got = segs.flatMap((s) => {
      const t = tableFromIPC(readFileSync(s.path));
      const obsCol = t.getChild("obs")!;
      return t.getChild("bid_id")!.toArray().map((id: string, k: number) => ({
        id, campaign: t.getChild("campaign_id")!.get(k), run: t.getChild("policy_run")!.get(k), at: t.getChild("at_ms")!.get(k),
        obs0: obsCol.get(k)!.get(0), sampled: t.getChild("sampled")!.get(k),
      }));
    });
    expect(got).toEqual(Array.from({ length: 14 }, (_, i) => ({
      id: `b-${i}`, campaign: i % 2 === 0 ? "café-ü" : "c", run: "run-✓", at: 1_700_000_000_000 + i, obs0: i + 0.5, sampled: i % 2,
    })));
  });
});
