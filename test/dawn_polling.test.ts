// Paced polling (src/runtime/dawn-polling.ts): while the runtime waits for the GPU, dawn.node's
// polls for finished work (setImmediate with a native callback, in a loop) are paced to one per
// millisecond after a short spin, so they do not keep a CPU core busy; other setImmediate callers
// get the real one, and the global is restored when no wait is left. WEBGPU_RNN_DAWN_POLL is
// checked ('auto' by default: paced on CPU drivers; 'paced' everywhere; 'spin' keeps dawn.node's loop).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pacedWait, pollingMode } from '../src/runtime/dawn-polling.ts';
import { matmul } from '../src/kernels/matmul.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import '../src/kernels/index.ts';

const test = suite('dawn_polling');

const isNative = (fn: unknown) => typeof fn === 'function' && Function.prototype.toString.call(fn).includes('[native code]');

test('WEBGPU_RNN_DAWN_POLL: auto by default, paced or spin on request, anything else named', () => {
  assert.is(pollingMode({}), 'auto');
  for (const m of ['auto', 'paced', 'spin'] as const) assert.is(pollingMode({ WEBGPU_RNN_DAWN_POLL: m }), m);
  expectThrows(() => pollingMode({ WEBGPU_RNN_DAWN_POLL: 'fast' }), /WEBGPU_RNN_DAWN_POLL must be 'auto', 'paced' or 'spin', got "fast"/);
});

test('pacedWait: JavaScript callbacks keep the real setImmediate, the global comes back, errors pass through', async () => {
  const before = globalThis.setImmediate;
  let ran = false;
  const value = await pacedWait(async () => {
    assert.ok(globalThis.setImmediate !== before, 'a pacing setImmediate is installed during the wait');
    const handle = setImmediate(() => { ran = true; });
    assert.ok(handle instanceof before(() => {}).constructor, 'a JavaScript callback gets a real Immediate');
    await new Promise((r) => setTimeout(r, 5));
    return 42;
  });
  assert.is(value, 42);
  assert.ok(ran, 'the JavaScript callback ran during the wait');
  assert.is(globalThis.setImmediate, before, 'restored after the wait');
  let caught: unknown = null;
  try { await pacedWait(async () => { throw new Error('boom'); }); } catch (e) { caught = e; }
  assert.ok(caught instanceof Error && caught.message === 'boom');
  assert.is(globalThis.setImmediate, before, 'restored after a failed wait');
  // Nested waits restore only when the last one ends.
  await pacedWait(async () => {
    const inner = globalThis.setImmediate;
    await pacedWait(async () => { assert.is(globalThis.setImmediate, inner); });
    assert.is(globalThis.setImmediate, inner, 'still paced while the outer wait runs');
  });
  assert.is(globalThis.setImmediate, before);
});

test('a context sync of long GPU work: dawn.node polls through timers, not an immediate loop', async () => {
  const ctx = await gpu();
  const mode = pollingMode();
  // Paced here: a CPU driver under 'auto' (CI's lavapipe and llvmpipe), any adapter under 'paced'.
  if (mode === 'spin' || (mode === 'auto' && !ctx.adapterFacts.isCpu)) return;
  const n = 384;
  const rng = new Rng(3);
  const a = ctx.tensor(rng.uniformArray(n * n, -1, 1), [n, n], 'a');
  const b = ctx.tensor(rng.uniformArray(n * n, -1, 1), [n, n], 'b');
  const out = ctx.tensor(new Float32Array(n * n), [n, n], 'out');
  try {
    await ctx.sync();
    // Count what reaches the real setImmediate and setTimeout with native callbacks (dawn.node's).
    const realImmediate = globalThis.setImmediate, realTimeout = globalThis.setTimeout;
    let immediate = 0, timed = 0;
    globalThis.setImmediate = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => { if (isNative(fn)) immediate++; return realImmediate(fn, ...args); }) as typeof setImmediate;
    globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => { if (isNative(fn)) timed++; return realTimeout(fn, ms, ...args); }) as typeof setTimeout;
    // Submitted first: a backend that runs the work inside submit (Dawn's OpenGL ES) then leaves
    // nothing to wait for, and the check below has nothing to observe.
    for (let i = 0; i < 8; i++) matmul(ctx, a, b, out);
    ctx.flush();
    const t0 = performance.now();
    try {
      await ctx.sync();
    } finally {
      globalThis.setImmediate = realImmediate;
      globalThis.setTimeout = realTimeout;
    }
    const ms = performance.now() - t0;
    if (ms < 20) return;   // finished (a fast GPU, or inside submit) before pacing began: nothing to observe
    assert.ok(timed >= 1, `dawn.node's polls were paced through setTimeout (${timed} in ${ms.toFixed(0)} ms)`);
    // dawn.node's own loop polls thousands of times in such a wait; paced, about once per ms.
    assert.ok(immediate + timed <= 4 * ms + 50, `${immediate} immediate and ${timed} timed polls in ${ms.toFixed(0)} ms`);
  } finally {
    a.release(); b.release(); out.release();
  }
});

test.run();
