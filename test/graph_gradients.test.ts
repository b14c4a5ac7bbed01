// Gradients through graph Models against the float64 CPU reference (src/cpu/graph.ts): final-state
// gradients given as upstream gradients through the public forward/backward (LSTM, GRU, RNN; two
// layers, bidirectional, variable lengths), and whole-graph gradients of small encoder–decoders
// (different source and target lengths per row) for every parameter and both float inputs,
// with a Dense bridge and with attention. Tiny sizes: the test GPU may be a CPU driver.
import { suite } from 'uvu';
import { Dense, GRU, LSTM, LastStep, RNN, type Recurrent } from '../src/nn/index.ts';
import { Input, type GraphValue } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';
import { Attention } from '../src/nn/attention.ts';
import { Add, Concatenate } from '../src/nn/merge.ts';
import { Adam } from '../src/train/optimizers.ts';
import { encodeModel, graphModelFromCheckpoint, stateDict } from '../src/train/checkpoint.ts';
import { cpuGraphForwardBackward, type CpuGraphConfig } from '../src/cpu/graph.ts';
import { softmaxXentBackward } from '../src/cpu/softmax_xent.ts';
import { Rng } from '../src/cpu/random.ts';
import type { Sequential } from '../src/nn/model.ts';
import { expectClose } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('graph gradients');
const TOL = { atol: 2e-4, rtol: 2e-3 };

function randomArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

async function cpuParams(model: Model): Promise<Record<string, Float64Array>> {
  const sd = await stateDict(model as unknown as Sequential);
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, Float64Array.from(v.data as Float32Array)]));
}

async function expectParamGrads(model: Model, want: Record<string, Float64Array>, what: string): Promise<void> {
  for (const [name, p] of model.namedParameters()) {
    expectClose(`${what}: d${name}`, (await model.context.read(p.grad!)) as Float32Array, want[name], { ...TOL, shape: p.shape });
  }
}

const CELLS: [string, (o: { hiddenSize: number; numLayers?: number; bidirectional?: boolean; name?: string }) => Recurrent][] = [
  ['LSTM', (o) => new LSTM(o)], ['GRU', (o) => new GRU(o)], ['RNN', (o) => new RNN(o)],
];

for (const [cell, make] of CELLS) {
  test(`${cell}: final-state gradients dh_n${cell === 'LSTM' ? ', dc_n' : ''} as upstream gradients (2 layers, bidirectional, lengths [3, 1, 2]) match float64`, async () => {
    const ctx = await gpu();
    const B = 3, T = 3, I = 2, H = 3, LD = 4;
    const x = Input.sequence('x', I);
    const r = make({ hiddenSize: H, numLayers: 2, bidirectional: true, name: 'rnn' }).call(x);
    const outputs: Record<string, GraphValue> = { y: r, h: r.state.h, ...(r.state.c ? { c: r.state.c } : {}) };
    const model = new Model({ inputs: { x }, outputs, seed: 5 }).build(ctx);
    const rng = new Rng(11);
    const inputs = { x: { x: randomArray(rng, B * T * I), shape: [B, T, I], lengths: [3, 1, 2] } };
    const up: Record<string, Float32Array> = { y: randomArray(rng, B * T * 2 * H), h: randomArray(rng, LD * B * H) };
    if (r.state.c) up.c = randomArray(rng, LD * B * H);
    // Padded steps get no output gradient: what a loss there gives.
    for (let b = 0; b < B; b++) for (let t = inputs.x.lengths[b]; t < T; t++) up.y.fill(0, (b * T + t) * 2 * H, (b * T + t + 1) * 2 * H);
    const outs = model.forward(inputs);
    const shapes: Record<string, number[]> = { y: [B, T, 2 * H], h: [LD, B, H], c: [LD, B, H] };
    const upT = Object.fromEntries(Object.entries(up).map(([k, v]) => [k, ctx.tensor(v, shapes[k], `d${k}`)]));
    for (const k of Object.keys(up)) if (outs[k].shape.join() !== shapes[k].join()) throw new Error(`output ${k} has shape ${outs[k].shape}`);
    const dIn = model.backward(upT);
    const want = cpuGraphForwardBackward(model.config() as unknown as CpuGraphConfig, await cpuParams(model), inputs,
      Object.fromEntries(Object.entries(up).map(([k, v]) => [k, Float64Array.from(v)])));
    for (const k of Object.keys(up)) expectClose(`${cell} output ${k}`, (await ctx.read(outs[k])) as Float32Array, want.outputs[k].data, TOL);
    await expectParamGrads(model, want.grads, cell);
    expectClose(`${cell} dx`, (await ctx.read(dIn.x!)) as Float32Array, want.inputGrads.x, TOL);
    for (const t of Object.values(upT)) t.release();
    model.dispose();
  });
}

test('a value used by several nodes (GRU output into two Dense heads, its state an output too): summed gradients match float64', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, I = 2;
  const x = Input.sequence('x', I);
  const h = new GRU({ hiddenSize: 3, name: 'gru' }).call(x);
  const a = new Dense({ units: 2, name: 'head_a' }).call(h);
  const b = new Dense({ units: 1, activation: 'tanh', name: 'head_b' }).call(new LastStep('last').call(h));
  const model = new Model({ inputs: { x }, outputs: { a, b, state: h.state.h }, seed: 8 }).build(ctx);
  const rng = new Rng(5);
  const inputs = { x: { x: randomArray(rng, B * T * I), shape: [B, T, I], lengths: [3, 2] } };
  const up = { a: randomArray(rng, B * T * 2), b: randomArray(rng, B), state: randomArray(rng, B * 3) };
  up.a.fill(0, (1 * T + 2) * 2, (1 * T + 3) * 2); // row 1's padded step
  model.forward(inputs);
  const upT = { a: ctx.tensor(up.a, [B, T, 2]), b: ctx.tensor(up.b, [B, 1]), state: ctx.tensor(up.state, [1, B, 3]) };
  const dIn = model.backward(upT);
  const want = cpuGraphForwardBackward(model.config() as unknown as CpuGraphConfig, await cpuParams(model), inputs,
    Object.fromEntries(Object.entries(up).map(([k, v]) => [k, Float64Array.from(v)])));
  await expectParamGrads(model, want.grads, 'fan-out');
  expectClose('fan-out dx', (await ctx.read(dIn.x!)) as Float32Array, want.inputGrads.x, TOL);
  for (const t of Object.values(upT)) t.release();
  model.dispose();
});

/** Encoder–decoder gradients through compile's softmax cross-entropy, against the CPU reference. */
async function checkEncoderDecoder(name: string, build: (source: Input, target: Input) => GraphValue, after?: (model: Model, inputs: unknown) => Promise<void>): Promise<void> {
  const ctx = await gpu();
  const B = 3, Ts = 4, Tt = 3, I = 2, V = 4;
  const source = Input.sequence('source', I), target = Input.sequence('target', I);
  const logits = build(source, target);
  const model = new Model({ inputs: { source, target }, outputs: { logits }, seed: 9 }).build(ctx);
  model.compile({ loss: { logits: 'softmax_cross_entropy' }, optimizer: new Adam({ lr: 0.01 }) });
  const rng = new Rng(3);
  const inputs = {
    source: { x: randomArray(rng, B * Ts * I), shape: [B, Ts, I], lengths: [4, 2, 3] },
    target: { x: randomArray(rng, B * Tt * I), shape: [B, Tt, I], lengths: [1, 3, 2] },
  };
  const y = Int32Array.from({ length: B * Tt }, (_, i) => (i * 7 + 1) % V);
  const w = new Float32Array(B * Tt);
  for (let b = 0; b < B; b++) for (let t = 0; t < inputs.target.lengths[b]; t++) w[b * Tt + t] = 1;
  const dIn = model.computeGradients(inputs, { logits: { y, weights: w } }, { training: false, inputGrads: true });
  const want = cpuGraphForwardBackward(model.config() as unknown as CpuGraphConfig, await cpuParams(model), inputs,
    (outs) => ({ logits: softmaxXentBackward(outs.logits.data, y, w, B * Tt, V) }));
  await expectParamGrads(model, want.grads, name);
  expectClose(`${name} dsource`, (await ctx.read(dIn.source!)) as Float32Array, want.inputGrads.source, TOL);
  expectClose(`${name} dtarget`, (await ctx.read(dIn.target!)) as Float32Array, want.inputGrads.target, TOL);
  // A training step on the same graph applies (one submission, finite loss).
  const r = await model.trainStep(inputs, { logits: { y, weights: w } }, { readLoss: true });
  if (r.skipped || !Number.isFinite(r.loss!)) throw new Error(`${name}: trainStep gave ${JSON.stringify(r)}`);
  await after?.(model, inputs);
  model.dispose();
}

test('LSTM encoder–decoder (decoder starts from the encoder\'s h_n, c_n; source and target lengths differ per row): every gradient matches float64', async () => {
  await checkEncoderDecoder('lstm enc-dec', (source, target) => {
    const enc = new LSTM({ hiddenSize: 3, name: 'encoder' }).call(source);
    const dec = new LSTM({ hiddenSize: 3, name: 'decoder' }).call(target, { initialState: enc.state });
    return new Dense({ units: 4, name: 'proj' }).call(dec);
  });
});

test('GRU encoder, Dense tanh bridge of its last output into a 1-layer GRU decoder\'s h0: every gradient matches float64', async () => {
  await checkEncoderDecoder('gru bridge', (source, target) => {
    const enc = new GRU({ hiddenSize: 3, name: 'encoder' }).call(source);
    const bridge = new Dense({ units: 4, activation: 'tanh', name: 'bridge' }).call(new LastStep('last').call(enc));
    const dec = new GRU({ hiddenSize: 4, name: 'decoder' }).call(target, { initialState: { h: bridge } });
    return new Dense({ units: 4, name: 'proj' }).call(dec);
  });
});

test('2-layer bidirectional LSTM encoder into a 2-layer bidirectional decoder (final states of every layer and direction): gradients match float64', async () => {
  await checkEncoderDecoder('bi enc-dec', (source, target) => {
    const enc = new LSTM({ hiddenSize: 2, numLayers: 2, bidirectional: true, name: 'encoder' }).call(source);
    const dec = new LSTM({ hiddenSize: 2, numLayers: 2, bidirectional: true, name: 'decoder' }).call(target, { initialState: enc.state });
    return new Dense({ units: 4, name: 'proj' }).call(dec);
  });
});

for (const score of ['dot', 'general', 'additive'] as const) {
  test(`encoder–decoder with ${score} attention over the encoder outputs (masked by source lengths): every gradient matches float64`, async () => {
    await checkEncoderDecoder(`attention ${score}`, (source, target) => {
      const enc = new LSTM({ hiddenSize: 3, name: 'encoder' }).call(source);
      const dec = new LSTM({ hiddenSize: 3, name: 'decoder' }).call(target, { initialState: enc.state });
      const att = new Attention({ score, ...(score === 'additive' ? { units: 3 } : {}), attentionalHidden: 3, name: 'attention' }).call(dec, enc);
      return new Dense({ units: 4, name: 'proj' }).call(att.output);
    });
  });
}

test('Concatenate [decoder, dot attention context] and Add of two heads: gradients match float64; the graph round-trips through a checkpoint', async () => {
  await checkEncoderDecoder('merge', (source, target) => {
    const enc = new LSTM({ hiddenSize: 3, name: 'encoder' }).call(source);
    const dec = new LSTM({ hiddenSize: 3, name: 'decoder' }).call(target, { initialState: enc.state });
    const att = new Attention({ score: 'dot', name: 'attention' }).call(dec, enc);
    const cat = new Concatenate({ name: 'cat' }).call([dec, att.output]);
    return new Add({ name: 'sum' }).call([new Dense({ units: 4, name: 'head_a' }).call(cat), new Dense({ units: 4, name: 'head_b' }).call(dec)]);
  }, async (m, inputs) => {
    const { model: back } = graphModelFromCheckpoint(m.context, await encodeModel(m));
    const [a, b] = [await m.predict(inputs as never), await back.predict(inputs as never)];
    expectClose('round-trip logits', (b as Record<string, { data: Float32Array }>).logits.data, (a as Record<string, { data: Float32Array }>).logits.data, { atol: 0, rtol: 0 });
    back.dispose();
  });
});

test.run();
