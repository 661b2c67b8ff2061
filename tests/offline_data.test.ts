// `gaelp train --offline-data`: a server data folder (bids and feedback through buildApp + inject)
// joined into replay rows with known answers -- costs summed per decision, conversion credit
// spread by the attribution model and summing to the conversion value, everything unjoined
// counted -- then the real CLI trains on it and its checkpoint carries the rows.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { unpack } from "msgpackr";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultPolicySpec } from "../agents/policy/spec.js";
import { resolveConfig } from "../env/config.js";
import { PrioritizedReplay } from "../trainer/replay.js";
import { loadLatestCheckpoint } from "../trainer/checkpoint.js";
import { attributionCredits, readOfflineData } from "../trainer/offline.js";
import { DEFAULT_TRAIN } from "../trainer/train_config.js";
import * as L from "../wasm/layout.js";
import { scratchDir } from "./helpers/scratch.js";
import { bidOn, observations, serveApp, servedRun } from "./helpers/serving.js";

const scratch = scratchDir("offline");
const CLI = resolve("dist/trainer/cli.js");
const config = resolveConfig({ scenario: "default" });
const spec = defaultPolicySpec(config.campaign.creatives.length, { bidLevels: DEFAULT_TRAIN.bidLevels.slice() });
const attr = config.attribution;

let dataDir = "";
let bids: Awaited<ReturnType<typeof bidOn>> = [];

beforeAll(async () => {
  const runsRoot = scratch.next("runs");
  dataDir = scratch.next("data");
  const app = await serveApp(runsRoot, dataDir, servedRun(runsRoot));
  bids = await bidOn(app, "c1", observations(8, 3));
  const at = (h: number) => new Date(Date.UTC(2024, 5, 10, h)).toISOString();
  const b = (k: number) => bids[k].bidId;
  const r = await app.inject({
    method: "POST", url: "/v1/feedback", payload: {
      events: [
        { eventId: "i0", kind: "impression", campaignId: "c1", bidId: b(0), at: at(1), cost: 0.4 },
        { eventId: "i0b", kind: "impression", campaignId: "c1", bidId: b(0), at: at(1), cost: 0.1 },
        { eventId: "k0", kind: "click", campaignId: "c1", bidId: b(0), at: at(1), cost: 1.5 },
        { eventId: "i1", kind: "impression", campaignId: "c1", bidId: b(1), at: at(2), cost: 0.3 },
        { eventId: "i2", kind: "impression", campaignId: "c1", bidId: b(2), at: at(3), cost: 0.2 },
        { eventId: "i9", kind: "impression", campaignId: "c1", bidId: "nobody-1", at: at(3), cost: 0.7 },
        { eventId: "i3", kind: "impression", campaignId: "other", bidId: b(3), at: at(3), cost: 0.9 },
        // three known touchpoints and one unknown: credit over the known ones
        { eventId: "v1", kind: "conversion", campaignId: "c1", touchpoints: [b(0), "nobody-2", b(1), b(2)], at: at(20), value: 90 },
        { eventId: "v2", kind: "conversion", campaignId: "c1", touchpoints: ["nobody-3"], at: at(20), value: 40 },
        // a CPA conversion naming only its converting bid: credit and cost to decision 4
        { eventId: "v3", kind: "conversion", campaignId: "c1", bidId: b(4), at: at(21), value: 25, cost: 3 },
      ],
    },
  });
  expect(r.statusCode, r.body).toBe(200);
  await app.close();
});

describe("offline join: known answers", () => {
  it("attribution credits are >= 0 and sum to 1 for every model", () => {
    for (const model of ["last_click", "linear", "time_decay", "position", "data_driven"] as const) {
      for (const n of [1, 2, 3, 5]) {
        const c = attributionCredits(model, Array.from({ length: n }, (_, i) => i * 7), Array.from({ length: n }, (_, i) => i === 1), 50, attr);
        expect(c.every((x) => x >= 0), model).toBe(true);
        expect(c.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 12);
      }
    }
    expect(Array.from(attributionCredits("last_click", [0, 1, 2], [false, true, false], 5, attr))).toEqual([0, 1, 0]);
    const td = attributionCredits("time_decay", [0, attr.timeDecayHalfLifeHours], [false, false], attr.timeDecayHalfLifeHours, attr);
    expect(td[1] / td[0]).toBeCloseTo(2, 12);
  });

  it("joins rows: costs summed, conversion value spread over the known touchpoints, the rest counted", () => {
    const { rows, summary: s } = readOfflineData(dataDir, { spec, attribution: attr, model: "linear" });
    expect(s).toMatchObject({
      decisions: 8, events: 10, rows: 4, decisionsWithoutFeedback: 4,
      eventsWithoutDecision: { impression: 1, click: 0, conversion: 1 }, touchpointsWithoutDecision: 2, campaignMismatches: 1,
      impressions: 4, clicks: 1, conversions: 3, duplicateEvents: 0, duplicateDecisions: 0, greedyRows: 4,
    });
    expect(s.cost).toBeCloseTo(0.4 + 0.1 + 1.5 + 0.3 + 0.2 + 3, 12);
    expect(s.conversionValue).toBe(155);
    expect(s.attributedValue).toBeCloseTo(115, 10);
    expect(s.unattributedValue).toBe(40);
    const row = (k: number) => rows.bidId.indexOf(bids[k].bidId);
    expect([0, 1, 2, 4].map((k) => row(k) >= 0)).toEqual([true, true, true, true]);
    expect(row(3)).toBe(-1); // its only event came from another campaign
    expect(rows.cost[row(0)]).toBeCloseTo(2.0, 12);
    expect(Array.from([0, 1, 2], (k) => rows.attributed[row(k)])).toEqual([30, 30, 30]);
    expect(rows.attributed[row(4)]).toBe(25);
    expect(rows.cost[row(4)]).toBe(3);
    expect([rows.won[row(0)], rows.clicked[row(0)], rows.won[row(1)], rows.clicked[row(1)], rows.won[row(4)]]).toEqual([1, 1, 1, 0, 0]);
    // observations and actions as served
    const k = row(2);
    expect(Array.from(rows.obs.subarray(k * L.OBS_DIM, (k + 1) * L.OBS_DIM))).toEqual(bids[2].obs);
    expect(rows.bidLevel[k]).toBe(bids[2].bidLevel);
    expect(rows.creative[k]).toBe(bids[2].creative);
  });

  it("last-click credits the clicked touchpoint; credits always sum to the matched value", () => {
    const { rows, summary: s } = readOfflineData(dataDir, { spec, attribution: attr, model: "last_click" });
    const row = (k: number) => rows.bidId.indexOf(bids[k].bidId);
    expect(rows.attributed[row(0)]).toBe(90); // the only clicked touchpoint of v1
    for (const model of ["time_decay", "position", "data_driven"] as const) {
      const o = readOfflineData(dataDir, { spec, attribution: attr, model });
      expect(o.rows.attributed.reduce((a, x) => a + x, 0), model).toBeCloseTo(115, 9);
    }
    expect(s.attributedValue + s.unattributedValue).toBeCloseTo(s.conversionValue, 9);
  });

  it("refuses data served with other bid levels, naming the file and row", () => {
    const other = defaultPolicySpec(config.campaign.creatives.length);
    expect(() => readOfflineData(dataDir, { spec: other, attribution: attr })).toThrow(/decisions-\d+\.arrow: row \d+ .*bid_level \d+ was multiplier/);
    expect(() => readOfflineData(join(dataDir, "nope"), { spec, attribution: attr })).toThrow(/is not a folder/);
  });
});

describe("gaelp train --offline-data", () => {
  it("trains with the joined rows in the replay, reports the counts, and checkpoints them", () => {
    const runs = scratch.next("runs");
    const t = spawnSync(process.execPath, [CLI, "train", "--preset", "smoke", "--iterations", "1", "--no-eval", "--runs", runs, "--json", "--offline-data", dataDir, "--offline-attribution", "linear"], { encoding: "utf8", timeout: 240_000 });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/offline data .* 8 decisions .* -> 4 replay rows/);
    const out = JSON.parse(t.stdout.trim().split("\n").pop()!);
    expect(out.offline).toMatchObject({ rows: 4, decisionsWithoutFeedback: 4, attribution: "linear" });
    expect(JSON.parse(readFileSync(join(out.run, "offline.json"), "utf8")).rows).toBe(4);
    const ck = loadLatestCheckpoint(join(out.run, "checkpoints"))!;
    const st = unpack(ck.files.get("trainer.msgpack")!) as { offline: { replayRows: number } };
    expect(st.offline.replayRows).toBe(4);
    // the replay holds the offline rows: their observations are among its rows
    const replay = PrioritizedReplay.deserialize(ck.files.get("replay.bin")!);
    const obs = replay.column("obs") as Float32Array;
    const want = bids[2].obs;
    let found = false;
    for (let s = 0; s < replay.size && !found; s++) found = want.every((v, j) => obs[s * L.OBS_DIM + j] === v);
    expect(found).toBe(true);
    // a resumed run has them already: the flag is refused
    const r = spawnSync(process.execPath, [CLI, "train", "--resume", out.run, "--offline-data", dataDir], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--offline-data");
    // bad folder: exit 2 naming it, no run folder left behind
    const bad = spawnSync(process.execPath, [CLI, "train", "--preset", "smoke", "--runs", scratch.next("runs"), "--offline-data", join(dataDir, "missing")], { encoding: "utf8", timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("missing is not a folder");
  }, 300_000);
});
