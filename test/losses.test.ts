// Sigmoid cross-entropy and squared-error kernels against the CPU reference (src/cpu/losses.ts),
// hand-computed values, and finite differences.
import { suite } from 'uvu';
import { lossesSum, meanSquaredError, sigmoidCrossEntropy, type LossReduction } from '../src/kernels/losses.ts';
import * as cpu from '../src/cpu/losses.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('losses');

type Kind = 'sigmoid' | 'mse';
interface Out { losses: Float32Array; loss: number; grad?: Float32Array }

async function runGpu(
  ctx: GpuContext, kind: Kind, x: Float32Array, z: Float32Array, shape: number[],
  o: { weights?: Float32Array; reduction?: LossReduction; gradScale?: number; grad?: boolean } = {},
): Promise<Out> {
  const tx = ctx.tensor(x, shape, 'x'), tz = ctx.tensor(z, shape, 'z');
  const tw = o.weights ? ctx.tensor(o.weights, shape, 'weights') : undefined;
  const losses = ctx.empty(shape, 'f32', 'losses'), loss = ctx.empty([1], 'f32', 'loss');
  const grad = o.grad === false ? undefined : ctx.empty(shape, 'f32', 'grad');
  const opts = { reduction: o.reduction, gradScale: o.gradScale };
  if (kind === 'sigmoid') sigmoidCrossEntropy(ctx, { logits: tx, labels: tz, weights: tw, losses, loss, dlogits: grad }, opts);
  else meanSquaredError(ctx, { pred: tx, target: tz, weights: tw, losses, loss, dpred: grad }, opts);
  const out: Out = { losses: await ctx.read(losses), loss: (await ctx.read(loss))[0], grad: grad ? await ctx.read(grad) : undefined };
  for (const t of [tx, tz, tw, losses, loss, grad]) t?.release();
  return out;
}

function cpuRef(kind: Kind, x: ArrayLike<number>, z: ArrayLike<number>, o: cpu.LossCpuOptions) {
  return kind === 'sigmoid'
    ? { ...cpu.lossesSigmoidXent(x, z, o), grad: cpu.lossesSigmoidXentBackward(x, z, o) }
    : { ...cpu.lossesMse(x, z, o), grad: cpu.lossesMseBackward(x, z, o) };
}

// Tolerances. Per element: a handful of f32 operations on O(1) values, plus WGSL's log/exp
// (absolute error ~2^-21 near 1 for log): atol 1e-6, rtol 1e-6. Scalar: a Kahan-compensated f32 sum
// of N such terms: rtol 1e-6 (+ atol 1e-6 for sums that cancel). Gradients: sigmoid(x) carries an
// absolute f32 error of ~1 ulp of 1 (6e-8) that does not shrink when sigmoid(x) − z cancels, times
// w ≤ 2: atol 5e-7·|grad scale|, rtol 1e-6.
const ELEM = { atol: 1e-6, rtol: 1e-6 };
const SCALAR = { atol: 1e-6, rtol: 1e-6 };

for (const kind of ['sigmoid', 'mse'] as Kind[]) {
  for (const [shape, label] of [[[3, 37], 'awkward (3, 37)'], [[64, 128], 'realistic (64, 128)']] as const) {
    test(`${kind} matches CPU, ${label}, mean/sum, with and without weights`, async () => {
      const ctx = await gpu();
      const N = shape[0] * shape[1];
      const rng = new Rng(N + (kind === 'mse' ? 1 : 0));
      const x = rng.uniformArray(N, -4, 4);
      const z = kind === 'sigmoid' ? Float32Array.from({ length: N }, () => (rng.next() < 0.3 ? rng.next() : rng.int(2))) : rng.uniformArray(N, -3, 3);
      const w = rng.uniformArray(N, 0, 2);
      for (let i = 0; i < N; i += 7) w[i] = 0;
      for (const reduction of ['mean', 'sum'] as LossReduction[]) {
        for (const weights of [undefined, w]) {
          const tag = `${kind} ${label} ${reduction}${weights ? ' weighted' : ''}`;
          const ref = cpuRef(kind, x, z, { weights, reduction, gradScale: 0.5 });
          const g = await runGpu(ctx, kind, x, z, [...shape], { weights, reduction, gradScale: 0.5 });
          expectClose(`${tag} losses`, g.losses, ref.losses, { ...ELEM, shape });
          expectClose(`${tag} loss`, [g.loss], [ref.loss], SCALAR);
          const gs = 0.5 / (reduction === 'mean' ? N : 1);
          expectClose(`${tag} grad`, g.grad!, ref.grad, { atol: 5e-7 * gs, rtol: 1e-6, shape });
        }
      }
    });
  }
}

// ±100 logits: max(x,0) − x·z is exact-ish (ulp(100) ≈ 7.6e-6 when z is fractional), the log term
// is tiny (e^-100 underflows to 0 in f32; the true value 3.7e-44 is far below atol). atol 1e-5.
test('sigmoid cross-entropy with ±100 (and ±1e4) logits is finite and matches float64', async () => {
  const ctx = await gpu();
  const xs = [100, -100, 100, -100, 100, -100, 1e4, -1e4, 0, 30, -30, 17.5];
  const zs = [0, 0, 1, 1, 0.25, 0.75, 1, 0, 0.5, 1, 1, 0];
  const x = new Float32Array(xs), z = new Float32Array(zs);
  for (const reduction of ['mean', 'sum'] as LossReduction[]) {
    const ref = cpuRef('sigmoid', x, z, { reduction });
    const g = await runGpu(ctx, 'sigmoid', x, z, [12], { reduction });
    for (const v of [...g.losses, g.loss, ...g.grad!]) if (!Number.isFinite(v)) throw new Error(`non-finite output ${v}`);
    expectClose(`±100 losses ${reduction}`, g.losses, ref.losses, { atol: 1e-5, rtol: 1e-6 });
    expectClose(`±100 loss ${reduction}`, [g.loss], [ref.loss], { atol: 1e-5, rtol: 1e-6 });
    expectClose(`±100 grad ${reduction}`, g.grad!, ref.grad, { atol: 1e-7, rtol: 1e-6 });
  }
});

// Confident correct predictions: the loss is log(1 + e^-|x|) ≈ e^-|x|, far below f32's resolution
// of 1 + e. The series form keeps it to a few ulps relative (rtol 1e-5: exp rounding, and log's
// ~1e-7 absolute error on values ≥ 0.05 at |x| < 3), where a plain log(1 + e) is off by up to 100%.
test('sigmoid cross-entropy tails (|x| = 2.5..80, label on the right side) keep relative accuracy', async () => {
  const ctx = await gpu();
  const x = new Float32Array([2.5, -3, 3.5, -5, 8, -8, 10.5, -12, 20, -20, 30, -30, 50, -50, 80, -80]);
  const z = new Float32Array(x.length).map((_, i) => (x[i] > 0 ? 1 : 0));
  const ref = cpu.lossesSigmoidXent(x, z, { reduction: 'sum' });
  const g = await runGpu(ctx, 'sigmoid', x, z, [x.length], { reduction: 'sum' });
  expectClose('tail losses', g.losses, ref.losses, { atol: 0, rtol: 1e-5 });
});

// Values worked by hand from the formulas (independent of both implementations).
test('hand-computed values: log 2 at x = 0, log(1 + e^-2), sum and mean of squares', async () => {
  const ctx = await gpu();
  const ln2 = Math.LN2, l2 = Math.log(1 + Math.exp(-2));
  // (x, z) = (0, 0), (0, 1), (2, 1), (-2, 0), (2, 0): losses ln2, ln2, l2, l2, 2 + l2
  const x = new Float32Array([0, 0, 2, -2, 2]), z = new Float32Array([0, 1, 1, 0, 0]);
  const want = [ln2, ln2, l2, l2, 2 + l2];
  const s = await runGpu(ctx, 'sigmoid', x, z, [5], { reduction: 'sum' });
  expectClose('sigmoid hand losses', s.losses, want, ELEM);
  expectClose('sigmoid hand sum', [s.loss], [want.reduce((a, b) => a + b)], SCALAR);
  // d/dx at x = 0, z = 1: sigmoid(0) − 1 = −0.5
  if (Math.abs(s.grad![1] + 0.5) > 1e-7) throw new Error(`grad at (0, 1) = ${s.grad![1]}, expected -0.5`);
  // pred [1, 2, 3] vs target [1, 1, 1]: squares 0, 1, 4 — sum 5 (tf.reduce_sum(tf.square)), mean 5/3
  const p = new Float32Array([1, 2, 3]), t = new Float32Array([1, 1, 1]);
  const sum = await runGpu(ctx, 'mse', p, t, [3], { reduction: 'sum' });
  const mean = await runGpu(ctx, 'mse', p, t, [3]);
  expectClose('mse hand', [sum.loss, mean.loss, ...sum.grad!, ...mean.grad!], [5, 5 / 3, 0, 2, 4, 0, 2 / 3, 4 / 3], { atol: 0, rtol: 1e-7 });
});

test('forward only (no gradient) and the deterministic sum', async () => {
  const ctx = await gpu();
  const rng = new Rng(3);
  const N = 70_001;
  const x = rng.uniformArray(N, -2, 2), z = rng.uniformArray(N, 0, 1);
  const before = ctx.dispatchCount;
  const a = await runGpu(ctx, 'sigmoid', x, z, [N], { grad: false });
  if (ctx.dispatchCount - before !== 2) throw new Error(`recorded ${ctx.dispatchCount - before} dispatches, expected 2`);
  const b = await runGpu(ctx, 'sigmoid', x, z, [N]);
  if (a.loss !== b.loss) throw new Error(`loss differs between runs: ${a.loss} vs ${b.loss}`);
  const ref = cpu.lossesSigmoidXent(x, z);
  expectClose('sigmoid loss N=70001', [a.loss], [ref.loss], SCALAR);
});

test('lossesSum: scale · Σ values over awkward sizes, bitwise reproducible', async () => {
  const ctx = await gpu();
  for (const n of [1, 255, 257, 70_001]) {
    const rng = new Rng(n);
    const v = rng.uniformArray(n, -1, 3);
    const tv = ctx.tensor(v, [n], 'values'), out = ctx.empty([1], 'f32', 'out');
    lossesSum(ctx, tv, out, { scale: 0.125 });
    const r1 = (await ctx.read(out))[0];
    lossesSum(ctx, tv, out, { scale: 0.125 });
    const r2 = (await ctx.read(out))[0];
    if (r1 !== r2) throw new Error(`lossesSum not reproducible: ${r1} vs ${r2}`);
    let s = 0;
    for (const e of v) s += e;
    expectClose(`lossesSum n=${n}`, [r1], [0.125 * s], SCALAR);
    tv.release(); out.release();
  }
});

test('CPU backward matches central finite differences (float64)', () => {
  const rng = new Rng(4);
  const n = 7;
  const x = Float64Array.from(rng.uniformArray(n, -3, 3));
  const zs = Float64Array.from(rng.uniformArray(n, 0, 1));
  const zt = Float64Array.from(rng.uniformArray(n, -2, 2));
  const weights = Float64Array.from(rng.uniformArray(n, 0, 2));
  for (const reduction of ['mean', 'sum'] as const) {
    for (const w of [undefined, weights]) {
      const o = { weights: w, reduction, gradScale: 1.5 };
      const tag = `${reduction}${w ? ' weighted' : ''}`;
      // h = 1e-6 central differences of smooth O(1) functions: error ~1e-9.
      expectClose(`fd sigmoid ${tag}`, cpu.lossesSigmoidXentBackward(x, zs, o),
        numericalGrad(() => 1.5 * cpu.lossesSigmoidXent(x, zs, o).loss, x), { atol: 1e-8, rtol: 1e-6 });
      expectClose(`fd mse ${tag}`, cpu.lossesMseBackward(x, zt, o),
        numericalGrad(() => 1.5 * cpu.lossesMse(x, zt, o).loss, x), { atol: 1e-8, rtol: 1e-6 });
    }
  }
});

test('wrong shapes, dtypes, options and aliasing are refused before any dispatch', async () => {
  const ctx = await gpu();
  const x = ctx.zeros([4, 5]), z = ctx.zeros([4, 5]), w = ctx.zeros([4, 5]), losses = ctx.zeros([4, 5]), loss = ctx.zeros([1]);
  const bad = ctx.zeros([5, 4]), ints = ctx.zeros([4, 5], 'i32'), two = ctx.zeros([2]);
  const before = ctx.dispatchCount;
  const ok = { logits: x, labels: z, losses, loss };
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, labels: bad }), 'sigmoidCrossEntropy', 'labels', '(5, 4)', 'expected (4, 5)');
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, logits: ints }), 'sigmoidCrossEntropy', 'logits', 'dtype i32', 'expected f32');
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, weights: bad }), 'weights', 'expected (4, 5)');
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, loss: two }), 'loss', '(2)', 'expected (1)');
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, dlogits: bad }), 'dlogits', 'expected (4, 5)');
  expectThrows(() => sigmoidCrossEntropy(ctx, { ...ok, dlogits: x }), 'dlogits and logits must be different tensors');
  expectThrows(() => sigmoidCrossEntropy(ctx, ok, { reduction: 'max' as never }), "reduction must be 'mean' or 'sum'");
  expectThrows(() => meanSquaredError(ctx, { pred: x, target: z, losses, loss, dpred: ints }), 'meanSquaredError', 'dpred', 'dtype i32');
  expectThrows(() => meanSquaredError(ctx, { pred: x, target: undefined as never, losses, loss }), 'meanSquaredError', 'target must be a Tensor');
  expectThrows(() => meanSquaredError(ctx, { pred: x, target: z, weights: w, losses: bad, loss }), 'losses', '(5, 4)');
  expectThrows(() => lossesSum(ctx, ints, loss), 'lossesSum', 'values', 'dtype i32');
  expectThrows(() => lossesSum(ctx, x, two), 'lossesSum', 'out', 'expected (1)');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of [x, z, w, losses, loss, bad, ints, two]) t.release();
});

test.run();
