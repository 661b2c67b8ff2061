// A temp folder per test file, removed after its tests; next() names a fresh path inside it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

export interface Scratch {
  /** the temp folder itself */
  root(): string;
  /** a path inside it not handed out before (not created): <root>/<stem><n> */
  next(stem?: string): string;
}

/** Call at the top of a test file: creates the folder before its tests, removes it after. */
export function scratchDir(prefix: string): Scratch {
  let dir: string | undefined;
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `gaelp-${prefix}-`));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const root = (): string => {
    if (!dir) throw new Error("scratchDir: used outside a test (before beforeAll ran)");
    return dir;
  };
  return { root, next: (stem = "d") => join(root(), `${stem}${n++}`) };
}
