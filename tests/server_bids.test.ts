// The bid routes: a policy trained by the real CLI is served, and its bids for observations of real
// worlds equal the decisions the same checkpoint makes acting in those worlds (PolicyBidder, the
// WASM forward pass rollouts use). Plus hot reload under load, the halted and fallback answers,
// auth, rate limiting, load shedding, validation and the run-name guard.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import sjson from "secure-json-parse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyBidder } from "../agents/policy/bidder.js";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { validateConfig, resolveConfig } from "../env/config.js";
import { OBS_HIGH, OBS_LOW } from "../env/features.js";
import { VectorEnv } from "../env/vector_env.js";
import { type AppOptions, buildApp } from "../server/app.js";
import type { CampaignGate } from "../server/contracts.js";
import { mayHoldForbiddenKey } from "../server/errors.js";
import { BidsAnswerText, BidsResponse } from "../server/routes/bids.js";
import { loadCheckpointPolicy } from "../trainer/evaluate.js";
import { writePolicyRun } from "../trainer/policy_run.js";
import { readRunConfig } from "../trainer/run_dir.js";
import * as L from "../wasm/layout.js";
import { randomPolicy } from "./helpers/policy.js";

const CLI = resolve("dist/trainer/cli.js");
const root = mkdtempSync(join(tmpdir(), "gaelp-server-bids-"));
const runsRoot = join(root, "runs");
let trained = ""; // run name of the CLI-trained policy
let other = ""; // a second run (random weights) to reload into

const app = (o: Partial<AppOptions> = {}) =>
  buildApp({ runsRoot, dataDir: join(root, "data"), deadlineMs: 5000, loadShedding: false, ...o });

beforeAll(() => {
  const t = spawnSync(process.execPath, [CLI, "train", "--preset", "smoke", "--iterations", "2", "--seed", "3", "--runs", runsRoot, "--no-eval", "--json", "--exp", "serve"], { encoding: "utf8", timeout: 240_000 });
  expect(t.status, t.stderr).toBe(0);
  trained = basename(JSON.parse(t.stdout.trim().split("\n").pop()!).run);
  const config = resolveConfig({ scenario: "default" });
  const spec = defaultPolicySpec(config.campaign.creatives.length);
  other = basename(writePolicyRun({ runsRoot, scenario: "default", exp: "other", seed: 9, config, spec, weights: randomPolicy(spec, 4) }));
}, 300_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Observations and reference values of real decisions: VectorEnv worlds stepped by the policy. */
function realOpportunities(bidder: PolicyBidder, configJson: unknown, steps: number) {
  const config = validateConfig(structuredClone(configJson));
  const env = new VectorEnv({ config, numWorlds: 6, seed: 21 });
  bidder.reset(env.numEnvs, config);
  const action = env.actions;
  let [obs, info] = env.reset();
  const cases: { obs: number[]; refValue: number; bid: number; level: number; creative: number }[] = [];
  for (let s = 0; s < steps; s++) {
    bidder.act(obs, info, action);
    for (let w = 0; w < env.numEnvs; w++) {
      cases.push({
        obs: Array.from(obs.subarray(w * L.OBS_DIM, (w + 1) * L.OBS_DIM)),
        refValue: info[w * L.INFO_DIM + L.I_REF_VALUE_DOLLARS],
        bid: action.bid[w],
        level: bidder.lastLevels[w],
        creative: action.creative[w],
      });
    }
    [obs, , , , info] = env.step(action);
  }
  return cases;
}

describe("served bids = the checkpoint's WASM policy acting in the world", () => {
  it("POST /v1/bid and /v1/bids answer exactly the PolicyBidder decisions for real observations", async () => {
    const p = loadCheckpointPolicy(join(runsRoot, trained));
    const bidder = new PolicyBidder({ spec: p.spec, weights: p.weights });
    const cases = realOpportunities(bidder, readRunConfig(join(runsRoot, trained)).config, 40);
    // the observations are inside the documented feature bounds (the schema checks them)
    for (const c of cases) for (let j = 0; j < L.OBS_DIM; j++) expect(c.obs[j] >= OBS_LOW[j] && c.obs[j] <= OBS_HIGH[j], `feature ${j} = ${c.obs[j]}`).toBe(true);
    // the policy does not bid one level everywhere (else the comparison would be weak)
    expect(new Set(cases.map((c) => c.level)).size).toBeGreaterThan(1);

    const a = await app({ checkpoint: trained });
    try {
      for (const c of cases.slice(0, 60)) {
        const r = await a.inject({ method: "POST", url: "/v1/bid", payload: { campaignId: "c-1", obs: c.obs, refValue: c.refValue } });
        expect(r.statusCode, r.body).toBe(200);
        const b = r.json();
        expect(b.status).toBe("bid");
        expect(b.bid).toBe(c.bid);
        expect(b.bidLevel).toBe(c.level);
        expect(b.creative).toBe(c.creative);
        expect(b.deterministic).toBe(true);
        expect(b.policyVersion).toBe(1);
        expect(b.multiplier).toBe(Math.fround(p.spec.bidLevels[c.level]));
      }
      const r = await a.inject({ method: "POST", url: "/v1/bids", payload: { campaignId: "c-1", opportunities: cases.map((c) => ({ obs: c.obs, refValue: c.refValue })) } });
      expect(r.statusCode, r.body).toBe(200);
      const bids = r.json().bids as { bid: number; bidLevel: number; creative: number; bidId: string }[];
      expect(bids.map((b) => b.bid)).toEqual(cases.map((c) => c.bid));
      expect(bids.map((b) => b.bidLevel)).toEqual(cases.map((c) => c.level));
      expect(new Set(bids.map((b) => b.bidId)).size).toBe(cases.length);
      // maxBid caps a bid
      const hi = cases.find((c) => c.bid > 0.01)!;
      const capped = (await a.inject({ method: "POST", url: "/v1/bid", payload: { campaignId: "c-1", obs: hi.obs, refValue: hi.refValue, maxBid: 0.01 } })).json();
      expect(capped.bid).toBe(0.01);
    } finally {
      await a.close();
    }
  }, 60_000);

  it("sampling on request: seeded requests repeat, the draw follows the softmax, greedy is the default", async () => {
    const a = await app({ checkpoint: other });
    try {
      const obs = realOpportunities(new PolicyBidder({ spec: loadCheckpointPolicy(join(runsRoot, other)).spec, weights: loadCheckpointPolicy(join(runsRoot, other)).weights }), readRunConfig(join(runsRoot, other)).config, 1)[0];
      const body = (seed: number) => ({ campaignId: "c", opportunities: Array.from({ length: 400 }, () => ({ obs: obs.obs, refValue: obs.refValue })), sample: true, seed });
      const one = (await a.inject({ method: "POST", url: "/v1/bids", payload: body(1) })).json();
      const again = (await a.inject({ method: "POST", url: "/v1/bids", payload: body(1) })).json();
      const two = (await a.inject({ method: "POST", url: "/v1/bids", payload: body(2) })).json();
      expect(one.deterministic).toBe(false);
      const levels = (x: { bids: { bidLevel: number }[] }) => x.bids.map((b) => b.bidLevel);
      expect(levels(again)).toEqual(levels(one));
      expect(levels(two)).not.toEqual(levels(one));
      // a random policy spreads its softmax: 400 draws of the same state hit several levels
      expect(new Set(levels(one)).size).toBeGreaterThan(2);
    } finally {
      await a.close();
    }
  });
});

describe("hot reload", () => {
  it("swaps the policy without dropping requests in flight; versions only move forward", async () => {
    const a = await app({ checkpoint: trained });
    try {
      const body = { campaignId: "c", obs: Array.from(OBS_LOW), refValue: 1 };
      const flight = Array.from({ length: 300 }, () => a.inject({ method: "POST", url: "/v1/bid", payload: body }));
      const reload = a.inject({ method: "POST", url: "/v1/policy/reload", payload: { run: other } });
      const during = Array.from({ length: 300 }, () => a.inject({ method: "POST", url: "/v1/bid", payload: body }));
      const rl = await reload;
      expect(rl.statusCode, rl.body).toBe(200);
      expect(rl.json().policy).toMatchObject({ run: other, version: 2 });
      const after = await Promise.all(Array.from({ length: 100 }, () => a.inject({ method: "POST", url: "/v1/bid", payload: body })));
      const rs = await Promise.all([...flight, ...during]);
      // every request in flight around the swap is answered with a bid, by the old or the new policy
      expect(rs.every((r) => r.statusCode === 200 && r.json().status === "bid")).toBe(true);
      expect(rs.every((r) => [1, 2].includes(r.json().policyVersion))).toBe(true);
      expect(after.every((r) => r.statusCode === 200 && r.json().policyVersion === 2)).toBe(true);
      expect((await a.inject("/v1/policy")).json()).toMatchObject({ run: other, version: 2 });
      // reload with no body reloads the current run
      expect((await a.inject({ method: "POST", url: "/v1/policy/reload", payload: {} })).json().policy.version).toBe(3);
    } finally {
      await a.close();
    }
  });

  it("checkpoints are loaded by name only: paths and .. are 400, unknown runs 404", async () => {
    const a = await app();
    try {
      for (const run of ["../runs", "..", ".", "/etc", "a/b", "x\\y", "%2e%2e", `${trained}/..`, ""]) {
        const r = await a.inject({ method: "POST", url: "/v1/policy/reload", payload: { run } });
        expect(r.statusCode, run).toBe(400);
        expect(r.json().field).toBe("body.run");
      }
      expect((await a.inject({ method: "POST", url: "/v1/policy/reload", payload: { run: "no_such_run" } })).statusCode).toBe(404);
      // no policy yet: bids are 503 and readiness says why
      const b = await a.inject({ method: "POST", url: "/v1/bid", payload: { campaignId: "c", obs: Array.from(OBS_LOW), refValue: 1 } });
      expect(b.statusCode).toBe(503);
      const ready = await a.inject("/readyz");
      expect(ready.statusCode).toBe(503);
      expect(ready.json().reasons[0]).toMatch(/no policy/);
    } finally {
      await a.close();
    }
    await expect(buildApp({ runsRoot, dataDir: join(root, "data"), checkpoint: "../runs" })).rejects.toThrow(/checkpoint must be the name of a run folder/);
  });
});

describe("answers other than a bid", () => {
  const body = { campaignId: "paused-1", obs: Array.from(OBS_LOW), refValue: 1 };

  it("a campaign the pacing guard halted gets a halted answer with the reason", async () => {
    const a = await app({ checkpoint: other });
    try {
      const gate: CampaignGate = { status: (id) => (id === "paused-1" ? { state: "halted", reason: "spend variance 40% > 25%", since: "2026-11-22T00:00:00Z", decisionId: "d1" } : { state: "active" }) };
      a.gaelp.gate = gate;
      const r = (await a.inject({ method: "POST", url: "/v1/bid", payload: body })).json();
      expect(r).toMatchObject({ status: "halted", bid: 0, reason: "spend variance 40% > 25%" });
      const rb = (await a.inject({ method: "POST", url: "/v1/bids", payload: { campaignId: "paused-1", opportunities: [{ obs: body.obs, refValue: 1 }] } })).json();
      expect(rb).toMatchObject({ status: "halted", bids: [] });
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: { ...body, campaignId: "other" } })).json().status).toBe("bid");
      await a.inject({ method: "GET", url: "/no-such-route" });
      const m = (await a.inject("/metrics")).body;
      expect(m).toMatch(/gaelp_bids_total\{status="halted"\} 2/);
      expect(m).toMatch(/gaelp_bids_total\{status="bid"\} 1/);
      // latency by route pattern, method and status; requests no route matched under "unmatched"
      expect(m).toMatch(/gaelp_http_request_duration_seconds_count\{method="POST",route="\/v1\/bid",status="200"\} 2/);
      expect(m).toMatch(/gaelp_http_request_duration_seconds_count\{method="POST",route="\/v1\/bids",status="200"\} 1/);
      expect(m).toMatch(/gaelp_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1/);
    } finally {
      await a.close();
    }
  });

  it("a decision later than the deadline answers the documented fallback, not a late bid", async () => {
    const a = await app({ checkpoint: other, deadlineMs: 0, fallbackBid: 0.02 });
    try {
      const r = (await a.inject({ method: "POST", url: "/v1/bid", payload: { ...body, campaignId: "c" } })).json();
      expect(r.status).toBe("fallback");
      expect(r.bid).toBe(0.02);
      expect(r.reason).toMatch(/deadline exceeded/);
      expect(r.bidId).toBeUndefined();
      expect((await a.inject("/metrics")).body).toMatch(/gaelp_bids_total\{status="fallback"\} 1/);
    } finally {
      await a.close();
    }
  });
});

describe("operations", () => {
  const key = "k-0123456789abcdef";
  const body = { campaignId: "c", obs: Array.from(OBS_LOW), refValue: 1 };

  it("API keys: 401 without or with a wrong key; x-api-key and Bearer accepted; probes stay public", async () => {
    const a = await app({ checkpoint: other, apiKeys: [key] });
    try {
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: body })).statusCode).toBe(401);
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: body, headers: { "x-api-key": "k-wrong-wrong-wrong" } })).statusCode).toBe(401);
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: body, headers: { "x-api-key": key } })).statusCode).toBe(200);
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: body, headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
      expect((await a.inject("/healthz")).statusCode).toBe(200);
      expect((await a.inject("/readyz")).statusCode).toBe(200);
      expect((await a.inject("/metrics")).statusCode).toBe(401);
    } finally {
      await a.close();
    }
    await expect(app({ apiKeys: ["short"] })).rejects.toThrow(/at least 16 characters/);
  });

  it("rate limiting is keyed on the API key", async () => {
    const key2 = "k-fedcba9876543210";
    const a = await app({ checkpoint: other, apiKeys: [key, key2], rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const send = (k: string) => a.inject({ method: "POST", url: "/v1/bid", payload: body, headers: { "x-api-key": k } });
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await send(key)).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const limited = await send(key);
      expect(limited.json()).toMatchObject({ statusCode: 429, code: "rate_limited" });
      expect((await send(key2)).statusCode).toBe(200);
      // probes are never limited
      for (let i = 0; i < 5; i++) expect((await a.inject("/healthz")).statusCode).toBe(200);
    } finally {
      await a.close();
    }
  });

  it("without API keys, rate limiting is keyed on the client address: a made-up key header opens no fresh budget", async () => {
    const a = await app({ checkpoint: other, rateLimit: { max: 2, timeWindowMs: 60_000 } });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await a.inject({ method: "POST", url: "/v1/bid", payload: body, headers: { "x-api-key": `made-up-key-${i}` } })).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      expect((await a.inject({ method: "POST", url: "/v1/bid", payload: body })).json()).toMatchObject({ statusCode: 429, code: "rate_limited" });
      for (let i = 0; i < 5; i++) expect((await a.inject("/readyz")).statusCode).toBe(200);
    } finally {
      await a.close();
    }
  });

  it("load shedding: an overloaded event loop answers 503 with Retry-After; readiness reports it", async () => {
    const a = await app({ checkpoint: other, loadShedding: { maxEventLoopDelayMs: 50, sampleIntervalMs: 50 } });
    try {
      await a.ready();
      // sustained overload: a timer hogs the loop for 80 ms out of every ~90 ms
      const hog = setInterval(() => {
        const until = Date.now() + 80;
        while (Date.now() < until) { /* block the event loop */ }
      }, 10);
      let shed: Awaited<ReturnType<typeof a.inject>> | undefined;
      for (let i = 0; i < 40 && shed === undefined; i++) {
        const r = await a.inject({ method: "POST", url: "/v1/bid", payload: body });
        if (r.statusCode !== 200) shed = r;
      }
      const ready = await a.inject("/readyz");
      clearInterval(hog);
      expect(shed?.statusCode).toBe(503);
      expect(shed!.headers["retry-after"]).toBe("1");
      expect(shed!.json().code).toBe("overloaded");
      expect((await a.inject("/metrics")).body).toMatch(/gaelp_shed_requests_total\{type="eventLoop(Delay|Utilization)"\} [1-9]/);
      expect(ready.statusCode).toBe(503);
      // and it recovers once the loop is responsive again
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        await new Promise((res) => setTimeout(res, 20));
        ok = (await a.inject({ method: "POST", url: "/v1/bid", payload: body })).statusCode === 200;
      }
      expect(ok).toBe(true);
    } finally {
      await a.close();
    }
  });

  it("validation: wrong types, missing and unknown fields, poisoned keys are 400 naming the field; big bodies 413", async () => {
    const a = await app({ checkpoint: other });
    try {
      const post = (payload: unknown, url = "/v1/bid") =>
        a.inject({ method: "POST", url, payload: typeof payload === "string" ? payload : JSON.stringify(payload), headers: { "content-type": "application/json" } });
      const cases: [unknown, string][] = [
        [{ ...body, refValue: "1" }, "body.refValue"],
        [{ ...body, obs: body.obs.slice(1) }, "body.obs"],
        [{ ...body, obs: body.obs.map((x, i) => (i === 7 ? 2 : x)) }, "body.obs[7]"],
        [{ campaignId: "c", obs: body.obs }, "body.refValue"],
        [{ ...body, extra: 1 }, "body.extra"],
        [{ ...body, constructor: 1 }, "body.constructor"],
        [{ ...body, campaignId: "a b" }, "body.campaignId"],
        [{ ...body, refValue: -1 }, "body.refValue"],
      ];
      for (const [p, field] of cases) {
        const r = await post(p);
        expect(r.statusCode, JSON.stringify(p).slice(0, 80)).toBe(400);
        expect(r.json().field).toBe(field);
        expect(r.json().message).toContain(field);
      }
      const proto = await post(`{"campaignId":"c","refValue":1,"obs":[],"__proto__":{"polluted":1}}`);
      expect(proto.statusCode).toBe(400);
      expect(proto.json().code).toBe("forbidden_key");
      expect((await post(`{"constructor":{"prototype":{"polluted":1}}}`)).json().code).toBe("forbidden_key");
      // the keys written with \u escapes, which the parser's substring pre-check must not let through
      expect((await post(`{"campaignId":"c","\\u005f_proto\\u005F_":{"polluted":1}}`)).json().code).toBe("forbidden_key");
      expect((await post(`{"\\u0063onstructor":{"prototype":{"polluted":1}}}`)).json().code).toBe("forbidden_key");
      // a leading byte-order mark is skipped, as secure-json-parse does
      expect((await post(`\uFEFF${JSON.stringify(body)}`)).statusCode).toBe(200);
      expect((await post("{not json")).json().code).toBe("invalid_json");
      const big = await post({ ...body, campaignId: "x".repeat(20_000) });
      expect(big.statusCode).toBe(413);
      const batch = await post({ campaignId: "c", opportunities: [] }, "/v1/bids");
      expect(batch.json().field).toBe("body.opportunities");
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await a.close();
    }
  });
});

describe("JSON bodies", () => {
  // the parser sends a text straight to JSON.parse when mayHoldForbiddenKey says it cannot hold a
  // poisoned key: over random JSON with such keys spliced in, spelled out or with any of their
  // letters \u-escaped, every text secure-json-parse refuses must be one the pre-check flags
  it("the substring pre-check flags every text secure-json-parse refuses", () => {
    const escaped = (word: string) => fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((esc) =>
      [...word].map((ch, i) => (esc[i] ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}` : ch)).join(""));
    const key = fc.oneof(escaped("__proto__"), escaped("constructor"), fc.string({ maxLength: 12 }).map((k) => JSON.stringify(k).slice(1, -1)));
    const text = fc.tuple(fc.json({ maxDepth: 2 }), key, fc.json({ maxDepth: 2 }), fc.constantFrom("", "\uFEFF")).map(([a, k, v, bom]) => {
      const inner = a.startsWith("{") && a.length > 2 ? a.slice(1, -1) + "," : "";
      return `${bom}{${inner}"${k}":${v}}`;
    });
    let refused = 0;
    fc.assert(fc.property(text, (t) => {
      let threw = false;
      try {
        sjson.parse(t, undefined, { protoAction: "error", constructorAction: "error" });
      } catch {
        threw = true;
      }
      if (threw) refused++;
      return !threw || mayHoldForbiddenKey(t);
    }), { numRuns: 2000 });
    expect(refused).toBeGreaterThan(100); // the generator does produce poisoned texts
  });
});

describe("the batch answer's JSON text", () => {
  it("is JSON.stringify's text of the answer in the schema's field order, and valid against BidsResponse", () => {
    const writer = new BidsAnswerText(); // one writer across runs: its per-level cache must follow changed levels
    const num = fc.oneof(fc.double(), fc.integer({ min: -1e6, max: 1e6 }).map((x) => Math.fround(x / 1000)));
    const decision = fc.record({ bidLevel: fc.integer({ min: 0, max: 5 }), creative: fc.integer({ min: 0, max: 7 }), bid: num, multiplier: num, value: num, logProb: num });
    fc.assert(fc.property(
      fc.array(decision, { minLength: 1, maxLength: 40 }), fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), fc.nat(), fc.boolean(),
      (decisions, campaignId, version, deterministic) => {
        const bidIds = decisions.map((_, i) => `0a1b2c3d4e-${i.toString(36)}`);
        const text = writer.write(campaignId, version, deterministic, decisions.length, bidIds, decisions);
        const bids = decisions.map((d, i) => ({ bidId: bidIds[i], bid: d.bid, bidLevel: d.bidLevel, multiplier: d.multiplier, creative: d.creative, value: d.value }));
        expect(text).toBe(JSON.stringify({ status: "bid", campaignId, policyVersion: version, deterministic, bids }));
        const finite = decisions.every((d) => [d.bid, d.multiplier, d.value].every(Number.isFinite));
        if (finite) expect(Value.Check(BidsResponse, JSON.parse(text))).toBe(true);
      },
    ), { numRuns: 500 });
  });
});

describe("gaelp serve", () => {
  it("listens, serves the run by name, and on SIGTERM finishes and exits 0", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [CLI, "serve", "--checkpoint", other, "--runs", runsRoot, "--data-dir", join(root, "serve-data"), "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    const url = await new Promise<string>((ok, fail) => {
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/[^;\s]+)/.exec(err);
        if (m) ok(m[1]);
      });
      child.on("exit", (c) => fail(new Error(`exited ${c}: ${err}`)));
    });
    const r = await fetch(`${url}/v1/bid`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ campaignId: "c", obs: Array.from(OBS_LOW), refValue: 1 }) });
    const answer = await r.json();
    expect(r.status, JSON.stringify(answer)).toBe(200);
    expect(answer.status).toBe("bid");
    const code = new Promise<number | null>((ok) => child.on("exit", ok));
    child.kill("SIGTERM");
    expect(await code).toBe(0);
    expect(err).toMatch(/SIGTERM: finishing requests in flight/);
    expect(err).toMatch(/closed/);
  }, 60_000);

  it("bad flags exit 2 naming the flag", () => {
    const bad = spawnSync(process.execPath, [CLI, "serve", "--checkpoint", "../x", "--runs", runsRoot, "--port", "0"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--checkpoint: .*no paths/);
    const port = spawnSync(process.execPath, [CLI, "serve", "--port", "70000"], { encoding: "utf8" });
    expect(port.status).toBe(2);
    expect(port.stderr).toMatch(/--port/);
  });
});
