// Loads the compiled world core once per thread and exposes its exports with typed-array views.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

export type WasmTarget = "release" | "debug";

export interface CoreExports {
  memory: WebAssembly.Memory;
  paramsPtr(): number;
  scratch(bytes: number): number;
  auctionBatch(
    count: number, n: number, bids: number, quality: number, mechanism: number, slots: number,
    reserve: number, qualityWeighted: number, winners: number, prices: number, filled: number,
  ): void;
  benchAuctions(count: number, n: number, mechanism: number, slots: number, seed: number): number;
  [name: string]: unknown;
}

/** Folder holding release.wasm and debug.wasm, whether running from sources (tsx/vitest) or dist/. */
export function wasmBuildDir(): string {
  if (process.env.GAELP_WASM_DIR) return resolve(process.env.GAELP_WASM_DIR);
  const here = dirname(fileURLToPath(import.meta.url));
  // sources: <root>/wasm/loader.ts ; compiled: <root>/dist/wasm/loader.js
  const root = here.endsWith("/dist/wasm") ? resolve(here, "../..") : resolve(here, "..");
  return resolve(root, "wasm/build");
}

const moduleCache = new Map<WasmTarget, WebAssembly.Module>();

export function compileCore(target: WasmTarget = "release"): WebAssembly.Module {
  let mod = moduleCache.get(target);
  if (!mod) {
    const file = resolve(wasmBuildDir(), `${target}.wasm`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      throw new Error(`gaelp: ${file} is missing; run \`npm run build:wasm\` (npm install does this)`);
    }
    mod = new WebAssembly.Module(bytes as unknown as BufferSource);
    moduleCache.set(target, mod);
  }
  return mod;
}

/** A fresh instance (its own linear memory): one per env or worker. */
export function instantiateCore(target: WasmTarget = "release"): CoreExports {
  const mod = compileCore(target);
  let memory: WebAssembly.Memory | undefined;
  const instance = new WebAssembly.Instance(mod, {
    env: {
      abort(msg: number, file: number, line: number, col: number): never {
        throw new Error(`gaelp wasm abort at ${line}:${col} (msg ptr ${msg}, file ptr ${file}); memory ${memory?.buffer.byteLength}`);
      },
      seed(): number {
        return 0;
      },
    },
  });
  const ex = instance.exports as unknown as CoreExports;
  memory = ex.memory;
  return ex;
}
