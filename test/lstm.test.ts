// LSTM step kernels against the CPU reference (src/cpu/lstm.ts), and the CPU backward against
// central finite differences.
import { suite } from 'uvu';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import * as gpuLstm from '../src/kernels/lstm.ts';
import type { StepKernelVariant } from '../src/kernels/step_variant.ts';
import * as cpu from '../src/cpu/lstm.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';
import { randomCase, runCpu, type Case, type CpuResult, type GpuResult } from './helpers/lstm_case.ts';

const test = suite('lstm');

// ---------------------------------------------------------------- helpers

const sig = (x: number) => 1 / (1 + Math.exp(-x));


/**
 * The GPU kernels over the whole sequence. Outputs start filled with a sentinel so that an element
 * the kernels forget to write shows up. `steps` drives the per-step wrappers one by one; otherwise
 * the sequence functions record everything.
 */
async function runGpu(ctx: GpuContext, c: Case, steps: boolean): Promise<GpuResult> {
  const { B, T, H } = c, G = 4 * H;
  const junk = (shape: number[], name: string) => ctx.tensor(new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(12345), shape, name);
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T) => { made.push(t); return t; };
  const f = {
    gx: keep(ctx.tensor(c.gx, [B, T, G], 'gx')), whh: keep(ctx.tensor(c.whh, [G, H], 'whh')), bhh: keep(ctx.tensor(c.bhh, [G], 'bhh')),
    h0: keep(ctx.tensor(c.h0, [B, H], 'h0')), c0: keep(ctx.tensor(c.c0, [B, H], 'c0')), lengths: keep(ctx.tensor(c.lengths, [B], 'lengths')),
    hs: keep(junk([B, T, H], 'hs')), cs: keep(junk([B, T, H], 'cs')), gates: keep(junk([B, T, G], 'gates')),
    hn: keep(junk([B, H], 'hn')), cn: keep(junk([B, H], 'cn')),
  };
  const b = {
    dhs: keep(ctx.tensor(c.dhs, [B, T, H], 'dhs')), dhn: keep(ctx.tensor(c.dhn, [B, H], 'dhn')), dcn: keep(ctx.tensor(c.dcn, [B, H], 'dcn')),
    gates: f.gates, cs: f.cs, c0: f.c0, whh: f.whh, lengths: f.lengths,
    dgates: keep(junk([B, T, G], 'dgates')), dcCarry: keep(junk([B, H], 'dcCarry')),
    dh0: keep(junk([B, H], 'dh0')), dc0: keep(junk([B, H], 'dc0')),
  };
  const before = ctx.dispatchCount;
  if (steps) {
    for (let t = 0; t < T; t++) gpuLstm.lstmStepForward(ctx, t, f);
    ctx.clear(b.dcCarry);
    for (let t = T - 1; t >= 0; t--) gpuLstm.lstmStepBackward(ctx, t, b);
    gpuLstm.lstmBackwardInitial(ctx, b);
  } else {
    gpuLstm.lstmForwardSteps(ctx, f);
    gpuLstm.lstmBackwardSteps(ctx, b);
  }
  // T forward steps + the final-state gather, T backward steps + the initial-state entry.
  if (ctx.dispatchCount - before !== 2 * T + 2) throw new Error(`${ctx.dispatchCount - before} dispatches, expected ${2 * T + 2}`);
  const out = {
    hs: await ctx.read(f.hs), cs: await ctx.read(f.cs), gates: await ctx.read(f.gates), hn: await ctx.read(f.hn), cn: await ctx.read(f.cn),
    dgates: await ctx.read(b.dgates), dcCarry: await ctx.read(b.dcCarry), dh0: await ctx.read(b.dh0), dc0: await ctx.read(b.dc0),
  } as GpuResult;
  for (const t of made) t.release();
  return out;
}

function compareAll(c: Case, g: GpuResult, want: CpuResult, fwd: { atol: number; rtol: number }, bwd: { atol: number; rtol: number }): void {
  const { B, T, H } = c, G = 4 * H;
  expectClose('hs', g.hs, want.hs, { ...fwd, shape: [B, T, H] });
  expectClose('cs', g.cs, want.cs, { ...fwd, shape: [B, T, H] });
  expectClose('gates', g.gates, want.gates, { ...fwd, shape: [B, T, G] });
  expectClose('hn', g.hn, want.hn, { ...fwd, shape: [B, H] });
  expectClose('cn', g.cn, want.cn, { ...fwd, shape: [B, H] });
  expectClose('dgates', g.dgates, want.dgates, { ...bwd, shape: [B, T, G] });
  expectClose('dcCarry', g.dcCarry, want.dcCarry, { ...bwd, shape: [B, H] });
  expectClose('dh0', g.dh0, want.dh0, { ...bwd, shape: [B, H] });
  expectClose('dc0', g.dc0, want.dc0, { ...bwd, shape: [B, H] });
}

/** Throws unless every row's outputs past its length are exactly zero (GPU masking). */
function expectMasked(c: Case, g: GpuResult): void {
  const { B, T, H } = c, G = 4 * H;
  for (let b = 0; b < B; b++) {
    for (let t = c.lengths[b]; t < T; t++) {
      for (let j = 0; j < H; j++) {
        if (g.hs[(b * T + t) * H + j] !== 0 || g.cs[(b * T + t) * H + j] !== 0) throw new Error(`hs/cs[${b},${t},${j}] not zero past length`);
      }
      for (let r = 0; r < G; r++) {
        if (g.gates[(b * T + t) * G + r] !== 0 || g.dgates[(b * T + t) * G + r] !== 0) throw new Error(`gates/dgates[${b},${t},${r}] not zero past length`);
      }
    }
  }
}

// ---------------------------------------------------------------- CPU reference

test('cpu forward follows the nn.LSTM equations (gate order i,f,g,o, W_hh rows) written out by hand', () => {
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
  for (let t = 0; t < T; t++) cpu.lstmStepForward(t, a);
  const exact = { atol: 1e-14, rtol: 1e-12 }; // the same float64 formulas, summed in a different order
  expectClose('hs', a.hs, wantH, exact);
  expectClose('cs', a.cs, wantC, exact);
  expectClose('hn', a.hn, h, exact);
  expectClose('cn', a.cn, c, exact);
});

test('cpu variable lengths: outputs zero past the length, hn/cn at the last valid step, rows independent', () => {
  const B = 3, T = 4, H = 3, I = 2, G = 4 * H;
  const rng = new Rng(11);
  const k = 0.6;
  const w = { weight_ih: rng.uniformArray(G * I, -k, k), weight_hh: rng.uniformArray(G * H, -k, k), bias_ih: rng.uniformArray(G, -k, k), bias_hh: rng.uniformArray(G, -k, k) };
  const x = rng.uniformArray(B * T * I), h0 = rng.uniformArray(B * H), c0 = rng.uniformArray(B * H);
  const lengths = [4, 2, 1];
  const all = cpu.lstmForward(x, w, h0, c0, lengths);
  for (let b = 0; b < B; b++) {
    const L = lengths[b];
    // Row b alone, truncated to its length, must give the same states.
    const one = cpu.lstmForward(x.slice(b * T * I, (b * T + L) * I), w, h0.slice(b * H, (b + 1) * H), c0.slice(b * H, (b + 1) * H), [L]);
    const exact = { atol: 0, rtol: 0 }; // identical arithmetic on identical inputs
    expectClose(`hs row ${b}`, all.hs.slice(b * T * H, (b * T + L) * H), one.hs, exact);
    expectClose(`hn row ${b}`, all.hn.slice(b * H, (b + 1) * H), one.hs.slice((L - 1) * H, L * H), exact);
    expectClose(`cn row ${b}`, all.cn.slice(b * H, (b + 1) * H), one.cs.slice((L - 1) * H, L * H), exact);
    expectClose(`hs row ${b} past length`, all.hs.slice((b * T + L) * H, (b + 1) * T * H), new Float64Array((T - L) * H), exact);
    expectClose(`gates row ${b} past length`, all.saved.gates.slice((b * T + L) * G, (b + 1) * T * G), new Float64Array((T - L) * G), exact);
  }
  expectThrows(() => cpu.lstmForward(x, w, h0, c0, [4, 0, 1]), 'lstmStepForward', 'lengths[1] = 0', '[1, 4]');
  expectThrows(() => cpu.lstmForward(x.slice(1), w, h0, c0, lengths), 'lstmForward', 'x has 23 values');
});

test('cpu lstmBackward matches central finite differences for x, weights, biases, h0, c0 (lengths [3,1,2])', () => {
  const B = 3, T = 3, H = 3, I = 4, G = 4 * H;
  const rng = new Rng(7);
  const r = (n: number, s = 1) => Float64Array.from(rng.uniformArray(n, -s, s));
  const x = r(B * T * I), h0 = r(B * H), c0 = r(B * H);
  const w = { weight_ih: r(G * I, 0.8), weight_hh: r(G * H, 0.8), bias_ih: r(G, 0.5), bias_hh: r(G, 0.5) };
  const lengths = [3, 1, 2];
  // Loss: a random projection of every output, hs (B,T,H), hn and cn (B,H).
  const wh = r(B * T * H), whn = r(B * H), wcn = r(B * H);
  const loss = () => {
    const o = cpu.lstmForward(x, w, h0, c0, lengths);
    return dot(wh, o.hs) + dot(whn, o.hn) + dot(wcn, o.cn);
  };
  const fwd = cpu.lstmForward(x, w, h0, c0, lengths);
  const g = cpu.lstmBackward(x, w, h0, c0, lengths, fwd.saved, wh, whn, wcn);
  // Central differences with h = 1e-6 in float64: truncation ~1e-12·f''', rounding ~1e-10.
  const tol = { atol: 1e-8, rtol: 1e-6 };
  const checks: [string, Float64Array, Float64Array, number[]][] = [
    ['dx', g.dx, x, [B, T, I]], ['dweight_ih', g.dweight_ih, w.weight_ih, [G, I]], ['dweight_hh', g.dweight_hh, w.weight_hh, [G, H]],
    ['dbias_ih', g.dbias_ih, w.bias_ih, [G]], ['dbias_hh', g.dbias_hh, w.bias_hh, [G]], ['dh0', g.dh0, h0, [B, H]], ['dc0', g.dc0, c0, [B, H]],
  ];
  for (const [name, analytic, param, shape] of checks) {
    const numeric = numericalGrad(loss, param);
    expectClose(name, analytic, numeric, { ...tol, shape });
    if (!analytic.some((v) => Math.abs(v) > 1e-3)) throw new Error(`${name} is (almost) all zero: the check would be vacuous`);
  }
  // Past a row's length the inputs have no effect.
  for (let t = 1; t < T; t++) for (let k = 0; k < I; k++) if (g.dx[(1 * T + t) * I + k] !== 0) throw new Error('dx nonzero past length');
});

// ---------------------------------------------------------------- GPU vs CPU

// f32 against float64 over a few steps: each value is a sum of up to H products of O(1) terms
// plus exp/division in the activations, a few ulps (~1e-7 relative) per step, grown slightly by the
// recurrence. Backward sums up to 4H products per element and compounds over T steps.
const FWD = { atol: 2e-6, rtol: 1e-5 };
const BWD = { atol: 5e-6, rtol: 1e-4 };

test('GPU step wrappers match the CPU steps at B=3, H=37, I=7, T=5, lengths [5,2,1]', async () => {
  const ctx = await gpu();
  const c = randomCase(1, 3, 5, 37, 7, [5, 2, 1]);
  const g = await runGpu(ctx, c, true);
  compareAll(c, g, runCpu(c), FWD, BWD);
  expectMasked(c, g);
});

test('GPU sequence functions match the CPU at B=64, H=128, I=32, T=3, mixed lengths', async () => {
  const ctx = await gpu();
  const rng = new Rng(2);
  const lengths = Array.from({ length: 64 }, (_, b) => (b < 3 ? b + 1 : 1 + rng.int(3)));
  const c = randomCase(2, 64, 3, 128, 32, lengths);
  const g = await runGpu(ctx, c, false);
  compareAll(c, g, runCpu(c), FWD, BWD);
  expectMasked(c, g);
});

test('GPU: saturated gates (pre-activations ±110..±250) give exact, finite results', async () => {
  const ctx = await gpu();
  const B = 3, T = 4, H = 37, G = 4 * H;
  const rng = new Rng(9);
  const c = randomCase(9, B, T, H, 5, [4, 3, 1]);
  // |gx| in [150, 250] with random sign; |W_hh·h| + |b_hh| <= 38, so every |pre| >= 112.
  for (let n = 0; n < c.gx.length; n++) c.gx[n] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(150, 250);
  c.whh = rng.uniformArray(G * H, -1, 1);
  const g = await runGpu(ctx, c, true);
  // Every gate is 0, 1 or ±1 to within exp(-112), so f32 and float64 agree to rounding of c (|c| <= 5).
  compareAll(c, g, runCpu(c), { atol: 1e-6, rtol: 1e-6 }, { atol: 1e-6, rtol: 1e-5 });
  expectMasked(c, g);
});

test('GPU: large weights (pre-activations up to ±200 and beyond) produce no NaN or Inf', async () => {
  const ctx = await gpu();
  const B = 3, T = 4, H = 37, G = 4 * H;
  const rng = new Rng(10);
  const c = randomCase(10, B, T, H, 5, [4, 2, 1]);
  for (let n = 0; n < c.gx.length; n++) c.gx[n] = rng.uniform(-200, 200);
  c.whh = rng.uniformArray(G * H, -40, 40);
  c.bhh = rng.uniformArray(G, -50, 50);
  const g = await runGpu(ctx, c, false);
  const want = runCpu(c);
  for (const [name, arr] of Object.entries(g)) {
    if (!arr.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  }
  for (let n = 0; n < g.gates.length; n++) {
    const q = Math.floor((n % G) / H); // gate index: 2 is g (tanh), the others are sigmoids
    if (q === 2 ? Math.abs(g.gates[n]) > 1 : g.gates[n] < 0 || g.gates[n] > 1) throw new Error(`gates[${n}] = ${g.gates[n]} out of range`);
  }
  if (!g.hs.every((v) => Math.abs(v) <= 1)) throw new Error('|h| > 1');
  // Step 0 sees exact inputs: pre-activations of size ~300 carry ~1e-4 absolute f32 rounding,
  // which moves a gate by at most 1e-4/4 where it is not saturated. Later steps amplify tiny
  // differences by |W_hh| ~ 40, so only step 0 is compared.
  const step0 = (a: ArrayLike<number>, w: number) => Array.from({ length: B * w }, (_, n) => a[Math.floor(n / w) * T * w + (n % w)]);
  const tol0 = { atol: 1e-4, rtol: 1e-4 };
  expectClose('hs[:,0]', step0(g.hs, H), step0(want.hs, H), tol0);
  expectClose('cs[:,0]', step0(g.cs, H), step0(want.cs, H), tol0);
  expectClose('gates[:,0]', step0(g.gates, G), step0(want.gates, G), tol0);
});

// ---------------------------------------------------------------- argument checks

test('bad shapes, dtypes, aliasing and t out of range are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 4 * H;
  const made: Tensor[] = [];
  const z = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'z') => { const t = ctx.zeros(shape, dtype, name); made.push(t); return t; };
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), c0: z([B, H], 'f32', 'c0'),
    lengths: (() => { const t = ctx.tensor(new Int32Array([T, 1]), [B], 'lengths'); made.push(t); return t; })(), hs: z([B, T, H], 'f32', 'hs'), cs: z([B, T, H], 'f32', 'cs'), gates: z([B, T, G], 'f32', 'gates'),
    hn: z([B, H], 'f32', 'hn'), cn: z([B, H], 'f32', 'cn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), dcn: z([B, H], 'f32', 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0,
    whh: f.whh, lengths: f.lengths, dgates: z([B, T, G], 'f32', 'dgates'), dcCarry: z([B, H], 'f32', 'dcCarry'),
    dh0: z([B, H], 'f32', 'dh0'), dc0: z([B, H], 'f32', 'dc0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = gpuLstm.lstmStepForward, S = gpuLstm.lstmStepBackward;
  // Forward
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'lstmStepForward', 'gx (flat)', '(6, 20)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, 0, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'lstmStepForward', 'whh (w6)', '(20, 6)', 'expected (4*H, H) = (24, 6)');
  expectThrows(() => F(ctx, 0, { ...f, whh: z([G], 'f32', 'w1d') }), 'whh (w1d)', '(20)', 'expected (*, *)');
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B, T, G + 4], 'f32', 'gx24') }), 'gx (gx24)', '(2, 3, 24)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, 0, { ...f, bhh: z([H], 'f32', 'b5') }), 'bhh (b5)', '(5)', 'expected (20)');
  expectThrows(() => F(ctx, 0, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'lstmStepForward', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, 0, { ...f, gates: z([B, T, H], 'f32', 'g5') }), 'gates (g5)', 'expected (2, 3, 20)');
  expectThrows(() => F(ctx, 0, { ...f, c0: z([H, B], 'f32', 'c0t') }), 'c0 (c0t)', '(5, 2)', 'expected (2, 5)');
  expectThrows(() => F(ctx, 0, { ...f, cn: z([B], 'f32', 'cn1') }), 'cn (cn1)', 'expected (2, 5)');
  expectThrows(() => F(ctx, 0, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B, T, G], 'i32', 'gxi') }), 'gx (gxi)', 'dtype i32', 'expected f32');
  expectThrows(() => F(ctx, 0, { ...f, h0: z([B, H], 'i32', 'h0i') }), 'h0 (h0i)', 'dtype i32', 'expected f32');
  expectThrows(() => F(ctx, 0, { ...f, cs: f.hs }), 'lstmStepForward', 'cs and hs must be different tensors');
  for (const t of [-1, T, 1.5, NaN]) expectThrows(() => F(ctx, t, f), 'lstmStepForward', 't must be an integer in [0, 2]', `got ${t}`);
  expectThrows(() => gpuLstm.lstmForwardSteps(ctx, { ...f, hn: z([B, T, H], 'f32', 'hn3') }), 'lstmForwardSteps', 'hn (hn3)');
  // Backward
  expectThrows(() => S(ctx, 0, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'lstmStepBackward', 'dgates (dg5)', '(2, 3, 5)', 'expected (*, *, 20)');
  expectThrows(() => S(ctx, 0, { ...b, dhs: z([B, T + 1, H], 'f32', 'dhs4') }), 'lstmStepBackward', 'dhs (dhs4)', '(2, 4, 5)', 'expected (2, 3, 5)');
  expectThrows(() => S(ctx, 0, { ...b, dcn: z([B, H + 1], 'f32', 'dcn6') }), 'dcn (dcn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, 0, { ...b, dcCarry: z([B, H], 'i32', 'carryi') }), 'dcCarry (carryi)', 'dtype i32', 'expected f32');
  expectThrows(() => S(ctx, 0, { ...b, lengths: z([B + 1], 'i32', 'len3') }), 'lengths (len3)', '(3)', 'expected (2)');
  expectThrows(() => S(ctx, 0, { ...b, dgates: b.gates }), 'lstmStepBackward', 'dgates and gates must be different tensors');
  for (const t of [-1, T]) expectThrows(() => S(ctx, t, b), 'lstmStepBackward', 't must be an integer in [0, 2]', `got ${t}`);
  expectThrows(() => gpuLstm.lstmBackwardInitial(ctx, { ...b, dh0: z([B, G], 'f32', 'dh0g') }), 'lstmBackwardInitial', 'dh0 (dh0g)', 'expected (2, 5)');
  expectThrows(() => gpuLstm.lstmBackwardSteps(ctx, { ...b, dc0: z([B, H], 'i32', 'dc0i') }), 'lstmBackwardSteps', 'dc0 (dc0i)', 'dtype i32');
  expectThrows(() => gpuLstm.lstmBackwardSteps(ctx, { ...b, dhn: undefined as unknown as Tensor }), 'lstmBackwardSteps', 'dhn must be a Tensor');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // The well-formed arguments are accepted (the checks above are not refusing everything).
  gpuLstm.lstmForwardSteps(ctx, f);
  gpuLstm.lstmBackwardSteps(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 2 * T + 2) throw new Error('valid arguments did not record 2T + 2 dispatches');
  for (const t of made) t.release();
});

// ---------------------------------------------------------------- register-blocked variant

/** runGpu with the context's step-kernel variant set to `v` while the dispatches are recorded. */
async function runGpuVariant(ctx: GpuContext, c: Case, steps: boolean, v: StepKernelVariant): Promise<GpuResult> {
  const prev = ctx.configure({ stepVariant: v });
  try {
    return await runGpu(ctx, c, steps);
  } finally {
    ctx.configure(prev);
  }
}

// The blocked kernels sum every pre-activation and every recurrent gradient over the same terms in
// the same order as the plain ones, so every output must match bit for bit (atol 0, rtol 0).
const EXACT = { atol: 0, rtol: 0 };

test('blocked step kernels are bit-identical to the plain ones (B=3 H=37 T=5 [5,2,1]; B=5 with R=4; B=64 H=128 T=3)', async () => {
  const ctx = await gpu();
  const rng = new Rng(21);
  const cases: [Case, boolean][] = [
    [randomCase(21, 3, 5, 37, 7, [5, 2, 1]), true],
    [randomCase(22, 5, 4, 37, 7, [4, 1, 3, 2, 4]), true], // B = 5: one full block of 4 and a block of 1
    [randomCase(23, 64, 3, 128, 16, Array.from({ length: 64 }, (_, b) => (b % 5 === 0 ? 1 + rng.int(3) : 3))), false],
  ];
  for (const [c, steps] of cases) {
    const plain = await runGpuVariant(ctx, c, steps, 'plain');
    const blocked = await runGpuVariant(ctx, c, steps, 'blocked');
    const { B, T, H } = c, G = 4 * H;
    const shapes: Record<keyof GpuResult, number[]> = {
      hs: [B, T, H], cs: [B, T, H], gates: [B, T, G], hn: [B, H], cn: [B, H], dgates: [B, T, G], dcCarry: [B, H], dh0: [B, H], dc0: [B, H],
    };
    for (const k of Object.keys(shapes) as (keyof GpuResult)[]) {
      expectClose(`${k} (B=${B}, H=${H})`, blocked[k], plain[k], { ...EXACT, shape: shapes[k] });
    }
    expectMasked(c, blocked);
    // Not vacuous: the plain run itself matches the CPU reference.
    compareAll(c, plain, runCpu(c), FWD, BWD);
  }
});

test('configure refuses an unknown step-kernel variant', async () => {
  const ctx = await gpu();
  expectThrows(() => ctx.configure({ stepVariant: 'tiled' as StepKernelVariant }), 'configure', 'stepVariant', "'plain', 'blocked'", '"tiled"');
});

test.run();
