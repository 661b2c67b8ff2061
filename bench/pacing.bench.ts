// The pacing guard's costs on the server:
//
// pacing.gate_status_per_s: CampaignGate.status() calls per second over 10,000 campaign ids, one
//   in ten halted (the bid route asks it on every request).
// pacing.reconcile_200_ms: one reconciliation of 200 tracker records with 200 platform records, a
//   third of them matched by name, decisions and texts included (pure logic, no audit write).
// pacing.reconcile_worst_ms / pacing.reconcile_worst_max_slice_ms: the largest request the schema
//   allows (500 × 500 records, no id in common, names of 200 characters): its total time, and the
//   longest stretch it holds the event loop between two yields (what a bid waiting behind it waits).
// pacing.audit_lines_per_s: decision and halt lines made durable per second (write + fsync, group
//   commit) by three concurrent 200-record reconciliations through the guard.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import { DEFAULT_THRESHOLDS } from "../server/pacing/matrix.js";
import { PacingGuard } from "../server/pacing/guard.js";
import { reconcile, reconcileYielding } from "../server/pacing/reconcile.js";
import type { PlatformRecord, TrackerRecord } from "../server/pacing/schemas.js";
import { itemsPerSecond } from "./rate.js";

const DAY = 86_400_000;
const OPTS = { ...DEFAULT_THRESHOLDS, nameMatchThreshold: 0.75 };

function records(n: number, nameLen: number, byName: (i: number) => boolean, now: number): { tracker: TrackerRecord[]; platform: PlatformRecord[] } {
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  let x = 12345;
  const word = (len: number): string => {
    let s = "";
    for (let i = 0; i < len; i++) s += "abcdefghijklmnopqrstuvwxyz "[(x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 27];
    return s;
  };
  const tracker = Array.from({ length: n }, (_, i): TrackerRecord => ({
    id: `c${i}`, name: word(nameLen), market: "US", product: "shoes", start: day(now - 10 * DAY), end: day(now + 19 * DAY), budget: 3000,
  }));
  const platform = tracker.map((t, i): PlatformRecord => ({
    id: byName(i) ? `p${i}` : t.id, name: byName(i) ? t.name.toUpperCase() : word(nameLen), market: "US", product: "shoes", start: t.start, end: t.end,
    spend: (i % 23) * 100, updatedAt: new Date(now - 3_600_000).toISOString(),
  }));
  return { tracker, platform };
}

export async function benchPacing(opts: { quick: boolean }): Promise<Record<string, number>> {
  const now = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "gaelp-bench-pacing-"));
  try {
    const guard = await PacingGuard.open(dir, { maxCampaigns: 20_000 });
    const halted = Array.from({ length: 1000 }, (_, i) => `c${i * 10}`);
    for (const id of halted) await guard.putCampaign(id, { name: id, market: "US", product: "x", start: "2024-06-01", end: "2024-06-30", budget: 1 });
    for (const id of halted) await guard.halt(id, { by: "bench", reason: "bench" });
    const ids = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
    let sink = 0;
    const small = records(200, 30, (i) => i % 3 === 0, now);
    const bench = new Bench({ time: opts.quick ? 200 : 1000, warmupTime: opts.quick ? 50 : 200 });
    bench.add("gate", () => {
      for (let i = 0; i < ids.length; i++) if (guard.status(ids[i]).state === "halted") sink++;
    });
    bench.add("reconcile200", () => {
      sink += reconcile(small.tracker, small.platform, now, OPTS).assessments.length;
    });
    await bench.run();
    if (sink === 0) throw new Error("pacing bench: nothing computed");
    const out: Record<string, number> = {
      "pacing.gate_status_per_s": itemsPerSecond(bench, "gate", ids.length, "pacing"),
      "pacing.reconcile_200_ms": 1000 / itemsPerSecond(bench, "reconcile200", 1, "pacing"),
    };

    // the worst request, timed once (after a small one warms the same code): total, and the longest
    // event-loop stretch between yields
    const warm = records(50, 200, () => true, now);
    await reconcileYielding(warm.tracker, warm.platform, now, OPTS);
    const worst = records(500, 200, () => true, now);
    let longest = 0;
    let last = performance.now();
    let ticking = true;
    const tick = (): void => {
      const t = performance.now();
      longest = Math.max(longest, t - last);
      last = t;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const t0 = performance.now();
    await reconcileYielding(worst.tracker, worst.platform, now, OPTS);
    out["pacing.reconcile_worst_ms"] = performance.now() - t0;
    ticking = false;
    out["pacing.reconcile_worst_max_slice_ms"] = longest;

    const rounds = opts.quick ? 3 : 10;
    const before = guard.summary().audit.lines;
    const t1 = performance.now();
    for (let r = 0; r < rounds; r++) await Promise.all([0, 1, 2].map(() => guard.reconcile(small)));
    out["pacing.audit_lines_per_s"] = (guard.summary().audit.lines - before) / ((performance.now() - t1) / 1000);
    await guard.close();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
