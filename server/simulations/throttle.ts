// Bids first. On this kind of machine (two vCPUs that are one core's hyperthreads) a simulation
// thread at full speed halves the speed of the event loop answering bids whatever its nice value,
// so a steady bid load would queue up behind it. While the event loop is busy, what-if workers
// therefore run at a reduced duty cycle: after each short burst of work (about a millisecond) a
// worker sleeps long enough that its share of working time is the duty cycle. The main thread
// samples its event-loop utilisation every few milliseconds and publishes the duty cycle in a
// shared cell every worker reads; with no bid traffic simulations run at full speed. Only timing
// changes: a simulation's numbers are the same at any duty cycle.

import { performance } from "node:perf_hooks";

export interface ThrottleOptions {
  /** event-loop utilisation (0..1) from which the main thread counts as busy (default 0.15) */
  busyUtilization?: number;
  /** share of time (0..1] simulation workers work while the main thread is busy (default 0.2) */
  busyDutyCycle?: number;
  /** sampling interval of the event-loop utilisation, ms (default 20) */
  sampleMs?: number;
}

export const THROTTLE_DEFAULTS = { busyUtilization: 0.15, busyDutyCycle: 0.2, sampleMs: 20 } as const;

/** A worker works at least this long between two looks at the duty cycle (ms). */
export const BURST_MS = 1;
/** Longest single sleep (ms): a worker re-reads the duty cycle at least this often. */
export const MAX_SLEEP_MS = 20;

/** The duty cycle workers should run at for a sampled event-loop utilisation. */
export function dutyFor(utilization: number, o: Required<ThrottleOptions>): number {
  return utilization >= o.busyUtilization ? o.busyDutyCycle : 1;
}

/** The shared cell: the duty cycle in permille, written by the main thread, read by the workers. */
export function throttleCell(): Int32Array {
  const cell = new Int32Array(new SharedArrayBuffer(8));
  Atomics.store(cell, 0, 1000);
  return cell;
}

/**
 * The worker side: `pace()` is called every few hundred microseconds of work (runSimulation's
 * `pace` option). After at least BURST_MS of work since the last sleep, it sleeps work × (1/duty − 1)
 * (at most MAX_SLEEP_MS). `now` and `sleep` are injectable for tests.
 */
export function makePacer(
  cell: Int32Array,
  now: () => number = () => performance.now(),
  sleep: (ms: number) => void = (ms) => void Atomics.wait(cell, 1, 0, ms),
): () => void {
  let start = now();
  return () => {
    const work = now() - start;
    if (work < BURST_MS) return;
    const duty = Atomics.load(cell, 0) / 1000;
    if (duty < 1) sleep(Math.min(MAX_SLEEP_MS, (work * (1 - duty)) / duty));
    start = now();
  };
}

/** The main-thread side: samples the event-loop utilisation while simulations run. */
export class LoadMonitor {
  readonly options: Required<ThrottleOptions>;
  private timer: NodeJS.Timeout | undefined;
  private last = performance.eventLoopUtilization();

  constructor(readonly cell: Int32Array, o: ThrottleOptions = {}) {
    this.options = { ...THROTTLE_DEFAULTS, ...o };
    const { busyUtilization: u, busyDutyCycle: d, sampleMs: s } = this.options;
    if (!(u > 0 && u <= 1)) throw new RangeError(`simulations option busyUtilization must be in (0, 1], got ${u}`);
    if (!(d > 0 && d <= 1)) throw new RangeError(`simulations option busyDutyCycle must be in (0, 1], got ${d}`);
    if (!(Number.isInteger(s) && s >= 5 && s <= 1000)) throw new RangeError(`simulations option sampleMs must be an integer in [5, 1000], got ${s}`);
  }

  /** The duty cycle the workers currently run at. */
  get dutyCycle(): number {
    return Atomics.load(this.cell, 0) / 1000;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, this.last).utilization;
      this.last = now;
      Atomics.store(this.cell, 0, Math.round(dutyFor(u, this.options) * 1000));
    }, this.options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    Atomics.store(this.cell, 0, 1000);
  }
}
