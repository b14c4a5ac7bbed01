// The safetensors format: round trip, files as PyTorch's `safetensors.torch.save_file` writes
// them (sorted keys, no metadata, space-padded header), dtype conversions and corrupt input.
import { suite } from 'uvu';
import { decodeSafetensors, encodeSafetensors } from '../src/train/safetensors.ts';
import { argmaxDecode, sampleLogits } from '../src/train/generate.ts';
import { Rng } from '../src/cpu/random.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';

const test = suite('safetensors');

/** Builds a file byte by byte the way the Python library does, independent of our encoder. */
function pythonStyleFile(entries: [string, string, number[], Uint8Array][], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, dtype, shape, bytes] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let p = 8 + json.length;
  for (const [, , , bytes] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) { out.set(bytes, p); p += bytes.length; }
  return out;
}

test('round trip keeps names, shapes, values and metadata', () => {
  const w = new Float32Array([1.5, -2, 3e-8, 1e30, 0, -0]);
  const ids = new Int32Array([-1, 7, 2147483647]);
  const bytes = encodeSafetensors({ 'lstm.weight_ih_l0': { dtype: 'F32', shape: [2, 3], data: w }, ids: { dtype: 'I32', shape: [3], data: ids } }, { step: '12' });
  if (bytes.length % 8 !== 0 && (8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8 !== 0) throw new Error('header not 8-byte aligned');
  const { tensors, metadata } = decodeSafetensors(bytes);
  expectClose('weight', tensors.get('lstm.weight_ih_l0')!.data, w, { atol: 0, rtol: 0 });
  expectClose('ids', tensors.get('ids')!.data, ids, { atol: 0, rtol: 0 });
  if (tensors.get('lstm.weight_ih_l0')!.shape.join() !== '2,3' || metadata.step !== '12') throw new Error('shape or metadata lost');
});

test('a PyTorch-style file (sorted keys, F32/F64/F16/BF16/I64) decodes with conversions', () => {
  const f32 = new Uint8Array(new Float32Array([0.25, -1]).buffer);
  const f64 = new Uint8Array(new Float64Array([0.1, -3]).buffer);
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555]).buffer); // 1, -2, ~0.3333
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer);        // 1, -3
  const i64 = new Uint8Array(new BigInt64Array([5n, -7n]).buffer);
  const file = pythonStyleFile([
    ['rnn.weight_hh_l0', 'F32', [2], f32], ['a.f64', 'F64', [2], f64], ['b.f16', 'F16', [3], f16],
    ['c.bf16', 'BF16', [1, 2], bf16], ['steps', 'I64', [2], i64],
  ]);
  const { tensors } = decodeSafetensors(file, 'torch.safetensors');
  expectClose('F32', tensors.get('rnn.weight_hh_l0')!.data, [0.25, -1], { atol: 0, rtol: 0 });
  expectClose('F64→f32', tensors.get('a.f64')!.data, new Float32Array([0.1, -3]), { atol: 0, rtol: 0 });
  expectClose('F16→f32', tensors.get('b.f16')!.data, [1, -2, 0.333251953125], { atol: 0, rtol: 0 });
  expectClose('BF16→f32', tensors.get('c.bf16')!.data, [1, -3], { atol: 0, rtol: 0 });
  expectClose('I64→i32', tensors.get('steps')!.data, [5, -7], { atol: 0, rtol: 0 });
});

test('a Node Buffer (a view into a shared pool) decodes like a Uint8Array', () => {
  const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const pooled = Buffer.concat([Buffer.alloc(3), Buffer.from(bytes)]).subarray(3); // byteOffset 3 into a larger buffer
  expectClose('w', decodeSafetensors(pooled).tensors.get('w')!.data, [1, 2], { atol: 0, rtol: 0 });
});

test('corrupt files are refused with a message naming the file and the problem', () => {
  const good = encodeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
  expectThrows(() => decodeSafetensors(good.subarray(0, good.length - 1), 'x.safetensors'), 'x.safetensors', 'truncated');
  expectThrows(() => decodeSafetensors(good.subarray(0, 4), 'x.safetensors'), 'too short');
  const bad = pythonStyleFile([['w', 'F32', [3], new Uint8Array(8)]]);
  expectThrows(() => decodeSafetensors(bad, 'y.safetensors'), 'y.safetensors', 'needs 12 bytes');
  const u8 = pythonStyleFile([['w', 'U8', [2], new Uint8Array(2)]]);
  expectThrows(() => decodeSafetensors(u8, 'z'), 'dtype U8');
  const big = pythonStyleFile([['w', 'I64', [1], new Uint8Array(new BigInt64Array([1n << 40n]).buffer)]]);
  expectThrows(() => decodeSafetensors(big, 'z'), 'does not fit in i32');
});

test('bytes that are not safetensors say so, with the reason and how the bytes begin', () => {
  expectThrows(() => decodeSafetensors(new Uint8Array(0), 'e.bin'), 'e.bin: is empty (0 bytes)', 'expected a safetensors file');
  // A text file: its first 8 bytes read as a header length of ~7e18.
  const text = new TextEncoder().encode('hello world, this is text');
  expectThrows(() => decodeSafetensors(text, 'notes.txt'), 'notes.txt: not a safetensors file', /header length of \d+ bytes but only 17 bytes follow/, 'starts with the text "hello world,"');
  const zip = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]);
  expectThrows(() => decodeSafetensors(zip, 'a.zip'), 'not a safetensors file', 'starts with the bytes 50 4b 03 04');
  const header = (json: string) => { const h = new TextEncoder().encode(json); const out = new Uint8Array(8 + h.length); new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true); out.set(h, 8); return out; };
  expectThrows(() => decodeSafetensors(header('[1, 2]'), 'x'), 'not a safetensors file', 'JSON object starting with "{"');
  expectThrows(() => decodeSafetensors(header('{"__metadata__": {"step": 3}}'), 'x'), '__metadata__ must be an object of strings');
  expectThrows(() => decodeSafetensors(header('{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 0]}}'), 'x'), 'w has shape [1.5]', 'non-negative integers');
  expectThrows(() => decodeSafetensors(header('{"w": {"dtype": "F32"}}'), 'x'), 'w lacks dtype, shape or data_offsets');
});

test('argmax decoding and seeded top-k sampling', () => {
  const logits = Float32Array.from([0, 5, 1, 9, 2, 3]);
  if (argmaxDecode(logits, 3).join() !== '1,0') throw new Error('argmax wrong');
  expectThrows(() => argmaxDecode(logits, 4), 'not rows of 4');
  const counts = new Array(6).fill(0);
  const rng = new Rng(1);
  for (let i = 0; i < 2000; i++) counts[sampleLogits([0, 1, 2, 3, 4, 5], rng, { topK: 2 })]++;
  if (counts.slice(0, 4).some((c) => c !== 0)) throw new Error(`top-2 sampled outside the top 2: ${counts}`);
  // p(5)/p(4) = e: expect about 73% fives.
  if (Math.abs(counts[5] / 2000 - Math.E / (1 + Math.E)) > 0.04) throw new Error(`top-2 frequencies off: ${counts}`);
  const a = Array.from({ length: 20 }, () => sampleLogits([1, 2, 3], new Rng(5), { temperature: 0.5 }));
  if (new Set(a).size !== 1) throw new Error('same seed gave different samples');
  expectThrows(() => sampleLogits([1, 2], rng, { temperature: 0 }), 'temperature must be positive');
  expectThrows(() => sampleLogits([1, 2], rng, { topK: 1.5 }), 'topK must be an integer in [0, 2]', 'got 1.5');
});

test.run();
