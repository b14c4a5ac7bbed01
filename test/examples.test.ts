// The examples as a newcomer runs them: each `examples/<name>.ts --quick` in its own Node process
// must exit 0, write metrics.json and its plots, and meet the bound it states (that it learned
// something real, not only that it ran). Bad data must end with exit code 1 and one message naming
// the file and line, never a stack trace.
//
// The runs go in two lanes so the file stays within a few minutes on a software GPU: Hamlet (the
// longest) in one, the other examples one after another in the second. Each test awaits its run.
import { suite } from 'uvu';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/index.ts';
import { runExample, type ExampleRun } from './helpers/run_example.ts';

const test = suite('examples');
const tmp = mkdtempSync(join(tmpdir(), 'webgpu-rnn-examples-'));

// Two lanes, started by the first test that needs one.
const quickRuns = new Map<string, Promise<ExampleRun>>();
const laneB = ['variable_length', 'hihello', 'charseq', 'sentence', 'stock', 'sine', 'mnist-deep', 'translate'];
// Runs that are another example with flags: name → [file, flags, time limit in seconds].
const variants: Record<string, [string, string[], number]> = { 'mnist-deep': ['mnist', ['--deep'], 300], translate: ['translate', [], 300] };
function quick(name: string): Promise<ExampleRun> {
  if (!quickRuns.has('hamlet')) quickRuns.set('hamlet', runExample('hamlet', ['--quick', '--out', join(tmp, 'hamlet')], 240));
  if (!quickRuns.has(laneB[0])) {
    let prev: Promise<unknown> = Promise.resolve();
    for (const n of laneB) {
      const [file, flags, limit] = variants[n] ?? [n, [], 120];
      const p = prev.then(() => runExample(file, ['--quick', ...flags, '--out', join(tmp, n)], limit));
      quickRuns.set(n, p);
      prev = p;
    }
  }
  return quickRuns.get(name)!;
}

function tail(s: string, n = 1500): string {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

/** Awaits the --quick run of `name`, checks exit 0, the SVG plots and other files, and returns metrics.json. */
async function quickMetrics(name: string, plots: string[], files: string[] = []): Promise<Record<string, unknown>> {
  const r = await quick(name);
  const dir = join(tmp, name);
  if (r.code !== 0) throw new Error(`${name} --quick exited ${r.code} after ${r.seconds.toFixed(0)} s\n${tail(r.out)}\n${tail(r.err)}`);
  if (!/^adapter: /m.test(r.out)) throw new Error(`${name}: no "adapter:" line in the output`);
  if (!/^final: /m.test(r.out)) throw new Error(`${name}: no "final:" metrics line in the output`);
  for (const f of ['metrics.json', ...plots, ...files]) if (!existsSync(join(dir, f))) throw new Error(`${name}: ${f} was not written to ${dir}`);
  for (const f of plots) if (!readFileSync(join(dir, f), 'utf8').includes('<polyline')) throw new Error(`${name}: ${f} has no line in it`);
  console.log(`    ${name} --quick: ${r.seconds.toFixed(1)} s`);
  return JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
}

/** A run that must fail cleanly: exit 1, `want` in stderr, no stack trace. */
async function expectCleanFailure(name: string, args: string[], want: string): Promise<void> {
  const r = await runExample(name, [...args, '--out', join(tmp, `${name}-bad`)], 60);
  if (r.code !== 1) throw new Error(`${name} ${args.join(' ')}: exit code ${r.code}, expected 1\n${tail(r.out)}\n${tail(r.err)}`);
  if (!r.err.includes(want)) throw new Error(`${name} ${args.join(' ')}: stderr does not name ${JSON.stringify(want)}:\n${r.err}`);
  if (/^\s+at /m.test(r.err) || /^\s+at /m.test(r.out)) throw new Error(`${name} ${args.join(' ')}: printed a stack trace:\n${r.err}`);
  const lines = r.err.trim().split('\n');
  if (lines.length !== 1 || !lines[0].startsWith('error: ')) throw new Error(`${name} ${args.join(' ')}: expected one "error: …" line, got:\n${r.err}`);
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('hihello --quick: "hihell" → "ihello" exactly', async () => {
  const m = await quickMetrics('hihello', ['loss.svg']);
  if (m.exact !== true || m.prediction !== 'ihello') throw new Error(`prediction ${JSON.stringify(m.prediction)}`);
});

test('charseq --quick: " if you want you" reconstructed exactly, loss < 0.1', async () => {
  const m = await quickMetrics('charseq', ['loss.svg']);
  if (m.exact !== true || !((m.final_loss as number) < 0.1)) throw new Error(`prediction ${JSON.stringify(m.prediction)}, loss ${m.final_loss}`);
});

test('sentence --quick: the long sentence from its windows, at most 2 of 179 characters wrong', async () => {
  const m = await quickMetrics('sentence', ['loss.svg']);
  if (!((m.wrong_chars as number) <= 2)) throw new Error(`${m.wrong_chars} wrong: ${m.reconstructed}`);
});

test('stock --quick: test RMSE within 2× the naive "tomorrow = today" forecast', async () => {
  const m = await quickMetrics('stock', ['loss.svg', 'predictions.svg']);
  const rmse = m.test_rmse as number, naive = m.naive_rmse as number;
  if (!(rmse < 2 * naive)) throw new Error(`test RMSE ${rmse} vs naive ${naive}`);
  // The metrics are in scaled units and dollars: the close spans ≈ $343 in this file.
  if (!(Math.abs((m.test_rmse_usd as number) / rmse - 343.1) < 1)) throw new Error(`test_rmse_usd ${m.test_rmse_usd} does not match ${rmse} scaled`);
});

test('sine --quick: held-out MSE below 0.3 and falling from the first epoch', async () => {
  const m = await quickMetrics('sine', ['loss.svg', 'predictions.svg']);
  if (!((m.heldout_mse as number) < 0.3)) throw new Error(`held-out MSE ${m.heldout_mse}`);
  if (!((m.final_train_mse as number) < (m.first_epoch_mse as number))) throw new Error(`training MSE did not fall: ${m.first_epoch_mse} → ${m.final_train_mse}`);
});

test('variable_length: seq_length_batch = [2, 1, 2, 2] as the deck prints it; the GPU matches the CPU reference', async () => {
  const m = await quickMetrics('variable_length', [], ['values.json']);
  // f32 on the GPU against float64 for a tanh of sums of a few O(10) products.
  if (!((m.max_abs_diff_vs_cpu as number) < 1e-5)) throw new Error(`max |GPU − CPU| ${m.max_abs_diff_vs_cpu}`);
  if (m.zero_past_length !== true || m.final_state_is_last_output !== true) throw new Error(`zero past length ${m.zero_past_length}, final = last output ${m.final_state_is_last_output}`);
  const v = JSON.parse(readFileSync(join(tmp, 'variable_length', 'values.json'), 'utf8')) as { outputs: number[]; states: number[] };
  // Instance 1 (one step): its second output is the zero vector and its final state its first output.
  if (!v.outputs.slice(15, 20).every((x) => x === 0)) throw new Error(`instance 1, step 1: ${v.outputs.slice(15, 20)}`);
  if (v.states.slice(5, 10).join() !== v.outputs.slice(10, 15).join()) throw new Error(`instance 1's final state ${v.states.slice(5, 10)} is not its step-0 output`);
  if (!v.outputs.every(Number.isFinite) || v.outputs.slice(0, 5).every((x) => x === 0)) throw new Error('outputs are not finite or are all zero');
});

test('mnist --quick --deep: three stacked RNNs of the deck learn the digits (> 50% of 1,000 test digits; chance is 10%)', async () => {
  const m = await quickMetrics('mnist-deep', ['loss.svg', 'accuracy.svg']);
  if (m.layers !== 3 || m.cell !== 'rnn') throw new Error(`not the deep RNN: ${m.layers} × ${m.cell}`);
  if (!((m.test_accuracy as number) > 0.5)) throw new Error(`test accuracy ${m.test_accuracy}`);
});

test('translate --quick: the attention encoder–decoder gets > 80% of the characters of 500 unseen dates right (greedy; untrained ≈ 10%)', async () => {
  const m = await quickMetrics('translate', ['loss.svg'], ['attention.png', 'attention.json', 'sample.txt']);
  if (!((m.char_accuracy_greedy as number) > 0.8)) throw new Error(`per-character accuracy ${m.char_accuracy_greedy}`);
  for (const k of ['exact_match_greedy', 'exact_match_beam']) {
    const v = m[k] as number;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${k} is ${v}, expected a fraction`);
  }
  const split = (m.attention as Record<string, { exact_match_greedy: number; examples: number }>).held_out_formats;
  if (split.examples !== 500 || !(split.exact_match_greedy >= 0)) throw new Error(`held-out formats split: ${JSON.stringify(split)}`);
  await expectCleanFailure('translate', ['--model', 'fancy'], '--model must be plain, attention or both, got "fancy"');
});

test('hamlet --quick: final loss below 2.7', async () => {
  const m = await quickMetrics('hamlet', ['loss.svg'], ['sample.txt', 'hamlet.safetensors']);
  if (!((m.final_loss as number) < 2.7)) throw new Error(`final loss ${m.final_loss}`);
});

test('stock: a malformed row, a short row, an empty file and a missing file each end in one message naming the file (and line)', async () => {
  const bad = join(tmp, 'bad.csv');
  writeFileSync(bad, '# Open,High,Low,Volume,Close\r\n828.6,833.4,828.3,1247700,831.6\r\n823.0,828.0,oops,1597800,828.0\r\n');
  await expectCleanFailure('stock', ['--data', bad], `${bad}:3: field 3 ("oops") is not a number`);
  const short = join(tmp, 'short.csv');
  writeFileSync(short, '828.6,833.4,828.3,1247700,831.6\n823.0,828.0,821.6,1597800\n');
  await expectCleanFailure('stock', ['--data', short], `${short}:2: 4 fields, expected 5`);
  const empty = join(tmp, 'empty.csv');
  writeFileSync(empty, '');
  await expectCleanFailure('stock', ['--data', empty], `${empty}: the file is empty`);
  await expectCleanFailure('stock', ['--data', join(tmp, 'missing.csv')], `${join(tmp, 'missing.csv')}: no such file`);
});

test('mnist and sentiment --ship: the final weights with the measured test accuracy (and the vocabulary) in the metadata, as the web pages read them', async () => {
  const mnistShip = join(tmp, 'ship', 'mnist.safetensors');
  const m = await runExample('mnist', ['--hidden', '8', '--epochs', '1', '--train', '200', '--test', '100', '--batch', '50', '--lr', '0.01', '--out', join(tmp, 'mnist-ship'), '--ship', mnistShip], 120);
  if (m.code !== 0) throw new Error(`mnist --ship exited ${m.code}\n${tail(m.out)}\n${tail(m.err)}`);
  const mm = decodeSafetensors(new Uint8Array(readFileSync(mnistShip)), mnistShip).metadata;
  const mMetrics = JSON.parse(readFileSync(join(tmp, 'mnist-ship', 'metrics.json'), 'utf8')) as { test_accuracy: number };
  if (mm.test_accuracy !== mMetrics.test_accuracy.toFixed(4) || mm.test_images !== '100' || !JSON.parse(mm.config).layers.some((l: { type: string }) => l.type === 'LastStep')) {
    throw new Error(`mnist metadata ${JSON.stringify({ ...mm, config: undefined })} vs metrics ${mMetrics.test_accuracy}`);
  }
  const sentimentShip = join(tmp, 'ship', 'sentiment.safetensors');
  const r = await runExample('sentiment', ['--train', '200', '--test', '100', '--maxlen', '20', '--vocab', '500', '--embed', '8', '--hidden', '8', '--epochs', '1', '--batch', '50', '--out', join(tmp, 'sentiment-ship'), '--ship', sentimentShip], 120);
  if (r.code !== 0) throw new Error(`sentiment --ship exited ${r.code}\n${tail(r.out)}\n${tail(r.err)}`);
  const sm = decodeSafetensors(new Uint8Array(readFileSync(sentimentShip)), sentimentShip).metadata;
  const words = JSON.parse(sm.vocabulary) as string[];
  if (words.length !== 499 || words[0] !== 'the' || sm.maxlen !== '20' || !(Number(sm.test_accuracy) >= 0 && Number(sm.test_accuracy) <= 1)) {
    throw new Error(`sentiment metadata: ${words.length} words (${words.slice(0, 3).join(', ')}…), maxlen ${sm.maxlen}, test_accuracy ${sm.test_accuracy}`);
  }
});

test('hamlet: an empty text file ends in one message naming it; examples without a data file refuse --data', async () => {
  const empty = join(tmp, 'empty.txt');
  writeFileSync(empty, '');
  await expectCleanFailure('hamlet', ['--data', empty], `${empty}: the file is empty`);
  await expectCleanFailure('sine', ['--data', empty], '--data: sine has no data file');
});

test.run();
