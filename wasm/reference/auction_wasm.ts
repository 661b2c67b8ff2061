// The wasm auction kernel behind the same arguments as the reference, for tests and benches:
// copies a batch of auctions into scratch memory, runs `auctionBatch`, copies the results out.
import { MAX_BIDDERS, MAX_SLOTS, MECH_FIRST_PRICE, MECH_GSP } from "../layout.js";
import { instantiateCore, type CoreExports } from "../loader.js";

/** Results of `count` auctions; winners and prices hold MAX_SLOTS entries per auction, of which the first `filled[a]` are set. */
export interface AuctionBatchResult {
  filled: Int32Array;
  winners: Int32Array;
  prices: Float32Array;
}

export class WasmAuction {
  constructor(readonly core: CoreExports = instantiateCore("release")) {}

  /** Runs bids.length / n auctions of `n` bidders each (bids and quality are row-major, one row per auction). */
  run(
    bids: Float32Array,
    quality: Float32Array,
    n: number,
    mechanism: number,
    slots: number,
    reserve: number,
    qualityWeighted: boolean,
  ): AuctionBatchResult {
    // The kernel trusts its arguments; a bad one here would corrupt memory rather than throw.
    if (!Number.isInteger(n) || n < 1 || n > MAX_BIDDERS) throw new RangeError(`WasmAuction: n must be an integer in 1..${MAX_BIDDERS}, got ${n}`);
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) throw new RangeError(`WasmAuction: slots must be an integer in 1..${MAX_SLOTS}, got ${slots}`);
    if (!Number.isInteger(mechanism) || mechanism < MECH_FIRST_PRICE || mechanism > MECH_GSP) throw new RangeError(`WasmAuction: unknown mechanism ${mechanism}`);
    if (bids.length % n !== 0) throw new RangeError(`WasmAuction: bids.length ${bids.length} is not a multiple of n=${n}`);
    if (quality.length !== bids.length) throw new RangeError(`WasmAuction: quality.length ${quality.length} != bids.length ${bids.length}`);

    const count = bids.length / n;
    const inBytes = bids.length * 4;
    const outBytes = count * MAX_SLOTS * 4;
    const base = this.core.scratch(2 * inBytes + 2 * outBytes + count * 4);
    const bidsPtr = base;
    const qualityPtr = bidsPtr + inBytes;
    const winnersPtr = qualityPtr + inBytes;
    const pricesPtr = winnersPtr + outBytes;
    const filledPtr = pricesPtr + outBytes;

    // Views are made after scratch() because growing memory detaches earlier ones.
    const buf = this.core.memory.buffer;
    new Float32Array(buf, bidsPtr, bids.length).set(bids);
    new Float32Array(buf, qualityPtr, bids.length).set(quality);
    this.core.auctionBatch(count, n, bidsPtr, qualityPtr, mechanism, slots, reserve, qualityWeighted ? 1 : 0, winnersPtr, pricesPtr, filledPtr);
    return {
      filled: new Int32Array(buf, filledPtr, count).slice(),
      winners: new Int32Array(buf, winnersPtr, count * MAX_SLOTS).slice(),
      prices: new Float32Array(buf, pricesPtr, count * MAX_SLOTS).slice(),
    };
  }
}
