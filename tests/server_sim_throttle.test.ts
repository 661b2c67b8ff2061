// Bids first (server/simulations/throttle.ts): the duty cycle follows the event loop's load, a
// worker's pacer sleeps the right share of time, pacing changes no simulation number, bad options
// name the option.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../env/config.js";
import { createBidder } from "../agents/baselines/index.js";
import { runSimulation } from "../trainer/simulate.js";
import { LoadMonitor, MAX_SLEEP_MS, THROTTLE_DEFAULTS, dutyFor, makePacer, throttleCell } from "../server/simulations/throttle.js";
import { SimulationService } from "../server/simulations/service.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("simulation throttle (bids first)", () => {
  it("a busy event loop lowers the duty cycle, an idle one restores it", () => {
    const o = { ...THROTTLE_DEFAULTS };
    expect(dutyFor(0, o)).toBe(1);
    expect(dutyFor(o.busyUtilization - 0.01, o)).toBe(1);
    expect(dutyFor(o.busyUtilization, o)).toBe(o.busyDutyCycle);
    expect(dutyFor(1, o)).toBe(o.busyDutyCycle);
  });

  it("the pacer works in bursts and sleeps work × (1/duty − 1), capped, and not at all at full duty", () => {
    const cell = throttleCell();
    let t = 0;
    const slept: number[] = [];
    const pace = makePacer(cell, () => t, (ms) => { slept.push(ms); t += ms; });
    t += 0.5; pace(); // shorter than a burst: no look at the duty cycle
    t += 1.5; pace(); // 2 ms of work at full duty
    expect(slept).toEqual([]);
    Atomics.store(cell, 0, 200); // duty 0.2
    t += 2; pace();
    expect(slept).toEqual([8]);
    t += 0.4; pace();
    expect(slept).toEqual([8]);
    t += 0.6; pace(); // 1 ms since the last sleep
    expect(slept[1]).toBeCloseTo(4, 9);
    t += 50; pace(); // a long burst sleeps at most MAX_SLEEP_MS
    expect(slept[2]).toBe(MAX_SLEEP_MS);
    Atomics.store(cell, 0, 500);
    t += 3; pace();
    expect(slept[3]).toBeCloseTo(3, 9);
    // the working share is the duty cycle whenever the cap does not bind
    expect(2 / (2 + slept[0])).toBeCloseTo(0.2, 9);
  });

  it("the monitor publishes the busy duty cycle after a blocked event loop and full duty after an idle one", async () => {
    const mon = new LoadMonitor(throttleCell(), { sampleMs: 100, busyDutyCycle: 0.25 });
    mon.start();
    try {
      const until = performance.now() + 250;
      while (performance.now() < until); // the event loop is 100% busy
      // the overdue interval fires first and measures the blocked window; the next sample is
      // 100 ms later, after this 50 ms timer
      await sleep(50);
      expect(mon.dutyCycle).toBe(0.25);
      await sleep(350); // idle windows
      expect(mon.dutyCycle).toBe(1);
    } finally {
      mon.stop();
    }
    expect(mon.dutyCycle).toBe(1);
  });

  it("pacing changes no number of a simulation", () => {
    const config = resolveConfig({});
    const run = (pace?: () => void) => runSimulation({ config, bidder: createBidder("pacing"), worlds: 2, days: 2, seed: 5, daily: true, pace });
    let calls = 0;
    const a = run();
    const b = run(() => void calls++);
    expect(calls).toBeGreaterThan(10);
    expect(b.perWorld).toEqual(a.perWorld);
  });

  it("bad throttle options are refused naming the option", () => {
    expect(() => new SimulationService({ throttle: { busyDutyCycle: 0 } })).toThrow(/busyDutyCycle must be in \(0, 1\]/);
    expect(() => new SimulationService({ throttle: { busyUtilization: 1.5 } })).toThrow(/busyUtilization/);
    expect(() => new SimulationService({ throttle: { sampleMs: 1 } })).toThrow(/sampleMs must be an integer in \[5, 1000\]/);
  });
});
