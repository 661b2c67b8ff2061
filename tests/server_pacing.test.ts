// The pacing routes through app.inject: registration and pacing state, reconcile -> halt -> the
// bid gate says halted -> a human resumes -> active (audited), re-halt rules after a resume,
// manual halts, the audit log written before the answer and replayed after a restart (torn last
// line truncated, damage refused), 400s naming the field, and no 5xx for any body.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { buildApp, type App } from "../server/app.js";
import { DAY_MS, HOUR_MS } from "../server/pacing/pace.js";
import { AuditEntry, PacingSummary, PacingView, ReconcileResponse } from "../server/pacing/schemas.js";
import { scratchDir } from "./helpers/scratch.js";

const scratch = scratchDir("pacing");
const T0 = Date.parse("2024-06-01T00:00:00Z");
const at = (days: number): number => T0 + days * DAY_MS;
const iso = (ms: number): string => new Date(ms).toISOString();

/** June 2024, $3,000: $1,000 due by day 10. */
const PLAN = { name: "Summer Sale US", market: "US", product: "Shoes", start: "2024-06-01", end: "2024-06-30", budget: 3000 };
const tracker = (id: string, over: Record<string, unknown> = {}) => ({ id, ...PLAN, ...over });
const platform = (id: string, spend: number, updatedAtMs: number, over: Record<string, unknown> = {}) => ({
  id, name: PLAN.name, market: "US", product: "Shoes", start: PLAN.start, end: PLAN.end, spend, updatedAt: iso(updatedAtMs), ...over,
});

interface Harness {
  app: App;
  dataDir: string;
  clock: { ms: number };
}

async function open(dataDir = scratch.next("data"), clock = { ms: at(10) }, pacing: Record<string, unknown> = {}): Promise<Harness> {
  const app = await buildApp({ runsRoot: scratch.root(), dataDir, loadShedding: false, pacing: { now: () => clock.ms, ...pacing } });
  return { app, dataDir, clock };
}

const auditPath = (h: Harness): string => join(h.dataDir, "pacing", "audit.jsonl");
const auditLines = (h: Harness): Record<string, unknown>[] =>
  readFileSync(auditPath(h), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

function expectShape(schema: TSchema, body: unknown): void {
  const err = Value.Errors(schema, body).First();
  expect(err === undefined ? "ok" : `${err.path} ${err.message}`).toBe("ok");
}

async function call(h: Harness, method: "GET" | "PUT" | "POST", url: string, payload?: unknown) {
  const r = await h.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: r.statusCode, body: JSON.parse(r.body) as Record<string, any> };
}

const reconcileCall = (h: Harness, tracker: unknown[], platform: unknown[]) => call(h, "POST", "/v1/pacing/reconcile", { tracker, platform });

async function haltsMetric(h: Harness, campaign: string): Promise<number> {
  const text = (await h.app.inject({ method: "GET", url: "/metrics" })).body;
  const m = new RegExp(`^gaelp_pacing_halts_total\\{campaign="${campaign}"\\} (\\d+)$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe("campaign registry and pacing state", () => {
  it("PUT registers (201), repeats without change (200), updates (200); GET shows target and feedback spend", async () => {
    const h = await open();
    const created = await call(h, "PUT", "/v1/campaigns/c1", PLAN);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ created: true, changed: true, campaign: { id: "c1", flightDays: 30, effectiveBudget: 3000, source: "api" } });
    expect((await call(h, "PUT", "/v1/campaigns/c1", PLAN)).body).toMatchObject({ created: false, changed: false });
    const capped = await call(h, "PUT", "/v1/campaigns/c1", { ...PLAN, dailyBudget: 80 });
    expect(capped.status).toBe(200);
    expect(capped.body).toMatchObject({ created: false, changed: true, campaign: { dailyBudget: 80, effectiveBudget: 2400 } });
    expect(auditLines(h).map((l) => l.type)).toEqual(["campaign", "campaign"]); // the no-op PUT wrote nothing
    await call(h, "PUT", "/v1/campaigns/c1", PLAN);

    // feedback: 6 impressions at $100, 3 clicks at $50, 2 conversions worth $400 -> $750 spent
    const sink = h.app.gaelp.delivery;
    for (let i = 0; i < 6; i++) sink.record({ campaignId: "c1", at: iso(at(9) + i * HOUR_MS), kind: "impression", cost: 100, value: 0 });
    for (let i = 0; i < 3; i++) sink.record({ campaignId: "c1", at: iso(at(9.5)), kind: "click", cost: 50, value: 0 });
    for (let i = 0; i < 2; i++) sink.record({ campaignId: "c1", at: iso(at(9.6)), kind: "conversion", cost: 0, value: 400 });
    sink.record({ campaignId: "c1", at: "not a time", kind: "click", cost: 1, value: 0 });
    const view = await call(h, "GET", "/v1/campaigns/c1/pacing");
    expect(view.status).toBe(200);
    expectShape(PacingView, view.body);
    expect(view.body.delivery).toEqual({ spend: 750, impressions: 6, clicks: 3, conversions: 2, value: 800, events: 11, lastEventAt: iso(at(9.6)) });
    expect(view.body.pace.target).toBeCloseTo(1000, 6);
    expect(view.body.pace).toMatchObject({ actual: 750, variance: 0.25, band: "warning", remaining: 2250, remainingDays: 20 });
    expect(view.body).toMatchObject({ status: "active", halt: null, lastDecision: null, platform: null, lastResume: null });
    expect((await call(h, "GET", "/v1/pacing")).body.delivery).toEqual({ campaigns: 1, events: 11, overflowEvents: 0, invalidEvents: 1 });

    sink.record({ campaignId: "c9", at: iso(at(9)), kind: "impression", cost: 2, value: 0 });
    const missing = await call(h, "GET", "/v1/campaigns/c9/pacing");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: "unknown_campaign", field: "params.id" });
    expect(missing.body.message).toContain("1 feedback events for it are counted");
    await h.app.close();
  });
});

describe("halt, gate, resume", () => {
  it("a critical reconcile halts: the gate says halted with the reason, a human resumes it, the gate says active", async () => {
    const h = await open();
    const gate = () => h.app.gaelp.gate;
    expect(gate().status("c1")).toEqual({ state: "active" });

    const r = await reconcileCall(h, [tracker("c1")], [platform("c1", 1300, at(10) - HOUR_MS)]);
    expect(r.status).toBe(200);
    expectShape(ReconcileResponse, r.body);
    const d = r.body.decisions[0];
    expect(d).toMatchObject({ campaignId: "c1", action: "halt", rule: "critical", halted: true, matchedBy: "id" });
    // one hour before day 10: $995.83 due
    expect(d.rootCause).toContain("Spend $1,300.00 is 30.5% above the target pace $995.83");
    expect(r.body.summary).toMatchObject({ halt: 1, newlyHalted: 1, matchedById: 1 });
    const halted = gate().status("c1");
    expect(halted).toMatchObject({ state: "halted", decisionId: d.id, reason: d.rootCause });
    expect(gate().status("c1")).toBe(halted); // one object per halt: the bid path allocates nothing
    expect(gate().status("other")).toBe(gate().status("c2"));
    expect(await haltsMetric(h, "c1")).toBe(1);

    // still critical while halted: decided and logged again, no second halt
    const again = await reconcileCall(h, [tracker("c1")], [platform("c1", 1300, at(10) - HOUR_MS)]);
    expect(again.body.summary).toMatchObject({ halt: 1, newlyHalted: 0 });
    expect(await haltsMetric(h, "c1")).toBe(1);
    expect(gate().status("c1")).toBe(halted);

    h.clock.ms = at(10) + HOUR_MS;
    const res = await call(h, "POST", "/v1/campaigns/c1/resume", { by: "ana@example.com", reason: "budget raised on the platform" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ campaignId: "c1", status: "active", resume: { by: "ana@example.com", at: iso(h.clock.ms) }, resumedHalt: { decisionId: d.id } });
    expect(gate().status("c1")).toEqual({ state: "active" });
    const view = (await call(h, "GET", "/v1/campaigns/c1/pacing")).body;
    expect(view).toMatchObject({ status: "active", halt: null, lastResume: res.body.resume, lastDecision: { action: "halt" } });

    const twice = await call(h, "POST", "/v1/campaigns/c1/resume", { by: "ana", reason: "again" });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: "not_halted", field: "params.id" });
    expect((await call(h, "POST", "/v1/campaigns/nope/resume", { by: "ana", reason: "x" })).status).toBe(404);

    // the same data the human saw (measured before the resume): warned, not halted again
    h.clock.ms = at(10) + 2 * HOUR_MS;
    const seen = await reconcileCall(h, [tracker("c1")], [platform("c1", 1300, at(10) - HOUR_MS)]);
    expect(seen.body.decisions[0]).toMatchObject({ rule: "critical", action: "warn", suppressedByResume: res.body.resume.id, halted: false });
    expect(gate().status("c1").state).toBe("active");
    // newer data, still critical: halted again
    const newer = await reconcileCall(h, [tracker("c1")], [platform("c1", 1400, at(10) + 1.5 * HOUR_MS)]);
    expect(newer.body.decisions[0]).toMatchObject({ rule: "critical", action: "halt", suppressedByResume: null, halted: true });
    expect(gate().status("c1").state).toBe("halted");
    expect(await haltsMetric(h, "c1")).toBe(2);

    const types = auditLines(h).map((l) => l.type);
    expect(types).toEqual([
      "campaign", "decision", "halt", "reconcile", // first reconcile registers c1 from the tracker record
      "decision", "reconcile",
      "resume",
      "decision", "reconcile",
      "decision", "halt", "reconcile",
    ]);
    await h.app.close();
  });

  it("an operator halts and resumes by hand; both need a registered campaign and the right state", async () => {
    const h = await open();
    await call(h, "PUT", "/v1/campaigns/c2", PLAN);
    const halt = await call(h, "POST", "/v1/campaigns/c2/halt", { by: "ops", reason: "creative under legal review" });
    expect(halt.status).toBe(200);
    expect(halt.body).toMatchObject({ campaignId: "c2", status: "halted", halt: { by: "ops", reason: "creative under legal review" } });
    expect(h.app.gaelp.gate.status("c2")).toMatchObject({ state: "halted", reason: "creative under legal review", decisionId: halt.body.halt.id });
    expect(await haltsMetric(h, "c2")).toBe(1);
    const twice = await call(h, "POST", "/v1/campaigns/c2/halt", { by: "ops", reason: "again" });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: "already_halted", field: "params.id" });
    expect((await call(h, "POST", "/v1/campaigns/zz/halt", { by: "ops", reason: "x" })).status).toBe(404);
    expect((await call(h, "POST", "/v1/campaigns/c2/resume", { by: "lead", reason: "review passed" })).status).toBe(200);
    expect(h.app.gaelp.gate.status("c2").state).toBe("active");
    await h.app.close();
  });

  it("low confidence escalates without halting; zero delivery halts at low and high confidence; unmatched escalates", async () => {
    const h = await open();
    const r = await reconcileCall(
      h,
      [tracker("low"), tracker("zlow", { name: "Winter Promo" }), tracker("zhigh", { name: "Autumn" }), tracker("lost", { name: "Spring Brand" })],
      [
        platform("low", 2000, at(10), { market: "CA", product: "Hats", name: "Summer Sale" }), // confidence 0.686, 100% over
        platform("p-w", 0, at(9), { name: "winter promo", market: "CA", product: undefined }), // by name, 24 h old, confidence < 0.7
        platform("zhigh", 0, at(10), { name: "Autumn" }),
      ],
    );
    const byId = Object.fromEntries(r.body.decisions.map((d: { campaignId: string }) => [d.campaignId, d]));
    expect(byId.low).toMatchObject({ rule: "low_confidence", action: "escalate", severity: "critical", halted: false });
    expect(byId.low.confidence.score).toBeLessThan(0.7);
    expect(byId.zlow).toMatchObject({ rule: "zero_delivery", action: "halt", matchedBy: "name", halted: true });
    expect(byId.zlow.confidence.score).toBeLessThan(0.7);
    expect(byId.zhigh).toMatchObject({ rule: "zero_delivery", action: "halt", halted: true, confidence: { score: 1 } });
    expect(byId.lost).toMatchObject({ rule: "unmatched", action: "escalate", platform: null, halted: false });
    expect(r.body.unmatchedTracker.map((u: { id: string }) => u.id)).toEqual(["lost"]);
    const gate = h.app.gaelp.gate;
    expect([gate.status("low").state, gate.status("zlow").state, gate.status("zhigh").state, gate.status("lost").state]).toEqual(["active", "halted", "halted", "active"]);
    await h.app.close();
  });
});

describe("audit log", () => {
  /** A mixed history: registrations, a reconcile with every action, a manual halt, a resume, feedback. */
  async function history(h: Harness): Promise<void> {
    await call(h, "PUT", "/v1/campaigns/m1", { ...PLAN, dailyBudget: 150 });
    await call(h, "PUT", "/v1/campaigns/m2", PLAN);
    await reconcileCall(
      h,
      [tracker("a"), tracker("b"), tracker("c"), tracker("d", { name: "Gone" })],
      [platform("a", 1300, at(10)), platform("b", 1150, at(10)), platform("c", 1000, at(10)), platform("x", 5, at(10), { name: "Other" })],
    );
    await call(h, "POST", "/v1/campaigns/m2/halt", { by: "ops", reason: "manual stop" });
    await call(h, "POST", "/v1/campaigns/a/resume", { by: "ana", reason: "checked" });
    await call(h, "POST", "/v1/campaigns/m1/halt", { by: "ops", reason: "second" });
    for (let i = 0; i < 5; i++) h.app.gaelp.delivery.record({ campaignId: "m1", at: iso(at(9) + i), kind: "click", cost: 1.25, value: 0 });
    h.app.gaelp.delivery.record({ campaignId: "unregistered", at: iso(at(9)), kind: "conversion", cost: 0, value: 9 });
  }

  async function snapshot(h: Harness) {
    const ids = ["m1", "m2", "a", "b", "c", "d"];
    return {
      summary: (await call(h, "GET", "/v1/pacing")).body,
      views: await Promise.all(ids.map(async (id) => (await call(h, "GET", `/v1/campaigns/${id}/pacing`)).body)),
      gate: ids.map((id) => h.app.gaelp.gate.status(id)),
    };
  }

  it("each answer comes after its lines are in the file; every line is a valid entry, seq 1, 2, 3, ...", async () => {
    const h = await open();
    const r = await reconcileCall(h, [tracker("a")], [platform("a", 1300, at(10))]);
    const lines = auditLines(h);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(lines.find((l) => l.type === "decision")!.decision).toEqual(r.body.decisions[0]);
    expect(lines.at(-1)).toMatchObject({ type: "reconcile", id: r.body.id, decisions: [r.body.decisions[0].id] });
    const res = await call(h, "POST", "/v1/campaigns/a/resume", { by: "ana", reason: "ok" });
    expect(auditLines(h).at(-1)).toMatchObject({ type: "resume", campaignId: "a", resume: res.body.resume });
    for (const l of auditLines(h)) expect(Value.Check(AuditEntry, l)).toBe(true);
    await h.app.close();
  });

  it("the state (halts, plans, decisions, resumes, feedback totals) survives a restart", async () => {
    const h = await open();
    await history(h);
    const before = await snapshot(h);
    expect(before.gate.map((g) => g.state)).toEqual(["halted", "halted", "active", "active", "active", "active"]);
    expectShape(PacingSummary, before.summary);
    await h.app.close();
    const again = await open(h.dataDir, h.clock);
    const after = await snapshot(again);
    expect(after).toEqual(before);
    expect(after.summary.delivery).toMatchObject({ campaigns: 2, events: 6 });
    // and it keeps going from there: seq continues, a resume after the restart works
    expect((await call(again, "POST", "/v1/campaigns/m2/resume", { by: "ana", reason: "after restart" })).status).toBe(200);
    const lines = auditLines(again);
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    await again.app.close();
  });

  it("a torn last line (a write cut short) is truncated on open and reported; nothing before it is lost", async () => {
    const h = await open();
    await history(h);
    const before = await snapshot(h);
    await h.app.close();
    const intact = readFileSync(auditPath(h));
    const torn = '{"seq":999,"at":"2024-06-11T00:00:00.000Z","type":"halt","campaignId":"b","halt":{"id":"halt-999","si';
    appendFileSync(auditPath(h), torn);
    const again = await open(h.dataDir, h.clock);
    expect(readFileSync(auditPath(h)).equals(intact)).toBe(true);
    const after = await snapshot(again);
    expect(after.summary.audit.tornBytesOnOpen).toBe(Buffer.byteLength(torn));
    expect({ ...after, summary: { ...after.summary, audit: null } }).toEqual({ ...before, summary: { ...before.summary, audit: null } });
    expect(after.gate[3].state).toBe("active"); // the torn halt of "b" was never acknowledged: not applied
    await again.app.close();
  });

  it("damage other than a torn tail refuses to start, naming the line", async () => {
    const h = await open();
    await history(h);
    await h.app.close();
    const text = readFileSync(auditPath(h), "utf8");
    const lines = text.split("\n");
    writeFileSync(auditPath(h), [...lines.slice(0, 2), "{not json", ...lines.slice(3)].join("\n"));
    await expect(open(h.dataDir)).rejects.toThrow(/audit\.jsonl:3: not valid JSON/);
    writeFileSync(auditPath(h), [...lines.slice(0, 2), ...lines.slice(3)].join("\n"));
    await expect(open(h.dataDir)).rejects.toThrow(/audit\.jsonl:3: seq 4 should be 3/);
    const resume = JSON.stringify({ seq: 1, at: iso(at(1)), type: "resume", campaignId: "q", resume: { id: "resume-1", at: iso(at(1)), by: "x", reason: "y" }, resumedHalt: { id: "halt-0", since: iso(at(1)), reason: "r", decisionId: "halt-0", by: "x" } });
    writeFileSync(auditPath(h), `${resume}\n`);
    await expect(open(h.dataDir)).rejects.toThrow(/audit\.jsonl:1: campaign q is not halted/);
    writeFileSync(auditPath(h), `${JSON.stringify({ seq: 1, at: iso(at(1)), type: "halt", campaignId: "q" })}\n`);
    await expect(open(h.dataDir)).rejects.toThrow(/audit\.jsonl:1: not a pacing audit entry/);
    writeFileSync(auditPath(h), text);
    writeFileSync(join(h.dataDir, "pacing", "delivery.json"), '{"version":2}');
    await expect(open(h.dataDir)).rejects.toThrow(/delivery\.json: not a delivery snapshot/);
  });
});

describe("bad requests", () => {
  const cases: [string, "PUT" | "POST", string, unknown, string][] = [
    ["PUT missing name", "PUT", "/v1/campaigns/c1", { ...PLAN, name: undefined }, "body.name"],
    ["PUT zero budget", "PUT", "/v1/campaigns/c1", { ...PLAN, budget: 0 }, "body.budget"],
    ["PUT string daily budget", "PUT", "/v1/campaigns/c1", { ...PLAN, dailyBudget: "80" }, "body.dailyBudget"],
    ["PUT unknown field", "PUT", "/v1/campaigns/c1", { ...PLAN, owner: "x" }, "body.owner"],
    ["PUT month 13", "PUT", "/v1/campaigns/c1", { ...PLAN, start: "2024-13-01" }, "body.start"],
    ["PUT end before start", "PUT", "/v1/campaigns/c1", { ...PLAN, end: "2024-05-31" }, "body.end"],
    ["PUT bad id", "PUT", "/v1/campaigns/bad%20id", PLAN, "params.id"],
    ["reconcile no tracker", "POST", "/v1/pacing/reconcile", { platform: [] }, "body.tracker"],
    ["reconcile empty tracker", "POST", "/v1/pacing/reconcile", { tracker: [], platform: [] }, "body.tracker"],
    ["reconcile 501 records", "POST", "/v1/pacing/reconcile", { tracker: Array.from({ length: 501 }, (_, i) => tracker(`t${i}`)), platform: [] }, "body.tracker"],
    ["reconcile negative spend", "POST", "/v1/pacing/reconcile", { tracker: [tracker("a")], platform: [platform("a", -1, at(10))] }, "body.platform[0].spend"],
    ["reconcile time without offset", "POST", "/v1/pacing/reconcile", { tracker: [tracker("a")], platform: [platform("a", 1, at(10), { updatedAt: "2024-06-10T10:00:00" })] }, "body.platform[0].updatedAt"],
    ["reconcile 30 February", "POST", "/v1/pacing/reconcile", { tracker: [tracker("a")], platform: [platform("a", 1, at(10), { updatedAt: "2024-02-30T10:00:00Z" })] }, "body.platform[0].updatedAt"],
    ["reconcile repeated id", "POST", "/v1/pacing/reconcile", { tracker: [tracker("a"), tracker("a")], platform: [] }, "body.tracker[1].id"],
    ["reconcile end before start", "POST", "/v1/pacing/reconcile", { tracker: [tracker("a"), tracker("b", { end: "2024-05-01" })], platform: [] }, "body.tracker[1].end"],
    ["resume without by", "POST", "/v1/campaigns/c1/resume", { reason: "x" }, "body.by"],
    ["resume empty reason", "POST", "/v1/campaigns/c1/resume", { by: "ana", reason: "" }, "body.reason"],
    ["halt with extra field", "POST", "/v1/campaigns/c1/halt", { by: "ana", reason: "r", force: true }, "body.force"],
  ];

  it.each(cases)("%s -> 400 naming %s, nothing recorded", async (_name, method, url, payload, field) => {
    const h = await open();
    const r = await call(h, method, url, payload);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ statusCode: 400, field });
    expect(r.body.message).toContain(field);
    expect(readFileSync(auditPath(h), "utf8")).toBe("");
    await h.app.close();
  });

  it("__proto__ and constructor keys are refused", async () => {
    const h = await open();
    for (const raw of ['{"by":"a","reason":"b","__proto__":{"x":1}}', '{"by":"a","reason":"b","constructor":{"prototype":{"x":1}}}']) {
      const r = await h.app.inject({ method: "POST", url: "/v1/campaigns/c1/resume", headers: { "content-type": "application/json" }, payload: raw });
      expect(r.statusCode).toBe(400);
    }
    await h.app.close();
  });

  it("past maxCampaigns a new campaign is refused with 409, by PUT or by reconcile, and nothing is recorded", async () => {
    const h = await open(undefined, undefined, { maxCampaigns: 2 });
    await call(h, "PUT", "/v1/campaigns/a", PLAN);
    const r = await reconcileCall(h, [tracker("a"), tracker("b"), tracker("c")], []);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: "campaign_limit", field: "body.tracker" });
    expect(auditLines(h)).toHaveLength(1);
    expect((await call(h, "PUT", "/v1/campaigns/b", PLAN)).status).toBe(201);
    expect((await call(h, "PUT", "/v1/campaigns/c", PLAN)).status).toBe(409);
    expect((await call(h, "PUT", "/v1/campaigns/b", { ...PLAN, budget: 10 })).status).toBe(200); // updates still fine
    for (const id of ["a", "b", "c"]) h.app.gaelp.delivery.record({ campaignId: id, at: iso(at(1)), kind: "impression", cost: 1, value: 0 });
    expect((await call(h, "GET", "/v1/pacing")).body.delivery).toMatchObject({ campaigns: 2, events: 2, overflowEvents: 1 });
    await h.app.close();
  });

  it("bad pacing options fail buildApp naming the option", async () => {
    await expect(open(undefined, undefined, { warnVariance: 0.3 })).rejects.toThrow(/pacing\.criticalVariance \(0\.25\) must not be below pacing\.warnVariance/);
    await expect(open(undefined, undefined, { maxCampaigns: 0 })).rejects.toThrow(/pacing\.maxCampaigns must be an integer/);
  });

  it("no body sent to a pacing route answers 5xx", async () => {
    const h = await open();
    await call(h, "PUT", "/v1/campaigns/c1", PLAN);
    const routes: ["PUT" | "POST", string][] = [
      ["POST", "/v1/pacing/reconcile"], ["PUT", "/v1/campaigns/c1"], ["POST", "/v1/campaigns/c1/halt"], ["POST", "/v1/campaigns/c1/resume"],
    ];
    // near-valid bodies reach the semantic checks more often than fc.anything() alone
    const nearValid = fc.record({
      tracker: fc.array(fc.record({ id: fc.constantFrom("a", "b", "c1"), name: fc.string({ minLength: 1, maxLength: 20 }), market: fc.constantFrom("US", "CA"), product: fc.constant("x"), start: fc.constantFrom("2024-06-01", "2024-02-30", "2024-07-01"), end: fc.constantFrom("2024-06-30", "2024-05-01"), budget: fc.double({ min: 0, max: 1e6, noNaN: true }) }), { maxLength: 4 }),
      platform: fc.array(fc.record({ id: fc.constantFrom("a", "p1", "p2"), name: fc.string({ minLength: 1, maxLength: 20 }), spend: fc.double({ min: 0, max: 1e6, noNaN: true }), updatedAt: fc.constantFrom("2024-06-10T10:00:00Z", "2024-06-31T10:00:00Z", "2030-01-01T00:00:00Z") }), { maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.oneof(fc.anything(), nearValid, fc.record({ by: fc.string(), reason: fc.string() })), async ([method, url], body) => {
        const r = await h.app.inject({ method, url, headers: { "content-type": "application/json" }, payload: JSON.stringify(body) ?? "null" });
        expect(r.statusCode, r.body).toBeLessThan(500);
      }),
      { numRuns: 400 },
    );
    await h.app.close();
  });
});
