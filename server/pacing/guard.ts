// The pacing guard: the campaign registry, delivered spend from feedback, the decisions of
// reconciliation, and which campaigns are halted. It is the server's CampaignGate (the bid route
// asks it whether a campaign may bid) and its DeliverySink (feedback reports spend to it).
//
// Every change of state is an audit entry, and state changes only by applying entries (apply()),
// live and when the log is replayed at start-up, so the state after a restart is exactly the
// state the log describes. Live changes apply at once (a halt stops bids immediately) and the
// methods resolve once their entries are written and fsync'd; a route answers after that.
//
// Halts are lifted only by a human (resume, with `by` and `reason`). After a resume, platform data
// measured at or before the resume does not halt the campaign again (the human has seen it);
// newer data that is still critical or without spend halts it again.
//
// Feedback totals are not audit entries (one per event would swamp the log): they are kept in
// <dir>/delivery.json, replaced atomically every `deliverySnapshotMs` when they changed and on
// close, so a crash loses at most that interval of feedback totals.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { writeFileAtomicAsync } from "../../trainer/fsutil.js";
import type { CampaignGate, CampaignGateStatus, DeliveryEvent, DeliverySink } from "../contracts.js";
import { HttpError } from "../errors.js";
import { AuditLog, type AuditOpenReport } from "./audit.js";
import { DEFAULT_THRESHOLDS, varianceSeverity, type ResumeCover, type Thresholds } from "./matrix.js";
import { effectiveBudget, flightOf, isoTime, paceAt, remainingAt, type Flight } from "./pace.js";
import { reconcileYielding } from "./reconcile.js";
import {
  AuditEntry, DeliverySnapshot, MAX_CAMPAIGNS_LIMIT,
  type CampaignEntry, type CampaignPlan, type CampaignView, type Confidence, type Decision, type DecisionEntry, type FeedbackDelivery,
  type HaltEntry, type HaltInfo, type HaltResponse, type HumanAction, type PacingSummary, type PacingView, type PlatformDelivery,
  type PutCampaignResponse, type ReconcileBody, type ReconcileEntry, type ReconcileResponse, type ResumeEntry, type ResumeInfo, type ResumeResponse,
} from "./schemas.js";

export const AUDIT_FILE = "audit.jsonl";
export const DELIVERY_FILE = "delivery.json";
/** `by` of the halts the guard decides itself */
export const GUARD_ACTOR = "pacing-guard";

export interface PacingOptions {
  /** variance from which a decision warns (default 0.10) */
  warnVariance?: number;
  /** variance above which a decision halts (default 0.25) */
  criticalVariance?: number;
  /** match confidence below which the guard escalates instead of acting (default 0.7) */
  minConfidence?: number;
  /** lowest name similarity that pairs tracker and platform records whose ids differ (default 0.75) */
  nameMatchThreshold?: number;
  /** most campaigns registered, and most campaign ids with feedback totals (default 10,000; at most 100,000) */
  maxCampaigns?: number;
  /** how often changed feedback totals are saved to delivery.json, ms (default 10,000) */
  deliverySnapshotMs?: number;
  /** the clock, unix ms (default Date.now; tests fix it) */
  now?: () => number;
}

export interface GuardHooks {
  /** called once per campaign that goes from active to halted (not on replay) */
  onHalt?: (campaignId: string) => void;
  /** a background save of delivery.json failed (it is retried at the next interval) */
  onError?: (err: Error) => void;
}

export interface GuardOpenReport extends AuditOpenReport {
  campaigns: number;
  halted: number;
}

interface CampaignState {
  plan: CampaignPlan;
  flight: Flight;
  updatedAt: string;
  source: "api" | "reconcile";
}

interface Totals {
  spend: number;
  impressions: number;
  clicks: number;
  conversions: number;
  value: number;
  events: number;
  lastEventMs: number;
}

interface LastPlatform {
  platform: PlatformDelivery;
  confidence: Confidence | null;
  decisionId: string;
}

const ACTIVE: CampaignGateStatus = Object.freeze({ state: "active" });
const checkEntry = TypeCompiler.Compile(AuditEntry);
const checkSnapshot = TypeCompiler.Compile(DeliverySnapshot);

function resolveOptions(o: PacingOptions): Required<PacingOptions> {
  const share = (v: number | undefined, name: string, dflt: number, lo: number, hi: number): number => {
    const x = v ?? dflt;
    if (typeof x !== "number" || !(x >= lo && x <= hi)) throw new RangeError(`pacing.${name} must be a number in [${lo}, ${hi}], got ${x}`);
    return x;
  };
  const int = (v: number | undefined, name: string, dflt: number, lo: number, hi: number): number => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < lo || x > hi) throw new RangeError(`pacing.${name} must be an integer in [${lo}, ${hi}], got ${x}`);
    return x;
  };
  const warnVariance = share(o.warnVariance, "warnVariance", DEFAULT_THRESHOLDS.warnVariance, 0, 10);
  const criticalVariance = share(o.criticalVariance, "criticalVariance", DEFAULT_THRESHOLDS.criticalVariance, 0, 10);
  if (criticalVariance < warnVariance) throw new RangeError(`pacing.criticalVariance (${criticalVariance}) must not be below pacing.warnVariance (${warnVariance})`);
  if (o.now !== undefined && typeof o.now !== "function") throw new TypeError("pacing.now must be a function returning unix milliseconds");
  return {
    warnVariance,
    criticalVariance,
    minConfidence: share(o.minConfidence, "minConfidence", DEFAULT_THRESHOLDS.minConfidence, 0, 1),
    nameMatchThreshold: share(o.nameMatchThreshold, "nameMatchThreshold", 0.75, 0, 1),
    maxCampaigns: int(o.maxCampaigns, "maxCampaigns", 10_000, 1, MAX_CAMPAIGNS_LIMIT),
    deliverySnapshotMs: int(o.deliverySnapshotMs, "deliverySnapshotMs", 10_000, 100, 86_400_000),
    now: o.now ?? Date.now,
  };
}

const samePlan = (a: CampaignPlan, b: CampaignPlan): boolean =>
  a.name === b.name && a.market === b.market && a.product === b.product && a.start === b.start && a.end === b.end &&
  a.budget === b.budget && a.dailyBudget === b.dailyBudget;

const planOf = (p: CampaignPlan): CampaignPlan => {
  const { name, market, product, start, end, budget, dailyBudget } = p;
  return dailyBudget === undefined ? { name, market, product, start, end, budget } : { name, market, product, start, end, budget, dailyBudget };
};

const notFound = (id: string, extra = ""): HttpError =>
  new HttpError(404, "unknown_campaign", `campaign ${JSON.stringify(id)} is not registered (PUT /v1/campaigns/${id} registers it)${extra}`, "params.id");

export class PacingGuard implements CampaignGate, DeliverySink {
  readonly report: GuardOpenReport;
  private readonly opts: Required<PacingOptions>;
  private readonly th: Thresholds;
  private readonly campaigns = new Map<string, CampaignState>();
  /** the gate's answer for each halted campaign, built once per halt (status() allocates nothing) */
  private readonly gate = new Map<string, CampaignGateStatus>();
  private readonly halts = new Map<string, HaltInfo>();
  private readonly lastResume = new Map<string, { info: ResumeInfo; atMs: number }>();
  private readonly lastDecision = new Map<string, Decision>();
  private readonly lastPlatform = new Map<string, LastPlatform>();
  private readonly delivery = new Map<string, Totals>();
  private overflowEvents = 0;
  private invalidEvents = 0;
  private deliveryDirty = false;
  private saving: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private seq: number;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: AuditLog,
    lines: Record<string, unknown>[],
    auditReport: AuditOpenReport,
    opts: PacingOptions,
    private readonly hooks: GuardHooks,
  ) {
    this.opts = resolveOptions(opts);
    this.th = { warnVariance: this.opts.warnVariance, criticalVariance: this.opts.criticalVariance, minConfidence: this.opts.minConfidence };
    lines.forEach((line, i) => this.replay(line, i + 1));
    this.seq = lines.length;
    this.loadDelivery();
    this.report = { ...auditReport, campaigns: this.campaigns.size, halted: this.halts.size };
    this.timer = setInterval(() => void this.saveDelivery(), this.opts.deliverySnapshotMs);
    this.timer.unref();
  }

  /**
   * Opens the guard whose files live in `dir` (created if missing): replays <dir>/audit.jsonl
   * (truncating a torn last line, see `report`) and loads <dir>/delivery.json.
   */
  static async open(dir: string, opts: PacingOptions = {}, hooks: GuardHooks = {}): Promise<PacingGuard> {
    resolveOptions(opts); // bad options fail before any file is touched
    mkdirSync(dir, { recursive: true });
    const { log, lines, report } = await AuditLog.open(join(dir, AUDIT_FILE));
    try {
      return new PacingGuard(dir, log, lines, report, opts, hooks);
    } catch (e) {
      await log.close();
      throw e;
    }
  }

  // ---- CampaignGate and DeliverySink (hot paths) ------------------------------------------------

  status(campaignId: string): CampaignGateStatus {
    return this.gate.get(campaignId) ?? ACTIVE;
  }

  record(ev: DeliveryEvent): void {
    const atMs = Date.parse(ev.at);
    if (!(ev.cost >= 0 && ev.cost < Infinity && ev.value >= 0 && ev.value < Infinity) || Number.isNaN(atMs)) {
      this.invalidEvents++;
      return;
    }
    let t = this.delivery.get(ev.campaignId);
    if (t === undefined) {
      if (this.delivery.size >= this.opts.maxCampaigns) {
        this.overflowEvents++;
        return;
      }
      t = { spend: 0, impressions: 0, clicks: 0, conversions: 0, value: 0, events: 0, lastEventMs: -Infinity };
      this.delivery.set(ev.campaignId, t);
    }
    if (ev.kind === "impression") t.impressions++;
    else if (ev.kind === "click") t.clicks++;
    else t.conversions++;
    t.spend += ev.cost;
    t.value += ev.value;
    t.events++;
    if (atMs > t.lastEventMs) t.lastEventMs = atMs;
    this.deliveryDirty = true;
  }

  // ---- state, changed only through entries -------------------------------------------------------

  private apply(e: AuditEntry): void {
    switch (e.type) {
      case "campaign":
        this.campaigns.set(e.campaignId, { plan: e.plan, flight: flightOf(e.plan, "plan"), updatedAt: e.at, source: e.source });
        break;
      case "decision": {
        const d = e.decision;
        this.lastDecision.set(d.campaignId, d);
        if (d.platform !== null) this.lastPlatform.set(d.campaignId, { platform: d.platform, confidence: d.confidence, decisionId: d.id });
        break;
      }
      case "halt":
        if (this.halts.has(e.campaignId)) throw new Error(`campaign ${e.campaignId} is halted already`);
        this.halts.set(e.campaignId, e.halt);
        this.gate.set(e.campaignId, Object.freeze({ state: "halted", reason: e.halt.reason, since: e.halt.since, decisionId: e.halt.decisionId }));
        break;
      case "resume":
        if (!this.halts.has(e.campaignId)) throw new Error(`campaign ${e.campaignId} is not halted`);
        this.halts.delete(e.campaignId);
        this.gate.delete(e.campaignId);
        this.lastResume.set(e.campaignId, { info: e.resume, atMs: Date.parse(e.resume.at) });
        break;
      case "reconcile":
        break;
    }
  }

  private replay(line: Record<string, unknown>, n: number): void {
    const where = `${this.log.path}:${n}`;
    if (!checkEntry.Check(line)) {
      const err = checkEntry.Errors(line).First();
      throw new Error(`${where}: not a pacing audit entry (${err === undefined ? "unknown shape" : `${err.path || "/"} ${err.message}`})`);
    }
    try {
      this.apply(line);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }

  /** Applies `entries` now and resolves once they are durable in the audit log. */
  private async commit(entries: AuditEntry[]): Promise<void> {
    if (this.closed) throw new HttpError(503, "shutting_down", "the pacing guard is closed (server shutting down)");
    for (const e of entries) this.apply(e);
    for (const e of entries) if (e.type === "halt") this.hooks.onHalt?.(e.campaignId);
    try {
      await this.log.append(entries);
    } catch (e) {
      throw new HttpError(503, "audit_unavailable", (e as Error).message);
    }
  }

  private head(nowMs: number): { seq: number; at: string } {
    return { seq: ++this.seq, at: isoTime(nowMs) };
  }

  private haltEntry(nowMs: number, campaignId: string, by: string, reason: string, decisionId?: string): HaltEntry {
    const h = this.head(nowMs);
    const id = `halt-${h.seq}`;
    return { ...h, type: "halt", campaignId, halt: { id, since: h.at, reason, decisionId: decisionId ?? id, by } };
  }

  private roomFor(newCampaigns: number, field: string): void {
    if (this.campaigns.size + newCampaigns > this.opts.maxCampaigns) {
      throw new HttpError(409, "campaign_limit", `${field}: registering ${newCampaigns} more campaign(s) would pass pacing.maxCampaigns (${this.opts.maxCampaigns}; ${this.campaigns.size} registered)`, field);
    }
  }

  // ---- operations --------------------------------------------------------------------------------

  /** Registers campaign `id` or replaces its plan (PUT). Halts are not touched. */
  async putCampaign(id: string, plan: CampaignPlan): Promise<PutCampaignResponse> {
    flightOf(plan, "body");
    const cur = this.campaigns.get(id);
    const clean = planOf(plan);
    if (cur !== undefined && samePlan(cur.plan, clean)) return { campaign: this.view(id, cur), created: false, changed: false };
    if (cur === undefined) this.roomFor(1, "params.id");
    const entry: CampaignEntry = { ...this.head(this.opts.now()), type: "campaign", campaignId: id, plan: clean, source: "api" };
    await this.commit([entry]);
    return { campaign: this.view(id, this.campaigns.get(id)!), created: cur === undefined, changed: true };
  }

  /**
   * Reconciles tracker records with platform records (see reconcile.ts), registers or updates the
   * tracker records' plans, records one decision per tracker record and halts the campaigns whose
   * decision says so. A 400 (bad dates, repeated ids) changes nothing. The name comparisons yield
   * to the event loop every millisecond or so; the state changes after them, all at once.
   */
  async reconcile(body: ReconcileBody): Promise<ReconcileResponse> {
    const nowMs = this.opts.now();
    const result = await reconcileYielding(body.tracker, body.platform, nowMs, {
      ...this.th,
      nameMatchThreshold: this.opts.nameMatchThreshold,
      fieldPrefix: "body.",
      resumeOf: (id) => this.resumeCover(id),
    });
    this.roomFor(body.tracker.filter((t) => !this.campaigns.has(t.id)).length, "body.tracker");
    const entries: AuditEntry[] = [];
    const decisions: Decision[] = [];
    const summary = { tracker: body.tracker.length, platform: body.platform.length, matchedById: 0, matchedByName: 0, log: 0, warn: 0, halt: 0, escalate: 0, newlyHalted: 0 };
    for (const a of result.assessments) {
      const { id, ...plan } = a.tracker;
      const clean = planOf(plan);
      const cur = this.campaigns.get(id);
      if (cur === undefined || !samePlan(cur.plan, clean)) entries.push({ ...this.head(nowMs), type: "campaign", campaignId: id, plan: clean, source: "reconcile" });
      const wasHalted = this.halts.has(id);
      const h = this.head(nowMs);
      const p = a.platform;
      const decision: Decision = {
        id: `decision-${h.seq}`,
        at: h.at,
        campaignId: id,
        campaignName: a.tracker.name,
        action: a.action,
        rule: a.rule,
        severity: a.severity,
        matchedBy: a.matchedBy,
        platform: p === null ? null : {
          id: p.id, name: p.name, spend: p.spend, impressions: p.impressions ?? 0, clicks: p.clicks ?? 0, conversions: p.conversions ?? 0, updatedAt: p.updatedAt,
        },
        confidence: a.confidence,
        pace: a.pace,
        zeroDelivery: a.zeroDelivery,
        suppressedByResume: a.suppressedByResume,
        halted: wasHalted || a.action === "halt",
        rootCause: a.rootCause,
        mitigation: a.mitigation,
      };
      const entry: DecisionEntry = { ...h, type: "decision", decision };
      entries.push(entry);
      decisions.push(decision);
      summary[a.action]++;
      if (a.matchedBy === "id") summary.matchedById++;
      if (a.matchedBy === "name") summary.matchedByName++;
      if (a.action === "halt" && !wasHalted) {
        entries.push(this.haltEntry(nowMs, id, GUARD_ACTOR, a.rootCause, decision.id));
        summary.newlyHalted++;
      }
    }
    const h = this.head(nowMs);
    const rec: ReconcileEntry = {
      ...h,
      type: "reconcile",
      id: `reconcile-${h.seq}`,
      tracker: body.tracker.length,
      platform: body.platform.length,
      decisions: decisions.map((d) => d.id),
      unmatchedTracker: result.unmatchedTracker.map((u) => u.id),
      unmatchedPlatform: result.unmatchedPlatform,
    };
    entries.push(rec);
    await this.commit(entries);
    return { id: rec.id, at: rec.at, decisions, unmatchedTracker: result.unmatchedTracker, unmatchedPlatform: result.unmatchedPlatform, summary };
  }

  /** An operator stops bidding for a registered campaign now (409 when it is halted already). */
  async halt(id: string, act: HumanAction): Promise<HaltResponse> {
    if (!this.campaigns.has(id)) throw notFound(id);
    const cur = this.halts.get(id);
    if (cur !== undefined) throw new HttpError(409, "already_halted", `campaign ${id} is halted already (since ${cur.since} by ${cur.by}: ${cur.reason.slice(0, 200)})`, "params.id");
    const entry = this.haltEntry(this.opts.now(), id, act.by, act.reason);
    await this.commit([entry]);
    return { campaignId: id, status: "halted", halt: entry.halt };
  }

  /** A human lifts the halt of campaign `id` (409 when it is not halted). */
  async resume(id: string, act: HumanAction): Promise<ResumeResponse> {
    const halt = this.halts.get(id);
    if (halt === undefined) {
      if (!this.campaigns.has(id)) throw notFound(id);
      throw new HttpError(409, "not_halted", `campaign ${id} is not halted; there is nothing to resume`, "params.id");
    }
    const h = this.head(this.opts.now());
    const entry: ResumeEntry = { ...h, type: "resume", campaignId: id, resume: { id: `resume-${h.seq}`, at: h.at, by: act.by, reason: act.reason }, resumedHalt: halt };
    await this.commit([entry]);
    return { campaignId: id, status: "active", resume: entry.resume, resumedHalt: halt };
  }

  private resumeCover(id: string): ResumeCover | undefined {
    const r = this.lastResume.get(id);
    return r === undefined ? undefined : { id: r.info.id, by: r.info.by, atMs: r.atMs };
  }

  private view(id: string, c: CampaignState): CampaignView {
    return { id, ...c.plan, flightDays: c.flight.days, effectiveBudget: effectiveBudget(c.plan, c.flight), updatedAt: c.updatedAt, source: c.source };
  }

  private feedback(id: string): FeedbackDelivery {
    const t = this.delivery.get(id);
    if (t === undefined) return { spend: 0, impressions: 0, clicks: 0, conversions: 0, value: 0, events: 0, lastEventAt: null };
    return { spend: t.spend, impressions: t.impressions, clicks: t.clicks, conversions: t.conversions, value: t.value, events: t.events, lastEventAt: t.events > 0 ? isoTime(t.lastEventMs) : null };
  }

  /** The pacing state of campaign `id` now: feedback spend against the target, last decision, halt. */
  pacing(id: string): PacingView {
    const c = this.campaigns.get(id);
    if (c === undefined) {
      const t = this.delivery.get(id);
      throw notFound(id, t === undefined ? "" : `; ${t.events} feedback events for it are counted and will show once it is`);
    }
    const nowMs = this.opts.now();
    const delivery = this.feedback(id);
    const pace = paceAt(c.plan, c.flight, delivery.spend, nowMs);
    const rem = remainingAt(pace, c.flight, nowMs);
    const sev = varianceSeverity(pace.variance, this.th);
    const lp = this.lastPlatform.get(id);
    return {
      campaign: this.view(id, c),
      now: isoTime(nowMs),
      pace: { ...pace, band: sev === "info" ? "on_pace" : sev, remaining: rem.dollars, remainingDays: rem.days },
      delivery,
      platform: lp === undefined ? null : { ...lp.platform, confidence: lp.confidence, decisionId: lp.decisionId },
      lastDecision: this.lastDecision.get(id) ?? null,
      status: this.halts.has(id) ? "halted" : "active",
      halt: this.halts.get(id) ?? null,
      lastResume: this.lastResume.get(id)?.info ?? null,
    };
  }

  summary(): PacingSummary {
    let events = 0;
    for (const t of this.delivery.values()) events += t.events;
    return {
      campaigns: this.campaigns.size,
      halted: [...this.halts].map(([campaignId, h]) => ({ campaignId, ...h })),
      delivery: { campaigns: this.delivery.size, events, overflowEvents: this.overflowEvents, invalidEvents: this.invalidEvents },
      audit: { lines: this.log.lines, tornBytesOnOpen: this.report.tornBytes },
    };
  }

  // ---- feedback totals on disk -------------------------------------------------------------------

  private loadDelivery(): void {
    const path = join(this.dir, DELIVERY_FILE);
    if (!existsSync(path)) return;
    let snap: unknown;
    try {
      snap = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    if (!checkSnapshot.Check(snap)) {
      const err = checkSnapshot.Errors(snap).First();
      throw new Error(`${path}: not a delivery snapshot (${err === undefined ? "unknown shape" : `${err.path || "/"} ${err.message}`})`);
    }
    this.overflowEvents = snap.overflowEvents;
    this.invalidEvents = snap.invalidEvents;
    for (const [id, d] of snap.campaigns) {
      const { lastEventAt, ...rest } = d;
      this.delivery.set(id, { ...rest, lastEventMs: lastEventAt === null ? -Infinity : Date.parse(lastEventAt) });
    }
  }

  /** Replaces delivery.json with the current feedback totals if they changed since the last save. */
  async saveDelivery(): Promise<void> {
    while (this.saving !== undefined) await this.saving;
    if (!this.deliveryDirty) return;
    this.deliveryDirty = false;
    const snap: DeliverySnapshot = {
      version: 1,
      savedAt: isoTime(this.opts.now()),
      overflowEvents: this.overflowEvents,
      invalidEvents: this.invalidEvents,
      campaigns: [...this.delivery.keys()].map((id) => [id, this.feedback(id)]),
    };
    this.saving = writeFileAtomicAsync(join(this.dir, DELIVERY_FILE), JSON.stringify(snap)).catch((e: unknown) => {
      this.deliveryDirty = true;
      this.hooks.onError?.(new Error(`pacing: saving ${DELIVERY_FILE} failed (${(e as Error).message}); retrying in ${this.opts.deliverySnapshotMs} ms`));
    });
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
  }

  /** Saves the feedback totals and closes the audit log (after its pending appends are durable). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.saveDelivery();
    await this.log.close();
  }
}
