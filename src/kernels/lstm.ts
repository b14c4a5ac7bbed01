// LSTM per-timestep wrappers (PyTorch nn.LSTM, gate order i, f, g, o): one dispatch per timestep.
// The kernels are the cell-generic scaffold recurrent/step.wgsl with cells/lstm.wgsl (equations)
// and cells/lstm_storage.wgsl (bindings); see ./recurrent.ts.
//   lstm_step_forward      one forward step t
//   lstm_final_state       hn, cn = hs, cs at each row's last valid step; recorded after step T-1
//   lstm_step_backward     one backward step t (T-1 down to 0)
//   lstm_backward_initial  dh0, dc0 after the backward step at t = 0
// The step kernels run STEP_BLOCK_ROWS batch rows per invocation (the override R) when the
// context's stepVariant is 'blocked', one when 'plain': bit-identical results.
// The caller computes gx = X·W_ihᵀ + b_ih for all timesteps with one GEMM; after the backward,
// dgates (B,T,4H) feeds the weight GEMMs (it is also the gradient w.r.t. W_hh·h_prev + b_hh).
// Keras's cell options: `activation` / `recurrentActivation` (the overrides ACT / RACT) and the
// peepholes (a `peephole` tensor, PEEP = 1); their gradient is Σ_(b,t) of dgates times c (see
// cells/lstm.wgsl), which the caller sums (seqColumnDot).
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { checkPrecision, checkStored, finalStateGrid, halfHidden, recurrentKernelName, recurrentKernels, stepKernelName, stepLaunch, storagePrecision } from './recurrent.ts';
import { cellActivationCode, gateActivationCode } from './cell_activation.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';

export const LSTM_KERNELS: KernelSpec[] = recurrentKernels('lstm');
registerKernels(LSTM_KERNELS);

/** Keras's LSTM options (defaults: PyTorch's tanh and sigmoid). */
export interface LstmCellOptions {
  activation?: CellActivation;
  recurrentActivation?: GateActivation;
}

/** The override constants of the cell options and peepholes. */
export function lstmOverrides(op: string, cell: LstmCellOptions, peephole: Tensor | undefined): { ACT: number; RACT: number; PEEP: number } {
  return {
    ACT: cellActivationCode(`${op}: activation`, cell.activation ?? 'tanh'),
    RACT: gateActivationCode(`${op}: recurrentActivation`, cell.recurrentActivation ?? 'sigmoid'),
    PEEP: peephole ? 1 : 0,
  };
}

/** Tensors of the LSTM forward; G = 4H, every tensor f32 except `lengths` (i32). */
export interface LstmForwardTensors {
  /** (B, T, G) input projection x·W_ihᵀ + b_ih. */
  gx: Tensor;
  /** (G, H) weight_hh. */
  whh: Tensor;
  /** (G) bias_hh. */
  bhh: Tensor;
  /** (B, H) initial hidden and cell states. */
  h0: Tensor;
  c0: Tensor;
  /** (B) i32, each in [1, T] (not checked on the host: the values live on the GPU). */
  lengths: Tensor;
  /** (B, T, H) outputs: hidden and cell states, zero past each row's length. */
  hs: Tensor;
  cs: Tensor;
  /** (B, T, G) saved post-activation gates i, f, g, o (zero past each row's length). */
  gates: Tensor;
  /** (B, H) final states: hs, cs at t = lengths[b]-1; written after step T-1. */
  hn: Tensor;
  cn: Tensor;
  /** (3, H) peepholes p_i, p_f, p_o; absent: none. */
  peephole?: Tensor;
}

/** Tensors of the LSTM backward step; every tensor f32 except `lengths` (i32). */
export interface LstmBackwardTensors {
  /** (B, T, H) gradient w.r.t. hs. */
  dhs: Tensor;
  /** (B, H) gradients w.r.t. hn and cn (zeros when unused). */
  dhn: Tensor;
  dcn: Tensor;
  /** (B, T, G) and (B, T, H): saved by the forward. */
  gates: Tensor;
  cs: Tensor;
  /** (B, H) initial cell state. */
  c0: Tensor;
  /** (G, H) weight_hh. */
  whh: Tensor;
  /** (B) i32, as in the forward. */
  lengths: Tensor;
  /** (B, T, G) output: gradient w.r.t. the gate pre-activations, zero past each row's length. */
  dgates: Tensor;
  /** (B, H) cell-gradient carry; the wrappers fill it with dcn before step T-1. */
  dcCarry: Tensor;
  /** (3, H) peepholes, as in the forward. */
  peephole?: Tensor;
}

/** Tensors of the initial-state gradient entry. */
export interface LstmBackwardInitialTensors {
  /** (B, T, G) from the backward steps. */
  dgates: Tensor;
  /** (G, H) weight_hh. */
  whh: Tensor;
  /** (B, H) carry after the backward step at t = 0. */
  dcCarry: Tensor;
  /** (B, H) outputs: gradients w.r.t. h0 and c0. */
  dh0: Tensor;
  dc0: Tensor;
}

export interface Dims { B: number; T: number; H: number }

/** H from whh (4H, H), then B and T from a (B, T, 4H) tensor. */
function lstmDims(op: string, seqName: string, seq: Tensor, whh: Tensor): Dims {
  if (storagePrecision(whh) === 'f16') {
    const H = halfHidden(op, whh, 4);
    checkTensor(op, seqName, seq, [-1, -1, 4 * H]);
    return { B: seq.shape[0], T: seq.shape[1], H };
  }
  checkTensor(op, 'whh', whh, [-1, -1]);
  const [G, H] = whh.shape;
  if (G !== 4 * H) {
    throw new Error(`${op}: whh (${whh.name}) has shape ${shapeString(whh.shape)}, expected (4*H, H) = (${4 * H}, ${H})`);
  }
  checkTensor(op, seqName, seq, [-1, -1, G]);
  const [B, T] = seq.shape;
  return { B, T, H };
}

function checkStep(op: string, t: number, T: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new Error(`${op}: t must be an integer in [0, ${T - 1}] (T = ${T}), got ${t}`);
  }
}

function checkForward(op: string, a: LstmForwardTensors): Dims {
  const { B, T, H } = lstmDims(op, 'gx', a.gx, a.whh);
  const G = 4 * H;
  checkTensor(op, 'bhh', a.bhh, [G]);
  checkTensor(op, 'h0', a.h0, [B, H]);
  checkTensor(op, 'c0', a.c0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkStored(op, 'hs', a.hs, [B, T, H], checkPrecision(op, a.whh, a.hs));
  checkTensor(op, 'cs', a.cs, [B, T, H]);
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkTensor(op, 'cn', a.cn, [B, H]);
  if (a.peephole) checkTensor(op, 'peephole', a.peephole, [3, H]);
  const { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn } = a;
  checkDistinct(op, { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn, ...(a.peephole ? { peephole: a.peephole } : {}) });
  return { B, T, H };
}

function checkBackward(op: string, a: LstmBackwardTensors): Dims {
  const { B, T, H } = lstmDims(op, 'dgates', a.dgates, a.whh);
  checkTensor(op, 'dhs', a.dhs, [B, T, H]);
  checkTensor(op, 'dhn', a.dhn, [B, H]);
  checkTensor(op, 'dcn', a.dcn, [B, H]);
  checkTensor(op, 'gates', a.gates, [B, T, 4 * H]);
  checkTensor(op, 'cs', a.cs, [B, T, H]);
  checkTensor(op, 'c0', a.c0, [B, H]);
  checkTensor(op, 'lengths', a.lengths, [B], 'i32');
  checkTensor(op, 'dcCarry', a.dcCarry, [B, H]);
  if (a.peephole) checkTensor(op, 'peephole', a.peephole, [3, H]);
  const { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dcCarry } = a;
  checkDistinct(op, { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dcCarry, ...(a.peephole ? { peephole: a.peephole } : {}) });
  return { B, T, H };
}

function checkInitial(op: string, a: LstmBackwardInitialTensors): Dims {
  const { B, T, H } = lstmDims(op, 'dgates', a.dgates, a.whh);
  checkTensor(op, 'dcCarry', a.dcCarry, [B, H]);
  checkTensor(op, 'dh0', a.dh0, [B, H]);
  checkTensor(op, 'dc0', a.dc0, [B, H]);
  checkDistinct(op, { dgates: a.dgates, whh: a.whh, dcCarry: a.dcCarry, dh0: a.dh0, dc0: a.dc0 });
  return { B, T, H };
}

type CellOverrides = ReturnType<typeof lstmOverrides>;

function recordStepForward(ctx: GpuContext, t: number, a: LstmForwardTensors, d: Dims, cell: CellOverrides): void {
  const { gx, whh, bhh, h0, c0, lengths, hs, cs, gates } = a;
  const launch = stepLaunch(ctx, d.B, d.H);
  ctx.dispatch(stepKernelName(ctx, 'lstm', 'step_forward', d.H, storagePrecision(whh)), {
    bindings: { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, peep: a.peephole ?? c0 }, // without peepholes peep is never read
    params: { B: d.B, T: d.T, H: d.H, t },
    overrides: { ...launch.overrides, ...cell },
    workgroups: launch.workgroups,
  });
  if (t === d.T - 1) recordLstmFinalState(ctx, a, d);
}

/** hn, cn = hs, cs at each row's last valid step (after the last forward step of either schedule). */
export function recordLstmFinalState(ctx: GpuContext, a: Pick<LstmForwardTensors, 'hs' | 'cs' | 'lengths' | 'hn' | 'cn'>, d: Dims): void {
  ctx.dispatch(recurrentKernelName(ctx, 'lstm', 'final_state', storagePrecision(a.hs)), {
    bindings: { hs: a.hs, cs: a.cs, lengths: a.lengths, hn: a.hn, cn: a.cn },
    params: { B: d.B, T: d.T, H: d.H, t: 0 },
    workgroups: finalStateGrid(d.B, d.H),
  });
}

function recordStepBackward(ctx: GpuContext, t: number, a: LstmBackwardTensors, d: Dims, cell: CellOverrides): void {
  const { dhs, dhn, gates, cs, c0, whh, lengths } = a;
  const launch = stepLaunch(ctx, d.B, d.H, 'backward');
  // The kernel reads dcn through the carry (it has no binding to spare under the browsers' limit).
  if (t === d.T - 1) ctx.copy(a.dcn, a.dcCarry);
  ctx.dispatch(stepKernelName(ctx, 'lstm', 'step_backward', d.H, storagePrecision(whh)), {
    bindings: { dhs, dhn, gates, cs, c0, whh, lengths, dghh: a.dgates, dc_carry: a.dcCarry, peep: a.peephole ?? c0 },
    params: { B: d.B, T: d.T, H: d.H, t },
    overrides: { ...launch.overrides, ...cell },
    workgroups: launch.workgroups,
  });
}

/** dh0, dc0 from dgates[:, 0] and the carry (after the last backward step of either schedule). */
export function recordLstmInitial(ctx: GpuContext, a: LstmBackwardInitialTensors, d: Dims): void {
  ctx.dispatch(stepKernelName(ctx, 'lstm', 'backward_initial', d.H, storagePrecision(a.whh)), {
    bindings: { dghh: a.dgates, whh: a.whh, dc_carry: a.dcCarry, dh0: a.dh0, dc0: a.dc0 },
    params: { B: d.B, T: d.T, H: d.H, t: 0 },
    ...stepLaunch(ctx, d.B, d.H, 'backward'),
  });
}

/**
 * Records forward step t (0 <= t < T): hs, cs, gates at [:, t] (zero where t >= lengths[b]).
 * At t == T-1 it also records lstm_final_state, so that after the T steps hn, cn hold the state at
 * each row's last valid step (two dispatches for that call, one for every other t).
 */
export function lstmStepForward(ctx: GpuContext, t: number, a: LstmForwardTensors, cell: LstmCellOptions = {}): void {
  const op = 'lstmStepForward';
  const d = checkForward(op, a);
  checkStep(op, t, d.T);
  recordStepForward(ctx, t, a, d, lstmOverrides(op, cell, a.peephole));
}

/**
 * Records the whole forward: steps t = 0 .. T-1 and the final-state gather (T + 1 dispatches).
 */
export function lstmForwardSteps(ctx: GpuContext, a: LstmForwardTensors, cell: LstmCellOptions = {}): void {
  const op = 'lstmForwardSteps';
  const d = checkForward(op, a);
  const o = lstmOverrides(op, cell, a.peephole);
  for (let t = 0; t < d.T; t++) recordStepForward(ctx, t, a, d, o);
}

/**
 * Records backward step t; call for t = T-1 down to 0. At t = T-1 it first copies dcn into dcCarry
 * (two commands for that call). Writes dgates[:, t] (reading dgates[:, t+1] from the previous call)
 * and updates dcCarry in place.
 */
export function lstmStepBackward(ctx: GpuContext, t: number, a: LstmBackwardTensors, cell: LstmCellOptions = {}): void {
  const op = 'lstmStepBackward';
  const d = checkBackward(op, a);
  checkStep(op, t, d.T);
  recordStepBackward(ctx, t, a, d, lstmOverrides(op, cell, a.peephole));
}

/** Records dh0 = dgates[:, 0]·W_hh and dc0 = dcCarry, after the backward step at t = 0. */
export function lstmBackwardInitial(ctx: GpuContext, a: LstmBackwardInitialTensors): void {
  const op = 'lstmBackwardInitial';
  recordLstmInitial(ctx, a, checkInitial(op, a));
}

/**
 * Records the whole backward: dcCarry = dcn, steps t = T-1 .. 0, then the initial-state entry
 * (T + 1 dispatches and one copy). Afterwards dgates holds the gate gradients for the weight GEMMs.
 */
export function lstmBackwardSteps(ctx: GpuContext, a: LstmBackwardTensors & { dh0: Tensor; dc0: Tensor }, cell: LstmCellOptions = {}): void {
  const op = 'lstmBackwardSteps';
  const d = checkBackward(op, a);
  checkInitial(op, a);
  const o = lstmOverrides(op, cell, a.peephole);
  for (let t = d.T - 1; t >= 0; t--) recordStepBackward(ctx, t, a, d, o);
  recordLstmInitial(ctx, a, d);
}
