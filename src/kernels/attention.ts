// Attention over a memory, masked by lengths (shaders/attention.wgsl): scores (dot product or
// additive), masked softmax and context fused in one dispatch, and the backward in two (the query
// side per (b, t), the memory side per (b, j)). The projections around it (Luong's W_a, Bahdanau's
// W_q and W_k, the attentional hidden state) are GEMMs recorded by the caller (src/nn/attention.ts).
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 64;
const RO = 'read-only-storage', RW = 'storage';
const at = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const qk = at('qk', RO, 0), keys = at('keys', RO, 1), values = at('values', RO, 2), scoreV = at('score_v', RO, 3);
const lenQ = at('len_q', RO, 4), lenS = at('len_s', RO, 5), params = at('params', 'uniform', 6);
const weights = at('weights', RW, 7), context = at('context', RW, 8), dcontext = at('dcontext', RO, 9);
const dweights = at('dweights', RO, 10), dscores = at('dscores', RW, 11), dqk = at('dqk', RW, 12);
const dvPart = at('dv_part', RW, 13), dkeys = at('dkeys', RW, 14), dvalues = at('dvalues', RW, 15);
const fields = [['B', 'u32'], ['Tq', 'u32'], ['Ts', 'u32'], ['D', 'u32'], ['Hm', 'u32'], ['T_all', 'u32'], ['t0', 'u32']] as const;
const overrides = { WG, SCORE: 0, HAS_DWEIGHTS: 0 };
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({ name, file: moduleFile('reduce.wgsl', 'attention.wgsl'), bindings, params: fields, overrides });

export const ATTENTION_KERNELS: KernelSpec[] = [
  spec('attention_forward', [qk, keys, values, scoreV, lenQ, lenS, params, weights, context]),
  spec('attention_backward_queries', [qk, keys, values, scoreV, params, weights, dcontext, dweights, dscores, dqk, dvPart]),
  spec('attention_backward_memory', [qk, keys, scoreV, params, weights, dcontext, dscores, dkeys, dvalues]),
];
registerKernels(ATTENTION_KERNELS);

/** The tensors of one attention forward. Shapes use B batch, Tq query steps, Ts memory steps. */
export interface AttentionForwardArgs {
  /** (B, Tq, D) query-side vectors: the queries (dot, general) or W_q·q (additive). */
  qk: Tensor;
  /** (B, Ts, D) key-side vectors: the memory (dot), W_a·m (general) or W_k·m + b (additive). */
  keys: Tensor;
  /** (B, Ts, Hm) the memory, summed into the context. */
  values: Tensor;
  /** (D) v of the additive score vᵀ·tanh(qk_t + keys_j); absent: the dot-product score qk_t·keys_j. */
  scoreV?: Tensor;
  /** (B) i32 query lengths in [1, Tq]: steps t ≥ len give zero weights and context. */
  lengthsQ: Tensor;
  /** (B) i32 memory lengths in [1, Ts]: steps j ≥ len are masked out of the softmax. */
  lengthsS: Tensor;
  /** Output (B, Tq, Ts): the attention weights a (saved for the backward). */
  weights: Tensor;
  /** Output (B, Tq, Hm): the context c_t = Σ_j a_tj·values_j. */
  context: Tensor;
}

/** The tensors of one attention backward (the forward's inputs and weights, gradients out). */
export interface AttentionBackwardArgs {
  qk: Tensor;
  keys: Tensor;
  values: Tensor;
  scoreV?: Tensor;
  /** (B, Tq, Ts) the forward's weights. */
  weights: Tensor;
  /** (B, Tq, Hm) gradient of the context. */
  dcontext: Tensor;
  /** (B, Tq, Ts) optional upstream gradient of the weights. */
  dweights?: Tensor;
  /** Output (B, Tq, Ts): gradient of the scores e (scratch a caller may reuse after). */
  dscores: Tensor;
  /** Output (B, Tq, D): gradient of qk. */
  dqk: Tensor;
  /** Output (B, Ts, D): gradient of keys through the scores. */
  dkeys: Tensor;
  /** Output (B, Ts, Hm): gradient of values through the context (the keys path is in dkeys). */
  dvalues: Tensor;
  /** Output (B, Tq, D), required with scoreV: per-row parts of dv; dv = their column sum. */
  dvPart?: Tensor;
}

type Dims = { B: number; Tq: number; Ts: number; D: number; Hm: number };

/** Options of the query-side dispatches. */
export interface AttentionStepOptions {
  /**
   * Only query step `step` of every row (a decoder loop that attends once per step); the tensors
   * keep their full (B, Tq, ·) shapes. Default: every step.
   */
  step?: number;
}

/** The uniform's values: Tq steps from t0 of tensors with T_all query steps. */
function stepParams(op: string, d: Dims, opts: AttentionStepOptions): Dims & { T_all: number; t0: number } {
  const step = opts.step;
  if (step === undefined) return { ...d, T_all: d.Tq, t0: 0 };
  if (!Number.isInteger(step) || step < 0 || step >= d.Tq) throw new Error(`${op}: step must be an integer in [0, ${d.Tq - 1}] (Tq = ${d.Tq}), got ${step}`);
  return { ...d, Tq: 1, T_all: d.Tq, t0: step };
}

function dimsOf(op: string, a: { qk: Tensor; keys: Tensor; values: Tensor; scoreV?: Tensor }): Dims {
  checkTensor(op, 'qk', a.qk, [-1, -1, -1]);
  const [B, Tq, D] = a.qk.shape;
  checkTensor(op, 'keys', a.keys, [B, -1, D]);
  const Ts = a.keys.shape[1];
  checkTensor(op, 'values', a.values, [B, Ts, -1]);
  const Hm = a.values.shape[2];
  if (a.scoreV !== undefined) checkTensor(op, 'scoreV', a.scoreV, [D]);
  return { B, Tq, Ts, D, Hm };
}

/**
 * Masked attention forward: writes `weights` (B, Tq, Ts) and `context` (B, Tq, Hm). One dispatch,
 * one workgroup per (b, t). The lengths are not read back: they must lie in [1, T] (a RunInfo's do).
 */
export function attentionForward(ctx: GpuContext, args: AttentionForwardArgs, opts: AttentionStepOptions = {}): void {
  const op = 'attentionForward';
  if (!args || typeof args !== 'object') throw new Error(`${op}: expected an object { qk, keys, values, scoreV?, lengthsQ, lengthsS, weights, context }`);
  const d = dimsOf(op, args);
  checkTensor(op, 'lengthsQ', args.lengthsQ, [d.B], 'i32');
  checkTensor(op, 'lengthsS', args.lengthsS, [d.B], 'i32');
  checkTensor(op, 'weights', args.weights, [d.B, d.Tq, d.Ts]);
  checkTensor(op, 'context', args.context, [d.B, d.Tq, d.Hm]);
  checkDistinct(op, [['qk', args.qk], ['weights', args.weights], ['context', args.context]]);
  checkDistinct(op, [['keys', args.keys], ['weights', args.weights], ['context', args.context]]);
  checkDistinct(op, [['values', args.values], ['weights', args.weights], ['context', args.context]]);
  const p = stepParams(op, d, opts);
  ctx.dispatch('attention_forward', {
    bindings: {
      qk: args.qk, keys: args.keys, values: args.values, score_v: args.scoreV ?? args.qk,
      len_q: args.lengthsQ, len_s: args.lengthsS, weights: args.weights, context: args.context,
    },
    params: p, overrides: { SCORE: args.scoreV ? 1 : 0 }, workgroups: grid1d(p.B * p.Tq, 1),
  });
}

/** Checks the backward's tensors; returns the sizes. */
function checkBackward(op: string, args: AttentionBackwardArgs): Dims {
  if (!args || typeof args !== 'object') throw new Error(`${op}: expected an object { qk, keys, values, scoreV?, weights, dcontext, dweights?, dscores, dqk, dkeys, dvalues, dvPart? }`);
  const d = dimsOf(op, args);
  const rows = [d.B, d.Tq, d.Ts];
  checkTensor(op, 'weights', args.weights, rows);
  checkTensor(op, 'dcontext', args.dcontext, [d.B, d.Tq, d.Hm]);
  if (args.dweights !== undefined) checkTensor(op, 'dweights', args.dweights, rows);
  checkTensor(op, 'dscores', args.dscores, rows);
  checkTensor(op, 'dqk', args.dqk, [d.B, d.Tq, d.D]);
  checkTensor(op, 'dkeys', args.dkeys, [d.B, d.Ts, d.D]);
  checkTensor(op, 'dvalues', args.dvalues, [d.B, d.Ts, d.Hm]);
  if (args.scoreV !== undefined && args.dvPart === undefined) {
    throw new Error(`${op}: the additive score (scoreV given) needs dvPart ${shapeString([d.B, d.Tq, d.D])} for the gradient of v`);
  }
  if (args.dvPart !== undefined) checkTensor(op, 'dvPart', args.dvPart, [d.B, d.Tq, d.D]);
  const outs: [string, Tensor | undefined][] = [
    ['weights', args.weights], ['dscores', args.dscores], ['dqk', args.dqk], ['dkeys', args.dkeys], ['dvalues', args.dvalues], ['dvPart', args.dvPart],
  ];
  checkDistinct(op, outs);
  for (const [name, t] of [['qk', args.qk], ['keys', args.keys], ['values', args.values], ['scoreV', args.scoreV],
    ['dcontext', args.dcontext], ['dweights', args.dweights]] as [string, Tensor | undefined][]) {
    checkDistinct(op, [[name, t], ...outs]);
  }
  return d;
}

function recordQueries(ctx: GpuContext, args: AttentionBackwardArgs, p: Dims & { T_all: number; t0: number }): void {
  const overrides = { SCORE: args.scoreV ? 1 : 0, HAS_DWEIGHTS: args.dweights ? 1 : 0 };
  // Unused bindings still need a buffer: read-only ones reuse an input, dv_part a tiny scratch.
  const dvScratch = args.dvPart ? null : ctx.empty([4], 'f32', 'attentionBackward.unusedDvPart');
  try {
    ctx.dispatch('attention_backward_queries', {
      bindings: {
        qk: args.qk, keys: args.keys, values: args.values, score_v: args.scoreV ?? args.qk, weights: args.weights,
        dcontext: args.dcontext, dweights: args.dweights ?? args.dcontext, dscores: args.dscores, dqk: args.dqk,
        dv_part: args.dvPart ?? dvScratch!,
      },
      params: p, overrides, workgroups: grid1d(p.B * p.Tq, 1),
    });
  } finally {
    // Recorded work keeps its order, so the scratch may serve later work in the same submission.
    dvScratch?.release();
  }
}

function recordMemory(ctx: GpuContext, args: AttentionBackwardArgs, d: Dims): void {
  ctx.dispatch('attention_backward_memory', {
    bindings: {
      qk: args.qk, keys: args.keys, score_v: args.scoreV ?? args.qk, weights: args.weights, dcontext: args.dcontext,
      dscores: args.dscores, dkeys: args.dkeys, dvalues: args.dvalues,
    },
    params: { ...d, T_all: d.Tq, t0: 0 }, overrides: { SCORE: args.scoreV ? 1 : 0 }, workgroups: grid1d(d.B * d.Ts, 1),
  });
}

/**
 * Masked attention backward: writes dscores, dqk, dkeys, dvalues (and dvPart with the additive
 * score). Two dispatches: the query side (softmax backward, dqk) per (b, t), then the memory side
 * (dkeys, dvalues) per (b, j). Deterministic; no lengths needed (masked weights are 0).
 */
export function attentionBackward(ctx: GpuContext, args: AttentionBackwardArgs): void {
  const d = checkBackward('attentionBackward', args);
  recordQueries(ctx, args, { ...d, T_all: d.Tq, t0: 0 });
  recordMemory(ctx, args, d);
}

/**
 * The query side of the backward alone (one dispatch): dscores, dqk (and dvPart) at every query
 * step, or at `step` only (a decoder loop that needs dqk of step t before step t − 1). The tensors
 * are those of `attentionBackward`; dkeys and dvalues are not touched.
 */
export function attentionBackwardQueries(ctx: GpuContext, args: AttentionBackwardArgs, opts: AttentionStepOptions = {}): void {
  const op = 'attentionBackwardQueries';
  const d = checkBackward(op, args);
  recordQueries(ctx, args, stepParams(op, d, opts));
}

/**
 * The memory side of the backward alone (one dispatch): dkeys and dvalues summed over every query
 * step, from the dscores the query side wrote (for all steps) and dcontext.
 */
export function attentionBackwardMemory(ctx: GpuContext, args: AttentionBackwardArgs): void {
  recordMemory(ctx, args, checkBackward('attentionBackwardMemory', args));
}
