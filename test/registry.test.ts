// Every registered kernel compiles, and its spec's bindings and params match its WGSL text.
import { suite } from 'uvu';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { sep } from 'node:path';
import { allKernels, kernelSource, moduleFile, moduleParts } from '../src/runtime/registry.ts';
import { SHADERS } from '../src/shaders.generated.ts';
import '../src/kernels/index.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('registry');

test('src/shaders.generated.ts is in sync with shaders/*.wgsl', () => {
  execFileSync(process.execPath, ['scripts/gen-shaders.mjs', '--check'], { stdio: 'pipe' });
  const files = (readdirSync('shaders', { recursive: true }) as string[]).map((f) => f.split(sep).join('/')).filter((f) => f.endsWith('.wgsl')).sort();
  if (JSON.stringify(Object.keys(SHADERS).sort()) !== JSON.stringify(files)) throw new Error('SHADERS keys differ from shaders/');
});

test('every shader file opens with a header comment and is used by a kernel', () => {
  const used = new Set(allKernels().flatMap((k) => moduleParts(k.file)));
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
  // Kernels that need a device feature this adapter lacks (shader-f16 on GL ES) are skipped, named.
  const lacking = allKernels().filter((k) => k.features?.some((f) => !ctx.features.has(f)));
  if (lacking.length) console.log(`  skipped ${lacking.length} kernels that need ${[...new Set(lacking.flatMap((k) => k.features!))].join(', ')}, which this adapter lacks`);
  for (const k of allKernels()) {
    if (lacking.includes(k)) continue;
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

test('a WGSL error in an assembled module names the part and its line', async () => {
  const ctx = await gpu();
  const { registerKernels, unregisterKernel } = await import('../src/runtime/registry.ts');
  SHADERS['broken_part_for_test.wgsl'] = '// broken part\nfn broken_helper() -> f32 {\n  return undefined_thing;\n}\n';
  try {
    registerKernels([{
      name: 'broken_part_for_test', entry: 'final_state', bindings: [],
      file: moduleFile('precision/f32.wgsl', 'recurrent/layout.wgsl', 'cells/rnn.wgsl', 'broken_part_for_test.wgsl', 'cells/rnn_storage.wgsl', 'recurrent/views_scalar.wgsl', 'recurrent/step.wgsl'),
    }]);
    let msg = '';
    try { await ctx.compile('broken_part_for_test'); } catch (e) { msg = (e as Error).message; }
    if (!/shaders\/broken_part_for_test\.wgsl:3:/.test(msg)) throw new Error(`unexpected message: ${msg}`);
  } finally {
    unregisterKernel('broken_part_for_test');
    delete SHADERS['broken_part_for_test.wgsl'];
  }
});

test('scripts/print-wgsl.ts prints a kernel\'s assembled WGSL with each part marked', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/print-wgsl.ts', 'gru_step_backward'], { encoding: 'utf8' });
  for (const part of ['common.wgsl', 'recurrent/layout.wgsl', 'cells/gru.wgsl', 'cells/gru_storage.wgsl', 'recurrent/step.wgsl']) {
    if (!out.includes(`// ----- shaders/${part}`)) throw new Error(`no marker for ${part} in:\n${out.slice(0, 400)}`);
  }
  if (!/fn step_backward\(/.test(out)) throw new Error('the entry point is missing');
});

// Browsers grant 10 storage buffers per shader stage where the adapter allows (Chromium's
// SwiftShader: 10; WebGPU's default is 8), whatever this adapter grants, so no kernel binds more.
test('no kernel binds more than 10 storage buffers', () => {
  const over = allKernels()
    .map((k) => [k.name, k.bindings.filter((b) => b.kind !== 'uniform').length] as const)
    .filter(([, n]) => n > 10);
  if (over.length) throw new Error(`more than 10 storage buffers (the browsers' per-stage limit): ${over.map(([k, n]) => `${k} binds ${n}`).join(', ')}`);
});

// Every cell's forward and backward is written once (cells/), every schedule once (recurrent/):
// the whole recurrent WGSL stays small enough to read.
test('all recurrent WGSL (scaffolds, cells, generation) is at most 1,100 lines', () => {
  const files = Object.keys(SHADERS).filter((f) => f.startsWith('recurrent/') || f.startsWith('cells/'));
  const lines = files.reduce((n, f) => n + SHADERS[f].split('\n').length - (SHADERS[f].endsWith('\n') ? 1 : 0), 0);
  if (lines > 1100) throw new Error(`${lines} lines of recurrent WGSL in ${files.join(', ')}: at most 1,100`);
});

test.run();
