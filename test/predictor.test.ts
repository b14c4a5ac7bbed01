// createPredictor: the 'wasm' engine (the model's ONNX export on onnxruntime-web's wasm backend)
// against model.predict and the float64 CPU reference, for LSTM / GRU / RNN, Embedding, OneHot and
// float inputs, variable lengths, a bidirectional layer, LastStep and Dense heads at awkward sizes;
// the 'auto' choice (wasm on a CPU driver such as lavapipe or llvmpipe) and the overrides; fresh
// weights after a training step and after a load; a missing onnxruntime-web (a child process whose
// resolver hides the package); bad options and batches refused with clear messages.
// Node only: in the browser suite onnxruntime-web's wasm files would need serving.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { Dense, Dropout, Embedding, GRU, Input, LastStep, Layer, LSTM, Model, OneHot, RNN, Sequential, type Batch } from '../src/nn/index.ts';
import { SumDirections } from '../src/nn/directions.ts';
import { createPredictor, type OnnxRuntimeModule } from '../src/nn/predictor.ts';
import { Adam } from '../src/train/optimizers.ts';
import { loadStateDict, stateDict } from '../src/train/checkpoint.ts';
import { cpuModelForwardBackward, type CpuLayerConfig, type CpuParams } from '../src/cpu/model.ts';
import { expectClose, expectRejects } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('predictor');
// onnxruntime and our kernels both compute in float32 (different summation orders); outputs of
// these small models are O(1), so 1e-5 absolute is float32 rounding with room, as for exportOnnx.
const TOL = { atol: 1e-5, rtol: 0 };
// Awkward sizes: B = 3, T = 7, H = 5; lengths cover full, partial and single-step rows.
const B = 3, T = 7, H = 5, LENGTHS = [7, 3, 1];

function tokenBatch(V: number, lengths: number[] | null = LENGTHS): Batch {
  const x = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
  return lengths ? { x, shape: [B, T], lengths } : { x, shape: [B, T] };
}

function featureBatch(I: number, lengths: number[] | null = LENGTHS): Batch {
  const x = Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i * 1.3) * 1.5);
  return lengths ? { x, shape: [B, T, I], lengths } : { x, shape: [B, T, I] };
}

interface Case { name: string; layers: () => Layer[]; batch: Batch }

const CASES: Case[] = [
  { name: 'Embedding → LSTM → Dense (per step)', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 4 }), new LSTM({ hiddenSize: H }), new Dense({ units: 6 })], batch: tokenBatch(11) },
  { name: 'Embedding → GRU → LastStep → Dense', layers: () => [new Embedding({ numEmbeddings: 11, embeddingDim: 4 }), new GRU({ hiddenSize: H }), new LastStep(), new Dense({ units: 3 })], batch: tokenBatch(11) },
  { name: 'OneHot → RNN relu → Dense tanh', layers: () => [new OneHot(9), new RNN({ hiddenSize: H, nonlinearity: 'relu' }), new Dense({ units: 4, activation: 'tanh' })], batch: tokenBatch(9) },
  { name: 'features → bidirectional LSTM → LastStep → Dense', layers: () => [new LSTM({ inputSize: 3, hiddenSize: H, bidirectional: true }), new LastStep(), new Dense({ units: 2 })], batch: featureBatch(3) },
  { name: 'features → 2-layer GRU (Dropout) → Dense, no lengths', layers: () => [new GRU({ inputSize: 3, hiddenSize: H, numLayers: 2 }), new Dropout(0.3), new Dense({ units: 2 })], batch: featureBatch(3, null) },
];

/** The float64 reference's output for the model's current weights. */
async function cpuOutput(model: Sequential, batch: Batch): Promise<{ output: Float64Array; outputShape: number[] }> {
  const ctx = model.context;
  const params: CpuParams = {};
  for (const [k, p] of model.namedParameters()) params[k] = Float64Array.from((await ctx.read(p.value!)) as Float32Array);
  const [b, t] = batch.shape;
  const outShape = model.output.kind === 'seq' ? [b, t, model.output.size] : [b, model.output.size];
  const configs = model.layers.map((l) => l.config() as CpuLayerConfig);
  return cpuModelForwardBackward(configs, params, { ...batch, y: new Float32Array(outShape.reduce((a, c) => a * c, 1)) }, 'mse');
}

for (const c of CASES) {
  test(`wasm engine = model.predict = float64 reference: ${c.name}`, async () => {
    const ctx = await gpu();
    const model = new Sequential(c.layers(), { seed: 5 }).build(ctx);
    const predictor = await createPredictor(model, { engine: 'wasm' });
    assert.is(predictor.engine, 'wasm');
    const got = await predictor.predict(c.batch);
    const ours = await model.predict(c.batch);
    assert.equal(got.shape, ours.shape, 'output shape');
    expectClose(`${c.name} wasm vs predict`, got.data, ours.data, { ...TOL, shape: ours.shape });
    const ref = await cpuOutput(model, c.batch);
    expectClose(`${c.name} wasm vs float64`, got.data, ref.output, { ...TOL, shape: ref.outputShape });
    await predictor.dispose();
    model.dispose();
  });
}

test("'auto' picks wasm on a CPU driver (lavapipe, llvmpipe) and WebGPU on a GPU; 'webgpu' overrides", async () => {
  const ctx = await gpu();
  const model = new Sequential(CASES[0].layers(), { seed: 2 }).build(ctx);
  const auto = await createPredictor(model);
  const facts = ctx.adapterFacts;
  const cpuAdapter = facts.isCpu || facts.isFallback;
  assert.is(auto.engine, cpuAdapter ? 'wasm' : 'webgpu', `adapter ${ctx.describe()}: ${auto.reason}`);
  assert.match(auto.reason, cpuAdapter ? /software fallback|CPU implementation/ : /GPU/);
  assert.ok(!auto.reason.includes('\n'), 'the reason is one line');
  const gpuEngine = await createPredictor(model, { engine: 'webgpu' });
  assert.is(gpuEngine.engine, 'webgpu');
  assert.match(gpuEngine.reason, /'webgpu' was asked for/);
  // The WebGPU engine is model.predict itself: bit-identical.
  const batch = CASES[0].batch;
  const [a, b] = [await gpuEngine.predict(batch), await model.predict(batch)];
  assert.equal(Array.from(a.data), Array.from(b.data));
  await auto.dispose();
  await gpuEngine.dispose();
  model.dispose();
});

test("'auto' stays on WebGPU where the wasm engine cannot run: a stateful layer, a runtime that fails", async () => {
  const ctx = await gpu();
  const stateful = new Sequential([new LSTM({ inputSize: 3, hiddenSize: H, stateful: true }), new Dense({ units: 2 })]).build(ctx);
  const p = await createPredictor(stateful);
  assert.is(p.engine, 'webgpu');
  if (ctx.adapterFacts.isCpu || ctx.adapterFacts.isFallback) assert.match(p.reason, /stateful/);
  await expectRejects(() => createPredictor(stateful, { engine: 'wasm' }), /engine 'wasm' cannot run stateful layer "lstm"/, /expected stateless recurrent layers, or engine 'webgpu'/);
  stateful.dispose();
  const model = new Sequential(CASES[0].layers()).build(ctx);
  const failing: OnnxRuntimeModule = {
    InferenceSession: { create: () => Promise.reject(new Error('no wasm here')) },
    Tensor: class {} as unknown as OnnxRuntimeModule['Tensor'],
  };
  const fallback = await createPredictor(model, { ort: failing });
  assert.is(fallback.engine, 'webgpu');
  if (ctx.adapterFacts.isCpu || ctx.adapterFacts.isFallback) assert.match(fallback.reason, /cannot run on onnxruntime-web \(no wasm here\)/);
  await expectRejects(() => createPredictor(model, { engine: 'wasm', ort: failing }), /could not load the model's ONNX export \(no wasm here\)/, /expected onnxruntime-web/);
  model.dispose();
});

test('after a trainStep and after a load, the wasm engine answers with the new weights', async () => {
  const ctx = await gpu();
  const model = new Sequential(CASES[1].layers(), { seed: 9 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.05 }) });
  const batch = { ...tokenBatch(11), y: Int32Array.from([0, 1, 2]) };
  const predictor = await createPredictor(model, { engine: 'wasm' });
  const before = await predictor.predict(batch);
  const saved = await stateDict(model);
  await model.trainStep(batch);
  const trained = await predictor.predict(batch);
  expectClose('after trainStep', trained.data, (await model.predict(batch)).data, TOL);
  assert.ok(trained.data.some((v, i) => Math.abs(v - before.data[i]) > 1e-4), 'the trained outputs differ from the first ones');
  // Loading the saved weights back (model.step unchanged) gives the first answers again.
  loadStateDict(model, saved);
  expectClose('after loadStateDict', (await predictor.predict(batch)).data, before.data, TOL);
  await predictor.dispose();
  await expectRejects(() => predictor.predict(batch), /predictor was disposed/, /create a new one with createPredictor/);
  // A predictor never answers for a disposed model with the weights it exported earlier.
  const other = await createPredictor(model, { engine: 'wasm' });
  model.dispose();
  await expectRejects(() => other.predict(batch), /predict: the model was disposed/, /expected a built model/);
  await other.dispose();
});

test('bad options and batches are refused with clear messages', async () => {
  const ctx = await gpu();
  const model = new Sequential(CASES[0].layers(), { seed: 4 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  await expectRejects(() => createPredictor(model, { engine: 'cpu' as never }), /option engine/, /one of auto, webgpu, wasm, got the string "cpu"/);
  await expectRejects(() => createPredictor(model, { engin: 'wasm' } as never), /unknown option "engin" \(did you mean engine\?\)/, /the options are engine, ort/);
  await expectRejects(() => createPredictor(model, 'wasm' as never), /createPredictor/, /expected an options object like \{ engine: 'auto' \}/);
  await expectRejects(() => createPredictor(model, { ort: {} as never }), /option ort is/, /expected the onnxruntime-web module/);
  await expectRejects(() => createPredictor(new Sequential(CASES[0].layers())), /the model is not built/, /call model\.build\(ctx\) first/);
  const x = Input.sequence('x', 2);
  const graph = new Model({ inputs: { x }, outputs: { y: new Dense({ units: 2 }).call(new LSTM({ hiddenSize: 3 }).call(x)) } }).build(ctx);
  await expectRejects(() => createPredictor(graph as never), /expected a built Sequential model/, /graph Model has no ONNX export/);
  graph.dispose();
  // A layer without an ONNX form: 'wasm' names it, 'auto' stays on WebGPU and says why.
  const unsupported = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3, bidirectional: true }), new SumDirections(), new Dense({ units: 2 })]).build(ctx);
  await expectRejects(() => createPredictor(unsupported, { engine: 'wasm' }), /engine 'wasm' runs the model's ONNX export, which failed/, /layer "sum_directions" \(SumDirections\) has no ONNX form/, /supported layers: Embedding/);
  const auto = await createPredictor(unsupported);
  assert.is(auto.engine, 'webgpu');
  if (ctx.adapterFacts.isCpu || ctx.adapterFacts.isFallback) assert.match(auto.reason, /cannot run on onnxruntime-web \(exportOnnx: layer "sum_directions"/);
  unsupported.dispose();
  // A bad batch: the same checks as model.predict, before any readback or run.
  const predictor = await createPredictor(model, { engine: 'wasm' });
  const valid = { ...tokenBatch(11), y: Int32Array.from({ length: B * T }, (_, i) => i % 6) };
  await expectRejectedCleanly(model, () => predictor.predict({ x: Int32Array.of(1, 2, 30), shape: [1, 3] }), [/predict: batch\.x: token id 30 at \[0, 2\]/, /outside the vocabulary \[0, 11\)/], valid);
  await expectRejectedCleanly(model, () => predictor.predict({ ...tokenBatch(11), lengths: [7, 9, 1] }), [/predict: batch\.lengths\[1\] = 9 is outside \[1, 7\]/, /expected 1 ≤ length ≤ T = 7/], valid);
  // After the valid steps above, the predictor follows the trained weights.
  expectClose('after the guard steps', (await predictor.predict(valid)).data, (await model.predict(valid)).data, TOL);
  await predictor.dispose();
  model.dispose();
});

test("without onnxruntime-web: 'auto' says how to install it, 'wasm' throws naming the package and the command", () => {
  // A child process whose module resolver hides onnxruntime-web, as in a project without it.
  const hook = `export async function resolve(s, c, next) { if (s === 'onnxruntime-web') { const e = new Error("Cannot find package 'onnxruntime-web'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  const entry = new URL('../src/node.ts', import.meta.url).href;
  const script = `
    const { createContext, createPredictor, Sequential, LSTM, Dense } = await import(${JSON.stringify(entry)});
    const ctx = await createContext();
    const model = new Sequential([new LSTM({ inputSize: 2, hiddenSize: 3 }), new Dense({ units: 2 })]).build(ctx);
    const auto = await createPredictor(model);
    let error = null;
    try { await createPredictor(model, { engine: 'wasm' }); } catch (e) { error = e.message; }
    console.log(JSON.stringify({ engine: auto.engine, reason: auto.reason, cpu: ctx.adapterFacts.isCpu || ctx.adapterFacts.isFallback, error }));
    ctx.dispose();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script], { encoding: 'utf8', env: process.env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`the child process failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(line) as { engine: string; reason: string; cpu: boolean; error: string | null };
  assert.is(out.engine, 'webgpu');
  if (out.cpu) assert.match(out.reason, /onnxruntime-web could not be imported \(npm install onnxruntime-web/);
  assert.ok(out.error, "engine 'wasm' without onnxruntime-web must throw");
  assert.match(out.error!, /engine 'wasm' needs onnxruntime-web, an optional peer dependency, which is not installed/);
  assert.match(out.error!, /expected it installed \(npm install onnxruntime-web\)/);
});

test.run();
