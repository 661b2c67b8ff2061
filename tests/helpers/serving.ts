// A served policy for server tests: a run folder written with writePolicyRun (random weights, the
// training defaults' bid levels so offline data from it joins a `gaelp train` run), observations
// inside the declared feature bounds, and an app serving it.
import { basename } from "node:path";
import seedrandom from "seedrandom";
import { defaultPolicySpec, type PolicySpec } from "../../agents/policy/spec.js";
import { resolveConfig } from "../../env/config.js";
import { OBS_HIGH, OBS_LOW } from "../../env/features.js";
import { type App, type AppOptions, buildApp } from "../../server/app.js";
import { writePolicyRun } from "../../trainer/policy_run.js";
import { DEFAULT_TRAIN } from "../../trainer/train_config.js";
import * as L from "../../wasm/layout.js";
import { randomPolicy } from "./policy.js";

/** Writes a policy run under runsRoot; returns its name. */
export function servedRun(runsRoot: string, over: Partial<PolicySpec> = {}, seed = 5): string {
  const config = resolveConfig({ scenario: "default" });
  const spec = defaultPolicySpec(config.campaign.creatives.length, { bidLevels: DEFAULT_TRAIN.bidLevels.slice(), ...over });
  return basename(writePolicyRun({ runsRoot, scenario: "default", exp: "served", seed, config, spec, weights: randomPolicy(spec, seed) }));
}

/** n observations inside the feature bounds, seeded. */
export function observations(n: number, seed: number): number[][] {
  const rng = seedrandom(`obs/${seed}`);
  return Array.from({ length: n }, () => Array.from({ length: L.OBS_DIM }, (_, j) => Math.fround(OBS_LOW[j] + rng() * (OBS_HIGH[j] - OBS_LOW[j]))));
}

export function serveApp(runsRoot: string, dataDir: string, checkpoint: string | undefined, o: Partial<AppOptions> = {}): Promise<App> {
  return buildApp({ runsRoot, dataDir, checkpoint, loadShedding: false, rateLimit: false, deadlineMs: 60_000, ...o });
}

/** POST /v1/bids for one campaign; returns the answer's bids with the observations sent. */
export async function bidOn(app: App, campaignId: string, obs: number[][], refValue = 2): Promise<{ bidId: string; obs: number[]; bidLevel: number; creative: number; value: number }[]> {
  const r = await app.inject({ method: "POST", url: "/v1/bids", payload: { campaignId, opportunities: obs.map((o) => ({ obs: o, refValue })) } });
  if (r.statusCode !== 200) throw new Error(`POST /v1/bids: ${r.statusCode} ${r.body}`);
  const body = r.json() as { bids: { bidId: string; bidLevel: number; creative: number; value: number }[] };
  return body.bids.map((b, i) => ({ ...b, obs: obs[i] }));
}
