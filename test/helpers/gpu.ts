// The GPU fixture: one context for the whole test run, created on first use.
// There is no silent skip: without an adapter every GPU test fails with the install hint.
import { createContext, type GpuContext } from '../../src/node.ts';

let ctxPromise: Promise<GpuContext> | null = null;

export function gpu(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = createContext();
  return ctxPromise;
}

export async function disposeGpu(): Promise<void> {
  if (!ctxPromise) return;
  try { (await ctxPromise).dispose(); } catch { /* creation failed: nothing to release */ }
  ctxPromise = null;
}
