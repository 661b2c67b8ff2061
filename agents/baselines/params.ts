// Declared, validated numeric parameters for baseline bidders. A bidder lists its parameters with a
// default and an allowed range; user input (numbers, or strings from `--bidder-param k=v`) is
// checked against that list and any error names the parameter and the range.

export interface ParamSpec {
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** true: the bound is excluded (e.g. a step size must be > 0). */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
  readonly unit?: string;
  readonly description: string;
}

export type ParamSpecs = Readonly<Record<string, ParamSpec>>;
export type ParamValues<S extends ParamSpecs> = { [K in keyof S]: number };
export type RawParams = Readonly<Record<string, number | string>>;

export class BidderParamError extends Error {
  constructor(
    readonly bidder: string,
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = "BidderParamError";
  }
}

export function describeRange(spec: ParamSpec): string {
  const lo = spec.minExclusive ? `> ${spec.min}` : `>= ${spec.min}`;
  const hi = Number.isFinite(spec.max) ? ` and <= ${spec.max}` : "";
  return `${spec.integer ? "an integer" : "a number"} ${lo}${hi}`;
}

/** Fills defaults and validates `raw` against `specs`; throws BidderParamError naming the field. */
export function resolveParams<S extends ParamSpecs>(bidder: string, specs: S, raw: RawParams = {}): ParamValues<S> {
  const out: Record<string, number> = {};
  const known = Object.keys(specs);
  for (const key of Object.keys(raw)) {
    if (!Object.prototype.hasOwnProperty.call(specs, key)) {
      const allowed = known.length ? known.join(", ") : "(none)";
      throw new BidderParamError(bidder, key, `bidder '${bidder}' has no parameter '${key}'; allowed: ${allowed}`);
    }
  }
  for (const key of known) {
    const spec = specs[key];
    const given = raw[key];
    if (given === undefined) {
      out[key] = spec.default;
      continue;
    }
    const value = typeof given === "number" ? given : given.trim() === "" ? Number.NaN : Number(given);
    const bad =
      !Number.isFinite(value) ||
      (spec.integer === true && !Number.isInteger(value)) ||
      (spec.minExclusive ? value <= spec.min : value < spec.min) ||
      value > spec.max;
    if (bad) {
      throw new BidderParamError(
        bidder,
        key,
        `bidder '${bidder}' parameter '${key}' must be ${describeRange(spec)}, got ${JSON.stringify(given)}`,
      );
    }
    out[key] = value;
  }
  return out as ParamValues<S>;
}
