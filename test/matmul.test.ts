// matmul kernels (GEMM variants and column sum) against the CPU reference (src/cpu/matmul.ts),
// and the CPU backward against central finite differences.
import { suite } from 'uvu';
import {
  MATMUL_VARIANTS, matmul, matmulColumnSum, type MatmulVariant,
} from '../src/kernels/matmul.ts';
import { matmulBackward, matmulColumnSumForward, matmulForward } from '../src/cpu/matmul.ts';
import { Rng } from '../src/cpu/random.ts';
import { STORAGE_USAGE, type GpuContext } from '../src/runtime/context.ts';
import { Tensor as TensorClass, type Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('matmul');

// Unit roundoff of f32.
const U = 2 ** -24;

/**
 * Tolerance for a GEMM in f32 against float64. Inputs are exactly representable in both, so the
 * only error is the f32 accumulation: any summation order of K products has error at most
 * ≈ K·u·Σ_k |op(A)[m,k]·op(B)[k,n]| (the standard γ_K bound; FMA only tightens it). We take S, the
 * largest such Σ|·| over the output, times |alpha|, with (K + 2) terms for the alpha scaling and a
 * safety factor of 2, as atol; bias and accumulate add one rounding each of the result (rtol 4u).
 */
function gemmTol(absSum: Float64Array, K: number, alpha: number, shape: readonly number[]) {
  let S = 0;
  for (const v of absSum) S = Math.max(S, v);
  return { atol: 2 * (K + 2) * U * Math.abs(alpha) * S + 1e-30, rtol: 4 * U, shape };
}

interface Case {
  M: number; K: number; N: number;
  transA?: boolean; transB?: boolean; bias?: boolean; accumulate?: boolean; alpha?: number;
  lo?: number; hi?: number;
  /** Shapes to store a / b / out with (any rank; default the 2-D layout). */
  aShape?: number[]; bShape?: number[]; outShape?: number[];
}

const abs = (x: Float32Array): Float64Array => Float64Array.from(x, Math.abs);

/**
 * Pipelines the tests may use, as transposes + 4-vector flags (VEC_A: a's last dim % 4 == 0,
 * VEC_B: b's last dim % 4 == 0). Each cold lavapipe pipeline costs ~1 s of LLVM compilation, so
 * the tests use five per variant. They still cover every code path: the tiled kernel stages
 * op(A) by (transA, VEC_A) alone and op(B) by (transB, VEC_B) alone, and every such pair occurs
 * here; the register kernel reads 4-vectors only when both are aligned (00 vs 11, the K % 4 tail
 * is reached with 11 through TN11 with K odd). Each transpose combination runs with edge sizes.
 */
const PIPELINES = new Set(['NN00', 'TT00', 'NT11', 'TN11', 'NN11']);
function pipelineOf(M: number, K: number, N: number, transA: boolean, transB: boolean): string {
  const vecA = (transA ? M : K) % 4 === 0 ? 1 : 0, vecB = (transB ? K : N) % 4 === 0 ? 1 : 0;
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${vecA}${vecB}`;
}

interface Prepared {
  c: Case; A: Float32Array; B: Float32Array; bias?: Float32Array; out0?: Float32Array;
  want: Float64Array; tol: ReturnType<typeof gemmTol>; name: string;
}

/** Inputs for one GEMM case and the CPU reference result with its tolerance. */
function prepareGemm(rng: Rng, c: Case): Prepared {
  const { M, K, N, transA = false, transB = false, alpha = 1, lo = -1, hi = 1 } = c;
  const pipe = pipelineOf(M, K, N, transA, transB);
  if (!PIPELINES.has(pipe)) throw new Error(`test case ${M}x${K}x${N} needs pipeline ${pipe}, outside the test's set`);
  const A = rng.uniformArray(M * K, lo, hi), B = rng.uniformArray(K * N, lo, hi);
  const bias = c.bias ? rng.uniformArray(N, lo, hi) : undefined;
  const out0 = c.accumulate ? rng.uniformArray(M * N, lo, hi) : undefined;
  const want = matmulForward(A, B, M, K, N, { transA, transB, bias, alpha });
  if (out0) for (let i = 0; i < want.length; i++) want[i] += out0[i];
  const absSum = matmulForward(abs(A), abs(B), M, K, N, { transA, transB });
  const name = `${M}x${K}x${N}${transA ? ' transA' : ''}${transB ? ' transB' : ''}${c.bias ? ' bias' : ''}${c.accumulate ? ' acc' : ''} alpha=${alpha}`;
  return { c, A, B, bias, out0, want, tol: gemmTol(absSum, K, alpha, [M, N]), name };
}

/** Runs a prepared case on the GPU with `variant` and compares it with the CPU reference. */
async function runGemm(ctx: GpuContext, variant: MatmulVariant, p: Prepared): Promise<void> {
  const { c, A, B, bias, out0 } = p;
  const { M, K, N, transA = false, transB = false, alpha = 1 } = c;
  const a = ctx.tensor(A, c.aShape ?? (transA ? [K, M] : [M, K]), 'a');
  const b = ctx.tensor(B, c.bShape ?? (transB ? [N, K] : [K, N]), 'b');
  const biasT = bias ? ctx.tensor(bias, [N], 'bias') : undefined;
  const out = out0 ? ctx.tensor(out0, c.outShape ?? [M, N], 'out') : ctx.empty(c.outShape ?? [M, N], 'f32', 'out');
  matmul(ctx, a, b, out, { transA, transB, bias: biasT, accumulate: c.accumulate, alpha, variant });
  expectClose(`${variant} ${p.name}`, await ctx.read(out), p.want, p.tol);
  for (const t of [a, b, biasT, out]) t?.release();
}

const checkGemm = (ctx: GpuContext, rng: Rng, variant: MatmulVariant, c: Case): Promise<void> => runGemm(ctx, variant, prepareGemm(rng, c));

const TRANS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

// Awkward sizes per transpose combination: not multiples of any tile (M=3·5, N=37, K=7),
// degenerate M/N/K = 1 where the layout's pipeline allows it, and for the 4-vector layouts sizes
// whose stored rows are 16-byte aligned but are not whole tiles (20x12x36, 68x20x8).
function sizesFor(transA: boolean, transB: boolean): [number, number, number][] {
  if (transA === transB) {  // NN00: K, N not multiples of 4; TT00: M, K not multiples of 4
    return [[15, 7, 37], [1, 7, 37], [15, 7, 1], [15, 1, 37], [1, 1, 1], [101, 37, 13], [5, 3, 1]];
  }
  if (transB) {             // NT11: K a multiple of 4
    return [[15, 8, 37], [1, 12, 37], [15, 4, 1], [1, 4, 1], [101, 36, 13], [20, 12, 36], [68, 20, 8]];
  }
  // TN11: M and N multiples of 4
  return [[16, 7, 36], [4, 1, 4], [100, 37, 12], [4, 9, 8], [20, 12, 36], [68, 20, 8], [8, 1, 4]];
}

for (const variant of MATMUL_VARIANTS) {
  test(`${variant}: all transposes, awkward sizes`, async () => {
    const ctx = await gpu();
    const rng = new Rng(11);
    for (const [transA, transB] of TRANS) {
      for (const [M, K, N] of sizesFor(transA, transB)) await checkGemm(ctx, rng, variant, { M, K, N, transA, transB });
    }
  });

  test(`${variant}: all transposes with bias, accumulate and alpha`, async () => {
    const ctx = await gpu();
    const rng = new Rng(12);
    for (const [transA, transB] of TRANS) {
      const sizes = sizesFor(transA, transB);
      for (const [M, K, N] of sizes) {
        await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, bias: true, accumulate: true, alpha: -0.75 });
      }
      // Each flag alone, and alpha = 0 (out = bias).
      const [M, K, N] = sizes[0];
      await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, bias: true });
      await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, accumulate: true });
      await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, alpha: 2.5 });
      await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, alpha: 0, bias: true });
    }
  });

  test(`${variant}: tensors of any rank are viewed as matrices [rest, last]`, async () => {
    const ctx = await gpu();
    const rng = new Rng(13);
    // (B=3, T=5, I=8) · W_ihᵀ (G=37, I=8) + b  ->  (3, 5, 37)
    await checkGemm(ctx, rng, variant, { M: 15, K: 8, N: 37, transB: true, bias: true, aShape: [3, 5, 8], outShape: [3, 5, 37] });
    // dW_ih += dGᵀ · X: dG (3, 5, 36) transposed, X (3, 5, 8)  ->  (36, 8)
    await checkGemm(ctx, rng, variant, { M: 36, K: 15, N: 8, transA: true, aShape: [3, 5, 36], bShape: [3, 5, 8], accumulate: true });
  });

  test(`${variant}: extremes (values ±100, large K, cancellation)`, async () => {
    const ctx = await gpu();
    const rng = new Rng(15);
    for (const [transA, transB] of TRANS) {
      // K = 257 (or 256 where the layout needs K % 4 == 0); values in ±100.
      const [M, K, N] = transA === transB ? [33, 257, 19] : transB ? [33, 256, 19] : [32, 257, 20];
      await checkGemm(ctx, rng, variant, { M, K, N, transA, transB, lo: -100, hi: 100, bias: true, accumulate: true, alpha: 0.5 });
    }
    // All-positive large values: sums of 999 products of up to 1e4.
    await checkGemm(ctx, rng, variant, { M: 9, K: 999, N: 41, lo: 50, hi: 100 });
  });
}

test('realistic sizes (B·T=64·8, H=128, G=512), every variant', async () => {
  const ctx = await gpu();
  const rng = new Rng(14);
  // Input projection Gx = X·W_ihᵀ + b, and the weight gradient dW_hh += dGᵀ·H accumulated.
  const cases = [
    prepareGemm(rng, { M: 512, K: 128, N: 512, transB: true, bias: true }),
    prepareGemm(rng, { M: 512, K: 512, N: 128, transA: true, accumulate: true }),
  ];
  for (const p of cases) for (const variant of MATMUL_VARIANTS) await runGemm(ctx, variant, p);
});

test('register: more than 65535 row blocks fold into z', async () => {
  const ctx = await gpu();
  const rng = new Rng(23);
  // 262150 rows in blocks of 4 = 65538 row blocks: dispatched as (1, 32769, 2). Pipeline NN00.
  await checkGemm(ctx, rng, 'register', { M: 262_150, K: 1, N: 1, bias: true, alpha: 3 });
});

test('every variant gives the same result on the same inputs', async () => {
  const ctx = await gpu();
  const rng = new Rng(16);
  const M = 37, K = 28, N = 41;  // pipeline NT11
  const a = ctx.tensor(rng.uniformArray(M * K), [M, K], 'a'), b = ctx.tensor(rng.uniformArray(N * K), [N, K], 'b');
  const outs: Float32Array[] = [];
  for (const variant of MATMUL_VARIANTS) {
    const out = ctx.empty([M, N], 'f32', `out ${variant}`);
    matmul(ctx, a, b, out, { transB: true, variant });
    outs.push(await ctx.read(out));
    out.release();
  }
  // Different summation orders: both within the f32 bound for K=28 terms of |x| ≤ 1.
  for (let i = 1; i < outs.length; i++) expectClose(`${MATMUL_VARIANTS[i]} vs ${MATMUL_VARIANTS[0]}`, outs[i], outs[0], { atol: 4 * K * K * U, rtol: 0, shape: [M, N] });
  a.release(); b.release();
});

test('default variant is register, settable on the context, and unknown variants are refused', async () => {
  const ctx = await gpu();
  if (ctx.settings.matmulVariant !== 'register') throw new Error(`default variant is ${ctx.settings.matmulVariant}`);
  const rng = new Rng(17);
  const before = ctx.settings;
  try {
    ctx.configure({ matmulVariant: 'tiled' });
    if ((ctx.settings.matmulVariant as MatmulVariant) !== 'tiled') throw new Error('configure({ matmulVariant }) did not take');
    // The wrapper with no variant named runs (with the new default) and is correct.
    const A = rng.uniformArray(6 * 5), B = rng.uniformArray(5 * 7);  // pipeline NN00
    const a = ctx.tensor(A, [6, 5]), b = ctx.tensor(B, [5, 7]), out = ctx.empty([6, 7]);
    matmul(ctx, a, b, out);
    expectClose('default-variant out', await ctx.read(out), matmulForward(A, B, 6, 5, 7), { atol: 2 * 7 * 5 * U, rtol: 0 });
    for (const t of [a, b, out]) t.release();
    expectThrows(() => ctx.configure({ matmulVariant: 'simd' as MatmulVariant }), 'configure', 'matmulVariant', 'simd', "'tiled', 'register'");
  } finally {
    ctx.configure(before);
  }
});

// Column sums: f32 sum of M terms; the same γ_M bound with S = the largest Σ_m |a[m, n]|.
async function checkColumnSum(ctx: GpuContext, rng: Rng, shape: number[], accumulate: boolean, lo = -1, hi = 1): Promise<void> {
  const N = shape[shape.length - 1];
  const M = shape.reduce((p, d) => p * d, 1) / N;
  const A = rng.uniformArray(M * N, lo, hi);
  const out0 = rng.uniformArray(N, lo, hi);
  const a = ctx.tensor(A, shape, 'dG'), out = ctx.tensor(out0, [N], 'dbias');
  matmulColumnSum(ctx, a, out, { accumulate });
  const want = matmulColumnSumForward(A, M, N);
  if (accumulate) for (let n = 0; n < N; n++) want[n] += out0[n];
  const absSum = matmulColumnSumForward(abs(A), M, N);
  let S = 0;
  for (const v of absSum) S = Math.max(S, v);
  expectClose(`columnSum ${shape.join('x')}${accumulate ? ' acc' : ''}`, await ctx.read(out), want, { atol: 2 * (M + 1) * U * S, rtol: 2 * U });
  a.release(); out.release();
}

test('column sum matches CPU: awkward sizes, ranks, accumulate, extremes', async () => {
  const ctx = await gpu();
  const rng = new Rng(18);
  for (const shape of [[1, 1], [15, 37], [101, 13], [1, 200], [513, 130], [3, 5, 37]]) {
    await checkColumnSum(ctx, rng, shape, false);
    await checkColumnSum(ctx, rng, shape, true);
  }
  await checkColumnSum(ctx, rng, [512, 512], false);    // realistic: (B·T, G) = (64·8, 4·128)
  await checkColumnSum(ctx, rng, [257, 19], true, -100, 100);
});

test('column sum is deterministic (bitwise equal on repeat)', async () => {
  const ctx = await gpu();
  const rng = new Rng(19);
  const a = ctx.tensor(rng.uniformArray(1000 * 70, -100, 100), [1000, 70]);
  const o1 = ctx.empty([70]), o2 = ctx.empty([70]);
  matmulColumnSum(ctx, a, o1);
  matmulColumnSum(ctx, a, o2);
  const r1 = await ctx.read(o1), r2 = await ctx.read(o2);
  for (let i = 0; i < 70; i++) if (!Object.is(r1[i], r2[i])) throw new Error(`column ${i}: ${r1[i]} vs ${r2[i]}`);
  for (const t of [a, o1, o2]) t.release();
});

test('GPU backward GEMMs (dX = dG·W, dW = dGᵀ·X, db = Σ dG) match matmulBackward', async () => {
  const ctx = await gpu();
  const rng = new Rng(20);
  // Forward: G (B·T=15, 36) = X (15, I=8) · W_ihᵀ (W stored (36, 8)) + b. Pipelines NN11, TN11.
  const M = 15, K = 8, N = 36;
  const X = rng.uniformArray(M * K), W = rng.uniformArray(N * K), dY = rng.uniformArray(M * N);
  const ref = matmulBackward(X, W, dY, M, K, N, { transB: true });
  const x = ctx.tensor(X, [3, 5, 8], 'X'), w = ctx.tensor(W, [N, K], 'weight_ih'), dy = ctx.tensor(dY, [3, 5, N], 'dG');
  for (const variant of MATMUL_VARIANTS) {
    const dx = ctx.empty([3, 5, 8], 'f32', 'dX'), dw = ctx.zeros([N, K], 'f32', 'dW'), db = ctx.zeros([N], 'f32', 'db');
    matmul(ctx, dy, w, dx, { variant });                                  // (15,36)·(36,8)
    matmul(ctx, dy, x, dw, { transA: true, accumulate: true, variant });  // (36,15)·(15,8)
    matmulColumnSum(ctx, dy, db, { accumulate: true });
    // Same f32 bound as gemmTol with |x| ≤ 1: (terms + 2)·u·terms, doubled.
    expectClose(`${variant} dX`, await ctx.read(dx), ref.dA, { atol: 2 * (N + 2) * N * U, rtol: 0 });
    expectClose(`${variant} dW`, await ctx.read(dw), ref.dB, { atol: 2 * (M + 2) * M * U, rtol: 0 });
    expectClose(`${variant} db`, await ctx.read(db), ref.dbias, { atol: 2 * (M + 1) * M * U, rtol: 0 });
    for (const t of [dx, dw, db]) t.release();
  }
  for (const t of [x, w, dy]) t.release();
});

test('CPU forward: a hand-worked example and transposed layouts agree', () => {
  // [[1, 2], [3, 4]] · [[5, 6, 7], [8, 9, 10]] = [[21, 24, 27], [47, 54, 61]]; alpha 2, bias [1, 0, -1].
  const got = matmulForward([1, 2, 3, 4], [5, 6, 7, 8, 9, 10], 2, 2, 3, { alpha: 2, bias: [1, 0, -1] });
  expectClose('hand example', got, [43, 48, 53, 95, 108, 121], { atol: 0, rtol: 0 });
  const rng = new Rng(21);
  const M = 4, K = 3, N = 5;
  const A = rng.uniformArray(M * K), B = rng.uniformArray(K * N);
  const At = new Float32Array(K * M), Bt = new Float32Array(N * K);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) At[k * M + m] = A[m * K + k];
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) Bt[n * K + k] = B[k * N + n];
  const base = matmulForward(A, B, M, K, N);
  expectClose('transA', matmulForward(At, B, M, K, N, { transA: true }), base, { atol: 0, rtol: 0 });
  expectClose('transB', matmulForward(A, Bt, M, K, N, { transB: true }), base, { atol: 0, rtol: 0 });
  expectClose('transA transB', matmulForward(At, Bt, M, K, N, { transA: true, transB: true }), base, { atol: 0, rtol: 0 });
  expectClose('column sum', matmulColumnSumForward([1, 2, 3, 4, 5, 6], 2, 3), [5, 7, 9], { atol: 0, rtol: 0 });
});

test('CPU backward matches central finite differences (all transposes, alpha, bias)', () => {
  const rng = new Rng(22);
  const M = 2, K = 3, N = 4, alpha = 1.5;
  for (const [transA, transB] of TRANS) {
    const A = Float64Array.from(rng.uniformArray(M * K)), B = Float64Array.from(rng.uniformArray(K * N));
    const bias = Float64Array.from(rng.uniformArray(N)), w = rng.uniformArray(M * N);
    const loss = (): number => dot(w, matmulForward(A, B, M, K, N, { transA, transB, bias, alpha }));
    const g = matmulBackward(A, B, w, M, K, N, { transA, transB, alpha });
    // Central differences in float64 of a bilinear function: truncation error is zero, rounding ~1e-10.
    const tol = { atol: 1e-8, rtol: 1e-7 };
    const tag = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    expectClose(`dA ${tag}`, g.dA, numericalGrad(loss, A), tol);
    expectClose(`dB ${tag}`, g.dB, numericalGrad(loss, B), tol);
    expectClose(`dbias ${tag}`, g.dbias, numericalGrad(loss, bias), tol);
  }
});

test('bad shapes and dtypes are refused before any dispatch', async () => {
  const ctx = await gpu();
  const made: Tensor[] = [];
  const T = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'tensor'): Tensor => {
    const t = ctx.zeros(shape, dtype, name);
    made.push(t);
    return t;
  };
  const x = T([3, 5, 7], 'f32', 'X'), w = T([4, 9], 'f32', 'weight_ih'), wOk = T([37, 7], 'f32', 'weight_ih');
  const out = T([3, 5, 37], 'f32', 'gx'), bias = T([36], 'f32', 'bias_ih');
  await ctx.sync();
  const before = ctx.dispatchCount;
  // Inner dimension mismatch: X (15, 7) · weight_ihᵀ needs weight_ih (N, 7).
  expectThrows(() => matmul(ctx, x, w, out, { transB: true }), 'matmul', 'b (weight_ih)', 'shape (4, 9)', 'expected inner dimension 7');
  expectThrows(() => matmul(ctx, x, w, out), 'matmul', 'b (weight_ih)', 'expected inner dimension 7');
  // out holding the wrong number of values, or the right number with the wrong last dimension.
  expectThrows(() => matmul(ctx, x, wOk, T([15, 36]), { transB: true }), 'matmul', 'out', '(15, 36)', 'last dimension 37', '(15, 37)');
  expectThrows(() => matmul(ctx, x, wOk, T([37, 15]), { transB: true }), 'matmul', 'out', '(37, 15)', 'last dimension 37');
  // bias of the wrong length.
  expectThrows(() => matmul(ctx, x, wOk, out, { transB: true, bias }), 'matmul', 'bias (bias_ih)', '(36)', 'expected (37)');
  // i32 tensors.
  expectThrows(() => matmul(ctx, T([3, 5, 7], 'i32', 'tokens'), wOk, out, { transB: true }), 'matmul', 'a (tokens)', 'dtype i32', 'expected f32');
  expectThrows(() => matmul(ctx, x, T([37, 7], 'i32', 'wi'), out, { transB: true }), 'matmul', 'b (wi)', 'dtype i32');
  expectThrows(() => matmul(ctx, x, wOk, T([15, 37], 'i32', 'oi'), { transB: true }), 'matmul', 'out (oi)', 'dtype i32');
  expectThrows(() => matmul(ctx, x, wOk, out, { transB: true, bias: T([37], 'i32', 'bi') }), 'matmul', 'bias (bi)', 'dtype i32');
  // out aliasing an input, released tensors, bad alpha, unknown variant.
  const sq = T([7, 7], 'f32', 'sq');
  expectThrows(() => matmul(ctx, sq, sq, sq), 'matmul', 'out (sq)', 'shares a buffer');
  const gone = T([15, 37], 'f32', 'gone');
  gone.release();
  expectThrows(() => matmul(ctx, x, wOk, gone, { transB: true }), 'matmul', 'out (gone)', 'released');
  expectThrows(() => matmul(ctx, x, wOk, out, { transB: true, alpha: NaN }), 'matmul', 'alpha');
  expectThrows(() => matmul(ctx, x, wOk, out, { transB: true, variant: 'fast' as MatmulVariant }), 'matmul', 'unknown variant fast');
  // A buffer that does not hold whole 4-vectors (only possible for tensors made outside the pool).
  const odd = new TensorClass(ctx.device.createBuffer({ size: 20, usage: STORAGE_USAGE, label: 'odd' }), [5], 'f32', 'odd');
  expectThrows(() => matmul(ctx, odd, T([5, 3]), T([1, 3])), 'matmul', 'a (odd)', '20 bytes', 'multiple of 16');
  // Column sum: out must be (N), f32.
  expectThrows(() => matmulColumnSum(ctx, out, T([36], 'f32', 'db')), 'matmulColumnSum', 'out (db)', '(36)', 'expected (37)');
  expectThrows(() => matmulColumnSum(ctx, out, T([1, 37], 'f32', 'db2')), 'matmulColumnSum', 'out (db2)', 'expected (37)');
  expectThrows(() => matmulColumnSum(ctx, T([15, 37], 'i32', 'gi'), T([37])), 'matmulColumnSum', 'a (gi)', 'dtype i32');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  for (const t of made) t.release();
  odd.release();
});

test.run();
