// One place that picks the TensorFlow.js backend for the learner. Every module imports `tf` from
// "@tensorflow/tfjs"; the backend is engine-wide state, so initTf only has to register and select
// one before the first tensor is made.
//
// Preference order: tfjs-node (native TensorFlow, fastest, optional and never a dependency), then
// the wasm backend (portable SIMD, no native build), then the pure-JS cpu backend. Packages are
// located through createRequire so that the lookup follows Node's resolution from this file, and
// imported by file URL so that a package missing from node_modules is a caught error instead of a
// compile error.
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import { dirname, sep } from "node:path";
import { pathToFileURL } from "node:url";

export type Tf = typeof tf;
export type TfPreference = "node" | "wasm" | "cpu";

/** Backend names as tfjs registers them (tfjs-node registers itself as "tensorflow"). */
const BACKEND_NAME: Record<TfPreference, string> = { node: "tensorflow", wasm: "wasm", cpu: "cpu" };
const PACKAGE: Record<Exclude<TfPreference, "cpu">, string> = {
  node: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
};
const FALLBACK: Record<TfPreference, TfPreference[]> = {
  node: ["node", "wasm", "cpu"],
  wasm: ["wasm", "cpu"],
  cpu: ["cpu"],
};

const require = createRequire(import.meta.url);

/** Absolute path of a package's entry file, or null when it is not installed. */
function resolvePackage(name: string): string | null {
  try {
    return require.resolve(name);
  } catch {
    return null;
  }
}

/** Whether a backend's package can be found from here (cpu ships with @tensorflow/tfjs). */
export function tfBackendAvailable(which: TfPreference): boolean {
  return which === "cpu" || resolvePackage(PACKAGE[which]) !== null;
}

const registered = new Set<TfPreference>(["cpu"]);

/** Loads a backend package once; false when it is missing or cannot serve this tfjs instance. */
async function register(which: TfPreference): Promise<boolean> {
  if (registered.has(which)) return true;
  if (which === "cpu") return true;
  const entry = resolvePackage(PACKAGE[which]);
  if (entry === null) return false;
  try {
    const mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    if (which === "wasm") {
      // Emscripten looks for the .wasm binaries beside the *calling* script by default, which is
      // wrong once bundled or run from dist/; they ship in the package's dist folder beside its entry.
      const setWasmPaths = mod.setWasmPaths as ((prefix: string) => void) | undefined;
      if (typeof setWasmPaths !== "function") return false;
      setWasmPaths(dirname(entry) + sep);
    }
  } catch {
    return false;
  }
  // A tfjs-node built against another copy of tfjs-core registers into that copy's engine, not ours;
  // then its backend is invisible here and selecting it would fail later with a confusing error.
  if (tf.findBackendFactory(BACKEND_NAME[which]) == null) return false;
  registered.add(which);
  return true;
}

export interface TfHandle {
  tf: Tf;
  /** the selected backend as tfjs names it: "tensorflow" (tfjs-node), "wasm" or "cpu" */
  backend: string;
}

let current: { key: string; handle: Promise<TfHandle> } | null = null;

/**
 * Selects the best available backend, starting at `prefer` (default "node") and falling back along
 * node -> wasm -> cpu. Idempotent: repeated calls with the same preference share one result; a call
 * with a different preference re-selects (tensors already made stay readable, tfjs moves them).
 * Silent unless `verbose`: tfjs's own warnings (e.g. the "install tfjs-node" banner) go through its
 * PROD flag, which this sets.
 */
export function initTf(prefer: TfPreference = "node", opts: { verbose?: boolean } = {}): Promise<TfHandle> {
  const key = prefer;
  if (current?.key === key) return current.handle;
  const handle = select(prefer, opts.verbose === true);
  current = { key, handle };
  // A failed selection must not stick: the next call tries again.
  handle.catch(() => {
    if (current?.handle === handle) current = null;
  });
  return handle;
}

async function select(prefer: TfPreference, verbose: boolean): Promise<TfHandle> {
  if (!verbose) tf.enableProdMode();
  const tried: string[] = [];
  for (const which of FALLBACK[prefer]) {
    if (!(await register(which))) {
      tried.push(`${which}: ${PACKAGE[which as Exclude<TfPreference, "cpu">]} not installed or not usable`);
      continue;
    }
    // setBackend resolves false (rather than throwing) when the backend fails to initialise,
    // e.g. a wasm binary that cannot be fetched.
    if (await tf.setBackend(BACKEND_NAME[which])) {
      await tf.ready();
      return { tf, backend: tf.getBackend() };
    }
    tried.push(`${which}: backend "${BACKEND_NAME[which]}" failed to initialise`);
  }
  throw new Error(`initTf: no TensorFlow.js backend could be selected (${tried.join("; ")})`);
}
