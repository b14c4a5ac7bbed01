// Writes a state_dict as a PyTorch `torch.save` file (.pt) that `torch.load(path, weights_only=True)`
// reads: a zip (stored, not compressed) of `archive/data.pkl`, `archive/byteorder`,
// `archive/data/<i>` (one little-endian storage per tensor) and `archive/version`. The pickle
// (protocol 2) is the one torch.save writes for an OrderedDict of tensors: each value is
// `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`, the storage a
// persistent id `('storage', torch.FloatStorage | torch.IntStorage, key, 'cpu', numel)`.
// String metadata has no place in a state_dict and is not written.

import { zipSync } from 'fflate';
import type { SafeTensor } from '../train/safetensors.ts';
import type { StateDict } from '../train/checkpoint.ts';

/** Emits the few pickle opcodes a state_dict needs. */
class PickleWriter {
  private parts: number[] = [];
  private bytes(b: ArrayLike<number>) { for (let i = 0; i < b.length; i++) this.parts.push(b[i]); }
  op(code: number) { this.parts.push(code); }
  int(v: number) {
    if (v >= 0 && v < 256) this.bytes([0x4b, v]); // BININT1
    else if (v >= -(2 ** 31) && v < 2 ** 31) { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); this.op(0x4a); this.bytes(b); } // BININT
    else { // LONG1, 8 bytes
      const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, BigInt(v), true); this.bytes([0x8a, 8]); this.bytes(b);
    }
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    const n = new Uint8Array(4); new DataView(n.buffer).setUint32(0, b.length, true);
    this.op(0x58); this.bytes(n); this.bytes(b); // BINUNICODE
  }
  global(module: string, name: string) { this.op(0x63); this.bytes(new TextEncoder().encode(`${module}\n${name}\n`)); }
  tuple(items: number[]) { this.op(0x28); for (const v of items) this.int(v); this.op(0x74); } // MARK … TUPLE
  emptyOrderedDict() { this.global('collections', 'OrderedDict'); this.op(0x29); this.op(0x52); } // OrderedDict()
  result(): Uint8Array { return Uint8Array.from(this.parts); }
}

/** Row-major strides of a shape, in elements. */
function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/**
 * Encodes tensors (f32, or i32 for a SafeTensor with dtype I32) as a torch.save file, in the given
 * order. `stateDict(model)` gives what a model holds; PyTorch loads the result with
 * `module.load_state_dict(torch.load(path, weights_only=True))`.
 */
export function encodePyTorch(tensors: StateDict | Record<string, SafeTensor> | Map<string, SafeTensor>): Uint8Array {
  const entries: [string, { shape: number[]; data: Float32Array | Int32Array; dtype?: string }][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const w = new PickleWriter();
  w.op(0x80); w.op(2); // PROTO 2
  w.emptyOrderedDict();
  w.op(0x28); // MARK for SETITEMS
  const files: Record<string, Uint8Array> = {};
  const data: [string, Uint8Array][] = [];
  entries.forEach(([name, t], i) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) throw new Error(`encodePyTorch: ${name} has shape (${t.shape.join(', ')}) but ${t.data.length} values`);
    const isInt = t.dtype === 'I32' || t.data instanceof Int32Array;
    const key = String(i);
    w.str(name);
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.op(0x28); // MARK: the arguments
    w.op(0x28); w.str('storage'); w.global('torch', isInt ? 'IntStorage' : 'FloatStorage'); w.str(key); w.str('cpu'); w.int(count); w.op(0x74); w.op(0x51); // BINPERSID
    w.int(0); // storage offset
    w.tuple(t.shape);
    w.tuple(contiguousStrides(t.shape));
    w.op(0x89); // requires_grad False
    w.emptyOrderedDict(); // backward hooks
    w.op(0x74); // TUPLE
    w.op(0x52); // REDUCE
    // Little-endian bytes (every platform JavaScript runs on), copied out of any larger buffer.
    const arr = isInt ? Int32Array.from(t.data) : Float32Array.from(t.data);
    data.push([`archive/data/${key}`, new Uint8Array(arr.buffer)]);
  });
  w.op(0x75); // SETITEMS
  w.op(0x2e); // STOP
  files['archive/data.pkl'] = w.result();
  files['archive/byteorder'] = new TextEncoder().encode('little');
  for (const [path, bytes] of data) files[path] = bytes;
  files['archive/version'] = new TextEncoder().encode('3\n');
  // Stored (level 0) like torch.save; a fixed date keeps the bytes reproducible.
  return zipSync(files, { level: 0, mtime: new Date(1980, 0, 1) });
}
