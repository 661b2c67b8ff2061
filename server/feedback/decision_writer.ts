// Worker thread of the decision log (decision_log.ts): encodes a buffer of decisions as one Arrow
// IPC file and writes it atomically as the segment the main thread reserved (temp name, fsync,
// rename, fsync of the folder: trainer/fsutil.ts), so neither the encoding nor the file system
// calls run on the event loop answering bids. The columns arrive transferred (not copied) and go
// back transferred with the answer, written or not, so the main thread can retry a failed write
// and reuse the buffers.
import { parentPort } from "node:worker_threads";
import { toIpcFile } from "../../engine/experience.js";
import { writeFileAtomicAsync } from "../../trainer/fsutil.js";
import { DECISION_SCHEMA, type DecisionNumbers, type DecisionSegment, decisionBatch, numberBuffers } from "./format.js";

/** main → worker */
export interface WriteRequest {
  path: string;
  seg: DecisionSegment;
}

/** worker → main: the numeric columns come back in both cases */
export interface WriteAnswer {
  nums: DecisionNumbers;
  error?: string;
}

/** Encodes and writes one segment; resolves with the error message, if any. */
export async function writeDecisionSegment(path: string, seg: DecisionSegment): Promise<string | undefined> {
  try {
    await writeFileAtomicAsync(path, toIpcFile(DECISION_SCHEMA, [decisionBatch(seg)]));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const port = parentPort;
if (port !== null) {
  port.on("message", (m: WriteRequest) => {
    void writeDecisionSegment(m.path, m.seg).then((error) => {
      const answer: WriteAnswer = { nums: m.seg.nums, error };
      port.postMessage(answer, numberBuffers(m.seg.nums));
    });
  });
}
