// The contract of a rejected call: a user error throws a message that names what was wrong and
// what was expected, before anything reaches the GPU, and leaves the model exactly as it was.
//   await expectRejectedCleanly(model, () => model.trainStep(bad), /batch\.shape/, /expected/);
// checks: the error matches every pattern; no dispatch was recorded and nothing submitted; every
// weight, gradient-free optimizer slot and counter (model.step, optimizer.step, the dropout RNG)
// is bit-identical to before; and, when `validBatch` is given, a valid training step works after.
import type { Sequential, Batch } from '../../src/nn/index.ts';

/** Everything a rejected call must leave unchanged, read back from the GPU. */
export interface ModelSnapshot {
  weights: Map<string, Float32Array>;
  slots: Map<string, Float32Array>;
  step: number;
  optimizerStep: number;
  rngState: number;
}

export async function snapshotModel(model: Sequential): Promise<ModelSnapshot> {
  const ctx = model.context;
  const weights = new Map<string, Float32Array>();
  for (const [key, p] of model.namedParameters()) weights.set(key, (await ctx.read(p.value!)) as Float32Array);
  const slots = new Map<string, Float32Array>();
  const opt = model.optimizer;
  if (opt) {
    for (const [key, s] of opt.state().slots) {
      for (const [slot, t] of Object.entries(s)) slots.set(`${key}.${slot}`, (await ctx.read(t)) as Float32Array);
    }
  }
  return { weights, slots, step: model.step, optimizerStep: opt?.step ?? 0, rngState: model.rngState() };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Throws naming the first thing that differs between two snapshots. */
export function expectSameSnapshot(before: ModelSnapshot, after: ModelSnapshot, what = 'model'): void {
  for (const field of ['step', 'optimizerStep', 'rngState'] as const) {
    if (before[field] !== after[field]) throw new Error(`${what}: ${field} changed from ${before[field]} to ${after[field]}`);
  }
  for (const kind of ['weights', 'slots'] as const) {
    const b = before[kind], a = after[kind];
    if (b.size !== a.size) throw new Error(`${what}: ${kind} count changed from ${b.size} to ${a.size}`);
    for (const [key, v] of b) {
      const w = a.get(key);
      if (!w) throw new Error(`${what}: ${kind} ${key} disappeared`);
      if (!sameBits(v, w)) throw new Error(`${what}: ${kind} ${key} changed`);
      for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) throw new Error(`${what}: ${kind} ${key}[${i}] is ${w[i]}`);
    }
  }
}

/**
 * Runs `call` (sync or async), expects it to throw an Error matching every pattern, and checks
 * that nothing was dispatched or submitted and the model is unchanged. With `validBatch`, a
 * training step on it must then succeed with a finite loss.
 */
export async function expectRejectedCleanly(
  model: Sequential,
  call: () => unknown,
  patterns: (string | RegExp)[],
  validBatch?: Batch,
): Promise<Error> {
  const ctx = model.context;
  const before = await snapshotModel(model);
  ctx.flush();
  const dispatches = ctx.dispatchCount, submits = ctx.submitCount;
  let err: unknown;
  try { await call(); } catch (e) { err = e; }
  if (!(err instanceof Error)) throw new Error(`expected an error matching ${patterns.join(', ')}, but nothing was thrown`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? err.message.includes(p) : p.test(err.message);
    if (!ok) throw new Error(`error message does not match ${p}: "${err.message}"`);
  }
  if (ctx.dispatchCount !== dispatches) throw new Error(`${ctx.dispatchCount - dispatches} dispatches were recorded before the error "${err.message}"`);
  if (ctx.submitCount !== submits) throw new Error(`${ctx.submitCount - submits} command buffers were submitted before the error "${err.message}"`);
  expectSameSnapshot(before, await snapshotModel(model), `after "${err.message}"`);
  if (validBatch) {
    const { loss } = await model.trainStep(validBatch, { readLoss: true });
    if (!(typeof loss === 'number' && Number.isFinite(loss))) throw new Error(`the valid step after "${err.message}" gave loss ${loss}`);
  }
  return err;
}
