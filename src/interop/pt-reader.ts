// PyTorch `torch.save` files (.pt, .pth; PyTorch ≥ 1.6): a zip archive `<dir>/data.pkl` (a
// pickle of the state_dict), `<dir>/data/<key>` (one raw storage per key), `<dir>/byteorder`
// ("little" or "big"; absent means little) and `<dir>/version`. Read safely: the pickle goes
// through the restricted reader in pickle.ts, which accepts only the globals that
// `torch.load(weights_only=True)` accepts for a state_dict (the tensor rebuild functions,
// OrderedDict, the typed storages) and never runs anything from the file.
//
// Tensors come out as a Map like decodeSafetensors gives: float dtypes (f32, f64, f16, bf16) as
// f32, integer dtypes (i64, i32, i16, i8, u8, bool) as i32 (an i64 outside the i32 range is an
// error naming the tensor). Storage offsets and strides are honoured (a non-contiguous view is
// copied out), and tensors that share a storage each get their own copy. Nested dicts (a
// checkpoint `{ model: state_dict, epoch: 3 }`) are flattened with "." (`model.rnn.weight_ih_l0`);
// other plain values (numbers, strings) become metadata entries.

import { unzipSync } from 'fflate';
import { CheckpointError, type SafeTensor } from '../train/safetensors.ts';
import { PickleError, unpickle, type PickleGlobal, type PickleValue } from './pickle.ts';

/** A storage dtype of a .pt file, by the name its `torch.*Storage` class gives it. */
interface StorageType {
  /** The safetensors-style name shown by inspect: F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL. */
  dtype: string;
  bytes: number;
}

/** `torch.<Name>Storage` → its element type (the storages weights_only accepts for plain tensors). */
export const PT_STORAGES: Record<string, StorageType> = {
  FloatStorage: { dtype: 'F32', bytes: 4 }, DoubleStorage: { dtype: 'F64', bytes: 8 },
  HalfStorage: { dtype: 'F16', bytes: 2 }, BFloat16Storage: { dtype: 'BF16', bytes: 2 },
  LongStorage: { dtype: 'I64', bytes: 8 }, IntStorage: { dtype: 'I32', bytes: 4 },
  ShortStorage: { dtype: 'I16', bytes: 2 }, CharStorage: { dtype: 'I8', bytes: 1 },
  ByteStorage: { dtype: 'U8', bytes: 1 }, BoolStorage: { dtype: 'BOOL', bytes: 1 },
};

/** The only Python globals a state_dict pickle may name. */
const ALLOWED_GLOBALS = [
  'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter', 'collections.OrderedDict',
  ...Object.keys(PT_STORAGES).map((s) => `torch.${s}`),
];

/** A storage reference from a persistent id: ('storage', torch.FloatStorage, key, location, numel). */
interface StorageRef { kind: 'storage'; type: StorageType; key: string }
/** A tensor as _rebuild_tensor_v2 describes it: a view (offset, size, stride) into a storage. */
interface TensorRef { kind: 'tensor'; storage: StorageRef; offset: number; size: number[]; stride: number[] }

/** What decodePyTorch returns. */
export interface PyTorchFile {
  /** The tensors, in the file's order, as f32 (float dtypes) or i32 (integer dtypes). */
  tensors: Map<string, SafeTensor>;
  /** Each tensor's dtype in the file (F32, F64, F16, BF16, I64, I32, …). */
  dtypes: Map<string, string>;
  /** Plain values found beside the tensors (e.g. `epoch` of a checkpoint dict), as strings. */
  metadata: Record<string, string>;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** True when the bytes start like a zip archive (what torch.save writes since PyTorch 1.6). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * True when the bytes start like the legacy torch.save format: a bare pickle (PROTO 2–5) whose
 * first value is torch's magic number (LONG1 of 10 bytes). Checking the magic too keeps a
 * safetensors file whose header length happens to start with 0x80 0x02 from being taken for one.
 */
export function looksLikePickle(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5 && bytes[2] === 0x8a && bytes[3] === 0x0a;
}

function refuseGlobal(source: string, module: string, name: string): never {
  const full = `${module}.${name}`;
  const hint = module === '__main__' || module.startsWith('torch.nn.')
    ? ' (this file pickles a whole Python object such as a module; save its weights with torch.save(model.state_dict(), path) instead)'
    : '';
  throw new PickleError(source, `data.pkl refers to the Python global ${full}, which is refused: this reader accepts only a state_dict's tensors and dicts (what torch.load(weights_only=True) allows: ${ALLOWED_GLOBALS.join(', ')}) and never runs code from a file${hint}`);
}

/** Reads element `i` of a storage as a number (or bigint for i64). */
function elementReader(dv: DataView, dtype: string, little: boolean): (i: number) => number | bigint {
  switch (dtype) {
    case 'F32': return (i) => dv.getFloat32(i * 4, little);
    case 'F64': return (i) => dv.getFloat64(i * 8, little);
    case 'F16': return (i) => halfToFloat(dv.getUint16(i * 2, little));
    case 'BF16': return (i) => bf16ToFloat(dv.getUint16(i * 2, little));
    case 'I64': return (i) => dv.getBigInt64(i * 8, little);
    case 'I32': return (i) => dv.getInt32(i * 4, little);
    case 'I16': return (i) => dv.getInt16(i * 2, little);
    case 'I8': return (i) => dv.getInt8(i);
    default: return (i) => dv.getUint8(i); // U8, BOOL
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const bf16Scratch = new Uint32Array(1);
const bf16View = new Float32Array(bf16Scratch.buffer);
function bf16ToFloat(b: number): number {
  bf16Scratch[0] = b << 16;
  return bf16View[0];
}

/** Copies a (possibly strided) view out of its storage, converted to f32 or i32. */
function materialize(name: string, t: TensorRef, storage: Uint8Array, little: boolean, source: string): SafeTensor {
  const { type } = t.storage;
  const numel = Math.floor(storage.byteLength / type.bytes);
  const count = t.size.reduce((a, b) => a * b, 1);
  if (count > 0) {
    // The furthest element the view reaches must lie inside the storage.
    const last = t.offset + t.size.reduce((acc, d, k) => acc + (d - 1) * t.stride[k], 0);
    if (t.offset < 0 || last >= numel || t.stride.some((s) => s < 0)) {
      throw new CheckpointError(source, `tensor ${name} (shape (${t.size.join(', ')}), offset ${t.offset}, stride (${t.stride.join(', ')})) reaches element ${last} of storage data/${t.storage.key}, which holds ${numel} ${type.dtype} elements (a truncated or corrupt file)`);
    }
  }
  const read = elementReader(new DataView(storage.buffer, storage.byteOffset, storage.byteLength), type.dtype, little);
  const isFloat = type.dtype.startsWith('F') || type.dtype === 'BF16';
  const out = isFloat ? new Float32Array(count) : new Int32Array(count);
  const idx = new Array(t.size.length).fill(0);
  let at = t.offset;
  for (let i = 0; i < count; i++) {
    const v = read(at);
    if (typeof v === 'bigint') {
      if (v > 2147483647n || v < -2147483648n) throw new CheckpointError(source, `tensor ${name}: value ${v} at flat index ${i} does not fit in i32`);
      out[i] = Number(v);
    } else out[i] = v;
    // Advance the multi-index (row-major) and the storage position with it.
    for (let d = t.size.length - 1; d >= 0; d--) {
      idx[d]++;
      at += t.stride[d];
      if (idx[d] < t.size[d]) break;
      at -= idx[d] * t.stride[d];
      idx[d] = 0;
    }
  }
  return { dtype: isFloat ? 'F32' : 'I32', shape: [...t.size], data: out };
}

/** Decodes a torch.save file without running anything from it; throws naming `source` for anything else. */
export function decodePyTorch(input: Uint8Array | ArrayBuffer, source = 'model.pt'): PyTorchFile {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (looksLikePickle(bytes)) {
    throw new CheckpointError(source, 'is a legacy torch.save file (PyTorch < 1.6, or saved with _use_new_zipfile_serialization=False); load it in PyTorch and save it again with torch.save(state_dict, path)');
  }
  if (!looksLikeZip(bytes)) throw new CheckpointError(source, 'is not a PyTorch file: torch.save writes a zip archive (starting with "PK"), this file starts otherwise');
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new CheckpointError(source, `is not a readable zip archive (${(e as Error).message}); a torch.save file is a zip (truncated?)`);
  }
  const names = Object.keys(files);
  const pkl = names.find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) {
    const scripted = names.some((n) => /^[^/]+\/constants\.pkl$/.test(n));
    if (scripted) throw new CheckpointError(source, 'is a TorchScript archive (torch.jit.save); save the weights with torch.save(model.state_dict(), path) instead');
    throw new CheckpointError(source, `is a zip archive without <folder>/data.pkl, so not a torch.save file (it holds ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  const dir = pkl.slice(0, -'data.pkl'.length);
  const order = files[`${dir}byteorder`] ? new TextDecoder().decode(files[`${dir}byteorder`]).trim() : 'little';
  if (order !== 'little' && order !== 'big') throw new CheckpointError(source, `${dir}byteorder says ${JSON.stringify(order)}, expected "little" or "big"`);
  const little = order === 'little';

  const where = `${source} (data.pkl)`;
  const root = unpickle(files[pkl], {
    findClass(module, name): PickleGlobal {
      if (!ALLOWED_GLOBALS.includes(`${module}.${name}`)) refuseGlobal(source, module, name);
      return { kind: 'global', module, name };
    },
    persistentLoad(pid): StorageRef {
      const p = pid as PickleValue[];
      const type = Array.isArray(p) && p[0] === 'storage' && (p[1] as PickleGlobal)?.kind === 'global' ? PT_STORAGES[(p[1] as PickleGlobal).name] : undefined;
      if (!type || typeof p[2] !== 'string') throw new PickleError(where, `a persistent id ${JSON.stringify(p, (_, v) => (typeof v === 'bigint' ? String(v) : v))} is not a storage reference ('storage', torch.<Type>Storage, key, location, numel)`);
      return { kind: 'storage', type, key: p[2] };
    },
    reduce(fn, args) {
      const full = `${fn.module}.${fn.name}`;
      if (full === 'collections.OrderedDict') {
        const m = new Map<unknown, PickleValue>();
        const items = args[0];
        if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
        return m;
      }
      if (full === 'torch._utils._rebuild_parameter') {
        const t = args[0] as TensorRef;
        if (t?.kind !== 'tensor') throw new PickleError(where, '_rebuild_parameter is given something that is not a tensor');
        return t;
      }
      if (full === 'torch._utils._rebuild_tensor_v2') {
        const [storage, offset, size, stride] = args as [StorageRef, unknown, unknown, unknown];
        const dims = (v: unknown) => Array.isArray(v) && v.every((d) => isInt(d) && d >= 0);
        if (storage?.kind !== 'storage' || !isInt(offset) || !dims(size) || !dims(stride) || (size as number[]).length !== (stride as number[]).length) {
          throw new PickleError(where, '_rebuild_tensor_v2 is called with arguments that are not (storage, offset, size, stride, …)');
        }
        return { kind: 'tensor', storage, offset, size: size as number[], stride: stride as number[] } satisfies TensorRef;
      }
      throw new PickleError(where, `${full} cannot be called: only collections.OrderedDict and the tensor rebuild functions are`);
    },
  }, where);

  if (!(root instanceof Map)) throw new CheckpointError(source, `holds a ${Array.isArray(root) ? 'list' : typeof root}, expected a state_dict (a dict of tensors): save it with torch.save(model.state_dict(), path)`);
  const tensors = new Map<string, SafeTensor>();
  const dtypes = new Map<string, string>();
  const metadata: Record<string, string> = {};
  const visit = (prefix: string, v: PickleValue): void => {
    if (v instanceof Map) {
      for (const [k, child] of v) visit(prefix ? `${prefix}.${String(k)}` : String(k), child);
    } else if ((v as TensorRef | null)?.kind === 'tensor') {
      const t = v as TensorRef;
      const storage = files[`${dir}data/${t.storage.key}`];
      if (!storage) throw new CheckpointError(source, `tensor ${prefix} refers to storage data/${t.storage.key}, which the archive does not hold (truncated?)`);
      tensors.set(prefix, materialize(prefix, t, storage, little, source));
      dtypes.set(prefix, t.storage.type.dtype);
    } else if (Array.isArray(v) && v.some((x) => x instanceof Map || (x as TensorRef | null)?.kind === 'tensor')) {
      v.forEach((x, i) => visit(`${prefix}.${i}`, x));
    } else if (v instanceof Uint8Array) {
      metadata[prefix] = `<${v.length} bytes>`;
    } else {
      metadata[prefix] = typeof v === 'string' ? v : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x));
    }
  };
  visit('', root);
  return { tensors, dtypes, metadata };
}
