// kerasConfigFromModel: our model as a Keras model config and weights (TensorFlow.js / Keras 2 or
// Keras 3 flavour). Each of our layers becomes Keras layers: a stacked recurrent layer one Keras
// layer per stacked layer (its between-layer dropout a Dropout layer), bidirectional → Bidirectional
// (merge 'concat', or 'sum' with SumDirections after it), LastStep / BidirectionalLastStep after it →
// return_sequences false, Dense → Dense (applied per step on a sequence, as Keras's Dense does).
// What Keras cannot express is an error naming the layer and the option.

import { Sequential } from '../../nn/model.ts';
import { Dense, Dropout, LastStep } from '../../nn/layers.ts';
import { Embedding, OneHot } from '../../nn/embedding.ts';
import { Recurrent } from '../../nn/recurrent.ts';
import type { Layer } from '../../nn/layer.ts';
import { checkBoolean, checkEnum, checkOptionsObject, describeValue } from '../../nn/options.ts';
import { BidirectionalLastStep, SumDirections } from '../../nn/directions.ts';
import { KerasModel } from './keras-model.ts';
import { biasToKeras, kernelToKeras, transpose } from './weights.ts';
import type { KerasFlavour, KerasModelParts, KerasTensor, KerasWeights } from './types.ts';

export interface KerasSaveOptions {
  /**
   * Mask the input as Keras does (Embedding mask_zero, or a Masking layer with mask_value 0 for
   * features), so Keras skips padding like our lengths do. Default: the KerasModel's mask, else false.
   */
  mask?: boolean;
  /** Softmax on the last Dense (the Keras model outputs probabilities). Default: the KerasModel's, else false. */
  softmax?: boolean;
  /** The Keras model's name. */
  name?: string;
}

type Obj = Record<string, unknown>;

/** Our parameter values by state-dict name (`lstm.weight_ih_l0`). */
export type OurWeights = Map<string, Float32Array>;

const CLASS = { lstm: 'LSTM', gru: 'GRU', rnn: 'SimpleRNN' } as const;

/** A layer entry in the flavour's shape. */
function entry(flavour: KerasFlavour, className: string, config: Obj, inputShape?: (number | null)[]): Obj {
  if (flavour === 'tfjs') {
    const c: Obj = { name: config.name, trainable: true, ...config };
    if (inputShape) { c.batch_input_shape = [null, ...inputShape]; c.dtype = 'float32'; }
    return { class_name: className, config: c };
  }
  const dtype = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const out: Obj = { module: 'keras.layers', class_name: className, config: { name: config.name, trainable: true, dtype, ...config }, registered_name: null };
  if (inputShape) out.build_config = { input_shape: [null, ...inputShape] };
  return out;
}

/** The config of one direction of a recurrent layer. */
function recurrentConfig(layer: Recurrent, name: string, returnSequences: boolean, flavour: KerasFlavour): Obj {
  const owner = `kerasConfigFromModel: layer "${layer.name}" (${layer.cell.toUpperCase()})`;
  if (layer.peepholes) throw new Error(`${owner}: option peepholes has no Keras equivalent (Keras LSTM cells have no peephole connections)`);
  if (layer.stateful) throw new Error(`${owner}: option stateful is not written (a stateful Keras layer needs a fixed batch size); save a copy with stateful: false`);
  if (flavour === 'keras3' && (layer.recurrentActivation === 'hard_sigmoid' || layer.activation === 'hard_sigmoid')) {
    throw new Error(`${owner}: hard_sigmoid is Keras 2 / TensorFlow.js's clip(0.2·x + 0.5, 0, 1); Keras 3's hard_sigmoid is a different function, so Keras 3 cannot express it`);
  }
  if (flavour === 'tfjs' && layer.cell === 'gru' && layer.resetAfter) {
    throw new Error(`${owner}: option resetAfter true (PyTorch's GRU, Keras reset_after=True) is not supported by TensorFlow.js 4.22's GRU; save it as a .keras file, or use a GRU with resetAfter: false`);
  }
  const c: Obj = { name, units: layer.hiddenSize, use_bias: true, return_sequences: returnSequences, return_state: false, go_backwards: false, stateful: false, unroll: false, dropout: 0, recurrent_dropout: 0 };
  if (layer.cell === 'rnn') c.activation = layer.nonlinearity;
  else { c.activation = layer.activation; c.recurrent_activation = layer.recurrentActivation; }
  if (layer.cell === 'lstm') c.unit_forget_bias = true;
  if (layer.cell === 'gru') c.reset_after = layer.resetAfter;
  return c;
}

/** One direction's Keras weights: kernel, recurrent_kernel, bias. */
function recurrentWeights(layer: Recurrent, l: number, dir: number, w: OurWeights): KerasTensor[] {
  const suffix = `_l${l}${dir === 1 ? '_reverse' : ''}`;
  const get = (p: string) => {
    const v = w.get(`${layer.name}.${p}${suffix}`);
    if (!v) throw new Error(`kerasConfigFromModel: no values for ${layer.name}.${p}${suffix}`);
    return v;
  };
  const H = layer.hiddenSize, G = ({ lstm: 4, gru: 3, rnn: 1 } as const)[layer.cell] * H;
  const I = l === 0 ? layer.inputSize : H * layer.numDirections;
  const bih = get('bias_ih'), bhh = get('bias_hh');
  const out: KerasTensor[] = [
    { shape: [I, G], data: kernelToKeras(layer.cell, get('weight_ih'), I, H) },
    { shape: [H, G], data: kernelToKeras(layer.cell, get('weight_hh'), H, H) },
  ];
  if (layer.cell === 'gru' && layer.resetAfter) {
    const b = new Float32Array(2 * G);
    b.set(biasToKeras('gru', bih, H), 0);
    b.set(biasToKeras('gru', bhh, H), G);
    out.push({ shape: [2, G], data: b });
  } else {
    out.push({ shape: [G], data: biasToKeras(layer.cell, bih.map((v, i) => v + bhh[i]), H) });
  }
  return out;
}

/** The Keras config and weights of a model whose parameter values are given. */
export function kerasPartsFromWeights(source: Sequential | KerasModel, values: OurWeights, flavour: KerasFlavour, options: KerasSaveOptions = {}): KerasModelParts {
  checkOptionsObject('kerasConfigFromModel', options, ['mask', 'softmax', 'name'], '{ mask: true }');
  checkEnum('kerasConfigFromModel', 'flavour', flavour, ['tfjs', 'keras3'] as const);
  const km = source instanceof KerasModel ? source : null;
  const model = km ? km.model : source;
  if (!(model instanceof Sequential)) throw new Error(`kerasConfigFromModel: expected a Sequential or a KerasModel, got ${describeValue(source)}`);
  const mask = options.mask === undefined ? km?.mask !== null && km?.mask !== undefined : checkBoolean('kerasConfigFromModel', 'option mask', options.mask);
  const softmax = options.softmax === undefined ? km?.softmax ?? false : checkBoolean('kerasConfigFromModel', 'option softmax', options.softmax);
  const maskValue = km?.mask?.kind === 'value' ? km.mask.value : 0;
  const layers = model.layers;
  const input = model.input;
  const entries: Obj[] = [];
  const weights: KerasWeights = new Map();
  const inputShape: (number | null)[] = input.kind === 'tokens' ? [null] : [null, input.size];
  if (flavour === 'keras3') {
    entries.push({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, ...inputShape], dtype: input.kind === 'tokens' ? 'int32' : 'float32', sparse: false, name: 'input_layer' }, registered_name: null });
  }
  const shapeFor = () => (flavour === 'tfjs' && entries.length === 0 ? inputShape : undefined);
  if (mask && input.kind === 'seq') entries.push(entry(flavour, 'Masking', { name: 'masking', mask_value: maskValue }, shapeFor()));
  const unsupported = (l: Layer, why: string): never => { throw new Error(`kerasConfigFromModel: layer "${l.name}" (${l.constructor.name}) ${why}; supported: Embedding, LSTM, GRU, RNN, Dense, Dropout, LastStep`); };
  let lastDense: Obj | null = null;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (layer instanceof Embedding) {
      entries.push(entry(flavour, 'Embedding', { name: layer.name, input_dim: layer.numEmbeddings, output_dim: layer.embeddingDim, mask_zero: mask }, shapeFor()));
      weights.set(layer.name, [{ shape: [layer.numEmbeddings, layer.embeddingDim], data: values.get(`${layer.name}.weight`)! }]);
    } else if (layer instanceof OneHot) {
      unsupported(layer, 'has no Keras layer (one-hot token ids); use an Embedding');
    } else if (layer instanceof Recurrent) {
      // What follows it: a last-step layer (return_sequences false) and/or a sum merge.
      let last: Layer | null = null, sum = false, j = i + 1;
      for (; j < layers.length; j++) {
        const n = layers[j];
        if ((n instanceof LastStep || n instanceof BidirectionalLastStep) && !last) last = n;
        else if (n instanceof SumDirections && !sum && layer.bidirectional) sum = true;
        else break;
      }
      if (last instanceof LastStep && layer.bidirectional) unsupported(last, `after the bidirectional layer "${layer.name}" takes the reverse direction at the last step (PyTorch's out[:, -1]); Keras's Bidirectional with return_sequences false takes it at the first step (BidirectionalLastStep)`);
      if (last instanceof BidirectionalLastStep && !layer.bidirectional) unsupported(last, `follows the unidirectional layer "${layer.name}"; use LastStep`);
      i = j - 1;
      for (let l = 0; l < layer.numLayers; l++) {
        const name = l === 0 ? layer.name : `${layer.name}_l${l}`;
        const top = l === layer.numLayers - 1;
        const config = recurrentConfig(layer, name, !(top && last), flavour);
        const shape = shapeFor();
        const list = recurrentWeights(layer, l, 0, values);
        if (layer.bidirectional) {
          list.push(...recurrentWeights(layer, l, 1, values));
          const inner = entry(flavour, CLASS[layer.cell], config);
          if (flavour === 'tfjs') delete (inner.config as Obj).trainable;
          entries.push(entry(flavour, 'Bidirectional', { name, layer: inner, merge_mode: top && sum ? 'sum' : 'concat' }, shape));
        } else {
          entries.push(entry(flavour, CLASS[layer.cell], config, shape));
        }
        weights.set(name, list);
        if (!top && layer.dropout > 0) entries.push(entry(flavour, 'Dropout', { name: `${layer.name}_dropout_l${l}`, rate: layer.dropout }));
      }
    } else if (layer instanceof Dense) {
      const c: Obj = { name: layer.name, units: layer.units, activation: layer.activation ?? 'linear', use_bias: layer.useBias };
      entries.push(entry(flavour, 'Dense', c, shapeFor()));
      lastDense = entries[entries.length - 1].config as Obj; // entry() copies c
      const list: KerasTensor[] = [{ shape: [layer.inputSize, layer.units], data: transpose(values.get(`${layer.name}.weight`)!, layer.units, layer.inputSize) }];
      if (layer.useBias) list.push({ shape: [layer.units], data: values.get(`${layer.name}.bias`)! });
      weights.set(layer.name, list);
      continue;
    } else if (layer instanceof Dropout) {
      entries.push(entry(flavour, 'Dropout', { name: layer.name, rate: layer.rate }, shapeFor()));
    } else {
      unsupported(layer, layer instanceof LastStep || layer instanceof BidirectionalLastStep || layer instanceof SumDirections ? 'must follow a recurrent layer' : 'has no Keras equivalent');
    }
    lastDense = null;
  }
  if (softmax) {
    if (!lastDense || lastDense.activation !== 'linear') throw new Error('kerasConfigFromModel: option softmax needs a last Dense layer without an activation');
    lastDense.activation = 'softmax';
  }
  const name = options.name ?? (km?.name || 'sequential');
  const modelConfig = flavour === 'tfjs'
    ? { class_name: 'Sequential', config: { name, layers: entries } }
    : { module: 'keras', class_name: 'Sequential', config: { name, trainable: true, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null }, layers: entries }, registered_name: null, build_config: { input_shape: [null, ...inputShape] } };
  return { modelConfig, weights };
}

/**
 * A Keras model config and weights for our model (a Sequential, or a KerasModel, whose mask and
 * softmax it keeps), read from the GPU when built: 'tfjs' for TensorFlow.js artifacts (model.json),
 * 'keras3' for a .keras file. A layer or option Keras cannot express is an error naming it.
 */
export async function kerasConfigFromModel(model: Sequential | KerasModel, flavour: KerasFlavour, options: KerasSaveOptions = {}): Promise<KerasModelParts> {
  const seq = model instanceof KerasModel ? model.model : model;
  if (!(seq instanceof Sequential)) throw new Error(`kerasConfigFromModel: expected a Sequential or a KerasModel, got ${describeValue(model)}`);
  const ctx = seq.contextOrNull;
  const values: OurWeights = new Map();
  for (const [name, p] of seq.namedParameters()) {
    values.set(name, ctx && p.value && !p.value.released ? (await ctx.read(p.value)) as Float32Array : p.init);
  }
  return kerasPartsFromWeights(model, values, flavour, options);
}
