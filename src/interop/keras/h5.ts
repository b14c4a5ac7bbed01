// HDF5 through h5wasm (the HDF5 C library compiled to WebAssembly), for Keras's model.weights.h5.
// h5wasm works on files in its own in-memory file system (Emscripten's MEMFS), in Node and in the
// browser alike: bytes are written there, opened, read or written, and the file is removed again,
// so nothing touches the disk. h5wasm (about 5 MB minified, the wasm inlined) is imported on first use, so
// code that never reads a .keras file never loads it.
//
// Only what Keras's weight files use is covered: groups, numeric datasets and string attributes.
// HDF5's own error text never reaches the caller: every failure becomes a message that names the
// file and the path inside it.

type H5Module = typeof import('h5wasm');
type H5Group = import('h5wasm').Group;
type H5File = import('h5wasm').File;

let loading: Promise<H5Module> | undefined;

/** h5wasm, loaded and initialised once; HDF5 errors throw (and are caught here) instead of printing. */
function h5wasm(): Promise<H5Module> {
  loading ??= (async () => {
    const mod = await import('h5wasm');
    const lib = (mod as unknown as { default?: H5Module }).default ?? mod;
    const module = await lib.ready;
    module.activate_throwing_error_handler();
    return lib;
  })();
  return loading;
}

/** The HDF5 signature; a file may also start after a user block of 512, 1024, 2048 … bytes. */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when `bytes` carry the HDF5 signature at offset 0 or at a power-of-two user-block offset. */
export function looksLikeHdf5(bytes: Uint8Array): boolean {
  for (let at = 0; at + SIGNATURE.length <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (SIGNATURE.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

let fileCounter = 0;
const memfsName = () => `/webgpu-rnn-${Date.now().toString(36)}-${(fileCounter++).toString(36)}.h5`;

/** A numeric dataset as read: its shape, its values as f32, and its stored dtype (e.g. `<f`, `<d`). */
export interface H5Array {
  shape: number[];
  data: Float32Array;
  dtype: string;
}

/** A read-only view of an open HDF5 file, by slash-separated paths from the root. */
export interface H5Reader {
  /** True when a group exists at `path`. */
  hasGroup(path: string): boolean;
  /** The names directly inside the group at `path` ([] when there is no such group). */
  keys(path: string): string[];
  /** The dataset at `path` as f32 (float and integer dtypes), or undefined when there is none. */
  dataset(path: string): H5Array | undefined;
}

/**
 * Opens `bytes` as an HDF5 file, calls `use` with a reader, and always closes and removes the file
 * again. `source` names the file in errors ("model.keras (model.weights.h5)").
 */
export async function readHdf5<T>(bytes: Uint8Array, source: string, use: (file: H5Reader) => T): Promise<T> {
  if (!looksLikeHdf5(bytes)) throw new Error(`${source}: not an HDF5 file (no HDF5 signature; expected what h5py writes)`);
  const lib = await h5wasm();
  const fs = (await lib.ready).FS!;
  const name = memfsName();
  fs.writeFile(name, bytes);
  let file: H5File | undefined;
  try {
    try {
      file = new lib.File(name, 'r');
    } catch {
      throw new Error(`${source}: not a readable HDF5 file (it has the HDF5 signature but HDF5 cannot open it; truncated?)`);
    }
    const open = file;
    const entity = (path: string) => {
      try { return open.get(path); } catch { return null; }
    };
    const reader: H5Reader = {
      hasGroup: (path) => path === '' || entity(path) instanceof lib.Group,
      keys(path) {
        const g = path === '' ? open : entity(path);
        return g instanceof lib.Group ? g.keys() : [];
      },
      dataset(path) {
        const d = entity(path);
        if (!(d instanceof lib.Dataset)) return undefined;
        return readDataset(d, `${source}: dataset ${path}`);
      },
    };
    return use(reader);
  } finally {
    try { file?.close(); } catch { /* already closed */ }
    fs.unlink(name);
  }
}

/** A dataset's values as f32; float16/bfloat16 and non-numeric types are refused by name. */
function readDataset(d: import('h5wasm').Dataset, where: string): H5Array {
  let meta: import('h5wasm').Dataset['metadata'];
  let value: unknown;
  try {
    meta = d.metadata;
    value = d.value;
  } catch {
    throw new Error(`${where} cannot be read (damaged file?)`);
  }
  const dtype = String(d.dtype);
  const shape = [...(meta.shape ?? [])];
  const count = shape.reduce((a, b) => a * b, 1);
  const numeric = meta.type === 0 /* H5T_INTEGER */ || meta.type === 1 /* H5T_FLOAT */;
  const halfWidth = meta.type === 1 && meta.size === 2;
  const marked = d.attrs.dtype ? String(d.get_attribute('dtype', true)) : '';
  if (!numeric || halfWidth || marked === 'bfloat16') {
    const what = marked || (halfWidth ? 'float16' : `HDF5 type class ${meta.type} (${dtype})`);
    throw new Error(`${where} holds ${what} values; expected float32, float64 or integer weights (save the model in float32)`);
  }
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) data = Float32Array.from(value as unknown as ArrayLike<number | bigint>, Number);
  else if (typeof value === 'number' || typeof value === 'bigint') data = Float32Array.of(Number(value));
  else throw new Error(`${where} is not a numeric array (${dtype})`);
  if (data.length !== count) throw new Error(`${where} has ${data.length} values for shape (${shape.join(', ')})`);
  return { shape, data, dtype };
}

/** What writeHdf5 writes: groups (with string attributes) and f32 datasets, by slash-separated path. */
export interface H5Tree {
  /** Groups to create (parents are created as needed), each with optional string attributes. */
  groups: { path: string; attrs?: Record<string, string> }[];
  /** f32 datasets; their parent groups are created as needed. */
  datasets: { path: string; shape: number[]; data: Float32Array }[];
}

/** Writes `tree` as HDF5 bytes: contiguous little-endian float32 datasets, as h5py writes numpy arrays. */
export async function writeHdf5(tree: H5Tree): Promise<Uint8Array> {
  const lib = await h5wasm();
  const fs = (await lib.ready).FS!;
  const name = memfsName();
  const file = new lib.File(name, 'w');
  try {
    const groups = new Map<string, H5Group>([['', file]]);
    const group = (path: string): H5Group => {
      const known = groups.get(path);
      if (known) return known;
      const cut = path.lastIndexOf('/');
      const g = group(cut < 0 ? '' : path.slice(0, cut)).create_group(path.slice(cut + 1));
      groups.set(path, g);
      return g;
    };
    for (const g of tree.groups) {
      const created = group(g.path);
      for (const [k, v] of Object.entries(g.attrs ?? {})) created.create_attribute(k, v);
    }
    for (const d of tree.datasets) {
      const cut = d.path.lastIndexOf('/');
      group(cut < 0 ? '' : d.path.slice(0, cut)).create_dataset({ name: d.path.slice(cut + 1), data: d.data, shape: d.shape, dtype: '<f' });
    }
    file.close();
    return fs.readFile(name);
  } finally {
    try { file.close(); } catch { /* closed above */ }
    fs.unlink(name);
  }
}
