// Piscina worker of the what-if simulations: one task = one world config flown by one bidder in a
// group of seeded worlds (trainer/simulate.ts runSimulation with its day-by-day record). The
// result goes back as transferred typed arrays, never cloned; the main thread only aggregates.
import { setPriority } from "node:os";
import { isMainThread } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol, workerData } from "piscina";
import { CHANNEL_NAMES } from "../../env/config.js";
import { makeBidder } from "../../trainer/eval_worker.js";
import { DAILY_METRICS, runSimulation } from "../../trainer/simulate.js";
import type { SimTask, SimTaskResult } from "./plan.js";
import { makePacer } from "./throttle.js";

// Simulations are background work: in a pool thread, lower this thread's scheduling priority to
// the lowest (nice 19; on Linux the nice value is per thread, so only this worker is affected) so
// the event loop answering bids wins the CPU whenever both want it. Bid p99 while a 100-world
// simulation runs is measured by bench/server.bench.ts (server.bid.p99_under_sim_ratio).
if (!isMainThread) {
  try {
    setPriority(19);
  } catch {
    // not permitted on this platform: the simulation still runs, at normal priority
  }
}

// nice 19 alone does not protect bids from a hyperthread sibling: while the server's event loop
// is busy the service lowers this worker's duty cycle through a shared cell (throttle.ts)
const cell = (workerData as { throttle?: Int32Array } | undefined)?.throttle;
const pace = cell instanceof Int32Array ? makePacer(cell) : undefined;

const NC = CHANNEL_NAMES.length;
const ND = DAILY_METRICS.length;

/** Runs one task; the in-process form of what the pool runs (tests and the bench call it too). */
export function runSimTask(t: SimTask): SimTaskResult {
  const r = runSimulation({
    config: t.config, bidder: makeBidder(t.bidder, t.wasm), worlds: t.worlds, days: t.days, seed: t.seed,
    stream: t.stream, worldOffset: t.worldOffset, wasm: t.wasm, daily: true, pace,
  });
  const out: SimTaskResult = {
    worldOffset: t.worldOffset,
    worlds: t.worlds,
    daily: new Float64Array(t.worlds * t.days * ND),
    channelSpend: new Float64Array(t.worlds * NC),
    channelValue: new Float64Array(t.worlds * NC),
    lastDay: new Int32Array(t.worlds),
    exhausted: new Uint8Array(t.worlds),
    decisions: r.rates.decisions,
    seconds: r.rates.wallSeconds,
  };
  r.perWorld.forEach((w, i) => {
    const rec = w.daily!;
    out.daily.set(rec.values, i * t.days * ND);
    out.channelSpend.set(rec.channelSpend, i * NC);
    // our credited value by channel: the flight's attributed revenue split by the configured
    // model's channel shares (NaN shares, no credit at all, split nothing)
    CHANNEL_NAMES.forEach((ch, c) => (out.channelValue[i * NC + c] = Number.isFinite(w.attribution[ch]) ? w.attribution[ch] * w.kpis.revenue : 0));
    out.lastDay[i] = rec.lastDay;
    out.exhausted[i] = w.kpis.budgetExhausted;
  });
  return out;
}

export default function runTask(t: SimTask): unknown {
  const out = runSimTask(t);
  return move({
    [transferableSymbol]: [out.daily.buffer, out.channelSpend.buffer, out.channelValue.buffer, out.lastDay.buffer, out.exhausted.buffer],
    [valueSymbol]: out,
  } as never);
}
