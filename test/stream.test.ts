// Streaming inference (src/train/stream.ts): a sequence pushed in blocks of any length gives what
// `predict` gives on the whole sequence, for feature and token inputs, every cell and cell option;
// a block costs a fixed number of dispatches with the sequence kernels and allocates nothing after
// the first; resets zero the chosen rows; rejected pushes change nothing; layers of precision f16
// stream with their f16 weights and states.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dense, Dropout, Embedding, GRU, LastStep, LSTM, OneHot, RNN, Sequential, type Batch, type Layer } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { createStream, type StreamingSession } from '../src/train/stream.ts';
import { CELL_DRIVERS } from '../src/nn/cells.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('stream');

/** A built model on the shared context. */
async function built(layers: Layer[], input?: { kind: 'seq' | 'tokens'; size: number }): Promise<Sequential> {
  return new Sequential(layers, { seed: 7 }).build(await gpu(), input);
}

function features(B: number, T: number, I: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: B * T * I }, () => rng.uniform(-1.5, 1.5));
}

function tokens(B: number, T: number, V: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform(0, V)));
}

/** Steps [t0, t1) of every row of a row-major (B, T, ...) array with `width` values per step. */
function slice<A extends Float32Array | Int32Array>(x: A, B: number, T: number, width: number, t0: number, t1: number): A {
  const out = new (x.constructor as { new (n: number): A })(B * (t1 - t0) * width);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * T + t0) * width, (b * T + t1) * width), b * (t1 - t0) * width);
  return out;
}

/** Pushes x in blocks of the given lengths; returns the outputs joined back into (B, T, O). */
async function streamAll(s: StreamingSession, x: Float32Array | Int32Array, B: number, T: number, I: number, blocks: number[]): Promise<Float32Array> {
  const parts: { data: Float32Array; n: number }[] = [];
  let t = 0;
  for (const n of blocks) {
    const shape = I === 0 ? [B, n] : [B, n, I];
    const { data, shape: got } = await s.push({ x: slice(x, B, T, Math.max(I, 1), t, t + n), shape });
    assert.equal(got.slice(0, 2), [B, n]);
    parts.push({ data, n });
    t += n;
  }
  assert.is(t, T, 'the blocks cover the sequence');
  const O = parts[0].data.length / (B * parts[0].n);
  const out = new Float32Array(B * T * O);
  let t0 = 0;
  for (const { data, n } of parts) {
    for (let b = 0; b < B; b++) out.set(data.subarray(b * n * O, (b + 1) * n * O), (b * T + t0) * O);
    t0 += n;
  }
  return out;
}

/**
 * h_1 of a 1-unit relu RNN with W_hh = 2048, b_hh = -2048 and x = (2049 + 2^-12, 0): h_0 = 1 + 2^-12
 * is stored in f16 as 1, so h_1 is 0 from the stored h_0 and 0.5 from an unrounded one.
 */
async function halfProbe(schedule: 'step' | 'sequence', variant: 'streamed' | 'resident'): Promise<number[]> {
  const ctx = await gpu();
  const before = ctx.configure({ sequenceVariant: variant });
  const model = new Sequential([new RNN({ hiddenSize: 1, inputSize: 1, nonlinearity: 'relu', precision: 'f16', schedule })], { seed: 1 }).build(ctx);
  try {
    const values: Record<string, number> = { weight_ih_l0: 1, bias_ih_l0: 0, weight_hh_l0: 2048, bias_hh_l0: -2048 };
    for (const [name, p] of model.namedParameters()) ctx.write(p.value!, Float32Array.of(values[name.split('.')[1]]));
    return [...(await model.predict({ x: Float32Array.of(2049 + 2 ** -12, 0), shape: [1, 2, 1] })).data];
  } finally {
    model.dispose();
    ctx.configure(before);
  }
}

test('f16: every schedule feeds a step the previous h rounded to f16, as hs holds it (a driver may not fold the rounding away)', async () => {
  const ctx = await gpu();
  if (!ctx.features.has('shader-f16')) {
    console.log(`  skipped "f16 rounding of h_prev": this adapter lacks 'shader-f16' (${ctx.describe()})`);
    return;
  }
  for (const [schedule, variant] of [['step', 'streamed'], ['sequence', 'streamed'], ['sequence', 'resident']] as const) {
    const h = await halfProbe(schedule, variant);
    if (h[0] !== 1 || h[1] !== 0) throw new Error(`${schedule} ${variant}: h = [${h}], expected [1, 0] (h_0 = 1 + 2^-12 stored as 1)`);
  }
});

function sameBits(name: string, got: Float32Array, want: Float32Array): void {
  assert.is(got.length, want.length, `${name}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) throw new Error(`${name}[${i}]: stream ${got[i]} ≠ predict ${want[i]}`);
}

/** Whether this adapter has the cell's sequence kernel at H. */
async function hasSequence(cell: 'lstm' | 'gru' | 'rnn', H: number): Promise<boolean> {
  return CELL_DRIVERS[cell].sequenceSupported?.(await gpu(), H) ?? false;
}

test('features: a 2-layer LSTM → Dense streamed in blocks 1, 3, 2, 4 equals predict bit for bit, step and sequence schedules', async () => {
  const B = 3, T = 10, I = 5;
  const x = features(B, T, I, 1);
  for (const schedule of ['step', 'sequence'] as const) {
    const model = await built([new LSTM({ hiddenSize: 9, numLayers: 2, schedule }), new Dense({ units: 4 })], { kind: 'seq', size: I });
    if (schedule === 'sequence' && !(await hasSequence('lstm', 9))) {
      // An adapter without the sequence kernel at this size: the stream refuses it by name.
      expectThrows(() => createStream(model, { batch: B }), /no sequence kernel for this cell at H = 9/, /use 'auto' or 'step'/);
      model.dispose();
      continue;
    }
    const want = (await model.predict({ x, shape: [B, T, I] })).data;
    const s = createStream(model, { batch: B });
    sameBits(`lstm ${schedule}`, await streamAll(s, x, B, T, I, [1, 3, 2, 4]), want);
    assert.is(s.steps, T);
    s.dispose();
    model.dispose();
  }
});

test('every cell and cell option, token and feature inputs, each schedule: streamed equals predict bit for bit', async () => {
  const B = 2, T = 7, V = 11;
  const cases: { name: string; layers: () => Layer[]; input: { kind: 'seq' | 'tokens'; size: number } }[] = [
    { name: 'OneHot → GRU reset-before, hard_sigmoid → Dropout → Dense', input: { kind: 'tokens', size: V }, layers: () => [new OneHot(V), new GRU({ hiddenSize: 6, resetAfter: false, recurrentActivation: 'hard_sigmoid' }), new Dropout(0.5), new Dense({ units: V })] },
    { name: 'Embedding → 2-layer RNN relu → Dense tanh', input: { kind: 'tokens', size: V }, layers: () => [new Embedding({ numEmbeddings: V, embeddingDim: 4 }), new RNN({ hiddenSize: 5, numLayers: 2, nonlinearity: 'relu' }), new Dense({ units: 3, activation: 'tanh' })] },
    { name: 'features → LSTM peepholes, relu → GRU → Dense', input: { kind: 'seq', size: 3 }, layers: () => [new LSTM({ hiddenSize: 6, peepholes: true, activation: 'relu' }), new GRU({ hiddenSize: 4 }), new Dense({ units: 2 })] },
    { name: 'features → Dense sigmoid → RNN', input: { kind: 'seq', size: 3 }, layers: () => [new Dense({ units: 5, activation: 'sigmoid' }), new RNN({ hiddenSize: 4 })] },
  ];
  for (const c of cases) {
    const model = await built(c.layers(), c.input);
    const I = c.input.kind === 'tokens' ? 0 : c.input.size;
    const x = I === 0 ? tokens(B, T, V, 3) : features(B, T, I, 3);
    for (const schedule of [undefined, 'step', 'sequence'] as const) {
      if (schedule === 'sequence' && !(await Promise.all(model.recurrentLayers().map((l) => hasSequence(l.cell, l.hiddenSize)))).every(Boolean)) continue;
      for (const l of model.recurrentLayers()) l.schedule = schedule;
      const want = (await model.predict({ x, shape: I === 0 ? [B, T] : [B, T, I] })).data;
      const s = createStream(model, { batch: B });
      sameBits(`${c.name}, schedule ${schedule ?? 'default'}`, await streamAll(s, x, B, T, I, [2, 1, 4]), want);
      s.dispose();
    }
    model.dispose();
  }
});

test('precision f16 layers (f16 W_ih, W_hh, Dense weight and hs), token and feature inputs, each schedule: streamed equals predict bit for bit, also after a training step', async () => {
  const ctx = await gpu();
  if (!ctx.features.has('shader-f16')) {
    console.log(`  skipped "f16 streaming": this adapter lacks 'shader-f16' (${ctx.describe()})`);
    return;
  }
  const B = 2, T = 7, V = 9;
  const cases: { name: string; layers: () => Layer[]; input: { kind: 'seq' | 'tokens'; size: number } }[] = [
    { name: 'OneHot → LSTM f16 (fused gather) → Dense f16', input: { kind: 'tokens', size: V }, layers: () => [new OneHot(V), new LSTM({ hiddenSize: 6, precision: 'f16' }), new Dense({ units: V, precision: 'f16' })] },
    { name: 'Embedding → 2-layer GRU f16 → Dense', input: { kind: 'tokens', size: V }, layers: () => [new Embedding({ numEmbeddings: V, embeddingDim: 4 }), new GRU({ hiddenSize: 5, numLayers: 2, precision: 'f16' }), new Dense({ units: 3 })] },
    { name: 'features → RNN f16 → LSTM f32 → Dense f16', input: { kind: 'seq', size: 3 }, layers: () => [new RNN({ hiddenSize: 4, precision: 'f16' }), new LSTM({ hiddenSize: 5 }), new Dense({ units: 2, precision: 'f16' })] },
  ];
  for (const c of cases) {
    const model = await built(c.layers(), c.input);
    const I = c.input.kind === 'tokens' ? 0 : c.input.size;
    const x = I === 0 ? tokens(B, T, V, 4) : features(B, T, I, 4);
    const shape = I === 0 ? [B, T] : [B, T, I];
    for (const schedule of [undefined, 'step', 'sequence'] as const) {
      if (schedule === 'sequence' && !(await Promise.all(model.recurrentLayers().map((l) => hasSequence(l.cell, l.hiddenSize)))).every(Boolean)) continue;
      for (const l of model.recurrentLayers()) l.schedule = schedule;
      const want = (await model.predict({ x, shape })).data;
      const s = createStream(model, { batch: B });
      const got = await streamAll(s, x, B, T, I, [3, 1, 3]);
      s.dispose();
      // A block starts from the carried state, which holds h rounded to f16 as hs does.
      sameBits(`${c.name}, schedule ${schedule ?? 'default'}`, got, want);
    }
    // The f16 copies are packed at each push: after an update the same session follows the model.
    for (const l of model.recurrentLayers()) l.schedule = 'step';
    const s = createStream(model, { batch: B });
    await streamAll(s, x, B, T, I, [T]);
    model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.5 }) });
    const out = model.output.size;
    const r = await model.trainStep({ x, shape, y: new Float32Array(B * T * out).fill(0.5) });
    assert.not.ok(r.skipped, `${c.name}: the training step was skipped`);
    const want = (await model.predict({ x, shape })).data;
    s.reset();
    sameBits(`${c.name}, after a training step`, await streamAll(s, x, B, T, I, [2, 5]), want);
    s.dispose();
    model.dispose();
  }
});

test('lastStep returns (B, O) equal to the last step of the full outputs; reset() restarts from zeros', async () => {
  const B = 2, T = 6, V = 9;
  const model = await built([new Embedding({ numEmbeddings: V, embeddingDim: 3 }), new LSTM({ hiddenSize: 5, schedule: 'step' }), new Dense({ units: V })]);
  const x = tokens(B, T, V, 5);
  const s = createStream(model, { batch: B });
  const full = await streamAll(s, x, B, T, 0, [4, 2]);
  s.reset();
  assert.is(s.steps, 0);
  await s.push({ x: slice(x, B, T, 1, 0, 4), shape: [B, 4] });
  const last = await s.push({ x: slice(x, B, T, 1, 4, 6), shape: [B, 2] }, { lastStep: true });
  assert.equal(last.shape, [B, V]);
  for (let b = 0; b < B; b++) sameBits(`row ${b} last step`, last.data.subarray(b * V, (b + 1) * V), full.subarray((b * T + T - 1) * V, (b * T + T) * V));
  s.dispose();
  model.dispose();
});

test('reset(rows) zeroes only those rows: the reset row continues as a fresh stream, the others as before', async () => {
  const B = 3, T = 4, I = 2;
  const model = await built([new GRU({ hiddenSize: 5, schedule: 'step' }), new Dense({ units: 2 })], { kind: 'seq', size: I });
  const x = features(B, T, I, 9);
  const s = createStream(model, { batch: B });
  await s.push({ x: slice(x, B, T, I, 0, 2), shape: [B, 2, I] });
  const before = await s.readStates();
  s.reset([1]);
  const after = await s.readStates();
  const H = 5, h0 = before[model.layers[0].name].h, h1 = after[model.layers[0].name].h;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) assert.is(h1[b * H + j], b === 1 ? 0 : h0[b * H + j], `h[${b}, ${j}]`);
  }
  const tail = await s.push({ x: slice(x, B, T, I, 2, 4), shape: [B, 2, I] });
  const whole = (await model.predict({ x, shape: [B, T, I] })).data;
  const fresh = (await model.predict({ x: slice(x, B, T, I, 2, 4), shape: [B, 2, I] })).data;
  const O = 2, n = 2;
  for (let b = 0; b < B; b++) {
    const got = tail.data.subarray(b * n * O, (b + 1) * n * O);
    const want = b === 1 ? fresh.subarray(b * n * O, (b + 1) * n * O) : whole.subarray((b * T + 2) * O, (b * T + 4) * O);
    sameBits(`row ${b}`, got, want);
  }
  s.dispose();
  model.dispose();
});

test('a block costs a fixed number of dispatches with sequence kernels (n with step kernels) and allocates nothing after the first', async () => {
  const ctx = await gpu();
  const B = 2, V = 7, H = 6;
  for (const schedule of ['sequence', 'step'] as const) {
    if (schedule === 'sequence' && !(await hasSequence('lstm', H))) continue;
    const model = await built([new Embedding({ numEmbeddings: V, embeddingDim: 3 }), new LSTM({ hiddenSize: H, numLayers: 2, schedule }), new Dense({ units: V })]);
    const s = createStream(model, { batch: B });
    for (const n of [1, 5]) {
      const block = { x: tokens(B, n, V, n), shape: [B, n] };
      await s.push(block); // the first block of this length allocates its buffers
      const live = ctx.memoryStats().liveBuffers;
      ctx.flush();
      const d0 = ctx.dispatchCount;
      await s.push(block);
      // embedding gather + 2 × (input GEMM + recurrence + final-state gather) + head GEMM; the
      // sequence kernel is one dispatch per block, the step kernels n.
      const want = 1 + 2 * (1 + (schedule === 'sequence' ? 1 : n) + 1) + 1;
      assert.is(ctx.dispatchCount - d0, want, `${schedule}, n = ${n}: dispatches per block`);
      await s.push(block);
      assert.is(ctx.memoryStats().liveBuffers, live, `${schedule}, n = ${n}: no buffer allocated after the first block`);
    }
    s.dispose();
    model.dispose();
  }
});

test('models a stream cannot run, and bad options, are refused by name', async () => {
  const bi = await built([new LSTM({ hiddenSize: 3, bidirectional: true }), new Dense({ units: 2 })], { kind: 'seq', size: 2 });
  expectThrows(() => createStream(bi, { batch: 1 }), /LSTM "lstm" is bidirectional/, /cannot see the future/, /needs unidirectional/);
  bi.dispose();
  const last = await built([new GRU({ hiddenSize: 3 }), new LastStep(), new Dense({ units: 2 })], { kind: 'seq', size: 2 });
  expectThrows(() => createStream(last, { batch: 1 }), /"last_step" is a LastStep layer/, /lastStep: true/);
  expectThrows(() => createStream(last, { batch: 0 }), /option batch must be a positive integer, got 0/);
  expectThrows(() => createStream(last, { batch: 1, size: 2 } as never), /unknown option "size"/, /the options are batch/);
  last.dispose();
  const dense = await built([new Dense({ units: 2 })], { kind: 'seq', size: 2 });
  expectThrows(() => createStream(dense, { batch: 1 }), /no recurrent layer/, /expected an LSTM, GRU or RNN/);
  dense.dispose();
  expectThrows(() => createStream({} as never, { batch: 1 }), /expected a built Sequential model/);
});

test('rejected pushes (batch, features, token ids, non-finite values, disposed) change nothing and a valid push works after', async () => {
  const B = 2, I = 3;
  const model = await built([new LSTM({ hiddenSize: 4 }), new Dense({ units: 2 })], { kind: 'seq', size: I });
  model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.01 }) });
  const valid: Batch = { x: features(B, 2, I, 4), shape: [B, 2, I], y: new Float32Array(B * 2 * 2) };
  const s = createStream(model, { batch: B });
  await s.push({ x: features(B, 3, I, 2), shape: [B, 3, I] });
  const statesBefore = await s.readStates();
  const bad = features(B, 2, I, 3);
  bad[4] = NaN;
  const cases: [() => unknown, RegExp[]][] = [
    [() => s.push({ x: features(3, 2, I, 1), shape: [3, 2, I] }), [/batch 3, but the stream was created with batch 2/, /expected \[2, n, 3\]/]],
    [() => s.push({ x: features(B, 2, 4, 1), shape: [B, 2, 4] }), [/4 features, but the model takes 3/, /expected \[2, n, 3\]/]],
    [() => s.push({ x: features(B, 2, I, 1), shape: [B, 0, I] }), [/block\.shape is \[2, 0, 3\]/, /positive integers/]],
    [() => s.push({ x: features(B, 2, I, 1), shape: [B, 3, I] }), [/block\.x has 12 values/, /expected features \(B·n·I = 18/]],
    [() => s.push({ x: bad, shape: [B, 2, I] }), [/block\.x\[0, 1, 1\] = NaN is not finite/, /expected finite values/]],
    [() => s.push({ x: features(B, 2, I, 1), shape: [B, 2, I], lengths: [1, 2] } as never), [/unknown block field "lengths"/, /a block has x and shape/]],
    [() => s.push({ x: features(B, 2, I, 1), shape: [B, 2, I] }, { last: true } as never), [/unknown option "last"/, /lastStep/]],
    [() => s.reset([2]), [/rows\[0\] = 2 is not a row of this stream/, /integer in \[0, 1\]/]],
  ];
  for (const [call, patterns] of cases) {
    await expectRejectedCleanly(model, call, patterns, valid);
    const now = await s.readStates();
    sameBits('states after a rejected push', now.lstm.h, statesBefore.lstm.h);
    sameBits('cell states after a rejected push', now.lstm.c!, statesBefore.lstm.c!);
  }
  const ok = await s.push({ x: features(B, 1, I, 6), shape: [B, 1, I] });
  assert.equal(ok.shape, [B, 1, 2]);
  for (const v of ok.data) assert.ok(Number.isFinite(v));

  const tokenModel = await built([new OneHot(5), new RNN({ hiddenSize: 3 }), new Dense({ units: 5 })]);
  tokenModel.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.01 }) });
  const ts = createStream(tokenModel, { batch: 1 });
  await expectRejectedCleanly(tokenModel, () => ts.push({ x: [1, 5], shape: [1, 2] }), [/token id 5 at \[0, 1\] is outside the vocabulary \[0, 5\)/, /expected ids in \[0, 4\]/],
    { x: [1, 2], shape: [1, 2], y: [2, 3] });
  await expectRejectedCleanly(tokenModel, () => ts.push({ x: [1.5], shape: [1, 1] }), [/block\.x\[0\] is 1\.5/, /expected an integer/]);
  ts.dispose();
  await expectRejectedCleanly(tokenModel, () => ts.push({ x: [1], shape: [1, 1] }), [/stream was disposed/, /create a new one with createStream/]);
  tokenModel.dispose();

  s.dispose();
  const s2 = createStream(model, { batch: B });
  model.dispose();
  let err: unknown;
  try { await s2.push({ x: features(B, 1, I, 6), shape: [B, 1, I] }); } catch (e) { err = e; }
  assert.match(String(err), /stream\.push: the model was disposed/);
  assert.match(String(err), /build a new model/);
});

test.run();
