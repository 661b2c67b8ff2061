// Feedback and the decision log on the server:
//
// feedback.events_per_s: impression events made durable per second through POST /v1/feedback
//   (app.inject: JSON parse, validation, idempotency check, group commit = one Arrow segment
//   written + fsync'd per write, pacing-guard delivery, answer), 8 requests of 100 events in
//   flight at a time; compaction runs in the background as it would.
// feedback.single_event_requests_per_s: the same with one event per request (each answer waits
//   for an fsync; group commit shares it between the requests in flight).
// feedback.decision_record_ns: DecisionLog.record() per decision (the bid hot path's cost), segment
//   writes of full buffers included as they happen (off the hot path, awaited at the end).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../server/app.js";
import { DecisionLog } from "../server/feedback/decision_log.js";
import { OBS_DIM } from "../wasm/layout.js";

async function eventsPerSecond(dataDir: string, rounds: number, perRequest: number, inFlight: number): Promise<number> {
  const app = await buildApp({ runsRoot: join(dataDir, "runs"), dataDir, loadShedding: false, rateLimit: false });
  try {
    let id = 0;
    const request = () => {
      const events = Array.from({ length: perRequest }, () => ({
        eventId: `e${id++}`, kind: "impression", campaignId: `c${id % 50}`, bidId: `b${id}`, at: "2024-06-10T12:00:00Z", cost: 0.25,
      }));
      return app.inject({ method: "POST", url: "/v1/feedback", payload: { events } });
    };
    for (let w = 0; w < 5; w++) await Promise.all(Array.from({ length: inFlight }, request)); // warm-up
    const t0 = performance.now();
    let stored = 0;
    for (let r = 0; r < rounds; r++) {
      const answers = await Promise.all(Array.from({ length: inFlight }, request));
      for (const a of answers) {
        if (a.statusCode !== 200) throw new Error(`feedback bench: ${a.statusCode} ${a.body}`);
        stored += a.json().accepted;
      }
    }
    return stored / ((performance.now() - t0) / 1000);
  } finally {
    await app.close();
  }
}

async function recordNs(dir: string, n: number): Promise<number> {
  const log = new DecisionLog(dir, { flushMs: 3_600_000 });
  const obs = new Float32Array(OBS_DIM).fill(0.5);
  const d = {
    bidId: "", campaignId: "c1", atMs: Date.now(), obs, refValue: 2, bidLevel: 3, multiplier: 1, creative: 1, bid: 2,
    logProb: -1.5, value: 0.1, policyVersion: 1, policyRun: "default__bench__1__1", sampled: false,
  };
  const ids = Array.from({ length: n }, (_, i) => `bench-${i.toString(36)}`);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    d.bidId = ids[i];
    log.record(d);
  }
  const ns = ((performance.now() - t0) * 1e6) / n;
  await log.close();
  return ns;
}

export async function benchFeedback(opts: { quick: boolean }): Promise<Record<string, number>> {
  const root = mkdtempSync(join(tmpdir(), "gaelp-bench-feedback-"));
  try {
    return {
      "feedback.events_per_s": await eventsPerSecond(join(root, "a"), opts.quick ? 10 : 40, 100, 8),
      "feedback.single_event_requests_per_s": await eventsPerSecond(join(root, "b"), opts.quick ? 20 : 100, 1, 8),
      "feedback.decision_record_ns": await recordNs(join(root, "d"), opts.quick ? 50_000 : 200_000),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
