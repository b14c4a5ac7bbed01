// Vanilla RNN per-timestep wrappers (PyTorch nn.RNN with tanh or relu): one dispatch per timestep.
// The kernels are the cell-generic scaffold recurrent/step.wgsl with cells/rnn.wgsl (equations)
// and cells/rnn_storage.wgsl (bindings); see ./recurrent.ts. hn is written by rnn_final_state
// after the last forward step. The step kernels run STEP_BLOCK_ROWS batch rows per invocation
// (the override R) when the context's stepVariant is 'blocked', one when 'plain': bit-identical.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { checkPrecision, checkStored, finalStateGrid, halfHidden, recurrentKernelName, recurrentKernels, stepKernelName, stepLaunch, storagePrecision } from './recurrent.ts';

export const RNN_KERNELS: KernelSpec[] = recurrentKernels('rnn');
registerKernels(RNN_KERNELS);

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
  if (storagePrecision(whh) === 'f16') return halfHidden(op, whh, 1);
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
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
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
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
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
  const k = stepLaunch(ctx, d.B, d.H);
  ctx.dispatch(stepKernelName(ctx, 'rnn', 'step_forward', d.H, storagePrecision(a.whh)), {
    bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs },
    params: { ...d, t },
    overrides: { ...k.overrides, ACT },
    workgroups: k.workgroups,
  });
  if (t === d.T - 1) recordRnnFinalState(ctx, a, d);
}

/** hn = hs at each row's last valid step (after the last forward step of either schedule). */
export function recordRnnFinalState(ctx: GpuContext, a: Pick<RnnForwardTensors, 'hs' | 'lengths' | 'hn'>, d: { B: number; T: number; H: number }): void {
  ctx.dispatch(recurrentKernelName(ctx, 'rnn', 'final_state', storagePrecision(a.hs)), { bindings: { hs: a.hs, lengths: a.lengths, hn: a.hn }, params: { ...d, t: 0 }, workgroups: finalStateGrid(d.B, d.H) });
}

function recordBackward(ctx: GpuContext, t: number, a: RnnBackwardTensors, d: { B: number; T: number; H: number }, ACT: number): void {
  const k = stepLaunch(ctx, d.B, d.H, 'backward');
  ctx.dispatch(stepKernelName(ctx, 'rnn', 'step_backward', d.H, storagePrecision(a.whh)), {
    bindings: { whh: a.whh, lengths: a.lengths, hs: a.hs, dhs: a.dhs, dhn: a.dhn, dghh: a.dgates },
    params: { ...d, t },
    overrides: { ...k.overrides, ACT },
    workgroups: k.workgroups,
  });
}

/** dh0 = dgates[:, 0]·W_hh (after the last backward step of either schedule). */
export function recordRnnInitial(ctx: GpuContext, a: RnnBackwardInitialTensors, d: { B: number; T: number; H: number }): void {
  ctx.dispatch(stepKernelName(ctx, 'rnn', 'backward_initial', d.H, storagePrecision(a.whh)), {
    bindings: { whh: a.whh, dghh: a.dgates, dh0: a.dh0 },
    params: { ...d, t: 0 },
    ...stepLaunch(ctx, d.B, d.H, 'backward'),
  });
}

/**
 * Forward step t: hs[:, t] = act(gx[:, t] + b_hh + h_prev·W_hhᵀ), zero for t >= lengths[b];
 * at t == T-1 also hn (each row's state at t = lengths[b]-1). Steps must be recorded in order t = 0 … T-1.
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
  recordRnnInitial(ctx, a, d);
}

/** Records the T forward steps, the last with the final-state gather (T + 1 dispatches). */
export function rnnForwardSteps(ctx: GpuContext, a: RnnForwardTensors, opts: RnnOptions = {}): void {
  const op = 'rnnForwardSteps';
  const ACT = actOf(op, opts);
  const d = checkForward(op, null, a);
  for (let t = 0; t < d.T; t++) recordForward(ctx, t, a, d, ACT);
}

/**
 * Records the T backward steps (t = T-1 … 0) and, when `dh0` is given, rnnBackwardInitial
 * (T or T+1 dispatches). The input-side gradients then follow from dgates by GEMMs:
 * dW_ih = dgatesᵀ·X, dW_hh = dgatesᵀ·H_prev, db_ih = db_hh = Σ_{b,t} dgates, dX = dgates·W_ih.
 */
export function rnnBackwardSteps(
  ctx: GpuContext, a: RnnBackwardTensors & { dh0?: Tensor }, opts: RnnOptions = {},
): void {
  const op = 'rnnBackwardSteps';
  const ACT = actOf(op, opts);
  const { dh0, ...rest } = a;
  const d = checkBackward(op, null, rest);
  if (dh0 !== undefined) {
    checkTensor(op, 'dh0', dh0, [d.B, d.H]);
    checkNoAlias(op, ['dh0'], { ...rest, dh0 });
  }
  for (let t = d.T - 1; t >= 0; t--) recordBackward(ctx, t, rest, d, ACT);
  if (dh0 !== undefined) recordRnnInitial(ctx, { dgates: a.dgates, whh: a.whh, dh0 }, d);
}
