// Device acquisition in a browser through navigator.gpu. Never imports Node modules.

import { contextFromGpu, type GpuContext } from './context.ts';

export const NO_WEBGPU_MESSAGE =
  'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Firefox, ' +
  'or Safari 26+, with WebGPU enabled.';

export const INSECURE_CONTEXT_MESSAGE =
  'WebGPU is available only in a secure context: open this page over https, or from localhost / 127.0.0.1 ' +
  '(this page was loaded over plain http from another address, so the browser hides navigator.gpu).';

/** Creates a GpuContext from `navigator.gpu` (or a GPU object you pass). */
export async function createBrowserContext(gpu?: GPU, options: GPURequestAdapterOptions = {}): Promise<GpuContext> {
  const g = gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!g) {
    // Browsers hide navigator.gpu on insecure origins (plain http other than localhost).
    if ((globalThis as { isSecureContext?: boolean }).isSecureContext === false) throw new Error(INSECURE_CONTEXT_MESSAGE);
    throw new Error(NO_WEBGPU_MESSAGE);
  }
  const ctx = (await contextFromGpu(g, 'browser', options)) ??
    (await contextFromGpu(g, 'browser', { ...options, featureLevel: 'compatibility' }));
  if (!ctx) throw new Error('navigator.gpu found no WebGPU adapter: WebGPU may be disabled or blocked for this GPU.');
  return ctx;
}
