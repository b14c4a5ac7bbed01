// Vanilla RNN step kernels (shaders/rnn.wgsl), PyTorch nn.RNN with tanh or relu.
// Layouts, variable-length semantics and the backward formulation follow
// docs/dev/RECURRENT_CONVENTIONS.md (shared with the lstm and gru families).
// Each kernel has a register-blocked twin `<name>_blocked` (one thread per (block of
// STEP_BLOCK_ROWS batch rows, j), bit-identical results); the wrappers record the variant chosen by
// setStepKernelVariant (./step_variant.ts).
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv, grid1d } from './grid.ts';
import { getStepKernelVariant, STEP_BLOCK_ROWS } from './step_variant.ts';

const WG = 64;
const ro = (name: string, index: number): BindingSpec => ({ name, kind: 'read-only-storage', index });
const rw = (name: string, index: number): BindingSpec => ({ name, kind: 'storage', index });
const B_ = {
  gx: ro('gx', 0), whh: ro('whh', 1), bhh: ro('bhh', 2), h0: ro('h0', 3), lengths: ro('lengths', 4),
  hs: rw('hs', 5), hn: rw('hn', 6), params: { name: 'params', kind: 'uniform', index: 7 } as BindingSpec,
  dhs: ro('dhs', 8), dhn: ro('dhn', 9), dgates: rw('dgates', 10), dh0: rw('dh0', 11),
};
const params = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['t', 'u32']] as const;

export const RNN_KERNELS: KernelSpec[] = [
  {
    name: 'rnn_step_forward', file: 'rnn.wgsl', params, overrides: { WG, ACT: 0 },
    bindings: [B_.gx, B_.whh, B_.bhh, B_.h0, B_.lengths, B_.hs, B_.hn, B_.params],
  },
  {
    name: 'rnn_step_backward', file: 'rnn.wgsl', params, overrides: { WG, ACT: 0 },
    bindings: [B_.whh, B_.lengths, B_.hs, B_.params, B_.dhs, B_.dhn, B_.dgates],
  },
  {
    name: 'rnn_backward_initial', file: 'rnn.wgsl', params, overrides: { WG },
    bindings: [B_.whh, B_.params, B_.dgates, B_.dh0],
  },
];
// The register-blocked twins: same bindings, R batch rows per thread.
for (const spec of [...RNN_KERNELS]) RNN_KERNELS.push({ ...spec, name: `${spec.name}_blocked`, overrides: { ...spec.overrides, R: STEP_BLOCK_ROWS } });
registerKernels(RNN_KERNELS);

/** Kernel name and workgroup grid of a (B, H) kernel for the current step-kernel variant. */
function stepKernel(name: string, d: { B: number; H: number }): { kernel: string; workgroups: [number, number] } {
  if (getStepKernelVariant() === 'blocked') return { kernel: `${name}_blocked`, workgroups: grid1d(ceilDiv(d.B, STEP_BLOCK_ROWS) * d.H, WG) };
  return { kernel: name, workgroups: grid1d(d.B * d.H, WG) };
}

export type RnnNonlinearity = 'tanh' | 'relu';

export interface RnnOptions {
  /** PyTorch nn.RNN `nonlinearity`; default 'tanh'. */
  nonlinearity?: RnnNonlinearity;
}

/** Buffers of the forward step (names and layouts as in RECURRENT_CONVENTIONS.md). */
export interface RnnForwardTensors {
  /** (B, T, H) input projection X·W_ihᵀ + b_ih. */
  gx: Tensor;
  /** (H, H) weight_hh. */
  whh: Tensor;
  /** (H) bias_hh. */
  bhh: Tensor;
  /** (B, H) initial state. */
  h0: Tensor;
  /** (B) i32, each in [1, T]. */
  lengths: Tensor;
  /** (B, T, H) outputs, written at step t (zero for t >= lengths[b]). */
  hs: Tensor;
  /** (B, H) final state, written at t == lengths[b]-1. */
  hn: Tensor;
}

/** Buffers of the backward step. */
export interface RnnBackwardTensors {
  /** (B, T, H) gradient w.r.t. hs. */
  dhs: Tensor;
  /** (B, H) gradient w.r.t. hn (zeros when unused). */
  dhn: Tensor;
  /** (B, T, H) the forward outputs. */
  hs: Tensor;
  /** (H, H) weight_hh. */
  whh: Tensor;
  /** (B) i32. */
  lengths: Tensor;
  /** (B, T, H) gradient w.r.t. the pre-activation (= dghh for the RNN); step t writes [:, t, :]. */
  dgates: Tensor;
}

export interface RnnBackwardInitialTensors {
  /** (B, T, H) after backward step 0. */
  dgates: Tensor;
  /** (H, H) weight_hh. */
  whh: Tensor;
  /** (B, H) output: gradient w.r.t. h0. */
  dh0: Tensor;
}

function actOf(op: string, opts: RnnOptions): number {
  const n = opts.nonlinearity ?? 'tanh';
  if (n === 'tanh') return 0;
  if (n === 'relu') return 1;
  throw new Error(`${op}: nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(n)}`);
}

function checkStep(op: string, t: number, T: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`${op}: timestep t must be an integer in [0, ${T}), got ${t}`);
}

/** Outputs must not share a buffer with any other binding of the same dispatch. */
function checkNoAlias(op: string, outputs: string[], all: Record<string, Tensor>): void {
  for (const o of outputs) {
    for (const [name, t] of Object.entries(all)) {
      if (name !== o && t.buffer === all[o].buffer) {
        throw new Error(`${op}: ${o} (${all[o].name}) and ${name} (${t.name}) must be different tensors`);
      }
    }
  }
}

/** Shape of the whh tensor as H, checked square. */
function hiddenOf(op: string, whh: Tensor): number {
  checkTensor(op, 'whh', whh, [-1, -1]);
  const H = whh.shape[1];
  checkTensor(op, 'whh', whh, [H, H]);
  return H;
}

function checkForward(op: string, t: number | null, a: RnnForwardTensors): { B: number; T: number; H: number } {
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'gx', a.gx, [-1, -1, H]);
  const [B, T] = a.gx.shape;
  if (t !== null) checkStep(op, t, T);
  checkTensor(op, 'bhh', a.bhh, [H]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkNoAlias(op, ['hs', 'hn'], { ...a });
  return { B, T, H };
}

function checkBackward(op: string, t: number | null, a: RnnBackwardTensors): { B: number; T: number; H: number } {
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'dhs', a.dhs, [-1, -1, H]);
  const [B, T] = a.dhs.shape;
  if (t !== null) checkStep(op, t, T);
  checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dgates', a.dgates, [B, T, H]);
  checkNoAlias(op, ['dgates', 'hs'], { ...a });
  return { B, T, H };
}

function checkInitial(op: string, a: RnnBackwardInitialTensors): { B: number; T: number; H: number } {
  const H = hiddenOf(op, a.whh);
  checkTensor(op, 'dgates', a.dgates, [-1, -1, H]);
  const [B, T] = a.dgates.shape;
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  checkNoAlias(op, ['dh0', 'dgates'], { ...a });
  return { B, T, H };
}

function recordForward(ctx: GpuContext, t: number, a: RnnForwardTensors, d: { B: number; T: number; H: number }, ACT: number): void {
  const k = stepKernel('rnn_step_forward', d);
  ctx.dispatch(k.kernel, {
    bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn },
    params: { ...d, t },
    overrides: { ACT },
    workgroups: k.workgroups,
  });
}

function recordBackward(ctx: GpuContext, t: number, a: RnnBackwardTensors, d: { B: number; T: number; H: number }, ACT: number): void {
  const k = stepKernel('rnn_step_backward', d);
  ctx.dispatch(k.kernel, {
    bindings: { whh: a.whh, lengths: a.lengths, hs: a.hs, dhs: a.dhs, dhn: a.dhn, dgates: a.dgates },
    params: { ...d, t },
    overrides: { ACT },
    workgroups: k.workgroups,
  });
}

function recordInitial(ctx: GpuContext, a: RnnBackwardInitialTensors, d: { B: number; T: number; H: number }): void {
  const k = stepKernel('rnn_backward_initial', d);
  ctx.dispatch(k.kernel, {
    bindings: { whh: a.whh, dgates: a.dgates, dh0: a.dh0 },
    params: { ...d, t: 0 },
    workgroups: k.workgroups,
  });
}

/**
 * Forward step t: hs[:, t] = act(gx[:, t] + b_hh + h_prev·W_hhᵀ), zero for t >= lengths[b];
 * hn[b] written at t == lengths[b]-1. Steps must be recorded in order t = 0 … T-1.
 */
export function rnnStepForward(ctx: GpuContext, t: number, a: RnnForwardTensors, opts: RnnOptions = {}): void {
  const op = 'rnnStepForward';
  const ACT = actOf(op, opts);
  const d = checkForward(op, t, a);
  recordForward(ctx, t, a, d, ACT);
}

/**
 * Backward step t: dgates[:, t] = (dhs[:, t] + [t = len-1]·dhn + [t+1 < len]·dgates[:, t+1]·W_hh) ⊙ act'(h).
 * Steps must be recorded in order t = T-1 … 0 (step t reads step t+1's dgates).
 */
export function rnnStepBackward(ctx: GpuContext, t: number, a: RnnBackwardTensors, opts: RnnOptions = {}): void {
  const op = 'rnnStepBackward';
  const ACT = actOf(op, opts);
  const d = checkBackward(op, t, a);
  recordBackward(ctx, t, a, d, ACT);
}

/** dh0 (B, H) = dgates[:, 0]·W_hh, recorded after backward step 0. */
export function rnnBackwardInitial(ctx: GpuContext, a: RnnBackwardInitialTensors): void {
  const op = 'rnnBackwardInitial';
  const d = checkInitial(op, a);
  recordInitial(ctx, a, d);
}

/** Records the T forward steps (T dispatches). */
export function rnnForwardSequence(ctx: GpuContext, a: RnnForwardTensors, opts: RnnOptions = {}): void {
  const op = 'rnnForwardSequence';
  const ACT = actOf(op, opts);
  const d = checkForward(op, null, a);
  for (let t = 0; t < d.T; t++) recordForward(ctx, t, a, d, ACT);
}

/**
 * Records the T backward steps (t = T-1 … 0) and, when `dh0` is given, rnnBackwardInitial
 * (T or T+1 dispatches). The input-side gradients then follow from dgates by GEMMs:
 * dW_ih = dgatesᵀ·X, dW_hh = dgatesᵀ·H_prev, db_ih = db_hh = Σ_{b,t} dgates, dX = dgates·W_ih.
 */
export function rnnBackwardSequence(
  ctx: GpuContext, a: RnnBackwardTensors & { dh0?: Tensor }, opts: RnnOptions = {},
): void {
  const op = 'rnnBackwardSequence';
  const ACT = actOf(op, opts);
  const { dh0, ...rest } = a;
  const d = checkBackward(op, null, rest);
  if (dh0 !== undefined) {
    checkTensor(op, 'dh0', dh0, [d.B, d.H]);
    checkNoAlias(op, ['dh0'], { ...rest, dh0 });
  }
  for (let t = d.T - 1; t >= 0; t--) recordBackward(ctx, t, rest, d, ACT);
  if (dh0 !== undefined) recordInitial(ctx, { dgates: a.dgates, whh: a.whh, dh0 }, d);
}
