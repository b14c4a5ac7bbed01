// Sequence plumbing kernels against src/cpu/seq.ts. Copies are exact (atol 0); dropout multiplies
// by 1/keep in f32 (GPU) vs divides in float64 (CPU): 1-ulp differences, so rtol 1e-6.
import { suite } from 'uvu';
import {
  seqAxpy, seqColumnDot, seqCopyCols, seqDropout, seqGatherLast, seqReverse, seqScatterLast, seqShiftPrev, seqTakeCols,
} from '../src/kernels/seq.ts';
import * as cpu from '../src/cpu/seq.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('seq');
const EXACT = { atol: 0, rtol: 0 };

for (const [B, T, D] of [[3, 5, 37], [64, 9, 128]] as const) {
  test(`shift, reverse, gather/scatter last at B=${B} T=${T} D=${D} with ragged lengths`, async () => {
    const ctx = await gpu();
    const rng = new Rng(B * 100 + D);
    const xs = rng.uniformArray(B * T * D), h0s = rng.uniformArray(B * D);
    const lens = Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + rng.int(T)));
    const x = ctx.tensor(xs, [B, T, D], 'x'), h0 = ctx.tensor(h0s, [B, D], 'h0'), len = ctx.tensor(lens, [B], 'lengths');
    const y = ctx.empty([B, T, D], 'f32', 'y'), last = ctx.empty([B, D], 'f32', 'last');
    const shape = [B, T, D];
    seqShiftPrev(ctx, x, h0, y);
    expectClose('hprev', await ctx.read(y), new Float32Array(cpu.seqShiftPrev(xs, h0s, B, T, D)), { ...EXACT, shape });
    seqReverse(ctx, x, len, y);
    expectClose('reversed', await ctx.read(y), new Float32Array(cpu.seqReverse(xs, lens, B, T, D)), { ...EXACT, shape });
    seqGatherLast(ctx, x, len, last);
    const lastCpu = cpu.seqGatherLast(xs, lens, B, T, D);
    expectClose('last', await ctx.read(last), new Float32Array(lastCpu), { ...EXACT, shape: [B, D] });
    seqScatterLast(ctx, last, len, y);
    expectClose('scattered', await ctx.read(y), new Float32Array(cpu.seqScatterLast(lastCpu, lens, B, T, D)), { ...EXACT, shape });
    seqScatterLast(ctx, last, len, y, { accumulate: true });
    expectClose('scattered twice', await ctx.read(y), new Float32Array(cpu.seqScatterLast(lastCpu, lens, B, T, D).map((v) => 2 * v)), { ...EXACT, shape });
    for (const t of [x, h0, len, y, last]) t.release();
  });
}

test('dropout matches the CPU mask bit for bit, keeps about keep of the units, and is its own backward', async () => {
  const ctx = await gpu();
  const n = 70_003, keep = 0.6, seed = 1234;
  const xs = new Rng(3).uniformArray(n, 0.5, 1.5);
  const x = ctx.tensor(xs, [n], 'x'), y = ctx.empty([n], 'f32', 'y');
  const stepSeed = ctx.tensor(Uint32Array.of(987654321), [1], 'step seed');
  seqDropout(ctx, x, y, keep, seed, stepSeed);
  const got = await ctx.read(y);
  expectClose('dropout', got, cpu.seqDropout(xs, keep, seed, 987654321), { atol: 0, rtol: 1e-6 });
  const kept = got.filter((v) => v !== 0).length / n;
  if (Math.abs(kept - keep) > 0.01) throw new Error(`kept fraction ${kept}, expected ~${keep}`);
  const other = ctx.empty([n], 'f32', 'y2');
  seqDropout(ctx, x, other, keep, seed + 1, stepSeed);
  const g2 = await ctx.read(other);
  if (g2.every((v, i) => (v === 0) === (got[i] === 0))) throw new Error('a different seed gave the same mask');
  ctx.write(stepSeed, Uint32Array.of(1));
  seqDropout(ctx, x, other, keep, seed, stepSeed);
  const g3 = await ctx.read(other);
  if (g3.every((v, i) => (v === 0) === (got[i] === 0))) throw new Error('a different step seed gave the same mask');
  for (const t of [x, y, other, stepSeed]) t.release();
});

test('copy/take columns (concat and split of bidirectional outputs) and axpy', async () => {
  const ctx = await gpu();
  const rng = new Rng(9);
  const N = 15, W = 37;
  const a = rng.uniformArray(N * W), b = rng.uniformArray(N * W);
  const ta = ctx.tensor(a, [3, 5, W], 'fwd'), tb = ctx.tensor(b, [3, 5, W], 'bwd'), cat = ctx.zeros([3, 5, 2 * W], 'f32', 'cat');
  seqCopyCols(ctx, ta, cat, 0);
  seqCopyCols(ctx, tb, cat, W);
  const want = new Float32Array(N * 2 * W);
  for (let r = 0; r < N; r++) for (let j = 0; j < W; j++) { want[r * 2 * W + j] = a[r * W + j]; want[r * 2 * W + W + j] = b[r * W + j]; }
  expectClose('concat', await ctx.read(cat), want, EXACT);
  const back = ctx.zeros([3, 5, W], 'f32', 'split');
  seqTakeCols(ctx, cat, back, W);
  expectClose('split', await ctx.read(back), b, EXACT);
  seqTakeCols(ctx, cat, back, W, { accumulate: true });
  expectClose('split accumulated', await ctx.read(back), b.map((v) => 2 * v), EXACT);
  seqAxpy(ctx, -0.5, ta, back);
  // f32 fma vs separate multiply-add: 1 ulp.
  expectClose('axpy', await ctx.read(back), b.map((v, i) => 2 * v - 0.5 * a[i]), { atol: 1e-7, rtol: 1e-6 });
  for (const t of [ta, tb, cat, back]) t.release();
});

test('column dot products (LSTM peephole gradients): one column block of x times w, summed over rows, into a slice of y', async () => {
  const ctx = await gpu();
  const rng = new Rng(61);
  const N = 45, Dx = 4 * 37, W = 37;
  const xs = rng.uniformArray(N * Dx), ws = rng.uniformArray(N * W), ys = rng.uniformArray(3 * W);
  const x = ctx.tensor(xs, [5, 9, Dx], 'x'), w = ctx.tensor(ws, [5, 9, W], 'w'), y = ctx.tensor(ys, [3, W], 'y');
  seqColumnDot(ctx, x, 3 * W, w, y, W, { accumulate: true });
  seqColumnDot(ctx, x, 0, w, y, 0);
  const want = Float64Array.from(ys);
  want.set(cpu.seqColumnDot(xs, 0, Dx, ws, W), 0);
  cpu.seqColumnDot(xs, 3 * W, Dx, ws, W).forEach((v, j) => { want[W + j] += v; });
  // f32 sums of 45 products of values in [-1, 1] against float64: ~1e-6 relative.
  expectClose('y', await ctx.read(y), want, { atol: 1e-5, rtol: 1e-5, shape: [3, W] });
  expectThrows(() => seqColumnDot(ctx, x, 4 * W - 1, w, y, 0), 'seqColumnDot', /columns \[147, 184\)/, /148 columns/);
  expectThrows(() => seqColumnDot(ctx, x, 0, w, y, 2 * W + 1), 'seqColumnDot', /too few for 37 at offset 75/);
  for (const t of [x, w, y]) t.release();
});

test('bad arguments are refused before dispatch', async () => {
  const ctx = await gpu();
  const x = ctx.zeros([2, 3, 4]), h0 = ctx.zeros([2, 5]), y = ctx.zeros([2, 3, 4]), lf = ctx.zeros([2]);
  const before = ctx.dispatchCount;
  expectThrows(() => seqShiftPrev(ctx, x, h0, y), 'seqShiftPrev', 'h0', '(2, 5)', 'expected (2, 4)');
  expectThrows(() => seqReverse(ctx, x, lf, y), 'seqReverse', 'lengths', 'dtype f32', 'expected i32');
  expectThrows(() => seqReverse(ctx, x, ctx.zeros([2], 'i32'), x), 'different tensors');
  expectThrows(() => seqDropout(ctx, x, y, 0, 1, ctx.zeros([1], 'u32')), 'keep probability');
  expectThrows(() => seqDropout(ctx, x, y, 0.5, 1, ctx.zeros([1], 'i32')), 'stepSeed', 'i32', 'expected u32');
  expectThrows(() => seqCopyCols(ctx, x, y, 2), 'do not fit');
  expectThrows(() => seqGatherLast(ctx, ctx.zeros([2, 3]), ctx.zeros([2], 'i32'), h0), '(B, T, D)');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of [x, h0, y, lf]) t.release();
});

test.run();
