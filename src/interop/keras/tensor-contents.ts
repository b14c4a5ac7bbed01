// What the command line's Keras formats (tfjs model.json in tfjs-file.ts, .keras in
// keras-tensor-file.ts) share: a loaded Keras model as a file of named tensors (our parameters
// under their PyTorch names, the layer config in the metadata keys a webgpu-rnn checkpoint uses,
// the Keras input mask and softmax in `keras_mask` / `keras_softmax`), and the way back: such
// contents as a KerasModel with its weights, ready for kerasPartsFromWeights.
import type { SafeTensor } from '../../train/safetensors.ts';
import { CHECKPOINT_FORMAT } from '../../train/checkpoint.ts';
import { layerFromConfig, type LayerConfig } from '../../nn/config.ts';
import type { ActDesc } from '../../nn/layer.ts';
import { Sequential } from '../../nn/model.ts';
import { KerasModel, type KerasMask } from './keras-model.ts';

/** Tensors in file order, their stored dtypes, and string metadata (the command line's TensorFileContents). */
export interface KerasTensorContents {
  tensors: Map<string, SafeTensor>;
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

/** A loaded Keras model's parameters and config as tensor-file contents. */
export function contentsFromKerasModel(km: KerasModel): KerasTensorContents {
  const model = km.model;
  const tensors = new Map<string, SafeTensor>();
  const dtypes = new Map<string, string>();
  for (const [name, p] of model.namedParameters()) {
    tensors.set(name, { dtype: 'F32', shape: [...p.shape], data: p.init });
    dtypes.set(name, 'F32');
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify({ layers: model.layers.map((l) => l.config()), input: model.input, seed: model.seed }),
    keras_model: km.name,
    keras_mask: JSON.stringify(km.mask),
    keras_softmax: String(km.softmax),
  };
  return { tensors, dtypes, metadata };
}

/**
 * The KerasModel that tensor-file contents describe, and its weights by parameter name. The
 * contents need a webgpu-rnn layer config; `target` ("a .keras file") and `encoder`
 * (encodeKerasFile) name what is being written and the code alternative in the error.
 */
export function kerasModelFromContents(contents: KerasTensorContents, target: string, encoder: string): { model: KerasModel; values: Map<string, Float32Array> } {
  const config = contents.metadata.config;
  if (contents.metadata.format !== CHECKPOINT_FORMAT || !config) {
    throw new Error(`${target} needs the model's layers, and the input has no webgpu-rnn layer config; convert a webgpu-rnn checkpoint (.safetensors saved by saveCheckpoint/encodeModel), or build the model in code and use ${encoder}`);
  }
  const c = JSON.parse(config) as { layers: LayerConfig[]; input: ActDesc; seed?: number };
  const model = new Sequential(c.layers.map(layerFromConfig), { seed: c.seed ?? 1 }).configure(c.input);
  const values = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) {
    const t = contents.tensors.get(name);
    if (!t || t.data.length !== p.init.length) throw new Error(`tensor ${name} is ${t ? `of shape (${t.shape.join(', ')})` : 'missing'}; the config's layers need (${p.shape.join(', ')})`);
    values.set(name, t.data as Float32Array);
  }
  const mask = contents.metadata.keras_mask ? JSON.parse(contents.metadata.keras_mask) as KerasMask : null;
  return { model: new KerasModel(model, mask, contents.metadata.keras_softmax === 'true', contents.metadata.keras_model ?? 'sequential'), values };
}
