// The pacing guard's data shapes as TypeBox schemas: the HTTP routes validate requests and
// serialise responses with them, and the audit log's lines are checked against them when the log
// is replayed at start-up. Every object is closed (additionalProperties: false), every string,
// array and number bounded.
import { Type, type Static, type TSchema } from "@sinclair/typebox";

const closed = { additionalProperties: false } as const;

export const ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$";
export const CampaignId = Type.String({ pattern: ID_PATTERN, maxLength: 128, description: "campaign id: letters, digits and . _ : -" });
export const PlatformId = Type.String({ pattern: ID_PATTERN, maxLength: 128, description: "the platform's record id (matched to the tracker's campaign id first)" });
/** A calendar date in UTC; a flight runs from its start date 00:00Z to the end of its end date. */
export const IsoDate = Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", maxLength: 10, description: "YYYY-MM-DD (UTC)" });
/** A point in time with its offset (Z or ±hh:mm). */
export const IsoDateTime = Type.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$",
  maxLength: 35,
  description: "ISO-8601 date-time with offset, e.g. 2024-06-10T12:00:00Z",
});
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Label = Type.String({ minLength: 1, maxLength: 64 });
const Dollars = Type.Number({ minimum: 0, maximum: 1e12 });
const Count = Type.Integer({ minimum: 0, maximum: 1e15 });
const Text = Type.String({ maxLength: 4096 });
const Person = Type.String({ minLength: 1, maxLength: 128, description: "who did it (a name or an account)" });
const Reason = Type.String({ minLength: 1, maxLength: 1000 });
const Share = Type.Number({ minimum: 0, maximum: 1 });
const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const planFields = {
  name: Name,
  market: Type.String({ minLength: 1, maxLength: 64, description: "market, e.g. US" }),
  product: Type.String({ minLength: 1, maxLength: 64, description: "product line" }),
  start: IsoDate,
  end: Type.String({ ...IsoDate, description: "last day of the flight (inclusive), YYYY-MM-DD (UTC)" }),
  budget: Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: "flight budget, dollars" }),
  dailyBudget: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: "daily cap, dollars" })),
};

/** A campaign's plan, as registered with PUT /v1/campaigns/:id. */
export const CampaignPlan = Type.Object(planFields, closed);
export type CampaignPlan = Static<typeof CampaignPlan>;

/** One campaign as the tracker (the plan of record) knows it. */
export const TrackerRecord = Type.Object({ id: CampaignId, ...planFields }, closed);
export type TrackerRecord = Static<typeof TrackerRecord>;

/** One campaign as the ad platform reports it: cumulative delivery as of `updatedAt`. */
export const PlatformRecord = Type.Object(
  {
    id: PlatformId,
    name: Name,
    market: Type.Optional(Label),
    product: Type.Optional(Label),
    start: Type.Optional(IsoDate),
    end: Type.Optional(IsoDate),
    spend: Type.Number({ minimum: 0, maximum: 1e12, description: "cumulative spend over the flight, dollars" }),
    impressions: Type.Optional(Count),
    clicks: Type.Optional(Count),
    conversions: Type.Optional(Count),
    updatedAt: Type.String({ ...IsoDateTime, description: "when the platform measured these numbers" }),
  },
  closed,
);
export type PlatformRecord = Static<typeof PlatformRecord>;

/** Most records of each kind in one reconciliation (500 × 500 name comparisons at most). */
export const MAX_RECORDS = 500;

export const ReconcileBody = Type.Object(
  {
    tracker: Type.Array(TrackerRecord, { minItems: 1, maxItems: MAX_RECORDS }),
    platform: Type.Array(PlatformRecord, { maxItems: MAX_RECORDS }),
  },
  closed,
);
export type ReconcileBody = Static<typeof ReconcileBody>;

export const Action = Type.Union([Type.Literal("log"), Type.Literal("warn"), Type.Literal("halt"), Type.Literal("escalate")]);
export type Action = Static<typeof Action>;
/** The row of the decision matrix that decided. */
export const Rule = Type.Union([
  Type.Literal("on_pace"), Type.Literal("warning"), Type.Literal("critical"),
  Type.Literal("low_confidence"), Type.Literal("zero_delivery"), Type.Literal("unmatched"),
]);
export type Rule = Static<typeof Rule>;
export const Severity = Type.Union([Type.Literal("info"), Type.Literal("warning"), Type.Literal("critical")]);
export type Severity = Static<typeof Severity>;

export const Confidence = Type.Object(
  {
    score: Share,
    metadata: Share,
    nameSimilarity: Share,
    freshness: Share,
    dataAgeHours: Type.Number({ minimum: 0 }),
    mismatched: Type.Array(Type.String({ maxLength: 16 }), { maxItems: 4, description: "metadata fields that differ or the platform lacks" }),
  },
  closed,
);
export type Confidence = Static<typeof Confidence>;

export const Pace = Type.Object(
  {
    asOf: IsoDateTime,
    flightShare: Share,
    budget: Dollars,
    effectiveBudget: Dollars,
    target: Dollars,
    actual: Dollars,
    variance: Type.Number({ minimum: 0, description: "|actual - target| / target, rounded to 6 decimals" }),
  },
  closed,
);
export type Pace = Static<typeof Pace>;

/** The platform numbers a decision was made on. */
export const PlatformDelivery = Type.Object(
  { id: PlatformId, name: Name, spend: Dollars, impressions: Count, clicks: Count, conversions: Count, updatedAt: IsoDateTime },
  closed,
);
export type PlatformDelivery = Static<typeof PlatformDelivery>;

export const Decision = Type.Object(
  {
    id: Type.String({ maxLength: 64 }),
    at: IsoDateTime,
    campaignId: CampaignId,
    campaignName: Name,
    action: Action,
    rule: Rule,
    severity: Severity,
    matchedBy: nullable(Type.Union([Type.Literal("id"), Type.Literal("name")])),
    platform: nullable(PlatformDelivery),
    confidence: nullable(Confidence),
    pace: nullable(Pace),
    zeroDelivery: Type.Boolean(),
    suppressedByResume: nullable(Type.String({ maxLength: 64, description: "the resume that kept this critical decision from halting again" })),
    halted: Type.Boolean({ description: "the campaign is halted after this decision" }),
    rootCause: Text,
    mitigation: Text,
  },
  closed,
);
export type Decision = Static<typeof Decision>;

export const HaltInfo = Type.Object(
  {
    id: Type.String({ maxLength: 64, description: "the audit entry of the halt" }),
    since: IsoDateTime,
    reason: Text,
    decisionId: Type.String({ maxLength: 64, description: "the decision that halted it (the halt itself for a manual halt)" }),
    by: Person,
  },
  closed,
);
export type HaltInfo = Static<typeof HaltInfo>;

export const ResumeInfo = Type.Object({ id: Type.String({ maxLength: 64 }), at: IsoDateTime, by: Person, reason: Reason }, closed);
export type ResumeInfo = Static<typeof ResumeInfo>;

export const HumanAction = Type.Object({ by: Person, reason: Reason }, closed);
export type HumanAction = Static<typeof HumanAction>;

// ---- audit log lines: { seq, at, type, ... } ------------------------------------------------

const lineHead = { seq: Type.Integer({ minimum: 1 }), at: IsoDateTime };

export const CampaignEntry = Type.Object(
  {
    ...lineHead,
    type: Type.Literal("campaign"),
    campaignId: CampaignId,
    plan: CampaignPlan,
    source: Type.Union([Type.Literal("api"), Type.Literal("reconcile")]),
  },
  closed,
);
export const DecisionEntry = Type.Object({ ...lineHead, type: Type.Literal("decision"), decision: Decision }, closed);
export const HaltEntry = Type.Object({ ...lineHead, type: Type.Literal("halt"), campaignId: CampaignId, halt: HaltInfo }, closed);
export const ResumeEntry = Type.Object(
  { ...lineHead, type: Type.Literal("resume"), campaignId: CampaignId, resume: ResumeInfo, resumedHalt: HaltInfo },
  closed,
);
export const ReconcileEntry = Type.Object(
  {
    ...lineHead,
    type: Type.Literal("reconcile"),
    id: Type.String({ maxLength: 64 }),
    tracker: Type.Integer({ minimum: 0 }),
    platform: Type.Integer({ minimum: 0 }),
    decisions: Type.Array(Type.String({ maxLength: 64 }), { maxItems: MAX_RECORDS }),
    unmatchedTracker: Type.Array(CampaignId, { maxItems: MAX_RECORDS }),
    unmatchedPlatform: Type.Array(Type.Object({ id: PlatformId, name: Name }, closed), { maxItems: MAX_RECORDS }),
  },
  closed,
);
export const AuditEntry = Type.Union([CampaignEntry, DecisionEntry, HaltEntry, ResumeEntry, ReconcileEntry]);
export type AuditEntry = Static<typeof AuditEntry>;
export type CampaignEntry = Static<typeof CampaignEntry>;
export type DecisionEntry = Static<typeof DecisionEntry>;
export type HaltEntry = Static<typeof HaltEntry>;
export type ResumeEntry = Static<typeof ResumeEntry>;
export type ReconcileEntry = Static<typeof ReconcileEntry>;

// ---- route responses ------------------------------------------------------------------------

export const Candidate = Type.Object({ id: PlatformId, name: Name, similarity: Share }, closed);

export const ReconcileResponse = Type.Object(
  {
    id: Type.String({ maxLength: 64, description: "the audit entry summing up this reconciliation" }),
    at: IsoDateTime,
    decisions: Type.Array(Decision, { maxItems: MAX_RECORDS, description: "one per tracker record, in their order" }),
    unmatchedTracker: Type.Array(Type.Object({ id: CampaignId, name: Name, nearest: nullable(Candidate) }, closed), { maxItems: MAX_RECORDS }),
    unmatchedPlatform: Type.Array(Type.Object({ id: PlatformId, name: Name }, closed), { maxItems: MAX_RECORDS }),
    summary: Type.Object(
      {
        tracker: Type.Integer({ minimum: 0 }),
        platform: Type.Integer({ minimum: 0 }),
        matchedById: Type.Integer({ minimum: 0 }),
        matchedByName: Type.Integer({ minimum: 0 }),
        log: Type.Integer({ minimum: 0 }),
        warn: Type.Integer({ minimum: 0 }),
        halt: Type.Integer({ minimum: 0 }),
        escalate: Type.Integer({ minimum: 0 }),
        newlyHalted: Type.Integer({ minimum: 0 }),
      },
      closed,
    ),
  },
  closed,
);
export type ReconcileResponse = Static<typeof ReconcileResponse>;

export const CampaignView = Type.Object(
  {
    id: CampaignId,
    ...planFields,
    flightDays: Type.Integer({ minimum: 1 }),
    effectiveBudget: Dollars,
    updatedAt: IsoDateTime,
    source: Type.Union([Type.Literal("api"), Type.Literal("reconcile")], { description: "who set the plan last: PUT or a tracker record" }),
  },
  closed,
);
export type CampaignView = Static<typeof CampaignView>;

export const PutCampaignResponse = Type.Object({ campaign: CampaignView, created: Type.Boolean(), changed: Type.Boolean() }, closed);
export type PutCampaignResponse = Static<typeof PutCampaignResponse>;

export const FeedbackDelivery = Type.Object(
  {
    spend: Dollars,
    impressions: Count,
    clicks: Count,
    conversions: Count,
    value: Type.Number({ minimum: 0, description: "conversion value, dollars" }),
    events: Count,
    lastEventAt: nullable(IsoDateTime),
  },
  closed,
);
export type FeedbackDelivery = Static<typeof FeedbackDelivery>;

export const PacingView = Type.Object(
  {
    campaign: CampaignView,
    now: IsoDateTime,
    pace: Type.Object(
      {
        ...Pace.properties,
        band: Type.Union([Type.Literal("on_pace"), Type.Literal("warning"), Type.Literal("critical")], { description: "where the variance falls in the matrix" }),
        remaining: Dollars,
        remainingDays: Type.Number({ minimum: 0 }),
      },
      { ...closed, description: "feedback spend (our own delivery events) against the target pace now" },
    ),
    delivery: FeedbackDelivery,
    platform: nullable(Type.Object({ ...PlatformDelivery.properties, confidence: nullable(Confidence), decisionId: Type.String({ maxLength: 64 }) }, closed)),
    lastDecision: nullable(Decision),
    status: Type.Union([Type.Literal("active"), Type.Literal("halted")]),
    halt: nullable(HaltInfo),
    lastResume: nullable(ResumeInfo),
  },
  closed,
);
export type PacingView = Static<typeof PacingView>;

export const HaltResponse = Type.Object({ campaignId: CampaignId, status: Type.Literal("halted"), halt: HaltInfo }, closed);
export type HaltResponse = Static<typeof HaltResponse>;
export const ResumeResponse = Type.Object({ campaignId: CampaignId, status: Type.Literal("active"), resume: ResumeInfo, resumedHalt: HaltInfo }, closed);
export type ResumeResponse = Static<typeof ResumeResponse>;

export const MAX_CAMPAIGNS_LIMIT = 100_000;

export const PacingSummary = Type.Object(
  {
    campaigns: Type.Integer({ minimum: 0 }),
    halted: Type.Array(Type.Object({ campaignId: CampaignId, ...HaltInfo.properties }, closed), { maxItems: MAX_CAMPAIGNS_LIMIT }),
    delivery: Type.Object(
      {
        campaigns: Type.Integer({ minimum: 0, description: "campaign ids with delivery events" }),
        events: Count,
        overflowEvents: Type.Integer({ minimum: 0, description: "events for new campaign ids refused because maxCampaigns ids already had events" }),
        invalidEvents: Type.Integer({ minimum: 0, description: "events with a negative or non-finite cost or value, or an unparseable time" }),
      },
      closed,
    ),
    audit: Type.Object(
      {
        lines: Type.Integer({ minimum: 0 }),
        tornBytesOnOpen: Type.Integer({ minimum: 0, description: "bytes of a torn last line truncated when the log was opened" }),
      },
      closed,
    ),
  },
  closed,
);
export type PacingSummary = Static<typeof PacingSummary>;

/** <dataDir>/pacing/delivery.json: feedback totals per campaign, replaced atomically. */
export const DeliverySnapshot = Type.Object(
  {
    version: Type.Literal(1),
    savedAt: IsoDateTime,
    overflowEvents: Type.Integer({ minimum: 0 }),
    invalidEvents: Type.Integer({ minimum: 0 }),
    campaigns: Type.Array(Type.Tuple([CampaignId, FeedbackDelivery]), { maxItems: MAX_CAMPAIGNS_LIMIT }),
  },
  closed,
);
export type DeliverySnapshot = Static<typeof DeliverySnapshot>;
