// A small builder for ONNX graphs: nodes with attributes, initializers and unique value names.
import { AttributeType, type AttributeProto, type NodeProto, type TensorProto } from './proto.ts';
import { floatTensor, int32Tensor, int64Tensor } from './tensors.ts';

export type AttrValue = number | string | number[] | string[] | { float: number };

const utf8 = new TextEncoder();

/** An attribute from a plain value: integers → INT(S), `{ float }` → FLOAT, strings → STRING(S). */
function attribute(name: string, v: AttrValue): AttributeProto {
  const a: AttributeProto = { name, type: 0, floats: [], ints: [], strings: [] };
  if (typeof v === 'number') { a.type = AttributeType.INT; a.i = v; }
  else if (typeof v === 'string') { a.type = AttributeType.STRING; a.s = utf8.encode(v); }
  else if (!Array.isArray(v)) { a.type = AttributeType.FLOAT; a.f = v.float; }
  else if (v.every((x) => typeof x === 'string')) { a.type = AttributeType.STRINGS; a.strings = (v as string[]).map((s) => utf8.encode(s)); }
  else { a.type = AttributeType.INTS; a.ints = v as number[]; }
  return a;
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private names = new Set<string>();

  /** `base`, or `base_1`, `base_2`, … when taken. */
  unique(base: string): string {
    let n = base, i = 1;
    while (this.names.has(n)) n = `${base}_${i++}`;
    this.names.add(n);
    return n;
  }

  /** Adds a node; returns the names of its `outputs` fresh values (named `<name>_out<k>` or by `outNames`). */
  node(opType: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outNames: string[] = ['out']): string[] {
    const nodeName = this.unique(name);
    const outputs = outNames.map((o) => this.unique(`${nodeName}_${o}`));
    this.nodes.push({
      input: inputs, output: outputs, name: nodeName, opType, domain: '',
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** A single-output node. */
  op(opType: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, name, inputs, attrs)[0];
  }

  floats(name: string, dims: number[], data: ArrayLike<number>): string {
    const n = this.unique(name);
    this.initializers.push(floatTensor(n, dims, data));
    return n;
  }

  int64s(name: string, dims: number[], data: number[]): string {
    const n = this.unique(name);
    this.initializers.push(int64Tensor(n, dims, data));
    return n;
  }

  int32s(name: string, dims: number[], data: number[]): string {
    const n = this.unique(name);
    this.initializers.push(int32Tensor(n, dims, data));
    return n;
  }

  /** Reserves a graph input or output name. */
  reserve(name: string): string {
    return this.unique(name);
  }
}
