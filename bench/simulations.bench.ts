// What-if simulations (server/simulations): one job through SimulationService as the server runs
// it (one worker thread; the default request: three scenarios, five budget levels, the
// competitor-threat run and the pivot previews, pacing bidder, default market).
//   simulations.world_days_per_s    flight days simulated per second of wall time, summed over the
//                                   job's world configs and worlds (the 14 market warm-up days each
//                                   world runs first are not counted)
//   simulations.job_seconds         wall time of the job
//   simulations.main_thread_ms      time the main thread spent on the job (copying task results,
//                                   aggregating); the rest of the job runs in the worker thread
// Full: 32 worlds x 30 days; quick: 8 worlds x 7 days. A small warm-up job runs first.
import { prepare } from "../server/simulations/plan.js";
import { SimulationService } from "../server/simulations/service.js";
import type { SimulationJob, SimulationRequest } from "../server/simulations/schemas.js";
import type { SuiteOptions } from "./run.js";

async function finished(service: SimulationService, body: SimulationRequest): Promise<SimulationJob> {
  const { job } = service.submit(prepare(body, undefined));
  for (;;) {
    const j = service.get(job.id)!;
    if (j.status === "completed") return j;
    if (j.status !== "queued" && j.status !== "processing") throw new Error(`bench simulation ${j.status}: ${j.error?.message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchSimulations(opts: SuiteOptions): Promise<Record<string, number>> {
  const service = new SimulationService({ threads: 1 });
  try {
    await finished(service, { worlds: 2, days: 2, seed: 99 }); // every code path once: worker start, WASM compile, JIT
    const t0 = performance.now();
    const job = await finished(service, opts.quick ? { worlds: 8, days: 7 } : { worlds: 32, days: 30 });
    const seconds = (performance.now() - t0) / 1000;
    return {
      "simulations.world_days_per_s": job.stats.worldDays / seconds,
      "simulations.job_seconds": seconds,
      "simulations.main_thread_ms": job.stats.mainThreadMs,
    };
  } finally {
    await service.close();
  }
}
