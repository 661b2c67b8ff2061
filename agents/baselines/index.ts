// Typed registry of baseline bidders. Names map to factories with declared parameters; nothing is
// looked up by evaluating strings.
import { FIXED_PARAMS, FixedBidder } from "./fixed.js";
import { LINEAR_PARAMS, LinearBidder } from "./linear.js";
import { PACING_PARAMS, PacingBidder } from "./pacing.js";
import { type ParamSpecs, type ParamValues, type RawParams, BidderParamError, resolveParams } from "./params.js";
import { TRUTHFUL_PARAMS, TruthfulBidder } from "./truthful.js";
import type { Bidder } from "./bidder.js";

export type { Bidder } from "./bidder.js";
export { clipBid, leastExposedCreative, rotatedCreatives } from "./bidder.js";
export { BidderParamError, describeRange, type ParamSpec, type ParamSpecs, type RawParams } from "./params.js";
export { FixedBidder, LinearBidder, PacingBidder, TruthfulBidder };

interface BidderEntry<S extends ParamSpecs> {
  readonly description: string;
  readonly params: S;
  create(params: ParamValues<S>): Bidder;
}

function entry<S extends ParamSpecs>(e: BidderEntry<S>): BidderEntry<S> {
  return e;
}

export const BIDDERS = {
  truthful: entry({
    description: "bids the reference value of each opportunity",
    params: TRUTHFUL_PARAMS,
    create: () => new TruthfulBidder(),
  }),
  fixed: entry({
    description: "bids a constant amount",
    params: FIXED_PARAMS,
    create: (p) => new FixedBidder(p),
  }),
  linear: entry({
    description: "bids a x reference value",
    params: LINEAR_PARAMS,
    create: (p) => new LinearBidder(p),
  }),
  pacing: entry({
    description: "adaptive pacing (Balseiro & Gur 2019): bids v/(1+mu), mu by dual descent on the budget",
    params: PACING_PARAMS,
    create: (p) => new PacingBidder(p),
  }),
} as const;

export type BidderName = keyof typeof BIDDERS;
export const BIDDER_NAMES = Object.keys(BIDDERS) as BidderName[];

export function isBidderName(name: string): name is BidderName {
  return Object.prototype.hasOwnProperty.call(BIDDERS, name);
}

/** The parameters bidder `name` would run with: defaults filled in, `raw` validated. */
export function resolveBidderParams(name: string, raw: RawParams = {}): Record<string, number> {
  if (!isBidderName(name)) {
    throw new BidderParamError(name, "", `unknown bidder '${name}'; allowed: ${BIDDER_NAMES.join(", ")}`);
  }
  return resolveParams(name, BIDDERS[name].params as ParamSpecs, raw);
}

/** Builds a baseline bidder by name; throws BidderParamError naming a bad name or parameter. */
export function createBidder(name: string, raw: RawParams = {}): Bidder {
  if (!isBidderName(name)) {
    throw new BidderParamError(name, "", `unknown bidder '${name}'; allowed: ${BIDDER_NAMES.join(", ")}`);
  }
  const e = BIDDERS[name] as BidderEntry<ParamSpecs>;
  return e.create(resolveParams(name, e.params, raw));
}
