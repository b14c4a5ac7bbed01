// LSTM sequence kernels (all timesteps in one dispatch) against the CPU reference step functions
// (src/cpu/lstm.ts), exactly as test/lstm.test.ts checks the step kernels, at several rows-per-
// workgroup settings (including ones that leave a partial last workgroup).
import { suite } from 'uvu';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import * as seq from '../src/kernels/lstm_seq.ts';
import * as cpu from '../src/cpu/lstm.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { randomCase, runCpu, type Case, type CpuResult, type GpuResult } from './helpers/lstm_case.ts';
import { Dense, Embedding, LSTM, Sequential, type RecurrentSchedule } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';

const test = suite('lstm_seq');


/** The sequence kernels; outputs start as a sentinel so that an element never written shows up. */
async function runGpu(ctx: GpuContext, c: Case, opts: seq.SeqOptions): Promise<GpuResult> {
  const { B, T, H } = c, G = 4 * H;
  const junk = (shape: number[], name: string) => ctx.tensor(new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(12345), shape, name);
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T) => { made.push(t); return t; };
  const f = {
    gx: keep(ctx.tensor(c.gx, [B, T, G], 'gx')), whh: keep(ctx.tensor(c.whh, [G, H], 'whh')), bhh: keep(ctx.tensor(c.bhh, [G], 'bhh')),
    h0: keep(ctx.tensor(c.h0, [B, H], 'h0')), c0: keep(ctx.tensor(c.c0, [B, H], 'c0')), lengths: keep(ctx.tensor(c.lengths, [B], 'lengths')),
    hs: keep(junk([B, T, H], 'hs')), cs: keep(junk([B, T, H], 'cs')), gates: keep(junk([B, T, G], 'gates')),
    hn: keep(junk([B, H], 'hn')), cn: keep(junk([B, H], 'cn')),
  };
  const b = {
    dhs: keep(ctx.tensor(c.dhs, [B, T, H], 'dhs')), dhn: keep(ctx.tensor(c.dhn, [B, H], 'dhn')), dcn: keep(ctx.tensor(c.dcn, [B, H], 'dcn')),
    gates: f.gates, cs: f.cs, c0: f.c0, whh: f.whh, lengths: f.lengths,
    dgates: keep(junk([B, T, G], 'dgates')), dcCarry: keep(junk([B, H], 'dcCarry')),
    dh0: keep(junk([B, H], 'dh0')), dc0: keep(junk([B, H], 'dc0')),
  };
  const before = ctx.dispatchCount;
  seq.lstmForwardFused(ctx, f, opts);
  seq.lstmBackwardFused(ctx, b, opts);
  // One sequence dispatch + the final-state gather; one backward sequence dispatch + the initial-state entry.
  if (ctx.dispatchCount - before !== 4) throw new Error(`${ctx.dispatchCount - before} dispatches, expected 4`);
  const out = {
    hs: await ctx.read(f.hs), cs: await ctx.read(f.cs), gates: await ctx.read(f.gates), hn: await ctx.read(f.hn), cn: await ctx.read(f.cn),
    dgates: await ctx.read(b.dgates), dcCarry: await ctx.read(b.dcCarry), dh0: await ctx.read(b.dh0), dc0: await ctx.read(b.dc0),
  } as GpuResult;
  for (const t of made) t.release();
  return out;
}

function compareAll(c: Case, g: GpuResult, want: CpuResult, fwd: { atol: number; rtol: number }, bwd: { atol: number; rtol: number }): void {
  const { B, T, H } = c, G = 4 * H;
  expectClose('hs', g.hs, want.hs, { ...fwd, shape: [B, T, H] });
  expectClose('cs', g.cs, want.cs, { ...fwd, shape: [B, T, H] });
  expectClose('gates', g.gates, want.gates, { ...fwd, shape: [B, T, G] });
  expectClose('hn', g.hn, want.hn, { ...fwd, shape: [B, H] });
  expectClose('cn', g.cn, want.cn, { ...fwd, shape: [B, H] });
  expectClose('dgates', g.dgates, want.dgates, { ...bwd, shape: [B, T, G] });
  expectClose('dcCarry', g.dcCarry, want.dcCarry, { ...bwd, shape: [B, H] });
  expectClose('dh0', g.dh0, want.dh0, { ...bwd, shape: [B, H] });
  expectClose('dc0', g.dc0, want.dc0, { ...bwd, shape: [B, H] });
}

function expectMasked(c: Case, g: GpuResult): void {
  const { B, T, H } = c, G = 4 * H;
  for (let b = 0; b < B; b++) {
    for (let t = c.lengths[b]; t < T; t++) {
      for (let j = 0; j < H; j++) {
        if (g.hs[(b * T + t) * H + j] !== 0 || g.cs[(b * T + t) * H + j] !== 0) throw new Error(`hs/cs[${b},${t},${j}] not zero past length`);
      }
      for (let r = 0; r < G; r++) {
        if (g.gates[(b * T + t) * G + r] !== 0 || g.dgates[(b * T + t) * G + r] !== 0) throw new Error(`gates/dgates[${b},${t},${r}] not zero past length`);
      }
    }
  }
}

// Same reasoning as test/lstm.test.ts: f32 vs float64, sums of up to H (forward) or 4H (backward)
// products per element compounding over T steps; the sequence kernel sums in the same order as
// the step kernel, so the step kernels' tolerances apply unchanged.
const FWD = { atol: 2e-6, rtol: 1e-5 };
const BWD = { atol: 5e-6, rtol: 1e-4 };

for (const rowsPerWorkgroup of [1, 2, 3]) {
  test(`B=3, H=37, I=7, T=5, lengths [5,2,1], ${rowsPerWorkgroup} row(s) per workgroup`, async () => {
    const ctx = await gpu();
    const c = randomCase(1, 3, 5, 37, 7, [5, 2, 1]);
    const g = await runGpu(ctx, c, { rowsPerWorkgroup });
    compareAll(c, g, runCpu(c), FWD, BWD);
    expectMasked(c, g);
  });
}

test('B=5, H=300 (more units than invocations: each loops over units), T=4, 2 rows per workgroup', async () => {
  const ctx = await gpu();
  const c = randomCase(4, 5, 4, 300, 3, [4, 1, 3, 2, 4]);
  const g = await runGpu(ctx, c, { rowsPerWorkgroup: 2 });
  compareAll(c, g, runCpu(c), FWD, BWD);
  expectMasked(c, g);
});

test('B=64, H=128, I=32, T=6, mixed lengths, default rows per workgroup and 4', async () => {
  const ctx = await gpu();
  const rng = new Rng(2);
  const lengths = Array.from({ length: 64 }, (_, b) => (b < 6 ? b + 1 : 1 + rng.int(6)));
  const c = randomCase(2, 64, 6, 128, 32, lengths);
  const want = runCpu(c);
  for (const opts of [{}, { rowsPerWorkgroup: 4 }]) {
    const g = await runGpu(ctx, c, opts);
    compareAll(c, g, want, FWD, BWD);
    expectMasked(c, g);
  }
});

test('saturated gates (pre-activations ±110..±250) give exact, finite results', async () => {
  const ctx = await gpu();
  const B = 3, T = 4, H = 37, G = 4 * H;
  const rng = new Rng(9);
  const c = randomCase(9, B, T, H, 5, [4, 3, 1]);
  for (let n = 0; n < c.gx.length; n++) c.gx[n] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(150, 250);
  c.whh = rng.uniformArray(G * H, -1, 1);
  const g = await runGpu(ctx, c, { rowsPerWorkgroup: 2 });
  // Every gate is 0, 1 or ±1 to within exp(-112): f32 and float64 agree to rounding of c (|c| <= 5).
  compareAll(c, g, runCpu(c), { atol: 1e-6, rtol: 1e-6 }, { atol: 1e-6, rtol: 1e-5 });
  for (const [name, arr] of Object.entries(g)) if (!arr.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
});

test('bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 4 * H;
  const made: Tensor[] = [];
  const z = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'z') => { const t = ctx.zeros(shape, dtype, name); made.push(t); return t; };
  const lengths = ctx.tensor(new Int32Array([T, 1]), [B], 'lengths'); made.push(lengths);
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), c0: z([B, H], 'f32', 'c0'),
    lengths, hs: z([B, T, H], 'f32', 'hs'), cs: z([B, T, H], 'f32', 'cs'), gates: z([B, T, G], 'f32', 'gates'),
    hn: z([B, H], 'f32', 'hn'), cn: z([B, H], 'f32', 'cn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), dcn: z([B, H], 'f32', 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0,
    whh: f.whh, lengths, dgates: z([B, T, G], 'f32', 'dgates'), dcCarry: z([B, H], 'f32', 'dcCarry'),
    dh0: z([B, H], 'f32', 'dh0'), dc0: z([B, H], 'f32', 'dc0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = seq.lstmForwardFused, S = seq.lstmBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'lstmForwardFused', 'gx (flat)', '(6, 20)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'lstmForwardFused', 'whh (w6)', 'expected (4*H, H) = (24, 6)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'lstmForwardFused', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, cn: z([B], 'f32', 'cn1') }), 'cn (cn1)', 'expected (2, 5)');
  expectThrows(() => F(ctx, { ...f, cs: f.hs }), 'lstmForwardFused', 'cs and hs must be different tensors');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'lstmForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'lstmBackwardFused', 'dgates (dg5)', 'expected (*, *, 20)');
  expectThrows(() => S(ctx, { ...b, dcn: z([B, H + 1], 'f32', 'dcn6') }), 'lstmBackwardFused', 'dcn (dcn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, { ...b, dc0: z([B, H], 'i32', 'dc0i') }), 'lstmBackwardFused', 'dc0 (dc0i)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dgates: b.gates }), 'lstmBackwardFused', 'dgates and gates must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 1.5 }), 'lstmBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose backward buffers cannot fit in workgroup memory is refused (and reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 32) + 1;
  if (seq.lstmFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!seq.lstmFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f);
  S(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  for (const t of made) t.release();
});

// ---------------------------------------------------------------- the model layer

/** Gradients of every parameter and the initial-state gradients of an embedding → 2-layer bidirectional LSTM → dense model. */
async function modelGradients(ctx: GpuContext, layerSchedule: RecurrentSchedule | undefined): Promise<Map<string, Float32Array>> {
  const lstm = new LSTM({ hiddenSize: 37, numLayers: 2, bidirectional: true, schedule: layerSchedule });
  const model = new Sequential([new Embedding({ numEmbeddings: 13, embeddingDim: 7 }), lstm, new Dense({ units: 13 })], { seed: 5 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const rng = new Rng(6);
  const B = 3, T = 5;
  model.computeGradients({ x: rng.intArray(B * T, 13), shape: [B, T], y: rng.intArray(B * T, 13), lengths: Int32Array.from([5, 2, 1]) }, { training: false });
  const out = new Map<string, Float32Array>();
  out.set('loss', Float32Array.of(await model.readLoss()));
  for (const [name, p] of model.namedParameters()) out.set(`d${name}`, await ctx.read(p.grad!));
  out.set('dh0', await ctx.read(lstm.initialStateGrad!.h));
  out.set('dc0', await ctx.read(lstm.initialStateGrad!.c!));
  model.dispose();
  return out;
}

test('model: step and sequence schedules give the same loss and gradients (per-layer option and context setting)', async () => {
  const ctx = await gpu();
  const before = ctx.settings;
  try {
    const step = await modelGradients(ctx, 'step');
    const perLayer = await modelGradients(ctx, 'sequence');
    ctx.configure({ recurrentSchedule: 'sequence' });
    const global = await modelGradients(ctx, undefined);
    // Both schedules evaluate the same expressions in the same summation order; only the place
    // h_prev / dgates[t+1] are read from differs (workgroup memory vs storage). Allow a few ulps in
    // case the compiler contracts differently.
    const tol = { atol: 1e-6, rtol: 1e-5 };
    for (const [name, want] of step) {
      expectClose(`${name} (layer option)`, perLayer.get(name)!, want, tol);
      expectClose(`${name} (context setting)`, global.get(name)!, want, tol);
    }
    if (!step.get('dlstm.weight_hh_l1_reverse')!.some((v) => Math.abs(v) > 1e-4)) throw new Error('dweight_hh_l1_reverse is (almost) zero: the comparison would be vacuous');
    expectThrows(() => ctx.configure({ recurrentSchedule: 'fast' as RecurrentSchedule }), 'configure', 'recurrentSchedule', 'fast', "'step', 'sequence', 'auto'");
    expectThrows(() => new LSTM({ hiddenSize: 4, schedule: 'fast' as RecurrentSchedule }), 'schedule must be', 'fast');
  } finally {
    ctx.configure(before);
  }
});

test.run();
