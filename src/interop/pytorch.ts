// A model from a PyTorch state_dict: the architecture from a short description, or inferred from
// the tensors' names and shapes where that is unambiguous, then the weights loaded by name.
//
//   modelFromPyTorch(ctx, ptBytes, [{ embedding: 'emb' }, { lstm: 'rnn', bidirectional: true }, { linear: 'fc' }])
//
// Each entry names the module's path in the state_dict ('' for a bare nn.LSTM's own state_dict)
// and becomes one layer: nn.Embedding → Embedding, nn.LSTM / nn.GRU / nn.RNN → LSTM / GRU / RNN
// (same parameter layout and gate order; PyTorch's GRU formulation is ours), nn.Linear → Dense;
// `{ lastStep: true }` takes each row's last valid output (PyTorch's `out[:, -1]` for full-length
// rows) and `{ dropout: p }` adds dropout. Sizes, layer counts and directions come from the
// tensors; every tensor is checked against what its module needs, and an error names the tensor.

import type { GpuContext } from '../runtime/context.ts';
import { Sequential } from '../nn/model.ts';
import { Dense, Dropout, LastStep, DENSE_ACTIVATIONS } from '../nn/layers.ts';
import { Embedding } from '../nn/embedding.ts';
import { GRU, LSTM, RNN } from '../nn/recurrent.ts';
import type { Layer, ActDesc } from '../nn/layer.ts';
import type { Activation } from '../kernels/activation.ts';
import { describeValue } from '../nn/options.ts';
import { loadStateDict, type LoadReport, type StateDict } from '../train/checkpoint.ts';
import type { SafeTensor } from '../train/safetensors.ts';
import { decodeTensorFile } from './tensor-file.ts';
import { mapNames, nameMapper, type NameMapping } from './names.ts';

/** Options of a recurrent entry; sizes default to what the tensors say and, when given, must agree. */
interface RecurrentSpecOptions {
  bidirectional?: boolean;
  numLayers?: number;
  hiddenSize?: number;
  /** Dropout between stacked layers in training (PyTorch's `dropout`; not stored in a state_dict). */
  dropout?: number;
  stateful?: boolean;
  /** Our layer's name (default: the module path, or the kind for a bare state_dict). */
  name?: string;
}

/** One module of a PyTorch model, as modelFromPyTorch reads it; the string is the module's path in the state_dict. */
export type PyTorchLayerSpec =
  | { embedding: string; name?: string }
  | ({ lstm: string } & RecurrentSpecOptions)
  | ({ gru: string } & RecurrentSpecOptions)
  | ({ rnn: string; nonlinearity: 'tanh' | 'relu' } & RecurrentSpecOptions)
  | { linear: string; activation?: Activation; name?: string }
  | { lastStep: true; name?: string }
  | { dropout: number; name?: string };

export interface ModelFromPyTorchOptions extends NameMapping {
  /** Default true: every tensor in the file must be used. With false, unused tensors are ignored (reported). */
  strict?: boolean;
  /** Names the file in errors. */
  source?: string;
  /** The model's seed (dropout masks). Default 1. */
  seed?: number;
}

type Kind = 'embedding' | 'lstm' | 'gru' | 'rnn' | 'linear' | 'lastStep' | 'dropout';
const MODULE_KINDS: Kind[] = ['embedding', 'lstm', 'gru', 'rnn', 'linear', 'lastStep'];
const SPEC_KEYS: Record<Kind, string[]> = {
  embedding: ['name'], linear: ['activation', 'name'], lastStep: ['name'], dropout: ['name'],
  lstm: ['bidirectional', 'numLayers', 'hiddenSize', 'dropout', 'stateful', 'name'],
  gru: ['bidirectional', 'numLayers', 'hiddenSize', 'dropout', 'stateful', 'name'],
  rnn: ['nonlinearity', 'bidirectional', 'numLayers', 'hiddenSize', 'dropout', 'stateful', 'name'],
};
const GATES: Record<'lstm' | 'gru' | 'rnn', number> = { lstm: 4, gru: 3, rnn: 1 };
const MODULE_NAMES: Record<'lstm' | 'gru' | 'rnn', string> = { lstm: 'nn.LSTM', gru: 'nn.GRU', rnn: 'nn.RNN' };

const shapeText = (s: readonly number[]) => `(${s.join(', ')})`;
const key = (path: string, param: string) => (path ? `${path}.${param}` : param);

/** The kind of a spec: the one module key it has, else `dropout`. */
function specKind(owner: string, spec: unknown): Kind {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`${owner}: expected an object like { lstm: 'rnn' }, got ${describeValue(spec)}`);
  const kinds = MODULE_KINDS.filter((k) => k in spec);
  if (kinds.length > 1) throw new Error(`${owner}: has both ${kinds.join(' and ')}; each entry describes one module`);
  const kind = kinds[0] ?? ('dropout' in spec ? 'dropout' : undefined);
  if (!kind) throw new Error(`${owner}: names no module; expected one of ${MODULE_KINDS.map((k) => `{ ${k}: ${k === 'lastStep' ? 'true' : "'path'"} }`).join(', ')} or { dropout: 0.1 }`);
  for (const k of Object.keys(spec)) {
    if (k !== kind && !SPEC_KEYS[kind].includes(k)) throw new Error(`${owner}: unknown key ${JSON.stringify(k)} for ${kind}; the keys are ${[kind, ...SPEC_KEYS[kind]].join(', ')}`);
  }
  return kind;
}

/** Tensors by name, with checks that name the tensor. */
class TensorSource {
  readonly used = new Set<string>();
  constructor(readonly tensors: Map<string, SafeTensor>, readonly source: string) {}
  has(name: string): boolean { return this.tensors.has(name); }
  get(owner: string, name: string, rank: number, hint = ''): SafeTensor {
    const t = this.tensors.get(name);
    if (!t) {
      const near = [...this.tensors.keys()].slice(0, 8);
      throw new Error(`${owner}: ${this.source} has no tensor ${name}${hint} (it holds ${near.join(', ')}${this.tensors.size > near.length ? ', …' : ''})`);
    }
    if (t.shape.length !== rank) throw new Error(`${owner}: ${name} has shape ${shapeText(t.shape)}, expected ${rank} dimensions`);
    this.used.add(name);
    return t;
  }
  expect(owner: string, name: string, shape: number[], why: string): void {
    const t = this.get(owner, name, shape.length, why.startsWith(' (') ? why : '');
    if (t.shape.some((d, i) => d !== shape[i])) throw new Error(`${owner}: ${name} has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}${why}`);
  }
}

/** Builds the layers a description gives, checking each module's tensors; returns them with the model's input and the file → model name map. */
function layersFrom(src: TensorSource, description: readonly PyTorchLayerSpec[], inferred: boolean): { layers: Layer[]; input: ActDesc; rename: Record<string, string> } {
  if (!Array.isArray(description) || description.length === 0) throw new Error(`modelFromPyTorch: the description must be a non-empty array like [{ lstm: 'rnn' }, { linear: 'fc' }], got ${describeValue(description)}`);
  const layers: Layer[] = [];
  const rename: Record<string, string> = {};
  let input: ActDesc | null = null;
  /** What the previous layer gives: its kind and feature size. */
  let features: { kind: 'seq' | 'vec'; size: number; from: string } | null = null;
  const orderHint = inferred ? ' (the order of the modules was inferred from the file; pass a description to give it)' : '';
  const takeName = (path: string, ourName: string, params: string[]) => { for (const p of params) rename[key(path, p)] = `${ourName}.${p}`; };

  description.forEach((spec, i) => {
    const owner = `modelFromPyTorch: description[${i}]`;
    const kind = specKind(owner, spec);
    const s = spec as Record<string, unknown>;
    if (kind === 'dropout' || kind === 'lastStep') {
      if (!features) throw new Error(`${owner}: ${kind} cannot come first; it needs a sequence from a previous module`);
      if (kind === 'lastStep') {
        if (s.lastStep !== true) throw new Error(`${owner}: lastStep must be true, got ${describeValue(s.lastStep)}`);
        if (features.kind !== 'seq') throw new Error(`${owner}: lastStep needs a sequence, but ${features.from} already gives one vector per row`);
        layers.push(new LastStep(s.name as string | undefined));
        features = { ...features, kind: 'vec' };
      } else layers.push(new Dropout(s.dropout as number, (s.name as string | undefined) ?? `dropout${i}`));
      return;
    }
    const path = s[kind];
    if (typeof path !== 'string') throw new Error(`${owner}: ${kind} must be the module's path in the state_dict as a string (e.g. 'rnn', or '' for a bare module's own state_dict), got ${describeValue(path)}`);
    const ourName = (s.name as string | undefined) ?? (path || kind);
    const label = `${owner} (${kind} ${JSON.stringify(path)})`;
    if (kind === 'embedding') {
      if (features) throw new Error(`${label}: an embedding must be the first module; it takes token ids`);
      const w = src.get(label, key(path, 'weight'), 2);
      const [V, E] = w.shape;
      layers.push(new Embedding({ numEmbeddings: V, embeddingDim: E, name: ourName }));
      takeName(path, ourName, ['weight']);
      input = { kind: 'tokens', size: V };
      features = { kind: 'seq', size: E, from: key(path, 'weight') };
      return;
    }
    if (kind === 'linear') {
      const wName = key(path, 'weight');
      const w = src.get(label, wName, 2);
      const [out, inp] = w.shape;
      if (features && features.size !== inp) throw new Error(`${label}: ${wName} has shape ${shapeText(w.shape)}: it takes ${inp} features, but ${features.from} gives ${features.size}${orderHint}`);
      const bias = src.has(key(path, 'bias'));
      if (bias) src.expect(label, key(path, 'bias'), [out], ` (nn.Linear's bias, one per output of ${wName})`);
      const activation = s.activation as Activation | undefined;
      if (activation !== undefined && !DENSE_ACTIVATIONS.includes(activation)) throw new Error(`${label}: activation must be one of ${DENSE_ACTIVATIONS.join(', ')}, got ${describeValue(activation)}`);
      layers.push(new Dense({ units: out, inputSize: inp, bias, activation, name: ourName }));
      takeName(path, ourName, bias ? ['weight', 'bias'] : ['weight']);
      if (!input) input = { kind: 'seq', size: inp };
      features = { kind: features?.kind ?? 'seq', size: out, from: wName };
      return;
    }
    // nn.LSTM / nn.GRU / nn.RNN
    const cell = kind;
    const module = MODULE_NAMES[cell];
    const g = GATES[cell];
    if (src.has(key(path, 'weight_hr_l0'))) throw new Error(`${label}: ${key(path, 'weight_hr_l0')} belongs to an LSTM with proj_size, which is not supported`);
    const hhName = key(path, 'weight_hh_l0');
    const whh = src.get(label, hhName, 2, ` (an ${module} has weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)`);
    const [G, H] = whh.shape;
    if (G !== g * H) {
      const actual = (Object.keys(GATES) as ('lstm' | 'gru' | 'rnn')[]).find((c) => G === GATES[c] * H);
      throw new Error(`${label}: ${hhName} has shape ${shapeText(whh.shape)}; an ${module} needs (${g === 1 ? '' : `${g}·`}H, H)${actual ? `: this is an ${MODULE_NAMES[actual]}'s, describe it as { ${actual}: ${JSON.stringify(path)} }` : ''}`);
    }
    let L = 0;
    while (src.has(key(path, `weight_ih_l${L}`))) L++;
    const D = src.has(key(path, 'weight_ih_l0_reverse')) ? 2 : 1;
    const given = { numLayers: s.numLayers, hiddenSize: s.hiddenSize, bidirectional: s.bidirectional };
    if (given.numLayers !== undefined && given.numLayers !== L) throw new Error(`${label}: numLayers ${JSON.stringify(given.numLayers)} given, but the state_dict has ${L} layer(s) (${key(path, `weight_ih_l${L - 1}`)} is the last)`);
    if (given.hiddenSize !== undefined && given.hiddenSize !== H) throw new Error(`${label}: hiddenSize ${JSON.stringify(given.hiddenSize)} given, but ${hhName} has shape ${shapeText(whh.shape)} (H = ${H})`);
    if (given.bidirectional !== undefined && given.bidirectional !== (D === 2)) throw new Error(`${label}: bidirectional ${JSON.stringify(given.bidirectional)} given, but the state_dict ${D === 2 ? 'has' : 'has no'} ${key(path, 'weight_ih_l0_reverse')}`);
    const I = src.get(label, key(path, 'weight_ih_l0'), 2).shape[1];
    if (features && features.kind !== 'seq') throw new Error(`${label}: an ${module} needs a sequence, but ${features.from} gives one vector per row`);
    if (features && features.size !== I) throw new Error(`${label}: ${key(path, 'weight_ih_l0')} takes ${I} input features, but ${features.from} gives ${features.size}${orderHint}`);
    const params: string[] = [];
    for (let l = 0; l < L; l++) {
      for (let d = 0; d < D; d++) {
        const sfx = `_l${l}${d ? '_reverse' : ''}`;
        const inSize = l === 0 ? I : H * D;
        const why = ` (an ${module} with hidden size ${H}${D === 2 ? ', bidirectional' : ''}: weight_ih_l${l} is (${g === 1 ? '' : `${g}·`}H, ${l === 0 ? 'input size' : D === 2 ? '2·H' : 'H'}))`;
        src.expect(label, key(path, `weight_ih${sfx}`), [G, inSize], why);
        src.expect(label, key(path, `weight_hh${sfx}`), [G, H], why);
        for (const b of ['bias_ih', 'bias_hh']) {
          if (!src.has(key(path, `${b}${sfx}`))) throw new Error(`${label}: ${src.source} has no ${key(path, `${b}${sfx}`)}; an ${module}(bias=False) is not supported (our recurrent layers always have biases)`);
          src.expect(label, key(path, `${b}${sfx}`), [G], why);
        }
        params.push(`weight_ih${sfx}`, `weight_hh${sfx}`, `bias_ih${sfx}`, `bias_hh${sfx}`);
      }
    }
    if (src.has(key(path, `weight_ih_l${L}_reverse`))) throw new Error(`${label}: ${key(path, `weight_ih_l${L}_reverse`)} has no forward layer ${L}`);
    const o = { hiddenSize: H, inputSize: I, numLayers: L, bidirectional: D === 2, dropout: s.dropout as number | undefined, stateful: s.stateful as boolean | undefined, name: ourName };
    if (cell === 'rnn') {
      if (s.nonlinearity === undefined) throw new Error(`${label}: nonlinearity is required for an nn.RNN ('tanh' or 'relu'): it is not stored in the state_dict`);
      layers.push(new RNN({ ...o, nonlinearity: s.nonlinearity as 'tanh' | 'relu' }));
    } else layers.push(cell === 'lstm' ? new LSTM(o) : new GRU(o));
    takeName(path, ourName, params);
    if (!input) input = { kind: 'seq', size: I };
    features = { kind: 'seq', size: H * D, from: `${path || kind} (${D === 2 ? 'bidirectional, 2·H' : 'H'} = ${H * D})` };
  });
  if (!input) throw new Error('modelFromPyTorch: the description has no module with weights');
  return { layers, input, rename };
}

/** The recurrent parameter names of PyTorch: weight_ih_l0, bias_hh_l1_reverse, … */
const RECURRENT_PARAM = /^(?:(.*)\.)?(?:weight|bias)_(?:ih|hh|hr)_l\d+(?:_reverse)?$/;
const PLAIN_PARAM = /^(?:(.*)\.)?(weight|bias)$/;

/**
 * Infers the description of a state_dict from its names and shapes, in the file's order:
 * `weight_ih_l{k}` groups are nn.LSTM (4H gates), nn.GRU (3H) or nn.RNN (H, whose nonlinearity
 * cannot be inferred: that is an error asking for a description); a first module with only a
 * 2-D `weight` is an nn.Embedding; `weight` (+ `bias`) elsewhere is an nn.Linear. Anything else
 * is an error naming the tensor. Many-to-one heads (`lastStep`) and dropout are not stored in a
 * state_dict: describe them.
 */
export function describePyTorchStateDict(tensors: Map<string, SafeTensor> | StateDict, source = 'state_dict'): PyTorchLayerSpec[] {
  const entries: [string, { shape: number[] }][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const groups = new Map<string, { recurrent: boolean; names: string[] }>();
  for (const [name] of entries) {
    const r = RECURRENT_PARAM.exec(name), p = r ? null : PLAIN_PARAM.exec(name);
    if (!r && !p) throw new Error(`${source}: cannot tell which module ${name} belongs to; modelFromPyTorch reads nn.Embedding, nn.LSTM, nn.GRU, nn.RNN and nn.Linear weights (pass { prefix: { strip } } or strict: false for other entries)`);
    const path = (r ?? p)![1] ?? '';
    const g = groups.get(path) ?? { recurrent: !!r, names: [] };
    if (g.recurrent !== !!r) throw new Error(`${source}: module ${JSON.stringify(path)} mixes recurrent weights with ${name}`);
    g.names.push(name);
    groups.set(path, g);
  }
  const shapeOf = new Map(entries.map(([n, t]) => [n, t.shape]));
  const out: PyTorchLayerSpec[] = [];
  let first = true;
  for (const [path, g] of groups) {
    if (g.recurrent) {
      const whh = shapeOf.get(key(path, 'weight_hh_l0'));
      if (!whh || whh.length !== 2) throw new Error(`${source}: module ${JSON.stringify(path)} has recurrent weights but no 2-D ${key(path, 'weight_hh_l0')}`);
      const ratio = whh[0] / whh[1];
      const bidirectional = g.names.some((n) => n.endsWith('_reverse'));
      if (ratio === 4) out.push({ lstm: path, bidirectional });
      else if (ratio === 3) out.push({ gru: path, bidirectional });
      else if (ratio === 1) throw new Error(`${source}: ${key(path, 'weight_hh_l0')} ${shapeText(whh)} is an nn.RNN's, whose nonlinearity (tanh or relu) a state_dict does not store; pass a description, e.g. [{ rnn: ${JSON.stringify(path)}, nonlinearity: 'tanh' }, …]`);
      else throw new Error(`${source}: ${key(path, 'weight_hh_l0')} has shape ${shapeText(whh)}: its rows are not 4·H (LSTM), 3·H (GRU) or H (RNN)`);
    } else {
      const w = shapeOf.get(key(path, 'weight'));
      const hasBias = g.names.includes(key(path, 'bias'));
      if (!w || w.length !== 2) throw new Error(`${source}: module ${JSON.stringify(path)} has ${w ? `a ${w.length}-D weight ${shapeText(w)}` : 'no weight'}; only nn.Embedding (V, E) and nn.Linear (out, in) are read`);
      out.push(first && !hasBias ? { embedding: path } : { linear: path });
    }
    first = false;
  }
  if (!out.length) throw new Error(`${source}: holds no tensors`);
  return out;
}

/**
 * Builds a model from a PyTorch state_dict (torch.save or safetensors bytes, or decoded tensors)
 * and a description of its modules (see PyTorchLayerSpec), or without one, inferred by
 * describePyTorchStateDict. Every tensor is checked before the model is built; the model comes
 * back built on `ctx` with the file's weights, its layers named after the module paths, so that
 * its own checkpoints load back into the PyTorch module. With `strict` (the default) a tensor the
 * description does not use is an error; `prefix` / `rename` map the file's names first (e.g.
 * `{ prefix: { strip: 'model.' } }`).
 */
export function modelFromPyTorch(
  ctx: GpuContext, stateDict: Uint8Array | ArrayBuffer | Map<string, SafeTensor> | StateDict,
  description?: readonly PyTorchLayerSpec[], opts: ModelFromPyTorchOptions = {},
): { model: Sequential; description: PyTorchLayerSpec[]; report: LoadReport } {
  if (typeof opts !== 'object' || opts === null) throw new Error(`modelFromPyTorch: options must be an object like { strict: false }, got ${describeValue(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!['strict', 'source', 'seed', 'prefix', 'rename'].includes(k)) throw new Error(`modelFromPyTorch: unknown option ${JSON.stringify(k)}; the options are strict, source, seed, prefix, rename`);
  }
  const source = opts.source ?? 'state_dict';
  const strict = opts.strict ?? true;
  if (typeof strict !== 'boolean') throw new Error(`modelFromPyTorch: option strict must be a boolean, got ${describeValue(strict)}`);
  let tensors: Map<string, SafeTensor>;
  if (stateDict instanceof Uint8Array || stateDict instanceof ArrayBuffer) tensors = decodeTensorFile(stateDict, source).tensors;
  else if (stateDict instanceof Map) tensors = stateDict;
  else if (typeof stateDict === 'object' && stateDict !== null) tensors = new Map(Object.entries(stateDict).map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }]));
  else throw new Error(`modelFromPyTorch: expected the bytes of a .pt or .safetensors file, or a state dict, got ${describeValue(stateDict)}`);
  const map = nameMapper(`modelFromPyTorch ${source}`, opts);
  if (map) tensors = mapNames(`modelFromPyTorch ${source}`, tensors, map).mapped;
  const used = description ?? describePyTorchStateDict(tensors, source);
  const src = new TensorSource(tensors, source);
  const { layers, input, rename } = layersFrom(src, used, !description);
  const unused = [...tensors.keys()].filter((k) => !src.used.has(k));
  if (strict && unused.length) throw new Error(`modelFromPyTorch: ${source} holds tensors the description does not use: ${unused.join(', ')} (describe their modules, or pass strict: false to ignore them)`);
  const model = new Sequential(layers, opts.seed === undefined ? {} : { seed: opts.seed }).configure(input);
  model.build(ctx);
  try {
    const loaded = new Map([...tensors].filter(([k]) => src.used.has(k)));
    loadStateDict(model, loaded, { rename, source });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, description: [...used], report: { missing: [], unexpected: unused } };
}
