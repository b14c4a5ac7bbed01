// Vanilla RNN sequence kernels (all timesteps in one dispatch, src/kernels/rnn_seq.ts) against the
// CPU reference step functions (src/cpu/rnn.ts), exactly as test/rnn.test.ts checks the step
// kernels, for tanh and relu at several rows-per-workgroup settings (including ones that leave a
// partial last workgroup); against the step kernels (rnnForwardSteps / rnnBackwardSteps) on
// the same inputs; and the model layer under the 'step' and 'sequence' schedules.
import { suite } from 'uvu';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { rnnBackwardFused, rnnForwardFused, rnnFusedSupported } from '../src/kernels/rnn_seq.ts';
import { rnnBackwardSteps, rnnForwardSteps, type RnnNonlinearity } from '../src/kernels/rnn.ts';
import type { SeqOptions } from '../src/kernels/lstm_seq.ts';
import * as cpu from '../src/cpu/rnn.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows, type Tolerance } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { Dense, Embedding, RNN, Sequential, type RecurrentSchedule } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';

const test = suite('rnn_seq');
const ACTS: RnnNonlinearity[] = ['tanh', 'relu'];

/** Inputs of the kernels, as the f32 values the GPU sees. */
interface Case {
  B: number; T: number; H: number;
  gx: Float32Array; whh: Float32Array; bhh: Float32Array; h0: Float32Array; lengths: Int32Array;
  dhs: Float32Array; dhn: Float32Array;
}

/** Seeded case, W_hh in ±whh; gx from random x on the CPU (float64) rounded to f32. */
function makeCase(seed: number, B: number, T: number, I: number, H: number, lengths: number[], whh: number): Case {
  const rng = new Rng(seed);
  const x = rng.uniformArray(B * T * I);
  const wih = rng.uniformArray(H * I, -0.5, 0.5), bih = rng.uniformArray(H, -0.2, 0.2);
  return {
    B, T, H,
    gx: Float32Array.from(cpu.rnnInputProjection(x, wih, bih, B, T, I, H)),
    whh: rng.uniformArray(H * H, -whh, whh), bhh: rng.uniformArray(H, -0.2, 0.2),
    h0: rng.uniformArray(B * H, -0.5, 0.5), lengths: Int32Array.from(lengths),
    dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H),
  };
}

type Out = { hs: Float32Array; hn: Float32Array; dgates: Float32Array; dh0: Float32Array };

/**
 * Forward then backward on the GPU with the sequence kernels (or, for comparison, the step
 * kernels); every output starts as NaN so that an element never written shows up.
 */
async function runGpu(ctx: GpuContext, c: Case, nonlinearity: RnnNonlinearity, schedule: 'sequence' | 'step', opts: SeqOptions = {}): Promise<Out> {
  const { B, T, H } = c;
  const made: Tensor[] = [];
  const t = (a: Float32Array | Int32Array, shape: number[], name: string) => { const x = ctx.tensor(a, shape, name); made.push(x); return x; };
  const nan = (shape: number[], name: string) => t(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(NaN), shape, name);
  const f = {
    gx: t(c.gx, [B, T, H], 'gx'), whh: t(c.whh, [H, H], 'whh'), bhh: t(c.bhh, [H], 'bhh'), h0: t(c.h0, [B, H], 'h0'),
    lengths: t(c.lengths, [B], 'lengths'), hs: nan([B, T, H], 'hs'), hn: nan([B, H], 'hn'),
  };
  const b = {
    dhs: t(c.dhs, [B, T, H], 'dhs'), dhn: t(c.dhn, [B, H], 'dhn'), hs: f.hs, whh: f.whh, lengths: f.lengths,
    dgates: nan([B, T, H], 'dgates'), dh0: nan([B, H], 'dh0'),
  };
  const before = ctx.dispatchCount;
  if (schedule === 'sequence') {
    rnnForwardFused(ctx, f, { nonlinearity, ...opts });
    rnnBackwardFused(ctx, b, { nonlinearity, ...opts });
    // The forward sequence dispatch + the final-state gather; the backward one + the initial-state entry.
    if (ctx.dispatchCount - before !== 4) throw new Error(`${ctx.dispatchCount - before} dispatches, expected 4`);
  } else {
    rnnForwardSteps(ctx, f, { nonlinearity });
    rnnBackwardSteps(ctx, b, { nonlinearity });
  }
  const out: Out = { hs: await ctx.read(f.hs), hn: await ctx.read(f.hn), dgates: await ctx.read(b.dgates), dh0: await ctx.read(b.dh0) };
  for (const x of made) x.release();
  return out;
}

/**
 * The CPU step functions: the forward on the case's inputs, the backward on the GPU's own hs (as in
 * test/rnn.test.ts), so that forward rounding does not enter the backward (relu's act'(h) = [h > 0]
 * would otherwise flip where h rounds across 0).
 */
function runCpu(c: Case, nonlinearity: RnnNonlinearity, gpuHs: Float32Array) {
  const { B, T, H } = c;
  const d = { B, T, H };
  const hs = new Float64Array(B * T * H), hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) cpu.rnnStepForward(d, t, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, hn }, { nonlinearity });
  const dgates = new Float64Array(B * T * H), dh0 = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) cpu.rnnStepBackward(d, t, { dhs: c.dhs, dhn: c.dhn, hs: gpuHs, whh: c.whh, lengths: c.lengths, dgates }, { nonlinearity });
  cpu.rnnBackwardInitial(d, { dgates, whh: c.whh, dh0 });
  return { hs, hn, dgates, dh0 };
}

function compareAll(c: Case, got: Out, want: Record<keyof Out, ArrayLike<number>>, fwd: Tolerance, bwd: Tolerance, tag: string): void {
  const { B, T, H } = c;
  expectClose(`hs (${tag})`, got.hs, want.hs, { ...fwd, shape: [B, T, H] });
  expectClose(`hn (${tag})`, got.hn, want.hn, { ...fwd, shape: [B, H] });
  expectClose(`dgates (${tag})`, got.dgates, want.dgates, { ...bwd, shape: [B, T, H] });
  expectClose(`dh0 (${tag})`, got.dh0, want.dh0, { ...bwd, shape: [B, H] });
}

/** The length rules, independently of any reference: zeros past each length, hn = h at len-1. */
function expectLengthRules(c: Case, g: Out): void {
  const { B, T, H } = c;
  for (let b = 0; b < B; b++) {
    const len = c.lengths[b];
    for (let j = 0; j < H; j++) {
      if (!Object.is(g.hn[b * H + j], g.hs[(b * T + len - 1) * H + j])) throw new Error(`hn[${b},${j}] is not hs[${b},${len - 1},${j}]`);
      for (let t = len; t < T; t++) {
        const i = (b * T + t) * H + j;
        if (g.hs[i] !== 0 || g.dgates[i] !== 0) throw new Error(`hs/dgates[${b},${t},${j}] not zero past length ${len}`);
      }
    }
  }
}

// As test/rnn.test.ts (same kernels' arithmetic, same summation order): f32 dot products of H
// terms against float64, absolute error ~eps·Σ_k|W_jk·h_k| compounded over the steps; measured
// ≤ 1.5e-6 at H = 128 there. T = 20 here compounds a little more, so the forward allows 1e-5.
const TOL_F = { atol: 1e-5, rtol: 1e-5 };
const TOL_B = { atol: 5e-6, rtol: 1e-5 };
// Sequence against step kernels on the GPU: the same f32 expressions in the same summation order;
// only where h_prev / dgates[t+1] are read from differs (workgroup memory vs storage). Measured
// bit-identical on lavapipe; a few ulps are allowed in case a compiler contracts differently.
const TOL_SAME = { atol: 1e-6, rtol: 1e-5 };

for (const nonlinearity of ACTS) {
  test(`${nonlinearity}: B=3, H=37, I=7, T=5, lengths [5,2,1], 1, 2 and 3 rows per workgroup`, async () => {
    const ctx = await gpu();
    const c = makeCase(1, 3, 5, 7, 37, [5, 2, 1], 0.3);
    for (const rowsPerWorkgroup of [1, 2, 3]) {
      const g = await runGpu(ctx, c, nonlinearity, 'sequence', { rowsPerWorkgroup });
      compareAll(c, g, runCpu(c, nonlinearity, g.hs), TOL_F, TOL_B, `${nonlinearity}, ${rowsPerWorkgroup} rows`);
      expectLengthRules(c, g);
    }
  });

  test(`${nonlinearity}: B=16, H=128, I=16, T=20, mixed lengths: CPU and step kernels, default rows per workgroup, 4 and 16`, async () => {
    const ctx = await gpu();
    const rng = new Rng(7);
    const lengths = Array.from({ length: 16 }, (_, b) => (b < 4 ? [20, 1, 7, 19][b] : 1 + rng.int(20)));
    // W_hh scaled by 1/√H as in PyTorch's init.
    const c = makeCase(2, 16, 20, 16, 128, lengths, 1 / Math.sqrt(128));
    const step = await runGpu(ctx, c, nonlinearity, 'step');
    for (const opts of [{}, { rowsPerWorkgroup: 4 }, { rowsPerWorkgroup: 16 }]) {
      const g = await runGpu(ctx, c, nonlinearity, 'sequence', opts);
      compareAll(c, g, runCpu(c, nonlinearity, g.hs), TOL_F, TOL_B, `${nonlinearity}, cpu, ${JSON.stringify(opts)}`);
      compareAll(c, g, step, TOL_SAME, TOL_SAME, `${nonlinearity}, step kernels, ${JSON.stringify(opts)}`);
      expectLengthRules(c, g);
    }
  });
}

test('tanh: B=5, H=300 (more units than invocations: each loops over units), T=4, 2 rows per workgroup', async () => {
  const ctx = await gpu();
  const c = makeCase(4, 5, 4, 3, 300, [4, 1, 3, 2, 4], 1 / Math.sqrt(300));
  const g = await runGpu(ctx, c, 'tanh', 'sequence', { rowsPerWorkgroup: 2 });
  compareAll(c, g, runCpu(c, 'tanh', g.hs), TOL_F, TOL_B, 'tanh H=300');
  expectLengthRules(c, g);
});

/** Half of gx becomes ±[150, 250]; the rest stays O(1) so that some units are unsaturated. */
function extremeCase(seed: number, whh: number): Case {
  const c = makeCase(seed, 3, 5, 7, 37, [5, 2, 1], whh);
  const rng = new Rng(seed + 100);
  c.gx = Float32Array.from(c.gx, (v) => (rng.next() < 0.5 ? v : (rng.next() < 0.5 ? -1 : 1) * rng.uniform(150, 250)));
  return c;
}

test('tanh at ±200 pre-activations: saturates to ±1 without NaN, matches CPU and the step kernels', async () => {
  const ctx = await gpu();
  const c = extremeCase(3, 0.3);
  const g = await runGpu(ctx, c, 'tanh', 'sequence', { rowsPerWorkgroup: 2 });
  // As in test/rnn.test.ts: saturated units are exact (tanh_safe(±200) = ±1, 1 − h² = 0); the
  // others see sums with 200-sized terms, so their absolute error is eps·200·(a few) ~ 5e-5.
  const tol = { atol: 2e-4, rtol: 1e-5 };
  compareAll(c, g, runCpu(c, 'tanh', g.hs), tol, tol, 'tanh ±200');
  compareAll(c, g, await runGpu(ctx, c, 'tanh', 'step'), TOL_SAME, TOL_SAME, 'tanh ±200, step kernels');
  for (const [name, v] of Object.entries(g)) if (!v.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  if (!g.hs.some((v) => Math.abs(v) === 1) || !g.hs.some((v) => v !== 0 && Math.abs(v) < 0.9)) throw new Error('extreme case lost its mix');
});

test('relu at ±200 pre-activations: no overflow, matches CPU and the step kernels', async () => {
  const ctx = await gpu();
  const c = extremeCase(4, 0.05);
  const g = await runGpu(ctx, c, 'relu', 'sequence', { rowsPerWorkgroup: 2 });
  // As in test/rnn.test.ts: h reaches a few hundred; dot products of 37 such terms in f32 give
  // absolute errors ~eps·1e3 per step, compounded over 5 steps (measured 6e-5 there).
  const tol = { atol: 5e-4, rtol: 1e-5 };
  compareAll(c, g, runCpu(c, 'relu', g.hs), tol, tol, 'relu ±200');
  // Values up to a few hundred: TOL_SAME's relative part covers a few ulps of them.
  compareAll(c, g, await runGpu(ctx, c, 'relu', 'step'), TOL_SAME, TOL_SAME, 'relu ±200, step kernels');
  for (const [name, v] of Object.entries(g)) if (!v.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  if (!(Math.max(...g.hs) > 100)) throw new Error('relu case does not reach large activations');
});

test('backward without dh0 records one dispatch and gives the same dgates', async () => {
  const ctx = await gpu();
  const c = makeCase(5, 4, 3, 5, 19, [1, 3, 2, 3], 0.3);
  const { B, T, H } = c;
  const made: Tensor[] = [];
  const t = (a: Float32Array | Int32Array, shape: number[], name: string) => { const x = ctx.tensor(a, shape, name); made.push(x); return x; };
  const f = {
    gx: t(c.gx, [B, T, H], 'gx'), whh: t(c.whh, [H, H], 'whh'), bhh: t(c.bhh, [H], 'bhh'), h0: t(c.h0, [B, H], 'h0'),
    lengths: t(c.lengths, [B], 'lengths'), hs: t(new Float32Array(B * T * H), [B, T, H], 'hs'), hn: t(new Float32Array(B * H), [B, H], 'hn'),
  };
  const dgates = t(new Float32Array(B * T * H).fill(NaN), [B, T, H], 'dgates');
  const dhs = t(c.dhs, [B, T, H], 'dhs'), dhn = t(c.dhn, [B, H], 'dhn');
  rnnForwardFused(ctx, f, { nonlinearity: 'relu' });
  const before = ctx.dispatchCount;
  rnnBackwardFused(ctx, { dhs, dhn, hs: f.hs, whh: f.whh, lengths: f.lengths, dgates }, { nonlinearity: 'relu' });
  if (ctx.dispatchCount - before !== 1) throw new Error(`${ctx.dispatchCount - before} dispatches without dh0, expected 1`);
  const hs = await ctx.read(f.hs);
  expectClose('dgates', await ctx.read(dgates), runCpu(c, 'relu', hs).dgates, { ...TOL_B, shape: [B, T, H] });
  for (const x of made) x.release();
});

test('bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 4;
  const made: Tensor[] = [];
  const z = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'z') => { const t = ctx.zeros(shape, dtype, name); made.push(t); return t; };
  const lengths = ctx.tensor(new Int32Array([T, 1]), [B], 'lengths'); made.push(lengths);
  const f = { gx: z([B, T, H], 'f32', 'gx'), whh: z([H, H], 'f32', 'whh'), bhh: z([H], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), lengths, hs: z([B, T, H], 'f32', 'hs'), hn: z([B, H], 'f32', 'hn') };
  const b = { dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), hs: f.hs, whh: f.whh, lengths, dgates: z([B, T, H], 'f32', 'dgates'), dh0: z([B, H], 'f32', 'dh0') };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = rnnForwardFused, S = rnnBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B, T, H + 1], 'f32', 'gx5') }), 'rnnForwardFused', 'gx (gx5)', '(2, 3, 5)', 'expected (*, *, 4)');
  expectThrows(() => F(ctx, { ...f, whh: z([H, H + 1], 'f32', 'w45') }), 'rnnForwardFused', 'whh (w45)', '(4, 5)', 'expected (5, 5)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T + 1, H], 'f32', 'hs4') }), 'rnnForwardFused', 'hs (hs4)', 'expected (2, 3, 4)');
  expectThrows(() => F(ctx, { ...f, h0: z([H, B], 'f32', 'h0t') }), 'rnnForwardFused', 'h0 (h0t)', 'expected (2, 4)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, bhh: z([H], 'i32', 'bhhi') }), 'bhh (bhhi)', 'dtype i32');
  expectThrows(() => F(ctx, { ...f, hn: f.h0 }), 'rnnForwardFused', 'hn and h0 must be different tensors');
  expectThrows(() => F(ctx, f, { nonlinearity: 'sigmoid' as RnnNonlinearity }), 'rnnForwardFused', 'nonlinearity', 'sigmoid');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'rnnForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H + 1], 'f32', 'dg5') }), 'rnnBackwardFused', 'dgates (dg5)', 'expected (2, 3, 4)');
  expectThrows(() => S(ctx, { ...b, dhn: z([B, H], 'i32', 'dhni') }), 'rnnBackwardFused', 'dhn (dhni)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dh0: z([B], 'f32', 'dh01') }), 'rnnBackwardFused', 'dh0 (dh01)', 'expected (2, 4)');
  expectThrows(() => S(ctx, { ...b, lengths: z([B + 1], 'i32', 'len3') }), 'rnnBackwardFused', 'lengths (len3)', 'expected (2)');
  expectThrows(() => S(ctx, { ...b, dgates: b.dhs }), 'rnnBackwardFused', 'dgates and dhs must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 2.5 }), 'rnnBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose (2·H floats per row) buffers cannot fit in workgroup memory is refused (and
  // reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 8) + 1;
  if (rnnFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!rnnFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f, { nonlinearity: 'relu' });
  S(ctx, b, { nonlinearity: 'relu' });
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  for (const t of made) t.release();
});

// ---------------------------------------------------------------- the model layer

/** Loss, every parameter's gradient and dh0 of an embedding → 2-layer bidirectional RNN → dense model. */
async function modelGradients(ctx: GpuContext, nonlinearity: RnnNonlinearity, layerSchedule: RecurrentSchedule | undefined): Promise<Map<string, Float32Array>> {
  const rnn = new RNN({ hiddenSize: 37, numLayers: 2, bidirectional: true, nonlinearity, schedule: layerSchedule });
  const model = new Sequential([new Embedding({ numEmbeddings: 13, embeddingDim: 7 }), rnn, new Dense({ units: 13 })], { seed: 5 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const rng = new Rng(6);
  const B = 3, T = 5;
  const before = ctx.dispatchCount;
  model.computeGradients({ x: rng.intArray(B * T, 13), shape: [B, T], y: rng.intArray(B * T, 13), lengths: Int32Array.from([5, 2, 1]) }, { training: false });
  const out = new Map<string, Float32Array>();
  out.set('dispatches', Float32Array.of(ctx.dispatchCount - before));
  out.set('loss', Float32Array.of(await model.readLoss()));
  for (const [name, p] of model.namedParameters()) out.set(`d${name}`, await ctx.read(p.grad!));
  out.set('dh0', await ctx.read(rnn.initialStateGrad!.h));
  model.dispose();
  return out;
}

test('model: step and sequence schedules give the same loss and gradients (tanh and relu; per-layer option and context setting)', async () => {
  const ctx = await gpu();
  try {
    for (const nonlinearity of ACTS) {
      ctx.configure({ recurrentSchedule: 'auto' });
      const step = await modelGradients(ctx, nonlinearity, 'step');
      const perLayer = await modelGradients(ctx, nonlinearity, 'sequence');
      ctx.configure({ recurrentSchedule: 'sequence' });
      const global = await modelGradients(ctx, nonlinearity, undefined);
      // The sequence kernels really ran: per (layer, direction) the step schedule records T forward
      // and T + 1 backward dispatches, the sequence schedule 1 and 2 (2 layers × 2 directions, T = 5).
      const saved = 4 * (2 * 5 + 1 - 3);
      for (const [what, run] of [['layer option', perLayer], ['context setting', global]] as const) {
        const d = step.get('dispatches')![0] - run.get('dispatches')![0];
        if (d !== saved) throw new Error(`${nonlinearity}, ${what}: the sequence schedule recorded ${d} dispatches fewer than the step schedule, expected ${saved}`);
      }
      for (const [name, want] of step) {
        if (name === 'dispatches') continue;
        expectClose(`${name} (${nonlinearity}, layer option)`, perLayer.get(name)!, want, TOL_SAME);
        expectClose(`${name} (${nonlinearity}, context setting)`, global.get(name)!, want, TOL_SAME);
      }
      if (!step.get('drnn.weight_hh_l1_reverse')!.some((v) => Math.abs(v) > 1e-4)) throw new Error(`${nonlinearity}: dweight_hh_l1_reverse is (almost) zero: the comparison would be vacuous`);
    }
  } finally {
    ctx.configure({ recurrentSchedule: 'auto' });
  }
});

test.run();
