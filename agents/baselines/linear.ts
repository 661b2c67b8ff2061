// Linear (shaded) value bidder: bid = a x reference value. a < 1 shades bids (first-price or
// budget-limited campaigns), a > 1 buys volume.
import type { BidAction } from "../../env/vector_env.js";
import { INFO_DIM, I_REF_VALUE_DOLLARS } from "../../wasm/layout.js";
import { ValueBidder, checkAction, clipBid, leastExposedCreative } from "./bidder.js";
import type { ParamSpecs, ParamValues } from "./params.js";

export const LINEAR_PARAMS = {
  a: {
    default: 0.8,
    min: 0,
    max: 100,
    description: "multiplier on the reference value (bid = a x value)",
  },
} as const satisfies ParamSpecs;

export class LinearBidder extends ValueBidder {
  readonly name = "linear";
  constructor(private readonly params: ParamValues<typeof LINEAR_PARAMS>) {
    super();
  }

  act(obs: Float32Array, info: Float64Array, out: BidAction): void {
    this.requireReset();
    checkAction(out, this.numEnvs, this.name);
    const a = this.params.a;
    for (let w = 0; w < this.numEnvs; w++) {
      out.bid[w] = clipBid(a * info[w * INFO_DIM + I_REF_VALUE_DOLLARS], this.bidMax);
      out.creative[w] = leastExposedCreative(obs, w, this.creatives);
    }
  }
}
