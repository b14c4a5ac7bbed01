// Cell drivers: one adapter per recurrent cell that records its forward and backward sequences
// with the step kernels (src/kernels/lstm.ts, gru.ts, rnn.ts: one dispatch per timestep) or the
// sequence kernels (src/kernels/*_seq.ts: all timesteps in one dispatch), so the Recurrent layer
// drives all three the same way. Both schedules take the same tensors and give the same results.
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';
import { gruBackwardSteps, gruForwardSteps } from '../kernels/gru.ts';
import { rnnBackwardSteps, rnnForwardSteps } from '../kernels/rnn.ts';
import { lstmBackwardSteps, lstmForwardSteps } from '../kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused, lstmFusedSupported } from '../kernels/lstm_seq.ts';
import type { RecurrentSchedule } from '../runtime/settings.ts';
import type { ScheduleDims } from '../runtime/tuned.ts';
import { gruBackwardFused, gruForwardFused, gruFusedSupported } from '../kernels/gru_seq.ts';
import { rnnBackwardFused, rnnForwardFused, rnnFusedSupported } from '../kernels/rnn_seq.ts';

export type { RecurrentSchedule } from '../runtime/settings.ts';
export type { ScheduleDims } from '../runtime/tuned.ts';

/** The schedule a layer runs: its own setting or the context's, resolved against what the adapter supports. */
export function resolveSchedule(ctx: GpuContext, driver: CellDriver, d: ScheduleDims, s: RecurrentSchedule | undefined): 'step' | 'sequence' {
  const want = s ?? ctx.settings.recurrentSchedule;
  if (want === 'step') return 'step';
  const ok = driver.sequenceSupported?.(ctx, d.H) ?? false;
  if (want === 'auto') {
    const measured = ctx.tuned.get(driver.kind, d);
    if (measured === 'step' || (measured === 'sequence' && ok)) return measured;
  }
  if (ok && (want === 'sequence' || !ctx.adapterFacts.isCpu)) return 'sequence';
  if (want === 'sequence') throw new Error(`recurrent schedule 'sequence': no sequence kernel for this cell at H = ${d.H} on this adapter (${ctx.describe()}); use 'auto' or 'step'`);
  return 'step';
}

export type CellKind = 'lstm' | 'gru' | 'rnn';
/** The cells a Recurrent layer can run (its `cell` argument). */
export const CELL_KINDS: readonly CellKind[] = ['lstm', 'gru', 'rnn'];

/** Keras's LSTM/GRU options as the kernels take them (absent: PyTorch's tanh and sigmoid). */
export interface CellKerasOptions {
  activation?: CellActivation;
  recurrentActivation?: GateActivation;
  /** GRU: false for the reset gate before the product. */
  resetAfter?: boolean;
}

export interface CellForward {
  gx: Tensor; whh: Tensor; bhh: Tensor; h0: Tensor; c0?: Tensor; lengths: Tensor;
  hs: Tensor; hn: Tensor; cn?: Tensor;
  /** LSTM peepholes (3, H). */
  peephole?: Tensor;
  cell?: CellKerasOptions;
  /** The cell's saved activations, named as in `CellDriver.saved`. */
  saved: Record<string, Tensor>;
  /** The layer's schedule (undefined: the context's setting). */
  schedule?: RecurrentSchedule;
}

export interface CellBackward {
  dhs: Tensor; dhn: Tensor; dcn?: Tensor; hs: Tensor; h0: Tensor; c0?: Tensor; whh: Tensor; lengths: Tensor;
  /** LSTM peepholes (3, H). */
  peephole?: Tensor;
  cell?: CellKerasOptions;
  saved: Record<string, Tensor>;
  dgates: Tensor; dghh: Tensor; dh0: Tensor; dc0?: Tensor;
  /** Scratch buffers owned by the layer (cached across steps). */
  scratch: (name: string, shape: number[]) => Tensor;
  /** The layer's schedule (undefined: the context's setting). */
  schedule?: RecurrentSchedule;
}

export interface CellDriver {
  kind: CellKind;
  /** G / H: 4 for LSTM, 3 for GRU, 1 for RNN. */
  gates: number;
  hasCell: boolean;
  /** Whether the hidden-side gate gradient differs from the input side (GRU). */
  separateDghh: boolean;
  /** Saved activations: name → width in units of H (each is (B, T, width·H)). */
  saved: Record<string, number>;
  forward(ctx: GpuContext, a: CellForward, nonlinearity: 'tanh' | 'relu'): void;
  backward(ctx: GpuContext, a: CellBackward, nonlinearity: 'tanh' | 'relu'): void;
  /** Whether the cell's sequence kernels can run at hidden size H on this adapter (absent: never). */
  sequenceSupported?(ctx: GpuContext, H: number): boolean;
}

/** (B, T, H) of a (B, T, H) sequence tensor. */
const dimsOf = (seq: Tensor): ScheduleDims => ({ B: seq.shape[0], T: seq.shape[1], H: seq.shape[2] });
/** (B, T, H) of a forward from gx (B, T, G) and h0 (B, H): hs may be f16 storage, a flat tensor. */
const forwardDims = (a: CellForward): ScheduleDims => ({ B: a.h0.shape[0], T: a.gx.shape[1], H: a.h0.shape[1] });

const lstm: CellDriver = {
  kind: 'lstm', gates: 4, hasCell: true, separateDghh: false, saved: { cs: 1, gates: 4 },
  sequenceSupported: lstmFusedSupported,
  forward(ctx, a) {
    const t = {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, c0: a.c0!, lengths: a.lengths,
      hs: a.hs, cs: a.saved.cs, gates: a.saved.gates, hn: a.hn, cn: a.cn!, peephole: a.peephole,
    };
    if (resolveSchedule(ctx, lstm, forwardDims(a), a.schedule) === 'sequence') lstmForwardFused(ctx, t, a.cell);
    else lstmForwardSteps(ctx, t, a.cell);
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    const t = {
      dhs: a.dhs, dhn: a.dhn, dcn: a.dcn!, gates: a.saved.gates, cs: a.saved.cs, c0: a.c0!,
      whh: a.whh, lengths: a.lengths, dgates: a.dgates, dcCarry: a.scratch('dc_carry', [B, H]), dh0: a.dh0, dc0: a.dc0!,
      peephole: a.peephole,
    };
    if (resolveSchedule(ctx, lstm, dimsOf(a.dhs), a.schedule) === 'sequence') lstmBackwardFused(ctx, t, a.cell);
    else lstmBackwardSteps(ctx, t, a.cell);
  },
};

const gru: CellDriver = {
  kind: 'gru', gates: 3, hasCell: false, separateDghh: true, saved: { gates: 3, hnLin: 1 },
  sequenceSupported: gruFusedSupported,
  forward(ctx, a) {
    const t = {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs,
      gates: a.saved.gates, hnLin: a.saved.hnLin, hn: a.hn,
    };
    if (resolveSchedule(ctx, gru, forwardDims(a), a.schedule) === 'sequence') gruForwardFused(ctx, t, a.cell);
    else gruForwardSteps(ctx, t, a.cell);
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    const t = {
      dhs: a.dhs, dhn: a.dhn, gates: a.saved.gates, hnLin: a.saved.hnLin, hs: a.hs, h0: a.h0, whh: a.whh,
      lengths: a.lengths, dgates: a.dgates, dghh: a.dghh, dh0: a.dh0, dhCarry: a.scratch('dh_carry', [B, H]),
    };
    if (resolveSchedule(ctx, gru, dimsOf(a.dhs), a.schedule) === 'sequence') gruBackwardFused(ctx, t, a.cell);
    else gruBackwardSteps(ctx, t, a.cell);
  },
};

const rnn: CellDriver = {
  kind: 'rnn', gates: 1, hasCell: false, separateDghh: false, saved: {},
  sequenceSupported: rnnFusedSupported,
  forward(ctx, a, nonlinearity) {
    const t = { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn };
    if (resolveSchedule(ctx, rnn, forwardDims(a), a.schedule) === 'sequence') rnnForwardFused(ctx, t, { nonlinearity });
    else rnnForwardSteps(ctx, t, { nonlinearity });
  },
  backward(ctx, a, nonlinearity) {
    const t = { dhs: a.dhs, dhn: a.dhn, hs: a.hs, whh: a.whh, lengths: a.lengths, dgates: a.dgates, dh0: a.dh0 };
    if (resolveSchedule(ctx, rnn, dimsOf(a.dhs), a.schedule) === 'sequence') rnnBackwardFused(ctx, t, { nonlinearity });
    else rnnBackwardSteps(ctx, t, { nonlinearity });
  },
};

export const CELL_DRIVERS: Record<CellKind, CellDriver> = { lstm, gru, rnn };
