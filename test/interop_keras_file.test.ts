// Keras 3 `.keras` files in and out (src/interop/keras/keras-file.ts, h5.ts, keras3-layout.ts).
//
// No Keras is installable here (Debian has no Keras package and there is no PyPI), so Keras itself
// judges nothing. The files are instead checked against Keras 3's layout as its saving code
// (keras/src/saving/saving_lib.py) defines it, by code that shares nothing with ours:
//  - fixtures → ours: test/fixtures/keras/*.keras were written by test/judges/make_keras_fixtures.py
//    with h5py + zipfile + json, with the expected predictions computed by numpy in that script;
//    loaded here, our predictions must match them within 1e-5;
//  - ours → file: test/judges/keras_file_judge.py (h5py, numpy) reads what we write the way
//    Keras's loader does (every vars group and variable where _load_state looks, float32, nothing
//    else in the file) and runs the model; its outputs must match ours within 1e-5 (skipped with
//    a line saying what to install when python3-h5py is missing; failed under CI=true);
//  - a file Keras 3.15 wrote itself (keras-team/keras's saving test data, a subclassed model) reads
//    through our HDF5 reader, and is refused as a model with an error naming its class.
// Also: ours → .keras → ours round trips for LSTM, GRU (both reset variants), RNN (tanh, relu),
// bidirectional, Embedding + Dense; and the errors for bad files (not a zip, missing parts, an
// unsupported layer, a weight of the wrong shape, weights missing or misnamed in the HDF5 file).
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync, unzipSync } from 'fflate';
import { Dense, Dropout, Embedding, GRU, LastStep, LSTM, RNN, Sequential, type Batch, type Layer } from '../src/nn/index.ts';
import { encodeKerasFile, looksLikeKerasFile, modelFromKerasFile, readKerasArchive, writeKerasArchive } from '../src/interop/keras/keras-file.ts';
import { readHdf5, writeHdf5 } from '../src/interop/keras/h5.ts';
import { kerasSnakeCase, keras3WeightLayout } from '../src/interop/keras/keras3-layout.ts';
import type { KerasWeights } from '../src/interop/keras/types.ts';
import { expectClose, expectRejects } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('interop_keras_file');
const PYTHON = '/usr/bin/python3';
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/keras/${name}`, import.meta.url)));
const JUDGE = fileURLToPath(new URL('./judges/keras_file_judge.py', import.meta.url));
// Our kernels compute in float32, the numpy judges in float64 on the same float32 weights; the
// issue's bar for interop is 1e-5.
const TOL = { atol: 1e-5, rtol: 0 };
const hasH5py = spawnSync(PYTHON, ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0;
const H5PY_INSTALL = 'apt-get install python3-h5py (Debian), run with /usr/bin/python3; or npm run setup -- --judges';

let skipAnnounced = false;
/** A test that needs h5py: skipped with a line saying what to install, or failed under CI=true. */
function judged(name: string, fn: () => Promise<void>): void {
  if (hasH5py) return test(name, fn);
  if (process.env.CI === 'true') return test(name, () => { throw new Error(`h5py is not available: ${H5PY_INSTALL} (CI=true: a missing judge fails the run)`); });
  if (!skipAnnounced) console.log(`skip: the .keras tests judged by h5py: it is not installed (${H5PY_INSTALL})`);
  skipAnnounced = true;
  test.skip(name, fn);
}

/** Runs keras_file_judge.py on a .keras file and an input. */
function judge(bytes: Uint8Array, x: ArrayLike<number>, shape: number[]): { problems: string[]; output: number[]; shape: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-keras-'));
  const path = join(dir, 'model.keras');
  writeFileSync(path, bytes);
  try {
    const r = spawnSync(PYTHON, [JUDGE, path], { input: JSON.stringify({ x: Array.from(x), shape }), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keras_file_judge.py failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── the container ─────────────────────────────────────────────────────────────────────────────

test('Keras 3 layout: snake-case class paths, repeats numbered, Sequential without its InputLayer, functional with it', () => {
  const cases: [string, string][] = [['SimpleRNN', 'simple_rnn'], ['LSTM', 'lstm'], ['GRU', 'gru'], ['InputLayer', 'input_layer'], ['TimeDistributed', 'time_distributed'], ['Bidirectional', 'bidirectional'], ['Dense', 'dense']];
  for (const [cls, snake] of cases) if (kerasSnakeCase(cls) !== snake) throw new Error(`${cls} → ${kerasSnakeCase(cls)}, expected ${snake}`);
  const layer = (class_name: string, name: string, config: Record<string, unknown> = {}) => ({ class_name, config: { name, ...config } });
  const lstm = layer('LSTM', 'inner');
  const seq = keras3WeightLayout({ class_name: 'Sequential', config: { layers: [layer('InputLayer', 'in'), layer('LSTM', 'a'), layer('LSTM', 'b'), layer('Bidirectional', 'c', { layer: lstm }), layer('LSTM', 'd'), layer('Dense', 'e')] } }, 'x');
  const got = seq.map((l) => `${l.name}:${l.groups.filter((g) => g.weighted).map((g) => g.path).join('+')}`).join(' ');
  const want = 'a:layers/lstm/cell/vars b:layers/lstm_1/cell/vars c:layers/bidirectional/forward_layer/cell/vars+layers/bidirectional/backward_layer/cell/vars d:layers/lstm_2/cell/vars e:layers/dense/vars';
  if (got !== want) throw new Error(`Sequential layout\n got ${got}\nwant ${want}`);
  const fn = keras3WeightLayout({ class_name: 'Functional', config: { layers: [layer('InputLayer', 'in'), layer('TimeDistributed', 't', { layer: layer('Dense', 'inner') })] } }, 'x');
  if (fn.map((l) => l.path).join() !== 'layers/input_layer,layers/time_distributed' || fn[1].groups.map((g) => g.path).join() !== 'layers/time_distributed/vars,layers/time_distributed/layer/vars') throw new Error(JSON.stringify(fn));
});

test('fixtures written by h5py to Keras 3\'s layout read: layer names, shapes, HDF5 paths, metadata', async () => {
  const a = await readKerasArchive(fixture('sequential_rnns.keras'), 'sequential_rnns.keras');
  if (a.metadata.keras_version !== '3.16.0' || a.config.class_name !== 'Sequential') throw new Error(JSON.stringify(a.metadata));
  const shapes = [...a.weights].map(([k, ws]) => `${k}:${ws.map((w) => w.shape.join('x')).join(',')}`).join(' ');
  if (shapes !== 'tok:9x4 bi:4x9,3x9,2x9,4x9,3x9,2x9 gru_b:6x12,4x12,12 l1:4x12,3x12,12 l2:3x8,2x8,8 head:2x3,3') throw new Error(shapes);
  const bi = a.paths.get('bi')!;
  if (bi[0] !== 'layers/bidirectional/forward_layer/cell/vars/0' || bi[5] !== 'layers/bidirectional/backward_layer/cell/vars/2' || a.paths.get('l2')![0] !== 'layers/lstm_1/cell/vars/0') throw new Error(JSON.stringify([...a.paths]));
  const f = await readKerasArchive(fixture('functional_simple_rnn.keras'));
  if ([...f.weights.keys()].join() !== 'features,rnn,td' || f.weights.get('features')!.length !== 0 || f.paths.get('td')![1] !== 'layers/time_distributed/layer/vars/1') throw new Error(JSON.stringify([...f.paths]));
});

test('a file Keras 3.15 wrote: its HDF5 weights read; the subclassed model is refused, naming its class', async () => {
  // keras-team/keras keras/src/saving/test_data/pre_pr22362_nested_container.keras (Apache-2.0).
  const bytes = fixture('keras_3.15_subclassed.keras');
  if (!looksLikeKerasFile(bytes)) throw new Error('not recognised as a .keras file');
  const h5 = unzipSync(bytes)['model.weights.h5'];
  const read = await readHdf5(h5, 'model.weights.h5', (f) => ({ keys: f.keys('layers'), d: f.dataset('layers/dense_3/vars/1'), k: f.dataset('layers/dense_3/vars/0') }));
  if (read.keys.join() !== 'dense,dense_1,dense_2,dense_3' || read.d?.shape.join() !== '2' || read.k?.shape.join() !== '4,2' || read.k.dtype !== '<f') throw new Error(JSON.stringify(read));
  await expectRejects(() => readKerasArchive(bytes, 'nested.keras'), /nested\.keras: config\.json describes a "NestedDenseModel" model/, /expected a Sequential or functional/);
});

test('writeKerasArchive → readKerasArchive: equal weights; zip entries as Keras orders and stores them; every vars group named', async () => {
  const a = await readKerasArchive(fixture('sequential_rnns.keras'));
  const bytes = await writeKerasArchive({ config: a.config, weights: a.weights });
  const names: { name: string; compression: number }[] = [];
  unzipSync(bytes, { filter: (f) => { names.push({ name: f.name, compression: f.compression }); return false; } });
  if (names.map((n) => `${n.name}/${n.compression}`).join() !== 'metadata.json/0,config.json/0,model.weights.h5/0') throw new Error(JSON.stringify(names));
  const b = await readKerasArchive(bytes);
  if (b.metadata.keras_version !== '3.16.0' || !/^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/.test(String(b.metadata.date_saved))) throw new Error(JSON.stringify(b.metadata));
  for (const [k, ws] of a.weights) ws.forEach((w, i) => expectClose(`${k}[${i}]`, b.weights.get(k)![i].data, w.data, { atol: 0, rtol: 0 }));
  const attrs = await readHdf5(unzipSync(bytes)['model.weights.h5'], 'h5', (f) => f.keys('layers/bidirectional'));
  if (attrs.join() !== 'backward_layer,forward_layer,vars') throw new Error(attrs.join());
});

// ── fixtures → ours (numpy's predictions) ─────────────────────────────────────────────────────

for (const [name, tokens] of [['sequential_rnns', true], ['functional_simple_rnn', false]] as const) {
  test(`fixture → ours: ${name}.keras predicts what numpy computed from the same weights`, async () => {
    const want = JSON.parse(fixture(`${name}.expected.json`).toString('utf8')) as { inputs: unknown[]; expected: number[]; expected_shape: number[] };
    const x = (want.inputs as number[][]).flat(2) as number[];
    const shape = tokens ? [want.inputs.length, (want.inputs[0] as unknown[]).length] : [want.inputs.length, (want.inputs[0] as unknown[]).length, ((want.inputs[0] as unknown[][])[0]).length];
    const ctx = await gpu();
    const model = (await modelFromKerasFile(fixture(`${name}.keras`), { source: `${name}.keras` })).build(ctx);
    try {
      const out = await model.predict({ x: tokens ? Int32Array.from(x) : Float32Array.from(x), shape });
      if (out.shape.join() !== want.expected_shape.join()) throw new Error(`shape (${out.shape.join(', ')}), numpy (${want.expected_shape.join(', ')})`);
      expectClose(name, out.data, want.expected, { ...TOL, shape: out.shape });
    } finally {
      model.dispose();
    }
  });
}

// ── ours → .keras → ours, and ours → .keras judged by h5py + numpy ────────────────────────────

const B = 3, T = 5;
const tokenBatch = (V: number): Batch => ({ x: Int32Array.from({ length: B * T }, (_, i) => 1 + ((i * 7 + 3) % (V - 1))), shape: [B, T] });
const featureBatch = (I: number): Batch => ({ x: Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i * 1.3) * 1.5), shape: [B, T, I] });

const ROUND_TRIPS: { name: string; layers: () => Layer[]; batch: Batch }[] = [
  { name: 'Embedding → LSTM → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new LSTM({ hiddenSize: 6 }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  { name: 'Embedding → GRU (resetAfter true) → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new GRU({ hiddenSize: 6 }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  { name: 'features → GRU (resetAfter false) → LastStep → Dense', layers: () => [new GRU({ hiddenSize: 5, inputSize: 3, resetAfter: false }), new LastStep(), new Dense({ units: 2 })], batch: featureBatch(3) },
  { name: 'Embedding → RNN tanh → RNN relu → Dense', layers: () => [new Embedding({ numEmbeddings: 9, embeddingDim: 4 }), new RNN({ hiddenSize: 5 }), new RNN({ hiddenSize: 4, nonlinearity: 'relu' }), new Dense({ units: 3 })], batch: tokenBatch(9) },
  {
    name: 'Embedding → 2-layer bidirectional LSTM → Dropout → Dense',
    layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new LSTM({ hiddenSize: 4, numLayers: 2, bidirectional: true }), new Dropout(0.2), new Dense({ units: 3 })],
    batch: tokenBatch(11),
  },
];

for (const c of ROUND_TRIPS) {
  test(`ours → .keras → ours: ${c.name}`, async () => {
    const ctx = await gpu();
    const model = new Sequential(c.layers(), { seed: 5 }).build(ctx);
    const ours = await model.predict(c.batch);
    const loaded = (await modelFromKerasFile(await encodeKerasFile(model), { source: 'ours.keras' })).build(ctx);
    try {
      const back = await loaded.predict({ x: c.batch.x, shape: c.batch.shape });
      if (back.shape.join() !== ours.shape.join()) throw new Error(`reloaded shape (${back.shape.join(', ')}), ours (${ours.shape.join(', ')})`);
      // The same float32 weights through the same kernels.
      expectClose(c.name, back.data, ours.data, { atol: 1e-6, rtol: 0, shape: ours.shape });
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });
  judged(`ours → .keras, read and run as Keras does by h5py + numpy: ${c.name}`, async () => {
    const ctx = await gpu();
    const model = new Sequential(c.layers(), { seed: 7 }).build(ctx);
    try {
      const ours = await model.predict(c.batch);
      const verdict = judge(await encodeKerasFile(model), c.batch.x, c.batch.shape);
      if (verdict.problems.length) throw new Error(`keras_file_judge.py: ${verdict.problems.join('; ')}`);
      if (verdict.shape.join() !== ours.shape.join()) throw new Error(`judge's shape (${verdict.shape.join(', ')}), ours (${ours.shape.join(', ')})`);
      expectClose(c.name, ours.data, verdict.output, { ...TOL, shape: ours.shape });
    } finally {
      model.dispose();
    }
  });
}

// ── bad files: clear errors, no model ─────────────────────────────────────────────────────────

const good = async () => readKerasArchive(fixture('sequential_rnns.keras'));
const rezip = (files: Record<string, Uint8Array>) => zipSync(files, { level: 0 });
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test('bad files: not a zip, a legacy .h5, a zip without config.json or weights, npz weights, bad JSON, weights not HDF5', async () => {
  const files = unzipSync(fixture('sequential_rnns.keras'));
  const load = (bytes: Uint8Array) => () => modelFromKerasFile(bytes, { source: 'bad.keras' });
  await expectRejects(load(new TextEncoder().encode('hello, not a model')), /bad\.keras: not a \.keras file/, /Keras 3 writes a zip archive/);
  await expectRejects(load(files['model.weights.h5']), /bad\.keras: not a \.keras file/, /HDF5 file: Keras 2's legacy model\.save\("model\.h5"\)/);
  await expectRejects(load(fixture('sequential_rnns.keras').subarray(0, 5000)), /bad\.keras: not a readable zip archive/, /truncated/);
  await expectRejects(load(rezip({ 'metadata.json': files['metadata.json'], 'model.weights.h5': files['model.weights.h5'] })), /bad\.keras: the archive has no config\.json \(it holds metadata\.json, model\.weights\.h5\)/, /holds config\.json, metadata\.json and model\.weights\.h5/);
  await expectRejects(load(rezip({ 'config.json': files['config.json'] })), /the archive has no model\.weights\.h5/, /holds config\.json, metadata\.json and model\.weights\.h5/);
  await expectRejects(load(rezip({ 'config.json': files['config.json'], 'model.weights.npz': new Uint8Array(4) })), /model\.weights\.npz .* does not take/, /expected model\.weights\.h5 \(save with weights_format="h5"/);
  await expectRejects(load(rezip({ 'config.json': new TextEncoder().encode('{"class_name": '), 'model.weights.h5': files['model.weights.h5'] })), /bad\.keras: config\.json is not valid JSON/);
  await expectRejects(load(rezip({ 'config.json': files['config.json'], 'model.weights.h5': new TextEncoder().encode('not hdf5') })), /bad\.keras \(model\.weights\.h5\): not an HDF5 file/, /expected what h5py writes/);
  const truncated = files['model.weights.h5'].subarray(0, 3000);
  await expectRejects(load(rezip({ 'config.json': files['config.json'], 'model.weights.h5': truncated })), /bad\.keras \(model\.weights\.h5\)/, /truncated|cannot be read|no weights/);
});

test('an unsupported layer is refused naming it and listing the supported layers', async () => {
  const a = await good();
  const config = structuredClone(a.config) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  config.config.layers.splice(2, 0, { class_name: 'Conv1D', config: { name: 'conv', filters: 4, kernel_size: [3] } });
  const weights: KerasWeights = new Map([...a.weights, ['conv', [{ shape: [3, 4, 4], data: new Float32Array(48) }]]]);
  // The writer places conv's weights where Keras would (layers/conv1d/vars); the mapping refuses the layer.
  const bytes = await writeKerasArchive({ config: config as unknown as Record<string, unknown>, weights });
  await expectRejects(() => modelFromKerasFile(bytes, { source: 'conv.keras' }), /^conv\.keras: Keras layer "conv" \(Conv1D\): layer class Conv1D is not supported/, /supported layers: .*Embedding.*SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, Dense/);
});

test('a weight of the wrong shape, weights missing from the HDF5 file, or misnamed datasets: errors naming the layer', async () => {
  const a = await good();
  const wrong: KerasWeights = new Map([...a.weights].map(([k, ws]) => [k, k === 'l1' ? [ws[0], { shape: [4, 12], data: new Float32Array(48) }, ws[2]] : ws]));
  await expectRejects(async () => modelFromKerasFile(await writeKerasArchive({ config: a.config, weights: wrong }), { source: 'shape.keras' }), /shape\.keras: Keras layer "l1" \(LSTM\): weight 1 \(recurrent_kernel\) has shape \(4, 12\)/, /expected \(3, 12\)/);
  const files = unzipSync(fixture('sequential_rnns.keras'));
  // model.weights.h5 as groups and datasets, then without layers/lstm_1 (the weights of "l2")
  const full = await readHdf5(files['model.weights.h5'], 'h5', (f) => {
    const groups: { path: string }[] = [], datasets: { path: string; shape: number[]; data: Float32Array }[] = [];
    const walk = (p: string) => {
      for (const k of f.keys(p)) {
        const path = p ? `${p}/${k}` : k;
        const d = f.dataset(path);
        if (d) datasets.push({ path, shape: d.shape, data: d.data });
        else { groups.push({ path }); walk(path); }
      }
    };
    walk('');
    return { groups, datasets };
  });
  const outsideL2 = (p: { path: string }) => !p.path.startsWith('layers/lstm_1');
  const without = await writeHdf5({ groups: full.groups.filter(outsideL2), datasets: full.datasets.filter(outsideL2) });
  await expectRejects(() => modelFromKerasFile(rezip({ 'config.json': files['config.json'], 'model.weights.h5': without }), { source: 'gap.keras' }), /gap\.keras \(model\.weights\.h5\): no weights for layer "l2" \(LSTM\)/, /Keras keeps them in layers\/lstm_1\/cell\/vars/, /the file's layers are bidirectional, dense, embedding, gru, lstm$/);
  const renamed = await writeHdf5({ groups: full.groups, datasets: [...full.datasets.map((d) => (d.path === 'layers/dense/vars/1' ? { ...d, path: 'layers/dense/vars/bias' } : d))] });
  await expectRejects(() => modelFromKerasFile(rezip({ 'config.json': files['config.json'], 'model.weights.h5': renamed }), { source: 'names.keras' }), /names\.keras \(model\.weights\.h5\): layers\/dense\/vars holds "0", "bias"/, /expected datasets named "0" to "1"/);
});

test.run();
