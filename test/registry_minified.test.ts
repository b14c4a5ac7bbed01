// The WGSL the published build ships (scripts/minify-wgsl.mjs, used by `npm run build` for
// dist/shaders.generated.js) is the WGSL of shaders/*.wgsl without comments and blanks: the same
// tokens on the same lines, and every kernel still compiles into a pipeline on this adapter.
import { suite } from 'uvu';
import { minifyWgsl, stripWgslComments } from '../scripts/minify-wgsl.mjs';
import { allKernels, kernelSource } from '../src/runtime/registry.ts';
import { SHADERS } from '../src/shaders.generated.ts';
import '../src/kernels/index.ts';
import { expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('registry_minified');

// Identifiers/numbers, runs of operator characters (so `- -` and `--` differ), other characters.
const tokens = (wgsl: string): string[] => wgsl.match(/[A-Za-z0-9_]+|[+\-*/%&|^<>=!]+|\S/g) ?? [];
const lineCount = (s: string) => s.split('\n').length;
const shaderFiles = () => Object.keys(SHADERS).filter((f) => f !== 'broken_for_test.wgsl');

/** The module a kernel compiles (common.wgsl + its parts), minified part by part and joined the
 *  way kernelSource() joins them. */
function minifiedSource(file: string): string {
  return kernelSource(file).parts.map((p) => minifyWgsl(SHADERS[p.file])).join('\n');
}

test('comments go, nested block comments included, and every newline stays', () => {
  const src = 'let a = 1; // one\n/* two\n   lines /* nested\n */ still comment */ let b = a / 2;\n  let c = -(-a) - -b; /**/\n';
  const out = minifyWgsl(src);
  if (out !== 'let a=1;\n\n\nlet b=a/2;\nlet c= -(-a)- -b;\n') throw new Error(`got ${JSON.stringify(out)}`);
  expectThrows(() => minifyWgsl('let a = 1; /* open /* nested */'), /block comment is never closed/, /expected `\*\/`/);
});

test('every shader keeps its tokens and its line count, and loses its comments', () => {
  let before = 0, after = 0;
  for (const f of shaderFiles()) {
    const src = SHADERS[f];
    const out = minifyWgsl(src);
    if (lineCount(out) !== lineCount(src)) throw new Error(`${f}: ${lineCount(src)} lines became ${lineCount(out)}`);
    if (/\/\/|\/\*/.test(out)) throw new Error(`${f}: a comment is left in the minified WGSL`);
    const want = tokens(stripWgslComments(src)), got = tokens(out);
    const at = want.findIndex((t, i) => t !== got[i]);
    if (at >= 0 || want.length !== got.length) {
      throw new Error(`${f}: token ${at} is ${JSON.stringify(got[at])} in the minified WGSL, expected ${JSON.stringify(want[at])}`);
    }
    before += src.length; after += out.length;
  }
  // A sanity floor, not a benchmark: the shaders are heavily commented, so at least a third goes.
  if (after > before * 0.67) throw new Error(`minified WGSL is ${after} of ${before} characters: expected at most two thirds`);
});

test('every minified kernel module compiles and every kernel builds a pipeline from it', async () => {
  const ctx = await gpu();
  const device = ctx.device;
  const failures: string[] = [];
  const modules = new Map<string, GPUShaderModule>();
  // Modules that need a device feature this adapter lacks (shader-f16 on GL ES) are skipped.
  const runnable = allKernels().filter((k) => !k.features?.some((f) => !ctx.features.has(f)));
  for (const f of new Set(runnable.map((k) => k.file))) {
    // Errors are caught in a scope so that they fail this test, not a later read() on the context.
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: minifiedSource(f), label: `minified shaders/${f}` });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    for (const e of errors) failures.push(`minified shaders/${f}:${e.lineNum}:${e.linePos}: ${e.message}`);
    if ((await device.popErrorScope()) && !errors.length) failures.push(`minified shaders/${f}: module creation failed`);
    modules.set(f, module);
  }
  for (const k of allKernels()) {
    const module = modules.get(k.file);
    if (!module) continue;
    const layout = device.createBindGroupLayout({
      entries: k.bindings.map((b, i) => ({ binding: b.index ?? i, visibility: 4 /* GPUShaderStage.COMPUTE */, buffer: { type: b.kind } })),
    });
    device.pushErrorScope('validation');
    try {
      await device.createComputePipelineAsync({
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: k.entry ?? k.name, constants: { ...(k.overrides ?? {}) } },
      });
    } catch (e) {
      failures.push(`${k.name}: ${(e as Error).message}`);
    }
    const err = await device.popErrorScope();
    if (err) failures.push(`${k.name}: ${err.message}`);
  }
  if (failures.length) throw new Error(failures.join('\n'));
});

test('a compile error in minified WGSL is on the line of the source', async () => {
  const ctx = await gpu();
  const src = '// header\n/* a block\n   comment */\n@compute @workgroup_size(1)\nfn broken() {\n  // why\n  let x: f32 = undefined_thing;\n}\n';
  ctx.device.pushErrorScope('validation'); // the expected error must not reach the context
  const module = ctx.device.createShaderModule({ code: minifyWgsl(src), label: 'minified broken' });
  const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  await ctx.device.popErrorScope();
  if (!errors.length) throw new Error('the broken shader compiled');
  if (errors[0].lineNum !== 7) throw new Error(`error on line ${errors[0].lineNum}, expected line 7: ${errors[0].message}`);
});

test.run();
