// GRU per-timestep wrappers (PyTorch nn.GRU, gate order r, z, n): one dispatch per timestep. The
// kernels are the cell-generic scaffold recurrent/step.wgsl with cells/gru.wgsl (equations) and
// cells/gru_storage.wgsl (bindings); see ./recurrent.ts. hn is written by gru_final_state after
// the last forward step.
//
// Backward protocol (the one difference from a plain "clear the carry"): dhCarry (B,H) holds the
// direct part of the gradient w.r.t. h_prev (dh ⊙ z of the step after), and before the first
// backward step (t = T-1) the caller fills it with dhn, the gradient w.r.t. the final state
// (`ctx.copy(dhn, dhCarry)`, or `ctx.clear(dhCarry)` when hn has no gradient). Steps t >= len[b]
// leave it alone, so at t == len[b]-1 it still holds dhn. This keeps dhn out of the step kernel's
// bindings (10 storage buffers instead of 11). gruBackwardSteps does all of this.
//
// The step kernels run STEP_BLOCK_ROWS batch rows per invocation (the override R) when the
// context's stepVariant is 'blocked', one when 'plain': bit-identical results. Keras's
// `activation` / `recurrentActivation` are the overrides ACT / RACT (GruCellOptions);
// `resetAfter: false` (the reset gate before the product) is SPLIT = 2: every step is then two
// dispatches, PASS 0 (r, z and r ⊙ h_prev into hnLin) and PASS 1 (n and h; backward: dr).
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, type Tensor } from '../runtime/tensor.ts';
import { checkPrecision, checkStored, finalStateGrid, halfHidden, recurrentKernelName, recurrentKernels, stepKernelName, stepLaunch, storagePrecision } from './recurrent.ts';
import { cellActivationCode, gateActivationCode } from './cell_activation.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';

/** Keras's GRU options (defaults: PyTorch's tanh, sigmoid and reset gate after the product). */
export interface GruCellOptions {
  activation?: CellActivation;
  recurrentActivation?: GateActivation;
  /** false: n = act(gx_n + W_hn·(r ⊙ h_prev) + b_hn) (TF1 GRUCell, Keras reset_after=False). */
  resetAfter?: boolean;
}

/** The override constants of the cell options. */
export function gruOverrides(op: string, cell: GruCellOptions): { ACT: number; RACT: number; SPLIT: number } {
  if (cell.resetAfter !== undefined && typeof cell.resetAfter !== 'boolean') throw new Error(`${op}: resetAfter must be a boolean, got ${JSON.stringify(cell.resetAfter)}`);
  return {
    ACT: cellActivationCode(`${op}: activation`, cell.activation ?? 'tanh'),
    RACT: gateActivationCode(`${op}: recurrentActivation`, cell.recurrentActivation ?? 'sigmoid'),
    SPLIT: cell.resetAfter === false ? 2 : 3,
  };
}

/** The passes of one step: [0], or [0, 1] for the reset gate before the product. */
const passes = (cell: { SPLIT: number }): number[] => (cell.SPLIT === 2 ? [0, 1] : [0]);

export const GRU_KERNELS: KernelSpec[] = recurrentKernels('gru');
registerKernels(GRU_KERNELS);

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
  if (storagePrecision(w) === 'f16') return halfHidden(op, w, 3);
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
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
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
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
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
export function gruStepForward(ctx: GpuContext, t: number, a: GruForwardTensors, cell: GruCellOptions = {}): void {
  const op = 'gruStepForward';
  const { B, T, H } = checkForward(op, a);
  checkStep(op, t, T);
  dispatchForward(ctx, t, a, B, T, H, gruOverrides(op, cell));
}

type CellOverrides = ReturnType<typeof gruOverrides>;

function dispatchForward(ctx: GpuContext, t: number, a: GruForwardTensors, B: number, T: number, H: number, cell: CellOverrides): void {
  const launch = stepLaunch(ctx, B, H);
  for (const PASS of passes(cell)) {
    ctx.dispatch(stepKernelName(ctx, 'gru', 'step_forward', H, storagePrecision(a.whh)), {
      bindings: { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, gates: a.gates, hn_lin: a.hnLin },
      params: { B, T, H, t },
      overrides: { ...launch.overrides, ...cell, PASS },
      workgroups: launch.workgroups,
    });
  }
  if (t === T - 1) recordGruFinalState(ctx, a, B, T, H);
}

/** hn = hs at each row's last valid step (after the last forward step of either schedule). */
export function recordGruFinalState(ctx: GpuContext, a: Pick<GruForwardTensors, 'hs' | 'lengths' | 'hn'>, B: number, T: number, H: number): void {
  ctx.dispatch(recurrentKernelName(ctx, 'gru', 'final_state', storagePrecision(a.hs)), { bindings: { hs: a.hs, lengths: a.lengths, hn: a.hn }, params: { B, T, H, t: 0 }, workgroups: finalStateGrid(B, H) });
}

/** Records the T forward steps t = 0 … T-1, the last with the final-state gather (T + 1 dispatches). */
export function gruForwardSteps(ctx: GpuContext, a: GruForwardTensors, cell: GruCellOptions = {}): void {
  const op = 'gruForwardSteps';
  const { B, T, H } = checkForward(op, a);
  const o = gruOverrides(op, cell);
  for (let t = 0; t < T; t++) dispatchForward(ctx, t, a, B, T, H, o);
}

/**
 * Backward step t (call for t = T-1 down to 0; dhCarry must hold dhn before t = T-1, see the top
 * of this file). Reads dghh[:, t+1] written by step t+1; writes dgates[:, t], dghh[:, t] (zeros
 * for t >= lengths[b]) and updates dhCarry in place.
 */
export function gruStepBackward(ctx: GpuContext, t: number, a: GruBackwardStepTensors, cell: GruCellOptions = {}): void {
  const op = 'gruStepBackward';
  const { B, T, H } = checkBackwardCommon(op, a);
  checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  checkDistinct(op, { ...stepBindings(a) });
  checkStep(op, t, T);
  dispatchBackward(ctx, t, a, B, T, H, gruOverrides(op, cell));
}

function dispatchBackward(ctx: GpuContext, t: number, a: GruBackwardStepTensors, B: number, T: number, H: number, cell: CellOverrides): void {
  const launch = stepLaunch(ctx, B, H, 'backward');
  for (const PASS of passes(cell)) {
    ctx.dispatch(stepKernelName(ctx, 'gru', 'step_backward', H, storagePrecision(a.whh)), { bindings: stepBindings(a), params: { B, T, H, t }, overrides: { ...launch.overrides, ...cell, PASS }, workgroups: launch.workgroups });
  }
}

/** dh0 (B,H) = Σ_g dghh[:, 0, g]·W_hh[g, :] + dhCarry: the gradient w.r.t. h0, after step 0. */
export function gruBackwardInitial(ctx: GpuContext, a: GruBackwardInitialTensors, cell: GruCellOptions = {}): void {
  const op = 'gruBackwardInitial';
  const { SPLIT } = gruOverrides(op, cell);
  const H = hiddenOf(op, a.whh);
  const [B, T] = batchTimeOf(op, 'dghh', a.dghh, 3 * H);
  checkTensor(op, 'dhCarry', a.dhCarry, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  checkDistinct(op, { whh: a.whh, dghh: a.dghh, dhCarry: a.dhCarry, dh0: a.dh0 });
  recordGruInitial(ctx, a, B, T, H, SPLIT);
}

/** dh0 from dghh[:, 0] and the carry (after the last backward step of either schedule). */
export function recordGruInitial(ctx: GpuContext, a: GruBackwardInitialTensors, B: number, T: number, H: number, SPLIT = 3): void {
  const launch = stepLaunch(ctx, B, H, 'backward');
  ctx.dispatch(stepKernelName(ctx, 'gru', 'backward_initial', H, storagePrecision(a.whh)), {
    bindings: { whh: a.whh, dghh: a.dghh, dh_carry: a.dhCarry, dh0: a.dh0 },
    params: { B, T, H, t: 0 },
    overrides: { ...launch.overrides, SPLIT }, // with the reset gate before the product, n's rows are in the carry
    workgroups: launch.workgroups,
  });
}

/**
 * Records the whole backward pass of one GRU layer: dhCarry = dhn (or 0 without dhn), the T
 * backward steps t = T-1 … 0, then gruBackwardInitial into dh0 (T + 1 dispatches and one copy or
 * clear). Outputs: dgates, dghh (B,T,3H) and dh0 (B,H). When dhCarry is not given, a (B,H)
 * scratch tensor is taken from ctx's pool and released once recorded.
 */
export function gruBackwardSteps(ctx: GpuContext, a: GruBackwardSequenceTensors, cell: GruCellOptions = {}): void {
  const op = 'gruBackwardSteps';
  const o = gruOverrides(op, cell);
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
  for (let t = T - 1; t >= 0; t--) dispatchBackward(ctx, t, step, B, T, H, o);
  recordGruInitial(ctx, { dghh: a.dghh, whh: a.whh, dhCarry: carry, dh0: a.dh0 }, B, T, H, o.SPLIT);
  if (!a.dhCarry) carry.release();
}
