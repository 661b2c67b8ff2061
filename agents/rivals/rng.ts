// The rival learners' random stream: seedrandom's alea (as trainer/replay.ts uses), with a state
// that serialises as four float64s so a restored population continues bit-identically.
import seedrandom from "seedrandom";

export class Rng {
  private prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;

  private constructor(prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>) {
    this.prng = prng;
  }

  static seeded(seed: string): Rng {
    return new Rng(seedrandom.alea(seed, { state: true }));
  }

  /** From state(); throws when it is not four finite numbers. */
  static restore(state: unknown): Rng {
    if (!(state instanceof Float64Array) || state.length !== 4 || !state.every(Number.isFinite)) {
      throw new RangeError("rng state must be a Float64Array of 4 finite values");
    }
    const [c, s0, s1, s2] = state;
    return new Rng(seedrandom.alea("", { state: { c, s0, s1, s2 } }));
  }

  state(): Float64Array {
    const s = this.prng.state();
    return new Float64Array([s.c, s.s0, s.s1, s.s2]);
  }

  /** uniform in [0, 1) with 53 bits */
  uniform(): number {
    return this.prng.double();
  }

  /** integer in [0, n) */
  below(n: number): number {
    return Math.min(n - 1, Math.floor(this.prng.double() * n));
  }

  /** standard normal (Box-Muller, one of the pair; two uniforms per draw) */
  normal(): number {
    const u = 1 - this.prng.double(); // (0, 1]: log stays finite
    const v = this.prng.double();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
