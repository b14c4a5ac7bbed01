// GRU sequence kernels (all timesteps in one dispatch, src/kernels/gru_seq.ts) against the CPU
// reference step functions (src/cpu/gru.ts), exactly as test/gru.test.ts checks the step kernels,
// at several rows-per-workgroup settings (including ones that leave a partial last workgroup); against
// the step kernels (gruForwardSteps / gruBackwardSteps) on the same inputs; and the model layer
// under the 'step' and 'sequence' schedules.
import { suite } from 'uvu';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { gruBackwardFused, gruForwardFused, gruFusedSupported } from '../src/kernels/gru_seq.ts';
import { gruBackwardSteps, gruForwardSteps } from '../src/kernels/gru.ts';
import type { SeqOptions } from '../src/kernels/lstm_seq.ts';
import * as cpu from '../src/cpu/gru.ts';
import { f64 } from '../src/cpu/math.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { Dense, Embedding, GRU, Sequential, type RecurrentSchedule } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';

const test = suite('gru_seq');

/** Inputs of the kernels, as the f32 values the GPU sees. */
interface Case {
  B: number; T: number; H: number;
  gx: Float32Array; whh: Float32Array; bhh: Float32Array; h0: Float32Array; lengths: Int32Array;
  dhs: Float32Array; dhn: Float32Array;
}

/** Random case with nn.GRU's init range U(-1/√H, 1/√H); gx from random x on the CPU, rounded to f32. */
function makeCase(seed: number, B: number, T: number, I: number, H: number, lengths: number[]): Case {
  const rng = new Rng(seed);
  const G = 3 * H, s = 1 / Math.sqrt(H);
  const wih = rng.uniformArray(G * I, -s, s), bih = rng.uniformArray(G, -s, s);
  const x = rng.uniformArray(B * T * I);
  return {
    B, T, H,
    gx: Float32Array.from(cpu.gruInputProjection(x, wih, bih, B, T, I, H)),
    whh: rng.uniformArray(G * H, -s, s), bhh: rng.uniformArray(G, -s, s),
    h0: rng.uniformArray(B * H), lengths: Int32Array.from(lengths),
    dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H),
  };
}

type Out = { hs: Float32Array; gates: Float32Array; hnLin: Float32Array; hn: Float32Array; dgates: Float32Array; dghh: Float32Array; dhCarry: Float32Array; dh0: Float32Array };

/**
 * Forward then backward on the GPU with the sequence kernels (or, for comparison, the step
 * kernels); every output starts as NaN so that an element never written shows up.
 */
async function runGpu(ctx: GpuContext, c: Case, schedule: 'sequence' | 'step', opts: SeqOptions = {}): Promise<Out> {
  const { B, T, H } = c, G = 3 * H;
  const made: Tensor[] = [];
  const t = (a: Float32Array | Int32Array, shape: number[], name: string) => { const x = ctx.tensor(a, shape, name); made.push(x); return x; };
  const nan = (shape: number[], name: string) => t(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(NaN), shape, name);
  const f = {
    gx: t(c.gx, [B, T, G], 'gx'), whh: t(c.whh, [G, H], 'whh'), bhh: t(c.bhh, [G], 'bhh'), h0: t(c.h0, [B, H], 'h0'),
    lengths: t(c.lengths, [B], 'lengths'), hs: nan([B, T, H], 'hs'), gates: nan([B, T, G], 'gates'),
    hnLin: nan([B, T, H], 'hnLin'), hn: nan([B, H], 'hn'),
  };
  const b = {
    dhs: t(c.dhs, [B, T, H], 'dhs'), dhn: t(c.dhn, [B, H], 'dhn'), gates: f.gates, hnLin: f.hnLin, hs: f.hs, h0: f.h0,
    whh: f.whh, lengths: f.lengths, dgates: nan([B, T, G], 'dgates'), dghh: nan([B, T, G], 'dghh'),
    dhCarry: nan([B, H], 'dhCarry'), dh0: nan([B, H], 'dh0'),
  };
  const before = ctx.dispatchCount;
  if (schedule === 'sequence') {
    gruForwardFused(ctx, f, opts);
    gruBackwardFused(ctx, b, opts);
    // The forward sequence dispatch + the final-state gather; the backward one + the initial-state entry.
    if (ctx.dispatchCount - before !== 4) throw new Error(`${ctx.dispatchCount - before} dispatches, expected 4`);
  } else {
    gruForwardSteps(ctx, f);
    gruBackwardSteps(ctx, b);
  }
  const out: Out = {
    hs: await ctx.read(f.hs), gates: await ctx.read(f.gates), hnLin: await ctx.read(f.hnLin), hn: await ctx.read(f.hn),
    dgates: await ctx.read(b.dgates), dghh: await ctx.read(b.dghh), dhCarry: await ctx.read(b.dhCarry), dh0: await ctx.read(b.dh0),
  };
  for (const x of made) x.release();
  return out;
}

/** The CPU step functions over the whole sequence (float64 on the case's f32 inputs). */
function runCpu(c: Case) {
  const { B, T, H } = c;
  const d = { B, T, H }, G = 3 * H;
  const hs = new Float64Array(B * T * H), gates = new Float64Array(B * T * G), hnLin = new Float64Array(B * T * H), hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) cpu.gruStepForward(t, d, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, gates, hnLin, hn });
  const dgates = new Float64Array(B * T * G), dghh = new Float64Array(B * T * G), dhCarry = f64(c.dhn), dh0 = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) {
    cpu.gruStepBackward(t, d, { dhs: c.dhs, gates, hnLin, hs, h0: c.h0, whh: c.whh, lengths: c.lengths, dgates, dghh, dhCarry });
  }
  cpu.gruBackwardInitial(d, { dghh, whh: c.whh, dhCarry, dh0 });
  return { hs, gates, hnLin, hn, dgates, dghh, dhCarry, dh0 };
}

type Tol = { atol: number; rtol: number };

function compareAll(c: Case, got: Out, want: Record<keyof Out, ArrayLike<number>>, fwd: Tol, bwd: Tol, tag = ''): void {
  const { B, T, H } = c, G = 3 * H;
  expectClose(`hs${tag}`, got.hs, want.hs, { ...fwd, shape: [B, T, H] });
  expectClose(`gates${tag}`, got.gates, want.gates, { ...fwd, shape: [B, T, G] });
  expectClose(`hnLin${tag}`, got.hnLin, want.hnLin, { ...fwd, shape: [B, T, H] });
  expectClose(`hn${tag}`, got.hn, want.hn, { ...fwd, shape: [B, H] });
  expectClose(`dgates${tag}`, got.dgates, want.dgates, { ...bwd, shape: [B, T, G] });
  expectClose(`dghh${tag}`, got.dghh, want.dghh, { ...bwd, shape: [B, T, G] });
  expectClose(`dhCarry${tag}`, got.dhCarry, want.dhCarry, { ...bwd, shape: [B, H] });
  expectClose(`dh0${tag}`, got.dh0, want.dh0, { ...bwd, shape: [B, H] });
}

/** The length rules, independently of any reference: zeros past each length, hn = h at len-1. */
function expectLengthRules(c: Case, g: Out): void {
  const { B, T, H } = c, G = 3 * H;
  for (let b = 0; b < B; b++) {
    const len = c.lengths[b];
    for (let j = 0; j < H; j++) {
      if (!Object.is(g.hn[b * H + j], g.hs[(b * T + len - 1) * H + j])) throw new Error(`hn[${b},${j}] is not hs[${b},${len - 1},${j}]`);
    }
    for (let t = len; t < T; t++) {
      for (let j = 0; j < H; j++) {
        if (g.hs[(b * T + t) * H + j] !== 0 || g.hnLin[(b * T + t) * H + j] !== 0) throw new Error(`hs/hnLin[${b},${t},${j}] not zero past length ${len}`);
      }
      for (let q = 0; q < G; q++) {
        const i = (b * T + t) * G + q;
        if (g.gates[i] !== 0 || g.dgates[i] !== 0 || g.dghh[i] !== 0) throw new Error(`gates/dgates/dghh[${b},${t},${q}] not zero past length ${len}`);
      }
    }
  }
}

// Same reasoning (and values) as test/gru.test.ts: f32 against float64 over at most 20 dependent
// steps of H-long (3H-long in backward) dot products of O(1)·1/√H terms: errors of ~1e-6 that grow
// slowly along t. The sequence kernels sum in the same order as the step kernels.
const TOL_F = { atol: 2e-5, rtol: 1e-4 };
const TOL_B = { atol: 2e-5, rtol: 1e-4 };
// Sequence against step kernels on the GPU: the same f32 expressions in the same summation order;
// only where h_prev / dghh[t+1] are read from differs (workgroup memory vs storage). A few ulps are
// allowed in case the compiler contracts a multiply-add differently in the two shaders.
const TOL_SAME = { atol: 1e-6, rtol: 1e-5 };

for (const rowsPerWorkgroup of [1, 2, 3]) {
  test(`B=3, H=37, I=7, T=5, lengths [5,2,1], ${rowsPerWorkgroup} row(s) per workgroup`, async () => {
    const ctx = await gpu();
    const c = makeCase(1, 3, 5, 7, 37, [5, 2, 1]);
    const g = await runGpu(ctx, c, 'sequence', { rowsPerWorkgroup });
    compareAll(c, g, runCpu(c), TOL_F, TOL_B);
    expectLengthRules(c, g);
  });
}

test('B=5, H=300 (more units than invocations: each loops over units), T=4, 2 rows per workgroup', async () => {
  const ctx = await gpu();
  const c = makeCase(4, 5, 4, 3, 300, [4, 1, 3, 2, 4]);
  const g = await runGpu(ctx, c, 'sequence', { rowsPerWorkgroup: 2 });
  compareAll(c, g, runCpu(c), TOL_F, TOL_B);
  expectLengthRules(c, g);
});

test('B=16, H=128, I=32, T=20, mixed lengths: CPU and step kernels, default rows per workgroup, 4 and 16', async () => {
  const ctx = await gpu();
  const rng = new Rng(2);
  const lengths = Array.from({ length: 16 }, (_, b) => (b < 4 ? [20, 1, 7, 19][b] : 1 + rng.int(20)));
  const c = makeCase(2, 16, 20, 32, 128, lengths);
  const want = runCpu(c);
  const step = await runGpu(ctx, c, 'step');
  for (const opts of [{}, { rowsPerWorkgroup: 4 }, { rowsPerWorkgroup: 16 }]) {
    const g = await runGpu(ctx, c, 'sequence', opts);
    compareAll(c, g, want, TOL_F, TOL_B, ` (cpu, ${JSON.stringify(opts)})`);
    compareAll(c, g, step, TOL_SAME, TOL_SAME, ` (step kernels, ${JSON.stringify(opts)})`);
    expectLengthRules(c, g);
  }
});

test('backward without dhn and without a carry tensor (pool scratch) matches the CPU', async () => {
  const ctx = await gpu();
  const c = makeCase(3, 4, 3, 5, 19, [1, 3, 2, 3]);
  const { B, T, H } = c, G = 3 * H;
  const made: Tensor[] = [];
  const t = (a: Float32Array | Int32Array, shape: number[], name: string) => { const x = ctx.tensor(a, shape, name); made.push(x); return x; };
  const nan = (shape: number[], name: string) => t(new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(NaN), shape, name);
  const f = {
    gx: t(c.gx, [B, T, G], 'gx'), whh: t(c.whh, [G, H], 'whh'), bhh: t(c.bhh, [G], 'bhh'), h0: t(c.h0, [B, H], 'h0'),
    lengths: t(c.lengths, [B], 'lengths'), hs: nan([B, T, H], 'hs'), gates: nan([B, T, G], 'gates'),
    hnLin: nan([B, T, H], 'hnLin'), hn: nan([B, H], 'hn'),
  };
  const dgates = nan([B, T, G], 'dgates'), dghh = nan([B, T, G], 'dghh'), dh0 = nan([B, H], 'dh0');
  gruForwardFused(ctx, f, { rowsPerWorkgroup: 3 });
  const live = ctx.memoryStats().liveBuffers;
  gruBackwardFused(ctx, {
    dhs: t(c.dhs, [B, T, H], 'dhs'), gates: f.gates, hnLin: f.hnLin, hs: f.hs, h0: f.h0, whh: f.whh, lengths: f.lengths, dgates, dghh, dh0,
  }, { rowsPerWorkgroup: 3 });
  if (ctx.memoryStats().liveBuffers !== live + 1) throw new Error('gruBackwardFused kept its scratch carry'); // +1: dhs
  c.dhn.fill(0);
  const want = runCpu(c);
  expectClose('dgates', await ctx.read(dgates), want.dgates, { ...TOL_B, shape: [B, T, G] });
  expectClose('dghh', await ctx.read(dghh), want.dghh, { ...TOL_B, shape: [B, T, G] });
  expectClose('dh0', await ctx.read(dh0), want.dh0, { ...TOL_B, shape: [B, H] });
  for (const x of made) x.release();
});

test('pre-activations beyond ±200: finite, and equal to the step kernels', async () => {
  const ctx = await gpu();
  const rng = new Rng(200);
  const B = 3, T = 4, H = 37, G = 3 * H;
  const c = makeCase(5, B, T, 5, H, [4, 2, 1]);
  // gx of magnitude 100..300 with random sign and W_hh up to ±20, b_hh ±50: every gate saturates
  // somewhere and hn_lin is large. With such weights f32 rounding of one step is amplified by the
  // next, so the reference is the step kernels (the same f32 arithmetic), not float64.
  for (let i = 0; i < c.gx.length; i++) c.gx[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(100, 300);
  c.whh = rng.uniformArray(G * H, -20, 20);
  c.bhh = rng.uniformArray(G, -50, 50);
  c.dhs = rng.uniformArray(B * T * H, -100, 100);
  c.dhn = rng.uniformArray(B * H, -100, 100);
  const g = await runGpu(ctx, c, 'sequence', { rowsPerWorkgroup: 2 });
  const step = await runGpu(ctx, c, 'step');
  for (const [name, v] of Object.entries(g)) if (!v.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  // Saturated gates are exactly 0/1 in both; the rest go through the same expressions (measured
  // bit-identical on lavapipe). hn_lin reaches ~2e2 and dhCarry / dh0 ~5e2, sums of terms up to
  // ±20·|·| each, so a different contraction would show up as a few ulps of those terms: the
  // absolute parts cover that.
  compareAll(c, g, step, { atol: 1e-4, rtol: 1e-5 }, { atol: 1e-3, rtol: 1e-5 });
  if (!(Math.max(...g.hnLin.map(Math.abs)) > 100)) throw new Error('hn_lin stays small: the case is not extreme');
  if (!g.gates.some((v) => v === 1) || !g.gates.some((v) => v === 0)) throw new Error('no saturated gate: the case is not extreme');
});

test('bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 3 * H;
  const made: Tensor[] = [];
  const z = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'z') => { const t = ctx.zeros(shape, dtype, name); made.push(t); return t; };
  const lengths = ctx.tensor(new Int32Array([T, 1]), [B], 'lengths'); made.push(lengths);
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'),
    lengths, hs: z([B, T, H], 'f32', 'hs'), gates: z([B, T, G], 'f32', 'gates'), hnLin: z([B, T, H], 'f32', 'hnLin'), hn: z([B, H], 'f32', 'hn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), gates: f.gates, hnLin: f.hnLin, hs: f.hs, h0: f.h0, whh: f.whh, lengths,
    dgates: z([B, T, G], 'f32', 'dgates'), dghh: z([B, T, G], 'f32', 'dghh'), dhCarry: z([B, H], 'f32', 'dhCarry'), dh0: z([B, H], 'f32', 'dh0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = gruForwardFused, S = gruBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'gruForwardFused', 'gx (flat)', '(6, 15)', 'expected (*, *, 15)');
  expectThrows(() => F(ctx, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'gruForwardFused', 'whh (w6)', 'expected (3*H, H) = (18, 6)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'gruForwardFused', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, hnLin: z([B, T + 1, H], 'f32', 'hl4') }), 'gruForwardFused', 'hnLin (hl4)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, bhh: z([H], 'f32', 'bhh5') }), 'bhh (bhh5)', 'expected (15)');
  expectThrows(() => F(ctx, { ...f, hn: f.h0 }), 'gruForwardFused', 'hn and h0 must be different tensors');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'gruForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'gruBackwardFused', 'dgates (dg5)', 'expected (2, 3, 15)');
  expectThrows(() => S(ctx, { ...b, dhs: z([B, T, G], 'f32', 'dhs15') }), 'gruBackwardFused', 'dhs (dhs15)', 'expected (*, *, 5)');
  expectThrows(() => S(ctx, { ...b, dhn: z([B, H + 1], 'f32', 'dhn6') }), 'gruBackwardFused', 'dhn (dhn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, { ...b, dh0: z([B, H], 'i32', 'dh0i') }), 'gruBackwardFused', 'dh0 (dh0i)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dhCarry: z([B], 'f32', 'c1') }), 'gruBackwardFused', 'dhCarry (c1)');
  expectThrows(() => S(ctx, { ...b, dghh: b.dgates }), 'gruBackwardFused', 'dghh and dgates must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 1.5 }), 'gruBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose backward buffers (2·3H floats per row) cannot fit in workgroup memory is
  // refused (and reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 24) + 1;
  if (gruFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!gruFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f);
  S(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  for (const t of made) t.release();
});

// ---------------------------------------------------------------- the model layer

/** Loss, every parameter's gradient and dh0 of an embedding → 2-layer bidirectional GRU → dense model. */
async function modelGradients(ctx: GpuContext, layerSchedule: RecurrentSchedule | undefined): Promise<Map<string, Float32Array>> {
  const gru = new GRU({ hiddenSize: 37, numLayers: 2, bidirectional: true, schedule: layerSchedule });
  const model = new Sequential([new Embedding({ numEmbeddings: 13, embeddingDim: 7 }), gru, new Dense({ units: 13 })], { seed: 5 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const rng = new Rng(6);
  const B = 3, T = 5;
  const before = ctx.dispatchCount;
  model.computeGradients({ x: rng.intArray(B * T, 13), shape: [B, T], y: rng.intArray(B * T, 13), lengths: Int32Array.from([5, 2, 1]) }, { training: false });
  const out = new Map<string, Float32Array>();
  out.set('dispatches', Float32Array.of(ctx.dispatchCount - before));
  out.set('loss', Float32Array.of(await model.readLoss()));
  for (const [name, p] of model.namedParameters()) out.set(`d${name}`, await ctx.read(p.grad!));
  out.set('dh0', await ctx.read(gru.initialStateGrad!.h));
  model.dispose();
  return out;
}

test('model: step and sequence schedules give the same loss and gradients (per-layer option and context setting)', async () => {
  const ctx = await gpu();
  try {
    const step = await modelGradients(ctx, 'step');
    const perLayer = await modelGradients(ctx, 'sequence');
    ctx.configure({ recurrentSchedule: 'sequence' });
    const global = await modelGradients(ctx, undefined);
    // The sequence kernels really ran: per (layer, direction) the step schedule records T forward
    // and T + 1 backward dispatches, the sequence schedule 1 and 2 (2 layers × 2 directions, T = 5).
    const saved = 4 * (2 * 5 + 1 - 3);
    for (const [what, run] of [['layer option', perLayer], ['context setting', global]] as const) {
      const d = step.get('dispatches')![0] - run.get('dispatches')![0];
      if (d !== saved) throw new Error(`${what}: the sequence schedule recorded ${d} dispatches fewer than the step schedule, expected ${saved}`);
    }
    // The two schedules evaluate the same expressions in the same order (see TOL_SAME).
    for (const [name, want] of step) {
      if (name === 'dispatches') continue;
      expectClose(`${name} (layer option)`, perLayer.get(name)!, want, TOL_SAME);
      expectClose(`${name} (context setting)`, global.get(name)!, want, TOL_SAME);
    }
    if (!step.get('dgru.weight_hh_l1_reverse')!.some((v) => Math.abs(v) > 1e-4)) throw new Error('dweight_hh_l1_reverse is (almost) zero: the comparison would be vacuous');
  } finally {
    ctx.configure({ recurrentSchedule: 'auto' });
  }
});

test.run();
