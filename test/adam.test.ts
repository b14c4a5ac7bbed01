// Adam and SGD kernels against the CPU reference (src/cpu/optim.ts), including skipped steps (a
// non-finite gradient scale: nothing is written).
import { suite } from 'uvu';
import { adamUpdate, sgdUpdate } from '../src/kernels/adam.ts';
import * as cpu from '../src/cpu/optim.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('adam');
// Several steps of f32 arithmetic against float64: relative error of a few ulps per step.
const TOL = { atol: 1e-6, rtol: 1e-5 };

for (const n of [1, 37 * 4, 70_001]) {
  test(`adam matches CPU over 3 steps, N=${n}, weight decay and clip scale`, async () => {
    const ctx = await gpu();
    const rng = new Rng(n);
    const p0 = rng.uniformArray(n), hyperOpts = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const p = ctx.tensor(p0, [n], 'p'), m = ctx.zeros([n], 'f32', 'm'), v = ctx.zeros([n], 'f32', 'v');
    const g = ctx.empty([n], 'f32', 'grad'), hyper = ctx.empty([3], 'f32', 'hyper'), scale = ctx.tensor([0.5], [1], 'scale');
    const cp = Float64Array.from(p0), cm = new Float64Array(n), cv = new Float64Array(n);
    for (let step = 1; step <= 3; step++) {
      const grad = rng.uniformArray(n, -2, 2);
      ctx.write(g, grad);
      ctx.write(hyper, new Float32Array([hyperOpts.lr, 1 - 0.9 ** step, 1 - 0.999 ** step]));
      adamUpdate(ctx, p, g, m, v, hyper, scale, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      cpu.adamUpdate(cp, grad, cm, cv, { ...hyperOpts, step, scale: 0.5 });
    }
    expectClose('p', await ctx.read(p), cp, TOL);
    expectClose('m', await ctx.read(m), cm, TOL);
    expectClose('v', await ctx.read(v), cv, TOL);
    for (const t of [p, m, v, g, hyper, scale]) t.release();
  });
}

test('sgd with and without momentum matches CPU', async () => {
  const ctx = await gpu();
  const rng = new Rng(5);
  const n = 1001;
  for (const momentum of [0, 0.9]) {
    const p0 = rng.uniformArray(n);
    const p = ctx.tensor(p0, [n], 'p'), m = ctx.zeros([n], 'f32', 'm'), g = ctx.empty([n], 'f32', 'grad');
    const hyper = ctx.tensor([0.1, 1, 1], [3], 'hyper'), scale = ctx.tensor([1], [1], 'scale');
    const cp = Float64Array.from(p0), cm = new Float64Array(n);
    for (let step = 0; step < 3; step++) {
      const grad = rng.uniformArray(n);
      ctx.write(g, grad);
      sgdUpdate(ctx, p, g, m, hyper, scale, { momentum, weightDecay: 0 });
      cpu.sgdUpdate(cp, grad, cm, { lr: 0.1, momentum, weightDecay: 0 });
    }
    expectClose(`p (momentum ${momentum})`, await ctx.read(p), cp, TOL);
    for (const t of [p, m, g, hyper, scale]) t.release();
  }
});

// The bits of a Float32Array, for exact comparisons that treat NaN payloads as values.
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const bad of [NaN, Infinity, -Infinity]) {
  test(`a non-finite scale (${bad}) skips the step: Adam and SGD write nothing, like the CPU reference`, async () => {
    const ctx = await gpu();
    const rng = new Rng(9);
    const n = 300;
    const p0 = rng.uniformArray(n), m0 = rng.uniformArray(n), v0 = rng.uniformArray(n, 0, 1), grad = rng.uniformArray(n, -2, 2);
    const p = ctx.tensor(p0, [n], 'p'), m = ctx.tensor(m0, [n], 'm'), v = ctx.tensor(v0, [n], 'v'), g = ctx.tensor(grad, [n], 'grad');
    const hyper = ctx.tensor([0.01, 0.1, 0.001], [3], 'hyper'), scale = ctx.tensor([bad], [1], 'scale');
    adamUpdate(ctx, p, g, m, v, hyper, scale, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    sgdUpdate(ctx, p, g, m, hyper, scale, { momentum: 0.9, weightDecay: 0.01 });
    for (const [name, t, want] of [['p', p, p0], ['m', m, m0], ['v', v, v0]] as const) {
      if (bits(await ctx.read(t) as Float32Array).join() !== bits(want).join()) throw new Error(`${name} changed on a skipped step`);
    }
    const cp = Float64Array.from(p0), cm = Float64Array.from(m0), cv = Float64Array.from(v0);
    cpu.adamUpdate(cp, grad, cm, cv, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, scale: bad });
    cpu.sgdUpdate(cp, grad, cm, { lr: 0.01, momentum: 0.9, weightDecay: 0.01, scale: bad });
    expectClose('CPU p after a skipped step', cp, p0, { atol: 0, rtol: 0 });
    expectClose('CPU m after a skipped step', cm, m0, { atol: 0, rtol: 0 });
    expectClose('CPU v after a skipped step', cv, v0, { atol: 0, rtol: 0 });
    // A finite scale after it works as usual.
    ctx.write(scale, new Float32Array([1]));
    sgdUpdate(ctx, p, g, m, hyper, scale, { momentum: 0, weightDecay: 0 });
    const cp2 = Float64Array.from(p0);
    cpu.sgdUpdate(cp2, grad, new Float64Array(n), { lr: 0.01, momentum: 0, weightDecay: 0 });
    expectClose('p after a good step', await ctx.read(p), cp2, TOL);
    for (const t of [p, m, v, g, hyper, scale]) t.release();
  });
}

test('adam refuses mismatched shapes before dispatch', async () => {
  const ctx = await gpu();
  const p = ctx.zeros([4, 5]), g = ctx.zeros([5, 4]), m = ctx.zeros([4, 5]), v = ctx.zeros([4, 5]);
  const hyper = ctx.zeros([3]), scale = ctx.zeros([1]);
  const before = ctx.dispatchCount;
  expectThrows(() => adamUpdate(ctx, p, g, m, v, hyper, scale, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }),
    'adamUpdate', 'grad', '(5, 4)', 'expected (4, 5)');
  expectThrows(() => adamUpdate(ctx, p, m, m, v, hyper, ctx.zeros([1], 'i32'), { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }),
    'scale', 'dtype i32', 'expected f32');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  for (const t of [p, g, m, v, hyper, scale]) t.release();
});

test.run();
