// Settings live on the context (src/runtime/settings.ts): two models on two contexts with opposite
// settings train side by side in one process, each matching the float64 CPU reference; every
// setting is checked before any is applied; adapter facts and tuned choices belong to a context.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createContext, type GpuContext } from '../src/node.ts';
import { Dense, Embedding, GRU, LSTM, Sequential, type Batch } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import { Rng } from '../src/cpu/random.ts';
import { DEFAULT_SETTINGS, type ContextSettings } from '../src/runtime/settings.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('settings');
const V = 11, B = 4, T = 5, LR = 0.1;
// f32 GPU vs float64 CPU through an embedding, LSTM, GRU, dense head and the loss (as in
// test/model.test.ts): per-op rounding compounds over T steps and two layers.
const TOL = { atol: 2e-4, rtol: 2e-3 };

function batch(seed: number): Batch {
  const rng = new Rng(seed);
  return { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths: Int32Array.from([5, 3, 1, 4]) };
}

function model(ctx: GpuContext): Sequential {
  const layers = [new Embedding({ numEmbeddings: V, embeddingDim: 6 }), new LSTM({ hiddenSize: 7 }), new GRU({ hiddenSize: 5 }), new Dense({ units: V })];
  const m = new Sequential(layers, { seed: 7 }).build(ctx);
  m.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: LR }) });
  return m;
}

/** Records the kernel names `ctx` dispatches (to show which settings took effect). */
function spyKernels(ctx: GpuContext): Set<string> {
  const names = new Set<string>();
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (name, args) => { names.add(name); dispatch(name, args); };
  return names;
}

test('two models on two contexts with different settings train side by side, each matching the CPU reference', async () => {
  const ctxA = await gpu();
  const ctxB = await createContext();
  const beforeA = ctxA.settings;
  const kernelsA = spyKernels(ctxA), kernelsB = spyKernels(ctxB);
  const a = model(ctxA), b = model(ctxB);
  try {
    ctxA.configure({ recurrentSchedule: 'step', stepVariant: 'plain', matmulVariant: 'tiled' });
    ctxB.configure({ recurrentSchedule: 'sequence', stepVariant: 'blocked', matmulVariant: 'register', sequenceRows: 2 });
    assert.is(ctxB.settings.recurrentSchedule, 'sequence', 'configure on one context');
    assert.is(ctxA.settings.recurrentSchedule, 'step', 'leaves the other as it was configured');
    for (let step = 0; step < 3; step++) {
      const data = batch(20 + step);
      // The float64 reference from each model's weights before this step (the same seed: equal).
      const refs = await Promise.all([a, b].map(async (m) => {
        const params: Record<string, Float64Array> = {};
        for (const [k, v] of Object.entries(await stateDict(m))) params[k] = Float64Array.from(v.data);
        return { params, ref: cpuModelForwardBackward(m.layers.map((l) => l.config() as CpuLayerConfig), params, data, 'softmax_cross_entropy') };
      }));
      // Both steps in flight at once, one per context.
      const results = await Promise.all([a.trainStep(data, { readLoss: true }), b.trainStep(data, { readLoss: true })]);
      for (const [i, m] of [a, b].entries()) {
        const { params, ref } = refs[i], what = `model ${'AB'[i]}, step ${step}`;
        expectClose(`${what} loss`, [results[i].loss!], [ref.loss], TOL);
        for (const [name, p] of m.namedParameters()) {
          expectClose(`${what} d${name}`, await m.context.read(p.grad!), ref.grads[name], { ...TOL, shape: p.shape });
          const want = params[name].map((w, j) => w - LR * ref.grads[name][j]);
          expectClose(`${what} ${name} after SGD`, await m.context.read(p.value!), want, { ...TOL, shape: p.shape });
        }
      }
    }
    // Each context ran what its own settings name, and nothing of the other's.
    const has = (s: Set<string>, re: RegExp) => [...s].some((k) => re.test(k));
    assert.ok(has(kernelsA, /^lstm_step_forward/) && has(kernelsA, /^gru_step_forward/) && has(kernelsA, /^matmul_tiled$/), `A ran ${[...kernelsA]}`);
    assert.not.ok(has(kernelsA, /_seq_|_blocked$|^matmul_register$/), `A ran ${[...kernelsA]}`);
    assert.ok(has(kernelsB, /^lstm_seq_forward$/) && has(kernelsB, /^gru_seq_forward$/) && has(kernelsB, /^matmul_register$/), `B ran ${[...kernelsB]}`);
    assert.not.ok(has(kernelsB, /^(lstm|gru)_step_(forward|backward)$|^matmul_tiled$/), `B ran ${[...kernelsB]}`);
  } finally {
    a.dispose();
    b.dispose();
    ctxA.configure(beforeA);
    delete (ctxA as { dispatch?: unknown }).dispatch; // back to the prototype's method
    await ctxB.close();
  }
});

test('a layer schedule option wins over the context setting', async () => {
  const ctx = await gpu();
  const before = ctx.configure({ recurrentSchedule: 'sequence' });
  const kernels = spyKernels(ctx);
  const layers = [new Embedding({ numEmbeddings: V, embeddingDim: 6 }), new LSTM({ hiddenSize: 7, schedule: 'step' }), new GRU({ hiddenSize: 5 }), new Dense({ units: V })];
  const m = new Sequential(layers, { seed: 7 }).build(ctx);
  try {
    m.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: LR }) });
    await m.trainStep(batch(30));
    const has = (re: RegExp) => [...kernels].some((k) => re.test(k));
    assert.ok(has(/^lstm_step_forward/) && !has(/^lstm_seq_forward/), `the LSTM follows its own option; ran ${[...kernels]}`);
    assert.ok(has(/^gru_seq_forward/) && !has(/^gru_step_forward/), `the GRU follows the context; ran ${[...kernels]}`);
  } finally {
    m.dispose();
    ctx.configure(before);
    delete (ctx as { dispatch?: unknown }).dispatch;
  }
});

test('settings: defaults, configure returns the previous settings, read-only', async () => {
  const ctx = await gpu();
  assert.equal({ ...ctx.settings }, { ...DEFAULT_SETTINGS });
  const before = ctx.configure({ sequenceRows: 3 });
  assert.equal({ ...before }, { ...DEFAULT_SETTINGS });
  assert.is(ctx.settings.sequenceRows, 3);
  assert.is(ctx.settings.recurrentSchedule, 'auto', 'keys not named keep their values');
  assert.ok(Object.isFrozen(ctx.settings), 'settings change only through configure');
  ctx.configure({ sequenceRows: undefined });
  assert.is(ctx.settings.sequenceRows, 3, 'an undefined value changes nothing');
  ctx.configure(before);
  assert.equal({ ...ctx.settings }, { ...DEFAULT_SETTINGS });
});

test('configure refuses bad settings, naming the setting, the value and what is allowed, and applies none', async () => {
  const ctx = await gpu();
  const cases: [unknown, RegExp, RegExp][] = [
    [{ recurrentSchedule: 'fast' }, /setting recurrentSchedule must be one of/, /'step', 'sequence', 'auto', got the string "fast"/],
    [{ stepVariant: 'tiled' }, /setting stepVariant must be one of/, /'plain', 'blocked', got the string "tiled"/],
    [{ matmulVariant: 2 }, /setting matmulVariant must be one of/, /'tiled', 'register', got 2/],
    [{ sequenceRows: 0 }, /setting sequenceRows/, /'auto' or an integer in \[1, 1024\], got 0/],
    [{ sequenceRows: 1.5 }, /setting sequenceRows/, /integer in \[1, 1024\], got 1\.5/],
    [{ sequenceRows: '4' }, /setting sequenceRows/, /got the string "4"/],
    [{ sequenceRow: 4 }, /unknown setting "sequenceRow" \(did you mean sequenceRows\?\)/, /the settings are recurrentSchedule, stepVariant, matmulVariant, sequenceRows/],
    ['step', /configure: expected a settings object/, /got the string "step"/],
    [null, /configure: expected a settings object like \{ recurrentSchedule: 'step' \}/, /got null/],
    // A good key beside a bad one: neither applies.
    [{ recurrentSchedule: 'step', stepVariant: 'fast' }, /setting stepVariant/, /got the string "fast"/],
  ];
  for (const [bad, what, expected] of cases) {
    expectThrows(() => ctx.configure(bad as Partial<ContextSettings>), what, expected);
    assert.equal({ ...ctx.settings }, { ...DEFAULT_SETTINGS }, `after ${JSON.stringify(bad)}`);
  }
  // With a model on the context: nothing recorded or submitted, the model untouched, a step works after.
  const m = model(ctx);
  try {
    await expectRejectedCleanly(m, () => ctx.configure({ matmulVariant: 'simd' as 'tiled' }), [/setting matmulVariant/, /'tiled', 'register'/], batch(40));
  } finally {
    m.dispose();
  }
});

test('adapter facts are worked out once per context; tuned choices belong to their context', async () => {
  const ctx = await gpu();
  const facts = ctx.adapterFacts;
  assert.ok(Object.isFrozen(facts));
  assert.is(typeof facts.isCpu, 'boolean');
  assert.is(typeof facts.isFallback, 'boolean');
  assert.is(facts.vendor, ctx.adapterInfo.vendor);
  if (/llvmpipe|lavapipe|swiftshader/i.test(`${ctx.describe()} ${ctx.adapterInfo.device}`)) assert.ok(facts.isCpu, ctx.describe());
  assert.is(ctx.adapterFacts, facts, 'the same object every time');

  const other = await createContext();
  try {
    ctx.tuned.set('lstm', { B: 2, T: 3, H: 4 }, 'sequence');
    assert.is(other.tuned.get('lstm', { B: 2, T: 3, H: 4 }), undefined, 'another context has its own choices');
    other.tuned.import(ctx.tuned.export());
    assert.is(other.tuned.get('lstm', { B: 2, T: 3, H: 4 }), 'sequence', 'export/import carries them over');
    assert.is(other.tuned.getVariant('lstm', { B: 2, T: 3, H: 4 }), undefined, 'no sequence variant was measured');
    ctx.tuned.setVariant('lstm', { B: 2, T: 3, H: 4 }, 'resident');
    assert.is(other.tuned.getVariant('lstm', { B: 2, T: 3, H: 4 }), undefined, 'variants are per context too');
    other.tuned.import(ctx.tuned.export());
    assert.is(other.tuned.getVariant('lstm', { B: 2, T: 3, H: 4 }), 'resident', 'export/import carries the measured variant');
    assert.is(other.tuned.get('lstm', { B: 2, T: 3, H: 4 }), 'sequence');
    other.tuned.import(JSON.stringify({ [`${other.describe()}|gru|1|2|3`]: 'step' }));   // an export written before variants existed
    assert.is(other.tuned.get('gru', { B: 1, T: 2, H: 3 }), 'step');
    expectThrows(() => other.tuned.import(JSON.stringify({ 'a|lstm|1|2|3': 'sequence/fast' })), /ctx\.tuned\.import: bad entry/, /'\/streamed' or '\/resident'/);
    expectThrows(() => other.tuned.setVariant('lstm', { B: 2, T: 3, H: 4 }, 'fast' as 'resident'), /ctx\.tuned\.setVariant/, /'streamed' or 'resident'/);
    expectThrows(() => other.tuned.import('not json'), /ctx\.tuned\.import/, /expected the JSON that ctx\.tuned\.export\(\) writes/);
    expectThrows(() => other.tuned.import('[1]'), /ctx\.tuned\.import/, /expected a JSON object/, /got an array/);
    expectThrows(() => other.tuned.set('lstm', { B: 0, T: 3, H: 4 }, 'step'), /ctx\.tuned\.set: sizes/, /positive integers/);
  } finally {
    ctx.tuned.clear();
    await other.close();
  }
});

test.run();
