// On-GPU generation (shaders/recurrent/generate.wgsl) against the CPU reference (src/cpu/generate.ts):
// logits step by step (teacher-forced on the GPU's own tokens), each sampled token against the
// kernel's sampling rule applied to the GPU logits with the same uniform draw, and whole runs
// against an independent CPU run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSteps, generatorScratchSize, packGenerator, runGenerator, type GeneratorCell, type GeneratorSpec } from '../src/kernels/generate.ts';
import { cpuGenerate, generateUniform, sampleWithUniform, type CpuGeneratorSpec } from '../src/cpu/generate.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { Dense, Dropout, Embedding, GRU, LSTM, OneHot, RNN, Sequential, type Layer } from '../src/nn/index.ts';
import { generate, generateSamples, generatorSpecOf } from '../src/train/generate.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('generate');
// f32 dot products of length ≤ ~100 through up to 3 layers and T ≤ 30 recurrent steps, against
// float64: errors of a few 1e-6 that the recurrence may grow slightly.
const TOL = { atol: 3e-5, rtol: 1e-4 };

interface Case {
  input: { embedding: [number, number] } | { oneHot: number };
  layers: { cell: GeneratorCell; H: number }[];
  V: number;
  bias?: boolean;
  scale?: number;
}

const GATES: Record<GeneratorCell, number> = { lstm: 4, gru: 3, rnn_tanh: 1, rnn_relu: 1 };

/** Random parameters for a case, on the GPU and as the CPU spec. */
function build(ctx: GpuContext, c: Case, seed: number) {
  const rng = new Rng(seed);
  const scale = c.scale ?? 0.5;
  const owned: Tensor[] = [];
  const t = (data: Float32Array, shape: number[], name: string) => { const x = ctx.tensor(data, shape, name); owned.push(x); return x; };
  let I: number;
  let gpuInput: GeneratorSpec['input'], cpuInput: CpuGeneratorSpec['input'];
  if ('embedding' in c.input) {
    const [Vin, E] = c.input.embedding;
    const emb = rng.uniformArray(Vin * E, -1, 1);
    gpuInput = { embedding: t(emb, [Vin, E], 'emb') };
    cpuInput = { embedding: emb, vocab: Vin, dim: E };
    I = E;
  } else {
    gpuInput = { oneHot: c.input.oneHot };
    cpuInput = { oneHot: c.input.oneHot };
    I = c.input.oneHot;
  }
  const gpuLayers: GeneratorSpec['layers'] = [], cpuLayers: CpuGeneratorSpec['layers'] = [];
  for (const [l, { cell, H }] of c.layers.entries()) {
    const G = GATES[cell] * H;
    const w = {
      weight_ih: rng.uniformArray(G * I, -scale, scale), weight_hh: rng.uniformArray(G * H, -scale, scale),
      bias_ih: rng.uniformArray(G, -scale, scale), bias_hh: rng.uniformArray(G, -scale, scale),
    };
    gpuLayers.push({
      cell, weightIh: t(w.weight_ih, [G, I], `wih${l}`), weightHh: t(w.weight_hh, [G, H], `whh${l}`),
      biasIh: t(w.bias_ih, [G], `bih${l}`), biasHh: t(w.bias_hh, [G], `bhh${l}`),
    });
    cpuLayers.push({ cell, ...w, hiddenSize: H });
    I = H;
  }
  // A wider head so the logits are spread (top-k and temperature then matter).
  const hw = rng.uniformArray(c.V * I, -2, 2);
  const hb = c.bias === false ? undefined : rng.uniformArray(c.V, -1, 1);
  const spec: GeneratorSpec = { input: gpuInput, layers: gpuLayers, head: { weight: t(hw, [c.V, I], 'head_w'), bias: hb && t(hb, [c.V], 'head_b') } };
  const cpuSpec: CpuGeneratorSpec = { input: cpuInput, layers: cpuLayers, head: { weight: hw, bias: hb, V: c.V } };
  return { spec, cpuSpec, release: () => owned.forEach((x) => x.release()) };
}

interface Run {
  prime: number[]; length: number; samples: number; seed: number; temperature?: number; topK?: number;
  stepsPerDispatch?: number; workgroupSize?: number; sampler?: 'serial' | 'parallel';
}

async function check(name: string, c: Case, r: Run) {
  const ctx = await gpu();
  const { spec, cpuSpec, release } = build(ctx, c, r.seed);
  const g = packGenerator(ctx, spec);
  const out = await runGenerator(ctx, g, { ...r, recordLogits: true });
  const V = c.V, N = r.length;
  assert.is(out.tokens.length, r.samples);
  // Teacher-forced CPU run on the GPU's tokens: the logits must agree at every step.
  const forced = cpuGenerate(cpuSpec, { ...r, forced: out.tokens });
  expectClose(`${name}: logits`, out.logits!, forced.logits, TOL);
  // Each GPU token is the sampling rule applied to the GPU's own logits with the same draw.
  for (let b = 0; b < r.samples; b++) {
    for (let n = 0; n < N; n++) {
      const row = out.logits!.subarray((b * N + n) * V, (b * N + n + 1) * V);
      const want = sampleWithUniform(row, generateUniform(r.seed, b, r.prime.length - 1 + n), r.temperature ?? 1, r.topK ?? 0);
      if (out.tokens[b][n] !== want) assert.unreachable(`${name}: row ${b} token ${n} is ${out.tokens[b][n]}, the sampling rule gives ${want}`);
    }
  }
  // An independent CPU run samples the same tokens (the draws are far from the boundaries here).
  const free = cpuGenerate(cpuSpec, r);
  for (let b = 0; b < r.samples; b++) assert.equal(Array.from(out.tokens[b]), Array.from(free.tokens[b]), `${name}: row ${b} tokens`);
  g.release();
  release();
  return out;
}

test('LSTM, one-hot input, top-k 5, one row (the Hamlet shape, small)', async () => {
  await check('lstm one-hot', { input: { oneHot: 11 }, layers: [{ cell: 'lstm', H: 13 }], V: 11 }, { prime: [3, 1, 4, 1, 5], length: 24, samples: 1, seed: 7, topK: 5 });
});

test('two stacked LSTMs, embedding input, all ids, 3 rows, several dispatches', async () => {
  await check('lstm×2 embedding', { input: { embedding: [19, 6] }, layers: [{ cell: 'lstm', H: 9 }, { cell: 'lstm', H: 5 }], V: 19 },
    { prime: [2, 18], length: 21, samples: 3, seed: 11, stepsPerDispatch: 4 });
});

for (const cell of ['gru', 'rnn_relu', 'rnn_tanh'] as const) {
  test(`${cell} alone`, async () => {
    await check(cell, { input: { embedding: [23, 4] }, layers: [{ cell, H: 10 }], V: 23 }, { prime: [0, 6, 6], length: 5, samples: 1, seed: 3 });
  });
}

test('GRU, relu RNN and tanh RNN mixed, temperature 0.7, top-k 3, no head bias', async () => {
  await check('gru+rnn', { input: { embedding: [23, 4] }, layers: [{ cell: 'gru', H: 10 }, { cell: 'rnn_relu', H: 6 }, { cell: 'rnn_tanh', H: 8 }], V: 23, bias: false },
    { prime: [0, 6, 6], length: 17, samples: 2, seed: 3, temperature: 0.7, topK: 3 });
});

test('vocabulary larger than the workgroup (V = 301), uneven chunks, workgroup sizes 1, 32, 256', async () => {
  for (const wg of [1, 32, 256]) {
    await check(`V 301, WG ${wg}`, { input: { oneHot: 301 }, layers: [{ cell: 'gru', H: 7 }], V: 301 },
      { prime: [300], length: 9, samples: 2, seed: 5 + wg, workgroupSize: wg, stepsPerDispatch: 5 });
  }
});

for (const sampler of ['serial', 'parallel'] as const) {
  for (const topK of [0, 4]) {
    test(`${sampler} sampler, top-k ${topK}, V = 70, workgroup 32`, async () => {
      await check(`${sampler} k ${topK}`, { input: { oneHot: 70 }, layers: [{ cell: 'lstm', H: 12 }], V: 70 },
        { prime: [69, 0], length: 15, samples: 2, seed: 40 + topK, topK, sampler, workgroupSize: 32 });
    });
  }
}

test('top-k with k ≥ V samples from every id (same as top-k 0)', async () => {
  const ctx = await gpu();
  const c: Case = { input: { oneHot: 6 }, layers: [{ cell: 'rnn_tanh', H: 4 }], V: 6 };
  const a = build(ctx, c, 9), g = packGenerator(ctx, a.spec);
  const all = await runGenerator(ctx, g, { prime: [1], length: 30, seed: 2 });
  const big = await runGenerator(ctx, g, { prime: [1], length: 30, seed: 2, topK: 6 });
  assert.equal(Array.from(big.tokens[0]), Array.from(all.tokens[0]));
  g.release(); a.release();
});

test('row b of a batch is the same as a one-row run (streams depend only on seed, row, step)', async () => {
  const ctx = await gpu();
  const c: Case = { input: { embedding: [12, 5] }, layers: [{ cell: 'lstm', H: 8 }], V: 12 };
  const a = build(ctx, c, 21), g = packGenerator(ctx, a.spec);
  const many = await runGenerator(ctx, g, { prime: [4, 2], length: 20, samples: 4, seed: 99, topK: 4 });
  const one = await runGenerator(ctx, g, { prime: [4, 2], length: 20, samples: 1, seed: 99, topK: 4 });
  assert.equal(Array.from(many.tokens[0]), Array.from(one.tokens[0]));
  assert.not.equal(Array.from(many.tokens[1]), Array.from(many.tokens[0]), 'rows draw different streams');
  g.release(); a.release();
});

test('streaming: onTokens gets every token once, in order, one call per dispatch', async () => {
  const ctx = await gpu();
  const c: Case = { input: { oneHot: 9 }, layers: [{ cell: 'lstm', H: 6 }], V: 9 };
  const a = build(ctx, c, 4), g = packGenerator(ctx, a.spec);
  const seen: number[] = [];
  let calls = 0;
  const out = await runGenerator(ctx, g, {
    prime: [1, 2, 3], length: 25, seed: 8, stepsPerDispatch: 6,
    onTokens: (rows, first) => { assert.is(first, seen.length); seen.push(...rows[0]); calls++; },
  });
  assert.equal(seen, Array.from(out.tokens[0]));
  assert.is(calls, Math.ceil((3 + 25 - 1) / 6));
  g.release(); a.release();
});

test('length 0 returns empty rows; one dispatch per chunk and no readback inside the loop', async () => {
  const ctx = await gpu();
  const c: Case = { input: { oneHot: 5 }, layers: [{ cell: 'gru', H: 3 }], V: 5 };
  const a = build(ctx, c, 1), g = packGenerator(ctx, a.spec);
  const empty = await runGenerator(ctx, g, { prime: [0], length: 0, samples: 2 });
  assert.equal(empty.tokens.map((t) => t.length), [0, 0]);
  const before = ctx.dispatchCount, submits = ctx.submitCount;
  await runGenerator(ctx, g, { prime: [0, 1], length: 40, stepsPerDispatch: 10 });
  assert.is(ctx.dispatchCount - before, Math.ceil((2 + 40 - 1) / 10));
  assert.ok(ctx.submitCount - submits <= 3, `submissions: ${ctx.submitCount - submits}`);
  g.release(); a.release();
});

test('bad specs and options fail with clear errors before any dispatch', async () => {
  const ctx = await gpu();
  const c: Case = { input: { embedding: [8, 4] }, layers: [{ cell: 'lstm', H: 5 }], V: 8 };
  const a = build(ctx, c, 2);
  let before = ctx.dispatchCount;
  expectThrows(() => packGenerator(ctx, { ...a.spec, layers: [] }), /at least one recurrent layer/);
  expectThrows(() => packGenerator(ctx, { ...a.spec, head: { weight: a.spec.layers[0].weightIh } }), /head\.weight/);
  expectThrows(() => packGenerator(ctx, { ...a.spec, input: { oneHot: 3 } }), /layers\[0\]\.weightIh/);
  expectThrows(() => packGenerator(ctx, { ...a.spec, input: { embedding: a.spec.layers[0].weightIh } }), /head gives 8 logits but the input takes 20 token ids/);
  expectThrows(() => packGenerator(ctx, { ...a.spec, layers: [{ ...a.spec.layers[0], cell: 'gru' }] }), /layers\[0\]\.weightHh/);
  assert.is(ctx.dispatchCount, before);
  const g = packGenerator(ctx, a.spec);
  before = ctx.dispatchCount;
  await expectRejects(() => runGenerator(ctx, g, { prime: [8], length: 3 }), /prime\[0\] = 8 is not a token id in \[0, 7\]/);
  await expectRejects(() => runGenerator(ctx, g, { prime: [], length: 3 }), /prime must contain at least one token/);
  await expectRejects(() => runGenerator(ctx, g, { prime: [1], length: 3, temperature: 0 }), /temperature must be a positive number/);
  await expectRejects(() => runGenerator(ctx, g, { prime: [1], length: 3, topK: -1 }), /topK must be a non-negative integer/);
  await expectRejects(() => runGenerator(ctx, g, { prime: [1], length: 3, workgroupSize: 48 }), /workgroupSize must be a power of two/);
  await expectRejects(() => runGenerator(ctx, g, { prime: [1], length: 3, sampler: 'fast' as 'serial' }), /sampler must be 'auto', 'serial' or 'parallel'/);
  const ids = ctx.zeros([2, 5], 'i32') as Tensor<'i32'>, state = ctx.zeros([2, 1, 2, 5]), scratch = ctx.zeros([2, generatorScratchSize(g)]);
  expectThrows(() => generateSteps(ctx, g, { ids, state: scratch, scratch }, { P: 1, sBegin: 0, sEnd: 4, seed: 1 }), /generateSteps: state/);
  expectThrows(() => generateSteps(ctx, g, { ids, state, scratch }, { P: 1, sBegin: 0, sEnd: 5, seed: 1 }), /steps \[0, 5\) must lie in \[0, 4\]/);
  expectThrows(() => generateSteps(ctx, g, { ids, state, scratch }, { P: 5, sBegin: 0, sEnd: 4, seed: 1 }), /prime length P = 5/);
  assert.is(ctx.dispatchCount, before);
  for (const x of [ids, state, scratch]) x.release();
  g.release(); a.release();
});

// ---------------------------------------------------------------- models (src/train/generate.ts)

const MODELS: Record<string, () => Layer[]> = {
  'OneHot → LSTM → Dropout → Dense (hamlet.ts)': () => [new OneHot(13), new LSTM({ hiddenSize: 11 }), new Dropout(0.5), new Dense({ units: 13 })],
  'Embedding → GRU×2 → RNN relu → Dense without bias': () => [
    new Embedding({ numEmbeddings: 17, embeddingDim: 5 }), new GRU({ hiddenSize: 7, numLayers: 2 }),
    new RNN({ hiddenSize: 6, nonlinearity: 'relu' }), new Dense({ units: 17, bias: false }),
  ],
};

for (const [name, layers] of Object.entries(MODELS)) {
  test(`model ${name}: the GPU loop's logits are the model's own forward on the same tokens`, async () => {
    const ctx = await gpu();
    const model = new Sequential(layers(), { seed: 31 }).build(ctx);
    const spec = generatorSpecOf(model);
    if (typeof spec === 'string') throw new Error(spec);
    const g = packGenerator(ctx, spec);
    const prime = [1, 2, 3], N = 12, V = model.output.size;
    const out = await runGenerator(ctx, g, { prime, length: N, seed: 5, recordLogits: true });
    const all = Int32Array.from([...prime, ...out.tokens[0]]);
    const pred = await model.predict({ x: all.slice(0, -1), shape: [1, all.length - 1] });
    // Logits of positions P−1 .. S−2 are what tokens 0 .. N−1 were drawn from; f32 on both sides,
    // different summation orders.
    expectClose(name, out.logits!, pred.data.subarray((prime.length - 1) * V), { atol: 2e-5, rtol: 1e-4 });
    // Greedy decoding (top-k 1) does not depend on the random draws: both engines agree.
    const gpuGreedy = await generate(model, { prime, length: N, topK: 1, engine: 'gpu' });
    const stepGreedy = await generate(model, { prime, length: N, topK: 1, engine: 'steps' });
    assert.equal(Array.from(gpuGreedy), Array.from(stepGreedy));
    g.release();
    model.dispose();
  });
}

test('generate: engine choice, samples, streaming and errors', async () => {
  const ctx = await gpu();
  const model = new Sequential([new OneHot(9), new LSTM({ hiddenSize: 8 }), new Dense({ units: 9 })], { seed: 2 }).build(ctx);
  const a = await generate(model, { prime: [0, 1], length: 20, topK: 3, seed: 4 });
  const b = await generate(model, { prime: [0, 1], length: 20, topK: 3, seed: 4, engine: 'gpu' });
  assert.equal(Array.from(a), Array.from(b), "'auto' picks the GPU loop for this model");
  const streamed: number[] = [];
  const c = await generate(model, { prime: [0, 1], length: 20, topK: 3, seed: 4, onToken: (id, i) => { assert.is(i, streamed.length); streamed.push(id); } });
  assert.equal(streamed, Array.from(c));
  assert.equal(Array.from(c), Array.from(a));
  const rows = await generateSamples(model, { prime: [0, 1], length: 20, topK: 3, seed: 4, samples: 3 });
  assert.equal(Array.from(rows[0]), Array.from(a));
  await expectRejects(() => generate(model, { prime: [9], length: 3 }), /prime\[0\] = 9 is not a token id in \[0, 8\]/);
  await expectRejects(() => generate(model, { prime: [1], length: 3, engine: 'fast' as 'gpu' }), /engine must be 'auto', 'gpu' or 'steps'/);
  model.dispose();
  // A model the GPU loop cannot run: 'auto' falls back to per-token steps, 'gpu' says why.
  const bi = new Sequential([new OneHot(6), new GRU({ hiddenSize: 4, bidirectional: true }), new Dense({ units: 6 })], { seed: 3 }).build(ctx);
  assert.is(generatorSpecOf(bi), 'gru is bidirectional');
  assert.is((await generate(bi, { prime: [1], length: 5, seed: 1 })).length, 5);
  await expectRejects(() => generate(bi, { prime: [1], length: 5, engine: 'gpu' }), /the 'gpu' engine cannot run this model: gru is bidirectional/);
  bi.dispose();
  const act = new Sequential([new OneHot(6), new RNN({ hiddenSize: 4 }), new Dense({ units: 6, activation: 'relu' })], { seed: 3 }).build(ctx);
  assert.match(String(generatorSpecOf(act)), /not a Dense layer without activation/);
  act.dispose();
});

test.run();
