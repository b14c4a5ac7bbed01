// The graph Model API: a Model equal to a Sequential trains identically; an encoder–decoder on
// token inputs with per-input lengths predicts logits and final states; wiring errors are refused
// at construction and bad runs before any dispatch (model unchanged); public forward/backward/
// applyGradients equals trainStep; custom and weighted multi-output losses; the GPU skip of a
// non-finite step; merge nodes' checks; checkpoints round-trip (parameters, graph config, training
// state, files); fit.
import { suite } from 'uvu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Dropout, Embedding, GRU, LSTM, LastStep, RNN, Sequential } from '../src/nn/index.ts';
import { Input, callOp } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';
import { Add, Concatenate } from '../src/nn/merge.ts';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint-node.ts';
import { Adam, SGD } from '../src/train/optimizers.ts';
import { fit } from '../src/train/fit.ts';
import type { CustomLoss } from '../src/train/custom-loss.ts';
import {
  decodeCheckpointInto, encodeModel, encodeTrainingState, graphModelFromCheckpoint, modelFromCheckpoint, stateDict,
} from '../src/train/checkpoint.ts';
import { softmaxXentBackward } from '../src/cpu/softmax_xent.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('graph');
const V = 5, B = 3, Ts = 4, Tt = 3;

/** A tiny token encoder–decoder: LSTM encoder states into an LSTM decoder, logits over V. */
function encoderDecoder(seed = 3) {
  const source = Input.tokens('source', V), target = Input.tokens('target', V);
  const enc = new LSTM({ hiddenSize: 4, name: 'encoder' }).call(new Embedding({ numEmbeddings: V, embeddingDim: 3, name: 'src_embed' }).call(source));
  const dec = new LSTM({ hiddenSize: 4, name: 'decoder' }).call(new Embedding({ numEmbeddings: V, embeddingDim: 3, name: 'tgt_embed' }).call(target), { initialState: enc.state });
  const logits = new Dense({ units: V, name: 'proj' }).call(dec);
  return new Model({ inputs: { source, target }, outputs: { logits, h: enc.state.h }, seed });
}

const inputs = {
  source: { x: Int32Array.from({ length: B * Ts }, (_, i) => (i * 3 + 1) % V), shape: [B, Ts], lengths: [4, 2, 3] },
  target: { x: Int32Array.from({ length: B * Tt }, (_, i) => (i * 2) % V), shape: [B, Tt], lengths: [1, 3, 2] },
};
const targets = { logits: { y: Int32Array.from({ length: B * Tt }, (_, i) => (i + 2) % V) } };

async function compiled(seed = 3): Promise<Model<'source' | 'target', 'logits' | 'h'>> {
  const model = encoderDecoder(seed).build(await gpu());
  model.compile({ loss: { logits: 'softmax_cross_entropy' }, optimizer: new Adam({ lr: 0.05 }) });
  return model;
}

async function weightsOf(model: { context: { read: (t: never) => Promise<unknown> }; namedParameters(): [string, { value?: unknown }][] }): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, p] of model.namedParameters()) out.set(k, (await model.context.read(p.value as never)) as Float32Array);
  return out;
}

test('a Model equal to a Sequential (Embedding → LSTM → Dropout → Dense) gives bit-identical losses and weights over 3 steps', async () => {
  const ctx = await gpu();
  const layers = () => [new Embedding({ numEmbeddings: V, embeddingDim: 3 }), new LSTM({ hiddenSize: 4 }), new Dropout(0.25), new Dense({ units: V })];
  const seq = new Sequential(layers(), { seed: 7 }).build(ctx);
  // A Sequential folds its Embedding into the LSTM's W_ih (other rounding); a graph runs the plain
  // projection, which is what this compares.
  (seq.layers[0] as Embedding).foldInto = null;
  const [emb, lstm, drop, dense] = layers();
  const x = Input.tokens('x', V);
  const model = new Model({ inputs: { x }, outputs: { y: dense.call(drop.call(lstm.call(emb.call(x)))) }, seed: 7 }).build(ctx);
  seq.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.05 }), clipNorm: 1 });
  model.compile({ loss: { y: 'softmax_cross_entropy' }, optimizer: new Adam({ lr: 0.05 }), clipNorm: 1 });
  const batch = { x: inputs.target.x, shape: [B, Tt], lengths: [1, 3, 2] };
  const y = targets.logits.y;
  for (let i = 0; i < 3; i++) {
    const a = await seq.trainStep({ ...batch, y }, { readLoss: true });
    const b = await model.trainStep({ x: batch }, { y: { y } }, { readLoss: true });
    if (a.loss !== b.loss || a.gradNorm !== b.gradNorm) throw new Error(`step ${i}: Sequential loss ${a.loss} norm ${a.gradNorm}, Model loss ${b.loss} norm ${b.gradNorm}`);
  }
  const wa = await weightsOf(seq as never), wb = await weightsOf(model as never);
  if ([...wa.keys()].join() !== [...wb.keys()].join()) throw new Error(`names differ: ${[...wa.keys()]} vs ${[...wb.keys()]}`);
  for (const [k, v] of wa) expectClose(k, wb.get(k)!, v, { atol: 0, rtol: 0 });
  if (model.step !== 3 || model.rngState() !== seq.rngState()) throw new Error(`step ${model.step}, rng ${model.rngState()} vs ${seq.rngState()}`);
  seq.dispose(); model.dispose();
});

test('encoder–decoder on token inputs with their own lengths: predict gives logits and the encoder state; training lowers the loss', async () => {
  const model = await compiled();
  const out = await model.predict(inputs);
  if (out.logits.shape.join() !== [B, Tt, V].join() || out.h.shape.join() !== [1, B, 4].join()) throw new Error(`shapes ${out.logits.shape} ${out.h.shape}`);
  const first = await model.evaluate(inputs, targets);
  for (let i = 0; i < 40; i++) await model.trainStep(inputs, targets);
  const last = await model.evaluate(inputs, targets);
  if (!(last < first * 0.5)) throw new Error(`loss ${first} → ${last}`);
  if (model.step !== 40) throw new Error(`step ${model.step}`);
  model.dispose();
});

test('wiring errors are refused at construction, naming the value and what was expected', () => {
  const x = Input.sequence('x', 2), unused = Input.sequence('unused', 2), stray = Input.tokens('stray', 4);
  const y1 = new Dense({ units: 1 }).call(x);
  expectThrows(() => new Model({ inputs: { x, unused }, outputs: { y: y1 } }), /inputs\.unused/, /not used by any output/);
  new Model({ inputs: { x }, outputs: { y: y1 } }); // a failed construction claims nothing
  expectThrows(() => new Model({ inputs: { x }, outputs: { y: new Dense({ units: 1 }).call(stray) } }), /Input "stray"/, /not one of the model's inputs/);
  const d = new Dense({ units: 2 });
  d.call(x);
  expectThrows(() => d.call(x), /already called/, /create another layer/);
  const shared = new Dense({ units: 2, name: 'shared' }).call(x);
  new Model({ inputs: { x }, outputs: { y: shared } });
  expectThrows(() => new Model({ inputs: { x }, outputs: { z: new Dense({ units: 1 }).call(shared) } }), /belongs to another Model/, /new layers/);
  expectThrows(() => new Model({ inputs: { stray }, outputs: { y: new Dense({ units: 1 }).call(stray) } }), /Dense "dense"/, /token ids/);
  const deep = new LSTM({ hiddenSize: 3, numLayers: 2 }).call(x);
  expectThrows(() => new Model({ inputs: { x }, outputs: { y: new Dense({ units: 1 }).call(deep.state.h) } }), /state of 2 layers·directions/, /only a recurrent layer's initialState/);
  const enc = new GRU({ hiddenSize: 3 }).call(x);
  expectThrows(() => new Model({ inputs: { x }, outputs: { y: new GRU({ hiddenSize: 5 }).call(x, { initialState: enc.state }) } }), /initialState\.h is a state \(1, B, 3\)/, /expected \(numLayers·directions = 1, B, hiddenSize = 5\)/);
  expectThrows(() => new LSTM({ hiddenSize: 3 }).call(x, { initialState: { h: enc.state.h } }), /needs c as well as h/, /expected \{ h, c \}/);
  expectThrows(() => new RNN({ hiddenSize: 3 }).call(x, { initialState: { h: enc.state.h, c: enc.state.h } }), /initialState\.c is given/, /expected \{ h \}/);
  expectThrows(() => new Dense({ units: 1 }).call({ x: 1 } as never), /must be a graph value/, /an Input/);
  expectThrows(() => new Model({ inputs: { x: new Dense({ units: 1 }).call(x) as never }, outputs: { y: x } }), /inputs\.x must be an Input/, /Input\.tokens or Input\.sequence/);
  expectThrows(() => Input.tokens('t', 0), /vocabSize must be an integer ≥ 1/, /got 0/);
  expectThrows(() => callOp({ name: 'op' } as never, [], 1), /non-empty array of graph values/, /got/);
});

test('bad runs are refused before any dispatch, the model unchanged (inputs, lengths, B, targets, upstream gradients)', async () => {
  const model = await compiled();
  const m = model as never;
  const bad = (over: Record<string, unknown>) => ({ ...inputs, ...over }) as never;
  await expectRejectedCleanly(m, () => model.trainStep(bad({ target: undefined }), targets), [/input "target" is missing/, /expected \{ x, shape: \[B, T\]/]);
  await expectRejectedCleanly(m, () => model.trainStep({ ...inputs, sorce: inputs.source } as never, targets), [/unknown input "sorce" \(did you mean source\?\)/, /inputs are \{ source, target \}/]);
  await expectRejectedCleanly(m, () => model.trainStep(bad({ source: { ...inputs.source, y: targets.logits.y } }), targets), [/input "source": unknown field "y"/, /targets go in the targets argument/]);
  await expectRejectedCleanly(m, () => model.trainStep(bad({ source: { ...inputs.source, lengths: [4, 5, 3] } }), targets), [/input "source": batch\.lengths\[1\] = 5 is outside \[1, 4\]/, /expected 1 ≤ length ≤ T = 4/]);
  await expectRejectedCleanly(m, () => model.trainStep(bad({ target: { ...inputs.target, x: Int32Array.from(inputs.target.x).fill(V, 2, 3) } }), targets), [/input "target".*token id 5/, /outside the vocabulary \[0, 5\)/]);
  await expectRejectedCleanly(m, () => model.trainStep(bad({ target: { x: inputs.target.x.slice(0, 2 * Tt), shape: [2, Tt] } }), targets), [/batch size 2/, /expected every input to have the same B/]);
  await expectRejectedCleanly(m, () => model.trainStep(inputs, {}), [/targets\.logits must be an object/, /\{ y, weights\? \}/]);
  await expectRejectedCleanly(m, () => model.trainStep(inputs, { ...targets, h: { y: [1] } }), [/targets\.h is given/, /that output has no loss/]);
  await expectRejectedCleanly(m, () => model.trainStep(inputs, { logits: { y: [1, 2] } }), [/targets\.logits: batch\.y has 2 values/, /expected 9 class ids/]);
  await expectRejectedCleanly(m, () => model.predict({ source: inputs.source, target: { ...inputs.target, shape: [B, Tt, 1] } }), [/input "target": batch\.shape is \[3, 3, 1\]/, /expected \[B, T\]/]);
  await expectRejectedCleanly(m, () => model.compile({ loss: { logit: 'mse' } as never, optimizer: new SGD({ lr: 1 }) }), [/loss for unknown output "logit" \(did you mean logits\?\)/, /outputs are logits, h/]);
  model.forward(inputs);
  const wrong = model.context.zeros([B, Tt, V + 1]);
  await expectRejectedCleanly(m, () => model.backward({ logits: wrong }), [/gradient of logits is Tensor/, /expected an f32 tensor of the output's shape \(3, 3, 5\)/]);
  await expectRejectedCleanly(m, () => model.backward({ logit: wrong } as never), [/unknown output "logit"/, /outputs are logits, h/]);
  wrong.release();
  await expectRejectedCleanly(m, () => model.applyGradients(), [/applyGradients: no gradients to apply/, /call model\.backward/]);
  const r = await model.trainStep(inputs, targets, { readLoss: true });
  if (r.skipped || !Number.isFinite(r.loss!)) throw new Error(`valid step after the rejections: ${JSON.stringify(r)}`);
  model.dispose();
});

test('public forward → backward(dLogits from the CPU) → applyGradients updates as trainStep does', async () => {
  const a = await compiled(4), b = await compiled(4);
  const ctx = a.context;
  await a.trainStep(inputs, targets);
  const out = b.forward(inputs, { training: true });
  const logits = (await ctx.read(out.logits)) as Float32Array;
  const w = new Float32Array(B * Tt);
  for (let r = 0; r < B; r++) for (let t = 0; t < inputs.target.lengths[r]; t++) w[r * Tt + t] = 1;
  const d = ctx.tensor(Float32Array.from(softmaxXentBackward(logits, targets.logits.y, w, B * Tt, V)), [B, Tt, V], 'dlogits');
  const dIn = b.backward({ logits: d });
  if (dIn.source !== null || dIn.target !== null) throw new Error('token inputs have no gradient');
  const r = await b.applyGradients();
  if (r.skipped || b.step !== 1) throw new Error(`applyGradients: ${JSON.stringify(r)}, step ${b.step}`);
  const wa = await weightsOf(a as never), wb = await weightsOf(b as never);
  for (const [k, v] of wa) expectClose(k, wb.get(k)!, v, { atol: 1e-6, rtol: 1e-5 });
  d.release(); a.dispose(); b.dispose();
});

test('custom loss from the provided ops equals the built-in losses; two outputs with weights', async () => {
  const ctx = await gpu();
  const build = () => {
    const x = Input.sequence('x', 2);
    const h = new GRU({ hiddenSize: 3, name: 'gru' }).call(x);
    const logits = new Dense({ units: V, name: 'cls' }).call(h);
    const score = new Dense({ units: 1, name: 'score' }).call(new LastStep('last').call(h));
    return new Model({ inputs: { x }, outputs: { logits, score }, seed: 2 }).build(ctx);
  };
  const rng = new Rng(1);
  const x = { x: Float32Array.from({ length: B * Tt * 2 }, () => rng.uniform(-1, 1)), shape: [B, Tt, 2], lengths: [3, 1, 2] };
  const y = targets.logits.y, w = Float32Array.from({ length: B * Tt }, (_, i) => (i % Tt < x.lengths[Math.floor(i / Tt)] ? 1 : 0));
  const s = Float32Array.of(0.5, -1, 2);
  const builtin = build();
  builtin.compile({ loss: { logits: 'softmax_cross_entropy', score: { kind: 'mse', weight: 0.5 } }, optimizer: new SGD({ lr: 0.1 }) });
  const custom = build();
  const loss: CustomLoss<'logits' | 'score'> = {
    check: (t) => t as { y: Int32Array; w: Float32Array; s: Float32Array },
    upload(ops, t) {
      const c = t as { y: Int32Array; w: Float32Array; s: Float32Array };
      ops.write('y', c.y, [B, Tt]); ops.write('w', c.w, [B, Tt]); ops.write('s', c.s, [B, 1]);
    },
    record(ops, out, withGrad) {
      const a = ops.softmaxCrossEntropy('xent', out.logits, ops.get('y'), ops.get('w'), withGrad);
      const m = ops.mse('mse', out.score, ops.get('s'), withGrad);
      return { loss: ops.add('total', a.loss, m.loss, 1, 0.5), grads: withGrad ? { logits: a.grad, score: ops.scale('dscore', m.grad!, 0.5) } : {} };
    },
  };
  custom.compile({ loss, optimizer: new SGD({ lr: 0.1 }) });
  const la = await builtin.evaluate({ x }, { logits: { y, weights: w }, score: { y: s } });
  const lb = await custom.evaluate({ x }, { y, w, s });
  expectClose('loss', [lb], [la], { atol: 1e-6, rtol: 1e-6 });
  builtin.computeGradients({ x }, { logits: { y, weights: w }, score: { y: s } }, { training: false });
  custom.computeGradients({ x }, { y, w, s }, { training: false });
  const named = custom.namedParameters();
  for (const [k, p] of builtin.namedParameters()) {
    const q = named.find(([n]) => n === k)![1];
    expectClose(`d${k}`, (await ctx.read(q.grad!)) as Float32Array, (await ctx.read(p.grad!)) as Float32Array, { atol: 1e-6, rtol: 1e-5 });
  }
  const r = await custom.trainStep({ x }, { y, w, s }, { readLoss: true });
  expectClose('trainStep loss', [r.loss!], [la], { atol: 1e-6, rtol: 1e-6 });
  builtin.dispose(); custom.dispose();
});

test('a non-finite step is skipped on the GPU: weights, step and dropout RNG unchanged', async () => {
  const model = await compiled();
  const [, p] = model.namedParameters().find(([k]) => k === 'proj.bias')!;
  const ctx = model.context;
  ctx.write(p.value!, Float32Array.of(NaN, 0, 0, 0, 0));
  const before = await weightsOf(model as never), rng = model.rngState();
  const r = await model.trainStep(inputs, targets);
  if (!r.skipped || model.step !== 0 || model.rngState() !== rng) throw new Error(`result ${JSON.stringify(r)}, step ${model.step}`);
  const after = await weightsOf(model as never);
  for (const [k, v] of before) expectClose(k, after.get(k)!, v, { atol: 0, rtol: 0 });
  model.dispose();
});

test('checkpoints: PyTorch-style names, the graph rebuilt from the file, training state resumes exactly', async () => {
  const ctx = await gpu();
  const model = await compiled();
  await model.trainStep(inputs, targets);
  const names = Object.keys(await stateDict(model));
  for (const n of ['src_embed.weight', 'encoder.weight_ih_l0', 'decoder.bias_hh_l0', 'proj.weight']) if (!names.includes(n)) throw new Error(`missing ${n} in ${names}`);
  const bytes = await encodeModel(model), state = await encodeTrainingState(model);
  const { model: back } = graphModelFromCheckpoint(ctx, bytes);
  const p1 = await model.predict(inputs), p2 = await back.predict(inputs);
  expectClose('logits', p2.logits.data, p1.logits.data, { atol: 0, rtol: 0 });
  expectThrows(() => modelFromCheckpoint(ctx, bytes), /holds a graph Model/, /graphModelFromCheckpoint/);
  back.compile({ loss: { logits: 'softmax_cross_entropy' }, optimizer: new Adam({ lr: 0.05 }) });
  decodeCheckpointInto(back, bytes, state);
  const a = await model.trainStep(inputs, targets, { readLoss: true }), b = await back.trainStep(inputs, targets, { readLoss: true });
  if (a.loss !== b.loss || model.step !== back.step) throw new Error(`resumed loss ${b.loss} vs ${a.loss}, step ${back.step} vs ${model.step}`);
  model.dispose(); back.dispose();
});

test('fit trains a Model on { inputs, targets } batches and refuses a bad one by epoch and batch', async () => {
  const model = await compiled(5);
  const logs = await fit(model, { epochs: 3, trainBatches: Array.from({ length: 5 }, () => ({ inputs, targets })), evalBatches: [{ inputs, targets }], progress: false, logEvery: 1 });
  if (!(logs[2].loss < logs[0].loss) || !(logs[2].evalLoss! < logs[0].evalLoss!)) throw new Error(`losses ${logs.map((l) => l.loss)}`);
  await expectRejects(() => fit(model, { epochs: 1, trainBatches: [{ inputs: { source: inputs.source }, targets }], progress: false }), /epoch 1, batch 1/, /input "target" is missing/);
  model.dispose();
});

test('merge nodes: Add of unequal sizes is refused at construction; Concatenate of sequences of different T before any dispatch', async () => {
  const ctx = await gpu();
  const a = Input.sequence('a', 2), b = Input.sequence('b', 2);
  expectThrows(() => new Model({ inputs: { a, b }, outputs: { y: new Add().call([a, new Dense({ units: 3 }).call(b)]) } }), /Add "add": input 1 has 3 features, input 0 has 2/, /expected equal sizes/);
  expectThrows(() => new Concatenate().call([a]), /two or more graph values/, /got/);
  const model = new Model({ inputs: { a, b }, outputs: { y: new Dense({ units: 1, name: 'head' }).call(new Concatenate({ name: 'cat' }).call([a, b])) } }).build(ctx);
  model.compile({ loss: { y: 'mse' }, optimizer: new SGD({ lr: 0.1 }) });
  const seq = (T: number) => ({ x: new Float32Array(B * T * 2).fill(0.5), shape: [B, T, 2] });
  await expectRejectedCleanly(model as never, () => model.trainStep({ a: seq(3), b: seq(2) }, { y: { y: new Float32Array(B * 3) } }),
    [/Concatenate "cat": input 1 has T = 2 steps, input 0 has 3/, /expected sequences of the same length/]);
  const r = await model.trainStep({ a: seq(3), b: seq(3) }, { y: { y: new Float32Array(B * 3) } }, { readLoss: true });
  if (r.skipped || !Number.isFinite(r.loss!)) throw new Error(JSON.stringify(r));
  model.dispose();
});

test('saveCheckpoint / loadCheckpoint (files) take a Model and resume it exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-graph-'));
  try {
    const model = await compiled(6);
    await model.trainStep(inputs, targets);
    const path = join(dir, 'seq2seq.safetensors');
    await saveCheckpoint(path, model, { trainingState: true });
    const other = await compiled(7);
    await loadCheckpoint(path, other, { trainingState: true });
    const a = await model.trainStep(inputs, targets, { readLoss: true }), b = await other.trainStep(inputs, targets, { readLoss: true });
    if (a.loss !== b.loss || other.step !== 2) throw new Error(`loss ${b.loss} vs ${a.loss}, step ${other.step}`);
    model.dispose(); other.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
