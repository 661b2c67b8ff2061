// Adaptive pacing (Balseiro & Gur, "Learning in Repeated Auctions with Budgets", Management
// Science 2019): shade the value by a budget multiplier, bid = v / (1 + mu), and learn mu by dual
// (sub)gradient descent on the budget constraint.
//
// Per world and per decision t (v_t = info[I_REF_VALUE_DOLLARS], c_t = info[I_COST] after the step):
//
//   rho_t = min( dailyLeft / D_today , flightLeft / D_flight )      target spend per decision
//   mu    <- clip( mu - eta * (rho_t - c_t) / cbar , 0, muMax )     dual step
//
// where dailyLeft / flightLeft are the budgets minus what this bidder has paid (summed from I_COST),
// D_today the decisions still expected today and D_flight those expected until the flight ends.
// Spending faster than rho raises mu (lower bids); spending slower lowers it, down to 0 where the
// bidder is truthful (a budget that does not bind leaves bids unshaded).
//
// cbar is a running mean of the price paid per won impression (before the first win: of the
// values seen). Dividing by it makes eta unitless and ties it to what the bidder can observe:
// one win at a typical price raises mu by about eta, and over a day the steps add up to
// eta x (spend - target) / cbar. Costs arrive in lumps (a few wins a day in a thin market), so a
// step scaled by the budget instead would swing mu by a lot on every win there, and crawl in a
// market with hundreds of wins a day. (Balseiro & Gur state their step for values normalised to
// [0, vbar]; prices are the observable scale of those values.)
//
// Decisions expected come from what the bidder has seen: a per-world profile of decisions by hour
// of day (a running average over past days, kept across flights because the world persists). Hours
// after a day's budget ran out are not folded into the profile: the env offers no decisions then.
// Before a full day has been seen, the rate so far in the flight stands in. Days and flights follow
// the world clock in info[I_HOUR]: a day is 24 hours, flights start at a day boundary, and a
// terminated/truncated flag means the next decision belongs to a new flight (same-step autoreset).
import type { GaelpConfig } from "../../env/config.js";
import type { BidAction } from "../../env/vector_env.js";
import { INFO_DIM, I_COST, I_HOUR, I_REF_VALUE_DOLLARS } from "../../wasm/layout.js";
import { type Bidder, checkAction, clipBid, leastExposedCreative, rotatedCreatives } from "./bidder.js";
import type { ParamSpecs, ParamValues } from "./params.js";

const HOURS_PER_DAY = 24;
/** A budget with less than this fraction left counts as spent (for the decision profile). */
const EXHAUSTED_FRACTION = 0.01;
/** The price scale averages about this many recent wins (prices drift with the market). */
const PRICE_MEMORY_WINS = 200;

export const PACING_PARAMS = {
  eta: {
    default: 0.05,
    min: 0,
    minExclusive: true,
    max: 10,
    description: "dual step size: rise of mu on a win at a typical price",
  },
  mu0: { default: 0, min: 0, max: 1000, description: "initial budget multiplier mu" },
  muMax: { default: 100, min: 0, minExclusive: true, max: 1e6, description: "upper bound on mu (bids >= v/(1+muMax))" },
  profileRate: {
    default: 0.2,
    min: 0,
    minExclusive: true,
    max: 1,
    description: "weight of the newest day in the hourly decision profile (after the first days)",
  },
} as const satisfies ParamSpecs;

export class PacingBidder implements Bidder {
  readonly name = "pacing";
  private numEnvs = 0;
  private bidMax = 0;
  private creatives = 1;
  private dailyBudget = Number.POSITIVE_INFINITY;
  private flightBudget = Number.POSITIVE_INFINITY;
  private flightDays = 1;

  // per world
  private mu = new Float64Array(0);
  private rho = new Float64Array(0); // target spend per decision for the pending decision
  private priceScale = new Float64Array(0); // cbar: running mean price per win (dollars)
  private wins = new Float64Array(0);
  private valueScale = new Float64Array(0); // running mean value, stands in for cbar before a win
  private valuesSeen = new Float64Array(0);
  private spendToday = new Float64Array(0);
  private spendFlight = new Float64Array(0);
  private day = new Float64Array(0); // world day of the last decision (-1: none yet)
  private hourOfDay = new Int32Array(0); // hour of day of the pending decision
  private exhaustedHour = new Int32Array(0); // hour of day a budget ran out today (24: not yet)
  private flightStartDay = new Float64Array(0);
  private flightDecisions = new Float64Array(0);
  private newFlight = new Uint8Array(0);
  private daysSeen = new Float64Array(0);
  private todayCounts = new Float64Array(0); // [numEnvs * 24]
  private profile = new Float64Array(0); // [numEnvs * 24] expected decisions by hour of day

  constructor(private readonly params: ParamValues<typeof PACING_PARAMS>) {}

  reset(numEnvs: number, config: GaelpConfig): void {
    if (!Number.isInteger(numEnvs) || numEnvs < 1) {
      throw new RangeError(`${this.name}: numEnvs must be an integer >= 1, got ${numEnvs}`);
    }
    const c = config.campaign;
    this.numEnvs = numEnvs;
    this.bidMax = c.bidMax;
    this.creatives = rotatedCreatives(config);
    this.dailyBudget = c.dailyBudget > 0 && Number.isFinite(c.dailyBudget) ? c.dailyBudget : Number.POSITIVE_INFINITY;
    this.flightBudget = c.flightBudget > 0 && Number.isFinite(c.flightBudget) ? c.flightBudget : Number.POSITIVE_INFINITY;
    this.flightDays = Math.max(1, c.flightDays);
    this.mu = new Float64Array(numEnvs).fill(this.params.mu0);
    this.rho = new Float64Array(numEnvs);
    this.priceScale = new Float64Array(numEnvs);
    this.wins = new Float64Array(numEnvs);
    this.valueScale = new Float64Array(numEnvs);
    this.valuesSeen = new Float64Array(numEnvs);
    this.spendToday = new Float64Array(numEnvs);
    this.spendFlight = new Float64Array(numEnvs);
    this.day = new Float64Array(numEnvs).fill(-1);
    this.hourOfDay = new Int32Array(numEnvs);
    this.exhaustedHour = new Int32Array(numEnvs).fill(HOURS_PER_DAY);
    this.flightStartDay = new Float64Array(numEnvs);
    this.flightDecisions = new Float64Array(numEnvs);
    this.newFlight = new Uint8Array(numEnvs).fill(1);
    this.daysSeen = new Float64Array(numEnvs);
    this.todayCounts = new Float64Array(numEnvs * HOURS_PER_DAY);
    this.profile = new Float64Array(numEnvs * HOURS_PER_DAY);
  }

  /** The budget multiplier of world `w` (for tests and diagnostics). */
  multiplier(w: number): number {
    return this.mu[w];
  }

  /** The target spend per decision used for world `w`'s last bid (dollars). */
  targetSpend(w: number): number {
    return this.rho[w];
  }

  /** Decisions per day world `w` expects from its hourly profile (0 before a full day is seen). */
  expectedDecisionsPerDay(w: number): number {
    let s = 0;
    for (let h = 0; h < HOURS_PER_DAY; h++) s += this.profile[w * HOURS_PER_DAY + h];
    return s;
  }

  act(obs: Float32Array, info: Float64Array, out: BidAction): void {
    if (this.numEnvs === 0) throw new Error(`${this.name}: call reset(numEnvs, config) before act()`);
    checkAction(out, this.numEnvs, this.name);
    for (let w = 0; w < this.numEnvs; w++) {
      const row = w * INFO_DIM;
      const hour = Math.floor(info[row + I_HOUR]);
      const d = Math.floor(hour / HOURS_PER_DAY);
      const h = hour - d * HOURS_PER_DAY;
      if (d !== this.day[w]) this.rollDay(w, d);
      if (this.newFlight[w] === 1) {
        this.newFlight[w] = 0;
        this.flightStartDay[w] = d;
        this.flightDecisions[w] = 0;
        this.spendFlight[w] = 0;
      }
      this.hourOfDay[w] = h;
      this.todayCounts[w * HOURS_PER_DAY + h] += 1;
      this.flightDecisions[w] += 1;

      const v = info[row + I_REF_VALUE_DOLLARS];
      if (v > 0 && this.wins[w] === 0 && Number.isFinite(v)) {
        this.valuesSeen[w] += 1;
        this.valueScale[w] += (v - this.valueScale[w]) / this.valuesSeen[w];
      }

      const leftToday = this.decisionsLeftToday(w, h, hour);
      const perDay = this.daysSeen[w] > 0 ? this.expectedDecisionsPerDay(w) : this.flightRatePerHour(w, hour) * HOURS_PER_DAY;
      const fullDaysLeft = Math.max(0, this.flightDays - 1 - (d - this.flightStartDay[w]));
      const leftFlight = leftToday + fullDaysLeft * Math.max(perDay, 1);
      const dailyLeft = Math.max(0, this.dailyBudget - this.spendToday[w]);
      const flightLeft = Math.max(0, this.flightBudget - this.spendFlight[w]);
      this.rho[w] = Math.min(dailyLeft / leftToday, flightLeft / leftFlight);

      // Never offer more than the budget left: the price paid is at most the bid.
      const cap = Math.min(this.bidMax, dailyLeft, flightLeft);
      out.bid[w] = clipBid(v / (1 + this.mu[w]), cap);
      out.creative[w] = leastExposedCreative(obs, w, this.creatives);
    }
  }

  observe(_reward: Float32Array, terminated: Uint8Array, truncated: Uint8Array, info: Float64Array): void {
    const { eta, muMax } = this.params;
    for (let w = 0; w < this.numEnvs; w++) {
      let cost = info[w * INFO_DIM + I_COST];
      if (!(cost > 0)) cost = 0;
      this.spendToday[w] += cost;
      this.spendFlight[w] += cost;
      if (cost > 0) {
        this.wins[w] += 1;
        this.priceScale[w] += (cost - this.priceScale[w]) / Math.min(this.wins[w], PRICE_MEMORY_WINS);
      }
      const scale = this.wins[w] > 0 ? this.priceScale[w] : this.valueScale[w];
      const mu = this.mu[w] - (eta * (this.rho[w] - cost)) / (scale > 1e-9 ? scale : 1e-9);
      this.mu[w] = mu > 0 ? (mu < muMax ? mu : muMax) : 0;
      if (
        this.exhaustedHour[w] === HOURS_PER_DAY &&
        (this.dailyBudget - this.spendToday[w] < EXHAUSTED_FRACTION * this.dailyBudget ||
          this.flightBudget - this.spendFlight[w] < EXHAUSTED_FRACTION * this.flightBudget)
      ) {
        this.exhaustedHour[w] = this.hourOfDay[w];
      }
      if (terminated[w] !== 0 || truncated[w] !== 0) this.newFlight[w] = 1;
    }
  }

  /** Folds the finished day's hourly counts into the profile and starts day `d`. */
  private rollDay(w: number, d: number): void {
    const base = w * HOURS_PER_DAY;
    if (this.day[w] >= 0) {
      const upto = this.exhaustedHour[w];
      if (upto > 0) {
        this.daysSeen[w] += 1;
        const rate = Math.max(1 / this.daysSeen[w], this.params.profileRate);
        for (let h = 0; h < upto; h++) {
          this.profile[base + h] += rate * (this.todayCounts[base + h] - this.profile[base + h]);
        }
      }
    }
    for (let h = 0; h < HOURS_PER_DAY; h++) this.todayCounts[base + h] = 0;
    this.day[w] = d;
    this.spendToday[w] = 0;
    this.exhaustedHour[w] = HOURS_PER_DAY;
  }

  /** Decisions still expected today, counting the pending one (>= 1). */
  private decisionsLeftToday(w: number, h: number, hour: number): number {
    const base = w * HOURS_PER_DAY;
    let left: number;
    if (this.daysSeen[w] > 0) {
      // the rest of this hour, then the later hours of the profile
      left = Math.max(0, this.profile[base + h] - (this.todayCounts[base + h] - 1));
      for (let k = h + 1; k < HOURS_PER_DAY; k++) left += this.profile[base + k];
    } else {
      left = this.flightRatePerHour(w, hour) * (HOURS_PER_DAY - h);
    }
    return Math.max(1, left);
  }

  /** Decisions per hour seen so far in this flight (the estimate before a full day is known). */
  private flightRatePerHour(w: number, hour: number): number {
    const hours = hour - this.flightStartDay[w] * HOURS_PER_DAY + 1;
    return this.flightDecisions[w] / Math.max(1, hours);
  }
}
