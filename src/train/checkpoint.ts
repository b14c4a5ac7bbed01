// Checkpoints in safetensors with PyTorch parameter names (browser-safe: bytes in, bytes out).
//
// The model file holds only the parameters (`lstm.weight_ih_l0`, `dense.weight`, …) plus string
// metadata (format, layer config, step), so `model.load_state_dict(load_file(path))` works in
// PyTorch for a module with the same attribute names. Training state for an exact resume
// (optimizer slots and step, the model's step and dropout RNG, carried RNN states) goes in a
// second file, `<name>.train.safetensors`, written first so that the model file is the commit point.

import { Sequential } from '../nn/model.ts';
import { layerFromConfig, type LayerConfig } from '../nn/config.ts';
import type { GpuContext } from '../runtime/context.ts';
import type { ActDesc } from '../nn/layer.ts';
import type { Recurrent } from '../nn/recurrent.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { CheckpointError, decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts';

export const CHECKPOINT_FORMAT = 'webgpu-rnn/1';

export interface StateDict {
  [name: string]: { shape: number[]; data: Float32Array };
}

/** Reads every parameter back from the GPU, in layer order. */
export async function stateDict(model: Sequential): Promise<StateDict> {
  const out: StateDict = {};
  const ctx = model.contextOrNull;
  for (const [name, p] of model.namedParameters()) {
    out[name] = { shape: [...p.shape], data: p.value && ctx ? ((await ctx.read(p.value)) as Float32Array) : p.init.slice() };
  }
  return out;
}

/**
 * Loads parameters by name. Every model parameter must be present with its exact shape, and
 * (with strict, the default) no other tensor may be in the dict. Nothing is written unless
 * everything checks out.
 */
export function loadStateDict(model: Sequential, dict: StateDict | Map<string, SafeTensor>, opts: { strict?: boolean; source?: string } = {}): void {
  const source = opts.source ?? 'state dict';
  const get = (k: string) => (dict instanceof Map ? dict.get(k) : dict[k]);
  const keys = dict instanceof Map ? [...dict.keys()] : Object.keys(dict);
  const params = model.namedParameters();
  const missing: string[] = [], wrong: string[] = [];
  for (const [name, p] of params) {
    const t = get(name);
    if (!t) { missing.push(name); continue; }
    if ('dtype' in t && t.dtype !== 'F32') wrong.push(`${name}: dtype ${t.dtype}, expected F32`);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) wrong.push(`${name}: shape (${t.shape.join(', ')}), expected (${p.shape.join(', ')})`);
    else {
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i])) { wrong.push(`${name}: value ${t.data[i]} at flat index ${i} is not finite`); break; }
      }
    }
  }
  const known = new Set(params.map(([n]) => n));
  const unexpected = (opts.strict ?? true) ? keys.filter((k) => !known.has(k)) : [];
  if (missing.length || wrong.length || unexpected.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (wrong.length) parts.push(`mismatched ${wrong.join('; ')}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.join(', ')}`);
    throw new CheckpointError(source, `does not fit this model: ${parts.join('; ')}`);
  }
  const ctx = model.contextOrNull;
  for (const [name, p] of params) {
    const data = new Float32Array(get(name)!.data as Float32Array);
    p.init = data;
    if (p.value && ctx) ctx.write(p.value, data);
  }
}

/** The model's parameters as safetensors bytes, with the layer config in the metadata. */
export async function encodeModel(model: Sequential, extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
  const sd = await stateDict(model);
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(sd)) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify({ layers: model.layers.map((l) => l.config()), input: model.input, seed: model.seed }),
    step: String(model.step),
    ...extraMetadata,
  });
}

/** Loads parameters from safetensors bytes (a file of ours, or a PyTorch state_dict saved with safetensors). */
export function decodeModelInto(model: Sequential, bytes: Uint8Array | ArrayBuffer, source = 'checkpoint'): { metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  loadStateDict(model, tensors, { source });
  return { metadata };
}

/** Training state for an exact resume: optimizer slots and step, model step and RNG, carried states. */
export async function encodeTrainingState(model: Sequential): Promise<Uint8Array> {
  const ctx = model.context;
  const opt = model.optimizer;
  if (!opt) throw new Error('encodeTrainingState: the model has no optimizer (compile it first)');
  const tensors: Record<string, SafeTensor> = {};
  const st = opt.state();
  for (const [key, slots] of st.slots) {
    for (const [slot, t] of Object.entries(slots)) tensors[`optimizer.${key}.${slot}`] = { dtype: 'F32', shape: [...t.shape], data: (await ctx.read(t)) as Float32Array };
  }
  for (const l of model.recurrentLayers()) {
    const carried = l.carriedState();
    if (!carried) continue;
    tensors[`state.${l.name}.h`] = { dtype: 'F32', shape: [...carried.h.shape], data: (await ctx.read(carried.h)) as Float32Array };
    if (carried.c) tensors[`state.${l.name}.c`] = { dtype: 'F32', shape: [...carried.c.shape], data: (await ctx.read(carried.c)) as Float32Array };
  }
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    optimizer: JSON.stringify(opt.config()),
    optimizer_step: String(st.step),
    model_step: String(model.step),
    rng_state: String(model.rngState()),
  });
}

/** Restores what encodeTrainingState saved. The model must be compiled with the same optimizer type. */
export function decodeTrainingStateInto(model: Sequential, bytes: Uint8Array | ArrayBuffer, source = 'training state'): void {
  const ctx = model.context;
  const opt = model.optimizer;
  if (!opt) throw new Error(`${source}: compile the model with an optimizer before loading its state`);
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(source, `format is ${metadata.format ?? 'missing'}, expected ${CHECKPOINT_FORMAT}`);
  const savedOpt = JSON.parse(metadata.optimizer ?? '{}') as { type?: string };
  if (savedOpt.type !== opt.config().type) throw new CheckpointError(source, `holds ${savedOpt.type} state, the model uses ${String(opt.config().type)}`);
  const st = opt.state();
  const writes: [Tensor, Float32Array][] = [];
  for (const [key, slots] of st.slots) {
    for (const [slot, t] of Object.entries(slots)) {
      const s = tensors.get(`optimizer.${key}.${slot}`);
      if (!s) throw new CheckpointError(source, `optimizer.${key}.${slot} is missing`);
      if (s.data.length !== t.size) throw new CheckpointError(source, `optimizer.${key}.${slot} has ${s.data.length} values, expected ${t.size}`);
      writes.push([t, s.data as Float32Array]);
    }
  }
  const carried: [string, Recurrent, SafeTensor, SafeTensor | undefined][] = [];
  for (const l of model.recurrentLayers()) {
    const h = tensors.get(`state.${l.name}.h`);
    if (h) carried.push([l.name, l, h, tensors.get(`state.${l.name}.c`)]);
  }
  for (const [t, d] of writes) ctx.write(t, d);
  opt.step = Number(metadata.optimizer_step ?? 0);
  model.step = Number(metadata.model_step ?? 0);
  if (metadata.rng_state) model.setRngState(Number(metadata.rng_state));
  for (const [, l, h, c] of carried) l.restoreCarriedState(h.shape, h.data as Float32Array, c?.data as Float32Array | undefined);
}

/**
 * Rebuilds a model from checkpoint bytes written by encodeModel / saveCheckpoint: the layers from
 * the `config` metadata, then the parameters. No code describing the architecture is needed.
 */
export function modelFromCheckpoint(ctx: GpuContext, bytes: Uint8Array | ArrayBuffer, source = 'checkpoint'): { model: Sequential; metadata: Record<string, string> } {
  const { metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.config) {
    throw new CheckpointError(source, `has no webgpu-rnn layer config in its metadata (format ${metadata.format ?? 'missing'}); build the model in code and use decodeModelInto`);
  }
  let config: { layers: LayerConfig[]; input: ActDesc; seed?: number };
  try { config = JSON.parse(metadata.config); } catch (e) { throw new CheckpointError(source, `config metadata is not valid JSON (${(e as Error).message})`); }
  const model = new Sequential(config.layers.map(layerFromConfig), { seed: config.seed ?? 1 }).build(ctx, config.input);
  try {
    decodeModelInto(model, bytes, source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.step = Number(metadata.step ?? 0) || 0;
  return { model, metadata };
}
