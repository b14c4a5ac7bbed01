// The data-set examples (mnist, mnist_generate, sentiment) as a newcomer runs them: each
// `examples/<name>.ts --quick` in its own Node process must exit 0, write metrics.json and its
// plots, and meet the bound it states (it learned something real). Bad data (a missing file, a
// malformed CSV row, an idx file with the wrong magic) must end with exit code 1 and one message
// naming the file (and the line for CSV), never a stack trace.
//
// The three quick runs start together on the first test (they spend much of their time starting
// up and waiting on the GPU), so the file takes about as long as the slowest of them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExample, type ExampleRun } from './helpers/run_example.ts';

const test = suite('examples_data');
const tmp = mkdtempSync(join(tmpdir(), 'webgpu-rnn-examples-data-'));
const LIMIT_S = 240;   // seconds per run

const NAMES = ['mnist', 'mnist_generate', 'sentiment'] as const;
let runs: Map<string, Promise<ExampleRun>> | null = null;
function quick(name: typeof NAMES[number]): Promise<ExampleRun> {
  runs ??= new Map(NAMES.map((n) => [n, runExample(n, ['--quick', '--out', join(tmp, n)], LIMIT_S)]));
  return runs.get(name)!;
}

/** Exit 0, the final metrics line, metrics.json and the listed files; returns the metrics. */
async function checkQuick(name: typeof NAMES[number], files: string[]): Promise<Record<string, unknown>> {
  const r = await quick(name);
  const tail = `${r.out.slice(-1500)}\n${r.err.slice(-1500)}`;
  assert.is(r.code, 0, `${name} --quick exited ${r.code} after ${r.seconds.toFixed(0)} s:\n${tail}`);
  assert.ok(/^adapter: /m.test(r.out), 'prints the adapter');
  assert.ok(/^final: /m.test(r.out), 'prints a final metrics line');
  for (const f of ['metrics.json', ...files]) assert.ok(existsSync(join(tmp, name, f)), `${name} wrote ${f}`);
  console.log(`    ${name} --quick: ${r.seconds.toFixed(0)} s`);
  return JSON.parse(readFileSync(join(tmp, name, 'metrics.json'), 'utf8'));
}

test('mnist --quick: test accuracy well above chance (> 50% on 1,000 test digits; chance is 10%)', async () => {
  const m = await checkQuick('mnist', ['loss.svg', 'accuracy.svg', 'mnist.safetensors']);
  assert.ok((m.test_accuracy as number) > 0.5, `test accuracy ${m.test_accuracy}`);
  assert.is(m.test_images, 1000);
});

test('mnist_generate --quick: the drawn bottom halves beat drawing nothing (MSE < 0.85 × blank)', async () => {
  const m = await checkQuick('mnist_generate', ['loss.svg', 'grid.png', 'mnist_generate.safetensors']);
  assert.ok((m.generated_mse as number) < 0.85 * (m.blank_mse as number), `MSE ${m.generated_mse} vs blank ${m.blank_mse}`);
  const png = readFileSync(join(tmp, 'mnist_generate', 'grid.png'));
  assert.equal([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
});

test('sentiment --quick: test accuracy ≥ 60% on 500 held-out reviews (chance is 50%)', async () => {
  const m = await checkQuick('sentiment', ['loss.svg', 'sentiment.safetensors']);
  assert.ok((m.test_accuracy as number) >= 0.6, `test accuracy ${m.test_accuracy}`);
});

/** Exit 1 with one `error: ...` line containing every pattern, and no stack trace. */
function checkBad(r: ExampleRun, ...patterns: string[]): void {
  assert.is(r.code, 1, `exit code ${r.code}; stderr:\n${r.err}`);
  const lines = r.err.split('\n').filter((l) => l.startsWith('error: '));
  assert.is(lines.length, 1, `one error line, got:\n${r.err}`);
  for (const p of patterns) assert.ok(lines[0].includes(p), `"${lines[0]}" names ${p}`);
  assert.not.ok(/^\s+at /m.test(r.err), `no stack trace:\n${r.err}`);
}

test('bad data: a missing file or folder, a malformed CSV row, an idx file with the wrong magic', async () => {
  const bad = join(tmp, 'bad');
  mkdirSync(bad, { recursive: true });
  const csv = join(bad, 'reviews.csv');
  writeFileSync(csv, 'review,sentiment\n"a fine film, really",1\n"multi\nline",1\n"what",positive\n');
  const idxDir = join(bad, 'mnist');
  mkdirSync(idxDir, { recursive: true });
  const wrong = new Uint8Array(32);
  new DataView(wrong.buffer).setUint32(0, 0x801); // a label file's magic where images belong
  writeFileSync(join(idxDir, 'train-images-idx3-ubyte'), wrong);
  writeFileSync(join(idxDir, 'train-labels-idx1-ubyte'), wrong);
  const [row, missing, magic, folder] = await Promise.all([
    runExample('sentiment', ['--quick', '--data', csv, '--out', join(bad, 'o1')], LIMIT_S),
    runExample('sentiment', ['--quick', '--data', join(bad, 'none.csv.gz'), '--out', join(bad, 'o2')], LIMIT_S),
    runExample('mnist', ['--quick', '--data', idxDir, '--out', join(bad, 'o3')], LIMIT_S),
    runExample('mnist_generate', ['--quick', '--data', join(bad, 'no-mnist'), '--out', join(bad, 'o4')], LIMIT_S),
  ]);
  checkBad(row, `${csv}:5:`, 'sentiment "positive" is not 0 or 1');
  checkBad(missing, join(bad, 'none.csv.gz'), 'no such file');
  checkBad(magic, join(idxDir, 'train-images-idx3-ubyte'), 'magic number 0x801, expected 0x803');
  checkBad(folder, join(bad, 'no-mnist'), 'no such folder');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
