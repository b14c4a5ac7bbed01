// Whole-model gradients: GPU Sequential vs the float64 CPU reference model (src/cpu/model.ts),
// for every parameter and for the recurrent layers' initial states, with variable lengths.
import { suite } from 'uvu';
import { Dense, Dropout, Embedding, GRU, LastStep, LSTM, OneHot, RNN, Sequential, type Layer } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import type { LossKind } from '../src/train/losses.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import type { Batch } from '../src/nn/model.ts';

const test = suite('model');
// f32 GPU vs float64 CPU through embedding, two recurrent layers, a dense head and the loss:
// errors of ~1e-6 relative per op compound over T steps and 2 layers; 2e-4 abs / 2e-3 rel.
const TOL = { atol: 2e-4, rtol: 2e-3 };

async function compareGradients(layers: Layer[], loss: LossKind, batch: Batch, seed: number, initial = true): Promise<void> {
  const ctx = await gpu();
  const model = new Sequential(layers, { seed }).build(ctx);
  model.compile({ loss, optimizer: new SGD({ lr: 0.1 }) });
  const rng = new Rng(seed + 1);
  const initialStates: Record<string, { h: Float64Array; c?: Float64Array }> = {};
  const tensors: { release(): void }[] = [];
  if (initial) {
    for (const l of model.recurrentLayers()) {
      const shape = [l.numLayers * l.numDirections, batch.shape[0], l.hiddenSize];
      const n = shape.reduce((a, b) => a * b, 1);
      const h = rng.uniformArray(n, -0.5, 0.5), c = rng.uniformArray(n, -0.5, 0.5);
      const ht = ctx.tensor(h, shape, 'h0'), ct = ctx.tensor(c, shape, 'c0');
      tensors.push(ht, ct);
      l.setInitialState(l.cell === 'lstm' ? { h: ht, c: ct } : { h: ht });
      initialStates[l.name] = l.cell === 'lstm' ? { h: Float64Array.from(h), c: Float64Array.from(c) } : { h: Float64Array.from(h) };
    }
  }
  model.computeGradients(batch, { training: false });
  const gpuLoss = await model.readLoss();
  const sd = await stateDict(model);
  const params: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(sd)) params[k] = Float64Array.from(v.data);
  const ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, loss, initialStates);
  expectClose('loss', [gpuLoss], [ref.loss], TOL);
  for (const [name, p] of model.namedParameters()) {
    expectClose(`d${name}`, await ctx.read(p.grad!), ref.grads[name], { ...TOL, shape: p.shape });
  }
  if (initial) {
    for (const l of model.recurrentLayers()) {
      const g = l.initialStateGrad!;
      expectClose(`${l.name} dh0`, await ctx.read(g.h), ref.initialStateGrads[l.name].h, TOL);
      if (g.c) expectClose(`${l.name} dc0`, await ctx.read(g.c), ref.initialStateGrads[l.name].c!, TOL);
    }
  }
  for (const t of tensors) t.release();
  model.dispose();
}

function tokenBatch(rng: Rng, B: number, T: number, V: number, lengths?: number[]): Batch {
  return {
    x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V),
    lengths: lengths ? Int32Array.from(lengths) : undefined,
  };
}

for (const cell of ['lstm', 'gru', 'rnn'] as const) {
  test(`${cell}: embedding → 2-layer ${cell} → dense → softmax xent, variable lengths, initial states`, async () => {
    const rng = new Rng(3);
    const Cell = { lstm: LSTM, gru: GRU, rnn: RNN }[cell];
    const layers = [new Embedding({ numEmbeddings: 11, embeddingDim: 6 }), new Cell({ hiddenSize: 5, numLayers: 2 }), new Dense({ units: 11 })];
    await compareGradients(layers, 'softmax_cross_entropy', tokenBatch(rng, 3, 4, 11, [4, 2, 1]), 10);
  });
}

test('bidirectional LSTM with one-hot input, ragged lengths', async () => {
  const rng = new Rng(5);
  const layers = [new OneHot(7), new LSTM({ hiddenSize: 4, numLayers: 2, bidirectional: true }), new Dense({ units: 7 })];
  await compareGradients(layers, 'softmax_cross_entropy', tokenBatch(rng, 3, 5, 7, [5, 3, 1]), 20);
});

test('one-hot → 2-layer GRU (fused one-hot projection) → dense matches the CPU model', async () => {
  const rng = new Rng(9);
  const layers = [new OneHot(9), new GRU({ hiddenSize: 6, numLayers: 2 }), new Dense({ units: 9 })];
  await compareGradients(layers, 'softmax_cross_entropy', tokenBatch(rng, 3, 5, 9, [5, 2, 4]), 25);
});

test('many-to-one GRU on features → last step → dense relu → dense → sigmoid xent', async () => {
  const rng = new Rng(6);
  const B = 4, T = 5, I = 3;
  const layers = [new GRU({ hiddenSize: 6, inputSize: I }), new LastStep(), new Dense({ units: 5, activation: 'relu' }), new Dense({ units: 1 })];
  const batch: Batch = { x: rng.uniformArray(B * T * I), shape: [B, T, I], lengths: Int32Array.from([5, 1, 3, 4]), y: Float32Array.from([1, 0, 1, 0]) };
  await compareGradients(layers, 'sigmoid_cross_entropy', batch, 30);
});

test('relu RNN on features → dense per step → MSE', async () => {
  const rng = new Rng(7);
  const B = 3, T = 6, I = 2;
  const layers = [new RNN({ hiddenSize: 8, inputSize: I, nonlinearity: 'relu' }), new Dense({ units: 1 })];
  const batch: Batch = { x: rng.uniformArray(B * T * I), shape: [B, T, I], y: rng.uniformArray(B * T) };
  await compareGradients(layers, 'mse', batch, 40, false);
});

test('dropout in eval mode is the identity (model with dropout matches the CPU model)', async () => {
  const rng = new Rng(8);
  const layers = [new Embedding({ numEmbeddings: 9, embeddingDim: 4 }), new LSTM({ hiddenSize: 5, numLayers: 2, dropout: 0.5 }), new Dropout(0.5), new Dense({ units: 9 })];
  const ctx = await gpu();
  const model = new Sequential(layers, { seed: 50 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const batch = tokenBatch(rng, 2, 3, 9);
  const a = await model.evaluate(batch);
  const sd = await stateDict(model);
  const params: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(sd)) params[k] = Float64Array.from(v.data);
  const ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'softmax_cross_entropy');
  expectClose('eval loss', [a], [ref.loss], TOL);
  // In training, dropout changes the loss.
  model.computeGradients(batch, { training: true });
  const b = await model.readLoss();
  if (Math.abs(a - b) < 1e-6) throw new Error('training-mode dropout had no effect');
  model.dispose();
});

test('bad batches are refused before any dispatch with clear errors', async () => {
  const ctx = await gpu();
  const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 3 }), new LSTM({ hiddenSize: 4 }), new Dense({ units: 5 })], { seed: 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const ok = { x: Int32Array.from([0, 1, 2, 3]), shape: [2, 2], y: Int32Array.from([1, 2, 3, 4]) };
  const before = ctx.dispatchCount;
  await expectRejects(() => model.trainStep({ ...ok, x: Int32Array.from([0, 1, 7, 3]) }), 'token id 7', '[1, 0]', '[0, 5)');
  await expectRejects(() => model.trainStep({ ...ok, shape: [2, 3] }), 'batch.x has 4 values', '[2, 3]');
  await expectRejects(() => model.trainStep({ ...ok, lengths: Int32Array.from([2, 0]) }), 'batch.lengths[1] = 0', '[1, 2]');
  await expectRejects(() => model.trainStep({ ...ok, lengths: Int32Array.from([3, 1]) }), 'batch.lengths[0] = 3');
  await expectRejects(() => model.trainStep({ ...ok, y: Int32Array.from([1, 2, 9, 4]) }), 'class id 9');
  await expectRejects(() => model.trainStep({ ...ok, x: new Float32Array(4) }), 'Int32Array of token ids');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches recorded for bad batches`);
  const feat = new Sequential([new GRU({ hiddenSize: 3, inputSize: 2 }), new Dense({ units: 1 })]).build(ctx);
  feat.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }) });
  await expectRejects(() => feat.trainStep({ x: Float32Array.from([1, NaN, 0, 0]), shape: [1, 2, 2], y: new Float32Array(2) }), 'not finite');
  await expectRejects(() => feat.trainStep({ x: new Float32Array(6), shape: [1, 2, 3], y: new Float32Array(2) }), 'expected [B, T, 2]');
  expectThrows(() => new LSTM({ hiddenSize: 0 }), 'hiddenSize must be a positive integer');
  expectThrows(() => new Dropout(1), 'rate must be a number in [0, 1)');
  model.dispose(); feat.dispose();
});

test.run();
