// Acceptance 3 of issue 5: after SIGKILL during heavy audit writing the pacing audit log still
// parses line by line. A child process writes to the log as fast as it can (reconciliations of 200
// campaigns, group-committed, plus resumes) and is killed at a random moment; then the raw file is
// checked (every complete line is an entry with the next seq; at most a last line without its
// newline), and the guard reopens it: a torn tail is truncated, nothing acknowledged is lost, and
// the next child appends after it. A kill from outside rarely lands inside a write (most of the
// time goes to deciding and fsync), so every other round the child cuts one of its writes short
// itself and SIGKILLs itself: a torn line for certain. Eight kills on one log.
import { spawn } from "node:child_process";
import { readFileSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import seedrandom from "seedrandom";
import { Value } from "@sinclair/typebox/value";
import { beforeAll, expect, it } from "vitest";
import { AUDIT_FILE, PacingGuard } from "../server/pacing/guard.js";
import { AuditEntry } from "../server/pacing/schemas.js";
import { scratchDir } from "./helpers/scratch.js";
import { transpileTo } from "./helpers/transpile.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = scratchDir("pacing-crash");
let writer = "";

beforeAll(() => {
  const files = ["guard", "audit", "reconcile", "matrix", "pace", "confidence", "schemas"].map((f) => `server/pacing/${f}.ts`);
  const js = transpileTo(ROOT, [...files, "server/errors.ts", "trainer/fsutil.ts", "tests/fixtures/pacing_audit_writer.ts"], join(scratch.root(), "js"));
  symlinkSync(join(ROOT, "node_modules"), join(js, "node_modules")); // the child imports typebox and fastest-levenshtein
  writer = join(js, "tests/fixtures/pacing_audit_writer.js");
});

/** Checks the raw file: complete lines are entries with seq 1, 2, ...; returns their count and the unterminated tail. */
function checkRaw(path: string): { lines: number; tail: string } {
  const text = readFileSync(path, "utf8");
  const cut = text.lastIndexOf("\n") + 1;
  const complete = text.slice(0, cut).split("\n").slice(0, -1);
  complete.forEach((line, i) => {
    const entry = JSON.parse(line) as { seq: number };
    expect(entry.seq).toBe(i + 1);
    expect(Value.Check(AuditEntry, entry), `line ${i + 1}`).toBe(true);
  });
  return { lines: complete.length, tail: text.slice(cut) };
}

it("after SIGKILL during heavy audit writing the log parses line by line; a torn tail is truncated on open; nothing acknowledged is lost", async () => {
  const dir = scratch.next("guard");
  const rng = seedrandom("pacing-audit-crash");
  const ROUNDS = 8;
  let torn = 0;
  let total = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const tear = round % 2 === 1;
    const env = tear ? { ...process.env, GAELP_TEAR_WRITE: String(2 + Math.floor(rng() * 6)), GAELP_TEAR_AT: String(rng()) } : process.env;
    const child = spawn(process.execPath, [writer, dir, String(round)], { stdio: ["ignore", "pipe", "pipe"], env });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on("exit", (code, sig) => res(sig ?? code)));
    let acked = 0;
    await new Promise<void>((res) => {
      let buf = "";
      let armed = false;
      child.stdout.on("data", (d) => {
        buf += d;
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines) acked = Math.max(acked, Number(l.split(" ")[1]));
        // kill at a random moment once a few operations are durable
        if (!tear && !armed && acked > 0) {
          armed = true;
          setTimeout(() => (child.kill("SIGKILL"), res()), 50 + rng() * 400);
        }
      });
      void exited.then(() => res());
    });
    expect(await exited, `writer exit (stderr: ${stderr})`).toBe("SIGKILL");

    const path = join(dir, AUDIT_FILE);
    const raw = checkRaw(path);
    expect(raw.lines).toBeGreaterThanOrEqual(acked); // every acknowledged line is there
    if (tear) expect(raw.tail, "the cut write left a torn line").not.toBe("");
    if (raw.tail !== "") torn++;
    const guard = await PacingGuard.open(dir);
    expect(guard.report.tornBytes).toBe(Buffer.byteLength(raw.tail));
    expect(guard.report.lines).toBe(raw.lines);
    await guard.close();
    const after = checkRaw(path);
    expect(after).toEqual({ lines: raw.lines, tail: "" });
    expect(after.lines).toBeGreaterThan(total); // each round added lines after the previous ones
    total = after.lines;
  }
  expect(torn).toBeGreaterThanOrEqual(ROUNDS / 2);
  console.log(`pacing audit crash test: ${ROUNDS} kills, ${total} lines, ${torn} torn tails truncated on open`);
}, 180_000);
