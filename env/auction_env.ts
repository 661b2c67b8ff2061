// One world with the Gymnasium single-env API: reset({seed}) -> [obs, info],
// step({bid, creative}) -> [obs, reward, terminated, truncated, info].
// Terminated: the flight budget is exhausted. Truncated: the flight's last hour passed.
// Autoreset is same-step, as in VectorEnv: the obs after a done starts the next flight.
import * as L from "../wasm/layout.js";
import type { GaelpConfig } from "./config.js";
import type { WasmTarget } from "../wasm/loader.js";
import { VectorEnv, type StatsBlock } from "./vector_env.js";
import type { BoxSpace, DictSpace } from "./spaces.js";

export interface StepInfo {
  cost: number; won: boolean; clicked: boolean; slot: number;
  /** context of the returned observation */
  channel: number; segment: number; decisionId: number; hour: number; user: number;
  importance: number; refValue: number; episode: number;
  creditedValue: number; opportunities: number; terminalKind: number;
}

export function decodeInfo(info: Float64Array, w = 0): StepInfo {
  const o = w * L.INFO_DIM;
  return {
    cost: info[o + L.I_COST], won: info[o + L.I_WON] === 1, clicked: info[o + L.I_CLICKED] === 1,
    slot: info[o + L.I_SLOT], channel: info[o + L.I_CHANNEL], segment: info[o + L.I_SEGMENT],
    decisionId: info[o + L.I_DECISION_ID], hour: info[o + L.I_HOUR], user: info[o + L.I_USER],
    importance: info[o + L.I_IMPORTANCE], refValue: info[o + L.I_REF_VALUE_DOLLARS], episode: info[o + L.I_EPISODE],
    creditedValue: info[o + L.I_CREDITED_VALUE], opportunities: info[o + L.I_OPPORTUNITIES],
    terminalKind: info[o + L.I_TERMINAL_KIND],
  };
}

export class AuctionEnv {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: DictSpace;
  readonly config: GaelpConfig;
  private readonly vec: VectorEnv;
  private readonly bid = new Float32Array(1);
  private readonly creative = new Int32Array(1);

  constructor(opts: { config?: GaelpConfig; seed?: number; wasm?: WasmTarget } = {}) {
    this.vec = VectorEnv.create({ config: opts.config, numWorlds: 1, seed: opts.seed ?? 0, wasm: opts.wasm });
    this.config = this.vec.config;
    this.observationSpace = this.vec.singleObservationSpace;
    this.actionSpace = this.vec.singleActionSpace;
  }

  reset(opts: { seed?: number } = {}): [Float32Array, StepInfo] {
    const [obs, info] = this.vec.reset(opts);
    return [obs.slice(), decodeInfo(info)];
  }

  step(action: { bid: number; creative?: number }): [Float32Array, number, boolean, boolean, StepInfo] {
    if (action === null || typeof action !== "object" || typeof action.bid !== "number") {
      throw new TypeError("action must be { bid: number, creative?: number }");
    }
    const creative = action.creative ?? 0;
    if (!Number.isInteger(creative) || creative < 0 || creative >= this.config.campaign.creatives.length) throw new RangeError(`action.creative must be an integer in [0, ${this.config.campaign.creatives.length - 1}] (campaign.creatives), got ${creative}`);
    this.bid[0] = action.bid;
    this.creative[0] = creative;
    const [obs, reward, term, trunc, info] = this.vec.step({ bid: this.bid, creative: this.creative });
    return [obs.slice(), reward[0], term[0] === 1, trunc[0] === 1, decodeInfo(info)];
  }

  stats(block: StatsBlock = "total"): Float64Array {
    return this.vec.statsOf(0, block);
  }

  serialize(): Uint8Array {
    return this.vec.serializeWorld(0);
  }

  restore(bytes: Uint8Array): Float32Array {
    this.vec.restoreWorld(0, bytes);
    return this.vec.buffers.obs.slice();
  }

  close(): void {
    this.vec.close();
  }
}
