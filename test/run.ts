// Test runner: runs every test/**/*.test.ts (or those whose path contains one of the arguments)
// with uvu, prints the adapter first and `N passed, N failed, N skipped` as the last line.
//   npm test                 all tests
//   npm test -- lstm matmul  only files whose path contains "lstm" or "matmul"
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { disposeGpu, gpu } from './helpers/gpu.ts';

type SuiteRunner = () => Promise<[string | true, number, number, number]>;
const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: (string | SuiteRunner)[][]; UVU_INDEX: number };

const testDir = fileURLToPath(new URL('.', import.meta.url));
function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'helpers') out.push(...findTests(p)); }
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = findTests(testDir).filter((f) => filters.length === 0 || filters.some((p) => relative(testDir, f).includes(p)));

const started = Date.now();
try {
  const ctx = await gpu();
  console.log(`adapter: ${ctx.describe()}`);
} catch (e) {
  console.log(`adapter: NONE — GPU tests will fail.\n${(e as Error).message}`);
}

g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
const uvu = await import('uvu');
void uvu;
for (let i = 0; i < files.length; i++) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([relative(testDir, files[i])]);
  await import(pathToFileURL(files[i]).href);
}

let passed = 0, failed = 0, skipped = 0;
const failures: string[] = [];
for (const group of g.UVU_QUEUE) {
  const name = group.shift() as string;
  process.stdout.write(`${name}\n`);
  for (const run of group as SuiteRunner[]) {
    const [errs, ran, skip, total] = await run();
    passed += ran;
    failed += total - ran;
    skipped += skip;
    if (errs !== true) failures.push(errs);
  }
}
await disposeGpu();
if (failures.length) process.stdout.write(`\n${failures.join('\n')}\n`);
process.stdout.write(`\n${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed > 0 || (passed === 0 && files.length > 0) ? 1 : 0;
