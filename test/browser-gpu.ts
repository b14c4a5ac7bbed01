// The GPU fixture inside the page: the same interface as test/helpers/gpu.ts, backed by
// navigator.gpu (createBrowserContext). test/browser.test.ts aliases helpers/gpu.ts to this file
// when it bundles the kernel tests for the browser.
import { createBrowserContext, type GpuContext } from '../src/index.ts';

let ctxPromise: Promise<GpuContext> | null = null;

export function gpu(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = createBrowserContext();
  return ctxPromise;
}

export async function disposeGpu(): Promise<void> {
  if (!ctxPromise) return;
  try { (await ctxPromise).dispose(); } catch { /* creation failed: nothing to release */ }
  ctxPromise = null;
}
