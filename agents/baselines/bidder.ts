// The contract every baseline bidder follows, and the two rules they all share: bids are clipped to
// the campaign's [0, bidMax] and the creative is the least-shown one on this user.
//
// Baselines act only through what the env hands a real agent (observation and info arrays); they
// never read world internals. They are vectorised over worlds and allocate nothing per step: all
// per-world state is typed arrays sized in reset().
import type { GaelpConfig } from "../../env/config.js";
import type { BidAction } from "../../env/vector_env.js";
import { F_CREATIVE_EXPOSURE, OBS_DIM } from "../../wasm/layout.js";

export interface Bidder {
  readonly name: string;
  /** Sizes per-world state for `numEnvs` worlds and reads the campaign limits from `config`. */
  reset(numEnvs: number, config: GaelpConfig): void;
  /** Writes one bid (dollars per impression) and one creative per world into `out`. */
  act(obs: Float32Array, info: Float64Array, out: BidAction): void;
  /** Sees the outcome of the last act(): `info` carries I_COST of that decision (and already
   *  describes the next opportunity). */
  observe(reward: Float32Array, terminated: Uint8Array, truncated: Uint8Array, info: Float64Array): void;
}

/** Creatives the exposure features cover (obs F_CREATIVE_EXPOSURE .. +2). */
export const OBSERVED_CREATIVES = 3;

/** How many creatives a bidder rotates over: the first min(3, configured) ones. */
export function rotatedCreatives(config: GaelpConfig): number {
  const n = config.campaign.creatives.length;
  return Math.max(1, Math.min(OBSERVED_CREATIVES, n));
}

/** Index of the least-exposed creative among the first `count` on world `w`'s user; ties go to the
 *  lowest index so the choice is deterministic. */
export function leastExposedCreative(obs: Float32Array, w: number, count: number): number {
  const base = w * OBS_DIM + F_CREATIVE_EXPOSURE;
  let best = 0;
  let bestExposure = obs[base];
  for (let k = 1; k < count; k++) {
    const e = obs[base + k];
    if (e < bestExposure) {
      best = k;
      bestExposure = e;
    }
  }
  return best;
}

/** Clips to [0, bidMax]; NaN (e.g. a missing value) bids 0 rather than poisoning the auction. */
export function clipBid(bid: number, bidMax: number): number {
  if (!(bid > 0)) return 0;
  return bid < bidMax ? bid : bidMax;
}

/** Checks the action buffers have one slot per world before a bidder writes into them. */
export function checkAction(out: BidAction, numEnvs: number, bidder: string): void {
  if (out.bid.length < numEnvs || out.creative.length < numEnvs) {
    throw new RangeError(
      `${bidder}: action buffers hold ${out.bid.length} bids and ${out.creative.length} creatives, ` +
        `need ${numEnvs} (one per world); call reset(numEnvs, config) with the env's numEnvs`,
    );
  }
}

/** Shared bookkeeping for bidders whose bid is a function of the reference value alone. */
export abstract class ValueBidder implements Bidder {
  abstract readonly name: string;
  protected numEnvs = 0;
  protected bidMax = 0;
  protected creatives = 1;

  reset(numEnvs: number, config: GaelpConfig): void {
    if (!Number.isInteger(numEnvs) || numEnvs < 1) {
      throw new RangeError(`${this.name}: numEnvs must be an integer >= 1, got ${numEnvs}`);
    }
    this.numEnvs = numEnvs;
    this.bidMax = config.campaign.bidMax;
    this.creatives = rotatedCreatives(config);
  }

  protected requireReset(): void {
    if (this.numEnvs === 0) throw new Error(`${this.name}: call reset(numEnvs, config) before act()`);
  }

  abstract act(obs: Float32Array, info: Float64Array, out: BidAction): void;

  observe(_reward: Float32Array, _terminated: Uint8Array, _truncated: Uint8Array, _info: Float64Array): void {
    // stateless
  }
}
