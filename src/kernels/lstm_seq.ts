// LSTM sequence kernels (shaders/lstm_seq.wgsl): the whole recurrence in one dispatch per
// direction (plus the final-state gather / initial-state gradient from lstm.wgsl). Same tensors,
// semantics and outputs as lstmForwardSequence / lstmBackwardSequence in ./lstm.ts, so a caller can
// pick either schedule. Each workgroup owns RB batch rows and loops over t with one
// workgroupBarrier() per step, keeping h (forward) or the next step's dgates (backward) in
// workgroup memory and reading W_hh from storage.
//   lstm_seq_forward   T steps: hs, cs, gates; then lstm_final_state writes hn, cn   (2 dispatches)
//   lstm_seq_backward  T steps: dgates, dc_carry; then lstm_backward_initial: dh0, dc0 (2 dispatches)
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv, grid1d } from './grid.ts';
import type { LstmBackwardTensors, LstmForwardTensors } from './lstm.ts';
import './lstm.ts'; // registers lstm_final_state and lstm_backward_initial

const B_ = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const whh = B_('whh', 'read-only-storage', 0);
const c0 = B_('c0', 'read-only-storage', 1);
const lengths = B_('lengths', 'read-only-storage', 2);
const cs = B_('cs', 'storage', 3);
const gates = B_('gates', 'storage', 4);
const params = B_('params', 'uniform', 5);
const gx = B_('gx', 'read-only-storage', 6);
const bhh = B_('bhh', 'read-only-storage', 7);
const h0 = B_('h0', 'read-only-storage', 8);
const hs = B_('hs', 'storage', 9);
const dhs = B_('dhs', 'read-only-storage', 10);
const dhn = B_('dhn', 'read-only-storage', 11);
const dcn = B_('dcn', 'read-only-storage', 12);
const dgates = B_('dgates', 'storage', 13);
const dcCarry = B_('dc_carry', 'storage', 14);
const fields = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['pad', 'u32']] as const;
const defaults = { WG: 128, RB: 1, SH: 256 };

export const LSTM_SEQ_KERNELS: KernelSpec[] = [
  { name: 'lstm_seq_forward', file: 'lstm_seq.wgsl', params: fields, overrides: defaults,
    bindings: [whh, c0, lengths, cs, gates, params, gx, bhh, h0, hs] },
  { name: 'lstm_seq_backward', file: 'lstm_seq.wgsl', params: fields, overrides: defaults,
    bindings: [whh, c0, lengths, cs, gates, params, dhs, dhn, dcn, dgates, dcCarry] },
];
registerKernels(LSTM_SEQ_KERNELS);

// ---------------------------------------------------------------- launch plan (shared by the *_seq families)

/** How a sequence kernel is launched: rows per workgroup, invocations per workgroup. */
export interface SeqPlan {
  /** Batch rows per workgroup. */
  RB: number;
  /** Invocations per workgroup. */
  WG: number;
  /** Workgroups (along x). */
  groups: number;
}

export interface SeqOptions {
  /** Batch rows per workgroup; default from `setSequenceRowsPerWorkgroup` / the adapter. */
  rowsPerWorkgroup?: number;
}

let rowsSetting: number | 'auto' = 'auto';

/**
 * Rows per workgroup used by the sequence kernels when a call names none. 'auto' (default):
 * 1 row per workgroup on a real GPU (most workgroups in flight), and on a CPU driver
 * (lavapipe/llvmpipe, SwiftShader) as many rows as keep ≥ 4 workgroups, so each workgroup reuses
 * the W_hh it reads for several rows. Always capped by the workgroup-memory limit.
 */
export function setSequenceRowsPerWorkgroup(n: number | 'auto'): void {
  if (n !== 'auto' && !(Number.isInteger(n) && n >= 1)) throw new Error(`setSequenceRowsPerWorkgroup: expected a positive integer or 'auto', got ${n}`);
  rowsSetting = n;
}

/** Whether the adapter is a CPU implementation (lavapipe/llvmpipe, SwiftShader, WARP). */
export function isCpuAdapter(ctx: GpuContext): boolean {
  // Every field: Dawn's OpenGL ES backend names the GL version in the description and the
  // renderer (e.g. "llvmpipe-llvm-15-0-6-256-bits-") only in `device`.
  const a = ctx.adapterInfo;
  return /llvmpipe|lavapipe|swiftshader|warp|software/i.test([ctx.describe(), a.device, a.architecture, a.vendor].join(' '));
}

/**
 * The largest number of rows whose per-workgroup memory (`floatsPerRow` floats each) fits the
 * adapter's maxComputeWorkgroupStorageSize; 0 when not even one row fits.
 */
export function seqMaxRows(ctx: GpuContext, floatsPerRow: number): number {
  return Math.floor(ctx.limits.maxComputeWorkgroupStorageSize / (4 * floatsPerRow));
}

/**
 * The launch plan for B rows of a sequence kernel whose workgroup memory is `floatsPerRow` floats
 * per row, or null when one row does not fit or B needs too many workgroups (the caller then uses
 * the step kernels).
 */
export function seqPlan(ctx: GpuContext, B: number, H: number, floatsPerRow: number, opts: SeqOptions = {}): SeqPlan | null {
  const maxRows = seqMaxRows(ctx, floatsPerRow);
  if (maxRows < 1) return null;
  let RB: number;
  const want = opts.rowsPerWorkgroup ?? (rowsSetting === 'auto' ? null : rowsSetting);
  if (want !== null) {
    RB = want;
  } else if (isCpuAdapter(ctx)) {
    RB = Math.max(1, Math.floor(B / 4));
  } else {
    RB = 1;
  }
  RB = Math.max(1, Math.min(RB, maxRows, B));
  const maxInv = Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup);
  const WG = Math.min(maxInv, Math.ceil((RB * H) / 32) * 32);
  const groups = ceilDiv(B, RB);
  if (groups > ctx.limits.maxComputeWorkgroupsPerDimension) return null;
  return { RB, WG, groups };
}

/** Whether the LSTM sequence kernels can run for hidden size H on this adapter (backward needs 2·4H floats per row). */
export function lstmSeqSupported(ctx: GpuContext, H: number): boolean {
  return seqMaxRows(ctx, 8 * H) >= 1;
}

// ---------------------------------------------------------------- checks

interface Dims { B: number; T: number; H: number }

function lstmDims(op: string, seqName: string, seq: Tensor, w: Tensor): Dims {
  checkTensor(op, 'whh', w, [-1, -1]);
  const [G, H] = w.shape;
  if (G !== 4 * H) throw new Error(`${op}: whh (${w.name}) has shape ${shapeString(w.shape)}, expected (4*H, H) = (${4 * H}, ${H})`);
  checkTensor(op, seqName, seq, [-1, -1, G]);
  const [B, T] = seq.shape;
  return { B, T, H };
}

export function planOrThrow(op: string, ctx: GpuContext, d: Dims, floatsPerRow: number, opts: SeqOptions): SeqPlan {
  if (opts.rowsPerWorkgroup !== undefined && !(Number.isInteger(opts.rowsPerWorkgroup) && opts.rowsPerWorkgroup >= 1)) {
    throw new Error(`${op}: rowsPerWorkgroup must be a positive integer, got ${opts.rowsPerWorkgroup}`);
  }
  const plan = seqPlan(ctx, d.B, d.H, floatsPerRow, opts);
  if (!plan) {
    throw new Error(`${op}: B = ${d.B}, H = ${d.H} needs ${4 * floatsPerRow} bytes of workgroup memory per row, more than this adapter's maxComputeWorkgroupStorageSize (${ctx.limits.maxComputeWorkgroupStorageSize}); use the step kernels`);
  }
  return plan;
}

// ---------------------------------------------------------------- wrappers

/**
 * Records the whole LSTM forward with the sequence kernel: hs, cs, gates for every t (zero past
 * each row's length), then hn, cn via lstm_final_state. Two dispatches. Same tensors and results
 * as lstmForwardSequence.
 */
export function lstmSeqForward(ctx: GpuContext, a: LstmForwardTensors, opts: SeqOptions = {}): void {
  const op = 'lstmSeqForward';
  const d = lstmDims(op, 'gx', a.gx, a.whh);
  const { B, T, H } = d, G = 4 * H;
  checkTensor(op, 'bhh', a.bhh, [G]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'c0', a.c0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'cs', a.cs, [B, T, H]);
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkTensor(op, 'cn', a.cn, [B, H]);
  checkDistinct(op, { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, c0: a.c0, lengths: a.lengths, hs: a.hs, cs: a.cs, gates: a.gates, hn: a.hn, cn: a.cn });
  const p = planOrThrow(op, ctx, d, 2 * H, opts);
  ctx.dispatch('lstm_seq_forward', {
    bindings: { whh: a.whh, c0: a.c0, lengths: a.lengths, cs: a.cs, gates: a.gates, gx: a.gx, bhh: a.bhh, h0: a.h0, hs: a.hs },
    params: { B, T, H, pad: 0 },
    overrides: { WG: p.WG, RB: p.RB, SH: 2 * p.RB * H },
    workgroups: [p.groups, 1],
  });
  ctx.dispatch('lstm_final_state', {
    bindings: { hs: a.hs, cs: a.cs, lengths: a.lengths, hn: a.hn, cn: a.cn },
    params: { B, T, H, t: 0 },
    workgroups: grid1d(B * H, 64),
  });
}

/**
 * Records the whole LSTM backward with the sequence kernel: dgates for every t (zero past each
 * row's length) and dcCarry, then dh0, dc0 via lstm_backward_initial. Two dispatches. Same tensors
 * and results as lstmBackwardSequence (dcCarry needs no clearing here).
 */
export function lstmSeqBackward(ctx: GpuContext, a: LstmBackwardTensors & { dh0: Tensor; dc0: Tensor }, opts: SeqOptions = {}): void {
  const op = 'lstmSeqBackward';
  const d = lstmDims(op, 'dgates', a.dgates, a.whh);
  const { B, T, H } = d, G = 4 * H;
  checkTensor(op, 'dhs', a.dhs, [B, T, H]);
  checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'dcn', a.dcn, [B, H]);
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'cs', a.cs, [B, T, H]);
  checkTensor(op, 'c0', a.c0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dcCarry', a.dcCarry, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  checkTensor(op, 'dc0', a.dc0, [B, H]);
  checkDistinct(op, {
    dhs: a.dhs, dhn: a.dhn, dcn: a.dcn, gates: a.gates, cs: a.cs, c0: a.c0, whh: a.whh, lengths: a.lengths,
    dgates: a.dgates, dcCarry: a.dcCarry, dh0: a.dh0, dc0: a.dc0,
  });
  const p = planOrThrow(op, ctx, d, 2 * G, opts);
  ctx.dispatch('lstm_seq_backward', {
    bindings: { whh: a.whh, c0: a.c0, lengths: a.lengths, cs: a.cs, gates: a.gates, dhs: a.dhs, dhn: a.dhn, dcn: a.dcn, dgates: a.dgates, dc_carry: a.dcCarry },
    params: { B, T, H, pad: 0 },
    overrides: { WG: p.WG, RB: p.RB, SH: 2 * p.RB * G },
    workgroups: [p.groups, 1],
  });
  ctx.dispatch('lstm_backward_initial', {
    bindings: { dgates: a.dgates, whh: a.whh, dc_carry: a.dcCarry, dh0: a.dh0, dc0: a.dc0 },
    params: { B, T, H, t: 0 },
    workgroups: grid1d(B * H, 64),
  });
}
