// The symbolic side of a graph Model (Keras functional style): `Input`s and the values that
// calling a layer on them gives. Nothing is computed here; calling a layer records a node
// (the layer and the values it takes) and returns its output values. `Model` later walks the
// nodes from its outputs, configures every layer (shapes, seeded parameters) and runs them.
//
//   const x = Input.sequence('x', 3);
//   const enc = new LSTM({ hiddenSize: 8 }).call(x);     // enc: (B, T, 8); enc.state.h: (L·D, B, 8)
//   const y = new Dense({ units: 2 }).call(enc);

import type { Layer } from './layer.ts';
import type { Recurrent } from './recurrent.ts';
import type { GraphOp } from './graph-op.ts';
import { checkLayerName, describeValue } from './options.ts';

/** Where a value's data come from: a node's output, or a model input (producer null). */
export class GraphValue {
  /** @internal The node that computes this value; null for an Input. */
  readonly producer: GraphNode | null;
  /** @internal The output index of this value in its node. */
  readonly index: number;

  /** @internal */
  constructor(producer: GraphNode | null, index: number) {
    this.producer = producer;
    this.index = index;
  }

  /** A readable name for messages: `Input "source"`, `output 0 of LSTM "encoder"`. */
  describe(): string {
    const p = this.producer;
    if (!p) return `Input ${JSON.stringify((this as unknown as Input).name)}`;
    const what = p.type === 'op' ? `${JSON.stringify(p.op.name)}` : `${p.layer.constructor.name} ${JSON.stringify(p.layer.name)}`;
    return p.outputs.length === 1 ? `the output of ${what}` : `output ${this.index} of ${what}`;
  }
}

/**
 * A model input: token ids (B, T) or features (B, T, I). Each input of a batch carries its own
 * shape and lengths; every layer on the path from it runs with that input's B, T and lengths.
 */
export class Input extends GraphValue {
  readonly name: string;
  readonly kind: 'tokens' | 'seq';
  /** Vocabulary size (tokens) or features per step (seq). */
  readonly size: number;

  private constructor(name: string, kind: 'tokens' | 'seq', size: number) {
    super(null, 0);
    this.name = name;
    this.kind = kind;
    this.size = size;
  }

  /** Token ids (B, T), each in [0, vocabSize). */
  static tokens(name: string, vocabSize: number): Input {
    return new Input(checkLayerName('Input.tokens', name), 'tokens', checkSize('Input.tokens', name, 'vocabSize', vocabSize));
  }

  /** Feature sequences (B, T, features). */
  static sequence(name: string, features: number): Input {
    return new Input(checkLayerName('Input.sequence', name), 'seq', checkSize('Input.sequence', name, 'features', features));
  }
}

function checkSize(owner: string, name: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${owner} ${JSON.stringify(name)}: ${what} must be an integer ≥ 1, got ${describeValue(v)}`);
  return v;
}

/** A recurrent layer's final states as graph values, (numLayers·directions, B, H) each. */
export interface StateValues {
  h: GraphValue;
  /** LSTM only. */
  c?: GraphValue;
}

/**
 * What calling a recurrent layer gives: the output sequence (this value itself, also as `output`)
 * and the final states (`state`), which may feed another recurrent layer's initial state, a
 * Dense bridge (when numLayers·directions = 1) or be model outputs.
 */
export class RecurrentValue extends GraphValue {
  /** The output sequence (B, T, H·directions): the same value as this one. */
  get output(): GraphValue { return this; }
  /** The final states (with variable lengths, each row's state at its last valid step). */
  readonly state: StateValues;

  /** @internal */
  constructor(producer: GraphNode, state: StateValues) {
    super(producer, 0);
    this.state = state;
  }
}

/** A node of a single-input layer: inputs [x] (a recurrent layer: [x, h0?, c0?]). */
export interface LayerNode {
  type: 'layer';
  layer: Layer;
  inputs: GraphValue[];
  outputs: GraphValue[];
  /** Recurrent layers: whether inputs[1] (h0) and inputs[2] (c0, LSTM) are given. */
  initialState?: { h: number; c?: number };
}

/** A node of a `GraphOp` (several inputs and outputs). */
export interface OpNode {
  type: 'op';
  op: GraphOp;
  inputs: GraphValue[];
  outputs: GraphValue[];
}

export type GraphNode = LayerNode | OpNode;

/** Which node each layer or op already belongs to: each is called once (it owns its weights). */
const calledBy = new WeakMap<object, GraphNode>();

function checkValue(owner: string, what: string, v: unknown): GraphValue {
  if (!(v instanceof GraphValue)) {
    throw new Error(`${owner}: ${what} must be a graph value (an Input, or what calling another layer returned), got ${describeValue(v)}`);
  }
  return v;
}

function checkFirstCall(owner: string, thing: object): void {
  if (calledBy.has(thing)) {
    throw new Error(`${owner}: this layer was already called on a graph value; each layer object is one node (it owns its weights): create another layer for another position`);
  }
}

function ownerOf(layer: Layer): string {
  return `${layer.constructor.name} ${JSON.stringify(layer.name)}`;
}

/** Layer.call: a node with one input and one output. */
export function connectLayer(layer: Layer, input: unknown): GraphValue {
  const owner = `${ownerOf(layer)}.call`;
  const x = checkValue(owner, 'the input', input);
  checkFirstCall(owner, layer);
  const node: LayerNode = { type: 'layer', layer, inputs: [x], outputs: [] };
  node.outputs.push(new GraphValue(node, 0));
  calledBy.set(layer, node);
  return node.outputs[0];
}

/** Options of a recurrent layer's call. */
export interface RecurrentCallOptions {
  /** Initial states from other nodes: (numLayers·directions, B, H) each; c for LSTM only (required there). */
  initialState?: StateValues;
}

/** Recurrent.call: inputs [x, h0?, c0?], outputs [output, h_n, c_n (LSTM)]. */
export function connectRecurrent(layer: Recurrent, input: unknown, opts: RecurrentCallOptions | undefined): RecurrentValue {
  const owner = `${ownerOf(layer)}.call`;
  const x = checkValue(owner, 'the input', input);
  const hasCell = layer.cell === 'lstm';
  if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) {
    throw new Error(`${owner}: the options must be an object { initialState?: { h${hasCell ? ', c' : ''} } }, got ${describeValue(opts)}`);
  }
  for (const k of Object.keys(opts ?? {})) if (k !== 'initialState') throw new Error(`${owner}: unknown option ${JSON.stringify(k)}; expected initialState`);
  const init = opts?.initialState as unknown;
  const inputs: GraphValue[] = [x];
  let initialState: LayerNode['initialState'];
  if (init !== undefined) {
    const want = hasCell ? '{ h, c }' : '{ h }';
    if (typeof init !== 'object' || init === null || Array.isArray(init) || init instanceof GraphValue) {
      throw new Error(`${owner}: option initialState must be an object ${want} of graph values, got ${describeValue(init)}`);
    }
    const s = init as Record<string, unknown>;
    for (const k of Object.keys(s)) if (k !== 'h' && k !== 'c') throw new Error(`${owner}: initialState has an unknown field ${JSON.stringify(k)}; expected ${want}`);
    inputs.push(checkValue(owner, 'initialState.h', s.h));
    initialState = { h: 1 };
    if (hasCell) {
      if (s.c === undefined) throw new Error(`${owner}: an LSTM initial state needs c as well as h; expected ${want} (e.g. another LSTM's .state)`);
      inputs.push(checkValue(owner, 'initialState.c', s.c));
      initialState.c = 2;
    } else if (s.c !== undefined) {
      throw new Error(`${owner}: initialState.c is given, but a ${layer.cell.toUpperCase()} has no cell state; expected ${want}`);
    }
    if (layer.stateful) throw new Error(`${owner}: a stateful layer carries its own states; initialState from the graph needs stateful: false`);
  }
  checkFirstCall(owner, layer);
  const node: LayerNode = { type: 'layer', layer, inputs, outputs: [], initialState };
  const h = new GraphValue(node, 1);
  const c = hasCell ? new GraphValue(node, 2) : undefined;
  const out = new RecurrentValue(node, c ? { h, c } : { h });
  node.outputs.push(out, h);
  if (c) node.outputs.push(c);
  calledBy.set(layer, node);
  return out;
}

/**
 * A `GraphOp` node: the op applied to `inputs`, giving `numOutputs` values (attention: context and
 * weights). The op's `configureInputs` must return that many output descriptions.
 */
export function callOp(op: GraphOp, inputs: readonly unknown[], numOutputs: number): GraphValue[] {
  const owner = `${JSON.stringify(op?.name)}.call`;
  if (!Array.isArray(inputs) || inputs.length === 0) throw new Error(`${owner}: expected a non-empty array of graph values, got ${describeValue(inputs)}`);
  const xs = inputs.map((v, i) => checkValue(owner, `input ${i}`, v));
  if (!Number.isInteger(numOutputs) || numOutputs < 1) throw new Error(`${owner}: numOutputs must be an integer ≥ 1, got ${describeValue(numOutputs)}`);
  checkFirstCall(owner, op);
  const node: OpNode = { type: 'op', op, inputs: xs, outputs: [] };
  for (let i = 0; i < numOutputs; i++) node.outputs.push(new GraphValue(node, i));
  calledBy.set(op, node);
  return node.outputs;
}
