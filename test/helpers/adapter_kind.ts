// Runs a test body with the context taken for a GPU rather than a CPU driver, so that the choices
// the runtime makes for real GPUs (workgroup widths of the reductions) are tested on CI's software
// adapters too. Only the adapter kind changes; the adapter and its results are the same.
import type { GpuContext } from '../../src/runtime/context.ts';

export async function asGpuAdapter<T>(ctx: GpuContext, body: () => Promise<T>): Promise<T> {
  const facts = ctx.adapterFacts;
  Object.defineProperty(ctx, 'adapterFacts', { value: Object.freeze({ ...facts, isCpu: false, isFallback: false }), configurable: true, writable: true });
  try {
    return await body();
  } finally {
    Object.defineProperty(ctx, 'adapterFacts', { value: facts, configurable: true, writable: true });
  }
}
