// Sequential: a stack of layers with a loss, an optimizer and optional global-norm clipping.
// One training step = validate everything on the host, upload the batch, record forward, loss,
// backward, the gradient norm (and clipping) and the update into one command buffer, submit, and
// read back a 16-byte status. The GPU skips the update when the gradient norm or the loss is not
// finite, and the step counters advance only for steps that were applied. With loss scaling
// (./loss-scale.ts) the backward starts from the scaled loss gradient in the same submission.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Rng } from '../cpu/random.ts';
import { hashU32 } from '../cpu/seq.ts';
import { Layer, type Act, type ActDesc, type Parameter, type RunInfo } from './layer.ts';
import { Recurrent, type RecurrentState } from './recurrent.ts';
import { Embedding, OneHot } from './embedding.ts';
import { checkBatch, type CheckedBatch } from './batch.ts';
import { checkBoolean, checkEnum, checkOptionsObject, describeValue } from './options.ts';
import { buildTokenIndex } from '../cpu/embedding.ts';
import { seqAxpy } from '../kernels/seq.ts';
import { Loss, LOSS_KINDS, type LossKind, type Targets, makeLoss } from '../train/losses.ts';
import type { Optimizer } from '../train/optimizers.ts';
import {
  checkClipNormOption, checkOptimizerOption, checkStepReady, makeGuardBuffers, readStepStatus, recordGuardedUpdate, releaseGuardBuffers,
  type GuardBuffers, type StepResult,
} from './step-guard.ts';
import { checkLossScaleOption, type LossScaleOption, type LossScaler } from './loss-scale.ts';

export type { StepResult } from './step-guard.ts';

/**
 * One batch. Token inputs are (B, T) ids; feature inputs (B, T, I) floats. Plain arrays of numbers
 * are accepted wherever a typed array is named (and converted); a typed array of another kind is
 * refused.
 */
export interface Batch {
  x: Int32Array | Float32Array | number[];
  /** [B, T] for token ids, [B, T, I] for features. */
  shape: number[];
  /** (B) valid lengths in [1, T], integers; all T when omitted. */
  lengths?: Int32Array | number[];
  /** Targets: class ids (i32) for softmax cross-entropy, values (f32) for sigmoid cross-entropy and MSE. */
  y?: Int32Array | Float32Array | number[];
  /** Per-target weights ≥ 0 (softmax cross-entropy only); default 1 on valid steps, 0 on padding. */
  weights?: Float32Array | number[];
}

export interface CompileOptions {
  loss: LossKind;
  optimizer: Optimizer;
  /**
   * Clip gradients to this global norm before each update (PyTorch clip_grad_norm_): a positive
   * finite number, or omit it (undefined) for no clipping. 0, negative, NaN and Infinity are errors.
   * The norm is measured every step either way: a non-finite norm or loss skips the update.
   */
  clipNorm?: number;
  /**
   * Loss scaling (PyTorch GradScaler, Keras LossScaleOptimizer), for gradients too small for f16:
   * trainStep seeds the backward pass with the loss gradient times the scale and divides the
   * gradients by it again in the clip coefficient (no extra pass over the weights); the loss it
   * reports is not scaled. A number in [1, 2^126] is a fixed scale. 'dynamic' starts at 2^15,
   * halves the scale and skips the step when a gradient is not finite, and doubles it after 2000
   * applied steps in a row; `{ initialScale, growthInterval }` is dynamic scaling with those
   * settings. Omit it for none. computeGradients and evaluate never scale.
   */
  lossScale?: LossScaleOption;
}

/** What a run needs after its checks: the checked batch and, for a loss, its targets. */
interface CheckedRun {
  batch: CheckedBatch;
  targets?: Targets;
  training: boolean;
}

export class Sequential {
  readonly layers: Layer[];
  readonly seed: number;
  private rng: Rng;
  private inputDesc: ActDesc | null = null;
  /** Each layer's output description, from configure() (for the per-run size checks). */
  private layerOutputs: ActDesc[] = [];
  private outputDesc: ActDesc | null = null;
  private ctx: GpuContext | null = null;
  private lossFn: Loss | null = null;
  optimizer: Optimizer | null = null;
  /** The global norm gradients are clipped to; undefined: no clipping. */
  clipNorm: number | undefined = undefined;
  /** The loss scale (compile's `lossScale`) and its growth counter; null: no loss scaling. */
  lossScaler: LossScaler | null = null;
  /** Training steps applied (skipped steps do not count). */
  step = 0;
  private stepRng: Rng;
  private inputs = new Map<string, Tensor>();
  private guardBufs: GuardBuffers | null = null;
  /** Set while a trainStep waits for its status, so that overlapping calls are refused. */
  private stepInFlight = false;

  constructor(layers: Layer[], opts: { seed?: number } = {}) {
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new Error(`Sequential: expected a non-empty array of layers, e.g. [new LSTM({ hiddenSize: 64 }), new Dense({ units: 10 })], got ${describeValue(layers)}`);
    }
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw new Error(`Sequential: layers[${i}] is ${describeValue(l)}, expected a layer (Embedding, OneHot, LSTM, GRU, RNN, Dense, Dropout, LastStep)`);
    });
    if (new Set(layers).size !== layers.length) throw new Error('Sequential: the same layer object appears twice; create a new layer for each position');
    checkOptionsObject('Sequential', opts, ['seed'], '{ seed: 1 }');
    if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) throw new Error(`Sequential: option seed must be an integer, got ${describeValue(opts.seed)}`);
    this.layers = layers;
    this.seed = opts.seed ?? 1;
    this.rng = new Rng(this.seed);
    this.stepRng = new Rng(hashU32(this.seed ^ 0x5eed));
    const names = new Set<string>();
    for (const l of layers) {
      let n = l.name, i = 1;
      while (names.has(n)) n = `${l.name}_${i++}`;
      l.name = n;
      names.add(n);
    }
  }

  /**
   * Infers every layer's shapes from the input and initialises the parameters (seeded).
   * `input`: { kind: 'tokens', size: V } or { kind: 'seq', size: I }. Embedding / OneHot first
   * layers know their input, so `input` may then be omitted.
   */
  configure(input?: ActDesc): this {
    const first = this.layers[0] as Layer & { inputDesc?: () => ActDesc };
    let desc: ActDesc | undefined = input ?? first.inputDesc?.();
    if (!desc) {
      const size = (first as unknown as { inputSize?: number }).inputSize;
      if (!size) throw new Error('Sequential: the input size is unknown; pass configure({ kind: "seq", size: I }) or set inputSize on the first layer');
      desc = { kind: 'seq', size };
    }
    this.inputDesc = desc;
    this.layerOutputs = this.layers.map((l) => (desc = l.configure(desc!, this.rng)));
    this.outputDesc = desc;
    // A one-hot input feeding a unidirectional recurrent layer becomes a gather of W_ih's columns.
    const [first0, second] = this.layers;
    if (first0 instanceof OneHot && second instanceof Recurrent && !second.bidirectional) {
      first0.passTokens = true;
      second.oneHotInput = true;
    }
    // An Embedding feeding one is folded into its W_ih for batches with more tokens than rows.
    if (first0 instanceof Embedding && second instanceof Recurrent) {
      first0.foldInto = second;
      second.foldedTable = first0.table;
    }
    return this;
  }

  get output(): ActDesc {
    if (!this.outputDesc) throw new Error('Sequential: call configure() (or build()) first');
    return this.outputDesc;
  }

  get input(): ActDesc {
    if (!this.inputDesc) throw new Error('Sequential: call configure() (or build()) first');
    return this.inputDesc;
  }

  /** Uploads the parameters to the device. Configures first if needed. */
  build(ctx: GpuContext, input?: ActDesc): this {
    if (!this.inputDesc) this.configure(input);
    this.ctx = ctx;
    for (const l of this.layers) l.build(ctx);
    return this;
  }

  /**
   * Sets the loss, the optimizer (attached to every parameter, its state zeroed) and clipping.
   * Every option is checked before anything changes: a failed compile leaves the model as it was.
   */
  compile(o: CompileOptions): this {
    const ctx = this.requireCtx();
    checkOptionsObject('compile', o as unknown, ['loss', 'optimizer', 'clipNorm', 'lossScale'], "{ loss: 'softmax_cross_entropy', optimizer: new Adam() }");
    if (o.loss === undefined) throw new Error(`compile: option loss is missing; expected one of ${LOSS_KINDS.join(', ')}`);
    const kind = checkEnum('compile', 'option loss', o.loss, LOSS_KINDS);
    const optimizer = checkOptimizerOption('compile', o.optimizer);
    const clipNorm = checkClipNormOption('compile', o.clipNorm);
    const lossScaler = checkLossScaleOption('compile', o.lossScale);
    if (this.stepInFlight) throw new Error('compile: a trainStep is still running; await it first');
    const lossFn = makeLoss(kind, this.output);
    // Everything is valid: from here on the model changes.
    this.lossFn?.dispose();
    if (this.optimizer && this.optimizer !== optimizer) this.releaseOwnOptimizer();
    this.lossFn = lossFn;
    this.optimizer = optimizer;
    optimizer.attach(ctx, this.namedParameters().map(([key, p]) => ({ key, p })));
    this.clipNorm = clipNorm;
    this.lossScaler = lossScaler;
    releaseGuardBuffers(this.guardBufs);
    this.guardBufs = makeGuardBuffers(ctx, this.grads());
    return this;
  }

  /** Parameters with their state-dict names (`lstm.weight_ih_l0`, …), in layer order. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const l of this.layers) for (const p of l.parameters()) out.push([`${l.name}.${p.name}`, p]);
    return out;
  }

  /** The recurrent layers (for states). */
  recurrentLayers(): Recurrent[] {
    return this.layers.filter((l): l is Recurrent => l instanceof Recurrent);
  }

  /** Clears carried states of stateful layers (call at each epoch's start). */
  resetStates(): void {
    for (const l of this.recurrentLayers()) l.resetState();
  }

  /** The context the model was built on. */
  get context(): GpuContext {
    return this.requireCtx();
  }

  get contextOrNull(): GpuContext | null {
    return this.ctx;
  }

  /** State of the per-step RNG (dropout seeds), for exact resume. */
  rngState(): number {
    return this.stepRng.getState();
  }

  setRngState(s: number): void {
    this.stepRng.setState(s);
  }

  private requireCtx(): GpuContext {
    if (!this.ctx) throw new Error('Sequential: call build(ctx) first');
    return this.ctx;
  }

  private inputBuffer(key: string, shape: number[], dtype: 'f32' | 'i32' | 'u32'): Tensor {
    const ctx = this.requireCtx();
    const have = this.inputs.get(key);
    if (have && have.dtype === dtype && have.shape.length === shape.length && have.shape.every((d, i) => d === shape[i])) return have;
    have?.release();
    const t = ctx.empty(shape, dtype, `input.${key}`);
    this.inputs.set(key, t);
    return t;
  }

  /**
   * Every check of a run, on the host, before anything is written, recorded or counted: the
   * batch, its targets (with `withTargets`), and each layer's per-run checks. Changes nothing.
   */
  private checkRun(owner: string, batch: Batch, training: boolean, withTargets: boolean): CheckedRun {
    this.requireCtx();
    if (withTargets && !this.lossFn) throw new Error(`${owner}: the model has no loss; call model.compile({ loss, optimizer }) first`);
    const checked = checkBatch(owner, batch, this.input);
    const targets = withTargets
      ? this.lossFn!.check(batch, { owner, outShape: this.outputShape(checked.B, checked.T), B: checked.B, T: checked.T, lengths: checked.lengths })
      : undefined;
    for (const l of this.layers) l.checkRun({ B: checked.B, T: checked.T, training });
    this.checkRunSizes(checked.B, checked.T);
    return { batch: checked, targets, training };
  }

  /**
   * Every per-run tensor (each layer's input and output, gradients of the same shapes, gates and
   * saved activations) must fit the device's limits at this (B, T); checked here so that a batch
   * too large for the adapter is refused by name before any dispatch is recorded.
   */
  private checkRunSizes(B: number, T: number): void {
    const ctx = this.requireCtx();
    const shapeOf = (d: ActDesc): number[] => (d.kind === 'vec' ? [B, d.size] : d.kind === 'tokens' ? [B, T] : [B, T, d.size]);
    ctx.checkAllocation(`the batch input at batch ${B} × ${T} steps`, shapeOf(this.input));
    this.layers.forEach((l, i) => {
      ctx.checkAllocation(`${l.name}'s output at batch ${B} × ${T} steps`, shapeOf(this.layerOutputs[i]));
      for (const [label, width] of Object.entries(l.runWidths())) ctx.checkAllocation(`${l.name}.${label} at batch ${B} × ${T} steps`, [B, T, width]);
    });
  }

  /**
   * Uploads a checked run: inputs, lengths, the dropout seed (advancing the step RNG in training),
   * the token index, and the targets. Every write of a run happens here, before any recording, so
   * that a step stays one submission.
   */
  private upload(c: CheckedRun): { run: RunInfo; x: Act } {
    const ctx = this.requireCtx();
    const inDesc = this.input;
    const { B, T, shape, lengths } = c.batch;
    const tokens = inDesc.kind === 'tokens';
    const xT = this.inputBuffer('x', shape, tokens ? 'i32' : 'f32');
    ctx.write(xT, c.batch.x);
    const lenT = this.inputBuffer('lengths', [B], 'i32');
    ctx.write(lenT, lengths);
    const seed = c.training ? this.stepRng.seed() : 0;
    const seedT = this.inputBuffer('seed', [1], 'u32');
    ctx.write(seedT, Uint32Array.of(seed));
    const hostTokens = tokens ? (c.batch.x as Int32Array) : undefined;
    const run: RunInfo = { B, T, lengths: lenT, hostLengths: lengths, hostTokens, training: c.training, seed, seedTensor: seedT };
    if (hostTokens) {
      let index: { offsets: Tensor; positions: Tensor } | null = null;
      run.tokenIndex = () => {
        if (!index) {
          const idx = buildTokenIndex(hostTokens, inDesc.size, [B, T]);
          index = { offsets: this.inputBuffer('offsets', [inDesc.size + 1], 'i32'), positions: this.inputBuffer('positions', [B * T], 'i32') };
          ctx.write(index.offsets, idx.offsets);
          ctx.write(index.positions, idx.positions);
        }
        return index;
      };
      // Build it now, before anything is recorded, so the step stays one submission.
      if (c.training) run.tokenIndex();
    }
    if (c.targets) this.lossFn!.upload(ctx, c.targets);
    return { run, x: { kind: tokens ? 'tokens' : 'seq', t: xT } };
  }

  /** The shape of the model's output for a batch: (B, T, D) or (B, D). */
  private outputShape(B: number, T: number): number[] {
    const o = this.output;
    return o.kind === 'seq' ? [B, T, o.size] : [B, o.size];
  }

  /** `{ training?: boolean }`-style options of the run methods, checked. */
  private runOptions(owner: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
    if (opts === undefined) return {};
    checkOptionsObject(owner, opts, known, `{ ${known[0]}: true }`);
    for (const k of known) if (opts[k] !== undefined) checkBoolean(owner, `option ${k}`, opts[k]);
    return opts;
  }

  /** Records the forward pass of a batch; returns the output activation (not read back). */
  forward(batch: Batch, opts: { training?: boolean } = {}): { out: Act; run: RunInfo } {
    const o = this.runOptions('forward', opts, ['training']);
    const checked = this.checkRun('forward', batch, (o.training as boolean | undefined) ?? false, false);
    const { run, x } = this.upload(checked);
    let a = x;
    for (const l of this.layers) a = l.forward(this.requireCtx(), a, run);
    return { out: a, run };
  }

  /** Runs the model on a batch and reads the outputs back: (B, T, D) or (B, D). */
  async predict(batch: Batch): Promise<{ data: Float32Array; shape: number[] }> {
    const checked = this.checkRun('predict', batch, false, false);
    const { run, x } = this.upload(checked);
    let a = x;
    for (const l of this.layers) a = l.forward(this.requireCtx(), a, run);
    const data = (await this.requireCtx().read(a.t)) as Float32Array;
    return { data, shape: [...a.t.shape] };
  }

  /**
   * Forward + loss + backward, gradients left in each parameter's grad (cleared first).
   * Used by trainStep and by gradient tests.
   */
  computeGradients(batch: Batch, opts: { training?: boolean } = {}): RunInfo {
    const o = this.runOptions('computeGradients', opts, ['training']);
    const checked = this.checkRun('computeGradients', batch, (o.training as boolean | undefined) ?? true, true);
    const { run, x } = this.upload(checked);
    this.recordGradients(run, x);
    return run;
  }

  /**
   * Records forward, loss and backward; gradients are cleared first, then accumulated. With a
   * loss scale other than 1 the backward starts from the loss gradient times it.
   */
  private recordGradients(run: RunInfo, x: Act, lossScale = 1): void {
    const ctx = this.requireCtx();
    let out = x;
    for (const l of this.layers) out = l.forward(ctx, out, run);
    let dOut = this.lossFn!.record(ctx, out, true)!;
    if (lossScale !== 1) {
      const scaled = this.inputBuffer('scaledLossGrad', [...dOut.shape], 'f32');
      ctx.clear(scaled);
      seqAxpy(ctx, lossScale, dOut, scaled);
      dOut = scaled;
    }
    for (const g of this.grads()) ctx.clear(g);
    // A layer's input gradient is needed only if some layer before it has parameters.
    let d: Tensor | null = dOut;
    for (let i = this.layers.length - 1; i >= 0 && d; i--) {
      const needInput = this.layers.slice(0, i).some((l) => l.parameters().length > 0);
      d = this.layers[i].backward(ctx, d, run, needInput);
    }
  }

  /** Releases the optimizer's state, unless it has since been attached to another model. */
  private releaseOwnOptimizer(): void {
    const opt = this.optimizer;
    if (opt && opt.attachedTo(this.namedParameters().map(([, p]) => p))) opt.release();
  }

  /** Every parameter's gradient tensor, in namedParameters() order. */
  private grads(): Tensor[] {
    return this.namedParameters().map(([, p]) => p.grad!);
  }

  /** The last computed loss (reads back). */
  async readLoss(): Promise<number> {
    if (!this.lossFn) throw new Error('readLoss: the model has no loss; call model.compile({ loss, optimizer }) first');
    return this.lossFn.read(this.requireCtx());
  }

  /**
   * One training step: gradients, the global gradient norm (with clipping when compiled with
   * clipNorm), the optimizer update — one submission — then a 16-byte status read back.
   *
   * Everything is checked before anything is written or recorded; a rejected call changes nothing.
   * When the gradient norm or the loss is not finite, the GPU skips the update in the same
   * submission: the result says `skipped: true`, and the weights, optimizer state, `model.step`,
   * `optimizer.step`, the dropout RNG and stateful layers' carried states stay as they were. It
   * does not throw then; `fit` applies its `onNonFinite` policy. With `readLoss` the loss is
   * returned too (same read). With compile's `lossScale` the gradients are scaled and unscaled
   * within the step, and a dynamic scale is updated from its status (see StepResult.lossScale).
   */
  async trainStep(batch: Batch, opts: { readLoss?: boolean } = {}): Promise<StepResult> {
    const ctx = this.requireCtx();
    const o = this.runOptions('trainStep', opts, ['readLoss']);
    if (this.stepInFlight) throw new Error('trainStep: the previous trainStep has not finished; await each step before starting the next');
    const { optimizer, guard } = checkStepReady('trainStep', this.optimizer, this.lossFn !== null, this.guardBufs, this.namedParameters().map(([, p]) => p));
    const checked = this.checkRun('trainStep', batch, true, true);
    const lr = optimizer.currentLr();
    // Everything is valid: write, record, submit.
    const rngBefore = this.stepRng.getState();
    this.stepInFlight = true;
    try {
      const { run, x } = this.upload(checked);
      optimizer.prepareStep(lr); // a write too, so before the recording: one submission per step
      const lossScale = this.lossScaler?.scale ?? 1;
      this.recordGradients(run, x, lossScale);
      recordGuardedUpdate(ctx, optimizer, this.grads(), this.clipNorm, guard, this.lossFn!.lossBuffer(ctx), lossScale);
      const result = await readStepStatus(ctx, guard, o.readLoss === true, this.lossScaler);
      if (result.skipped) {
        this.stepRng.setState(rngBefore);
        for (const l of this.layers) l.stepSkipped(ctx);
      } else {
        this.step++;
        optimizer.commitStep();
      }
      return result;
    } finally {
      this.stepInFlight = false;
    }
  }

  /** The loss of a batch without training (no dropout, nothing updated or counted). */
  async evaluate(batch: Batch): Promise<number> {
    const ctx = this.requireCtx();
    const checked = this.checkRun('evaluate', batch, false, true);
    const { run, x } = this.upload(checked);
    let out = x;
    for (const l of this.layers) out = l.forward(ctx, out, run);
    this.lossFn!.record(ctx, out, false);
    return this.lossFn!.read(ctx);
  }

  /** Sets initial states of the recurrent layers (by layer name); see Recurrent.setInitialState. */
  setInitialStates(states: Record<string, RecurrentState | null>): void {
    for (const l of this.recurrentLayers()) if (l.name in states) l.setInitialState(states[l.name]);
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
    for (const t of this.inputs.values()) t.release();
    this.inputs.clear();
    this.lossFn?.dispose();
    this.releaseOwnOptimizer();
    releaseGuardBuffers(this.guardBufs);
    this.guardBufs = null;
  }
}
