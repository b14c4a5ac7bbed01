// Every registered kernel compiles, and its spec's bindings and params match its WGSL text.
import { suite } from 'uvu';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { allKernels, kernelSource } from '../src/runtime/registry.ts';
import { SHADERS } from '../src/shaders.generated.ts';
import '../src/kernels/index.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('registry');

test('src/shaders.generated.ts is in sync with shaders/*.wgsl', () => {
  execFileSync(process.execPath, ['scripts/gen-shaders.mjs', '--check'], { stdio: 'pipe' });
  const files = readdirSync('shaders').filter((f) => f.endsWith('.wgsl')).sort();
  if (JSON.stringify(Object.keys(SHADERS).sort()) !== JSON.stringify(files)) throw new Error('SHADERS keys differ from shaders/');
});

test('every shader file opens with a header comment and is used by a kernel', () => {
  const used = new Set(allKernels().map((k) => k.file));
  for (const f of Object.keys(SHADERS)) {
    if (!readFileSync(`shaders/${f}`, 'utf8').startsWith('//')) throw new Error(`shaders/${f} has no header comment`);
    if (f !== 'common.wgsl' && !used.has(f)) throw new Error(`shaders/${f} has no registered kernel`);
  }
});

const KIND_OF: Record<string, string> = { 'storage, read_write': 'storage', 'storage, read': 'read-only-storage', 'storage': 'read-only-storage', uniform: 'uniform' };

test('every spec matches its WGSL bindings, entry point and params struct', () => {
  for (const k of allKernels()) {
    const { code } = kernelSource(k.file);
    const entry = k.entry ?? k.name;
    if (!new RegExp(`@compute[^]*?fn\\s+${entry}\\s*\\(`).test(code)) throw new Error(`${k.name}: entry point ${entry} not found in ${k.file}`);
    k.bindings.forEach((b, pos) => {
      const i = b.index ?? pos;
      const m = new RegExp(`@group\\(0\\)\\s*@binding\\(${i}\\)\\s*var<([^>]+)>\\s*(\\w+)`).exec(code);
      if (!m) throw new Error(`${k.name}: ${k.file} has no @group(0) @binding(${i}) (spec says ${b.name})`);
      const kind = KIND_OF[m[1].replace(/\s+/g, ' ').trim()];
      if (m[2] !== b.name) throw new Error(`${k.name}: binding ${i} is ${m[2]} in ${k.file}, spec says ${b.name}`);
      if (kind !== b.kind) throw new Error(`${k.name}: binding ${i} (${b.name}) is var<${m[1]}> in ${k.file}, spec says ${b.kind}`);
    });
    if (k.params?.length) {
      const u = /var<uniform>\s*params\s*:\s*(\w+)/.exec(code);
      if (!u) throw new Error(`${k.name}: no var<uniform> params in ${k.file}`);
      const s = new RegExp(`struct\\s+${u[1]}\\s*\\{([^}]*)\\}`).exec(code);
      if (!s) throw new Error(`${k.name}: struct ${u[1]} not found in ${k.file}`);
      const fields = s[1].replace(/\/\/.*$/gm, '').split(',').map((f) => f.trim()).filter(Boolean).map((f) => f.split(':').map((x) => x.trim()));
      const want = k.params.map(([n, t]) => `${n}:${t}`).join(' ');
      const got = fields.map(([n, t]) => `${n}:${t}`).join(' ');
      if (want !== got) throw new Error(`${k.name}: params struct is {${got}} in ${k.file}, spec says {${want}}`);
    }
  }
});

test('every registered kernel compiles into a pipeline on this adapter', async () => {
  const ctx = await gpu();
  const failures: string[] = [];
  for (const k of allKernels()) {
    try { await ctx.compile(k.name); } catch (e) { failures.push((e as Error).message); }
  }
  if (failures.length) throw new Error(failures.join('\n'));
});

test('a WGSL compile error names the kernel, file and line', async () => {
  const ctx = await gpu();
  const { registerKernels, unregisterKernel } = await import('../src/runtime/registry.ts');
  SHADERS['broken_for_test.wgsl'] = '// broken\n@compute @workgroup_size(1)\nfn broken_for_test() {\n  let x: f32 = undefined_thing;\n}\n';
  try {
    registerKernels([{ name: 'broken_for_test', file: 'broken_for_test.wgsl', bindings: [] }]);
    let msg = '';
    try { await ctx.compile('broken_for_test'); } catch (e) { msg = (e as Error).message; }
    if (!/broken_for_test/.test(msg) || !/shaders\/broken_for_test\.wgsl:4/.test(msg)) throw new Error(`unexpected message: ${msg}`);
    const ok = new Float32Array(await ctx.read(ctx.tensor([1, 2], [2], 'after-error')));
    if (ok[1] !== 2) throw new Error('context unusable after a compile error');
  } finally {
    unregisterKernel('broken_for_test');
    delete SHADERS['broken_for_test.wgsl'];
  }
});

test.run();
