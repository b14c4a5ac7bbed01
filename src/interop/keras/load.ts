// modelFromKerasConfig: a Keras model config and its weights → a KerasModel (our layers with the
// Keras weights as initial values). Each Keras layer becomes one of ours, with its name:
// Embedding → Embedding, SimpleRNN / LSTM / GRU → RNN / LSTM / GRU (Keras's cell options), Bidirectional →
// the same layer with bidirectional: true (+ SumDirections for merge_mode 'sum'), return_sequences
// false → LastStep (BidirectionalLastStep for Bidirectional), Dense and TimeDistributed(Dense) →
// Dense, Dropout → Dropout; InputLayer and Masking become the KerasModel's input mask.

import { Sequential } from '../../nn/model.ts';
import { Dense, Dropout, LastStep } from '../../nn/layers.ts';
import { Embedding } from '../../nn/embedding.ts';
import { GRU, LSTM, RNN, Recurrent } from '../../nn/recurrent.ts';
import type { Layer, ActDesc, Parameter } from '../../nn/layer.ts';
import { checkOptionsObject, describeValue } from '../../nn/options.ts';
import { parseKerasModelConfig, type KerasLayerSpec, type KerasRecurrentSpec } from './config.ts';
import { BidirectionalLastStep, SumDirections } from '../../nn/directions.ts';
import { KerasModel, type KerasMask } from './keras-model.ts';
import { biasToOurs, kernelToOurs, transpose } from './weights.ts';
import type { KerasLoadOptions, KerasTensor, KerasWeights } from './types.ts';

const GATES = { lstm: 4, gru: 3, rnn: 1 } as const;
const shapeText = (s: readonly number[]) => `(${s.join(', ')})`;

/** Our layers for one Keras layer spec; `last` says whether it is the model's last layer. */
function ourLayers(spec: KerasLayerSpec, last: boolean): Layer[] {
  switch (spec.kind) {
    case 'embedding': return [new Embedding({ numEmbeddings: spec.inputDim, embeddingDim: spec.outputDim, name: spec.name })];
    case 'masking': return [];
    case 'dropout': return [new Dropout(spec.rate, spec.name)];
    case 'dense':
      if (spec.activation === 'softmax' && !last) throw new Error(`Keras layer "${spec.name}" (${spec.className}): activation softmax is supported on the last layer only (the model's output)`);
      return [new Dense({
        units: spec.units, bias: spec.useBias, name: spec.name,
        activation: spec.activation === 'linear' || spec.activation === 'softmax' ? undefined : spec.activation,
      })];
    case 'recurrent': {
      const common = { hiddenSize: spec.units, bidirectional: spec.bidirectional !== null, name: spec.name };
      const rec = spec.cell === 'lstm' ? new LSTM({ ...common, activation: spec.activation, recurrentActivation: spec.recurrentActivation })
        : spec.cell === 'gru' ? new GRU({ ...common, activation: spec.activation, recurrentActivation: spec.recurrentActivation, resetAfter: spec.resetAfter })
          : new RNN({ ...common, nonlinearity: spec.activation as 'tanh' | 'relu' });
      const out: Layer[] = [rec];
      if (!spec.returnSequences) out.push(spec.bidirectional ? new BidirectionalLastStep(`${spec.name}_last`) : new LastStep(`${spec.name}_last`));
      if (spec.bidirectional?.mergeMode === 'sum') out.push(new SumDirections(`${spec.name}_sum`));
      return out;
    }
  }
}

/** Sets a parameter's initial values, checking the size. */
function setInit(p: Parameter, data: Float32Array, owner: string): void {
  if (data.length !== p.init.length) throw new Error(`${owner}: ${p.name} would get ${data.length} values, expected ${p.init.length}`);
  p.init = Float32Array.from(data);
}

/** Checks a Keras weight's shape, naming the layer, the weight's position and role. */
function expectShape(label: string, list: KerasTensor[], i: number, role: string, shape: number[]): Float32Array {
  const t = list[i];
  if (!t) throw new Error(`${label}: weight ${i} (${role}) is missing; expected ${shapeText(shape)}`);
  if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) throw new Error(`${label}: weight ${i} (${role}) has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
  if (t.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${label}: weight ${i} (${role}) has ${t.data.length} values for shape ${shapeText(shape)}`);
  return t.data;
}

/** The Keras weights of a recurrent spec into our layer's parameters (both directions). */
function fillRecurrent(label: string, spec: KerasRecurrentSpec, layer: Recurrent, list: KerasTensor[]): number {
  const H = spec.units, G = GATES[spec.cell] * H, I = layer.inputSize;
  const params = new Map(layer.parameters().map((p) => [p.name, p]));
  let i = 0;
  for (let dir = 0; dir < layer.numDirections; dir++) {
    const suffix = `_l0${dir === 1 ? '_reverse' : ''}`;
    const side = layer.numDirections === 2 ? (dir === 0 ? 'forward ' : 'backward ') : '';
    const kernel = expectShape(label, list, i++, `${side}kernel`, [I, G]);
    const recurrent = expectShape(label, list, i++, `${side}recurrent_kernel`, [H, G]);
    setInit(params.get(`weight_ih${suffix}`)!, kernelToOurs(spec.cell, kernel, I, H), label);
    setInit(params.get(`weight_hh${suffix}`)!, kernelToOurs(spec.cell, recurrent, H, H), label);
    let bih: Float32Array = new Float32Array(G), bhh: Float32Array = new Float32Array(G);
    if (spec.useBias) {
      if (spec.cell === 'gru' && spec.resetAfter) {
        const b = expectShape(label, list, i++, `${side}bias (input row, recurrent row)`, [2, G]);
        bih = biasToOurs('gru', b.slice(0, G), H);
        bhh = biasToOurs('gru', b.slice(G), H);
      } else {
        bih = biasToOurs(spec.cell, expectShape(label, list, i++, `${side}bias`, [G]), H);
      }
    }
    setInit(params.get(`bias_ih${suffix}`)!, bih, label);
    setInit(params.get(`bias_hh${suffix}`)!, bhh, label);
  }
  return i;
}

/**
 * A KerasModel from a Keras model config (`{ class_name, config }` of a Sequential or a chain-shaped
 * functional model; TensorFlow.js / Keras 2 or Keras 3 flavour) and its weights by layer name in
 * `get_weights()` order. Every layer, option and weight shape is checked before the model exists;
 * the model is configured with the Keras weights as initial values: `build(ctx)` it to run.
 */
export function modelFromKerasConfig(modelConfig: unknown, weights: KerasWeights, options: KerasLoadOptions = {}): KerasModel {
  checkOptionsObject('modelFromKerasConfig', options, ['source', 'seed'], "{ source: 'model.json' }");
  const source = options.source ?? 'Keras model';
  if (!(weights instanceof Map)) throw new Error(`modelFromKerasConfig: weights must be a Map from Keras layer name to its weights, got ${describeValue(weights)}`);
  const parsed = parseKerasModelConfig(modelConfig);
  const specs = parsed.layers;
  let mask: KerasMask = null;
  specs.forEach((s, i) => {
    const prefix = `${source}: Keras layer "${s.name}" (${s.className})`;
    if (s.kind === 'masking') {
      if (i !== 0) throw new Error(`${prefix}: Masking is supported as the first layer only (the mask must come from the input)`);
      mask = { kind: 'value', value: s.maskValue };
    }
    if (s.kind === 'embedding') {
      if (i !== 0) throw new Error(`${prefix}: Embedding is supported as the first layer only (it takes token ids)`);
      if (s.maskZero) mask = { kind: 'zero' };
    }
    if (s.kind === 'recurrent' && specs.slice(0, i).some((p) => p.kind === 'recurrent' && !p.returnSequences)) {
      throw new Error(`${prefix}: follows a recurrent layer with return_sequences false, which gives one vector per row; a recurrent layer needs a sequence`);
    }
  });
  const softmax = (() => { const l = specs[specs.length - 1]; return l.kind === 'dense' && l.activation === 'softmax'; })();
  const perSpec = specs.map((s, i) => ourLayers(s, i === specs.length - 1));
  const layers = perSpec.flat();
  if (layers.length === 0) throw new Error(`${source}: Keras model "${parsed.name}" has no layers to run`);
  let input: ActDesc;
  const first = specs[0];
  if (first.kind === 'embedding') input = { kind: 'tokens', size: first.inputDim };
  else {
    let I = parsed.inputShape?.[parsed.inputShape.length - 1] ?? null;
    if (I === null) {
      const firstWeighted = specs.find((s) => s.kind === 'recurrent' || s.kind === 'dense');
      I = firstWeighted ? weights.get(firstWeighted.name)?.[0]?.shape[0] ?? null : null;
    }
    if (typeof I !== 'number' || I < 1) throw new Error(`${source}: Keras model "${parsed.name}" gives no input feature size (batch_input_shape / batch_shape / build_config), and no kernel to infer it from`);
    input = { kind: 'seq', size: I };
  }
  const model = new Sequential(layers, options.seed === undefined ? {} : { seed: options.seed as number });
  model.configure(input);
  const used = new Set<string>();
  specs.forEach((spec, k) => {
    const label = `${source}: Keras layer "${spec.name}" (${spec.className})`;
    const ours = perSpec[k][0];
    const list = weights.get(spec.name) ?? [];
    let n = 0;
    if (spec.kind === 'embedding') {
      const e = ours as Embedding;
      setInit(e.parameters()[0], expectShape(label, list, n++, 'embeddings', [e.numEmbeddings, e.embeddingDim]).slice(), label);
    } else if (spec.kind === 'dense') {
      const d = ours as Dense;
      const [w, b] = d.parameters();
      setInit(w, transpose(expectShape(label, list, n++, 'kernel', [d.inputSize, d.units]), d.inputSize, d.units), label);
      if (b) setInit(b, expectShape(label, list, n++, 'bias', [d.units]).slice(), label);
    } else if (spec.kind === 'recurrent') {
      n = fillRecurrent(label, spec, ours as Recurrent, list);
    }
    if (list.length !== n) throw new Error(`${label}: has ${list.length} weights, expected ${n} (${describeShapes(list)})`);
    if (weights.has(spec.name)) used.add(spec.name);
  });
  const unused = [...weights.keys()].filter((k) => !used.has(k) && (weights.get(k)?.length ?? 0) > 0);
  if (unused.length) throw new Error(`${source}: weights for ${unused.map((u) => JSON.stringify(u)).join(', ')}, which is not a layer of the model (its layers: ${specs.map((s) => s.name).join(', ')})`);
  return new KerasModel(model, mask, softmax, parsed.name);
}

const describeShapes = (list: KerasTensor[]) => (list.length ? list.map((t) => shapeText(t.shape)).join(', ') : 'none given');
