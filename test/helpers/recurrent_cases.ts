// The table behind test/recurrent.test.ts: every recurrent cell with its options (a row of CELLS),
// a random case for a row, the GPU kernels of one schedule run over the whole sequence (outputs
// start as NaN, so an element a kernel forgets to write fails every comparison), and the float64
// CPU reference of the same buffers. Adding an option = a row in CELLS; adding a cell = a row and
// its arm in each `switch` below (buffers, recording, CPU reference, parameter gradients).
import * as cpuLstm from '../../src/cpu/lstm.ts';
import * as cpuGru from '../../src/cpu/gru.ts';
import * as cpuRnn from '../../src/cpu/rnn.ts';
import type { CellActivation, GateActivation } from '../../src/cpu/cell_activation.ts';
import { Rng } from '../../src/cpu/random.ts';
import {
  lstmBackwardInitial, lstmBackwardSteps, lstmForwardSteps, lstmStepBackward, lstmStepForward,
} from '../../src/kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused } from '../../src/kernels/lstm_seq.ts';
import { gruBackwardInitial, gruBackwardSteps, gruForwardSteps, gruStepBackward, gruStepForward } from '../../src/kernels/gru.ts';
import { gruBackwardFused, gruForwardFused } from '../../src/kernels/gru_seq.ts';
import { rnnBackwardInitial, rnnBackwardSteps, rnnForwardSteps, rnnStepBackward, rnnStepForward } from '../../src/kernels/rnn.ts';
import { rnnBackwardFused, rnnForwardFused } from '../../src/kernels/rnn_seq.ts';
import type { GpuContext } from '../../src/runtime/context.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';

export type CellKind = 'lstm' | 'gru' | 'rnn';

/** A cell with its options, as the kernels and the CPU reference take them. */
export interface CellRow {
  /** Test names start with it, e.g. 'gru resetAfter=false'. */
  name: string;
  cell: CellKind;
  activation?: CellActivation;
  recurrentActivation?: GateActivation;
  /** GRU only: false puts the reset gate before the recurrent product (Keras reset_after=False). */
  resetAfter?: boolean;
  /** LSTM only: TF1/ONNX peepholes, a (3, H) parameter. */
  peepholes?: boolean;
  /** RNN only. */
  nonlinearity?: 'tanh' | 'relu';
}

export const CELLS: CellRow[] = [
  { name: 'lstm', cell: 'lstm' },
  { name: 'lstm activation=relu recurrentActivation=hard_sigmoid', cell: 'lstm', activation: 'relu', recurrentActivation: 'hard_sigmoid' },
  { name: 'lstm activation=sigmoid recurrentActivation=hard_sigmoid', cell: 'lstm', activation: 'sigmoid', recurrentActivation: 'hard_sigmoid' },
  { name: 'lstm peepholes recurrentActivation=hard_sigmoid', cell: 'lstm', peepholes: true, recurrentActivation: 'hard_sigmoid' },
  { name: 'lstm peepholes activation=hard_sigmoid', cell: 'lstm', peepholes: true, activation: 'hard_sigmoid' },
  { name: 'lstm peepholes activation=linear recurrentActivation=hard_sigmoid', cell: 'lstm', peepholes: true, activation: 'linear', recurrentActivation: 'hard_sigmoid' },
  { name: 'gru', cell: 'gru' },
  { name: 'gru activation=sigmoid recurrentActivation=hard_sigmoid', cell: 'gru', activation: 'sigmoid', recurrentActivation: 'hard_sigmoid' },
  { name: 'gru resetAfter=false', cell: 'gru', resetAfter: false },
  { name: 'gru resetAfter=false activation=relu recurrentActivation=hard_sigmoid', cell: 'gru', resetAfter: false, activation: 'relu', recurrentActivation: 'hard_sigmoid' },
  { name: 'rnn', cell: 'rnn', nonlinearity: 'tanh' },
  { name: 'rnn relu', cell: 'rnn', nonlinearity: 'relu' },
];

/** The row of a name in CELLS. */
export function cellRow(name: string): CellRow {
  const row = CELLS.find((r) => r.name === name);
  if (!row) throw new Error(`no cell row "${name}"`);
  return row;
}

export const gatesOf = (cell: CellKind): number => ({ lstm: 4, gru: 3, rnn: 1 })[cell];

/** Forward outputs and backward outputs of a cell's kernels, each with its width in units of H
 *  per (b, t), or 0 for the (B, H) ones. */
export function buffersOf(row: CellRow): { forward: Record<string, number>; backward: Record<string, number> } {
  switch (row.cell) {
    case 'lstm': return { forward: { hs: 1, cs: 1, gates: 4, hn: 0, cn: 0 }, backward: { dgates: 4, dcCarry: 0, dh0: 0, dc0: 0 } };
    case 'gru': return { forward: { hs: 1, gates: 3, hnLin: 1, hn: 0 }, backward: { dgates: 3, dghh: 3, dhCarry: 0, dh0: 0 } };
    case 'rnn': return { forward: { hs: 1, hn: 0 }, backward: { dgates: 1, dh0: 0 } };
  }
}

/** One layer's inputs: f32 values, used as they are by both sides (gx rounded to f32 once). */
export interface Case {
  B: number; T: number; H: number; I: number; G: number;
  x: Float32Array; wih: Float32Array; bih: Float32Array; gx: Float32Array;
  whh: Float32Array; bhh: Float32Array; peephole?: Float32Array;
  h0: Float32Array; c0: Float32Array; lengths: Int32Array;
  dhs: Float32Array; dhn: Float32Array; dcn: Float32Array;
}

/** gx = x·W_ihᵀ + b_ih in float64, rounded to f32. */
export function inputProjection(c: Pick<Case, 'B' | 'T' | 'I' | 'G' | 'x' | 'wih' | 'bih'>): Float32Array {
  const gx = new Float32Array(c.B * c.T * c.G);
  for (let n = 0; n < c.B * c.T; n++) {
    for (let r = 0; r < c.G; r++) {
      let s = c.bih[r];
      for (let k = 0; k < c.I; k++) s += c.x[n * c.I + k] * c.wih[r * c.I + k];
      gx[n * c.G + r] = s;
    }
  }
  return gx;
}

/** A random case with PyTorch's init scale U(-1/√H, 1/√H), or `gxScale` times larger input
 *  weights, so that the pre-activations reach ±200 while W_hh keeps its scale. */
export function makeCase(row: CellRow, seed: number, B: number, T: number, H: number, I: number, lengths: number[], gxScale = 1): Case {
  const rng = new Rng(seed);
  const G = gatesOf(row.cell) * H, k = 1 / Math.sqrt(H);
  const x = rng.uniformArray(B * T * I), wih = rng.uniformArray(G * I, -k * gxScale, k * gxScale), bih = rng.uniformArray(G, -k, k);
  const c: Case = {
    B, T, H, I, G, x, wih, bih, gx: new Float32Array(0),
    whh: rng.uniformArray(G * H, -k, k), bhh: rng.uniformArray(G, -k, k), h0: rng.uniformArray(B * H), c0: rng.uniformArray(B * H),
    lengths: Int32Array.from(lengths), dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H), dcn: rng.uniformArray(B * H),
  };
  if (row.peepholes) c.peephole = rng.uniformArray(3 * H, -1, 1);
  c.gx = inputProjection(c);
  return c;
}

/** How the kernels are recorded: the per-timestep wrappers (`step`), one public call per timestep
 *  (`per-t`), or the whole-sequence kernels (`sequence`, with `rows` batch rows per workgroup and
 *  W_hh streamed, resident or split across subgroups). */
export interface Schedule {
  schedule: 'step' | 'per-t' | 'sequence';
  /** The context's step-kernel variant while recording (R = 1 or R = 4 rows per invocation). */
  variant?: 'plain' | 'blocked';
  rows?: number;
  /** The sequence kernels' variant, passed to each call (default: the context's, 'auto'). */
  seqVariant?: 'streamed' | 'resident' | 'subgroup';
}

export type Outputs = Record<string, Float32Array>;

/** The GPU tensors of one run, by name. */
type Gpu = Record<string, Tensor>;

export function upload(ctx: GpuContext, row: CellRow, c: Case): Gpu {
  const { B, T, H, G } = c;
  const nan = (shape: number[], name: string) => ctx.tensor(new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(NaN), shape, name);
  const g: Gpu = {
    gx: ctx.tensor(c.gx, [B, T, G], 'gx'), whh: ctx.tensor(c.whh, [G, H], 'whh'), bhh: ctx.tensor(c.bhh, [G], 'bhh'),
    h0: ctx.tensor(c.h0, [B, H], 'h0'), c0: ctx.tensor(c.c0, [B, H], 'c0'), lengths: ctx.tensor(c.lengths, [B], 'lengths'),
    dhs: ctx.tensor(c.dhs, [B, T, H], 'dhs'), dhn: ctx.tensor(c.dhn, [B, H], 'dhn'), dcn: ctx.tensor(c.dcn, [B, H], 'dcn'),
  };
  if (c.peephole) g.peephole = ctx.tensor(c.peephole, [3, H], 'peephole');
  const { forward, backward } = buffersOf(row);
  for (const [name, w] of Object.entries({ ...forward, ...backward })) g[name] = nan(w ? [B, T, w * H] : [B, H], name);
  return g;
}

/** Records the forward of one schedule. `afterFirstStep` runs after step 0 of the per-t schedule. */
async function recordForward(ctx: GpuContext, row: CellRow, g: Gpu, s: Schedule, T: number, afterFirstStep?: () => Promise<void>): Promise<void> {
  const seq = { rowsPerWorkgroup: s.rows, variant: s.seqVariant };
  const perT = async (step: (t: number) => void) => {
    for (let t = 0; t < T; t++) { step(t); if (t === 0 && afterFirstStep) await afterFirstStep(); }
  };
  switch (row.cell) {
    case 'lstm': {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, c0: g.c0, lengths: g.lengths, hs: g.hs, cs: g.cs, gates: g.gates, hn: g.hn, cn: g.cn, peephole: g.peephole };
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation };
      if (s.schedule === 'step') lstmForwardSteps(ctx, f, cell);
      else if (s.schedule === 'per-t') await perT((t) => lstmStepForward(ctx, t, f, cell));
      else lstmForwardFused(ctx, f, { ...seq, ...cell });
      return;
    }
    case 'gru': {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation, resetAfter: row.resetAfter };
      if (s.schedule === 'step') gruForwardSteps(ctx, f, cell);
      else if (s.schedule === 'per-t') await perT((t) => gruStepForward(ctx, t, f, cell));
      else gruForwardFused(ctx, f, { ...seq, ...cell });
      return;
    }
    case 'rnn': {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, hn: g.hn };
      const opts = { nonlinearity: row.nonlinearity };
      if (s.schedule === 'step') rnnForwardSteps(ctx, f, opts);
      else if (s.schedule === 'per-t') await perT((t) => rnnStepForward(ctx, t, f, opts));
      else rnnForwardFused(ctx, f, { ...seq, ...opts });
    }
  }
}

/** Records the backward of one schedule (the carry starts as dcn / dhn; dh0 and dc0 are written). */
function recordBackward(ctx: GpuContext, row: CellRow, g: Gpu, s: Schedule, T: number): void {
  const seq = { rowsPerWorkgroup: s.rows, variant: s.seqVariant };
  switch (row.cell) {
    case 'lstm': {
      const b = {
        dhs: g.dhs, dhn: g.dhn, dcn: g.dcn, gates: g.gates, cs: g.cs, c0: g.c0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dcCarry: g.dcCarry, dh0: g.dh0, dc0: g.dc0, peephole: g.peephole,
      };
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation };
      if (s.schedule === 'step') lstmBackwardSteps(ctx, b, cell);
      else if (s.schedule === 'per-t') {
        for (let t = T - 1; t >= 0; t--) lstmStepBackward(ctx, t, b, cell);
        lstmBackwardInitial(ctx, b);
      } else lstmBackwardFused(ctx, b, { ...seq, ...cell });
      return;
    }
    case 'gru': {
      const b = {
        dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
      };
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation, resetAfter: row.resetAfter };
      if (s.schedule === 'step') gruBackwardSteps(ctx, { ...b, dhn: g.dhn, dh0: g.dh0 }, cell);
      else if (s.schedule === 'per-t') {
        ctx.copy(g.dhn, g.dhCarry); // the carry starts as dhn
        for (let t = T - 1; t >= 0; t--) gruStepBackward(ctx, t, b, cell);
        gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: g.dh0 }, cell);
      } else gruBackwardFused(ctx, { ...b, dhn: g.dhn, dh0: g.dh0 }, { ...seq, ...cell });
      return;
    }
    case 'rnn': {
      const b = { dhs: g.dhs, dhn: g.dhn, hs: g.hs, whh: g.whh, lengths: g.lengths, dgates: g.dgates };
      const opts = { nonlinearity: row.nonlinearity };
      if (s.schedule === 'step') rnnBackwardSteps(ctx, { ...b, dh0: g.dh0 }, opts);
      else if (s.schedule === 'per-t') {
        for (let t = T - 1; t >= 0; t--) rnnStepBackward(ctx, t, b, opts);
        rnnBackwardInitial(ctx, { dgates: g.dgates, whh: g.whh, dh0: g.dh0 });
      } else rnnBackwardFused(ctx, { ...b, dh0: g.dh0 }, { ...seq, ...opts });
    }
  }
}

/** What one GPU run gives: every forward and backward buffer, the dispatches each direction
 *  recorded (and the kernels they ran), and (per-t schedule only) hn as it was after step 0. */
export interface GpuRun {
  out: Outputs;
  dispatches: { forward: number; backward: number };
  kernels: Set<string>;
  hnAfterFirstStep?: Float32Array;
}

/** Forward then backward of one schedule over the whole sequence; the context's settings are
 *  restored afterwards. */
export async function runGpu(ctx: GpuContext, row: CellRow, c: Case, s: Schedule): Promise<GpuRun> {
  const g = upload(ctx, row, c);
  const prev = ctx.configure(s.variant ? { stepVariant: s.variant } : {});
  const run: GpuRun = { out: {}, dispatches: { forward: 0, backward: 0 }, kernels: new Set() };
  const dispatch = ctx.dispatch;
  ctx.dispatch = (name, ...rest) => { run.kernels.add(name); return dispatch.call(ctx, name, ...rest); };
  try {
    let n = ctx.dispatchCount;
    await recordForward(ctx, row, g, s, c.T, async () => { run.hnAfterFirstStep = new Float32Array(await ctx.read(g.hn)); });
    run.dispatches.forward = ctx.dispatchCount - n;
    n = ctx.dispatchCount;
    recordBackward(ctx, row, g, s, c.T);
    run.dispatches.backward = ctx.dispatchCount - n;
  } catch (e) {
    for (const t of Object.values(g)) t.release();
    throw e;
  } finally {
    ctx.dispatch = dispatch;
    ctx.configure(prev);
  }
  const { forward, backward } = buffersOf(row);
  for (const name of Object.keys({ ...forward, ...backward })) run.out[name] = new Float32Array(await ctx.read(g[name]));
  for (const t of Object.values(g)) t.release();
  return run;
}

/** The dispatches one direction records: per step (two passes for the GRU with the reset gate
 *  before the product) plus the final-state gather or the initial-state entry; the sequence
 *  kernels take one dispatch plus that. */
export function expectedDispatches(row: CellRow, s: Schedule, T: number): number {
  if (s.schedule === 'sequence') return 2;
  return (row.cell === 'gru' && row.resetAfter === false ? 2 : 1) * T + 1;
}

/** The CPU step functions over the whole sequence on the case's f32 inputs: the same buffers as the
 *  kernels, in float64. `savedFrom` feeds the backward another run's forward buffers (the GPU's,
 *  so that forward rounding does not enter the backward: relu's slope flips where h rounds across 0). */
export function cpuReference(row: CellRow, c: Case, savedFrom?: Outputs): Record<string, Float64Array> {
  const { B, T, H, G } = c;
  const d = { B, T, H };
  switch (row.cell) {
    case 'lstm': {
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation };
      const f = {
        gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, c0: c.c0, lengths: c.lengths, peephole: c.peephole, cell,
        hs: new Float64Array(B * T * H), cs: new Float64Array(B * T * H), gates: new Float64Array(B * T * G), hn: new Float64Array(B * H), cn: new Float64Array(B * H),
      };
      for (let t = 0; t < T; t++) cpuLstm.lstmStepForward(t, f);
      const saved = savedFrom ?? f;
      const dgates = new Float64Array(B * T * G), dcCarry = new Float64Array(B * H);
      for (let t = T - 1; t >= 0; t--) {
        cpuLstm.lstmStepBackward(t, { dhs: c.dhs, dhn: c.dhn, dcn: c.dcn, gates: saved.gates, cs: saved.cs, c0: c.c0, whh: c.whh, lengths: c.lengths, dgates, dcCarry, peephole: c.peephole, cell });
      }
      const dh0 = new Float64Array(B * H), dc0 = new Float64Array(B * H);
      cpuLstm.lstmBackwardInitial({ dgates, whh: c.whh, dcCarry, dh0, dc0 });
      return { hs: f.hs, cs: f.cs, gates: f.gates, hn: f.hn, cn: f.cn, dgates, dcCarry, dh0, dc0 };
    }
    case 'gru': {
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation, resetAfter: row.resetAfter };
      const hs = new Float64Array(B * T * H), gates = new Float64Array(B * T * G), hnLin = new Float64Array(B * T * H), hn = new Float64Array(B * H);
      for (let t = 0; t < T; t++) cpuGru.gruStepForward(t, d, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, gates, hnLin, hn, cell });
      const saved = savedFrom ?? { hs, gates, hnLin };
      const dgates = new Float64Array(B * T * G), dghh = new Float64Array(B * T * G), dhCarry = Float64Array.from(c.dhn), dh0 = new Float64Array(B * H);
      for (let t = T - 1; t >= 0; t--) {
        cpuGru.gruStepBackward(t, d, { dhs: c.dhs, gates: saved.gates, hnLin: saved.hnLin, hs: saved.hs, h0: c.h0, whh: c.whh, lengths: c.lengths, dgates, dghh, dhCarry, cell });
      }
      cpuGru.gruBackwardInitial(d, { dghh, whh: c.whh, dhCarry, dh0, cell });
      return { hs, gates, hnLin, hn, dgates, dghh, dhCarry, dh0 };
    }
    case 'rnn': {
      const opts = { nonlinearity: row.nonlinearity };
      const hs = new Float64Array(B * T * H), hn = new Float64Array(B * H);
      for (let t = 0; t < T; t++) cpuRnn.rnnStepForward(d, t, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, hn }, opts);
      const dgates = new Float64Array(B * T * H), dh0 = new Float64Array(B * H);
      for (let t = T - 1; t >= 0; t--) cpuRnn.rnnStepBackward(d, t, { dhs: c.dhs, dhn: c.dhn, hs: savedFrom?.hs ?? hs, whh: c.whh, lengths: c.lengths, dgates }, opts);
      cpuRnn.rnnBackwardInitial(d, { dgates, whh: c.whh, dh0 });
      return { hs, hn, dgates, dh0 };
    }
  }
}

/** The CPU's whole-sequence backward (the training reference): gradients of x, every parameter and
 *  the initial states, for the loss gradients dhs, dhn (and dcn). */
export function cpuParameterGrads(row: CellRow, c: Case): Record<string, Float64Array> {
  const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
  switch (row.cell) {
    case 'lstm': {
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation };
      const lw = c.peephole ? { ...w, weight_peephole: c.peephole } : w;
      const f = cpuLstm.lstmForward(c.x, lw, c.h0, c.c0, c.lengths, cell);
      const { dweight_peephole: _peephole, ...g } = cpuLstm.lstmBackward(c.x, lw, c.h0, c.c0, c.lengths, f.saved, c.dhs, c.dhn, c.dcn, cell);
      return { ...g };
    }
    case 'gru': {
      const cell = { activation: row.activation, recurrentActivation: row.recurrentActivation, resetAfter: row.resetAfter };
      const f = cpuGru.gruForward(c.x, w, c.h0, c.lengths, cell);
      return { ...cpuGru.gruBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn, cell) };
    }
    case 'rnn': {
      const f = cpuRnn.rnnForward(c.x, w, c.h0, c.lengths, { nonlinearity: row.nonlinearity });
      const { dgates: _dgates, ...g } = cpuRnn.rnnBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn);
      return g;
    }
  }
}

/** The gradients the layer computes from the kernels' dgates (input side) and dghh (hidden side;
 *  dgates for LSTM and RNN) by the GEMMs that follow the recurrence, here in float64. W_hh's rows
 *  multiply h_prev, except the n rows of the GRU with the reset gate before the product, which
 *  multiply r ⊙ h_prev (saved as hnLin). */
export function parameterGradsFrom(row: CellRow, c: Case, out: Outputs): Record<string, Float64Array> {
  const { B, T, H, I, G } = c;
  const dg = out.dgates, dgh = out.dghh ?? out.dgates;
  const dx = new Float64Array(B * T * I), dwih = new Float64Array(G * I), dwhh = new Float64Array(G * H);
  const dbih = new Float64Array(G), dbhh = new Float64Array(G);
  const resetBefore = row.cell === 'gru' && row.resetAfter === false;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      for (let r = 0; r < G; r++) {
        const di = dg[n * G + r], dh = dgh[n * G + r];
        dbih[r] += di;
        dbhh[r] += dh;
        for (let k = 0; k < I; k++) { dx[n * I + k] += di * c.wih[r * I + k]; dwih[r * I + k] += di * c.x[n * I + k]; }
        for (let k = 0; k < H; k++) {
          const prev = resetBefore && r >= 2 * H ? out.hnLin[n * H + k] : t === 0 ? c.h0[b * H + k] : out.hs[(n - 1) * H + k];
          dwhh[r * H + k] += dh * prev;
        }
      }
    }
  }
  const grads: Record<string, Float64Array> = { dx, dweight_ih: dwih, dweight_hh: dwhh, dbias_ih: dbih, dbias_hh: dbhh, dh0: Float64Array.from(out.dh0) };
  if (out.dc0) grads.dc0 = Float64Array.from(out.dc0);
  return grads;
}
