// Constant bidder: the same bid on every opportunity, whatever it is worth. A floor for any learner.
import type { BidAction } from "../../env/vector_env.js";
import { ValueBidder, checkAction, clipBid, leastExposedCreative } from "./bidder.js";
import type { ParamSpecs, ParamValues } from "./params.js";

export const FIXED_PARAMS = {
  bid: {
    default: 1,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    unit: "dollars",
    description: "bid per impression in dollars (clipped to campaign.bidMax)",
  },
} as const satisfies ParamSpecs;

export class FixedBidder extends ValueBidder {
  readonly name = "fixed";
  constructor(private readonly params: ParamValues<typeof FIXED_PARAMS>) {
    super();
  }

  act(obs: Float32Array, _info: Float64Array, out: BidAction): void {
    this.requireReset();
    checkAction(out, this.numEnvs, this.name);
    const bid = clipBid(this.params.bid, this.bidMax);
    for (let w = 0; w < this.numEnvs; w++) {
      out.bid[w] = bid;
      out.creative[w] = leastExposedCreative(obs, w, this.creatives);
    }
  }
}
