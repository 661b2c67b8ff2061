// Pacing guardrails over HTTP: register campaigns, reconcile tracker records with platform
// records (decisions, halts, escalations), read a campaign's pacing state, and let a human halt or
// resume a campaign. Every change is in the audit log, fsync'd, before the route answers.
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ErrorBody } from "../errors.js";
import type { PacingGuard } from "../pacing/guard.js";
import {
  CampaignId, CampaignPlan, HaltResponse, HumanAction, PacingSummary, PacingView, PutCampaignResponse, ReconcileBody, ReconcileResponse,
  ResumeResponse,
} from "../pacing/schemas.js";

export interface PacingRoutesOptions {
  guard: PacingGuard;
}

const Params = Type.Object({ id: CampaignId }, { additionalProperties: false });
/** 503: the audit log cannot be written (or the server is shutting down): nothing is claimed */
const errors = { 400: ErrorBody, 503: ErrorBody };
const tags = ["pacing"];

export const pacingRoutes: FastifyPluginAsyncTypebox<PacingRoutesOptions> = async (app, { guard }) => {
  app.post("/v1/pacing/reconcile", {
    schema: {
      tags,
      summary: "match tracker records to platform records (id, else fuzzy name), decide per campaign (log, warn, halt, escalate) and audit it",
      body: ReconcileBody,
      response: { 200: ReconcileResponse, 409: ErrorBody, ...errors },
    },
  }, async (req) => guard.reconcile(req.body));

  app.get("/v1/pacing", {
    schema: { tags, summary: "the guard at a glance: campaigns, halted campaigns, feedback totals, audit log", response: { 200: PacingSummary } },
  }, async () => guard.summary());

  app.put("/v1/campaigns/:id", {
    schema: {
      tags,
      summary: "register a campaign or replace its plan (audited; a halt stays in force)",
      params: Params,
      body: CampaignPlan,
      response: { 200: PutCampaignResponse, 201: PutCampaignResponse, 409: ErrorBody, ...errors },
    },
  }, async (req, reply) => {
    const out = await guard.putCampaign(req.params.id, req.body);
    return reply.code(out.created ? 201 : 200).send(out);
  });

  app.get("/v1/campaigns/:id/pacing", {
    schema: {
      tags,
      summary: "a campaign's pacing now: budget, target, feedback spend, variance, last platform data and decision, halt",
      params: Params,
      response: { 200: PacingView, 404: ErrorBody, 400: ErrorBody },
    },
  }, async (req) => guard.pacing(req.params.id));

  app.post("/v1/campaigns/:id/halt", {
    schema: {
      tags,
      summary: "an operator halts bidding for a campaign now (audited; 409 when halted already)",
      params: Params,
      body: HumanAction,
      response: { 200: HaltResponse, 404: ErrorBody, 409: ErrorBody, ...errors },
    },
  }, async (req) => guard.halt(req.params.id, req.body));

  app.post("/v1/campaigns/:id/resume", {
    schema: {
      tags,
      summary: "a human lifts a campaign's halt (audited with by and reason; 409 when not halted)",
      params: Params,
      body: HumanAction,
      response: { 200: ResumeResponse, 404: ErrorBody, 409: ErrorBody, ...errors },
    },
  }, async (req) => guard.resume(req.params.id, req.body));
};
