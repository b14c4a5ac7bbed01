// The `webgpu-rnn` command line (src/cli/main.ts), run as users run it: a child process (through
// tsx on the source), checking stdout, stderr and the exit status. No GPU needed.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, decodeSafetensors } from '../src/train/safetensors.ts';
import { decodePyTorch } from '../src/interop/index.ts';
import { encodeTfjs, decodeTfjsArtifacts } from '../src/interop/keras/index.ts';
import { readKerasArchive } from '../src/interop/keras/keras-file.ts';
import { zipSync } from 'fflate';
import { Dense, Embedding, GRU, Sequential } from '../src/nn/index.ts';
import { BidirectionalLastStep, SumDirections } from '../src/nn/directions.ts';
import { expectClose } from './helpers/expect.ts';

const test = suite('cli');
const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/pytorch/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-cli-'));

function cli(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function expectRun(r: { code: number; out: string; err: string }, code: number, stream: 'out' | 'err', ...patterns: RegExp[]): void {
  if (r.code !== code) throw new Error(`exit status ${r.code}, expected ${code}\nstdout: ${r.out}\nstderr: ${r.err}`);
  for (const p of patterns) if (!p.test(r[stream])) throw new Error(`${stream === 'out' ? 'stdout' : 'stderr'} does not match ${p}:\n${r[stream]}`);
}

test('inspect a torch.save file: format, inferred layers, tensors with shapes and dtypes, metadata; --json', () => {
  const r = cli('inspect', fixture('checkpoint.pt'));
  expectRun(r, 0, 'out', /format: pytorch/, /layers \(inferred from PyTorch names and shapes\):\n {2}nn\.LSTM "model"/, /tensors: 4, 84 values/, /model\.weight_ih_l0 +\(12, 2\) +F32/, /metadata:\n {2}epoch: 3/);
  const j = JSON.parse(cli('inspect', fixture('dtypes_views.pt'), '--json').out);
  if (j.format !== 'pytorch' || j.tensors.length !== 11 || j.tensors[0].dtype !== 'F64' || j.tensors[0].shape.join() !== '3,2' || !j.layers.error) throw new Error(JSON.stringify(j));
});

test('inspect a webgpu-rnn checkpoint lists the layers from its config', () => {
  const path = join(dir, 'ours.safetensors');
  const config = { layers: [{ type: 'LSTM', name: 'lstm', hiddenSize: 3, inputSize: 2, numLayers: 1 }], input: { kind: 'seq', size: 2 }, seed: 1 };
  writeFileSync(path, encodeSafetensors({ 'lstm.weight_ih_l0': { dtype: 'F32', shape: [12, 2], data: new Float32Array(24) } }, { format: 'webgpu-rnn/1', config: JSON.stringify(config), step: '5' }));
  expectRun(cli('inspect', path), 0, 'out', /format: safetensors \(webgpu-rnn\/1\)/, /layers \(webgpu-rnn config\):\n {2}LSTM "lstm" \{"hiddenSize":3/, /lstm\.weight_ih_l0 +\(12, 2\) +F32/, /step: 5/);
});

test('convert .pt → .safetensors → .pt keeps names and values; --strip/--add rename; notes what a format cannot keep', () => {
  const st = join(dir, 'lstm.safetensors'), pt = join(dir, 'back.pt');
  expectRun(cli('convert', fixture('checkpoint.pt'), st, '--strip', 'model.', '--add', 'lstm.'), 0, 'out', /checkpoint\.pt \(pytorch\) → .*lstm\.safetensors \(safetensors\): 4 tensors/);
  expectRun(cli('convert', st, pt), 0, 'out', /→ .*back\.pt \(pytorch\): 4 tensors/, /note: metadata not kept .*: epoch/);
  const original = decodePyTorch(readFileSync(fixture('checkpoint.pt'))).tensors;
  const viaSt = decodeSafetensors(readFileSync(st)).tensors;
  const back = decodePyTorch(readFileSync(pt)).tensors;
  if ([...back.keys()].join() !== 'lstm.weight_ih_l0,lstm.weight_hh_l0,lstm.bias_ih_l0,lstm.bias_hh_l0') throw new Error([...back.keys()].join());
  for (const [k, t] of original) {
    const name = `lstm.${k.slice('model.'.length)}`;
    expectClose(`${name} (safetensors)`, viaSt.get(name)!.data, t.data, { atol: 0, rtol: 0 });
    expectClose(`${name} (.pt)`, back.get(name)!.data, t.data, { atol: 0, rtol: 0 });
  }
  expectRun(cli('convert', fixture('dtypes_views.pt'), join(dir, 'd.safetensors')), 0, 'out', /note: 6 tensor\(s\) converted to f32\/i32 \(F64, F16, BF16, I64, U8, BOOL/);
});

test('tfjs model.json: inspect lists the loaded layers; convert → .safetensors → model.json (+ its shard) keeps the Keras model; a missing shard is named', async () => {
  const model = new Sequential([new Embedding({ numEmbeddings: 6, embeddingDim: 3, name: 'emb' }), new GRU({ hiddenSize: 2, resetAfter: false, bidirectional: true, name: 'gru' }), new Dense({ units: 2, name: 'fc' })], { seed: 3 }).configure();
  const enc = await encodeTfjs(model, { mask: true, weightsPath: 'group1-shard1of1.bin' });
  const json = join(dir, 'model.json');
  writeFileSync(json, JSON.stringify(enc.modelJson));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), enc.weightData);
  expectRun(cli('inspect', json), 0, 'out', /format: tfjs \(webgpu-rnn\/1\)/, /layers \(webgpu-rnn config\):\n {2}Embedding "emb"/, /GRU "gru" .*"bidirectional":true.*"resetAfter":false/, /gru\.weight_ih_l0_reverse +\(6, 3\) +F32/, /keras_mask: \{"kind":"zero"\}/);
  const st = join(dir, 'keras.safetensors'), back = join(dir, 'back.json');
  expectRun(cli('convert', json, st), 0, 'out', /model\.json \(tfjs\) → .*keras\.safetensors \(safetensors\): 11 tensors/);
  expectRun(cli('convert', st, back), 0, 'out', /→ .*back\.json \(tfjs\): 11 tensors/, /note: weights in back\.weights\.bin beside it/);
  const again = decodeTfjsArtifacts({ modelJson: readFileSync(back, 'utf8'), shards: { 'back.weights.bin': readFileSync(join(dir, 'back.weights.bin')) } });
  const first = decodeTfjsArtifacts({ modelJson: JSON.stringify(enc.modelJson), shards: { 'group1-shard1of1.bin': enc.weightData } });
  if (JSON.stringify(again.modelConfig) !== JSON.stringify(first.modelConfig)) throw new Error(`config changed:\n${JSON.stringify(again.modelConfig)}\n${JSON.stringify(first.modelConfig)}`);
  for (const [layer, list] of first.weights) list.forEach((t, i) => expectClose(`${layer}[${i}]`, again.weights.get(layer)![i].data, t.data, { atol: 0, rtol: 0 }));
  rmSync(join(dir, 'group1-shard1of1.bin'));
  expectRun(cli('inspect', json), 1, 'err', /model\.json: weight shard "group1-shard1of1\.bin" cannot be read/, /must lie beside model\.json/);
  expectRun(cli('convert', fixture('checkpoint.pt'), join(dir, 'pt.json')), 1, 'err', /pt\.json: a tfjs model\.json needs the model's layers/, /convert a webgpu-rnn checkpoint/);
});

test('a Bidirectional with merge_mode sum and return_sequences false: model.json → .safetensors (its config names BidirectionalLastStep and SumDirections) → model.json and .keras keep it', async () => {
  const model = new Sequential([
    new Embedding({ numEmbeddings: 6, embeddingDim: 3, name: 'emb' }), new GRU({ hiddenSize: 2, resetAfter: false, bidirectional: true, name: 'gru' }),
    new BidirectionalLastStep('gru_last'), new SumDirections('gru_sum'), new Dense({ units: 2, name: 'fc' }),
  ], { seed: 4 }).configure();
  const enc = await encodeTfjs(model, { weightsPath: 'sum.bin' });
  const json = join(dir, 'sum.json'), st = join(dir, 'sum.safetensors'), back = join(dir, 'sum-back.json'), keras = join(dir, 'sum.keras');
  writeFileSync(json, JSON.stringify(enc.modelJson));
  writeFileSync(join(dir, 'sum.bin'), enc.weightData);
  expectRun(cli('convert', json, st), 0, 'out', /sum\.json \(tfjs\) → .*sum\.safetensors \(safetensors\): 11 tensors/);
  const config = decodeSafetensors(readFileSync(st)).metadata.config;
  if (!/"type":"BidirectionalLastStep".*"type":"SumDirections"/.test(config)) throw new Error(`the checkpoint's config lacks the two layers: ${config}`);
  expectRun(cli('convert', st, back), 0, 'out', /→ .*sum-back\.json \(tfjs\): 11 tensors/);
  expectRun(cli('convert', st, keras), 0, 'out', /→ .*sum\.keras \(keras\): 11 tensors/);
  const first = decodeTfjsArtifacts({ modelJson: JSON.stringify(enc.modelJson), shards: { 'sum.bin': enc.weightData } });
  const again = decodeTfjsArtifacts({ modelJson: readFileSync(back, 'utf8'), shards: { 'sum-back.weights.bin': readFileSync(join(dir, 'sum-back.weights.bin')) } });
  if (JSON.stringify(again.modelConfig) !== JSON.stringify(first.modelConfig)) throw new Error(`config changed:\n${JSON.stringify(again.modelConfig)}\n${JSON.stringify(first.modelConfig)}`);
  const bi = (await readKerasArchive(readFileSync(keras))).config as { config: { layers: { class_name: string; config: { merge_mode?: string; layer?: { config: { return_sequences: boolean } } } }[] } };
  const gru = bi.config.layers.find((l) => l.class_name === 'Bidirectional');
  if (gru?.config.merge_mode !== 'sum' || gru.config.layer?.config.return_sequences !== false) throw new Error(`the .keras file's Bidirectional is ${JSON.stringify(gru?.config)}; expected merge_mode "sum", return_sequences false`);
});

test('.keras: inspect lists the loaded layers and Keras metadata; convert → .safetensors → .keras keeps every weight; errors name the file', async () => {
  const keras = fileURLToPath(new URL('./fixtures/keras/sequential_rnns.keras', import.meta.url));
  expectRun(cli('inspect', keras), 0, 'out', /format: keras \(webgpu-rnn\/1\)/, /layers \(webgpu-rnn config\):\n {2}Embedding "tok"/, /GRU "bi" .*"bidirectional":true.*"resetAfter":true/, /GRU "gru_b" .*"resetAfter":false/, /bi\.weight_ih_l0_reverse +\(9, 4\) +F32/, /keras_version: 3\.16\.0/, /keras_softmax: true/);
  const st = join(dir, 'keras.safetensors'), back = join(dir, 'back.keras');
  expectRun(cli('convert', keras, st), 0, 'out', /sequential_rnns\.keras \(keras\) → .*keras\.safetensors \(safetensors\): 23 tensors/);
  expectRun(cli('convert', st, back), 0, 'out', /→ .*back\.keras \(keras\): 23 tensors/);
  const [first, again] = await Promise.all([readKerasArchive(readFileSync(keras)), readKerasArchive(readFileSync(back))]);
  const classes = (a: typeof first) => (a.config.config as { layers: { class_name: string }[] }).layers.map((l) => l.class_name).join();
  if (classes(again) !== classes(first)) throw new Error(`layers changed: ${classes(first)} → ${classes(again)}`);
  for (const [layer, list] of first.weights) list.forEach((t, i) => expectClose(`${layer}[${i}]`, again.weights.get(layer)![i].data, t.data, { atol: 0, rtol: 0 }));
  const subclassed = fileURLToPath(new URL('./fixtures/keras/keras_3.15_subclassed.keras', import.meta.url));
  expectRun(cli('inspect', subclassed), 1, 'err', /keras_3\.15_subclassed\.keras: config\.json describes a "NestedDenseModel" model/, /expected a Sequential or functional/);
  const broken = join(dir, 'broken.keras');
  writeFileSync(broken, zipSync({ 'model.weights.h5': new Uint8Array(8) }));
  expectRun(cli('inspect', broken), 1, 'err', /broken\.keras: the archive has no config\.json \(it holds model\.weights\.h5\)/, /a \.keras file holds config\.json, metadata\.json and model\.weights\.h5/);
  expectRun(cli('convert', fixture('checkpoint.pt'), join(dir, 'pt.keras')), 1, 'err', /a \.keras file needs the model's layers/, /convert a webgpu-rnn checkpoint/);
  if (existsSync(join(dir, 'pt.keras'))) throw new Error('a refused convert wrote a file');
});

test('errors name the file or argument and what was expected, with exit status 1 (file) or 2 (command line)', () => {
  expectRun(cli('inspect', join(dir, 'missing.pt')), 1, 'err', /webgpu-rnn: .*missing\.pt: no such file/);
  expectRun(cli('inspect', dir), 1, 'err', /is a directory, expected a file/);
  expectRun(cli('inspect', fixture('whole_module.pt')), 1, 'err', /whole_module\.pt: data\.pkl refers to the Python global torch\.nn\.modules\.linear\.Linear/, /state_dict\(\)/);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'hello there, not a model');
  expectRun(cli('inspect', text), 1, 'err', /notes\.txt: not a file this command reads/, /safetensors \(\.safetensors\)/, /pytorch \(\.pt/, /tfjs \(\.json\)/);
  expectRun(cli('convert', fixture('checkpoint.pt'), join(dir, 'out.onnx.txt')), 2, 'err', /out\.onnx\.txt: cannot tell which format to write/, /formats? this command writes/);
  if (existsSync(join(dir, 'out.onnx.txt'))) throw new Error('a refused convert wrote a file');
  expectRun(cli('convert', fixture('checkpoint.pt'), fixture('checkpoint.pt')), 2, 'err', /IN and OUT are the same file/);
  expectRun(cli('convert', fixture('checkpoint.pt'), join(dir, 'x.pt')), 2, 'err', /is already pytorch; nothing to convert/);
  expectRun(cli('convert', fixture('checkpoint.pt')), 2, 'err', /convert takes IN and OUT, got 1/, /usage:/);
  expectRun(cli('frobnicate'), 2, 'err', /unknown command "frobnicate"; the commands are inspect and convert/);
  expectRun(cli('--help'), 0, 'out', /usage:/, /webgpu-rnn inspect FILE/, /formats read: safetensors/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
