// BidirectionalLastStep and SumDirections (src/nn/directions.ts), the Keras-style ways to read a
// bidirectional layer's output: their values against the bidirectional layer's own sequence
// output, a checkpoint of a model with each rebuilt by modelFromCheckpoint with equal
// predictions, and inputs they cannot take refused by name.
import { suite } from 'uvu';
import { Dense, Embedding, GRU, LSTM, Sequential } from '../src/nn/index.ts';
import { BidirectionalLastStep, SumDirections } from '../src/nn/directions.ts';
import { BidirectionalLastStep as InteropLast, SumDirections as InteropSum } from '../src/interop-entry.ts';
import { decodeModelInto, encodeModel, modelFromCheckpoint } from '../src/train/checkpoint.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('directions');
const EXACT = { atol: 0, rtol: 0 };

// Tokens (B=3, T=4) with lengths 4, 2, 1: the last valid step differs per row.
const tokens = { x: Int32Array.from([1, 2, 3, 4, 5, 6, 0, 0, 7, 0, 0, 0]), shape: [3, 4], lengths: [4, 2, 1] };
const H = 3;

test('the interop entry exports the same classes', () => {
  if (InteropLast !== BidirectionalLastStep || InteropSum !== SumDirections) throw new Error('webgpu-rnn/interop exports other classes than src/nn/directions.ts');
});

test('BidirectionalLastStep takes the forward half at the last valid step and the reverse half at step 0; SumDirections adds the halves', async () => {
  const ctx = await gpu();
  const layers = () => [new Embedding({ numEmbeddings: 8, embeddingDim: 4 }), new GRU({ hiddenSize: H, bidirectional: true, name: 'gru' })];
  const whole = new Sequential(layers(), { seed: 3 }).build(ctx);
  const last = new Sequential([...layers(), new BidirectionalLastStep('gru_last')], { seed: 5 }).build(ctx);
  const summed = new Sequential([...layers(), new SumDirections('gru_sum')], { seed: 5 }).build(ctx);
  const weights = await encodeModel(last);
  decodeModelInto(whole, weights); // the same weights in all three
  decodeModelInto(summed, weights);
  const seq = (await whole.predict(tokens)).data; // (B, T, 2H)
  const gotLast = (await last.predict(tokens)).data; // (B, 2H)
  const gotSum = (await summed.predict(tokens)).data; // (B, T, H)
  const T = 4;
  tokens.lengths.forEach((len, b) => {
    const at = (t: number, j: number) => seq[(b * T + t) * 2 * H + j];
    const wantLast = Array.from({ length: 2 * H }, (_, j) => (j < H ? at(len - 1, j) : at(0, j)));
    expectClose(`row ${b} last`, gotLast.subarray(b * 2 * H, (b + 1) * 2 * H), wantLast, EXACT);
    for (let t = 0; t < len; t++) {
      const wantSum = Array.from({ length: H }, (_, j) => Math.fround(at(t, j) + at(t, H + j)));
      expectClose(`row ${b} step ${t} sum`, gotSum.subarray((b * T + t) * H, (b * T + t + 1) * H), wantSum, { atol: 1e-6, rtol: 0 });
    }
  });
  for (const m of [whole, last, summed]) m.dispose();
});

test('a checkpoint of a model with each layer is rebuilt by modelFromCheckpoint with equal predictions', async () => {
  const ctx = await gpu();
  const models = [
    // Tokens → bidirectional GRU → each direction's last output → sum of the two → Dense.
    new Sequential([
      new Embedding({ numEmbeddings: 8, embeddingDim: 4 }), new GRU({ hiddenSize: H, bidirectional: true, name: 'gru' }),
      new BidirectionalLastStep('gru_last'), new SumDirections('gru_sum'), new Dense({ units: 2, name: 'head' }),
    ], { seed: 11 }),
    // Features → bidirectional LSTM sequences summed per step → Dense per step.
    new Sequential([
      new LSTM({ hiddenSize: H, bidirectional: true, name: 'lstm' }), new SumDirections('lstm_sum'), new Dense({ units: 2, name: 'head' }),
    ], { seed: 12 }),
  ];
  const features = { x: Float32Array.from({ length: 3 * 4 * 2 }, (_, i) => Math.sin(i)), shape: [3, 4, 2], lengths: [4, 3, 1] };
  for (const [i, model] of models.entries()) {
    const batch = i === 0 ? tokens : features;
    model.build(ctx, i === 0 ? undefined : { kind: 'seq', size: 2 });
    const bytes = await encodeModel(model);
    const { model: rebuilt } = modelFromCheckpoint(ctx, bytes, `model${i}.safetensors`);
    const configs = (m: Sequential) => JSON.stringify(m.layers.map((l) => l.config()));
    if (configs(rebuilt) !== configs(model)) throw new Error(`model ${i}: rebuilt layers ${configs(rebuilt)} differ from ${configs(model)}`);
    expectClose(`model ${i} predictions`, (await rebuilt.predict(batch)).data, (await model.predict(batch)).data, EXACT);
    model.dispose();
    rebuilt.dispose();
  }
});

test('inputs they cannot take are refused by name when the model is configured', () => {
  expectThrows(() => new Sequential([new Dense({ units: 3, name: 'odd' }), new SumDirections('sum')]).configure({ kind: 'seq', size: 2 }),
    /SumDirections "sum": got seq input of 3 features/, /expected a bidirectional layer's output \(an even number of features/);
  expectThrows(() => new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 4 }), new GRU({ hiddenSize: 2, bidirectional: true }), new BidirectionalLastStep('last'), new BidirectionalLastStep('again')]).configure({ kind: 'tokens', size: 5 }),
    /BidirectionalLastStep "again": got a vector input/, /expected a sequence/);
  expectThrows(() => new Sequential([new SumDirections('sum')]).configure({ kind: 'tokens', size: 6 }),
    /SumDirections "sum": got token ids/, /expected a bidirectional layer's output/);
  expectThrows(() => new BidirectionalLastStep(''), /BidirectionalLastStep: name must be a non-empty string/, /got the string ""/);
});

test.run();
