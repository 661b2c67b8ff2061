// Plain-TypeScript reference of the whole gaelp world core (wasm/assembly), for reading the kernel
// in ordinary JS, for the parity test (tests/world_reference.test.ts: same seeds and bids -> same
// world bytes and outputs) and for the `world.wasm_over_ts` benchmark (bench/world_reference.bench.ts).
//
// Mirrors, one file per module and function for function, the AssemblyScript modules reachable
// from configure(), resetWorld() and stepWorlds():
//   rng.ts params.ts mem.ts state.ts tables.ts clock.ts users.ts journey.ts conversion.ts
//   attribution.ts market.ts auction.ts pacing.ts observation.ts world.ts, and the exports of index.ts
// as synced with wasm/assembly at LAYOUT_VERSION 15 (rival outcome statistics, budget scale,
// applySettings and resampleMarket). memory.ts stands in for the
// compiler's builtins (load/store, memory.fill/copy/data). Not mirrored: benchrng.ts, the auction
// batch/bench exports and the inspection exports (attributeUser, touchpoint, userField, ...).
// When wasm/assembly changes, this folder needs the same change, or the parity test fails.
//
// Translation rules: i32 stays i32 with `| 0` / truncSatI32, u32 with `>>> 0`, f32 with Math.fround
// or a Float32Array store, f64 is a JS number; the u64 SplitMix64 state is two u32 halves (no
// BigInt); the i32x4 event scan in journey.ts is a scalar loop with the same result; Math.exp/log/
// pow/sin/cos/log1p are V8's, where the kernel uses AssemblyScript's musl ports (they may differ
// in the last ulp).
//
// Memory: one ArrayBuffer per core holds static data (the kernel's memory.data tables), then the
// params block at PARAMS_BASE, the io buffers and the worlds at the offsets mem.ts computes -- the
// same offsets relative to the params block as in the wasm memory, so a world's bytes can be
// compared with (or copied to and from) the wasm core's.
import {
  PARAMS_F64, OBS_DIM, INFO_DIM, NUM_STATS, H_STATS_EPISODE, H_STATS_LAST_EPISODE, H_STATS_TOTAL, H_RIVAL_STATS, RIVAL_STATS,
} from "../../layout.js";
import { bindMemory, staticEnd } from "./memory.js";
import { setParamsPtr } from "./params.js";
import {
  computeLayout, NW, NR, WORLD_STRIDE, MEMORY_END, IO_OBS, IO_BID, IO_CREATIVE, IO_REWARD,
  IO_TERMINATED, IO_TRUNCATED, IO_INFO,
} from "./mem.js";
import { buildTables } from "./tables.js";
import {
  resetWorld, stepWorlds, checkWorld, reemitWorld, applySettings, worldPtr, stalled, setStalled,
} from "./world.js";
import { worldSeed } from "../../../env/seeds.js";

// Every module of the core has been evaluated (they are all imported above), so the static data
// is complete and the params block goes right after it.
const PARAMS_BASE = (staticEnd() + 15) & ~15;

export type StatsBlock = "episode" | "last" | "total";
const STATS_OFFSET: Record<StatsBlock, number> = {
  episode: H_STATS_EPISODE,
  last: H_STATS_LAST_EPISODE,
  total: H_STATS_TOTAL,
};

// The kernel's module state (shape, tables, the current world, the RNG) is one instance's; here
// it is module state shared by every core in the realm, so a core rebinds it when it runs after
// another core did.
let bound: TsWorldCore | null = null;

export class TsWorldCore {
  private memory: ArrayBuffer;
  private configured = false;
  private stalledFlag = 0;
  private views!: {
    obs: Float32Array;
    bid: Float32Array;
    creative: Int32Array;
    reward: Float32Array;
    terminated: Uint8Array;
    truncated: Uint8Array;
    info: Float64Array;
    u8: Uint8Array;
  };

  constructor() {
    this.memory = new ArrayBuffer(PARAMS_BASE + PARAMS_F64 * 8);
  }

  /** The params block: fill it with env/params.ts writeParams(config, numWorlds, params), then configure(). */
  get params(): Float64Array {
    return new Float64Array(this.memory, PARAMS_BASE, PARAMS_F64);
  }

  paramsPtr(): number {
    return PARAMS_BASE;
  }

  private bind(): void {
    if (bound === this) return;
    bindMemory(this.memory);
    setParamsPtr(PARAMS_BASE);
    if (this.configured) {
      computeLayout();
      buildTables();
    }
    setStalled(this.stalledFlag);
    bound = this;
  }

  /** Reads the params block, lays out the io buffers and worlds, builds the tables; returns the bytes of one world. */
  configure(): number {
    this.bind();
    computeLayout();
    // memory.grow: a bigger buffer with the old contents (static data and params)
    if (MEMORY_END > this.memory.byteLength) {
      const grown = new ArrayBuffer(MEMORY_END);
      new Uint8Array(grown).set(new Uint8Array(this.memory));
      this.memory = grown;
      bindMemory(grown);
    }
    buildTables();
    this.configured = true;
    const n = NW;
    const buf = this.memory;
    this.views = {
      obs: new Float32Array(buf, IO_OBS, n * OBS_DIM),
      bid: new Float32Array(buf, IO_BID, n),
      creative: new Int32Array(buf, IO_CREATIVE, n),
      reward: new Float32Array(buf, IO_REWARD, n),
      terminated: new Uint8Array(buf, IO_TERMINATED, n),
      truncated: new Uint8Array(buf, IO_TRUNCATED, n),
      info: new Float64Array(buf, IO_INFO, n * INFO_DIM),
      u8: new Uint8Array(buf),
    };
    return WORLD_STRIDE;
  }

  private requireConfigured(): void {
    if (!this.configured) throw new Error("TsWorldCore: configure() first");
  }

  get numWorlds(): number { this.requireConfigured(); this.bind(); return NW; }
  get worldBytes(): number { this.requireConfigured(); this.bind(); return WORLD_STRIDE; }
  get obs(): Float32Array { this.requireConfigured(); return this.views.obs; }
  get bid(): Float32Array { this.requireConfigured(); return this.views.bid; }
  get creative(): Int32Array { this.requireConfigured(); return this.views.creative; }
  get reward(): Float32Array { this.requireConfigured(); return this.views.reward; }
  get terminated(): Uint8Array { this.requireConfigured(); return this.views.terminated; }
  get truncated(): Uint8Array { this.requireConfigured(); return this.views.truncated; }
  get info(): Float64Array { this.requireConfigured(); return this.views.info; }
  /** The whole linear memory (for comparing regions with the wasm core's). */
  get buffer(): ArrayBuffer { return this.memory; }

  resetWorld(w: number, seedLo: number, seedHi: number): void {
    this.requireConfigured();
    this.bind();
    resetWorld(w, seedLo, seedHi);
    this.stalledFlag = stalled;
  }

  /** Resets every world from its derived seed, as VectorEnv.reset() does. */
  resetAll(seed: number, stream = 0, worldOffset = 0): void {
    this.requireConfigured();
    for (let w = 0; w < this.views.bid.length; w++) {
      const [lo, hi] = worldSeed(seed, worldOffset + w, stream);
      this.resetWorld(w, lo, hi);
    }
  }

  /** Steps worlds [from, to) with the actions in bid/creative; returns 1 when a world stalled. */
  stepWorlds(from: number, to: number): number {
    this.bind();
    const s = stepWorlds(from, to);
    this.stalledFlag = s;
    return s;
  }

  isStalled(): number {
    return this.stalledFlag;
  }

  worldPtr(w: number): number {
    this.requireConfigured();
    this.bind();
    return worldPtr(w);
  }

  /** A view of world w's bytes (its whole persistent state). */
  worldView(w: number): Uint8Array {
    const base = this.worldPtr(w);
    return new Uint8Array(this.memory, base, WORLD_STRIDE);
  }

  /** A copy of a world's statistics block, as VectorEnv.statsOf. */
  statsOf(w: number, block: StatsBlock = "total"): Float64Array {
    const base = this.worldPtr(w);
    const out = new Float64Array(this.memory, base + STATS_OFFSET[block], NUM_STATS).slice();
    if (block === "total") {
      const current = new Float64Array(this.memory, base + H_STATS_EPISODE, NUM_STATS);
      for (let i = 0; i < NUM_STATS; i++) out[i] += current[i];
    }
    return out;
  }

  /** A copy of world w's rival outcome totals: rivals x RIVAL_STATS (RS_* in layout.ts). */
  rivalStatsOf(w: number): Float64Array {
    const base = this.worldPtr(w);
    return new Float64Array(this.memory, base + H_RIVAL_STATS, NR * RIVAL_STATS).slice();
  }

  /** After writing rival rows into world w's header (H_RIVALS) and/or to set our budget scale (< 0 keeps it). */
  applySettings(w: number, budgetScale: number): void {
    this.requireConfigured();
    this.bind();
    applySettings(w, budgetScale);
  }

  checkWorld(w: number): number {
    this.requireConfigured();
    this.bind();
    return checkWorld(w);
  }

  reemitWorld(w: number): void {
    this.requireConfigured();
    this.bind();
    reemitWorld(w);
  }
}
