// The npm package as a user gets it: `npm pack` (which builds dist/), install the tarball into an
// empty project, then
//  - run the README's script there in Node (test/package-example.mjs: device, LSTM, a few training
//    steps, save + load a checkpoint, generate),
//  - bundle `import … from 'webgpu-rnn'` for a page with esbuild (--platform=browser): it must pick
//    the browser entry and reach neither `webgpu` nor any Node built-in,
//  - type-check a TypeScript consumer against the shipped .d.ts (moduleResolution nodenext and bundler).
import { suite } from 'uvu';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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
  for (const want of ['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/node.d.ts', 'dist/shaders.generated.js']) {
    if (!paths.includes(want)) throw new Error(`${want} is not in the tarball (${paths.length} files)`);
  }
});

test('the tarball installs into an empty project', () => {
  if (!tarball) throw new Error('no tarball (npm pack failed)');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project);
  for (const p of ['node_modules/webgpu-rnn/dist/node.js', 'node_modules/webgpu/package.json']) {
    if (!existsSync(join(project, p))) throw new Error(`${p} missing after npm install`);
  }
});

test('the README script runs there: LSTM trains, checkpoint saves and loads, text is generated', () => {
  if (!existsSync(join(project, 'node_modules', 'webgpu-rnn'))) throw new Error('not installed (previous test failed)');
  copyFileSync(join(root, 'test', 'package-example.mjs'), join(project, 'index.mjs'));
  const out = sh(process.execPath, ['index.mjs'], project, 120_000);
  const losses = [...out.matchAll(/^step (\d+)\s+loss ([\d.]+)$/gm)].map((m) => Number(m[2]));
  if (losses.length < 2) throw new Error(`expected loss lines in the output:\n${out}`);
  if (!(losses[losses.length - 1] < losses[0] * 0.5)) throw new Error(`loss did not fall: ${losses.join(' → ')}\n${out}`);
  const ckpt = join(project, 'tiny.safetensors');
  if (!existsSync(ckpt) || statSync(ckpt).size < 1000) throw new Error('tiny.safetensors was not written');
  const generated = out.trim().split('\n').filter((l) => l.startsWith('to be')).pop() ?? '';
  // After 60 steps on one sentence the loaded copy reproduces it at temperature 0.5, top-3.
  if (!generated.startsWith('to be, or not to be')) throw new Error(`generated text from the loaded checkpoint: ${JSON.stringify(generated)}\n${out}`);
});

test('bundled for a page, the package resolves to its browser entry with no Node modules', async () => {
  if (!existsSync(join(project, 'node_modules', 'webgpu-rnn'))) throw new Error('not installed (previous test failed)');
  writeFileSync(join(project, 'page.js'), [
    "import { createBrowserContext, Sequential, LSTM, Dense, Embedding, decodeModelInto } from 'webgpu-rnn';",
    'export { createBrowserContext, Sequential, LSTM, Dense, Embedding, decodeModelInto };',
  ].join('\n'));
  const nodeOnly = new Set([...builtinModules, 'webgpu']);
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
    plugins: [{
      name: 'no-node',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (a) => {
          if (a.path.startsWith('node:') || nodeOnly.has(a.path) || nodeOnly.has(a.path.split('/')[0])) {
            offenders.push(`${a.path} (from ${a.importer})`);
            return { path: a.path, external: true };
          }
          return undefined;
        });
      },
    }],
  });
  if (offenders.length) throw new Error(`the browser bundle reaches Node-only modules: ${offenders.join(', ')}`);
  const inputs = Object.keys(result.metafile.inputs);
  if (!inputs.some((p) => p.endsWith('webgpu-rnn/dist/index.js'))) throw new Error(`the browser entry was not used; inputs: ${inputs.join(', ')}`);
  if (inputs.some((p) => p.endsWith('webgpu-rnn/dist/node.js'))) throw new Error('the Node entry was bundled for the browser');
});

test('a TypeScript consumer type-checks against the shipped .d.ts (nodenext; bundler via webgpu-rnn/node)', () => {
  if (!existsSync(join(project, 'node_modules', 'webgpu-rnn'))) throw new Error('not installed (previous test failed)');
  const nodeCheck = (from: string) => [
    `import { createContext, Sequential, LSTM, Dense, Embedding, Adam, saveCheckpoint, type Batch } from '${from}';`,
    'const ctx = await createContext();',
    'const model = new Sequential([new Embedding({ numEmbeddings: 5, embeddingDim: 4 }), new LSTM({ hiddenSize: 8 }), new Dense({ units: 5 })]).build(ctx);',
    "model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });",
    'const batch: Batch = { x: Int32Array.of(0, 1, 2), y: Int32Array.of(1, 2, 3), shape: [1, 3] };',
    'const r: { loss?: number } = await model.trainStep(batch, { readLoss: true });',
    "await saveCheckpoint('x.safetensors', model);",
    'export { r };',
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
    'export { ids };',
  ].join('\n'));
  const typeRoots = `${join(root, 'node_modules', '@webgpu')},${join(root, 'node_modules', '@types')}`;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const common = ['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--lib', 'es2022,dom', '--typeRoots', typeRoots, '--types', 'types,node'];
  // Node projects (nodenext): the package root resolves to the Node entry through the `node` condition.
  sh(process.execPath, [tsc, ...common, '--module', 'nodenext', '--moduleResolution', 'nodenext', 'check-node.ts', 'check-node-subpath.ts'], project);
  // Bundler resolution has no `node` condition: the root is the browser entry, `webgpu-rnn/node` the Node one.
  sh(process.execPath, [tsc, ...common, '--module', 'esnext', '--moduleResolution', 'bundler', 'check-browser.ts', 'check-node-subpath.ts'], project);
});

test.run();
