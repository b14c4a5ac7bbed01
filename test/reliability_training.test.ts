// Training never poisons a model, and every user error is caught before anything happens.
//  - Bad batches, options, schedules and compile calls: each is rejected with a message naming
//    what was wrong and what was expected, with nothing dispatched or submitted, the model
//    bit-identical (weights, optimizer slots, counters, dropout RNG) and a valid step working after
//    (test/helpers/guard.ts).
//  - Non-finite gradients or losses: the GPU skips the update in the step's own submission; the
//    model stays at its last good step and the next good step equals that of a model that never saw
//    the bad batch, bit for bit. fit stops or skips by policy.
//  - fit takes arrays, iterables, async iterables and functions, and checks its options first.
import { suite } from 'uvu';
import { Dense, Dropout, Embedding, LSTM, Sequential, type Batch } from '../src/nn/index.ts';
import { Adam, SGD, type Optimizer } from '../src/train/optimizers.ts';
import { fit, type FitOptions } from '../src/train/fit.ts';
import { expectRejectedCleanly, expectSameSnapshot, snapshotModel } from './helpers/guard.ts';
import { expectRejects, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('reliability_training');
const B = 2, T = 3, V = 7, I = 3;

/** Embedding 7→4, LSTM 5, Dense 7: token ids in, softmax cross-entropy. */
function tokenModel(seed = 1, o: { stateful?: boolean } = {}): Sequential {
  return new Sequential([
    new Embedding({ numEmbeddings: V, embeddingDim: 4 }),
    new LSTM({ hiddenSize: 5, stateful: o.stateful ?? false }),
    new Dense({ units: V }),
  ], { seed });
}

/** Dense 4, Dropout, LSTM 5, Dense 2 on 3 features: MSE. Huge inputs overflow its gradient. */
function featureModel(seed = 1): Sequential {
  return new Sequential([new Dense({ units: 4 }), new Dropout(0.3), new LSTM({ hiddenSize: 5 }), new Dense({ units: 2 })], { seed });
}

const tokenBatch = (k = 0): Batch => ({
  x: Int32Array.from({ length: B * T }, (_, i) => (i * 3 + k) % V),
  shape: [B, T],
  lengths: Int32Array.of(T, 2),
  y: Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1 + k) % V),
});

const featureBatch = (k = 0): Batch => ({
  x: Float32Array.from({ length: B * T * I }, (_, i) => Math.sin(i + k)),
  shape: [B, T, I],
  y: Float32Array.from({ length: B * T * 2 }, (_, i) => Math.cos(i * 0.7 + k)),
});

// The feature model's first layer, fixed so that a huge first feature overflows exactly one unit:
// unit 0 becomes inf (2·3e38), the others stay finite, so the LSTM saturates (finite loss) while
// its weight gradient meets 0·inf (NaN): a non-finite gradient with a finite loss, on any backend.
const FIRST_DENSE = Float32Array.of(2, 0.1, -0.1, 0.1, 0.2, -0.3, -0.1, 0.3, 0.2, 0.1, -0.2, 0.1);

async function built(make: () => Sequential, loss: 'softmax_cross_entropy' | 'mse', opt: Optimizer = new Adam({ lr: 0.01 }), clipNorm?: number): Promise<Sequential> {
  const ctx = await gpu();
  const m = make().build(ctx, loss === 'mse' ? { kind: 'seq', size: I } : undefined);
  if (loss === 'mse') ctx.write(m.namedParameters()[0][1].value!, FIRST_DENSE);
  m.compile({ loss, optimizer: opt, clipNorm });
  return m;
}

const without = (b: Batch, key: keyof Batch): Batch => { const c = { ...b }; delete c[key]; return c; };
const bad = (b: Batch, patch: Record<string, unknown>): Batch => ({ ...b, ...patch } as Batch);

// ------------------------------------------------------------------ bad batches (token model)

const TOKEN_CASES: [string, (good: Batch) => unknown, (string | RegExp)[]][] = [
  ['batch is null', () => null, [/the batch must be an object/, /got null/]],
  ['batch is a number', () => 5, [/the batch must be an object \{ x, shape/, /got 5/]],
  ['batch is an array', (g) => [g], [/the batch must be an object/, /got an array of 1/]],
  ['a misspelt field', (g) => ({ ...without(g, 'lengths'), length: g.lengths }), [/unknown batch field "length"/, /did you mean lengths\?/, /a batch has x, shape, lengths, y, weights/]],
  ['shape missing', (g) => without(g, 'shape'), [/batch\.shape must be an array \[B, T\]/, /got undefined/]],
  ['shape of rank 3 for token ids', (g) => bad(g, { shape: [B, T, 1] }), [/batch\.shape is \[2, 3, 1\]/, /expected \[B, T\] \(token ids\)/]],
  ['a zero in shape', (g) => bad(g, { shape: [0, T] }), [/batch\.shape is \[0, 3\]/, /positive integers/]],
  ['a fraction in shape', (g) => bad(g, { shape: [1.5, T] }), [/batch\.shape is \[1\.5, 3\]/, /positive integers/]],
  ['a string in shape', (g) => bad(g, { shape: ['2', T] }), [/the string "2"/, /positive integers/]],
  ['x missing', (g) => without(g, 'x'), [/batch\.x is missing/, /Int32Array of token ids \(B·T = 6\)/]],
  ['x as Float32Array of ids', (g) => bad(g, { x: new Float32Array(B * T) }), [/batch\.x must be an Int32Array/, /got a Float32Array/]],
  ['x too short', (g) => bad(g, { x: new Int32Array(5) }), [/batch\.x has 5 values/, /expected token ids \(B·T = 6/]],
  ['a token id past the vocabulary', (g) => bad(g, { x: Int32Array.of(0, 1, 7, 0, 1, 2) }), [/token id 7 at \[0, 2\]/, /outside the vocabulary \[0, 7\)/]],
  ['a negative token id', (g) => bad(g, { x: Int32Array.of(0, 1, 2, -1, 1, 2) }), [/token id -1 at \[1, 0\]/, /\[0, 7\)/]],
  ['a fractional token id in a plain array', (g) => bad(g, { x: [0, 1.5, 2, 3, 4, 5] }), [/batch\.x\[1\] is 1\.5/, /expected an integer/]],
  ['a string token id in a plain array', (g) => bad(g, { x: [0, '1', 2, 3, 4, 5] }), [/batch\.x\[1\] is the string "1"/, /expected an integer/]],
  ['lengths as Float32Array', (g) => bad(g, { lengths: Float32Array.of(3, 2) }), [/batch\.lengths must be an Int32Array of B = 2 lengths/, /got a Float32Array/]],
  ['lengths of the wrong count', (g) => bad(g, { lengths: Int32Array.of(3, 2, 1) }), [/batch\.lengths has 3 values/, /expected B = 2 lengths/]],
  ['a zero length', (g) => bad(g, { lengths: Int32Array.of(3, 0) }), [/batch\.lengths\[1\] = 0 is outside \[1, 3\]/, /expected 1 ≤ length ≤ T = 3/]],
  ['a length past T', (g) => bad(g, { lengths: Int32Array.of(4, 2) }), [/batch\.lengths\[0\] = 4 is outside \[1, 3\]/, /T = 3/]],
  ['a fractional length in a plain array', (g) => bad(g, { lengths: [3, 2.5] }), [/batch\.lengths\[1\] is 2\.5/, /expected an integer/]],
  ['y missing', (g) => without(g, 'y'), [/batch\.y is missing/, /softmax_cross_entropy needs an Int32Array of 6 class ids/]],
  ['y as Float32Array', (g) => bad(g, { y: new Float32Array(B * T) }), [/batch\.y must be an Int32Array/, /got a Float32Array/]],
  ['y too long', (g) => bad(g, { y: new Int32Array(7) }), [/batch\.y has 7 values/, /expected 6 class ids/]],
  ['a class id out of range', (g) => bad(g, { y: Int32Array.of(0, 9, 1, 2, 3, 0) }), [/class id 9 at \[0, 1\]/, /outside \[0, 7\)/]],
  ['a fractional class id in a plain array', (g) => bad(g, { y: [0, 1, 2.5, 3, 4, 5] }), [/batch\.y\[2\] is 2\.5/, /expected an integer/]],
  ['a NaN weight', (g) => bad(g, { weights: Float32Array.of(1, 1, NaN, 1, 1, 0) }), [/batch\.weights\[0, 2\] = NaN is not finite/, /expected finite values/]],
  ['a negative weight', (g) => bad(g, { weights: Float32Array.of(1, -1, 1, 1, 1, 0) }), [/batch\.weights\[0, 1\] is -1/, /expected weights ≥ 0/]],
  ['all weights zero', (g) => bad(g, { weights: new Float32Array(6) }), [/batch\.weights sum to 0/, /expected a finite sum > 0/]],
  ['weights as Int32Array', (g) => bad(g, { weights: new Int32Array(6).fill(1) }), [/batch\.weights must be a Float32Array/, /got an? Int32Array/]],
  ['weights of the wrong count', (g) => bad(g, { weights: new Float32Array(5).fill(1) }), [/batch\.weights has 5 values/, /expected 6 weights/]],
];

let tokens: Sequential | null = null;
const tokenModelOnce = async () => (tokens ??= await built(() => tokenModel(1), 'softmax_cross_entropy'));

for (const [name, make, patterns] of TOKEN_CASES) {
  test(`trainStep refuses ${name}`, async () => {
    const m = await tokenModelOnce();
    const good = tokenBatch();
    await expectRejectedCleanly(m, () => m.trainStep(make(good) as Batch), [/^trainStep: /, ...patterns], good);
  });
}

test('plain arrays of integers and numbers are accepted and train like typed arrays', async () => {
  const a = await built(() => tokenModel(3), 'softmax_cross_entropy');
  const b = await built(() => tokenModel(3), 'softmax_cross_entropy');
  const g = tokenBatch(1);
  await a.trainStep(g);
  await b.trainStep({ x: Array.from(g.x), shape: [B, T], lengths: Array.from(g.lengths!), y: Array.from(g.y!), weights: [1, 1, 1, 1, 1, 0] });
  expectSameSnapshot(await snapshotModel(a), await snapshotModel(b), 'array-fed model');
  a.dispose(); b.dispose();
});

// ------------------------------------------------------------------ bad batches (feature model, MSE)

const FEATURE_CASES: [string, (good: Batch) => unknown, (string | RegExp)[]][] = [
  ['token ids for a feature model', (g) => bad(g, { x: new Int32Array(B * T * I) }), [/batch\.x must be a Float32Array/, /got an? Int32Array/]],
  ['a NaN feature', (g) => bad(g, { x: Float32Array.from(g.x as Float32Array, (v, i) => (i === 4 ? NaN : v)) }), [/batch\.x\[0, 1, 1\] = NaN is not finite/, /expected finite values/]],
  ['an infinite feature', (g) => bad(g, { x: Float32Array.from(g.x as Float32Array, (v, i) => (i === 17 ? -Infinity : v)) }), [/batch\.x\[1, 2, 2\] = -Infinity is not finite/, /expected finite/]],
  ['a feature past the f32 range in a plain array', (g) => bad(g, { x: Array.from(g.x as Float32Array, (v, i) => (i === 0 ? 1e39 : v)) }), [/batch\.x\[0, 0, 0\] = Infinity \(1e\+39 does not fit in f32\)/, /expected finite/]],
  ['the wrong feature count', (g) => bad(g, { shape: [B, T, 4], x: new Float32Array(B * T * 4) }), [/batch\.shape is \[2, 3, 4\]/, /input size is 3/]],
  ['a NaN target', (g) => bad(g, { y: Float32Array.from(g.y as Float32Array, (v, i) => (i === 3 ? NaN : v)) }), [/batch\.y\[0, 1, 1\] = NaN is not finite/, /expected finite/]],
  ['class ids as MSE targets', (g) => bad(g, { y: new Int32Array(B * T * 2) }), [/batch\.y must be a Float32Array/, /got an? Int32Array/]],
  ['too few targets', (g) => bad(g, { y: new Float32Array(5) }), [/batch\.y has 5 values/, /expected 12 finite targets/]],
  ['weights with MSE', (g) => bad(g, { weights: new Float32Array(12).fill(1) }), [/batch\.weights is given/, /mse takes no weights/]],
];

let features: Sequential | null = null;
const featureModelOnce = async () => (features ??= await built(() => featureModel(2), 'mse'));

for (const [name, make, patterns] of FEATURE_CASES) {
  test(`trainStep refuses ${name}`, async () => {
    const m = await featureModelOnce();
    const good = featureBatch();
    await expectRejectedCleanly(m, () => m.trainStep(make(good) as Batch), [/^trainStep: /, ...patterns], good);
  });
}

// ------------------------------------------------------------------ the other run methods and their options

test('predict, evaluate, forward and computeGradients check the batch before writing anything', async () => {
  const m = await tokenModelOnce();
  const good = tokenBatch();
  await expectRejectedCleanly(m, () => m.predict(bad(good, { x: Int32Array.of(0, 1, 2, 3, 4, 70) })), [/^predict: /, /token id 70/, /\[0, 7\)/], good);
  await expectRejectedCleanly(m, () => m.evaluate(bad(good, { y: Int32Array.of(0, 1, 2, 3, -2, 0) })), [/^evaluate: /, /class id -2 at \[1, 1\]/, /outside \[0, 7\)/], good);
  await expectRejectedCleanly(m, () => m.forward(bad(good, { lengths: Int32Array.of(1, 9) })), [/^forward: /, /batch\.lengths\[1\] = 9/, /T = 3/], good);
  await expectRejectedCleanly(m, () => m.computeGradients(without(good, 'y')), [/^computeGradients: /, /batch\.y is missing/, /class ids/], good);
});

test('run options are checked: a misspelt readLoss, a string flag', async () => {
  const m = await tokenModelOnce();
  const good = tokenBatch();
  await expectRejectedCleanly(m, () => m.trainStep(good, { readloss: true } as never), [/trainStep: unknown option "readloss"/, /did you mean readLoss\?/], good);
  await expectRejectedCleanly(m, () => m.trainStep(good, { readLoss: 'yes' } as never), [/option readLoss must be a boolean/, /the string "yes"/], good);
  await expectRejectedCleanly(m, () => m.forward(good, { training: 'true' } as never), [/forward: option training must be a boolean/, /the string "true"/], good);
});

// ------------------------------------------------------------------ learning-rate schedules

const SCHEDULES: [string, (step: number) => unknown, (string | RegExp)[]][] = [
  ['NaN', () => NaN, [/lr schedule gave NaN at step 2/, /expected a finite number ≥ 0/]],
  ['a negative rate', () => -0.1, [/lr schedule gave -0\.1 at step 2/, /≥ 0/]],
  ['Infinity', () => Infinity, [/lr schedule gave Infinity at step 2/, /finite/]],
  ['a string', () => '0.1', [/lr schedule gave the string "0\.1" at step 2/, /finite number/]],
  ['an exception', () => { throw new Error('no rate past step 1'); }, [/lr schedule threw at step 2/, /no rate past step 1/]],
];

for (const [name, late, patterns] of SCHEDULES) {
  test(`an lr schedule giving ${name} is refused before anything is recorded or counted`, async () => {
    const opt = new Adam({ lr: 0.01, schedule: (step, base) => (step >= 2 ? late(step) : base) as number });
    const m = await built(() => tokenModel(4), 'softmax_cross_entropy', opt);
    const good = tokenBatch();
    await m.trainStep(good);
    await expectRejectedCleanly(m, () => m.trainStep(good), [/^Adam: /, ...patterns]);
    opt.schedule = undefined;
    const r = await m.trainStep(good, { readLoss: true });
    if (r.skipped || m.step !== 2 || opt.step !== 2) throw new Error(`after fixing the schedule: skipped ${r.skipped}, steps ${m.step}/${opt.step}`);
    m.dispose();
  });
}

// ------------------------------------------------------------------ per-layer run checks

test('a stateful layer refuses a batch of another size before recording; resetStates lets it through', async () => {
  const m = await built(() => tokenModel(5, { stateful: true }), 'softmax_cross_entropy');
  const good = tokenBatch();
  await m.trainStep(good);
  const three: Batch = { x: new Int32Array(9), shape: [3, T], y: new Int32Array(9) };
  await expectRejectedCleanly(m, () => m.trainStep(three), [/LSTM "lstm": stateful layer got batch size 3 after 2/, /expected 2 while it carries states/, /resetStates/], good);
  await expectRejectedCleanly(m, () => m.predict(three), [/stateful layer got batch size 3 after 2/, /resetStates/], good);
  m.resetStates();
  const r = await m.trainStep(three, { readLoss: true });
  if (r.skipped || !Number.isFinite(r.loss)) throw new Error('the batch of 3 did not train after resetStates');
  m.dispose();
});

test('an initial state of the wrong shape is refused before recording', async () => {
  const ctx = await gpu();
  const m = await tokenModelOnce();
  const h = ctx.zeros([1, 3, 5], 'f32', 'h0'), c = ctx.zeros([1, 3, 5], 'f32', 'c0');
  const good = tokenBatch();
  m.setInitialStates({ lstm: { h, c } });
  try {
    await expectRejectedCleanly(m, () => m.trainStep(good), [/LSTM "lstm": initial state h0 has shape \(1, 3, 5\)/, /expected \(1, 2, 5\)/]);
    m.setInitialStates({ lstm: { h: ctx.zeros([1, 2, 5], 'f32', 'h0b') } });
    await expectRejectedCleanly(m, () => m.predict(good), [/needs c as well as h/, /expected \{ h, c \} of shape \(1, 2, 5\)/]);
  } finally {
    m.setInitialStates({ lstm: null });
    h.release(); c.release();
  }
  await m.trainStep(good);
});

// ------------------------------------------------------------------ compile

const COMPILE_CASES: [string, (opt: Optimizer) => unknown, (string | RegExp)[]][] = [
  ['no options', () => undefined, [/compile: expected an options object/, /got undefined/]],
  ['a misspelt loss', (opt) => ({ loss: 'softmax_crossentropy', optimizer: opt }), [/option loss must be one of/, /did you mean softmax_cross_entropy\?/]],
  ['no loss', (opt) => ({ optimizer: opt }), [/option loss is missing/, /expected one of softmax_cross_entropy/]],
  ['no optimizer', () => ({ loss: 'softmax_cross_entropy' }), [/option optimizer must be an optimizer/, /got undefined/]],
  ['an optimizer name', () => ({ loss: 'softmax_cross_entropy', optimizer: 'adam' }), [/option optimizer must be an optimizer such as new Adam/, /the string "adam"/]],
  ['clipNorm 0', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: 0 }), [/option clipNorm is 0/, /a positive finite number, or omit it for no clipping/]],
  ['a negative clipNorm', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: -1 }), [/option clipNorm is -1/, /omit it for no clipping/]],
  ['clipNorm NaN', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: NaN }), [/option clipNorm is NaN/, /positive finite number/]],
  ['clipNorm Infinity', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: Infinity }), [/option clipNorm is Infinity/, /omit it for no clipping/]],
  ['clipNorm as a string', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: '5' }), [/option clipNorm is the string "5"/, /positive finite number/]],
  ['a misspelt clipNorm', (opt) => ({ loss: 'softmax_cross_entropy', optimizer: opt, clipnorm: 5 }), [/unknown option "clipnorm"/, /did you mean clipNorm\?/]],
];

for (const [name, make, patterns] of COMPILE_CASES) {
  test(`a recompile with ${name} fails and leaves the model training as before`, async () => {
    const m = await tokenModelOnce();
    await expectRejectedCleanly(m, () => m.compile(make(new Adam({ lr: 0.02 })) as never), [/^compile: /, ...patterns], tokenBatch());
  });
}

test('a failed recompile keeps the clipping of the last good compile', async () => {
  const m = await built(() => tokenModel(6), 'softmax_cross_entropy', new SGD({ lr: 0.1 }), 0.5);
  const opt = m.optimizer!;
  await expectRejectedCleanly(m, () => m.compile({ loss: 'softmax_cross_entropy', optimizer: opt, clipNorm: -2 }), [/clipNorm is -2/, /positive finite/], tokenBatch());
  if (m.clipNorm !== 0.5 || m.optimizer !== opt) throw new Error(`clipNorm ${m.clipNorm} after a failed recompile, expected 0.5`);
  m.dispose();
});

test('trainStep on an uncompiled model, or with an optimizer since compiled into another model, is refused', async () => {
  const ctx = await gpu();
  const raw = tokenModel(7).build(ctx);
  await expectRejectedCleanly(raw, () => raw.trainStep(tokenBatch()), [/trainStep: the model is not compiled/, /call model\.compile\(\{ loss, optimizer \}\) first/]);
  const shared = new Adam({ lr: 0.01 });
  const a = await built(() => tokenModel(7), 'softmax_cross_entropy', shared);
  const b = await built(() => tokenModel(8), 'softmax_cross_entropy', shared);
  await expectRejectedCleanly(a, () => a.trainStep(tokenBatch()), [/optimizer was attached to another model/, /compile this model again/]);
  a.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  await a.trainStep(tokenBatch());
  // Recompiling or disposing `a` leaves the optimizer `b` now uses alone.
  a.dispose();
  const r = await b.trainStep(tokenBatch(), { readLoss: true });
  if (r.skipped || !Number.isFinite(r.loss) || shared.step !== 1) throw new Error(`b after a's recompile and dispose: ${JSON.stringify(r)}, step ${shared.step}`);
  raw.dispose(); b.dispose();
});

test('overlapping trainStep calls are refused; the first one completes', async () => {
  const m = await built(() => tokenModel(9), 'softmax_cross_entropy');
  const first = m.trainStep(tokenBatch());
  await expectRejects(() => m.trainStep(tokenBatch()), /previous trainStep has not finished/, /await each step/);
  await first;
  if (m.step !== 1 || m.optimizer!.step !== 1) throw new Error(`steps ${m.step}/${m.optimizer!.step}, expected 1/1`);
  m.dispose();
});

// ------------------------------------------------------------------ optimizer options

const OPTIMIZER_CASES: [string, () => unknown, (string | RegExp)[]][] = [
  ['Adam lr 0', () => new Adam({ lr: 0 }), [/Adam: option lr/, /finite number > 0, got 0/]],
  ['Adam lr NaN', () => new Adam({ lr: NaN }), [/Adam: option lr/, /got NaN/]],
  ['Adam lr as a string', () => new Adam({ lr: '0.01' as never }), [/Adam: option lr/, /the string "0\.01"/]],
  ['Adam beta1 1', () => new Adam({ beta1: 1 }), [/Adam: option beta1/, /\[0, 1\), got 1/]],
  ['Adam eps 0', () => new Adam({ eps: 0 }), [/Adam: option eps/, /> 0, got 0/]],
  ['Adam negative weight decay', () => new Adam({ weightDecay: -1 }), [/Adam: option weightDecay/, /≥ 0, got -1/]],
  ['Adam schedule not a function', () => new Adam({ schedule: 0.5 as never }), [/Adam: option schedule must be a function/, /got 0\.5/]],
  ['Adam misspelt learningRate', () => new Adam({ learningRate: 0.1 } as never), [/Adam: unknown option "learningRate"/, /the options are lr/]],
  ['SGD without lr', () => new SGD({} as never), [/SGD: option lr/, /got undefined/]],
  ['SGD momentum 1', () => new SGD({ lr: 0.1, momentum: 1 }), [/SGD: option momentum/, /\[0, 1\), got 1/]],
  ['SGD with a number', () => new SGD(0.1 as never), [/SGD: expected an options object like \{ lr: 0\.1 \}/, /got 0\.1/]],
];

for (const [name, make, patterns] of OPTIMIZER_CASES) {
  test(`optimizer constructor refuses ${name}`, () => expectThrows(make, ...patterns));
}

// ------------------------------------------------------------------ non-finite steps are skipped on the GPU

/** The bad batches: a huge target makes the loss inf; a huge input makes the gradient NaN (finite loss). */
const NONFINITE: [string, () => Batch, RegExp][] = [
  ['a huge target (loss inf)', () => bad(featureBatch(), { y: new Float32Array(B * T * 2).fill(3e38) }), /loss/],
  ['a huge input (gradient NaN, loss finite)', () => bad(featureBatch(), { x: Float32Array.from(featureBatch().x as Float32Array, (v, i) => (i % I === 0 ? 3e38 : v)) }), /norm/],
];
const OPTIMIZERS: [string, () => Optimizer][] = [['Adam', () => new Adam({ lr: 0.01 })], ['SGD', () => new SGD({ lr: 0.05, momentum: 0.9 })]];

for (const [badName, badBatch] of NONFINITE) {
  for (const [optName, makeOpt] of OPTIMIZERS) {
    for (const clipNorm of [undefined, 0.5]) {
      for (const readLoss of [false, true]) {
        test(`${badName}, ${optName}, ${clipNorm ? 'clipNorm 0.5' : 'no clipping'}, readLoss ${readLoss}: skipped, nothing changes, the next step equals one that never saw it`, async () => {
          const m = await built(() => featureModel(11), 'mse', makeOpt(), clipNorm);
          const ref = await built(() => featureModel(11), 'mse', makeOpt(), clipNorm);
          for (const k of [0, 1]) { await m.trainStep(featureBatch(k)); await ref.trainStep(featureBatch(k)); }
          const before = await snapshotModel(m);
          const ctx = m.context;
          const submits = ctx.submitCount;
          const r = await m.trainStep(badBatch(), { readLoss });
          if (ctx.submitCount - submits !== 1) throw new Error(`the skipped step made ${ctx.submitCount - submits} submissions, expected 1`);
          if (r.skipped !== true) throw new Error(`skipped is ${r.skipped}`);
          if (Number.isFinite(r.gradNorm) && Number.isFinite(r.loss)) throw new Error(`gradNorm ${r.gradNorm} and loss ${r.loss} are both finite`);
          if (badName.includes('loss finite') && !(Number.isFinite(r.loss) && !Number.isFinite(r.gradNorm))) throw new Error(`expected a finite loss and a non-finite norm, got loss ${r.loss}, norm ${r.gradNorm}`);
          if (r.loss === undefined) throw new Error('a skipped step reports no loss');
          expectSameSnapshot(before, await snapshotModel(m), 'after the skipped step');
          const good = await m.trainStep(featureBatch(2), { readLoss });
          await ref.trainStep(featureBatch(2), { readLoss });
          if (good.skipped || !Number.isFinite(good.gradNorm) || (readLoss !== (good.loss !== undefined))) throw new Error(`good step after: ${JSON.stringify(good)}`);
          expectSameSnapshot(await snapshotModel(ref), await snapshotModel(m), 'the model vs one that never saw the bad batch');
          m.dispose(); ref.dispose();
        });
      }
    }
  }
}

test('a stateful layer keeps the states it carried into a skipped step', async () => {
  const ctx = await gpu();
  const m = await built(() => tokenModel(12, { stateful: true }), 'softmax_cross_entropy');
  const ref = await built(() => tokenModel(12, { stateful: true }), 'softmax_cross_entropy');
  await m.trainStep(tokenBatch(0)); await ref.trainStep(tokenBatch(0));
  const lstm = m.recurrentLayers()[0];
  const carried = await ctx.read(lstm.carriedState()!.h);
  // NaN weights in the head: the forward runs (and carries new states), the update is skipped.
  const [, head] = m.namedParameters().find(([k]) => k === 'dense.bias')!;
  const headBias = await ctx.read(head.value!);
  ctx.write(head.value!, new Float32Array(V).fill(NaN));
  const r = await m.trainStep(tokenBatch(1));
  if (!r.skipped) throw new Error('a NaN head did not skip the step');
  ctx.write(head.value!, headBias as Float32Array);
  const after = await ctx.read(lstm.carriedState()!.h);
  if (after.join() !== carried.join()) throw new Error('the carried state changed on a skipped step');
  await m.trainStep(tokenBatch(2)); await ref.trainStep(tokenBatch(2));
  expectSameSnapshot(await snapshotModel(ref), await snapshotModel(m), 'stateful model vs one that never saw the bad batch');
  m.dispose(); ref.dispose();
});

// ------------------------------------------------------------------ fit: policies, sources, options

const hugeTarget = () => NONFINITE[0][1]();

test("fit with onNonFinite 'throw' (the default) stops naming the step, epoch and batch; the model keeps its last good step", async () => {
  const m = await built(() => featureModel(13), 'mse');
  await expectRejects(() => fit(m, { epochs: 1, trainBatches: [featureBatch(0), hugeTarget(), featureBatch(1)], progress: false, logEvery: 100 }),
    /fit: the loss is Infinity at step 2 \(epoch 1, batch 2/, /those after step 1/, /onNonFinite: 'skip'/);
  if (m.step !== 1 || m.optimizer!.step !== 1) throw new Error(`steps ${m.step}/${m.optimizer!.step}, expected 1/1`);
  m.dispose();
});

test("fit with onNonFinite 'skip' counts skipped steps and trains like a loop without the bad batches", async () => {
  const m = await built(() => featureModel(14), 'mse');
  const ref = await built(() => featureModel(14), 'mse');
  const log = await fit(m, { epochs: 2, trainBatches: [featureBatch(0), hugeTarget(), featureBatch(1)], progress: false, onNonFinite: 'skip', logEvery: 1 });
  const refLog = await fit(ref, { epochs: 2, trainBatches: [featureBatch(0), featureBatch(1)], progress: false, logEvery: 1 });
  if (log.map((l) => l.skippedSteps).join() !== '1,1') throw new Error(`skippedSteps ${log.map((l) => l.skippedSteps)}`);
  if (refLog.some((l) => l.skippedSteps !== 0)) throw new Error('the reference skipped steps');
  if (m.step !== 4) throw new Error(`model.step ${m.step}, expected 4`);
  if (log.map((l) => l.loss).join() !== refLog.map((l) => l.loss).join()) throw new Error(`epoch losses ${log.map((l) => l.loss)} vs ${refLog.map((l) => l.loss)}`);
  expectSameSnapshot(await snapshotModel(ref), await snapshotModel(m), 'fit with skipped steps vs without the bad batches');
  m.dispose(); ref.dispose();
});

test('fit takes an array, a Set, a function, a generator function and an async generator', async () => {
  const m = await built(() => tokenModel(15), 'softmax_cross_entropy');
  const data = [tokenBatch(0), tokenBatch(1)];
  const sources: [string, FitOptions['trainBatches']][] = [
    ['array', data],
    ['Set', new Set(data)],
    ['function returning an array', () => data],
    ['generator function', function* () { yield* data; }],
    ['async generator function', async function* () { for (const b of data) { await Promise.resolve(); yield b; } }],
  ];
  for (const [name, src] of sources) {
    const step = m.step;
    const log = await fit(m, { epochs: 2, trainBatches: src, evalBatches: src as FitOptions['evalBatches'], progress: false });
    if (m.step !== step + 4 || log.length !== 2 || !Number.isFinite(log[1].loss) || !Number.isFinite(log[1].evalLoss)) {
      throw new Error(`${name}: ${m.step - step} steps, log ${JSON.stringify(log)}`);
    }
  }
  // A generator object serves one epoch.
  await fit(m, { epochs: 1, trainBatches: (function* () { yield* data; })(), progress: false });
  m.dispose();
});

const FIT_CASES: [string, (good: Batch[]) => unknown, (string | RegExp)[]][] = [
  ['epochs 0', (d) => ({ epochs: 0, trainBatches: d }), [/option epochs must be a positive integer/, /got 0/]],
  ['epochs 1.5', (d) => ({ epochs: 1.5, trainBatches: d }), [/option epochs/, /got 1\.5/]],
  ['epochs NaN', (d) => ({ epochs: NaN, trainBatches: d }), [/option epochs/, /got NaN/]],
  ['epochs as a string', (d) => ({ epochs: '2', trainBatches: d }), [/option epochs/, /the string "2"/]],
  ['no epochs', (d) => ({ trainBatches: d }), [/option epochs is missing/, /positive integer/]],
  ['no trainBatches', () => ({ epochs: 1 }), [/option trainBatches is missing/, /an array of batches/]],
  ['trainBatches a number', () => ({ epochs: 1, trainBatches: 3 }), [/option trainBatches must be an array of batches/, /got 3/]],
  ['trainBatches a single batch', (d) => ({ epochs: 1, trainBatches: d[0] }), [/option trainBatches must be an array of batches/, /got an object/]],
  ['a generator object for two epochs', (d) => ({ epochs: 2, trainBatches: (function* () { yield* d; })() }), [/one-shot iterator/, /pass a function that returns a fresh one/]],
  ['a misspelt option', (d) => ({ epochs: 1, trainBatches: d, logevery: 2 }), [/fit: unknown option "logevery"/, /did you mean logEvery\?/]],
  ['logEvery 0', (d) => ({ epochs: 1, trainBatches: d, logEvery: 0 }), [/option logEvery/, /positive integer, got 0/]],
  ['an unknown policy', (d) => ({ epochs: 1, trainBatches: d, onNonFinite: 'ignore' }), [/option onNonFinite must be one of throw, skip/, /the string "ignore"/]],
  ['tune "yes"', (d) => ({ epochs: 1, trainBatches: d, tune: 'yes' }), [/option tune must be true, false or 'auto'/, /the string "yes"/]],
  ['progress "no"', (d) => ({ epochs: 1, trainBatches: d, progress: 'no' }), [/option progress must be a boolean/, /the string "no"/]],
  ['a callback that is not a function', (d) => ({ epochs: 1, trainBatches: d, onEpochEnd: 'log' }), [/option onEpochEnd must be a function/, /the string "log"/]],
  ['evalBatches a number', (d) => ({ epochs: 1, trainBatches: d, evalBatches: 1 }), [/option evalBatches must be/, /got 1/]],
];

for (const [name, make, patterns] of FIT_CASES) {
  test(`fit refuses ${name} before anything runs`, async () => {
    const m = await tokenModelOnce();
    await expectRejectedCleanly(m, () => fit(m, make([tokenBatch()]) as FitOptions), [/^fit: /, ...patterns], tokenBatch());
  });
}

test('fit names the epoch and batch of a bad batch; an uncompiled model is refused first', async () => {
  const ctx = await gpu();
  const m = await built(() => tokenModel(16), 'softmax_cross_entropy');
  await expectRejects(() => fit(m, { epochs: 1, trainBatches: [tokenBatch(), bad(tokenBatch(), { lengths: Float32Array.of(3, 2) })], progress: false }),
    /fit: epoch 1, batch 2: trainStep: batch\.lengths must be an Int32Array/, /got a Float32Array/);
  const raw = tokenModel(16).build(ctx);
  await expectRejectedCleanly(raw, () => fit(raw, { epochs: 1, trainBatches: [tokenBatch()] }), [/fit: the model is not compiled/, /model\.compile/]);
  m.dispose(); raw.dispose();
});

test.after(() => { tokens?.dispose(); features?.dispose(); });
test.run();
