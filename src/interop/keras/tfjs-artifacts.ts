// TensorFlow.js LayersModel artifacts ↔ our models: model.json (`modelTopology` + `weightsManifest`)
// with its binary weight shards, as tfjs's `model.save` (file://, downloads, a save handler) and the
// tfjs converter write them. Each manifest group's shards are joined in order and its weights read
// one after another (float32 only); a weight belongs to the Keras layer its name starts with
// (`lstm_1/kernel`, `bidirectional_1/forward_gru_1/kernel`, the converter's `lstm/lstm_cell/kernel`).

import { describeValue } from '../../nn/options.ts';
import type { Sequential } from '../../nn/model.ts';
import { modelFromKerasConfig } from './load.ts';
import { kerasConfigFromModel, type KerasSaveOptions } from './save.ts';
import type { KerasModel } from './keras-model.ts';
import type { KerasLoadOptions, KerasModelParts, KerasWeights } from './types.ts';

/** One weight of a manifest group, as model.json lists it. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

/** What tfjs's save handlers receive and `tf.io.fromMemory` takes (the subset we read and write). */
export interface TfjsModelArtifacts {
  modelTopology: unknown;
  weightSpecs: TfjsWeightSpec[];
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/**
 * A model.json (its parsed object or its text) and its shards by the paths the manifest lists, or
 * tfjs's in-memory artifacts (`{ modelTopology, weightSpecs, weightData }`).
 */
export type TfjsArtifactsInput =
  | { modelJson: unknown; shards: Map<string, Uint8Array | ArrayBuffer> | Record<string, Uint8Array | ArrayBuffer> }
  | TfjsModelArtifacts;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bytesOf = (b: Uint8Array | ArrayBuffer) => (b instanceof Uint8Array ? b : new Uint8Array(b));

/** The `{ class_name, config }` inside a modelTopology (tfjs writes it there; the converter under model_config). */
function modelConfigOf(topology: unknown, source: string): Obj {
  if (!isObj(topology)) throw new Error(`${source}: modelTopology is ${describeValue(topology)}; expected a Keras model config ({ class_name, config })`);
  const c = isObj(topology.model_config) ? topology.model_config : topology;
  if (typeof c.class_name !== 'string') throw new Error(`${source}: modelTopology has no class_name; expected a LayersModel's model.json (a graph model from the converter's tf_saved_model / tf_frozen_model output is not a Keras model)`);
  return c;
}

/** Reads float32 weights laid one after another from `data`. */
function readWeights(specs: TfjsWeightSpec[], data: Uint8Array, where: string, into: KerasWeights, order: string[]): void {
  let offset = 0;
  const need = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (data.byteLength !== need) throw new Error(`${where} holds ${data.byteLength} bytes, but its weights (${specs.map((s) => `${s.name} (${s.shape.join(', ')})`).join(', ')}) need ${need} bytes of float32; a shard is missing, truncated or from another model`);
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new Error(`${where}: weight ${s.name} has dtype ${s.dtype}; supported: float32`);
    if (s.quantization) throw new Error(`${where}: weight ${s.name} is quantized (${JSON.stringify(s.quantization)}); supported: unquantized float32 (convert without --quantize_*)`);
    const n = s.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    new Uint8Array(values.buffer).set(data.subarray(offset, offset + 4 * n));
    offset += 4 * n;
    const layer = s.name.split('/')[0];
    if (!into.has(layer)) { into.set(layer, []); order.push(layer); }
    into.get(layer)!.push({ shape: [...s.shape], data: values });
  }
}

/** The Keras model config and weights of tfjs artifacts, every shard checked against the manifest. */
export function decodeTfjsArtifacts(input: TfjsArtifactsInput, source = 'model.json'): KerasModelParts {
  if (!isObj(input)) throw new Error(`${source}: expected { modelJson, shards } or tfjs artifacts { modelTopology, weightSpecs, weightData }, got ${describeValue(input)}`);
  const weights: KerasWeights = new Map();
  const order: string[] = [];
  if ('modelJson' in input) {
    let json = input.modelJson as unknown;
    if (typeof json === 'string') {
      try { json = JSON.parse(json); } catch (e) { throw new Error(`${source}: is not JSON (${(e as Error).message}); expected a tfjs model.json`); }
    }
    if (!isObj(json)) throw new Error(`${source}: is ${describeValue(json)}; expected a tfjs model.json object`);
    const manifest = json.weightsManifest;
    if (!Array.isArray(manifest)) throw new Error(`${source}: has no weightsManifest; expected a tfjs LayersModel model.json (modelTopology + weightsManifest)`);
    const shards = input.shards instanceof Map ? input.shards : new Map(Object.entries(input.shards ?? {}));
    manifest.forEach((group: unknown, g: number) => {
      if (!isObj(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new Error(`${source}: weightsManifest[${g}] is ${describeValue(group)}; expected { paths: [...], weights: [...] }`);
      const parts = (group.paths as string[]).map((p) => {
        const b = shards.get(p);
        if (!b) throw new Error(`${source}: weight shard ${JSON.stringify(p)} (weightsManifest[${g}]) is missing; given: ${[...shards.keys()].map((k) => JSON.stringify(k)).join(', ') || 'none'}`);
        return bytesOf(b);
      });
      const data = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
      let at = 0;
      for (const p of parts) { data.set(p, at); at += p.byteLength; }
      readWeights(group.weights as TfjsWeightSpec[], data, `${source}: weight shards ${(group.paths as string[]).join(', ')}`, weights, order);
    });
    return { modelConfig: modelConfigOf(json.modelTopology, source) as KerasModelParts['modelConfig'], weights };
  }
  const a = input as TfjsModelArtifacts;
  if (!Array.isArray(a.weightSpecs) || !(a.weightData instanceof ArrayBuffer || ArrayBuffer.isView(a.weightData))) {
    throw new Error(`${source}: tfjs artifacts need weightSpecs and weightData (an ArrayBuffer); got ${Object.keys(a).join(', ')}`);
  }
  const data = ArrayBuffer.isView(a.weightData) ? new Uint8Array((a.weightData as ArrayBufferView).buffer, (a.weightData as ArrayBufferView).byteOffset, (a.weightData as ArrayBufferView).byteLength) : new Uint8Array(a.weightData);
  readWeights(a.weightSpecs, data, `${source}: weightData`, weights, order);
  return { modelConfig: modelConfigOf(a.modelTopology, source) as KerasModelParts['modelConfig'], weights };
}

/** A KerasModel from tfjs LayersModel artifacts (model.json + shards, or tfjs's in-memory artifacts). */
export function modelFromTfjs(input: TfjsArtifactsInput, options: KerasLoadOptions = {}): KerasModel {
  const { modelConfig, weights } = decodeTfjsArtifacts(input, options.source ?? 'model.json');
  return modelFromKerasConfig(modelConfig, weights, { source: 'model.json', ...options });
}

/**
 * Loads a model.json and the shards it lists, resolved against its URL (or path): with `read`
 * given, through it (in Node, e.g. `(p) => fs.promises.readFile(p)`), else with `fetch`.
 */
export async function loadTfjsModel(url: string, options: KerasLoadOptions & { read?: (path: string) => Promise<Uint8Array | ArrayBuffer> } = {}): Promise<KerasModel> {
  const { read, ...load } = options;
  const get = read ?? (async (u: string) => {
    const r = await fetch(u);
    if (!r.ok) throw new Error(`HTTP ${r.status} ${r.statusText}`);
    return new Uint8Array(await r.arrayBuffer());
  });
  const fetchOne = async (u: string, what: string) => {
    try { return bytesOf(await get(u)); } catch (e) { throw new Error(`loadTfjsModel: cannot read ${what} ${u} (${(e as Error).message})`); }
  };
  const text = new TextDecoder().decode(await fetchOne(url, 'model.json'));
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new Error(`loadTfjsModel: ${url} is not JSON (${(e as Error).message}); expected a tfjs model.json`); }
  const base = url.slice(0, url.lastIndexOf('/') + 1);
  const shards = new Map<string, Uint8Array>();
  const manifest = isObj(json) && Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
  for (const g of manifest) for (const p of (isObj(g) && Array.isArray(g.paths) ? g.paths : []) as string[]) shards.set(p, await fetchOne(base + p, 'weight shard'));
  return modelFromTfjs({ modelJson: json, shards }, { source: url, ...load });
}

/** The weight names tfjs gives a layer's weights, in get_weights() order. */
function weightNames(entry: Obj): string[] {
  const c = entry.config as Obj;
  const name = String(c.name);
  const rnn = (prefix: string) => [`${prefix}/kernel`, `${prefix}/recurrent_kernel`, `${prefix}/bias`];
  switch (entry.class_name) {
    case 'Embedding': return [`${name}/embeddings`];
    case 'Dense': return [`${name}/kernel`, `${name}/bias`];
    case 'LSTM': case 'GRU': case 'SimpleRNN': return rnn(name);
    case 'Bidirectional': {
      const inner = String(((c.layer as Obj).config as Obj).name);
      return [...rnn(`${name}/forward_${inner}`), ...rnn(`${name}/backward_${inner}`)];
    }
    default: return [];
  }
}

/** What encodeTfjs gives: model.json's object, its one shard, and the same as tfjs in-memory artifacts. */
export interface TfjsEncoded {
  modelJson: Obj;
  /** The shard model.json lists (`weightsPath`, default 'weights.bin'). */
  weightData: Uint8Array;
  weightsPath: string;
  /** For `tf.loadLayersModel(tf.io.fromMemory(artifacts))`. */
  artifacts: TfjsModelArtifacts;
}

/** tfjs LayersModel artifacts from Keras parts (see kerasConfigFromModel with flavour 'tfjs'). */
export function encodeTfjsParts(parts: KerasModelParts, weightsPath = 'weights.bin'): TfjsEncoded {
  const entries = (parts.modelConfig.config.layers ?? []) as Obj[];
  const specs: TfjsWeightSpec[] = [];
  const chunks: Float32Array[] = [];
  for (const e of entries) {
    const name = String((e.config as Obj).name);
    const list = parts.weights.get(name) ?? [];
    const names = weightNames(e);
    list.forEach((t, i) => {
      specs.push({ name: names[i] ?? `${name}/weight_${i}`, shape: [...t.shape], dtype: 'float32' });
      chunks.push(t.data);
    });
  }
  const weightData = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) { weightData.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at); at += c.byteLength; }
  const modelTopology = { ...parts.modelConfig, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' };
  const modelJson = {
    format: 'layers-model', generatedBy: 'webgpu-rnn', convertedBy: null, modelTopology,
    weightsManifest: [{ paths: [weightsPath], weights: specs }],
  };
  const artifacts: TfjsModelArtifacts = { modelTopology, weightSpecs: specs, weightData: weightData.slice().buffer, format: 'layers-model', generatedBy: 'webgpu-rnn', convertedBy: null };
  return { modelJson, weightData, weightsPath, artifacts };
}

/**
 * Our model as tfjs LayersModel artifacts (`tf.loadLayersModel` loads them with equal predictions):
 * model.json's object and its weight shard. A Keras-inexpressible layer or option is an error.
 */
export async function encodeTfjs(model: Sequential | KerasModel, options: KerasSaveOptions & { weightsPath?: string } = {}): Promise<TfjsEncoded> {
  const { weightsPath, ...save } = options;
  return encodeTfjsParts(await kerasConfigFromModel(model, 'tfjs', save), weightsPath);
}
