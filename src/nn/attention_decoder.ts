// AttentionDecoder: Luong's input-feeding decoder, an LSTM (or GRU) cell whose input at step t is
// [x_t; h̃_(t−1)], with attention over the memory inside the recurrence (the equations and the
// float64 reference: src/cpu/attention_decoder.ts).
//
// Forward: gx = X·W_ihᵀ[:, :I] + b_ih for all steps in one GEMM; then per step t: the feed
// h̃_(t−1)·W_ihᵀ[:, I:] added into gx[:, t] (a GEMM and a column copy; at t = 0 only from a given
// initial h̃), the LSTM (GRU) step kernel, the
// attention kernel for query step t alone (src/kernels/attention.ts, `step`), and
// h̃_t = tanh(W_c [ctx_t; h_t] + b_c) (column copies, a GEMM, tanh). Outputs past each row's
// length are zeroed at the end; the final states h_n, c_n and h̃ are each row's at its last step.
// Backward runs the steps in reverse: dh̃_t (upstream + what step t + 1's input took from it, + the
// final h̃'s gradient at the last step) → W_c → dctx_t, dh_t → the attention's query side at step t
// → the cell's backward step (dh_n, dc_n enter there); then the attention's memory side once for all
// steps, and every weight gradient as one GEMM over all positions.

import type { GpuContext } from '../runtime/context.ts';
import { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import type { AttentionScore } from '../cpu/attention.ts';
import { attentionBackwardMemory, attentionBackwardQueries, attentionForward } from '../kernels/attention.ts';
import { matmul, matmulColumnSum } from '../kernels/matmul.ts';
import { activationBackward, activationForward } from '../kernels/activation.ts';
import { seqAxpy, seqCopyCols, seqGatherLast, seqReverse, seqScatterLast, seqShiftPrev, seqTakeCols } from '../kernels/seq.ts';
import { lstmBackwardInitial, lstmStepBackward, lstmStepForward } from '../kernels/lstm.ts';
import { gruBackwardInitial, gruStepBackward, gruStepForward } from '../kernels/gru.ts';
import { GraphOpBase } from './graph-op.ts';
import { callOp, type GraphValue } from './graph-value.ts';
import { uniformInit, type Act, type ActDesc, type RunCheck, type RunInfo } from './layer.ts';
import { ATTENTION_SCORES } from './attention.ts';
import { checkEnum, checkInteger, checkLayerName, checkOptionsObject, describeValue, layerLabel } from './options.ts';

const DECODER_OPTIONS = ['hiddenSize', 'attentionalHidden', 'score', 'units', 'cell', 'name'] as const;
const DECODER_CELLS = ['lstm', 'gru'] as const;

export interface AttentionDecoderOptions {
  /** H, the cell's hidden size. */
  hiddenSize: number;
  /** Hc, the size of h̃ (the output, fed back into the next step's input). */
  attentionalHidden: number;
  /** The attention's score, as for `Attention` ('dot' needs hiddenSize = the memory's size). */
  score: AttentionScore;
  /** 'additive' only: A. Default hiddenSize. */
  units?: number;
  /** The recurrent cell: 'lstm' (default, PyTorch nn.LSTMCell) or 'gru' (nn.GRUCell, no cell state c). */
  cell?: 'lstm' | 'gru';
  /** Prefix of the parameter names. Default 'decoder'. */
  name?: string;
}

/** Initial states of an AttentionDecoder in a graph: h, c (B, H; c for the LSTM cell only), e.g. an encoder's `.state`. */
export interface AttentionDecoderState<V> {
  h: V;
  c?: V;
  /** The initial h̃ (B, Hc), fed into step 0's input (zeros when missing). */
  attentional?: V;
}

/** What calling an AttentionDecoder gives. */
export interface AttentionDecoderValues {
  /** h̃ (B, T, Hc), zero past each row's length. */
  output: GraphValue;
  /** The attention weights (B, T, Ts). */
  weights: GraphValue;
  /** Each row's final states h, c (B, H; c for the LSTM cell only) and final h̃ (B, Hc), at its last step. */
  state: { h: GraphValue; c?: GraphValue; attentional: GraphValue };
}

/**
 * Luong's input-feeding decoder: inputs [x (B, T, I), memory (B, Ts, Hm)], [x, memory, h0, c0]
 * ((B, H) each, e.g. an encoder's final states) or [x, memory, h0, c0, h̃0 (B, Hc)]; outputs
 * [h̃ (B, T, Hc), weights (B, T, Ts), h_n, c_n (B, H), h̃_n (B, Hc)] (the final ones at each row's
 * last step, so that a search can carry them from one step to the next). With `cell: 'gru'` there
 * is no c: inputs [x, memory, h0?, h̃0?], outputs [h̃, weights, h_n, h̃_n].
 * Parameters (names prefixed `<name>.`): `weight_ih` (4H, I + Hc), `weight_hh` (4H, H), `bias_ih`,
 * `bias_hh` (4H) as PyTorch's nn.LSTMCell on the input [x_t; h̃_(t−1)] (3H rows each as
 * nn.GRUCell for the GRU); the attention's (`weight`,
 * or `query_weight`, `key_weight`, `key_bias`, `score_weight`, as `Attention` with queries h_t);
 * `output_weight` (Hc, Hm + H) and `output_bias` (Hc) for h̃_t = tanh(W_c [ctx_t; h_t] + b_c).
 */
export class AttentionDecoder extends GraphOpBase {
  readonly hiddenSize: number;
  readonly attentionalHidden: number;
  readonly score: AttentionScore;
  readonly cell: 'lstm' | 'gru';
  units: number;
  inputSize = 0;
  memorySize = 0;
  private saved: { x: Tensor; m: Tensor; h0: Tensor; c0: Tensor; a0: Tensor | null; withState: boolean; stateShape: readonly number[] } | null = null;

  constructor(o: AttentionDecoderOptions) {
    checkOptionsObject('AttentionDecoder', o, DECODER_OPTIONS, "{ hiddenSize: 64, attentionalHidden: 64, score: 'general' }");
    const name = o.name === undefined ? 'decoder' : checkLayerName('AttentionDecoder', o.name);
    super(name);
    const owner = layerLabel('AttentionDecoder', name);
    this.hiddenSize = checkInteger(owner, 'option hiddenSize', o.hiddenSize, 1);
    this.attentionalHidden = checkInteger(owner, 'option attentionalHidden', o.attentionalHidden, 1);
    this.score = checkEnum(owner, 'option score', o.score, ATTENTION_SCORES);
    this.cell = o.cell === undefined ? 'lstm' : checkEnum(owner, 'option cell', o.cell, DECODER_CELLS);
    this.units = o.units === undefined ? 0 : checkInteger(owner, 'option units', o.units, 1);
    if (o.units !== undefined && this.score !== 'additive') {
      throw new Error(`${owner}: option units (${o.units}) applies only to score 'additive', got score '${this.score}'`);
    }
  }

  protected get owner(): string { return layerLabel('AttentionDecoder', this.name); }

  /** The recurrent states the cell carries: h and c (LSTM), h (GRU). */
  private get numStates(): number { return this.cell === 'lstm' ? 2 : 1; }

  /**
   * Adds this node to a graph; `initialState` { h, c (B, H), attentional? (B, Hc) } (no c for the
   * GRU cell), e.g. an encoder's `.state` (a one-layer, one-direction encoder).
   */
  call(x: GraphValue, memory: GraphValue, initialState?: AttentionDecoderState<GraphValue>): AttentionDecoderValues {
    const ins = [x, memory];
    const lstm = this.cell === 'lstm', want = lstm ? '{ h, c, attentional? }' : '{ h, attentional? } (a GRU cell has no c)';
    if (initialState !== undefined) {
      const owner = `${this.owner}.call`;
      if (typeof initialState !== 'object' || initialState === null || Array.isArray(initialState)) {
        throw new Error(`${owner}: initialState must be an object ${want} of graph values, got ${describeValue(initialState)}`);
      }
      for (const k of Object.keys(initialState)) {
        if (!['h', 'c', 'attentional'].includes(k)) throw new Error(`${owner}: initialState has an unknown field ${JSON.stringify(k)}; expected ${want}`);
      }
      if (initialState.h === undefined || (lstm && initialState.c === undefined)) {
        throw new Error(`${owner}: initialState needs ${lstm ? 'both h and c (e.g. an LSTM encoder\'s .state)' : 'h'}, got ${initialState.h === undefined ? 'no h' : 'no c'}; expected ${want}`);
      }
      if (!lstm && initialState.c !== undefined) throw new Error(`${owner}: initialState.c is given, but the decoder's GRU cell has no cell state; expected ${want}`);
      ins.push(initialState.h);
      if (lstm) ins.push(initialState.c!);
      if (initialState.attentional !== undefined) ins.push(initialState.attentional);
    }
    const outs = callOp(this, ins, 3 + this.numStates);
    const [output, weights, h] = outs;
    return { output, weights, state: { h, ...(lstm ? { c: outs[3] } : {}), attentional: outs[outs.length - 1] } };
  }

  configureInputs(inputs: ActDesc[], rng: Rng): ActDesc[] {
    const owner = this.owner;
    const S = this.numStates;
    if (inputs.length !== 2 && inputs.length !== 2 + S && inputs.length !== 3 + S) {
      const st = S === 2 ? 'h0, c0' : 'h0';
      throw new Error(`${owner}: takes inputs [x, memory], [x, memory, ${st}] or [x, memory, ${st}, h̃0] (${this.cell.toUpperCase()} cell), got ${inputs.length}`);
    }
    const [x, m] = inputs;
    for (const [what, d] of [['x', x], ['memory', m]] as const) {
      if (d.kind !== 'seq') throw new Error(`${owner}: ${what} must be a sequence (B, T, features), got ${d.kind}`);
    }
    const H = this.hiddenSize, Hc = this.attentionalHidden, I = x.size, Hm = m.size;
    // A graph passes a one-layer, one-direction state (1, B, H) as a (B, H) vector.
    const states: [string, ActDesc | undefined, number][] = S === 2
      ? [['h0', inputs[2], H], ['c0', inputs[3], H], ['the initial h̃', inputs[4], Hc]]
      : [['h0', inputs[2], H], ['the initial h̃', inputs[3], Hc]];
    for (const [what, d, size] of states) {
      if (d && (d.kind !== 'vec' || d.size !== size)) throw new Error(`${owner}: ${what} must be a (B, ${size}) state, got ${d.kind} of size ${d.size}`);
    }
    if (this.score === 'dot' && H !== Hm) throw new Error(`${owner}: score 'dot' needs hiddenSize = the memory's size, got ${H} and ${Hm}`);
    this.inputSize = I;
    this.memorySize = Hm;
    this.params = [];
    const add = (name: string, shape: number[], fanIn: number) => {
      const n = shape.reduce((a, c) => a * c, 1);
      this.params.push({ name, shape, init: uniformInit(rng, n, 1 / Math.sqrt(fanIn), `${this.name}.${name}`) });
    };
    const G = (S === 2 ? 4 : 3) * H;
    add('weight_ih', [G, I + Hc], H);
    add('weight_hh', [G, H], H);
    add('bias_ih', [G], H);
    add('bias_hh', [G], H);
    if (this.score === 'general') add('weight', [H, Hm], Hm);
    if (this.score === 'additive') {
      this.units = this.units || H;
      const A = this.units;
      add('query_weight', [A, H], H);
      add('key_weight', [A, Hm], Hm);
      add('key_bias', [A], Hm);
      add('score_weight', [1, A], A);
    }
    add('output_weight', [Hc, Hm + H], Hm + H);
    add('output_bias', [Hc], Hm + H);
    const finals: ActDesc[] = S === 2 ? [{ kind: 'vec', size: H }, { kind: 'vec', size: H }] : [{ kind: 'vec', size: H }];
    return [{ kind: 'seq', size: Hc }, { kind: 'seq', size: 0 }, ...finals, { kind: 'vec', size: Hc }];
  }

  checkRunInputs(runs: RunCheck[]): void {
    if (runs.some((r) => r.B !== runs[0].B)) {
      throw new Error(`${this.owner}: the inputs have batch sizes ${runs.map((r) => r.B).join(', ')}; expected one batch size`);
    }
  }

  /** A cleared buffer (initial states, the unused dh_n / dc_n). */
  private zeros(ctx: GpuContext, key: string, shape: readonly number[]): Tensor {
    const t = this.buffer(key, shape);
    ctx.clear(t);
    return t;
  }

  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[] {
    const x = inputs[0].t, m = inputs[1].t;
    const B = runs[0].B, T = runs[0].T, Ts = runs[1].T, H = this.hiddenSize, Hc = this.attentionalHidden, I = this.inputSize, Hm = this.memorySize;
    const S = this.numStates, gru = S === 1;
    const G = (gru ? 3 : 4) * H;
    const Wih = this.param('weight_ih').value!;
    // A state input may come as (1, B, H) (a one-layer encoder's final state): the same values.
    const withState = inputs.length >= 2 + S;
    const h0 = withState ? viewAs(inputs[2].t, [B, H]) : this.zeros(ctx, 'h0', [B, H]);
    const c0 = withState && !gru ? viewAs(inputs[3].t, [B, H]) : this.zeros(ctx, 'c0', [B, H]);
    const a0 = inputs.length === 3 + S ? viewAs(inputs[2 + S].t, [B, Hc]) : null;
    // W_ih's columns for x and for the fed-back h̃.
    const Wx = this.buffer('Wx', [G, I]), Wf = this.buffer('Wf', [G, Hc]);
    seqTakeCols(ctx, Wih, Wx, 0);
    seqTakeCols(ctx, Wih, Wf, I);
    const gx = this.buffer('gx', [B, T, G]);
    matmul(ctx, x, Wx, gx, { transB: true, bias: this.param('bias_ih').value });
    const { keys, scoreV, D } = this.memorySide(ctx, m, B, Ts);
    const hs = this.buffer('hs', [B, T, H]), cs = this.buffer('cs', [B, T, H]), gates = this.buffer('gates', [B, T, G]);
    const hn = this.buffer('hn', [B, H]), cn = this.buffer('cn', [B, H]);
    const qk = this.score === 'additive' ? this.buffer('qk', [B, T, D]) : hs;
    const weights = this.buffer('weights', [B, T, Ts]), context = this.buffer('context', [B, T, Hm]);
    const raw = this.buffer('raw', [B, T, Hc]);
    const feed = this.buffer('feed', [B, G]), ctxT = this.buffer('ctxT', [B, Hm]), hT = this.buffer('hT', [B, H]);
    const catT = this.buffer('catT', [B, Hm + H]), zT = this.buffer('zT', [B, Hc]), outT = this.buffer('outT', [B, Hc]);
    const qkT = this.score === 'additive' ? this.buffer('qkT', [B, D]) : null;
    const whh = this.param('weight_hh').value!, bhh = this.param('bias_hh').value!, lengths = runs[0].lengths;
    // The GRU's hnLin: W_hn h_(t−1) + b_hn per step, which its backward needs.
    const cellStep = gru
      ? (t: number) => gruStepForward(ctx, t, { gx, whh, bhh, h0, lengths, hs, gates, hnLin: this.buffer('hnLin', [B, T, H]), hn })
      : (t: number) => lstmStepForward(ctx, t, { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn });
    for (let t = 0; t < T; t++) {
      const fed = t > 0 ? outT : a0;
      if (fed) {
        matmul(ctx, fed, Wf, feed, { transB: true });
        seqCopyCols(ctx, feed, viewAs(gx, [B, T * G]), t * G, { accumulate: true });
      }
      cellStep(t);
      seqTakeCols(ctx, viewAs(hs, [B, T * H]), hT, t * H);
      if (qkT) {
        matmul(ctx, hT, this.param('query_weight').value!, qkT, { transB: true });
        seqCopyCols(ctx, qkT, viewAs(qk, [B, T * D]), t * D);
      }
      attentionForward(ctx, { qk, keys, values: m, scoreV, lengthsQ: runs[0].lengths, lengthsS: runs[1].lengths, weights, context }, { step: t });
      seqTakeCols(ctx, viewAs(context, [B, T * Hm]), ctxT, t * Hm);
      seqCopyCols(ctx, ctxT, catT, 0);
      seqCopyCols(ctx, hT, catT, Hm);
      matmul(ctx, catT, this.param('output_weight').value!, zT, { transB: true, bias: this.param('output_bias').value });
      activationForward(ctx, 'tanh', zT, outT);
      seqCopyCols(ctx, outT, viewAs(raw, [B, T * Hc]), t * Hc);
    }
    // h̃ past each row's length is zeroed (reversing twice within the length keeps only valid steps).
    const rev = this.buffer('rev', [B, T, Hc]), out = this.buffer('out', [B, T, Hc]);
    seqReverse(ctx, raw, runs[0].lengths, rev);
    seqReverse(ctx, rev, runs[0].lengths, out);
    const an = this.buffer('an', [B, Hc]);
    seqGatherLast(ctx, raw, runs[0].lengths, an);
    this.saved = { x, m, h0, c0, a0, withState, stateShape: withState ? inputs[2].t.shape : [B, H] };
    const finals: Act[] = gru ? [{ kind: 'vec', t: hn }] : [{ kind: 'vec', t: hn }, { kind: 'vec', t: cn }];
    return [{ kind: 'seq', t: out }, { kind: 'seq', t: weights }, ...finals, { kind: 'vec', t: an }];
  }

  /** keys (and v) of the memory for the score: m, W_a·m, or W_k·m + b. */
  private memorySide(ctx: GpuContext, m: Tensor, B: number, Ts: number): { keys: Tensor; scoreV?: Tensor; D: number } {
    if (this.score === 'dot') return { keys: m, D: this.memorySize };
    if (this.score === 'general') {
      const keys = this.buffer('keys', [B, Ts, this.hiddenSize]);
      matmul(ctx, m, this.param('weight').value!, keys, { transB: true });
      return { keys, D: this.hiddenSize };
    }
    const A = this.units;
    const keys = this.buffer('keys', [B, Ts, A]);
    matmul(ctx, m, this.param('key_weight').value!, keys, { transB: true, bias: this.param('key_bias').value });
    return { keys, scoreV: viewAs(this.param('score_weight').value!, [A]), D: A };
  }

  backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[] {
    const s = this.saved;
    if (!s) throw new Error(`${this.owner}: backward before forward`);
    const B = runs[0].B, T = runs[0].T, Ts = runs[1].T, H = this.hiddenSize, Hc = this.attentionalHidden, I = this.inputSize, Hm = this.memorySize;
    const S = this.numStates, gru = S === 1;
    const G = (gru ? 3 : 4) * H, additive = this.score === 'additive';
    const D = this.score === 'dot' ? Hm : additive ? this.units : H;
    // The outputs' gradients: [h̃, weights, dh_n, dc_n (LSTM), dh̃_n].
    const dOutHn = dOutputs[2], dOutCn = gru ? null : dOutputs[3], dOutAn = dOutputs[2 + S];
    const b = (k: string) => this.cached(k);
    const hs = b('hs'), raw = b('raw'), weights = b('weights'), context = b('context'), keys = this.score === 'dot' ? s.m : b('keys');
    const qk = additive ? b('qk') : hs, Wf = b('Wf');
    const scoreV = additive ? viewAs(this.param('score_weight').value!, [D]) : undefined;
    // Upstream gradient of h̃, zero past each row's length (those steps output nothing).
    const dmask = this.buffer('dmask', [B, T, Hc]);
    if (dOutputs[0]) {
      const drev = this.buffer('drev', [B, T, Hc]);
      seqReverse(ctx, dOutputs[0], runs[0].lengths, drev);
      seqReverse(ctx, drev, runs[0].lengths, dmask);
    } else {
      ctx.clear(dmask);
    }
    // The final h̃'s gradient joins each row's last step; dh_n, dc_n enter through the cell's steps.
    if (dOutAn) seqScatterLast(ctx, viewAs(dOutAn, [B, Hc]), runs[0].lengths, dmask, { accumulate: true });
    const dhs = this.buffer('dhs', [B, T, H]), dgates = this.buffer('dgates', [B, T, G]), dCarry = this.buffer('dCarry', [B, H]);
    const dhn = dOutHn ? viewAs(dOutHn, [B, H]) : this.zeros(ctx, 'dhn', [B, H]);
    const dcn = dOutCn ? viewAs(dOutCn, [B, H]) : this.zeros(ctx, 'dcn', [B, H]);
    const dcontext = this.buffer('dcontext', [B, T, Hm]), dscores = this.buffer('dscores', [B, T, Ts]), dqk = this.buffer('dqk', [B, T, D]);
    const dkeys = this.buffer('dkeys', [B, Ts, D]), dvalues = this.buffer('dvalues', [B, Ts, Hm]);
    const dvPart = additive ? this.buffer('dvPart', [B, T, D]) : undefined;
    const dz = this.buffer('dz', [B, T, Hc]);
    const dOutT = this.buffer('dOutT', [B, Hc]), outT = this.buffer('outT', [B, Hc]), dzT = this.buffer('dzT', [B, Hc]);
    const dgT = this.buffer('dgT', [B, G]), dcatT = this.buffer('dcatT', [B, Hm + H]), dctxT = this.buffer('dctxT', [B, Hm]), dhT = this.buffer('dhT', [B, H]);
    const dqkT = additive ? this.buffer('dqkT', [B, D]) : null;
    const att = { qk, keys, values: s.m, scoreV, weights, dcontext, dweights: dOutputs[1] ?? undefined, dscores, dqk, dkeys, dvalues, dvPart };
    const whh = this.param('weight_hh').value!, lengths = runs[0].lengths;
    // The GRU's hidden-side gate gradients differ from dgates in n's rows (the reset gate scales them).
    const dghh = gru ? this.buffer('dghh', [B, T, G]) : dgates;
    // The GRU carries dh_prev's direct part, starting from dh_n (see src/kernels/gru.ts).
    if (gru) ctx.copy(dhn, dCarry);
    const cellBackward = gru
      ? (t: number) => gruStepBackward(ctx, t, { dhs, gates: b('gates'), hnLin: b('hnLin'), hs, h0: s.h0, whh, lengths, dgates, dghh, dhCarry: dCarry })
      : (t: number) => lstmStepBackward(ctx, t, { dhs, dhn, dcn, gates: b('gates'), cs: b('cs'), c0: s.c0, whh, lengths, dgates, dcCarry: dCarry });
    const Wc = this.param('output_weight').value!;
    for (let t = T - 1; t >= 0; t--) {
      seqTakeCols(ctx, viewAs(dmask, [B, T * Hc]), dOutT, t * Hc);
      if (t < T - 1) {
        seqTakeCols(ctx, viewAs(dgates, [B, T * G]), dgT, (t + 1) * G);
        matmul(ctx, dgT, Wf, dOutT, { accumulate: true });
      }
      seqTakeCols(ctx, viewAs(raw, [B, T * Hc]), outT, t * Hc);
      activationBackward(ctx, 'tanh', outT, dOutT, dzT);
      seqCopyCols(ctx, dzT, viewAs(dz, [B, T * Hc]), t * Hc);
      matmul(ctx, dzT, Wc, dcatT);
      seqTakeCols(ctx, dcatT, dctxT, 0);
      seqCopyCols(ctx, dctxT, viewAs(dcontext, [B, T * Hm]), t * Hm);
      attentionBackwardQueries(ctx, att, { step: t });
      seqTakeCols(ctx, dcatT, dhT, Hm);
      if (dqkT) {
        seqTakeCols(ctx, viewAs(dqk, [B, T * D]), dqkT, t * D);
        matmul(ctx, dqkT, this.param('query_weight').value!, dhT, { accumulate: true });
      } else {
        seqTakeCols(ctx, viewAs(dqk, [B, T * D]), dhT, t * D, { accumulate: true });
      }
      seqCopyCols(ctx, dhT, viewAs(dhs, [B, T * H]), t * H);
      cellBackward(t);
    }
    const dh0 = s.withState ? this.buffer('dh0', [B, H]) : this.buffer('dh0_unused', [B, H]);
    const dc0 = s.withState ? this.buffer('dc0', [B, H]) : this.buffer('dc0_unused', [B, H]);
    if (gru) gruBackwardInitial(ctx, { dghh, whh, dhCarry: dCarry, dh0 });
    else lstmBackwardInitial(ctx, { dgates, whh, dcCarry: dCarry, dh0, dc0 });
    attentionBackwardMemory(ctx, att);
    // The cell's weights over all steps: input [x_t; h̃_(t−1)], previous hidden state.
    const prevOut = this.buffer('prevOut', [B, T, Hc]), xhat = this.buffer('xhat', [B, T, I + Hc]), hPrev = this.buffer('hPrev', [B, T, H]);
    seqShiftPrev(ctx, raw, s.a0 ?? this.zeros(ctx, 'zeroOut', [B, Hc]), prevOut);
    seqCopyCols(ctx, s.x, xhat, 0);
    seqCopyCols(ctx, prevOut, xhat, I);
    seqShiftPrev(ctx, hs, s.h0, hPrev);
    matmul(ctx, dgates, xhat, this.param('weight_ih').grad!, { transA: true, accumulate: true });
    matmul(ctx, dghh, hPrev, this.param('weight_hh').grad!, { transA: true, accumulate: true });
    matmulColumnSum(ctx, dgates, this.param('bias_ih').grad!, { accumulate: true });
    matmulColumnSum(ctx, dghh, this.param('bias_hh').grad!, { accumulate: true });
    // h̃'s weights: dW_c = dzᵀ·[ctx; h] over all steps.
    const cat = this.buffer('cat', [B, T, Hm + H]);
    seqCopyCols(ctx, context, cat, 0);
    seqCopyCols(ctx, hs, cat, Hm);
    matmul(ctx, dz, cat, this.param('output_weight').grad!, { transA: true, accumulate: true });
    matmulColumnSum(ctx, dz, this.param('output_bias').grad!, { accumulate: true });
    // The attention's weights and the memory's gradient.
    const dm = dvalues;
    if (this.score === 'dot') {
      seqAxpy(ctx, 1, dkeys, dm);
    } else if (this.score === 'general') {
      const W = this.param('weight');
      matmul(ctx, dkeys, s.m, W.grad!, { transA: true, accumulate: true });
      matmul(ctx, dkeys, W.value!, dm, { accumulate: true });
    } else {
      const Wk = this.param('key_weight');
      matmul(ctx, dqk, hs, this.param('query_weight').grad!, { transA: true, accumulate: true });
      matmul(ctx, dkeys, s.m, Wk.grad!, { transA: true, accumulate: true });
      matmulColumnSum(ctx, dkeys, this.param('key_bias').grad!, { accumulate: true });
      matmulColumnSum(ctx, dvPart!, viewAs(this.param('score_weight').grad!, [D]), { accumulate: true });
      matmul(ctx, dkeys, Wk.value!, dm, { accumulate: true });
    }
    let dx: Tensor | null = null;
    if (needInputGrads[0]) {
      const dxhat = this.buffer('dxhat', [B, T, I + Hc]);
      matmul(ctx, dgates, this.param('weight_ih').value!, dxhat);
      dx = this.buffer('dx', [B, T, I]);
      seqTakeCols(ctx, dxhat, dx, 0);
    }
    const grads: (Tensor | null)[] = [dx, needInputGrads[1] ? dm : null];
    // The state gradients in the shape the states came in ((B, H), or (1, B, H) from an encoder).
    if (s.withState) {
      grads.push(needInputGrads[2] ? viewAs(dh0, [...s.stateShape]) : null);
      if (!gru) grads.push(needInputGrads[3] ? viewAs(dc0, [...s.stateShape]) : null);
    }
    if (s.a0) {
      // The initial h̃ fed step 0's input only: dh̃0 = dgates[:, 0]·W_ihᵀ[:, I:].
      let da0: Tensor | null = null;
      if (needInputGrads[2 + S]) {
        const dg0 = this.buffer('dgT', [B, G]);
        seqTakeCols(ctx, viewAs(dgates, [B, T * G]), dg0, 0);
        da0 = this.buffer('da0', [B, Hc]);
        matmul(ctx, dg0, Wf, da0);
      }
      grads.push(da0);
    }
    return grads;
  }

  protected override forgetRun(): void {
    this.saved = null;
  }

  /** Rebuilds a node from what `config()` wrote (same options; parameters are initialised fresh). */
  static fromConfig(c: Record<string, unknown>): AttentionDecoder {
    if (c.type !== 'AttentionDecoder') throw new Error(`AttentionDecoder.fromConfig: expected a config of type "AttentionDecoder", got ${JSON.stringify(c.type)}`);
    return new AttentionDecoder({
      hiddenSize: c.hiddenSize as number, attentionalHidden: c.attentionalHidden as number, score: c.score as AttentionScore, name: c.name as string,
      ...(c.units === undefined ? {} : { units: c.units as number }), ...(c.cell === undefined ? {} : { cell: c.cell as 'lstm' | 'gru' }),
    });
  }

  config(): Record<string, unknown> {
    return {
      type: 'AttentionDecoder', name: this.name, hiddenSize: this.hiddenSize, attentionalHidden: this.attentionalHidden, score: this.score,
      units: this.score === 'additive' ? this.units : undefined, cell: this.cell, inputSize: this.inputSize, memorySize: this.memorySize,
    };
  }
}

/** The same buffer seen with another shape (never released through the view). */
function viewAs(t: Tensor, shape: number[]): Tensor {
  return new Tensor(t.buffer, shape, t.dtype, t.name, () => {});
}
