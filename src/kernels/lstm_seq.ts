// LSTM whole-sequence wrappers (recurrent/sequence.wgsl with cells/lstm.wgsl, registered by
// ./lstm.ts): the whole recurrence in one dispatch per direction (plus the final-state gather and
// the initial-state gradient from recurrent/step.wgsl). Same tensors,
// semantics and outputs as lstmForwardSteps / lstmBackwardSteps in ./lstm.ts, so a caller can
// pick either schedule. Each workgroup owns RB batch rows and loops over t with one
// workgroupBarrier() per step, keeping h (forward) or the next step's dgates (backward) in
// workgroup memory and reading W_hh from storage ('streamed') or keeping it in private arrays for
// all T steps ('resident', and 'subgroup' with subgroup reductions; see ./seq_variant.ts).
//   lstm_seq_forward   T steps: hs, cs, gates; then lstm_final_state writes hn, cn   (2 dispatches)
//   lstm_seq_backward  T steps: dgates, dc_carry (filled with dcn first: one copy); then
//                      lstm_backward_initial: dh0, dc0 (2 dispatches)
import type { GpuContext } from '../runtime/context.ts';
import { checkDistinct, checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv } from './grid.ts';
import { checkPrecision, checkStored, halfHidden, recurrentKernelName, storagePrecision, type RecurrentCellName, type StoragePrecision } from './recurrent.ts';
import { RESIDENT_WMAX, residentBucket, residentWorkgroupSize, subgroupLaunch, SUBGROUP_WORDS, wantedVariant, type SequenceVariant } from './seq_variant.ts';
import { SEQUENCE_VARIANTS } from '../runtime/settings.ts';
import { lstmOverrides, recordLstmFinalState, recordLstmInitial, type LstmBackwardTensors, type LstmCellOptions, type LstmForwardTensors } from './lstm.ts';

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
  /** Batch rows per workgroup; default the context's `settings.sequenceRows` ('auto': by adapter). */
  rowsPerWorkgroup?: number;
  /** 'streamed', 'resident' or 'subgroup' W_hh (./seq_variant.ts); default the context's `settings.sequenceVariant`. */
  variant?: SequenceVariant;
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
  const setting = ctx.settings.sequenceRows;
  const want = opts.rowsPerWorkgroup ?? (setting === 'auto' ? null : setting);
  if (want !== null) {
    RB = want;
  } else if (ctx.adapterFacts.isCpu) {
    // A CPU driver: as many rows as keep ≥ 4 workgroups, so each reuses the W_hh it reads.
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
export function lstmFusedSupported(ctx: GpuContext, H: number): boolean {
  return seqMaxRows(ctx, 8 * H) >= 1;
}

// ---------------------------------------------------------------- checks

interface Dims { B: number; T: number; H: number }

function lstmDims(op: string, seqName: string, seq: Tensor, w: Tensor): Dims {
  if (storagePrecision(w) === 'f16') {
    const H = halfHidden(op, w, 4);
    checkTensor(op, seqName, seq, [-1, -1, 4 * H]);
    return { B: seq.shape[0], T: seq.shape[1], H };
  }
  checkTensor(op, 'whh', w, [-1, -1]);
  const [G, H] = w.shape;
  if (G !== 4 * H) throw new Error(`${op}: whh (${w.name}) has shape ${shapeString(w.shape)}, expected (4*H, H) = (${4 * H}, ${H})`);
  checkTensor(op, seqName, seq, [-1, -1, G]);
  const [B, T] = seq.shape;
  return { B, T, H };
}

export function planOrThrow(op: string, ctx: GpuContext, d: Dims, floatsPerRow: number, opts: SeqOptions): SeqPlan {
  if (opts.variant !== undefined && !SEQUENCE_VARIANTS.includes(opts.variant)) {
    throw new Error(`${op}: variant must be one of ${SEQUENCE_VARIANTS.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(opts.variant)}`);
  }
  if (opts.rowsPerWorkgroup !== undefined && !(Number.isInteger(opts.rowsPerWorkgroup) && opts.rowsPerWorkgroup >= 1)) {
    throw new Error(`${op}: rowsPerWorkgroup must be a positive integer, got ${opts.rowsPerWorkgroup}`);
  }
  const plan = seqPlan(ctx, d.B, d.H, floatsPerRow, opts);
  if (!plan) {
    throw new Error(`${op}: B = ${d.B}, H = ${d.H} needs ${4 * floatsPerRow} bytes of workgroup memory per row, more than this adapter's maxComputeWorkgroupStorageSize (${ctx.limits.maxComputeWorkgroupStorageSize}); use the step kernels`);
  }
  return plan;
}

const GATES: Record<RecurrentCellName, number> = { lstm: 4, gru: 3, rnn: 1 };

/** What a wrapper dispatches for one direction of a sequence kernel: the kernel's name, its
 *  launch overrides and grid. */
export interface SeqKernel { name: string; overrides: { WG: number; RB: number; SH: number }; workgroups: [number, number] }

/**
 * The sequence kernel for one direction of `cell` at sizes d: the variant wanted (./seq_variant.ts)
 * where it can run; otherwise 'subgroup' falls back to 'resident', and 'resident' to 'streamed'.
 * Throws when the streamed kernel cannot run either, or when the call itself asks for a variant
 * that cannot run here.
 */
export function seqKernel(op: string, ctx: GpuContext, cell: RecurrentCellName, dir: 'forward' | 'backward', d: Dims, precision: StoragePrecision, opts: SeqOptions): SeqKernel {
  const NG = GATES[cell], H = d.H, G = NG * H;
  const streamedFloats = dir === 'forward' ? 2 * H : 2 * G;
  const planned = planOrThrow(op, ctx, d, streamedFloats, opts);
  const wanted = wantedVariant(ctx, cell, d, opts.variant);
  if (wanted === 'subgroup') {
    const p = seqPlan(ctx, d.B, H, H + G + SUBGROUP_WORDS, opts);   // counted per row: a safe bound
    const launch = p ? subgroupLaunch(ctx, NG, H, p.RB) : { why: `a row needs ${4 * (H + G)} bytes of workgroup memory, more than maxComputeWorkgroupStorageSize (${ctx.limits.maxComputeWorkgroupStorageSize})` };
    if (p && 'WG' in launch) {
      const name = recurrentKernelName(ctx, cell, `sg${launch.wmax}_${dir}`, precision);
      return { name, overrides: { WG: launch.WG, RB: p.RB, SH: p.RB * (H + G) }, workgroups: [p.groups, 1] };
    }
    if (opts.variant === 'subgroup') {
      throw new Error(`${op}: variant 'subgroup' cannot run W_hh (${G}, ${H}) here: ${'why' in launch ? launch.why : ''}; use variant 'resident' or 'streamed' (or the setting sequenceVariant: 'subgroup', which falls back to them)`);
    }
  }
  if (wanted === 'resident' || wanted === 'subgroup') {
    const p = seqPlan(ctx, d.B, H, H + G, opts);
    const WG = p && residentWorkgroupSize(ctx, NG, H, p.RB);
    const wmax = WG && residentBucket(NG, H, WG);
    if (p && WG && wmax) {
      const name = recurrentKernelName(ctx, cell, `res${wmax}_${dir}`, precision);
      return { name, overrides: { WG, RB: p.RB, SH: p.RB * (H + G) }, workgroups: [p.groups, 1] };
    }
    if (opts.variant === 'resident') {
      const why = p && WG
        ? `each of ${WG} invocations would hold ${Math.max(Math.ceil(G / WG) * H, Math.ceil(H / WG) * G)} weights, expected at most ${RESIDENT_WMAX}`
        : `a row needs ${4 * (H + G)} bytes of workgroup memory, more than maxComputeWorkgroupStorageSize (${ctx.limits.maxComputeWorkgroupStorageSize})`;
      throw new Error(`${op}: variant 'resident' cannot keep W_hh (${G}, ${H}) resident on this adapter: ${why}; use variant 'streamed' or a smaller hidden size`);
    }
  }
  const name = recurrentKernelName(ctx, cell, dir === 'forward' ? 'seq_forward' : 'seq_backward', precision);
  return { name, overrides: { WG: planned.WG, RB: planned.RB, SH: planned.RB * streamedFloats }, workgroups: [planned.groups, 1] };
}

// ---------------------------------------------------------------- wrappers

/**
 * Records the whole LSTM forward with the sequence kernel: hs, cs, gates for every t (zero past
 * each row's length), then hn, cn via lstm_final_state. Two dispatches. Same tensors and results
 * as lstmForwardSteps.
 */
export function lstmForwardFused(ctx: GpuContext, a: LstmForwardTensors, opts: SeqOptions & LstmCellOptions = {}): void {
  const op = 'lstmForwardFused';
  const d = lstmDims(op, 'gx', a.gx, a.whh);
  const { B, T, H } = d, G = 4 * H;
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
  checkDistinct(op, {
    gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, c0: a.c0, lengths: a.lengths, hs: a.hs, cs: a.cs, gates: a.gates, hn: a.hn, cn: a.cn,
    ...(a.peephole ? { peephole: a.peephole } : {}),
  });
  const cell = lstmOverrides(op, opts, a.peephole);
  const k = seqKernel(op, ctx, 'lstm', 'forward', d, storagePrecision(a.whh), opts);
  ctx.dispatch(k.name, {
    bindings: { whh: a.whh, c0: a.c0, lengths: a.lengths, cs: a.cs, gates: a.gates, gx: a.gx, bhh: a.bhh, h0: a.h0, hs: a.hs, peep: a.peephole ?? a.c0 },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ...cell },
    workgroups: k.workgroups,
  });
  recordLstmFinalState(ctx, a, d);
}

/**
 * Records the whole LSTM backward with the sequence kernel: dcCarry = dcn (a copy), dgates for
 * every t (zero past each row's length) and dcCarry, then dh0, dc0 via lstm_backward_initial. Two
 * dispatches. Same tensors and results as lstmBackwardSteps.
 */
export function lstmBackwardFused(ctx: GpuContext, a: LstmBackwardTensors & { dh0: Tensor; dc0: Tensor }, opts: SeqOptions & LstmCellOptions = {}): void {
  const op = 'lstmBackwardFused';
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
    dgates: a.dgates, dcCarry: a.dcCarry, dh0: a.dh0, dc0: a.dc0, ...(a.peephole ? { peephole: a.peephole } : {}),
  });
  if (a.peephole) checkTensor(op, 'peephole', a.peephole, [3, H]);
  const cell = lstmOverrides(op, opts, a.peephole);
  const k = seqKernel(op, ctx, 'lstm', 'backward', d, storagePrecision(a.whh), opts);
  ctx.copy(a.dcn, a.dcCarry); // the kernel reads dcn through the carry at each row's last step
  ctx.dispatch(k.name, {
    bindings: {
      whh: a.whh, c0: a.c0, lengths: a.lengths, cs: a.cs, gates: a.gates, dhs: a.dhs, dhn: a.dhn, dghh: a.dgates, dc_carry: a.dcCarry,
      peep: a.peephole ?? a.c0,
    },
    params: { B, T, H, t: 0 },
    overrides: { ...k.overrides, ...cell },
    workgroups: k.workgroups,
  });
  recordLstmInitial(ctx, a, d);
}
