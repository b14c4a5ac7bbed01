// Cell drivers: one adapter per recurrent cell that records its forward and backward sequences
// with the step kernels (src/kernels/lstm.ts, gru.ts, rnn.ts), so the Recurrent layer drives all
// three the same way.
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { gruBackwardSequence, gruForwardSequence } from '../kernels/gru.ts';
import { rnnBackwardSequence, rnnForwardSequence } from '../kernels/rnn.ts';
import { lstmBackwardSequence, lstmForwardSequence } from '../kernels/lstm.ts';

export type CellKind = 'lstm' | 'gru' | 'rnn';

export interface CellForward {
  gx: Tensor; whh: Tensor; bhh: Tensor; h0: Tensor; c0?: Tensor; lengths: Tensor;
  hs: Tensor; hn: Tensor; cn?: Tensor;
  /** The cell's saved activations, named as in `CellDriver.saved`. */
  saved: Record<string, Tensor>;
}

export interface CellBackward {
  dhs: Tensor; dhn: Tensor; dcn?: Tensor; hs: Tensor; h0: Tensor; c0?: Tensor; whh: Tensor; lengths: Tensor;
  saved: Record<string, Tensor>;
  dgates: Tensor; dghh: Tensor; dh0: Tensor; dc0?: Tensor;
  /** Scratch buffers owned by the layer (cached across steps). */
  scratch: (name: string, shape: number[]) => Tensor;
}

export interface CellDriver {
  /** G / H: 4 for LSTM, 3 for GRU, 1 for RNN. */
  gates: number;
  hasCell: boolean;
  /** Whether the hidden-side gate gradient differs from the input side (GRU). */
  separateDghh: boolean;
  /** Saved activations: name → width in units of H (each is (B, T, width·H)). */
  saved: Record<string, number>;
  forward(ctx: GpuContext, a: CellForward, nonlinearity: 'tanh' | 'relu'): void;
  backward(ctx: GpuContext, a: CellBackward, nonlinearity: 'tanh' | 'relu'): void;
}

const lstm: CellDriver = {
  gates: 4, hasCell: true, separateDghh: false, saved: { cs: 1, gates: 4 },
  forward(ctx, a) {
    lstmForwardSequence(ctx, {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, c0: a.c0!, lengths: a.lengths,
      hs: a.hs, cs: a.saved.cs, gates: a.saved.gates, hn: a.hn, cn: a.cn!,
    });
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    lstmBackwardSequence(ctx, {
      dhs: a.dhs, dhn: a.dhn, dcn: a.dcn!, gates: a.saved.gates, cs: a.saved.cs, c0: a.c0!,
      whh: a.whh, lengths: a.lengths, dgates: a.dgates, dcCarry: a.scratch('dc_carry', [B, H]), dh0: a.dh0, dc0: a.dc0!,
    });
  },
};

const gru: CellDriver = {
  gates: 3, hasCell: false, separateDghh: true, saved: { gates: 3, hnLin: 1 },
  forward(ctx, a) {
    gruForwardSequence(ctx, {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs,
      gates: a.saved.gates, hnLin: a.saved.hnLin, hn: a.hn,
    });
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    gruBackwardSequence(ctx, {
      dhs: a.dhs, dhn: a.dhn, gates: a.saved.gates, hnLin: a.saved.hnLin, hs: a.hs, h0: a.h0, whh: a.whh,
      lengths: a.lengths, dgates: a.dgates, dghh: a.dghh, dh0: a.dh0, dhCarry: a.scratch('dh_carry', [B, H]),
    });
  },
};

const rnn: CellDriver = {
  gates: 1, hasCell: false, separateDghh: false, saved: {},
  forward(ctx, a, nonlinearity) {
    rnnForwardSequence(ctx, { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn }, { nonlinearity });
  },
  backward(ctx, a, nonlinearity) {
    rnnBackwardSequence(ctx, { dhs: a.dhs, dhn: a.dhn, hs: a.hs, whh: a.whh, lengths: a.lengths, dgates: a.dgates, dh0: a.dh0 }, { nonlinearity });
  },
};

export const CELL_DRIVERS: Record<CellKind, CellDriver> = { lstm, gru, rnn };
