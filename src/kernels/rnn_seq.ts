// Vanilla RNN whole-sequence wrappers (recurrent/sequence.wgsl with cells/rnn.wgsl, registered by
// ./rnn.ts), PyTorch nn.RNN with tanh or relu: the whole recurrence in one dispatch per direction
// (plus rnn_final_state for hn and rnn_backward_initial for dh0, from recurrent/step.wgsl). Same
// tensors, semantics and outputs as rnnForwardSteps / rnnBackwardSteps in ./rnn.ts, so a
// caller can pick either schedule. Each workgroup owns RB batch rows and loops over t with one
// workgroupBarrier() per step, keeping h (forward) or the next step's dgates (backward) in
// workgroup memory and reading W_hh from storage. The launch plan (rows per workgroup,
// invocations) is the one shared with lstm_seq.ts.
//   rnn_seq_forward   T steps: hs; then rnn_final_state: hn                          (2 dispatches)
//   rnn_seq_backward  T steps: dgates; then, when dh0 is given, rnn_backward_initial (1 or 2 dispatches)
import type { GpuContext } from '../runtime/context.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { recordRnnFinalState, recordRnnInitial, type RnnBackwardTensors, type RnnForwardTensors, type RnnOptions } from './rnn.ts';
import { seqKernel, seqMaxRows, type SeqOptions } from './lstm_seq.ts';
import { checkPrecision, checkStored, halfHidden, storagePrecision } from './recurrent.ts';

/** Whether the RNN sequence kernels can run for hidden size H on this adapter (2·H floats per row). */
export function rnnFusedSupported(ctx: GpuContext, H: number): boolean {
  return seqMaxRows(ctx, 2 * H) >= 1;
}

// ---------------------------------------------------------------- checks

function actOf(op: string, opts: RnnOptions): number {
  const n = opts.nonlinearity ?? 'tanh';
  if (n === 'tanh') return 0;
  if (n === 'relu') return 1;
  throw new Error(`${op}: nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(n)}`);
}

/** Outputs (written bindings) must not share a buffer with any other binding of the same call. */
function checkOutputsDistinct(op: string, outputs: string[], all: Record<string, Tensor>): void {
  for (const o of outputs) {
    for (const [name, t] of Object.entries(all)) {
      if (name !== o && t.buffer === all[o].buffer) throw new Error(`${op}: ${o} and ${name} must be different tensors (both are ${t.name})`);
    }
  }
}

/** H from whh (H, H), checked square. */
function hiddenOf(op: string, w: Tensor): number {
  if (storagePrecision(w) === 'f16') return halfHidden(op, w, 1);
  checkTensor(op, 'whh', w, [-1, -1]);
  const H = w.shape[1];
  checkTensor(op, 'whh', w, [H, H]);
  return H;
}

// ---------------------------------------------------------------- wrappers

/**
 * Records the whole RNN forward with the sequence kernel: hs for every t (zero past each row's
 * length), then hn[b] (hs at t = lengths[b]-1). Two dispatches. Same tensors and results as
 * rnnForwardSteps.
 */
export function rnnForwardFused(ctx: GpuContext, a: RnnForwardTensors, opts: RnnOptions & SeqOptions = {}): void {
  const op = 'rnnForwardFused';
  const ACT = actOf(op, opts);
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'gx', a.gx, [-1, -1, H]);
  const [B, T] = a.gx.shape;
  checkTensor(op, 'bhh', a.bhh, [H]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
  checkTensor(op, 'hn', a.hn, [B, H]);
  const all = { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn };
  checkOutputsDistinct(op, ['hs', 'hn'], all);
  const k = seqKernel(op, ctx, 'rnn', 'forward', { B, T, H }, storagePrecision(a.whh), opts);
  ctx.dispatch(k.name, {
    bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ACT },
    workgroups: k.workgroups,
  });
  recordRnnFinalState(ctx, a, { B, T, H });
}

/**
 * Records the whole RNN backward with the sequence kernel: dgates (the gradient w.r.t. the
 * pre-activation, = dghh for the RNN) for every t (zero past each row's length), then, when dh0 is
 * given, dh0 = dgates[:, 0]·W_hh via rnn_backward_initial. One or two dispatches. Same tensors and
 * results as rnnBackwardSteps.
 */
export function rnnBackwardFused(ctx: GpuContext, a: RnnBackwardTensors & { dh0?: Tensor }, opts: RnnOptions & SeqOptions = {}): void {
  const op = 'rnnBackwardFused';
  const ACT = actOf(op, opts);
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'dhs', a.dhs, [-1, -1, H]);
  const [B, T] = a.dhs.shape;
  checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dgates', a.dgates, [B, T, H]);
  if (a.dh0 !== undefined) checkTensor(op, 'dh0', a.dh0, [B, H]);
  const all: Record<string, Tensor> = { dhs: a.dhs, dhn: a.dhn, hs: a.hs, whh: a.whh, lengths: a.lengths, dgates: a.dgates };
  if (a.dh0) all.dh0 = a.dh0;
  checkOutputsDistinct(op, a.dh0 ? ['hs', 'dgates', 'dh0'] : ['hs', 'dgates'], all);
  const k = seqKernel(op, ctx, 'rnn', 'backward', { B, T, H }, storagePrecision(a.whh), opts);
  ctx.dispatch(k.name, {
    bindings: { whh: a.whh, lengths: a.lengths, hs: a.hs, dhs: a.dhs, dhn: a.dhn, dghh: a.dgates },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ACT },
    workgroups: k.workgroups,
  });
  if (a.dh0) recordRnnInitial(ctx, { whh: a.whh, dgates: a.dgates, dh0: a.dh0 }, { B, T, H });
}
