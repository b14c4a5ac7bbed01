// The recurrent kernels, table-driven: every cell (a row of CELLS) × schedule ('step': one
// dispatch per timestep; 'sequence': one dispatch per direction) × step variant ('plain': R = 1,
// 'blocked': R = 4 batch rows per invocation) against the float64 CPU reference (src/cpu) at
// awkward sizes with variable lengths, at saturating pre-activations, with a partial row block,
// and several rows per workgroup. The backward is checked through what it feeds: the weight, bias,
// input and initial-state gradients computed on the host from the GPU's dgates / dghh, against the
// CPU's whole-sequence backward. Variants must be bit-identical, and so must the two schedules'
// forwards (the same sums in the same order). Adding a cell = a row in CELLS.
import { suite } from 'uvu';
import * as cpuLstm from '../src/cpu/lstm.ts';
import * as cpuGru from '../src/cpu/gru.ts';
import * as cpuRnn from '../src/cpu/rnn.ts';
import { Rng } from '../src/cpu/random.ts';
import { lstmBackwardSteps, lstmForwardSteps } from '../src/kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused } from '../src/kernels/lstm_seq.ts';
import { gruBackwardSteps, gruForwardSteps } from '../src/kernels/gru.ts';
import { gruBackwardFused, gruForwardFused } from '../src/kernels/gru_seq.ts';
import { rnnBackwardSteps, rnnForwardSteps } from '../src/kernels/rnn.ts';
import { rnnBackwardFused, rnnForwardFused } from '../src/kernels/rnn_seq.ts';
import type { StepKernelVariant } from '../src/runtime/settings.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('recurrent');

type Schedule = 'step' | 'sequence';
type F64 = Float64Array;

/** One layer's inputs (f32 values, used as they are by both sides). */
interface Case {
  B: number; T: number; H: number; I: number; G: number;
  x: Float32Array; wih: Float32Array; whh: Float32Array; bih: Float32Array; bhh: Float32Array;
  h0: Float32Array; c0: Float32Array; lengths: Int32Array; dhs: Float32Array; dhn: Float32Array; dcn: Float32Array;
}

/** What the CPU reference gives: outputs, saved activations, and whole-sequence gradients. */
interface CpuResult {
  out: Record<string, F64>;
  /** dweight_hh may be left out where the host GEMM below does not apply (GRU resetAfter false). */
  grads: { dx: F64; dweight_ih: F64; dweight_hh?: F64; dbias_ih: F64; dbias_hh: F64; dh0: F64; dc0?: F64 };
}

/** The GPU tensors of one run: inputs, outputs and gradients by name. */
type Gpu = Record<string, Tensor>;

interface CellRow {
  name: string;
  /** Gates per unit (G = gates·H). */
  gates: number;
  /** Outputs and saved buffers compared with the CPU: name → width in units of H per (b, t). */
  outputs: Record<string, number>;
  /** Whether the hidden-side gradient is its own buffer (dghh), else dgates is both. */
  separateDghh: boolean;
  cpu(c: Case): CpuResult;
  /** Records forward then backward; `rows` is the sequence kernels' rows per workgroup. */
  run(ctx: GpuContext, s: Schedule, g: Gpu, rows?: number): void;
}

const rnnRow = (nonlinearity: 'tanh' | 'relu'): CellRow => ({
  name: `rnn_${nonlinearity}`, gates: 1, outputs: {}, separateDghh: false,
  cpu(c) {
    const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
    const f = cpuRnn.rnnForward(c.x, w, c.h0, c.lengths, { nonlinearity });
    const g = cpuRnn.rnnBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn);
    return { out: { hs: f.hs, hn: f.hn }, grads: g };
  },
  run(ctx, s, g, rows) {
    const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, hn: g.hn };
    const b = { dhs: g.dhs, dhn: g.dhn, hs: g.hs, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dh0: g.dh0 };
    if (s === 'step') { rnnForwardSteps(ctx, f, { nonlinearity }); rnnBackwardSteps(ctx, b, { nonlinearity }); }
    else { rnnForwardFused(ctx, f, { nonlinearity, rowsPerWorkgroup: rows }); rnnBackwardFused(ctx, b, { nonlinearity, rowsPerWorkgroup: rows }); }
  },
});

const CELLS: CellRow[] = [
  {
    name: 'lstm', gates: 4, outputs: { cs: 1, gates: 4 }, separateDghh: false,
    cpu(c) {
      const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
      const f = cpuLstm.lstmForward(c.x, w, c.h0, c.c0, c.lengths);
      const g = cpuLstm.lstmBackward(c.x, w, c.h0, c.c0, c.lengths, f.saved, c.dhs, c.dhn, c.dcn);
      return { out: { hs: f.hs, hn: f.hn, cs: f.cs, cn: f.cn, gates: f.saved.gates }, grads: { ...g, dbias_hh: g.dbias_hh } };
    },
    run(ctx, s, g, rows) {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, c0: g.c0, lengths: g.lengths, hs: g.hs, cs: g.cs, gates: g.gates, hn: g.hn, cn: g.cn };
      const b = {
        dhs: g.dhs, dhn: g.dhn, dcn: g.dcn, gates: g.gates, cs: g.cs, c0: g.c0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dcCarry: g.carry, dh0: g.dh0, dc0: g.dc0,
      };
      if (s === 'step') { lstmForwardSteps(ctx, f); lstmBackwardSteps(ctx, b); }
      else { lstmForwardFused(ctx, f, { rowsPerWorkgroup: rows }); lstmBackwardFused(ctx, b, { rowsPerWorkgroup: rows }); }
    },
  },
  {
    name: 'gru', gates: 3, outputs: { gates: 3, hnLin: 1 }, separateDghh: true,
    cpu(c) {
      const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
      const f = cpuGru.gruForward(c.x, w, c.h0, c.lengths);
      const g = cpuGru.gruBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn);
      return { out: { hs: f.hs, hn: f.hn, gates: f.saved.gates, hnLin: f.saved.hnLin }, grads: g };
    },
    run(ctx, s, g, rows) {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
      const b = {
        dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dghh: g.dghh, dhn: g.dhn, dh0: g.dh0, dhCarry: g.carry,
      };
      if (s === 'step') { gruForwardSteps(ctx, f); gruBackwardSteps(ctx, b); }
      else { gruForwardFused(ctx, f, { rowsPerWorkgroup: rows }); gruBackwardFused(ctx, b, { rowsPerWorkgroup: rows }); }
    },
  },
  rnnRow('tanh'),
  rnnRow('relu'),
  // Keras's activation / recurrentActivation (hard_sigmoid = clip(0.2x + 0.5, 0, 1)); LSTM
  // peepholes are in test/cells_gpu.test.ts (they add a parameter).
  {
    name: 'lstm (activation relu, recurrentActivation hard_sigmoid)', gates: 4, outputs: { cs: 1, gates: 4 }, separateDghh: false,
    cpu(c) {
      const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
      const cell = { activation: 'relu', recurrentActivation: 'hard_sigmoid' } as const;
      const f = cpuLstm.lstmForward(c.x, w, c.h0, c.c0, c.lengths, cell);
      const g = cpuLstm.lstmBackward(c.x, w, c.h0, c.c0, c.lengths, f.saved, c.dhs, c.dhn, c.dcn, cell);
      return { out: { hs: f.hs, hn: f.hn, cs: f.cs, cn: f.cn, gates: f.saved.gates }, grads: g };
    },
    run(ctx, s, g, rows) {
      const cell = { activation: 'relu', recurrentActivation: 'hard_sigmoid' } as const;
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, c0: g.c0, lengths: g.lengths, hs: g.hs, cs: g.cs, gates: g.gates, hn: g.hn, cn: g.cn };
      const b = {
        dhs: g.dhs, dhn: g.dhn, dcn: g.dcn, gates: g.gates, cs: g.cs, c0: g.c0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dcCarry: g.carry, dh0: g.dh0, dc0: g.dc0,
      };
      if (s === 'step') { lstmForwardSteps(ctx, f, cell); lstmBackwardSteps(ctx, b, cell); }
      else { lstmForwardFused(ctx, f, { rowsPerWorkgroup: rows, ...cell }); lstmBackwardFused(ctx, b, { rowsPerWorkgroup: rows, ...cell }); }
    },
  },
  {
    name: 'gru (activation sigmoid, recurrentActivation hard_sigmoid)', gates: 3, outputs: { gates: 3, hnLin: 1 }, separateDghh: true,
    cpu(c) {
      const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
      const cell = { activation: 'sigmoid', recurrentActivation: 'hard_sigmoid' } as const;
      const f = cpuGru.gruForward(c.x, w, c.h0, c.lengths, cell);
      const g = cpuGru.gruBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn, cell);
      return { out: { hs: f.hs, hn: f.hn, gates: f.saved.gates, hnLin: f.saved.hnLin }, grads: g };
    },
    run(ctx, s, g, rows) {
      const cell = { activation: 'sigmoid', recurrentActivation: 'hard_sigmoid' } as const;
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
      const b = {
        dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dghh: g.dghh, dhn: g.dhn, dh0: g.dh0, dhCarry: g.carry,
      };
      if (s === 'step') { gruForwardSteps(ctx, f, cell); gruBackwardSteps(ctx, b, cell); }
      else { gruForwardFused(ctx, f, { rowsPerWorkgroup: rows, ...cell }); gruBackwardFused(ctx, b, { rowsPerWorkgroup: rows, ...cell }); }
    },
  },
  {
    // The two-pass cell: n = tanh(gx_n + W_hn·(r ⊙ h_prev) + b_hn); hnLin holds r ⊙ h_prev.
    name: 'gru (resetAfter false)', gates: 3, outputs: { gates: 3, hnLin: 1 }, separateDghh: true,
    cpu(c) {
      const w = { weight_ih: c.wih, weight_hh: c.whh, bias_ih: c.bih, bias_hh: c.bhh };
      const f = cpuGru.gruForward(c.x, w, c.h0, c.lengths, { resetAfter: false });
      const { dweight_hh: _n, ...g } = cpuGru.gruBackward(c.x, w, c.h0, c.lengths, f.saved, c.dhs, c.dhn, { resetAfter: false });
      // dW_hh's n rows multiply r ⊙ h_prev, which this suite's host GEMM does not: the model
      // tests (test/cells_gpu.test.ts) check dW_hh through the layer.
      return { out: { hs: f.hs, hn: f.hn, gates: f.saved.gates, hnLin: f.saved.hnLin }, grads: g };
    },
    run(ctx, s, g, rows) {
      const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
      const b = {
        dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths,
        dgates: g.dgates, dghh: g.dghh, dhn: g.dhn, dh0: g.dh0, dhCarry: g.carry,
      };
      if (s === 'step') { gruForwardSteps(ctx, f, { resetAfter: false }); gruBackwardSteps(ctx, b, { resetAfter: false }); }
      else { gruForwardFused(ctx, f, { rowsPerWorkgroup: rows, resetAfter: false }); gruBackwardFused(ctx, b, { rowsPerWorkgroup: rows, resetAfter: false }); }
    },
  },
];

/** A random case: PyTorch's init scale U(-1/√H, 1/√H), or `gxScale` times larger input weights
 *  so that the pre-activations reach ±200 (with W_hh kept at its scale, so nothing explodes). */
function makeCase(row: CellRow, seed: number, B: number, T: number, H: number, I: number, lengths: number[], gxScale = 1): Case {
  const rng = new Rng(seed);
  const G = row.gates * H, k = 1 / Math.sqrt(H);
  return {
    B, T, H, I, G,
    x: rng.uniformArray(B * T * I), wih: rng.uniformArray(G * I, -k * gxScale, k * gxScale), whh: rng.uniformArray(G * H, -k, k),
    bih: rng.uniformArray(G, -k, k), bhh: rng.uniformArray(G, -k, k), h0: rng.uniformArray(B * H), c0: rng.uniformArray(B * H),
    lengths: Int32Array.from(lengths), dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H), dcn: rng.uniformArray(B * H),
  };
}

/** gx = x·W_ihᵀ + b_ih in float64, rounded to f32 for upload. */
function inputProjection(c: Case): Float32Array {
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

function upload(ctx: GpuContext, row: CellRow, c: Case): Gpu {
  const { B, T, H, G } = c;
  const nan = (shape: number[], name: string) => ctx.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(NaN), shape, name);
  const g: Gpu = {
    gx: ctx.tensor(inputProjection(c), [B, T, G], 'gx'), whh: ctx.tensor(c.whh, [G, H], 'whh'), bhh: ctx.tensor(c.bhh, [G], 'bhh'),
    h0: ctx.tensor(c.h0, [B, H], 'h0'), c0: ctx.tensor(c.c0, [B, H], 'c0'), lengths: ctx.tensor(c.lengths, [B], 'lengths'),
    dhs: ctx.tensor(c.dhs, [B, T, H], 'dhs'), dhn: ctx.tensor(c.dhn, [B, H], 'dhn'), dcn: ctx.tensor(c.dcn, [B, H], 'dcn'),
    // Outputs start as NaN, so an element a kernel forgets to write fails the comparison.
    hs: nan([B, T, H], 'hs'), hn: nan([B, H], 'hn'), cn: nan([B, H], 'cn'), dgates: nan([B, T, G], 'dgates'), dghh: nan([B, T, G], 'dghh'),
    dh0: nan([B, H], 'dh0'), dc0: nan([B, H], 'dc0'), carry: nan([B, H], 'carry'),
  };
  for (const [name, width] of Object.entries(row.outputs)) g[name] = nan([B, T, width * H], name);
  return g;
}

/** The GPU's outputs, and the gradients that its dgates / dghh give through the GEMMs that follow
 *  the recurrence (computed here in float64 from the CPU's own x and h_prev). */
async function results(ctx: GpuContext, row: CellRow, c: Case, g: Gpu, cpuHs: F64): Promise<Record<string, F64>> {
  const read = async (t: Tensor) => Float64Array.from(new Float32Array(await ctx.read(t)));
  const out: Record<string, F64> = { hs: await read(g.hs), hn: await read(g.hn) };
  for (const name of Object.keys(row.outputs)) out[name] = await read(g[name]);
  if (row.outputs.cs) { out.cn = await read(g.cn); out.dc0 = await read(g.dc0); }
  const dg = await read(g.dgates), dgh = row.separateDghh ? await read(g.dghh) : dg;
  out.dgates = dg;
  out.dh0 = await read(g.dh0);
  const { B, T, H, I, G } = c;
  const dx = new Float64Array(B * T * I), dwih = new Float64Array(G * I), dwhh = new Float64Array(G * H);
  const dbih = new Float64Array(G), dbhh = new Float64Array(G);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      for (let r = 0; r < G; r++) {
        const di = dg[n * G + r], dh = dgh[n * G + r];
        dbih[r] += di;
        dbhh[r] += dh;
        for (let k = 0; k < I; k++) { dx[n * I + k] += di * c.wih[r * I + k]; dwih[r * I + k] += di * c.x[n * I + k]; }
        for (let k = 0; k < H; k++) dwhh[r * H + k] += dh * (t === 0 ? c.h0[b * H + k] : cpuHs[(n - 1) * H + k]);
      }
    }
  }
  Object.assign(out, { dx, dweight_ih: dwih, dweight_hh: dwhh, dbias_ih: dbih, dbias_hh: dbhh });
  return out;
}

async function runGpu(ctx: GpuContext, row: CellRow, c: Case, s: Schedule, v: StepKernelVariant, cpuHs: F64, rows?: number) {
  const g = upload(ctx, row, c);
  const prev = ctx.configure({ stepVariant: v });
  try {
    row.run(ctx, s, g, rows);
  } finally {
    ctx.configure(prev);
  }
  const out = await results(ctx, row, c, g, cpuHs);
  for (const t of Object.values(g)) t.release();
  return out;
}

// f32 sums of ~H+I terms of size ≤ 1 against float64: ~1e-6 relative; the backward's gradients
// sum B·T such terms again.
const TOL_F = { atol: 2e-5, rtol: 1e-4 };
const TOL_B = { atol: 1e-4, rtol: 1e-4 };

function compare(what: string, got: Record<string, F64>, want: CpuResult, tolF = TOL_F, tolB = TOL_B): void {
  for (const [k, v] of Object.entries(want.out)) expectClose(`${what} ${k}`, got[k], v, tolF);
  for (const [k, v] of Object.entries(want.grads)) {
    if (v && k in got) expectClose(`${what} ${k}`, got[k], v, tolB);
  }
}

for (const row of CELLS) {
  test(`${row.name}: both schedules and both step variants match the CPU at B=3, H=37, I=7, T=5, lengths [5, 2, 1]`, async () => {
    const ctx = await gpu();
    const c = makeCase(row, 11, 3, 5, 37, 7, [5, 2, 1]);
    const want = row.cpu(c);
    const runs: Record<string, Record<string, F64>> = {};
    for (const s of ['step', 'sequence'] as const) {
      for (const v of ['plain', 'blocked'] as const) {
        runs[`${s}/${v}`] = await runGpu(ctx, row, c, s, v, want.out.hs);
        compare(`${s}/${v}`, runs[`${s}/${v}`], want);
      }
    }
    // R = 1 and R = 4 sum the same terms in the same order; so do the two schedules' forwards.
    const exact = { atol: 0, rtol: 0 };
    for (const k of Object.keys(runs['step/plain'])) expectClose(`blocked = plain: ${k}`, runs['step/blocked'][k], runs['step/plain'][k], exact);
    for (const k of ['hs', 'hn', ...Object.keys(row.outputs)]) expectClose(`sequence = step forward: ${k}`, runs['sequence/plain'][k], runs['step/plain'][k], exact);
  });

  test(`${row.name}: a partial row block (B=5, R=4) and 1, 2, 3 rows per sequence workgroup, H=20, T=4`, async () => {
    const ctx = await gpu();
    const c = makeCase(row, 12, 5, 4, 20, 6, [4, 2, 1, 4, 3]);
    const want = row.cpu(c);
    compare('step/blocked', await runGpu(ctx, row, c, 'step', 'blocked', want.out.hs), want);
    for (const rows of [1, 2, 3]) compare(`sequence, ${rows} rows`, await runGpu(ctx, row, c, 'sequence', 'blocked', want.out.hs, rows), want);
  });

  test(`${row.name}: pre-activations beyond ±200 saturate without NaN or Inf, both schedules`, async () => {
    const ctx = await gpu();
    const c = makeCase(row, 13, 3, 4, 16, 5, [4, 1, 3], 600);
    const want = row.cpu(c);
    let maxGx = 0;
    for (const v of inputProjection(c)) maxGx = Math.max(maxGx, Math.abs(v));
    if (maxGx < 200) throw new Error(`the case does not reach ±200 pre-activations (max |gx| ${maxGx})`);
    // Saturated gates are flat, but a pre-activation in the linear range is a sum of terms of
    // size ~600 (f32 error ~1e-4 absolute), which moves a gate by up to ~1e-4; gradients scale with
    // |x|·|dgates| and relu's unbounded outputs carry the same relative error.
    const tol = { atol: 2e-3, rtol: 1e-3 };
    for (const s of ['step', 'sequence'] as const) {
      const got = await runGpu(ctx, row, c, s, 'blocked', want.out.hs);
      for (const [k, v] of Object.entries(got)) if (!v.every(Number.isFinite)) throw new Error(`${s}: ${k} has a NaN or Inf`);
      compare(s, got, want, tol, tol);
    }
  });
}

test('B=64, H=128, T=3, mixed lengths: LSTM and GRU, both schedules', async () => {
  const ctx = await gpu();
  for (const row of CELLS.slice(0, 2)) {
    const lengths = Array.from({ length: 64 }, (_, b) => 1 + (b % 3));
    const c = makeCase(row, 14, 64, 3, 128, 16, lengths);
    const want = row.cpu(c);
    for (const s of ['step', 'sequence'] as const) compare(`${row.name} ${s}`, await runGpu(ctx, row, c, s, 'blocked', want.out.hs), want);
  }
});

test.run();
