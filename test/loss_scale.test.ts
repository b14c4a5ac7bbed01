// Loss scaling (compile's `lossScale`): a fixed power-of-two scale gives exactly the parameters,
// losses and gradient norms of the unscaled run (the seed is scaled and the clip coefficient divides
// the scale out, both exact in f32) for f32 and f16 layers, Sequential and graph Model (weighted
// built-in losses and a custom loss); the clip kernel's unscaling itself; dynamic scaling halving
// and skipping on overflow without writing anything, growing after N applied steps; the scale and
// its counter in the training state; and bad option values refused by name.
import { suite } from 'uvu';
import { Dense, GRU, LSTM, LastStep, Sequential } from '../src/nn/index.ts';
import { Input } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';
import { Adam, SGD } from '../src/train/optimizers.ts';
import { fit } from '../src/train/fit.ts';
import type { CustomLoss } from '../src/train/custom-loss.ts';
import { decodeTrainingStateInto, encodeTrainingState } from '../src/train/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/train/safetensors.ts';
import { clipGradNorm, clipPartialsLength } from '../src/kernels/clip.ts';
import { Rng } from '../src/cpu/random.ts';
import type { Batch } from '../src/nn/model.ts';
import type { StepResult } from '../src/nn/step-guard.ts';
import type { LossScaler } from '../src/nn/loss-scale.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { expectThrows } from './helpers/expect.ts';
import { expectSameSnapshot, snapshotModel } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('loss_scale');

const B = 3, T = 4, I = 2, H = 5;

function seqBatch(seed: number, targetScale = 1): Batch {
  const rng = new Rng(seed);
  return {
    x: Float32Array.from(rng.uniformArray(B * T * I, -1, 1)), shape: [B, T, I], lengths: [4, 2, 3],
    y: Float32Array.from(rng.uniformArray(B * T * 2, -targetScale, targetScale)),
  };
}

function sequential(precision: 'f32' | 'f16', seed = 5): Sequential {
  return new Sequential([new LSTM({ hiddenSize: H, inputSize: I, precision }), new Dense({ units: 2, precision })], { seed });
}

/** Every parameter's bits, by name. */
async function weights(model: { context: GpuContext; namedParameters(): [string, { value?: unknown }][] }): Promise<Map<string, Uint32Array>> {
  const out = new Map<string, Uint32Array>();
  for (const [k, p] of model.namedParameters()) {
    const v = (await model.context.read(p.value as never)) as Float32Array;
    out.set(k, new Uint32Array(v.buffer, v.byteOffset, v.length));
  }
  return out;
}

function expectSameWeights(a: Map<string, Uint32Array>, b: Map<string, Uint32Array>, what: string): void {
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== w[i]) throw new Error(`${what}: ${k}[${i}] differs: ${new Float32Array(v.buffer)[i]} vs ${new Float32Array(w.buffer)[i]}`);
    }
  }
}

function expectSameResult(a: StepResult, b: StepResult, what: string): void {
  if (a.skipped !== b.skipped || a.loss !== b.loss || a.gradNorm !== b.gradNorm) {
    throw new Error(`${what}: unscaled ${JSON.stringify(a)}, scaled ${JSON.stringify(b)} (loss and norm must be equal)`);
  }
}

/** A model's scaler and step, read through a call (TypeScript would narrow them across steps). */
const scalerOf = (m: { lossScaler: LossScaler | null }): LossScaler => m.lossScaler!;
const stepOf = (m: { step: number }): number => m.step;

/** The GPU f16 cases need 'shader-f16'; without it they print why and pass (GL ES lacks it). */
async function contextFor(precision: 'f32' | 'f16', what: string): Promise<GpuContext | null> {
  const ctx = await gpu();
  if (precision === 'f32' || ctx.features.has('shader-f16')) return ctx;
  console.log(`  skipped "${what}": this adapter lacks 'shader-f16' (${ctx.describe()})`);
  return null;
}

test('clip kernel: gradients times 2^10 with gradScale 2^10 give the norm and update scale of the unscaled gradients, bit for bit', async () => {
  const ctx = await gpu();
  const rng = new Rng(3);
  const data = [Float32Array.from(rng.uniformArray(37, -2, 2)), Float32Array.from(rng.uniformArray(3000, -0.1, 0.1))];
  for (const maxNorm of [Infinity, 0.5]) {
    const run = async (factor: number) => {
      const grads = data.map((d, i) => ctx.tensor(Float32Array.from(d, (v) => v * factor), [d.length], `g${i}`));
      const partials = ctx.empty([clipPartialsLength(grads)], 'f32', 'partials');
      const norm = ctx.empty([1], 'f32', 'norm'), scale = ctx.empty([1], 'f32', 'scale');
      clipGradNorm(ctx, grads, maxNorm, { partials, norm, scale, gradScale: factor });
      const out = { norm: (await ctx.read(norm))[0], scale: (await ctx.read(scale))[0] };
      for (const t of [...grads, partials, norm, scale]) t.release();
      return out;
    };
    const plain = await run(1), scaled = await run(2 ** 10);
    if (scaled.norm !== plain.norm) throw new Error(`maxNorm ${maxNorm}: norm ${scaled.norm} with gradScale, ${plain.norm} without`);
    if (scaled.scale !== plain.scale * 2 ** -10) throw new Error(`maxNorm ${maxNorm}: scale ${scaled.scale}, expected ${plain.scale} · 2^-10`);
    if (maxNorm === 0.5 && !(plain.scale < 1)) throw new Error('test setup: expected clipping');
  }
  const g = ctx.zeros([4], 'f32', 'g'), p = ctx.empty([2], 'f32', 'p'), n = ctx.empty([1], 'f32', 'n'), s = ctx.empty([1], 'f32', 's');
  for (const bad of [0, -1, 2 ** 127, NaN]) {
    expectThrows(() => clipGradNorm(ctx, [g], 1, { partials: p, norm: n, scale: s, gradScale: bad }), 'clipGradNorm', /gradScale/, /\[2\^-126, 2\^126\]/);
  }
  for (const t of [g, p, n, s]) t.release();
});

for (const precision of ['f32', 'f16'] as const) {
  test(`Sequential with ${precision} layers: a fixed scale 2^12 gives the unscaled run's parameters, losses and norms bit for bit (Adam, clipping)`, async () => {
    const ctx = await contextFor(precision, `fixed scale, ${precision}`);
    if (!ctx) return;
    const plain = sequential(precision).build(ctx), scaled = sequential(precision).build(ctx);
    plain.compile({ loss: 'mse', optimizer: new Adam({ lr: 0.01 }), clipNorm: 0.05 });
    scaled.compile({ loss: 'mse', optimizer: new Adam({ lr: 0.01 }), clipNorm: 0.05, lossScale: 2 ** 12 });
    for (let i = 0; i < 3; i++) {
      const batch = seqBatch(10 + i);
      const a = await plain.trainStep(batch, { readLoss: true });
      const b = await scaled.trainStep(batch, { readLoss: true });
      expectSameResult(a, b, `step ${i + 1}`);
      if (b.lossScale !== 2 ** 12 || a.lossScale !== undefined) throw new Error(`step ${i + 1}: lossScale ${b.lossScale} (scaled), ${a.lossScale} (plain)`);
    }
    expectSameWeights(await weights(plain), await weights(scaled), `${precision} after 3 steps`);
    // The backward really ran scaled: the last step's gradients are 2^12 times the plain ones.
    const pairs = () => plain.namedParameters().map((e, i) => [e, scaled.namedParameters()[i]] as const);
    for (const [[k, p], [, q]] of pairs()) {
      const gp = await ctx.read(p.grad!), gq = await ctx.read(q.grad!);
      for (let j = 0; j < gp.length; j++) if (gq[j] !== gp[j] * 2 ** 12) throw new Error(`trainStep: ${k}.grad[${j}] is ${gq[j]} with lossScale 2^12, ${gp[j]} without`);
    }
    if (scaled.lossScaler!.scale !== 2 ** 12 || scaled.step !== 3) throw new Error(`a fixed scale changed to ${scaled.lossScaler!.scale}, or step ${scaled.step}`);
    // computeGradients and evaluate are never scaled.
    const batch = seqBatch(20);
    plain.computeGradients(batch);
    scaled.computeGradients(batch);
    for (const [[k, p], [, q]] of pairs()) {
      const gp = await ctx.read(p.grad!), gq = await ctx.read(q.grad!);
      for (let j = 0; j < gp.length; j++) if (gp[j] !== gq[j]) throw new Error(`computeGradients: ${k}.grad[${j}] ${gq[j]} with lossScale, ${gp[j]} without`);
    }
    if ((await plain.evaluate(batch)) !== (await scaled.evaluate(batch))) throw new Error('evaluate differs with lossScale');
    plain.dispose();
    scaled.dispose();
  });
}

/** A GRU graph with two outputs: per-step logits and a last-step score. */
function twoOutputGraph(ctx: GpuContext) {
  const x = Input.sequence('x', I);
  const h = new GRU({ hiddenSize: 3, name: 'gru' }).call(x);
  const logits = new Dense({ units: 4, name: 'cls' }).call(h);
  const score = new Dense({ units: 1, name: 'score' }).call(new LastStep('last').call(h));
  return new Model({ inputs: { x }, outputs: { logits, score }, seed: 2 }).build(ctx);
}

test('graph Model: a fixed scale 2^20 equals the unscaled run bit for bit with weighted built-in losses and with a custom loss', async () => {
  const ctx = await gpu();
  const rng = new Rng(4);
  const x = { x: Float32Array.from(rng.uniformArray(B * T * I, -1, 1)), shape: [B, T, I], lengths: [4, 1, 3] };
  const y = Int32Array.from({ length: B * T }, (_, i) => (i * 3) % 4), w = new Float32Array(B * T).fill(1), s = Float32Array.of(0.5, -1, 2);
  const custom: CustomLoss<'logits' | 'score'> = {
    check: (t) => t as { y: Int32Array; w: Float32Array; s: Float32Array },
    upload(ops, t) {
      const c = t as { y: Int32Array; w: Float32Array; s: Float32Array };
      ops.write('y', c.y, [B, T]); ops.write('w', c.w, [B, T]); ops.write('s', c.s, [B, 1]);
    },
    record(ops, out, withGrad) {
      const a = ops.softmaxCrossEntropy('xent', out.logits, ops.get('y'), ops.get('w'), withGrad);
      const m = ops.mse('mse', out.score, ops.get('s'), withGrad);
      return { loss: ops.add('total', a.loss, m.loss, 1, 0.3), grads: withGrad ? { logits: a.grad, score: ops.scale('dscore', m.grad!, 0.3) } : {} };
    },
  };
  for (const kind of ['built-in', 'custom'] as const) {
    const plain = twoOutputGraph(ctx), scaled = twoOutputGraph(ctx);
    const loss = kind === 'custom' ? custom : { logits: 'softmax_cross_entropy' as const, score: { kind: 'mse' as const, weight: 0.3 } };
    plain.compile({ loss, optimizer: new SGD({ lr: 0.1, momentum: 0.9 }), clipNorm: 0.5 });
    scaled.compile({ loss, optimizer: new SGD({ lr: 0.1, momentum: 0.9 }), clipNorm: 0.5, lossScale: 2 ** 20 });
    const targets = kind === 'custom' ? { y, w, s } : { logits: { y }, score: { y: s } };
    for (let i = 0; i < 3; i++) {
      const a = await plain.trainStep({ x }, targets, { readLoss: true });
      const b = await scaled.trainStep({ x }, targets, { readLoss: true });
      expectSameResult(a, b, `${kind} step ${i + 1}`);
    }
    expectSameWeights(await weights(plain), await weights(scaled), `${kind} losses after 3 steps`);
    plain.dispose();
    scaled.dispose();
  }
});

/** A batch whose targets are so far off that the loss gradient times 2^126 overflows f32 (the loss itself is finite). */
const farBatch = (): Batch => seqBatch(30, 1e4);

for (const precision of ['f32', 'f16'] as const) {
  test(`dynamic, ${precision} layers: an overflowing scale skips the step, writes nothing and halves; the next step runs`, async () => {
    const ctx = await contextFor(precision, `overflow, ${precision}`);
    if (!ctx) return;
    const model = sequential(precision).build(ctx);
    model.compile({ loss: 'mse', optimizer: new Adam({ lr: 0.01 }), lossScale: { initialScale: 2 ** 126, growthInterval: 5 } });
    const first = await model.trainStep(seqBatch(1), { readLoss: true });   // slots and counters in use
    if (first.skipped) throw new Error(`the first step (small targets) was skipped: ${JSON.stringify(first)}`);
    if (scalerOf(model).goodSteps !== 1) throw new Error(`goodSteps ${scalerOf(model).goodSteps} after one applied step`);
    const before = await snapshotModel(model);
    const r = await model.trainStep(farBatch(), { readLoss: true });
    if (!r.skipped || Number.isFinite(r.gradNorm) || r.lossScale !== 2 ** 126) throw new Error(`the overflowing step: ${JSON.stringify(r)}`);
    if (!(Number.isFinite(r.loss) && r.loss! > 1e6)) throw new Error(`the reported loss should be the unscaled, finite loss, got ${r.loss}`);
    expectSameSnapshot(before, await snapshotModel(model), 'after the skipped overflow step');
    if (scalerOf(model).scale !== 2 ** 125 || scalerOf(model).goodSteps !== 0) {
      throw new Error(`after the overflow: scale 2^${Math.log2(scalerOf(model).scale)}, goodSteps ${scalerOf(model).goodSteps}; expected 2^125, 0`);
    }
    const next = await model.trainStep(seqBatch(2), { readLoss: true });
    if (next.skipped || next.lossScale !== 2 ** 125 || !Number.isFinite(next.gradNorm)) throw new Error(`the step after the overflow: ${JSON.stringify(next)}`);
    if (model.step !== 2) throw new Error(`model.step ${model.step}, expected 2 (one step skipped)`);
    model.dispose();
  });
}

test('dynamic: the scale doubles after growthInterval applied steps in a row; defaults 2^15 and 2000', async () => {
  const ctx = await gpu();
  const model = sequential('f32').build(ctx);
  model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.05 }), lossScale: 'dynamic' });
  const s = model.lossScaler!;
  if (!s.dynamic || s.scale !== 2 ** 15 || s.growthInterval !== 2000) throw new Error(`'dynamic': ${JSON.stringify(s)}`);
  model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.05 }), lossScale: { initialScale: 4, growthInterval: 3 } });
  const used: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await model.trainStep(seqBatch(40 + i));
    if (r.skipped) throw new Error(`step ${i + 1} was skipped: ${JSON.stringify(r)}`);
    used.push(r.lossScale!);
  }
  if (used.join() !== '4,4,4,8,8,8,16') throw new Error(`scales used: ${used.join()}, expected 4,4,4,8,8,8,16`);
  // Scaling adds no submission: a step stays one command buffer (the scaled seed is recorded in it).
  ctx.flush();
  const submits = ctx.submitCount;
  await model.trainStep(seqBatch(47));
  if (ctx.submitCount !== submits + 1) throw new Error(`a scaled step submitted ${ctx.submitCount - submits} command buffers, expected 1`);
  if (scalerOf(model).scale !== 16 || scalerOf(model).goodSteps !== 2) throw new Error(`after 8 steps: ${JSON.stringify(model.lossScaler)}`);
  // A fixed scale never changes.
  model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.05 }), lossScale: 8 });
  for (let i = 0; i < 3; i++) await model.trainStep(seqBatch(50 + i));
  if (scalerOf(model).scale !== 8 || scalerOf(model).dynamic) throw new Error(`a fixed scale: ${JSON.stringify(model.lossScaler)}`);
  model.dispose();
});

test('graph Model, dynamic: overflow skips and halves; applyGradients after backward is not scaled', async () => {
  const ctx = await gpu();
  const model = twoOutputGraph(ctx);
  model.compile({ loss: { score: 'mse' }, optimizer: new SGD({ lr: 0.1 }), lossScale: { initialScale: 2 ** 126 } });
  const x = { x: new Float32Array(B * T * I).fill(0.5), shape: [B, T, I] };
  const r = await model.trainStep({ x }, { score: { y: Float32Array.of(1e6, -1e6, 1e6) } }, { readLoss: true });
  if (!r.skipped || scalerOf(model).scale !== 2 ** 125 || model.step !== 0) throw new Error(`overflow: ${JSON.stringify(r)}, scale ${scalerOf(model).scale}, step ${model.step}`);
  const ok = await model.trainStep({ x }, { score: { y: Float32Array.of(0.1, 0.2, 0.3) } });
  if (ok.skipped || stepOf(model) !== 1) throw new Error(`the next step: ${JSON.stringify(ok)}`);
  // forward / backward / applyGradients: the user's gradients as given, the scale untouched.
  const outs = model.forward({ x }, { training: true });
  const g = ctx.tensor(new Float32Array(B).fill(1), [...outs.score.shape], 'dscore');
  model.backward({ score: g });
  const applied = await model.applyGradients();
  if (applied.skipped || applied.lossScale !== undefined || scalerOf(model).scale !== 2 ** 125 || scalerOf(model).goodSteps !== 1) {
    throw new Error(`applyGradients: ${JSON.stringify(applied)}, scaler ${JSON.stringify(model.lossScaler)}`);
  }
  g.release();
  model.dispose();
});

test('the dynamic scale and its counter survive a training-state round trip; the resumed run matches bit for bit', async () => {
  const ctx = await gpu();
  const opts = () => ({ loss: 'mse' as const, optimizer: new Adam({ lr: 0.01 }), lossScale: { initialScale: 2 ** 126, growthInterval: 3 } });
  const a = sequential('f32').build(ctx).compile(opts());
  await a.trainStep(seqBatch(1));
  await a.trainStep(farBatch());   // overflow: 2^125
  await a.trainStep(seqBatch(2));
  await a.trainStep(seqBatch(3));  // goodSteps 2
  if (scalerOf(a).scale !== 2 ** 125 || scalerOf(a).goodSteps !== 2) throw new Error(`setup: ${JSON.stringify(a.lossScaler)}`);
  const state = await encodeTrainingState(a);
  const b = sequential('f32').build(ctx).compile(opts());
  for (const [[, p], [, q]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]] as const)) ctx.write(q.value!, await ctx.read(p.value!));
  decodeTrainingStateInto(b, state);
  if (scalerOf(b).scale !== 2 ** 125 || scalerOf(b).goodSteps !== 2) throw new Error(`restored: ${JSON.stringify(b.lossScaler)}`);
  for (let i = 0; i < 2; i++) {
    const ra = await a.trainStep(seqBatch(60 + i), { readLoss: true });
    const rb = await b.trainStep(seqBatch(60 + i), { readLoss: true });
    if (JSON.stringify(ra) !== JSON.stringify(rb)) throw new Error(`resumed step ${i + 1}: ${JSON.stringify(rb)}, uninterrupted ${JSON.stringify(ra)}`);
  }
  if (scalerOf(b).scale !== 2 ** 126) throw new Error(`the scale should have grown back to 2^126, got ${scalerOf(b).scale}`);
  expectSameWeights(await weights(a), await weights(b), 'resumed run');
  // A model without dynamic scaling ignores the saved scale; a malformed one is refused, changing nothing.
  const fixed = sequential('f32').build(ctx).compile({ ...opts(), lossScale: 64 });
  decodeTrainingStateInto(fixed, state);
  if (scalerOf(fixed).scale !== 64) throw new Error(`a fixed scale was overwritten by the file's: ${scalerOf(fixed).scale}`);
  const { tensors, metadata } = decodeSafetensors(state);
  const bad = encodeSafetensors(Object.fromEntries(tensors), { ...metadata, loss_scale: 'huge' });
  const c = sequential('f32').build(ctx).compile(opts());
  expectThrows(() => decodeTrainingStateInto(c, bad, 'bad.train.safetensors'), 'bad.train.safetensors', /loss_scale is "huge"/, /expected a number in \[1, 2\^126\]/);
  if (scalerOf(c).scale !== 2 ** 126 || c.step !== 0) throw new Error(`a refused file changed the model: ${JSON.stringify(c.lossScaler)}, step ${c.step}`);
  for (const m of [a, b, fixed, c]) m.dispose();
});

test('bad lossScale values are refused naming the option, the value and what is expected; the model keeps its compile', async () => {
  const ctx = await gpu();
  const model = sequential('f32').build(ctx);
  model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }), lossScale: 16 });
  const graph = twoOutputGraph(ctx);
  const cases: [unknown, RegExp, RegExp][] = [
    ['dynamik', /option lossScale is the string "dynamik"/, /expected 'dynamic', a number/],
    [0, /option lossScale is 0/, /expected a number in \[1, 2\^126\]/],
    [0.5, /option lossScale is 0\.5/, /expected a number in \[1, 2\^126\]/],
    [NaN, /option lossScale is NaN/, /expected a number in \[1, 2\^126\]/],
    [Infinity, /option lossScale is Infinity/, /expected a number in \[1, 2\^126\]/],
    [2 ** 127, /option lossScale is 1\.7/, /expected a number in \[1, 2\^126\]/],
    [true, /option lossScale is the boolean true/, /expected 'dynamic', a number/],
    [[1024], /option lossScale is an array of 1/, /expected 'dynamic', a number/],
    [null, /option lossScale is null/, /expected 'dynamic', a number/],
    [{ initialScale: -4 }, /lossScale\.initialScale is -4/, /expected a number in \[1, 2\^126\]/],
    [{ initialScale: '1024' }, /lossScale\.initialScale is the string "1024"/, /expected a number in \[1, 2\^126\]/],
    [{ growthInterval: 0 }, /lossScale\.growthInterval is 0/, /expected a positive integer/],
    [{ growthInterval: 2.5 }, /lossScale\.growthInterval is 2\.5/, /expected a positive integer/],
    [{ growth: 2 }, /lossScale has an unknown field "growth"/, /expected \{ initialScale\?, growthInterval\? \}/],
  ];
  for (const [value, what, expected] of cases) {
    expectThrows(() => model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }), lossScale: value as never }), /^compile: /, what, expected);
    expectThrows(() => graph.compile({ loss: { score: 'mse' }, optimizer: new SGD({ lr: 0.1 }), lossScale: value as never }), /^compile: /, what, expected);
  }
  if (model.lossScaler?.scale !== 16 || graph.lossScaler !== null) throw new Error('a refused compile changed the loss scale');
  const r = await model.trainStep(seqBatch(7));
  if (r.skipped || r.lossScale !== 16) throw new Error(`a valid step after the refusals: ${JSON.stringify(r)}`);
  model.dispose();
  graph.dispose();
});

test('fit with dynamic scaling: an overflowing step is skipped and counted, not thrown; a real non-finite loss still throws', async () => {
  const ctx = await gpu();
  const model = sequential('f32').build(ctx);
  model.compile({ loss: 'mse', optimizer: new Adam({ lr: 0.01 }), lossScale: { initialScale: 2 ** 126, growthInterval: 5 } });
  const logs = await fit(model, { epochs: 1, trainBatches: [seqBatch(1), farBatch(), seqBatch(2)] });
  if (logs[0].skippedSteps !== 1 || model.step !== 2) throw new Error(`skippedSteps ${logs[0].skippedSteps}, model.step ${model.step}: expected 1 and 2`);
  if (scalerOf(model).scale !== 2 ** 125) throw new Error(`scale 2^${Math.log2(scalerOf(model).scale)} after the overflow, expected 2^125`);
  // Targets of 1e30: the squared error overflows f32, so the loss itself is infinite.
  const infinite = { ...seqBatch(3), y: new Float32Array(B * T * 2).fill(1e30) };
  let message = '';
  try { await fit(model, { epochs: 1, trainBatches: [infinite] }); } catch (e) { message = (e as Error).message; }
  if (!/the loss is Infinity.*the update was skipped/.test(message)) throw new Error(`an infinite loss under dynamic scaling should still stop fit (onNonFinite: 'throw'), got: ${message || 'no error'}`);
  model.dispose();
});

test.run();
