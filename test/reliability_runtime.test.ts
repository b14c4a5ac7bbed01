// Reliability of the runtime: dispose()/close() are safe whatever is in flight (a child process
// disposes with work queued and forces garbage collections, where Dawn used to crash), sizes past
// the device are refused naming the tensor, the limit and what to do, before anything is allocated
// or recorded, bindings cover a tensor's own bytes, misuse of the context is named instead of
// reaching WebGPU, a validation error that still happens names its kernel, and Dawn's limit
// warnings are kept off stderr.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createContext } from '../src/node.ts';
import { BufferUsage, STORAGE_USAGE, Tensor, bindingRange, checkAllocation, formatBytes, hostFloat32Array, MAX_HOST_ELEMENTS, type GpuContext } from '../src/runtime/index.ts';
import { withoutDawnLimitWarnings } from '../src/runtime/dawn-stderr.ts';
import { splitDawnFlags } from '../src/runtime/node-device.ts';
import { grid1d } from '../src/kernels/grid.ts';
import { Sequential, Embedding, LSTM, Dense, type Batch } from '../src/nn/index.ts';
import { Adam } from '../src/train/optimizers.ts';
import { generate } from '../src/train/generate.ts';
import { expectRejects, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';
import '../src/kernels/index.ts';

const test = suite('reliability_runtime');
const root = fileURLToPath(new URL('..', import.meta.url));
const childEnv = { ...process.env };

const V = 7;
const tokens = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 3) % V);
const validBatch: Batch = { x: tokens, y: Int32Array.from(tokens, (v) => (v + 1) % V), shape: [2, 5] };

function tinyModel(ctx: GpuContext): Sequential {
  return new Sequential([
    new Embedding({ numEmbeddings: V, embeddingDim: 4 }),
    new LSTM({ hiddenSize: 8 }),
    new Dense({ units: V }),
  ], { seed: 3 }).build(ctx).compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
}

/** Runs test/dispose-child.ts in `node --expose-gc --import tsx`; throws on a crash, a hang or an error. */
function runDisposeChild(mode: string, rounds: number): void {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/dispose-child.ts', mode, String(rounds)], {
    cwd: root, env: childEnv, encoding: 'utf8', timeout: 240_000,
  });
  const how = r.error ? `${r.error.message} (a hang: the process did not exit by itself)` : r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
  if (r.status !== 0 || !r.stdout.includes(`ok ${mode} ${rounds}`)) {
    throw new Error(`dispose child (${mode}) crashed or failed: ${how}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
}

// ------------------------------------------------------------------ dispose / close

test('dispose() with a training step in flight, 20 rounds with garbage collections: no crash, the process exits by itself', () => {
  runDisposeChild('train', 20);
});

test('dispose() during a pending read(), during generate(), and close() with a read pending (child processes)', () => {
  runDisposeChild('read', 2);
  runDisposeChild('generate', 2);
  runDisposeChild('close', 2);
});

test('after dispose() every call throws "GpuContext was disposed"', async () => {
  const ctx = await createContext();
  const t = ctx.tensor([1, 2, 3, 4], [4], 't');
  ctx.dispose();
  const calls: [string, () => unknown][] = [
    ['empty', () => ctx.empty([2])], ['zeros', () => ctx.zeros([2])], ['tensor', () => ctx.tensor([1], [1])],
    ['write', () => ctx.write(t, new Float32Array(4))], ['copy', () => ctx.copy(t, t)], ['clear', () => ctx.clear(t)],
    ['dispatch', () => ctx.dispatch('activation_forward', { bindings: { src: t, dst: t }, params: { n: 4 }, workgroups: [1] })],
    ['pipeline', () => ctx.pipeline('activation_forward')], ['flush', () => ctx.flush()],
  ];
  for (const [name, call] of calls) {
    try { call(); } catch (e) {
      if (/GpuContext was disposed/.test((e as Error).message) && /create a new context/.test((e as Error).message)) continue;
      throw new Error(`${name} after dispose: "${(e as Error).message}"`);
    }
    throw new Error(`${name} after dispose did not throw`);
  }
  await expectRejects(() => ctx.read(t), /GpuContext was disposed/, /create a new context/);
  await expectRejects(() => ctx.sync(), /GpuContext was disposed/);
  await expectRejects(() => ctx.compile('activation_forward'), /GpuContext was disposed/);
});

test('dispose() in the same process: a pending read rejects cleanly, dispose twice, close() after dispose, model.dispose() after', async () => {
  const ctx = await createContext();
  const model = tinyModel(ctx);
  await model.trainStep(validBatch);
  const pending = ctx.read(model.namedParameters()[0][1].value!);
  ctx.dispose();
  ctx.dispose();
  await expectRejects(() => pending, /GpuContext was disposed while a read of embedding\.weight was pending/);
  await ctx.close(); // resolves once everything is released
  await expectRejects(() => model.trainStep(validBatch), /GpuContext was disposed/);
  model.dispose();
});

test('dispose() during generate() rejects it with "GpuContext was disposed"', async () => {
  const ctx = await createContext();
  const model = tinyModel(ctx);
  const pending = generate(model, { prime: [1], length: 12, seed: 5 });
  ctx.dispose();
  await expectRejects(() => pending, /GpuContext was disposed/);
  await ctx.close();
});

test('close() submits what was recorded, lets pending reads finish, then refuses further calls', async () => {
  const ctx = await createContext();
  const a = ctx.tensor(new Float32Array([1, 2, 3, 4]), [4], 'a');
  const b = ctx.zeros([4], 'f32', 'b');
  const read = ctx.read(a);
  ctx.copy(a, b); // recorded, not yet submitted
  const submits = ctx.submitCount;
  await ctx.close();
  if (ctx.submitCount !== submits + 1) throw new Error(`close() submitted ${ctx.submitCount - submits} command buffers, expected 1`);
  const values = await read;
  if (values.join(',') !== '1,2,3,4') throw new Error(`the read pending at close() gave ${values.join(',')}`);
  expectThrows(() => ctx.zeros([1]), 'GpuContext was disposed');
  await ctx.close(); // twice is fine
});

test('createContext options are checked before Dawn is touched: the option, the value and what is accepted', async () => {
  await expectRejects(() => createContext('vulkan' as never), 'createContext: expected an options object', '"vulkan"');
  await expectRejects(() => createContext({ backnd: 'vulkan' } as never), 'unknown option "backnd"', 'backend, powerPreference and dawnToggles');
  await expectRejects(() => createContext({ backend: 'vulkn' }), 'option backend must be one of', 'vulkan, opengles', 'got "vulkn"');
  await expectRejects(() => createContext({ powerPreference: 'fast' as never }), 'option powerPreference', "'low-power' or 'high-performance'", '"fast"');
  await expectRejects(() => createContext({ dawnToggles: 'vulkan_enable_f16_on_nvidia' as never }), 'option dawnToggles must be an array', "['vulkan_enable_f16_on_nvidia']", '"vulkan_enable_f16_on_nvidia"');
  await expectRejects(() => createContext({ dawnToggles: ['allow unsafe apis'] }), 'option dawnToggles', "lower-case letters, digits and '_'", '"allow unsafe apis"');
  // Environment variables are read by createContext too, and named the same way.
  const badEnv: [string, string, string[]][] = [
    ['WEBGPU_RNN_DAWN_TOGGLES', 'allow_unsafe_apis,Bad-Toggle', ['WEBGPU_RNN_DAWN_TOGGLES', 'Dawn toggle name', '"Bad-Toggle"']],
    ['WEBGPU_RNN_DAWN_POLL', 'busy', ['WEBGPU_RNN_DAWN_POLL must be', "'auto', 'paced' or 'spin'", '"busy"']],
    ['WEBGPU_RNN_BACKEND', 'cuda', ['WEBGPU_RNN_BACKEND must be one of', 'got "cuda"']],
  ];
  for (const [name, value, parts] of badEnv) {
    const saved = process.env[name];
    process.env[name] = value;
    try {
      await expectRejects(() => createContext(), ...parts);
    } finally {
      if (saved === undefined) delete process.env[name]; else process.env[name] = saved;
    }
  }
});

test("Dawn flags: a value's commas stay in its flag; dawnToggles reach Dawn and the context still works", async () => {
  const eq = (a: string[], b: string[]) => { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`); };
  eq(splitDawnFlags('backend=vulkan, enable-dawn-features=a_b,c_d ,adapter=x'), ['backend=vulkan', 'enable-dawn-features=a_b,c_d', 'adapter=x']);
  eq(splitDawnFlags(''), []);
  // Toggles known to Dawn but irrelevant here (NVIDIA's f16) must leave a working context.
  const ctx = await createContext({ dawnToggles: ['vulkan_enable_f16_on_nvidia'] });
  try {
    const t = ctx.tensor(new Float32Array([1, 2, 3, 4]), [4]);
    const back = await ctx.read(t);
    if (back[3] !== 4) throw new Error('read back wrong values');
  } finally { await ctx.close(); }
});

// ------------------------------------------------------------------ sizes past the device

test('checkAllocation: just over maxStorageBufferBindingSize is refused naming tensor, shape, bytes, limit and advice; at the limit passes', async () => {
  const ctx = await gpu();
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const atLimit = [Math.floor(limit / 4)];
  checkAllocation(ctx.limits, 'ok', atLimit);
  const over = [Math.floor(limit / 4) + 1];
  expectThrows(() => checkAllocation(ctx.limits, 'dense.y', over), 'dense.y', `(${over[0]})`, formatBytes(over[0] * 4),
    /maxStorageBufferBindingSize|maxBufferSize/, formatBytes(limit), /smaller vocabulary.*or an adapter with larger limits/);
  expectThrows(() => checkAllocation({ maxBufferSize: 1000, maxStorageBufferBindingSize: 4000 }, 'x', [300]), 'maxBufferSize', '1,000 bytes');
});

test('ctx.empty/zeros/tensor past the limit throw before allocating anything', async () => {
  const ctx = await gpu();
  const limit = ctx.limits.maxStorageBufferBindingSize;
  const rows = Math.floor(limit / 4 / 1024) + 1;
  const before = ctx.memoryStats();
  ctx.flush();
  const dispatches = ctx.dispatchCount, submits = ctx.submitCount;
  expectThrows(() => ctx.empty([rows, 1024], 'f32', 'huge.activations'), 'huge.activations', `(${rows}, 1024)`, 'maxStorageBufferBindingSize');
  expectThrows(() => ctx.zeros([rows, 1024], 'f32', 'huge.zeros'), 'huge.zeros', 'maxStorageBufferBindingSize');
  const after = ctx.memoryStats();
  if (after.liveBuffers !== before.liveBuffers || after.liveBytes !== before.liveBytes) throw new Error('a buffer was allocated before the size error');
  if (ctx.dispatchCount !== dispatches || ctx.submitCount !== submits) throw new Error('work was recorded before the size error');
});

test('an Embedding of 10,000,000 x 512 fails in configure with a clear error, not "Invalid typed array length"', async () => {
  const ctx = await gpu();
  const before = ctx.memoryStats().liveBuffers;
  const model = new Sequential([new Embedding({ numEmbeddings: 10_000_000, embeddingDim: 512 }), new LSTM({ hiddenSize: 8 })]);
  expectThrows(() => model.build(ctx), 'embedding.weight', '(10000000, 512)', '20,480,000,000 bytes', /smaller vocabulary/);
  if (ctx.memoryStats().liveBuffers !== before) throw new Error('GPU buffers were allocated');
});

test('an Embedding just over maxStorageBufferBindingSize is refused by build() before any GPU allocation', async () => {
  const ctx = await gpu();
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (limit > 512 * 1024 * 1024) return; // a host copy this large would only slow the test down
  const D = 512, rows = Math.floor(limit / 4 / D) + 1;
  const before = ctx.memoryStats();
  const model = new Sequential([new Embedding({ numEmbeddings: rows, embeddingDim: D }), new Dense({ units: 3 })]);
  expectThrows(() => model.build(ctx), 'embedding.weight', `(${rows}, ${D})`, 'maxStorageBufferBindingSize', formatBytes(limit));
  const after = ctx.memoryStats();
  if (after.liveBuffers !== before.liveBuffers) throw new Error(`${after.liveBuffers - before.liveBuffers} buffers were allocated before the error`);
});

test('a batch whose activations pass the device limit is refused by name before anything is recorded', async () => {
  const ctx = await gpu();
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  if (limit > 256 * 1024 * 1024) return; // the host arrays of such a batch would only slow the test down
  const model = tinyModel(ctx);
  // The LSTM's gate pre-activations gx are (B, T, 4H) = (B, T, 32) floats: just past the limit.
  const T = 50, B = Math.ceil(limit / 4 / 32 / T) + 1;
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  const big: Batch = { x, y, shape: [B, T] };
  for (const [, call] of [
    ['trainStep', () => model.trainStep(big)],
    ['evaluate', () => model.evaluate(big)],
    ['predict', () => model.predict(big)],
  ] as const) {
    await expectRejectedCleanly(model, call, [/lstm\.gx at batch \d+ × 50 steps/, `(${B}, ${T}, 32)`, /maxStorageBufferBindingSize|maxBufferSize/, /smaller .*batch/], validBatch);
  }
  model.dispose();
});

test('a Dense layer too large for JavaScript names its weight', () => {
  const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 65536 }), new Dense({ units: 70_000 })]);
  expectThrows(() => model.configure(), 'dense.weight', /4,587,520,000 values/, /at most 4,294,967,295/);
});

test('hostFloat32Array refuses what a typed array cannot hold, with the label and the advice', () => {
  expectThrows(() => hostFloat32Array('t.w', [MAX_HOST_ELEMENTS + 1]), 't.w', 'more than one JavaScript array', /smaller vocabulary/);
  if (hostFloat32Array('ok', [3, 4]).length !== 12) throw new Error('wrong length');
});

test('a binding covers the tensor\'s own bytes (rounded up to 16), not its pooled power-of-two buffer', () => {
  const fakeBuffer = { size: 268_435_456, label: 'pooled' } as unknown as GPUBuffer;
  const t = new Tensor(fakeBuffer, [35_750_000], 'f32', 'big'); // 143,000,000 bytes in a 256 MiB size class
  if (bindingRange(t).size !== 143_000_000) throw new Error(`binds ${bindingRange(t).size} bytes`);
  const odd = new Tensor({ size: 256, label: 'p' } as unknown as GPUBuffer, [5], 'f32', 'odd');
  if (bindingRange(odd).size !== 32) throw new Error(`5 floats bind ${bindingRange(odd).size} bytes, expected 32 (whole vec4s)`);
  if (bindingRange(fakeBuffer).size !== 268_435_456) throw new Error('a raw buffer binds whole');
});

test('a raw buffer bound past maxStorageBufferBindingSize is refused naming kernel, binding, bytes and limit; nothing recorded', async () => {
  const ctx = await gpu();
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (ctx.limits.maxBufferSize < limit + 256) return; // the device cannot make a buffer that large
  const big = ctx.device.createBuffer({ size: limit + 256, usage: STORAGE_USAGE, label: 'raw.big' });
  const small = ctx.zeros([4], 'f32', 'small');
  ctx.flush();
  const d = ctx.dispatchCount;
  try {
    expectThrows(() => ctx.dispatch('activation_forward', { bindings: { src: big, dst: small }, params: { n: 4 }, workgroups: [1] }),
      'kernel activation_forward', 'src (raw.big)', `${limit + 256} bytes`, `maxStorageBufferBindingSize of ${limit}`, /smaller sizes/);
    if (ctx.dispatchCount !== d) throw new Error('a dispatch was recorded');
  } finally {
    big.destroy();
    small.release();
  }
  await ctx.sync(); // no validation error is left behind
});

test('workgroup counts past maxComputeWorkgroupsPerDimension, negative or fractional are refused before recording', async () => {
  const ctx = await gpu();
  const t = ctx.zeros([4], 'f32', 'wg.t'), u = ctx.zeros([4], 'f32', 'wg.u');
  ctx.flush();
  const d = ctx.dispatchCount;
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const call = (workgroups: [number, number?, number?]) => () => ctx.dispatch('activation_forward', { bindings: { src: t, dst: u }, params: { n: 4 }, workgroups });
  expectThrows(call([max + 1]), 'kernel activation_forward', `${max + 1}x1x1`, `limit of ${max}`, 'maxComputeWorkgroupsPerDimension');
  expectThrows(call([1, max + 1]), `1x${max + 1}x1`, 'per dimension');
  expectThrows(call([1.5]), 'non-negative integers', '1.5x1x1');
  expectThrows(call([-1]), 'non-negative integers');
  if (ctx.dispatchCount !== d) throw new Error('a dispatch was recorded');
  t.release(); u.release();
  await ctx.sync();
});

test('grid1d folds a large 1-D grid into y within the per-dimension limit and covers every thread', () => {
  for (const n of [1, 255, 256 * 65535, 256 * 65535 + 1, 256 * 65535 * 7 + 13, 2 ** 31]) {
    const [x, y] = grid1d(n, 256);
    if (x > 65535 || y > 65535) throw new Error(`grid1d(${n}) = ${x}x${y} exceeds 65535`);
    if (x * y * 256 < n) throw new Error(`grid1d(${n}) = ${x}x${y} covers only ${x * y * 256} threads`);
  }
  const [x, y] = grid1d(1000, 1, 100);
  if (x > 100 || x * y < 1000) throw new Error(`grid1d with a small limit gave ${x}x${y}`);
});

// ------------------------------------------------------------------ misuse named before WebGPU sees it

test('copy(): unaligned, out-of-range and overlapping copies are named; nothing recorded', async () => {
  const ctx = await gpu();
  const a = ctx.zeros([8], 'f32', 'copy.a'), b = ctx.zeros([4], 'f32', 'copy.b');
  ctx.flush();
  const submits = ctx.submitCount;
  expectThrows(() => ctx.copy(a, b), 'copy copy.a → copy.b', 'past the end of copy.b', '16 bytes');
  expectThrows(() => ctx.copy(b, a, 6), 'byte count must be a non-negative multiple of 4, got 6');
  expectThrows(() => ctx.copy(b, a, 16, 4), 'past the end of copy.b');
  expectThrows(() => ctx.copy(a, a, 16, 0, 8), 'overlap');
  expectThrows(() => ctx.copy(a, b, 4, -4), 'source offset must be a non-negative multiple of 4');
  ctx.flush();
  if (ctx.submitCount !== submits) throw new Error('a command buffer was submitted');
  a.release(); b.release();
  await ctx.sync();
});

test('released tensors are refused by read, write, copy, clear and dispatch', async () => {
  const ctx = await gpu();
  const t = ctx.zeros([4], 'f32', 'gone'), u = ctx.zeros([4], 'f32', 'alive');
  t.release();
  await expectRejects(() => ctx.read(t), 'read gone', 'was released');
  expectThrows(() => ctx.write(t, new Float32Array(4)), 'write gone', 'was released');
  expectThrows(() => ctx.copy(t, u), 'copy gone', 'was released');
  expectThrows(() => ctx.clear(t), 'clear gone', 'was released');
  expectThrows(() => ctx.dispatch('activation_forward', { bindings: { src: t, dst: u }, params: { n: 4 }, workgroups: [1] }), 'kernel activation_forward', 'src (gone) was released');
  u.release();
  await ctx.sync();
});

test('wrong data and bindings are named: a plain array to write, a typed array as a binding, a read past a buffer', async () => {
  const ctx = await gpu();
  const t = ctx.zeros([4], 'f32', 'w.t');
  expectThrows(() => ctx.write(t, [1, 2, 3, 4] as unknown as Float32Array), 'write w.t', 'Float32Array, Int32Array or Uint32Array', 'an array');
  expectThrows(() => ctx.dispatch('activation_forward', { bindings: { src: new Float32Array(4) as unknown as GPUBuffer, dst: t }, params: { n: 4 }, workgroups: [1] }),
    'kernel activation_forward', 'binding src must be a Tensor or a GPUBuffer', 'Float32Array');
  expectThrows(() => ctx.dispatch('activation_forward', { bindings: { dst: t }, params: { n: 4 }, workgroups: [1] }), 'binding src was not given');
  await expectRejects(() => ctx.readBytes(t.buffer, 0, t.buffer.size + 4), 'read w.t', 'outside its');
  t.release();
  await ctx.sync();
});

test('a model-level size error (an over-limit tensor requested after build) leaves the model untouched', async () => {
  const ctx = await gpu();
  const model = tinyModel(ctx);
  await model.trainStep(validBatch);
  const rows = Math.floor(ctx.limits.maxStorageBufferBindingSize / 4 / 1024) + 1;
  await expectRejectedCleanly(model, () => model.context.zeros([rows, 1024], 'f32', 'lstm.extra'), ['lstm.extra', /maxStorageBufferBindingSize/, /smaller/], validBatch);
  model.dispose();
});

// ------------------------------------------------------------------ errors that still reach WebGPU

test('a validation error that still happens names its kernel and what was bound, and says it is a missing check', async () => {
  const ctx = await createContext();
  try {
    const out = ctx.zeros([4], 'f32', 'v.out');
    const dead = ctx.device.createBuffer({ size: 256, usage: BufferUsage.STORAGE, label: 'v.destroyed' });
    dead.destroy();
    ctx.dispatch('activation_forward', { bindings: { src: dead, dst: out }, params: { n: 4 }, workgroups: [1] });
    await expectRejects(() => ctx.sync(), 'kernel activation_forward', /v\.destroyed|v\.out/, /missing check in webgpu-rnn/);
    await ctx.sync(); // reported once; the context goes on
  } finally {
    await ctx.close();
  }
});

// ------------------------------------------------------------------ Dawn's warnings

test('Dawn\'s limit warnings are filtered out of stderr (a pipe); other stderr output passes; WEBGPU_RNN_DAWN_WARNINGS=show keeps them', () => {
  // Through a shell pipe: Node gives its children sockets, not pipes, and a socket cannot be
  // reopened, so the filter leaves a socket alone (as it leaves regular files).
  const code = [
    "import { createContext } from './src/node.ts';",
    "process.stderr.write('before\\n');",
    'const ctx = await createContext();',
    "process.stderr.write('after\\n');",
    "console.log('done ' + ctx.describe());",
    'await ctx.close();',
  ].join('\n');
  // stdout and stderr both into one shell pipe.
  const run = (env: NodeJS.ProcessEnv) => spawnSync('sh', ['-c', '"$NODE" --import tsx --input-type=module -e "$CODE" 2>&1 | cat'],
    { cwd: root, env: { ...env, NODE: process.execPath, CODE: code }, encoding: 'utf8', timeout: 90_000 });
  const quiet = run(childEnv);
  if (quiet.status !== 0 || !quiet.stdout.includes('done')) throw new Error(`child failed: ${quiet.stdout}${quiet.stderr}`);
  if (/artificially reduced/.test(quiet.stdout)) throw new Error(`Dawn's warnings reached stderr:\n${quiet.stdout}`);
  if (!/before\n[\s\S]*after\n/.test(quiet.stdout)) throw new Error(`other stderr output was lost: ${JSON.stringify(quiet.stdout)}`);
  const shown = run({ ...childEnv, WEBGPU_RNN_DAWN_WARNINGS: 'show' });
  if (shown.status !== 0 || !shown.stdout.includes('done')) throw new Error(`child with WEBGPU_RNN_DAWN_WARNINGS=show failed: ${shown.stdout}`);
  // Mesa's drivers (lavapipe, llvmpipe under GL ES) report more dynamic buffers than Dawn supports,
  // so Dawn prints its notice there; other drivers may have nothing to print.
  if (/llvmpipe|mesa/i.test(shown.stdout) && !/artificially reduced/.test(shown.stdout)) {
    throw new Error(`WEBGPU_RNN_DAWN_WARNINGS=show did not show Dawn's warnings: ${JSON.stringify(shown.stdout)}`);
  }
});

test('withoutDawnLimitWarnings removes exactly Dawn\'s two notices', () => {
  const text = [
    'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.',
    'libEGL warning: something else',
    'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.',
    'Warning: a different Dawn warning',
  ].join('\n');
  const rest = withoutDawnLimitWarnings(text);
  if (rest !== 'libEGL warning: something else\nWarning: a different Dawn warning') throw new Error(`filtered to ${JSON.stringify(rest)}`);
});

test.run();
