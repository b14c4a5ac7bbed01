// Vanilla RNN sequence kernels (shaders/rnn_seq.wgsl), PyTorch nn.RNN with tanh or relu: the whole
// recurrence in one dispatch per direction (plus rnn_backward_initial from rnn.wgsl for dh0). Same
// tensors, semantics and outputs as rnnForwardSequence / rnnBackwardSequence in ./rnn.ts, so a
// caller can pick either schedule. Each workgroup owns RB batch rows and loops over t with one
// workgroupBarrier() per step, keeping h (forward) or the next step's dgates (backward) in
// workgroup memory and reading W_hh from storage. The launch plan (rows per workgroup,
// invocations) is the one shared with lstm_seq.ts.
//   rnn_seq_forward   T steps: hs, hn                                               (1 dispatch)
//   rnn_seq_backward  T steps: dgates; then, when dh0 is given, rnn_backward_initial (1 or 2 dispatches)
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';
import type { RnnBackwardTensors, RnnForwardTensors, RnnOptions } from './rnn.ts';
import './rnn.ts'; // registers rnn_backward_initial
import { planOrThrow, seqMaxRows, type SeqOptions } from './lstm_seq.ts';

const ro = (name: string, index: number): BindingSpec => ({ name, kind: 'read-only-storage', index });
const rw = (name: string, index: number): BindingSpec => ({ name, kind: 'storage', index });
const B_ = {
  gx: ro('gx', 0), whh: ro('whh', 1), bhh: ro('bhh', 2), h0: ro('h0', 3), lengths: ro('lengths', 4),
  hs: rw('hs', 5), hn: rw('hn', 6), params: { name: 'params', kind: 'uniform', index: 7 } as BindingSpec,
  dhs: ro('dhs', 8), dhn: ro('dhn', 9), dgates: rw('dgates', 10),
};
const fields = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['pad', 'u32']] as const;
const defaults = { WG: 128, RB: 1, SH: 256, ACT: 0 };

export const RNN_SEQ_KERNELS: KernelSpec[] = [
  { name: 'rnn_seq_forward', file: 'rnn_seq.wgsl', params: fields, overrides: defaults,
    bindings: [B_.gx, B_.whh, B_.bhh, B_.h0, B_.lengths, B_.hs, B_.hn, B_.params] },
  { name: 'rnn_seq_backward', file: 'rnn_seq.wgsl', params: fields, overrides: defaults,
    bindings: [B_.whh, B_.lengths, B_.hs, B_.params, B_.dhs, B_.dhn, B_.dgates] },
];
registerKernels(RNN_SEQ_KERNELS);

/** Whether the RNN sequence kernels can run for hidden size H on this adapter (2·H floats per row). */
export function rnnSeqSupported(ctx: GpuContext, H: number): boolean {
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
  checkTensor(op, 'whh', w, [-1, -1]);
  const H = w.shape[1];
  checkTensor(op, 'whh', w, [H, H]);
  return H;
}

// ---------------------------------------------------------------- wrappers

/**
 * Records the whole RNN forward with the sequence kernel: hs for every t (zero past each row's
 * length) and hn[b] at t = lengths[b]-1. One dispatch. Same tensors and results as
 * rnnForwardSequence.
 */
export function rnnSeqForward(ctx: GpuContext, a: RnnForwardTensors, opts: RnnOptions & SeqOptions = {}): void {
  const op = 'rnnSeqForward';
  const ACT = actOf(op, opts);
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'gx', a.gx, [-1, -1, H]);
  const [B, T] = a.gx.shape;
  checkTensor(op, 'bhh', a.bhh, [H]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  const all = { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn };
  checkOutputsDistinct(op, ['hs', 'hn'], all);
  const p = planOrThrow(op, ctx, { B, T, H }, 2 * H, opts);
  ctx.dispatch('rnn_seq_forward', {
    bindings: all,
    params: { B, T, H, pad: 0 },
    overrides: { WG: p.WG, RB: p.RB, SH: 2 * p.RB * H, ACT },
    workgroups: [p.groups, 1],
  });
}

/**
 * Records the whole RNN backward with the sequence kernel: dgates (the gradient w.r.t. the
 * pre-activation, = dghh for the RNN) for every t (zero past each row's length), then, when dh0 is
 * given, dh0 = dgates[:, 0]·W_hh via rnn_backward_initial. One or two dispatches. Same tensors and
 * results as rnnBackwardSequence.
 */
export function rnnSeqBackward(ctx: GpuContext, a: RnnBackwardTensors & { dh0?: Tensor }, opts: RnnOptions & SeqOptions = {}): void {
  const op = 'rnnSeqBackward';
  const ACT = actOf(op, opts);
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'dhs', a.dhs, [-1, -1, H]);
  const [B, T] = a.dhs.shape;
  checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dgates', a.dgates, [B, T, H]);
  if (a.dh0 !== undefined) checkTensor(op, 'dh0', a.dh0, [B, H]);
  const all: Record<string, Tensor> = { dhs: a.dhs, dhn: a.dhn, hs: a.hs, whh: a.whh, lengths: a.lengths, dgates: a.dgates };
  if (a.dh0) all.dh0 = a.dh0;
  checkOutputsDistinct(op, a.dh0 ? ['hs', 'dgates', 'dh0'] : ['hs', 'dgates'], all);
  const p = planOrThrow(op, ctx, { B, T, H }, 2 * H, opts);
  ctx.dispatch('rnn_seq_backward', {
    bindings: { whh: a.whh, lengths: a.lengths, hs: a.hs, dhs: a.dhs, dhn: a.dhn, dgates: a.dgates },
    params: { B, T, H, pad: 0 },
    overrides: { WG: p.WG, RB: p.RB, SH: 2 * p.RB * H, ACT },
    workgroups: [p.groups, 1],
  });
  if (a.dh0) {
    ctx.dispatch('rnn_backward_initial', {
      bindings: { whh: a.whh, dgates: a.dgates, dh0: a.dh0 },
      params: { B, T, H, t: 0 },
      workgroups: grid1d(B * H, 64),
    });
  }
}
