// Cost of the run folder's disk work, which the trainer pays between iterations: writing and
// loading a 50 MB checkpoint (every file fsync'd, SHA-256 of everything), and logging metrics
// lines (JSONL appends, an fsync every 10 lines, the CSV kept up to date every 10).
//
//   run_folder.checkpoint.write_50mb_ms        writeCheckpoint, keep 1 (deletes the previous one)
//   run_folder.checkpoint.write_50mb_keep3_ms  keep 3: also re-verifies the two older kept ones
//   run_folder.checkpoint.load_50mb_ms         loadLatestCheckpoint (read + verify)
//   run_folder.checkpoint.write_mb_per_s       50 MB / write_50mb_ms
//   run_folder.metrics.lines_per_s             MetricsLogger.log with 20 keys per line
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import { loadLatestCheckpoint, writeCheckpoint } from "../trainer/checkpoint.js";
import { MetricsLogger } from "../trainer/metrics.js";
import type { SuiteOptions } from "./run.js";

const MB = 1024 * 1024;
const LINES = 200;

export async function benchRunFolder(opts: SuiteOptions): Promise<Record<string, number>> {
  const tmp = mkdtempSync(join(tmpdir(), "gaelp-bench-run-"));
  try {
    const weights = new Uint8Array(50 * MB);
    for (let i = 0; i < weights.length; i += 4096) weights[i] = i & 255; // touch every page
    const files = { "weights.bin": weights, "model.json": new TextEncoder().encode('{"format":"bench"}'), "state.msgpack": new Uint8Array(4096) };
    let step1 = 0;
    let step3 = 0;
    let metricsRun = 0;
    let loadedBytes = 0;
    const loadRoot = join(tmp, "load");
    writeCheckpoint(loadRoot, 0, files);

    const bench = new Bench(
      opts.quick
        ? { time: 200, iterations: 3, warmupTime: 0, warmupIterations: 1, throws: true }
        : { time: 2000, iterations: 10, warmupTime: 200, warmupIterations: 2, throws: true },
    );
    bench.add("write_keep1", () => {
      writeCheckpoint(join(tmp, "keep1"), step1++, files, { keep: 1 });
    });
    bench.add("write_keep3", () => {
      writeCheckpoint(join(tmp, "keep3"), step3++, files, { keep: 3 });
    });
    bench.add("load", () => {
      loadedBytes += loadLatestCheckpoint(loadRoot)!.files.get("weights.bin")!.byteLength;
    });
    bench.add("metrics", () => {
      const dir = join(tmp, `metrics${metricsRun++}`);
      mkdirSync(dir);
      const log = new MetricsLogger(dir);
      for (let s = 0; s < LINES; s++) {
        const row: Record<string, number> = {};
        for (let k = 0; k < 20; k++) row[`group${k % 4}/metric_${k}`] = s * 0.001 + k;
        log.log(s, row);
      }
      log.close();
    });
    await bench.run();
    if (loadedBytes === 0) throw new Error("run_folder bench: load read nothing");

    const ms = (task: string): number => {
      const r = bench.getTask(task)?.result;
      if (!r || r.state !== "completed") throw new Error(`run_folder bench: task ${task} did not complete (${r?.state})`);
      return r.latency.mean;
    };
    const write = ms("write_keep1");
    return {
      "run_folder.checkpoint.write_50mb_ms": write,
      "run_folder.checkpoint.write_50mb_keep3_ms": ms("write_keep3"),
      "run_folder.checkpoint.load_50mb_ms": ms("load"),
      "run_folder.checkpoint.write_mb_per_s": 50 / (write / 1000),
      "run_folder.metrics.lines_per_s": LINES / (ms("metrics") / 1000),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
