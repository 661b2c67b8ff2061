import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import seedrandom from "seedrandom";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  type LoadedCheckpoint,
  checkpointDirName,
  listCheckpoints,
  loadCheckpoint,
  loadLatestCheckpoint,
  writeCheckpoint,
} from "../trainer/checkpoint.js";
import { checkpointContent } from "./fixtures/checkpoint_content.js";
import { scratchDir } from "./helpers/scratch.js";
import { transpileTo } from "./helpers/transpile.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = scratchDir("ckpt");
const freshRoot = (): string => join(scratch.next("run"), "checkpoints");
const SMALL = 4096;
const small = (step: number) => checkpointContent(step, SMALL);

function expectSameFiles(got: Map<string, Uint8Array>, want: Record<string, Uint8Array>): void {
  expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
  for (const [name, bytes] of Object.entries(want)) {
    const g = got.get(name)!;
    expect(g.byteLength, name).toBe(bytes.byteLength);
    expect(Buffer.from(g).equals(Buffer.from(bytes)), `${name} bytes`).toBe(true);
  }
}

const steps = (root: string) => listCheckpoints(root).map((c) => c.step);

describe("checkpoint round trip", () => {
  it("returns exactly the bytes written, including a 50 MB file, with a manifest of sizes and SHA-256", () => {
    const root = freshRoot();
    const files = checkpointContent(7, 50 * 1024 * 1024);
    const meta = { iteration: 7, lr: 2.5e-4, rng: [1, 2, 3], note: "ok" };
    const info = writeCheckpoint(root, 7, files, { meta });
    expect(basename(info.dir)).toBe("ckpt-000000007");
    expect(readdirSync(root)).toEqual(["ckpt-000000007"]);
    expect(readdirSync(info.dir).sort()).toEqual([...Object.keys(files), "manifest.json"].sort());

    const manifest = JSON.parse(readFileSync(join(info.dir, "manifest.json"), "utf8"));
    expect(manifest.format).toBe(CHECKPOINT_FORMAT);
    expect(manifest.step).toBe(7);
    expect(manifest.meta).toEqual(meta);
    for (const [name, bytes] of Object.entries(files)) {
      expect(manifest.files[name]).toEqual({ bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") });
    }

    const loaded = loadLatestCheckpoint(root)!;
    expect(loaded.skipped).toEqual([]);
    expect(loaded.info).toEqual(info);
    expect(loaded.info.meta).toEqual(meta);
    expectSameFiles(loaded.files, files);
    expectSameFiles(loadCheckpoint(info.dir).files, files);
  });

  it("has no checkpoint (undefined, empty list) for a missing or empty root", () => {
    const root = freshRoot();
    expect(listCheckpoints(root)).toEqual([]);
    expect(loadLatestCheckpoint(root)).toBeUndefined();
    mkdirSync(root, { recursive: true });
    mkdirSync(join(root, "not-a-checkpoint"));
    writeFileSync(join(root, "ckpt-000000001"), "a file, not a directory");
    expect(loadLatestCheckpoint(root)).toBeUndefined();
  });
});

describe("damaged checkpoints", () => {
  const damages: { what: string; damage: (dir: string) => void; reason: RegExp }[] = [
    {
      what: "a flipped byte",
      damage: (dir) => {
        const f = join(dir, "weights.bin");
        const b = readFileSync(f);
        b[1234] ^= 0x01;
        writeFileSync(f, b);
      },
      reason: /^weights\.bin: SHA-256 .* \(contents changed\)$/,
    },
    { what: "a truncated file", damage: (dir) => truncateSync(join(dir, "weights.bin"), 100), reason: /^weights\.bin: 100 bytes, the manifest says \d+ \(truncated\)$/ },
    { what: "a missing file", damage: (dir) => rmSync(join(dir, "state.msgpack")), reason: /^state\.msgpack: missing$/ },
    { what: "a missing manifest", damage: (dir) => rmSync(join(dir, "manifest.json")), reason: /^manifest\.json: missing$/ },
    { what: "a garbage manifest", damage: (dir) => writeFileSync(join(dir, "manifest.json"), "{\"format\": \"gaelp-check"), reason: /^manifest\.json: not valid JSON/ },
    {
      what: "a manifest of another format",
      damage: (dir) => {
        const f = join(dir, "manifest.json");
        writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, "utf8")), format: "gaelp-checkpoint/0" }));
      },
      reason: /^manifest\.json: format is "gaelp-checkpoint\/0", expected "gaelp-checkpoint\/1"$/,
    },
    {
      what: "a manifest naming a file outside the directory",
      damage: (dir) => {
        const f = join(dir, "manifest.json");
        const m = JSON.parse(readFileSync(f, "utf8"));
        m.files["../escape"] = m.files["empty.bin"];
        writeFileSync(f, JSON.stringify(m));
      },
      reason: /^manifest\.json: files: checkpoint file name "\.\.\/escape" must be a plain file name/,
    },
  ];

  for (const { what, damage, reason } of damages) {
    it(`falls back to the previous checkpoint when the newest has ${what}, naming the problem`, () => {
      const root = freshRoot();
      for (const s of [10, 20, 30]) writeCheckpoint(root, s, small(s), { meta: { s } });
      const newest = join(root, checkpointDirName(30));
      damage(newest);
      const loaded = loadLatestCheckpoint(root)!;
      expect(loaded.info.step).toBe(20);
      expect(loaded.info.meta).toEqual({ s: 20 });
      expectSameFiles(loaded.files, small(20));
      expect(loaded.skipped).toHaveLength(1);
      expect(loaded.skipped[0].dir).toBe(newest);
      expect(loaded.skipped[0].reason).toMatch(reason);
      expect(() => loadCheckpoint(newest)).toThrow(CheckpointError);
      // the message ends with the same reason
      expect(() => loadCheckpoint(newest)).toThrow(new RegExp(`is not valid: ${reason.source.slice(1)}`));
    });
  }

  it("lists every problem of a checkpoint, and skips several damaged ones newest first", () => {
    const root = freshRoot();
    for (const s of [1, 2, 3]) writeCheckpoint(root, s, small(s));
    truncateSync(join(root, checkpointDirName(3), "weights.bin"), 0);
    rmSync(join(root, checkpointDirName(3), "config.json"));
    rmSync(join(root, checkpointDirName(2), "manifest.json"));
    const loaded = loadLatestCheckpoint(root)!;
    expect(loaded.info.step).toBe(1);
    expect(loaded.skipped.map((s) => basename(s.dir))).toEqual(["ckpt-000000003", "ckpt-000000002"]);
    expect(loaded.skipped[0].reason).toMatch(/weights\.bin: 0 bytes.*truncated.*; config\.json: missing/);
  });

  it("`only` reads and verifies just the named files: damage elsewhere is ignored, damage there skips the checkpoint", () => {
    const root = freshRoot();
    for (const s of [1, 2, 3]) writeCheckpoint(root, s, small(s));
    const names = Object.keys(small(1));
    const [keep, other] = [names[0], names[1]];
    truncateSync(join(root, checkpointDirName(3), other), 0); // not asked for: step 3 still serves
    let loaded = loadLatestCheckpoint(root, { only: [keep] })!;
    expect(loaded.info.step).toBe(3);
    expect([...loaded.files.keys()]).toEqual([keep]);
    expect(Buffer.from(loaded.files.get(keep)!).equals(Buffer.from(small(3)[keep]))).toBe(true);
    truncateSync(join(root, checkpointDirName(3), keep), 0); // asked for: falls back to step 2
    loaded = loadLatestCheckpoint(root, { only: [keep] })!;
    expect(loaded.info.step).toBe(2);
    expect(loaded.skipped[0].reason).toMatch(new RegExp(`${keep.replace(".", "\\.")}: 0 bytes`));
    // a file the manifest does not list is a reason too
    expect(() => loadLatestCheckpoint(root, { only: ["absent.bin"] })).toThrow(/absent\.bin: not in the manifest/);
  });

  it("throws a CheckpointError listing every reason when no checkpoint is valid", () => {
    const root = freshRoot();
    for (const s of [1, 2]) writeCheckpoint(root, s, small(s));
    rmSync(join(root, checkpointDirName(1), "weights.bin"));
    writeFileSync(join(root, checkpointDirName(2), "manifest.json"), "not json");
    const err = (() => {
      try {
        loadLatestCheckpoint(root);
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a CheckpointError");
    })();
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/no valid checkpoint .*2 found/);
    expect(err.message).toMatch(/ckpt-000000002: manifest\.json: not valid JSON/);
    expect(err.message).toMatch(/ckpt-000000001: weights\.bin: missing/);
  });

  it("rejects a directory renamed to another step (manifest step differs)", () => {
    const root = freshRoot();
    writeCheckpoint(root, 2, small(2));
    renameSync(join(root, checkpointDirName(2)), join(root, checkpointDirName(9)));
    expect(() => loadLatestCheckpoint(root)).toThrow(/manifest\.json: step 2 does not match the directory name \(step 9\)/);
  });
});

describe("retention and cleanup", () => {
  it("keeps the newest `keep` checkpoints (property over keep and step sequences)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 8 }), (keep, raw) => {
        const root = freshRoot();
        const written = [...raw].sort((a, b) => a - b);
        for (const s of written) writeCheckpoint(root, s, { "x.bin": Uint8Array.of(s & 255) }, { keep });
        expect(steps(root)).toEqual(written.slice(-keep));
        expect(readdirSync(root).every((d) => d.startsWith("ckpt-"))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it("keeps 3 by default", () => {
    const root = freshRoot();
    for (let s = 1; s <= 6; s++) writeCheckpoint(root, s, small(s));
    expect(steps(root)).toEqual([4, 5, 6]);
  });

  it("does not count a damaged checkpoint among the kept valid ones", () => {
    const root = freshRoot();
    for (const s of [1, 2, 3]) writeCheckpoint(root, s, small(s), { keep: 3 });
    rmSync(join(root, checkpointDirName(3), "weights.bin"));
    writeCheckpoint(root, 4, small(4), { keep: 2 });
    // 4 and 2 are the two valid ones kept; the damaged 3 sits between them; 1 is older than both
    expect(steps(root)).toEqual([2, 3, 4]);
    writeCheckpoint(root, 5, small(5), { keep: 2 });
    expect(steps(root)).toEqual([4, 5]);
  });

  it("removes stale .tmp-* debris and never returns a temp dir, even a complete-looking newer one", () => {
    const root = freshRoot();
    writeCheckpoint(root, 1, small(1));
    // a complete checkpoint copied under a temp name with a higher step, as if the rename never happened
    const fake = join(root, ".tmp-ckpt-000000005-999-abcd");
    const elsewhere = scratch.next("elsewhere");
    writeCheckpoint(elsewhere, 5, small(5));
    renameSync(join(elsewhere, checkpointDirName(5)), fake);
    writeFileSync(join(root, ".tmp-ckpt-000000004-1-0000"), "half");
    expect(steps(root)).toEqual([1]);
    expect(loadLatestCheckpoint(root)!.info.step).toBe(1);

    writeCheckpoint(root, 2, small(2));
    expect(readdirSync(root).sort()).toEqual(["ckpt-000000001", "ckpt-000000002"]);
  });

  it("on resume, re-writing step k replaces the checkpoints at and after k (damaged or not)", () => {
    const root = freshRoot();
    for (let s = 1; s <= 5; s++) writeCheckpoint(root, s, small(s), { meta: { run: "first" } });
    rmSync(join(root, checkpointDirName(5), "manifest.json")); // the crash damaged the last one
    const resumed = loadLatestCheckpoint(root)!;
    expect(resumed.info.step).toBe(4);
    // the trainer resumes from 4... but say the user resumes from 3 explicitly and re-writes 4
    expect(loadCheckpoint(join(root, checkpointDirName(3))).info.step).toBe(3);
    const other = checkpointContent(1000, SMALL);
    writeCheckpoint(root, 4, other, { meta: { run: "resumed" } });
    // 1 and 2 were pruned by the first run (keep 3); 5 is gone, 4 is the new one
    expect(steps(root)).toEqual([3, 4]);
    const latest = loadLatestCheckpoint(root)!;
    expect(latest.skipped).toEqual([]);
    expect(latest.info.meta).toEqual({ run: "resumed" });
    expectSameFiles(latest.files, other);
  });
});

describe("input validation", () => {
  it("rejects bad steps, file names, contents, keep and meta, leaving nothing on disk", () => {
    const root = freshRoot();
    const ok = { "a.bin": Uint8Array.of(1) };
    expect(() => writeCheckpoint(root, -1, ok)).toThrow(/checkpoint step must be an integer in \[0, 999999999\], got -1/);
    expect(() => writeCheckpoint(root, 1.5, ok)).toThrow(/got 1\.5/);
    expect(() => writeCheckpoint(root, 1e9, ok)).toThrow(/got 1000000000/);
    expect(() => writeCheckpoint(root, 1, { "a/b": Uint8Array.of(1) })).toThrow(/checkpoint file name "a\/b" must be a plain file name/);
    expect(() => writeCheckpoint(root, 1, { "..": Uint8Array.of(1) })).toThrow(/checkpoint file name "\.\." must be a plain file name/);
    expect(() => writeCheckpoint(root, 1, { "": Uint8Array.of(1) })).toThrow(/checkpoint file name "" must be a plain file name/);
    expect(() => writeCheckpoint(root, 1, { "manifest.json": Uint8Array.of(1) })).toThrow(/"manifest\.json" is reserved/);
    expect(() => writeCheckpoint(root, 1, { "a.bin": [1, 2] as unknown as Uint8Array })).toThrow(/checkpoint file "a\.bin" must be a Uint8Array, got \[object Array\]/);
    expect(() => writeCheckpoint(root, 1, ok, { keep: 0 })).toThrow(/keep must be an integer >= 1, got 0/);
    expect(() => writeCheckpoint(root, 1, ok, { meta: { opt: { lr: Number.NaN } } })).toThrow(/checkpoint meta\.opt\.lr is NaN/);
    expect(() => writeCheckpoint(root, 1, ok, { meta: { when: new Date() } })).toThrow(/checkpoint meta\.when is a Date/);
    expect(existsSync(root)).toBe(false);
    expect(() => loadCheckpoint(join(root, "ckpt-000000001"))).toThrow(/manifest\.json: missing/);
  });

  it("accepts Buffers and subarray views, storing only the viewed bytes", () => {
    const root = freshRoot();
    const backing = Uint8Array.from({ length: 64 }, (_, i) => i);
    const view = backing.subarray(10, 20);
    writeCheckpoint(root, 0, { "view.bin": view, "buf.bin": Buffer.from("hello") });
    const loaded = loadLatestCheckpoint(root)!;
    expect(Array.from(loaded.files.get("view.bin")!)).toEqual(Array.from(view));
    expect(Buffer.from(loaded.files.get("buf.bin")!).toString()).toBe("hello");
  });
});

describe("crash safety", () => {
  let writer: string;
  beforeAll(() => {
    const js = transpileTo(
      ROOT,
      ["trainer/fsutil.ts", "trainer/json_value.ts", "trainer/checkpoint.ts", "tests/fixtures/checkpoint_content.ts", "tests/fixtures/checkpoint_writer.ts"],
      join(scratch.root(), "js"),
    );
    writer = join(js, "tests/fixtures/checkpoint_writer.js");
  });

  /** Checks the invariant after a crash: the newest checkpoint verifies and holds its (step, run) content. */
  function expectWhole(root: string, bigBytes: number): LoadedCheckpoint {
    const loaded = loadLatestCheckpoint(root);
    expect(loaded).toBeDefined();
    // atomic writes leave no damaged checkpoint behind, only .tmp- debris the loader never reads
    expect(loaded!.skipped).toEqual([]);
    expect(basename(loaded!.info.dir)).toMatch(/^ckpt-\d{9}$/);
    const { step, run } = loaded!.info.meta as { step: number; run: number };
    expect(step).toBe(loaded!.info.step);
    expectSameFiles(loaded!.files, checkpointContent(step, bigBytes, run));
    return loaded!;
  }

  it("after SIGKILL at random moments the latest checkpoint is whole and holds what was written for its step", async () => {
    const root = freshRoot();
    const BIG = 8 * 1024 * 1024;
    const rng = seedrandom("checkpoint-crash");
    let next = 0;
    let killedMidWrite = 0;
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      const reported: number[] = [];
      let cycleMs = 200;
      let last = 0;
      const child = spawn(process.execPath, [writer, root, String(next), "500", String(BIG), "0"], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on("exit", (code, sig) => res(sig ?? code)));
      // kill after a random number (0-3) of completed writes, at a random point of the next one
      const writesFirst = round === 0 ? 0 : Math.floor(rng() * 4);
      await new Promise<void>((res) => {
        let buf = "";
        const arm = () => setTimeout(() => (child.kill("SIGKILL"), res()), rng() * cycleMs * 1.2);
        if (writesFirst === 0) arm();
        child.stdout.on("data", (d) => {
          buf += d;
          const lines = buf.split("\n");
          buf = lines.pop()!;
          for (const l of lines) {
            reported.push(Number(l.split(" ")[1]));
            const now = performance.now();
            if (last > 0) cycleMs = now - last;
            last = now;
            if (reported.length === writesFirst) arm();
          }
        });
        void exited.then(() => res());
      });
      expect(await exited, `writer exit (stderr: ${stderr})`).toBe("SIGKILL");
      if (existsSync(root) && readdirSync(root).some((d) => d.startsWith(".tmp-"))) killedMidWrite++;

      const lastReported = reported.length > 0 ? reported[reported.length - 1] : next - 1;
      if (lastReported < 0 && loadLatestCheckpoint(root) === undefined) continue; // killed before its first write finished
      const loaded = expectWhole(root, BIG);
      // everything reported is there; at most one more write completed before the kill landed
      expect(loaded.info.step).toBeGreaterThanOrEqual(lastReported);
      expect(loaded.info.step).toBeLessThanOrEqual(lastReported + 1);
      next = loaded.info.step + 1; // resume after it, as the trainer does
    }
    expect(next).toBeGreaterThanOrEqual(4); // the kills let real progress happen between them
    console.log(`checkpoint crash test: ${next} steps written over ${ROUNDS} kills, ${killedMidWrite} kills left .tmp- debris`);
  }, 120_000);

  it("a SIGKILL before any file-system call of a resumed write (step 3 over 2,3,4) leaves a whole checkpoint", async () => {
    const base = freshRoot();
    const BIG = 1024;
    for (const s of [1, 2, 3, 4]) writeCheckpoint(base, s, checkpointContent(s, BIG, 0), { meta: { step: s, run: 0 } });
    const runChild = (root: string, env: Record<string, string>) =>
      new Promise<{ out: string; exit: NodeJS.Signals | number | null; err: string }>((res) => {
        const child = spawn(process.execPath, [writer, root, "3", "1", String(BIG), "1"], { env: { ...process.env, ...env } });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("exit", (code, sig) => res({ out, exit: sig ?? code, err }));
      });
    const copy = (to: string) => {
      mkdirSync(dirname(to), { recursive: true });
      cpSync(base, to, { recursive: true });
      return to;
    };
    const counted = await runChild(copy(freshRoot()), { GAELP_COUNT_FS_OPS: "1" });
    expect(counted.exit, counted.err).toBe(0);
    const ops = Number(/ops (\d+)/.exec(counted.out)![1]);
    expect(ops).toBeGreaterThan(20);
    const seen = new Set<string>();
    for (let k = 1; k <= ops; k++) {
      const root = copy(freshRoot());
      const r = await runChild(root, { GAELP_DIE_AT_FS_OP: String(k) });
      expect(r.exit, `op ${k}: ${r.err}`).toBe("SIGKILL");
      const loaded = expectWhole(root, BIG);
      const { step, run } = loaded.info.meta as { step: number; run: number };
      seen.add(`${step}/${run}`);
      // checkpoint 2 is older than the resumed step and is never touched
      expect(loaded.info.step).toBeGreaterThanOrEqual(2);
      expectSameFiles(loadCheckpoint(join(root, checkpointDirName(2))).files, checkpointContent(2, BIG, 0));
    }
    // the cut points cover the old newest (before the discard), the fallback and the new checkpoint
    expect([...seen].sort()).toEqual(["2/0", "3/1", "4/0"]);
  }, 120_000);
});
