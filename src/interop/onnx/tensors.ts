// ONNX TensorProto values to and from typed arrays: the exporter writes float32 weights and int64
// or int32 constants as little-endian raw_data; the importer reads raw_data or the typed
// `*_data` fields of the element types that weights and shape constants use.
import { DataType, type TensorProto } from './proto.ts';

const DTYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

/** `float32`, `int64`, … for messages. */
export function dataTypeName(t: number): string {
  return DTYPE_NAMES[t] ?? `data type ${t}`;
}

function emptyTensor(name: string, dims: number[], dataType: number): TensorProto {
  return { name, dims, dataType, floatData: [], int32Data: [], int64Data: [], doubleData: [], dataLocation: 0 };
}

function littleEndian(bytes: number, fill: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(bytes);
  fill(new DataView(out.buffer));
  return out;
}

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  const t = emptyTensor(name, dims, DataType.FLOAT);
  t.rawData = littleEndian(data.length * 4, (v) => { for (let i = 0; i < data.length; i++) v.setFloat32(i * 4, data[i], true); });
  return t;
}

export function int64Tensor(name: string, dims: number[], data: readonly number[]): TensorProto {
  const t = emptyTensor(name, dims, DataType.INT64);
  t.rawData = littleEndian(data.length * 8, (v) => { data.forEach((x, i) => v.setBigInt64(i * 8, BigInt(x), true)); });
  return t;
}

export function int32Tensor(name: string, dims: number[], data: readonly number[]): TensorProto {
  const t = emptyTensor(name, dims, DataType.INT32);
  t.rawData = littleEndian(data.length * 4, (v) => { data.forEach((x, i) => v.setInt32(i * 4, x, true)); });
  return t;
}

export const elementCount = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The values of a tensor as float64 numbers (weights: float32/float64; shape constants: int32/int64;
 * bool/uint8/int8 masks). Throws for external data and other element types; `what` names the tensor.
 */
export function tensorValues(t: TensorProto, what: string): Float64Array {
  if (t.dataLocation === 1) throw new Error(`${what} keeps its values in an external file; save the model with its weights inside the .onnx file (onnx.save(model, path, save_as_external_data=False))`);
  const n = elementCount(t.dims);
  const out = new Float64Array(n);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.BOOL]: 1 };
    const w = width[t.dataType];
    if (!w) throw new Error(`${what} has element type ${dataTypeName(t.dataType)}; expected float32, float64, int32, int64, uint8, int8 or bool`);
    if (raw.length !== n * w) throw new Error(`${what} holds ${raw.length} bytes for shape (${t.dims.join(', ')}) of ${dataTypeName(t.dataType)}, expected ${n * w}`);
    for (let i = 0; i < n; i++) {
      switch (t.dataType) {
        case DataType.FLOAT: out[i] = v.getFloat32(i * 4, true); break;
        case DataType.DOUBLE: out[i] = v.getFloat64(i * 8, true); break;
        case DataType.INT32: out[i] = v.getInt32(i * 4, true); break;
        case DataType.INT64: out[i] = Number(v.getBigInt64(i * 8, true)); break;
        case DataType.INT8: out[i] = v.getInt8(i); break;
        default: out[i] = v.getUint8(i);
      }
    }
    return out;
  }
  const typed: Record<number, number[]> = {
    [DataType.FLOAT]: t.floatData, [DataType.DOUBLE]: t.doubleData, [DataType.INT64]: t.int64Data,
    [DataType.INT32]: t.int32Data, [DataType.UINT8]: t.int32Data, [DataType.INT8]: t.int32Data, [DataType.BOOL]: t.int32Data,
  };
  const src = typed[t.dataType];
  if (!src) throw new Error(`${what} has element type ${dataTypeName(t.dataType)}; expected float32, float64, int32, int64, uint8, int8 or bool`);
  if (src.length !== n) throw new Error(`${what} holds ${src.length} values for shape (${t.dims.join(', ')}), expected ${n}`);
  out.set(src);
  return out;
}
