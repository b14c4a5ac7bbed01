// ONNX interop, judged by the frameworks themselves:
//  - ours → exportOnnx → onnxruntime-node runs the file → outputs within 1e-5 of model.predict, for
//    LSTM, GRU, RNN (tanh, relu), stacked and bidirectional layers, Embedding/OneHot/features
//    inputs, Dense heads, LastStep, variable lengths (sequence_lens) and a softmax output;
//  - torch.onnx.export (test/judges/onnx_export.py, Debian's PyTorch) → importOnnx → outputs
//    within 1e-5 of PyTorch's, parameter names equal to the PyTorch state_dict's;
//  - without a judge, those tests print a skip line naming what to install; with CI=true they fail.
// Also, needing no judge: ours → ONNX → ours round trips, the file's gate order, and the errors
// for unsupported layers, operators, options and bytes.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dense, Dropout, Embedding, GRU, LastStep, Layer, LSTM, OneHot, RNN, Sequential, type Batch } from '../src/nn/index.ts';
import { exportOnnx, importOnnx } from '../src/interop/onnx/index.ts';
import { decodeModel, encodeModel } from '../src/interop/onnx/proto.ts';
import { tensorValues } from '../src/interop/onnx/tensors.ts';
import { looksLikeOnnx, readOnnxFile, writeOnnxFile } from '../src/interop/onnx/tensor-file.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';
import { cpuModelForwardBackward, type CpuLayerConfig, type CpuParams } from '../src/cpu/model.ts';

const test = suite('interop_onnx');
const PYTHON = '/usr/bin/python3';
const JUDGE_SCRIPT = fileURLToPath(new URL('./judges/onnx_export.py', import.meta.url));
// Both frameworks and our kernels compute in float32; the bar for interop is 1e-5.
const TOL = { atol: 1e-5, rtol: 0 };

type Ort = typeof import('onnxruntime-node');
async function loadOrt(): Promise<Ort | null> {
  try { return await import('onnxruntime-node'); } catch { return null; }
}
const ort = await loadOrt();
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const announced = new Set<string>();
/** A test that needs a judge: skipped with a line saying what to install, or failed under CI=true. */
function judged(name: string, judge: string, available: boolean, install: string, fn: () => Promise<void>): void {
  if (available) return test(name, fn);
  if (process.env.CI === 'true') {
    return test(name, () => { throw new Error(`${judge} is not available: ${install} (CI=true: a missing judge fails the run)`); });
  }
  if (!announced.has(judge)) {
    announced.add(judge);
    console.log(`skip: ONNX tests judged by ${judge}: it is not installed (${install})`);
  }
  test.skip(name, fn);
}
const ORT_INSTALL = 'npm install -D onnxruntime-node --onnxruntime-node-install=skip';
const TORCH_INSTALL = 'apt-get install python3-torch (Debian), run with /usr/bin/python3';

// ── ours → onnxruntime ────────────────────────────────────────────────────────────────────────

const B = 3, T = 5, LENGTHS = [5, 2, 1];

function tokenBatch(V: number, lengths: number[] | null = LENGTHS): Batch {
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
  return lengths ? { x, shape: [B, T], lengths } : { x, shape: [B, T] };
}

function featureBatch(I: number): Batch {
  const x = Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i * 1.3) * 1.5);
  return { x, shape: [B, T, I], lengths: LENGTHS };
}

interface OrtCase {
  name: string;
  layers: () => Layer[];
  batch: Batch;
  options?: Parameters<typeof exportOnnx>[1];
}

const ORT_CASES: OrtCase[] = [
  { name: 'Embedding → LSTM → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new LSTM({ hiddenSize: 6 }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  { name: 'Embedding → GRU → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new GRU({ hiddenSize: 6 }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  { name: 'Embedding → RNN tanh → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new RNN({ hiddenSize: 6 }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  { name: 'Embedding → RNN relu → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new RNN({ hiddenSize: 6, nonlinearity: 'relu' }), new Dense({ units: 4 })], batch: tokenBatch(11) },
  {
    name: 'Embedding → 2-layer bidirectional LSTM → Dense',
    layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new LSTM({ hiddenSize: 6, numLayers: 2, bidirectional: true }), new Dense({ units: 4 })],
    batch: tokenBatch(11),
  },
  {
    name: 'Embedding → 2-layer bidirectional GRU → LastStep → Dense tanh',
    layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new GRU({ hiddenSize: 6, numLayers: 2, bidirectional: true }), new LastStep(), new Dense({ units: 3, activation: 'tanh' })],
    batch: tokenBatch(11),
  },
  {
    name: 'OneHot → bidirectional RNN relu → Dropout → Dense relu, softmax output',
    layers: () => [new OneHot(7), new RNN({ hiddenSize: 5, nonlinearity: 'relu', bidirectional: true }), new Dropout(0.3), new Dense({ units: 4, activation: 'relu' })],
    batch: tokenBatch(7),
    options: { softmax: true },
  },
  {
    name: 'features → LSTM → GRU → LastStep → Dense sigmoid',
    layers: () => [new LSTM({ hiddenSize: 5, inputSize: 3 }), new GRU({ hiddenSize: 4 }), new LastStep(), new Dense({ units: 2, activation: 'sigmoid' })],
    batch: featureBatch(3),
  },
  {
    name: 'Embedding → stacked RNN → Dense, full length: no lengths input, int32 tokens, fixed batch',
    layers: () => [new Embedding({ numEmbeddings: 9, embeddingDim: 4 }), new RNN({ hiddenSize: 5, numLayers: 2 }), new Dense({ units: 3 })],
    batch: tokenBatch(9, null),
    options: { lengths: false, tokenType: 'int32', batch: B },
  },
];

function softmaxRows(data: Float32Array, width: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < data.length; r += width) {
    let max = -Infinity, sum = 0;
    for (let k = 0; k < width; k++) max = Math.max(max, data[r + k]);
    for (let k = 0; k < width; k++) sum += (out[r + k] = Math.exp(data[r + k] - max));
    for (let k = 0; k < width; k++) out[r + k] /= sum;
  }
  return out;
}

/** Runs an exported file with onnxruntime on a batch; returns its `output`. */
async function runOrt(bytes: Uint8Array, batch: Batch, o: OrtCase['options'] = {}): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort!.InferenceSession.create(bytes);
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
  if (batch.shape.length === 2) {
    feeds.tokens = o.tokenType === 'int32'
      ? new ort!.Tensor('int32', Int32Array.from(batch.x as ArrayLike<number>), batch.shape)
      : new ort!.Tensor('int64', BigInt64Array.from(batch.x as Int32Array, (v) => BigInt(v)), batch.shape);
  } else {
    feeds.inputs = new ort!.Tensor('float32', Float32Array.from(batch.x as ArrayLike<number>), batch.shape);
  }
  if (o.lengths !== false) feeds.lengths = new ort!.Tensor('int32', Int32Array.from(batch.lengths ?? Array(batch.shape[0]).fill(batch.shape[1])), [batch.shape[0]]);
  const result = await session.run(feeds);
  await session.release();
  return { data: result.output.data as Float32Array, dims: result.output.dims };
}

for (const c of ORT_CASES) {
  judged(`ours → ONNX → onnxruntime: ${c.name}`, 'onnxruntime-node', ort !== null, ORT_INSTALL, async () => {
    const ctx = await gpu();
    const model = new Sequential(c.layers(), { seed: 11 }).build(ctx);
    try {
      const ours = await model.predict(c.batch);
      const bytes = await exportOnnx(model, c.options);
      const theirs = await runOrt(bytes, c.batch, c.options);
      if (theirs.dims.join() !== ours.shape.join()) throw new Error(`onnxruntime output shape (${theirs.dims.join(', ')}), ours (${ours.shape.join(', ')})`);
      const want = c.options?.softmax ? softmaxRows(ours.data, ours.shape[ours.shape.length - 1]) : ours.data;
      expectClose(c.name, theirs.data, want, { ...TOL, shape: ours.shape });
    } finally {
      model.dispose();
    }
  });
}

// Cells beyond PyTorch's (Keras activations, GRU with the reset before the product, LSTM peepholes):
// ONNX has them (activations, linear_before_reset = 0, P). The GPU kernels do not run them yet, so
// the float64 CPU reference model gives our outputs here.
const OPTION_CASES: OrtCase[] = [
  {
    name: 'Embedding → bidirectional GRU, resetAfter false → Dense',
    layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new GRU({ hiddenSize: 6, bidirectional: true, resetAfter: false }), new Dense({ units: 4 })],
    batch: tokenBatch(11),
  },
  {
    name: 'Embedding → LSTM with peepholes, relu cell, hard_sigmoid gates → Dense',
    layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 5 }), new LSTM({ hiddenSize: 6, numLayers: 2, peepholes: true, activation: 'relu', recurrentActivation: 'hard_sigmoid' }), new Dense({ units: 4 })],
    batch: tokenBatch(11),
  },
  {
    name: 'features → GRU with sigmoid cell, hard_sigmoid gates → LastStep → Dense',
    layers: () => [new GRU({ hiddenSize: 5, inputSize: 3, activation: 'sigmoid', recurrentActivation: 'hard_sigmoid' }), new LastStep(), new Dense({ units: 2 })],
    batch: featureBatch(3),
  },
];

for (const c of OPTION_CASES) {
  judged(`ours (CPU reference) → ONNX → onnxruntime, and back: ${c.name}`, 'onnxruntime-node', ort !== null, ORT_INSTALL, async () => {
    const ctx = await gpu();
    const model = new Sequential(c.layers(), { seed: 13 }).build(ctx);
    const back = importOnnx(ctx, await exportOnnx(model));
    try {
      const configs = model.layers.map((l) => l.config() as CpuLayerConfig);
      const params: CpuParams = {};
      for (const [k, p] of model.namedParameters()) params[k] = Float64Array.from((await ctx.read(p.value!)) as Float32Array);
      const outShape = model.output.kind === 'seq' ? [B, T, model.output.size] : [B, model.output.size];
      const ref = cpuModelForwardBackward(configs, params, { ...c.batch, y: new Float32Array(outShape.reduce((a, b) => a * b, 1)) }, 'mse');
      const theirs = await runOrt(await exportOnnx(model), c.batch);
      // float32 (onnxruntime) against float64 (the reference): 1e-5 as for the other cases.
      expectClose(c.name, theirs.data, ref.output, { ...TOL, shape: ref.outputShape });
      // The import rebuilds the same layers (options included) with the same parameters.
      const describe = (m: Sequential) => JSON.stringify(m.layers.map((l) => l.config()));
      if (describe(back) !== describe(model)) throw new Error(`imported layers ${describe(back)}\nexpected ${describe(model)}`);
      for (const [k, p] of back.namedParameters()) expectClose(k, p.init, params[k], { atol: 0, rtol: 0 });
    } finally {
      model.dispose();
      back.dispose();
    }
  });
}

// ── torch.onnx.export → ours ──────────────────────────────────────────────────────────────────

const TORCH_CASES = [
  'lstm', 'gru', 'rnn_tanh', 'rnn_relu', 'lstm_stacked_bidirectional', 'gru_stacked_bidirectional',
  'rnn_relu_bidirectional', 'gru_last_step', 'lstm_features_stacked',
];
let torchDir: Promise<string> | null = null;
/** Runs the PyTorch judge once: every case exported to a temporary folder. */
function torchExports(): Promise<string> {
  torchDir ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-onnx-'));
    const r = spawnSync(PYTHON, [JUDGE_SCRIPT, dir], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`${JUDGE_SCRIPT} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return torchDir;
}

interface TorchCase {
  name: string;
  input: { kind: 'tokens' | 'features'; shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
  state_dict_keys: string[];
}

for (const name of TORCH_CASES) {
  judged(`torch.onnx.export → ours: ${name}`, 'PyTorch', hasTorch, TORCH_INSTALL, async () => {
    const dir = await torchExports();
    const c = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as TorchCase;
    const ctx = await gpu();
    const model = importOnnx(ctx, readFileSync(join(dir, `${name}.onnx`)), { source: `${name}.onnx` });
    try {
      const keys = model.namedParameters().map(([k]) => k);
      if (keys.join() !== c.state_dict_keys.join()) throw new Error(`parameter names ${keys.join(', ')}; PyTorch's state_dict has ${c.state_dict_keys.join(', ')}`);
      const x = c.input.kind === 'tokens' ? Int32Array.from(c.input.data) : Float32Array.from(c.input.data);
      const ours = await model.predict({ x, shape: c.input.shape });
      if (ours.shape.join() !== c.output.shape.join()) throw new Error(`output shape (${ours.shape.join(', ')}), PyTorch's (${c.output.shape.join(', ')})`);
      expectClose(name, ours.data, c.output.data, { ...TOL, shape: ours.shape });
    } finally {
      model.dispose();
    }
  });
}

// ── no judge needed ───────────────────────────────────────────────────────────────────────────

test('ours → ONNX → ours: same outputs with variable lengths, same layer and parameter names', async () => {
  const ctx = await gpu();
  const model = new Sequential([
    new Embedding({ numEmbeddings: 11, embeddingDim: 5, name: 'emb' }), new LSTM({ hiddenSize: 6, numLayers: 2, bidirectional: true, name: 'enc' }),
    new GRU({ hiddenSize: 4, name: 'dec' }), new LastStep(), new Dense({ units: 3, activation: 'relu', name: 'head' }),
  ], { seed: 5 }).build(ctx);
  const back = importOnnx(ctx, await exportOnnx(model));
  try {
    const names = (m: Sequential) => m.namedParameters().map(([k, p]) => `${k}(${p.shape.join('x')})`).join(' ');
    if (names(back) !== names(model)) throw new Error(`imported parameters ${names(back)}\nexpected ${names(model)}`);
    const batch = tokenBatch(11);
    const [a, b] = [await model.predict(batch), await back.predict(batch)];
    expectClose('round trip', b.data, a.data, { atol: 0, rtol: 0, shape: a.shape }); // the same weights on the same kernels
  } finally {
    model.dispose();
    back.dispose();
  }
});

test('the file holds ONNX gate order: LSTM i, o, f, c and GRU z, r, h from PyTorch i, f, g, o and r, z, n; B = [b_ih, b_hh]', async () => {
  const ctx = await gpu();
  const H = 2, I = 3;
  for (const [cell, torchOfOnnx] of [['lstm', [0, 3, 1, 2]], ['gru', [1, 0, 2]]] as const) {
    const layer = cell === 'lstm' ? new LSTM({ hiddenSize: H, inputSize: I }) : new GRU({ hiddenSize: H, inputSize: I });
    const model = new Sequential([layer], { seed: 2 }).build(ctx);
    try {
      const file = decodeModel(await exportOnnx(model, { lengths: false }));
      const op = file.graph.node.find((n) => n.opType === cell.toUpperCase())!;
      const init = (name: string) => tensorValues(file.graph.initializer.find((t) => t.name === name)!, name);
      const W = init(op.input[1]), Bv = init(op.input[3]);
      const wih = (await ctx.read(layer.parameters()[0].value!)) as Float32Array;
      const bhh = (await ctx.read(layer.parameters()[3].value!)) as Float32Array;
      const G = torchOfOnnx.length * H;
      torchOfOnnx.forEach((from, k) => {
        expectClose(`${cell} W block ${k}`, W.subarray(k * H * I, (k + 1) * H * I), wih.subarray(from * H * I, (from + 1) * H * I), { atol: 0, rtol: 0 });
        expectClose(`${cell} R_b block ${k}`, Bv.subarray(G + k * H, G + (k + 1) * H), bhh.subarray(from * H, (from + 1) * H), { atol: 0, rtol: 0 });
      });
      if (cell === 'gru' && op.attribute.find((a) => a.name === 'linear_before_reset')?.i !== 1) throw new Error('GRU without linear_before_reset = 1');
      if (file.opsetImport[0].version !== 14) throw new Error(`opset ${file.opsetImport[0].version}, expected 14 by default`);
    } finally {
      model.dispose();
    }
  }
});

test('the command line\'s .onnx format: read gives PyTorch-named tensors and a checkpoint config; written back, the model is the same', async () => {
  const ctx = await gpu();
  const model = new Sequential([new OneHot(6), new GRU({ hiddenSize: 4, bidirectional: true, name: 'rnn' }), new LastStep(), new Dense({ units: 2, name: 'fc' })], { seed: 9 }).build(ctx);
  try {
    const bytes = await exportOnnx(model);
    if (!looksLikeOnnx(bytes) || looksLikeOnnx(new TextEncoder().encode('{"not": "onnx"}'))) throw new Error('looksLikeOnnx misjudges');
    const file = readOnnxFile(bytes, 'model.onnx');
    const names = [...file.tensors.keys()].join();
    if (names !== model.namedParameters().map(([k]) => k).join()) throw new Error(`tensors ${names}`);
    if (file.metadata.format !== 'webgpu-rnn/1' || !file.metadata.config) throw new Error(`metadata ${JSON.stringify(file.metadata)}`);
    const again = importOnnx(ctx, writeOnnxFile(file, 'again.onnx').bytes);
    try {
      const batch = tokenBatch(6);
      expectClose('rewritten', (await again.predict(batch)).data, (await model.predict(batch)).data, { atol: 0, rtol: 0 });
    } finally {
      again.dispose();
    }
    expectThrows(() => writeOnnxFile({ ...file, metadata: {} }, 'x.onnx'), /no webgpu-rnn layer config/, /convert a webgpu-rnn checkpoint|exportOnnx/);
  } finally {
    model.dispose();
  }
});

class Squash extends Layer {
  configure(input: { kind: 'tokens' | 'seq' | 'vec'; size: number }) { return input; }
  forward(_ctx: unknown, x: never) { return x; }
  backward() { return null; }
  config() { return { type: 'Squash', name: this.name }; }
}

test('exportOnnx refuses what ONNX export cannot write, naming it and what is supported; the model is unchanged', async () => {
  const ctx = await gpu();
  const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 3 }), new LSTM({ hiddenSize: 4 }), new Squash('squash'), new Dense({ units: 2 })]).build(ctx);
  try {
    await expectRejectedCleanly(model, () => exportOnnx(model), [/layer "squash" \(Squash\) has no ONNX form/, /supported layers: Embedding, OneHot, LSTM, GRU, RNN, Dense, Dropout, LastStep/]);
  } finally {
    model.dispose();
  }
  const ok = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 3 }), new LSTM({ hiddenSize: 4 })]).build(ctx);
  try {
    await expectRejectedCleanly(ok, () => exportOnnx(ok, { opset: 9 }), [/option opset is 9/, /from 14 to 21/]);
    await expectRejectedCleanly(ok, () => exportOnnx(ok, { opset: 30 }), [/option opset is 30/, /from 14 to 21/]);
    await expectRejectedCleanly(ok, () => exportOnnx(ok, { lenghts: false } as never), [/lenghts/, /lengths/]);
    await expectRejectedCleanly(ok, () => exportOnnx(ok, { tokenType: 'int16' } as never), [/option tokenType/, /int16/, /int64.*int32|int32.*int64/]);
  } finally {
    ok.dispose();
  }
  const unbuilt = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 3 }), new LSTM({ hiddenSize: 4 })]);
  await expectRejects(() => exportOnnx(unbuilt), /not built/, /model\.build\(ctx\)/);
});

/** An exported file with one node changed by `edit`, re-encoded. */
async function editedExport(model: Sequential, edit: (m: ReturnType<typeof decodeModel>) => void, o: Parameters<typeof exportOnnx>[1] = {}): Promise<Uint8Array> {
  const m = decodeModel(await exportOnnx(model, o));
  edit(m);
  return encodeModel(m);
}

test('importOnnx refuses other operators and graphs by name, listing what is supported, before any GPU buffer is made', async () => {
  const ctx = await gpu();
  const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 3 }), new LSTM({ hiddenSize: 4, name: 'lstm' }), new Dense({ units: 2, name: 'fc' })], { seed: 1 }).build(ctx);
  try {
    const conv = await editedExport(model, (m) => { m.graph.node.find((n) => n.opType === 'MatMul')!.opType = 'Conv'; });
    const before = ctx.memoryStats();
    expectThrows(() => importOnnx(ctx, conv, { source: 'conv.onnx' }), /conv\.onnx/, /node "fc\/MatMul" \(Conv\) is not supported/, /supported on the data path: Gather, OneHot, LSTM, GRU, RNN/);
    if (JSON.stringify(ctx.memoryStats()) !== JSON.stringify(before)) throw new Error('a refused import allocated GPU memory');
    const clipped = await editedExport(model, (m) => {
      m.graph.node.find((n) => n.opType === 'LSTM')!.attribute.push({ name: 'clip', type: 1, f: 3, floats: [], ints: [], strings: [] });
    });
    expectThrows(() => importOnnx(ctx, clipped), /LSTM/, /clip/, /expected no clip/);
    const twoOutputs = await editedExport(model, (m) => { m.graph.output.push({ ...m.graph.output[0], name: 'extra' }); });
    expectThrows(() => importOnnx(ctx, twoOutputs), /2 outputs/, /expected one/);
    expectThrows(() => importOnnx(ctx, new Uint8Array([1, 2, 3, 4, 5])), /is not an ONNX model/, /expected the bytes of a \.onnx file/);
    expectThrows(() => importOnnx(ctx, 'model.onnx' as never), /expected the file's bytes/, /"model\.onnx"|string/);
    expectThrows(() => importOnnx(ctx, conv, { finalSoftmax: 'keep' } as never), /option finalSoftmax/, /keep/, /error.*drop/);
    // A softmax at the end: refused by default with the way out, dropped on request.
    const soft = await exportOnnx(model, { softmax: true });
    expectThrows(() => importOnnx(ctx, soft), /ends in a softmax/, /finalSoftmax: 'drop'/);
    const logits = importOnnx(ctx, soft, { finalSoftmax: 'drop' });
    try {
      const batch = tokenBatch(5);
      expectClose('softmax dropped', (await logits.predict(batch)).data, (await model.predict(batch)).data, { atol: 0, rtol: 0 });
    } finally {
      logits.dispose();
    }
  } finally {
    model.dispose();
  }
});

test.run();
