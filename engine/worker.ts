// Piscina worker: loads the WASM world core once per thread (from workerData) and runs tasks.
// Task descriptors arrive as msgpack; world states and policy weights are SharedArrayBuffers (read
// and written in place, never cloned); the experience goes back as transferred Arrow IPC bytes.
import { workerData } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { unpack } from "msgpackr";
import { WorldRunner, type TaskDesc } from "./world_runner.js";
import type { WorkerInit, TaskPayload } from "./rollout_engine.js";

const init = workerData as WorkerInit;
const runner = new WorldRunner(init.config, init.spec, init.slots, init.wasm);

function injectFault(kind: "exit" | "throw" | "oom"): void {
  if (kind === "exit") process.exit(3);
  if (kind === "throw") throw new Error("injected fault");
  // JS heap (not ArrayBuffers, which live outside it) until resourceLimits stops the thread
  const hog: number[][] = [];
  for (let i = 0; ; i++) hog.push(Array.from({ length: 1 << 16 }, (_, k) => k + i + 0.5));
}

export default function runTask(payload: TaskPayload): unknown {
  const desc = unpack(payload.desc) as TaskDesc;
  runner.setPolicy(new Float32Array(payload.weights), desc.policyVersion);
  const states = payload.states.map((s) => new Uint8Array(s));
  const fault = init.faultInjection ? desc.fault : undefined;
  const rivalParams = new Float32Array(payload.rivalParams);
  const result = runner.run(desc, states, fault ? (i) => { if (i === fault.afterWorld) injectFault(fault.kind); } : undefined, rivalParams);
  // one message: the metadata plus both IPC streams and the outcome deltas (views of one buffer),
  // whose buffers are transferred
  return move({
    [transferableSymbol]: [result.rowsIpc.buffer, result.lateIpc.buffer, result.worldStats[0].buffer],
    [valueSymbol]: result,
  } as never);
}
