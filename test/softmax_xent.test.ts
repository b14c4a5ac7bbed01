// Fused softmax cross-entropy (sequence_loss) and softmax kernels against the CPU reference
// (src/cpu/softmax_xent.ts), the worked TF examples from the lab 12 deck, and finite differences.
import { suite } from 'uvu';
import { checkTargets, findBadTarget, softmaxCrossEntropy, softmaxProbs } from '../src/kernels/softmax_xent.ts';
import * as cpu from '../src/cpu/softmax_xent.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { numericalGrad } from './helpers/fd.ts';
import { gpu } from './helpers/gpu.ts';
import { asGpuAdapter } from './helpers/adapter_kind.ts';

const test = suite('softmax_xent');

interface Run { losses: Float32Array; loss: number; dlogits?: Float32Array; weightSum: number }

/** Uploads, runs softmaxCrossEntropy, reads everything back and releases what it made. */
async function runGpu(
  ctx: GpuContext, logits: Float32Array, targets: Int32Array, weights: Float32Array, lead: number[], V: number,
  opts: { grad?: boolean; gradScale?: number } = {},
): Promise<Run> {
  const N = targets.length;
  const tl = ctx.tensor(logits, [...lead, V], 'logits');
  const tt = ctx.tensor(targets, lead, 'targets');
  const tw = ctx.tensor(weights, lead, 'weights');
  const losses = ctx.empty(lead, 'f32', 'losses'), loss = ctx.empty([1], 'f32', 'loss'), weightSum = ctx.empty([1], 'f32', 'wsum');
  const dlogits = opts.grad === false ? undefined : ctx.empty([...lead, V], 'f32', 'dlogits');
  softmaxCrossEntropy(ctx, { logits: tl, targets: tt, weights: tw, losses, loss, dlogits, weightSum }, { gradScale: opts.gradScale });
  const out: Run = {
    losses: await ctx.read(losses), loss: (await ctx.read(loss))[0],
    dlogits: dlogits ? await ctx.read(dlogits) : undefined, weightSum: (await ctx.read(weightSum))[0],
  };
  if (out.losses.length !== N) throw new Error('losses length');
  for (const t of [tl, tt, tw, losses, loss, weightSum, dlogits]) t?.release();
  return out;
}

// ---------------------------------------------------------------- the lab 12 deck's sequence_loss examples
// Sung Kim, DeepLearningZeroToAll lab 12 "RNN in TensorFlow", slide "Cost: sequence_loss": TF1 code, batch 1, length 3,
// 2 classes, y_data = [[1, 1, 1]], weights = [[1, 1, 1]]. Printed: "Loss: 0.596759" for
// prediction [[0.2,0.7],[0.6,0.2],[0.2,0.9]]; "Loss1: 0.513015" for [[0.3,0.7]]*3 (the transcription
// garbles it as "0.5 | 30 | 5": the same digits with the 1 read as a bar) and "Loss2: 0.371101" for
// [[0.1,0.9]]*3. TF prints float32 to 6 significant digits: the printed value is within 5e-7 of TF's
// result, and TF's float32 result is within ~1e-7 of the exact value, hence atol 6e-7 (≈1.2e-6 relative).
const DECK = [
  { name: 'Loss', logits: [0.2, 0.7, 0.6, 0.2, 0.2, 0.9], printed: 0.596759 },
  { name: 'Loss1', logits: [0.3, 0.7, 0.3, 0.7, 0.3, 0.7], printed: 0.513015 },
  { name: 'Loss2', logits: [0.1, 0.9, 0.1, 0.9, 0.1, 0.9], printed: 0.371101 },
];
const DECK_TOL = { atol: 6e-7, rtol: 0 };

test('CPU and GPU reproduce the lab 12 deck sequence_loss printouts', async () => {
  const ctx = await gpu();
  const targets = new Int32Array([1, 1, 1]), weights = new Float32Array([1, 1, 1]);
  for (const ex of DECK) {
    const logits = new Float32Array(ex.logits);
    const ref = cpu.softmaxXentForward(logits, targets, weights, 3, 2);
    expectClose(`${ex.name} (cpu)`, [ref.loss], [ex.printed], DECK_TOL);
    const g = await runGpu(ctx, logits, targets, weights, [1, 3], 2);
    expectClose(`${ex.name} (gpu)`, [g.loss], [ex.printed], DECK_TOL);
  }
});

// ---------------------------------------------------------------- GPU vs CPU
// Tolerances (measured worst cases on lavapipe are 3-10x below them). losses: CE = m + log(s) − x_t
// in f32 is a sum of O(log V) terms each rounded to an ulp (1.2e-7 relative), and WGSL's log has up
// to ~2^-21 absolute error near 1: atol 1e-6, rtol 1e-6 (observed ≤ 2.5e-7 relative).
// Scalar loss: the same per-term errors averaged plus a Kahan-compensated f32 sum: rtol 1e-6.
// dlogits: p = exp(x − m)/s to a few ulps: rtol 5e-6 (observed ≤ 9e-7) on values of size ≤ w/Σw,
// with atol 1e-7·max(w)/Σw for entries near 0.
const LOSS_TOL = { atol: 1e-6, rtol: 1e-6 };
const SCALAR_TOL = { atol: 1e-6, rtol: 1e-6 };

function randomCase(seed: number, N: number, V: number, opts: { scale?: number; zeroFrac?: number } = {}) {
  const rng = new Rng(seed);
  const scale = opts.scale ?? 3;
  const logits = rng.uniformArray(N * V, -scale, scale);
  const targets = rng.intArray(N, V);
  const weights = new Float32Array(N);
  for (let n = 0; n < N; n++) weights[n] = rng.next() < (opts.zeroFrac ?? 0.2) ? 0 : rng.uniform(0.25, 2);
  return { logits, targets, weights };
}

async function compare(name: string, seed: number, lead: number[], V: number) {
  const ctx = await gpu();
  const N = lead.reduce((a, b) => a * b, 1);
  const { logits, targets, weights } = randomCase(seed, N, V);
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  const dref = cpu.softmaxXentBackward(logits, targets, weights, N, V);
  const g = await runGpu(ctx, logits, targets, weights, lead, V);
  const wmax = Math.max(...weights);
  expectClose(`${name} weightSum`, [g.weightSum], [ref.weightSum], { atol: 0, rtol: 1e-6 }); // f32 sum of ≤3200 terms, Kahan
  expectClose(`${name} losses`, g.losses, ref.losses, { ...LOSS_TOL, shape: lead });
  expectClose(`${name} loss`, [g.loss], [ref.loss], SCALAR_TOL);
  expectClose(`${name} dlogits`, g.dlogits!, dref, { atol: 1e-7 * wmax / ref.weightSum, rtol: 5e-6, shape: [...lead, V] });
}

test('matches CPU at awkward sizes: (B,T,V) = (3,5,101), weights with zeros', () => compare('3x5x101', 1, [3, 5], 101));
test('matches CPU at a realistic size: (B, T, V) = (64, 50, 65)', () => compare('64x50x65', 2, [64, 50], 65));
test('matches CPU for V = 20000 (columns looped in strides)', () => compare('3x20000', 3, [3], 20000));
test('the row widths of a GPU (32 to 256 threads) match CPU too (CI adapters are CPU drivers: 8 threads)', async () => {
  const ctx = await gpu();
  await asGpuAdapter(ctx, async () => {
    await compare('gpu widths 3x5x101', 4, [3, 5], 101);
    await compare('gpu widths 8x50x65', 5, [8, 50], 65);
    await compare('gpu widths 3x20000', 6, [3], 20000);
  });
});
test('matches CPU for V = 1 and V = 2', async () => {
  await compare('V=1', 4, [7], 1);
  await compare('V=2', 5, [2, 3], 2);
});

// ±100 logits: CE reaches ~200 (a few ulps relative: rtol 1e-6), and m − x_t, x − m carry an f32
// rounding of up to ulp(200)/2 ≈ 7.6e-6 absolute: atol 1e-5 on losses; p = exp(x − m)/s then has a
// relative error up to ~1e-5 (rtol 5e-5).
test('extreme logits (±100) give finite results that match float64', async () => {
  const ctx = await gpu();
  const N = 12, V = 37;
  const rng = new Rng(7);
  const logits = new Float32Array(N * V);
  for (let i = 0; i < logits.length; i++) logits[i] = rng.next() < 0.5 ? -100 : 100;
  for (let j = 0; j < V; j++) { logits[j] = 100; logits[V + j] = -100; }   // rows of all-equal logits
  for (let j = 0; j < V; j++) logits[2 * V + j] = rng.uniform(-100, 100);
  const targets = rng.intArray(N, V);
  // a target sitting at −100 while others are +100: CE ≈ 200 + log(count)
  for (let j = 0; j < V; j++) logits[3 * V + j] = j === 0 ? -100 : 100;
  targets[3] = 0;
  const weights = new Float32Array(N).fill(1);
  weights[5] = 0.5;
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  const dref = cpu.softmaxXentBackward(logits, targets, weights, N, V);
  const g = await runGpu(ctx, logits, targets, weights, [N], V);
  for (const v of [...g.losses, g.loss, ...g.dlogits!]) if (!Number.isFinite(v)) throw new Error(`non-finite output ${v}`);
  expectClose('losses ±100', g.losses, ref.losses, { atol: 1e-5, rtol: 1e-6 });
  expectClose('loss ±100', [g.loss], [ref.loss], { atol: 1e-5, rtol: 1e-6 });
  expectClose('dlogits ±100', g.dlogits!, dref, { atol: 1e-7, rtol: 5e-5, shape: [N, V] });
});

test('zero weights on padded positions: any target id and garbage logits are ignored', async () => {
  const ctx = await gpu();
  const B = 3, T = 5, V = 11, N = B * T;
  const { logits, targets, weights } = randomCase(8, N, V, { zeroFrac: 0 });
  const lengths = [5, 2, 4];
  for (let b = 0; b < B; b++) {
    for (let t = lengths[b]; t < T; t++) {
      const n = b * T + t;
      weights[n] = 0;
      targets[n] = t % 2 ? -1 : V + 3;                     // out of range on purpose
      logits.fill(t % 2 ? 3e38 : -3e38, n * V, (n + 1) * V);
    }
  }
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  const dref = cpu.softmaxXentBackward(logits, targets, weights, N, V);
  const g = await runGpu(ctx, logits, targets, weights, [B, T], V);
  expectClose('padded losses', g.losses, ref.losses, { ...LOSS_TOL, shape: [B, T] });
  expectClose('padded loss', [g.loss], [ref.loss], SCALAR_TOL);
  expectClose('padded dlogits', g.dlogits!, dref, { atol: 2e-7 / ref.weightSum, rtol: 5e-6, shape: [B, T, V] });
  for (let b = 0; b < B; b++) for (let t = lengths[b]; t < T; t++) {
    const n = b * T + t;
    if (g.losses[n] !== 0) throw new Error(`padded losses[${b},${t}] = ${g.losses[n]}, expected exactly 0`);
    for (let j = 0; j < V; j++) if (g.dlogits![n * V + j] !== 0) throw new Error(`padded dlogits[${b},${t},${j}] is not 0`);
  }
  // Only the valid positions count: the mean over 11 valid tokens.
  const valid = ref.losses.reduce((a, v) => a + v, 0) / weights.reduce((a, v) => a + v, 0);
  expectClose('padded loss = mean over valid tokens', [g.loss], [valid], SCALAR_TOL);
});

test('all weights zero: loss 0 and dlogits 0', async () => {
  const ctx = await gpu();
  const { logits, targets } = randomCase(9, 6, 7);
  const g = await runGpu(ctx, logits, targets, new Float32Array(6), [6], 7);
  if (g.loss !== 0 || g.weightSum !== 0) throw new Error(`loss ${g.loss}, weightSum ${g.weightSum}`);
  if (g.losses.some((v) => v !== 0) || g.dlogits!.some((v) => v !== 0)) throw new Error('nonzero losses or dlogits');
  const ref = cpu.softmaxXentForward(logits, targets, new Float32Array(6), 6, 7);
  if (ref.loss !== 0) throw new Error('cpu loss not 0');
});

test('a bad target with nonzero weight gives NaN there (no out-of-bounds read) and checkTargets refuses it', async () => {
  const ctx = await gpu();
  const N = 5, V = 9;
  const { logits, targets, weights } = randomCase(10, N, V, { zeroFrac: 0 });
  targets[4] = V;          // one past the end, on the last row: reading x[4, V] would leave the buffer
  targets[1] = -7;
  const g = await runGpu(ctx, logits, targets, weights, [N], V);
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  const dref = cpu.softmaxXentBackward(logits, targets, weights, N, V);
  if (!Number.isNaN(g.loss) || !Number.isNaN(ref.loss)) throw new Error(`loss gpu=${g.loss} cpu=${ref.loss}, expected NaN`);
  expectClose('losses with bad targets', g.losses, ref.losses, LOSS_TOL);   // NaN at 1 and 4, values elsewhere
  expectClose('dlogits with bad targets', g.dlogits!, dref, { atol: 2e-7 / ref.weightSum, rtol: 5e-6, shape: [N, V] });
  if (findBadTarget(targets, V, weights) !== 1) throw new Error('findBadTarget');
  expectThrows(() => checkTargets(targets, V, weights), 'targets[1] = -7', '[0, 9)');
  weights[1] = 0; weights[4] = 0;
  checkTargets(targets, V, weights);   // padding may hold any id
  expectThrows(() => checkTargets(targets, V), 'targets[1]');
});

test('forward only (no dlogits) gives the same loss; gradScale scales dlogits only', async () => {
  const ctx = await gpu();
  const lead = [3, 5], V = 23, N = 15;
  const { logits, targets, weights } = randomCase(11, N, V);
  const before = ctx.dispatchCount;
  const f = await runGpu(ctx, logits, targets, weights, lead, V, { grad: false });
  if (ctx.dispatchCount - before !== 3) throw new Error(`forward recorded ${ctx.dispatchCount - before} dispatches, expected 3`);
  const fb = await runGpu(ctx, logits, targets, weights, lead, V, { gradScale: 0.25 });
  // Same arithmetic in two pipelines: equal up to compiler contraction choices (LOSS_TOL).
  expectClose('forward-only losses', f.losses, fb.losses, LOSS_TOL);
  expectClose('forward-only loss', [f.loss], [fb.loss], SCALAR_TOL);
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  expectClose('forward-only losses vs CPU', f.losses, ref.losses, LOSS_TOL);
  const dref = cpu.softmaxXentBackward(logits, targets, weights, N, V, 0.25);
  expectClose('dlogits gradScale 0.25', fb.dlogits!, dref, { atol: 1e-8, rtol: 5e-6 });
});

test('without weightSum a pooled scratch is used and given back (no live buffer left behind)', async () => {
  const ctx = await gpu();
  const N = 10, V = 13;
  const { logits, targets, weights } = randomCase(16, N, V);
  const tl = ctx.tensor(logits, [N, V]), tt = ctx.tensor(targets, [N]), tw = ctx.tensor(weights, [N]);
  const losses = ctx.empty([N]), loss = ctx.empty([1]), dlogits = ctx.empty([N, V]);
  const live = ctx.memoryStats().liveBuffers;
  softmaxCrossEntropy(ctx, { logits: tl, targets: tt, weights: tw, losses, loss, dlogits });
  softmaxCrossEntropy(ctx, { logits: tl, targets: tt, weights: tw, losses, loss, dlogits });   // reuses the same scratch
  if (ctx.memoryStats().liveBuffers !== live) throw new Error('a scratch buffer stayed live');
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  expectClose('loss (scratch weightSum)', await ctx.read(loss), [ref.loss], SCALAR_TOL);
  for (const t of [tl, tt, tw, losses, loss, dlogits]) t.release();
});

test('deterministic: two runs give bitwise equal results', async () => {
  const ctx = await gpu();
  const { logits, targets, weights } = randomCase(12, 300, 50);
  const a = await runGpu(ctx, logits, targets, weights, [300], 50);
  const b = await runGpu(ctx, logits, targets, weights, [300], 50);
  if (a.loss !== b.loss || a.losses.some((v, i) => v !== b.losses[i]) || a.dlogits!.some((v, i) => v !== b.dlogits![i])) {
    throw new Error('results differ between runs');
  }
});

test('more than 65535 rows fold the grid', async () => {
  const ctx = await gpu();
  const N = 65537 + 3, V = 3;
  const { logits, targets, weights } = randomCase(13, N, V);
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  const g = await runGpu(ctx, logits, targets, weights, [N], V, { grad: false });
  expectClose('losses N=65540', g.losses, ref.losses, LOSS_TOL);
  // 65540 f32 terms (Kahan per thread, then a 256-leaf tree): SCALAR_TOL still holds.
  expectClose('loss N=65540', [g.loss], [ref.loss], SCALAR_TOL);
});

// softmax probabilities: exp(x/T − m)/s to a few ulps; atol 1e-8 for values near 0.
test('softmaxProbs matches CPU with temperatures 1 and 0.5, and with ±100 logits', async () => {
  const ctx = await gpu();
  for (const [N, V, temperature, scale] of [[15, 101, 1, 3], [4, 37, 0.5, 3], [6, 29, 1, 100]] as const) {
    const rng = new Rng(N * V);
    const logits = rng.uniformArray(N * V, -scale, scale);
    const tl = ctx.tensor(logits, [N, V], 'logits'), tp = ctx.empty([N, V], 'f32', 'probs');
    softmaxProbs(ctx, tl, tp, { temperature });
    const got = await ctx.read(tp);
    const rtol = scale === 100 ? 5e-5 : 5e-6;   // see the dlogits and ±100 tolerance notes above
    expectClose(`probs N=${N} V=${V} T=${temperature}`, got, cpu.softmaxXentProbs(logits, N, V, temperature), { atol: 1e-8, rtol, shape: [N, V] });
    tl.release(); tp.release();
  }
});

// ---------------------------------------------------------------- CPU backward vs finite differences
test('CPU fused forward equals the chain softmax → −w·log p[target] → weighted mean', () => {
  const N = 6, V = 9;
  const { logits, targets, weights } = randomCase(15, N, V);
  const probs = cpu.softmaxXentProbs(logits, N, V);
  const chain = Array.from({ length: N }, (_, n) => (weights[n] === 0 ? 0 : -weights[n] * Math.log(probs[n * V + targets[n]])));
  const ref = cpu.softmaxXentForward(logits, targets, weights, N, V);
  // float64 both ways: log(exp(a)/s) vs lse − a differ by rounding only.
  expectClose('chain losses', ref.losses, chain, { atol: 1e-12, rtol: 1e-12 });
  const W = weights.reduce((a, b) => a + b, 0);
  expectClose('chain loss', [ref.loss], [chain.reduce((a, b) => a + b, 0) / W], { atol: 1e-12, rtol: 1e-12 });
});

test('CPU backward matches central finite differences of the CPU loss (float64)', () => {
  const N = 4, V = 5;   // (B, T) = (2, 2)
  const rng = new Rng(14);
  const logits = Float64Array.from(rng.uniformArray(N * V, -2, 2));
  const targets = new Int32Array([0, 4, 2, 2]);
  const weights = new Float64Array([1, 0.5, 0, 2]);
  for (const gradScale of [1, 3]) {
    const num = numericalGrad(() => gradScale * cpu.softmaxXentForward(logits, targets, weights, N, V).loss, logits);
    const ana = cpu.softmaxXentBackward(logits, targets, weights, N, V, gradScale);
    // h = 1e-6 central differences of an O(1) smooth function: ~1e-9 truncation + 1e-10 rounding.
    expectClose(`fd dlogits (gradScale ${gradScale})`, ana, num, { atol: 1e-8, rtol: 1e-6, shape: [N, V] });
  }
});

// ---------------------------------------------------------------- errors before dispatch
test('wrong shapes, dtypes and aliasing are refused before any dispatch', async () => {
  const ctx = await gpu();
  const logits = ctx.zeros([3, 5, 7]), targets = ctx.zeros([3, 5], 'i32'), weights = ctx.zeros([3, 5]);
  const losses = ctx.zeros([3, 5]), loss = ctx.zeros([1]), dlogits = ctx.zeros([3, 5, 7]);
  const flat = ctx.zeros([15], 'i32'), badT = ctx.zeros([3, 5]), bad = ctx.zeros([5, 3]), two = ctx.zeros([2]), dl2 = ctx.zeros([15, 7]);
  const ok = { logits, targets, weights, losses, loss, dlogits };
  const before = ctx.dispatchCount;
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, targets: badT }), 'softmaxCrossEntropy', 'targets', 'dtype f32', 'expected i32');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, weights: bad }), 'softmaxCrossEntropy', 'weights', '(5, 3)', 'expected (3, 5)');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, weights: targets }), 'weights', 'dtype i32', 'expected f32');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, loss: two }), 'loss', '(2)', 'expected (1)');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, dlogits: dl2 }), 'dlogits', '(15, 7)', 'expected (3, 5, 7)');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, logits: two }), 'logits', '(2)', 'expected (*, *)');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, losses: undefined as never }), 'losses must be a Tensor');
  expectThrows(() => softmaxCrossEntropy(ctx, { ...ok, dlogits: logits }), 'dlogits and logits must be different tensors');
  expectThrows(() => softmaxCrossEntropy(ctx, ok, { gradScale: NaN }), 'gradScale');
  expectThrows(() => softmaxProbs(ctx, logits, dl2), 'softmaxProbs', 'probs', 'expected (3, 5, 7)');
  expectThrows(() => softmaxProbs(ctx, logits, dlogits, { temperature: 0 }), 'temperature');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  // flat (N) targets/weights/losses are accepted with (B, T, V) logits
  softmaxCrossEntropy(ctx, { ...ok, targets: flat });
  if (ctx.dispatchCount !== before + 3) throw new Error('flat targets were not accepted');
  await ctx.sync();
  for (const t of [logits, targets, weights, losses, loss, dlogits, flat, badT, bad, two, dl2]) t.release();
});

test.run();
