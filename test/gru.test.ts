// GRU step kernels (src/kernels/gru.ts) against the CPU reference (src/cpu/gru.ts), and the CPU
// whole-sequence backward against central finite differences.
import { suite } from 'uvu';
import {
  gruBackwardInitial, gruBackwardSteps, gruForwardSteps, gruStepBackward, gruStepForward,
  type GruBackwardStepTensors, type GruForwardTensors,
} from '../src/kernels/gru.ts';
import * as cpu from '../src/cpu/gru.ts';
import type { StepKernelVariant } from '../src/kernels/step_variant.ts';
import { f64 } from '../src/cpu/math.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('gru');

// ------------------------------------------------------------------ CPU reference on its own

test('cpu forward matches the nn.GRU equations written out for one unit (b_hn inside r ⊙ ·)', () => {
  // B=1, T=2, I=1, H=1: every product is a scalar, so the equations can be written out here.
  const w = { weight_ih: [0.3, -0.7, 0.9], weight_hh: [-0.4, 0.6, 1.1], bias_ih: [0.1, 0.2, -0.3], bias_hh: [0.5, -0.25, 0.8] };
  const x = [0.8, -1.3], h0 = [0.35];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  let h = h0[0];
  const want: number[] = [];
  for (const xt of x) {
    const r = sig(w.weight_ih[0] * xt + w.bias_ih[0] + w.weight_hh[0] * h + w.bias_hh[0]);
    const z = sig(w.weight_ih[1] * xt + w.bias_ih[1] + w.weight_hh[1] * h + w.bias_hh[1]);
    const n = Math.tanh(w.weight_ih[2] * xt + w.bias_ih[2] + r * (w.weight_hh[2] * h + w.bias_hh[2]));
    h = (1 - z) * n + z * h;
    want.push(h);
  }
  const out = cpu.gruForward(x, w, h0, [2]);
  expectClose('hs', out.hs, want, { atol: 1e-15, rtol: 1e-14 }); // same float64 formulas: rounding only
  expectClose('hn', out.hn, [want[1]], { atol: 1e-15, rtol: 1e-14 });
});

test('cpu forward with variable lengths equals running each row alone for its length', () => {
  const rng = new Rng(11);
  const B = 3, T = 4, I = 2, H = 3, lengths = [4, 1, 3];
  const w = randomWeights(rng, I, H, 0.8);
  const x = rng.uniformArray(B * T * I), h0 = rng.uniformArray(B * H);
  const all = cpu.gruForward(x, w, h0, lengths);
  for (let b = 0; b < B; b++) {
    const L = lengths[b];
    const row = cpu.gruForward(x.slice(b * T * I, (b * T + L) * I), w, h0.slice(b * H, (b + 1) * H), [L]);
    const got = all.hs.slice(b * T * H, (b + 1) * T * H);
    const want = new Float64Array(T * H);
    want.set(row.hs);
    expectClose(`hs row ${b}`, got, want, { atol: 0, rtol: 0 }); // same operations in the same order
    expectClose(`hn row ${b}`, all.hn.slice(b * H, (b + 1) * H), row.hn, { atol: 0, rtol: 0 });
  }
});

test('cpu gruBackward matches central finite differences (x, weights, biases, h0; lengths [3, 1, 2])', () => {
  const rng = new Rng(3);
  const B = 3, T = 3, I = 4, H = 3, G = 3 * H, lengths = [3, 1, 2];
  const x = f64(rng.uniformArray(B * T * I));
  const w = {
    weight_ih: f64(rng.uniformArray(G * I)), weight_hh: f64(rng.uniformArray(G * H)),
    bias_ih: f64(rng.uniformArray(G)), bias_hh: f64(rng.uniformArray(G)),
  };
  const h0 = f64(rng.uniformArray(B * H));
  const ws = f64(rng.uniformArray(B * T * H)), wn = f64(rng.uniformArray(B * H));
  // A random projection of (hs, hn): its gradient w.r.t. hs is ws and w.r.t. hn is wn.
  const loss = () => { const o = cpu.gruForward(x, w, h0, lengths); return dot(ws, o.hs) + dot(wn, o.hn); };
  const fwd = cpu.gruForward(x, w, h0, lengths);
  const g = cpu.gruBackward(x, w, h0, lengths, fwd.saved, ws, wn);
  // Central differences with h = 1e-6 in float64: truncation ~1e-12, cancellation ~1e-10.
  const tol = { atol: 1e-8, rtol: 1e-6 };
  expectClose('dx', g.dx, numericalGrad(loss, x), { ...tol, shape: [B, T, I] });
  expectClose('dweight_ih', g.dweight_ih, numericalGrad(loss, w.weight_ih), { ...tol, shape: [G, I] });
  expectClose('dweight_hh', g.dweight_hh, numericalGrad(loss, w.weight_hh), { ...tol, shape: [G, H] });
  expectClose('dbias_ih', g.dbias_ih, numericalGrad(loss, w.bias_ih), tol);
  expectClose('dbias_hh', g.dbias_hh, numericalGrad(loss, w.bias_hh), tol);
  expectClose('dh0', g.dh0, numericalGrad(loss, h0), { ...tol, shape: [B, H] });
  // The padded steps of rows 1 and 2 get no gradient.
  if (g.dx.slice(1 * T * I + 1 * I, 2 * T * I).some((v) => v !== 0)) throw new Error('dx past length of row 1 is not 0');
});

test('cpu gruForward refuses inconsistent sizes and lengths out of range', () => {
  // H = 2, I = 2: weight_hh must have 3H·H = 12 values.
  const w = { weight_ih: new Float64Array(12), weight_hh: new Float64Array(10), bias_ih: new Float64Array(6), bias_hh: new Float64Array(6) };
  expectThrows(() => cpu.gruForward(new Float64Array(8), w, new Float64Array(2), [2]), 'gru (cpu)', 'inconsistent', 'weight_hh 10');
  const ok = { ...w, weight_hh: new Float64Array(12) };
  expectThrows(() => cpu.gruForward(new Float64Array(8), ok, new Float64Array(4), [2, 3]), 'lengths[1] = 3', '[1, 2]');
});

// ------------------------------------------------------------------ GPU against the CPU steps

function randomWeights(rng: Rng, I: number, H: number, s: number) {
  const G = 3 * H;
  return {
    weight_ih: rng.uniformArray(G * I, -s, s), weight_hh: rng.uniformArray(G * H, -s, s),
    bias_ih: rng.uniformArray(G, -s, s), bias_hh: rng.uniformArray(G, -s, s),
  };
}

/** Inputs of the step kernels, as the f32 values the GPU sees. */
interface Case {
  B: number; T: number; H: number;
  gx: Float32Array; whh: Float32Array; bhh: Float32Array; h0: Float32Array; lengths: Int32Array;
  dhs: Float32Array; dhn: Float32Array;
}

/** gx from x and W_ih on the CPU (the matmul kernel is tested elsewhere), rounded to f32. */
function makeCase(seed: number, B: number, T: number, I: number, H: number, lengths: number[]): Case {
  const rng = new Rng(seed);
  const s = 1 / Math.sqrt(H); // nn.GRU's initialisation range U(-1/√H, 1/√H)
  const w = randomWeights(rng, I, H, s);
  const x = rng.uniformArray(B * T * I);
  const gx = Float32Array.from(cpu.gruInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H));
  return {
    B, T, H, gx, whh: w.weight_hh, bhh: w.bias_hh, h0: rng.uniformArray(B * H), lengths: Int32Array.from(lengths),
    dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H),
  };
}

const nanFilled = (n: number) => new Float32Array(n).fill(NaN);

/** GPU tensors for a case; every output starts as NaN so that a value not written shows up. */
function upload(ctx: GpuContext, c: Case) {
  const { B, T, H } = c;
  const G = 3 * H;
  const t = (a: Float32Array | Int32Array, shape: number[], name: string) => ctx.tensor(a, shape, name);
  return {
    gx: t(c.gx, [B, T, G], 'gx'), whh: t(c.whh, [G, H], 'whh'), bhh: t(c.bhh, [G], 'bhh'), h0: t(c.h0, [B, H], 'h0'),
    lengths: t(c.lengths, [B], 'lengths'),
    hs: t(nanFilled(B * T * H), [B, T, H], 'hs'), gates: t(nanFilled(B * T * G), [B, T, G], 'gates'),
    hnLin: t(nanFilled(B * T * H), [B, T, H], 'hnLin'), hn: t(nanFilled(B * H), [B, H], 'hn'),
    dhs: t(c.dhs, [B, T, H], 'dhs'), dhn: t(c.dhn, [B, H], 'dhn'),
    dgates: t(nanFilled(B * T * G), [B, T, G], 'dgates'), dghh: t(nanFilled(B * T * G), [B, T, G], 'dghh'),
    dhCarry: t(nanFilled(B * H), [B, H], 'dhCarry'), dh0: t(nanFilled(B * H), [B, H], 'dh0'),
  };
}
type Gpu = ReturnType<typeof upload>;
const releaseAll = (g: Gpu) => { for (const v of Object.values(g)) (v as Tensor).release(); };

/** The CPU step functions run over the whole sequence on the case's f32 inputs. */
function cpuReference(c: Case) {
  const { B, T, H } = c;
  const d = { B, T, H }, G = 3 * H;
  const hs = new Float64Array(B * T * H), gates = new Float64Array(B * T * G), hnLin = new Float64Array(B * T * H), hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) cpu.gruStepForward(t, d, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, gates, hnLin, hn });
  const dgates = new Float64Array(B * T * G), dghh = new Float64Array(B * T * G), dhCarry = f64(c.dhn), dh0 = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) {
    cpu.gruStepBackward(t, d, { dhs: c.dhs, gates, hnLin, hs, h0: c.h0, whh: c.whh, lengths: c.lengths, dgates, dghh, dhCarry });
  }
  cpu.gruBackwardInitial(d, { dghh, whh: c.whh, dhCarry, dh0 });
  return { hs, gates, hnLin, hn, dgates, dghh, dh0 };
}

async function compareAll(ctx: GpuContext, c: Case, g: Gpu, tolF: { atol: number; rtol: number }, tolB: { atol: number; rtol: number }) {
  const { B, T, H } = c;
  const want = cpuReference(c);
  const shapeH = [B, T, H], shapeG = [B, T, 3 * H];
  expectClose('hs', await ctx.read(g.hs), want.hs, { ...tolF, shape: shapeH });
  expectClose('gates', await ctx.read(g.gates), want.gates, { ...tolF, shape: shapeG });
  expectClose('hnLin', await ctx.read(g.hnLin), want.hnLin, { ...tolF, shape: shapeH });
  expectClose('hn', await ctx.read(g.hn), want.hn, { ...tolF, shape: [B, H] });
  expectClose('dgates', await ctx.read(g.dgates), want.dgates, { ...tolB, shape: shapeG });
  expectClose('dghh', await ctx.read(g.dghh), want.dghh, { ...tolB, shape: shapeG });
  expectClose('dh0', await ctx.read(g.dh0), want.dh0, { ...tolB, shape: [B, H] });
}

// f32 against float64 over at most 5 dependent steps of H-long (3H-long in backward) dot products
// of O(1) terms: errors of ~1e-6 that grow slowly along t.
const TOL_F = { atol: 2e-5, rtol: 1e-4 };
const TOL_B = { atol: 2e-5, rtol: 1e-4 };

test('forward and backward sequences match the CPU steps at B=3, H=37, T=5, lengths [5, 2, 1]', async () => {
  const ctx = await gpu();
  const c = makeCase(1, 3, 5, 7, 37, [5, 2, 1]);
  const g = upload(ctx, c);
  const fwd: GruForwardTensors = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
  const before = ctx.dispatchCount;
  gruForwardSteps(ctx, fwd);
  gruBackwardSteps(ctx, {
    dhs: g.dhs, dhn: g.dhn, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths,
    dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry, dh0: g.dh0,
  });
  // T forward steps + the final-state gather, T backward steps + the initial-state entry.
  if (ctx.dispatchCount - before !== 2 * c.T + 2) throw new Error(`expected ${2 * c.T + 2} dispatches, got ${ctx.dispatchCount - before}`);
  await compareAll(ctx, c, g, TOL_F, TOL_B);
  releaseAll(g);
});

test('backward sequence without dhn and without a carry tensor (pool scratch) matches the CPU', async () => {
  const ctx = await gpu();
  const c = makeCase(2, 4, 3, 5, 19, [1, 3, 2, 3]);
  c.dhn.fill(0);
  const g = upload(ctx, c);
  gruForwardSteps(ctx, { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn });
  const live = ctx.memoryStats().liveBuffers;
  gruBackwardSteps(ctx, {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dh0: g.dh0,
  });
  if (ctx.memoryStats().liveBuffers !== live) throw new Error('gruBackwardSteps kept its scratch carry');
  await compareAll(ctx, c, g, TOL_F, TOL_B);
  releaseAll(g);
});

test('step wrappers at the realistic size B=64, H=128, T=3 (random lengths) match the CPU steps', async () => {
  const ctx = await gpu();
  const rng = new Rng(64);
  const lengths = Array.from({ length: 64 }, (_, b) => (b < 3 ? b + 1 : 1 + rng.int(3)));
  const c = makeCase(64, 64, 3, 16, 128, lengths);
  const g = upload(ctx, c);
  for (let t = 0; t < c.T; t++) {
    gruStepForward(ctx, t, { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn });
  }
  const step: GruBackwardStepTensors = {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
  };
  ctx.copy(g.dhn, g.dhCarry); // the carry starts as dhn
  for (let t = c.T - 1; t >= 0; t--) gruStepBackward(ctx, t, step);
  gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: g.dh0 });
  // 128- and 384-long f32 dot products with terms of ~1/√H·O(1): a few 1e-7 each, 3 steps.
  await compareAll(ctx, c, g, TOL_F, TOL_B);
  releaseAll(g);
});

test('pre-activations beyond ±200 give no NaN and match the CPU step by step', async () => {
  const ctx = await gpu();
  const rng = new Rng(200);
  const B = 3, T = 4, H = 37, G = 3 * H;
  // r gates: gx of magnitude 100..300 with random sign and W_hh rows up to ±20 (W_hh·h up to a few
  // hundred), b_hh ±50. z and n gates the same for even units j; for odd units gx_z, gx_n in ±2 and
  // small W_hz rows, so that z and n stay in their linear range while r saturates and hn_lin is
  // large: gradients then flow through n and z, and dr_pre = dn_pre·hn_lin·r(1−r) meets r(1−r) ≈ 0.
  const gx = new Float32Array(B * T * G);
  const moderate = (q: number) => q >= H && (q % H) % 2 === 1;
  for (let i = 0; i < gx.length; i++) {
    const q = i % G;
    gx[i] = moderate(q) ? rng.uniform(-2, 2) : (rng.next() < 0.5 ? -1 : 1) * rng.uniform(100, 300);
  }
  const whh = rng.uniformArray(G * H, -20, 20), bhh = rng.uniformArray(G, -50, 50);
  for (let j = 1; j < H; j += 2) {
    for (let k = 0; k < H; k++) whh[(H + j) * H + k] *= 0.005; // W_hz row j within ±0.1
    bhh[H + j] *= 0.01;
  }
  const c: Case = {
    B, T, H, gx, whh, bhh, h0: rng.uniformArray(B * H),
    lengths: Int32Array.from([4, 2, 1]), dhs: rng.uniformArray(B * T * H, -100, 100), dhn: rng.uniformArray(B * H, -100, 100),
  };
  const g = upload(ctx, c);
  const d = { B, T, H };
  // Forward step by step: the CPU step t is fed the GPU's own h_{t-1} (and hn), so that f32
  // rounding of one saturating step is not amplified by the next through weights of ±20.
  const rows = (a: ArrayLike<number>, t: number, D: number) => {
    const out: number[] = [];
    for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) out.push(a[(b * T + t) * D + j]);
    return out;
  };
  let maxPre = 0;
  for (let t = 0; t < T; t++) {
    const hs = f64(await ctx.read(g.hs)), hn = f64(await ctx.read(g.hn));
    const gates = new Float64Array(B * T * G), hnLin = new Float64Array(B * T * H);
    gruStepForward(ctx, t, { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn });
    cpu.gruStepForward(t, d, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, gates, hnLin, hn });
    // The pre-activations this step reached (r, z: gx + W_hh·h_prev + b_hh; n: gx_n + r·hn_lin).
    for (let b = 0; b < B; b++) {
      if (t >= c.lengths[b]) continue;
      for (let q = 0; q < G; q++) {
        let pre = c.gx[(b * T + t) * G + q];
        if (q < 2 * H) {
          pre += c.bhh[q];
          for (let k = 0; k < H; k++) pre += c.whh[q * H + k] * (t === 0 ? c.h0[b * H + k] : hs[(b * T + t - 1) * H + k]);
        } else {
          pre += gates[(b * T + t) * G + q - 2 * H] * hnLin[(b * T + t) * H + q - 2 * H];
        }
        maxPre = Math.max(maxPre, Math.abs(pre));
      }
    }
    // Saturated sigmoids/tanh are flat, but where a pre-activation (~1e2, summed in f32 with a
    // relative error ~1e-7 · Σ|terms| ≈ 1e-4) lands in the linear range the gate moves by ~1e-4.
    const tol = { atol: 1e-3, rtol: 1e-3 };
    expectClose(`hs[:, ${t}]`, rows(await ctx.read(g.hs), t, H), rows(hs, t, H), tol);
    expectClose(`gates[:, ${t}]`, rows(await ctx.read(g.gates), t, G), rows(gates, t, G), tol);
    // hn_lin is a 37-term f32 dot product of ±20 weights with |h| ≤ 1, plus b_hn: ~1e-4 absolute.
    expectClose(`hnLin[:, ${t}]`, rows(await ctx.read(g.hnLin), t, H), rows(hnLin, t, H), { atol: 1e-3, rtol: 1e-5 });
    // hn is gathered once, with the last step: each row's hs at its last valid step, copied.
    if (t === T - 1) {
      const hsGpu = f64(await ctx.read(g.hs));
      const want = Array.from({ length: B * H }, (_, i) => hsGpu[(Math.floor(i / H) * T + c.lengths[Math.floor(i / H)] - 1) * H + (i % H)]);
      expectClose('hn after the last step', await ctx.read(g.hn), want, { atol: 0, rtol: 0 });
    }
  }
  if (maxPre < 200) throw new Error(`test does not reach ±200 pre-activations (max ${maxPre})`);
  // Backward step by step, each CPU step fed the GPU's carry and dghh[:, t+1].
  ctx.copy(g.dhn, g.dhCarry);
  const hs = f64(await ctx.read(g.hs)), gates = f64(await ctx.read(g.gates)), hnLin = f64(await ctx.read(g.hnLin));
  const step: GruBackwardStepTensors = {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
  };
  for (let t = T - 1; t >= 0; t--) {
    const dhCarry = f64(await ctx.read(g.dhCarry)), dghh = f64(await ctx.read(g.dghh));
    gruStepBackward(ctx, t, step);
    const dgates = new Float64Array(B * T * G);
    cpu.gruStepBackward(t, d, { dhs: c.dhs, gates, hnLin, hs, h0: c.h0, whh: c.whh, lengths: c.lengths, dgates, dghh, dhCarry });
    // dh reaches ~1e2 (dhs, dhn ±100) and sums 3H terms dghh·W with |W| ≤ 20 (Σ|terms| up to ~1e4,
    // f32 rounding ~1e-7 each): ~1e-3 absolute; saturated derivatives are exactly 0 in f32 where
    // float64 has ~1e-80, which is far inside atol.
    const tol = { atol: 1e-2, rtol: 1e-3 };
    expectClose(`dgates[:, ${t}]`, rows(await ctx.read(g.dgates), t, G), rows(dgates, t, G), tol);
    expectClose(`dghh[:, ${t}]`, rows(await ctx.read(g.dghh), t, G), rows(dghh, t, G), tol);
    expectClose(`dhCarry after step ${t}`, await ctx.read(g.dhCarry), dhCarry, tol);
  }
  const dhCarry = f64(await ctx.read(g.dhCarry)), dghh = f64(await ctx.read(g.dghh)), dh0 = new Float64Array(B * H);
  gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: g.dh0 });
  cpu.gruBackwardInitial(d, { dghh, whh: c.whh, dhCarry, dh0 });
  expectClose('dh0', await ctx.read(g.dh0), dh0, { atol: 1e-2, rtol: 1e-3 });
  for (const name of ['hs', 'gates', 'hnLin', 'hn', 'dgates', 'dghh', 'dhCarry', 'dh0'] as const) {
    const v = await ctx.read(g[name]);
    if (!v.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  }
  releaseAll(g);
});

// ------------------------------------------------------------------ bad input

test('bad shapes, dtypes, timesteps and aliases are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const c = makeCase(9, 3, 5, 2, 4, [5, 2, 1]);
  const g = upload(ctx, c);
  const fwd: GruForwardTensors = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
  const step: GruBackwardStepTensors = {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
  };
  const wrongWhh = ctx.zeros([12, 5], 'f32', 'whh_bad');
  const gx2H = ctx.zeros([3, 5, 8], 'f32', 'gx_bad');
  const lenF = ctx.zeros([3], 'f32', 'len_f32');
  const hnBad = ctx.zeros([3, 5], 'f32', 'hn_bad');
  const dgatesI = ctx.zeros([3, 5, 12], 'i32', 'dgates_i32');
  const carryBad = ctx.zeros([2, 4], 'f32', 'carry_bad');
  const before = ctx.dispatchCount;
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, whh: wrongWhh }), 'gruStepForward', 'whh', '(12, 5)', 'expected (15, 5)');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, gx: gx2H }), 'gruStepForward', 'gx', '(3, 5, 8)', 'expected (*, *, 12)');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, lengths: lenF }), 'gruStepForward', 'lengths', 'dtype f32', 'expected i32');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, hn: hnBad }), 'gruStepForward', 'hn', '(3, 5)', 'expected (3, 4)');
  expectThrows(() => gruStepForward(ctx, 5, fwd), 'gruStepForward', 't must be an integer in [0, 4]', 'got 5');
  expectThrows(() => gruStepForward(ctx, -1, fwd), 'gruStepForward', 'got -1');
  expectThrows(() => gruStepForward(ctx, 1.5, fwd), 'gruStepForward', 'got 1.5');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, hnLin: g.hs }), 'gruStepForward', 'hnLin and hs must be different tensors');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, bhh: undefined as unknown as Tensor }), 'gruStepForward', 'bhh must be a Tensor');
  expectThrows(() => gruForwardSteps(ctx, { ...fwd, gates: hnBad }), 'gruForwardSteps', 'gates', 'expected (3, 5, 12)');
  expectThrows(() => gruStepBackward(ctx, 4, { ...step, dgates: dgatesI }), 'gruStepBackward', 'dgates', 'dtype i32', 'expected f32');
  expectThrows(() => gruStepBackward(ctx, 4, { ...step, dhCarry: carryBad }), 'gruStepBackward', 'dhCarry', '(2, 4)', 'expected (3, 4)');
  expectThrows(() => gruStepBackward(ctx, 5, step), 'gruStepBackward', 'got 5');
  expectThrows(() => gruStepBackward(ctx, 0, { ...step, dghh: g.dgates }), 'gruStepBackward', 'dghh and dgates must be different tensors');
  expectThrows(() => gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: carryBad }), 'gruBackwardInitial', 'dh0', 'expected (3, 4)');
  const copiesBefore = await ctx.read(g.dhCarry);
  expectThrows(() => gruBackwardSteps(ctx, { ...step, dhn: carryBad, dh0: g.dh0 }), 'gruBackwardSteps', 'dhn', '(2, 4)');
  expectThrows(() => gruBackwardSteps(ctx, { ...step, dhn: g.dhn, dh0: g.dhn }), 'gruBackwardSteps', 'dhn and dh0 must be different tensors');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  // Nor was the carry copy of gruBackwardSteps recorded.
  expectClose('dhCarry untouched', await ctx.read(g.dhCarry), copiesBefore, { atol: 0, rtol: 0 });
  for (const t of [wrongWhh, gx2H, lenF, hnBad, dgatesI, carryBad]) t.release();
  releaseAll(g);
});

// ------------------------------------------------------------------ register-blocked variant

/** Forward and backward (steps when `steps`, else the sequence functions) with variant `v`;
 *  returns every output buffer. */
async function runVariant(ctx: GpuContext, c: Case, v: StepKernelVariant, steps: boolean): Promise<Record<string, Float32Array>> {
  const g = upload(ctx, c);
  const prev = ctx.configure({ stepVariant: v });
  try {
    const fwd: GruForwardTensors = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
    const step: GruBackwardStepTensors = {
      dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
    };
    if (steps) {
      for (let t = 0; t < c.T; t++) gruStepForward(ctx, t, fwd);
      ctx.copy(g.dhn, g.dhCarry);
      for (let t = c.T - 1; t >= 0; t--) gruStepBackward(ctx, t, step);
      gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: g.dh0 });
    } else {
      gruForwardSteps(ctx, fwd);
      gruBackwardSteps(ctx, { ...step, dhn: g.dhn, dh0: g.dh0 });
    }
  } finally {
    ctx.configure(prev);
  }
  const out: Record<string, Float32Array> = {};
  for (const k of ['hs', 'gates', 'hnLin', 'hn', 'dgates', 'dghh', 'dhCarry', 'dh0'] as const) out[k] = new Float32Array(await ctx.read(g[k]));
  releaseAll(g);
  return out;
}

test('blocked kernels are bit-identical to the plain ones (B=3 H=37 T=5 [5,2,1]; B=5 with R=4; B=64 H=128 T=3)', async () => {
  const ctx = await gpu();
  const rng = new Rng(65);
  const cases: [Case, boolean][] = [
    [makeCase(31, 3, 5, 7, 37, [5, 2, 1]), true],
    [makeCase(32, 5, 4, 7, 37, [4, 1, 3, 2, 4]), false], // B = 5: a full block of 4 and a block of 1
    [makeCase(33, 64, 3, 16, 128, Array.from({ length: 64 }, (_, b) => (b % 5 === 0 ? 1 + rng.int(3) : 3))), false],
  ];
  for (const [c, steps] of cases) {
    const plain = await runVariant(ctx, c, 'plain', steps);
    const blocked = await runVariant(ctx, c, 'blocked', steps);
    // Same sums in the same order: every output must match bit for bit.
    for (const k of Object.keys(plain)) expectClose(`${k} (B=${c.B}, H=${c.H})`, blocked[k], plain[k], { atol: 0, rtol: 0 });
    // Not vacuous: the plain outputs match the CPU reference (and every element was written: no NaN).
    const want = cpuReference(c);
    expectClose('plain hs', plain.hs, want.hs, TOL_F);
    expectClose('plain dh0', plain.dh0, want.dh0, TOL_B);
    if (!Object.values(blocked).every((a) => a.every(Number.isFinite))) throw new Error('blocked left an output unwritten (NaN)');
  }
});

test.run();
