// Feedback: POST /v1/feedback takes impression, click and conversion events of served bids,
// idempotent by event id and durable (fsync'd Arrow IPC segments under <dataDir>/feedback/) before
// it answers; stored events report their spend and value to the pacing guard. GET /v1/feedback
// counts what the feedback and decision logs hold. `gaelp train --offline-data <dataDir>` joins
// the two logs by bid id into replay rows (trainer/offline.ts).
//
// Impressions and clicks name the decision they belong to (bidId, as the bid answer gave it) and
// what they cost. A conversion names its journey's touchpoints (bid ids, oldest first; a bidId is
// the converting touch and joins them) and its value: offline training spreads the value over
// them with an attribution model whose credits sum to 1, so no touchpoint carries its own share.
// Any event may carry what it cost (CPM, CPC or CPA billing); a conversion's cost is charged to
// its last touchpoint.
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ErrorBody, HttpError } from "../errors.js";
import { CampaignId, IsoDateTime } from "../pacing/schemas.js";
import type { DecisionLog } from "../feedback/decision_log.js";
import type { FeedbackLog, NewEvent } from "../feedback/feedback_log.js";

export interface FeedbackRoutesOptions {
  log: FeedbackLog;
  decisions: DecisionLog;
  /** most events in one request */
  maxEvents: number;
  /** most touchpoints of one conversion */
  maxTouchpoints: number;
  bodyLimit: number;
}

const closed = { additionalProperties: false } as const;
const ID = "^[A-Za-z0-9._:-]{1,128}$";
const BidId = Type.String({ pattern: ID, maxLength: 128, description: "a bidId from a bid answer" });
const Kind = Type.Union([Type.Literal("impression"), Type.Literal("click"), Type.Literal("conversion")]);
const Result = Type.Union([Type.Literal("stored"), Type.Literal("duplicate"), Type.Literal("conflict")]);

const FeedbackEvent = (maxTouchpoints: number) => Type.Object({
  eventId: Type.String({ pattern: ID, maxLength: 128, description: "unique id of the event: a repeated id is not stored again" }),
  kind: Kind,
  campaignId: CampaignId,
  bidId: Type.Optional({ ...BidId, description: "impression, click: the decision it belongs to (required); conversion: the converting (last) touch, added to touchpoints if they do not list it" }),
  touchpoints: Type.Optional(Type.Array(BidId, {
    minItems: 1, maxItems: maxTouchpoints, uniqueItems: true,
    description: "conversion: the journey's touchpoints as bid ids, oldest first (this or bidId required; only for conversions)",
  })),
  at: IsoDateTime,
  cost: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6, description: "dollars paid for this event (default 0): an impression (CPM), a click (CPC) or a conversion (CPA)" })),
  value: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: "conversion: its value, dollars (required; only for conversions)" })),
}, closed);

const FeedbackRequest = (maxEvents: number, maxTouchpoints: number) => Type.Object({
  events: Type.Array(FeedbackEvent(maxTouchpoints), { minItems: 1, maxItems: maxEvents }),
}, closed);

const FeedbackResponse = Type.Object({
  accepted: Type.Integer({ minimum: 0, description: "events stored by this request" }),
  duplicates: Type.Integer({ minimum: 0, description: "events whose id was stored before (same content), not stored again" }),
  conflicts: Type.Integer({ minimum: 0, description: "events whose id was stored before with other content: not stored, the first one stands" }),
  results: Type.Array(Result, { description: "per event, in request order" }),
}, closed);

const Count = Type.Integer({ minimum: 0 });
const FeedbackStatus = Type.Object({
  feedback: Type.Object({
    eventIds: Type.Integer({ minimum: 0, description: "distinct event ids remembered for idempotency (those received within the idempotency window, at most maxIds)" }),
    stored: Count, duplicate: Count, conflict: Count,
    writes: Type.Integer({ minimum: 0, description: "group commits (segments written) since start" }),
    compactions: Count,
    expired: Type.Integer({ minimum: 0, description: "event ids forgotten because they were received before the idempotency window" }),
    evictedEarly: Type.Integer({ minimum: 0, description: "event ids forgotten inside the window because more than maxIds were remembered (raise feedback.maxIds if this grows)" }),
    segmentsOnOpen: Count, eventsOnOpen: Count,
  }, { ...closed, description: "counts since the server started, except eventIds and *OnOpen" }),
  decisions: Type.Object({
    recorded: Count, written: Count, pending: Count,
    dropped: Type.Integer({ minimum: 0, description: "decisions refused because too many waited for the disk" }),
    segments: Count,
  }, { ...closed, description: "the decision log since the server started (segments: all time)" }),
}, closed);

/** The semantic checks a schema cannot say well: which fields go with which kind, a real date. */
function toEvent(e: {
  eventId: string; kind: "impression" | "click" | "conversion"; campaignId: string; bidId?: string; touchpoints?: string[];
  at: string; cost?: number; value?: number;
}, i: number, maxTouchpoints: number): NewEvent {
  const f = (name: string) => `body.events[${i}].${name}`;
  const bad = (name: string, why: string): never => {
    throw new HttpError(400, "invalid_request", `${f(name)} ${why}`, f(name));
  };
  const atMs = Date.parse(e.at);
  if (Number.isNaN(atMs)) bad("at", `${JSON.stringify(e.at)} is not a real date-time`);
  if (e.kind === "conversion") {
    if (e.touchpoints === undefined && e.bidId === undefined) bad("touchpoints", "is required for a conversion (or bidId): the bid ids of the journey's touchpoints, oldest first");
    if (e.value === undefined) bad("value", "is required for a conversion (dollars)");
    // bidId names the converting (last) touch; it joins the touchpoints if they do not list it
    const tps = e.touchpoints ?? [];
    const touchpoints = e.bidId === undefined || tps.includes(e.bidId) ? tps : [...tps, e.bidId];
    if (touchpoints.length > maxTouchpoints) bad("touchpoints", `with bidId holds ${touchpoints.length} touchpoints; at most ${maxTouchpoints} are allowed`);
    return { eventId: e.eventId, kind: e.kind, campaignId: e.campaignId, bidId: e.bidId ?? null, touchpoints, atMs, cost: e.cost ?? 0, value: e.value! };
  }
  if (e.bidId === undefined) bad("bidId", `is required for ${e.kind === "click" ? "a click" : "an impression"}: the bidId of the bid answer`);
  if (e.touchpoints !== undefined) bad("touchpoints", "is only for conversions");
  if (e.value !== undefined) bad("value", "is only for conversions");
  return { eventId: e.eventId, kind: e.kind, campaignId: e.campaignId, bidId: e.bidId!, touchpoints: null, atMs, cost: e.cost ?? 0, value: 0 };
}

export const feedbackRoutes: FastifyPluginAsyncTypebox<FeedbackRoutesOptions> = async (app, opts) => {
  const { log, decisions } = opts;
  const ctx = app.gaelp;

  app.post("/v1/feedback", {
    bodyLimit: opts.bodyLimit,
    schema: {
      tags: ["feedback"],
      summary: "Report impressions, clicks and conversions of served bids: idempotent by eventId, durable before the answer, spend goes to the pacing guard",
      body: FeedbackRequest(opts.maxEvents, opts.maxTouchpoints),
      response: { 200: FeedbackResponse, 400: ErrorBody, 413: ErrorBody, 503: ErrorBody },
    },
  }, async (req) => {
    const events = req.body.events.map((e, i) => toEvent(e, i, opts.maxTouchpoints));
    const results = await log.submit(events, Date.now());
    let accepted = 0;
    let duplicates = 0;
    let conflicts = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const r = results[i];
      ctx.metrics.feedbackEvents.inc({ kind: e.kind, result: r });
      if (r === "stored") {
        accepted++;
        ctx.delivery.record({ campaignId: e.campaignId, at: req.body.events[i].at, kind: e.kind, cost: e.cost, value: e.value });
      } else if (r === "duplicate") duplicates++;
      else conflicts++;
    }
    return { accepted, duplicates, conflicts, results };
  });

  app.get("/v1/feedback", {
    schema: { tags: ["feedback"], summary: "What the feedback and decision logs hold", response: { 200: FeedbackStatus } },
  }, async () => {
    const s = log.stats();
    return {
      feedback: {
        eventIds: s.ids, stored: s.stored, duplicate: s.duplicate, conflict: s.conflict, writes: s.writes, compactions: s.compactions,
        expired: s.expired, evictedEarly: s.evictedEarly,
        segmentsOnOpen: log.report.segments, eventsOnOpen: log.report.events,
      },
      decisions: decisions.snapshot(),
    };
  });
};
