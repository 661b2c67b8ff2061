// What-if simulations: POST /v1/simulations (202 with the job; 200 with the result when the same
// normalised request has already completed), GET /v1/simulations/:id (status, progress, result),
// DELETE /v1/simulations/:id (cancel). The work happens in server/simulations/ (plan, worker pool,
// analysis); docs/simulations.md describes the request, the results and every rule.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { ErrorBody, HttpError } from "../errors.js";
import { prepare } from "../simulations/plan.js";
import { JobParams, SimulationJob, SimulationRequest } from "../simulations/schemas.js";
import type { SimulationService } from "../simulations/service.js";

export interface SimulationRoutesOptions {
  service: SimulationService;
  /** body limit of POST /v1/simulations, bytes */
  bodyLimit: number;
}

export const simulationRoutes: FastifyPluginAsyncTypebox<SimulationRoutesOptions> = async (app, opts) => {
  const { service } = opts;
  app.addHook("onClose", async () => service.close());

  app.post("/v1/simulations", {
    bodyLimit: opts.bodyLimit,
    schema: {
      tags: ["simulations"],
      summary: "Start a what-if simulation of a campaign (scenarios, budget levels, risks, pivots); a repeated request returns its cached job",
      body: SimulationRequest,
      response: { 200: SimulationJob, 202: SimulationJob, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody },
    },
  }, async (req, reply) => {
    const { job } = service.submit(prepare(req.body, app.gaelp.policy.current()));
    if (job.status === "completed") return reply.code(200).send(job);
    return reply.code(202).header("location", `/v1/simulations/${job.id}`).send(job);
  });

  app.get("/v1/simulations/:id", {
    schema: {
      tags: ["simulations"],
      summary: "A simulation's status, progress and (once completed) results",
      params: JobParams,
      response: { 200: SimulationJob, 400: ErrorBody, 404: ErrorBody },
    },
  }, async (req) => {
    const job = service.get(req.params.id);
    if (job === undefined) throw new HttpError(404, "not_found", `no simulation ${req.params.id} (never created, or evicted after finishing)`, "params.id");
    return job;
  });

  app.delete("/v1/simulations/:id", {
    schema: {
      tags: ["simulations"],
      summary: "Cancel a queued or running simulation (its running tasks are aborted in the worker pool)",
      params: JobParams,
      response: { 200: SimulationJob, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
    },
  }, async (req) => service.cancel(req.params.id));
};
