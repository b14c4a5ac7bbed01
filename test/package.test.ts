// The npm package as a user gets it: `npm pack` (which builds dist/), install the tarball into an
// empty project (as a browser project does: Dawn, an optional peer dependency, is not installed),
// then
//  - type-check a TypeScript consumer exactly as a user has it: `tsc --strict`, no skipLibCheck, no
//    extra @types, the default lib (moduleResolution nodenext and bundler),
//  - bundle `import … from 'webgpu-rnn'` for a page with esbuild (--platform=browser): it must pick
//    the browser entry and reach neither `webgpu` nor any Node built-in,
//  - in Node without `webgpu`, createContext() says how to install it; require() of the package works,
//    and the `webgpu-rnn/kernels` subpath loads (kernels, specs, registry, cell drivers),
//  - install `webgpu` explicitly, as the README says for Node, and run the README's script there
//    (test/package-example.mjs: device, LSTM, a few training steps, save + load a checkpoint, generate).
import { suite } from 'uvu';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { noNodePlugin } from '../scripts/no-node-plugin.mjs';

const test = suite('package');
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'webgpu-rnn-pkg-'));
const project = join(work, 'app');
let tarball = '';

function sh(cmd: string, args: string[], cwd: string, timeoutMs = 300_000): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('npm pack builds dist/ and packs only dist, README and package.json', () => {
  const out = sh('npm', ['pack', '--json', '--pack-destination', work], root);
  const info = JSON.parse(out.slice(out.search(/^\[\s*$/m))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0].filename);
  if (!existsSync(tarball)) throw new Error(`npm pack reported ${info[0].filename}, but ${tarball} is missing`);
  const paths = info[0].files.map((f) => f.path);
  const stray = paths.filter((p) => !(p.startsWith('dist/') || p === 'package.json' || p === 'README.md' || p === 'LICENSE'));
  if (stray.length) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
  for (const want of ['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/node.d.ts', 'dist/kernels.js', 'dist/kernels.d.ts', 'dist/interop.js', 'dist/interop.d.ts', 'dist/shaders.generated.js']) {
    if (!paths.includes(want)) throw new Error(`${want} is not in the tarball (${paths.length} files)`);
  }
});

const npmInstall = (args: string[]) => sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...args], project);
const installed = () => { if (!existsSync(join(project, 'node_modules', 'webgpu-rnn'))) throw new Error('not installed (previous test failed)'); };

test('the tarball installs into an empty project without Dawn (webgpu is an optional peer dependency)', () => {
  if (!tarball) throw new Error('no tarball (npm pack failed)');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  npmInstall([tarball]);
  for (const p of ['node_modules/webgpu-rnn/dist/node.js', 'node_modules/@webgpu/types/package.json']) {
    if (!existsSync(join(project, p))) throw new Error(`${p} missing after npm install`);
  }
  if (existsSync(join(project, 'node_modules', 'webgpu'))) throw new Error('npm install webgpu-rnn also installed `webgpu` (Dawn): a browser project must not get it');
  const meta = JSON.parse(readFileSync(join(project, 'node_modules', 'webgpu-rnn', 'package.json'), 'utf8')) as { engines?: { node?: string } };
  if (meta.engines?.node !== '>=20.19') throw new Error(`engines.node is ${meta.engines?.node}; require() of the ESM entry needs >=20.19`);
});

test('without `webgpu`, createContext() says how to install it; the package itself loads by import and require()', () => {
  installed();
  writeFileSync(join(project, 'no-dawn.mjs'), [
    "import { createContext, Sequential } from 'webgpu-rnn';",
    "if (typeof Sequential !== 'function') throw new Error('no Sequential');",
    "const kernels = await import('webgpu-rnn/kernels');",
    "if (typeof kernels.matmul !== 'function' || typeof kernels.getKernel('lstm_seq_forward').file !== 'string' || !kernels.CELL_DRIVERS) throw new Error('webgpu-rnn/kernels is incomplete');",
    "const interop = await import('webgpu-rnn/interop');",
    "if (typeof interop.modelFromTfjs !== 'function' || typeof interop.modelFromPyTorch !== 'function' || typeof interop.exportOnnx !== 'function') throw new Error('webgpu-rnn/interop is incomplete');",
    'try { await createContext(); console.log("created"); } catch (e) { console.log(`ERROR ${e.message}`); }',
  ].join('\n'));
  const out = sh(process.execPath, ['no-dawn.mjs'], project, 60_000);
  if (!/ERROR .*install the `webgpu` package \(npm install webgpu\) to use WebGPU from Node/.test(out)) throw new Error(`unexpected output without webgpu: ${out}`);
  const req = sh(process.execPath, ['-e', "const m = require('webgpu-rnn'); console.log(typeof m.createContext, typeof m.createBrowserContext)"], project, 60_000);
  if (req.trim() !== 'function function') throw new Error(`require('webgpu-rnn') gave: ${req}`);
});

test('bundled for a page, the package resolves to its browser entry with no Node modules', async () => {
  installed();
  writeFileSync(join(project, 'page.js'), [
    "import { createBrowserContext, Sequential, LSTM, Dense, Embedding, decodeModelInto } from 'webgpu-rnn';",
    "import { matmul } from 'webgpu-rnn/kernels';",
    'export { createBrowserContext, Sequential, LSTM, Dense, Embedding, decodeModelInto, matmul };',
  ].join('\n'));
  const offenders: string[] = [];
  const result = await build({
    absWorkingDir: project,
    entryPoints: ['page.js'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [noNodePlugin(offenders)],
  });
  if (offenders.length) throw new Error(`the browser bundle reaches Node-only modules: ${offenders.join(', ')}`);
  const inputs = Object.keys(result.metafile.inputs);
  if (!inputs.some((p) => p.endsWith('webgpu-rnn/dist/index.js'))) throw new Error(`the browser entry was not used; inputs: ${inputs.join(', ')}`);
  if (inputs.some((p) => p.endsWith('webgpu-rnn/dist/node.js'))) throw new Error('the Node entry was bundled for the browser');
});

test('a TypeScript consumer type-checks with tsc --strict as a user has it (nodenext and bundler, no extra @types)', () => {
  installed();
  const nodeCheck = (from: string) => [
    `import { createContext, Sequential, LSTM, Dense, Embedding, Adam, saveCheckpoint, loadCheckpoint, generate, fit, type Batch, type GpuContext, type Tensor } from '${from}';`,
    'const ctx: GpuContext = await createContext();',
    'const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 4 }), new LSTM({ hiddenSize: 8 }), new Dense({ units: 5 })]).build(ctx);',
    "model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }), clipNorm: 5 });",
    'const batch: Batch = { x: Int32Array.of(0, 1, 2), y: Int32Array.of(1, 2, 3), shape: [1, 3] };',
    'const r: { loss?: number } = await model.trainStep(batch, { readLoss: true });',
    'const t: Tensor = ctx.tensor([1, 2], [2], "t");',
    'const values: Float32Array = await ctx.read(t);',
    'const buffer: GPUBuffer = t.buffer;',
    "await saveCheckpoint('x.safetensors', model);",
    "await loadCheckpoint('x.safetensors', model);",
    'const ids: Int32Array = await generate(model, { prime: [0], length: 3 });',
    'void fit;',
    'await ctx.close();',
    'export { r, values, buffer, ids };',
  ].join('\n');
  writeFileSync(join(project, 'check-node.ts'), nodeCheck('webgpu-rnn'));
  writeFileSync(join(project, 'check-node-subpath.ts'), nodeCheck('webgpu-rnn/node'));
  writeFileSync(join(project, 'check-browser.ts'), [
    "import { createBrowserContext, Sequential, LSTM, Dense, Embedding, decodeModelInto, encodeModel, generate } from 'webgpu-rnn';",
    'const ctx = await createBrowserContext();',
    'const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 4 }), new LSTM({ hiddenSize: 8 }), new Dense({ units: 5 })]).build(ctx);',
    'const bytes: Uint8Array = await encodeModel(model);',
    'decodeModelInto(model, bytes);',
    'const ids: Int32Array = await generate(model, { prime: [0], length: 3 });',
    'const device: GPUDevice = ctx.device;',
    'export { ids, device };',
  ].join('\n'));
  writeFileSync(join(project, 'check-kernels.ts'), [
    "import { createBrowserContext } from 'webgpu-rnn';",
    "import { matmul, getKernel, CELL_DRIVERS, type KernelSpec, type MatmulOptions } from 'webgpu-rnn/kernels';",
    'const ctx = await createBrowserContext();',
    'const a = ctx.tensor([1, 2, 3, 4], [2, 2], "a"), out = ctx.empty([2, 2]);',
    "const opts: MatmulOptions = { variant: ctx.settings.matmulVariant };",
    'matmul(ctx, a, a, out, opts);',
    "const spec: KernelSpec = getKernel('matmul_register');",
    'const gates: number = CELL_DRIVERS.lstm.gates;',
    'export { spec, gates };',
  ].join('\n'));
  // Exactly a user's setup: the project's own node_modules (no @types/node, no typeRoots, no
  // --types, no --lib: the default lib of the target), strict, and the .d.ts checked too.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (existsSync(join(project, 'node_modules', '@types'))) throw new Error(`the project has node_modules/@types (${readdirSync(join(project, 'node_modules', '@types')).join(', ')}): the check would not be a user's`);
  const common = ['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022'];
  // Node projects (nodenext): the package root resolves to the Node entry through the `node` condition.
  sh(process.execPath, [tsc, ...common, '--module', 'nodenext', '--moduleResolution', 'nodenext', 'check-node.ts', 'check-node-subpath.ts'], project);
  // Bundler resolution has no `node` condition: the root is the browser entry, `webgpu-rnn/node` the Node one.
  sh(process.execPath, [tsc, ...common, '--module', 'esnext', '--moduleResolution', 'bundler', 'check-browser.ts', 'check-node-subpath.ts', 'check-kernels.ts'], project);
});

test('the README script runs there once `webgpu` is installed: LSTM trains, checkpoint saves and loads, text is generated', () => {
  installed();
  const dawnVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'webgpu', 'package.json'), 'utf8')) as { version: string }).version;
  npmInstall([`webgpu@${dawnVersion}`]);
  copyFileSync(join(root, 'test', 'package-example.mjs'), join(project, 'index.mjs'));
  const run = spawnSync(process.execPath, ['index.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`the README script failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
  const out = run.stdout;
  const losses = [...out.matchAll(/^step (\d+)\s+loss ([\d.]+)$/gm)].map((m) => Number(m[2]));
  if (losses.length < 2) throw new Error(`expected loss lines in the output:\n${out}`);
  if (!(losses[losses.length - 1] < losses[0] * 0.5)) throw new Error(`loss did not fall: ${losses.join(' → ')}\n${out}`);
  const ckpt = join(project, 'tiny.safetensors');
  if (!existsSync(ckpt) || statSync(ckpt).size < 1000) throw new Error('tiny.safetensors was not written');
  const generated = out.trim().split('\n').filter((l) => l.startsWith('to be')).pop() ?? '';
  // After 60 steps on one sentence the loaded copy reproduces it at temperature 0.5, top-3.
  if (!generated.startsWith('to be, or not to be')) throw new Error(`generated text from the loaded checkpoint: ${JSON.stringify(generated)}\n${out}`);
});

test.run();
