// importOnnx: an ONNX file (ours, or what torch.onnx.export writes for nn.Embedding →
// nn.LSTM / nn.GRU / nn.RNN → nn.Linear) as a Sequential model on our kernels.
//
// A small pattern matcher walks the nodes in their (topological) order and follows the data path
// from the graph input, knowing at every step how the running value is laid out:
//   tokens (B, T) ─Gather(table) / OneHot─→ (B, T, F) ─Transpose─→ (T, B, F) ─LSTM/GRU/RNN─→
//   Y (T, D, B, H) ─Squeeze, or Transpose + Reshape─→ (T, B, D·H) ─ … next layer of the stack …
//   ─Transpose─→ (B, T, F) ─MatMul + Add / Gemm [+ Relu/Tanh/Sigmoid]─→ output
// with LastStep as Gather(−1) / Slice(−1) along time or GatherElements at lengths − 1. Nodes off
// the data path that only compute shapes and zero initial states (Shape, Constant,
// ConstantOfShape, Concat, Unsqueeze, Slice, …) are allowed; any other operator is refused by
// name with the list of supported ones. Consecutive recurrent operators of one module (node
// names `/rnn/LSTM`, `/rnn/LSTM_1`, or our `lstm/LSTM_l0`, `lstm/LSTM_l1`) become one stacked
// layer, and layers are named after the module (`/fc/MatMul` → "fc"), so parameter names match
// the exporting model's state_dict (`rnn.weight_ih_l0`, `fc.weight`).

import type { GpuContext } from '../../runtime/context.ts';
import type { ActDesc, Layer } from '../../nn/layer.ts';
import { Sequential } from '../../nn/model.ts';
import { Dense, LastStep } from '../../nn/layers.ts';
import { Embedding, OneHot } from '../../nn/embedding.ts';
import { GRU, LSTM, RNN } from '../../nn/recurrent.ts';
import { RECURRENT_OPTIONS } from '../../nn/recurrent-options.ts';
import type { CellKind } from '../../nn/cells.ts';
import { checkEnum, checkOptionsObject, describeValue } from '../../nn/options.ts';
import { DataType, decodeModel, type AttributeProto, type ModelProto, type NodeProto, type TensorProto } from './proto.ts';
import { dataTypeName, elementCount, tensorValues } from './tensors.ts';
import { GATE_COUNT, onnxToTorchGates } from './gates.ts';

export interface OnnxImportOptions {
  /** Names the bytes in error messages (a file path); default "ONNX model". */
  source?: string;
  /**
   * A Softmax at the end of the graph: 'error' (default) refuses it, 'drop' imports the model
   * without it, so that the model outputs the logits (our models apply softmax in the loss).
   */
  finalSoftmax?: 'error' | 'drop';
}

/** The operators importOnnx follows on the data path. */
export const ONNX_IMPORT_OPERATORS = [
  'Gather', 'OneHot', 'LSTM', 'GRU', 'RNN', 'Transpose', 'Squeeze', 'Reshape', 'MatMul', 'Add', 'Gemm',
  'Relu', 'Tanh', 'Sigmoid', 'Slice', 'GatherElements', 'Identity', 'Dropout', 'Cast', 'Softmax',
] as const;
/** Operators allowed off the data path, for shapes and zero initial states. */
const SHAPE_OPERATORS = new Set([
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Cast', 'Reshape',
  'Expand', 'Identity', 'Range', 'Sub', 'Add', 'Mul', 'Div', 'Equal', 'Where',
]);

/** How a value on the data path is laid out. */
type Layout =
  | 'tokens' // (B, T) ids
  | 'BTF' | 'TBF' // sequences
  | 'TDBH' | 'TBDH' // a recurrent operator's Y, and Y with the directions moved next to H
  | 'B1F' // one step kept along time
  | 'BF' // vectors
  | 'lengths' | 'lastIndex'; // the lengths input and lengths − 1 shaped as an index

interface Flow {
  layout: Layout;
  /** F (or H for TDBH/TBDH). */
  size: number;
  /** Directions, for TDBH/TBDH. */
  dirs?: number;
}

interface RecurrentSpec {
  kind: 'recurrent';
  name?: string;
  cell: CellKind;
  H: number;
  D: number;
  inputSize: number;
  nonlinearity: 'tanh' | 'relu';
  resetAfter: boolean;
  /** LSTM/GRU cell and gate activations (our names), and LSTM peepholes. */
  activation: string;
  recurrentActivation: string;
  peepholes: boolean;
  /** Per stacked layer, per direction: PyTorch-ordered parameters by suffix-less name. */
  params: Record<string, Float32Array>;
  numLayers: number;
  /** The node-name prefix the layers of this stack share. */
  prefix: string;
}
interface EmbeddingSpec { kind: 'embedding'; name?: string; V: number; E: number; weight: Float32Array }
interface OneHotSpec { kind: 'onehot'; name?: string; V: number }
interface DenseSpec { kind: 'dense'; name?: string; units: number; inputSize: number; weight: Float32Array; bias?: Float32Array; activation?: 'relu' | 'tanh' | 'sigmoid'; out: string }
interface LastStepSpec { kind: 'last'; name?: string }
type LayerSpec = RecurrentSpec | EmbeddingSpec | OneHotSpec | DenseSpec | LastStepSpec;

const text = new TextDecoder();

/** The module path of a node name (`/encoder/rnn/LSTM_1` → `encoder.rnn`, `lstm/LSTM_l0` → `lstm`), or '' when it has none. */
function modulePrefix(nodeName: string): string {
  const parts = nodeName.replace(/^\/+/, '').split('/');
  parts.pop();
  return parts.filter((p) => p.length > 0).join('.');
}

/**
 * Builds a Sequential on `ctx` from ONNX bytes: the model must be one our exporter writes, or what
 * `torch.onnx.export` writes for Embedding → LSTM/GRU/RNN (stacked, bidirectional) → Linear. The
 * model takes tokens (B, T) or features (B, T, I) and, like every model here, optional lengths.
 * Anything else is refused by name before any GPU buffer is made.
 */
export function importOnnx(ctx: GpuContext, bytes: Uint8Array | ArrayBuffer, options: OnnxImportOptions = {}): Sequential {
  return modelFromOnnx(bytes, options).build(ctx);
}

/**
 * What importOnnx builds, without a GPU: the model configured (layers, shapes) with the file's
 * weights as each parameter's initial values, not yet built. The command line converts with it.
 */
export function modelFromOnnx(bytes: Uint8Array | ArrayBuffer, options: OnnxImportOptions = {}): Sequential {
  checkOptionsObject('importOnnx', options, ['source', 'finalSoftmax'], "{ source: 'model.onnx' }");
  const source = options.source === undefined ? 'ONNX model' : String(options.source);
  const finalSoftmax = options.finalSoftmax === undefined ? 'error' : checkEnum('importOnnx', 'option finalSoftmax', options.finalSoftmax, ['error', 'drop'] as const);
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) throw new Error(`importOnnx: expected the file's bytes (a Uint8Array or ArrayBuffer), got ${describeValue(bytes)}`);
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let m: ModelProto;
  try {
    m = decodeModel(data);
  } catch (e) {
    throw new Error(`importOnnx: ${source} is not an ONNX model (${(e as Error).message}); expected the bytes of a .onnx file`);
  }
  const { specs, input } = new GraphMatcher(m, source, finalSoftmax).match();
  const layers = specs.map(layerOf);
  const model = new Sequential(layers);
  model.configure(input);
  layers.forEach((layer, i) => fillParameters(layer, specs[i], source));
  return model;
}

function layerOf(s: LayerSpec): Layer {
  switch (s.kind) {
    case 'embedding': return new Embedding({ numEmbeddings: s.V, embeddingDim: s.E, ...(s.name ? { name: s.name } : {}) });
    case 'onehot': return s.name ? new OneHot(s.V, s.name) : new OneHot(s.V);
    case 'last': return s.name ? new LastStep(s.name) : new LastStep();
    case 'dense': return new Dense({ units: s.units, inputSize: s.inputSize, bias: !!s.bias, ...(s.activation ? { activation: s.activation } : {}), ...(s.name ? { name: s.name } : {}) });
    case 'recurrent': {
      const o = { hiddenSize: s.H, inputSize: s.inputSize, numLayers: s.numLayers, bidirectional: s.D === 2, ...(s.name ? { name: s.name } : {}) };
      // Options beyond PyTorch's cell only where set, so that this also builds where they do not exist.
      const extra: Record<string, unknown> = {};
      if (s.activation !== 'tanh') extra.activation = s.activation;
      if (s.recurrentActivation !== 'sigmoid') extra.recurrentActivation = s.recurrentActivation;
      if (s.cell === 'lstm' && s.peepholes) extra.peepholes = true;
      if (s.cell === 'gru' && !s.resetAfter) extra.resetAfter = false;
      if (s.cell === 'lstm') return new LSTM({ ...o, ...extra } as typeof o);
      if (s.cell === 'gru') return new GRU({ ...o, ...extra } as typeof o);
      return new RNN({ ...o, nonlinearity: s.nonlinearity });
    }
  }
}

function fillParameters(layer: Layer, s: LayerSpec, source: string): void {
  const values: Record<string, Float32Array | undefined> =
    s.kind === 'embedding' ? { weight: s.weight } : s.kind === 'dense' ? { weight: s.weight, bias: s.bias } : s.kind === 'recurrent' ? s.params : {};
  for (const p of layer.parameters()) {
    const v = values[p.name];
    if (!v || v.length !== elementCount(p.shape)) {
      throw new Error(`importOnnx: ${source}: ${layer.name}.${p.name} has ${v?.length ?? 'no'} values, expected shape (${p.shape.join(', ')})`);
    }
    p.init = v;
  }
}

/** Walks a graph's nodes along the data path and collects the layers. */
class GraphMatcher {
  private consts = new Map<string, TensorProto>();
  /** Values known to be all zeros (initial states made by ConstantOfShape and sliced). */
  private zeros = new Set<string>();
  private flows = new Map<string, Flow>();
  private consumers = new Map<string, NodeProto[]>();
  private specs: LayerSpec[] = [];
  private lengthsInput = '';
  private input: ActDesc | null = null;
  /** Y values of recurrent operators, and values reshaped from them without another layer in between. */
  private recurrentOutputs = new Set<string>();

  constructor(private m: ModelProto, private source: string, private finalSoftmax: 'error' | 'drop') {}

  private fail(msg: string): never {
    throw new Error(`importOnnx: ${this.source}: ${msg}`);
  }

  private nodeLabel(n: NodeProto): string {
    return `node ${JSON.stringify(n.name || n.output[0] || '?')} (${n.opType})`;
  }

  private unsupported(n: NodeProto, why?: string): never {
    this.fail(`${this.nodeLabel(n)} ${why ?? 'is not supported'}; supported on the data path: ${ONNX_IMPORT_OPERATORS.join(', ')} (as torch.onnx.export and exportOnnx write them for Embedding/OneHot → LSTM/GRU/RNN → Linear)`);
  }

  match(): { specs: LayerSpec[]; input: ActDesc } {
    const g = this.m.graph;
    const opset = this.m.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
    if (opset < 7) this.fail(`opset ${opset || 'missing'} is not supported; expected the default ONNX domain at opset 7 or later (14 recommended)`);
    for (const t of g.initializer) this.consts.set(t.name, t);
    for (const n of g.node) for (const i of n.input) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n);
    this.classifyInputs();
    for (const n of g.node) this.visit(n);
    return { specs: this.finish(), input: this.input! };
  }

  private classifyInputs(): void {
    const g = this.m.graph;
    const real = g.input.filter((v) => !this.consts.has(v.name));
    for (const v of real) {
      const rank = v.shape?.length;
      const isInt = v.elemType === DataType.INT64 || v.elemType === DataType.INT32;
      const desc = `input ${JSON.stringify(v.name)} (${v.elemType === undefined ? 'no tensor type' : dataTypeName(v.elemType)}, shape (${v.shape?.map((d) => d ?? '?').join(', ') ?? 'unknown'}))`;
      if (isInt && rank === 2 && !this.input) {
        this.flows.set(v.name, { layout: 'tokens', size: 0 });
        this.input = { kind: 'tokens', size: 0 };
      } else if (v.elemType === DataType.FLOAT && rank === 3 && !this.input) {
        const I = v.shape![2];
        this.flows.set(v.name, { layout: 'BTF', size: typeof I === 'number' ? I : 0 });
        this.input = { kind: 'seq', size: typeof I === 'number' ? I : 0 };
      } else if (v.elemType === DataType.INT32 && rank === 1 && !this.lengthsInput) {
        this.lengthsInput = v.name;
        this.flows.set(v.name, { layout: 'lengths', size: 0 });
      } else {
        this.fail(`${desc} is not supported; expected token ids (B, T) int64/int32 or features (B, T, I) float32, and optionally lengths (B) int32`);
      }
    }
    if (!this.input) this.fail('the graph has no input of token ids (B, T) or features (B, T, I)');
  }

  // ── constants ──

  private constValues(name: string, what: string): Float64Array | null {
    const t = this.consts.get(name);
    return t ? tensorValues(t, `${what} ${JSON.stringify(name)}`) : null;
  }

  private requireConst(n: NodeProto, i: number, what: string): { t: TensorProto; v: Float64Array } {
    const name = n.input[i];
    const t = name ? this.consts.get(name) : undefined;
    if (!t) this.unsupported(n, `takes ${what} from a computed value ${JSON.stringify(name)}, expected a constant`);
    const v = tensorValues(t, `${this.nodeLabel(n)}: ${what} ${JSON.stringify(name)}`);
    for (let k = 0; k < v.length; k++) {
      if (!Number.isFinite(v[k])) this.fail(`${this.nodeLabel(n)}: ${what} ${JSON.stringify(name)} has a non-finite value ${v[k]} at flat index ${k}; expected finite weights`);
    }
    return { t, v };
  }

  private attr(n: NodeProto, name: string): AttributeProto | undefined {
    return n.attribute.find((a) => a.name === name);
  }

  private intAttr(n: NodeProto, name: string, dflt: number): number {
    return this.attr(n, name)?.i ?? dflt;
  }

  /** Squeeze/Unsqueeze axes: an attribute before opset 13, an input from 13 on. */
  private axes(n: NodeProto): number[] | null {
    const a = this.attr(n, 'axes');
    if (a) return a.ints;
    if (n.input[1]) { const v = this.constValues(n.input[1], 'axes'); return v ? [...v] : null; }
    return null;
  }

  // ── nodes ──

  private visit(n: NodeProto): void {
    if (n.domain && n.domain !== 'ai.onnx') this.unsupported(n, `is from operator domain ${JSON.stringify(n.domain)}`);
    if (n.attribute.some((a) => a.hasGraph)) this.unsupported(n, 'has a subgraph');
    const dataInputs = n.input.filter((i) => i && this.flows.has(i));
    if (dataInputs.length === 0) return this.visitAux(n);
    switch (n.opType) {
      case 'Gather': return this.gather(n);
      case 'OneHot': return this.oneHot(n);
      case 'LSTM': case 'GRU': case 'RNN': return this.recurrent(n);
      case 'Transpose': return this.transpose(n);
      case 'Squeeze': return this.squeeze(n);
      case 'Reshape': return this.reshape(n);
      case 'MatMul': return this.matmul(n);
      case 'Add': return this.add(n);
      case 'Gemm': return this.gemm(n);
      case 'Relu': case 'Tanh': case 'Sigmoid': return this.activation(n);
      case 'Slice': return this.slice(n);
      case 'GatherElements': return this.gatherElements(n);
      case 'Identity': case 'Dropout': case 'Cast': return this.passThrough(n);
      case 'Sub': case 'Expand': return this.lengthsIndex(n);
      case 'Softmax': return this.softmax(n);
      case 'Shape': case 'Size': return; // shapes of the data: off the data path
      default: this.unsupported(n);
    }
  }

  /** A node off the data path: constants and shape arithmetic only. */
  private visitAux(n: NodeProto): void {
    if (!SHAPE_OPERATORS.has(n.opType)) this.unsupported(n);
    if (n.opType === 'Constant') {
      const a = n.attribute.find((x) => x.name === 'value');
      if (a?.t) this.consts.set(n.output[0], a.t);
      else if (a === undefined) {
        const v = n.attribute[0];
        if (v?.name === 'value_int') this.consts.set(n.output[0], { ...emptyInt64(), int64Data: [v.i ?? 0] });
        else if (v?.name === 'value_ints') this.consts.set(n.output[0], { ...emptyInt64(), dims: [v.ints.length], int64Data: v.ints });
      }
      return;
    }
    if (n.opType === 'ConstantOfShape') {
      const t = this.attr(n, 'value')?.t;
      const v = t ? tensorValues(t, `${this.nodeLabel(n)} value`) : [0];
      if (v.length === 1 && v[0] === 0) this.zeros.add(n.output[0]);
      return;
    }
    // A zero tensor sliced, reshaped or cast is still zeros.
    if (['Slice', 'Gather', 'Unsqueeze', 'Squeeze', 'Reshape', 'Expand', 'Identity', 'Cast'].includes(n.opType) && this.zeros.has(n.input[0])) {
      this.zeros.add(n.output[0]);
    }
  }

  private flow(name: string): Flow {
    return this.flows.get(name)!;
  }

  private setFlow(n: NodeProto, f: Flow): void {
    this.flows.set(n.output[0], f);
  }

  private expectLayout(n: NodeProto, f: Flow, ok: Layout[], what: string): void {
    if (!ok.includes(f.layout)) this.unsupported(n, `gets ${describeLayout(f.layout)}, expected ${what}`);
  }

  private gather(n: NodeProto): void {
    const data = this.flows.get(n.input[0]);
    if (!data) {
      // Gather(table, tokens): an embedding (or a one-hot when the table is the identity).
      const idx = this.flow(n.input[1]);
      this.expectLayout(n, idx, ['tokens'], 'token ids (B, T)');
      if (this.intAttr(n, 'axis', 0) !== 0) this.unsupported(n, 'gathers along an axis other than 0 of the table');
      const { t, v } = this.requireConst(n, 0, 'the embedding table');
      if (t.dims.length !== 2) this.unsupported(n, `has a table of shape (${t.dims.join(', ')}), expected (V, E)`);
      const [V, E] = t.dims;
      if (this.specs.length > 0) this.unsupported(n, 'embeds tokens after other layers; the embedding must come first');
      const name = modulePrefix(n.name) || undefined;
      if (V === E && isIdentity(v, V)) this.specs.push({ kind: 'onehot', name, V });
      else this.specs.push({ kind: 'embedding', name, V, E, weight: Float32Array.from(v) });
      this.input = { kind: 'tokens', size: V };
      return this.setFlow(n, { layout: 'BTF', size: E });
    }
    // Gather(sequence, −1, axis=1): the last step (x[:, -1] in PyTorch).
    this.expectLayout(n, data, ['BTF'], 'a batch-first sequence (B, T, F) to take the last step of');
    const axis = this.intAttr(n, 'axis', 0);
    const { v } = this.requireConst(n, 1, 'the index');
    if (axis !== 1 || v.length !== 1 || v[0] !== -1) this.unsupported(n, `takes index ${[...v].join(', ')} along axis ${axis}; only the last step (index -1 along time, axis 1) is supported`);
    this.specs.push({ kind: 'last', name: modulePrefix(n.name) || undefined });
    this.setFlow(n, { layout: 'BF', size: data.size });
  }

  private oneHot(n: NodeProto): void {
    this.expectLayout(n, this.flow(n.input[0]), ['tokens'], 'token ids (B, T)');
    const depth = this.requireConst(n, 1, 'depth').v;
    const values = this.requireConst(n, 2, 'values').v;
    const axis = this.intAttr(n, 'axis', -1);
    if (depth.length !== 1 || values.length !== 2 || values[0] !== 0 || values[1] !== 1 || axis !== -1) {
      this.unsupported(n, `has depth ${[...depth].join(', ')}, values [${[...values].join(', ')}], axis ${axis}; expected one depth, values [0, 1] and axis -1`);
    }
    if (this.specs.length > 0) this.unsupported(n, 'one-hot encodes tokens after other layers; it must come first');
    const V = depth[0];
    this.specs.push({ kind: 'onehot', name: modulePrefix(n.name) || undefined, V });
    this.input = { kind: 'tokens', size: V };
    this.setFlow(n, { layout: 'BTF', size: V });
  }

  private recurrent(n: NodeProto): void {
    const x = this.flow(n.input[0]);
    if (x.layout === 'BTF') this.unsupported(n, 'gets a batch-first (B, T, F) input; the graph\'s input is time-major or the batch axis is misplaced (export with batch_first=True, or keep the Transpose to (T, B, F))');
    this.expectLayout(n, x, ['TBF'], 'a time-major sequence (T, B, F)');
    const cell = n.opType.toLowerCase() as CellKind;
    const { t: Wt, v: W } = this.requireConst(n, 1, 'W');
    const { v: R } = this.requireConst(n, 2, 'R');
    if (Wt.dims.length !== 3) this.unsupported(n, `has W of shape (${Wt.dims.join(', ')}), expected (D, G, I)`);
    const [D, G, I] = Wt.dims;
    const H = this.intAttr(n, 'hidden_size', G / GATE_COUNT[cell]);
    if (G !== GATE_COUNT[cell] * H) this.unsupported(n, `has W with ${G} rows for hidden_size ${H}, expected ${GATE_COUNT[cell] * H}`);
    if (x.size && x.size !== I) this.unsupported(n, `has W for ${I} input features but gets ${x.size}`);
    if (this.specs.length === 0 && this.input?.kind === 'seq' && !this.input.size) this.input = { kind: 'seq', size: I };
    const direction = this.attr(n, 'direction')?.s;
    const dir = direction ? text.decode(direction) : 'forward';
    if (dir !== 'forward' && dir !== 'bidirectional') this.unsupported(n, `has direction "${dir}"; expected "forward" or "bidirectional"`);
    if ((dir === 'bidirectional' ? 2 : 1) !== D) this.unsupported(n, `has direction "${dir}" but W for ${D} directions`);
    if (this.intAttr(n, 'layout', 0) !== 0) this.unsupported(n, 'has layout = 1 (batch-first); expected the default time-major layout 0');
    if (this.attr(n, 'clip')) this.unsupported(n, 'clips its cell (attribute clip); expected no clip');
    if (this.intAttr(n, 'input_forget', 0) !== 0) this.unsupported(n, 'couples its input and forget gates (input_forget = 1)');
    // Activations: the defaults (Sigmoid, Tanh[, Tanh]) per direction, the RNN's Tanh / Relu, or
    // (where our layers have the options) Keras-style gate and cell activations.
    const acts = (this.attr(n, 'activations')?.strings ?? []).map((x) => text.decode(x).toLowerCase());
    let nonlinearity: 'tanh' | 'relu' = 'tanh', activation = 'tanh', recurrentActivation = 'sigmoid';
    if (cell === 'rnn') {
      const a = acts.length ? acts : ['tanh'];
      if (!a.every((x) => x === a[0]) || (a[0] !== 'tanh' && a[0] !== 'relu')) this.unsupported(n, `has activations [${acts.join(', ')}]; expected Tanh or Relu, the same for both directions`);
      nonlinearity = a[0] as 'tanh' | 'relu';
    } else if (acts.length) {
      const per = cell === 'lstm' ? 3 : 2;
      const first = acts.slice(0, per);
      const ours = first.map((x) => OUR_ACTIVATION[x]);
      const same = acts.length === per * D && acts.every((x, i) => x === first[i % per]);
      const ok = same && ours.every(Boolean) && (ours[0] === 'sigmoid' || ours[0] === 'hard_sigmoid') && (cell !== 'lstm' || ours[1] === ours[2]);
      const known = (RECURRENT_OPTIONS as readonly string[]).includes('activation');
      if (!ok || !known || this.attr(n, 'activation_alpha') || this.attr(n, 'activation_beta')) {
        this.unsupported(n, `has activations [${acts.join(', ')}]; expected per direction a gate activation (Sigmoid or HardSigmoid) then ${cell === 'lstm' ? 'one cell activation twice' : 'a cell activation'} (Tanh, Relu, Sigmoid or HardSigmoid) with default parameters`);
      }
      [recurrentActivation, activation] = [ours[0], ours[1]];
    }
    let resetAfter = true;
    if (cell === 'gru' && this.intAttr(n, 'linear_before_reset', 0) === 0) {
      if (!(RECURRENT_OPTIONS as readonly string[]).includes('resetAfter')) this.unsupported(n, 'has linear_before_reset = 0; expected 1 (PyTorch\'s GRU)');
      resetAfter = false;
    }
    // sequence_lens: absent or the lengths input; initial states and peepholes: absent or zeros.
    const seqLens = n.input[4];
    if (seqLens && !(this.flows.get(seqLens)?.layout === 'lengths')) this.unsupported(n, `takes sequence_lens from ${JSON.stringify(seqLens)}; expected the graph's lengths input (B) int32 or none`);
    for (const [i, what] of [[5, 'initial_h'], [6, 'initial_c']] as const) {
      const s = n.input[i];
      if (s && !this.zeros.has(s) && !isZeroConst(this.consts.get(s))) this.unsupported(n, `starts from a non-zero ${what} ${JSON.stringify(s)}; expected zeros (no initial state)`);
    }
    let peep: Float64Array | null = null;
    if (cell === 'lstm' && n.input[7] && !isZeroConst(this.consts.get(n.input[7]))) {
      if (!(RECURRENT_OPTIONS as readonly string[]).includes('peepholes')) this.unsupported(n, 'has peephole weights P; expected none');
      peep = this.requireConst(n, 7, 'P').v;
      if (peep.length !== D * 3 * H) this.unsupported(n, `has P with ${peep.length} values, expected (${D}, ${3 * H})`);
    }
    // Outputs other than Y (final states) must be unused.
    n.output.slice(1).forEach((o, k) => {
      if (o && this.consumers.has(o)) this.unsupported(n, `has its final ${k === 0 ? 'hidden' : 'cell'} state ${JSON.stringify(o)} used by another node; only the output sequence Y is supported`);
    });
    if (this.m.graph.output.some((o) => n.output.slice(1).includes(o.name))) this.unsupported(n, 'has its final state as a graph output; only one output (the model\'s) is supported');
    const bias = n.input[3] ? this.requireConst(n, 3, 'B').v : new Float64Array(D * 2 * G);
    // One more layer of the previous stack, or a new layer.
    const prefix = modulePrefix(n.name);
    const last = this.specs[this.specs.length - 1];
    const stack = last?.kind === 'recurrent' && last.cell === cell && last.H === H && last.D === D && last.nonlinearity === nonlinearity
      && last.resetAfter === resetAfter && last.activation === activation && last.recurrentActivation === recurrentActivation
      && last.peepholes === !!peep && last.prefix === prefix && x.size === H * D && this.cameFromStack(n.input[0])
      ? last : null;
    const spec: RecurrentSpec = stack ?? {
      kind: 'recurrent', name: prefix || undefined, cell, H, D, inputSize: I, nonlinearity, resetAfter, activation, recurrentActivation, peepholes: !!peep, params: {}, numLayers: 0, prefix,
    };
    const l = spec.numLayers++;
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      spec.params[`weight_ih${sfx}`] = onnxToTorchGates(cell, W.subarray(d * G * I, (d + 1) * G * I), H, I);
      spec.params[`weight_hh${sfx}`] = onnxToTorchGates(cell, R.subarray(d * G * H, (d + 1) * G * H), H, H);
      spec.params[`bias_ih${sfx}`] = onnxToTorchGates(cell, bias.subarray(d * 2 * G, d * 2 * G + G), H, 1);
      spec.params[`bias_hh${sfx}`] = onnxToTorchGates(cell, bias.subarray(d * 2 * G + G, (d + 1) * 2 * G), H, 1);
      if (peep) { // ONNX P rows i, o, f → our rows p_i, p_f, p_o
        const p = new Float32Array(3 * H);
        [0, 2, 1].forEach((from, k) => p.set(peep!.subarray((d * 3 + from) * H, (d * 3 + from + 1) * H), k * H));
        spec.params[`weight_peephole${sfx}`] = p;
      }
    }
    if (!stack) this.specs.push(spec);
    this.setFlow(n, { layout: 'TDBH', size: H, dirs: D });
    this.recurrentOutputs.add(n.output[0]);
  }

  private cameFromStack(name: string): boolean {
    return this.recurrentOutputs.has(name);
  }

  /** Marks a reshaping node's output as still coming straight from a recurrent operator. */
  private carryStack(n: NodeProto): void {
    if (this.recurrentOutputs.has(n.input[0])) this.recurrentOutputs.add(n.output[0]);
  }

  private transpose(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    const perm = this.attr(n, 'perm')?.ints.join(',') ?? '';
    if ((f.layout === 'BTF' || f.layout === 'TBF') && perm === '1,0,2') {
      this.setFlow(n, { ...f, layout: f.layout === 'BTF' ? 'TBF' : 'BTF' });
    } else if (f.layout === 'TDBH' && perm === '0,2,1,3') {
      this.setFlow(n, { ...f, layout: 'TBDH' });
    } else {
      this.unsupported(n, `permutes ${describeLayout(f.layout)} by [${perm}]; expected [1, 0, 2] between batch-first and time-major, or [0, 2, 1, 3] on a recurrent output`);
    }
    this.carryStack(n);
  }

  private squeeze(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    const axes = this.axes(n)?.join(',');
    if (f.layout === 'TDBH' && f.dirs === 1 && axes === '1') this.setFlow(n, { layout: 'TBF', size: f.size });
    else if (f.layout === 'B1F' && axes === '1') this.setFlow(n, { layout: 'BF', size: f.size });
    else this.unsupported(n, `squeezes axes [${axes ?? 'all'}] of ${describeLayout(f.layout)}; expected axis 1 of a one-direction recurrent output or of a single step`);
    this.carryStack(n);
  }

  private reshape(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    if (f.layout === 'lastIndex') return this.setFlow(n, f);
    const shape = this.constValues(n.input[1], 'shape');
    const merged = f.dirs! * f.size;
    const ok = f.layout === 'TBDH' && (!shape || (shape.length === 3 && (shape[2] === -1 || shape[2] === merged)));
    if (!ok) this.unsupported(n, `reshapes ${describeLayout(f.layout)} to (${shape ? [...shape].join(', ') : 'a computed shape'}); expected a recurrent output (T, B, D, H) to (T, B, D·H)`);
    this.setFlow(n, { layout: 'TBF', size: merged });
    this.carryStack(n);
  }

  private matmul(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    this.expectLayout(n, f, ['BTF', 'BF'], 'a batch-first sequence (B, T, F) or vectors (B, F)');
    const { t, v } = this.requireConst(n, 1, 'the weight');
    if (t.dims.length !== 2 || (f.size && t.dims[0] !== f.size)) this.unsupported(n, `has a weight of shape (${t.dims.join(', ')}), expected (${f.size || 'F'}, units)`);
    const [I, U] = t.dims;
    const weight = new Float32Array(U * I); // nn.Linear layout (units, in) from the MatMul's (in, units)
    for (let i = 0; i < I; i++) for (let u = 0; u < U; u++) weight[u * I + i] = v[i * U + u];
    this.pushDense(n, { kind: 'dense', name: modulePrefix(n.name) || undefined, units: U, inputSize: I, weight, out: n.output[0] });
    this.setFlow(n, { layout: f.layout, size: U });
  }

  private pushDense(n: NodeProto, spec: DenseSpec): void {
    if (this.specs.length === 0 && this.input?.kind === 'seq' && !this.input.size) this.input = { kind: 'seq', size: spec.inputSize };
    if (this.specs.length === 0 && this.input?.kind === 'tokens') this.unsupported(n, 'multiplies token ids; expected an embedding first');
    this.specs.push(spec);
  }

  private add(n: NodeProto): void {
    const k = this.flows.has(n.input[0]) ? 0 : 1;
    const f = this.flow(n.input[k]);
    const last = this.specs[this.specs.length - 1];
    if (last?.kind !== 'dense' || last.out !== n.input[k] || last.bias || last.activation) {
      this.unsupported(n, 'adds to a value that is not a bias-free linear layer\'s output; expected the bias of a MatMul');
    }
    const { v } = this.requireConst(n, 1 - k, 'the bias');
    if (v.length !== last.units) this.unsupported(n, `adds ${v.length} values, expected a bias of ${last.units}`);
    last.bias = Float32Array.from(v);
    last.out = n.output[0];
    this.setFlow(n, f);
  }

  private gemm(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    this.expectLayout(n, f, ['BF'], 'vectors (B, F)');
    if (this.intAttr(n, 'transA', 0) !== 0) this.unsupported(n, 'has transA = 1');
    const alpha = this.attr(n, 'alpha')?.f ?? 1, beta = this.attr(n, 'beta')?.f ?? 1;
    if (alpha !== 1 || beta !== 1) this.unsupported(n, `has alpha ${alpha}, beta ${beta}; expected 1 and 1`);
    const { t, v } = this.requireConst(n, 1, 'the weight');
    const transB = this.intAttr(n, 'transB', 0) === 1;
    if (t.dims.length !== 2) this.unsupported(n, `has a weight of shape (${t.dims.join(', ')}), expected 2-D`);
    const [U, I] = transB ? t.dims : [t.dims[1], t.dims[0]];
    if (f.size && I !== f.size) this.unsupported(n, `has a weight for ${I} inputs but gets ${f.size}`);
    let weight = Float32Array.from(v);
    if (!transB) { weight = new Float32Array(U * I); for (let i = 0; i < I; i++) for (let u = 0; u < U; u++) weight[u * I + i] = v[i * U + u]; }
    let bias: Float32Array | undefined;
    if (n.input[2]) {
      const b = this.requireConst(n, 2, 'the bias').v;
      if (b.length !== U) this.unsupported(n, `has a bias of ${b.length} values, expected ${U} (one per unit)`);
      bias = Float32Array.from(b);
    }
    this.pushDense(n, { kind: 'dense', name: modulePrefix(n.name) || undefined, units: U, inputSize: I, weight, bias, out: n.output[0] });
    this.setFlow(n, { layout: 'BF', size: U });
  }

  private activation(n: NodeProto): void {
    const last = this.specs[this.specs.length - 1];
    if (last?.kind !== 'dense' || last.out !== n.input[0] || last.activation) {
      this.unsupported(n, 'is not applied to a linear layer\'s output; expected Relu, Tanh or Sigmoid right after a MatMul/Gemm (+ Add)');
    }
    last.activation = n.opType.toLowerCase() as 'relu' | 'tanh' | 'sigmoid';
    last.out = n.output[0];
    this.setFlow(n, this.flow(n.input[0]));
  }

  private slice(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    this.expectLayout(n, f, ['BTF'], 'a batch-first sequence (B, T, F)');
    const starts = this.requireConst(n, 1, 'starts').v, ends = this.requireConst(n, 2, 'ends').v;
    const axes = n.input[3] ? this.requireConst(n, 3, 'axes').v : Float64Array.of(0);
    const steps = n.input[4] ? this.requireConst(n, 4, 'steps').v : Float64Array.of(1);
    if (!(axes.length === 1 && axes[0] === 1 && starts[0] === -1 && ends[0] >= 2 ** 31 - 1 && steps[0] === 1)) {
      this.unsupported(n, 'slices something other than the last step along time; expected starts -1, ends the end, axis 1');
    }
    this.specs.push({ kind: 'last', name: modulePrefix(n.name) || undefined });
    this.setFlow(n, { layout: 'B1F', size: f.size });
  }

  /** Our exporter's LastStep with lengths: Sub(lengths, 1) → Reshape → Expand → GatherElements. */
  private lengthsIndex(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    if (n.opType === 'Sub' && f.layout === 'lengths') {
      const one = this.requireConst(n, 1, 'the subtrahend').v;
      if (one.length === 1 && one[0] === 1) return this.setFlow(n, { layout: 'lastIndex', size: 0 });
    }
    if (n.opType === 'Expand' && f.layout === 'lastIndex') return this.setFlow(n, f);
    this.unsupported(n, `computes with ${describeLayout(f.layout)}; expected lengths − 1 as the index of each row's last step`);
  }

  private gatherElements(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    const idx = this.flows.get(n.input[1]);
    this.expectLayout(n, f, ['BTF'], 'a batch-first sequence (B, T, F)');
    if (idx?.layout !== 'lastIndex' || this.intAttr(n, 'axis', 0) !== 1) this.unsupported(n, 'gathers other than each row\'s last valid step (lengths − 1 along axis 1)');
    this.specs.push({ kind: 'last', name: modulePrefix(n.name) || undefined });
    this.setFlow(n, { layout: 'B1F', size: f.size });
  }

  private passThrough(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    if (n.opType === 'Dropout' && n.input[2] && !isZeroConst(this.consts.get(n.input[2]))) this.unsupported(n, 'runs in training mode; expected inference (training_mode false)');
    if (n.opType === 'Cast' && f.layout !== 'tokens' && f.layout !== 'lengths') {
      const to = this.intAttr(n, 'to', 0);
      if (to !== DataType.FLOAT) this.unsupported(n, `casts ${describeLayout(f.layout)} to ${dataTypeName(to)}; expected float32`);
    }
    this.setFlow(n, f);
    this.carryStack(n);
    const last = this.specs[this.specs.length - 1];
    if (last?.kind === 'dense' && last.out === n.input[0]) last.out = n.output[0];
  }

  private softmax(n: NodeProto): void {
    const f = this.flow(n.input[0]);
    const axis = this.intAttr(n, 'axis', -1);
    const lastAxis = f.layout === 'BF' ? 1 : 2;
    const isOutput = this.m.graph.output.some((o) => o.name === n.output[0]) || (this.consumers.get(n.output[0]) ?? []).every((c) => c.opType === 'Identity');
    if ((axis !== -1 && axis !== lastAxis) || !isOutput) this.unsupported(n, 'is not a softmax over the last axis at the end of the graph');
    if (this.finalSoftmax === 'error') {
      this.fail(`the graph ends in a softmax (${this.nodeLabel(n)}); our models output logits (softmax belongs to the loss). Pass { finalSoftmax: 'drop' } to import the model without it and apply softmax to its outputs yourself`);
    }
    this.setFlow(n, f);
  }

  /** The graph's single output must be the end of the data path, batch-first. */
  private finish(): LayerSpec[] {
    const outs = this.m.graph.output;
    if (outs.length !== 1) this.fail(`the graph has ${outs.length} outputs (${outs.map((o) => o.name).join(', ')}); expected one, the model's output`);
    const f = this.flows.get(outs[0].name);
    if (!f) this.fail(`the graph output ${JSON.stringify(outs[0].name)} does not come from the input through supported layers`);
    if (f.layout !== 'BTF' && f.layout !== 'BF') this.fail(`the graph output ${JSON.stringify(outs[0].name)} is ${describeLayout(f.layout)}; expected batch-first (B, T, F) or (B, F)`);
    if (this.specs.length === 0) this.fail('the graph has no layers between its input and output');
    return this.specs;
  }
}

/** ONNX activation names (lower case) as our activation names. */
const OUR_ACTIVATION: Record<string, string> = { sigmoid: 'sigmoid', tanh: 'tanh', relu: 'relu', hardsigmoid: 'hard_sigmoid' };

function emptyInt64(): TensorProto {
  return { name: '', dims: [], dataType: DataType.INT64, floatData: [], int32Data: [], int64Data: [], doubleData: [], dataLocation: 0 };
}

function isZeroConst(t: TensorProto | undefined): boolean {
  if (!t) return false;
  return tensorValues(t, `constant ${JSON.stringify(t.name)}`).every((x) => x === 0);
}

function isIdentity(v: Float64Array, V: number): boolean {
  for (let i = 0; i < V; i++) for (let j = 0; j < V; j++) if (v[i * V + j] !== (i === j ? 1 : 0)) return false;
  return true;
}

function describeLayout(l: Layout): string {
  return {
    tokens: 'token ids (B, T)', BTF: 'a batch-first sequence (B, T, F)', TBF: 'a time-major sequence (T, B, F)',
    TDBH: 'a recurrent output (T, D, B, H)', TBDH: 'a recurrent output (T, B, D, H)', B1F: 'a single step (B, 1, F)',
    BF: 'vectors (B, F)', lengths: 'the lengths input', lastIndex: 'the last-step index',
  }[l];
}
