// PyTorch interop without PyTorch: the .pt reader on files torch.save wrote (test/fixtures/pytorch,
// made by test/judges/make_pt_fixtures.py), the restricted unpickler's refusals, our .pt writer,
// name mapping on load, and modelFromPyTorch's checks. interop_pytorch.test.ts has PyTorch judge
// the same paths numerically.
import { suite } from 'uvu';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { gpu } from './helpers/gpu.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { expectRejectedCleanly } from './helpers/guard.ts';
import { Sequential, LSTM, GRU, type Batch } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { loadStateDict, decodeModelInto, stateDict } from '../src/train/checkpoint.ts';
import { loadCheckpoint } from '../src/train/checkpoint-node.ts';
import { decodePyTorch, encodePyTorch, modelFromPyTorch, describePyTorchStateDict } from '../src/interop/index.ts';
import type { SafeTensor } from '../src/train/safetensors.ts';

const test = suite('interop_pt');
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/pytorch/${name}`, import.meta.url)));
const enc = (s: string) => Array.from(new TextEncoder().encode(s));
const pickleZip = (pkl: number[]) => zipSync({ 'archive/data.pkl': Uint8Array.from(pkl), 'archive/version': Uint8Array.from(enc('3\n')) }, { level: 0 });

/** nn.LSTM(2, 3).state_dict() as torch.save wrote it inside a checkpoint dict, without the "model." prefix. */
function bareLstm(): Map<string, SafeTensor> {
  const { tensors } = decodePyTorch(fixture('checkpoint.pt'), 'checkpoint.pt');
  return new Map([...tensors].map(([k, v]) => [k.slice('model.'.length), v]));
}

async function lstmModel() {
  const model = new Sequential([new LSTM({ hiddenSize: 3, inputSize: 2, name: 'lstm' })]).configure({ kind: 'seq', size: 2 });
  model.build(await gpu()).compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }) });
  return model;
}
const validBatch: Batch = { x: new Float32Array(8).fill(0.5), shape: [2, 2, 2], y: new Float32Array(12) };

test('reads every dtype, transposed and offset/strided views and shared storages of a torch.save file', () => {
  const { tensors, dtypes } = decodePyTorch(fixture('dtypes_views.pt'), 'dtypes_views.pt');
  const want: Record<string, [string, number[], number[]]> = {
    f64_transposed: ['F64', [3, 2], [0, 3, 1, 4, 2, 5]],
    f16: ['F16', [3], [1.5, -2.25, 65504]],
    bf16: ['BF16', [2], [1.5, -2.25]],
    i64: ['I64', [2], [7, -3]],
    i32: ['I32', [2, 2], [1, 2, 3, 4]],
    u8: ['U8', [2], [0, 255]],
    bool: ['BOOL', [2], [1, 0]],
    offset_view: ['F32', [3], [1, 2, 3]],
    strided_view: ['F32', [3], [2, 5, 8]],
    shared_a: ['F32', [2], [0, 1]],
    scalar: ['F32', [], [2.5]],
  };
  if ([...tensors.keys()].join() !== Object.keys(want).join()) throw new Error(`names/order: ${[...tensors.keys()].join()}`);
  for (const [name, [dtype, shape, values]] of Object.entries(want)) {
    const t = tensors.get(name)!;
    if (dtypes.get(name) !== dtype) throw new Error(`${name}: dtype ${dtypes.get(name)}, expected ${dtype}`);
    if (t.shape.join() !== shape.join()) throw new Error(`${name}: shape (${t.shape}), expected (${shape})`);
    expectClose(name, t.data, values, { atol: 0, rtol: 0 });
  }
});

test('a checkpoint dict is flattened with "." and its plain values become metadata', () => {
  const { tensors, metadata } = decodePyTorch(fixture('checkpoint.pt'), 'checkpoint.pt');
  if ([...tensors.keys()].join() !== 'model.weight_ih_l0,model.weight_hh_l0,model.bias_ih_l0,model.bias_hh_l0') throw new Error([...tensors.keys()].join());
  if (metadata.epoch !== '3') throw new Error(`epoch metadata ${metadata.epoch}`);
  expectClose('weight_ih_l0[0:3]', tensors.get('model.weight_ih_l0')!.data.slice(0, 3), [-0.004322517663240433, 0.3097158372402191, -0.4751853346824646], { atol: 0, rtol: 1e-7 });
});

test('refuses what a state_dict pickle never holds, naming it, and runs nothing', () => {
  expectThrows(() => decodePyTorch(fixture('whole_module.pt'), 'whole_module.pt'), /whole_module\.pt/, /torch\.nn\.modules\.linear\.Linear/, /refused/, /state_dict\(\)/);
  expectThrows(() => decodePyTorch(fixture('legacy.pt'), 'legacy.pt'), /legacy\.pt: is a legacy torch\.save file/, /save it again/);
  // cos\nsystem\n: the classic "run a shell command" pickle.
  const evil = pickleZip([0x80, 2, ...enc('cos\nsystem\n'), 0x58, 2, 0, 0, 0, ...enc('hi'), 0x85, 0x52, 0x2e]);
  expectThrows(() => decodePyTorch(evil, 'evil.pt'), /evil\.pt/, /os\.system/, /torch\._utils\._rebuild_tensor_v2/, /never runs code/);
  const newobj = pickleZip([0x80, 2, 0x7d, 0x81, 0x2e]);
  expectThrows(() => decodePyTorch(newobj, 'newobj.pt'), /newobj\.pt \(data\.pkl\)/, /NEWOBJ at byte 3/, /state_dict pickles/);
  const notDict = pickleZip([0x80, 2, 0x5d, 0x2e]);
  expectThrows(() => decodePyTorch(notDict, 'list.pt'), /list\.pt: holds a list/, /expected a state_dict/);
  const good = fixture('checkpoint.pt');
  expectThrows(() => decodePyTorch(good.subarray(0, good.length >> 1), 'cut.pt'), /cut\.pt: is not a readable zip archive/, /truncated/);
  expectThrows(() => decodePyTorch(Uint8Array.from(enc('hello world')), 'text.pt'), /text\.pt: is not a PyTorch file/, /zip archive/);
  const noPkl = zipSync({ 'a/b.txt': Uint8Array.of(1) });
  expectThrows(() => decodePyTorch(noPkl, 'other.zip'), /other\.zip: is a zip archive without <folder>\/data\.pkl/, /a\/b\.txt/);
});

test('encodePyTorch writes what decodePyTorch (and torch.load) reads: names, order, shapes, f32 and i32', () => {
  const w = new Float32Array([1.5, -2, 3e-8, 1e30, 0, -0.25]);
  const bytes = encodePyTorch({ 'rnn.weight_ih_l0': { dtype: 'F32', shape: [2, 3], data: w }, ids: { dtype: 'I32', shape: [2], data: Int32Array.of(-1, 2147483647) }, s: { dtype: 'F32', shape: [], data: Float32Array.of(4) } });
  const { tensors, dtypes } = decodePyTorch(bytes, 'ours.pt');
  if ([...tensors.keys()].join() !== 'rnn.weight_ih_l0,ids,s') throw new Error([...tensors.keys()].join());
  expectClose('weight', tensors.get('rnn.weight_ih_l0')!.data, w, { atol: 0, rtol: 0 });
  expectClose('ids', tensors.get('ids')!.data, [-1, 2147483647], { atol: 0, rtol: 0 });
  if (dtypes.get('ids') !== 'I32' || tensors.get('s')!.shape.length !== 0) throw new Error('dtype or scalar shape lost');
});

test('name mapping: a bare nn.LSTM state_dict loads with { prefix }, a strict load without it says which prefix', async () => {
  const model = await lstmModel();
  const bare = bareLstm();
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { source: 'lstm.pt' }),
    [/lstm\.pt: does not fit this model: missing lstm\.weight_ih_l0/, /unexpected weight_ih_l0/, /load with \{ prefix: "lstm\." \}/], validBatch);
  const report = loadStateDict(model, bare, { prefix: 'lstm.' });
  if (report.missing.length || report.unexpected.length) throw new Error(JSON.stringify(report));
  const sd = await stateDict(model);
  expectClose('lstm.weight_hh_l0', sd['lstm.weight_hh_l0'].data, bare.get('weight_hh_l0')!.data, { atol: 0, rtol: 0 });
  model.dispose();
});

test('name mapping: strip + add, rename maps and functions, strict: false reports the file names', async () => {
  const model = await lstmModel();
  const bytes = fixture('checkpoint.pt');
  const want = bareLstm();
  // A training script's checkpoint: names under "model.", plus an epoch.
  let r = decodeModelInto(model, bytes, { prefix: { strip: 'model.', add: 'lstm.' }, source: 'checkpoint.pt' });
  if (r.metadata.epoch !== '3' || r.unexpected.length) throw new Error(JSON.stringify(r));
  r = decodeModelInto(model, bytes, { rename: (n) => n.replace(/^model\./, 'lstm.') });
  r = decodeModelInto(model, bytes, { rename: { 'model.weight_ih_l0': 'lstm.weight_ih_l0' }, strict: false });
  if (r.unexpected.join() !== 'model.weight_hh_l0,model.bias_ih_l0,model.bias_hh_l0' || r.missing.join() !== 'lstm.weight_hh_l0,lstm.bias_ih_l0,lstm.bias_hh_l0') throw new Error(JSON.stringify(r));
  const sd = await stateDict(model);
  expectClose('lstm.bias_hh_l0', sd['lstm.bias_hh_l0'].data, want.get('bias_hh_l0')!.data, { atol: 0, rtol: 0 });
  // Through the file API, .pt and all.
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-pt-'));
  try {
    writeFileSync(join(dir, 'ckpt.pt'), bytes);
    r = await loadCheckpoint(join(dir, 'ckpt.pt'), model, { prefix: { strip: 'model.', add: 'lstm.' } });
    if (r.missing.length) throw new Error(JSON.stringify(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  model.dispose();
});

test('name mapping: bad options and collisions are refused before anything changes', async () => {
  const model = await lstmModel();
  const bare = bareLstm();
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { prefix: 3 as unknown as string }), [/option prefix must be a string/, /got 3/, /\{ strip: "model\.", add: "lstm\." \}/], validBatch);
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { prefix: { ad: 'x' } as unknown as { add: string } }), [/option prefix has an unknown key "ad"/, /expected \{ add\?: string, strip\?: string \}/], validBatch);
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { rename: { weight_ih_l0: '' } }), [/option rename maps "weight_ih_l0" to the string ""/, /expected a non-empty parameter name/], validBatch);
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { rename: () => 'lstm.weight_ih_l0' }), [/sends both "weight_ih_l0" and "weight_hh_l0" to "lstm\.weight_ih_l0"/, /one tensor only/], validBatch);
  await expectRejectedCleanly(model, () => loadStateDict(model, bare, { prefix: 'rnn.' }), [/missing lstm\.weight_ih_l0/, /unexpected weight_ih_l0 → rnn\.weight_ih_l0/, /prefix or rename option/], validBatch);
  model.dispose();
});

test('modelFromPyTorch: infers a bare nn.LSTM and a checkpoint with { prefix: { strip } }; weights are the file\'s', async () => {
  const ctx = await gpu();
  const bare = bareLstm();
  const { model, description } = modelFromPyTorch(ctx, bare);
  if (JSON.stringify(description) !== '[{"lstm":"","bidirectional":false}]') throw new Error(JSON.stringify(description));
  const sd = await stateDict(model);
  expectClose('lstm.weight_ih_l0', sd['lstm.weight_ih_l0'].data, bare.get('weight_ih_l0')!.data, { atol: 0, rtol: 0 });
  model.dispose();
  const { model: m2 } = modelFromPyTorch(ctx, fixture('checkpoint.pt'), [{ lstm: 'rnn', name: 'rnn' }], { prefix: { strip: 'model.', add: 'rnn.' } });
  if (m2.namedParameters()[0][0] !== 'rnn.weight_ih_l0') throw new Error(m2.namedParameters()[0][0]);
  m2.dispose();
});

test('modelFromPyTorch: a description that does not fit the tensors names the tensor and what was expected', async () => {
  const ctx = await gpu();
  const bare = bareLstm();
  expectThrows(() => modelFromPyTorch(ctx, bare, [{ gru: '' }]), /weight_hh_l0 has shape \(12, 3\)/, /nn\.GRU needs \(3·H, H\)/, /describe it as \{ lstm: "" \}/);
  expectThrows(() => modelFromPyTorch(ctx, bare, [{ lstm: 'rnn' }]), /has no tensor rnn\.weight_hh_l0/, /it holds weight_ih_l0/);
  expectThrows(() => modelFromPyTorch(ctx, bare, [{ lstm: '', bidirectional: true }]), /bidirectional true given/, /has no weight_ih_l0_reverse/);
  expectThrows(() => modelFromPyTorch(ctx, bare, [{ lstm: '', hiddenSize: 4 }]), /hiddenSize 4 given/, /H = 3/);
  expectThrows(() => modelFromPyTorch(ctx, bare, [{ lstm: '', nonlinearity: 'relu' } as never]), /unknown key "nonlinearity" for lstm/, /the keys are lstm, bidirectional/);
  const noBias = new Map([...bare].filter(([k]) => !k.startsWith('bias_hh')));
  expectThrows(() => modelFromPyTorch(ctx, noBias, [{ lstm: '' }]), /has no bias_hh_l0/, /bias=False\) is not supported/);
  const withFc = new Map([...bare, ['fc.weight', { dtype: 'F32', shape: [2, 5], data: new Float32Array(10) }], ['fc.bias', { dtype: 'F32', shape: [2], data: new Float32Array(2) }]] as [string, SafeTensor][]);
  expectThrows(() => modelFromPyTorch(ctx, withFc, [{ lstm: '' }, { linear: 'fc' }]), /fc\.weight has shape \(2, 5\): it takes 5 features/, /gives 3/);
  expectThrows(() => modelFromPyTorch(ctx, withFc, [{ lstm: '' }]), /holds tensors the description does not use: fc\.weight, fc\.bias/, /strict: false/);
  const { model, report } = modelFromPyTorch(ctx, withFc, [{ lstm: '' }], { strict: false });
  if (report.unexpected.join() !== 'fc.weight,fc.bias') throw new Error(JSON.stringify(report));
  model.dispose();
  const rnn = new Map<string, SafeTensor>([['weight_ih_l0', { dtype: 'F32', shape: [3, 2], data: new Float32Array(6) }], ['weight_hh_l0', { dtype: 'F32', shape: [3, 3], data: new Float32Array(9) }]]);
  expectThrows(() => describePyTorchStateDict(rnn, 'rnn.pt'), /rnn\.pt: weight_hh_l0 \(3, 3\) is an nn\.RNN's/, /nonlinearity: 'tanh'/);
  expectThrows(() => describePyTorchStateDict(new Map([['bn.running_mean', bare.get('bias_ih_l0')!]]), 'bn.pt'), /cannot tell which module bn\.running_mean belongs to/, /nn\.Embedding, nn\.LSTM/);
  void GRU;
});

test.run();
