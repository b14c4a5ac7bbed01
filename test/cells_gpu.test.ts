// The TensorFlow/Keras cell options on the GPU, table-driven over cells × options × schedules
// (per-step plain, per-step blocked, whole sequence): the kernels against the float64 CPU
// references of test/cells_cpu.test.ts at awkward sizes with variable lengths and ±200
// pre-activations, whole models' gradients against the CPU model, and the generation kernel
// against the model's own forward and the CPU generator.
import { suite } from 'uvu';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import * as gpuLstm from '../src/kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused } from '../src/kernels/lstm_seq.ts';
import { packGenerator, runGenerator } from '../src/kernels/generate.ts';
import * as cpuLstm from '../src/cpu/lstm.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import { cpuGenerate, type CpuGeneratorSpec } from '../src/cpu/generate.ts';
import type { CellActivation, GateActivation } from '../src/cpu/cell_activation.ts';
import { Rng } from '../src/cpu/random.ts';
import { Dense, Embedding, GRU, LSTM, Sequential, type Layer, type Recurrent } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { generatorSpecOf } from '../src/train/generate.ts';
import type { Batch } from '../src/nn/model.ts';
import { expectClose } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { randomCase, type Case } from './helpers/lstm_case.ts';

const test = suite('cells_gpu');

type Schedule = { name: string; schedule: 'step' | 'sequence'; variant?: 'plain' | 'blocked' };
const SCHEDULES: Schedule[] = [
  { name: 'step (plain)', schedule: 'step', variant: 'plain' },
  { name: 'step (blocked)', schedule: 'step', variant: 'blocked' },
  { name: 'sequence', schedule: 'sequence' },
];

/** Runs `f` with the context's step variant set to `v` (when given), then restores the settings. */
async function withVariant<T>(ctx: GpuContext, v: Schedule['variant'], f: () => Promise<T>): Promise<T> {
  const prev = ctx.configure(v ? { stepVariant: v } : {});
  try { return await f(); } finally { ctx.configure(prev); }
}

// ------------------------------------------------------------------ LSTM kernels

interface LstmRow { act: CellActivation; gate: GateActivation; peepholes: boolean }
const LSTM_ROWS: LstmRow[] = [
  { act: 'tanh', gate: 'hard_sigmoid', peepholes: true },
  { act: 'relu', gate: 'sigmoid', peepholes: false },
  { act: 'sigmoid', gate: 'hard_sigmoid', peepholes: false },
  { act: 'hard_sigmoid', gate: 'sigmoid', peepholes: true },
  { act: 'linear', gate: 'hard_sigmoid', peepholes: true },
];

type Outputs = Record<'hs' | 'cs' | 'gates' | 'hn' | 'cn' | 'dgates' | 'dcCarry' | 'dh0' | 'dc0', ArrayLike<number>>;

/** The CPU step functions over the whole sequence with the row's options. */
function lstmCpu(c: Case, cell: cpuLstm.LstmCellOptions, peephole?: Float32Array): Outputs {
  const { B, T, H } = c, G = 4 * H;
  const f = {
    gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, c0: c.c0, lengths: c.lengths, peephole, cell,
    hs: new Float64Array(B * T * H), cs: new Float64Array(B * T * H), gates: new Float64Array(B * T * G),
    hn: new Float64Array(B * H), cn: new Float64Array(B * H),
  };
  for (let t = 0; t < T; t++) cpuLstm.lstmStepForward(t, f);
  const dgates = new Float64Array(B * T * G), dcCarry = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) {
    cpuLstm.lstmStepBackward(t, { dhs: c.dhs, dhn: c.dhn, dcn: c.dcn, gates: f.gates, cs: f.cs, c0: c.c0, whh: c.whh, lengths: c.lengths, dgates, dcCarry, peephole, cell });
  }
  const dh0 = new Float64Array(B * H), dc0 = new Float64Array(B * H);
  cpuLstm.lstmBackwardInitial({ dgates, whh: c.whh, dcCarry, dh0, dc0 });
  return { hs: f.hs, cs: f.cs, gates: f.gates, hn: f.hn, cn: f.cn, dgates, dcCarry, dh0, dc0 };
}

/** The GPU kernels of one schedule over the whole sequence (outputs start as a sentinel). */
async function lstmGpu(ctx: GpuContext, c: Case, cell: gpuLstm.LstmCellOptions, peephole: Float32Array | undefined, s: Schedule): Promise<Outputs> {
  const { B, T, H } = c, G = 4 * H;
  const made: Tensor[] = [];
  const up = (data: Float32Array | Int32Array, shape: number[], name: string) => { const t = ctx.tensor(data, shape, name); made.push(t); return t; };
  const junk = (shape: number[], name: string) => up(new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(12345), shape, name);
  const peep = peephole ? up(peephole, [3, H], 'peephole') : undefined;
  const f = {
    gx: up(c.gx, [B, T, G], 'gx'), whh: up(c.whh, [G, H], 'whh'), bhh: up(c.bhh, [G], 'bhh'), h0: up(c.h0, [B, H], 'h0'),
    c0: up(c.c0, [B, H], 'c0'), lengths: up(c.lengths, [B], 'lengths'), hs: junk([B, T, H], 'hs'), cs: junk([B, T, H], 'cs'),
    gates: junk([B, T, G], 'gates'), hn: junk([B, H], 'hn'), cn: junk([B, H], 'cn'), peephole: peep,
  };
  const b = {
    dhs: up(c.dhs, [B, T, H], 'dhs'), dhn: up(c.dhn, [B, H], 'dhn'), dcn: up(c.dcn, [B, H], 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0,
    whh: f.whh, lengths: f.lengths, dgates: junk([B, T, G], 'dgates'), dcCarry: junk([B, H], 'dcCarry'), dh0: junk([B, H], 'dh0'),
    dc0: junk([B, H], 'dc0'), peephole: peep,
  };
  await withVariant(ctx, s.variant, async () => {
    if (s.schedule === 'sequence') {
      lstmForwardFused(ctx, f, cell);
      lstmBackwardFused(ctx, b, cell);
    } else {
      gpuLstm.lstmForwardSteps(ctx, f, cell);
      gpuLstm.lstmBackwardSteps(ctx, b, cell);
    }
  });
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries({ hs: f.hs, cs: f.cs, gates: f.gates, hn: f.hn, cn: f.cn, dgates: b.dgates, dcCarry: b.dcCarry, dh0: b.dh0, dc0: b.dc0 })) {
    out[k] = await ctx.read(t) as Float32Array;
  }
  for (const t of made) t.release();
  return out as unknown as Outputs;
}

function compareLstm(name: string, c: Case, got: Outputs, want: Outputs, fwd: { atol: number; rtol: number }, bwd: { atol: number; rtol: number }): void {
  const { B, T, H } = c;
  for (const k of ['hs', 'cs', 'gates'] as const) expectClose(`${name} ${k}`, got[k], want[k], { ...fwd, shape: [B, T, k === 'gates' ? 4 * H : H] });
  for (const k of ['hn', 'cn'] as const) expectClose(`${name} ${k}`, got[k], want[k], { ...fwd, shape: [B, H] });
  expectClose(`${name} dgates`, got.dgates, want.dgates, { ...bwd, shape: [B, T, 4 * H] });
  for (const k of ['dh0', 'dc0'] as const) expectClose(`${name} ${k}`, got[k], want[k], { ...bwd, shape: [B, H] });
}

// f32 kernels against float64 with H = 37 terms per sum and 5 steps: as test/lstm.test.ts.
const FWD = { atol: 2e-6, rtol: 1e-5 };
const BWD = { atol: 5e-6, rtol: 1e-4 };

for (const row of LSTM_ROWS) {
  for (const s of SCHEDULES) {
    test(`LSTM activation ${row.act}, recurrentActivation ${row.gate}, peepholes ${row.peepholes}: ${s.name} kernels = CPU (B=3 T=5 H=37, lengths [5, 2, 4])`, async () => {
      const ctx = await gpu();
      const c = randomCase(71, 3, 5, 37, 6, [5, 2, 4]);
      const peephole = row.peepholes ? new Rng(72).uniformArray(3 * 37, -1, 1) : undefined;
      const cell = { activation: row.act, recurrentActivation: row.gate };
      compareLstm(s.name, c, await lstmGpu(ctx, c, cell, peephole, s), lstmCpu(c, cell, peephole), FWD, BWD);
    });
  }
}

test('LSTM with peepholes and hard_sigmoid at ±200 pre-activations: every schedule = CPU, no NaN', async () => {
  const ctx = await gpu();
  const c = randomCase(73, 3, 5, 37, 6, [5, 2, 4]);
  for (let i = 0; i < c.gx.length; i++) c.gx[i] *= 200;
  const peephole = new Rng(74).uniformArray(3 * 37, -1, 1);
  for (const act of ['tanh', 'hard_sigmoid'] as const) {
    const cell = { activation: act, recurrentActivation: 'hard_sigmoid' as const };
    const want = lstmCpu(c, cell, peephole);
    // Saturated gates: the values are 0, 1 or the clip's exact slope; what is left is f32 rounding of c.
    for (const s of SCHEDULES) compareLstm(`${act} ${s.name}`, c, await lstmGpu(ctx, c, cell, peephole, s), want, { atol: 1e-4, rtol: 1e-4 }, { atol: 1e-4, rtol: 1e-4 });
  }
});

// ------------------------------------------------------------------ whole models

const MODEL_TOL = { atol: 2e-4, rtol: 2e-3 }; // as test/model.test.ts: f32 through 2 layers, T steps, a dense head and the loss

async function compareModel(name: string, layers: () => Layer[], s: Schedule, seed: number): Promise<void> {
  const ctx = await gpu();
  const model = new Sequential(layers(), { seed }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  for (const l of model.recurrentLayers()) l.schedule = s.schedule;
  const rng = new Rng(seed + 1);
  const V = 11, B = 3, T = 4;
  const batch: Batch = { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths: Int32Array.from([4, 2, 1]) };
  const initialStates: Record<string, { h: Float64Array; c?: Float64Array }> = {};
  const owned: Tensor[] = [];
  for (const l of model.recurrentLayers()) {
    const shape = [l.numLayers * l.numDirections, B, l.hiddenSize], n = shape[0] * B * l.hiddenSize;
    const h = rng.uniformArray(n, -0.5, 0.5), c = rng.uniformArray(n, -0.5, 0.5);
    const ht = ctx.tensor(h, shape, 'h0'), ct = ctx.tensor(c, shape, 'c0');
    owned.push(ht, ct);
    l.setInitialState(l.cell === 'lstm' ? { h: ht, c: ct } : { h: ht });
    initialStates[l.name] = l.cell === 'lstm' ? { h: Float64Array.from(h), c: Float64Array.from(c) } : { h: Float64Array.from(h) };
  }
  await withVariant(ctx, s.variant, async () => { model.computeGradients(batch, { training: false }); });
  const loss = await model.readLoss();
  const params: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(await stateDict(model))) params[k] = Float64Array.from(v.data);
  const ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'softmax_cross_entropy', initialStates);
  expectClose(`${name} loss`, [loss], [ref.loss], MODEL_TOL);
  for (const [key, p] of model.namedParameters()) expectClose(`${name} d${key}`, await ctx.read(p.grad!), ref.grads[key], { ...MODEL_TOL, shape: p.shape });
  for (const l of model.recurrentLayers() as Recurrent[]) {
    const g = l.initialStateGrad!;
    expectClose(`${name} ${l.name} dh0`, await ctx.read(g.h), ref.initialStateGrads[l.name].h, MODEL_TOL);
    if (g.c) expectClose(`${name} ${l.name} dc0`, await ctx.read(g.c), ref.initialStateGrads[l.name].c!, MODEL_TOL);
  }
  for (const t of owned) t.release();
  model.dispose();
}

const MODELS: Record<string, () => Layer[]> = {
  'embedding → 2-layer bidirectional LSTM (peepholes, hard_sigmoid, relu) → dense': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new LSTM({ hiddenSize: 5, numLayers: 2, bidirectional: true, peepholes: true, recurrentActivation: 'hard_sigmoid', activation: 'relu' }),
    new Dense({ units: 11 }),
  ],
  'embedding → 2-layer bidirectional GRU (resetAfter false, hard_sigmoid) → dense': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new GRU({ hiddenSize: 5, numLayers: 2, bidirectional: true, resetAfter: false, recurrentActivation: 'hard_sigmoid' }),
    new Dense({ units: 11 }),
  ],
  'embedding → GRU (resetAfter false, relu) → GRU (resetAfter false) → dense': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }), new GRU({ hiddenSize: 7, resetAfter: false, activation: 'relu' }),
    new GRU({ hiddenSize: 4, resetAfter: false }), new Dense({ units: 11 }),
  ],
  'embedding → 2-layer bidirectional GRU (linear, hard_sigmoid) → dense': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new GRU({ hiddenSize: 5, numLayers: 2, bidirectional: true, activation: 'linear', recurrentActivation: 'hard_sigmoid' }),
    new Dense({ units: 11 }),
  ],
};

for (const [name, layers] of Object.entries(MODELS)) {
  for (const s of SCHEDULES) {
    test(`model ${name}, ${s.name}: gradients of every parameter and initial state = CPU model (lengths [4, 2, 1])`, async () => {
      await compareModel(`${name} (${s.name})`, layers, s, 13);
    });
  }
}

// ------------------------------------------------------------------ generation

const GENERATORS: Record<string, () => Layer[]> = {
  'Embedding → LSTM (peepholes, hard_sigmoid) → GRU (resetAfter false, relu, hard_sigmoid) → LSTM (sigmoid cell activation) → Dense': () => [
    new Embedding({ numEmbeddings: 13, embeddingDim: 5 }), new LSTM({ hiddenSize: 9, peepholes: true, recurrentActivation: 'hard_sigmoid' }),
    new GRU({ hiddenSize: 7, activation: 'relu', recurrentActivation: 'hard_sigmoid', resetAfter: false }),
    new LSTM({ hiddenSize: 6, activation: 'sigmoid' }), new Dense({ units: 13 }),
  ],
};

for (const [name, layers] of Object.entries(GENERATORS)) {
  test(`generation of ${name}: the GPU loop's logits = the model's forward = the CPU generator`, async () => {
    const ctx = await gpu();
    const model = new Sequential(layers(), { seed: 37 }).build(ctx);
    const spec = generatorSpecOf(model);
    if (typeof spec === 'string') throw new Error(spec);
    const g = packGenerator(ctx, spec);
    const prime = [1, 2, 3], N = 10, V = model.output.size;
    const out = await runGenerator(ctx, g, { prime, length: N, seed: 5, recordLogits: true });
    const all = Int32Array.from([...prime, ...out.tokens[0]]);
    const pred = await model.predict({ x: all.slice(0, -1), shape: [1, all.length - 1] });
    // f32 on both sides, different summation orders (as test/generate.test.ts).
    expectClose(`${name} vs forward`, out.logits!, pred.data.subarray((prime.length - 1) * V), { atol: 2e-5, rtol: 1e-4 });
    const sd = await stateDict(model);
    const w = (k: string) => sd[k].data;
    const cpuSpec: CpuGeneratorSpec = {
      input: { embedding: w('embedding.weight'), vocab: 13, dim: 5 },
      layers: model.recurrentLayers().map((l) => ({
        cell: l.cell as 'lstm' | 'gru', hiddenSize: l.hiddenSize,
        weight_ih: w(`${l.name}.weight_ih_l0`), weight_hh: w(`${l.name}.weight_hh_l0`), bias_ih: w(`${l.name}.bias_ih_l0`), bias_hh: w(`${l.name}.bias_hh_l0`),
        ...(l.peepholes ? { weight_peephole: w(`${l.name}.weight_peephole_l0`) } : {}),
        options: { activation: l.activation, recurrentActivation: l.recurrentActivation, resetAfter: l.resetAfter },
      })),
      head: { weight: w('dense.weight'), bias: w('dense.bias'), V },
    };
    const forced = cpuGenerate(cpuSpec, { prime, length: N, seed: 5, forced: out.tokens });
    expectClose(`${name} vs CPU`, out.logits!, forced.logits, { atol: 3e-5, rtol: 1e-4 }); // as test/generate.test.ts
    g.release();
    model.dispose();
  });
}

test.run();
