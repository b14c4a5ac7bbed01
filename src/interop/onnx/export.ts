// exportOnnx: a Sequential model as an ONNX file for inference (onnxruntime, other runtimes).
//
// Layers map to standard operators (opset 14 by default):
//   Embedding → Gather; OneHot → OneHot (values [0, 1]);
//   LSTM / GRU / RNN → one ONNX LSTM / GRU / RNN operator per stacked layer, weights in ONNX gate
//     order (W (D, G, I), R (D, G, H), B (D, 2G) = [b_ih, b_hh]), GRU linear_before_reset = 1
//     (PyTorch's formulation), direction "bidirectional" for two directions, the RNN's
//     nonlinearity as `activations`, `sequence_lens` from the `lengths` input. The operators are
//     time-major (X (T, B, I), Y (T, D, B, H)), so the graph transposes in and out around a run
//     of recurrent layers and reshapes Y between stacked layers (onnxruntime refuses the
//     batch-first `layout = 1` for all three operators);
//   Dense → Gemm on (B, D) vectors, MatMul + Add on (B, T, D) sequences, then Relu/Tanh/Sigmoid;
//   LastStep → GatherElements at lengths − 1 (or the last step when the graph has no lengths);
//   Dropout → nothing (inference); an optional Softmax on the output.
// Initial recurrent states are zeros (a stateful layer's carried state is not part of the file).

import type { Sequential } from '../../nn/model.ts';
import type { Layer } from '../../nn/layer.ts';
import { Dense, Dropout, LastStep } from '../../nn/layers.ts';
import { Embedding, OneHot } from '../../nn/embedding.ts';
import { Recurrent } from '../../nn/recurrent.ts';
import { checkBoolean, checkEnum, checkInteger, checkOptionsObject, describeValue } from '../../nn/options.ts';
import { DataType, encodeModel, type Dim, type ValueInfoProto } from './proto.ts';
import { GraphBuilder } from './graph-builder.ts';
import { GATE_COUNT, ONNX_OP_OF_CELL, torchToOnnxGates } from './gates.ts';

export interface OnnxExportOptions {
  /** ONNX operator set, 14 to 21; default 14 (what onnxruntime and torch.onnx.export both handle). */
  opset?: number;
  /** A fixed batch size; by default the batch dimension is symbolic (`batch`). */
  batch?: number;
  /** A fixed number of timesteps; by default symbolic (`steps`). */
  steps?: number;
  /**
   * Default true: the graph takes a `lengths` input (B) int32, each row's valid steps, passed to
   * every recurrent operator as `sequence_lens` and used by LastStep (as in our `Batch.lengths`).
   * With false every row is T steps long and the graph has no such input.
   */
  lengths?: boolean;
  /** Element type of the `tokens` input: 'int64' (default, as PyTorch exports) or 'int32'. */
  tokenType?: 'int64' | 'int32';
  /** Apply softmax to the output (last axis); default false: the output is the model's own (logits). */
  softmax?: boolean;
}

const EXPORT_OPTIONS = ['opset', 'batch', 'steps', 'lengths', 'tokenType', 'softmax'] as const;
const MIN_OPSET = 14, MAX_OPSET = 21;
/** The layer types exportOnnx knows. */
export const ONNX_EXPORT_LAYERS = ['Embedding', 'OneHot', 'LSTM', 'GRU', 'RNN', 'Dense', 'Dropout', 'LastStep'] as const;

/**
 * Our cell activations as ONNX activation names. ONNX's HardSigmoid defaults (alpha 0.2, beta 0.5)
 * are Keras 2's and TensorFlow.js's clip(0.2·x + 0.5, 0, 1), which is what 'hard_sigmoid' means here.
 */
export const ONNX_ACTIVATION: Record<string, string> = { sigmoid: 'Sigmoid', tanh: 'Tanh', relu: 'Relu', hard_sigmoid: 'HardSigmoid' };

/** The IR version that goes with an opset (ONNX's versioning table). */
function irVersionOf(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** Where the running value is and how it is laid out. */
interface Value {
  name: string;
  /** tokens (B, T); sequences batch-first (B, T, F) or time-major (T, B, F); vectors (B, F). */
  layout: 'tokens' | 'BTF' | 'TBF' | 'BF';
  size: number;
}

function layerType(l: Layer): string {
  return (l.config().type as string | undefined) ?? l.constructor.name;
}

/**
 * The model as ONNX bytes (a ModelProto), for inference. Inputs: `tokens` (B, T) int64 (or int32)
 * for a model that starts with Embedding or OneHot, else `inputs` (B, T, I) float32; and `lengths`
 * (B) int32 unless `lengths: false`. Output: `output`, (B, T, D) or (B, D) float32. The model
 * must be built; its weights are read back from the GPU. Layers without an ONNX form (any but
 * Embedding, OneHot, LSTM, GRU, RNN, Dense, Dropout, LastStep) are refused by name.
 */
export async function exportOnnx(model: Sequential, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const o = checkExportOptions(options);
  checkExportable(model);
  return buildOnnx(model, await readWeights(model), o);
}

/** Parameters by state-dict name (`lstm.weight_ih_l0`), PyTorch layout. */
export type OnnxWeights = Record<string, { data: ArrayLike<number> }>;
type Weights = OnnxWeights;

/**
 * What exportOnnx writes, from a configured model (its layers and input; it need not be built)
 * and weights given by name rather than read from the GPU. The command line converts with it.
 */
export function encodeOnnx(model: Sequential, weights: OnnxWeights, options: OnnxExportOptions = {}): Uint8Array {
  const o = checkExportOptions(options);
  checkExportable(model);
  const missing = model.namedParameters().filter(([name, p]) => weights[name]?.data.length !== p.shape.reduce((a, b) => a * b, 1)).map(([name, p]) => `${name} (${p.shape.join(', ')})`);
  if (missing.length) throw new Error(`exportOnnx: missing or wrongly sized weights: ${missing.join(', ')}`);
  return buildOnnx(model, weights, o);
}

/** Every parameter read back from the GPU, by state-dict name. */
async function readWeights(model: Sequential): Promise<Weights> {
  const ctx = model.contextOrNull;
  if (!ctx) throw new Error('exportOnnx: the model is not built; build the model first (model.build(ctx))');
  const params = model.namedParameters();
  for (const [name, p] of params) {
    if (!p.value || p.value.released) throw new Error(`exportOnnx: the model was disposed (${name} has no GPU buffer); build a new model`);
  }
  const out: Weights = {};
  for (const [name, p] of params) out[name] = { data: (await ctx.read(p.value!)) as Float32Array };
  return out;
}

type CheckedExportOptions = Required<Omit<OnnxExportOptions, 'batch' | 'steps'>> & { batch?: number; steps?: number };

function checkExportOptions(options: OnnxExportOptions): CheckedExportOptions {
  checkOptionsObject('exportOnnx', options, EXPORT_OPTIONS, '{ opset: 14 }');
  const opset: unknown = options.opset === undefined ? 14 : options.opset;
  if (typeof opset !== 'number' || !Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`exportOnnx: option opset is ${describeValue(opset)}; expected an integer from ${MIN_OPSET} to ${MAX_OPSET}`);
  }
  return {
    opset,
    batch: options.batch === undefined ? undefined : checkInteger('exportOnnx', 'option batch', options.batch, 1),
    steps: options.steps === undefined ? undefined : checkInteger('exportOnnx', 'option steps', options.steps, 1),
    lengths: options.lengths === undefined ? true : checkBoolean('exportOnnx', 'option lengths', options.lengths),
    tokenType: options.tokenType === undefined ? 'int64' : checkEnum('exportOnnx', 'option tokenType', options.tokenType, ['int64', 'int32'] as const),
    softmax: options.softmax === undefined ? false : checkBoolean('exportOnnx', 'option softmax', options.softmax),
  };
}

/** Every layer must have an ONNX form with the options it was made with; checked before any readback. */
function checkExportable(model: Sequential): void {
  if (typeof (model as Partial<Sequential> | null)?.namedParameters !== 'function') throw new Error('exportOnnx: expected a Sequential model');
  const bad: string[] = [];
  for (const l of model.layers) {
    const type = layerType(l);
    if (!(l instanceof Embedding || l instanceof OneHot || l instanceof Recurrent || l instanceof Dense || l instanceof Dropout || l instanceof LastStep)) {
      bad.push(`layer "${l.name}" (${type}) has no ONNX form`);
      continue;
    }
    if (l instanceof Recurrent) {
      const c = l.config();
      for (const key of ['activation', 'recurrentActivation'] as const) {
        const v = c[key];
        if (v !== undefined && !(typeof v === 'string' && v in ONNX_ACTIVATION)) {
          bad.push(`layer "${l.name}" (${type}) uses ${key} ${JSON.stringify(v)}, which has no ONNX form here; supported: ${Object.keys(ONNX_ACTIVATION).join(', ')}`);
        }
      }
    }
  }
  if (bad.length) throw new Error(`exportOnnx: ${bad.join('; ')}; supported layers: ${ONNX_EXPORT_LAYERS.join(', ')}`);
}

function buildOnnx(model: Sequential, weights: Weights, o: CheckedExportOptions): Uint8Array {
  const g = new GraphBuilder();
  const B: Dim = o.batch ?? 'batch';
  const T: Dim = o.steps ?? 'steps';
  const input = model.input;
  const inputs: ValueInfoProto[] = [];
  let cur: Value;
  if (input.kind === 'tokens') {
    const name = g.reserve('tokens');
    inputs.push({ name, elemType: o.tokenType === 'int64' ? DataType.INT64 : DataType.INT32, shape: [B, T] });
    cur = { name, layout: 'tokens', size: input.size };
  } else {
    const name = g.reserve('inputs');
    inputs.push({ name, elemType: DataType.FLOAT, shape: [B, T, input.size] });
    cur = { name, layout: 'BTF', size: input.size };
  }
  let lengths = '';
  if (o.lengths) {
    lengths = g.reserve('lengths');
    inputs.push({ name: lengths, elemType: DataType.INT32, shape: [B] });
  }
  const weight = (layer: Layer, p: string) => weights[`${layer.name}.${p}`];

  /** Time-major → batch-first (the recurrent operators work time-major). */
  const batchFirst = (v: Value, at: string): Value =>
    v.layout === 'TBF' ? { ...v, name: g.op('Transpose', `${at}/Transpose`, [v.name], { perm: [1, 0, 2] }), layout: 'BTF' } : v;

  for (const layer of model.layers) {
    const at = layer.name;
    if (layer instanceof Embedding) {
      const table = g.floats(`${at}.weight`, [layer.numEmbeddings, layer.embeddingDim], weight(layer, 'weight').data);
      cur = { name: g.op('Gather', `${at}/Gather`, [table, cur.name], { axis: 0 }), layout: 'BTF', size: layer.embeddingDim };
    } else if (layer instanceof OneHot) {
      const depth = g.int64s(`${at}.depth`, [1], [layer.numClasses]);
      const values = g.floats(`${at}.values`, [2], [0, 1]);
      cur = { name: g.op('OneHot', `${at}/OneHot`, [cur.name, depth, values], { axis: -1 }), layout: 'BTF', size: layer.numClasses };
    } else if (layer instanceof Recurrent) {
      cur = exportRecurrent(g, layer, weights, cur, lengths);
    } else if (layer instanceof Dense) {
      cur = batchFirst(cur, at);
      const w = weight(layer, 'weight').data;
      const b = layer.useBias ? weight(layer, 'bias').data : undefined;
      const U = layer.units, I = layer.inputSize;
      let y: string;
      if (cur.layout === 'BF') {
        const inputsOfGemm = [cur.name, g.floats(`${at}.weight`, [U, I], w)];
        if (b) inputsOfGemm.push(g.floats(`${at}.bias`, [U], b));
        y = g.op('Gemm', `${at}/Gemm`, inputsOfGemm, { transB: 1 });
      } else {
        const wt = new Float32Array(I * U); // (I, U) for X·Wᵀ as a MatMul
        for (let u = 0; u < U; u++) for (let i = 0; i < I; i++) wt[i * U + u] = w[u * I + i];
        y = g.op('MatMul', `${at}/MatMul`, [cur.name, g.floats(`${at}.weight_t`, [I, U], wt)]);
        if (b) y = g.op('Add', `${at}/Add`, [y, g.floats(`${at}.bias`, [U], b)]);
      }
      if (layer.activation) {
        const op = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' }[layer.activation];
        y = g.op(op, `${at}/${op}`, [y]);
      }
      cur = { name: y, layout: cur.layout, size: U };
    } else if (layer instanceof LastStep) {
      cur = batchFirst(cur, at);
      if (lengths) {
        // Each row's step lengths − 1: an index (B, 1, F) for GatherElements along time.
        const one = g.int32s(`${at}.one`, [1], [1]);
        const last = g.op('Sub', `${at}/Sub`, [lengths, one]);
        const col = g.op('Reshape', `${at}/Reshape`, [last, g.int64s(`${at}.index_shape`, [3], [-1, 1, 1])]);
        const index = g.op('Expand', `${at}/Expand`, [col, g.int64s(`${at}.expand_shape`, [3], [1, 1, cur.size])]);
        const picked = g.op('GatherElements', `${at}/GatherElements`, [cur.name, index], { axis: 1 });
        cur = { name: g.op('Squeeze', `${at}/Squeeze`, [picked, g.int64s(`${at}.axes`, [1], [1])]), layout: 'BF', size: cur.size };
      } else {
        const minusOne = g.int64s(`${at}.last`, [], [-1]);
        cur = { name: g.op('Gather', `${at}/Gather`, [cur.name, minusOne], { axis: 1 }), layout: 'BF', size: cur.size };
      }
    }
    // Dropout: identity at inference.
  }
  cur = batchFirst(cur, 'output');
  if (cur.layout === 'tokens') throw new Error('exportOnnx: the model outputs token ids; it needs at least one layer after the input');
  let out = cur.name;
  if (o.softmax) out = g.op('Softmax', 'output/Softmax', [out], { axis: -1 });
  // The graph output gets its public name through a final Identity.
  const outputName = g.reserve('output');
  g.nodes.push({ input: [out], output: [outputName], name: g.unique('output/Identity'), opType: 'Identity', domain: '', attribute: [] });
  const outShape: Dim[] = cur.layout === 'BF' ? [B, cur.size] : [B, T, cur.size];
  return encodeModel({
    irVersion: irVersionOf(o.opset),
    opsetImport: [{ domain: '', version: o.opset }],
    producerName: 'webgpu-rnn',
    producerVersion: '',
    docString: `layers: ${model.layers.map((l) => `${l.name} (${layerType(l)})`).join(' → ')}`,
    graph: {
      name: 'webgpu-rnn',
      node: g.nodes,
      initializer: g.initializers,
      input: inputs,
      output: [{ name: outputName, elemType: DataType.FLOAT, shape: outShape }],
    },
    metadataProps: [],
  });
}

/** One ONNX LSTM/GRU/RNN operator per stacked layer, time-major throughout. */
function exportRecurrent(g: GraphBuilder, layer: Recurrent, weights: Weights, cur: Value, lengths: string): Value {
  const at = layer.name;
  const cell = layer.cell;
  const op = ONNX_OP_OF_CELL[cell];
  const H = layer.hiddenSize, D = layer.numDirections, G = GATE_COUNT[cell] * H;
  let x = cur.layout === 'BTF' ? g.op('Transpose', `${at}/Transpose`, [cur.name], { perm: [1, 0, 2] }) : cur.name;
  let size = cur.size;
  for (let l = 0; l < layer.numLayers; l++) {
    const I = size;
    const W = new Float32Array(D * G * I), R = new Float32Array(D * G * H), Bias = new Float32Array(D * 2 * G);
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const get = (p: string) => weights[`${at}.${p}${sfx}`].data;
      torchToOnnxGates(cell, get('weight_ih'), W, d * G * I, H, I);
      torchToOnnxGates(cell, get('weight_hh'), R, d * G * H, H, H);
      torchToOnnxGates(cell, get('bias_ih'), Bias, d * 2 * G, H, 1);
      torchToOnnxGates(cell, get('bias_hh'), Bias, d * 2 * G + G, H, 1);
    }
    const attrs: Record<string, number | string | string[]> = { hidden_size: H, direction: D === 2 ? 'bidirectional' : 'forward' };
    const c = layer.config();
    if (cell === 'gru') attrs.linear_before_reset = (c.resetAfter ?? true) ? 1 : 0;
    if (cell === 'rnn') attrs.activations = Array(D).fill(layer.nonlinearity === 'relu' ? 'Relu' : 'Tanh');
    else if ((c.activation ?? 'tanh') !== 'tanh' || (c.recurrentActivation ?? 'sigmoid') !== 'sigmoid') {
      // Per direction: the gates' activation, then the cell's (LSTM: for the candidate and for c).
      const gate = ONNX_ACTIVATION[c.recurrentActivation as string], act = ONNX_ACTIVATION[c.activation as string];
      attrs.activations = Array(D).fill(cell === 'lstm' ? [gate, act, act] : [gate, act]).flat();
    }
    const opInputs = [x, g.floats(`${at}.W_l${l}`, [D, G, I], W), g.floats(`${at}.R_l${l}`, [D, G, H], R), g.floats(`${at}.B_l${l}`, [D, 2 * G], Bias)];
    opInputs.push(lengths); // '' when the graph has no lengths: an omitted optional input
    if (cell === 'lstm' && c.peepholes === true) {
      // P (D, 3H) in ONNX order i, o, f from our rows p_i, p_f, p_o.
      const P = new Float32Array(D * 3 * H);
      for (let d = 0; d < D; d++) {
        const p = weights[`${at}.weight_peephole_l${l}${d === 1 ? '_reverse' : ''}`].data;
        [0, 2, 1].forEach((from, k) => { for (let j = 0; j < H; j++) P[(d * 3 + k) * H + j] = p[from * H + j]; });
      }
      opInputs.push('', '', g.floats(`${at}.P_l${l}`, [D, 3 * H], P));
    }
    while (opInputs[opInputs.length - 1] === '') opInputs.pop();
    const [y] = g.node(op, `${at}/${op}_l${l}`, opInputs, attrs, ['Y']);
    // Y (T, D, B, H) → (T, B, D·H): directions side by side, forward first, as in PyTorch.
    if (D === 1) {
      x = g.op('Squeeze', `${at}/Squeeze_l${l}`, [y, g.int64s(`${at}.axes_l${l}`, [1], [1])]);
    } else {
      const tbdh = g.op('Transpose', `${at}/Transpose_l${l}`, [y], { perm: [0, 2, 1, 3] });
      x = g.op('Reshape', `${at}/Reshape_l${l}`, [tbdh, g.int64s(`${at}.shape_l${l}`, [3], [0, 0, -1])]);
    }
    size = H * D;
  }
  return { name: x, layout: 'TBF', size };
}
