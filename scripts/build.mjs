// npm run build: the package in dist/ (ESM JavaScript + .d.ts).
//  1. checks that src/shaders.generated.ts matches shaders/*.wgsl (the shaders ship inside the JS;
//     a stale module fails the build: run `npm run gen:shaders`);
//  2. tsc -p tsconfig.build.json (relative `.ts` imports become `.js` in the JavaScript);
//  3. the same rewrite in the .d.ts files, so that consumers on any moduleResolution read them;
//  4. replaces dist/shaders.generated.js with the shaders minified (comments and blanks removed,
//     every line kept, so compile errors still name the line in shaders/*.wgsl);
//  5. writes dist/kernels.js + .d.ts, the `webgpu-rnn/kernels` subpath (re-exporting
//     src/kernels-entry.ts), and dist/interop.js + .d.ts, `webgpu-rnn/interop` (src/interop-entry.ts);
//  6. bundles the browser entries (dist/index.js, dist/kernels.js, dist/interop.js) with esbuild
//     --platform=browser, fails if any reaches `webgpu`, a `node:` module or any Node built-in,
//     fails if the interop entry's own chunk inlines h5wasm (it must stay behind its dynamic
//     import), and prints the root and interop entries' sizes (raw, gzip).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { noNodePlugin } from './no-node-plugin.mjs';
import { generateMinifiedJs } from './gen-shaders.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const log = (m) => console.log(`[build] ${m}`);

try {
  execFileSync(process.execPath, [join(root, 'scripts', 'gen-shaders.mjs'), '--check'], { stdio: 'inherit' });
} catch {
  process.exit(1);
}

rmSync(dist, { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

function walk(dir) {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}
let rewritten = 0;
for (const f of walk(dist).filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(f, 'utf8');
  const out = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3');
  if (out !== text) { writeFileSync(f, out); rewritten++; }
}
log(`tsc → dist/ (${rewritten} declaration files with .ts imports rewritten to .js)`);

// The shipped WGSL: the same tokens on the same lines, without comments and indentation.
const shadersJs = join(dist, 'shaders.generated.js');
const wgslBefore = readFileSync(shadersJs, 'utf8').length;
writeFileSync(shadersJs, generateMinifiedJs());
log(`dist/shaders.generated.js: WGSL minified, ${(wgslBefore / 1024).toFixed(0)} → ${(readFileSync(shadersJs, 'utf8').length / 1024).toFixed(0)} KiB`);

// The `webgpu-rnn/kernels` subpath: dist/kernels.js and its declarations.
const kernelsHeader = '// webgpu-rnn/kernels: kernels, specs, the registry and cell drivers (see kernels-entry.d.ts).\n';
writeFileSync(join(dist, 'kernels.js'), `${kernelsHeader}export * from './kernels-entry.js';\n`);
writeFileSync(join(dist, 'kernels.d.ts'), `${kernelsHeader}export * from './kernels-entry.js';\n`);
log('dist/kernels.js, dist/kernels.d.ts: the webgpu-rnn/kernels subpath');
const interopHeader = '// webgpu-rnn/interop: PyTorch, ONNX and Keras / TensorFlow.js models (see interop-entry.d.ts).\n';
writeFileSync(join(dist, 'interop.js'), `${interopHeader}export * from './interop-entry.js';\n`);
writeFileSync(join(dist, 'interop.d.ts'), `${interopHeader}export * from './interop-entry.js';\n`);
log('dist/interop.js, dist/interop.d.ts: the webgpu-rnn/interop subpath');

// The browser entries must stay free of Dawn and Node.
async function browserBundle(entry, options = {}) {
  const offenders = [];
  const out = await build({
    entryPoints: [join(dist, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [noNodePlugin(offenders, (importer) => relative(root, importer))],
    ...options,
  });
  if (offenders.length) {
    console.error(`[build] the browser entry dist/${entry} reaches Node-only modules:\n  ${offenders.join('\n  ')}`);
    process.exit(1);
  }
  return out;
}
await browserBundle('kernels.js');
const kib = (b) => `${(b.length / 1024).toFixed(0)} KiB (gzip ${(gzipSync(b, { level: 9 }).length / 1024).toFixed(0)} KiB)`;

// h5wasm (the .keras reader's HDF5, about 5 MB minified with its wasm inlined) is imported on first use. A
// page's bundler splits such a dynamic import into a chunk of its own; bundled that way, what the
// interop entry loads up front (its chunk and the chunks it imports statically) must not contain it.
const interop = await browserBundle('interop.js', { splitting: true, minify: true, outdir: join(dist, 'bundle-check'), absWorkingDir: root });
const chunks = interop.metafile.outputs;
const upFront = new Set([Object.keys(chunks).find((k) => chunks[k].entryPoint)]);
for (const k of upFront) for (const i of chunks[k].imports) if (i.kind === 'import-statement') upFront.add(i.path);
const inlined = [...upFront].flatMap((k) => Object.keys(chunks[k].inputs)).filter((p) => /node_modules\/h5wasm\//.test(p));
if (inlined.length) {
  console.error(`[build] the browser entry dist/interop.js loads h5wasm up front (${inlined.join(', ')}); it must be imported dynamically, on first use`);
  process.exit(1);
}
const upFrontBytes = Buffer.concat(interop.outputFiles.filter((f) => upFront.has(relative(root, f.path))).map((f) => f.contents));
log(`interop entry bundles for the browser with no Node modules; up front, without h5wasm (loaded on first use): minified ${kib(upFrontBytes)}`);

const result = await browserBundle('index.js');
const bytes = result.outputFiles[0].contents;
// What a page ships: the browser entry bundled and minified by the page's bundler, then gzipped.
const shipped = (await build({ entryPoints: [join(dist, 'index.js')], bundle: true, platform: 'browser', format: 'esm', write: false, minify: true, logLevel: 'silent' })).outputFiles[0].contents;
log(`browser entry bundles for the browser with no Node modules (${Object.keys(result.metafile.inputs).length} modules): ${kib(bytes)}, minified ${kib(shipped)}`);
