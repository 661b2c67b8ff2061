// Child processes run plain JS: this transpiles the TS sources a test needs (no type check; tsc
// does that for the project) into a temp dir with the same relative layout, so relative ".js"
// imports resolve and the child runs exactly the sources under test, not a possibly stale dist/.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

/** Transpiles `files` (paths relative to `root`) into `outDir`; returns outDir. */
export function transpileTo(root: string, files: string[], outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  for (const file of files) {
    const out = ts.transpileModule(readFileSync(resolve(root, file), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const target = join(outDir, file.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out.outputText);
  }
  return outDir;
}
