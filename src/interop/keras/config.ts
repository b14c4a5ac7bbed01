// Reading a Keras model config ({ class_name, config } of a Sequential or a functional Model, as
// TensorFlow.js, Keras 2 and Keras 3 write it) into a chain of layer specs, checking every option
// of every layer: a layer or an option value we cannot run faithfully is an error naming the layer
// (name and class), the option and what is supported. Initialisers, regularisers and constraints
// only matter when Keras builds or trains a model, so they are not read.

import { describeValue } from '../../nn/options.ts';
import type { CellActivation, GateActivation } from '../../cpu/cell_activation.ts';
import type { KerasFlavour } from './types.ts';

/** The Keras layer classes a loaded model may contain. */
export const KERAS_LAYERS = [
  'InputLayer', 'Embedding', 'Masking', 'SimpleRNN', 'LSTM', 'GRU', 'Bidirectional', 'TimeDistributed', 'Dense', 'Dropout',
] as const;

/** Dense activations: softmax only on the last layer (the model's output). */
export const KERAS_DENSE_ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax'] as const;
type DenseActivation = typeof KERAS_DENSE_ACTIVATIONS[number];

export interface KerasRecurrentSpec {
  kind: 'recurrent';
  name: string;
  className: string;
  cell: 'lstm' | 'gru' | 'rnn';
  units: number;
  /** LSTM/GRU cell activation; SimpleRNN's activation ('tanh' or 'relu'). */
  activation: CellActivation;
  recurrentActivation: GateActivation;
  useBias: boolean;
  returnSequences: boolean;
  /** GRU only. */
  resetAfter: boolean;
  /** Inside a Bidirectional: its merge mode. */
  bidirectional: null | { mergeMode: 'concat' | 'sum' };
}

export type KerasLayerSpec =
  | { kind: 'embedding'; name: string; className: string; inputDim: number; outputDim: number; maskZero: boolean }
  | { kind: 'masking'; name: string; className: string; maskValue: number }
  | KerasRecurrentSpec
  | { kind: 'dense'; name: string; className: string; units: number; activation: DenseActivation; useBias: boolean }
  | { kind: 'dropout'; name: string; className: string; rate: number };

export interface ParsedKerasModel {
  name: string;
  layers: KerasLayerSpec[];
  /** The input's shape without the batch, when the config gives it ([T, I] or [T] with null for unknown). */
  inputShape: (number | null)[] | null;
  flavour: KerasFlavour;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An error about one Keras layer, named as Keras names it. */
function layerError(name: string, className: string, what: string): Error {
  return new Error(`Keras layer "${name}" (${className}): ${what}`);
}

/** Reads a layer's options, recording which were read so that a non-default unread option can be refused. */
class Options {
  constructor(readonly name: string, readonly className: string, readonly c: Obj) {}
  fail(what: string): never { throw layerError(this.name, this.className, what); }
  int(key: string, min = 1): number {
    const v = this.c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(`option ${key} is ${describeValue(v)}; expected an integer ≥ ${min}`);
    return v;
  }
  num(key: string, fallback: number): number {
    const v = this.c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`option ${key} is ${describeValue(v)}; expected a number`);
    return v;
  }
  bool(key: string, fallback: boolean): boolean {
    const v = this.c[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(`option ${key} is ${describeValue(v)}; expected true or false`);
    return v;
  }
  /** An option that must keep the value we support (e.g. go_backwards false). */
  only(key: string, supported: unknown, why: string): void {
    const v = this.c[key];
    if (v !== undefined && v !== null && v !== supported) this.fail(`option ${key} = ${JSON.stringify(v)} is not supported (${why}); supported: ${JSON.stringify(supported)}`);
  }
  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T, flavour: KerasFlavour): T {
    let v = this.c[key] ?? fallback;
    if (isObj(v) && typeof v.class_name === 'string') v = v.class_name; // a serialised activation object
    if (typeof v === 'string') v = snake(v);
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(`option ${key} is ${describeValue(this.c[key])}; supported: ${allowed.join(', ')}`);
    if (v === 'hard_sigmoid' && flavour === 'keras3') this.fail(`option ${key} is hard_sigmoid, which Keras 3 defines as relu6(x + 3) / 6; only Keras 2 / TensorFlow.js's clip(0.2·x + 0.5, 0, 1) is supported`);
    return v as T;
  }
}

/** 'hardSigmoid' → 'hard_sigmoid' (tfjs accepts both spellings in configs). */
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A layer entry's class name and config, checking its dtype is float32 where it gives one. */
function entryOf(entry: unknown, where: string): { className: string; config: Obj; name: string } {
  if (!isObj(entry) || typeof entry.class_name !== 'string' || !isObj(entry.config)) {
    throw new Error(`Keras model config: ${where} is ${describeValue(entry)}; expected { class_name, config }`);
  }
  const config = entry.config;
  const name = typeof config.name === 'string' ? config.name : typeof entry.name === 'string' ? entry.name : where;
  const dtype = isObj(config.dtype) ? (isObj(config.dtype.config) ? config.dtype.config.name : undefined) : config.dtype;
  if (dtype !== undefined && dtype !== null && dtype !== 'float32' && entry.class_name !== 'InputLayer') {
    throw layerError(name, entry.class_name, `dtype ${JSON.stringify(dtype)} is not supported; supported: float32`);
  }
  return { className: entry.class_name, config, name };
}

/** The input shape a layer's config gives (without the batch axis), if any. */
function inputShapeOf(c: Obj, build?: unknown): (number | null)[] | null {
  const full = (c.batch_input_shape ?? c.batch_shape ?? (isObj(build) ? build.input_shape : undefined)) as unknown;
  if (Array.isArray(full) && full.length >= 2) return full.slice(1) as (number | null)[];
  if (Array.isArray(c.input_shape)) return c.input_shape as (number | null)[];
  return null;
}

const RNN_CELLS: Record<string, 'lstm' | 'gru' | 'rnn'> = { LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'rnn' };

function recurrentSpec(o: Options, flavour: KerasFlavour, bidirectional: KerasRecurrentSpec['bidirectional'], cellClass = o.className): KerasRecurrentSpec {
  const cell = RNN_CELLS[cellClass];
  o.only('go_backwards', false, 'a backward-only layer; use Bidirectional');
  o.only('return_state', false, 'the loaded model returns one output');
  o.only('stateful', false, 'states carried between batches are not loaded');
  o.only('time_major', false, 'inputs are batch-major (B, T, features)');
  for (const key of ['dropout', 'recurrent_dropout'] as const) {
    if (o.num(key, 0) !== 0) o.fail(`option ${key} = ${o.c[key]} is not supported (dropout inside the cell); supported: 0, or a Dropout layer between layers`);
  }
  const activation = cell === 'rnn'
    ? o.oneOf('activation', ['tanh', 'relu'] as const, 'tanh', flavour)
    : o.oneOf('activation', ['tanh', 'relu', 'sigmoid', 'hard_sigmoid', 'linear'] as const, 'tanh', flavour);
  const recurrentActivation = cell === 'rnn' ? 'sigmoid' : o.oneOf('recurrent_activation', ['sigmoid', 'hard_sigmoid'] as const, 'sigmoid', flavour);
  return {
    kind: 'recurrent', name: o.name, className: o.className, cell, units: o.int('units'), activation, recurrentActivation,
    useBias: o.bool('use_bias', true), returnSequences: o.bool('return_sequences', false),
    // Keras 2.x / 3 default to reset_after=True, tfjs to false; a config always states it when written by either.
    resetAfter: cell === 'gru' ? o.bool('reset_after', flavour === 'keras3') : true,
    bidirectional,
  };
}

function denseSpec(o: Options, flavour: KerasFlavour): KerasLayerSpec {
  return { kind: 'dense', name: o.name, className: o.className, units: o.int('units'), activation: o.oneOf('activation', KERAS_DENSE_ACTIVATIONS, 'linear', flavour), useBias: o.bool('use_bias', true) };
}

/** One layer entry → a spec (null for InputLayer), with every option checked. */
function layerSpec(entry: unknown, where: string, flavour: KerasFlavour): KerasLayerSpec | null {
  const { className, config, name } = entryOf(entry, where);
  const o = new Options(name, className, config);
  switch (className) {
    case 'InputLayer': return null;
    case 'Embedding':
      return { kind: 'embedding', name, className, inputDim: o.int('input_dim'), outputDim: o.int('output_dim'), maskZero: o.bool('mask_zero', false) };
    case 'Masking': return { kind: 'masking', name, className, maskValue: o.num('mask_value', 0) };
    case 'SimpleRNN': case 'LSTM': case 'GRU': return recurrentSpec(o, flavour, null);
    case 'Dense': return denseSpec(o, flavour);
    case 'Dropout':
      o.only('noise_shape', null, 'dropout masks are drawn per element');
      return { kind: 'dropout', name, className, rate: o.num('rate', 0) };
    case 'Bidirectional': {
      const mergeMode = (config.merge_mode ?? 'concat') as 'concat' | 'sum';
      if (mergeMode !== 'concat' && mergeMode !== 'sum') o.fail(`option merge_mode = ${JSON.stringify(mergeMode)} is not supported; supported: "concat", "sum"`);
      const inner = entryOf(config.layer, `${where}.layer`);
      if (!RNN_CELLS[inner.className]) o.fail(`wraps a ${inner.className}; supported inside Bidirectional: SimpleRNN, LSTM, GRU`);
      const spec = recurrentSpec(new Options(name, `${className}(${inner.className})`, inner.config), flavour, { mergeMode }, inner.className);
      if (config.backward_layer !== undefined && config.backward_layer !== null) {
        const back = entryOf(config.backward_layer, `${where}.backward_layer`);
        const backSpec = recurrentSpec(new Options(name, `${className} backward_layer ${back.className}`, { ...back.config, go_backwards: false }), flavour, { mergeMode }, back.className);
        const differs = (['cell', 'units', 'activation', 'recurrentActivation', 'useBias', 'returnSequences', 'resetAfter'] as const).filter((k) => backSpec[k] !== spec[k]);
        if (differs.length) o.fail(`its backward_layer differs from its forward layer in ${differs.join(', ')}; supported: the same layer in both directions`);
      }
      return { ...spec, name, className: `Bidirectional(${inner.className})` };
    }
    case 'TimeDistributed': {
      const inner = entryOf(config.layer, `${where}.layer`);
      if (inner.className !== 'Dense') o.fail(`wraps a ${inner.className}; supported inside TimeDistributed: Dense`);
      return { ...denseSpec(new Options(name, `${className}(Dense)`, inner.config), flavour), name, className: 'TimeDistributed(Dense)' } as KerasLayerSpec;
    }
    default:
      throw layerError(name, className, `layer class ${className} is not supported; supported layers: ${KERAS_LAYERS.join(', ')}`);
  }
}

/** The names of the layers a functional-model layer takes its input from (Keras 2 and Keras 3 inbound_nodes). */
function inboundNames(layer: Obj): string[] {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === 'string' && typeof v[1] === 'number' && typeof v[2] === 'number') { names.add(v[0]); return; }
      v.forEach(visit);
    } else if (isObj(v)) {
      if (Array.isArray(v.keras_history) && typeof v.keras_history[0] === 'string') { names.add(v.keras_history[0]); return; }
      Object.values(v).forEach(visit);
    }
  };
  visit(layer.inbound_nodes);
  return [...names];
}

/** A functional model's layers in chain order; anything but a single chain is an error. */
function chainOrder(config: Obj, modelName: string): unknown[] {
  const layers = config.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`Keras model "${modelName}": config.layers is ${describeValue(layers)}; expected a non-empty list of layers`);
  let current: Obj | undefined = layers[0] as Obj;
  const order: unknown[] = [];
  const seen = new Set<string>();
  while (current) {
    const name = String(current.name ?? (current.config as Obj).name);
    order.push(current);
    seen.add(name);
    const next = layers.filter((l) => isObj(l) && inboundNames(l).includes(name));
    if (next.length > 1) throw new Error(`Keras model "${modelName}": layer "${name}" feeds ${next.length} layers; supported: a chain of layers, each feeding the next`);
    current = next[0] as Obj | undefined;
    if (current) {
      const inputs = inboundNames(current);
      if (inputs.length !== 1) throw new Error(`Keras model "${modelName}": layer "${String(current.name)}" takes ${inputs.length} inputs (${inputs.join(', ')}); supported: a chain of layers, each feeding the next`);
      if (seen.has(String(current.name))) break;
    }
  }
  if (order.length !== layers.length) {
    const missing = layers.filter((l) => !order.includes(l)).map((l) => (isObj(l) ? String(l.name) : '?'));
    throw new Error(`Keras model "${modelName}": layers ${missing.join(', ')} are not on the chain from the input; supported: a chain of layers, each feeding the next`);
  }
  return order;
}

/**
 * Parses a Keras model config (`{ class_name: 'Sequential' | 'Model' | 'Functional', config }`,
 * TensorFlow.js / Keras 2 or Keras 3 flavour) into a checked chain of layer specs.
 */
export function parseKerasModelConfig(modelConfig: unknown): ParsedKerasModel {
  if (!isObj(modelConfig) || typeof modelConfig.class_name !== 'string' || !isObj(modelConfig.config)) {
    throw new Error(`Keras model config: expected { class_name: 'Sequential' | 'Functional', config: { layers: [...] } }, got ${describeValue(modelConfig)}`);
  }
  const { class_name: className, config } = modelConfig;
  // Keras 3 writes `module` / `registered_name` beside class_name and dtype policies as objects.
  const flavour: KerasFlavour = 'module' in modelConfig || JSON.stringify(config).includes('"DTypePolicy"') ? 'keras3' : 'tfjs';
  const name = typeof config.name === 'string' ? config.name : 'model';
  let entries: unknown[];
  if (className === 'Sequential') {
    if (!Array.isArray(config.layers) || config.layers.length === 0) throw new Error(`Keras model "${name}": config.layers is ${describeValue(config.layers)}; expected a non-empty list of layers`);
    entries = config.layers;
  } else if (className === 'Model' || className === 'Functional') {
    entries = chainOrder(config, name);
  } else {
    throw new Error(`Keras model "${name}": model class ${className} is not supported; supported: Sequential, Model / Functional (a chain of layers)`);
  }
  let inputShape: (number | null)[] | null = null;
  const layers: KerasLayerSpec[] = [];
  entries.forEach((entry, i) => {
    const e = entry as Obj;
    if (i === 0 && isObj(e.config)) inputShape = inputShapeOf(e.config, e.build_config);
    const spec = layerSpec(entry, `config.layers[${i}]`, flavour);
    if (spec) layers.push(spec);
  });
  if (!inputShape && Array.isArray(config.build_input_shape)) inputShape = (config.build_input_shape as (number | null)[]).slice(1);
  if (layers.length === 0) throw new Error(`Keras model "${name}": has no layers besides its input`);
  return { name, layers, inputShape, flavour };
}
