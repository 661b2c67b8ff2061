// The learning copy of the bidding policy: a tfjs functional model over already-normalised
// observations (obs -> Dense trunk -> bid logits, creative logits, value) plus the observation
// normalisation kept beside it, not inside it, so the optimiser never touches the running stats
// and the model stays a plain tfjs LayersModel that saves as model.json + weights.bin.
//
// Weights move to the WASM forward pass as one Float32Array in the canonical layout (spec.ts);
// tfjs Dense kernels are already [inputs, units] row-major, so export is a concatenation.
// Call initTf() (agents/tf.ts) before building one: the backend is chosen there.
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFilesAtomic } from "../../trainer/fsutil.js";
import { dense } from "./dense.js";
import { initialCanonical } from "./init.js";
import { type PolicySpec, policyLayout, validatePolicySpec } from "./spec.js";

export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";
/** Written into model.json's userDefinedMetadata; bump when the metadata's meaning changes. */
export const POLICY_FORMAT = "gaelp-policy/1";

export interface PolicyOutputs {
  /** [n, bidLevels.length] */
  bidLogits: tf.Tensor2D;
  /** [n, numCreatives] */
  creativeLogits: tf.Tensor2D;
  /** [n] */
  value: tf.Tensor1D;
}

/** What model.json carries beside the tfjs topology so a load rebuilds the same policy. */
interface PolicyMetadata {
  format: string;
  spec: PolicySpec;
  obsMean: number[];
  obsStd: number[];
  /** weights.bin's length and SHA-256: model.json and weights.bin are renamed into place one after the other */
  weightsBytes: number;
  weightsSha256: string;
}

const HEADS = ["bid", "creative", "value"] as const;

/** Column ranges of forwardHeads()' output: [bid, bid + creative) are creative logits, `value` is one column. */
export function headColumns(spec: PolicySpec): { bid: number; creative: number; value: number; width: number } {
  const nb = spec.bidLevels.length;
  return { bid: nb, creative: spec.numCreatives, value: nb + spec.numCreatives, width: nb + spec.numCreatives + 1 };
}

function headUnits(spec: PolicySpec, head: (typeof HEADS)[number]): number {
  return head === "bid" ? spec.bidLevels.length : head === "creative" ? spec.numCreatives : 1;
}

function buildLayersModel(spec: PolicySpec): tf.LayersModel {
  const obs = tf.input({ shape: [spec.obsDim], name: "obs_normalised" });
  let h: tf.SymbolicTensor = obs;
  spec.hidden.forEach((units, l) => {
    // zeros: every weight is overwritten from the canonical array right after, so skip drawing randoms
    h = tf.layers
      .dense({ units, activation: spec.activation, name: `hidden_${l}`, kernelInitializer: "zeros", biasInitializer: "zeros" })
      .apply(h) as tf.SymbolicTensor;
  });
  const outputs = HEADS.map(
    (head) =>
      tf.layers
        .dense({ units: headUnits(spec, head), name: head, kernelInitializer: "zeros", biasInitializer: "zeros" })
        .apply(h) as tf.SymbolicTensor,
  );
  return tf.model({ inputs: obs, outputs, name: "gaelp_policy" });
}

function describeSpec(spec: PolicySpec): string {
  return `obsDim ${spec.obsDim}, hidden [${spec.hidden.join(", ")}], ${spec.bidLevels.length} bid levels, ${spec.numCreatives} creatives`;
}

function assertFinite(arr: Float32Array, from: number, to: number, what: string): void {
  for (let i = from; i < to; i++) {
    if (!Number.isFinite(arr[i])) throw new Error(`policy weights: ${what}[${i - from}] is ${arr[i]}, must be finite`);
  }
}

export class PolicyModel {
  readonly spec: PolicySpec;
  /** The trainable part; its input is the normalised, clipped observation. */
  readonly model: tf.LayersModel;
  private obsMean: Float32Array;
  private obsStd: Float32Array;
  private meanT: tf.Tensor1D;
  private stdT: tf.Tensor1D;
  private disposed = false;
  /** layer name -> its [kernel, bias] variables; tf.Variable objects keep their identity across assign() */
  private readonly layerVars = new Map<string, [tf.Tensor2D, tf.Tensor1D]>();

  private constructor(spec: PolicySpec, model: tf.LayersModel) {
    this.spec = spec;
    this.model = model;
    this.obsMean = new Float32Array(spec.obsDim);
    this.obsStd = new Float32Array(spec.obsDim).fill(1);
    this.meanT = tf.keep(tf.tensor1d(this.obsMean));
    this.stdT = tf.keep(tf.tensor1d(this.obsStd));
  }

  /** A freshly initialised policy (CleanRL PPO init, see init.ts); the same seed gives the same weights. */
  static create(spec: PolicySpec, seed = 0): PolicyModel {
    return PolicyModel.fromCanonical(spec, initialCanonical(validatePolicySpec(spec), seed));
  }

  /** A policy holding exactly the weights and normalisation of a canonical array. */
  static fromCanonical(spec: PolicySpec, canonical: Float32Array): PolicyModel {
    validatePolicySpec(spec);
    const m = new PolicyModel(spec, buildLayersModel(spec));
    try {
      m.setCanonical(canonical);
    } catch (e) {
      m.dispose();
      throw e;
    }
    return m;
  }

  /**
   * Outputs for raw observations [n, obsDim]: normalised and clipped in tf ops, then the model, so
   * gradients flow to the model's weights (the normalisation stats are constants). Caller disposes.
   */
  forward(obsRaw: tf.Tensor2D): PolicyOutputs {
    return tf.tidy(() => {
      const [bidLogits, creativeLogits, value] = tf.split(this.forwardHeads(obsRaw), HEADS.map((head) => headUnits(this.spec, head)), 1) as tf.Tensor2D[];
      return { bidLogits, creativeLogits, value: tf.reshape(value, [-1]) as tf.Tensor1D };
    });
  }

  /**
   * The three heads side by side, [n, bidLevels.length + numCreatives + 1]: bid logits, creative
   * logits, value (headColumns). One product computes them (their kernels concatenated); callers
   * that read the heads row by row skip forward()'s column split, which the wasm backend does
   * row by row in JS. Caller disposes.
   */
  forwardHeads(obsRaw: tf.Tensor2D): tf.Tensor2D {
    this.assertLive();
    if (obsRaw.rank !== 2 || obsRaw.shape[1] !== this.spec.obsDim) {
      throw new Error(`PolicyModel.forward: obs must be [n, ${this.spec.obsDim}], got [${obsRaw.shape.join(", ")}]`);
    }
    return tf.tidy(() => {
      const clip = this.spec.obsClip;
      let h = tf.clipByValue(tf.div(tf.sub(obsRaw, this.meanT), this.stdT), -clip, clip) as tf.Tensor2D;
      // the model's own variables, through dense() (agents/policy/dense.ts): the same outputs as
      // model.apply, with a backward pass that avoids the wasm backend's slow transposed matMul
      this.spec.hidden.forEach((_, l) => {
        const [k, b] = this.weightsOf(`hidden_${l}`);
        h = dense(h, k, b, this.spec.activation, l > 0);
      });
      const heads = HEADS.map((head) => this.weightsOf(head));
      return dense(h, tf.concat(heads.map((w) => w[0]), 1), tf.concat(heads.map((w) => w[1]), 0), "linear");
    });
  }

  /** A Dense layer's kernel and bias variables (the ones the optimiser updates). */
  private weightsOf(layer: string): [tf.Tensor2D, tf.Tensor1D] {
    let w = this.layerVars.get(layer);
    if (!w) {
      const [k, b] = this.model.getLayer(layer).trainableWeights.map((v) => v.read());
      w = [k as tf.Tensor2D, b as tf.Tensor1D];
      this.layerVars.set(layer, w);
    }
    return w;
  }

  /** Replaces the observation normalisation (e.g. the running stats of the rollouts). */
  setNormalization(mean: ArrayLike<number>, std: ArrayLike<number>): void {
    this.assertLive();
    const d = this.spec.obsDim;
    if (mean.length !== d) throw new Error(`policy obsMean: expected ${d} values, got ${mean.length}`);
    if (std.length !== d) throw new Error(`policy obsStd: expected ${d} values, got ${std.length}`);
    const m = Float32Array.from(mean);
    const s = Float32Array.from(std);
    assertFinite(m, 0, d, "obsMean");
    for (let i = 0; i < d; i++) {
      // std divides; a zero would turn every feature into +-clip or NaN without a word
      if (!(Number.isFinite(s[i]) && s[i] > 0)) throw new Error(`policy obsStd[${i}] must be finite and > 0, got ${s[i]}`);
    }
    const meanT = tf.keep(tf.tensor1d(m));
    const stdT = tf.keep(tf.tensor1d(s));
    this.meanT.dispose();
    this.stdT.dispose();
    this.obsMean = m;
    this.obsStd = s;
    this.meanT = meanT;
    this.stdT = stdT;
  }

  getNormalization(): { mean: Float32Array; std: Float32Array } {
    return { mean: this.obsMean.slice(), std: this.obsStd.slice() };
  }

  /** All weights and the normalisation in the canonical layout (spec.ts). */
  toCanonical(): Float32Array {
    this.assertLive();
    const { slots, size } = policyLayout(this.spec);
    const out = new Float32Array(size);
    for (const slot of slots) {
      if (slot.name === "obs_mean") out.set(this.obsMean, slot.offset);
      else if (slot.name === "obs_std") out.set(this.obsStd, slot.offset);
      else out.set(this.layerWeight(slot.name).dataSync() as Float32Array, slot.offset);
    }
    return out;
  }

  /** Loads weights and normalisation from a canonical array; its length must match this spec. */
  setCanonical(canonical: Float32Array): void {
    this.assertLive();
    const { slots, size } = policyLayout(this.spec);
    if (!(canonical instanceof Float32Array)) throw new Error(`policy weights: expected a Float32Array, got ${Object.prototype.toString.call(canonical)}`);
    if (canonical.length !== size) {
      throw new Error(`policy weights: expected ${size} f32 values for spec (${describeSpec(this.spec)}), got ${canonical.length}`);
    }
    // check every tensor before changing any, so a rejected array leaves the policy as it was
    const views = new Map<string, Float32Array>();
    for (const s of slots) {
      assertFinite(canonical, s.offset, s.offset + s.size, s.name);
      views.set(s.name, canonical.subarray(s.offset, s.offset + s.size));
    }
    this.setNormalization(views.get("obs_mean")!, views.get("obs_std")!); // validates std > 0
    tf.tidy(() => {
      for (const s of slots) {
        if (!s.name.endsWith("/kernel")) continue;
        const layer = s.name.slice(0, -"/kernel".length);
        this.model.getLayer(layer).setWeights([
          tf.tensor2d(views.get(s.name)!, s.shape as [number, number]),
          tf.tensor1d(views.get(`${layer}/bias`)!),
        ]);
      }
    });
  }

  /** model.json and weights.bin as bytes (what saveModel writes; checkpoints store them). */
  async artifacts(): Promise<{ [MODEL_JSON]: Uint8Array; [WEIGHTS_BIN]: Uint8Array }> {
    this.assertLive();
    let out: { [MODEL_JSON]: Uint8Array; [WEIGHTS_BIN]: Uint8Array } | undefined;
    await this.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
        const meta: PolicyMetadata = {
          format: POLICY_FORMAT,
          spec: this.spec,
          // f32 -> f64 -> JSON text -> f64 -> f32 is exact: JSON prints the shortest round-trip form
          obsMean: Array.from(this.obsMean),
          obsStd: Array.from(this.obsStd),
          weightsBytes: weights.byteLength,
          weightsSha256: createHash("sha256").update(weights).digest("hex"),
        };
        const modelJson: tf.io.ModelJSON = {
          modelTopology: artifacts.modelTopology as {},
          format: artifacts.format ?? "layers-model",
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy ?? null,
          weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
          userDefinedMetadata: { gaelpPolicy: meta as unknown as {} },
        };
        out = { [MODEL_JSON]: new TextEncoder().encode(JSON.stringify(modelJson)), [WEIGHTS_BIN]: weights };
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      }),
    );
    return out!;
  }

  /** Writes model.json + weights.bin into `dir` (created if missing), replacing both atomically
   *  and durably (trainer/fsutil.ts writeFilesAtomic). */
  async saveModel(dir: string): Promise<void> {
    const a = await this.artifacts();
    // weights first: model.json is what a reader opens, and its checksum catches a weights.bin
    // from another save if a crash falls between the two renames
    writeFilesAtomic(dir, [
      [WEIGHTS_BIN, a[WEIGHTS_BIN]],
      [MODEL_JSON, a[MODEL_JSON]],
    ]);
  }

  /** Reads a policy written by saveModel: same spec, weights and normalisation. */
  static async loadModel(dir: string): Promise<PolicyModel> {
    const jsonPath = join(dir, MODEL_JSON);
    const binPath = join(dir, WEIGHTS_BIN);
    let modelJson: tf.io.ModelJSON;
    try {
      modelJson = JSON.parse(await readFile(jsonPath, "utf8")) as tf.io.ModelJSON;
    } catch (e) {
      throw new Error(`policy load: cannot read ${jsonPath}: ${(e as Error).message}`);
    }
    const meta = modelJson.userDefinedMetadata?.gaelpPolicy as PolicyMetadata | undefined;
    if (meta?.format !== POLICY_FORMAT) {
      throw new Error(`policy load: ${jsonPath} userDefinedMetadata.gaelpPolicy.format must be "${POLICY_FORMAT}", got ${JSON.stringify(meta?.format)}`);
    }
    const spec = validatePolicySpec(meta.spec);
    const bin = await readFile(binPath);
    const sha = createHash("sha256").update(bin).digest("hex");
    if (bin.byteLength !== meta.weightsBytes || sha !== meta.weightsSha256) {
      throw new Error(`policy load: ${binPath} (${bin.byteLength} bytes) is not the weights ${jsonPath} was saved with (${meta.weightsBytes} bytes, sha256 ${meta.weightsSha256.slice(0, 12)}…)`);
    }
    // Buffer may be a view into a shared pool; tfjs wants exactly these bytes
    const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
    const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => [tf.io.getWeightSpecs(manifest), weightData]);
    // tfjs parses the topology and matches every weight by name (strict), so a tampered file fails here
    const loaded = await tf.loadLayersModel({ load: async () => artifacts });
    const m = new PolicyModel(spec, loaded);
    try {
      m.checkArchitecture();
      m.setNormalization(meta.obsMean, meta.obsStd);
    } catch (e) {
      m.dispose();
      throw e;
    }
    return m;
  }

  /** Frees the model's variables and the normalisation tensors; the object is unusable after. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
    this.meanT.dispose();
    this.stdT.dispose();
  }

  /** A Dense layer's kernel or bias by canonical slot name ("hidden_0/kernel", "bid/bias", ...). */
  private layerWeight(slotName: string): tf.Tensor {
    const [layer, which] = slotName.split("/");
    const [kernel, bias] = this.model.getLayer(layer).getWeights();
    return which === "kernel" ? kernel : bias;
  }

  /** A loaded model must have the layers and shapes the spec in its metadata promises. */
  private checkArchitecture(): void {
    const { slots } = policyLayout(this.spec);
    for (const slot of slots) {
      if (slot.name.startsWith("obs_")) continue;
      let shape: number[];
      try {
        shape = this.layerWeight(slot.name).shape;
      } catch {
        throw new Error(`policy load: model has no weight ${slot.name} required by spec (${describeSpec(this.spec)})`);
      }
      if (shape.join("x") !== slot.shape.join("x")) {
        throw new Error(`policy load: ${slot.name} has shape [${shape.join(", ")}], spec (${describeSpec(this.spec)}) needs [${slot.shape.join(", ")}]`);
      }
    }
    this.spec.hidden.forEach((_, l) => {
      const act = (this.model.getLayer(`hidden_${l}`).getConfig() as { activation?: string }).activation;
      if (act !== this.spec.activation) throw new Error(`policy load: hidden_${l} activation is ${act}, spec says ${this.spec.activation}`);
    });
  }

  private assertLive(): void {
    if (this.disposed) throw new Error("PolicyModel: used after dispose()");
  }
}

export const loadModel = (dir: string): Promise<PolicyModel> => PolicyModel.loadModel(dir);
