// What the library needs to know about an adapter to pick defaults, worked out once when a context
// is made (`ctx.adapterFacts`), so every module asks the same question the same way.
import type { AdapterSummary } from './context.ts';

export interface AdapterFacts {
  /**
   * A CPU implementation (lavapipe/llvmpipe, SwiftShader, WARP): dispatch latency and the CPU's
   * FLOP rate bind, so the defaults favour fewer, wider workgroups and the step schedule.
   */
  isCpu: boolean;
  /** The browser or Dawn reported a fallback adapter (`GPUAdapterInfo.isFallbackAdapter`). */
  isFallback: boolean;
  /** The adapter's vendor as reported ('nvidia', 'mesa', …; may be empty). */
  vendor: string;
}

const CPU_DRIVER = /llvmpipe|lavapipe|swiftshader|warp|software/i;

/** The facts for an adapter; `isFallback` as reported by the adapter, when it says. */
export function adapterFactsOf(a: AdapterSummary, isFallback = false): AdapterFacts {
  // Every field: Dawn's OpenGL ES backend names the GL version in the description and the
  // renderer (e.g. "llvmpipe-llvm-15-0-6-256-bits-") only in `device`.
  const isCpu = isFallback || CPU_DRIVER.test([a.description, a.device, a.architecture, a.vendor].join(' '));
  return Object.freeze({ isCpu, isFallback, vendor: a.vendor });
}
