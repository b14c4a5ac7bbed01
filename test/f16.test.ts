// f16 storage (option precision: 'f16' of LSTM / GRU / RNN and Dense): W_ih, W_hh, the Dense
// weight and the hidden states the recurrence reads and writes are f16, every sum f32. Checked
// against the float64 CPU reference model with the weights rounded to f16 first, for LSTM, GRU and
// RNN, both schedules, variable lengths, awkward sizes; plus the host and GPU f16 conversions, the
// f16 GEMM, the generation kernel with f16 weights, the checks, and training with f32 master
// weights, and the fused one-hot input's gather of W_ih rounded to f16. On an adapter without
// 'shader-f16' (Dawn's GL ES backend) the GPU f16 cases print why and return.
import { suite } from 'uvu';
import { Dense, GRU, LSTM, RNN, Sequential, type Layer } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { encodeModel, modelFromCheckpoint, stateDict } from '../src/train/checkpoint.ts';
import { generatorSpecOf } from '../src/train/generate.ts';
import { Embedding, OneHot } from '../src/nn/embedding.ts';
import { embeddingProjectOneHot } from '../src/kernels/embedding.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import { Rng } from '../src/cpu/random.ts';
import { halfBits, halfEmpty, halfPack, halfUnpack, halfValue, roundToHalf, unpackHalves } from '../src/kernels/half.ts';
import { checkHalfSupported } from '../src/kernels/recurrent.ts';
import { lstmForwardSteps } from '../src/kernels/lstm.ts';
import { matmul } from '../src/kernels/matmul.ts';
import { packGenerator, runGenerator, type GeneratorSpec } from '../src/kernels/generate.ts';
import { cpuGenerate, generateUniform, sampleWithUniform, type CpuGeneratorSpec } from '../src/cpu/generate.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Batch } from '../src/nn/model.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { expectSameSnapshot, snapshotModel } from './helpers/guard.ts';

const test = suite('f16');

// Tolerance of the forward. Each stored h is rounded to f16: |error| <= 2^-11·|h| <= 2^-11 (|h| < 1
// for tanh/sigmoid cells; 2^-11 covers a GPU that truncates as well as round-to-nearest's 2^-12).
// An error in h_prev reaches the next h through W_hh (entries within 1/√H) and the gate slopes
// (<= 1), a gain below 1 here, and adds to that step's own rounding, so after T steps the error is
// at most T·2^-11. The f32 sums add ~1e-6, negligible.
const forwardTol = (T: number) => ({ atol: T * 2 ** -11, rtol: 0 });
// Gradients: dgates scales each stored-h error by dh and the slopes; summed over B·T terms in
// dW_hh = dgatesᵀ·H_prev the absolute error grows with the sum while staying within 1% of its size.
const GRAD_TOL = { atol: 5e-3, rtol: 1e-2 };

const B = 3, T = 7, H = 5, I = 3;
const LENGTHS = [7, 4, 1];
const CELLS = { lstm: LSTM, gru: GRU, rnn: RNN } as const;

/** The GPU f16 cases need 'shader-f16'; without it they print why and pass (GL ES lacks it). */
async function halfContext(what: string): Promise<GpuContext | null> {
  const ctx = await gpu();
  if (ctx.features.has('shader-f16')) return ctx;
  console.log(`  skipped "${what}": this adapter lacks 'shader-f16' (${ctx.describe()})`);
  return null;
}

function seqBatch(seed: number, outWidth: number): Batch {
  const rng = new Rng(seed);
  return {
    x: Float32Array.from(rng.uniformArray(B * T * I, -1, 1)), shape: [B, T, I], lengths: Int32Array.from(LENGTHS),
    y: Float32Array.from(rng.uniformArray(B * T * outWidth, -1, 1)),
  };
}

/** Rounds every parameter of a built model to f16 in place; returns them as float64 for the CPU. */
async function roundParameters(ctx: GpuContext, model: Sequential): Promise<Record<string, Float64Array>> {
  const params: Record<string, Float64Array> = {};
  for (const [name, p] of model.namedParameters()) {
    const v = Float32Array.from(await ctx.read(p.value!), roundToHalf);
    ctx.write(p.value!, v);
    params[name] = Float64Array.from(v);
  }
  return params;
}

/** f16 values moved slightly away from zero (or not), far from the midpoints between f16
 *  neighbours: round to nearest and round toward zero both give the f16 values back. */
const nearHalves = (exact: Float32Array): Float32Array => Float32Array.from(exact, (v, i) => (i % 2 ? v : v * (1 + 2 ** -14)));

const cpuRef = (model: Sequential, params: Record<string, Float64Array>, batch: Batch) =>
  cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'mse');

test('host f16 rounding: exact values, ties to even, subnormals, overflow', () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.1, 0x2e66], [-0, 0x8000], [3 * 2 ** -26, 0x0001],
  ];
  for (const [x, bits] of cases) {
    if (halfBits(x) !== bits) throw new Error(`halfBits(${x}) = 0x${halfBits(x).toString(16)}, expected 0x${bits.toString(16)}`);
    if (bits !== 0x7c00 && halfValue(bits) !== (Object.is(x, -0) ? -0 : halfValue(halfBits(x)))) throw new Error(`halfValue(0x${bits.toString(16)})`);
  }
  // Every f16 value round-trips, and a value between two neighbours goes to the nearer one.
  for (let b = 0; b < 0x7c00; b += 7) {
    const v = halfValue(b);
    if (halfBits(v) !== b) throw new Error(`0x${b.toString(16)} (${v}) rounds to 0x${halfBits(v).toString(16)}`);
    const next = halfValue(b + 1);
    if (halfBits(v + (next - v) * 0.49) !== b || halfBits(v + (next - v) * 0.51) !== b + 1) throw new Error(`rounding between 0x${b.toString(16)} and its neighbour`);
  }
});

test('half_pack / half_unpack: the GPU stores what the host rounding gives (odd count)', async () => {
  const ctx = await gpu();
  const rng = new Rng(1);
  const n = 37;
  const exact = Float32Array.from(rng.uniformArray(n, -4, 4), roundToHalf);
  const values = nearHalves(exact);
  const src = ctx.tensor(values, [n], 'values');
  const halves = halfEmpty(ctx, [n], 'halves');
  const back = ctx.zeros([n], 'f32', 'back');
  halfPack(ctx, src, halves);
  halfUnpack(ctx, halves, back);
  expectClose('packed halves', unpackHalves(await ctx.read(halves), n), exact, { atol: 0, rtol: 0 });
  expectClose('unpacked', await ctx.read(back), exact, { atol: 0, rtol: 0 });
  expectThrows(() => halfPack(ctx, src, back), /halfPack: halves \(back\) is f32\(37\)/, /expected f16 storage of \(37\): u32 \(19\)/);
  for (const t of [src, halves, back]) t.release();
});

test('matmul with b in f16 storage (W_ih of precision f16): a·round16(b) with f32 sums, both variants, transB or not', async () => {
  const ctx = await halfContext('matmul f16');
  if (!ctx) return;
  const rng = new Rng(2);
  for (const [M, K, N] of [[21, 3, 20], [8, 12, 16]]) {   // odd sizes (scalar loads) and aligned ones (vec4 loads)
    const a = rng.uniformArray(M * K, -1, 1), b = rng.uniformArray(K * N, -1, 1);
    const b16 = Float32Array.from(b, roundToHalf);
    for (const transB of [false, true]) {
      const bShape = transB ? [N, K] : [K, N];
      const bData = transB ? Float32Array.from({ length: N * K }, (_, i) => b[(i % K) * N + Math.floor(i / K)]) : b;
      const want = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) want[m * N + n] += a[m * K + k] * b16[k * N + n];
      const at = ctx.tensor(a, [M, K], 'a'), bt = ctx.tensor(bData, bShape, 'b'), bh = halfEmpty(ctx, bShape, 'b16');
      halfPack(ctx, bt, bh);
      for (const variant of ['register', 'tiled'] as const) {
        const out = ctx.zeros([M, N], 'f32', 'out');
        matmul(ctx, at, bh, out, { transB, variant, bHalfShape: bShape });
        // f32 sums of K products of exact f16 weights: a few f32 ulps.
        expectClose(`${variant} transB=${transB} (${M}, ${K}, ${N})`, await ctx.read(out), want, { atol: 1e-6, rtol: 1e-5, shape: [M, N] });
        out.release();
      }
      expectThrows(() => matmul(ctx, at, bh, at, { transB, bHalfShape: [K + 1, N] }), /matmul: b \(b16\)/, /expected f16 storage of \(\d+, \d+\)/);
      for (const t of [at, bt, bh]) t.release();
    }
  }
});

for (const cell of ['lstm', 'gru', 'rnn'] as const) {
  for (const schedule of ['step', 'sequence'] as const) {
    test(`${cell} precision f16, ${schedule} schedule: outputs and final states vs float64 with f16 weights (B=3, T=7, H=5, I=3, ragged)`, async () => {
      const ctx = await halfContext(`${cell} ${schedule}`);
      if (!ctx) return;
      const model = new Sequential([new CELLS[cell]({ hiddenSize: H, inputSize: I, precision: 'f16', schedule })], { seed: 4 }).build(ctx);
      const params = await roundParameters(ctx, model);
      const batch = seqBatch(5, H);
      const got = await model.predict(batch);
      const ref = cpuRef(model, params, batch);
      expectClose(`${cell} hs`, got.data, ref.output, { ...forwardTol(T), shape: got.shape });
      // The outputs are the f16 states widened: each is an f16 value.
      const notHalf = got.data.findIndex((v) => roundToHalf(v) !== v);
      if (notHalf >= 0) throw new Error(`output ${notHalf} = ${got.data[notHalf]} is not an f16 value`);
      const fin = model.recurrentLayers()[0].finalState();
      expectClose(`${cell} hn`, await ctx.read(fin.h), ref.finalStates[cell].h, forwardTol(T));
      if (fin.c) expectClose(`${cell} cn`, await ctx.read(fin.c), ref.finalStates[cell].c!, forwardTol(T));
      model.dispose();
    });
  }
}

for (const schedule of ['step', 'sequence'] as const) test(`2-layer bidirectional GRU (reset before the product), ${schedule} schedule, in f16 matches the f32 layer within the f16 tolerance`, async () => {
  const ctx = await halfContext('bidirectional GRU');
  if (!ctx) return;
  const make = (precision: 'f32' | 'f16') => new Sequential([
    new GRU({ hiddenSize: H, inputSize: I, numLayers: 2, bidirectional: true, resetAfter: false, precision, schedule }),
  ], { seed: 6 }).build(ctx);
  const half = make('f16'), full = make('f32');
  const params = await roundParameters(ctx, half);
  for (const [name, p] of full.namedParameters()) ctx.write(p.value!, Float32Array.from(params[name]));
  const batch = seqBatch(7, 2 * H);
  const a = await half.predict(batch), b = await full.predict(batch);
  // Two layers: the second sees the first's errors (within T·2^-11) through W_ih as well.
  expectClose('f16 vs f32', a.data, b.data, { atol: 2 * T * 2 ** -11, rtol: 0, shape: a.shape });
  if (a.data.every((v, i) => v === b.data[i])) throw new Error('f16 storage gave bit-identical outputs to f32: is it used?');
  expectClose('f16 vs float64', a.data, cpuRef(half, params, batch).output, { atol: 2 * T * 2 ** -11, rtol: 0, shape: a.shape });
  half.dispose();
  full.dispose();
});

for (const cell of ['lstm', 'gru', 'rnn'] as const) {
  test(`${cell} → Dense, both precision f16: loss and gradients (f32 master weights) vs float64, both schedules`, async () => {
    const ctx = await halfContext(`${cell} gradients`);
    if (!ctx) return;
    for (const schedule of ['step', 'sequence'] as const) {
      const layers: Layer[] = [new CELLS[cell]({ hiddenSize: H, inputSize: I, precision: 'f16', schedule }), new Dense({ units: 2, precision: 'f16' })];
      const model = new Sequential(layers, { seed: 8 }).build(ctx);
      model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }) });
      const params = await roundParameters(ctx, model);
      const batch = seqBatch(9, 2);
      model.computeGradients(batch, { training: false });
      const ref = cpuRef(model, params, batch);
      expectClose(`${schedule} loss`, [await model.readLoss()], [ref.loss], GRAD_TOL);
      for (const [name, p] of model.namedParameters()) {
        expectClose(`${schedule} d${name}`, await ctx.read(p.grad!), ref.grads[name], { ...GRAD_TOL, shape: p.shape });
      }
      model.dispose();
    }
  });
}

test('LSTM precision f16 trains: the f32 weights move, the f16 copy follows, the loss falls', async () => {
  const ctx = await halfContext('training');
  if (!ctx) return;
  const model = new Sequential([new LSTM({ hiddenSize: H, inputSize: I, precision: 'f16' }), new Dense({ units: 2, precision: 'f16' })], { seed: 10 });
  model.build(ctx).compile({ loss: 'mse', optimizer: new SGD({ lr: 0.5 }) });
  const batch = { ...seqBatch(11, 2), y: new Float32Array(B * T * 2).fill(0.5) };   // a target the model can reach
  const first = await model.evaluate(batch);
  for (let i = 0; i < 15; i++) await model.trainStep(batch);
  const last = await model.evaluate(batch);
  if (!(last < 0.9 * first)) throw new Error(`loss ${first} → ${last} after 15 steps: expected a fall of 10% or more`);
  // The master weights are f32: after updates they are no longer all f16 values.
  const sd = await stateDict(model);
  const whh = sd['lstm.weight_hh_l0'].data;
  if (whh.every((v) => roundToHalf(v) === v)) throw new Error('weight_hh holds only f16 values: the master copy is not f32');
  model.dispose();
});

test('an f16 overflow (a relu RNN state past 65504) makes a non-finite loss: the step is skipped, nothing written', async () => {
  const ctx = await halfContext('overflow');
  if (!ctx) return;
  const model = new Sequential([new RNN({ hiddenSize: 3, inputSize: 2, nonlinearity: 'relu', precision: 'f16' }), new Dense({ units: 1 })], { seed: 1 });
  model.build(ctx).compile({ loss: 'mse', optimizer: new SGD({ lr: 0.01 }) });
  const y = new Float32Array(4);
  const ok = { x: new Float32Array(8).fill(0.1), shape: [1, 4, 2], y };
  await model.trainStep(ok);   // optimizer slots and counters in use
  const before = await snapshotModel(model);
  // Inputs of 3e5 drive the relu states past f16's largest finite value: stored as infinity
  // (WGSL leaves an out-of-range conversion to the implementation; Vulkan drivers give ±inf).
  const r = await model.trainStep({ x: new Float32Array(8).fill(3e5), shape: [1, 4, 2], y });
  if (!r.skipped) throw new Error(`the overflowing step was not skipped: ${JSON.stringify(r)}`);
  expectSameSnapshot(before, await snapshotModel(model), 'after the skipped f16 overflow step');
  const next = await model.trainStep(ok);
  if (next.skipped || !Number.isFinite(next.gradNorm)) throw new Error(`a valid step after the overflow: ${JSON.stringify(next)}`);
  model.dispose();
});

test('generation kernel with f16 weights (precision f16): logits vs float64 with f16 weights, tokens by the sampling rule', async () => {
  const ctx = await halfContext('generation');
  if (!ctx) return;
  const rng = new Rng(12);
  const V = 9, E = 4, H1 = 5, H2 = 3;
  const owned: Tensor[] = [];
  // Host: f16 values; GPU: those values nudged (nearHalves), so the f16 copy the kernel reads is
  // packed on the GPU and equals them whatever its rounding mode.
  const param = (n: number, shape: number[], name: string, scale = 0.5) => {
    const exact = Float32Array.from(rng.uniformArray(n, -scale, scale), roundToHalf);
    const t = ctx.tensor(nearHalves(exact), shape, name);
    owned.push(t);
    return { t, cpu: exact };
  };
  const emb = param(V * E, [V, E], 'emb', 1);
  const layer = (cell: 'lstm' | 'gru', I: number, H: number, l: number) => {
    const G = (cell === 'lstm' ? 4 : 3) * H;
    const wih = param(G * I, [G, I], `wih${l}`), whh = param(G * H, [G, H], `whh${l}`), bih = param(G, [G], `bih${l}`), bhh = param(G, [G], `bhh${l}`);
    return {
      gpu: { cell, weightIh: wih.t, weightHh: whh.t, biasIh: bih.t, biasHh: bhh.t },
      cpu: { cell, weight_ih: wih.cpu, weight_hh: whh.cpu, bias_ih: bih.cpu, bias_hh: bhh.cpu, hiddenSize: H },
    };
  };
  const layers = [layer('lstm', E, H1, 0), layer('gru', H1, H2, 1)];
  const hw = param(V * H2, [V, H2], 'head_w', 2), hb = param(V, [V], 'head_b', 1);
  const spec: GeneratorSpec = {
    input: { embedding: emb.t }, layers: layers.map((l) => l.gpu), head: { weight: hw.t, bias: hb.t }, precision: 'f16',
  };
  const cpuSpec: CpuGeneratorSpec = {
    input: { embedding: emb.cpu, vocab: V, dim: E }, layers: layers.map((l) => l.cpu), head: { weight: hw.cpu, bias: hb.cpu, V },
  };
  const r = { prime: [1, 4], length: 12, samples: 2, seed: 3, topK: 4 };
  const g = packGenerator(ctx, spec);
  if (g.weights.dtype !== 'u32') throw new Error('the packed weights are not f16 storage');
  const out = await runGenerator(ctx, g, { ...r, recordLogits: true });
  // The weights are exactly f16 on both sides; states and sums are f32 on the GPU: the f32
  // generation kernel's tolerance (test/generate.test.ts) applies.
  const forced = cpuGenerate(cpuSpec, { ...r, forced: out.tokens });
  expectClose('f16 generation logits', out.logits!, forced.logits, { atol: 3e-5, rtol: 1e-4 });
  for (let b = 0; b < r.samples; b++) {
    for (let n = 0; n < r.length; n++) {
      const row = out.logits!.subarray((b * r.length + n) * V, (b * r.length + n + 1) * V);
      const want = sampleWithUniform(row, generateUniform(r.seed, b, r.prime.length - 1 + n), 1, r.topK);
      if (out.tokens[b][n] !== want) throw new Error(`row ${b} token ${n} is ${out.tokens[b][n]}, the sampling rule gives ${want}`);
    }
  }
  g.release();
  for (const t of owned) t.release();
});

test('one-hot gather with weightPrecision f16 gives bias + the f16 copy\'s column, exactly (core WGSL: no shader-f16 needed)', async () => {
  const ctx = await gpu();
  const D = 6, V = 5, N = 7;
  const rng = new Rng(12);
  const w = Float32Array.from(rng.uniformArray(D * V, -2, 2)), bias = Float32Array.from(rng.uniformArray(D, -1, 1));
  const ids = Int32Array.of(0, 4, 2, -1, 5, 3, 1);   // -1 and 5 are out of range: the bias alone
  const wT = ctx.tensor(w, [D, V], 'wih'), bT = ctx.tensor(bias, [D], 'bih'), tok = ctx.tensor(ids, [N], 'tokens');
  const packed = halfEmpty(ctx, [D, V], 'wih16');
  halfPack(ctx, wT, packed);
  const halves = unpackHalves((await ctx.read(packed)) as Uint32Array, D * V);
  for (const precision of ['f32', 'f16'] as const) {
    const out = ctx.empty([N, D], 'f32', 'gx');
    embeddingProjectOneHot(ctx, wT, bT, tok, out, { weightPrecision: precision });
    const got = await ctx.read(out);
    const col = precision === 'f16' ? halves : w;
    for (let n = 0; n < N; n++) {
      for (let d = 0; d < D; d++) {
        const id = ids[n];
        const want = id >= 0 && id < V ? Math.fround(bias[d] + col[d * V + id]) : bias[d];
        if (got[n * D + d] !== want) throw new Error(`${precision}: out[${n}, ${d}] = ${got[n * D + d]}, expected ${want}`);
      }
    }
    out.release();
  }
  if (halves.every((v, i) => v === w[i])) throw new Error('test setup: the weights should not all be f16 values already');
  const out = ctx.empty([N, D], 'f32', 'gx');
  expectThrows(() => embeddingProjectOneHot(ctx, wT, bT, tok, out, { weightPrecision: 'half' as 'f16' }), 'embeddingProjectOneHot', /weightPrecision/, /'f32' or 'f16'/);
  for (const t of [wT, bT, tok, packed, out]) t.release();
});

for (const schedule of ['step', 'sequence'] as const) test(`OneHot → LSTM f16 (the fused gather, ${schedule} schedule) equals the same layer fed one-hot features through the f16 W_ih GEMM, bit for bit`, async () => {
  const ctx = await halfContext('fused one-hot gather');
  if (!ctx) return;
  const V = 6, Tn = 5;
  const fused = new Sequential([new OneHot(V), new LSTM({ hiddenSize: H, precision: 'f16', schedule })], { seed: 4 }).build(ctx);
  const plain = new Sequential([new LSTM({ hiddenSize: H, inputSize: V, precision: 'f16', schedule })], { seed: 4 }).build(ctx);
  for (const [[, p], [, q]] of fused.namedParameters().map((e, i) => [e, plain.namedParameters()[i]] as const)) ctx.write(q.value!, await ctx.read(p.value!));
  const ids = Int32Array.from({ length: 2 * Tn }, (_, i) => (i * 5 + 2) % V);
  const oneHot = new Float32Array(2 * Tn * V);
  ids.forEach((id, i) => { oneHot[i * V + id] = 1; });
  const a = (await fused.predict({ x: ids, shape: [2, Tn], lengths: [5, 3] })).data;
  const b = (await plain.predict({ x: oneHot, shape: [2, Tn, V], lengths: [5, 3] })).data;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`output ${i}: fused gather ${a[i]}, one-hot GEMM ${b[i]}`);
  fused.dispose();
  plain.dispose();
});

test('precision: a wrong value is refused naming the option and the choices', () => {
  expectThrows(() => new LSTM({ hiddenSize: 4, precision: 'half' as 'f16' }), /LSTM "lstm": option precision/, /'f32'.*'f16'|f32.*f16/);
  expectThrows(() => new Dense({ units: 4, precision: 16 as unknown as 'f16' }), /Dense "dense": option precision/, /'f32'.*'f16'|f32.*f16/);
});

test('f16 storage on a device without shader-f16: a clear error naming the feature', async () => {
  const fake = { features: new Set<string>(), describe: () => 'a test adapter', adapterInfo: { vendor: 'mesa', backend: 'vulkan' } } as unknown as GpuContext;
  expectThrows(() => checkHalfSupported(fake, `LSTM "lstm": option precision 'f16'`), /LSTM "lstm": option precision 'f16'/, /needs the WebGPU feature 'shader-f16', which this adapter lacks/);
  // On NVIDIA's Vulkan driver Dawn keeps the feature off unless asked: the message says how.
  const nvidia = { features: new Set<string>(), describe: () => 'NVIDIA H200 (nvidia, vulkan)', adapterInfo: { vendor: 'nvidia', backend: 'vulkan' } } as unknown as GpuContext;
  expectThrows(() => checkHalfSupported(nvidia, `GRU "gru": option precision 'f16'`), /which this adapter lacks/, /dawnToggles: \['vulkan_enable_f16_on_nvidia'\]/);
  const ctx = await gpu();
  if (!ctx.features.has('shader-f16')) {
    // Here the layer itself refuses at build, before uploading anything.
    const model = new Sequential([new RNN({ hiddenSize: 4, inputSize: 2, precision: 'f16' })]);
    expectThrows(() => model.build(ctx), /RNN "rnn": option precision 'f16'/, /'shader-f16'/);
    const dense = new Sequential([new Dense({ units: 3, inputSize: 2, precision: 'f16' })]);
    expectThrows(() => dense.build(ctx), /Dense "dense": option precision 'f16'/, /'shader-f16'/);
  }
});

test('kernel wrappers refuse whh and hs of different storage precisions', async () => {
  const ctx = await gpu();
  const G = 4 * H;
  const f = (shape: number[], name: string) => ctx.zeros(shape, 'f32', name);
  const a = {
    gx: f([B, T, G], 'gx'), whh: halfEmpty(ctx, [G, H], 'whh16'), bhh: f([G], 'bhh'), h0: f([B, H], 'h0'), c0: f([B, H], 'c0'),
    lengths: ctx.tensor(Int32Array.from(LENGTHS), [B], 'lengths'), hs: f([B, T, H], 'hs'), cs: f([B, T, H], 'cs'),
    gates: f([B, T, G], 'gates'), hn: f([B, H], 'hn'), cn: f([B, H], 'cn'),
  };
  const before = ctx.dispatchCount;
  expectThrows(() => lstmForwardSteps(ctx, a), /lstmForwardSteps: whh \(whh16\) is f16 storage and hs \(hs\) f32/, /expected both f32 or both f16/);
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded before the error');
  for (const t of Object.values(a)) t.release();
});

test('a checkpoint of an f16 model rebuilds in f16 (same outputs); generation of an all-f16 model uses f16 weights', async () => {
  const ctx = await halfContext('checkpoint and generation');
  if (!ctx) return;
  const model = new Sequential([new Embedding({ numEmbeddings: 7, embeddingDim: 4 }), new GRU({ hiddenSize: H, precision: 'f16' }), new Dense({ units: 7, precision: 'f16' })], { seed: 3 });
  model.build(ctx);
  const batch = { x: Int32Array.from([1, 2, 3, 4, 5, 6, 0, 1, 2, 3]), shape: [2, 5] };
  const want = (await model.predict(batch)).data;
  const { model: back } = modelFromCheckpoint(ctx, await encodeModel(model), 'f16 checkpoint');
  const layers = back.layers as Layer[];
  if ((layers[1] as GRU).precision !== 'f16' || (layers[2] as Dense).precision !== 'f16') throw new Error('the rebuilt layers are not f16');
  const got = (await back.predict(batch)).data;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) throw new Error(`output ${i}: ${got[i]} after the round trip, ${want[i]} before`);
  const spec = generatorSpecOf(back);
  if (typeof spec === 'string' || spec.precision !== 'f16') throw new Error(`generator spec of an all-f16 model: ${typeof spec === 'string' ? spec : spec.precision}`);
  const mixed = new Sequential([new Embedding({ numEmbeddings: 7, embeddingDim: 4 }), new GRU({ hiddenSize: H, precision: 'f16' }), new Dense({ units: 7 })], { seed: 3 }).build(ctx);
  const mixedSpec = generatorSpecOf(mixed);
  if (typeof mixedSpec === 'string' || (mixedSpec.precision ?? 'f32') !== 'f32') throw new Error('a model with an f32 head should generate from f32 weights');
  for (const m of [model, back, mixed]) m.dispose();
});

test.run();
