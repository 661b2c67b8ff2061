// Many worlds in one WASM instance with Gymnasium vector semantics. One step = one decision per
// world: each world resolves our pending bid and runs its own clock forward to its next auction
// where our campaign is eligible. Autoreset is same-step (as EnvPool/PufferLib): when a flight
// ends, the returned observation already belongs to the next flight of the same world (users
// persist), and the finished flight's statistics are kept in statsOf(w, "last").
import * as L from "../wasm/layout.js";
import { instantiateCore, type CoreExports, type WasmTarget } from "../wasm/loader.js";
import { resolveConfig, type GaelpConfig } from "./config.js";
import { writeParams } from "./params.js";
import { worldSeed, assertSeed } from "./seeds.js";
import { OBS_LOW, OBS_HIGH } from "./features.js";
import { box, discrete, type BoxSpace, type DictSpace } from "./spaces.js";
import { validateRivalParams, validateBudgetScale, writeRivalRows, rivalTotals, type WorldSettings } from "./world_settings.js";

export interface BidAction {
  /** dollars per impression, in [0, config.campaign.bidMax] */
  bid: Float32Array;
  /** index into config.campaign.creatives */
  creative: Int32Array;
}

export interface StepBuffers {
  obs: Float32Array; // numEnvs * OBS_DIM
  reward: Float32Array; // numEnvs
  terminated: Uint8Array; // numEnvs
  truncated: Uint8Array; // numEnvs
  info: Float64Array; // numEnvs * INFO_DIM
}

export type StepResult = [Float32Array, Float32Array, Uint8Array, Uint8Array, Float64Array];

export interface VectorEnvOptions {
  config?: GaelpConfig;
  numWorlds: number;
  seed: number;
  /** seed stream (e.g. iteration) mixed into every world seed */
  stream?: number;
  /** global index of this env's first world, so split envs reproduce one big env */
  worldOffset?: number;
  wasm?: WasmTarget;
}

export type StatsBlock = "episode" | "last" | "total";

export interface Touchpoint {
  hour: number; advertiser: number; channel: number; clicked: boolean;
  decisionId: number; creative: number; device: number; slot: number;
}

export interface UserView {
  segment: number; stage: number; journeyStart: number; journeyTouches: number; ringCount: number;
  lastTouch: number; devices: number; linkedMask: number;
}
const STATS_OFFSET: Record<StatsBlock, number> = {
  episode: L.H_STATS_EPISODE,
  last: L.H_STATS_LAST_EPISODE,
  total: L.H_STATS_TOTAL,
};

const WORLD_ERRORS = ["", "not a gaelp world (bad magic)", "made by another layout version", "made with a different shape (users, ring size, rivals or creatives)", "not started or not at a decision"];

export class VectorEnv {
  readonly numEnvs: number;
  readonly config: GaelpConfig;
  readonly singleObservationSpace: BoxSpace;
  readonly observationSpace: BoxSpace;
  readonly singleActionSpace: DictSpace;
  readonly actionSpace: DictSpace;
  readonly autoresetMode = "same-step" as const;

  private readonly core: CoreExports;
  private readonly worldBytes: number;
  private seed: number;
  private readonly stream: number;
  private readonly worldOffset: number;
  private started = false;
  private worldStarted!: Uint8Array;
  private view!: {
    buf: ArrayBuffer;
    obs: Float32Array;
    bid: Float32Array;
    creative: Int32Array;
    reward: Float32Array;
    terminated: Uint8Array;
    truncated: Uint8Array;
    info: Float64Array;
    u8: Uint8Array;
    out: StepBuffers;
    action: BidAction;
  };

  static create(opts: VectorEnvOptions): VectorEnv {
    return new VectorEnv(opts);
  }

  constructor(opts: VectorEnvOptions) {
    if (!Number.isInteger(opts.numWorlds) || opts.numWorlds < 1 || opts.numWorlds > 65536) {
      throw new RangeError(`numWorlds must be an integer in [1, 65536], got ${opts.numWorlds}`);
    }
    assertSeed(opts.seed);
    this.numEnvs = opts.numWorlds;
    this.config = opts.config ?? resolveConfig();
    this.seed = opts.seed;
    this.stream = opts.stream ?? 0;
    this.worldOffset = opts.worldOffset ?? 0;
    assertSeed(this.stream, "stream");
    assertSeed(this.worldOffset, "worldOffset");
    this.worldStarted = new Uint8Array(opts.numWorlds);
    this.core = instantiateCore(opts.wasm ?? "release");
    const params = new Float64Array(this.core.memory.buffer, this.core.paramsPtr(), L.PARAMS_F64);
    writeParams(this.config, this.numEnvs, params);
    this.worldBytes = (this.core.configure as () => number)();
    this.refreshViews();
    const n = this.numEnvs;
    this.singleObservationSpace = box(OBS_LOW, OBS_HIGH, [L.OBS_DIM]);
    this.observationSpace = box(OBS_LOW, OBS_HIGH, [n, L.OBS_DIM]);
    const bidMax = this.config.campaign.bidMax;
    const nc = this.config.campaign.creatives.length;
    this.singleActionSpace = { kind: "dict", spaces: { bid: box([0], [bidMax], [1]), creative: discrete(nc) } };
    this.actionSpace = { kind: "dict", spaces: { bid: box([0], [bidMax], [n]), creative: discrete(nc, [n]) } };
  }

  /** The env's own output buffers: views on the WASM io region, rewritten in place by every
   *  reset and step (no copy). Pass your own StepBuffers to step() to keep a copy instead. */
  get buffers(): StepBuffers {
    this.refreshViews();
    return this.view.out;
  }

  /** The env's own action buffers (views on WASM memory): writing actions here and passing
   *  `env.actions` to step() skips the copy. */
  get actions(): BidAction {
    this.refreshViews();
    return this.view.action;
  }

  private refreshViews(): void {
    // growing WASM memory detaches the old buffer, so a live view means nothing to refresh
    // (cheaper than reading memory.buffer on every step)
    if (this.view !== undefined && this.view.buf.byteLength !== 0) return;
    const buf = this.core.memory.buffer as ArrayBuffer;
    const c = this.core as unknown as Record<string, () => number>;
    const n = this.numEnvs;
    this.view = {
      buf,
      obs: new Float32Array(buf, c.obsPtr(), n * L.OBS_DIM),
      bid: new Float32Array(buf, c.bidPtr(), n),
      creative: new Int32Array(buf, c.creativePtr(), n),
      reward: new Float32Array(buf, c.rewardPtr(), n),
      terminated: new Uint8Array(buf, c.terminatedPtr(), n),
      truncated: new Uint8Array(buf, c.truncatedPtr(), n),
      info: new Float64Array(buf, c.infoPtr(), n * L.INFO_DIM),
      u8: new Uint8Array(buf),
    } as typeof this.view;
    const v = this.view;
    v.out = { obs: v.obs, reward: v.reward, terminated: v.terminated, truncated: v.truncated, info: v.info };
    v.action = { bid: v.bid, creative: v.creative };
  }

  private copyOut(out: StepBuffers): StepResult {
    const v = this.view;
    if (out === v.out) return [v.obs, v.reward, v.terminated, v.truncated, v.info];
    out.obs.set(v.obs);
    out.reward.set(v.reward);
    out.terminated.set(v.terminated);
    out.truncated.set(v.truncated);
    out.info.set(v.info);
    return [out.obs, out.reward, out.terminated, out.truncated, out.info];
  }

  private checkOut(out: StepBuffers): void {
    if (out === this.view.out) return;
    const n = this.numEnvs;
    const want: [keyof StepBuffers, Function, number][] = [
      ["obs", Float32Array, n * L.OBS_DIM], ["reward", Float32Array, n], ["terminated", Uint8Array, n],
      ["truncated", Uint8Array, n], ["info", Float64Array, n * L.INFO_DIM],
    ];
    for (const [k, type, len] of want) {
      const a = out[k];
      if (!(a instanceof type) || a.length !== len) {
        throw new TypeError(`out.${k} must be a ${type.name} of length ${len}, got ${a?.constructor?.name ?? a} of length ${(a as { length?: number })?.length}`);
      }
    }
  }

  /** Starts every world afresh from its derived seed (the root seed unless `seed` is given). */
  reset(opts: { seed?: number } = {}, out?: StepBuffers): [Float32Array, Float64Array] {
    const seed = opts.seed ?? this.seed;
    assertSeed(seed);
    this.refreshViews();
    if (out) this.checkOut(out);
    const reset = this.core.resetWorld as (w: number, lo: number, hi: number) => void;
    (this.core.clearStalled as () => void)();
    for (let w = 0; w < this.numEnvs; w++) {
      const [lo, hi] = worldSeed(seed, this.worldOffset + w, this.stream);
      reset(w, lo, hi);
    }
    this.seed = seed;
    this.worldStarted.fill(1);
    this.checkStalled((this.core.isStalled as () => number)());
    this.started = true;
    this.refreshViews();
    const [obs, , , , info] = this.copyOut(out ?? this.view.out);
    return [obs, info];
  }

  step(action: BidAction, out?: StepBuffers): StepResult {
    if (!this.started) throw new Error("VectorEnv: call reset() before step()");
    this.refreshViews();
    const v = this.view;
    if (out) this.checkOut(out);
    this.validateAction(action);
    if (action.bid !== v.bid) v.bid.set(action.bid);
    if (action.creative !== v.creative) v.creative.set(action.creative);
    this.checkStalled((this.core.stepWorlds as (a: number, b: number) => number)(0, this.numEnvs));
    return this.copyOut(out ?? v.out);
  }

  private checkStalled(stalled: number): void {
    if (stalled !== 0) {
      this.started = false;
      throw new Error("VectorEnv: a world ran 5 years without an auction our campaign may bid in; check market.activityScale, population.segments.*.sessionsPerDay, campaign.channels and budgets");
    }
  }

  private validateAction(action: BidAction): void {
    const n = this.numEnvs;
    if (action === null || typeof action !== "object") throw new TypeError("action must be { bid: Float32Array, creative: Int32Array }");
    const { bid, creative } = action;
    if (!(bid instanceof Float32Array) || bid.length !== n) {
      throw new TypeError(`action.bid must be a Float32Array of length ${n}, got ${bid?.constructor?.name ?? typeof bid}${bid && "length" in bid ? ` of length ${bid.length}` : ""}`);
    }
    if (!(creative instanceof Int32Array) || creative.length !== n) {
      throw new TypeError(`action.creative must be an Int32Array of length ${n}, got ${creative?.constructor?.name ?? typeof creative}${creative && "length" in creative ? ` of length ${creative.length}` : ""}`);
    }
    const bidMax = this.config.campaign.bidMax;
    const high = Math.fround(bidMax); // the action space's bound as a float32 bid can hold it
    const nc = this.config.campaign.creatives.length;
    for (let i = 0; i < n; i++) {
      const b = bid[i];
      if (!(b >= 0 && b <= high)) throw new RangeError(`action.bid[${i}] = ${b} is outside [0, ${bidMax}] (campaign.bidMax)`);
      const c = creative[i];
      if (c < 0 || c >= nc) throw new RangeError(`action.creative[${i}] = ${c} is outside [0, ${nc - 1}] (campaign.creatives)`);
    }
  }

  private worldSlice(w: number, offset: number, length: number): Float64Array {
    if (!Number.isInteger(w) || w < 0 || w >= this.numEnvs) throw new RangeError(`world must be an integer in [0, ${this.numEnvs - 1}], got ${w}`);
    this.refreshViews();
    const base = (this.core.worldPtr as (w: number) => number)(w);
    return new Float64Array(this.view.buf, base + offset, length);
  }

  /** A copy of a world's statistics block (indices S_* in wasm/layout.ts). */
  statsOf(w: number, block: StatsBlock = "total"): Float64Array {
    const off = STATS_OFFSET[block];
    if (!Object.hasOwn(STATS_OFFSET, block)) throw new RangeError(`block must be one of ${Object.keys(STATS_OFFSET).join(", ")}, got ${block}`);
    const out = this.worldSlice(w, off, L.NUM_STATS).slice();
    if (block === "total") {
      // the core keeps the closed flights' totals; the current block completes them
      const current = this.worldSlice(w, L.H_STATS_EPISODE, L.NUM_STATS);
      for (let i = 0; i < L.NUM_STATS; i++) out[i] += current[i];
    }
    return out;
  }

  /** A copy of world w's rival outcome totals over its life: rivals x RIVAL_STATS (RS_* in wasm/layout.ts). */
  rivalStatsOf(w: number): Float64Array {
    this.worldSlice(w, 0, 0);
    const base = (this.core.worldPtr as (w: number) => number)(w);
    return rivalTotals(this.view.buf, base, this.config.rivals.length).slice();
  }

  /** Changes world w between steps: its rival rows and/or our budget scale (env/world_settings.ts);
   *  both persist in its state. Re-emits its pending observation (budget features) into `out`. */
  applySettings(w: number, settings: WorldSettings, out?: StepBuffers): void {
    if (!this.started) throw new Error("VectorEnv: call reset() before applySettings()");
    this.worldSlice(w, 0, 0);
    if (out) this.checkOut(out);
    const rows = settings.rivalParams === undefined ? undefined : validateRivalParams(settings.rivalParams, this.config.rivals.length, "settings.rivalParams");
    const scale = settings.budgetScale === undefined ? -1 : validateBudgetScale(settings.budgetScale, this.config, "settings.budgetScale");
    const base = (this.core.worldPtr as (w: number) => number)(w);
    if (rows) writeRivalRows(this.view.buf, base, rows);
    (this.core.applySettings as (w: number, scale: number) => void)(w, scale);
    if (out) this.copyReemitted(w, out);
  }

  /** World w's re-emitted observation and info into `out` (the env's own buffers already hold them). */
  private copyReemitted(w: number, out: StepBuffers): void {
    out.obs.set(this.view.obs.subarray(w * L.OBS_DIM, (w + 1) * L.OBS_DIM), w * L.OBS_DIM);
    out.info.set(this.view.info.subarray(w * L.INFO_DIM, (w + 1) * L.INFO_DIM), w * L.INFO_DIM);
    out.reward[w] = 0;
    out.terminated[w] = 0;
    out.truncated[w] = 0;
  }

  /** Conversion-delay histogram in hourly bins (hours from first touch), credit-weighted. */
  delayHistogram(w: number, which: "all" | "ours" = "all"): Float64Array {
    return this.worldSlice(w, which === "all" ? L.H_DELAY_HIST_ALL : L.H_DELAY_HIST_OURS, L.DELAY_BINS).slice();
  }

  /** Our credited dollars by [model * NUM_CHANNELS + channel] over the world's life. */
  attributionSplit(w: number): Float64Array {
    return this.worldSlice(w, L.H_ATTR_SPLIT, L.NUM_ATTRIBUTION_MODELS * L.NUM_CHANNELS).slice();
  }

  /** The world's whole persistent state (users, journeys, rivals, RNG, pending decision). */
  serializeWorld(w: number): Uint8Array {
    if (!this.started) throw new Error("VectorEnv: call reset() before serializeWorld()");
    this.worldSlice(w, 0, 0);
    const base = (this.core.worldPtr as (w: number) => number)(w);
    return this.view.u8.slice(base, base + this.worldBytes);
  }

  /** Replaces world w with serialised bytes and re-emits its pending observation into `out`. */
  restoreWorld(w: number, bytes: Uint8Array, out?: StepBuffers): void {
    this.worldSlice(w, 0, 0);
    if (out) this.checkOut(out);
    if (!(bytes instanceof Uint8Array) || bytes.length !== this.worldBytes) {
      throw new RangeError(`world state must be a Uint8Array of ${this.worldBytes} bytes for this config, got ${bytes?.length} bytes`);
    }
    const base = (this.core.worldPtr as (w: number) => number)(w);
    const saved = this.view.u8.slice(base, base + this.worldBytes);
    this.view.u8.set(bytes, base);
    const code = (this.core.checkWorld as (w: number) => number)(w);
    if (code !== 0) {
      this.view.u8.set(saved, base);
      throw new Error(`cannot restore world ${w}: the state is ${WORLD_ERRORS[code] ?? `invalid (code ${code})`}`);
    }
    (this.core.reemitWorld as (w: number) => void)(w);
    this.worldStarted[w] = 1;
    this.started = this.worldStarted.every((x) => x === 1);
    if (!out) return; // the env's own buffers are the io region reemitWorld just wrote
    this.checkOut(out);
    this.copyReemitted(w, out);
  }

  /** Credits of user u's current journey touchpoints under an attribution model (index into
   *  ATTRIBUTION_MODELS) for a conversion at `hour`, oldest touchpoint first. */
  attributeUser(w: number, u: number, model: number, hour: number): Float64Array {
    this.checkUser(w, u);
    const n = (this.core.attributeUser as (w: number, u: number, m: number, h: number) => number)(w, u, model, hour);
    this.refreshViews();
    return new Float64Array(this.view.buf, (this.core.creditPtr as () => number)(), n).slice();
  }

  /** User u's journey touchpoints, oldest first (inspection; not for the hot path). */
  touchpoints(w: number, u: number): Touchpoint[] {
    this.checkUser(w, u);
    const n = this.user(w, u).ringCount;
    const f = this.core.touchpoint as (w: number, u: number, i: number, field: number) => number;
    return Array.from({ length: n }, (_, i) => ({
      hour: f(w, u, i, 0), advertiser: f(w, u, i, 1), channel: f(w, u, i, 2), clicked: f(w, u, i, 3) === 1,
      decisionId: f(w, u, i, 5), creative: f(w, u, i, 6), device: f(w, u, i, 7), slot: f(w, u, i, 8),
    }));
  }

  /** Hidden state of user u (inspection; the agent never sees this). */
  user(w: number, u: number): UserView {
    this.checkUser(w, u);
    const f = this.core.userField as (w: number, u: number, field: number) => number;
    return {
      segment: f(w, u, 0), stage: f(w, u, 1), journeyStart: f(w, u, 2), journeyTouches: f(w, u, 3),
      ringCount: f(w, u, 4), lastTouch: f(w, u, 5), devices: f(w, u, 6), linkedMask: f(w, u, 7),
    };
  }

  /** 0 when world w's per-segment user partition is consistent; a violation code otherwise. */
  checkSegmentLists(w: number): number {
    this.worldSlice(w, 0, 0);
    return (this.core.checkSegmentLists as (w: number) => number)(w);
  }

  private checkUser(w: number, u: number): void {
    this.worldSlice(w, 0, 0);
    const n = this.config.population.users;
    if (!Number.isInteger(u) || u < 0 || u >= n) throw new RangeError(`user must be an integer in [0, ${n - 1}], got ${u}`);
  }

  get bytesPerWorld(): number {
    return this.worldBytes;
  }

  close(): void {
    this.started = false;
  }
}
