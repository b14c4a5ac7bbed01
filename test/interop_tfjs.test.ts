// TensorFlow.js / Keras LayersModel interop, judged by TensorFlow.js 4.22 itself (its cpu backend,
// in this process):
//  - tfjs → ours: a model built and randomly initialised in tfjs, saved with a save handler (and
//    as model.json + two shards), loaded by modelFromTfjs: predictions equal tfjs's predict within
//    1e-5, with Embedding mask_zero on post-, pre- and mixed-padded rows of different lengths
//    (masked steps of sequence outputs included), Masking, LSTM, GRU (reset_after false: tfjs has
//    no reset_after=True), SimpleRNN (tanh, relu), stacked, Bidirectional (concat, sum,
//    return_sequences true and false), TimeDistributed(Dense), Dense (softmax), Dropout, functional;
//  - ours → tfjs: encodeTfjs, then tf.loadLayersModel(tf.io.fromMemory(...)): tfjs's predictions
//    equal ours, also after one fine-tuning step on a loaded model;
//  - Keras GRU reset_after=True (which tfjs cannot build): a Keras config + weights loaded by
//    modelFromKerasConfig, judged by PyTorch 1.13 (test/judges/keras_gru_judge.py converts the Keras
//    layout itself) within 1e-5; without PyTorch the test says so and skips (fails with CI=true);
//  - errors: missing / wrong-size shards, unknown layers and options, masks with holes, and what
//    Keras cannot express, all before any model exists.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { Dense, Embedding, GRU, LastStep, LSTM, RNN, Sequential } from '../src/nn/index.ts';
import { Adam } from '../src/train/optimizers.ts';
import {
  modelFromTfjs, encodeTfjs, decodeTfjsArtifacts, loadTfjsModel, modelFromKerasConfig, type KerasModel, type TfjsModelArtifacts,
} from '../src/interop/keras/index.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';

const test = suite('interop_tfjs');
// tfjs's cpu backend and our kernels both compute in float32; the bar for interop is 1e-5.
const TOL = { atol: 1e-5, rtol: 0 };

await tf.setBackend('cpu');
assert.is(tf.getBackend(), 'cpu');

/** Random weights in ±0.5 (seeded), so that biases are exercised too (tfjs starts them at 0). */
function randomize(m: tf.LayersModel, seed: number): void {
  m.setWeights(m.getWeights().map((w, i) => tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed * 100 + i)));
}

async function saveArtifacts(m: tf.LayersModel): Promise<TfjsModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  return saved! as unknown as TfjsModelArtifacts;
}

/** The artifacts as model.json + two shards (the manifest's group split in the middle). */
function asModelJson(a: TfjsModelArtifacts): { modelJson: string; shards: Map<string, Uint8Array> } {
  const bytes = new Uint8Array(a.weightData);
  const cut = Math.floor(bytes.length / 8) * 4;
  const modelJson = JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: a.weightSpecs }] });
  return { modelJson, shards: new Map([['group1-shard1of2.bin', bytes.slice(0, cut)], ['group1-shard2of2.bin', bytes.slice(cut)]]) };
}

function tfPredict(m: tf.LayersModel, x: number[], shape: number[], tokens: boolean): Float32Array {
  const input = tokens ? tf.tensor2d(x, shape as [number, number], 'int32') : tf.tensor3d(x, shape as [number, number, number]);
  return (m.predict(input) as tf.Tensor).dataSync() as Float32Array;
}

// Token batches: B = 4, T = 5, 0 is padding. Post-padded, pre-padded (pad_sequences' default) and mixed.
const T = 5, V = 7;
const POST = [1, 2, 3, 4, 5, 6, 2, 0, 0, 0, 3, 0, 0, 0, 0, 4, 5, 6, 1, 0];
const PRE = [1, 2, 3, 4, 5, 0, 0, 0, 6, 2, 0, 0, 0, 0, 3, 0, 4, 5, 6, 1];
const MIXED = [0, 0, 3, 4, 5, 6, 2, 0, 0, 0, 1, 2, 3, 4, 5, 0, 4, 5, 6, 1];

/** Builds a model in tfjs, loads it in ours through model.json + shards, compares predictions on each batch. */
async function tfjsToOurs(build: () => tf.LayersModel, batches: number[][], shape: (x: number[]) => number[], tokens: boolean, seed: number): Promise<{ km: KerasModel; tfm: tf.LayersModel }> {
  const ctx = await gpu();
  const tfm = build();
  randomize(tfm, seed);
  const artifacts = await saveArtifacts(tfm);
  const km = modelFromTfjs(asModelJson(artifacts)).build(ctx);
  for (const [i, x] of batches.entries()) {
    const s = shape(x);
    const ours = await km.predict({ x, shape: s });
    expectClose(`batch ${i}`, ours.data, tfPredict(tfm, x, s, tokens), TOL);
  }
  return { km, tfm };
}

const tokenShape = (x: number[]) => [x.length / T, T];

test('tfjs → ours: Embedding(mask_zero) → LSTM (last step) → Dense softmax; post-, pre- and mixed-padded rows', async () => {
  const { km } = await tfjsToOurs(() => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: V, outputDim: 3, maskZero: true, inputLength: T }));
    m.add(tf.layers.lstm({ units: 4 }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    return m;
  }, [POST, PRE, MIXED], tokenShape, true, 1);
  km.dispose();
});

test('tfjs → ours: Embedding(mask_zero) → Bidirectional(GRU reset_after false, concat) sequences → TimeDistributed(Dense); masked steps as tfjs gives them', async () => {
  const { km } = await tfjsToOurs(() => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: V, outputDim: 3, maskZero: true, inputLength: T }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }) as tf.RNN, mergeMode: 'concat' }));
    m.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2 }) }));
    return m;
  }, [POST, PRE, MIXED], tokenShape, true, 2);
  km.dispose();
});

test('tfjs → ours: stacked Bidirectional(LSTM, sum) sequences → Bidirectional(SimpleRNN relu, sum, last) → Dense tanh', async () => {
  const { km } = await tfjsToOurs(() => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: V, outputDim: 3, maskZero: true, inputLength: T }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true }) as tf.RNN, mergeMode: 'sum' }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 2, activation: 'relu' }) as tf.RNN, mergeMode: 'sum' }));
    m.add(tf.layers.dense({ units: 2, activation: 'tanh' }));
    return m;
  }, [POST, PRE, MIXED], tokenShape, true, 3);
  km.dispose();
});

test('tfjs → ours: Masking → SimpleRNN (tanh) sequences → Dropout → Bidirectional(LSTM, sum) sequences → Dense, on features', async () => {
  const I = 2;
  // Row 0 full, row 1 post-padded, row 2 pre-padded (all-zero feature rows are masked).
  const rows = [[1, 2, 3, 4, 5], [1, 2, 0, 0, 0], [0, 0, 0, 3, 4]];
  const x = rows.flatMap((r, b) => r.flatMap((v, t) => (v === 0 ? [0, 0] : [Math.sin(v + b), Math.cos(3 * t + b)])));
  const { km } = await tfjsToOurs(() => {
    const m = tf.sequential();
    m.add(tf.layers.masking({ maskValue: 0, inputShape: [null, I] as unknown as number[] }));
    m.add(tf.layers.simpleRNN({ units: 3, returnSequences: true }));
    m.add(tf.layers.dropout({ rate: 0.3 }));
    m.add(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, returnSequences: true }) as tf.RNN, mergeMode: 'sum' }));
    m.add(tf.layers.dense({ units: 3 }));
    return m;
  }, [x], () => [3, T, I], false, 4);
  km.dispose();
});

test('tfjs → ours: a functional model (tf.model) of stacked GRU / LSTM without a mask, hard_sigmoid gates (tfjs default)', async () => {
  const I = 3;
  const x = Array.from({ length: 2 * T * I }, (_, i) => Math.sin(i * 0.7));
  const { km } = await tfjsToOurs(() => {
    const input = tf.input({ shape: [T, I] });
    const h1 = tf.layers.gru({ units: 3, returnSequences: true }).apply(input) as tf.SymbolicTensor;
    const h2 = tf.layers.lstm({ units: 3 }).apply(h1) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: 'sigmoid' }).apply(h2) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  }, [x], () => [2, T, I], false, 5);
  km.dispose();
});

test('ours → tfjs: Embedding → stacked bidirectional LSTM → Dense, and GRU (resetAfter false) / RNN relu → LastStep → Dense; tf.loadLayersModel predicts the same', async () => {
  const ctx = await gpu();
  const cases: { model: Sequential; x: number[]; shape: number[]; tokens: boolean }[] = [
    { model: new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: 3 }), new LSTM({ hiddenSize: 3, numLayers: 2, bidirectional: true, recurrentActivation: 'hard_sigmoid' }), new Dense({ units: 2 })], { seed: 7 }), x: POST.map((v) => v || 1), shape: [4, T], tokens: true },
    { model: new Sequential([new GRU({ hiddenSize: 3, inputSize: 2, resetAfter: false }), new LastStep(), new Dense({ units: 2, activation: 'relu' })], { seed: 8 }), x: Array.from({ length: 3 * T * 2 }, (_, i) => Math.cos(i)), shape: [3, T, 2], tokens: false },
    { model: new Sequential([new RNN({ hiddenSize: 4, inputSize: 2, nonlinearity: 'relu' }), new Dense({ units: 2, activation: 'sigmoid' })], { seed: 9 }), x: Array.from({ length: 2 * T * 2 }, (_, i) => Math.sin(i)), shape: [2, T, 2], tokens: false },
  ];
  for (const c of cases) {
    c.model.build(ctx);
    try {
      const enc = await encodeTfjs(c.model);
      const tfm = await tf.loadLayersModel(tf.io.fromMemory(enc.artifacts));
      const ours = await c.model.predict({ x: c.tokens ? Int32Array.from(c.x) : Float32Array.from(c.x), shape: c.shape });
      expectClose(`${c.model.layers.map((l) => l.name).join('→')}`, ours.data, tfPredict(tfm, c.x, c.shape, c.tokens), TOL);
    } finally {
      c.model.dispose();
    }
  }
});

test('ours → tfjs with masking: mask: true writes mask_zero, and tfjs on padded rows equals ours with lengths', async () => {
  const ctx = await gpu();
  const model = new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: 3 }), new GRU({ hiddenSize: 3, resetAfter: false, bidirectional: true }), new Dense({ units: 2 })], { seed: 11 }).build(ctx);
  try {
    const enc = await encodeTfjs(model, { mask: true });
    const tfm = await tf.loadLayersModel(tf.io.fromMemory(enc.artifacts));
    const lengths = [5, 2, 1, 4];
    const ours = await model.predict({ x: Int32Array.from(POST), shape: [4, T], lengths });
    const theirs = tfPredict(tfm, POST, [4, T], true);
    // Compare valid steps only: at padding ours are the layer's zeros, tfjs repeats outputs (KerasModel.predict gives those).
    for (let b = 0; b < 4; b++) {
      expectClose(`row ${b}`, ours.data.subarray(b * T * 2, (b * T + lengths[b]) * 2), theirs.subarray(b * T * 2, (b * T + lengths[b]) * 2), TOL);
    }
  } finally {
    model.dispose();
  }
});

test('a loaded model fine-tunes: one training step changes it, and tfjs loads the result with equal predictions', async () => {
  const ctx = await gpu();
  const tfm = tf.sequential();
  tfm.add(tf.layers.embedding({ inputDim: V, outputDim: 3, maskZero: true, inputLength: T }));
  tfm.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3 }) as tf.RNN, mergeMode: 'sum' }));
  tfm.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  randomize(tfm, 6);
  const km = modelFromTfjs(await saveArtifacts(tfm)).build(ctx);
  try {
    km.model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.05 }) });
    const before = await km.predict({ x: MIXED, shape: [4, T] });
    const step = await km.model.trainStep(km.toBatch({ x: MIXED, shape: [4, T], y: Int32Array.of(0, 1, 2, 1) }), { readLoss: true });
    assert.ok(!step.skipped && Number.isFinite(step.loss), `step applied with a finite loss (${step.loss})`);
    const after = await km.predict({ x: MIXED, shape: [4, T] });
    assert.ok(after.data.some((v, i) => Math.abs(v - before.data[i]) > 1e-4), 'the step changed the predictions');
    const back = await tf.loadLayersModel(tf.io.fromMemory((await encodeTfjs(km)).artifacts));
    expectClose('fine-tuned, in tfjs', after.data, tfPredict(back, MIXED, [4, T], true), TOL);
    expectClose('fine-tuned, pre-padded, in tfjs', (await km.predict({ x: PRE, shape: [4, T] })).data, tfPredict(back, PRE, [4, T], true), TOL);
  } finally {
    km.dispose();
  }
});

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const TORCH_INSTALL = 'apt-get install python3-torch (Debian), run with /usr/bin/python3';
/** A test PyTorch judges: skipped with a line saying what to install, or failed under CI=true. */
function judgedByTorch(name: string, fn: () => Promise<void>): void {
  if (hasTorch) return test(name, fn);
  if (process.env.CI === 'true') return test(name, () => { throw new Error(`PyTorch is not available: ${TORCH_INSTALL} (CI=true: a missing judge fails the run)`); });
  console.log(`skip: the Keras GRU reset_after=True test is judged by PyTorch, which is not installed (${TORCH_INSTALL})`);
  test.skip(name, fn);
}

judgedByTorch('Keras GRU reset_after=True (bidirectional, stacked, mask_zero): ours equal PyTorch running the same Keras weights', async () => {
  const ctx = await gpu();
  let seed = 12345;
  const rand = (n: number) => Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 - 0.5; });
  const matrix = (r: number, c: number) => { const v = rand(r * c); return Array.from({ length: r }, (_, i) => v.slice(i * c, (i + 1) * c)); };
  const E = 3, H1 = 3, H2 = 2, U = 2;
  const gruWeights = (I: number, H: number) => [matrix(I, 3 * H), matrix(H, 3 * H), matrix(2, 3 * H)];
  const w = { embeddings: matrix(V, E), bi: { forward: gruWeights(E, H1), backward: gruWeights(E, H1) }, gru: gruWeights(2 * H1, H2), dense: [matrix(H2, U), rand(U)] };
  const gruConfig = (name: string, units: number, returnSequences: boolean) => ({ class_name: 'GRU', config: { name, units, reset_after: true, recurrent_activation: 'sigmoid', activation: 'tanh', return_sequences: returnSequences } });
  const modelConfig = { class_name: 'Sequential', config: { name: 'gru_keras', layers: [
    { class_name: 'Embedding', config: { name: 'emb', input_dim: V, output_dim: E, mask_zero: true, batch_input_shape: [null, T] } },
    { class_name: 'Bidirectional', config: { name: 'bi', merge_mode: 'concat', layer: gruConfig('gru_fwd', H1, true) } },
    gruConfig('gru', H2, false),
    { class_name: 'Dense', config: { name: 'fc', units: U, activation: 'linear' } },
  ] } };
  const t = (a: unknown) => { const flat = (a as number[][]).flat(2) as number[]; return Float32Array.from(flat); };
  const shape = (a: unknown): number[] => (Array.isArray(a) ? [a.length, ...shape(a[0])] : []);
  const kt = (a: unknown) => ({ shape: shape(a), data: t(a) });
  const weights = new Map([
    ['emb', [kt(w.embeddings)]],
    ['bi', [...w.bi.forward, ...w.bi.backward].map(kt)],
    ['gru', w.gru.map(kt)],
    ['fc', w.dense.map(kt)],
  ]);
  const km = modelFromKerasConfig(modelConfig, weights).build(ctx);
  try {
    const ours = await km.predict({ x: POST, shape: [4, T] });
    const lengths = [5, 2, 1, 4];
    const tokens = Array.from({ length: 4 }, (_, b) => POST.slice(b * T, (b + 1) * T));
    const judge = fileURLToPath(new URL('./judges/keras_gru_judge.py', import.meta.url));
    const r = spawnSync(PYTHON, [judge], { input: JSON.stringify({ ...w, tokens, lengths }), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keras_gru_judge.py failed (exit ${r.status}):\n${r.stderr}`);
    const torchOut = Float32Array.from((JSON.parse(r.stdout) as { output: number[][] }).output.flat());
    expectClose('Keras GRU reset_after=True vs PyTorch', ours.data, torchOut, TOL);
  } finally {
    km.dispose();
  }
});

test('bad files and unsupported models are refused by name before any model exists', async () => {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: V, outputDim: 2, maskZero: true, inputLength: T }));
  m.add(tf.layers.lstm({ units: 2 }));
  const a = await saveArtifacts(m);
  const files = asModelJson(a);
  const shards = new Map(files.shards);
  shards.delete('group1-shard2of2.bin');
  expectThrows(() => modelFromTfjs({ modelJson: files.modelJson, shards }), /shard "group1-shard2of2\.bin".*missing/, /given: "group1-shard1of2\.bin"/);
  const short = new Map(files.shards);
  short.set('group1-shard2of2.bin', files.shards.get('group1-shard2of2.bin')!.slice(4));
  expectThrows(() => modelFromTfjs({ modelJson: files.modelJson, shards: short }), /holds \d+ bytes/, /need \d+ bytes/);
  expectThrows(() => modelFromTfjs({ modelJson: '{not json', shards: files.shards }), /not JSON/, /expected a tfjs model\.json/);
  const topo = a.modelTopology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  const withLayer = (edit: (layers: { class_name: string; config: Record<string, unknown> }[]) => void) => {
    const t = JSON.parse(JSON.stringify(topo));
    edit(t.config.layers);
    return { ...a, modelTopology: t };
  };
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].class_name = 'Conv1D'; })), /Keras layer "lstm_LSTM\d+" \(Conv1D\)/, /supported layers: InputLayer, Embedding, Masking, SimpleRNN, LSTM, GRU/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].config.go_backwards = true; })), /\(LSTM\): option go_backwards = true is not supported/, /supported: false/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].config.recurrent_dropout = 0.2; })), /option recurrent_dropout = 0\.2/, /supported: 0/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].config.activation = 'selu'; })), /option activation is the string "selu"/, /supported: tanh, relu, sigmoid, hard_sigmoid, linear/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].config.units = 3; })), /weight 0 \(kernel\) has shape \(2, 8\), expected \(2, 12\)/);
  expectThrows(() => modelFromKerasConfig({ class_name: 'Sequential', config: { layers: [{ class_name: 'Bidirectional', config: { name: 'bi', merge_mode: 'mul', layer: { class_name: 'LSTM', config: { units: 2 } } } }] } }, new Map()),
    /Keras layer "bi" \(Bidirectional\): option merge_mode = "mul"/, /supported: "concat", "sum"/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls[1].config.return_state = true; })), /option return_state = true is not supported/, /supported: false/);
  expectThrows(() => modelFromTfjs(withLayer((ls) => { ls.push({ class_name: 'Dense', config: { name: 'probs', units: 2, activation: 'softmax' } }, { class_name: 'Dense', config: { name: 'out', units: 2 } }); })),
    /Keras layer "probs" \(Dense\): activation softmax is supported on the last layer only/);
  // A functional model that is not a chain (the input feeds two layers).
  const node = (from: string) => [[[from, 0, 0, {}]]];
  const branchy = { class_name: 'Functional', config: { name: 'branchy', layers: [
    { name: 'in', class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, T, 2] }, inbound_nodes: [] },
    { name: 'a', class_name: 'LSTM', config: { name: 'a', units: 2 }, inbound_nodes: node('in') },
    { name: 'b', class_name: 'GRU', config: { name: 'b', units: 2 }, inbound_nodes: node('in') },
  ] } };
  expectThrows(() => modelFromKerasConfig(branchy, new Map()), /Keras model "branchy": layer "in" feeds 2 layers/, /supported: a chain of layers/);
  expectThrows(() => modelFromKerasConfig({ class_name: 'Graph', config: {} }, new Map()), /model class Graph is not supported/, /supported: Sequential, Model \/ Functional/);
  // A mask with a hole: refused naming the row and step, no GPU work.
  const ctx = await gpu();
  const km = modelFromTfjs(a).build(ctx);
  try {
    km.model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam() });
    const valid = km.toBatch({ x: PRE, shape: [4, T], y: [0, 1, 1, 0] });
    const hole = [1, 0, 2, 3, 4, ...PRE.slice(5)];
    await expectRejectedCleanly(km.model, () => km.predict({ x: hole, shape: [4, T] }), [/row 0 is masked at step 1 between valid steps 0 and 4/, /expected the padding before or after/], valid);
    await expectRejectedCleanly(km.model, () => km.model.trainStep(km.toBatch({ x: hole, shape: [4, T], y: [0, 1, 1, 0] })), [/row 0 is masked at step 1/, /expected the padding before or after/], valid);
    await expectRejectedCleanly(km.model, () => km.predict({ x: [0, 0, 0, 0, 0, ...PRE.slice(5)], shape: [4, T] }), [/row 0 is masked at every step/, /expected at least one valid step/], valid);
    await expectRejectedCleanly(km.model, () => km.predict({ x: PRE, shape: [4, T, 1] }), [/shape is \[4,5,1\]|shape is/, /expected \[B, T\] token ids/], valid);
  } finally {
    km.dispose();
  }
});

test('what Keras / tfjs cannot express is refused by name: peepholes, PyTorch-style LastStep after a bidirectional layer, GRU resetAfter true in tfjs, OneHot', async () => {
  const peep = new Sequential([new LSTM({ hiddenSize: 2, inputSize: 2, peepholes: true }), new Dense({ units: 1 })]).configure();
  await expectRejects(() => encodeTfjs(peep), /layer "lstm" \(LSTM\): option peepholes/, /no peephole/);
  const last = new Sequential([new GRU({ hiddenSize: 2, inputSize: 2, resetAfter: false, bidirectional: true }), new LastStep(), new Dense({ units: 1 })]).configure();
  await expectRejects(() => encodeTfjs(last), /LastStep.*after the bidirectional layer "gru"/, /BidirectionalLastStep/);
  const gru = new Sequential([new GRU({ hiddenSize: 2, inputSize: 2 }), new Dense({ units: 1 })]).configure();
  await expectRejects(() => encodeTfjs(gru), /option resetAfter true/, /not supported by TensorFlow\.js/, /\.keras file|resetAfter: false/);
});

test('loadTfjsModel reads model.json and its shards through a reader, relative to the model.json path', async () => {
  const m = tf.sequential();
  m.add(tf.layers.simpleRNN({ units: 2, inputShape: [T, 2] }));
  randomize(m, 9);
  const files = asModelJson(await saveArtifacts(m));
  const disk = new Map<string, Uint8Array>([['models/rnn/model.json', new TextEncoder().encode(files.modelJson)], ...[...files.shards].map(([k, v]) => [`models/rnn/${k}`, v] as [string, Uint8Array])]);
  const read = async (p: string) => { const b = disk.get(p); if (!b) throw new Error('ENOENT'); return b; };
  const km = await loadTfjsModel('models/rnn/model.json', { read });
  assert.equal(km.model.layers.map((l) => l.constructor.name), ['RNN', 'LastStep']);
  disk.delete('models/rnn/group1-shard1of2.bin');
  await expectRejects(() => loadTfjsModel('models/rnn/model.json', { read }), /cannot read weight shard models\/rnn\/group1-shard1of2\.bin/, /ENOENT/);
  const parts = decodeTfjsArtifacts({ modelJson: files.modelJson, shards: files.shards });
  assert.equal([...parts.weights.keys()], [String((parts.modelConfig.config.layers as { config: { name: string } }[])[0].config.name)]);
});

test.run();
