// Throughput of a finished tinybench task, for suites that time calls doing a known amount of work.
import type { Bench } from "tinybench";

/** items/s of `task` when each call handles `itemsPerCall` items; throws (naming `suite`) when the
 *  task did not complete. */
export function itemsPerSecond(bench: Bench, task: string, itemsPerCall: number, suite: string): number {
  const r = bench.getTask(task)?.result;
  if (!r || r.state !== "completed") throw new Error(`${suite} bench: task ${task} did not complete (${r?.state})`);
  return itemsPerCall / (r.latency.mean / 1000);
}
