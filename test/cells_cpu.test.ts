// The recurrent cells in the float64 CPU reference (src/cpu), which test/recurrent.test.ts holds
// the kernels to: PyTorch's LSTM, GRU and RNN (tanh, relu), and the TensorFlow/Keras options: GRU
// with the reset gate before the product (resetAfter: false), Keras's activation /
// recurrentActivation (hard_sigmoid) for LSTM and GRU, and LSTM peepholes. Their equations written
// out for one unit, every backward against central finite differences over a table of cells and
// options, variable lengths and refused sizes, the CPU model and generation reference with them,
// and the layer options: checks, config() round trip, parameter names and shapes.
import { suite } from 'uvu';
import * as cpuLstm from '../src/cpu/lstm.ts';
import * as cpuGru from '../src/cpu/gru.ts';
import * as cpuRnn from '../src/cpu/rnn.ts';
import { CELL_ACTIVATIONS, GATE_ACTIVATIONS, cellActivate, cellActivationGrad, hardSigmoid, type CellActivation, type GateActivation } from '../src/cpu/cell_activation.ts';
import { cpuModelForwardBackward, type CpuLayerConfig, type CpuParams } from '../src/cpu/model.ts';
import { cpuGenerate } from '../src/cpu/generate.ts';
import { f64 } from '../src/cpu/math.ts';
import { Rng } from '../src/cpu/random.ts';
import { Dense, Embedding, GRU, LSTM, RNN, Sequential, layerFromConfig, type Layer, type LayerConfig } from '../src/nn/index.ts';
import { decodeModelInto, encodeModel, modelFromCheckpoint, stateDict } from '../src/train/checkpoint.ts';
import { decodeSafetensors } from '../src/train/safetensors.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('cells_cpu');

// Options as a JavaScript user may pass them (no type checker to stop a string or a typo).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

// Central differences with h = 1e-6 in float64: truncation ~1e-12, cancellation ~1e-10 on O(1) values.
const FD_TOL = { atol: 1e-8, rtol: 1e-6 };
// Same float64 formulas written twice: rounding only.
const EXACT = { atol: 1e-15, rtol: 1e-14 };

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const hardSig = (v: number) => Math.max(0, Math.min(1, 0.2 * v + 0.5)); // Keras 2 / tfjs

// ------------------------------------------------------------------ activations

test('hard_sigmoid is clip(0.2·x + 0.5, 0, 1) (Keras 2 / tfjs); every activation\'s slope from its output matches differences', () => {
  const xs = [-3, -2.5, -1, 0, 0.7, 2.5, 4];
  expectClose('hard_sigmoid', xs.map(hardSigmoid), [0, 0, 0.3, 0.5, 0.64, 1, 1], EXACT);
  // Away from kinks (relu at 0, hard_sigmoid at ±2.5), act'(x) from y = act(x) equals the difference quotient.
  const pts = [-3.1, -1.3, -0.4, 0.6, 1.9, 2.9];
  for (const act of CELL_ACTIVATIONS) {
    const got = pts.map((x) => cellActivationGrad(act, cellActivate(act, x)));
    const want = pts.map((x) => (cellActivate(act, x + 1e-6) - cellActivate(act, x - 1e-6)) / 2e-6);
    expectClose(`${act}'`, got, want, FD_TOL);
  }
  // At the kinks the slope is the one-sided 0 that PyTorch and tfjs use.
  if (cellActivationGrad('relu', cellActivate('relu', 0)) !== 0) throw new Error('relu slope at 0 is not 0');
  if (cellActivationGrad('hard_sigmoid', cellActivate('hard_sigmoid', 2.5)) !== 0) throw new Error('hard_sigmoid slope at 2.5 is not 0');
});

// ------------------------------------------------------------------ the equations for one unit

test('LSTM (defaults) follows the nn.LSTM equations (gate order i,f,g,o, W_hh rows) written out by hand', () => {
  // B=1, T=2, H=2: every gate and every W_hh element has a distinct value, so a swapped gate or a
  // transposed weight changes the result.
  const H = 2, G = 8, T = 2;
  const rng = new Rng(3);
  const gx = rng.uniformArray(T * G, -2, 2), whh = rng.uniformArray(G * H, -2, 2), bhh = rng.uniformArray(G, -1, 1);
  const h0 = [0.3, -0.7], c0 = [0.5, -1.2];
  const W = (r: number, k: number) => whh[r * H + k];
  let h = [...h0], c = [...c0];
  const wantH: number[] = [], wantC: number[] = [];
  for (let t = 0; t < T; t++) {
    const pre = (q: number, j: number) => gx[t * G + q * H + j] + bhh[q * H + j] + W(q * H + j, 0) * h[0] + W(q * H + j, 1) * h[1];
    const i = [0, 1].map((j) => sig(pre(0, j))), f = [0, 1].map((j) => sig(pre(1, j)));
    const g = [0, 1].map((j) => Math.tanh(pre(2, j))), o = [0, 1].map((j) => sig(pre(3, j)));
    c = [0, 1].map((j) => f[j] * c[j] + i[j] * g[j]);
    h = [0, 1].map((j) => o[j] * Math.tanh(c[j]));
    wantH.push(...h); wantC.push(...c);
  }
  const a = { gx, whh, bhh, h0, c0, lengths: [T], hs: new Float64Array(T * H), cs: new Float64Array(T * H), gates: new Float64Array(T * G), hn: new Float64Array(H), cn: new Float64Array(H) };
  for (let t = 0; t < T; t++) cpuLstm.lstmStepForward(t, a);
  const close = { atol: 1e-14, rtol: 1e-12 }; // the same float64 formulas, summed in a different order
  expectClose('hs', a.hs, wantH, close);
  expectClose('cs', a.cs, wantC, close);
  expectClose('hn', a.hn, h, close);
  expectClose('cn', a.cn, c, close);
});

test('GRU (defaults) follows the nn.GRU equations written out for one unit (b_hn inside r ⊙ ·)', () => {
  // B=1, T=2, I=1, H=1: every product is a scalar, so the equations can be written out here.
  const w = { weight_ih: [0.3, -0.7, 0.9], weight_hh: [-0.4, 0.6, 1.1], bias_ih: [0.1, 0.2, -0.3], bias_hh: [0.5, -0.25, 0.8] };
  const x = [0.8, -1.3], h0 = [0.35];
  let h = h0[0];
  const want: number[] = [];
  for (const xt of x) {
    const r = sig(w.weight_ih[0] * xt + w.bias_ih[0] + w.weight_hh[0] * h + w.bias_hh[0]);
    const z = sig(w.weight_ih[1] * xt + w.bias_ih[1] + w.weight_hh[1] * h + w.bias_hh[1]);
    const n = Math.tanh(w.weight_ih[2] * xt + w.bias_ih[2] + r * (w.weight_hh[2] * h + w.bias_hh[2]));
    h = (1 - z) * n + z * h;
    want.push(h);
  }
  const out = cpuGru.gruForward(x, w, h0, [2]);
  expectClose('hs', out.hs, want, EXACT);
  expectClose('hn', out.hn, [want[1]], EXACT);
});

test('LSTM with peepholes and hard_sigmoid follows TF1 LSTMCell(use_peepholes=True) written out for one unit (o sees the new c)', () => {
  // B=1, T=2, I=1, H=1; gate order i, f, g, o; peepholes p_i, p_f, p_o.
  const w = {
    weight_ih: [0.3, -0.7, 0.9, 0.4], weight_hh: [-0.4, 0.6, 1.1, -0.8], bias_ih: [0.1, 0.2, -0.3, 0.05], bias_hh: [0.5, -0.25, 0.8, 0.3],
    weight_peephole: [0.7, -1.2, 0.9],
  };
  const x = [0.8, -1.3], h0 = [0.35], c0 = [-0.6];
  for (const gate of GATE_ACTIVATIONS) {
    const s = gate === 'sigmoid' ? sig : hardSig;
    let h = h0[0], c = c0[0];
    const want: number[] = [], wantC: number[] = [];
    for (const xt of x) {
      const pre = (q: number) => w.weight_ih[q] * xt + w.bias_ih[q] + w.weight_hh[q] * h + w.bias_hh[q];
      const i = s(pre(0) + w.weight_peephole[0] * c);
      const f = s(pre(1) + w.weight_peephole[1] * c);
      const g = Math.tanh(pre(2));
      c = f * c + i * g;
      const o = s(pre(3) + w.weight_peephole[2] * c);
      h = o * Math.tanh(c);
      want.push(h); wantC.push(c);
    }
    const out = cpuLstm.lstmForward(x, w, h0, c0, [2], { recurrentActivation: gate });
    expectClose(`hs (${gate})`, out.hs, want, EXACT);
    expectClose(`cs (${gate})`, out.cs, wantC, EXACT);
  }
});

test('GRU with resetAfter false follows Keras GRU(reset_after=False) written out for one unit (b_hn outside r)', () => {
  const w = { weight_ih: [0.3, -0.7, 0.9], weight_hh: [-0.4, 0.6, 1.1], bias_ih: [0.1, 0.2, -0.3], bias_hh: [0.5, -0.25, 0.8] };
  const x = [0.8, -1.3], h0 = [0.35];
  for (const [act, gate] of [['tanh', 'sigmoid'], ['relu', 'hard_sigmoid']] as const) {
    const s = gate === 'sigmoid' ? sig : hardSig;
    const a = (v: number) => (act === 'tanh' ? Math.tanh(v) : Math.max(0, v));
    let h = h0[0];
    const want: number[] = [];
    for (const xt of x) {
      const r = s(w.weight_ih[0] * xt + w.bias_ih[0] + w.weight_hh[0] * h + w.bias_hh[0]);
      const z = s(w.weight_ih[1] * xt + w.bias_ih[1] + w.weight_hh[1] * h + w.bias_hh[1]);
      const n = a(w.weight_ih[2] * xt + w.bias_ih[2] + w.weight_hh[2] * (r * h) + w.bias_hh[2]);
      h = (1 - z) * n + z * h;
      want.push(h);
    }
    const out = cpuGru.gruForward(x, w, h0, [2], { resetAfter: false, activation: act, recurrentActivation: gate });
    expectClose(`hs (${act}, ${gate})`, out.hs, want, EXACT);
  }
});

test('the defaults are the PyTorch cells: explicit default options give bit-identical results', () => {
  const rng = new Rng(5);
  const B = 2, T = 3, I = 2, H = 3, lengths = [3, 2];
  const x = f64(rng.uniformArray(B * T * I)), h0 = f64(rng.uniformArray(B * H)), c0 = f64(rng.uniformArray(B * H));
  const lw = randomWeights(rng, 4, I, H, 0.8);
  const a = cpuLstm.lstmForward(x, lw, h0, c0, lengths);
  const b = cpuLstm.lstmForward(x, lw, h0, c0, lengths, { activation: 'tanh', recurrentActivation: 'sigmoid' });
  expectClose('lstm hs', b.hs, a.hs, { atol: 0, rtol: 0 }); // same operations
  // Zero peepholes add exact zeros to the pre-activations.
  const p = cpuLstm.lstmForward(x, { ...lw, weight_peephole: new Float64Array(3 * H) }, h0, c0, lengths);
  expectClose('lstm hs, zero peepholes', p.hs, a.hs, { atol: 0, rtol: 0 });
  const gw = randomWeights(rng, 3, I, H, 0.8);
  const g1 = cpuGru.gruForward(x, gw, h0, lengths);
  const g2 = cpuGru.gruForward(x, gw, h0, lengths, { resetAfter: true, activation: 'tanh', recurrentActivation: 'sigmoid' });
  expectClose('gru hs', g2.hs, g1.hs, { atol: 0, rtol: 0 });
});

// ------------------------------------------------------------------ backward vs finite differences

function randomWeights(rng: Rng, gates: number, I: number, H: number, s: number) {
  const G = gates * H;
  return {
    weight_ih: f64(rng.uniformArray(G * I, -s, s)), weight_hh: f64(rng.uniformArray(G * H, -s, s)),
    bias_ih: f64(rng.uniformArray(G, -s, s)), bias_hh: f64(rng.uniformArray(G, -s, s)),
  };
}

/** Weights large enough that hard_sigmoid gates fall on both sides of its clip points (±2.5). */
const SCALE = 1.4;

const lstmCases: { act: CellActivation; gate: GateActivation; peepholes: boolean }[] = [];
for (const act of CELL_ACTIVATIONS) for (const gate of GATE_ACTIVATIONS) for (const peepholes of [false, true]) lstmCases.push({ act, gate, peepholes });

for (const { act, gate, peepholes } of lstmCases) {
  test(`cpu lstmBackward matches finite differences: activation ${act}, recurrentActivation ${gate}, peepholes ${peepholes}; lengths [3, 1, 2]`, () => {
    const rng = new Rng(17);
    const B = 3, T = 3, I = 2, H = 3, G = 4 * H, lengths = [3, 1, 2];
    const x = f64(rng.uniformArray(B * T * I, -1.5, 1.5));
    const w: cpuLstm.LstmWeights & { weight_peephole?: Float64Array } = randomWeights(rng, 4, I, H, SCALE);
    if (peepholes) w.weight_peephole = f64(rng.uniformArray(3 * H, -SCALE, SCALE));
    const h0 = f64(rng.uniformArray(B * H)), c0 = f64(rng.uniformArray(B * H));
    const ws = f64(rng.uniformArray(B * T * H)), wh = f64(rng.uniformArray(B * H)), wc = f64(rng.uniformArray(B * H));
    const cell = { activation: act, recurrentActivation: gate };
    // A random projection of (hs, hn, cn): its gradients w.r.t. them are ws, wh, wc.
    const loss = () => { const o = cpuLstm.lstmForward(x, w, h0, c0, lengths, cell); return dot(ws, o.hs) + dot(wh, o.hn) + dot(wc, o.cn); };
    const fwd = cpuLstm.lstmForward(x, w, h0, c0, lengths, cell);
    if (gate === 'hard_sigmoid') expectBothRegions(fwd.saved.gates, lengths, T, G, H);
    const g = cpuLstm.lstmBackward(x, w, h0, c0, lengths, fwd.saved, ws, wh, wc, cell);
    expectClose('dx', g.dx, numericalGrad(loss, x), { ...FD_TOL, shape: [B, T, I] });
    expectClose('dweight_ih', g.dweight_ih, numericalGrad(loss, w.weight_ih as Float64Array), { ...FD_TOL, shape: [G, I] });
    expectClose('dweight_hh', g.dweight_hh, numericalGrad(loss, w.weight_hh as Float64Array), { ...FD_TOL, shape: [G, H] });
    expectClose('dbias_ih', g.dbias_ih, numericalGrad(loss, w.bias_ih as Float64Array), FD_TOL);
    expectClose('dbias_hh', g.dbias_hh, numericalGrad(loss, w.bias_hh as Float64Array), FD_TOL);
    expectClose('dh0', g.dh0, numericalGrad(loss, h0), { ...FD_TOL, shape: [B, H] });
    expectClose('dc0', g.dc0, numericalGrad(loss, c0), { ...FD_TOL, shape: [B, H] });
    if (peepholes) expectClose('dweight_peephole', g.dweight_peephole!, numericalGrad(loss, w.weight_peephole!), { ...FD_TOL, shape: [3, H] });
    else if (g.dweight_peephole) throw new Error('dweight_peephole returned without peepholes');
    expectNotVacuous(g);
    // The padded steps of row 1 (length 1) get no gradient.
    if (g.dx.slice(1 * T * I + 1 * I, 2 * T * I).some((v) => v !== 0)) throw new Error('dx past length of row 1 is not 0');
  });
}

const gruCases: { act: CellActivation; gate: GateActivation; resetAfter: boolean }[] = [];
for (const resetAfter of [false, true]) for (const act of CELL_ACTIVATIONS) for (const gate of GATE_ACTIVATIONS) gruCases.push({ act, gate, resetAfter });

for (const { act, gate, resetAfter } of gruCases) {
  test(`cpu gruBackward matches finite differences: resetAfter ${resetAfter}, activation ${act}, recurrentActivation ${gate}; lengths [3, 1, 2]`, () => {
    const rng = new Rng(23);
    const B = 3, T = 3, I = 2, H = 3, G = 3 * H, lengths = [3, 1, 2];
    const x = f64(rng.uniformArray(B * T * I, -1.5, 1.5));
    const w = randomWeights(rng, 3, I, H, SCALE);
    const h0 = f64(rng.uniformArray(B * H));
    const ws = f64(rng.uniformArray(B * T * H)), wn = f64(rng.uniformArray(B * H));
    const cell = { resetAfter, activation: act, recurrentActivation: gate };
    const loss = () => { const o = cpuGru.gruForward(x, w, h0, lengths, cell); return dot(ws, o.hs) + dot(wn, o.hn); };
    const fwd = cpuGru.gruForward(x, w, h0, lengths, cell);
    if (gate === 'hard_sigmoid') expectBothRegions(fwd.saved.gates, lengths, T, G, 2 * H);
    const g = cpuGru.gruBackward(x, w, h0, lengths, fwd.saved, ws, wn, cell);
    expectClose('dx', g.dx, numericalGrad(loss, x), { ...FD_TOL, shape: [B, T, I] });
    expectClose('dweight_ih', g.dweight_ih, numericalGrad(loss, w.weight_ih), { ...FD_TOL, shape: [G, I] });
    expectClose('dweight_hh', g.dweight_hh, numericalGrad(loss, w.weight_hh), { ...FD_TOL, shape: [G, H] });
    expectClose('dbias_ih', g.dbias_ih, numericalGrad(loss, w.bias_ih), FD_TOL);
    expectClose('dbias_hh', g.dbias_hh, numericalGrad(loss, w.bias_hh), FD_TOL);
    expectClose('dh0', g.dh0, numericalGrad(loss, h0), { ...FD_TOL, shape: [B, H] });
    expectNotVacuous(g);
    // The padded steps of row 1 (length 1) get no gradient.
    if (g.dx.slice(1 * T * I + 1 * I, 2 * T * I).some((v) => v !== 0)) throw new Error('dx past length of row 1 is not 0');
  });
}

/** Pre-activations of an RNN forward, recomputed from its outputs (valid steps only). */
function rnnPreActivations(x: Float64Array, w: cpuRnn.RnnWeights, h0: Float64Array, lengths: number[], hs: Float64Array, B: number, T: number, I: number, H: number): number[] {
  const gx = cpuRnn.rnnInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H);
  const pre: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let j = 0; j < H; j++) {
    let s = gx[(b * T + t) * H + j] + w.bias_hh[j];
    for (let k = 0; k < H; k++) s += w.weight_hh[j * H + k] * (t === 0 ? h0[b * H + k] : hs[(b * T + t - 1) * H + k]);
    pre.push(s);
  }
  return pre;
}

for (const nonlinearity of ['tanh', 'relu'] as const) {
  test(`cpu rnnBackward matches finite differences: nonlinearity ${nonlinearity}; lengths [3, 1]`, () => {
    const B = 2, T = 3, I = 4, H = 3, lengths = [3, 1];
    let seed = 11;
    let x: Float64Array, h0: Float64Array, w: { weight_ih: Float64Array; weight_hh: Float64Array; bias_ih: Float64Array; bias_hh: Float64Array };
    // relu: redraw until every pre-activation is at least 0.05 away from the kink (FD uses h = 1e-6),
    // with both signs present so that both branches of relu' are exercised.
    for (;;) {
      const rng = new Rng(seed++);
      const arr = (n: number, s: number) => Float64Array.from({ length: n }, () => rng.uniform(-s, s));
      x = arr(B * T * I, 1); h0 = arr(B * H, 0.8);
      w = { weight_ih: arr(H * I, 0.7), weight_hh: arr(H * H, 0.7), bias_ih: arr(H, 0.5), bias_hh: arr(H, 0.5) };
      if (nonlinearity === 'tanh') break;
      const { hs } = cpuRnn.rnnForward(x, w, h0, lengths, { nonlinearity });
      const pre = rnnPreActivations(x, w, h0, lengths, hs, B, T, I, H);
      if (Math.min(...pre.map(Math.abs)) > 0.05 && pre.some((p) => p < 0) && pre.some((p) => p > 0)) break;
    }
    const rng = new Rng(99);
    const ws = Float64Array.from({ length: B * T * H }, () => rng.uniform(-1, 1));
    const wn = Float64Array.from({ length: B * H }, () => rng.uniform(-1, 1));
    const loss = (): number => { const o = cpuRnn.rnnForward(x, w, h0, lengths, { nonlinearity }); return dot(ws, o.hs) + dot(wn, o.hn); };
    const { saved } = cpuRnn.rnnForward(x, w, h0, lengths, { nonlinearity });
    const g = cpuRnn.rnnBackward(x, w, h0, lengths, saved, ws, wn);
    expectClose('dx', g.dx, numericalGrad(loss, x), { ...FD_TOL, shape: [B, T, I] });
    expectClose('dh0', g.dh0, numericalGrad(loss, h0), { ...FD_TOL, shape: [B, H] });
    expectClose('dweight_ih', g.dweight_ih, numericalGrad(loss, w.weight_ih), { ...FD_TOL, shape: [H, I] });
    expectClose('dweight_hh', g.dweight_hh, numericalGrad(loss, w.weight_hh), { ...FD_TOL, shape: [H, H] });
    expectClose('dbias_ih', g.dbias_ih, numericalGrad(loss, w.bias_ih), FD_TOL);
    expectClose('dbias_hh', g.dbias_hh, numericalGrad(loss, w.bias_hh), FD_TOL);
    // Row 1 has length 1: its inputs past t = 0 must not matter.
    for (let t = 1; t < T; t++) for (let i = 0; i < I; i++) if (g.dx[(T + t) * I + i] !== 0) throw new Error(`dx[1,${t},${i}] should be 0`);
  });
}

/** Throws if a gradient is (almost) all zero: its finite-difference check would be vacuous. */
function expectNotVacuous(grads: object): void {
  for (const [name, g] of Object.entries(grads)) {
    if (g && !(g as Float64Array).some((v) => Math.abs(v) > 1e-3)) throw new Error(`${name} is (almost) all zero: the check would be vacuous`);
  }
}

/** The first `n` gate columns of the valid steps hold clipped (0 or 1) and unclipped hard_sigmoid values. */
function expectBothRegions(gates: Float64Array, lengths: number[], T: number, G: number, n: number): void {
  let clipped = 0, inside = 0;
  lengths.forEach((len, b) => {
    for (let t = 0; t < len; t++) for (let q = 0; q < n; q++) { const v = gates[(b * T + t) * G + q]; if (v === 0 || v === 1) clipped++; else inside++; }
  });
  if (clipped === 0 || inside === 0) throw new Error(`hard_sigmoid gates: ${clipped} clipped, ${inside} inside; the test wants both`);
}

// ------------------------------------------------------------------ variable lengths

/** A layer's whole-sequence forward on (x, h0, c0, lengths), with the weights of one case fixed. */
type SeqForward = (x: Float64Array, h0: Float64Array, c0: Float64Array, lengths: number[]) => {
  hs: Float64Array; hn: Float64Array; cs?: Float64Array; cn?: Float64Array; gates?: Float64Array;
};

const LENGTH_CELLS: [string, (rng: Rng, I: number, H: number) => SeqForward][] = [
  ['lstm', (rng, I, H) => { const w = randomWeights(rng, 4, I, H, 0.6); return (x, h0, c0, l) => { const o = cpuLstm.lstmForward(x, w, h0, c0, l); return { ...o, gates: o.saved.gates }; }; }],
  ['lstm peepholes activation=relu', (rng, I, H) => {
    const w = { ...randomWeights(rng, 4, I, H, 0.8), weight_peephole: f64(rng.uniformArray(3 * H)) };
    return (x, h0, c0, l) => { const o = cpuLstm.lstmForward(x, w, h0, c0, l, { activation: 'relu' }); return { ...o, gates: o.saved.gates }; };
  }],
  ['gru', (rng, I, H) => { const w = randomWeights(rng, 3, I, H, 0.8); return (x, h0, _c0, l) => { const o = cpuGru.gruForward(x, w, h0, l); return { ...o, gates: o.saved.gates }; }; }],
  ['gru resetAfter=false recurrentActivation=hard_sigmoid', (rng, I, H) => {
    const w = randomWeights(rng, 3, I, H, 0.8);
    return (x, h0, _c0, l) => { const o = cpuGru.gruForward(x, w, h0, l, { resetAfter: false, recurrentActivation: 'hard_sigmoid' }); return { ...o, gates: o.saved.gates }; };
  }],
  ['rnn', (rng, I, H) => { const w = randomWeights(rng, 1, I, H, 0.8); return (x, h0, _c0, l) => cpuRnn.rnnForward(x, w, h0, l); }],
  ['rnn relu', (rng, I, H) => { const w = randomWeights(rng, 1, I, H, 0.8); return (x, h0, _c0, l) => cpuRnn.rnnForward(x, w, h0, l, { nonlinearity: 'relu' }); }],
];

for (const [name, make] of LENGTH_CELLS) {
  test(`cpu ${name}: variable lengths equal running each row alone for its length, zeros past it, final states at its last step`, () => {
    const rng = new Rng(31);
    const B = 3, T = 4, I = 2, H = 3, lengths = [4, 1, 3];
    const forward = make(rng, I, H);
    const x = f64(rng.uniformArray(B * T * I)), h0 = f64(rng.uniformArray(B * H)), c0 = f64(rng.uniformArray(B * H));
    const all = forward(x, h0, c0, lengths);
    const same = { atol: 0, rtol: 0 }; // the same operations in the same order
    for (let b = 0; b < B; b++) {
      const L = lengths[b];
      const one = forward(x.slice(b * T * I, (b * T + L) * I), h0.slice(b * H, (b + 1) * H), c0.slice(b * H, (b + 1) * H), [L]);
      const pad = (a: Float64Array) => { const o = new Float64Array(T * H); o.set(a); return o; };
      const rowOf = (a: Float64Array, width: number) => a.slice(b * T * width, (b + 1) * T * width);
      expectClose(`hs row ${b}`, rowOf(all.hs, H), pad(one.hs), same);
      expectClose(`hn row ${b}`, all.hn.slice(b * H, (b + 1) * H), one.hs.slice((L - 1) * H, L * H), same);
      if (all.cs) {
        expectClose(`cs row ${b}`, rowOf(all.cs, H), pad(one.cs!), same);
        expectClose(`cn row ${b}`, all.cn!.slice(b * H, (b + 1) * H), one.cs!.slice((L - 1) * H, L * H), same);
      }
      if (all.gates) {
        const G = all.gates.length / (B * T);
        expectClose(`gates row ${b} past its length`, all.gates.slice((b * T + L) * G, (b + 1) * T * G), new Float64Array((T - L) * G), same);
      }
    }
  });
}

test('cpu forwards refuse lengths outside [1, T] and inconsistent sizes (lstm, gru, rnn)', () => {
  const rng = new Rng(11);
  const B = 3, T = 4, I = 2, H = 3;
  const lw = randomWeights(rng, 4, I, H, 0.6);
  const x = f64(rng.uniformArray(B * T * I)), h0 = f64(rng.uniformArray(B * H)), c0 = f64(rng.uniformArray(B * H));
  expectThrows(() => cpuLstm.lstmForward(x, lw, h0, c0, [4, 0, 1]), 'lstmStepForward', 'lengths[1] = 0', '[1, 4]');
  expectThrows(() => cpuLstm.lstmForward(x.slice(1), lw, h0, c0, [4, 2, 1]), 'lstmForward', 'x has 23 values');
  // GRU with H = 2, I = 2: weight_hh must have 3H·H = 12 values.
  const gw = { weight_ih: new Float64Array(12), weight_hh: new Float64Array(10), bias_ih: new Float64Array(6), bias_hh: new Float64Array(6) };
  expectThrows(() => cpuGru.gruForward(new Float64Array(8), gw, new Float64Array(2), [2]), 'gru (cpu)', 'inconsistent', 'weight_hh 10');
  expectThrows(() => cpuGru.gruForward(new Float64Array(8), { ...gw, weight_hh: new Float64Array(12) }, new Float64Array(4), [2, 3]), 'lengths[1] = 3', '[1, 2]');
  // RNN with H = 2, I = 3, B = 2, T = 3.
  const rw = { weight_ih: new Float64Array(6), weight_hh: new Float64Array(4), bias_ih: new Float64Array(2), bias_hh: new Float64Array(2) };
  expectThrows(() => cpuRnn.rnnForward(new Float64Array(2 * 3 * 3), rw, new Float64Array(4), [3, 0]), 'rnnForward', 'lengths[1] = 0', '[1, 3]');
  expectThrows(() => cpuRnn.rnnForward(new Float64Array(2 * 3 * 3), rw, new Float64Array(4), [4, 1]), 'lengths[0] = 4');
  expectThrows(() => cpuRnn.rnnForward(new Float64Array(2 * 3 * 3), rw, new Float64Array(5), [3, 1]), 'h0 has 5 values');
  expectThrows(() => cpuRnn.rnnForward(new Float64Array(18), { ...rw, weight_hh: new Float64Array(5) }, new Float64Array(4), [3, 1]), 'weight_hh');
});

// ------------------------------------------------------------------ layer options

const optionCases: [string, () => unknown, (string | RegExp)[]][] = [
  ['LSTM activation "hardSigmoid" (camel case)', () => new LSTM({ hiddenSize: 4, activation: 'hardSigmoid' as Loose }), [/LSTM "lstm": option activation/, /the string "hardSigmoid"/, /one of tanh, relu, sigmoid, hard_sigmoid, linear/, /did you mean hard_sigmoid\?/]],
  ['GRU activation "softmax"', () => new GRU({ hiddenSize: 4, activation: 'softmax' as Loose }), [/GRU "gru": option activation/, /the string "softmax"/, /one of tanh, relu/]],
  ['LSTM recurrentActivation "tanh"', () => new LSTM({ hiddenSize: 4, recurrentActivation: 'tanh' as Loose }), [/option recurrentActivation/, /the string "tanh"/, /one of sigmoid, hard_sigmoid/]],
  ['GRU recurrentActivation 1', () => new GRU({ hiddenSize: 4, recurrentActivation: 1 as Loose }), [/option recurrentActivation/, /got 1/, /one of sigmoid, hard_sigmoid/]],
  ['GRU resetAfter "false"', () => new GRU({ hiddenSize: 4, resetAfter: 'false' as Loose }), [/GRU "gru": option resetAfter/, /the string "false"/, /boolean/]],
  ['LSTM resetAfter', () => new LSTM({ hiddenSize: 4, resetAfter: false }), [/LSTM "lstm": option resetAfter/, /GRU only/]],
  ['LSTM peepholes 1', () => new LSTM({ hiddenSize: 4, peepholes: 1 as Loose }), [/option peepholes/, /got 1/, /boolean/]],
  ['GRU peepholes', () => new GRU({ hiddenSize: 4, peepholes: true }), [/GRU "gru": option peepholes/, /LSTM only/]],
  ['RNN activation', () => new RNN({ hiddenSize: 4, activation: 'relu' }), [/RNN "rnn": option activation/, /LSTM and GRU only/, /nonlinearity \('tanh' or 'relu'\)/]],
  ['RNN recurrentActivation', () => new RNN({ hiddenSize: 4, recurrentActivation: 'hard_sigmoid' }), [/option recurrentActivation/, /LSTM and GRU only/]],
  ['LSTM nonlinearity (Keras users mean activation)', () => new LSTM({ hiddenSize: 4, nonlinearity: 'relu' }), [/option nonlinearity applies to RNN only/, /activation and recurrentActivation/]],
  ['GRU option typo reset_after', () => new GRU({ hiddenSize: 4, reset_after: false } as Loose), [/unknown option "reset_after"/, /did you mean resetAfter\?/]],
  ['LSTM option typo use_peepholes', () => new LSTM({ hiddenSize: 4, use_peepholes: true } as Loose), [/unknown option "use_peepholes"/, /the options are/]],
  ['LSTM option typo recurrent_activation', () => new LSTM({ hiddenSize: 4, recurrent_activation: 'sigmoid' } as Loose), [/unknown option "recurrent_activation"/, /did you mean recurrentActivation\?/]],
];

test(`cell options are checked at construction (${optionCases.length} cases)`, () => {
  for (const [what, make, patterns] of optionCases) {
    try {
      expectThrows(make, ...patterns);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
});

test('config() round trip keeps the cell options; old configs without them get the defaults', () => {
  const layers: Layer[] = [
    new LSTM({ hiddenSize: 4, peepholes: true, activation: 'relu', recurrentActivation: 'hard_sigmoid', name: 'keras_lstm' }),
    new GRU({ hiddenSize: 4, resetAfter: false, activation: 'linear', recurrentActivation: 'hard_sigmoid', name: 'keras_gru' }),
    new LSTM({ hiddenSize: 4 }), new GRU({ hiddenSize: 4 }), new RNN({ hiddenSize: 4, nonlinearity: 'relu' }),
  ];
  for (const l of layers) {
    const c = l.config();
    const copy = layerFromConfig(c as LayerConfig);
    if (JSON.stringify(copy.config()) !== JSON.stringify(c)) throw new Error(`${l.name}: config round trip differs:\n${JSON.stringify(c)}\n${JSON.stringify(copy.config())}`);
  }
  const c0 = layers[0].config(), c1 = layers[1].config(), c4 = layers[4].config();
  if (c0.peepholes !== true || c0.activation !== 'relu' || c0.recurrentActivation !== 'hard_sigmoid' || 'resetAfter' in c0) throw new Error(`LSTM config: ${JSON.stringify(c0)}`);
  if (c1.resetAfter !== false || c1.activation !== 'linear' || 'peepholes' in c1) throw new Error(`GRU config: ${JSON.stringify(c1)}`);
  if ('activation' in c4 || 'recurrentActivation' in c4) throw new Error(`RNN config: ${JSON.stringify(c4)}`);
  const old = { type: 'GRU', name: 'g', hiddenSize: 4, inputSize: 3, numLayers: 1, bidirectional: false, dropout: 0, stateful: false };
  const fromOld = layerFromConfig(old).config();
  if (fromOld.resetAfter !== true || fromOld.activation !== 'tanh' || fromOld.recurrentActivation !== 'sigmoid') throw new Error(`old GRU config: ${JSON.stringify(fromOld)}`);
});

test('peepholes add weight_peephole_l{k}[_reverse] of shape (3, H) to the LSTM\'s parameters, after the PyTorch four', () => {
  const model = new Sequential([new LSTM({ hiddenSize: 5, numLayers: 2, bidirectional: true, peepholes: true, inputSize: 3 })]).configure();
  const names = model.namedParameters().map(([k, p]) => `${k} (${p.shape.join(', ')})`);
  const want: string[] = [];
  for (const l of [0, 1]) {
    for (const s of ['', '_reverse']) {
      const I = l === 0 ? 3 : 10;
      want.push(`lstm.weight_ih_l${l}${s} (20, ${I})`, `lstm.weight_hh_l${l}${s} (20, 5)`, `lstm.bias_ih_l${l}${s} (20)`, `lstm.bias_hh_l${l}${s} (20)`, `lstm.weight_peephole_l${l}${s} (3, 5)`);
    }
  }
  if (names.join('\n') !== want.join('\n')) throw new Error(`parameters:\n${names.join('\n')}\nexpected:\n${want.join('\n')}`);
  // Without peepholes (and for GRU's resetAfter false) the parameters are PyTorch's, unchanged.
  const plain = new Sequential([new GRU({ hiddenSize: 5, resetAfter: false, inputSize: 3 })]).configure();
  const plainNames = plain.namedParameters().map(([k]) => k).join(' ');
  if (plainNames !== 'gru.weight_ih_l0 gru.weight_hh_l0 gru.bias_ih_l0 gru.bias_hh_l0') throw new Error(`GRU parameters: ${plainNames}`);
});

// ------------------------------------------------------------------ CPU model and generation

/** The layers' configs and their initial parameters as a float64 state dict (no GPU). */
function cpuModelOf(layers: Layer[], seed: number): { configs: CpuLayerConfig[]; params: CpuParams } {
  const model = new Sequential(layers, { seed }).configure();
  const params: CpuParams = {};
  for (const [k, p] of model.namedParameters()) params[k] = f64(p.init);
  return { configs: model.layers.map((l) => l.config() as CpuLayerConfig), params };
}

for (const kind of ['lstm peepholes, hard_sigmoid', 'gru resetAfter false, relu'] as const) {
  test(`cpu model (embedding → 2-layer bidirectional ${kind} → dense) matches finite differences for every parameter`, () => {
    const rng = new Rng(41);
    const V = 7, B = 2, T = 3;
    const cell = kind.startsWith('lstm')
      ? new LSTM({ hiddenSize: 3, numLayers: 2, bidirectional: true, peepholes: true, recurrentActivation: 'hard_sigmoid' })
      : new GRU({ hiddenSize: 3, numLayers: 2, bidirectional: true, resetAfter: false, activation: 'relu' });
    const { configs, params } = cpuModelOf([new Embedding({ numEmbeddings: V, embeddingDim: 4 }), cell, new Dense({ units: V })], 3);
    const batch = { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths: Int32Array.from([3, 2]) };
    const h = { h: f64(rng.uniformArray(4 * B * 3, -0.5, 0.5)), c: f64(rng.uniformArray(4 * B * 3, -0.5, 0.5)) };
    const initial = { [cell.name]: kind.startsWith('lstm') ? h : { h: h.h } };
    const ref = cpuModelForwardBackward(configs, params, batch, 'softmax_cross_entropy', initial);
    const loss = () => cpuModelForwardBackward(configs, params, batch, 'softmax_cross_entropy', initial).loss;
    for (const [name, value] of Object.entries(params)) {
      if (!ref.grads[name]) throw new Error(`no gradient for ${name}`);
      expectClose(`d${name}`, ref.grads[name], numericalGrad(loss, value), FD_TOL);
    }
    if (kind.startsWith('lstm') && !Object.keys(ref.grads).includes(`${cell.name}.weight_peephole_l1_reverse`)) throw new Error('no peephole gradient');
    expectClose(`${cell.name} dh0`, ref.initialStateGrads[cell.name].h, numericalGrad(loss, initial[cell.name].h), FD_TOL);
  });
}

test('cpuGenerate runs each layer\'s cell options (teacher-forced logits equal the sequence reference)', () => {
  const rng = new Rng(43);
  const V = 6, E = 3, H = 4, N = 4;
  const emb = f64(rng.uniformArray(V * E));
  const lstm = { ...randomWeights(rng, 4, E, H, 0.9), weight_peephole: f64(rng.uniformArray(3 * H)) };
  const gru = randomWeights(rng, 3, H, H, 0.9);
  const head = { weight: f64(rng.uniformArray(V * H)), bias: f64(rng.uniformArray(V)), V };
  const lo = { recurrentActivation: 'hard_sigmoid' as const }, go = { resetAfter: false, activation: 'relu' as const };
  const prime = [2], forced = [Int32Array.from([4, 0, 5, 1])];
  const out = cpuGenerate({
    input: { embedding: emb, vocab: V, dim: E },
    layers: [{ cell: 'lstm', ...lstm, hiddenSize: H, options: lo }, { cell: 'gru', ...gru, hiddenSize: H, options: go }],
    head,
  }, { prime, length: N, forced });
  // The same tokens through the whole-sequence references: x = embeddings of prime + forced[:-1].
  const ids = [prime[0], ...Array.from(forced[0].slice(0, N - 1))];
  const x = new Float64Array(N * E);
  ids.forEach((id, t) => x.set(emb.subarray(id * E, (id + 1) * E), t * E));
  const zeros = new Float64Array(H), len = [N];
  const h1 = cpuLstm.lstmForward(x, lstm, zeros, zeros, len, lo).hs;
  const h2 = cpuGru.gruForward(h1, gru, zeros, len, go).hs;
  const want = new Float64Array(N * V);
  for (let t = 0; t < N; t++) for (let v = 0; v < V; v++) want[t * V + v] = head.bias[v] + dot(head.weight.subarray(v * H, (v + 1) * H), h2.subarray(t * H, (t + 1) * H));
  expectClose('logits', out.logits, want, { atol: 1e-14, rtol: 1e-12 }); // same float64 ops, sums in another order
});

// ------------------------------------------------------------------ layers with the options on a GPU context

function kerasModel(seed: number): Sequential {
  return new Sequential([
    new Embedding({ numEmbeddings: 9, embeddingDim: 4 }),
    new LSTM({ hiddenSize: 5, numLayers: 2, peepholes: true, recurrentActivation: 'hard_sigmoid', name: 'peep' }),
    new GRU({ hiddenSize: 3, resetAfter: false, activation: 'relu', name: 'keras_gru' }),
    new Dense({ units: 9 }),
  ], { seed });
}

test('checkpoints save and load the cell options and the peepholes (names, shapes, values)', async () => {
  const ctx = await gpu();
  const model = kerasModel(7).build(ctx);
  const bytes = await encodeModel(model);
  const file = decodeSafetensors(bytes);
  for (const name of ['peep.weight_peephole_l0', 'peep.weight_peephole_l1']) {
    const t = file.tensors.get(name);
    if (!t || t.shape.join(',') !== '3,5') throw new Error(`${name}: ${t ? `shape (${t.shape.join(', ')})` : 'missing'} in the checkpoint, expected (3, 5)`);
  }
  const { model: rebuilt } = modelFromCheckpoint(ctx, bytes, 'keras.safetensors');
  if (JSON.stringify(rebuilt.layers.map((l) => l.config())) !== JSON.stringify(model.layers.map((l) => l.config()))) throw new Error('rebuilt configs differ');
  const [a, b] = [await stateDict(model), await stateDict(rebuilt)];
  if (Object.keys(a).join() !== Object.keys(b).join()) throw new Error(`rebuilt parameters ${Object.keys(b).join()} differ from ${Object.keys(a).join()}`);
  for (const k of Object.keys(a)) expectClose(k, b[k].data, a[k].data, { atol: 0, rtol: 0 }); // a copy
  // Into an LSTM without peepholes the peepholes are unexpected: refused unless strict is off.
  const plain = new Sequential([
    new Embedding({ numEmbeddings: 9, embeddingDim: 4 }), new LSTM({ hiddenSize: 5, numLayers: 2, name: 'peep' }),
    new GRU({ hiddenSize: 3, name: 'keras_gru' }), new Dense({ units: 9 }),
  ], { seed: 7 }).build(ctx);
  expectThrows(() => decodeModelInto(plain, bytes, 'keras.safetensors'), /keras\.safetensors/, /peep\.weight_peephole_l0/);
  const report = decodeModelInto(plain, bytes, { source: 'keras.safetensors', strict: false });
  if (!report.unexpected.includes('peep.weight_peephole_l0')) throw new Error(`unexpected: ${report.unexpected.join(', ')}`);
  for (const m of [model, rebuilt, plain]) m.dispose();
});

test.run();
