// GRU whole-sequence wrappers (recurrent/sequence.wgsl with cells/gru.wgsl, registered by ./gru.ts):
// the whole recurrence in one dispatch per direction (plus gru_final_state for hn and
// gru_backward_initial for dh0, from recurrent/step.wgsl). Same tensors, semantics and outputs as
// gruForwardSteps / gruBackwardSteps in ./gru.ts, so a caller can pick either schedule. Each
// workgroup owns RB batch rows and loops over t with one workgroupBarrier() per step, keeping h
// (forward) or the next step's dghh (backward) in workgroup memory and reading W_hh from storage.
// The launch plan (rows per workgroup, invocations) is the one shared with lstm_seq.ts.
//   gru_seq_forward   T steps: hs, gates, hnLin; then gru_final_state: hn                (2 dispatches)
//   gru_seq_backward  T steps: dgates, dghh, dhCarry; then gru_backward_initial: dh0      (2 dispatches,
//                     after dhCarry = dhn (a copy) or 0 (a clear), as gruBackwardSteps does)
import type { GpuContext } from '../runtime/context.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { gruOverrides, recordGruInitial, recordGruFinalState, type GruBackwardSequenceTensors, type GruCellOptions, type GruForwardTensors } from './gru.ts';
import { seqKernel, seqMaxRows, type SeqOptions } from './lstm_seq.ts';
import { checkPrecision, checkStored, halfHidden, storagePrecision } from './recurrent.ts';

/** Whether the GRU sequence kernels can run for hidden size H on this adapter (backward needs 2·3H floats per row). */
export function gruFusedSupported(ctx: GpuContext, H: number): boolean {
  return seqMaxRows(ctx, 6 * H) >= 1;
}

// ---------------------------------------------------------------- checks

/** B, T, H from whh (3H, H) and a (B, T, width·H) tensor. */
function gruDims(op: string, seqName: string, seq: Tensor, w: Tensor, width: number): { B: number; T: number; H: number } {
  if (storagePrecision(w) === 'f16') {
    const H = halfHidden(op, w, 3);
    checkTensor(op, seqName, seq, [-1, -1, width * H]);
    return { B: seq.shape[0], T: seq.shape[1], H };
  }
  checkTensor(op, 'whh', w, [-1, -1]);
  const [G, H] = w.shape;
  if (G !== 3 * H) throw new Error(`${op}: whh (${w.name}) has shape ${shapeString(w.shape)}, expected (3*H, H) = (${3 * H}, ${H})`);
  checkTensor(op, seqName, seq, [-1, -1, width * H]);
  const [B, T] = seq.shape;
  return { B, T, H };
}

// ---------------------------------------------------------------- wrappers

/**
 * Records the whole GRU forward with the sequence kernel: hs, gates (r, z, n after activation),
 * hnLin for every t (zero past each row's length), then hn[b] (hs at t = lengths[b]-1). Two dispatches.
 * Same tensors and results as gruForwardSteps.
 */
export function gruForwardFused(ctx: GpuContext, a: GruForwardTensors, opts: SeqOptions & GruCellOptions = {}): void {
  const op = 'gruForwardFused';
  const d = gruDims(op, 'gx', a.gx, a.whh, 3);
  const { B, T, H } = d, G = 3 * H;
  checkTensor(op, 'bhh', a.bhh, [G]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'hnLin', a.hnLin, [B, T, H]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkDistinct(op, { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hnLin: a.hnLin, hn: a.hn });
  const cell = gruOverrides(op, opts);
  const k = seqKernel(op, ctx, 'gru', 'forward', d, storagePrecision(a.whh), opts);
  ctx.dispatch(k.name, {
    bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hn_lin: a.hnLin },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ...cell },
    workgroups: k.workgroups,
  });
  recordGruFinalState(ctx, a, B, T, H);
}

/**
 * Records the whole GRU backward with the sequence kernel: dhCarry = dhn (a copy; a clear without
 * dhn), dgates and dghh for every t (zero past each row's length) with dhCarry updated in place,
 * then dh0 via gru_backward_initial. Two dispatches. Same tensors and results as
 * gruBackwardSteps; when dhCarry is not given, a (B, H) scratch tensor is taken from ctx's pool
 * and released once recorded.
 */
export function gruBackwardFused(ctx: GpuContext, a: GruBackwardSequenceTensors, opts: SeqOptions & GruCellOptions = {}): void {
  const op = 'gruBackwardFused';
  const d = gruDims(op, 'dhs', a.dhs, a.whh, 1);
  const { B, T, H } = d, G = 3 * H;
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'hnLin', a.hnLin, [B, T, H]);
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dgates', a.dgates, [B, T, G]);
  checkTensor(op, 'dghh', a.dghh, [B, T, G]);
  if (a.dhn !== undefined) checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  if (a.dhCarry !== undefined) checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  checkDistinct(op, {
    dhs: a.dhs, gates: a.gates, hnLin: a.hnLin, hs: a.hs, h0: a.h0, whh: a.whh, lengths: a.lengths,
    dgates: a.dgates, dghh: a.dghh, dhn: a.dhn, dh0: a.dh0, dhCarry: a.dhCarry,
  });
  const cell = gruOverrides(op, opts);
  const k = seqKernel(op, ctx, 'gru', 'backward', d, storagePrecision(a.whh), opts);
  const carry = a.dhCarry ?? ctx.empty([B, H], 'f32', 'gru dh_carry');
  if (a.dhn) ctx.copy(a.dhn, carry);
  else ctx.clear(carry);
  ctx.dispatch(k.name, {
    bindings: {
      whh: a.whh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hn_lin: a.hnLin,
      dhs: a.dhs, dgates: a.dgates, dghh: a.dghh, dh_carry: carry,
    },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ...cell },
    workgroups: k.workgroups,
  });
  recordGruInitial(ctx, { whh: a.whh, dghh: a.dghh, dhCarry: carry, dh0: a.dh0 }, B, T, H, cell.SPLIT);
  if (!a.dhCarry) carry.release();
}
