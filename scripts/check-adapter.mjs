// Prints the WebGPU adapter Dawn finds on one backend and exits 0, or exits 1 if there is none.
//   node scripts/check-adapter.mjs [vulkan|opengles|default]
import { create, globals } from 'webgpu';

const backend = process.argv[2] ?? 'default';
if (!process.env.XDG_RUNTIME_DIR && process.platform === 'linux') process.env.XDG_RUNTIME_DIR = '/tmp';
Object.assign(globalThis, globals);
const flags = backend === 'default' ? [] : [`backend=${backend}`];
const opts = backend === 'opengles' ? { featureLevel: 'compatibility' } : {};
if (backend === 'opengles' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
const adapter = await create(flags).requestAdapter(opts);
if (!adapter) {
  console.log(`no WebGPU adapter on backend ${backend}`);
  process.exit(1);
}
const i = adapter.info;
console.log(`WebGPU adapter (${backend}): ${i.description || i.device} [vendor ${i.vendor}, ${i.architecture}]`);
process.exit(0);
