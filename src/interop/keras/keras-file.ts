// Keras 3 `.keras` files (what `model.save("model.keras")` writes): a zip archive, stored without
// compression, of `metadata.json` ({ keras_version, date_saved }), `config.json` (the serialized
// model: { module, class_name, config, registered_name, build_config, compile_config }) and
// `model.weights.h5` (HDF5, laid out as keras3-layout.ts describes). This file reads and writes the
// container as a `{ config, metadata, weights }` object, weights by Keras layer name in
// `layer.get_weights()` order; modelFromKerasFile / encodeKerasFile join it to the Keras mapping
// (modelFromKerasConfig / kerasConfigFromModel) that turns it into one of our models and back.

import { unzipSync, zipSync } from 'fflate';
import { readHdf5, writeHdf5, looksLikeHdf5, type H5Reader, type H5Tree } from './h5.ts';
import { keras3WeightLayout } from './keras3-layout.ts';
import type { Sequential } from '../../nn/model.ts';
import { modelFromKerasConfig } from './load.ts';
import { kerasConfigFromModel, type KerasSaveOptions } from './save.ts';
import type { KerasModel } from './keras-model.ts';
import type { KerasLoadOptions, KerasTensor, KerasWeights } from './types.ts';

/** The Keras version whose saving code (keras/src/saving/saving_lib.py) the writer follows. */
export const KERAS_FORMAT_VERSION = '3.16.0';

/** A .keras file's contents. */
export interface KerasArchive {
  /** config.json: the serialized model (`class_name` Sequential or Functional, its `config.layers`, …). */
  config: Record<string, unknown>;
  /** metadata.json (`keras_version`, `date_saved`); {} when the archive has none. */
  metadata: Record<string, unknown>;
  /** The weights by Keras layer name, each list in `layer.get_weights()` order. */
  weights: KerasWeights;
  /** Where each layer's weights are in model.weights.h5 (`layers/lstm/cell/vars/0`, …), same order. */
  paths: Map<string, string[]>;
}

const CONFIG = 'config.json';
const METADATA = 'metadata.json';
const WEIGHTS = 'model.weights.h5';

/** Layer classes that always have weights: finding none for one of them means the file lacks them. */
const WEIGHTED_CLASSES = new Set(['Embedding', 'Dense', 'LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'TimeDistributed']);

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** The names inside a zip archive, without inflating anything; undefined when `bytes` are not a readable zip. */
function zipNames(bytes: Uint8Array): string[] | undefined {
  if (!isZip(bytes)) return undefined;
  const names: string[] = [];
  try {
    unzipSync(bytes, { filter: (f) => { names.push(f.name); return false; } });
  } catch {
    return undefined;
  }
  return names;
}

/**
 * True when `bytes` are a zip archive with any of a .keras file's entries at its top level
 * (config.json, metadata.json, model.weights.*), so that a damaged one still gets the .keras errors.
 */
export function looksLikeKerasFile(bytes: Uint8Array): boolean {
  const names = zipNames(bytes);
  return !!names && names.some((n) => n === CONFIG || n === METADATA || n.startsWith('model.weights.'));
}

function parseJson(bytes: Uint8Array, what: string, source: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${source}: ${what} is not valid JSON (${(e as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}: ${what} holds ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; expected a JSON object`);
  return value as Record<string, unknown>;
}

/** A vars group's datasets "0", "1", … in order (Keras writes them so and reads them by index). */
function readVars(h5: H5Reader, group: string, source: string): { path: string; tensor: KerasTensor }[] {
  const keys = h5.keys(group);
  const expected = keys.map((_, i) => String(i));
  if ([...keys].sort().join() !== [...expected].sort().join()) {
    throw new Error(`${source}: ${group} holds ${keys.map((k) => JSON.stringify(k)).join(', ')}; expected datasets named "0" to "${keys.length - 1}" (one per variable)`);
  }
  return expected.map((k) => {
    const path = `${group}/${k}`;
    const d = h5.dataset(path);
    if (!d) throw new Error(`${source}: ${path} is a group; expected a dataset (one variable)`);
    return { path, tensor: { shape: d.shape, data: d.data } };
  });
}

/**
 * Reads a .keras file. Errors name the file and what is wrong: not a zip, config.json or
 * model.weights.h5 missing, a layer whose weights are not where Keras puts them.
 */
export async function readKerasArchive(input: Uint8Array | ArrayBuffer, source = 'model.keras'): Promise<KerasArchive> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (!isZip(bytes)) {
    const legacy = looksLikeHdf5(bytes) ? ' (it is an HDF5 file: Keras 2\'s legacy model.save("model.h5") format, which this reader does not take; save with model.save("model.keras"))' : '';
    throw new Error(`${source}: not a .keras file: Keras 3 writes a zip archive (starting with "PK")${legacy || ', this file starts otherwise'}`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new Error(`${source}: not a readable zip archive (${(e as Error).message}); a .keras file is a zip (truncated?)`);
  }
  const names = Object.keys(files);
  const listing = `it holds ${names.length ? names.slice(0, 6).join(', ') + (names.length > 6 ? ', …' : '') : 'nothing'}`;
  if (!files[CONFIG]) throw new Error(`${source}: the archive has no ${CONFIG} (${listing}); a .keras file holds ${CONFIG}, ${METADATA} and ${WEIGHTS}`);
  if (!files[WEIGHTS]) {
    if (files['model.weights.npz']) throw new Error(`${source}: the weights are in model.weights.npz (Keras's npz weights format), which this reader does not take; expected ${WEIGHTS} (save with weights_format="h5", the default)`);
    throw new Error(`${source}: the archive has no ${WEIGHTS} (${listing}); a .keras file holds ${CONFIG}, ${METADATA} and ${WEIGHTS}`);
  }
  const config = parseJson(files[CONFIG], CONFIG, source);
  const metadata = files[METADATA] ? parseJson(files[METADATA], METADATA, source) : {};
  const layout = keras3WeightLayout(config, source);
  const where = `${source} (${WEIGHTS})`;
  return readHdf5(files[WEIGHTS], where, (h5) => {
    // Keras 2.13–2.15 wrote `_layer_checkpoint_dependencies` where Keras 3 writes `layers`.
    const legacy = !h5.hasGroup('layers') && h5.hasGroup('_layer_checkpoint_dependencies');
    const weights: KerasWeights = new Map();
    const paths = new Map<string, string[]>();
    for (const layer of layout) {
      const found = layer.groups.flatMap((g) => {
        const group = legacy ? g.path.replace(/^layers\//, '_layer_checkpoint_dependencies/') : g.path;
        return h5.hasGroup(group) ? readVars(h5, group, where) : [];
      });
      if (found.length === 0 && WEIGHTED_CLASSES.has(layer.className)) {
        const present = h5.keys(legacy ? '_layer_checkpoint_dependencies' : 'layers');
        const wanted = layer.groups.filter((g) => g.weighted).map((g) => g.path).join(' and ');
        throw new Error(`${where}: no weights for layer "${layer.name}" (${layer.className}); Keras keeps them in ${wanted}, and the file's layers are ${present.length ? present.join(', ') : 'none'}`);
      }
      weights.set(layer.name, found.map((f) => f.tensor));
      paths.set(layer.name, found.map((f) => f.path));
    }
    return { config, metadata, weights, paths };
  });
}

/** Today as Keras's metadata.json writes it: `2026-05-13@21:23:40`. */
function kerasDate(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}@${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Writes a .keras file from a model config (the serialized Keras 3 model) and its weights by
 * layer name, in Keras 3's layout: every layer's vars group with its `name` attribute, the
 * weights where `layer.load_own_variables` looks for them, the model's own (empty) `/vars`.
 * `metadata` is merged over `{ keras_version, date_saved }`.
 */
export async function writeKerasArchive(parts: { config: Record<string, unknown>; weights: KerasWeights; metadata?: Record<string, unknown> }, source = 'model.keras'): Promise<Uint8Array> {
  const layout = keras3WeightLayout(parts.config, source);
  const modelName = (parts.config.config as { name?: unknown } | undefined)?.name;
  const tree: H5Tree = { groups: [{ path: 'vars', attrs: { name: typeof modelName === 'string' ? modelName : 'sequential' } }, { path: 'layers' }], datasets: [] };
  const unknown = [...parts.weights.keys()].filter((k) => !layout.some((l) => l.name === k));
  if (unknown.length) throw new Error(`${source}: weights given for ${unknown.map((k) => `"${k}"`).join(', ')}, which the model config has no layer (with weights) named; its layers are ${layout.map((l) => `"${l.name}"`).join(', ')}`);
  for (const layer of layout) {
    const weights = [...(parts.weights.get(layer.name) ?? [])];
    const weighted = layer.groups.filter((g) => g.weighted);
    // Bidirectional keeps half its weights in each direction's cell; every other layer has one weighted group.
    if (weights.length % weighted.length !== 0) throw new Error(`${source}: layer "${layer.name}" (${layer.className}) has ${weights.length} weights, which do not split evenly over its ${weighted.length} directions`);
    const per = weights.length / weighted.length;
    for (const g of layer.groups) {
      tree.groups.push({ path: g.path, attrs: { name: g.name } });
      if (!g.weighted) continue;
      const mine = weights.splice(0, per);
      mine.forEach((w, i) => {
        if (w.data.length !== w.shape.reduce((a, b) => a * b, 1)) throw new Error(`${source}: weight ${i} of layer "${layer.name}" has ${w.data.length} values for shape (${w.shape.join(', ')})`);
        tree.datasets.push({ path: `${g.path}/${i}`, shape: w.shape, data: w.data });
      });
    }
  }
  const metadata = { keras_version: KERAS_FORMAT_VERSION, date_saved: kerasDate(), ...parts.metadata };
  const h5 = await writeHdf5(tree);
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  // Keras's order of entries, stored without compression as Python's zipfile does by default.
  return zipSync({ [METADATA]: text(metadata), [CONFIG]: text(parts.config), [WEIGHTS]: h5 }, { level: 0, mtime: new Date(1980, 0, 1) });
}

/**
 * A model from a Keras 3 `.keras` file (`model.save("model.keras")`): Sequential or chain-shaped
 * functional models of the layers modelFromKerasConfig takes. Everything is checked before the
 * model exists; `build(ctx)` the result to run it (`predict` gives Keras's outputs).
 */
export async function modelFromKerasFile(input: Uint8Array | ArrayBuffer, options: KerasLoadOptions = {}): Promise<KerasModel> {
  const source = options.source ?? 'model.keras';
  const archive = await readKerasArchive(input, source);
  try {
    return modelFromKerasConfig(archive.config, archive.weights, { ...options, source });
  } catch (e) {
    // Config errors name the layer but not the file.
    const message = (e as Error).message;
    throw message.startsWith(source) ? e : new Error(`${source}: ${message}`);
  }
}

/**
 * Our model as a Keras 3 `.keras` file, laid out as Keras 3's `model.save` lays it out (for
 * `keras.saving.load_model`): the weights from the GPU when the model is built, else its initial
 * values. A layer or option Keras cannot express is an error naming it (see kerasConfigFromModel).
 */
export async function encodeKerasFile(model: Sequential | KerasModel, options: KerasSaveOptions = {}): Promise<Uint8Array> {
  const { modelConfig, weights } = await kerasConfigFromModel(model, 'keras3', options);
  return writeKerasArchive({ config: modelConfig, weights });
}
