// Device acquisition in Node through Dawn (the `webgpu` package).
//
// Order: the backend named by WEBGPU_RNN_BACKEND if set; otherwise Dawn's default adapter
// (Vulkan on Linux, Metal on macOS, D3D12 on Windows); on Linux, if that finds nothing, Dawn's
// OpenGL ES backend in compatibility mode (works on stock Mesa through EGL surfaceless).
//
//   WEBGPU_RNN_BACKEND=vulkan|opengles|metal|d3d12|default   force a backend
//   WEBGPU_RNN_ADAPTER=<text>     pick the adapter whose name contains <text> (Dawn's adapter= flag)
//   WEBGPU_RNN_DAWN_FLAGS=a=b,c=d extra flags passed to Dawn's create(); a flag's value may hold
//                                 commas (enable-dawn-features=t1,t2): a part without '=' joins the flag before it
//   WEBGPU_RNN_DAWN_TOGGLES=t1,t2 Dawn toggles to enable (the dawnToggles option)
//   WEBGPU_RNN_DAWN_WARNINGS=show print Dawn's limit-clamping warnings (hidden by default)
//   WEBGPU_RNN_DAWN_POLL=auto|paced|spin  how waits for the GPU poll: paced on CPU drivers (auto,
//                                 the default), everywhere, or dawn.node's busy loop (dawn-polling.ts)
//
// `webgpu` is an optional peer dependency (browser projects never install Dawn), so it is imported
// only here, on first use, with an install hint when it is missing.

import { contextFromGpu, type GpuContext } from './context.ts';
import { pacedWait, pollingMode } from './dawn-polling.ts';
import { filterDawnWarnings } from './dawn-stderr.ts';

/** Options of the Node `createContext()` (Dawn); each also has an environment variable (see the README). */
export interface NodeContextOptions {
  /** Force a backend ('vulkan', 'opengles', …); default: env WEBGPU_RNN_BACKEND, else automatic. */
  backend?: string;
  /** Prefer a high-performance or low-power adapter. */
  powerPreference?: GPUPowerPreference;
  /**
   * Dawn toggles to enable (Dawn's `enable-dawn-features`), e.g. `['vulkan_enable_f16_on_nvidia']`:
   * Dawn holds `shader-f16` back on NVIDIA's Vulkan driver unless that toggle is on (its own f16
   * conformance tests failed there), and `precision: 'f16'` layers need it. Default: env
   * WEBGPU_RNN_DAWN_TOGGLES (comma-separated), else none.
   */
  dawnToggles?: string[];
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

function dawnFlags(backend: string | undefined, toggles: readonly string[]): string[] {
  const flags: string[] = [];
  if (backend && backend !== 'default' && backend !== 'auto') flags.push(`backend=${backend}`);
  const adapter = process.env.WEBGPU_RNN_ADAPTER;
  if (adapter) flags.push(`adapter=${adapter}`);
  const extra = splitDawnFlags(process.env.WEBGPU_RNN_DAWN_FLAGS ?? '');
  // Dawn reads one enable-dawn-features flag: the toggles join one given in WEBGPU_RNN_DAWN_FLAGS.
  const given = extra.findIndex((f) => f.startsWith('enable-dawn-features='));
  if (toggles.length && given >= 0) extra[given] += `,${toggles.join(',')}`;
  else if (toggles.length) extra.push(`enable-dawn-features=${toggles.join(',')}`);
  return [...flags, ...extra];
}

/** `a=b,c=d,e` → ['a=b', 'c=d,e']: Dawn's flags are key=value, and a value may list names with commas. */
export function splitDawnFlags(text: string): string[] {
  const flags: string[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (!part.includes('=') && flags.length) flags[flags.length - 1] += `,${part}`;
    else flags.push(part);
  }
  return flags;
}

/** The toggles of the options, else of WEBGPU_RNN_DAWN_TOGGLES; each a Dawn toggle name. */
function dawnToggles(options: NodeContextOptions): string[] {
  const fromEnv = options.dawnToggles === undefined;
  const list = options.dawnToggles ?? (process.env.WEBGPU_RNN_DAWN_TOGGLES ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of list) {
    if (typeof t !== 'string' || !/^[a-z0-9_]+$/.test(t)) {
      const where = fromEnv ? 'environment variable WEBGPU_RNN_DAWN_TOGGLES' : 'createContext: option dawnToggles';
      throw new Error(`${where}: each toggle must be a Dawn toggle name of lower-case letters, digits and '_' (e.g. vulkan_enable_f16_on_nvidia), got ${describe(t)}`);
    }
  }
  return list;
}

interface DawnModule {
  create(flags: string[]): unknown;
  globals: Record<string, unknown>;
}

export const MISSING_WEBGPU_MESSAGE =
  'createContext() needs Dawn for Node: install the `webgpu` package (npm install webgpu) to use WebGPU from Node. ' +
  '(It is an optional peer dependency, so that browser projects do not download it; in a page use createBrowserContext().)';

let dawnModule: Promise<DawnModule> | null = null;

/** Dawn's Node bindings, imported on first use; `webgpu` is an optional peer dependency. */
async function loadDawn(): Promise<DawnModule> {
  dawnModule ??= (async () => {
    let mod: DawnModule;
    try {
      // A variable specifier keeps bundlers from resolving `webgpu` for a browser build.
      const name = 'webgpu';
      mod = (await import(name)) as DawnModule;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(MISSING_WEBGPU_MESSAGE);
      throw new Error(`createContext(): the \`webgpu\` package is installed but could not be loaded (${(e as Error).message}); reinstall it (npm install webgpu)`);
    }
    // GPUBufferUsage, GPUMapMode, … for user code that expects browser globals; never overwrite.
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    return mod;
  })();
  try {
    return await dawnModule;
  } catch (e) {
    dawnModule = null; // let a later call retry after `npm install webgpu`
    throw e;
  }
}

// One Dawn instance per set of flags for the whole process: an instance lists its adapters (and
// Dawn prints its warnings) once, and holding it does not keep the process alive.
const instances = new Map<string, GPU>();

function dawnInstance(dawn: DawnModule, flags: string[]): GPU {
  const key = flags.join('\n');
  let gpu = instances.get(key);
  if (!gpu) {
    const raw = dawn.create(flags) as GPU;
    // Dawn lists the adapters inside requestAdapter(): hide its limit warnings there.
    gpu = {
      requestAdapter: (o?: GPURequestAdapterOptions) => filterDawnWarnings(() => raw.requestAdapter(o)),
      getPreferredCanvasFormat: () => raw.getPreferredCanvasFormat(),
      wgslLanguageFeatures: raw.wgslLanguageFeatures,
      __brand: 'GPU',
    } as GPU;
    instances.set(key, gpu);
  }
  return gpu;
}

const BACKENDS = ['default', 'auto', 'vulkan', 'opengles', 'opengl', 'metal', 'd3d12', 'd3d11'];
const POWER_PREFERENCES = ['low-power', 'high-performance'];

function describe(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : v === null ? 'null' : Array.isArray(v) ? 'an array' : `${String(v)} (${typeof v})`;
}

/** Throws naming the option (or environment variable), the bad value and what is accepted. */
function checkOptions(options: unknown): NodeContextOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`createContext: expected an options object like { backend: 'vulkan' } (or nothing), got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'backend' && key !== 'powerPreference' && key !== 'dawnToggles') throw new Error(`createContext: unknown option "${key}"; the options are backend, powerPreference and dawnToggles`);
  }
  if (o.backend !== undefined && (typeof o.backend !== 'string' || !BACKENDS.includes(o.backend))) {
    throw new Error(`createContext: option backend must be one of ${BACKENDS.join(', ')}, got ${describe(o.backend)}`);
  }
  if (o.powerPreference !== undefined && (typeof o.powerPreference !== 'string' || !POWER_PREFERENCES.includes(o.powerPreference))) {
    throw new Error(`createContext: option powerPreference must be 'low-power' or 'high-performance', got ${describe(o.powerPreference)}`);
  }
  if (o.dawnToggles !== undefined && !Array.isArray(o.dawnToggles)) {
    throw new Error(`createContext: option dawnToggles must be an array of Dawn toggle names (e.g. ['vulkan_enable_f16_on_nvidia']), got ${describe(o.dawnToggles)}`);
  }
  const env = process.env.WEBGPU_RNN_BACKEND;
  if (o.backend === undefined && env && !BACKENDS.includes(env)) {
    throw new Error(`createContext: environment variable WEBGPU_RNN_BACKEND must be one of ${BACKENDS.join(', ')}, got "${env}"`);
  }
  return o as NodeContextOptions;
}

/** Creates a GpuContext in Node. Throws with install instructions if no adapter is found. */
export async function createNodeContext(options: NodeContextOptions = {}): Promise<GpuContext> {
  options = checkOptions(options);
  const toggles = dawnToggles(options);
  const polling = pollingMode();   // checked before Dawn loads
  const dawn = await loadDawn();
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
    const gpu = dawnInstance(dawn, dawnFlags(a.backend, toggles));
    const opts: GPURequestAdapterOptions = { ...a.opts };
    if (options.powerPreference) opts.powerPreference = options.powerPreference;
    const name = a.backend === 'default' ? defaultBackendName() : a.backend;
    // Paced waits (dawn-polling.ts) where the mode asks for them: with 'auto', once the adapter is known to be a CPU driver.
    let paced = polling === 'paced';
    const waitFor = <T>(start: () => Promise<T>): Promise<T> => (paced ? pacedWait(start) : start());
    const ctx = await contextFromGpu(gpu, name, opts, null, waitFor);
    if (ctx) { paced ||= polling === 'auto' && ctx.adapterFacts.isCpu;  return ctx; }
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
