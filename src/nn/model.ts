// Sequential: a stack of layers with a loss, an optimizer and optional global-norm clipping.
// One training step = upload the batch, record forward, loss, backward, clip and update into one
// command buffer, submit. The loss is read back only when asked for.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Rng } from '../cpu/random.ts';
import { hashU32 } from '../cpu/seq.ts';
import { Layer, type Act, type ActDesc, type Parameter, type RunInfo } from './layer.ts';
import { Recurrent, type RecurrentState } from './recurrent.ts';
import { OneHot } from './embedding.ts';
import { buildTokenIndex } from '../cpu/embedding.ts';
import { Loss, type LossKind, makeLoss } from '../train/losses.ts';
import { clipGradNorm, clipPartialsLength } from '../kernels/clip.ts';
import type { Optimizer } from '../train/optimizers.ts';

/** One batch. Token inputs are (B, T) ids; feature inputs (B, T, I) floats. */
export interface Batch {
  x: Int32Array | Float32Array;
  /** [B, T] for token ids, [B, T, I] for features. */
  shape: number[];
  /** (B) valid lengths in [1, T]; all T when omitted. */
  lengths?: Int32Array;
  /** Targets: class ids (i32) for softmax cross-entropy, values (f32) for sigmoid cross-entropy and MSE. */
  y?: Int32Array | Float32Array;
  /** Per-target weights (softmax cross-entropy); default 1 on valid steps, 0 on padding. */
  weights?: Float32Array;
}

export interface CompileOptions {
  loss: LossKind;
  optimizer: Optimizer;
  /** Clip gradients to this global norm before each update (PyTorch clip_grad_norm_). */
  clipNorm?: number;
}

export interface StepResult {
  /** The batch loss, when it was read back (`readLoss`). */
  loss?: number;
  /** The global gradient norm before clipping, when read back. */
  gradNorm?: number;
}

export class Sequential {
  readonly layers: Layer[];
  readonly seed: number;
  private rng: Rng;
  private inputDesc: ActDesc | null = null;
  private outputDesc: ActDesc | null = null;
  private ctx: GpuContext | null = null;
  private lossFn: Loss | null = null;
  optimizer: Optimizer | null = null;
  clipNorm = 0;
  /** Training steps taken. */
  step = 0;
  private stepRng: Rng;
  private inputs = new Map<string, Tensor>();
  private clipBufs: { partials: Tensor; norm: Tensor; scale: Tensor } | null = null;

  constructor(layers: Layer[], opts: { seed?: number } = {}) {
    if (!Array.isArray(layers) || layers.length === 0) throw new Error('Sequential: give at least one layer');
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
    for (const l of this.layers) desc = l.configure(desc, this.rng);
    this.outputDesc = desc;
    // A one-hot input feeding a unidirectional recurrent layer becomes a gather of W_ih's columns.
    const [first0, second] = this.layers;
    if (first0 instanceof OneHot && second instanceof Recurrent && !second.bidirectional) {
      first0.passTokens = true;
      second.oneHotInput = true;
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

  /** Sets the loss, the optimizer (attached to every parameter) and clipping. */
  compile(o: CompileOptions): this {
    const ctx = this.requireCtx();
    this.lossFn = makeLoss(o.loss, this.output);
    this.optimizer = o.optimizer;
    o.optimizer.attach(ctx, this.namedParameters().map(([key, p]) => ({ key, p })));
    this.clipNorm = o.clipNorm ?? 0;
    if (this.clipNorm && !(this.clipNorm > 0)) throw new Error(`compile: clipNorm must be positive, got ${this.clipNorm}`);
    if (this.clipNorm) {
      const grads = this.namedParameters().map(([, p]) => p.grad!);
      this.clipBufs = {
        partials: ctx.empty([clipPartialsLength(grads)], 'f32', 'clip.partials'),
        norm: ctx.zeros([1], 'f32', 'clip.norm'),
        scale: ctx.zeros([1], 'f32', 'clip.scale'),
      };
    }
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

  /** Validates a batch and uploads it; returns the run info and the input activation. */
  private upload(batch: Batch, training: boolean): { run: RunInfo; x: Act } {
    const ctx = this.requireCtx();
    const inDesc = this.input;
    if (!batch || !batch.x || !Array.isArray(batch.shape)) throw new Error('batch: expected { x, shape, lengths?, y?, weights? }');
    const [B, T] = batch.shape;
    const tokens = inDesc.kind === 'tokens';
    const wantRank = tokens ? 2 : 3;
    if (batch.shape.length !== wantRank || !batch.shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new Error(`batch.shape is [${batch.shape.join(', ')}], expected ${tokens ? '[B, T] token ids' : `[B, T, ${inDesc.size}] features`}`);
    }
    if (!tokens && batch.shape[2] !== inDesc.size) throw new Error(`batch.shape is [${batch.shape.join(', ')}], expected [B, T, ${inDesc.size}] (the model's input size)`);
    const n = batch.shape.reduce((a, b) => a * b, 1);
    if (batch.x.length !== n) throw new Error(`batch.x has ${batch.x.length} values, shape [${batch.shape.join(', ')}] needs ${n}`);
    if (tokens) {
      if (!(batch.x instanceof Int32Array)) throw new Error('batch.x must be an Int32Array of token ids for a model that starts with Embedding/OneHot');
      for (let i = 0; i < n; i++) {
        const v = batch.x[i];
        if (v < 0 || v >= inDesc.size) throw new Error(`batch.x: token id ${v} at [${Math.floor(i / T)}, ${i % T}] is outside the vocabulary [0, ${inDesc.size})`);
      }
    } else {
      if (!(batch.x instanceof Float32Array)) throw new Error('batch.x must be a Float32Array of features');
      for (let i = 0; i < n; i++) if (!Number.isFinite(batch.x[i])) throw new Error(`batch.x: value ${batch.x[i]} at flat index ${i} is not finite`);
    }
    let lengths = batch.lengths;
    if (lengths) {
      if (!(lengths instanceof Int32Array) || lengths.length !== B) throw new Error(`batch.lengths must be an Int32Array of ${B} lengths, got ${lengths.length}`);
      for (let b = 0; b < B; b++) if (!(lengths[b] >= 1 && lengths[b] <= T)) throw new Error(`batch.lengths[${b}] = ${lengths[b]} is outside [1, ${T}]`);
    } else {
      lengths = new Int32Array(B).fill(T);
    }
    const xT = this.inputBuffer('x', batch.shape, tokens ? 'i32' : 'f32');
    ctx.write(xT, batch.x);
    const lenT = this.inputBuffer('lengths', [B], 'i32');
    ctx.write(lenT, lengths);
    const seed = training ? this.stepRng.seed() : 0;
    const seedT = this.inputBuffer('seed', [1], 'u32');
    ctx.write(seedT, Uint32Array.of(seed));
    const run: RunInfo = {
      B, T, lengths: lenT, hostLengths: lengths, hostTokens: tokens ? (batch.x as Int32Array) : undefined,
      training, seed, seedTensor: seedT,
    };
    if (tokens) {
      let index: { offsets: Tensor; positions: Tensor } | null = null;
      run.tokenIndex = () => {
        if (!index) {
          const idx = buildTokenIndex(batch.x as Int32Array, inDesc.size, [B, T]);
          index = { offsets: this.inputBuffer('offsets', [inDesc.size + 1], 'i32'), positions: this.inputBuffer('positions', [B * T], 'i32') };
          ctx.write(index.offsets, idx.offsets);
          ctx.write(index.positions, idx.positions);
        }
        return index;
      };
      // Build it now, before anything is recorded, so the step stays one submission.
      if (training) run.tokenIndex();
    }
    return { run, x: { kind: tokens ? 'tokens' : 'seq', t: xT } };
  }

  /** The shape of the model's output for a batch: (B, T, D) or (B, D). */
  private outputShape(run: RunInfo): number[] {
    const o = this.output;
    return o.kind === 'seq' ? [run.B, run.T, o.size] : [run.B, o.size];
  }

  /** Records the forward pass of a batch; returns the output activation (not read back). */
  forward(batch: Batch, opts: { training?: boolean } = {}): { out: Act; run: RunInfo } {
    const { run, x } = this.upload(batch, opts.training ?? false);
    let a = x;
    for (const l of this.layers) a = l.forward(this.requireCtx(), a, run);
    return { out: a, run };
  }

  /** Runs the model on a batch and reads the outputs back: (B, T, D) or (B, D). */
  async predict(batch: Batch): Promise<{ data: Float32Array; shape: number[] }> {
    const { out } = this.forward(batch, { training: false });
    const data = (await this.requireCtx().read(out.t)) as Float32Array;
    return { data, shape: [...out.t.shape] };
  }

  /**
   * Forward + loss + backward, gradients left in each parameter's grad (cleared first).
   * Used by trainStep and by gradient tests.
   */
  computeGradients(batch: Batch, opts: { training?: boolean } = {}): RunInfo {
    const { run, x } = this.beginStep(batch, opts.training ?? true);
    this.recordGradients(run, x);
    return run;
  }

  /** Validates and uploads a batch and its targets: every write of a step, before any recording. */
  private beginStep(batch: Batch, training: boolean): { run: RunInfo; x: Act } {
    const loss = this.lossFn;
    if (!loss) throw new Error('Sequential: compile() it with a loss first');
    const { run, x } = this.upload(batch, training);
    loss.prepare(this.requireCtx(), batch, this.outputShape(run), run);
    return { run, x };
  }

  /** Records forward, loss and backward; gradients are cleared first, then accumulated. */
  private recordGradients(run: RunInfo, x: Act): void {
    const ctx = this.requireCtx();
    let out = x;
    for (const l of this.layers) out = l.forward(ctx, out, run);
    const dOut = this.lossFn!.record(ctx, out, true)!;
    for (const g of this.grads()) ctx.clear(g);
    // A layer's input gradient is needed only if some layer before it has parameters.
    let d: Tensor | null = dOut;
    for (let i = this.layers.length - 1; i >= 0 && d; i--) {
      const needInput = this.layers.slice(0, i).some((l) => l.parameters().length > 0);
      d = this.layers[i].backward(ctx, d, run, needInput);
    }
  }

  /** Every parameter's gradient tensor, in namedParameters() order. */
  private grads(): Tensor[] {
    return this.namedParameters().map(([, p]) => p.grad!);
  }

  /** The last computed loss (reads back). */
  async readLoss(): Promise<number> {
    if (!this.lossFn) throw new Error('Sequential: compile() it with a loss first');
    return this.lossFn.read(this.requireCtx());
  }

  /**
   * One training step: gradients, optional clipping, optimizer update — one submission.
   * With `readLoss` the loss (and the gradient norm when clipping) is read back; a non-finite
   * loss then throws, naming the step.
   */
  async trainStep(batch: Batch, opts: { readLoss?: boolean } = {}): Promise<StepResult> {
    const ctx = this.requireCtx();
    if (!this.optimizer) throw new Error('Sequential: compile() it with an optimizer first');
    const { run, x } = this.beginStep(batch, true);
    this.optimizer.beginStep(); // its write, too, comes before the recording: one submission per step
    this.recordGradients(run, x);
    let scale: Tensor | undefined;
    if (this.clipNorm && this.clipBufs) {
      clipGradNorm(ctx, this.grads(), this.clipNorm, { partials: this.clipBufs.partials, norm: this.clipBufs.norm, scale: this.clipBufs.scale });
      scale = this.clipBufs.scale;
    }
    this.optimizer.record(scale);
    this.step++;
    ctx.flush();
    if (!opts.readLoss) return {};
    const loss = await this.readLoss();
    const result: StepResult = { loss };
    if (this.clipBufs) result.gradNorm = (await ctx.read(this.clipBufs.norm))[0];
    if (!Number.isFinite(loss)) throw new Error(`training diverged: the loss is ${loss} at step ${this.step}`);
    return result;
  }

  /** Loss (and outputs) of a batch without training. */
  async evaluate(batch: Batch): Promise<number> {
    const ctx = this.requireCtx();
    if (!this.lossFn) throw new Error('Sequential: compile() it with a loss first');
    const { run, x } = this.beginStep(batch, false);
    let out = x;
    for (const l of this.layers) out = l.forward(ctx, out, run);
    this.lossFn.record(ctx, out, false);
    return this.lossFn.read(ctx);
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
    this.optimizer?.release();
    if (this.clipBufs) for (const t of Object.values(this.clipBufs)) t.release();
    this.clipBufs = null;
  }
}
