// The served policy: a run's newest valid checkpoint bound to its own WASM core (the forward pass
// rollouts act with, engine/wasm_policy.ts), and the bid decisions made with it.
//
// Checkpoints are loaded by run *name* only, from the runs folder the server was started with: a
// name is one path segment of [A-Za-z0-9._-], not "." or "..", so a request can never make the
// server read outside that folder. A reload builds the new binding completely (files verified
// against the checkpoint's SHA-256 manifest, WASM core instantiated, weights loaded) and only then
// swaps one reference, so requests in flight finish on the policy they started with and none is
// dropped. Reading the two policy files and instantiating the core takes a few milliseconds.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import seedrandom from "seedrandom";
import { type GaelpConfig, validateConfig } from "../env/config.js";
import { WorldRunner } from "../engine/world_runner.js";
import type { WasmPolicy } from "../engine/wasm_policy.js";
import { outputWidth } from "../agents/policy/spec.js";
import { loadCheckpointPolicy } from "../trainer/evaluate.js";
import { RUN_CONFIG_FILE, readRunConfig } from "../trainer/run_dir.js";
import type { WasmTarget } from "../wasm/loader.js";
import { OBS_DIM } from "../wasm/layout.js";
import type { PolicyProvider, ServedPolicy } from "./contracts.js";
import { HttpError } from "./errors.js";

export const RUN_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$";
const RUN_NAME_RE = new RegExp(RUN_NAME_PATTERN);

/** Throws 400 naming `field` unless `name` is a plain run name (no path, no "..", no "."). */
export function assertRunName(name: string, field: string): void {
  if (typeof name !== "string" || !RUN_NAME_RE.test(name) || name.includes("..")) {
    throw new HttpError(400, "invalid_run_name", `${field} must be the name of a run folder under the server's runs folder (letters, digits, ".", "_", "-"; no paths, no ".."), got ${JSON.stringify(name)}`, field);
  }
}

/** One decision's outputs. */
export interface Decision {
  bidLevel: number;
  creative: number;
  /** dollars, float32-rounded as the rollout places it */
  bid: number;
  multiplier: number;
  value: number;
  /** log-probability of (bidLevel, creative) under the policy's softmax heads */
  logProb: number;
}

interface Active {
  served: ServedPolicy;
  policy: WasmPolicy;
  /** bid levels as the WASM core holds them (float32) */
  levels: Float64Array;
  bidMax: number;
  nBid: number;
  nCr: number;
  width: number;
}

/** Largest logit's index (first on ties, as the WASM argmax) of n logits at `at`; its log-sum-exp
 *  is left in `lse` (two results without allocating an object per head per decision). */
let lse = 0;
function headArgmax(x: Float32Array, at: number, n: number): number {
  let arg = 0;
  let mx = x[at];
  for (let i = 1; i < n; i++) if (x[at + i] > mx) { mx = x[at + i]; arg = i; }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(x[at + i] - mx);
  lse = mx + Math.log(sum);
  return arg;
}

function sampleHead(x: Float32Array, at: number, n: number, lse: number, u: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += Math.exp(x[at + i] - lse);
    if (u < acc) return i;
  }
  return n - 1;
}

export class PolicyServer implements PolicyProvider {
  private active: Active | undefined;
  private version = 0;
  private obsBuf = new Float32Array(OBS_DIM * 256);
  private outBuf = new Float32Array(0);
  private greedyBuf = new Float32Array(0);
  private readonly rng: () => number;

  constructor(private readonly runsRoot: string, private readonly wasm: WasmTarget = "release", seed = Date.now()) {
    this.rng = seedrandom.alea(`gaelp-serve/${seed}`);
  }

  current(): ServedPolicy | undefined {
    return this.active?.served;
  }

  /**
   * Loads the newest valid checkpoint of run `name` and makes it the served policy (the previous
   * one keeps serving until the swap). Returns what is served and the damaged checkpoints skipped.
   */
  load(name: string, field = "run"): { served: ServedPolicy; skipped: { dir: string; reason: string }[] } {
    assertRunName(name, field);
    const dir = join(resolve(this.runsRoot), name);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new HttpError(404, "run_not_found", `${field}: no run folder ${JSON.stringify(name)} under the runs folder`, field);
    if (!existsSync(join(dir, RUN_CONFIG_FILE))) throw new HttpError(404, "run_not_found", `${field}: ${JSON.stringify(name)} is not a run folder (no ${RUN_CONFIG_FILE})`, field);
    let config: GaelpConfig;
    let loaded: ReturnType<typeof loadCheckpointPolicy>;
    try {
      config = validateConfig(structuredClone(readRunConfig(dir).config));
      loaded = loadCheckpointPolicy(dir);
    } catch (e) {
      throw new HttpError(409, "checkpoint_unusable", `${field}: run ${JSON.stringify(name)} has no usable checkpoint: ${(e as Error).message.replace(resolve(this.runsRoot), "<runs>")}`, field);
    }
    const spec = loaded.spec;
    if (spec.numCreatives !== config.campaign.creatives.length) {
      throw new HttpError(409, "checkpoint_unusable", `${field}: the policy chooses between ${spec.numCreatives} creatives, the run's campaign has ${config.campaign.creatives.length}`, field);
    }
    const policy = new WorldRunner(config, spec, 1, this.wasm).policy;
    const version = this.version + 1;
    policy.setWeights(loaded.weights, version);
    // warm up before the swap: the first forward pass compiles the WASM functions it calls, which
    // must not happen inside a request's deadline
    for (const n of [1, 64]) policy.forward(new Float32Array(n * OBS_DIM), n);
    const served: ServedPolicy = {
      run: name,
      step: loaded.checkpoint.step,
      version,
      spec,
      weights: loaded.weights,
      config,
      loadedAt: new Date().toISOString(),
    };
    const width = outputWidth(spec);
    this.active = {
      served,
      policy,
      levels: Float64Array.from(spec.bidLevels, Math.fround),
      bidMax: config.campaign.bidMax,
      nBid: spec.bidLevels.length,
      nCr: spec.numCreatives,
      width,
    };
    this.version = version;
    return { served, skipped: loaded.skipped.map((s) => ({ dir: s.dir.replace(resolve(this.runsRoot), "<runs>"), reason: s.reason })) };
  }

  /** The observations of the last decide() as float32, row i at i × OBS_DIM (valid until the next
   *  call): what the decision log records, without copying the request's arrays again. */
  lastObs(): Float32Array {
    return this.obsBuf;
  }

  /**
   * Decides n opportunities: obs (n rows of OBS_DIM, or one float32 block of n x OBS_DIM), reference
   * values (dollars) and caps (undefined or NaN: none); writes into
   * `out` (n decisions). Greedy takes each head's argmax; sampling draws from the softmax with
   * `rng` (the server's stream when not given).
   */
  decide(
    obs: ArrayLike<number>[] | Float32Array, refValue: ArrayLike<number>, maxBid: ArrayLike<number | undefined>, n: number,
    sample: boolean, out: Decision[], rng: () => number = this.rng,
  ): ServedPolicy {
    const a = this.active;
    if (a === undefined) throw new HttpError(503, "no_policy", "no policy is loaded: start the server with a checkpoint or POST /v1/policy/reload");
    if (this.obsBuf.length < n * OBS_DIM) this.obsBuf = new Float32Array(n * OBS_DIM * 2);
    const need = n * a.width;
    if (this.outBuf.length < need) this.outBuf = new Float32Array(need * 2);
    const ob = this.obsBuf;
    if (obs instanceof Float32Array) {
      if (obs.length !== n * OBS_DIM) throw new RangeError(`obs must hold n x ${OBS_DIM} values, got ${obs.length}`);
      ob.set(obs);
    } else {
      for (let i = 0; i < n; i++) {
        const row = obs[i];
        const at = i * OBS_DIM;
        for (let j = 0; j < OBS_DIM; j++) ob[at + j] = row[j];
      }
    }
    if (!sample) {
      // greedy (the default): argmaxes, log-probability and value in one WASM call, as rollouts act
      if (this.greedyBuf.length < n * 4) this.greedyBuf = new Float32Array(n * 8);
      const g = a.policy.decideGreedy(ob.subarray(0, n * OBS_DIM), n, this.greedyBuf.subarray(0, n * 4));
      for (let i = 0; i < n; i++) {
        const level = g[i * 4];
        const d = this.fill(a, out, i, level, g[i * 4 + 1], refValue[i], maxBid[i]);
        d.logProb = g[i * 4 + 2];
        d.value = g[i * 4 + 3];
      }
      return a.served;
    }
    const y = a.policy.forward(ob.subarray(0, n * OBS_DIM), n, this.outBuf.subarray(0, need));
    for (let i = 0; i < n; i++) {
      const at = i * a.width;
      headArgmax(y, at, a.nBid);
      const bLse = lse;
      headArgmax(y, at + a.nBid, a.nCr);
      const cLse = lse;
      const level = sampleHead(y, at, a.nBid, bLse, rng());
      const creative = sampleHead(y, at + a.nBid, a.nCr, cLse, rng());
      const d = this.fill(a, out, i, level, creative, refValue[i], maxBid[i]);
      d.value = y[at + a.nBid + a.nCr];
      d.logProb = y[at + level] - bLse + (y[at + a.nBid + creative] - cLse);
    }
    return a.served;
  }

  /** Decision i's action and bid: level x refValue, capped by the run's bidMax, float32-rounded as
   *  the rollout places it, then capped by the request's maxBid. */
  private fill(a: Active, out: Decision[], i: number, level: number, creative: number, refValue: number, cap: number | undefined): Decision {
    let bid = a.levels[level] * refValue;
    if (bid > a.bidMax) bid = a.bidMax;
    bid = Math.fround(bid);
    if (cap !== undefined && bid > cap) bid = cap;
    const d = out[i] ?? (out[i] = { bidLevel: 0, creative: 0, bid: 0, multiplier: 0, value: 0, logProb: 0 });
    d.bidLevel = level;
    d.creative = creative;
    d.bid = bid;
    d.multiplier = a.levels[level];
    return d;
  }
}
