// Attention kernels (shaders/attention.wgsl) against the float64 CPU reference (src/cpu/attention.ts),
// and the CPU reference's backward (the whole node: projections, attention, attentional hidden
// state) against central finite differences.
import { suite } from 'uvu';
import { attentionBackward, attentionBackwardMemory, attentionBackwardQueries, attentionForward } from '../src/kernels/attention.ts';
import * as cpu from '../src/cpu/attention.ts';
import { attentionDecoderBackward, attentionDecoderForward, type AttentionDecoderDims } from '../src/cpu/attention_decoder.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('attention');

// ---------------------------------------------------------------- CPU backward vs finite differences

interface LayerCase { score: cpu.AttentionScore; dims: cpu.AttentionLayerDims; lenQ: number[]; lenS: number[]; dweights: boolean }

const PARAM_SHAPES = (score: cpu.AttentionScore, d: cpu.AttentionLayerDims): Record<string, number> => {
  const s: Record<string, number> = {};
  if (score === 'general') s.weight = d.Hq * d.Hm;
  if (score === 'additive') {
    const A = d.A!;
    Object.assign(s, { query_weight: A * d.Hq, key_weight: A * d.Hm, key_bias: A, score_weight: A });
  }
  if (d.Hc) Object.assign(s, { output_weight: d.Hc * (d.Hm + d.Hq), output_bias: d.Hc });
  return s;
};

function fdCheck(c: LayerCase, seed: number): void {
  const rng = new Rng(seed);
  const { B, Tq, Ts, Hq, Hm } = c.dims;
  const f64 = (n: number, s = 1) => Float64Array.from(rng.uniformArray(n, -s, s));
  const q = f64(B * Tq * Hq), m = f64(B * Ts * Hm);
  const params: Record<string, Float64Array> = {};
  for (const [name, n] of Object.entries(PARAM_SHAPES(c.score, c.dims))) params[name] = f64(n, 0.8);
  const outW = c.dims.Hc ?? Hm;
  const wOut = f64(B * Tq * outW), wAtt = c.dweights ? f64(B * Tq * Ts) : null;
  const loss = () => {
    const r = cpu.attentionLayerForward(c.score, q, m, c.lenQ, c.lenS, c.dims, params);
    return dot(wOut, r.output) + (wAtt ? dot(wAtt, r.weights) : 0);
  };
  const g = cpu.attentionLayerBackward(c.score, q, m, c.lenQ, c.lenS, c.dims, params, wOut, wAtt);
  // Central differences with h = 1e-6 on O(1) smooth functions: truncation ~h² and rounding
  // ~1e-16/h ≈ 1e-10; atol 1e-7 leaves a wide margin and still catches any wrong term.
  const tol = { atol: 1e-7, rtol: 1e-6 };
  const label = `${c.score}${c.dims.Hc ? '+hidden' : ''}${c.dweights ? '+dweights' : ''}`;
  expectClose(`${label} dq`, g.dq, numericalGrad(loss, q), { ...tol, shape: [B, Tq, Hq] });
  expectClose(`${label} dm`, g.dm, numericalGrad(loss, m), { ...tol, shape: [B, Ts, Hm] });
  for (const name of Object.keys(params)) expectClose(`${label} d${name}`, g.grads[name], numericalGrad(loss, params[name]), tol);
  if (Object.keys(g.grads).sort().join() !== Object.keys(params).sort().join()) {
    throw new Error(`${label}: gradients for ${Object.keys(g.grads).join(', ')}, parameters ${Object.keys(params).join(', ')}`);
  }
  // Masked memory steps receive exactly zero gradient; so do padded query steps without W_c.
  for (let b = 0; b < B; b++) {
    for (let j = c.lenS[b]; j < Ts; j++) for (let h = 0; h < Hm; h++) {
      if (g.dm[(b * Ts + j) * Hm + h] !== 0) throw new Error(`${label}: dm[${b},${j},${h}] = ${g.dm[(b * Ts + j) * Hm + h]} on a masked step`);
    }
    if (c.dims.Hc) continue;
    for (let t = c.lenQ[b]; t < Tq; t++) for (let h = 0; h < Hq; h++) {
      if (g.dq[(b * Tq + t) * Hq + h] !== 0) throw new Error(`${label}: dq[${b},${t},${h}] = ${g.dq[(b * Tq + t) * Hq + h]} on a padded step`);
    }
  }
}

const SMALL = { B: 2, Tq: 3, Ts: 4 };
const LENS = { lenQ: [3, 2], lenS: [4, 1] };

test('CPU backward matches finite differences: dot, with and without dweights', () => {
  fdCheck({ score: 'dot', dims: { ...SMALL, Hq: 3, Hm: 3 }, ...LENS, dweights: false }, 1);
  fdCheck({ score: 'dot', dims: { ...SMALL, Hq: 3, Hm: 3 }, ...LENS, dweights: true }, 2);
});

test('CPU backward matches finite differences: general and additive', () => {
  fdCheck({ score: 'general', dims: { ...SMALL, Hq: 3, Hm: 4 }, ...LENS, dweights: true }, 3);
  fdCheck({ score: 'additive', dims: { ...SMALL, Hq: 3, Hm: 4, A: 5 }, ...LENS, dweights: true }, 4);
});

test('CPU backward matches finite differences: the attentional hidden state h̃ = tanh(W_c [c; q] + b)', () => {
  fdCheck({ score: 'dot', dims: { ...SMALL, Hq: 3, Hm: 3, Hc: 2 }, ...LENS, dweights: false }, 5);
  fdCheck({ score: 'general', dims: { ...SMALL, Hq: 2, Hm: 3, Hc: 4 }, ...LENS, dweights: true }, 6);
  fdCheck({ score: 'additive', dims: { ...SMALL, Hq: 3, Hm: 2, A: 3, Hc: 3 }, ...LENS, dweights: false }, 7);
});

test('CPU forward: weights are a softmax over the valid memory steps, zero elsewhere', () => {
  const dims = { B: 2, Tq: 2, Ts: 3, D: 2, Hm: 2 };
  const qk = [1, 0, 0, 1, 2, 2, 9, 9], keys = [1, 0, 0, 1, 5, 5, 1, 1, 7, 7, 7, 7];
  const r = cpu.attentionForward(qk, keys, keys, null, [2, 1], [3, 1], dims);
  // row 0: t = 0 scores (1, 0, 5), t = 1 scores (0, 1, 5); row 1 (len_s = 1): t = 0 puts all weight on j = 0
  const z = Math.exp(1) + 1 + Math.exp(5);
  expectClose('weights', r.weights, [Math.exp(1) / z, 1 / z, Math.exp(5) / z, 1 / z, Math.exp(1) / z, Math.exp(5) / z, 1, 0, 0, 0, 0, 0],
    { atol: 1e-15, rtol: 1e-14 });
  expectClose('context (len_s = 1 copies m_0)', r.context.slice(4, 6), [1, 1], { atol: 0, rtol: 0 });
  expectClose('context (padded query step)', r.context.slice(6, 8), [0, 0], { atol: 0, rtol: 0 });
});

test('input-feeding decoder (CPU reference): backward through time matches finite differences, every score', () => {
  for (const [k, score] of (['dot', 'general', 'additive'] as const).entries()) {
    const rng = new Rng(40 + k);
    const d: AttentionDecoderDims = { B: 2, T: 3, Ts: 4, I: 2, H: 3, Hm: score === 'dot' ? 3 : 2, Hc: 2, A: score === 'additive' ? 3 : undefined };
    const lenQ = [3, 2], lenS = [2, 4];
    const f64 = (n: number, s = 1) => Float64Array.from(rng.uniformArray(n, -s, s));
    const x = f64(d.B * d.T * d.I), m = f64(d.B * d.Ts * d.Hm), h0 = f64(d.B * d.H, 0.5), c0 = f64(d.B * d.H, 0.5);
    const G = 4 * d.H, shapes: Record<string, number> = {
      weight_ih: G * (d.I + d.Hc), weight_hh: G * d.H, bias_ih: G, bias_hh: G, output_weight: d.Hc * (d.Hm + d.H), output_bias: d.Hc,
    };
    if (score === 'general') shapes.weight = d.H * d.Hm;
    if (score === 'additive') Object.assign(shapes, { query_weight: d.A! * d.H, key_weight: d.A! * d.Hm, key_bias: d.A!, score_weight: d.A! });
    const params: Record<string, Float64Array> = {};
    for (const [name, n] of Object.entries(shapes)) params[name] = f64(n, 0.7);
    const wOut = f64(d.B * d.T * d.Hc), wAtt = f64(d.B * d.T * d.Ts);
    const loss = () => {
      const r = attentionDecoderForward(score, x, m, lenQ, lenS, d, params, h0, c0);
      return dot(wOut, r.output) + dot(wAtt, r.weights);
    };
    const g = attentionDecoderBackward(score, x, m, lenQ, lenS, d, params, wOut, wAtt, h0, c0);
    // As for the node above: central differences in float64, errors ~1e-9.
    const tol = { atol: 1e-7, rtol: 1e-6 };
    expectClose(`${score} decoder dx`, g.dx, numericalGrad(loss, x), { ...tol, shape: [d.B, d.T, d.I] });
    expectClose(`${score} decoder dm`, g.dm, numericalGrad(loss, m), { ...tol, shape: [d.B, d.Ts, d.Hm] });
    expectClose(`${score} decoder dh0`, g.dh0, numericalGrad(loss, h0), tol);
    expectClose(`${score} decoder dc0`, g.dc0, numericalGrad(loss, c0), tol);
    for (const name of Object.keys(params)) expectClose(`${score} decoder d${name}`, g.grads[name], numericalGrad(loss, params[name]), tol);
    // The padded step of row 1 (t = 2) outputs zeros and its input gets no gradient.
    const r = attentionDecoderForward(score, x, m, lenQ, lenS, d, params, h0, c0);
    for (let o = 0; o < d.Hc; o++) if (r.output[(1 * d.T + 2) * d.Hc + o] !== 0) throw new Error(`${score}: output on a padded step`);
    for (let i = 0; i < d.I; i++) if (g.dx[(1 * d.T + 2) * d.I + i] !== 0) throw new Error(`${score}: dx on a padded step`);
  }
});

// ---------------------------------------------------------------- GPU kernels vs the CPU core

interface CoreCase {
  B: number; Tq: number; Ts: number; D: number; Hm: number; additive: boolean; dweights: boolean;
  lenQ: number[]; lenS: number[];
  qk?: Float32Array; keys?: Float32Array; scoreV?: Float32Array;
}

interface CoreRun { weights: Float32Array; context: Float32Array; dscores: Float32Array; dqk: Float32Array; dkeys: Float32Array; dvalues: Float32Array; dvPart?: Float32Array }

async function runCore(ctx: GpuContext, c: CoreCase, data: { qk: Float32Array; keys: Float32Array; values: Float32Array; scoreV: Float32Array | null; dcontext: Float32Array; dweights: Float32Array | null }): Promise<CoreRun> {
  const { B, Tq, Ts, D, Hm } = c;
  const made: Tensor[] = [];
  const up = (a: Float32Array | Int32Array, shape: number[], name: string) => { const t = ctx.tensor(a, shape, name); made.push(t); return t; };
  const out = (shape: number[], name: string) => { const t = ctx.empty(shape, 'f32', name); made.push(t); return t; };
  const qk = up(data.qk, [B, Tq, D], 'qk'), keys = up(data.keys, [B, Ts, D], 'keys'), values = up(data.values, [B, Ts, Hm], 'values');
  const scoreV = data.scoreV ? up(data.scoreV, [D], 'scoreV') : undefined;
  const lengthsQ = up(Int32Array.from(c.lenQ), [B], 'lenQ'), lengthsS = up(Int32Array.from(c.lenS), [B], 'lenS');
  const weights = out([B, Tq, Ts], 'weights'), context = out([B, Tq, Hm], 'context');
  attentionForward(ctx, { qk, keys, values, scoreV, lengthsQ, lengthsS, weights, context });
  const dcontext = up(data.dcontext, [B, Tq, Hm], 'dcontext');
  const dweights = data.dweights ? up(data.dweights, [B, Tq, Ts], 'dweights') : undefined;
  const dscores = out([B, Tq, Ts], 'dscores'), dqk = out([B, Tq, D], 'dqk'), dkeys = out([B, Ts, D], 'dkeys'), dvalues = out([B, Ts, Hm], 'dvalues');
  const dvPart = scoreV ? out([B, Tq, D], 'dvPart') : undefined;
  attentionBackward(ctx, { qk, keys, values, scoreV, weights, dcontext, dweights, dscores, dqk, dkeys, dvalues, dvPart });
  const r: CoreRun = {
    weights: await ctx.read(weights), context: await ctx.read(context), dscores: await ctx.read(dscores),
    dqk: await ctx.read(dqk), dkeys: await ctx.read(dkeys), dvalues: await ctx.read(dvalues), dvPart: dvPart ? await ctx.read(dvPart) : undefined,
  };
  for (const t of made) t.release();
  return r;
}

/** Column sums of (N, D) rows: dv from the kernel's per-row parts. */
function columnSum(a: Float32Array, D: number): Float64Array {
  const s = new Float64Array(D);
  for (let i = 0; i < a.length; i++) s[i % D] += a[i];
  return s;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

async function compareCore(name: string, seed: number, c: CoreCase): Promise<CoreRun> {
  const ctx = await gpu();
  const rng = new Rng(seed);
  const { B, Tq, Ts, D, Hm } = c;
  const scale = c.additive ? 1 : 1 / Math.sqrt(D);
  const data = {
    qk: c.qk ?? rng.uniformArray(B * Tq * D, -scale * 2, scale * 2),
    keys: c.keys ?? rng.uniformArray(B * Ts * D, -1, 1),
    values: rng.uniformArray(B * Ts * Hm, -1, 1),
    scoreV: c.additive ? (c.scoreV ?? rng.uniformArray(D, -1, 1)) : null,
    dcontext: rng.uniformArray(B * Tq * Hm, -1, 1),
    dweights: c.dweights ? rng.uniformArray(B * Tq * Ts, -1, 1) : null,
  };
  const dims = { B, Tq, Ts, D, Hm };
  const ref = cpu.attentionForward(data.qk, data.keys, data.values, data.scoreV, c.lenQ, c.lenS, dims);
  const dref = cpu.attentionBackward(data.qk, data.keys, data.values, data.scoreV, ref.weights, data.dcontext, data.dweights, dims);
  const g = await runCore(ctx, c, data);
  // A score is a sum of D f32 products (or v·tanh terms): its error is ~√D ulps of the largest
  // term's magnitude; the softmax turns an absolute score error δ into a relative weight error δ.
  // Scores here reach |e| ≈ emax, so atol 5e-8·emax·√D (weights are ≤ 1). Measured on lavapipe:
  // ≤ 1.7e-7 with emax = 4, D ≤ 70 (tolerance ≥ 1.2e-6).
  const emax = c.qk ? 100 : 4; // the largest |score| these inputs can give (±100 cases), else a few
  const wTol = { atol: 5e-8 * emax * Math.sqrt(D), rtol: 2e-6 * emax };
  expectClose(`${name} weights`, g.weights, ref.weights, { ...wTol, shape: [B, Tq, Ts] });
  // context: a convex combination of values in [-1, 1]: the weights' error (Σ a = 1) plus Ts f32
  // roundings of O(1) terms (measured ≤ 2.8e-7).
  expectClose(`${name} context`, g.context, ref.context, { atol: 2e-6 + 2 * wTol.atol, rtol: 1e-5, shape: [B, Tq, Hm] });
  // Gradients: sums of Hm, Ts or Tq products of O(1) f32 values; entries near 0 come from
  // cancellation, so the bound is relative to the largest entry of each output: 5e-7·emax of it
  // also covers the weights' error (measured ≤ 8e-7 absolute, tolerance ≥ 2e-6·max).
  const gTol = (ref: ArrayLike<number>, shape: number[]) => ({ atol: 5e-7 * emax * Math.max(1, maxAbs(ref)), rtol: 1e-5, shape });
  expectClose(`${name} dscores`, g.dscores, dref.dscores, gTol(dref.dscores, [B, Tq, Ts]));
  expectClose(`${name} dqk`, g.dqk, dref.dqk, gTol(dref.dqk, [B, Tq, D]));
  expectClose(`${name} dkeys`, g.dkeys, dref.dkeys, gTol(dref.dkeys, [B, Ts, D]));
  expectClose(`${name} dvalues`, g.dvalues, dref.dvalues, gTol(dref.dvalues, [B, Ts, Hm]));
  if (c.additive) expectClose(`${name} dv`, columnSum(g.dvPart!, D), dref.dv!, gTol(dref.dv!, [D]));
  // Masked and padded positions are exactly zero.
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) for (let j = 0; j < Ts; j++) {
      const i = (b * Tq + t) * Ts + j;
      if ((t >= c.lenQ[b] || j >= c.lenS[b]) && (g.weights[i] !== 0 || g.dscores[i] !== 0)) throw new Error(`${name}: weights/dscores[${b},${t},${j}] not 0 on a masked position`);
    }
    for (let t = c.lenQ[b]; t < Tq; t++) for (let h = 0; h < Hm; h++) if (g.context[(b * Tq + t) * Hm + h] !== 0) throw new Error(`${name}: context[${b},${t},${h}] not 0 on a padded step`);
    for (let t = c.lenQ[b]; t < Tq; t++) for (let d = 0; d < D; d++) if (g.dqk[(b * Tq + t) * D + d] !== 0) throw new Error(`${name}: dqk[${b},${t},${d}] not 0 on a padded step`);
    for (let j = c.lenS[b]; j < Ts; j++) for (let d = 0; d < D; d++) if (g.dkeys[(b * Ts + j) * D + d] !== 0) throw new Error(`${name}: dkeys[${b},${j},${d}] not 0 on a masked step`);
  }
  return g;
}

// Awkward sizes: B = 3, Tq = 5, Ts = 7, H = 37; a row with len_s = 1, a row with len = T.
const AWKWARD = { B: 3, Tq: 5, Ts: 7, lenQ: [5, 2, 4], lenS: [7, 1, 4] };

test('GPU matches CPU, dot-product score (Luong dot/general): B=3, Tq=5, Ts=7, H=37', async () => {
  await compareCore('dot', 11, { ...AWKWARD, D: 37, Hm: 37, additive: false, dweights: false });
  await compareCore('dot+dweights', 12, { ...AWKWARD, D: 37, Hm: 29, additive: false, dweights: true });
});

test('GPU matches CPU, additive score (Bahdanau): A=19, Hm=37', async () => {
  await compareCore('additive', 13, { ...AWKWARD, D: 19, Hm: 37, additive: true, dweights: false });
  await compareCore('additive+dweights', 14, { ...AWKWARD, D: 19, Hm: 37, additive: true, dweights: true });
});

test('GPU matches CPU at a realistic size: B=16, Tq=12, Ts=20, H=64', async () => {
  await compareCore('realistic', 15, { B: 16, Tq: 12, Ts: 20, D: 64, Hm: 64, additive: false, dweights: false, lenQ: Array.from({ length: 16 }, (_, b) => 12 - (b % 5)), lenS: Array.from({ length: 16 }, (_, b) => 20 - 3 * (b % 6)) });
});

test('GPU matches CPU with more memory steps and features than threads per workgroup (Ts = 150, H = 70)', async () => {
  await compareCore('wide', 16, { B: 2, Tq: 2, Ts: 150, D: 70, Hm: 70, additive: true, dweights: true, lenQ: [2, 1], lenS: [150, 77] });
});

test('extreme scores (±100) stay finite and match float64', async () => {
  // dot: D = 4 entries of ±5 times ±5 give scores in [−100, 100], many ties at the extremes.
  const B = 3, Tq = 5, Ts = 7, D = 4;
  const rng = new Rng(17);
  const pm = (n: number, s: number) => Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -s : s));
  const g = await compareCore('dot ±100', 18, { ...AWKWARD, D, Hm: 5, additive: false, dweights: true, qk: pm(B * Tq * D, 5), keys: pm(B * Ts * D, 5) });
  for (const v of [...g.weights, ...g.context, ...g.dqk, ...g.dkeys]) if (!Number.isFinite(v)) throw new Error(`non-finite output ${v}`);
  // additive: tanh arguments ±200 saturate; v = ±25 over D = 4 gives scores ±100.
  await compareCore('additive ±100', 19, { ...AWKWARD, D, Hm: 5, additive: true, dweights: false, qk: pm(B * Tq * D, 100), keys: pm(B * Ts * D, 100), scoreV: pm(D, 25) });
});

test('deterministic: the same inputs give bit-identical outputs', async () => {
  const c = { ...AWKWARD, D: 13, Hm: 11, additive: true, dweights: true };
  const a = await compareCore('run 1', 20, c), b = await compareCore('run 2', 20, c);
  for (const k of ['weights', 'context', 'dscores', 'dqk', 'dkeys', 'dvalues', 'dvPart'] as const) {
    const x = a[k]!, y = b[k]!;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) throw new Error(`${k}[${i}] differs between runs: ${x[i]} vs ${y[i]}`);
  }
});

test('one query step per dispatch (a decoder loop) is bit-identical to all steps at once', async () => {
  const ctx = await gpu();
  const { B, Tq, Ts, lenQ, lenS } = AWKWARD;
  for (const additive of [false, true]) {
    const D = 13, Hm = 11;
    const rng = new Rng(additive ? 22 : 21);
    const made: Tensor[] = [];
    const up = (a: Float32Array | Int32Array, shape: number[]) => { const t = ctx.tensor(a, shape, `in${made.length}`); made.push(t); return t; };
    const out = (shape: number[]) => { const t = ctx.empty(shape, 'f32', `out${made.length}`); made.push(t); return t; };
    const qk = up(rng.uniformArray(B * Tq * D), [B, Tq, D]), keys = up(rng.uniformArray(B * Ts * D), [B, Ts, D]);
    const values = up(rng.uniformArray(B * Ts * Hm), [B, Ts, Hm]), scoreV = additive ? up(rng.uniformArray(D), [D]) : undefined;
    const lengthsQ = up(Int32Array.from(lenQ), [B]), lengthsS = up(Int32Array.from(lenS), [B]);
    const dcontext = up(rng.uniformArray(B * Tq * Hm), [B, Tq, Hm]), dweights = up(rng.uniformArray(B * Tq * Ts), [B, Tq, Ts]);
    const runs = [0, 1].map(() => ({
      weights: out([B, Tq, Ts]), context: out([B, Tq, Hm]), dscores: out([B, Tq, Ts]), dqk: out([B, Tq, D]),
      dkeys: out([B, Ts, D]), dvalues: out([B, Ts, Hm]), dvPart: scoreV ? out([B, Tq, D]) : undefined,
    }));
    const [whole, stepped] = runs;
    attentionForward(ctx, { qk, keys, values, scoreV, lengthsQ, lengthsS, weights: whole.weights, context: whole.context });
    attentionBackward(ctx, { qk, keys, values, scoreV, dcontext, dweights, ...whole });
    for (let t = 0; t < Tq; t++) attentionForward(ctx, { qk, keys, values, scoreV, lengthsQ, lengthsS, weights: stepped.weights, context: stepped.context }, { step: t });
    for (let t = Tq - 1; t >= 0; t--) attentionBackwardQueries(ctx, { qk, keys, values, scoreV, dcontext, dweights, ...stepped }, { step: t });
    attentionBackwardMemory(ctx, { qk, keys, values, scoreV, dcontext, dweights, ...stepped });
    for (const k of ['weights', 'context', 'dscores', 'dqk', 'dkeys', 'dvalues', 'dvPart'] as const) {
      if (!whole[k]) continue;
      const x = await ctx.read(whole[k]!), y = await ctx.read(stepped[k]!);
      for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) throw new Error(`${additive ? 'additive' : 'dot'} ${k}[${i}]: all steps ${x[i]}, one step at a time ${y[i]}`);
    }
    expectThrows(() => attentionForward(ctx, { qk, keys, values, scoreV, lengthsQ, lengthsS, ...whole }, { step: Tq }), /attentionForward: step must be an integer in \[0, 4\]/, /got 5/);
    for (const t of made) t.release();
  }
});

test('wrong shapes and dtypes are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const B = 2, Tq = 3, Ts = 4, D = 5, Hm = 6;
  const made: Tensor[] = [];
  const t = (shape: number[], dtype: 'f32' | 'i32' = 'f32') => { const x = ctx.empty(shape, dtype, `t${made.length}`); made.push(x); return x; };
  const ok = {
    qk: t([B, Tq, D]), keys: t([B, Ts, D]), values: t([B, Ts, Hm]), lengthsQ: t([B], 'i32'), lengthsS: t([B], 'i32'),
    weights: t([B, Tq, Ts]), context: t([B, Tq, Hm]),
  };
  const back = {
    qk: ok.qk, keys: ok.keys, values: ok.values, weights: ok.weights, dcontext: t([B, Tq, Hm]),
    dscores: t([B, Tq, Ts]), dqk: t([B, Tq, D]), dkeys: t([B, Ts, D]), dvalues: t([B, Ts, Hm]),
  };
  const before = ctx.dispatchCount;
  expectThrows(() => attentionForward(ctx, { ...ok, keys: t([B, Ts, D + 1]) }), /attentionForward: keys/, /expected \(2, \*, 5\)/);
  expectThrows(() => attentionForward(ctx, { ...ok, values: t([B + 1, Ts, Hm]) }), /values/, /expected \(2, 4, \*\)/);
  expectThrows(() => attentionForward(ctx, { ...ok, lengthsS: t([B]) }), /lengthsS/, /dtype f32, expected i32/);
  expectThrows(() => attentionForward(ctx, { ...ok, weights: t([B, Tq, Ts + 1]) }), /weights/, /expected \(2, 3, 4\)/);
  expectThrows(() => attentionForward(ctx, { ...ok, scoreV: t([D + 2]) }), /scoreV/, /expected \(5\)/);
  expectThrows(() => attentionForward(ctx, { ...ok, context: ok.weights }), /context/, /expected \(2, 3, 6\)/);
  expectThrows(() => attentionBackward(ctx, { ...back, scoreV: t([D]) }), /additive score/, /needs dvPart \(2, 3, 5\)/);
  expectThrows(() => attentionBackward(ctx, { ...back, dvalues: t([B, Ts, Hm + 1]) }), /dvalues/, /expected \(2, 4, 6\)/);
  expectThrows(() => attentionBackward(ctx, { ...back, dkeys: back.dqk }), /dkeys/, /expected \(2, 4, 5\)/);
  expectThrows(() => attentionBackward(ctx, { ...back, dscores: back.weights }), /dscores and weights must be different tensors/);
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches recorded by refused calls`);
  for (const x of made) x.release();
});

test.run();
