// Runtime: tensors, the buffer pool, recording order, caches, errors, device loss and disposal.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { createContext } from '../src/node.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import '../src/kernels/index.ts';

const test = suite('runtime');

test('tensors round-trip f32, i32 and u32 data', async () => {
  const ctx = await gpu();
  const f = ctx.tensor(new Float32Array([1.5, -2, 3e-7, 1e30]), [2, 2], 'f');
  const i = ctx.tensor(new Int32Array([-1, 0, 7]), [3], 'i');
  const u = ctx.tensor(new Uint32Array([4294967295, 1]), [2], 'u');
  expectClose('f', await ctx.read(f), new Float32Array([1.5, -2, 3e-7, 1e30]), { atol: 0, rtol: 0 }); // bit-exact f32
  expectClose('i', await ctx.read(i), [-1, 0, 7], { atol: 0, rtol: 0 });
  expectClose('u', await ctx.read(u), [4294967295, 1], { atol: 0, rtol: 0 });
  if (f.dtype !== 'f32' || i.dtype !== 'i32' || u.dtype !== 'u32') throw new Error('dtype not kept');
  for (const t of [f, i, u]) t.release();
});

test('zeros clears a reused buffer; copy and write keep recording order', async () => {
  const ctx = await gpu();
  const a = ctx.tensor(new Float32Array(300).fill(7), [300], 'a');
  a.release();
  const z = ctx.zeros([300], 'f32', 'z'); // likely the same pooled buffer as `a`
  const b = ctx.tensor(new Float32Array(300).fill(2), [300], 'b');
  ctx.copy(b, z);
  ctx.write(b, new Float32Array(300).fill(5)); // must not affect the copy recorded before it
  expectClose('z', await ctx.read(z), new Float32Array(300).fill(2), { atol: 0, rtol: 0 });
  expectClose('b', await ctx.read(b), new Float32Array(300).fill(5), { atol: 0, rtol: 0 });
  z.release(); b.release();
});

test('bad tensor arguments give clear errors', async () => {
  const ctx = await gpu();
  expectThrows(() => ctx.tensor([1, 2, 3], [2, 2], 'x'), 'x', '3 values', '(2, 2)', '4 expected');
  expectThrows(() => ctx.empty([2, 0], 'f32', 'y'), 'y', '(2, 0)', 'positive integer');
  expectThrows(() => ctx.empty([2.5], 'f32', 'w'), 'w', 'positive integer');
  const t = ctx.zeros([4], 'f32', 'z');
  expectThrows(() => ctx.write(t, new Int32Array(4)), 'write z', 'i32', 'f32');
  expectThrows(() => ctx.write(t, new Float32Array(5)), 'write z', '5 values', '4');
  t.release();
  expectThrows(() => ctx.dispatch('adam_update', { bindings: { p: t }, workgroups: [1] }), 'released');
  expectThrows(() => ctx.dispatch('no_such_kernel', { bindings: {}, workgroups: [1] }), 'unknown kernel no_such_kernel');
});

test('the pool recycles buffers: a steady loop allocates nothing', async () => {
  const ctx = await gpu();
  const before = ctx.memoryStats();
  for (let i = 0; i < 50; i++) {
    const a = ctx.zeros([1000], 'f32', 'loop-a');
    const b = ctx.empty([37, 5], 'i32', 'loop-b');
    a.release(); b.release();
  }
  await ctx.sync();
  const after = ctx.memoryStats();
  if (after.liveBuffers !== before.liveBuffers) throw new Error(`live buffers ${before.liveBuffers} -> ${after.liveBuffers}`);
  if (after.pooledBuffers > before.pooledBuffers + 2) throw new Error(`pool grew from ${before.pooledBuffers} to ${after.pooledBuffers}`);
});

test('uniform and bind-group caches make repeated dispatches allocation-free', async () => {
  const ctx = await gpu();
  const { adamUpdate } = await import('../src/kernels/adam.ts');
  const p = ctx.zeros([64]), g = ctx.zeros([64]), m = ctx.zeros([64]), v = ctx.zeros([64]);
  const hyper = ctx.tensor([0.1, 1, 1], [3]), scale = ctx.tensor([1], [1]);
  const h = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  adamUpdate(ctx, p, g, m, v, hyper, scale, h);
  await ctx.sync();
  const u0 = ctx.memoryStats().uniformBuffers;
  for (let i = 0; i < 20; i++) adamUpdate(ctx, p, g, m, v, hyper, scale, h);
  await ctx.sync();
  if (ctx.memoryStats().uniformBuffers !== u0) throw new Error('uniform buffers grew in a steady loop');
  for (const t of [p, g, m, v, hyper, scale]) t.release();
});

test('a lost device makes later calls fail with a clear message', async () => {
  const ctx = await createContext();
  const t = ctx.tensor([1, 2], [2], 't');
  ctx.device.destroy();
  await new Promise((r) => setTimeout(r, 50));
  await expectRejects(() => ctx.read(t), /lost|destroyed|disposed/i);
  expectThrows(() => ctx.zeros([2]), /lost/);
  ctx.dispose();
  ctx.dispose(); // twice is fine
});

const childEnv = { ...process.env };
delete childEnv.WEBGPU_RNN_BACKEND;
const script = (extra: string) =>
  `import { createContext } from './src/node.ts';\n` +
  `const ctx = await createContext(${extra});\n` +
  `const t = ctx.tensor([3, 4], [2], 't');\n` +
  `const r = await ctx.read(t);\n` +
  `console.log(JSON.stringify({ backend: ctx.adapterInfo.backend, level: ctx.adapterInfo.featureLevel, sum: r[0] + r[1] }));\n` +
  `ctx.dispose();\n`;

function runChild(code: string, env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 30_000 });
}

test('after dispose() a Node process exits by itself', () => {
  const r = runChild(script(''), childEnv);
  if (r.error || r.status !== 0) throw new Error(`child did not exit cleanly (${r.error?.message ?? r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (out.sum !== 7) throw new Error(`unexpected child output ${r.stdout}`);
});

test('the OpenGL ES backend can be forced (compatibility mode)', () => {
  const r = runChild(script(''), { ...childEnv, WEBGPU_RNN_BACKEND: 'opengles' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  if (out.backend !== 'opengles' || out.level !== 'compatibility' || out.sum !== 7) throw new Error(`unexpected ${r.stdout}`);
});

test('a backend with no adapter gives an error that says what to install', () => {
  const r = runChild(script(''), { ...childEnv, WEBGPU_RNN_BACKEND: 'd3d12' });
  if (r.status === 0) throw new Error('expected failure');
  if (!/No WebGPU adapter was found/.test(r.stderr) || !/mesa-vulkan-drivers/.test(r.stderr)) throw new Error(`unhelpful error: ${r.stderr.slice(0, 500)}`);
});

test.run();
