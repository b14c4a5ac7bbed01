// The subset of onnx.proto that an RNN model needs (ModelProto, GraphProto, NodeProto,
// TensorProto, ValueInfoProto, TypeProto, AttributeProto, OperatorSetIdProto,
// StringStringEntryProto), encoded and decoded with protobufjs's wire-format Reader and Writer.
// Every field number below is the one in onnx.proto; fields outside the subset are skipped on
// read. The codec is written out by hand (no schema compiled at run time) so that it needs no
// `eval`, which a page's Content-Security-Policy may forbid.
//
// Repeated scalars are read both packed and unpacked (protobuf requires readers to accept both);
// they are written as onnx.proto (proto2) declares them: `dims`, `ints`, `floats` unpacked, the
// TensorProto `*_data` fields packed.

import protobuf from 'protobufjs/minimal.js';

const { Reader, Writer } = protobuf;
type ProtoReader = protobuf.Reader;
type ProtoWriter = protobuf.Writer;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  rawData?: Uint8Array;
  /** 1 = EXTERNAL: the values are in another file (not supported by the importer). */
  dataLocation: number;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  /** A subgraph attribute is only noted (If/Loop/Scan bodies are not supported). */
  hasGraph?: boolean;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeProto[];
}

/** One dimension: a size, a symbolic name (`'batch'`), or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfoProto {
  name: string;
  /** Tensor element type and shape; undefined for non-tensor types. */
  elemType?: number;
  shape?: Dim[];
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

export interface OperatorSetId {
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  opsetImport: OperatorSetId[];
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

// ── reading ─────────────────────────────────────────────────────────────────────────────────────

const WIRE_VARINT = 0, WIRE_BYTES = 2, WIRE_FIXED32 = 5;

/** An int64 as a number: protobufjs returns a Long object where the `long` package is present. */
function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
}

/** Calls `field(number, wireType)` for each field of the message ending at `end`; unknown fields are skipped by it. */
function readFields(r: ProtoReader, end: number, field: (no: number, wire: number) => boolean): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (!field(tag >>> 3, tag & 7)) r.skipType(tag & 7);
  }
}

/** A repeated scalar, packed (one length-delimited run) or not (one value per tag). */
function readRepeated(r: ProtoReader, wire: number, out: number[], one: () => number): void {
  if (wire === WIRE_BYTES) {
    const end = r.uint32() + r.pos;
    while (r.pos < end) out.push(one());
  } else {
    out.push(one());
  }
}

function readTensor(r: ProtoReader, end: number): TensorProto {
  const t: TensorProto = { name: '', dims: [], dataType: 0, floatData: [], int32Data: [], int64Data: [], doubleData: [], dataLocation: 0 };
  readFields(r, end, (no, wire) => {
    switch (no) {
      case 1: readRepeated(r, wire, t.dims, () => toNumber(r.int64())); return true; // repeated int64 dims = 1
      case 2: t.dataType = r.int32(); return true; // int32 data_type = 2
      case 4: readRepeated(r, wire, t.floatData, () => r.float()); return true; // repeated float float_data = 4
      case 5: readRepeated(r, wire, t.int32Data, () => r.int32()); return true; // repeated int32 int32_data = 5
      case 7: readRepeated(r, wire, t.int64Data, () => toNumber(r.int64())); return true; // repeated int64 int64_data = 7
      case 8: t.name = r.string(); return true; // string name = 8
      case 9: t.rawData = r.bytes(); return true; // bytes raw_data = 9
      case 10: readRepeated(r, wire, t.doubleData, () => r.double()); return true; // repeated double double_data = 10
      case 14: t.dataLocation = r.int32(); return true; // DataLocation data_location = 14
      default: return false;
    }
  });
  return t;
}

function readAttribute(r: ProtoReader, end: number): AttributeProto {
  const a: AttributeProto = { name: '', type: 0, floats: [], ints: [], strings: [] };
  readFields(r, end, (no, wire) => {
    switch (no) {
      case 1: a.name = r.string(); return true; // string name = 1
      case 20: a.type = r.int32(); return true; // AttributeType type = 20
      case 2: a.f = r.float(); return true; // float f = 2
      case 3: a.i = toNumber(r.int64()); return true; // int64 i = 3
      case 4: a.s = r.bytes(); return true; // bytes s = 4
      case 5: { const len = r.uint32(); a.t = readTensor(r, r.pos + len); return true; } // TensorProto t = 5
      case 6: a.hasGraph = true; return false; // GraphProto g = 6 (skipped)
      case 7: readRepeated(r, wire, a.floats, () => r.float()); return true; // repeated float floats = 7
      case 8: readRepeated(r, wire, a.ints, () => toNumber(r.int64())); return true; // repeated int64 ints = 8
      case 9: a.strings.push(r.bytes()); return true; // repeated bytes strings = 9
      case 11: a.hasGraph = true; return false; // repeated GraphProto graphs = 11 (skipped)
      default: return false;
    }
  });
  return a;
}

function readNode(r: ProtoReader, end: number): NodeProto {
  const n: NodeProto = { input: [], output: [], name: '', opType: '', domain: '', attribute: [] };
  readFields(r, end, (no) => {
    switch (no) {
      case 1: n.input.push(r.string()); return true; // repeated string input = 1
      case 2: n.output.push(r.string()); return true; // repeated string output = 2
      case 3: n.name = r.string(); return true; // string name = 3
      case 4: n.opType = r.string(); return true; // string op_type = 4
      case 7: n.domain = r.string(); return true; // string domain = 7
      case 5: { const len = r.uint32(); n.attribute.push(readAttribute(r, r.pos + len)); return true; } // repeated AttributeProto attribute = 5
      default: return false;
    }
  });
  return n;
}

function readShape(r: ProtoReader, end: number): Dim[] {
  const dims: Dim[] = [];
  readFields(r, end, (no) => {
    if (no !== 1) return false; // repeated Dimension dim = 1
    const dimEnd = r.uint32() + r.pos;
    let d: Dim = null;
    readFields(r, dimEnd, (dno) => {
      if (dno === 1) { d = toNumber(r.int64()); return true; } // int64 dim_value = 1
      if (dno === 2) { d = r.string(); return true; } // string dim_param = 2
      return false;
    });
    dims.push(d);
    return true;
  });
  return dims;
}

function readValueInfo(r: ProtoReader, end: number): ValueInfoProto {
  const v: ValueInfoProto = { name: '' };
  readFields(r, end, (no) => {
    if (no === 1) { v.name = r.string(); return true; } // string name = 1
    if (no !== 2) return false; // TypeProto type = 2
    const typeEnd = r.uint32() + r.pos;
    readFields(r, typeEnd, (tno) => {
      if (tno !== 1) return false; // TypeProto.Tensor tensor_type = 1
      const tensorEnd = r.uint32() + r.pos;
      readFields(r, tensorEnd, (eno) => {
        if (eno === 1) { v.elemType = r.int32(); return true; } // int32 elem_type = 1
        if (eno === 2) { const len = r.uint32(); v.shape = readShape(r, r.pos + len); return true; } // TensorShapeProto shape = 2
        return false;
      });
      return true;
    });
    return true;
  });
  return v;
}

function readGraph(r: ProtoReader, end: number): GraphProto {
  const g: GraphProto = { name: '', node: [], initializer: [], input: [], output: [] };
  readFields(r, end, (no) => {
    if (no === 2) { g.name = r.string(); return true; } // string name = 2
    if (no !== 1 && no !== 5 && no !== 11 && no !== 12) return false;
    const len = r.uint32();
    const stop = r.pos + len;
    if (no === 1) g.node.push(readNode(r, stop)); // repeated NodeProto node = 1
    else if (no === 5) g.initializer.push(readTensor(r, stop)); // repeated TensorProto initializer = 5
    else if (no === 11) g.input.push(readValueInfo(r, stop)); // repeated ValueInfoProto input = 11
    else g.output.push(readValueInfo(r, stop)); // repeated ValueInfoProto output = 12
    return true;
  });
  return g;
}

/** Decodes an ONNX ModelProto. Throws protobufjs's error on malformed bytes (the caller names the file). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const r = Reader.create(bytes);
  const m: ModelProto = { irVersion: 0, opsetImport: [], producerName: '', producerVersion: '', docString: '', graph: { name: '', node: [], initializer: [], input: [], output: [] }, metadataProps: [] };
  let sawGraph = false;
  readFields(r, bytes.length, (no) => {
    switch (no) {
      case 1: m.irVersion = toNumber(r.int64()); return true; // int64 ir_version = 1
      case 2: m.producerName = r.string(); return true; // string producer_name = 2
      case 3: m.producerVersion = r.string(); return true; // string producer_version = 3
      case 6: m.docString = r.string(); return true; // string doc_string = 6
      case 7: { const len = r.uint32(); m.graph = readGraph(r, r.pos + len); sawGraph = true; return true; } // GraphProto graph = 7
      case 8: { // repeated OperatorSetIdProto opset_import = 8
        const stop = r.uint32() + r.pos;
        const o: OperatorSetId = { domain: '', version: 0 };
        readFields(r, stop, (ono) => {
          if (ono === 1) { o.domain = r.string(); return true; } // string domain = 1
          if (ono === 2) { o.version = toNumber(r.int64()); return true; } // int64 version = 2
          return false;
        });
        m.opsetImport.push(o);
        return true;
      }
      case 14: { // repeated StringStringEntryProto metadata_props = 14
        const stop = r.uint32() + r.pos;
        const e = { key: '', value: '' };
        readFields(r, stop, (eno) => {
          if (eno === 1) { e.key = r.string(); return true; } // string key = 1
          if (eno === 2) { e.value = r.string(); return true; } // string value = 2
          return false;
        });
        m.metadataProps.push(e);
        return true;
      }
      default: return false;
    }
  });
  if (!sawGraph) throw new Error('the bytes hold no graph (ModelProto field 7)');
  return m;
}

// ── writing ─────────────────────────────────────────────────────────────────────────────────────

const tag = (no: number, wire: number) => (no << 3) | wire;

function writeMessage(w: ProtoWriter, no: number, body: (w: ProtoWriter) => void): void {
  w.uint32(tag(no, WIRE_BYTES)).fork();
  body(w);
  w.ldelim();
}

function writeString(w: ProtoWriter, no: number, s: string): void {
  if (s) w.uint32(tag(no, WIRE_BYTES)).string(s);
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  for (const d of t.dims) w.uint32(tag(1, WIRE_VARINT)).int64(d);
  w.uint32(tag(2, WIRE_VARINT)).int32(t.dataType);
  if (t.floatData.length) { w.uint32(tag(4, WIRE_BYTES)).fork(); for (const v of t.floatData) w.float(v); w.ldelim(); }
  if (t.int32Data.length) { w.uint32(tag(5, WIRE_BYTES)).fork(); for (const v of t.int32Data) w.int32(v); w.ldelim(); }
  if (t.int64Data.length) { w.uint32(tag(7, WIRE_BYTES)).fork(); for (const v of t.int64Data) w.int64(v); w.ldelim(); }
  writeString(w, 8, t.name);
  if (t.rawData) w.uint32(tag(9, WIRE_BYTES)).bytes(t.rawData);
  if (t.doubleData.length) { w.uint32(tag(10, WIRE_BYTES)).fork(); for (const v of t.doubleData) w.double(v); w.ldelim(); }
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  writeString(w, 1, a.name);
  if (a.f !== undefined) w.uint32(tag(2, WIRE_FIXED32)).float(a.f);
  if (a.i !== undefined) w.uint32(tag(3, WIRE_VARINT)).int64(a.i);
  if (a.s !== undefined) w.uint32(tag(4, WIRE_BYTES)).bytes(a.s);
  if (a.t !== undefined) writeMessage(w, 5, (m) => writeTensor(m, a.t!));
  for (const v of a.floats) w.uint32(tag(7, WIRE_FIXED32)).float(v);
  for (const v of a.ints) w.uint32(tag(8, WIRE_VARINT)).int64(v);
  for (const s of a.strings) w.uint32(tag(9, WIRE_BYTES)).bytes(s);
  w.uint32(tag(20, WIRE_VARINT)).int32(a.type);
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const s of n.input) w.uint32(tag(1, WIRE_BYTES)).string(s);
  for (const s of n.output) w.uint32(tag(2, WIRE_BYTES)).string(s);
  writeString(w, 3, n.name);
  writeString(w, 4, n.opType);
  for (const a of n.attribute) writeMessage(w, 5, (m) => writeAttribute(m, a));
  writeString(w, 7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  writeString(w, 1, v.name);
  if (v.elemType === undefined) return;
  writeMessage(w, 2, (type) => writeMessage(type, 1, (tensor) => {
    tensor.uint32(tag(1, WIRE_VARINT)).int32(v.elemType!);
    if (v.shape) {
      writeMessage(tensor, 2, (shape) => {
        for (const d of v.shape!) {
          writeMessage(shape, 1, (dim) => {
            if (typeof d === 'number') dim.uint32(tag(1, WIRE_VARINT)).int64(d);
            else if (typeof d === 'string') dim.uint32(tag(2, WIRE_BYTES)).string(d);
          });
        }
      });
    }
  }));
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.node) writeMessage(w, 1, (m) => writeNode(m, n));
  writeString(w, 2, g.name);
  for (const t of g.initializer) writeMessage(w, 5, (m) => writeTensor(m, t));
  for (const v of g.input) writeMessage(w, 11, (m) => writeValueInfo(m, v));
  for (const v of g.output) writeMessage(w, 12, (m) => writeValueInfo(m, v));
}

/** Encodes an ONNX ModelProto. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, WIRE_VARINT)).int64(m.irVersion);
  writeString(w, 2, m.producerName);
  writeString(w, 3, m.producerVersion);
  writeString(w, 6, m.docString);
  writeMessage(w, 7, (g) => writeGraph(g, m.graph));
  for (const o of m.opsetImport) {
    writeMessage(w, 8, (s) => { writeString(s, 1, o.domain); s.uint32(tag(2, WIRE_VARINT)).int64(o.version); });
  }
  for (const e of m.metadataProps) writeMessage(w, 14, (s) => { writeString(s, 1, e.key); writeString(s, 2, e.value); });
  const out = w.finish();
  // A plain Uint8Array, also where protobufjs hands back a Node Buffer.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
