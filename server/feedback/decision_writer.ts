// Worker thread of the decision log (decision_log.ts): encodes a buffer of decisions as one Arrow
// IPC file and writes it atomically as the segment the main thread reserved (temp name, fsync,
// rename, fsync of the folder: trainer/fsutil.ts), so neither the encoding nor the file system
// calls run on the event loop answering bids. The columns arrive transferred (not copied) and go
// back transferred with the answer, written or not, so the main thread can retry a failed write
// and reuse the buffers.
import { parentPort } from "node:worker_threads";
import { toIpcFile } from "../../engine/experience.js";
import { writeFileAtomicAsync } from "../../trainer/fsutil.js";
import { DECISION_SCHEMA, DecisionColumns, type DecisionColumnsData } from "./format.js";

/** main → worker */
export interface WriteRequest {
  path: string;
  cols: DecisionColumnsData;
}

/** worker → main: the columns come back in both cases */
export interface WriteAnswer {
  cols: DecisionColumnsData;
  error?: string;
}

/** Encodes and writes one segment; resolves with the error message, if any. */
export async function writeDecisionSegment(path: string, cols: DecisionColumns): Promise<string | undefined> {
  try {
    await writeFileAtomicAsync(path, toIpcFile(DECISION_SCHEMA, [cols.batch()]));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const port = parentPort;
if (port !== null) {
  port.on("message", (m: WriteRequest) => {
    const cols = new DecisionColumns(m.cols.cap, m.cols);
    void writeDecisionSegment(m.path, cols).then((error) => {
      const answer: WriteAnswer = { cols, error };
      port.postMessage(answer, cols.buffers());
    });
  });
}
