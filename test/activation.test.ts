// Activation kernels against src/cpu/activation.ts; CPU backward against finite differences.
import { suite } from 'uvu';
import { activationBackward, activationForward, type Activation } from '../src/kernels/activation.ts';
import * as cpu from '../src/cpu/activation.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { dot, numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('activation');
// exp/tanh in f32 vs float64: a few ulps relative, plus an absolute floor near 0.
const TOL = { atol: 1e-6, rtol: 1e-5 };

for (const a of ['relu', 'tanh', 'sigmoid'] as Activation[]) {
  test(`${a} forward/backward match CPU on 3x5x37 and at ±200`, async () => {
    const ctx = await gpu();
    const rng = new Rng(7);
    const xs = rng.uniformArray(3 * 5 * 37, -4, 4);
    xs[0] = 200; xs[1] = -200; xs[2] = 88.5; xs[3] = -88.5;
    const dys = rng.uniformArray(xs.length);
    const x = ctx.tensor(xs, [3, 5, 37], 'x'), y = ctx.empty([3, 5, 37], 'f32', 'y');
    const dy = ctx.tensor(dys, [3, 5, 37], 'dy'), dx = ctx.empty([3, 5, 37], 'f32', 'dx');
    activationForward(ctx, a, x, y);
    const ys = await ctx.read(y);
    expectClose(`${a}(x)`, ys, cpu.activationForward(a, xs), { ...TOL, shape: [3, 5, 37] });
    activationBackward(ctx, a, y, dy, dx);
    expectClose(`d${a}`, await ctx.read(dx), cpu.activationBackward(a, ys, dys), { ...TOL, shape: [3, 5, 37] });
    for (const t of [x, y, dy, dx]) t.release();
  });

  test(`${a} CPU backward matches finite differences`, () => {
    const rng = new Rng(11);
    const x = Float64Array.from(rng.uniformArray(20, -3, 3)).map((v) => (Math.abs(v) < 0.05 ? 0.5 : v)); // away from relu's kink
    const w = rng.uniformArray(20);
    const num = numericalGrad(() => dot(w, cpu.activationForward(a, x)), x);
    expectClose(`d${a} fd`, cpu.activationBackward(a, cpu.activationForward(a, x), w), num, { atol: 1e-7, rtol: 1e-6 });
  });
}

test('bad arguments are refused before dispatch', async () => {
  const ctx = await gpu();
  const x = ctx.zeros([4]), y = ctx.zeros([5]);
  const before = ctx.dispatchCount;
  expectThrows(() => activationForward(ctx, 'relu', x, y), 'activationForward', 'y', '(5)', 'expected (4)');
  expectThrows(() => activationForward(ctx, 'gelu' as Activation, x, x), "unknown activation 'gelu'");
  expectThrows(() => activationForward(ctx, 'relu', x, x), 'must not alias');
  expectThrows(() => activationBackward(ctx, 'tanh', x, x, x), 'must not alias');
  if (ctx.dispatchCount !== before) throw new Error('dispatch recorded');
  x.release(); y.release();
});

test.run();
