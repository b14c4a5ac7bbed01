// LSTM step kernels (shaders/lstm.wgsl): PyTorch nn.LSTM, gate order i, f, g, o; one dispatch per
// timestep, one thread per (b, j). See shaders/lstm.wgsl for the equations and
// docs/dev/RECURRENT_CONVENTIONS.md for the bindings and the variable-length rules.
//   lstm_step_forward      one forward step t
//   lstm_final_state       hn, cn = hs, cs at each row's last valid step; recorded after step T-1
//                          (writing them in the step kernel would bind 11 storage buffers)
//   lstm_step_backward     one backward step t (T-1 down to 0)
//   lstm_backward_initial  dh0, dc0 after the backward step at t = 0
// Each step kernel (and lstm_backward_initial) has a register-blocked twin `<name>_blocked`
// (lstm_step_forward_blocked[_t], lstm_step_backward_blocked, lstm_backward_initial_blocked): one
// thread per (block of STEP_BLOCK_ROWS batch rows, j), bit-identical results. The wrappers record
// the variant chosen by setStepKernelVariant (./step_variant.ts).
// The caller computes gx = X·W_ihᵀ + b_ih for all timesteps with one GEMM; after the backward,
// dgates (B,T,4H) feeds the weight GEMMs (it is also the gradient w.r.t. W_hh·h_prev + b_hh).
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv, grid1d } from './grid.ts';
import { getStepKernelVariant, STEP_BLOCK_ROWS } from './step_variant.ts';

const WG = 64;

// One WGSL variable per @binding index across the file; each kernel binds the subset it uses.
const B_ = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const gx = B_('gx', 'read-only-storage', 0);
const whh = B_('whh', 'read-only-storage', 1);
const bhh = B_('bhh', 'read-only-storage', 2);
const h0 = B_('h0', 'read-only-storage', 3);
const c0 = B_('c0', 'read-only-storage', 4);
const lengths = B_('lengths', 'read-only-storage', 5);
const hs = B_('hs', 'storage', 6);
const cs = B_('cs', 'storage', 7);
const gates = B_('gates', 'storage', 8);
const params = B_('params', 'uniform', 9);
const hn = B_('hn', 'storage', 10);
const cn = B_('cn', 'storage', 11);
const dhs = B_('dhs', 'read-only-storage', 12);
const dhn = B_('dhn', 'read-only-storage', 13);
const dcn = B_('dcn', 'read-only-storage', 14);
const dgates = B_('dgates', 'storage', 15);
const dcCarry = B_('dc_carry', 'storage', 16);
const dh0 = B_('dh0', 'storage', 17);
const dc0 = B_('dc0', 'storage', 18);
const whhT = B_('whh_t', 'storage', 19);
const fields = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['t', 'u32']] as const;

export const LSTM_KERNELS: KernelSpec[] = [
  { name: 'lstm_step_forward', file: 'lstm.wgsl', params: fields, overrides: { WG },
    bindings: [gx, whh, bhh, h0, c0, lengths, hs, cs, gates, params] },
  { name: 'lstm_transpose_whh', file: 'lstm.wgsl', params: fields, overrides: { WG }, bindings: [whh, params, whhT] },
  { name: 'lstm_step_forward_t', file: 'lstm.wgsl', params: fields, overrides: { WG },
    bindings: [gx, bhh, h0, c0, lengths, hs, cs, gates, params, whhT] },
  { name: 'lstm_final_state', file: 'lstm.wgsl', params: fields, overrides: { WG },
    bindings: [lengths, hs, cs, params, hn, cn] },
  { name: 'lstm_step_backward', file: 'lstm.wgsl', params: fields, overrides: { WG },
    bindings: [whh, c0, lengths, cs, gates, params, dhs, dhn, dcn, dgates, dcCarry] },
  { name: 'lstm_backward_initial', file: 'lstm.wgsl', params: fields, overrides: { WG },
    bindings: [whh, params, dgates, dcCarry, dh0, dc0] },
];
// The register-blocked twins (plain name → blocked name): same bindings, R batch rows per thread.
const BLOCKED: Record<string, string> = {
  lstm_step_forward: 'lstm_step_forward_blocked',
  lstm_step_forward_t: 'lstm_step_forward_blocked_t',
  lstm_step_backward: 'lstm_step_backward_blocked',
  lstm_backward_initial: 'lstm_backward_initial_blocked',
};
for (const [plain, blocked] of Object.entries(BLOCKED)) {
  const spec = LSTM_KERNELS.find((k) => k.name === plain)!;
  LSTM_KERNELS.push({ ...spec, name: blocked, overrides: { WG, R: STEP_BLOCK_ROWS } });
}
registerKernels(LSTM_KERNELS);

/** Kernel name and workgroup grid of a (B, H) step kernel for the current step-kernel variant. */
function stepKernel(name: string, d: { B: number; H: number }): { kernel: string; workgroups: [number, number] } {
  if (getStepKernelVariant() === 'blocked') {
    return { kernel: BLOCKED[name], workgroups: grid1d(ceilDiv(d.B, STEP_BLOCK_ROWS) * d.H, WG) };
  }
  return { kernel: name, workgroups: grid1d(d.B * d.H, WG) };
}

/** Tensors of the LSTM forward; G = 4H, every tensor f32 except `lengths` (i32). */
export interface LstmForwardTensors {
  /** (B, T, G) input projection x·W_ihᵀ + b_ih. */
  gx: Tensor;
  /** (G, H) weight_hh. */
  whh: Tensor;
  /** Optional (H, G) buffer for W_hhᵀ: when given, the forward reads the transposed weights
   *  (coalesced; bit-identical results). lstmForwardSequence fills it; step-by-step callers call
   *  lstmTransposeWhh first. */
  whhT?: Tensor;
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
  /** (B, H) cell-gradient carry; cleared by the caller before t = T-1. */
  dcCarry: Tensor;
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

interface Dims { B: number; T: number; H: number }

/** H from whh (4H, H), then B and T from a (B, T, 4H) tensor. */
function lstmDims(op: string, seqName: string, seq: Tensor, whh: Tensor): Dims {
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
  checkTensor(op, 'hs', a.hs, [B, T, H]);
  checkTensor(op, 'cs', a.cs, [B, T, H]);
  checkTensor(op, 'gates', a.gates, [B, T, G]);
  checkTensor(op, 'hn', a.hn, [B, H]);
  checkTensor(op, 'cn', a.cn, [B, H]);
  const { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn } = a;
  checkDistinct(op, { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn, ...(a.whhT ? { whhT: a.whhT } : {}) });
  if (a.whhT) checkTensor(op, 'whhT', a.whhT, [H, G]);
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
  const { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dcCarry } = a;
  checkDistinct(op, { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dcCarry });
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

function recordStepForward(ctx: GpuContext, t: number, a: LstmForwardTensors, d: Dims): void {
  const { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, whhT } = a;
  if (whhT) {
    const k = stepKernel('lstm_step_forward_t', d);
    ctx.dispatch(k.kernel, {
      bindings: { gx, whh_t: whhT, bhh, h0, c0, lengths, hs, cs, gates },
      params: { B: d.B, T: d.T, H: d.H, t },
      workgroups: k.workgroups,
    });
  } else {
    const k = stepKernel('lstm_step_forward', d);
    ctx.dispatch(k.kernel, {
      bindings: { gx, whh, bhh, h0, c0, lengths, hs, cs, gates },
      params: { B: d.B, T: d.T, H: d.H, t },
      workgroups: k.workgroups,
    });
  }
  if (t === d.T - 1) {
    ctx.dispatch('lstm_final_state', {
      bindings: { hs, cs, lengths, hn: a.hn, cn: a.cn },
      params: { B: d.B, T: d.T, H: d.H, t: 0 },
      workgroups: grid1d(d.B * d.H, WG),
    });
  }
}

function recordStepBackward(ctx: GpuContext, t: number, a: LstmBackwardTensors, d: Dims): void {
  const { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates } = a;
  const k = stepKernel('lstm_step_backward', d);
  ctx.dispatch(k.kernel, {
    bindings: { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dc_carry: a.dcCarry },
    params: { B: d.B, T: d.T, H: d.H, t },
    workgroups: k.workgroups,
  });
}

function recordInitial(ctx: GpuContext, a: LstmBackwardInitialTensors, d: Dims): void {
  const k = stepKernel('lstm_backward_initial', d);
  ctx.dispatch(k.kernel, {
    bindings: { dgates: a.dgates, whh: a.whh, dc_carry: a.dcCarry, dh0: a.dh0, dc0: a.dc0 },
    params: { B: d.B, T: d.T, H: d.H, t: 0 },
    workgroups: k.workgroups,
  });
}

/**
 * Records forward step t (0 <= t < T): hs, cs, gates at [:, t] (zero where t >= lengths[b]).
 * At t == T-1 it also records lstm_final_state, so that after the T steps hn, cn hold the state at
 * each row's last valid step (two dispatches for that call, one for every other t).
 */
export function lstmStepForward(ctx: GpuContext, t: number, a: LstmForwardTensors): void {
  const op = 'lstmStepForward';
  const d = checkForward(op, a);
  checkStep(op, t, d.T);
  recordStepForward(ctx, t, a, d);
}

/** whhT (H, 4H) = whhᵀ, for the transposed forward (one dispatch). */
export function lstmTransposeWhh(ctx: GpuContext, whh: Tensor, whhT: Tensor): void {
  const op = 'lstmTransposeWhh';
  checkTensor(op, 'whh', whh, [-1, -1]);
  const [G, H] = whh.shape;
  if (G !== 4 * H) throw new Error(`${op}: whh (${whh.name}) has shape ${shapeString(whh.shape)}, expected (4H, H)`);
  checkTensor(op, 'whhT', whhT, [H, G]);
  checkDistinct(op, { whh, whhT });
  ctx.dispatch('lstm_transpose_whh', { bindings: { whh, whh_t: whhT }, params: { B: 0, T: 0, H, t: 0 }, workgroups: grid1d(G * H, WG) });
}

/**
 * Records the whole forward: steps t = 0 .. T-1 and the final-state gather (T + 1 dispatches;
 * one more for the transpose when `whhT` is given).
 */
export function lstmForwardSequence(ctx: GpuContext, a: LstmForwardTensors): void {
  const d = checkForward('lstmForwardSequence', a);
  if (a.whhT) lstmTransposeWhh(ctx, a.whh, a.whhT);
  for (let t = 0; t < d.T; t++) recordStepForward(ctx, t, a, d);
}

/**
 * Records backward step t; call for t = T-1 down to 0 after clearing dcCarry. Writes dgates[:, t]
 * (reading dgates[:, t+1] from the previous call) and updates dcCarry in place.
 */
export function lstmStepBackward(ctx: GpuContext, t: number, a: LstmBackwardTensors): void {
  const op = 'lstmStepBackward';
  const d = checkBackward(op, a);
  checkStep(op, t, d.T);
  recordStepBackward(ctx, t, a, d);
}

/** Records dh0 = dgates[:, 0]·W_hh and dc0 = dcCarry, after the backward step at t = 0. */
export function lstmBackwardInitial(ctx: GpuContext, a: LstmBackwardInitialTensors): void {
  const op = 'lstmBackwardInitial';
  recordInitial(ctx, a, checkInitial(op, a));
}

/**
 * Records the whole backward: clears dcCarry, steps t = T-1 .. 0, then the initial-state entry
 * (T + 1 dispatches and one clear). Afterwards dgates holds the gate gradients for the weight GEMMs.
 */
export function lstmBackwardSequence(ctx: GpuContext, a: LstmBackwardTensors & { dh0: Tensor; dc0: Tensor }): void {
  const op = 'lstmBackwardSequence';
  const d = checkBackward(op, a);
  checkInitial(op, a);
  ctx.clear(a.dcCarry);
  for (let t = d.T - 1; t >= 0; t--) recordStepBackward(ctx, t, a, d);
  recordInitial(ctx, a, d);
}
