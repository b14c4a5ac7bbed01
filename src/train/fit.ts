// The training loop: epochs of batches, the loss read back every `logEvery` steps, evaluation,
// callbacks, periodic checkpoints and a progress bar. Browser-safe: saving is a callback (Node
// users pass one that calls saveCheckpoint).
import type { Batch, Sequential } from '../nn/model.ts';
import { ProgressBar } from './progress.ts';
import { tuneSchedule, type TuneResult } from './tune.ts';
import { isCpuAdapter } from '../kernels/lstm_seq.ts';
import { tunedSchedule } from '../nn/cells.ts';

/** Whether every recurrent layer already has a measured schedule for this batch's sizes. */
function alreadyTuned(model: Sequential, batch: Batch): boolean {
  const [B, T] = batch.shape;
  return model.recurrentLayers().every((l) => tunedSchedule(model.context, l.cell, { B, T, H: l.hiddenSize }) !== undefined);
}

export interface EpochLog {
  epoch: number;
  /** Mean of the losses read back during the epoch. */
  loss: number;
  /** Mean loss over evalBatches, when given. */
  evalLoss?: number;
  seconds: number;
  tokensPerSecond: number;
}

export interface FitOptions {
  epochs: number;
  /** The batches of one epoch; called at each epoch's start (shuffle by epoch here). */
  trainBatches: (epoch: number) => Iterable<Batch>;
  /** Steps per epoch, for the progress bar's total and ETA. */
  stepsPerEpoch?: number;
  evalBatches?: () => Iterable<Batch>;
  /** Read the loss back every N steps (and at each epoch's last step). Default 10. */
  logEvery?: number;
  /** Show a progress bar (TTY) or log lines (otherwise). Default true. */
  progress?: boolean;
  /** Clear carried states of stateful layers at each epoch's start. Default true. */
  resetStatesEachEpoch?: boolean;
  /** Saves a checkpoint; called after each `checkpointEvery` epochs (only with a finite loss). */
  checkpoint?: (model: Sequential, epoch: number) => Promise<void>;
  checkpointEvery?: number;
  onStepEnd?: (step: number, loss: number | undefined) => void | Promise<void>;
  onEpochEnd?: (log: EpochLog) => void | Promise<void>;
  /** Stop early (checked after each step). */
  shouldStop?: () => boolean;
  /**
   * Measure the step and sequence schedules on the first batch before training and run the faster
   * (tuneSchedule), unless these sizes were measured already on this adapter. Default 'auto': on
   * GPUs, not on CPU adapters (lavapipe, SwiftShader), where the step schedule is known to win and
   * measuring would only cost time.
   */
  tune?: boolean | 'auto';
  onTune?: (r: TuneResult) => void;
}

/**
 * Trains `model` for `o.epochs` epochs over `o.trainBatches(epoch)`, reading the loss back every
 * `logEvery` steps, with optional evaluation, callbacks and periodic checkpoints. Returns one
 * {@link EpochLog} per epoch.
 */
export async function fit(model: Sequential, o: FitOptions): Promise<EpochLog[]> {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new Error(`fit: epochs must be a positive integer, got ${o.epochs}`);
  const logEvery = o.logEvery ?? 10;
  const history: EpochLog[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    if (o.resetStatesEachEpoch ?? true) model.resetStates();
    const started = Date.now();
    const bar = (o.progress ?? true) ? new ProgressBar({ total: o.stepsPerEpoch ?? 0, label: `epoch ${epoch + 1}/${o.epochs}` }) : null;
    let sum = 0, count = 0, step = 0, tokens = 0;
    const it = o.trainBatches(epoch)[Symbol.iterator]();
    let next = it.next();
    const tune = o.tune ?? 'auto';
    if (epoch === 0 && !next.done && (tune === true || (tune === 'auto' && !isCpuAdapter(model.context))) && !alreadyTuned(model, next.value)) {
      o.onTune?.(await tuneSchedule(model, next.value));
    }
    while (!next.done) {
      const batch = next.value;
      next = it.next();
      const last = next.done === true;
      const read = (step + 1) % logEvery === 0 || last;
      const r = await model.trainStep(batch, { readLoss: read });
      step++;
      const n = batch.shape[0] * batch.shape[1];
      tokens += n;
      if (r.loss !== undefined) { sum += r.loss; count++; }
      bar?.update(step, n, { loss: r.loss ?? (count ? sum / count : undefined) });
      await o.onStepEnd?.(model.step, r.loss);
      if (o.shouldStop?.()) break;
    }
    await model.context.sync();
    const seconds = (Date.now() - started) / 1000;
    const log: EpochLog = { epoch: epoch + 1, loss: count ? sum / count : NaN, seconds, tokensPerSecond: tokens / Math.max(seconds, 1e-9) };
    if (o.evalBatches) {
      let es = 0, en = 0;
      for (const b of o.evalBatches()) { es += await model.evaluate(b); en++; }
      log.evalLoss = en ? es / en : NaN;
    }
    history.push(log);
    if (o.checkpoint && (epoch + 1) % (o.checkpointEvery ?? 1) === 0 && Number.isFinite(log.loss)) await o.checkpoint(model, epoch + 1);
    await o.onEpochEnd?.(log);
    if (o.shouldStop?.()) break;
  }
  return history;
}
