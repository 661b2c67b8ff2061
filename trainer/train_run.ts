// `gaelp train`: a training run in a run folder. Creates (or resumes) the folder, runs the Trainer
// with metrics (JSONL + CSV), a progress display, checkpoints (atomic, SHA-256 manifest, last N
// kept), then evaluates the final policy against the tuned baselines on held-out worlds and draws
// the learning curves and the comparison.
//
//   runs/<scenario>__<exp>__<seed>__<unix>/
//     config.json            resolved world config, training options, policy spec, seed
//     metrics.jsonl / .csv   one line per iteration (charts/*, losses/*, auction/*, replay/*, rivals/*)
//     checkpoints/ckpt-*/    everything --resume needs (see Trainer.checkpointFiles)
//     eval/                  evaluation tables (JSON + CSV)
//     plots/                 learning_curves.svg, baselines.svg
import { join } from "node:path";
import { existsSync, mkdirSync } from "node:fs";
import { validateConfig, type GaelpConfig } from "../env/config.js";
import { Trainer } from "./train.js";
import { validateTrain, type TrainOptions } from "./train_config.js";
import { loadLatestCheckpoint, writeCheckpoint } from "./checkpoint.js";
import { createRunDir, readRunConfig, resolveRunDir, writeRunConfig } from "./run_dir.js";
import { MetricsLogger, METRICS_JSONL, metricSeries, readMetrics } from "./metrics.js";
import { Progress } from "./progress.js";
import { comparisonBarSvg, learningCurvePanelsSvg } from "./plots.js";
import { writeFileAtomic } from "./fsutil.js";
import { evalSummary, evaluateRun, formatEvalTable, writeEvalFiles, type EvalReport } from "./evaluate.js";
import { validatePolicySpec, type PolicySpec } from "../agents/policy/spec.js";
import { describeOffline, readOfflineData, type AttributionModel, type OfflineRows, type OfflineSummary } from "./offline.js";

export interface TrainRunIo {
  out(text: string): void;
  err(text: string): void;
  /** where progress goes (a bar when it is a TTY, plain lines otherwise); default stderr */
  progress?: NodeJS.WritableStream;
}

export interface TrainRunOptions {
  scenario: string;
  exp: string;
  seed: number;
  config: GaelpConfig;
  train: TrainOptions;
  runsRoot: string;
  /** resume this run (name under runsRoot or a path) instead of starting one */
  resume?: string;
  /** on resume: run until this many iterations in total (default: the run's own budget) */
  extendIterations?: number;
  /** stop after this many iterations in this process (tests; the run stays resumable) */
  stopAfter?: number;
  /** a `gaelp serve --data-dir` whose served decisions joined with their feedback join the replay
   *  before the first iteration (trainer/offline.ts); not with resume (the rows are in the checkpoint) */
  offlineData?: string;
  /** attribution model spreading conversion value over touchpoints (default: the world config's) */
  offlineAttribution?: AttributionModel;
  /** skip the final evaluation even when train.evalWorlds > 0 */
  noEval?: boolean;
  json?: boolean;
}

export interface TrainRunResult {
  run: string;
  iterations: number;
  checkpoint?: string;
  eval?: EvalReport;
  seconds: number;
  offline?: OfflineSummary;
}

export const OFFLINE_SUMMARY_FILE = "offline.json";

const CHECKPOINTS = "checkpoints";

export async function runTraining(o: TrainRunOptions, io: TrainRunIo): Promise<TrainRunResult> {
  const t0 = performance.now();
  let run: string;
  let trainer: Trainer;
  let resumeFiles: Map<string, Uint8Array> | undefined;
  let resumedAt = 0;
  let offline: { rows: OfflineRows; summary: OfflineSummary } | undefined;
  if (o.resume !== undefined) {
    run = resolveRunDir(o.resume, o.runsRoot);
    const rc = readRunConfig(run);
    // the run's own options; only the iteration budget may be extended from the command line
    const saved = validateTrain(rc.train);
    const train = o.extendIterations !== undefined ? validateTrain({ ...saved, iterations: o.extendIterations }) : saved;
    const loaded = loadLatestCheckpoint(join(run, CHECKPOINTS));
    for (const s of loaded?.skipped ?? []) io.err(`gaelp train: skipped damaged checkpoint ${s.dir}: ${s.reason}\n`);
    if (!loaded) throw new Error(`${run} has no checkpoint to resume from`);
    resumeFiles = loaded.files;
    resumedAt = loaded.info.step;
    trainer = new Trainer({ config: validateConfig(rc.config), train, seed: rc.seed, policy: validatePolicySpec(rc.policy as unknown as PolicySpec) });
    io.err(`gaelp train: resuming ${run} from ${loaded.info.dir} (${resumedAt} iterations done)\n`);
  } else {
    trainer = new Trainer({ config: o.config, train: o.train, seed: o.seed });
    if (o.offlineData !== undefined) {
      // read and joined before the run folder exists: bad data leaves nothing behind
      if (!(o.train.replay.fraction > 0)) throw new RangeError("--offline-data: train.replay.fraction is 0, so replayed rows never reach a minibatch; set it > 0 (default 0.25)");
      offline = readOfflineData(o.offlineData, { spec: trainer.spec, attribution: o.config.attribution, model: o.offlineAttribution });
      io.err(`gaelp train: ${describeOffline(offline.summary)}\n`);
    }
    run = createRunDir(o.runsRoot, { scenario: o.scenario, exp: o.exp, seed: o.seed });
    writeRunConfig(run, {
      scenario: o.scenario, exp: o.exp, seed: o.seed,
      config: o.config as unknown as Record<string, unknown>, train: o.train as unknown as Record<string, unknown>, policy: trainer.spec as unknown as Record<string, unknown>,
    });
  }
  const train = trainer.opts;
  const metrics = new MetricsLogger(run, { resumeStep: resumeFiles ? resumedAt : undefined });
  const progress = new Progress({ total: train.iterations, stream: io.progress });
  let lastCheckpoint: string | undefined;
  try {
    await trainer.start(resumeFiles);
    if (offline !== undefined) {
      trainer.addOfflineRows(offline.rows, offline.summary);
      writeFileAtomic(join(run, OFFLINE_SUMMARY_FILE), JSON.stringify(offline.summary, null, 2) + "\n");
    }
    if (!resumeFiles) io.err(`gaelp train: ${run} (${train.worlds} worlds x ${train.hoursPerIteration} h x ${train.iterations} iterations, tfjs ${trainer.backend})\n`);
    await trainer.run(
      {
        onIteration: (it, m) => {
          metrics.log(it + 1, m);
          progress.update({
            iteration: it + 1, decisions: m["charts/decisions"], sps: m["charts/SPS"], episodicReturn: m["charts/episodic_return"],
            extra: { "profit/day": m["auction/profit_per_world_day"], win: m["auction/win_rate"], lambda: m["charts/lambda"], kl: m["losses/approx_kl"] },
          });
        },
        onCheckpoint: (it, files) => {
          lastCheckpoint = writeCheckpoint(join(run, CHECKPOINTS), it + 1, files, { keep: train.keepCheckpoints, meta: { iteration: it + 1 } }).dir;
        },
      },
      o.stopAfter,
    );
  } finally {
    progress.stop();
    metrics.close();
  }
  const done = trainer.completedIterations;
  let report: EvalReport | undefined;
  try {
    if (done >= train.iterations) {
      for (const c of trainer.curriculum) io.err(`gaelp train: curriculum level ${c.level} at iteration ${c.iteration} (win rate ${(100 * c.winRate).toFixed(1)}%)\n`);
      if (!o.noEval && train.evalWorlds > 0) {
        io.err(`gaelp train: evaluating on ${train.evalWorlds} held-out worlds x ${train.evalDays} days (baselines tuned on ${train.tuneWorlds} training worlds per grid point)\n`);
        report = await evaluateRun({
          config: trainer.config,
          spec: trainer.spec,
          weights: trainer.canonicalWeights(),
          scenario: o.scenario,
          worlds: train.evalWorlds,
          days: train.evalDays,
          seed: trainer.seed,
          tuneWorlds: train.tuneWorlds,
          onProgress: (line) => io.err(`gaelp train: ${line}\n`),
        });
        const { files } = writeEvalFiles(run, report, { command: "train", run, checkpoint: lastCheckpoint, config: trainer.config });
        if (o.json) io.out(JSON.stringify({ ...evalSummary(report), run, checkpoint: lastCheckpoint, files, offline: offline?.summary }) + "\n");
        else io.out(formatEvalTable(report) + `wrote ${files.json}\n`);
      }
      writePlots(run, report);
    }
  } finally {
    await trainer.close();
  }
  if (!o.json) io.out(`run folder: ${run}\n`);
  return { run, iterations: done, checkpoint: lastCheckpoint, eval: report, seconds: (performance.now() - t0) / 1000, offline: offline?.summary };
}

function writePlots(run: string, report: EvalReport | undefined): void {
  const dir = join(run, "plots");
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const rows = readMetrics(join(run, METRICS_JSONL));
  const panel = (title: string, keys: string[]) => ({
    title, xLabel: "iteration", yLabel: title, series: keys.map((k) => ({ name: k, points: metricSeries(rows, k) })),
  });
  const panels = [
    panel("return per journey ($)", ["charts/episodic_return"]),
    panel("profit per world-day ($)", ["auction/profit_per_world_day"]),
    panel("win rate", ["auction/win_rate"]),
    panel("budget multiplier lambda", ["charts/lambda"]),
    panel("value loss", ["losses/value_loss"]),
    panel("approx KL / clip fraction", ["losses/approx_kl", "losses/clipfrac"]),
    panel("explained variance", ["losses/explained_variance"]),
    panel("decisions per second", ["charts/SPS"]),
  ];
  writeFileAtomic(join(dir, "learning_curves.svg"), learningCurvePanelsSvg(panels, { title: `learning curves: ${run.split("/").pop()}` }));
  if (report) {
    const bars = Object.entries(report.bidders).map(([name, b]) => {
      const p = b.kpis.find((k) => k.key === "profit")!;
      return { name, mean: p.mean, lo: Number.isFinite(p.lo) ? p.lo : p.mean, hi: Number.isFinite(p.hi) ? p.hi : p.mean };
    });
    writeFileAtomic(join(dir, "baselines.svg"), comparisonBarSvg(bars, { title: `profit per world on ${report.worlds} held-out worlds (95% CI)`, unit: "$" }));
  }
}
