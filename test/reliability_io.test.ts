// Loading is all-or-nothing and saves are safe: every kind of bad file (missing, a directory,
// empty, not safetensors, garbage header, truncated, wrong dtype/shape, non-finite values, a bad
// or mismatched training-state file) is refused with a message naming the file, the problem and
// what was expected, before anything is written: weights, optimizer slots, counters and the RNG
// stay bit-identical and training continues. A failed save keeps the previous checkpoint and
// leaves no temp file; a disposed or unbuilt model is never saved or loaded.
import { suite } from 'uvu';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dense, Embedding, LSTM, Sequential, type Batch } from '../src/nn/index.ts';
import { Adam, SGD } from '../src/train/optimizers.ts';
import { loadCheckpoint, saveCheckpoint, trainingStatePath } from '../src/train/checkpoint-node.ts';
import {
  decodeModelInto, decodeTrainingStateInto, encodeModel, loadStateDict, modelFromCheckpoint, stateDict,
} from '../src/train/checkpoint.ts';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../src/train/safetensors.ts';
import { writeFileAtomic } from '../src/train/files.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly, expectSameSnapshot, snapshotModel } from './helpers/guard.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('reliability_io');
const tmp = mkdtempSync(join(tmpdir(), 'webgpu-rnn-io-'));
const V = 7;
const batch: Batch = { x: Int32Array.from([0, 1, 2, 3, 4, 5]), shape: [2, 3], y: Int32Array.from([1, 2, 3, 4, 5, 6]) };

function makeModel(seed: number, opts: { stateful?: boolean; hidden?: number } = {}): Sequential {
  return new Sequential([
    new Embedding({ numEmbeddings: V, embeddingDim: 4 }), new LSTM({ hiddenSize: opts.hidden ?? 5, stateful: opts.stateful ?? true }), new Dense({ units: V }),
  ], { seed });
}

async function trainedModel(seed: number, steps = 2): Promise<Sequential> {
  const m = makeModel(seed).build(await gpu());
  m.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  for (let i = 0; i < steps; i++) await m.trainStep(batch);
  return m;
}

/** The files in a folder (temp files included), to check a failed save left nothing behind. */
const listing = (dir: string) => readdirSync(dir).sort().join(', ');

/** Rewrites a safetensors file through `edit` (tensors and metadata as decoded). */
function rewrite(src: string, dst: string, edit: (t: Map<string, SafeTensor>, m: Record<string, string>) => void): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(src), src);
  edit(tensors, metadata);
  writeFileSync(dst, encodeSafetensors(Object.fromEntries(tensors), metadata));
}

/** A safetensors file written by hand: the header as given, then `dataBytes` zero bytes. */
function rawFile(header: Record<string, unknown>, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

// One model for the load cases, and a good checkpoint pair of another model of the same shape.
let target: Sequential;
let good = '';
const at = (name: string) => join(tmp, name);

test.before(async () => {
  target = await trainedModel(1);
  const source = await trainedModel(2, 3);
  good = at('good.safetensors');
  await saveCheckpoint(good, source, { trainingState: true });
  source.dispose();
});

/** A load that must be refused cleanly, then a valid training step. */
async function refused(call: () => unknown, patterns: (string | RegExp)[]): Promise<void> {
  await expectRejectedCleanly(target, call, patterns, batch);
}

// --- model files that are not (good) safetensors ---
const corruptModelFiles: [string, (path: string) => void, (string | RegExp)[]][] = [
  ['a missing file', () => { /* not written */ }, [/no such file/]],
  ['a directory', (p) => mkdirSync(p), [/is a directory/, /expected a \.safetensors file/]],
  ['an empty file', (p) => writeFileSync(p, ''), [/is empty \(0 bytes\)/, /expected a safetensors file/]],
  ['a 5-byte file', (p) => writeFileSync(p, 'abcde'), [/not a safetensors file/, /5 bytes, too short/, /8-byte header length/]],
  ['a JSON text file', (p) => writeFileSync(p, '{"weights": [1, 2, 3], "name": "lstm"}'), [/not a safetensors file/, /header length of \d+ bytes but only \d+ bytes follow/, /starts with the text "\{\\"weights/]],
  ['a PNG image', (p) => writeFileSync(p, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82])), [/not a safetensors file/, /starts with the bytes 89 50 4e 47/]],
  ['a header that is not JSON', (p) => writeFileSync(p, Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{not json at all')])), [/not a safetensors file/, /16-byte header is not valid JSON/]],
  ['a header that is not an object', (p) => writeFileSync(p, Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('[1, 2, 3')])), [/not a safetensors file/, /JSON object starting with "\{"/]],
  ['metadata that is not strings', (p) => writeFileSync(p, rawFile({ __metadata__: { a: 1 } }, 0)), [/__metadata__/, /object of strings/]],
  ['a truncated file', (p) => { writeFileSync(p, readFileSync(good)); truncateSync(p, statSync(p).size - 40); }, [/ends at byte \d+ of the data but the file holds \d+ data bytes/, /truncated/]],
  ['a negative shape', (p) => writeFileSync(p, rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0)), [/w has shape \[-1\]/, /non-negative integers/]],
  ['an unsupported dtype', (p) => writeFileSync(p, rawFile({ w: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 2)), [/w has dtype U8/, /supported: F32, F64, F16, BF16/]],
];

for (const [what, write, patterns] of corruptModelFiles) {
  test(`load: ${what} is refused naming the file; the model is unchanged`, async () => {
    const path = at(`corrupt-${what.replace(/\W+/g, '_')}.safetensors`);
    write(path);
    await refused(() => loadCheckpoint(path, target), [path, ...patterns]);
  });
}

// --- files that are safetensors but do not fit ---
const misfits: [string, (t: Map<string, SafeTensor>, m: Record<string, string>) => void, (string | RegExp)[], boolean?][] = [
  ['NaN in a weight', (t) => { t.get('lstm.weight_hh_l0')!.data[7] = NaN; }, [/lstm\.weight_hh_l0: value NaN at \[1, 2\] \(flat index 7\)/, /not finite/]],
  ['Infinity in a bias', (t) => { t.get('dense.bias')!.data[2] = -Infinity; }, [/dense\.bias: value -Infinity at \[2\]/, /not finite/]],
  ['an integer tensor for a weight', (t) => { const w = t.get('dense.bias')!; t.set('dense.bias', { dtype: 'I32', shape: w.shape, data: new Int32Array(w.data.length) }); }, [/dense\.bias: dtype I32/, /expected a float tensor/]],
  ['a wrong shape', (t) => { t.set('lstm.bias_ih_l0', { dtype: 'F32', shape: [21], data: new Float32Array(21) }); }, [/does not fit this model/, /lstm\.bias_ih_l0: shape \(21\), expected \(20\)/]],
  ['a missing tensor (strict)', (t) => { t.delete('dense.bias'); }, [/missing dense\.bias/, /pass strict: false/]],
  ['an extra tensor (strict)', (t) => { t.set('extra.w', { dtype: 'F32', shape: [1], data: new Float32Array(1) }); }, [/unexpected extra\.w/, /strict: false/]],
  ['other layer names', (t) => { for (const [k, v] of [...t]) { t.delete(k); t.set(k.replace('lstm.', 'rnn.'), v); } }, [/missing lstm\.weight_ih_l0/, /are the layer names the same/]],
  ['a wrong shape with strict: false', (t) => { t.set('lstm.bias_ih_l0', { dtype: 'F32', shape: [21], data: new Float32Array(21) }); }, [/lstm\.bias_ih_l0: shape \(21\), expected \(20\)/], false],
];

for (const [what, edit, patterns, strict] of misfits) {
  test(`load: ${what} is refused before anything is written`, async () => {
    const path = at(`misfit-${what.replace(/\W+/g, '_')}.safetensors`);
    rewrite(good, path, edit);
    await refused(() => loadCheckpoint(path, target, { strict: strict ?? true }), [path, ...patterns]);
    // The same bytes through the browser-safe API.
    await refused(() => decodeModelInto(target, readFileSync(path), { source: 'bytes', strict: strict ?? true }), ['bytes', ...patterns]);
  });
}

test('load: strict: false keeps missing parameters, ignores extra tensors and reports both', async () => {
  const path = at('partial.safetensors');
  rewrite(good, path, (t) => { t.delete('dense.bias'); t.set('extra.w', { dtype: 'F32', shape: [2], data: new Float32Array(2) }); });
  const m = await trainedModel(5, 0);
  const biasBefore = (await stateDict(m))['dense.bias'].data;
  const report = await loadCheckpoint(path, m, { strict: false });
  if (report.missing.join() !== 'dense.bias' || report.unexpected.join() !== 'extra.w') throw new Error(`report ${JSON.stringify(report)}`);
  if (report.metadata.format !== 'webgpu-rnn/1') throw new Error('metadata not returned');
  const after = await stateDict(m), file = decodeSafetensors(readFileSync(good)).tensors;
  expectClose('dense.bias kept', after['dense.bias'].data, biasBefore, { atol: 0, rtol: 0 });
  expectClose('lstm.weight_hh_l0 loaded', after['lstm.weight_hh_l0'].data, file.get('lstm.weight_hh_l0')!.data, { atol: 0, rtol: 0 });
  const r2 = decodeModelInto(m, readFileSync(good), 'good');
  if (r2.missing.length || r2.unexpected.length) throw new Error('a strict load reported leftovers');
  const r3 = loadStateDict(m, { 'dense.bias': { shape: [V], data: new Float32Array(V).fill(0.5) } }, { strict: false });
  if (r3.missing.length !== 6 || (await stateDict(m))['dense.bias'].data[3] !== 0.5) throw new Error('loadStateDict strict: false did not load the one tensor');
  await expectRejectedCleanly(m, () => loadCheckpoint(path, m, { strict: 'no' as unknown as boolean }), [/strict/, /the string "no"/, /boolean/], batch);
  m.dispose();
});

// --- training-state files ---
const trainEdits: [string, (t: Map<string, SafeTensor>, m: Record<string, string>) => void, (string | RegExp)[]][] = [
  ['a slot of the wrong shape', (t) => { t.set('optimizer.lstm.weight_ih_l0.exp_avg', { dtype: 'F32', shape: [4, 20], data: new Float32Array(80) }); }, [/optimizer\.lstm\.weight_ih_l0\.exp_avg has shape \(4, 20\), expected \(20, 4\)/]],
  ['a missing slot', (t) => { t.delete('optimizer.dense.weight.exp_avg_sq'); }, [/optimizer\.dense\.weight\.exp_avg_sq is missing/]],
  ['NaN in a slot', (t) => { t.get('optimizer.dense.bias.exp_avg')!.data[1] = NaN; }, [/optimizer\.dense\.bias\.exp_avg: value NaN at \[1\]/, /not finite/]],
  ['another optimizer type', (_, m) => { m.optimizer = JSON.stringify({ type: 'SGD', lr: 0.1 }); }, [/holds SGD optimizer state/, /compiled with Adam/]],
  ['optimizer metadata that is not JSON', (_, m) => { m.optimizer = '{Adam'; }, [/optimizer metadata is not valid JSON/]],
  ['a step counter that is not a number', (_, m) => { m.optimizer_step = 'abc'; }, [/optimizer_step is "abc"/, /expected an integer in \[0, /]],
  ['a missing model step', (_, m) => { delete m.model_step; }, [/model_step is missing/, /expected an integer/]],
  ['an RNG state out of range', (_, m) => { m.rng_state = String(2 ** 33); }, [/rng_state is "8589934592"/, /\[0, 4294967295\]/]],
  ['a wrong format', (_, m) => { m.format = 'other/2'; }, [/format is other\/2/, /expected webgpu-rnn\/1/]],
  ['a carried state of the wrong shape', (t) => { t.set('state.lstm.h', { dtype: 'F32', shape: [1, 2, 6], data: new Float32Array(12) }); }, [/state\.lstm\.h has shape \(1, 2, 6\)/, /expected \(1, B, 5\)/]],
  ['a carried h without c', (t) => { t.delete('state.lstm.c'); }, [/state\.lstm\.c is missing/]],
  ['NaN in a carried state', (t) => { t.get('state.lstm.c')!.data[0] = NaN; }, [/state\.lstm\.c: value NaN/, /not finite/]],
  ['tensors of another model', (t) => { t.set('optimizer.gru.weight_ih_l0.exp_avg', { dtype: 'F32', shape: [1], data: new Float32Array(1) }); }, [/holds optimizer\.gru\.weight_ih_l0\.exp_avg/, /which this model does not have/]],
];

for (const [what, edit, patterns] of trainEdits) {
  test(`load with trainingState: ${what} leaves weights, slots and counters unchanged`, async () => {
    const base = at(`train-${what.replace(/\W+/g, '_')}.safetensors`);
    writeFileSync(base, readFileSync(good));
    rewrite(trainingStatePath(good), trainingStatePath(base), edit);
    await refused(() => loadCheckpoint(base, target, { trainingState: true }), [trainingStatePath(base), ...patterns]);
  });
}

test('load with trainingState: a truncated, missing, empty or foreign .train file changes nothing', async () => {
  const base = at('train-files.safetensors');
  const state = trainingStatePath(base);
  writeFileSync(base, readFileSync(good));
  await refused(() => loadCheckpoint(base, target, { trainingState: true }), [state, /no such file/, /saved with trainingState: true/]);
  writeFileSync(state, readFileSync(trainingStatePath(good)).subarray(0, 300));
  await refused(() => loadCheckpoint(base, target, { trainingState: true }), [state, /truncated/]);
  writeFileSync(state, '');
  await refused(() => loadCheckpoint(base, target, { trainingState: true }), [state, /is empty/, /expected a safetensors file/]);
  writeFileSync(state, readFileSync(good)); // the model file where the training state should be
  await refused(() => loadCheckpoint(base, target, { trainingState: true }), [state, /holds no optimizer state/, /compiled with Adam/]);
  await refused(() => decodeTrainingStateInto(target, readFileSync(good), 'state bytes'), ['state bytes', /holds no optimizer state/]);
});

test('load with trainingState: files of two different saves are refused', async () => {
  const other = await trainedModel(8, 1);
  const base = at('mixed.safetensors');
  await saveCheckpoint(base, other, { trainingState: true });
  writeFileSync(base, readFileSync(good)); // the model file of another save, as after an interrupted save
  await refused(() => loadCheckpoint(base, target, { trainingState: true }), [/belongs to a different save/, /checkpoint_id/]);
  other.dispose();
});

test('load with trainingState restores everything exactly; an SGD state into an Adam model is refused', async () => {
  const saved = await trainedModel(11, 3);
  const path = at('exact.safetensors');
  await saveCheckpoint(path, saved, { trainingState: true });
  const want = await snapshotModel(saved);
  const m = await trainedModel(12, 1);
  await loadCheckpoint(path, m, { trainingState: true });
  expectSameSnapshot(want, await snapshotModel(m), 'restored model');
  const sgd = makeModel(13).build(await gpu());
  sgd.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1, momentum: 0.9 }) });
  await expectRejectedCleanly(sgd, () => loadCheckpoint(path, sgd, { trainingState: true }), [/holds Adam optimizer state/, /compiled with SGD/], batch);
  saved.dispose(); m.dispose(); sgd.dispose();
});

test('load into an unbuilt, uncompiled or disposed model says what to do', async () => {
  const ctx = await gpu();
  await expectRejects(() => loadCheckpoint(good, makeModel(3)), /build the model first \(model\.build\(ctx\)\)/);
  const configured = makeModel(3).configure();
  await expectRejects(() => loadCheckpoint(good, configured), /build the model first/);
  expectThrows(() => decodeModelInto(makeModel(3), readFileSync(good), 'x'), /build the model first/);
  const uncompiled = makeModel(3).build(ctx);
  const before = await stateDict(uncompiled);
  await expectRejects(() => loadCheckpoint(good, uncompiled, { trainingState: true }), /compile the model with an optimizer/);
  const after = await stateDict(uncompiled);
  for (const k of Object.keys(before)) expectClose(k, after[k].data, before[k].data, { atol: 0, rtol: 0 });
  uncompiled.dispose();
  await expectRejects(() => loadCheckpoint(good, uncompiled), /the model was disposed/, /build a new model/);
  await expectRejects(() => stateDict(uncompiled), /stateDict/, /the model was disposed/);
});

test('modelFromCheckpoint refuses a bad config or bad weights before allocating anything', async () => {
  const ctx = await gpu();
  const live = ctx.memoryStats().liveBuffers;
  const noConfig = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
  expectThrows(() => modelFromCheckpoint(ctx, noConfig, 'torch.safetensors'), 'torch.safetensors', /has no webgpu-rnn layer config/, /use decodeModelInto/);
  const badLayer = at('badlayer.safetensors');
  rewrite(good, badLayer, (_, m) => { m.config = m.config.replace('"bidirectional":false', '"bidirectional":"false"'); });
  expectThrows(() => modelFromCheckpoint(ctx, readFileSync(badLayer), badLayer), badLayer, /cannot be rebuilt/, /bidirectional must be a boolean/, /the string "false"/);
  const nan = at('nanweights.safetensors');
  rewrite(good, nan, (t) => { t.get('embedding.weight')!.data[5] = NaN; });
  expectThrows(() => modelFromCheckpoint(ctx, readFileSync(nan), nan), /embedding\.weight: value NaN at \[1, 1\]/, /not finite/);
  rewrite(good, badLayer, (_, m) => { m.config = '{"layers": 3}'; });
  expectThrows(() => modelFromCheckpoint(ctx, readFileSync(badLayer), badLayer), /config metadata must be \{ layers/);
  if (ctx.memoryStats().liveBuffers !== live) throw new Error(`${ctx.memoryStats().liveBuffers - live} buffers were allocated by refused loads`);
  const { model } = modelFromCheckpoint(ctx, readFileSync(good), good);
  const want = decodeSafetensors(readFileSync(good)).tensors;
  const sd = await stateDict(model);
  expectClose('rebuilt weights', sd['lstm.weight_ih_l0'].data, want.get('lstm.weight_ih_l0')!.data, { atol: 0, rtol: 0 });
  model.dispose();
});

// --- saves ---
test('save: a directory at the target fails clearly, keeps the old checkpoint and leaves no temp file', async () => {
  const dir = at('save-dir');
  mkdirSync(dir);
  const m = await trainedModel(21, 1);
  const path = join(dir, 'm.safetensors');
  await saveCheckpoint(path, m, { trainingState: true });
  const oldModel = readFileSync(path), oldState = readFileSync(trainingStatePath(path));
  const files = listing(dir);
  await m.trainStep(batch);
  // The model file's target is a directory.
  const asDir = join(dir, 'sub.safetensors');
  mkdirSync(asDir);
  await expectRejects(() => saveCheckpoint(asDir, m, { trainingState: true }), asDir, /is a directory/, /expected a file path/);
  if (readdirSync(asDir).length !== 0) throw new Error('something was written into the directory');
  // The training-state file's target is a directory: the model file must not be replaced either.
  mkdirSync(join(dir, 'x.train.safetensors'));
  writeFileSync(join(dir, 'x.safetensors'), 'old');
  await expectRejects(() => saveCheckpoint(join(dir, 'x.safetensors'), m, { trainingState: true }), /x\.train\.safetensors/, /is a directory/);
  if (readFileSync(join(dir, 'x.safetensors'), 'utf8') !== 'old') throw new Error('the model file was replaced although the save failed');
  if (listing(dir) !== [files, 'sub.safetensors', 'x.safetensors', 'x.train.safetensors'].join(', ').split(', ').sort().join(', ')) throw new Error(`unexpected files: ${listing(dir)}`);
  if (!readFileSync(path).equals(oldModel) || !readFileSync(trainingStatePath(path)).equals(oldState)) throw new Error('the old checkpoint changed');
  // The old checkpoint still loads.
  const copy = makeModel(1).build(m.context);
  copy.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }) });
  await loadCheckpoint(path, copy, { trainingState: true });
  if (copy.step !== 1) throw new Error(`old checkpoint step ${copy.step}`);
  m.dispose(); copy.dispose();
});

test('save: a parent path that is a file fails clearly and leaves no temp file', async () => {
  const m = await trainedModel(22, 0);
  const dir = at('save-parent');
  mkdirSync(dir);
  writeFileSync(join(dir, 'afile'), 'x');
  await expectRejects(() => saveCheckpoint(join(dir, 'afile', 'm.safetensors'), m), /afile/, /cannot create its folder/, /not a folder|file already exists|EEXIST/);
  if (listing(dir) !== 'afile') throw new Error(`left behind: ${listing(dir)}`);
  expectThrows(() => writeFileAtomic(dir, new Uint8Array(4)), dir, /is a directory/);
  if (listing(dir) !== 'afile') throw new Error(`writeFileAtomic left: ${listing(dir)}`);
  // Missing parent folders are created.
  await saveCheckpoint(join(dir, 'new', 'deeper', 'm.safetensors'), m);
  if (!statSync(join(dir, 'new', 'deeper', 'm.safetensors')).isFile()) throw new Error('not saved');
  m.dispose();
});

test('save: a disposed or unbuilt model is refused and nothing is written', async () => {
  const dir = at('save-disposed');
  mkdirSync(dir);
  const m = await trainedModel(23, 1);
  const path = join(dir, 'm.safetensors');
  await saveCheckpoint(path, m);
  const old = readFileSync(path);
  m.dispose();
  await expectRejects(() => saveCheckpoint(path, m), path, /the model was disposed/, /build a new model/);
  await expectRejects(() => saveCheckpoint(path, m, { trainingState: true }), /the model was disposed/);
  await expectRejects(() => encodeModel(m), /save/, /disposed/);
  await expectRejects(() => saveCheckpoint(join(dir, 'u.safetensors'), makeModel(1)), /build the model first \(model\.build\(ctx\)\)/);
  if (!readFileSync(path).equals(old) || listing(dir) !== 'm.safetensors') throw new Error(`files changed: ${listing(dir)}`);
});

test('save: bad arguments (no optimizer, metadata, path, options) are refused before writing', async () => {
  const dir = at('save-args');
  mkdirSync(dir);
  const ctx = await gpu();
  const plain = makeModel(1).build(ctx);
  const m = await trainedModel(24, 0);
  const p = join(dir, 'm.safetensors');
  await expectRejects(() => saveCheckpoint(p, plain, { trainingState: true }), /no optimizer/, /compile it first/);
  await expectRejects(() => saveCheckpoint(p, m, { metadata: { vocab: ['a', 'b'] as unknown as string } }), /metadata "vocab" must be a string/, /an array of 2/, /JSON\.stringify/);
  await expectRejects(() => saveCheckpoint(p, m, { metadata: { config: '{}' } }), /metadata key "config" is reserved/);
  await expectRejects(() => saveCheckpoint('', m), /path must be a non-empty string/);
  await expectRejects(() => saveCheckpoint(p, m, { trainState: true } as never), /unknown option "trainState"/, /trainingState, metadata/);
  await expectRejects(() => saveCheckpoint(p, m, { trainingState: 'yes' } as never), /trainingState must be a boolean/, /the string "yes"/);
  if (listing(dir) !== '') throw new Error(`files written: ${listing(dir)}`);
  plain.dispose(); m.dispose();
});

test.after(() => {
  target?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
