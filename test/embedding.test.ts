// Embedding kernels (shaders/embedding.wgsl) against the CPU reference (src/cpu/embedding.ts):
// lookup and one-hot are copies (exact); the backward is a deterministic scatter-add whose two
// kernels sum in the same order and so must agree bit for bit, run after run.
import { suite } from 'uvu';
import {
  embeddingBackward, embeddingBackwardScan, embeddingForward, embeddingTokenIndex, oneHotForward,
} from '../src/kernels/embedding.ts';
import * as cpu from '../src/cpu/embedding.ts';
import { matmulForward } from '../src/cpu/matmul.ts';
import { embeddingProjectOneHot, embeddingProjectOneHotBackward } from '../src/kernels/embedding.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('embedding');
const EXACT = { atol: 0, rtol: 0 };
/** Reads an f32 tensor (ctx.tensor() returns an untyped Tensor). */
const readF32 = async (ctx: GpuContext, t: Tensor): Promise<Float32Array> => (await ctx.read(t)) as Float32Array;

/** Same bits (so -0 ≠ +0 and NaN payloads count), with the first difference in the message. */
function expectSameBits(name: string, a: Float32Array, b: Float32Array): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) throw new Error(`${name}: lengths ${ua.length} and ${ub.length}`);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${name}: bits differ at ${i}: ${a[i]} (0x${ua[i].toString(16)}) vs ${b[i]} (0x${ub[i].toString(16)})`);
  }
}

/**
 * The f32 result of the documented summation order: for each row, 0 + dout[n0] + dout[n1] + …
 * over increasing positions, each addition rounded to f32, then (accumulate) old + sum.
 */
function f32SequentialBackward(dout: Float32Array, tokens: Int32Array, V: number, D: number, old?: Float32Array): Float32Array {
  const s = new Float32Array(V * D);
  for (let n = 0; n < tokens.length; n++) {
    const id = tokens[n];
    if (id < 0 || id >= V) continue;
    for (let d = 0; d < D; d++) s[id * D + d] = Math.fround(s[id * D + d] + dout[n * D + d]);
  }
  if (old) for (let i = 0; i < s.length; i++) s[i] = Math.fround(old[i] + s[i]);
  return s;
}

/** Runs both backward kernels (overwrite, then accumulate) and checks them against each other and the references. */
async function checkBackward(ctx: GpuContext, tokensArr: Int32Array, tokShape: number[], V: number, D: number, seed: number, tol: { atol: number; rtol: number }): Promise<void> {
  const rng = new Rng(seed);
  const N = tokensArr.length;
  const doutArr = rng.uniformArray(N * D, -1, 1), old = rng.uniformArray(V * D, -1, 1);
  const tokens = ctx.tensor(tokensArr, tokShape, 'tokens');
  const dout = ctx.tensor(doutArr, [...tokShape, D], 'dout');
  const { offsets, positions } = embeddingTokenIndex(ctx, tokensArr, V, tokShape);
  const nan = new Float32Array(V * D).fill(NaN);
  const dwIdx = ctx.tensor(nan, [V, D], 'dweight (index)'), dwScan = ctx.tensor(nan, [V, D], 'dweight (scan)');
  const shape = [V, D];

  // Overwrite: every row is written, including rows of ids that never occur (zeros, not NaN).
  embeddingBackward(ctx, dout, offsets, positions, dwIdx);
  embeddingBackwardScan(ctx, dout, tokens, dwScan);
  const gIdx = await readF32(ctx, dwIdx), gScan = await readF32(ctx, dwScan);
  expectClose('dweight (index) vs float64', gIdx, cpu.embeddingBackward(doutArr, tokensArr, V, D), { ...tol, shape });
  expectSameBits('dweight: index vs f32 sequential sum', gIdx, f32SequentialBackward(doutArr, tokensArr, V, D));
  expectSameBits('dweight: index vs scan', gIdx, gScan);

  // Determinism: the same call again gives the same bits.
  embeddingBackward(ctx, dout, offsets, positions, dwIdx);
  expectSameBits('dweight (index) second run', await readF32(ctx, dwIdx), gIdx);
  embeddingBackwardScan(ctx, dout, tokens, dwScan);
  expectSameBits('dweight (scan) second run', await readF32(ctx, dwScan), gScan);

  // Accumulate: old + Σ, the same in both kernels.
  ctx.write(dwIdx, old);
  ctx.write(dwScan, old);
  embeddingBackward(ctx, dout, offsets, positions, dwIdx, { accumulate: true });
  embeddingBackwardScan(ctx, dout, tokens, dwScan, { accumulate: true });
  const aIdx = await readF32(ctx, dwIdx), aScan = await readF32(ctx, dwScan);
  expectClose('dweight accumulated vs float64', aIdx, cpu.embeddingBackward(doutArr, tokensArr, V, D, Float64Array.from(old)), { ...tol, shape });
  expectSameBits('accumulated: index vs f32 sequential sum', aIdx, f32SequentialBackward(doutArr, tokensArr, V, D, old));
  expectSameBits('accumulated: index vs scan', aIdx, aScan);
  for (const t of [tokens, dout, offsets, positions, dwIdx, dwScan]) t.release();
}

// ---------------------------------------------------------------- CPU

test('CPU embeddingBackward matches finite differences (repeated ids), one-hot is the identity lookup', () => {
  const V = 5, D = 3;
  const tokens = Int32Array.from([0, 3, 0, 4, 0, 3, 1]);
  const rng = new Rng(1);
  const weight = Float64Array.from({ length: V * D }, () => rng.uniform(-1, 1));
  const w = Float64Array.from({ length: tokens.length * D }, () => rng.uniform(-1, 1));
  const num = numericalGrad(() => dot(w, cpu.embeddingForward(weight, tokens, V, D)), weight);
  // The loss is linear in weight: central differences are exact up to rounding (~1e-10).
  expectClose('dweight', cpu.embeddingBackward(w, tokens, V, D), num, { atol: 1e-9, rtol: 1e-9, shape: [V, D] });
  const eye = new Float64Array(V * V);
  for (let v = 0; v < V; v++) eye[v * V + v] = 1;
  expectClose('one-hot', cpu.oneHotForward(tokens, V), cpu.embeddingForward(eye, tokens, V, V), EXACT);
});

test('checkTokenIds and buildTokenIndex', () => {
  const ids = new Int32Array(3 * 20).fill(7);
  ids[2 * 20 + 17] = 130;
  expectThrows(() => cpu.checkTokenIds('tokens', ids, 101, [3, 20]), 'tokens: token id 130 at position [2,17] is outside the vocabulary [0, 101)');
  ids[2 * 20 + 17] = -1;
  expectThrows(() => cpu.checkTokenIds('batch', ids, 101), 'batch: token id -1 at position [57] is outside the vocabulary [0, 101)');
  ids[2 * 20 + 17] = 100;
  cpu.checkTokenIds('tokens', ids, 101, [3, 20]);
  expectThrows(() => cpu.buildTokenIndex(Int32Array.from([1, 5, 2]), 5), 'buildTokenIndex', 'token id 5', '[1]', '[0, 5)');
  // Counting sort: offsets are cumulative counts, positions increase within each id.
  const { offsets, positions } = cpu.buildTokenIndex(Int32Array.from([2, 0, 2, 2, 0, 3]), 5);
  expectClose('offsets', offsets, [0, 2, 2, 5, 6, 6], EXACT);
  expectClose('positions', positions, [1, 4, 0, 2, 3, 5], EXACT);
});

// ---------------------------------------------------------------- GPU

test('forward gather and one-hot at V=101 D=37 B=3 T=5 with repeated ids (exact)', async () => {
  const ctx = await gpu();
  const V = 101, D = 37, B = 3, T = 5, N = B * T;
  const rng = new Rng(2);
  const ids = rng.intArray(N, V);
  ids[0] = 0; ids[4] = 0; ids[9] = 0; ids[14] = V - 1; ids[7] = V - 1;
  const w = rng.uniformArray(V * D, -1, 1);
  const weight = ctx.tensor(w, [V, D], 'weight'), tokens = ctx.tensor(ids, [B, T], 'tokens');
  const out = ctx.empty([B, T, D], 'f32', 'out'), flat = ctx.empty([N, D], 'f32', 'out flat');
  embeddingForward(ctx, weight, tokens, out);
  embeddingForward(ctx, weight, tokens, flat);
  const want = cpu.embeddingForward(w, ids, V, D);
  expectClose('out', await readF32(ctx, out), want, { ...EXACT, shape: [B, T, D] });
  expectClose('out (N, D)', await readF32(ctx, flat), want, { ...EXACT, shape: [N, D] });

  const oh = ctx.empty([B, T, V], 'f32', 'one-hot');
  oneHotForward(ctx, tokens, oh);
  const gOh = await readF32(ctx, oh);
  expectClose('one-hot', gOh, cpu.oneHotForward(ids, V), { ...EXACT, shape: [B, T, V] });
  // The documented equivalence: one-hot = embedding with the identity as weight.
  const eye = new Float32Array(V * V);
  for (let v = 0; v < V; v++) eye[v * V + v] = 1;
  const I = ctx.tensor(eye, [V, V], 'identity'), viaEmb = ctx.empty([N, V], 'f32', 'identity lookup');
  embeddingForward(ctx, I, tokens, viaEmb);
  expectSameBits('one-hot vs identity lookup', gOh, await readF32(ctx, viaEmb));
  for (const t of [weight, tokens, out, flat, oh, I, viaEmb]) t.release();
});

test('backward at V=101 D=37 with id 0 at 40 of 56 positions: both kernels bit-identical and deterministic', async () => {
  const ctx = await gpu();
  const V = 101, D = 37, B = 8, T = 7;
  const rng = new Rng(3);
  const ids = rng.intArray(B * T, V);
  const zeroAt = rng.shuffle(Array.from({ length: B * T }, (_, i) => i)).slice(0, 40);
  for (const i of zeroAt) ids[i] = 0;
  ids[[...ids.keys()].find((i) => !zeroAt.includes(i))!] = V - 1;
  if (ids.filter((v) => v === 0).length < 40) throw new Error('setup: id 0 should occur at least 40 times');
  // f32 sums of up to 40 terms in [-1, 1] against float64: |err| ≤ 40·eps·Σ|x| ~ 1e-4 in the worst
  // case, ~1e-6 in practice; the exact statement is the bitwise check against the f32 sequential sum.
  await checkBackward(ctx, ids, [B, T], V, D, 4, { atol: 1e-5, rtol: 1e-5 });
});

test('realistic V=65 D=128 B=64 T=50: forward exact, backward bit-identical across kernels and runs', async () => {
  const ctx = await gpu();
  const V = 65, D = 128, B = 64, T = 50, N = B * T;
  const rng = new Rng(5);
  // Skewed like character frequencies: low ids occur hundreds of times, some ids never.
  const ids = Int32Array.from({ length: N }, () => Math.floor(60 * rng.next() ** 3));
  const w = rng.uniformArray(V * D, -1, 1);
  const weight = ctx.tensor(w, [V, D], 'weight'), tokens = ctx.tensor(ids, [B, T], 'tokens'), out = ctx.empty([B, T, D], 'f32', 'out');
  embeddingForward(ctx, weight, tokens, out);
  expectClose('out', await readF32(ctx, out), cpu.embeddingForward(w, ids, V, D), { ...EXACT, shape: [B, T, D] });
  for (const t of [weight, tokens, out]) t.release();
  // Up to ~1000 terms per row: f32 rounding error of the running sum ~ eps·sqrt(n)·|partial sums|.
  await checkBackward(ctx, ids, [B, T], V, D, 6, { atol: 2e-4, rtol: 1e-5 });
});

test('V = 70000 > 65535: the backward grid folds and rows past 65535 get their gradient', async () => {
  const ctx = await gpu();
  const V = 70_000, D = 3;
  const ids = Int32Array.from([0, 65534, 65535, 65536, 69999, 65536, 69999, 0, 65535, 12345, 69999]);
  await checkBackward(ctx, ids, [ids.length], V, D, 7, { atol: 1e-6, rtol: 1e-6 }); // sums of ≤ 3 terms
});

test('out-of-range ids: zero rows, no gradient, no out-of-bounds access; the host helpers refuse them', async () => {
  const ctx = await gpu();
  const V = 11, D = 5;
  const ids = Int32Array.from([3, -1, 11, 0, 1000, -2147483648, 2147483647, 10, 3]);
  const N = ids.length;
  const rng = new Rng(8);
  const w = rng.uniformArray(V * D, 1, 2), doutArr = rng.uniformArray(N * D, -1, 1);
  const weight = ctx.tensor(w, [V, D], 'weight'), tokens = ctx.tensor(ids, [N], 'tokens');
  const out = ctx.tensor(new Float32Array(N * D).fill(NaN), [N, D], 'out'), oh = ctx.tensor(new Float32Array(N * V).fill(NaN), [N, V], 'one-hot');
  embeddingForward(ctx, weight, tokens, out);
  oneHotForward(ctx, tokens, oh);
  const gOut = await readF32(ctx, out), gOh = await readF32(ctx, oh);
  expectClose('out', gOut, cpu.embeddingForward(w, ids, V, D), { ...EXACT, shape: [N, D] });
  expectClose('one-hot', gOh, cpu.oneHotForward(ids, V), { ...EXACT, shape: [N, V] });
  for (const n of [1, 2, 4, 5, 6]) {
    if (gOut.slice(n * D, (n + 1) * D).some((v) => v !== 0)) throw new Error(`out row ${n} (id ${ids[n]}) is not zero`);
    if (gOh.slice(n * V, (n + 1) * V).some((v) => v !== 0)) throw new Error(`one-hot row ${n} (id ${ids[n]}) is not zero`);
  }
  const dout = ctx.tensor(doutArr, [N, D], 'dout'), dw = ctx.empty([V, D], 'f32', 'dweight');
  embeddingBackwardScan(ctx, dout, tokens, dw);
  expectSameBits('scan ignores out-of-range ids', await readF32(ctx, dw), f32SequentialBackward(doutArr, ids, V, D));
  // A malformed index (positions past N, offsets past N) is clamped, not followed out of bounds:
  // every position reads row N-1, and id 0's range is cut at N.
  const offs = ctx.tensor(Int32Array.from({ length: V + 1 }, (_, v) => (v === 0 ? 0 : N + 100)), [V + 1], 'offsets');
  const pos = ctx.tensor(new Int32Array(N).fill(1 << 30), [N], 'positions');
  embeddingBackward(ctx, dout, offs, pos, dw);
  const gBad = await readF32(ctx, dw);
  let row0 = new Float32Array(D);
  for (let k = 0; k < N; k++) row0 = row0.map((s, d) => Math.fround(s + doutArr[(N - 1) * D + d]));
  expectSameBits('clamped row 0', gBad.slice(0, D), row0);
  expectSameBits('clamped other rows', gBad.slice(D), new Float32Array((V - 1) * D));
  // The host side refuses them before anything is uploaded.
  const before = ctx.dispatchCount;
  expectThrows(() => embeddingTokenIndex(ctx, ids, V, [N]), 'buildTokenIndex', 'token id -1 at position [1]', 'outside the vocabulary [0, 11)');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded');
  for (const t of [weight, tokens, out, oh, dout, dw, offs, pos]) t.release();
});

test('bad shapes and dtypes are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const V = 7, D = 4, B = 2, T = 3, N = B * T;
  const made: Tensor[] = [];
  const f = (shape: number[], name = 'x') => { const t = ctx.zeros(shape, 'f32', name); made.push(t); return t; };
  const i = (shape: number[], name = 'ids') => { const t = ctx.zeros(shape, 'i32', name); made.push(t); return t; };
  const weight = f([V, D], 'weight'), tokens = i([B, T], 'tokens'), out = f([B, T, D], 'out');
  const dout = f([B, T, D], 'dout'), dw = f([V, D], 'dweight'), offsets = i([V + 1], 'offsets'), positions = i([N], 'positions');
  const before = ctx.dispatchCount;
  expectThrows(() => embeddingForward(ctx, weight, f([B, T], 'ftok'), out), 'embeddingForward', 'tokens', 'dtype f32', 'expected i32');
  expectThrows(() => embeddingForward(ctx, f([V * D]), tokens, out), 'embeddingForward', 'weight', `(${V * D})`, 'expected (*, *)');
  expectThrows(() => embeddingForward(ctx, weight, tokens, f([B, T, D + 1])), 'out', `(${B}, ${T}, ${D + 1})`, `expected (${B}, ${T}, ${D}) or (${N}, ${D})`);
  expectThrows(() => embeddingForward(ctx, weight, tokens, i([B, T, D])), 'out', 'dtype i32');
  expectThrows(() => oneHotForward(ctx, tokens, f([N])), 'oneHotForward', 'out', 'expected (..., V)');
  expectThrows(() => oneHotForward(ctx, tokens, f([N + 1, V])), 'oneHotForward', 'out', `expected (${B}, ${T}, ${V}) or (${N}, ${V})`);
  expectThrows(() => embeddingBackward(ctx, f([B, T, D + 1]), offsets, positions, dw), 'embeddingBackward', 'dout', `expected (..., ${D})`);
  expectThrows(() => embeddingBackward(ctx, dout, i([V]), positions, dw), 'embeddingBackward', 'offsets', `(${V})`, `expected (${V + 1})`);
  expectThrows(() => embeddingBackward(ctx, dout, offsets, i([N + 1]), dw), 'positions', `expected (${N})`);
  expectThrows(() => embeddingBackward(ctx, dout, offsets, f([N]), dw), 'positions', 'dtype f32', 'expected i32');
  expectThrows(() => embeddingBackward(ctx, dout, offsets, positions, dout), 'dweight', 'expected (*, *)');
  expectThrows(() => embeddingBackwardScan(ctx, dout, tokens, f([V, D + 1])), 'embeddingBackwardScan', 'dout', `expected (${B}, ${T}, ${D + 1})`);
  expectThrows(() => embeddingBackwardScan(ctx, dout, f([B, T]), dw), 'embeddingBackwardScan', 'tokens', 'expected i32');
  const sq = f([N, N], 'square');
  expectThrows(() => embeddingBackwardScan(ctx, sq, i([N]), sq), 'dweight', 'dout', 'different tensors');
  expectThrows(() => embeddingTokenIndex(ctx, Int32Array.from([0, 1]), 0), 'embeddingTokenIndex', 'V must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of made) t.release();
});

test('one-hot input projection (gather of W_ih columns) and its gradient match the one-hot GEMM', async () => {
  const ctx = await gpu();
  const rng = new Rng(21);
  const B = 3, T = 5, V = 13, G = 4 * 37;
  const ids = rng.intArray(B * T, V);
  ids[0] = ids[1] = ids[2] = 7; // repeated ids
  const w = rng.uniformArray(G * V), bias = rng.uniformArray(G), dG = rng.uniformArray(B * T * G);
  const onehot = cpu.oneHotForward(ids, V);
  const want = matmulForward(onehot, w, B * T, V, G, { transB: true, bias });
  const tw = ctx.tensor(w, [G, V], 'W_ih'), tb = ctx.tensor(bias, [G], 'b_ih'), tt = ctx.tensor(ids, [B, T], 'tokens');
  const out = ctx.empty([B, T, G], 'f32', 'gx');
  embeddingProjectOneHot(ctx, tw, tb, tt, out);
  // A gather plus one add in f32 vs the float64 sum: 1 ulp.
  expectClose('gx', await ctx.read(out), want, { atol: 1e-6, rtol: 1e-6, shape: [B, T, G] });
  const idx = cpu.buildTokenIndex(ids, V);
  const off = ctx.tensor(idx.offsets, [V + 1], 'offsets'), pos = ctx.tensor(idx.positions, [B * T], 'positions');
  const tdG = ctx.tensor(dG, [B, T, G], 'dgates'), dW = ctx.tensor(w, [G, V], 'dW_ih');
  embeddingProjectOneHotBackward(ctx, tdG, off, pos, dW, { accumulate: true });
  const dWwant = matmulForward(dG, onehot, G, B * T, V, { transA: true }).map((v, i) => v + w[i]);
  // Sums of at most B·T terms in f32: a few ulps.
  expectClose('dW_ih', await ctx.read(dW), dWwant, { atol: 1e-5, rtol: 1e-5, shape: [G, V] });
  const before = ctx.dispatchCount;
  expectThrows(() => embeddingProjectOneHot(ctx, tw, ctx.zeros([G + 1]), tt, out), 'embeddingProjectOneHot', 'bias', `expected (${G})`);
  expectThrows(() => embeddingProjectOneHot(ctx, tw, tb, ctx.zeros([B, T]), out), 'tokens', 'expected i32');
  expectThrows(() => embeddingProjectOneHotBackward(ctx, tdG, off, ctx.zeros([B * T + 1], 'i32'), dW), 'positions');
  if (ctx.dispatchCount !== before) throw new Error('dispatch recorded for bad input');
  for (const t of [tw, tb, tt, out, off, pos, tdG, dW]) t.release();
});

test.run();
