// The training loop: epochs of batches, the loss read back every `logEvery` steps, evaluation,
// callbacks, periodic checkpoints and a progress bar. Browser-safe: saving is a callback (Node
// users pass one that calls saveCheckpoint). Every option is checked before anything runs; a step
// the GPU skipped (non-finite gradient norm or loss) stops the loop or is counted, by policy.
import type { Batch, Sequential } from '../nn/model.ts';
import { Model, type InputBatch, type ModelTargets } from '../nn/graph.ts';
import { ProgressBar } from './progress.ts';
import { tuneSchedule, type TuneResult } from './tune.ts';
import { checkBoolean, checkEnum, checkInteger, checkOptionsObject, describeValue } from '../nn/options.ts';

/** A graph Model's batch for fit: its inputs by name and its outputs' targets by name. */
export interface GraphBatch {
  inputs: Record<string, InputBatch>;
  targets: ModelTargets<string>;
}

/** Whether every recurrent layer already has a measured schedule for this batch's sizes. */
function alreadyTuned(model: Sequential, batch: Batch): boolean {
  if (!Array.isArray(batch?.shape)) return false; // tuneSchedule's own checks name what is wrong
  const [B, T] = batch.shape;
  return model.recurrentLayers().every((l) => model.context.tuned.get(l.cell, { B, T, H: l.hiddenSize }) !== undefined);
}

/** Batches: an array (or any iterable), an async iterable, or a function returning one. */
export type BatchSource<Args extends unknown[], B = Batch> =
  | Iterable<B>
  | AsyncIterable<B>
  | ((...args: Args) => Iterable<B> | AsyncIterable<B> | Promise<Iterable<B> | AsyncIterable<B>>);

/** The batches a model trains on: a Batch for Sequential, `{ inputs, targets }` for a graph Model. */
export type BatchOf<M> = M extends Model ? GraphBatch : Batch;

export interface EpochLog {
  epoch: number;
  /** Mean of the losses read back during the epoch (skipped steps excluded). */
  loss: number;
  /** Mean loss over evalBatches, when given. */
  evalLoss?: number;
  /** Steps whose update the GPU skipped (non-finite gradient norm or loss); see `onNonFinite`. */
  skippedSteps: number;
  seconds: number;
  tokensPerSecond: number;
}

export interface FitOptions<M extends Sequential | Model = Sequential> {
  /** Passes over trainBatches: a positive integer. */
  epochs: number;
  /**
   * The batches of one epoch: an array (reused every epoch), any iterable or async iterable, or a
   * function of the epoch (0-based) returning one, called at each epoch's start (shuffle here). A
   * one-shot iterator (a generator object) can only serve one epoch: pass a function for more.
   */
  trainBatches: BatchSource<[epoch: number], BatchOf<M>>;
  /** Steps per epoch, for the progress bar's total and ETA. */
  stepsPerEpoch?: number;
  /** Batches to evaluate after each epoch; the same forms as trainBatches. */
  evalBatches?: BatchSource<[], BatchOf<M>>;
  /** Read the loss back every N steps (and at each epoch's last step). Default 10. */
  logEvery?: number;
  /** Show a progress bar (TTY) or log lines (otherwise). Default true. */
  progress?: boolean;
  /** Clear carried states of stateful layers at each epoch's start. Default true. */
  resetStatesEachEpoch?: boolean;
  /** Saves a checkpoint; called after each `checkpointEvery` epochs (only with a finite loss). */
  checkpoint?: (model: M, epoch: number) => Promise<void>;
  checkpointEvery?: number;
  /** Called after each applied step (not after a skipped one) with the model's step count. */
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
  /**
   * What to do when the GPU skips a step because its gradient norm or loss is not finite (the
   * weights and optimizer state then stay at the last good step). 'throw' (default): stop with an
   * error naming the step, epoch and batch. 'skip': go on with the next batch, counting skipped
   * steps in each EpochLog's `skippedSteps`. With dynamic loss scaling (`compile({ lossScale:
   * 'dynamic' })`) a step whose scaled gradients overflow is skipped and counted, never thrown.
   */
  onNonFinite?: 'throw' | 'skip';
}

const FIT_OPTIONS = [
  'epochs', 'trainBatches', 'stepsPerEpoch', 'evalBatches', 'logEvery', 'progress', 'resetStatesEachEpoch', 'checkpoint',
  'checkpointEvery', 'onStepEnd', 'onEpochEnd', 'shouldStop', 'tune', 'onTune', 'onNonFinite',
] as const;

/** Whether `v` is a one-shot iterator (its iterator is itself), which serves a single epoch. */
function isOneShot(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as { [Symbol.iterator]?: () => unknown; [Symbol.asyncIterator]?: () => unknown };
  try {
    if (typeof o[Symbol.iterator] === 'function') return o[Symbol.iterator]!() === v;
    if (typeof o[Symbol.asyncIterator] === 'function') return o[Symbol.asyncIterator]!() === v;
  } catch { /* not ours to judge */ }
  return false;
}

const isIterable = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && (typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function' || typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');

function checkSource(name: string, v: unknown, epochs: number, required: boolean): void {
  const expected = 'an array of batches, an iterable or async iterable of batches, or a function returning one';
  if (v === undefined) {
    if (required) throw new Error(`fit: option ${name} is missing; expected ${expected}`);
    return;
  }
  if (typeof v !== 'function' && !isIterable(v)) throw new Error(`fit: option ${name} must be ${expected}, got ${describeValue(v)}`);
  if (epochs > 1 && isOneShot(v)) {
    throw new Error(`fit: option ${name} is a one-shot iterator (e.g. a generator object), which can serve only one epoch, but epochs is ${epochs}; pass a function that returns a fresh one, e.g. ${name}: () => batches()`);
  }
}

/** Opens a batch source for one pass: a uniform async `next()`. */
async function openSource(name: string, src: BatchSource<unknown[]>, args: unknown[]): Promise<() => Promise<IteratorResult<Batch>>> {
  const v = typeof src === 'function' ? await src(...args) : src;
  if (typeof v === 'object' && v !== null) {
    const asyncIt = (v as AsyncIterable<Batch>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') {
      const it = asyncIt.call(v);
      return () => it.next();
    }
    const syncIt = (v as Iterable<Batch>)[Symbol.iterator];
    if (typeof syncIt === 'function') {
      const it = syncIt.call(v);
      return async () => it.next();
    }
  }
  throw new Error(`fit: ${name}(${args.join(', ')}) returned ${describeValue(v)}; expected an array or other iterable of batches`);
}

/** Adds where in the loop an error happened. */
function located(where: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`fit: ${where}: ${msg}`, { cause: e });
}

function checkFitOptions<M extends Sequential | Model>(model: M, o: FitOptions<M>): void {
  if (typeof model !== 'object' || model === null || typeof (model as Sequential).trainStep !== 'function') {
    throw new Error(`fit: the first argument must be a compiled Sequential or Model, got ${describeValue(model)}`);
  }
  checkOptionsObject('fit', o as unknown, FIT_OPTIONS, '{ epochs: 10, trainBatches: batches }');
  if (o.epochs === undefined) throw new Error('fit: option epochs is missing; expected a positive integer');
  checkInteger('fit', 'option epochs', o.epochs, 1);
  checkSource('trainBatches', o.trainBatches, o.epochs, true);
  checkSource('evalBatches', o.evalBatches, o.epochs, false);
  if (o.stepsPerEpoch !== undefined) checkInteger('fit', 'option stepsPerEpoch', o.stepsPerEpoch, 0);
  if (o.logEvery !== undefined) checkInteger('fit', 'option logEvery', o.logEvery, 1);
  if (o.checkpointEvery !== undefined) checkInteger('fit', 'option checkpointEvery', o.checkpointEvery, 1);
  for (const k of ['progress', 'resetStatesEachEpoch'] as const) if (o[k] !== undefined) checkBoolean('fit', `option ${k}`, o[k]);
  for (const k of ['checkpoint', 'onStepEnd', 'onEpochEnd', 'shouldStop', 'onTune'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new Error(`fit: option ${k} must be a function, got ${describeValue(o[k])}`);
  }
  if (o.tune !== undefined && typeof o.tune !== 'boolean' && o.tune !== 'auto') {
    throw new Error(`fit: option tune must be true, false or 'auto', got ${describeValue(o.tune)}`);
  }
  if (o.onNonFinite !== undefined) checkEnum('fit', 'option onNonFinite', o.onNonFinite, ['throw', 'skip'] as const);
  if (!model.optimizer) throw new Error('fit: the model is not compiled; call model.compile({ loss, optimizer }) first');
}

/**
 * Trains `model` for `o.epochs` epochs over `o.trainBatches`, reading the loss back every
 * `logEvery` steps, with optional evaluation, callbacks and periodic checkpoints. Returns one
 * {@link EpochLog} per epoch. Options are checked before anything runs; an error from a step names
 * the epoch and batch.
 */
export async function fit<M extends Sequential | Model>(model: M, o: FitOptions<M>): Promise<EpochLog[]> {
  checkFitOptions(model, o);
  const graph = model instanceof Model ? model : null;
  const seq = graph ? null : (model as Sequential);
  const logEvery = o.logEvery ?? 10;
  const policy = o.onNonFinite ?? 'throw';
  const history: EpochLog[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    if (o.resetStatesEachEpoch ?? true) model.resetStates();
    const started = Date.now();
    const bar = (o.progress ?? true) ? new ProgressBar({ total: o.stepsPerEpoch ?? 0, label: `epoch ${epoch + 1}/${o.epochs}` }) : null;
    let sum = 0, count = 0, step = 0, tokens = 0, skippedSteps = 0;
    const nextBatch = await openSource('trainBatches', o.trainBatches as BatchSource<unknown[]>, [epoch]);
    let next = await nextBatch();
    const tune = o.tune ?? 'auto';
    // Schedules are measured on a Sequential's first batch (a graph Model uses the context's settings).
    if (seq && epoch === 0 && !next.done && (tune === true || (tune === 'auto' && !model.context.adapterFacts.isCpu))) {
      try {
        const first = next.value as Batch;
        if (!alreadyTuned(seq, first)) o.onTune?.(await tuneSchedule(seq, first));
      } catch (e) {
        throw located(`measuring schedules on epoch 1, batch 1`, e);
      }
    }
    while (!next.done) {
      const batch = next.value;
      const where = `epoch ${epoch + 1}, batch ${step + 1}`;
      next = await nextBatch();
      const last = next.done === true;
      const read = (step + 1) % logEvery === 0 || last;
      let r;
      try {
        if (graph) {
          const b = batch as unknown as GraphBatch;
          r = await graph.trainStep(b?.inputs as Parameters<Model['trainStep']>[0], b?.targets, { readLoss: read });
        } else {
          r = await seq!.trainStep(batch as Batch, { readLoss: read });
        }
      } catch (e) {
        throw located(where, e);
      }
      step++;
      const shape = graph ? Object.values((batch as unknown as GraphBatch).inputs)[0].shape : (batch as Batch).shape;
      const n = shape[0] * shape[1];
      tokens += n;
      if (r.skipped) {
        // Dynamic loss scaling skips an overflowing step and halves its scale: routine, not an error.
        const overflow = model.lossScaler?.dynamic === true && (r.lossScale ?? 1) > 1 && !Number.isFinite(r.gradNorm) && Number.isFinite(r.loss);
        if (policy === 'throw' && !overflow) {
          const what = Number.isFinite(r.loss) ? `the gradient norm is ${r.gradNorm}` : `the loss is ${r.loss}`;
          const other = Number.isFinite(r.loss) ? `loss ${r.loss}` : `gradient norm ${r.gradNorm}`;
          throw new Error(`fit: ${what} at step ${model.step + 1} (${where}; ${other}): the update was skipped, so the weights and ` +
            `optimizer state are those after step ${model.step}. Pass onNonFinite: 'skip' to skip such batches and go on`);
        }
        skippedSteps++;
        bar?.update(step, n, { loss: count ? sum / count : undefined });
      } else {
        if (r.loss !== undefined) { sum += r.loss; count++; }
        bar?.update(step, n, { loss: r.loss ?? (count ? sum / count : undefined) });
        await o.onStepEnd?.(model.step, r.loss);
      }
      if (o.shouldStop?.()) break;
    }
    await model.context.sync();
    const seconds = (Date.now() - started) / 1000;
    const log: EpochLog = { epoch: epoch + 1, loss: count ? sum / count : NaN, skippedSteps, seconds, tokensPerSecond: tokens / Math.max(seconds, 1e-9) };
    if (o.evalBatches) {
      let es = 0, en = 0;
      const nextEval = await openSource('evalBatches', o.evalBatches as BatchSource<unknown[]>, []);
      for (let e = await nextEval(); !e.done; e = await nextEval()) {
        try {
          if (graph) {
            const b = e.value as unknown as GraphBatch;
            es += await graph.evaluate(b?.inputs as Parameters<Model['evaluate']>[0], b?.targets);
          } else {
            es += await seq!.evaluate(e.value as Batch);
          }
        } catch (err) {
          throw located(`evaluating after epoch ${epoch + 1}, batch ${en + 1}`, err);
        }
        en++;
      }
      log.evalLoss = en ? es / en : NaN;
    }
    history.push(log);
    if (o.checkpoint && (epoch + 1) % (o.checkpointEvery ?? 1) === 0 && Number.isFinite(log.loss)) await o.checkpoint(model, epoch + 1);
    await o.onEpochEnd?.(log);
    if (o.shouldStop?.()) break;
  }
  return history;
}
