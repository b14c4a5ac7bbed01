// Cell drivers: one adapter per recurrent cell that records its forward and backward sequences
// with the step kernels (src/kernels/lstm.ts, gru.ts, rnn.ts: one dispatch per timestep) or the
// sequence kernels (src/kernels/*_seq.ts: all timesteps in one dispatch), so the Recurrent layer
// drives all three the same way. Both schedules take the same tensors and give the same results.
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { gruBackwardSequence, gruForwardSequence } from '../kernels/gru.ts';
import { rnnBackwardSequence, rnnForwardSequence } from '../kernels/rnn.ts';
import { lstmBackwardSequence, lstmForwardSequence } from '../kernels/lstm.ts';
import { isCpuAdapter, lstmSeqBackward, lstmSeqForward, lstmSeqSupported } from '../kernels/lstm_seq.ts';
import { gruSeqBackward, gruSeqForward, gruSeqSupported } from '../kernels/gru_seq.ts';
import { rnnSeqBackward, rnnSeqForward, rnnSeqSupported } from '../kernels/rnn_seq.ts';

/**
 * How the recurrence is recorded: 'step' (one dispatch per timestep), 'sequence' (one dispatch for
 * all timesteps; throws where the cell or size has no sequence kernel on this adapter) or 'auto':
 * the schedule measured fastest for this adapter, cell and (B, T, H) by `tuneSchedule`
 * (src/train/tune.ts) when it has been measured; otherwise sequence where supported on a real GPU
 * (where dispatch latency dominates) and step on CPU drivers (lavapipe/llvmpipe), where bench/
 * measured the step schedule faster (see bench/RESULTS.md).
 */
export type RecurrentSchedule = 'step' | 'sequence' | 'auto';
const SCHEDULES: readonly RecurrentSchedule[] = ['step', 'sequence', 'auto'];
let scheduleSetting: RecurrentSchedule = 'auto';

/** Sets the schedule used by every recurrent layer that does not name its own (default 'auto'). */
export function setRecurrentSchedule(s: RecurrentSchedule): void {
  if (!SCHEDULES.includes(s)) throw new Error(`setRecurrentSchedule: expected one of ${SCHEDULES.join(', ')}, got ${String(s)}`);
  scheduleSetting = s;
}

export function getRecurrentSchedule(): RecurrentSchedule {
  return scheduleSetting;
}

/** The sizes a schedule choice is measured for. */
export interface ScheduleDims { B: number; T: number; H: number }

// Measured choices, per adapter: "adapter|cell|B|T|H" → schedule.
const tuned = new Map<string, 'step' | 'sequence'>();
const tunedKey = (adapter: string, cell: CellKind, d: ScheduleDims) => `${adapter}|${cell}|${d.B}|${d.T}|${d.H}`;

/** Records the schedule measured fastest for a cell at these sizes on ctx's adapter ('auto' then uses it). */
export function setTunedSchedule(ctx: GpuContext, cell: CellKind, d: ScheduleDims, s: 'step' | 'sequence'): void {
  if (s !== 'step' && s !== 'sequence') throw new Error(`setTunedSchedule: expected 'step' or 'sequence', got ${String(s)}`);
  tuned.set(tunedKey(ctx.describe(), cell, d), s);
}

/** The measured schedule for a cell at these sizes on ctx's adapter, if any. */
export function tunedSchedule(ctx: GpuContext, cell: CellKind, d: ScheduleDims): 'step' | 'sequence' | undefined {
  return tuned.get(tunedKey(ctx.describe(), cell, d));
}

/** Every measured choice as JSON (to persist, e.g. in localStorage or a file), and back. */
export function exportTunedSchedules(): string {
  return JSON.stringify(Object.fromEntries(tuned));
}

export function importTunedSchedules(json: string): void {
  const entries = Object.entries(JSON.parse(json) as Record<string, unknown>);
  for (const [k, v] of entries) {
    if ((v !== 'step' && v !== 'sequence') || k.split('|').length !== 5) throw new Error(`importTunedSchedules: bad entry ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  }
  for (const [k, v] of entries) tuned.set(k, v as 'step' | 'sequence');
}

/** Forgets every measured choice. */
export function clearTunedSchedules(): void {
  tuned.clear();
}

/** The schedule a layer runs: its own setting or the module's, resolved against what the adapter supports. */
export function resolveSchedule(ctx: GpuContext, driver: CellDriver, d: ScheduleDims, s: RecurrentSchedule | undefined): 'step' | 'sequence' {
  const want = s ?? scheduleSetting;
  if (want === 'step') return 'step';
  const ok = driver.sequenceSupported?.(ctx, d.H) ?? false;
  if (want === 'auto') {
    const measured = tunedSchedule(ctx, driver.kind, d);
    if (measured === 'step' || (measured === 'sequence' && ok)) return measured;
  }
  if (ok && (want === 'sequence' || !isCpuAdapter(ctx))) return 'sequence';
  if (want === 'sequence') throw new Error(`recurrent schedule 'sequence': no sequence kernel for this cell at H = ${d.H} on this adapter (${ctx.describe()}); use 'auto' or 'step'`);
  return 'step';
}

export type CellKind = 'lstm' | 'gru' | 'rnn';
/** The cells a Recurrent layer can run (its `cell` argument). */
export const CELL_KINDS: readonly CellKind[] = ['lstm', 'gru', 'rnn'];

export interface CellForward {
  gx: Tensor; whh: Tensor; bhh: Tensor; h0: Tensor; c0?: Tensor; lengths: Tensor;
  hs: Tensor; hn: Tensor; cn?: Tensor;
  /** The cell's saved activations, named as in `CellDriver.saved`. */
  saved: Record<string, Tensor>;
  /** The layer's schedule (undefined: the module setting). */
  schedule?: RecurrentSchedule;
}

export interface CellBackward {
  dhs: Tensor; dhn: Tensor; dcn?: Tensor; hs: Tensor; h0: Tensor; c0?: Tensor; whh: Tensor; lengths: Tensor;
  saved: Record<string, Tensor>;
  dgates: Tensor; dghh: Tensor; dh0: Tensor; dc0?: Tensor;
  /** Scratch buffers owned by the layer (cached across steps). */
  scratch: (name: string, shape: number[]) => Tensor;
  /** The layer's schedule (undefined: the module setting). */
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

const lstm: CellDriver = {
  kind: 'lstm', gates: 4, hasCell: true, separateDghh: false, saved: { cs: 1, gates: 4 },
  sequenceSupported: lstmSeqSupported,
  forward(ctx, a) {
    const t = {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, c0: a.c0!, lengths: a.lengths,
      hs: a.hs, cs: a.saved.cs, gates: a.saved.gates, hn: a.hn, cn: a.cn!,
    };
    if (resolveSchedule(ctx, lstm, dimsOf(a.hs), a.schedule) === 'sequence') lstmSeqForward(ctx, t);
    else lstmForwardSequence(ctx, t);
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    const t = {
      dhs: a.dhs, dhn: a.dhn, dcn: a.dcn!, gates: a.saved.gates, cs: a.saved.cs, c0: a.c0!,
      whh: a.whh, lengths: a.lengths, dgates: a.dgates, dcCarry: a.scratch('dc_carry', [B, H]), dh0: a.dh0, dc0: a.dc0!,
    };
    if (resolveSchedule(ctx, lstm, dimsOf(a.dhs), a.schedule) === 'sequence') lstmSeqBackward(ctx, t);
    else lstmBackwardSequence(ctx, t);
  },
};

const gru: CellDriver = {
  kind: 'gru', gates: 3, hasCell: false, separateDghh: true, saved: { gates: 3, hnLin: 1 },
  sequenceSupported: gruSeqSupported,
  forward(ctx, a) {
    const t = {
      gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs,
      gates: a.saved.gates, hnLin: a.saved.hnLin, hn: a.hn,
    };
    if (resolveSchedule(ctx, gru, dimsOf(a.hs), a.schedule) === 'sequence') gruSeqForward(ctx, t);
    else gruForwardSequence(ctx, t);
  },
  backward(ctx, a) {
    const [B, H] = a.h0.shape;
    const t = {
      dhs: a.dhs, dhn: a.dhn, gates: a.saved.gates, hnLin: a.saved.hnLin, hs: a.hs, h0: a.h0, whh: a.whh,
      lengths: a.lengths, dgates: a.dgates, dghh: a.dghh, dh0: a.dh0, dhCarry: a.scratch('dh_carry', [B, H]),
    };
    if (resolveSchedule(ctx, gru, dimsOf(a.dhs), a.schedule) === 'sequence') gruSeqBackward(ctx, t);
    else gruBackwardSequence(ctx, t);
  },
};

const rnn: CellDriver = {
  kind: 'rnn', gates: 1, hasCell: false, separateDghh: false, saved: {},
  sequenceSupported: rnnSeqSupported,
  forward(ctx, a, nonlinearity) {
    const t = { gx: a.gx, whh: a.whh, bhh: a.bhh, h0: a.h0, lengths: a.lengths, hs: a.hs, hn: a.hn };
    if (resolveSchedule(ctx, rnn, dimsOf(a.hs), a.schedule) === 'sequence') rnnSeqForward(ctx, t, { nonlinearity });
    else rnnForwardSequence(ctx, t, { nonlinearity });
  },
  backward(ctx, a, nonlinearity) {
    const t = { dhs: a.dhs, dhn: a.dhn, hs: a.hs, whh: a.whh, lengths: a.lengths, dgates: a.dgates, dh0: a.dh0 };
    if (resolveSchedule(ctx, rnn, dimsOf(a.dhs), a.schedule) === 'sequence') rnnSeqBackward(ctx, t, { nonlinearity });
    else rnnBackwardSequence(ctx, t, { nonlinearity });
  },
};

export const CELL_DRIVERS: Record<CellKind, CellDriver> = { lstm, gru, rnn };
