// GRU step kernels (shaders/gru.wgsl): PyTorch nn.GRU, gate order r, z, n; one dispatch per
// timestep, one thread per (b, j). See shaders/gru.wgsl for the equations and
// docs/dev/RECURRENT_CONVENTIONS.md for the bindings and the variable-length rules.
//
// Backward protocol (the one difference from a plain "clear the carry"): dhCarry (B,H) holds the
// direct part of the gradient w.r.t. h_prev (dh ⊙ z of the step after), and before the first
// backward step (t = T-1) the caller fills it with dhn, the gradient w.r.t. the final state
// (`ctx.copy(dhn, dhCarry)`, or `ctx.clear(dhCarry)` when hn has no gradient). Steps t >= len[b]
// leave it alone, so at t == len[b]-1 it still holds dhn. This keeps dhn out of the step kernel's
// bindings (10 storage buffers instead of 11). gruBackwardSequence does all of this.
//
// Each kernel has a register-blocked twin `<name>_blocked` (one thread per (block of
// STEP_BLOCK_ROWS batch rows, j), bit-identical results); the wrappers record the variant chosen by
// setStepKernelVariant (./step_variant.ts).
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv, grid1d } from './grid.ts';
import { getStepKernelVariant, STEP_BLOCK_ROWS } from './step_variant.ts';

const WG = 64;

// One WGSL variable per @binding index across the file; each kernel binds the subset it uses.
const B_ = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const gx = B_('gx', 'read-only-storage', 0);
const whh = B_('whh', 'read-only-storage', 1);
const bhh = B_('bhh', 'read-only-storage', 2);
const h0 = B_('h0', 'read-only-storage', 3);
const lengths = B_('lengths', 'read-only-storage', 4);
const hs = B_('hs', 'storage', 5);
const gates = B_('gates', 'storage', 6);
const hnLin = B_('hn_lin', 'storage', 7);
const hn = B_('hn', 'storage', 8);
const params = B_('params', 'uniform', 9);
const dhs = B_('dhs', 'read-only-storage', 10);
const dgates = B_('dgates', 'storage', 11);
const dghh = B_('dghh', 'storage', 12);
const dhCarry = B_('dh_carry', 'storage', 13);
const dh0 = B_('dh0', 'storage', 14);
const fields = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['t', 'u32']] as const;

export const GRU_KERNELS: KernelSpec[] = [
  { name: 'gru_step_forward', file: 'gru.wgsl', params: fields, overrides: { WG },
    bindings: [gx, whh, bhh, h0, lengths, hs, gates, hnLin, hn, params] },
  { name: 'gru_step_backward', file: 'gru.wgsl', params: fields, overrides: { WG },
    bindings: [whh, h0, lengths, hs, gates, hnLin, params, dhs, dgates, dghh, dhCarry] },
  { name: 'gru_backward_initial', file: 'gru.wgsl', params: fields, overrides: { WG },
    bindings: [whh, params, dghh, dhCarry, dh0] },
];
// The register-blocked twins: same bindings, R batch rows per thread.
for (const spec of [...GRU_KERNELS]) GRU_KERNELS.push({ ...spec, name: `${spec.name}_blocked`, overrides: { WG, R: STEP_BLOCK_ROWS } });
registerKernels(GRU_KERNELS);

/** Kernel name and workgroup grid of a (B, H) kernel for the current step-kernel variant. */
function stepKernel(name: string, B: number, H: number): { kernel: string; workgroups: [number, number] } {
  if (getStepKernelVariant() === 'blocked') return { kernel: `${name}_blocked`, workgroups: grid1d(ceilDiv(B, STEP_BLOCK_ROWS) * H, WG) };
  return { kernel: name, workgroups: grid1d(B * H, WG) };
}

/** Tensors of one forward step. Shapes: gx (B,T,3H), whh (3H,H), bhh (3H), h0 (B,H),
 *  lengths (B) i32 with values in [1,T], hs (B,T,H), gates (B,T,3H), hnLin (B,T,H), hn (B,H). */
export interface GruForwardTensors {
  gx: Tensor;
  whh: Tensor;
  bhh: Tensor;
  h0: Tensor;
  lengths: Tensor;
  hs: Tensor;
  gates: Tensor;
  hnLin: Tensor;
  hn: Tensor;
}

/** Tensors of one backward step. Shapes: dhs (B,T,H), gates (B,T,3H), hnLin (B,T,H), hs (B,T,H),
 *  h0 (B,H), whh (3H,H), lengths (B) i32, dgates (B,T,3H), dghh (B,T,3H), dhCarry (B,H). */
export interface GruBackwardStepTensors {
  dhs: Tensor;
  gates: Tensor;
  hnLin: Tensor;
  hs: Tensor;
  h0: Tensor;
  whh: Tensor;
  lengths: Tensor;
  dgates: Tensor;
  dghh: Tensor;
  dhCarry: Tensor;
}

/** Tensors of the initial-state entry: dghh (B,T,3H), whh (3H,H), dhCarry (B,H), dh0 (B,H). */
export interface GruBackwardInitialTensors {
  dghh: Tensor;
  whh: Tensor;
  dhCarry: Tensor;
  dh0: Tensor;
}

/** Whole-sequence backward: the step tensors without the carry, plus dhn and dh0; dhCarry is
 *  optional scratch (taken from the pool and released after recording when not given). */
export interface GruBackwardSequenceTensors extends Omit<GruBackwardStepTensors, 'dhCarry'> {
  dhn?: Tensor;
  dh0: Tensor;
  dhCarry?: Tensor;
}

/** H from whh (3H, H). */
function hiddenOf(op: string, w: Tensor): number {
  checkTensor(op, 'whh', w, [-1, -1]);
  const H = w.shape[1];
  checkTensor(op, 'whh', w, [3 * H, H]);
  return H;
}

/** B and T from a (B, T, D) tensor whose last dimension is known. */
function batchTimeOf(op: string, name: string, x: Tensor, D: number): [number, number] {
  checkTensor(op, name, x, [-1, -1, D]);
  return [x.shape[0], x.shape[1]];
}

function checkStep(op: string, t: number, T: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) throw new Error(`${op}: t must be an integer in [0, ${T - 1}] (T = ${T}), got ${t}`);
}

function checkForward(op: string, a: GruForwardTensors): { B: number; T: number; H: number } {
  const H = hiddenOf(op, a.whh);
  const [B, T] = batchTimeOf(op, 'gx', a.gx, 3 * H);
  checkTensor(op, 'bhh', a.bhh, [3 * H]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'gates', a.gates, [B, T, 3 * H]);
  checkTensor(op, 'hnLin', a.hnLin, [B, T, H]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkDistinct(op, { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hnLin: a.hnLin, hn: a.hn });
  return { B, T, H };
}

function checkBackwardCommon(op: string, a: Omit<GruBackwardStepTensors, 'dhCarry'>): { B: number; T: number; H: number } {
  const H = hiddenOf(op, a.whh);
  const [B, T] = batchTimeOf(op, 'dhs', a.dhs, H);
  checkTensor(op, 'gates', a.gates, [B, T, 3 * H]);
  checkTensor(op, 'hnLin', a.hnLin, [B, T, H]);
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dgates', a.dgates, [B, T, 3 * H]);
  checkTensor(op, 'dghh', a.dghh, [B, T, 3 * H]);
  return { B, T, H };
}

function stepBindings(a: GruBackwardStepTensors): Record<string, Tensor> {
  return {
    whh: a.whh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hn_lin: a.hnLin,
    dhs: a.dhs, dgates: a.dgates, dghh: a.dghh, dh_carry: a.dhCarry,
  };
}

/**
 * Forward step t of a GRU layer: reads gx[:, t], h_prev (h0 or hs[:, t-1]); writes hs[:, t],
 * gates[:, t] (r, z, n after activation), hnLin[:, t], and hn[b] where t == lengths[b]-1.
 * Rows with t >= lengths[b] get zeros in hs/gates/hnLin at t.
 */
export function gruStepForward(ctx: GpuContext, t: number, a: GruForwardTensors): void {
  const op = 'gruStepForward';
  const { B, T, H } = checkForward(op, a);
  checkStep(op, t, T);
  dispatchForward(ctx, t, a, B, T, H);
}

function dispatchForward(ctx: GpuContext, t: number, a: GruForwardTensors, B: number, T: number, H: number): void {
  const k = stepKernel('gru_step_forward', B, H);
  ctx.dispatch(k.kernel, {
    bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hn_lin: a.hnLin, hn: a.hn },
    params: { B, T, H, t },
    workgroups: k.workgroups,
  });
}

/** Records the T forward steps t = 0 … T-1 (T dispatches). */
export function gruForwardSequence(ctx: GpuContext, a: GruForwardTensors): void {
  const op = 'gruForwardSequence';
  const { B, T, H } = checkForward(op, a);
  for (let t = 0; t < T; t++) dispatchForward(ctx, t, a, B, T, H);
}

/**
 * Backward step t (call for t = T-1 down to 0; dhCarry must hold dhn before t = T-1, see the top
 * of this file). Reads dghh[:, t+1] written by step t+1; writes dgates[:, t], dghh[:, t] (zeros
 * for t >= lengths[b]) and updates dhCarry in place.
 */
export function gruStepBackward(ctx: GpuContext, t: number, a: GruBackwardStepTensors): void {
  const op = 'gruStepBackward';
  const { B, T, H } = checkBackwardCommon(op, a);
  checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  checkDistinct(op, { ...stepBindings(a) });
  checkStep(op, t, T);
  dispatchBackward(ctx, t, a, B, T, H);
}

function dispatchBackward(ctx: GpuContext, t: number, a: GruBackwardStepTensors, B: number, T: number, H: number): void {
  const k = stepKernel('gru_step_backward', B, H);
  ctx.dispatch(k.kernel, { bindings: stepBindings(a), params: { B, T, H, t }, workgroups: k.workgroups });
}

/** dh0 (B,H) = Σ_g dghh[:, 0, g]·W_hh[g, :] + dhCarry: the gradient w.r.t. h0, after step 0. */
export function gruBackwardInitial(ctx: GpuContext, a: GruBackwardInitialTensors): void {
  const op = 'gruBackwardInitial';
  const H = hiddenOf(op, a.whh);
  const [B, T] = batchTimeOf(op, 'dghh', a.dghh, 3 * H);
  checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  checkDistinct(op, { whh: a.whh, dghh: a.dghh, dhCarry: a.dhCarry, dh0: a.dh0 });
  dispatchInitial(ctx, a, B, T, H);
}

function dispatchInitial(ctx: GpuContext, a: GruBackwardInitialTensors, B: number, T: number, H: number): void {
  const k = stepKernel('gru_backward_initial', B, H);
  ctx.dispatch(k.kernel, {
    bindings: { whh: a.whh, dghh: a.dghh, dh_carry: a.dhCarry, dh0: a.dh0 },
    params: { B, T, H, t: 0 },
    workgroups: k.workgroups,
  });
}

/**
 * Records the whole backward pass of one GRU layer: dhCarry = dhn (or 0 without dhn), the T
 * backward steps t = T-1 … 0, then gruBackwardInitial into dh0 (T + 1 dispatches and one copy or
 * clear). Outputs: dgates, dghh (B,T,3H) and dh0 (B,H). When dhCarry is not given, a (B,H)
 * scratch tensor is taken from ctx's pool and released once recorded.
 */
export function gruBackwardSequence(ctx: GpuContext, a: GruBackwardSequenceTensors): void {
  const op = 'gruBackwardSequence';
  const { B, T, H } = checkBackwardCommon(op, a);
  if (a.dhn !== undefined) checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  if (a.dhCarry !== undefined) checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  const { dhn: _dhn, dh0: _dh0, dhCarry: _carry, ...rest } = a;
  const named: Record<string, Tensor> = { ...rest, dh0: a.dh0 };
  if (a.dhn) named.dhn = a.dhn;
  if (a.dhCarry) named.dhCarry = a.dhCarry;
  checkDistinct(op, named);
  const carry = a.dhCarry ?? ctx.empty([B, H], 'f32', 'gru dh_carry');
  if (a.dhn) ctx.copy(a.dhn, carry);
  else ctx.clear(carry);
  const step: GruBackwardStepTensors = { ...rest, dhCarry: carry };
  for (let t = T - 1; t >= 0; t--) dispatchBackward(ctx, t, step, B, T, H);
  dispatchInitial(ctx, { dghh: a.dghh, whh: a.whh, dhCarry: carry, dh0: a.dh0 }, B, T, H);
  if (!a.dhCarry) carry.release();
}
