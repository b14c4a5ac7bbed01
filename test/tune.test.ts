// Schedule choice by measurement (src/train/tune.ts, src/runtime/tuned.ts): the measured winner is
// recorded on the context (ctx.tuned, and the sequence variant beside it) per adapter, cell and
// (B, T, H) and used by layers on 'auto'; every schedule and variant stays exact.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dense, GRU, LSTM, OneHot, Sequential } from '../src/nn/index.ts';
import { tuneSchedule } from '../src/train/tune.ts';
import { fit } from '../src/train/fit.ts';
import { SGD } from '../src/train/optimizers.ts';
import { Rng } from '../src/cpu/random.ts';
import type { Batch } from '../src/nn/model.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('tune');
const V = 7, B = 3, T = 6;

async function model(seed = 1) {
  const ctx = await gpu();
  const m = new Sequential([new OneHot(V), new LSTM({ hiddenSize: 8 }), new GRU({ hiddenSize: 5, schedule: 'step' }), new Dense({ units: V })], { seed }).build(ctx);
  m.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  return { ctx, m };
}

function batch(seed = 3): Batch {
  const rng = new Rng(seed);
  return { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V) };
}

/** Dispatches recorded by one forward + backward, and the loss it gives. */
async function run(m: Sequential, b: Batch) {
  const ctx = m.context;
  const before = ctx.dispatchCount;
  const loss = await m.evaluate(b);
  return { dispatches: ctx.dispatchCount - before, loss };
}

test('tuneSchedule times the step schedule and the sequence variants (subgroup where the adapter has subgroups), records the fastest, restores layer and context settings', async () => {
  (await gpu()).tuned.clear();
  const { ctx, m } = await model();
  const settings = ctx.settings;
  const r = await tuneSchedule(m, batch(), { reps: 1 });
  assert.equal(r.timings.map((t) => [t.schedule, t.variant]), [['step', undefined], ['sequence', 'streamed'], ['sequence', 'resident'], ['sequence', 'subgroup']]);
  // 'subgroup' is measured where the adapter has subgroups; elsewhere it has a note and no time.
  const hasSubgroups = ctx.features.has('subgroups');
  for (const t of r.timings) {
    if (t.variant === 'subgroup' && !hasSubgroups) assert.ok(t.ms === null && /lacks the WebGPU feature 'subgroups'/.test(t.note ?? ''), `subgroup: ${t.ms} ${t.note}`);
    else assert.ok(t.ms !== null && t.ms > 0, `${t.schedule} ${t.variant}: ${t.ms}`);
  }
  const best = r.timings.filter((t) => t.ms !== null).reduce((a, b) => (b.ms! < a.ms! ? b : a));
  assert.is(r.choice, best.schedule);
  assert.is(r.variant, best.variant);
  assert.is(ctx.tuned.get('lstm', { B, T, H: 8 }), best.schedule);
  assert.is(ctx.tuned.get('gru', { B, T, H: 5 }), best.schedule);
  assert.is(ctx.tuned.getVariant('lstm', { B, T, H: 8 }), best.variant);
  assert.equal(ctx.settings, settings, 'the context settings are restored');
  assert.is(ctx.tuned.get('lstm', { B: B + 1, T, H: 8 }), undefined, 'other sizes are not measured');
  const [lstm, gru] = m.recurrentLayers();
  assert.is(lstm.schedule, undefined);
  assert.is(gru.schedule, 'step');
  m.dispose();
  ctx.tuned.clear();
});

test("a recorded choice drives 'auto' (fewer dispatches under 'sequence'), with the same loss", async () => {
  (await gpu()).tuned.clear();
  const { ctx, m } = await model(2);
  const b = batch(4);
  ctx.tuned.set('lstm', { B, T, H: 8 }, 'step');
  const step = await run(m, b);
  ctx.tuned.set('lstm', { B, T, H: 8 }, 'sequence');
  const seq = await run(m, b);
  // The LSTM's forward is ≥ T step dispatches or 2 sequence dispatches; the GRU keeps its own 'step'.
  assert.ok(step.dispatches - seq.dispatches >= T - 2, `step ${step.dispatches}, sequence ${seq.dispatches} dispatches`);
  // Same equations, same summation order: equal up to f32 contraction differences.
  expectClose('loss', [seq.loss], [step.loss], { atol: 1e-6, rtol: 1e-6 });
  m.dispose();
  ctx.tuned.clear();
});

/** The kernels one forward + backward of `m` on `b` dispatches. */
async function kernelsOf(m: Sequential, b: Batch): Promise<{ kernels: Set<string>; loss: number }> {
  const ctx = m.context, kernels = new Set<string>(), dispatch = ctx.dispatch;
  ctx.dispatch = (name, ...rest) => { kernels.add(name); return dispatch.call(ctx, name, ...rest); };
  try { m.computeGradients(b, { training: false }); } finally { ctx.dispatch = dispatch; }
  return { kernels, loss: await m.readLoss() };
}

test("a measured sequence variant drives the 'auto' variant (resident or streamed kernels), with the same loss; a setting overrides it", async () => {
  (await gpu()).tuned.clear();
  const { ctx, m } = await model(3);
  const b = batch(5);
  const d = { B, T, H: 8 };
  ctx.tuned.set('lstm', d, 'sequence');
  ctx.tuned.setVariant('lstm', d, 'resident');
  const resident = await kernelsOf(m, b);
  assert.ok(resident.kernels.has('lstm_res160_forward') && resident.kernels.has('lstm_res160_backward'), [...resident.kernels].join(', '));
  ctx.tuned.setVariant('lstm', d, 'streamed');
  const streamed = await kernelsOf(m, b);
  assert.ok(streamed.kernels.has('lstm_seq_forward') && !streamed.kernels.has('lstm_res160_forward'), [...streamed.kernels].join(', '));
  const prev = ctx.configure({ sequenceVariant: 'resident' });
  try {
    assert.ok((await kernelsOf(m, b)).kernels.has('lstm_res160_backward'), "the setting 'resident' wins over the measured 'streamed'");
  } finally { ctx.configure(prev); }
  // Same summation order in both variants: the same loss, bit for bit.
  assert.is(resident.loss, streamed.loss);
  m.dispose();
  ctx.tuned.clear();
});

test('tuneSchedule: where W_hh does not fit the resident kernel, that timing is null with a note naming the layer', async () => {
  const ctx = await gpu();
  ctx.tuned.clear();
  const m = new Sequential([new OneHot(V), new LSTM({ hiddenSize: 130 }), new Dense({ units: V })], { seed: 1 }).build(ctx);
  m.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const r = await tuneSchedule(m, { ...batch(), shape: [B, 2], x: batch().x.slice(0, 2 * B), y: (batch().y as Int32Array).slice(0, 2 * B) }, { reps: 1 });
  const res = r.timings.find((t) => t.variant === 'resident')!;
  assert.is(res.ms, null);
  assert.match(res.note!, /layer "lstm\w*": W_hh \(520, 130\) does not fit the resident kernel/);
  assert.ok(r.variant !== 'resident');
  m.dispose();
  ctx.tuned.clear();
});

test('tuned choices export and import as JSON; bad entries are refused', async () => {
  (await gpu()).tuned.clear();
  const ctx = await gpu();
  ctx.tuned.set('gru', { B: 2, T: 3, H: 4 }, 'sequence');
  const json = ctx.tuned.export();
  ctx.tuned.clear();
  assert.is(ctx.tuned.get('gru', { B: 2, T: 3, H: 4 }), undefined);
  ctx.tuned.import(json);
  assert.is(ctx.tuned.get('gru', { B: 2, T: 3, H: 4 }), 'sequence');
  expectThrows(() => ctx.tuned.import('{"x|lstm|1|2|3": "fast"}'), /ctx\.tuned\.import: bad entry/, /expected "adapter\|cell\|B\|T\|H": 'step' or 'sequence'/);
  expectThrows(() => ctx.tuned.set('gru', { B: 2, T: 3, H: 4 }, 'auto' as 'step'), /schedule must be 'step' or 'sequence'/, /"auto"/);
  ctx.tuned.clear();
});

test('fit tunes on the first batch when asked, not by default on a CPU adapter', async () => {
  (await gpu()).tuned.clear();
  const { ctx, m } = await model(5);
  const batches = () => [batch(6), batch(7)];
  let tuned = 0;
  await fit(m, { epochs: 1, trainBatches: batches, progress: false, onTune: () => { tuned++; } });
  assert.is(tuned, 0, "'auto' does not measure on lavapipe / SwiftShader / llvmpipe");
  await fit(m, { epochs: 2, trainBatches: batches, progress: false, tune: true, onTune: (r) => { tuned++; assert.is(r.timings.length, 4); } });
  assert.is(tuned, 1, 'once, before the first epoch');
  assert.ok(ctx.tuned.get('lstm', { B, T, H: 8 }));
  await fit(m, { epochs: 1, trainBatches: batches, progress: false, tune: true, onTune: () => { tuned++; } });
  assert.is(tuned, 1, 'sizes measured already are not measured again');
  m.dispose();
  ctx.tuned.clear();
});

test.run();
