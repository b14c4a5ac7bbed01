// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {…}},
// then the raw little-endian tensor bytes. Browser-safe: works on ArrayBuffers only.
// Files written here load in PyTorch with `safetensors.torch.load_file`; files saved from a PyTorch
// state_dict load here (F32 as is; F64, F16, BF16 converted to f32; I64 to i32 when in range).

export type SafeDType = 'F32' | 'I32';
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

const ELEMENT_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export class CheckpointError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'CheckpointError';
  }
}

/** Encodes tensors (in the given order) and string metadata as safetensors bytes. */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`encodeSafetensors: ${name} has shape (${t.shape.join(', ')}) but ${t.data.length} values`);
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** How a file that is not safetensors begins, for the error: its first bytes as text or hex. */
function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 12);
  if (head.length === 0) return 'nothing';
  const printable = head.every((b) => b >= 0x20 && b < 0x7f || b === 0x0a || b === 0x0d || b === 0x09);
  if (printable) return `it starts with the text ${JSON.stringify(new TextDecoder().decode(head))}`;
  return `it starts with the bytes ${Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
}

/** Decodes safetensors bytes, checking every offset; throws CheckpointError naming `source`. */
export function decodeSafetensors(input: ArrayBuffer | Uint8Array, source = 'checkpoint'): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  // A plain Uint8Array view: a Node Buffer's slice() would share memory instead of copying.
  const bytes = input instanceof Uint8Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
  if (bytes.length === 0) throw new CheckpointError(source, 'is empty (0 bytes); expected a safetensors file (8-byte header length, JSON header, tensor data)');
  if (bytes.length < 8) throw new CheckpointError(source, `not a safetensors file: it is ${bytes.length} bytes, too short for the 8-byte header length (truncated?)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) {
    throw new CheckpointError(source, `not a safetensors file: its first 8 bytes give a header length of ${n} bytes but only ${bytes.length - 8} bytes follow (a truncated file, or another format: ${describeStart(bytes)})`);
  }
  if (n < 2 || bytes[8] !== 0x7b) throw new CheckpointError(source, `not a safetensors file: the header must be a JSON object starting with "{" (${describeStart(bytes.subarray(8))} after the length)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new CheckpointError(source, `not a safetensors file: its ${n}-byte header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(source, 'not a safetensors file: the header is not a JSON object');
  const rawMeta = header.__metadata__ ?? {};
  if (typeof rawMeta !== 'object' || rawMeta === null || Array.isArray(rawMeta) || Object.values(rawMeta).some((v) => typeof v !== 'string')) {
    throw new CheckpointError(source, '__metadata__ must be an object of strings');
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  const metadata = rawMeta as Record<string, string>;
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!info || typeof info.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
      throw new CheckpointError(source, `entry ${name} lacks dtype, shape or data_offsets`);
    }
    const elBytes = ELEMENT_BYTES[info.dtype];
    if (!elBytes || !['F32', 'F64', 'F16', 'BF16', 'I32', 'I64'].includes(info.dtype)) {
      throw new CheckpointError(source, `${name} has dtype ${info.dtype}; supported: F32, F64, F16, BF16 (read as f32), I32, I64 (read as i32)`);
    }
    if (!info.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointError(source, `${name} has shape [${info.shape.join(', ')}], expected non-negative integers`);
    const count = info.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = info.data_offsets;
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin) throw new CheckpointError(source, `${name} has invalid data_offsets [${begin}, ${end}]`);
    if (end > dataLen) throw new CheckpointError(source, `${name} ends at byte ${end} of the data but the file holds ${dataLen} data bytes (truncated?)`);
    if (end - begin !== count * elBytes) throw new CheckpointError(source, `${name}: shape (${info.shape.join(', ')}) of ${info.dtype} needs ${count * elBytes} bytes, data_offsets give ${end - begin}`);
    ranges.push([begin, end, name]);
    const raw = bytes.slice(dataStart + begin, dataStart + end);
    const rdv = new DataView(raw.buffer);
    let data: Float32Array | Int32Array;
    let dtype: SafeDType = 'F32';
    switch (info.dtype) {
      case 'F32': data = new Float32Array(raw.buffer); break;
      case 'F64': data = Float32Array.from({ length: count }, (_, i) => rdv.getFloat64(i * 8, true)); break;
      case 'F16': data = Float32Array.from({ length: count }, (_, i) => f16ToF32(rdv.getUint16(i * 2, true))); break;
      case 'BF16': data = Float32Array.from({ length: count }, (_, i) => new Float32Array(new Uint32Array([rdv.getUint16(i * 2, true) << 16]).buffer)[0]); break;
      case 'I32': data = new Int32Array(raw.buffer); dtype = 'I32'; break;
      default: {
        dtype = 'I32';
        data = Int32Array.from({ length: count }, (_, i) => {
          const v = rdv.getBigInt64(i * 8, true);
          if (v > 2147483647n || v < -2147483648n) throw new CheckpointError(source, `${name}[${i}] = ${v} does not fit in i32`);
          return Number(v);
        });
      }
    }
    tensors.set(name, { dtype, shape: [...info.shape], data });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw new CheckpointError(source, `${ranges[i][2]} overlaps ${ranges[i - 1][2]} in the data section`);
  }
  return { tensors, metadata };
}
