// LSTM, GRU and RNN layers: stacked (numLayers), optionally bidirectional, with variable lengths,
// initial states, stateful carry (truncated BPTT) and dropout between layers.
//
// One direction of one layer, forward:  gx = X·W_ihᵀ + b_ih (one GEMM for all t), then the cell's
// step kernels over t (they add b_hh and h·W_hhᵀ). Backward: the cell's backward steps give dgates
// (input side) and dghh (hidden side; = dgates for LSTM/RNN), then GEMMs over all timesteps:
// dW_ih += dgatesᵀ·X, db_ih += Σ dgates, dW_hh += dghhᵀ·Hprev, db_hh += Σ dghh, dX = dgates·W_ih.
// Keras's cell options go to the kernels as overrides; a GRU with the reset gate before the product
// corrects n's rows of dW_hh (they multiply r ⊙ h_prev), and LSTM peepholes get
// Σ dgates ⊙ c (seqColumnDot).
// The reverse direction runs the same cell on each row reversed within its length.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import { matmul, matmulColumnSum } from '../kernels/matmul.ts';
import { halfEmpty, halfPack, halfUnpack, halfWords } from '../kernels/half.ts';
import { checkHalfSupported } from '../kernels/recurrent.ts';
import { embeddingProjectOneHot, embeddingProjectOneHotBackward } from '../kernels/embedding.ts';
import { seqAxpy, seqColumnDot, seqCopyCols, seqDropout, seqReverse, seqShiftPrev, seqTakeCols } from '../kernels/seq.ts';
import { saltOf } from '../cpu/seq.ts';
import { Layer, uniformInit, type Act, type ActDesc, type Parameter, type RunCheck, type RunInfo } from './layer.ts';
import { CELL_DRIVERS, resolveSchedule, type CellKind, type CellDriver, type RecurrentSchedule } from './cells.ts';
import { checkRecurrentOptions } from './recurrent-options.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';
import { connectRecurrent, type GraphValue, type RecurrentCallOptions, type RecurrentValue } from './graph-value.ts';

export interface RecurrentOptions {
  hiddenSize: number;
  /** Input features; inferred from the previous layer when omitted or 0. */
  inputSize?: number;
  /** Stacked layers (TF MultiRNNCell). Default 1. */
  numLayers?: number;
  /** PyTorch's `bidirectional`: outputs are [forward, reverse] concatenated (2H). */
  bidirectional?: boolean;
  /** Dropout on the outputs of every layer but the last, in training (PyTorch's `dropout`). */
  dropout?: number;
  /** Carry the final states into the next batch without backpropagating into them (char-RNN). */
  stateful?: boolean;
  /** LSTM only: initial forget-gate bias (TF BasicLSTMCell uses 1.0, split as 1.0 in bias_ih). */
  forgetBias?: number;
  /** RNN only: 'tanh' (default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
  /**
   * LSTM/GRU: Keras's `activation`, the cell activation (LSTM's g and act(c), GRU's n): 'tanh'
   * (default), 'relu', 'sigmoid', 'hard_sigmoid' or 'linear'.
   */
  activation?: CellActivation;
  /**
   * LSTM/GRU: Keras's `recurrent_activation`, the gates' activation (LSTM's i, f, o; GRU's r, z):
   * 'sigmoid' (default) or 'hard_sigmoid', clip(0.2·x + 0.5, 0, 1) as in Keras 2 and
   * TensorFlow.js (whose LSTM and GRU default to it; Keras 3's hard_sigmoid is relu6(x + 3) / 6).
   */
  recurrentActivation?: GateActivation;
  /**
   * GRU only: true (default, PyTorch; Keras reset_after=True) applies the reset gate after the
   * recurrent product, n = act(W_in x + b_in + r ⊙ (W_hn h + b_hn)); false (TF1 GRUCell, Keras
   * reset_after=False, tfjs) before it, n = act(W_in x + b_in + W_hn (r ⊙ h) + b_hn). Those
   * frameworks have one bias there: load it into bias_ih and zeros into bias_hh.
   */
  resetAfter?: boolean;
  /**
   * LSTM only: peephole connections (TF1 LSTMCell(use_peepholes=True), ONNX LSTM's P; PyTorch has
   * none): i and f also see p_i ⊙ c_prev and p_f ⊙ c_prev, o sees p_o ⊙ c. Adds a parameter
   * `weight_peephole_l{k}` (3, H) per layer and direction, rows p_i, p_f, p_o (ONNX orders P as
   * i, o, f). A checkpoint with it does not load into PyTorch's nn.LSTM.
   */
  peepholes?: boolean;
  /** Step or sequence kernels for the recurrence (default: the context's `settings.recurrentSchedule`, see GpuContext.configure). */
  schedule?: RecurrentSchedule;
  /**
   * Storage precision, like a Keras `mixed_float16` policy for this layer: 'f16' stores W_ih, W_hh
   * and the hidden-state sequence that the input GEMM and the recurrent kernels read and write in
   * f16 (half the bytes), while every sum and the biases, saved gates, cell states and gradients
   * stay f32. The parameters themselves stay f32 (master weights: optimizers and checkpoints see
   * f32); each forward packs fresh f16 copies of W_ih and W_hh from them, so an update is seen by
   * the next step. A fused one-hot input gathers W_ih's columns rounded to f16 (the f16 copy's
   * values, without packing the whole matrix). The layer's output is its f16 hidden states widened
   * to f32. Needs the WebGPU feature 'shader-f16': build throws without it (Dawn's OpenGL ES
   * backend lacks it). Default 'f32'.
   */
  precision?: 'f32' | 'f16';
  name?: string;
}

interface DirState {
  l: number;
  dir: 0 | 1;
  suffix: string;
  wih: Parameter;
  whh: Parameter;
  bih: Parameter;
  bhh: Parameter;
  /** LSTM peepholes (3, H), rows p_i, p_f, p_o. */
  wpeep?: Parameter;
}

/** Initial / final states of a recurrent layer: (numLayers·dirs, B, H) like PyTorch's h_n. */
export interface RecurrentState {
  h: Tensor;
  c?: Tensor;
}

export class Recurrent extends Layer {
  readonly cell: CellKind;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly dropout: number;
  readonly stateful: boolean;
  readonly forgetBias: number;
  readonly nonlinearity: 'tanh' | 'relu';
  /** LSTM/GRU cell activation, gate activation, GRU reset placement and LSTM peepholes (see RecurrentOptions). */
  readonly activation: CellActivation;
  readonly recurrentActivation: GateActivation;
  readonly resetAfter: boolean;
  readonly peepholes: boolean;
  /** Step or sequence kernels; undefined follows the context's `settings.recurrentSchedule`. */
  schedule: RecurrentSchedule | undefined;
  /** Storage of W_hh and the hidden states in the recurrence (see RecurrentOptions.precision). */
  readonly precision: 'f32' | 'f16';
  /** f16 storage tensors (u32 words of packed halves), cached like `buffer`. */
  private halves = new Map<string, Tensor>();
  inputSize: number;
  private driver: CellDriver;
  private dirs: DirState[] = [];
  /** States given for the next forward (or carried from the last one when stateful). */
  private initial: RecurrentState | null = null;
  private carryValid = false;
  /** Gradients w.r.t. the initial states, after backward (when asked for). */
  initialStateGrad: RecurrentState | null = null;
  /**
   * Upstream gradients of the final states for the next backward, (numLayers·dirs, B, H) each
   * (with variable lengths h_n is each row's state at its last valid step); null or a missing
   * part: zeros. Set by a `Model` when the final states feed other nodes or are outputs.
   */
  finalStateGrad: { h?: Tensor | null; c?: Tensor | null } | null = null;
  private lastB = 0;

  constructor(cell: CellKind, o: RecurrentOptions) {
    const c = checkRecurrentOptions(cell, o); // every option checked before the layer exists
    super(c.name);
    this.cell = c.cell;
    this.driver = CELL_DRIVERS[c.cell];
    this.hiddenSize = c.hiddenSize;
    this.numLayers = c.numLayers;
    this.bidirectional = c.bidirectional;
    this.dropout = c.dropout;
    this.stateful = c.stateful;
    this.forgetBias = c.forgetBias;
    this.nonlinearity = c.nonlinearity;
    this.activation = c.activation;
    this.recurrentActivation = c.recurrentActivation;
    this.resetAfter = c.resetAfter;
    this.peepholes = c.peepholes;
    this.schedule = c.schedule;
    this.precision = c.precision;
    this.inputSize = c.inputSize;
  }

  /** Refuses precision 'f16' on a device without 'shader-f16' before anything is uploaded. */
  override build(ctx: GpuContext): void {
    if (this.precision === 'f16') checkHalfSupported(ctx, `${this.cell.toUpperCase()} ${JSON.stringify(this.name)}: option precision 'f16'`);
    super.build(ctx);
  }

  override dispose(): void {
    for (const t of this.halves.values()) t.release();
    this.halves.clear();
    super.dispose();
  }

  /** The f16 copy of a weight, packed from its f32 value now (recorded in order with the updates). */
  private halfWeight(ctx: GpuContext, p: Parameter, key: string): Tensor {
    const t = this.halfBuffer(key, p.shape);
    halfPack(ctx, p.value!, t);
    return t;
  }

  /** A cached f16 storage tensor for numel(shape) values. */
  private halfBuffer(key: string, shape: readonly number[]): Tensor {
    const have = this.halves.get(key);
    if (have && have.shape[0] === halfWords(shape.reduce((a, b) => a * b, 1))) return have;
    have?.release();
    const t = halfEmpty(this.ctx!, shape, `${this.name}.${key}`);
    this.halves.set(key, t);
    return t;
  }

  /**
   * Calls the layer on a graph value for a graph `Model`. The result is the output sequence, with
   * the final states as `.state` ({ h, c } for LSTM, { h } otherwise; (numLayers·directions, B, H)).
   * `initialState` takes the initial states from other nodes (another recurrent layer's `.state`,
   * or a Dense output when numLayers·directions = 1); gradients flow back into them.
   */
  override call(input: GraphValue, opts?: RecurrentCallOptions): RecurrentValue {
    return connectRecurrent(this, input, opts);
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  configure(input: ActDesc, rng: Rng): ActDesc {
    if (input.kind !== 'seq') throw new Error(`${this.name}: needs a (B, T, features) sequence input, got ${input.kind}; put an Embedding or OneHot first for token ids`);
    if (this.inputSize && this.inputSize !== input.size) throw new Error(`${this.name}: inputSize ${this.inputSize} but the previous layer gives ${input.size}`);
    this.inputSize = input.size;
    const H = this.hiddenSize, G = this.driver.gates * H, D = this.numDirections;
    const bound = 1 / Math.sqrt(H);
    this.params = [];
    this.dirs = [];
    for (let l = 0; l < this.numLayers; l++) {
      const I = l === 0 ? this.inputSize : H * D;
      for (let dir = 0; dir < D; dir++) {
        const suffix = `_l${l}${dir === 1 ? '_reverse' : ''}`;
        const wih = this.addParam(`weight_ih${suffix}`, [G, I], uniformInit(rng, G * I, bound));
        const whh = this.addParam(`weight_hh${suffix}`, [G, H], uniformInit(rng, G * H, bound));
        const bih = this.addParam(`bias_ih${suffix}`, [G], uniformInit(rng, G, bound));
        const bhh = this.addParam(`bias_hh${suffix}`, [G], uniformInit(rng, G, bound));
        if (this.cell === 'lstm' && this.forgetBias) {
          // TF BasicLSTMCell adds forget_bias to f's pre-activation and starts biases at 0.
          bih.init.fill(0, 0, G); bhh.init.fill(0, 0, G);
          bih.init.fill(this.forgetBias, H, 2 * H);
        }
        // Peepholes are initialised like the other weights (TF1 draws them from its initializer too).
        const wpeep = this.peepholes ? this.addParam(`weight_peephole${suffix}`, [3, H], uniformInit(rng, 3 * H, bound)) : undefined;
        this.dirs.push({ l, dir: dir as 0 | 1, suffix, wih, whh, bih, bhh, wpeep });
      }
    }
    return { kind: 'seq', size: H * D };
  }

  /** Sets the initial states for the next forward: h (and c) of shape (numLayers·dirs, B, H). */
  setInitialState(state: RecurrentState | null): void {
    this.initial = state;
    this.carryValid = false;
  }

  /** Forgets carried states (stateful layers start the next batch from zeros). */
  resetState(): void {
    this.carryValid = false;
    this.initial = null;
  }

  /** The states a stateful layer will carry into its next batch, or null. */
  carriedState(): RecurrentState | null {
    if (!this.stateful || !this.carryValid) return null;
    return this.finalState();
  }

  /** Restores carried states saved with carriedState() (exact resume of stateful training). */
  restoreCarriedState(shape: number[], h: Float32Array, c?: Float32Array): void {
    const ctx = this.ctx;
    if (!ctx) throw new Error(`${this.name}: build the layer before restoring its state`);
    const want = [this.numLayers * this.numDirections, shape[1], this.hiddenSize];
    if (shape.length !== 3 || shape.some((d, i) => d !== want[i])) throw new Error(`${this.name}: saved state has shape (${shape.join(', ')}), expected (${want.join(', ')})`);
    if (this.driver.hasCell && !c) throw new Error(`${this.name}: saved LSTM state lacks c`);
    this.lastB = shape[1];
    ctx.write(this.buffer('hn_all', want), h);
    if (this.driver.hasCell && c) ctx.write(this.buffer('cn_all', want), c);
    this.carryValid = true;
  }

  /**
   * Final states of the last forward: (numLayers·dirs, B, H). These buffers are overwritten by the
   * next forward; passing them to setInitialState for that forward is safe (generation does it):
   * the forward copies its initial states before it writes new final states, in recording order.
   */
  finalState(): RecurrentState {
    const LD = this.numLayers * this.numDirections;
    const h = this.buffer('hn_all', [LD, this.lastB, this.hiddenSize]);
    return this.driver.hasCell ? { h, c: this.buffer('cn_all', [LD, this.lastB, this.hiddenSize]) } : { h };
  }

  private stateShape(B: number): number[] {
    return [this.numLayers * this.numDirections, B, this.hiddenSize];
  }

  /** Batch size against carried states, given initial states, and the schedule at these sizes. */
  override runWidths(): Record<string, number> {
    const H = this.hiddenSize, D = this.numDirections;
    const widths: Record<string, number> = { gx: this.driver.gates * H, out: H * D };
    for (const [name, width] of Object.entries(this.driver.saved)) widths[name] = width * H;
    return widths;
  }

  /** The Keras options the LSTM/GRU kernels take (none for RNN). */
  private kerasOptions(): { activation: CellActivation; recurrentActivation: GateActivation; resetAfter?: boolean } | undefined {
    if (this.cell === 'rnn') return undefined;
    return { activation: this.activation, recurrentActivation: this.recurrentActivation, ...(this.cell === 'gru' ? { resetAfter: this.resetAfter } : {}) };
  }

  override checkRun(run: RunCheck): void {
    const { B, T } = run;
    const owner = `${this.cell.toUpperCase()} ${JSON.stringify(this.name)}`;
    if (this.stateful && this.carryValid && this.lastB !== B) {
      throw new Error(`${owner}: stateful layer got batch size ${B} after ${this.lastB}; expected ${this.lastB} while it carries states (call model.resetStates() before a batch of another size)`);
    }
    if (!(this.stateful && this.carryValid) && this.initial) {
      checkState(owner, 'h0', this.initial.h, this.stateShape(B));
      if (this.driver.hasCell) {
        if (!this.initial.c) throw new Error(`${owner}: an LSTM initial state needs c as well as h; expected { h, c } of shape (${this.stateShape(B).join(', ')})`);
        checkState(owner, 'c0', this.initial.c, this.stateShape(B));
      }
    }
    if (this.ctx) resolveSchedule(this.ctx, this.driver, { B, T, H: this.hiddenSize }, this.schedule);
  }

  /** Puts back the carried states a skipped step's forward replaced (it copied them to h0_all first). */
  override stepSkipped(ctx: GpuContext): void {
    const before = this.beforeRun;
    if (!before) return;
    this.lastB = before.lastB;
    this.carryValid = before.carried;
    if (!before.carried) return;
    const shape = this.stateShape(before.lastB);
    ctx.copy(this.buffer('h0_all', shape), this.buffer('hn_all', shape));
    if (this.driver.hasCell) ctx.copy(this.buffer('c0_all', shape), this.buffer('cn_all', shape));
  }

  /** The carry before the last forward, for stepSkipped. */
  private beforeRun: { carried: boolean; lastB: number } | null = null;

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    const { B, T } = run;
    const H = this.hiddenSize, G = this.driver.gates * H, D = this.numDirections;
    if (x.kind === 'tokens') {
      // One-hot input fused into the projection (see OneHot): gx = W_ih[:, token] + b_ih; or an
      // Embedding's table folded into W_ih (see Embedding.foldInto): gx = (W_ih·tableᵀ)[:, token] + b_ih.
      if (!(this.oneHotInput && D === 1) && !this.acceptsFold(B, T)) throw new Error(`${this.name}: token input needs a one-hot fused, unidirectional layer`);
    } else if (x.kind !== 'seq') {
      throw new Error(`${this.name}: expects a sequence input, got ${x.kind}`);
    } else if (x.t.shape[2] !== this.inputSize) {
      throw new Error(`${this.name}: input has ${x.t.shape[2]} features, expected ${this.inputSize}`);
    }
    if (this.stateful && this.carryValid && this.lastB !== B) {
      throw new Error(`${this.name}: stateful layer got batch size ${B} after ${this.lastB}; call resetState() between batches of different sizes`);
    }

    this.beforeRun = { carried: this.stateful && this.carryValid, lastB: this.lastB };
    // Initial states (LD, B, H): given, carried, or zeros.
    const h0All = this.buffer('h0_all', this.stateShape(B));
    const c0All = this.driver.hasCell ? this.buffer('c0_all', this.stateShape(B)) : null;
    const hnAll = this.buffer('hn_all', this.stateShape(B));
    const cnAll = this.driver.hasCell ? this.buffer('cn_all', this.stateShape(B)) : null;
    if (this.stateful && this.carryValid) {
      ctx.copy(hnAll, h0All);
      if (c0All && cnAll) ctx.copy(cnAll, c0All);
    } else if (this.initial) {
      checkState(this.name, 'h0', this.initial.h, this.stateShape(B));
      ctx.copy(this.initial.h, h0All);
      if (c0All) {
        if (!this.initial.c) throw new Error(`${this.name}: an LSTM initial state needs c as well as h`);
        checkState(this.name, 'c0', this.initial.c, this.stateShape(B));
        ctx.copy(this.initial.c, c0All);
      }
    } else {
      ctx.clear(h0All);
      if (c0All) ctx.clear(c0All);
    }
    this.lastB = B;

    this.lastInput = x.t;
    this.lastInputWasTokens = x.kind === 'tokens';
    this.lastFolded = x.kind === 'tokens' && !this.oneHotInput;
    let input = x.t;
    for (let l = 0; l < this.numLayers; l++) {
      const out = this.buffer(`out_l${l}`, [B, T, H * D]);
      for (let dir = 0; dir < D; dir++) {
        const d = this.dirs[l * D + dir];
        const k = `l${l}d${dir}`;
        let xin = input;
        if (dir === 1) {
          xin = this.buffer(`xrev_${k}`, input.shape);
          seqReverse(ctx, input, run.lengths, xin);
        }
        const gx = this.buffer(`gx_${k}`, [B, T, G]);
        // f16: the GEMM and the recurrence read f16 copies of W_ih and W_hh (refreshed from the f32
        // weights at every forward) and the recurrence reads and writes an f16 hs.
        const half = this.precision === 'f16';
        if (l === 0 && this.lastFolded) {
          const folded = this.buffer('wih_folded', [G, this.foldedTable!.shape[0]]);
          matmul(ctx, d.wih.value!, this.foldedTable!.value!, folded, { transB: true });   // (G, E)·(V, E)ᵀ
          embeddingProjectOneHot(ctx, folded, d.bih.value!, x.t, gx);
        } else if (l === 0 && x.kind === 'tokens') embeddingProjectOneHot(ctx, d.wih.value!, d.bih.value!, x.t, gx, { weightPrecision: this.precision });
        else if (half) matmul(ctx, xin, this.halfWeight(ctx, d.wih, `wih16_${k}`), gx, { transB: true, bias: d.bih.value, bHalfShape: d.wih.shape });
        else matmul(ctx, xin, d.wih.value!, gx, { transB: true, bias: d.bih.value });
        const hs = this.buffer(`hs_${k}`, [B, T, H]);
        const whh = half ? this.halfWeight(ctx, d.whh, `whh16_${k}`) : d.whh.value!;
        const hsRun = half ? this.halfBuffer(`hs16_${k}`, [B, T, H]) : hs;
        const h0 = this.buffer(`h0_${k}`, [B, H]);
        ctx.copy(h0All, h0, B * H * 4, (l * D + dir) * B * H * 4, 0);
        const c0 = c0All ? this.buffer(`c0_${k}`, [B, H]) : undefined;
        if (c0 && c0All) ctx.copy(c0All, c0, B * H * 4, (l * D + dir) * B * H * 4, 0);
        const hn = this.buffer(`hn_${k}`, [B, H]);
        const cn = this.driver.hasCell ? this.buffer(`cn_${k}`, [B, H]) : undefined;
        const saved: Record<string, Tensor> = {};
        for (const [name, width] of Object.entries(this.driver.saved)) saved[name] = this.buffer(`${name}_${k}`, [B, T, width * H]);
        this.driver.forward(ctx, {
          gx, whh, bhh: d.bhh.value!, h0, c0, lengths: run.lengths, hs: hsRun, hn, cn, saved, schedule: this.schedule,
          peephole: d.wpeep?.value, cell: this.kerasOptions(),
        }, this.nonlinearity);
        if (half) halfUnpack(ctx, hsRun, hs);   // hs: the f16 states widened, for the output and dW_hh
        ctx.copy(hn, hnAll, B * H * 4, 0, (l * D + dir) * B * H * 4);
        if (cn && cnAll) ctx.copy(cn, cnAll, B * H * 4, 0, (l * D + dir) * B * H * 4);
        if (dir === 1) {
          const hsFwdOrder = this.buffer(`hsrev_${k}`, [B, T, H]);
          seqReverse(ctx, hs, run.lengths, hsFwdOrder);
          seqCopyCols(ctx, hsFwdOrder, out, H);
        } else if (D === 2) {
          seqCopyCols(ctx, hs, out, 0);
        } else {
          ctx.copy(hs, out);
        }
      }
      if (run.training && this.dropout > 0 && l < this.numLayers - 1) {
        const dropped = this.buffer(`drop_l${l}`, [B, T, H * D]);
        seqDropout(ctx, out, dropped, 1 - this.dropout, this.dropSalt(l), run.seedTensor);
        input = dropped;
      } else {
        input = out;
      }
    }
    this.carryValid = this.stateful;
    return { kind: 'seq', t: this.buffer(`out_l${this.numLayers - 1}`, [B, T, H * D]) };
  }

  /** Per-layer dropout salt from the layer's name, so the masks do not depend on the init seed. */
  private dropSalt(l: number): number {
    return saltOf(`${this.name}/l${l}`);
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null {
    const { B, T } = run;
    const H = this.hiddenSize, G = this.driver.gates * H, D = this.numDirections;
    const dh0All = this.buffer('dh0_all', this.stateShape(B));
    const dc0All = this.driver.hasCell ? this.buffer('dc0_all', this.stateShape(B)) : null;
    const zerosBH = this.buffer('zeros_bh', [B, H]);
    ctx.clear(zerosBH);
    const zerosBH2 = this.driver.hasCell ? this.buffer('zeros_bh2', [B, H]) : undefined; // dcn: kernels want distinct buffers
    if (zerosBH2) ctx.clear(zerosBH2);
    const finalGrad = this.finalStateGrad;
    if (finalGrad?.h) checkState(this.name, 'gradient dh_n', finalGrad.h, this.stateShape(B));
    if (finalGrad?.c) checkState(this.name, 'gradient dc_n', finalGrad.c, this.stateShape(B));
    // The upstream gradient of one direction's final state: its (B, H) slice of (L·D, B, H), or zeros.
    const finalSlice = (all: Tensor | null | undefined, key: string, idx: number, zeros: Tensor | undefined): Tensor | undefined => {
      if (!all) return zeros;
      const t = this.buffer(key, [B, H]);
      ctx.copy(all, t, B * H * 4, idx * B * H * 4, 0);
      return t;
    };
    let dOut = dy;
    let dInput: Tensor | null = null;
    for (let l = this.numLayers - 1; l >= 0; l--) {
      const layerInput = l === 0 ? null : (run.training && this.dropout > 0 ? this.buffer(`drop_l${l - 1}`, [B, T, H * D]) : this.buffer(`out_l${l - 1}`, [B, T, H * D]));
      const wantDx = l > 0 || (needInputGrad && !this.lastInputWasTokens);   // token ids have no gradient
      const I = l === 0 ? this.inputSize : H * D;
      const dx = wantDx ? this.buffer(`dx_l${l}`, [B, T, I]) : null;
      for (let dir = 0; dir < D; dir++) {
        const d = this.dirs[l * D + dir];
        const k = `l${l}d${dir}`;
        // Gradient w.r.t. this direction's outputs, in the order the cell ran.
        let dhs: Tensor;
        if (D === 1) {
          dhs = dOut;
        } else {
          const part = this.buffer(`dpart_${k}`, [B, T, H]);
          seqTakeCols(ctx, dOut, part, dir * H);
          if (dir === 1) {
            dhs = this.buffer(`dhsrev_${k}`, [B, T, H]);
            seqReverse(ctx, part, run.lengths, dhs);
          } else {
            dhs = part;
          }
        }
        const hs = this.buffer(`hs_${k}`, [B, T, H]);
        const h0 = this.buffer(`h0_${k}`, [B, H]);
        const c0 = this.driver.hasCell ? this.buffer(`c0_${k}`, [B, H]) : undefined;
        const saved: Record<string, Tensor> = {};
        for (const [name, width] of Object.entries(this.driver.saved)) saved[name] = this.buffer(`${name}_${k}`, [B, T, width * H]);
        const dgates = this.buffer(`dgates_${k}`, [B, T, G]);
        const dghh = this.driver.separateDghh ? this.buffer(`dghh_${k}`, [B, T, G]) : dgates;
        const dh0 = this.buffer(`dh0_${k}`, [B, H]);
        const dc0 = this.driver.hasCell ? this.buffer(`dc0_${k}`, [B, H]) : undefined;
        const dhn = finalSlice(finalGrad?.h, `dhn_${k}`, l * D + dir, zerosBH)!;
        const dcn = finalSlice(finalGrad?.c, `dcn_${k}`, l * D + dir, zerosBH2);
        const half = this.precision === 'f16';
        this.driver.backward(ctx, {
          dhs, dhn, dcn, hs: half ? this.halfBuffer(`hs16_${k}`, [B, T, H]) : hs, h0, c0,
          whh: half ? this.halfBuffer(`whh16_${k}`, [G, H]) : d.whh.value!, lengths: run.lengths,
          saved, dgates, dghh, dh0, dc0, scratch: (name, shape) => this.buffer(`${name}_${k}`, shape), schedule: this.schedule,
          peephole: d.wpeep?.value, cell: this.kerasOptions(),
        }, this.nonlinearity);
        if (d.wpeep) {
          // Peepholes: dp_i, dp_f = Σ_(b,t) d_i, d_f ⊙ c_prev and dp_o = Σ_(b,t) d_o ⊙ c (zero past each length).
          const cprev = this.buffer(`cprev_${k}`, [B, T, H]);
          seqShiftPrev(ctx, saved.cs, c0!, cprev);
          seqColumnDot(ctx, dgates, 0, cprev, d.wpeep.grad!, 0, { accumulate: true });
          seqColumnDot(ctx, dgates, H, cprev, d.wpeep.grad!, H, { accumulate: true });
          seqColumnDot(ctx, dgates, 3 * H, saved.cs, d.wpeep.grad!, 2 * H, { accumulate: true });
        }
        ctx.copy(dh0, dh0All, B * H * 4, 0, (l * D + dir) * B * H * 4);
        if (dc0 && dc0All) ctx.copy(dc0, dc0All, B * H * 4, 0, (l * D + dir) * B * H * 4);

        // Weight gradients as GEMMs over all timesteps.
        if (l === 0 && this.lastInputWasTokens) {
          // dW_ih = dGᵀ·one-hot as a deterministic scatter-add through the batch's token index.
          const index = run.tokenIndex?.();
          if (!index) throw new Error(`${this.name}: backward of a one-hot input needs the batch's token ids`);
          if (this.lastFolded) {
            // d(W_ih·tableᵀ) by the scatter-add, then dW_ih += it·table and dtable += itᵀ·W_ih.
            const table = this.foldedTable!;
            const dFolded = this.buffer('dwih_folded', [G, table.shape[0]]);
            embeddingProjectOneHotBackward(ctx, dgates, index.offsets, index.positions, dFolded, { accumulate: false });
            matmul(ctx, dFolded, table.value!, d.wih.grad!, { accumulate: true });
            matmul(ctx, dFolded, d.wih.value!, table.grad!, { transA: true, accumulate: true });
          } else {
            embeddingProjectOneHotBackward(ctx, dgates, index.offsets, index.positions, d.wih.grad!, { accumulate: true });
          }
        } else {
          const xin = l === 0 ? (dir === 1 ? this.buffer(`xrev_${k}`, [B, T, I]) : this.inputOf(run, B, T, I)) :
            (dir === 1 ? this.buffer(`xrev_${k}`, [B, T, I]) : layerInput!);
          matmul(ctx, dgates, xin, d.wih.grad!, { transA: true, accumulate: true });
        }
        matmulColumnSum(ctx, dgates, d.bih.grad!, { accumulate: true });
        const hprev = this.buffer(`hprev_${k}`, [B, T, H]);
        seqShiftPrev(ctx, hs, h0, hprev);
        matmul(ctx, dghh, hprev, d.whh.grad!, { transA: true, accumulate: true });
        if (this.cell === 'gru' && !this.resetAfter) {
          // With the reset gate before the product, n's rows of W_hh multiply r ⊙ h_prev (saved as
          // hnLin), not h_prev: add dghh_nᵀ·(r ⊙ h_prev − h_prev) to those rows.
          const dgn = this.buffer(`dghh_n_${k}`, [B, T, H]), diff = this.buffer(`rh_diff_${k}`, [B, T, H]);
          seqTakeCols(ctx, dghh, dgn, 2 * H);
          ctx.copy(saved.hnLin, diff);
          seqAxpy(ctx, -1, hprev, diff);
          const rowsN = this.buffer(`dwhn_${k}`, [H, H]), at = 2 * H * H * 4;
          ctx.copy(d.whh.grad!, rowsN, H * H * 4, at, 0);
          matmul(ctx, dgn, diff, rowsN, { transA: true, accumulate: true });
          ctx.copy(rowsN, d.whh.grad!, H * H * 4, 0, at);
        }
        matmulColumnSum(ctx, dghh, d.bhh.grad!, { accumulate: true });

        if (dx) {
          // dX = dG·W_ih with the W_ih the forward used (f16: its copy from this step's forward).
          const wih = half && !(l === 0 && this.lastInputWasTokens) ? this.halfBuffer(`wih16_${k}`, d.wih.shape) : d.wih.value!;
          const wihOpts = wih === d.wih.value ? {} : { bHalfShape: d.wih.shape };
          if (dir === 0) {
            matmul(ctx, dgates, wih, dx, wihOpts);
          } else {
            const dxr = this.buffer(`dxrev_${k}`, [B, T, I]);
            matmul(ctx, dgates, wih, dxr, wihOpts);
            const dxf = this.buffer(`dxfwd_${k}`, [B, T, I]);
            seqReverse(ctx, dxr, run.lengths, dxf);
            seqAxpy(ctx, 1, dxf, dx);
          }
        }
      }
      if (dx && l > 0 && run.training && this.dropout > 0) {
        const dd = this.buffer(`ddrop_l${l - 1}`, [B, T, H * D]);
        seqDropout(ctx, dx, dd, 1 - this.dropout, this.dropSalt(l - 1), run.seedTensor);
        dOut = dd;
      } else if (dx) {
        dOut = dx;
      }
      if (l === 0) dInput = dx;
    }
    this.initialStateGrad = this.driver.hasCell ? { h: dh0All, c: dc0All! } : { h: dh0All };
    return needInputGrad ? dInput : null;
  }

  /** The layer-0 input of the last forward (needed for dW_ih of layer 0). */
  private lastInput: Tensor | null = null;
  private lastInputWasTokens = false;
  /** The last forward's tokens came from a folded Embedding (foldedTable), not a OneHot layer. */
  private lastFolded = false;
  /** Set by Sequential when a OneHot layer before this one passes token ids straight through. */
  oneHotInput = false;
  /** Set by Sequential: the table (V, E) of the Embedding before this layer (see Embedding.foldInto). */
  foldedTable: Parameter | null = null;

  /** Whether a batch of B×T tokens runs with the Embedding's table folded into W_ih: when the
   *  fold (products of V rows) is cheaper than the projection (of B·T rows), unidirectional and f32
   *  (an f16 layer rounds W_ih, not the product). */
  acceptsFold(B: number, T: number): boolean {
    return this.foldedTable !== null && this.numDirections === 1 && this.precision === 'f32' && this.foldedTable.shape[0] < B * T;
  }
  private inputOf(run: RunInfo, B: number, T: number, I: number): Tensor {
    const t = this.lastInput;
    if (!t || t.released || t.shape[0] !== B || t.shape[1] !== T || t.shape[2] !== I) throw new Error(`${this.name}: backward without a matching forward`);
    void run;
    return t;
  }

  config(): Record<string, unknown> {
    return {
      type: this.cell.toUpperCase(), name: this.name, hiddenSize: this.hiddenSize, inputSize: this.inputSize, numLayers: this.numLayers,
      bidirectional: this.bidirectional, dropout: this.dropout, stateful: this.stateful,
      ...(this.cell === 'lstm' ? { forgetBias: this.forgetBias } : {}), ...(this.cell === 'rnn' ? { nonlinearity: this.nonlinearity } : {}),
      ...(this.cell !== 'rnn' ? { activation: this.activation, recurrentActivation: this.recurrentActivation } : {}),
      ...(this.cell === 'gru' ? { resetAfter: this.resetAfter } : {}), ...(this.cell === 'lstm' ? { peepholes: this.peepholes } : {}),
      ...(this.precision === 'f16' ? { precision: this.precision } : {}),
    };
  }
}

function checkState(layer: string, what: string, t: Tensor, shape: number[]): void {
  if (t.dtype !== 'f32' || t.shape.length !== 3 || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${layer}: initial state ${what} has shape (${t.shape.join(', ')}) ${t.dtype}, expected (${shape.join(', ')}) f32 = (numLayers·directions, B, H)`);
  }
}

export class LSTM extends Recurrent {
  constructor(o: RecurrentOptions) { super('lstm', o); }
}
export class GRU extends Recurrent {
  constructor(o: RecurrentOptions) { super('gru', o); }
}
export class RNN extends Recurrent {
  constructor(o: RecurrentOptions) { super('rnn', o); }
}
