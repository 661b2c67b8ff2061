// The contracts between the server's parts. Each part (bids, pacing, simulations, feedback) is a
// Fastify plugin registered by buildApp (app.ts); they talk to one another only through these
// interfaces, which buildApp wires together.
import type { Counter, Histogram, Registry } from "prom-client";

/** Whether a campaign may bid right now (the pacing guard's answer to the bid route). */
export type CampaignGateStatus =
  | { state: "active" }
  | { state: "halted"; reason: string; since: string; decisionId: string };

export interface CampaignGate {
  /** O(1): called on every bid request, must not allocate on the "active" path. */
  status(campaignId: string): CampaignGateStatus;
}

/** Delivered spend and outcomes reported by feedback, in the pacing guard's terms. */
export interface DeliveryEvent {
  campaignId: string;
  /** ISO-8601 time of the event */
  at: string;
  kind: "impression" | "click" | "conversion";
  /** dollars paid (impressions and clicks); 0 when not charged */
  cost: number;
  /** dollars of conversion value (conversions) */
  value: number;
}

export interface DeliverySink {
  record(ev: DeliveryEvent): void;
}

/** One served bid decision, logged so feedback can later be joined to it (offline data). */
export interface DecisionRecord {
  bidId: string;
  campaignId: string;
  /** unix milliseconds */
  atMs: number;
  /** the OBS_DIM observation the policy saw: obs[obsAt .. obsAt + OBS_DIM) */
  obs: Float32Array;
  /** where the observation starts in obs (default 0), so a batch's rows are recorded from one buffer */
  obsAt?: number;
  /** reference value of the opportunity, dollars */
  refValue: number;
  bidLevel: number;
  /** the bid level's multiplier under the serving policy */
  multiplier: number;
  creative: number;
  bid: number;
  /** log-probability of (bidLevel, creative) under the serving policy */
  logProb: number;
  value: number;
  policyVersion: number;
  /** run folder of the serving policy */
  policyRun: string;
  /** the action was sampled from the softmax (false: greedy argmax) */
  sampled: boolean;
}

/** A batch's decisions, made together: one campaign, one policy, one time. Row i saw
 *  obs[i * OBS_DIM .. (i + 1) * OBS_DIM) and was answered decisions[i] under id bidIds[i]. */
export interface DecisionBatch {
  n: number;
  bidIds: readonly string[];
  campaignId: string;
  atMs: number;
  obs: Float32Array;
  refValue: ArrayLike<number>;
  decisions: readonly Pick<DecisionRecord, "bidLevel" | "multiplier" | "creative" | "bid" | "logProb" | "value">[];
  policyVersion: number;
  policyRun: string;
  sampled: boolean;
}

export interface DecisionSink {
  /** copies what it keeps: the caller may reuse `d` and its obs buffer as soon as it returns */
  record(d: DecisionRecord): void;
  /** the same for a batch (one block copy of the observations instead of one per row) */
  recordBatch(b: DecisionBatch): void;
}

/** Prometheus metrics shared by the routes; one Registry per app (tests build many apps). */
export interface ServerMetrics {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  bids: Counter<"status">;
  halts: Counter<"campaign">;
  simulations: Counter<"status">;
  feedbackEvents: Counter<"kind" | "result">;
  /** served decisions written to the decision log, or dropped (too many waited for the disk) */
  decisionLog: Counter<"result">;
  /** requests shed with 503 by load shedding, by pressure type */
  shed: Counter<"type">;
}

/** The policy the server is serving (bids) and simulating with (what-if "policy" bidder). */
export interface ServedPolicy {
  /** run folder name under runsRoot */
  run: string;
  /** checkpoint step it came from */
  step: number;
  /** increases by one at every successful (re)load */
  version: number;
  spec: import("../agents/policy/spec.js").PolicySpec;
  /** canonical weights (agents/policy/spec.ts layout); never mutated */
  weights: Float32Array;
  /** the run's resolved world config (config.json of the run) */
  config: import("../env/config.js").GaelpConfig;
  /** ISO time it was loaded */
  loadedAt: string;
}

export interface PolicyProvider {
  /** undefined when the server was started without a checkpoint */
  current(): ServedPolicy | undefined;
}
