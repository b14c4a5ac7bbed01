// Global-norm clipping kernels against the CPU reference (src/cpu/clip.ts), including huge and tiny
// gradients, non-finite ones (a non-finite coefficient: the update is skipped), the training-step
// guard's status, and the fused path through adamUpdate's scale.
import { suite } from 'uvu';
import { CLIP_CHUNK, STEP_STATUS_LENGTH, clipGradNorm, clipPartialsLength, clipScale } from '../src/kernels/clip.ts';
import { adamUpdate, sgdUpdate } from '../src/kernels/adam.ts';
import * as cpu from '../src/cpu/clip.ts';
import { adamUpdate as cpuAdam } from '../src/cpu/optim.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { asGpuAdapter } from './helpers/adapter_kind.ts';

const test = suite('clip');

// Tolerances. norm: f32 sums of 2048 exactly scaled squares per partial (each rounded, 6e-8
// relative; pairwise tree, error growing with log2 of the count), a Kahan sum of the partials, and a
// square root that halves the relative error: rtol 1e-6 (observed ≤ 5e-8 on lavapipe up to 1e6
// elements). coef = maxNorm/(norm + 1e-6) inherits it: rtol 1e-6. Clipped gradients: one f32
// product with that coef: rtol 2e-6.
const NORM = { atol: 0, rtol: 1e-6 };

const SHAPES = [[1], [37], [10, 100], [70_001]];

function randomGrads(seed: number, shapes: number[][], scale = 1): Float32Array[] {
  const rng = new Rng(seed);
  return shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale));
}

interface ClipRun { norm: number; scale: number; grads: Float32Array[] }

async function runClip(ctx: GpuContext, data: Float32Array[], shapes: number[][], maxNorm: number, applyInPlace = true): Promise<ClipRun> {
  const grads = data.map((d, i) => ctx.tensor(d, shapes[i], `grad${i}`));
  const partials = ctx.empty([clipPartialsLength(grads)], 'f32', 'partials');
  const norm = ctx.empty([1], 'f32', 'norm'), scale = ctx.empty([1], 'f32', 'scale');
  clipGradNorm(ctx, grads, maxNorm, { partials, norm, scale, applyInPlace });
  const out: ClipRun = { norm: (await ctx.read(norm))[0], scale: (await ctx.read(scale))[0], grads: [] };
  for (const g of grads) out.grads.push(await ctx.read(g));
  for (const t of [...grads, partials, norm, scale]) t.release();
  return out;
}

function cpuClip(data: Float32Array[], maxNorm: number) {
  const g64 = data.map((d) => Float64Array.from(d));
  const { totalNorm, coef } = cpu.clipGradNorm(g64, maxNorm);
  return { totalNorm, coef, grads: g64 };
}

test('clipPartialsLength counts 2 floats per CLIP_CHUNK elements of each gradient', () => {
  const got = clipPartialsLength([1, 37, 1000, 70_001, CLIP_CHUNK, CLIP_CHUNK + 1]);
  const want = 2 * (1 + 1 + 1 + Math.ceil(70_001 / CLIP_CHUNK) + 1 + 2);
  if (got !== want) throw new Error(`clipPartialsLength = ${got}, expected ${want}`);
});

test('clips tensors of 1, 37, 1000 and 70001 elements like PyTorch (float64 reference)', async () => {
  const ctx = await gpu();
  const data = randomGrads(1, SHAPES);
  const ref = cpuClip(data, 5);
  if (!(ref.coef < 0.1)) throw new Error('test setup: expected strong clipping');
  const g = await runClip(ctx, data, SHAPES, 5);
  expectClose('norm', [g.norm], [ref.totalNorm], NORM);
  expectClose('coef', [g.scale], [ref.coef], NORM);
  g.grads.forEach((gg, i) => expectClose(`clipped grads[${i}]`, gg, ref.grads[i], { atol: 0, rtol: 2e-6, shape: SHAPES[i] }));
});

test('the reductions at both widths (32 threads on CPU drivers, 256 on GPUs) clip like the float64 reference', async () => {
  const ctx = await gpu();
  const data = randomGrads(2, SHAPES);
  const ref = cpuClip(data, 5);
  for (const [what, run] of [['this adapter', () => runClip(ctx, data, SHAPES, 5)], ['as a GPU', () => asGpuAdapter(ctx, () => runClip(ctx, data, SHAPES, 5))]] as const) {
    const g = await run();
    expectClose(`${what}: norm`, [g.norm], [ref.totalNorm], NORM);
    g.grads.forEach((gg, i) => expectClose(`${what}: clipped grads[${i}]`, gg, ref.grads[i], { atol: 0, rtol: 2e-6, shape: SHAPES[i] }));
  }
});

test('no clipping when the norm is below maxNorm: coef is exactly 1 and gradients are unchanged', async () => {
  const ctx = await gpu();
  const data = randomGrads(2, SHAPES, 0.01);
  const ref = cpuClip(data, 1e3);
  const g = await runClip(ctx, data, SHAPES, 1e3);
  if (g.scale !== 1 || ref.coef !== 1) throw new Error(`coef gpu=${g.scale} cpu=${ref.coef}, expected 1`);
  expectClose('norm (no clip)', [g.norm], [ref.totalNorm], NORM);
  g.grads.forEach((gg, i) => { if (gg.some((v, j) => v !== data[i][j])) throw new Error(`grads[${i}] changed`); });
});

test('huge gradients (1e15, 1e20, 1e30, 3e38) and tiny ones (1e-30) give finite, accurate norms', async () => {
  const ctx = await gpu();
  // A naive f32 sum of squares is inf from |g| ≈ 1.8e19 up and 0 below ≈ 1e-23 (or 1e-19 with
  // flushed denormals); the power-of-two scaling must avoid both.
  for (const scale of [1e15, 1e20, 1e30, 1e-30]) {
    const data = randomGrads(3, SHAPES, scale);
    const ref = cpuClip(data, 1);
    const g = await runClip(ctx, data, SHAPES, 1);
    if (!Number.isFinite(g.norm) || g.norm === 0) throw new Error(`scale ${scale}: norm ${g.norm}`);
    expectClose(`norm at scale ${scale}`, [g.norm], [ref.totalNorm], NORM);
    expectClose(`coef at scale ${scale}`, [g.scale], [ref.coef], NORM);
  }
  // One element at the top of the f32 range plus ordinary ones: norm 3e38 is still finite.
  const data = [new Float32Array([3e38]), new Float32Array([1, 2, 3])];
  const g = await runClip(ctx, data, [[1], [3]], 1, false);
  expectClose('norm with 3e38', [g.norm], [cpu.clipTotalNorm(data)], NORM);
});

test('an inf gradient gives norm inf and a non-finite coef (a skipped step); a NaN gives NaN; gradients are left as they are', async () => {
  const ctx = await gpu();
  const shapes = [[5], [3000]];
  const data = randomGrads(4, shapes, 1e30);
  data[1][2500] = Infinity;
  const inf = await runClip(ctx, data, shapes, 1, true);
  if (inf.norm !== Infinity || inf.scale !== Infinity) throw new Error(`inf: norm ${inf.norm}, coef ${inf.scale}`);
  const ref = cpuClip(data, 1);
  if (ref.coef !== Infinity) throw new Error(`CPU reference coef ${ref.coef}, expected Infinity`);
  // clip_scale leaves the gradients alone on a skipped step (bit-identical, inf included).
  inf.grads.forEach((g, i) => expectClose(`grads[${i}] after a skipped clip`, g, data[i], { atol: 0, rtol: 0 }));
  data[1][2500] = 1;
  data[0][3] = NaN;
  const nan = await runClip(ctx, data, shapes, 1, false);
  if (!Number.isNaN(nan.norm) || !Number.isNaN(nan.scale)) throw new Error(`NaN: norm ${nan.norm}, coef ${nan.scale}`);
  // A NaN in a chunk of tiny values next to huge ones is not lost to the exponent alignment.
  const mixed = [new Float32Array(3000).fill(1e-30), new Float32Array(10).fill(1e30)];
  mixed[0][7] = NaN;
  const m = await runClip(ctx, mixed, [[3000], [10]], 1, false);
  if (!Number.isNaN(m.norm) || !Number.isNaN(m.scale)) throw new Error(`NaN among tiny values: norm ${m.norm}, coef ${m.scale}`);
});

test('maxNorm Infinity measures without clipping: coef exactly 1', async () => {
  const ctx = await gpu();
  const data = randomGrads(9, SHAPES, 100);
  const g = await runClip(ctx, data, SHAPES, Infinity, true);
  if (g.scale !== 1) throw new Error(`coef ${g.scale}, expected 1`);
  expectClose('norm (measure only)', [g.norm], [cpu.clipTotalNorm(data)], NORM);
  g.grads.forEach((gg, i) => expectClose(`grads[${i}] unchanged`, gg, data[i], { atol: 0, rtol: 0 }));
});

/** Runs a guarded clipGradNorm with `loss` and returns the status [skip, norm, loss, coef]. */
async function runGuard(ctx: GpuContext, data: Float32Array[], shapes: number[][], maxNorm: number, loss: number): Promise<Float32Array> {
  const grads = data.map((d, i) => ctx.tensor(d, shapes[i], `grad${i}`));
  const partials = ctx.empty([clipPartialsLength(grads)], 'f32', 'partials');
  const norm = ctx.empty([1], 'f32', 'norm'), scale = ctx.empty([1], 'f32', 'scale');
  const lossT = ctx.tensor(new Float32Array([loss]), [1], 'loss'), status = ctx.empty([STEP_STATUS_LENGTH], 'f32', 'status');
  const before = ctx.dispatchCount;
  clipGradNorm(ctx, grads, maxNorm, { partials, norm, scale, guard: { loss: lossT, status } });
  if (ctx.dispatchCount - before !== grads.length + 1) throw new Error(`the guard took ${ctx.dispatchCount - before} dispatches, expected ${grads.length + 1}`);
  const out = await ctx.read(status);
  const sc = (await ctx.read(scale))[0];
  if (!Object.is(sc, out[3]) && !(Number.isNaN(sc) && Number.isNaN(out[3]))) throw new Error(`scale ${sc} differs from status coef ${out[3]}`);
  for (const t of [...grads, partials, norm, scale, lossT, status]) t.release();
  return out;
}

test('guard: status is [skip, norm, loss, coef]; skip exactly when the norm or the loss is not finite', async () => {
  const ctx = await gpu();
  const shapes = [[37], [3, 101]];
  const data = randomGrads(10, shapes, 2);
  const norm = cpu.clipTotalNorm(data);
  const cases: [string, Float32Array[], number, number, boolean][] = [
    ['finite, clipped', data, 1, 0.75, false],
    ['finite, measure only', data, Infinity, 0.75, false],
    ['NaN loss', data, 1, NaN, true],
    ['inf loss', data, Infinity, Infinity, true],
    ['-inf loss', data, 1, -Infinity, true],
    ['inf gradient', [data[0], Float32Array.from(data[1], (v, i) => (i === 5 ? -Infinity : v))], 1, 0.75, true],
    ['NaN gradient', [Float32Array.from(data[0], (v, i) => (i === 36 ? NaN : v)), data[1]], Infinity, 0.75, true],
  ];
  for (const [name, grads, maxNorm, loss, skip] of cases) {
    const s = await runGuard(ctx, grads, shapes, maxNorm, loss);
    if (s[0] !== (skip ? 1 : 0)) throw new Error(`${name}: skip ${s[0]}, expected ${skip ? 1 : 0}`);
    if (cpu.stepSkipped(s[1], loss) !== skip) throw new Error(`${name}: the CPU rule disagrees`);
    if (!Object.is(s[2], Math.fround(loss)) && !(Number.isNaN(s[2]) && Number.isNaN(loss))) throw new Error(`${name}: status loss ${s[2]}, expected ${loss}`);
    if (skip) {
      if (Number.isFinite(s[3])) throw new Error(`${name}: coef ${s[3]} is finite on a skipped step`);
    } else {
      expectClose(`${name}: norm`, [s[1]], [norm], NORM);
      expectClose(`${name}: coef`, [s[3]], [cpu.clipCoef(norm, maxNorm)], NORM);
    }
  }
});

test('deterministic: repeated runs give bitwise equal norms', async () => {
  const ctx = await gpu();
  const data = randomGrads(5, SHAPES);
  const a = await runClip(ctx, data, SHAPES, 2, false);
  const b = await runClip(ctx, data, SHAPES, 2, false);
  if (a.norm !== b.norm || a.scale !== b.scale) throw new Error(`runs differ: ${a.norm} vs ${b.norm}`);
});

test('fused: adamUpdate reading scale from clipGradNorm matches CPU clip + Adam', async () => {
  const ctx = await gpu();
  const shapes = [[37], [3, 101]];
  const rng = new Rng(6);
  const pData = shapes.map((s) => rng.uniformArray(s.reduce((a, b) => a * b, 1)));
  const gData = randomGrads(7, shapes, 3);
  const ps = pData.map((d, i) => ctx.tensor(d, shapes[i], `p${i}`));
  const gs = gData.map((d, i) => ctx.tensor(d, shapes[i], `g${i}`));
  const ms = shapes.map((s) => ctx.zeros(s, 'f32', 'm')), vs = shapes.map((s) => ctx.zeros(s, 'f32', 'v'));
  const partials = ctx.empty([clipPartialsLength(gs)], 'f32', 'partials');
  const norm = ctx.empty([1], 'f32', 'norm'), scale = ctx.empty([1], 'f32', 'scale');
  const hyper = ctx.tensor([0.01, 1 - 0.9, 1 - 0.999], [3], 'hyper');
  const before = ctx.dispatchCount;
  clipGradNorm(ctx, gs, 1, { partials, norm, scale });
  ps.forEach((p, i) => adamUpdate(ctx, p, gs[i], ms[i], vs[i], hyper, scale, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }));
  if (ctx.dispatchCount - before !== 2 + 1 + 2) throw new Error(`recorded ${ctx.dispatchCount - before} dispatches, expected 5`);
  const { totalNorm, coef } = cpuClip(gData, 1);
  if (!(coef < 1)) throw new Error('test setup: expected clipping');
  for (let i = 0; i < shapes.length; i++) {
    const p = Float64Array.from(pData[i]), m = new Float64Array(p.length), v = new Float64Array(p.length);
    cpuAdam(p, gData[i], m, v, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, scale: coef });
    // One Adam step from a clipped gradient: the f32 update is lr·m̂/(√v̂ + eps) to a few ulps.
    expectClose(`adam p[${i}] after clip`, await ctx.read(ps[i]), p, { atol: 1e-7, rtol: 1e-5 });
  }
  expectClose('fused norm', await ctx.read(norm), [totalNorm], NORM);
  for (const t of [...ps, ...gs, ...ms, ...vs, partials, norm, scale, hyper]) t.release();
});

test('fused: a non-finite gradient makes the clipped Adam and SGD steps write nothing (bit-identical p, m, v)', async () => {
  const ctx = await gpu();
  const shapes = [[37], [3, 101]];
  const rng = new Rng(11);
  const pData = shapes.map((s) => rng.uniformArray(s.reduce((a, b) => a * b, 1)));
  const gData = randomGrads(12, shapes, 3);
  gData[1][200] = NaN;
  for (const maxNorm of [1, Infinity]) {
    const ps = pData.map((d, i) => ctx.tensor(d, shapes[i], `p${i}`));
    const gs = gData.map((d, i) => ctx.tensor(d, shapes[i], `g${i}`));
    const ms = shapes.map((s) => ctx.tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.25), s, 'm'));
    const vs = shapes.map((s) => ctx.tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.5), s, 'v'));
    const partials = ctx.empty([clipPartialsLength(gs)], 'f32', 'partials');
    const norm = ctx.empty([1], 'f32', 'norm'), scale = ctx.empty([1], 'f32', 'scale');
    const hyper = ctx.tensor([0.01, 1 - 0.9, 1 - 0.999], [3], 'hyper');
    clipGradNorm(ctx, gs, maxNorm, { partials, norm, scale });
    ps.forEach((p, i) => adamUpdate(ctx, p, gs[i], ms[i], vs[i], hyper, scale, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }));
    ps.forEach((p, i) => sgdUpdate(ctx, p, gs[i], ms[i], hyper, scale, { momentum: 0.9, weightDecay: 0.1 }));
    for (let i = 0; i < shapes.length; i++) {
      expectClose(`p[${i}] (maxNorm ${maxNorm})`, await ctx.read(ps[i]), pData[i], { atol: 0, rtol: 0 });
      expectClose(`m[${i}] (maxNorm ${maxNorm})`, await ctx.read(ms[i]), new Float32Array(pData[i].length).fill(0.25), { atol: 0, rtol: 0 });
      expectClose(`v[${i}] (maxNorm ${maxNorm})`, await ctx.read(vs[i]), new Float32Array(pData[i].length).fill(0.5), { atol: 0, rtol: 0 });
    }
    for (const t of [...ps, ...gs, ...ms, ...vs, partials, norm, scale, hyper]) t.release();
  }
});

test('clipScale multiplies in place by scale[0]', async () => {
  const ctx = await gpu();
  const d = randomGrads(8, [[3, 37]])[0];
  const g = ctx.tensor(d, [3, 37], 'g'), s = ctx.tensor([0.375], [1], 'scale');
  clipScale(ctx, g, s);
  // One correctly rounded f32 multiplication (Vulkan requires it): bitwise equal to fround(v·0.375).
  expectClose('clipScale', await ctx.read(g), Array.from(d, (v) => Math.fround(v * 0.375)), { atol: 0, rtol: 0 });
  g.release(); s.release();
});

test('wrong shapes, dtypes, sizes and aliasing are refused before any dispatch', async () => {
  const ctx = await gpu();
  const g1 = ctx.zeros([37]), g2 = ctx.zeros([4, 5]), gi = ctx.zeros([7], 'i32');
  const partials = ctx.zeros([clipPartialsLength([g1, g2])]), small = ctx.zeros([2]);
  const norm = ctx.zeros([1]), scale = ctx.zeros([1]), two = ctx.zeros([2]), p2d = ctx.zeros([2, 2]);
  const before = ctx.dispatchCount;
  const grads: Tensor[] = [g1, g2];
  expectThrows(() => clipGradNorm(ctx, [g1, gi], 1, { partials, norm, scale }), 'clipGradNorm', 'grads[1]', 'dtype i32', 'expected f32');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials: small, norm, scale }), 'clipGradNorm', 'partials', '(2)', 'at least (4)');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials: p2d, norm, scale }), 'partials', '(2, 2)', 'expected (*)');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials, norm: two, scale }), 'norm', '(2)', 'expected (1)');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials, norm, scale: norm }), 'scale and norm must be different');
  expectThrows(() => clipGradNorm(ctx, [g1, partials], 1, { partials, norm, scale }), 'grads[1] and partials must be different');
  expectThrows(() => clipGradNorm(ctx, grads, 0, { partials, norm, scale }), 'maxNorm must be a positive number', 'got 0');
  expectThrows(() => clipGradNorm(ctx, grads, NaN, { partials, norm, scale }), 'maxNorm must be a positive number', 'got NaN');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials, norm, scale, guard: { loss: two, status: partials } }), 'guard.loss', 'expected (1)');
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials, norm, scale, guard: { loss: norm, status: two } }), 'guard.status', `expected (${STEP_STATUS_LENGTH})`);
  expectThrows(() => clipGradNorm(ctx, grads, 1, { partials, norm, scale, guard: { loss: norm, status: partials } }), 'guard.loss and norm must be different');
  expectThrows(() => clipGradNorm(ctx, [], 1, { partials, norm, scale }), 'non-empty');
  expectThrows(() => clipScale(ctx, g1, two), 'clipScale', 'scale', 'expected (1)');
  expectThrows(() => clipScale(ctx, gi, scale), 'clipScale', 'grad', 'dtype i32');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of [g1, g2, gi, partials, small, norm, scale, two, p2d]) t.release();
});

test.run();
