// npm run build: the package in dist/ (ESM JavaScript + .d.ts).
//  1. checks that src/shaders.generated.ts matches shaders/*.wgsl (the shaders ship inside the JS;
//     a stale module fails the build: run `npm run gen:shaders`);
//  2. tsc -p tsconfig.build.json (relative `.ts` imports become `.js` in the JavaScript);
//  3. the same rewrite in the .d.ts files, so that consumers on any moduleResolution read them;
//  4. replaces dist/shaders.generated.js with the shaders minified (comments and blanks removed,
//     every line kept, so compile errors still name the line in shaders/*.wgsl);
//  5. writes dist/kernels.js + .d.ts, the `webgpu-rnn/kernels` subpath (re-exporting
//     src/kernels-entry.ts);
//  6. bundles the browser entries (dist/index.js, dist/kernels.js) with esbuild
//     --platform=browser, fails if either reaches `webgpu`, a `node:` module or any Node built-in,
//     and prints the root entry's size (raw, gzip).
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

// The browser entries must stay free of Dawn and Node.
async function browserBundle(entry) {
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
  });
  if (offenders.length) {
    console.error(`[build] the browser entry dist/${entry} reaches Node-only modules:\n  ${offenders.join('\n  ')}`);
    process.exit(1);
  }
  return out;
}
await browserBundle('kernels.js');
const result = await browserBundle('index.js');
const bytes = result.outputFiles[0].contents;
// What a page ships: the browser entry bundled and minified by the page's bundler, then gzipped.
const shipped = (await build({ entryPoints: [join(dist, 'index.js')], bundle: true, platform: 'browser', format: 'esm', write: false, minify: true, logLevel: 'silent' })).outputFiles[0].contents;
const kib = (b) => `${(b.length / 1024).toFixed(0)} KiB (gzip ${(gzipSync(b, { level: 9 }).length / 1024).toFixed(0)} KiB)`;
log(`browser entry bundles for the browser with no Node modules (${Object.keys(result.metafile.inputs).length} modules): ${kib(bytes)}, minified ${kib(shipped)}`);
