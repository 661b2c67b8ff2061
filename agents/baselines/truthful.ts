// Truthful value bidder: bids the reference value of the opportunity. In a second-price auction
// without a budget this is the dominant strategy, so it is the yardstick the others are read against.
import type { BidAction } from "../../env/vector_env.js";
import { INFO_DIM, I_REF_VALUE_DOLLARS } from "../../wasm/layout.js";
import { ValueBidder, checkAction, clipBid, leastExposedCreative } from "./bidder.js";
import type { ParamSpecs } from "./params.js";

export const TRUTHFUL_PARAMS = {} as const satisfies ParamSpecs;

export class TruthfulBidder extends ValueBidder {
  readonly name = "truthful";

  act(obs: Float32Array, info: Float64Array, out: BidAction): void {
    this.requireReset();
    checkAction(out, this.numEnvs, this.name);
    for (let w = 0; w < this.numEnvs; w++) {
      out.bid[w] = clipBid(info[w * INFO_DIM + I_REF_VALUE_DOLLARS], this.bidMax);
      out.creative[w] = leastExposedCreative(obs, w, this.creatives);
    }
  }
}
