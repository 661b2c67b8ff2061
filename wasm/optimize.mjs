// Second Binaryen pass over asc's release build, with larger inlining limits.
//
// asc -O3 inlines a function into its callers only when it is tiny (at most 70 bytes of IR with
// several callers, 200 with one). The world step is a chain of mid-sized functions (resolve,
// allocate, clickProb, recordTouch, scanVisible, writeObs, the math library's exp and log) called
// once or a few times per auction, and V8 (Node 20) does not inline WASM calls either, so every
// call kept its frame set-up, spills and the reloads of globals around it. Raising the limits lets
// Binaryen inline them and optimise each caller as one body.
//
// The limits were chosen by measurement (README, "Performance"): flexible 2000 / one-caller
// 5000 ran the world about 12% and the policy about 5% faster than asc's own output, in paired runs
// on this machine; twice those limits was slower again (more code than the caches like). The
// output computes exactly what asc's did: observations, rewards, infos and world bytes are
// bit-identical (`node dist/bench/world_instructions.js 20000 --check` digest).
//
//   node wasm/optimize.mjs [in.wasm] [out.wasm] [--names]
//
// Defaults: wasm/build/release.wasm in place (and release.wat beside it). --names keeps the
// function names of a --debug build (bench/wasm_profile.ts profiles such a copy). The output is
// written to a temporary file and renamed over the target, so a failure leaves no half-written file.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "assemblyscript/binaryen";

/** Binaryen inlining limits of the second pass (sizes in Binaryen's IR measure). */
export const INLINING = { alwaysInlineMaxSize: 12, flexibleInlineMaxSize: 2000, oneCallerInlineMaxSize: 5000 };

/** The features asc compiles with for this project (asconfig.json enables SIMD on top of asc's
 *  defaults); a module using any other fails validation here. */
const FEATURES =
  binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt |
  binaryen.Features.BulkMemory | (binaryen.Features.BulkMemoryOpt ?? 0) | binaryen.Features.SIMD128;

// (trainer/fsutil.ts has writeFileAtomic, but this runs in `npm run build` before tsc compiles it)
function writeAtomic(path, data) {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Re-optimises `inPath` with the inlining limits above and writes `outPath` (and `watPath`, if given). */
export function reoptimize(inPath, outPath, { names = false, watPath } = {}) {
  const module = binaryen.readBinary(readFileSync(inPath));
  try {
    module.setFeatures(FEATURES);
    if (!module.validate()) throw new Error(`${inPath}: not a valid module for the project's features`);
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    binaryen.setDebugInfo(names);
    binaryen.setAlwaysInlineMaxSize(INLINING.alwaysInlineMaxSize);
    binaryen.setFlexibleInlineMaxSize(INLINING.flexibleInlineMaxSize);
    binaryen.setOneCallerInlineMaxSize(INLINING.oneCallerInlineMaxSize);
    binaryen.setAllowInliningFunctionsWithLoops(true);
    module.optimize();
    if (!module.validate()) throw new Error(`${inPath}: Binaryen produced an invalid module`);
    writeAtomic(outPath, module.emitBinary());
    if (watPath !== undefined) writeAtomic(watPath, module.emitText());
  } finally {
    module.dispose();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2).filter((a) => a !== "--names");
  const names = process.argv.includes("--names");
  const build = join(dirname(fileURLToPath(import.meta.url)), "build");
  const inPath = args[0] ?? join(build, "release.wasm");
  const outPath = args[1] ?? inPath;
  const watPath = args[1] === undefined ? join(build, "release.wat") : undefined;
  const before = readFileSync(inPath).length;
  reoptimize(inPath, outPath, { names, watPath });
  process.stderr.write(`wasm/optimize.mjs: ${inPath} ${before} -> ${outPath} ${readFileSync(outPath).length} bytes (inlining ${JSON.stringify(INLINING)})\n`);
}
