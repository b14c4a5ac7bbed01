// Checkpoints in safetensors with PyTorch parameter names (browser-safe: bytes in, bytes out).
//
// The model file holds only the parameters (`lstm.weight_ih_l0`, `dense.weight`, …) plus string
// metadata (format, layer config, step), so `model.load_state_dict(load_file(path))` works in
// PyTorch for a module with the same attribute names. Training state for an exact resume
// (optimizer slots and step, the model's step and dropout RNG, carried RNN states, a dynamic loss
// scale) goes in a second file, `<name>.train.safetensors`, written first so that the model file
// is the commit point.
//
// Loading is all-or-nothing: every tensor of both files (names, dtypes, shapes, finite values),
// the optimizer type, the counters, the RNG state and the carried states are checked before
// anything is written into the model; a bad file throws naming itself and leaves the model as it was.

import { Sequential } from '../nn/model.ts';
import { Model } from '../nn/graph.ts';
import { graphFromConfig, type GraphConfig } from '../nn/graph-config.ts';
import { layerFromConfig, type LayerConfig } from '../nn/config.ts';
import type { GpuContext } from '../runtime/context.ts';
import type { ActDesc, Parameter } from '../nn/layer.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { describeValue } from '../nn/options.ts';
import { MAX_LOSS_SCALE } from '../nn/loss-scale.ts';
import { CheckpointError, decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts';
import { mapNames, nameMapper, suggestPrefix, type NameMapper, type NameMapping } from '../interop/names.ts';
import { decodeTensorFile } from '../interop/tensor-file.ts';

export const CHECKPOINT_FORMAT = 'webgpu-rnn/1';

/** What checkpoints save and load: a Sequential or a graph Model (state-dict names `<layer>.<param>` either way). */
export type CheckpointModel = Sequential | Model;

export interface StateDict {
  [name: string]: { shape: number[]; data: Float32Array };
}

/** What a load left out: with `strict: false` both may be non-empty; with strict (the default) both are empty. */
export interface LoadReport {
  /** Model parameters the file does not hold (they kept their values). */
  missing: string[];
  /** Tensors in the file the model does not have (ignored). */
  unexpected: string[];
}

/** What decodeModelInto / loadCheckpoint return: the file's metadata and the load report. */
export interface CheckpointLoadReport extends LoadReport {
  metadata: Record<string, string>;
}

/**
 * Load options. `prefix` / `rename` (see NameMapping) map the file's names to the model's, e.g.
 * `{ prefix: 'lstm.' }` loads a plain PyTorch `nn.LSTM` state_dict (`weight_ih_l0`) into the layer "lstm".
 */
export interface LoadOptions extends NameMapping {
  /**
   * Default true (like PyTorch's load_state_dict): every parameter must be in the file and the file
   * may hold nothing else. With false, missing parameters keep their values and extra tensors are
   * ignored (both listed in the report). Wrong shapes, dtypes or non-finite values are errors either way.
   */
  strict?: boolean;
  /** Names the bytes in error messages (a file path). */
  source?: string;
}

/**
 * Throws unless `model` is built and not disposed: `action` names what was attempted
 * ("save", "load checkpoint.safetensors", …).
 */
export function requireBuiltModel(model: CheckpointModel, action: string): GpuContext {
  // Duck-typed: a model from another copy of the package (two bundles) is still a model.
  if (typeof (model as Partial<Sequential> | null)?.namedParameters !== 'function') throw new Error(`${action}: expected a Sequential or Model, got ${describeValue(model)}`);
  const ctx = model.contextOrNull;
  if (!ctx) throw new Error(`${action}: the model is not built; build the model first (model.build(ctx))`);
  for (const [name, p] of model.namedParameters()) {
    if (!p.value || p.value.released) throw new Error(`${action}: the model was disposed (${name} has no GPU buffer); build a new model`);
  }
  return ctx;
}

/** Reads every parameter back from the GPU, in layer order. The model must be built and not disposed. */
export async function stateDict(model: CheckpointModel): Promise<StateDict> {
  const ctx = requireBuiltModel(model, 'stateDict');
  const out: StateDict = {};
  for (const [name, p] of model.namedParameters()) {
    out[name] = { shape: [...p.shape], data: (await ctx.read(p.value!)) as Float32Array };
  }
  return out;
}

/** A checked parameter write: applied only once everything in a load has been checked. */
type ParamWrite = [Parameter, Float32Array];

/** `[3, 1]` for flat index 25 of shape (8, 8)… : where a bad value sits, as a user reads it. */
function indexOf(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  let r = flat;
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(r % shape[d]); r = Math.floor(r / shape[d]); }
  return `[${idx.join(', ')}]`;
}

/** The first non-finite value of `data`, as "value NaN at [i, j]", or null. */
function firstNonFinite(data: ArrayLike<number>, shape: readonly number[]): string | null {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) return `value ${data[i]} at ${indexOf(i, shape)} (flat index ${i}) is not finite`;
  }
  return null;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Checks a dict against the model's parameters; returns the writes and the report, or throws. */
function planParameterLoad(model: CheckpointModel, input: StateDict | Map<string, SafeTensor>, strict: boolean, source: string, map: NameMapper | null = null): { writes: ParamWrite[] } & LoadReport {
  let dict = input;
  let fileNameOf: Map<string, string> | null = null;
  if (map) {
    const entries: [string, SafeTensor | StateDict[string]][] = input instanceof Map ? [...input.entries()] : Object.entries(input);
    const m = mapNames(`load ${source}`, entries, map);
    dict = m.mapped as Map<string, SafeTensor>;
    fileNameOf = m.fileNameOf;
  }
  const get = (k: string) => (dict instanceof Map ? dict.get(k) : Object.prototype.hasOwnProperty.call(dict, k) ? dict[k] : undefined);
  const keys = dict instanceof Map ? [...dict.keys()] : Object.keys(dict);
  const params = model.namedParameters();
  const missing: string[] = [], wrong: string[] = [], writes: ParamWrite[] = [];
  for (const [name, p] of params) {
    const t = get(name);
    if (!t) { missing.push(name); continue; }
    const shape = Array.isArray(t.shape) ? t.shape : [];
    const n = shape.reduce((a, b) => a * b, 1);
    if ('dtype' in t && t.dtype !== 'F32') wrong.push(`${name}: dtype ${t.dtype} (integers), expected a float tensor (F32, F64, F16 or BF16)`);
    else if (!sameShape(shape, p.shape)) wrong.push(`${name}: shape (${shape.join(', ')}), expected (${p.shape.join(', ')})`);
    else if (!t.data || t.data.length !== n) wrong.push(`${name}: ${t.data?.length ?? 'no'} values for shape (${shape.join(', ')}), expected ${n}`);
    else {
      const bad = firstNonFinite(t.data, shape);
      if (bad) wrong.push(`${name}: ${bad}`);
      else writes.push([p, new Float32Array(t.data)]);
    }
  }
  const known = new Set(params.map(([n]) => n));
  // The report names the file's own tensors; a mapped name is shown as `file name → model name`.
  const unexpectedKeys = keys.filter((k) => !known.has(k));
  const unexpected = unexpectedKeys.map((k) => fileNameOf?.get(k) ?? k);
  if (wrong.length || (strict && (missing.length || unexpected.length))) {
    const shown = unexpectedKeys.map((k) => (fileNameOf && fileNameOf.get(k) !== k ? `${fileNameOf.get(k)} → ${k}` : k));
    const parts = [];
    if (strict && missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (wrong.length) parts.push(`mismatched ${wrong.join('; ')}`);
    if (strict && unexpected.length) parts.push(`unexpected ${shown.join(', ')}`);
    let hint = '';
    const prefix = strict && !map ? suggestPrefix(missing, unexpected) : '';
    if (prefix) hint = ` (are the layer names the same? the names differ by a prefix: load with ${prefix} to map them, or pass strict: false to load what matches)`;
    else if (strict && missing.length && unexpected.length) hint = ' (are the layer names the same? map them with the prefix or rename option, or pass strict: false to load what matches)';
    else if (strict && !wrong.length) hint = ' (pass strict: false to load what matches)';
    throw new CheckpointError(source, `does not fit this model: ${parts.join('; ')}${hint}`);
  }
  return { writes, missing, unexpected };
}

/** Writes checked parameters: the CPU copy (used by a later build) and, when built, the GPU buffer. */
function applyParameterWrites(model: CheckpointModel, writes: ParamWrite[]): void {
  const ctx = model.contextOrNull;
  for (const [p, data] of writes) {
    p.init = data;
    if (p.value && ctx) ctx.write(p.value, data);
  }
}

function loadOptions(opts: string | LoadOptions | undefined, defaultSource: string): { strict: boolean; source: string; map: NameMapper | null } {
  if (typeof opts === 'string') return { strict: true, source: opts, map: null };
  if (opts !== undefined && (typeof opts !== 'object' || opts === null)) throw new Error(`load options must be an object like { strict: false }, got ${describeValue(opts)}`);
  const strict = opts?.strict ?? true;
  if (typeof strict !== 'boolean') throw new Error(`load option strict must be a boolean (true or false), got ${describeValue(strict)}`);
  const source = opts?.source ?? defaultSource;
  const map = opts ? nameMapper(`load ${source}`, opts) : null;
  return { strict, source, map };
}

/**
 * Loads parameters by name into a built model. With strict (the default) every model parameter
 * must be present with its exact shape and no other tensor may be in the dict; with
 * `strict: false` missing parameters keep their values and extra tensors are ignored. Values must
 * be finite. Nothing is written unless everything checks out.
 */
export function loadStateDict(model: CheckpointModel, dict: StateDict | Map<string, SafeTensor>, opts: LoadOptions = {}): LoadReport {
  const { strict, source, map } = loadOptions(opts, 'state dict');
  requireBuiltModel(model, `load ${source}`);
  if (typeof dict !== 'object' || dict === null) throw new Error(`loadStateDict: expected a state dict ({ name: { shape, data } } or a Map), got ${describeValue(dict)}`);
  const { writes, missing, unexpected } = planParameterLoad(model, dict, strict, source, map);
  applyParameterWrites(model, writes);
  return { missing, unexpected };
}

/**
 * The model's parameters as safetensors bytes, with the layer config in the metadata.
 * `checkpointId` (saveCheckpoint sets it) ties the file to the training-state file of the same save.
 */
export async function encodeModel(model: CheckpointModel, extraMetadata: Record<string, string> = {}, checkpointId?: string): Promise<Uint8Array> {
  requireBuiltModel(model, 'save');
  if (typeof extraMetadata !== 'object' || extraMetadata === null) throw new Error(`save: metadata must be an object of strings, got ${describeValue(extraMetadata)}`);
  for (const [k, v] of Object.entries(extraMetadata)) {
    if (typeof v !== 'string') throw new Error(`save: metadata ${JSON.stringify(k)} must be a string (safetensors metadata is string to string; use JSON.stringify), got ${describeValue(v)}`);
    if (RESERVED_METADATA.includes(k)) throw new Error(`save: metadata key ${JSON.stringify(k)} is reserved for the checkpoint itself (reserved: ${RESERVED_METADATA.join(', ')})`);
  }
  const sd = await stateDict(model);
  const tensors: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(sd)) tensors[k] = { dtype: 'F32', shape: v.shape, data: v.data };
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(model instanceof Model ? { graph: model.config() } : { layers: model.layers.map((l) => l.config()), input: model.input, seed: model.seed }),
    step: String(model.step),
    ...(checkpointId === undefined ? {} : { checkpoint_id: checkpointId }),
    ...extraMetadata,
  });
}

/** Metadata keys the checkpoint writes itself (a user's metadata may not override them). */
const RESERVED_METADATA = ['format', 'config', 'step', 'checkpoint_id'];

/**
 * Loads parameters from safetensors bytes (a file of ours, or a PyTorch state_dict saved with
 * safetensors) or from a PyTorch `torch.save` file (.pt, read without running any code) into a
 * built model; `opts` is the source name or { strict, source, prefix, rename }. Validates
 * everything first; returns the metadata and what was missing or ignored (strict: false).
 */
export function decodeModelInto(model: CheckpointModel, bytes: Uint8Array | ArrayBuffer, opts: string | LoadOptions = {}): CheckpointLoadReport {
  return decodeCheckpointInto(model, bytes, null, typeof opts === 'string' ? { source: opts } : opts);
}

/**
 * Training state for an exact resume: optimizer slots and step, model step and RNG, carried
 * states, and a dynamic loss scale with its growth counter. `checkpointId` as for encodeModel.
 */
export async function encodeTrainingState(model: CheckpointModel, checkpointId?: string): Promise<Uint8Array> {
  const ctx = requireBuiltModel(model, 'save the training state');
  const opt = model.optimizer;
  if (!opt) throw new Error('save the training state: the model has no optimizer (compile it first)');
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
    ...(model.lossScaler?.dynamic ? { loss_scale: String(model.lossScaler.scale), loss_scale_good_steps: String(model.lossScaler.goodSteps) } : {}),
    ...(checkpointId === undefined ? {} : { checkpoint_id: checkpointId }),
  });
}

/**
 * A dynamic loss scale from training-state metadata: the scale (a number in [1, 2^126]) and the
 * applied steps since it last changed. Undefined when the file has none (saved without dynamic
 * loss scaling) or the model is not compiled with it (a fixed scale is compile's, not state).
 */
function savedLossScale(model: CheckpointModel, metadata: Record<string, string>, source: string): { scale: number; goodSteps: number } | undefined {
  if (metadata.loss_scale === undefined && metadata.loss_scale_good_steps === undefined) return undefined;
  const s = metadata.loss_scale;
  const scale = s !== undefined && /^[0-9.e+]+$/i.test(s) ? Number(s) : NaN;
  if (!(scale >= 1 && scale <= MAX_LOSS_SCALE)) throw new CheckpointError(source, `metadata loss_scale is ${s === undefined ? 'missing' : JSON.stringify(s)}, expected a number in [1, 2^126]`);
  const goodSteps = metadataCount(source, metadata, 'loss_scale_good_steps');
  return model.lossScaler?.dynamic ? { scale, goodSteps } : undefined;
}

/** A counter from metadata: a non-negative integer written in decimal. */
function metadataCount(source: string, metadata: Record<string, string>, key: string, max = Number.MAX_SAFE_INTEGER): number {
  const s = metadata[key];
  if (typeof s !== 'string' || !/^\d+$/.test(s) || Number(s) > max) {
    throw new CheckpointError(source, `metadata ${key} is ${s === undefined ? 'missing' : JSON.stringify(s)}, expected an integer in [0, ${max}]`);
  }
  return Number(s);
}

/**
 * Checks training-state tensors and metadata against the compiled model and returns the function
 * that applies them; throws (changing nothing) when anything does not fit.
 */
function planTrainingStateLoad(model: CheckpointModel, tensors: Map<string, SafeTensor>, metadata: Record<string, string>, source: string): () => void {
  const ctx = requireBuiltModel(model, `load ${source}`);
  const opt = model.optimizer;
  if (!opt) throw new Error(`load ${source}: compile the model with an optimizer before loading its training state`);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(source, `format is ${metadata.format ?? 'missing'}, expected ${CHECKPOINT_FORMAT} (is this a .train.safetensors file?)`);
  let savedOpt: { type?: unknown };
  try { savedOpt = JSON.parse(metadata.optimizer ?? 'null') ?? {}; } catch (e) { throw new CheckpointError(source, `optimizer metadata is not valid JSON (${(e as Error).message})`); }
  const want = opt.config().type;
  if (savedOpt.type !== want) throw new CheckpointError(source, `holds ${String(savedOpt.type ?? 'no')} optimizer state, the model is compiled with ${String(want)}; compile it with the same optimizer type`);
  const optimizerStep = metadataCount(source, metadata, 'optimizer_step');
  const modelStep = metadataCount(source, metadata, 'model_step');
  const rng = metadata.rng_state === undefined ? undefined : metadataCount(source, metadata, 'rng_state', 0xffffffff);
  const lossScale = savedLossScale(model, metadata, source);
  const used = new Set<string>();
  const problems: string[] = [];
  /** A tensor of this file: F32, of the expected shape (or rank-3 state), finite. */
  const take = (name: string, shape: readonly number[] | null): Float32Array | null => {
    const t = tensors.get(name);
    if (!t) { problems.push(`${name} is missing`); return null; }
    used.add(name);
    if (t.dtype !== 'F32') { problems.push(`${name} has dtype ${t.dtype}, expected a float tensor`); return null; }
    if (shape && !sameShape(t.shape, shape)) { problems.push(`${name} has shape (${t.shape.join(', ')}), expected (${shape.join(', ')})`); return null; }
    const bad = firstNonFinite(t.data, t.shape);
    if (bad) { problems.push(`${name}: ${bad}`); return null; }
    return t.data as Float32Array;
  };
  const slotWrites: [Tensor, Float32Array][] = [];
  for (const [key, slots] of opt.state().slots) {
    for (const [slot, t] of Object.entries(slots)) {
      const data = take(`optimizer.${key}.${slot}`, t.shape);
      if (data) slotWrites.push([t, data]);
    }
  }
  const carried: { restore: () => void }[] = [];
  for (const l of model.recurrentLayers()) {
    const hName = `state.${l.name}.h`, cName = `state.${l.name}.c`;
    if (!tensors.has(hName)) {
      if (tensors.has(cName)) problems.push(`${cName} has no matching ${hName}`);
      if (l.stateful) carried.push({ restore: () => l.resetState() }); // saved with nothing carried
      continue;
    }
    if (!l.stateful) { problems.push(`${hName} is a carried state but layer ${l.name} is not stateful`); used.add(hName); continue; }
    const hShape = tensors.get(hName)!.shape;
    const LD = l.numLayers * l.numDirections;
    if (hShape.length !== 3 || hShape[0] !== LD || hShape[2] !== l.hiddenSize || !(hShape[1] >= 1)) {
      problems.push(`${hName} has shape (${hShape.join(', ')}), expected (${LD}, B, ${l.hiddenSize}) = (numLayers·directions, batch, hidden)`);
      used.add(hName);
      if (tensors.has(cName)) used.add(cName);
      continue;
    }
    const h = take(hName, hShape);
    const c = l.cell === 'lstm' ? take(cName, hShape) : null;
    if (h && (c || l.cell !== 'lstm')) carried.push({ restore: () => l.restoreCarriedState(hShape, h, c ?? undefined) });
  }
  const unexpected = [...tensors.keys()].filter((k) => !used.has(k));
  if (unexpected.length) problems.push(`it holds ${unexpected.join(', ')}, which this model does not have (the training state of another model?)`);
  if (problems.length) throw new CheckpointError(source, `training state does not fit this model: ${problems.join('; ')}`);
  return () => {
    for (const [t, d] of slotWrites) ctx.write(t, d);
    opt.step = optimizerStep;
    model.step = modelStep;
    if (rng !== undefined) model.setRngState(rng);
    if (lossScale && model.lossScaler) Object.assign(model.lossScaler, lossScale);
    for (const c of carried) c.restore();
  };
}

/** Restores what encodeTrainingState saved (all or nothing). The model must be compiled with the same optimizer type. */
export function decodeTrainingStateInto(model: CheckpointModel, bytes: Uint8Array | ArrayBuffer, source = 'training state'): void {
  requireBuiltModel(model, `load ${source}`);
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  planTrainingStateLoad(model, tensors, metadata, source)();
}

/**
 * Loads a model file and, when given, its training-state file, all or nothing: both are decoded
 * and checked against the model before either is written. `opts.source` names the model file;
 * `opts.trainingStateSource` the state file.
 */
export function decodeCheckpointInto(
  model: CheckpointModel, bytes: Uint8Array | ArrayBuffer, trainingState: Uint8Array | ArrayBuffer | null,
  opts: LoadOptions & { trainingStateSource?: string } = {},
): CheckpointLoadReport {
  const { strict, source, map } = loadOptions(opts, 'checkpoint');
  const stateSource = opts.trainingStateSource ?? 'training state';
  requireBuiltModel(model, `load ${source}`);
  if (trainingState && !model.optimizer) throw new Error(`load ${stateSource}: compile the model with an optimizer before loading its training state`);
  const { tensors, metadata } = decodeTensorFile(bytes, source);
  const { writes, missing, unexpected } = planParameterLoad(model, tensors, strict, source, map);
  let applyState: (() => void) | null = null;
  if (trainingState) {
    const state = decodeSafetensors(trainingState, stateSource);
    const a = metadata.checkpoint_id, b = state.metadata.checkpoint_id;
    if (a !== undefined && b !== undefined && a !== b) {
      throw new CheckpointError(stateSource, `belongs to a different save than ${source} (checkpoint_id ${b}, the model file has ${a}); a save was interrupted between the two files`);
    }
    applyState = planTrainingStateLoad(model, state.tensors, state.metadata, stateSource);
  }
  applyParameterWrites(model, writes);
  applyState?.();
  return { metadata, missing, unexpected };
}

function isActDesc(v: unknown): v is ActDesc {
  const d = v as ActDesc;
  return typeof d === 'object' && d !== null && (d.kind === 'tokens' || d.kind === 'seq') && Number.isInteger(d.size) && d.size >= 1;
}

/**
 * Rebuilds a model from checkpoint bytes written by encodeModel / saveCheckpoint: the layers from
 * the `config` metadata, then the parameters. No code describing the architecture is needed.
 * Everything is checked before the model is built on the GPU.
 */
export function modelFromCheckpoint(ctx: GpuContext, bytes: Uint8Array | ArrayBuffer, source = 'checkpoint'): { model: Sequential; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeTensorFile(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT || !metadata.config) {
    throw new CheckpointError(source, `has no webgpu-rnn layer config in its metadata (format ${metadata.format ?? 'missing'}); build the model in code and use decodeModelInto, or modelFromPyTorch for a PyTorch state_dict`);
  }
  let config: { layers: LayerConfig[]; input: ActDesc; seed?: number; graph?: GraphConfig };
  try { config = JSON.parse(metadata.config); } catch (e) { throw new CheckpointError(source, `config metadata is not valid JSON (${(e as Error).message})`); }
  if (typeof config === 'object' && config !== null && config.graph !== undefined) {
    throw new CheckpointError(source, 'holds a graph Model (its config has inputs, nodes and outputs); rebuild it with graphModelFromCheckpoint');
  }
  if (typeof config !== 'object' || config === null || !Array.isArray(config.layers) || config.layers.length === 0 || !isActDesc(config.input)) {
    throw new CheckpointError(source, 'config metadata must be { layers: [...], input: { kind, size }, seed }');
  }
  let model: Sequential;
  try {
    model = new Sequential(config.layers.map(layerFromConfig), { seed: config.seed ?? 1 }).configure(config.input);
  } catch (e) {
    throw new CheckpointError(source, `its layer config cannot be rebuilt: ${(e as Error).message}`);
  }
  return { model: loadRebuilt(ctx, model, tensors, metadata, source), metadata };
}

/**
 * Rebuilds a graph Model from checkpoint bytes written by encodeModel / saveCheckpoint for a Model:
 * inputs, layers and wiring from the `config` metadata, then the parameters (checked first).
 */
export function graphModelFromCheckpoint(ctx: GpuContext, bytes: Uint8Array | ArrayBuffer, source = 'checkpoint'): { model: Model; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeTensorFile(bytes, source);
  let config: { graph?: GraphConfig } | null = null;
  if (metadata.format === CHECKPOINT_FORMAT && metadata.config) {
    try { config = JSON.parse(metadata.config); } catch (e) { throw new CheckpointError(source, `config metadata is not valid JSON (${(e as Error).message})`); }
  }
  if (typeof config !== 'object' || config === null || config.graph === undefined) {
    throw new CheckpointError(source, `has no graph Model config in its metadata (format ${metadata.format ?? 'missing'}); a Sequential checkpoint loads with modelFromCheckpoint`);
  }
  let model: Model;
  try {
    model = graphFromConfig(config.graph);
  } catch (e) {
    throw new CheckpointError(source, `its graph config cannot be rebuilt: ${(e as Error).message}`);
  }
  return { model: loadRebuilt(ctx, model, tensors, metadata, source), metadata };
}

/** A model rebuilt from a checkpoint's config: its parameters from the file (all checked first), then built. */
function loadRebuilt<M extends Sequential | Model>(ctx: GpuContext, model: M, tensors: Map<string, SafeTensor>, metadata: Record<string, string>, source: string): M {
  const { writes } = planParameterLoad(model, tensors, true, source);
  applyParameterWrites(model, writes); // the CPU copies: build uploads them
  model.build(ctx);
  model.step = Number(metadata.step ?? 0) || 0;
  return model;
}
