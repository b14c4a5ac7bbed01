// Device acquisition in Node through Dawn (the `webgpu` package).
//
// Order: the backend named by WEBGPU_RNN_BACKEND if set; otherwise Dawn's default adapter
// (Vulkan on Linux, Metal on macOS, D3D12 on Windows); on Linux, if that finds nothing, Dawn's
// OpenGL ES backend in compatibility mode (works on stock Mesa through EGL surfaceless).
//
//   WEBGPU_RNN_BACKEND=vulkan|opengles|metal|d3d12|default   force a backend
//   WEBGPU_RNN_ADAPTER=<text>     pick the adapter whose name contains <text> (Dawn's adapter= flag)
//   WEBGPU_RNN_DAWN_FLAGS=a=b,c=d extra flags passed to Dawn's create()

import { create, globals } from 'webgpu';
import { contextFromGpu, type GpuContext } from './context.ts';

/** Options of the Node `createContext()` (Dawn); each also has an environment variable (see the README). */
export interface NodeContextOptions {
  /** Force a backend ('vulkan', 'opengles', …); default: env WEBGPU_RNN_BACKEND, else automatic. */
  backend?: string;
  /** Prefer a high-performance or low-power adapter. */
  powerPreference?: GPUPowerPreference;
}

const INSTALL_HINT = [
  'No WebGPU adapter was found.',
  '  On Linux without a GPU, install a software Vulkan driver (Mesa lavapipe >= 24):',
  '    Debian 12: add bookworm-backports to /etc/apt/sources.list.d/debian.sources, then',
  '      apt-get update && apt-get install -t bookworm-backports mesa-vulkan-drivers',
  '    Ubuntu 24.04+ / Debian 13: apt-get install mesa-vulkan-drivers',
  '  or run `npm run setup`, which does this when it runs as root.',
  '  With a real GPU, install its Vulkan driver (NVIDIA: the proprietary driver; AMD/Intel: Mesa).',
  '  Force a backend with WEBGPU_RNN_BACKEND=vulkan|opengles.',
].join('\n');

function dawnFlags(backend: string | undefined): string[] {
  const flags: string[] = [];
  if (backend && backend !== 'default' && backend !== 'auto') flags.push(`backend=${backend}`);
  const adapter = process.env.WEBGPU_RNN_ADAPTER;
  if (adapter) flags.push(`adapter=${adapter}`);
  const extra = process.env.WEBGPU_RNN_DAWN_FLAGS;
  if (extra) flags.push(...extra.split(',').map((s) => s.trim()).filter(Boolean));
  return flags;
}

let globalsInstalled = false;
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  // GPUBufferUsage, GPUMapMode, … for user code that expects browser globals; never overwrite.
  for (const [k, v] of Object.entries(globals as Record<string, unknown>)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
}

/** Creates a GpuContext in Node. Throws with install instructions if no adapter is found. */
export async function createNodeContext(options: NodeContextOptions = {}): Promise<GpuContext> {
  installGlobals();
  if (!process.env.XDG_RUNTIME_DIR && process.platform === 'linux') process.env.XDG_RUNTIME_DIR = '/tmp';
  const forced = options.backend ?? process.env.WEBGPU_RNN_BACKEND;
  const attempts: { backend: string; opts: GPURequestAdapterOptions }[] = [];
  if (forced === 'opengles' || forced === 'opengl') {
    attempts.push({ backend: forced, opts: { featureLevel: 'compatibility' } });
  } else if (forced && forced !== 'auto' && forced !== 'default') {
    attempts.push({ backend: forced, opts: {} });
  } else {
    attempts.push({ backend: 'default', opts: {} });
    if (process.platform === 'linux') attempts.push({ backend: 'opengles', opts: { featureLevel: 'compatibility' } });
  }
  const tried: string[] = [];
  for (const a of attempts) {
    if (a.backend.startsWith('opengl') && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
    let gpu: GPU | null = create(dawnFlags(a.backend)) as unknown as GPU;
    const opts: GPURequestAdapterOptions = { ...a.opts };
    if (options.powerPreference) opts.powerPreference = options.powerPreference;
    const name = a.backend === 'default' ? defaultBackendName() : a.backend;
    const ctx = await contextFromGpu(gpu, name, opts, () => { gpu = null; });
    if (ctx) return ctx;
    gpu = null;
    tried.push(name);
  }
  throw new Error(`${INSTALL_HINT}\n  (tried: ${tried.join(', ')})`);
}

function defaultBackendName(): string {
  switch (process.platform) {
    case 'darwin': return 'metal';
    case 'win32': return 'd3d12';
    default: return 'vulkan';
  }
}
