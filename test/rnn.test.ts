// Vanilla RNN per-timestep wrappers (src/kernels/rnn.ts) against the CPU reference (src/cpu/rnn.ts), and the
// CPU whole-sequence backward against central finite differences.
import { suite } from 'uvu';
import {
  rnnBackwardInitial, rnnBackwardSteps, rnnForwardSteps, rnnStepBackward, rnnStepForward,
  type RnnNonlinearity,
} from '../src/kernels/rnn.ts';
import * as cpu from '../src/cpu/rnn.ts';
import type { StepKernelVariant } from '../src/kernels/step_variant.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows, type Tolerance } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('rnn');
const ACTS: RnnNonlinearity[] = ['tanh', 'relu'];
/** Reads an f32 tensor (ctx.tensor() returns an untyped Tensor). */
const readF32 = async (ctx: GpuContext, t: Tensor): Promise<Float32Array> => (await ctx.read(t)) as Float32Array;

// ---------------------------------------------------------------- CPU vs finite differences

/** Pre-activations of a forward pass, recomputed from its outputs (valid steps only). */
function preActivations(x: Float64Array, w: cpu.RnnWeights, h0: Float64Array, lengths: number[], hs: Float64Array, B: number, T: number, I: number, H: number): number[] {
  const gx = cpu.rnnInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H);
  const pre: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let j = 0; j < H; j++) {
    let s = gx[(b * T + t) * H + j] + w.bias_hh[j];
    for (let k = 0; k < H; k++) s += w.weight_hh[j * H + k] * (t === 0 ? h0[b * H + k] : hs[(b * T + t - 1) * H + k]);
    pre.push(s);
  }
  return pre;
}

for (const nonlinearity of ACTS) {
  test(`CPU rnnBackward (${nonlinearity}) matches finite differences with lengths [3, 1]`, () => {
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
      const { hs } = cpu.rnnForward(x, w, h0, lengths, { nonlinearity });
      const pre = preActivations(x, w, h0, lengths, hs, B, T, I, H);
      if (Math.min(...pre.map(Math.abs)) > 0.05 && pre.some((p) => p < 0) && pre.some((p) => p > 0)) break;
    }
    const rng = new Rng(99);
    const wh = Float64Array.from({ length: B * T * H }, () => rng.uniform(-1, 1));
    const wn = Float64Array.from({ length: B * H }, () => rng.uniform(-1, 1));
    const loss = (): number => {
      const { hs, hn } = cpu.rnnForward(x, w, h0, lengths, { nonlinearity });
      return dot(wh, hs) + dot(wn, hn);
    };
    const { saved } = cpu.rnnForward(x, w, h0, lengths, { nonlinearity });
    const g = cpu.rnnBackward(x, w, h0, lengths, saved, wh, wn);
    // Central differences with h = 1e-6 in float64: truncation ~1e-12·f''', rounding ~1e-16/1e-6.
    const tol = { atol: 1e-8, rtol: 1e-6 };
    expectClose('dx', g.dx, numericalGrad(loss, x), { ...tol, shape: [B, T, I] });
    expectClose('dh0', g.dh0, numericalGrad(loss, h0), { ...tol, shape: [B, H] });
    expectClose('dweight_ih', g.dweight_ih, numericalGrad(loss, w.weight_ih), { ...tol, shape: [H, I] });
    expectClose('dweight_hh', g.dweight_hh, numericalGrad(loss, w.weight_hh), { ...tol, shape: [H, H] });
    expectClose('dbias_ih', g.dbias_ih, numericalGrad(loss, w.bias_ih), tol);
    expectClose('dbias_hh', g.dbias_hh, numericalGrad(loss, w.bias_hh), tol);
    // Row 1 has length 1: its inputs past t = 0 must not matter.
    for (let t = 1; t < T; t++) for (let i = 0; i < I; i++) if (g.dx[(T + t) * I + i] !== 0) throw new Error(`dx[1,${t},${i}] should be 0`);
  });
}

test('CPU rnnForward refuses lengths outside [1, T] and inconsistent sizes', () => {
  const w = { weight_ih: new Float64Array(6), weight_hh: new Float64Array(4), bias_ih: new Float64Array(2), bias_hh: new Float64Array(2) };
  expectThrows(() => cpu.rnnForward(new Float64Array(2 * 3 * 3), w, new Float64Array(4), [3, 0]), 'rnnForward', 'lengths[1] = 0', '[1, 3]');
  expectThrows(() => cpu.rnnForward(new Float64Array(2 * 3 * 3), w, new Float64Array(4), [4, 1]), 'lengths[0] = 4');
  expectThrows(() => cpu.rnnForward(new Float64Array(2 * 3 * 3), w, new Float64Array(5), [3, 1]), 'h0 has 5 values');
  expectThrows(() => cpu.rnnForward(new Float64Array(18), { ...w, weight_hh: new Float64Array(5) }, new Float64Array(4), [3, 1]), 'weight_hh');
});

// ---------------------------------------------------------------- GPU vs CPU

interface Case {
  B: number; T: number; I: number; H: number; lengths: number[];
  /** Scales: gx magnitude (uniform in ±gx, or ±[lo, hi] for extremes) and W_hh range. */
  x?: number; whh: number; gxExtreme?: [number, number];
}

/** Seeded f32 inputs; gx computed on the CPU (float64) and rounded to f32. */
function makeInputs(c: Case, seed: number) {
  const rng = new Rng(seed);
  const { B, T, I, H } = c;
  const x = rng.uniformArray(B * T * I, -(c.x ?? 1), c.x ?? 1);
  const wih = rng.uniformArray(H * I, -0.5, 0.5), bih = rng.uniformArray(H, -0.2, 0.2);
  let gx = new Float32Array(cpu.rnnInputProjection(x, wih, bih, B, T, I, H));
  if (c.gxExtreme) {
    // Half of the entries become ±[lo, hi]; the rest stay O(1) so that some units are unsaturated.
    const [lo, hi] = c.gxExtreme;
    gx = Float32Array.from(gx, (v) => (rng.next() < 0.5 ? v : (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi)));
  }
  return {
    gx,
    whh: rng.uniformArray(H * H, -c.whh, c.whh),
    bhh: rng.uniformArray(H, -0.2, 0.2),
    h0: rng.uniformArray(B * H, -0.5, 0.5),
    lengths: Int32Array.from(c.lengths),
    dhs: rng.uniformArray(B * T * H, -1, 1),
    dhn: rng.uniformArray(B * H, -1, 1),
  };
}

/**
 * Runs forward and backward on the GPU (per-step wrappers or the sequence wrappers) and compares
 * every buffer with the CPU step functions. Output buffers start as NaN so that a value the kernel
 * should write but doesn't (or reads before it is written) cannot pass.
 */
async function checkAgainstCpu(
  ctx: GpuContext, c: Case, nonlinearity: RnnNonlinearity, seed: number, mode: 'steps' | 'sequence',
  tolF: Tolerance, tolB: Tolerance,
): Promise<Float32Array> {
  const { B, T, H } = c;
  const d = { B, T, H };
  const inp = makeInputs(c, seed);
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const gx = ctx.tensor(inp.gx, [B, T, H], 'gx'), whh = ctx.tensor(inp.whh, [H, H], 'whh');
  const bhh = ctx.tensor(inp.bhh, [H], 'bhh'), h0 = ctx.tensor(inp.h0, [B, H], 'h0');
  const lengths = ctx.tensor(inp.lengths, [B], 'lengths');
  const hs = ctx.tensor(nan(B * T * H), [B, T, H], 'hs'), hn = ctx.tensor(nan(B * H), [B, H], 'hn');
  const fwd = { gx, whh, bhh, h0, lengths, hs, hn };
  if (mode === 'steps') {
    rnnStepForward(ctx, 0, fwd, { nonlinearity });
    // hn is gathered once, with the last step (T > 1 here): after step 0 it is untouched (NaN).
    const hn0 = await readF32(ctx, hn);
    const written = hn0.filter((v) => !Number.isNaN(v)).length;
    if (written !== 0) throw new Error(`after step 0 of ${T}, ${written} values of hn were written`);
    for (let t = 1; t < T; t++) rnnStepForward(ctx, t, fwd, { nonlinearity });
  } else {
    rnnForwardSteps(ctx, fwd, { nonlinearity });
  }

  const cHs = new Float64Array(B * T * H), cHn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) cpu.rnnStepForward(d, t, { ...inp, hs: cHs, hn: cHn }, { nonlinearity });
  const gHs = await readF32(ctx, hs), gHn = await readF32(ctx, hn);
  const tag = `${nonlinearity} B=${B} H=${H}`;
  expectClose(`hs (${tag})`, gHs, cHs, { ...tolF, shape: [B, T, H] });
  expectClose(`hn (${tag})`, gHn, cHn, { ...tolF, shape: [B, H] });
  // The length semantics, independently of the CPU reference: zeros past each length, hn = last valid h.
  for (let b = 0; b < B; b++) {
    const len = c.lengths[b];
    for (let j = 0; j < H; j++) {
      if (!Object.is(gHn[b * H + j], gHs[(b * T + len - 1) * H + j])) throw new Error(`hn[${b},${j}] is not hs[${b},${len - 1},${j}]`);
      for (let t = len; t < T; t++) if (gHs[(b * T + t) * H + j] !== 0) throw new Error(`hs[${b},${t},${j}] = ${gHs[(b * T + t) * H + j]}, expected 0 past length ${len}`);
    }
  }

  const dhs = ctx.tensor(inp.dhs, [B, T, H], 'dhs'), dhn = ctx.tensor(inp.dhn, [B, H], 'dhn');
  const dgates = ctx.tensor(nan(B * T * H), [B, T, H], 'dgates'), dh0 = ctx.tensor(nan(B * H), [B, H], 'dh0');
  const bwd = { dhs, dhn, hs, whh, lengths, dgates };
  if (mode === 'steps') {
    for (let t = T - 1; t >= 0; t--) rnnStepBackward(ctx, t, bwd, { nonlinearity });
    rnnBackwardInitial(ctx, { dgates, whh, dh0 });
  } else {
    rnnBackwardSteps(ctx, { ...bwd, dh0 }, { nonlinearity });
  }
  // The backward kernels are checked on the GPU's own hs, so forward rounding does not enter.
  const cDg = new Float64Array(B * T * H), cDh0 = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) cpu.rnnStepBackward(d, t, { ...inp, hs: gHs, dgates: cDg }, { nonlinearity });
  cpu.rnnBackwardInitial(d, { dgates: cDg, whh: inp.whh, dh0: cDh0 });
  expectClose(`dgates (${tag})`, await readF32(ctx, dgates), cDg, { ...tolB, shape: [B, T, H] });
  expectClose(`dh0 (${tag})`, await readF32(ctx, dh0), cDh0, { ...tolB, shape: [B, H] });
  for (const t of [gx, whh, bhh, h0, lengths, hs, hn, dhs, dhn, dgates, dh0]) t.release();
  return gHs;
}

// f32 dot products of H terms against float64: the absolute error is ~eps·Σ_k|W_jk·h_k| (it does not
// shrink with a result that cancels to ~0), compounded over T steps; measured ≤ 1.5e-6 at H = 128.
const TOL_F = { atol: 5e-6, rtol: 1e-5 };
const TOL_B = { atol: 5e-6, rtol: 1e-5 };

for (const nonlinearity of ACTS) {
  test(`GPU per-step kernels match CPU (${nonlinearity}), B=3 H=37 I=7 T=5, lengths [5, 2, 1]`, async () => {
    const ctx = await gpu();
    await checkAgainstCpu(ctx, { B: 3, T: 5, I: 7, H: 37, lengths: [5, 2, 1], whh: 0.3 }, nonlinearity, 1, 'steps', TOL_F, TOL_B);
  });

  test(`GPU sequence wrappers match CPU (${nonlinearity}), B=64 H=128 T=3, mixed lengths`, async () => {
    const ctx = await gpu();
    const rng = new Rng(7);
    const lengths = Array.from({ length: 64 }, (_, b) => (b < 3 ? 3 - b : 1 + rng.int(3)));
    // H = 128 terms per dot product instead of 37: the same per-term error, so the same tolerance
    // with W_hh scaled by 1/sqrt(H) as in PyTorch's init.
    await checkAgainstCpu(ctx, { B: 64, T: 3, I: 16, H: 128, lengths, whh: 1 / Math.sqrt(128) }, nonlinearity, 2, 'sequence', TOL_F, TOL_B);
  });
}

test('GPU tanh at ±200 pre-activations: saturates to ±1 without NaN, matches CPU', async () => {
  const ctx = await gpu();
  // Saturated units are exact (tanh_safe(±200) = ±1 in f32, 1 - h² = 0); the others see sums with
  // 200-sized terms, so their absolute error is eps·200·(a few) ~ 5e-5.
  const tol = { atol: 2e-4, rtol: 1e-5 };
  const c = { B: 3, T: 5, I: 7, H: 37, lengths: [5, 2, 1], whh: 0.3, gxExtreme: [150, 250] as [number, number] };
  const hs = await checkAgainstCpu(ctx, c, 'tanh', 3, 'steps', tol, tol);
  // The case really saturates: some h are exactly ±1 and some are well inside (-1, 1).
  if (!hs.some((v) => Math.abs(v) === 1) || !hs.some((v) => v !== 0 && Math.abs(v) < 0.9)) throw new Error('extreme case lost its mix');
});

test('GPU relu at ±200 pre-activations: no overflow, matches CPU', async () => {
  const ctx = await gpu();
  // h reaches a few hundred; dot products of 37 such terms (Σ|terms| ~ 1e2..1e3) in f32 give
  // absolute errors ~eps·1e3 per step, compounded over 5 steps (measured 6e-5).
  const tol = { atol: 5e-4, rtol: 1e-5 };
  await checkAgainstCpu(ctx, { B: 3, T: 5, I: 7, H: 37, lengths: [5, 2, 1], whh: 0.05, gxExtreme: [150, 250] }, 'relu', 4, 'sequence', tol, tol);
});

test('sequence wrappers record T + 1 forward (the final-state gather) and T (+1 with dh0) backward dispatches', async () => {
  const ctx = await gpu();
  const B = 2, T = 4, H = 3;
  const z = (shape: number[], name: string) => ctx.zeros(shape, 'f32', name);
  const ts = {
    gx: z([B, T, H], 'gx'), whh: z([H, H], 'whh'), bhh: z([H], 'bhh'), h0: z([B, H], 'h0'),
    lengths: ctx.tensor(Int32Array.from([T, 1]), [B], 'lengths'), hs: z([B, T, H], 'hs'), hn: z([B, H], 'hn'),
    dhs: z([B, T, H], 'dhs'), dhn: z([B, H], 'dhn'), dgates: z([B, T, H], 'dgates'), dh0: z([B, H], 'dh0'),
  };
  const count = (f: () => void): number => { const n = ctx.dispatchCount; f(); return ctx.dispatchCount - n; };
  const { dh0, ...noDh0 } = ts;
  const nf = count(() => rnnForwardSteps(ctx, ts, { nonlinearity: 'relu' }));
  const nb = count(() => rnnBackwardSteps(ctx, noDh0, { nonlinearity: 'relu' }));
  const nb0 = count(() => rnnBackwardSteps(ctx, { ...noDh0, dh0 }, { nonlinearity: 'relu' }));
  if (nf !== T + 1 || nb !== T || nb0 !== T + 1) throw new Error(`dispatches: forward ${nf}, backward ${nb}, with dh0 ${nb0}`);
  await ctx.sync();
  for (const t of Object.values(ts)) t.release();
});

test('bad inputs are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 4;
  const f = (shape: number[], name: string) => ctx.zeros(shape, 'f32', name);
  const gx = f([B, T, H], 'gx'), whh = f([H, H], 'whh'), bhh = f([H], 'bhh'), h0 = f([B, H], 'h0');
  const lengths = ctx.zeros([B], 'i32', 'lengths'), hs = f([B, T, H], 'hs'), hn = f([B, H], 'hn');
  const dhs = f([B, T, H], 'dhs'), dhn = f([B, H], 'dhn'), dgates = f([B, T, H], 'dgates'), dh0 = f([B, H], 'dh0');
  const bad: Tensor[] = [];
  const mk = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'bad') => { const t = ctx.zeros(shape, dtype, name); bad.push(t); return t; };
  const fwd = { gx, whh, bhh, h0, lengths, hs, hn };
  const bwd = { dhs, dhn, hs, whh, lengths, dgates };
  const before = ctx.dispatchCount;
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, gx: mk([B, T, H + 1]) }), 'rnnStepForward', 'gx', `(${B}, ${T}, ${H + 1})`, `expected (*, *, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, whh: mk([H, H + 1]) }), 'rnnStepForward', 'whh', `(${H}, ${H + 1})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, lengths: mk([B]) }), 'lengths', 'dtype f32', 'expected i32');
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, hs: mk([B, T + 1, H]) }), 'hs', `expected (${B}, ${T}, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, h0: mk([H, B]) }), 'h0', `expected (${B}, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, bhh: mk([H], 'i32') }), 'bhh', 'dtype i32');
  expectThrows(() => rnnStepForward(ctx, T, fwd), 'rnnStepForward', 'timestep', `[0, ${T})`, `got ${T}`);
  expectThrows(() => rnnStepForward(ctx, -1, fwd), 'timestep');
  expectThrows(() => rnnStepForward(ctx, 0, fwd, { nonlinearity: 'sigmoid' as RnnNonlinearity }), 'nonlinearity', 'sigmoid');
  expectThrows(() => rnnStepForward(ctx, 0, { ...fwd, hn: h0 }), 'hn', 'h0', 'different tensors');
  expectThrows(() => rnnForwardSteps(ctx, { ...fwd, hn: mk([B, H + 1]) }), 'rnnForwardSteps', 'hn');
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dgates: mk([B, T, H + 1]) }), 'rnnStepBackward', 'dgates', `expected (${B}, ${T}, ${H})`);
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dhn: mk([B, H], 'i32') }), 'dhn', 'dtype i32');
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dgates: dhs }), 'dgates', 'dhs', 'different tensors');
  expectThrows(() => rnnStepBackward(ctx, 1.5, bwd), 'timestep');
  expectThrows(() => rnnBackwardInitial(ctx, { dgates, whh, dh0: mk([B, H + 1]) }), 'rnnBackwardInitial', 'dh0', `expected (${B}, ${H})`);
  expectThrows(() => rnnBackwardSteps(ctx, { ...bwd, dh0: mk([B]) }), 'rnnBackwardSteps', 'dh0');
  expectThrows(() => rnnBackwardSteps(ctx, { ...bwd, lengths: mk([B + 1], 'i32') }), 'lengths', `expected (${B})`);
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of [gx, whh, bhh, h0, lengths, hs, hn, dhs, dhn, dgates, dh0, ...bad]) t.release();
});

// ---------------------------------------------------------------- register-blocked variant

/** Forward and backward with step-kernel variant `v` (per-step or sequence wrappers); every output. */
async function runVariant(ctx: GpuContext, c: Case, nonlinearity: RnnNonlinearity, seed: number, mode: 'steps' | 'sequence', v: StepKernelVariant): Promise<Record<string, Float32Array>> {
  const { B, T, H } = c;
  const inp = makeInputs(c, seed);
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const gx = ctx.tensor(inp.gx, [B, T, H], 'gx'), whh = ctx.tensor(inp.whh, [H, H], 'whh');
  const bhh = ctx.tensor(inp.bhh, [H], 'bhh'), h0 = ctx.tensor(inp.h0, [B, H], 'h0');
  const lengths = ctx.tensor(inp.lengths, [B], 'lengths');
  const hs = ctx.tensor(nan(B * T * H), [B, T, H], 'hs'), hn = ctx.tensor(nan(B * H), [B, H], 'hn');
  const dhs = ctx.tensor(inp.dhs, [B, T, H], 'dhs'), dhn = ctx.tensor(inp.dhn, [B, H], 'dhn');
  const dgates = ctx.tensor(nan(B * T * H), [B, T, H], 'dgates'), dh0 = ctx.tensor(nan(B * H), [B, H], 'dh0');
  const fwd = { gx, whh, bhh, h0, lengths, hs, hn };
  const bwd = { dhs, dhn, hs, whh, lengths, dgates };
  const prev = ctx.configure({ stepVariant: v });
  try {
    if (mode === 'steps') {
      for (let t = 0; t < T; t++) rnnStepForward(ctx, t, fwd, { nonlinearity });
      for (let t = T - 1; t >= 0; t--) rnnStepBackward(ctx, t, bwd, { nonlinearity });
      rnnBackwardInitial(ctx, { dgates, whh, dh0 });
    } else {
      rnnForwardSteps(ctx, fwd, { nonlinearity });
      rnnBackwardSteps(ctx, { ...bwd, dh0 }, { nonlinearity });
    }
  } finally {
    ctx.configure(prev);
  }
  const out = { hs: await readF32(ctx, hs), hn: await readF32(ctx, hn), dgates: await readF32(ctx, dgates), dh0: await readF32(ctx, dh0) };
  for (const t of [gx, whh, bhh, h0, lengths, hs, hn, dhs, dhn, dgates, dh0]) t.release();
  return out;
}

test('blocked kernels are bit-identical to the plain ones (B=3 H=37 T=5 [5,2,1]; B=5 with R=4; B=64 H=128 T=3)', async () => {
  const ctx = await gpu();
  const rng = new Rng(41);
  const cases: [Case, 'steps' | 'sequence'][] = [
    [{ B: 3, T: 5, I: 7, H: 37, lengths: [5, 2, 1], whh: 0.3 }, 'steps'],
    [{ B: 5, T: 4, I: 7, H: 37, lengths: [4, 1, 3, 2, 4], whh: 0.3 }, 'sequence'], // a full block of 4 and a block of 1
    [{ B: 64, T: 3, I: 16, H: 128, lengths: Array.from({ length: 64 }, (_, b) => (b % 5 === 0 ? 1 + rng.int(3) : 3)), whh: 1 / Math.sqrt(128) }, 'sequence'],
  ];
  for (const nonlinearity of ACTS) {
    for (const [c, mode] of cases) {
      const plain = await runVariant(ctx, c, nonlinearity, 5, mode, 'plain');
      const blocked = await runVariant(ctx, c, nonlinearity, 5, mode, 'blocked');
      // Same sums in the same order: bit for bit. Outputs start as NaN, so an unwritten one fails.
      for (const k of Object.keys(plain)) {
        expectClose(`${k} (${nonlinearity} B=${c.B} H=${c.H})`, blocked[k], plain[k], { atol: 0, rtol: 0 });
        if (!blocked[k].every(Number.isFinite)) throw new Error(`blocked ${k} has a NaN (unwritten element)`);
      }
    }
  }
});

test.run();
