// Generation: prime the model with a sequence, then sample one token at a time with temperature
// and top-k (the tutorial's get_top_char keeps the top 5), seeded and reproducible.
//
// Two engines:
//   'gpu'   the whole loop on the GPU (shaders/generate.wgsl): token → input → every recurrent layer →
//           dense head → softmax → sample, many steps per dispatch; only the ids are read back. For
//           models of the shape [Embedding | OneHot] → (unidirectional LSTM/GRU/RNN | Dropout)… →
//           Dense without activation; draws come from the GPU's hash PRNG (seed, row, step).
//   'steps' any token-in, logits-out model: one model.forward per token, the last logits row read
//           back and sampled on the CPU (draws from the CPU Rng), so one readback per token.
// 'auto' (default) picks 'gpu' where the model fits. The two engines draw different random numbers,
// so the same seed gives different (each reproducible) text.
import type { Sequential } from '../nn/model.ts';
import { Dense, Dropout } from '../nn/layers.ts';
import { Embedding, OneHot } from '../nn/embedding.ts';
import { Recurrent } from '../nn/recurrent.ts';
import type { Layer, Parameter } from '../nn/layer.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { packGenerator, runGenerator, type GeneratorSpec } from '../kernels/generate.ts';
import { Rng } from '../cpu/random.ts';
import { sampleWithUniform } from '../cpu/generate.ts';
import { checkOptionsObject, describeValue } from '../nn/options.ts';
import { requireBuiltModel } from './checkpoint.ts';

export interface SampleOptions {
  /** Softmax temperature: a finite number > 0. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens: an integer in [0, V], where 0 (the default) and V both mean all. */
  topK?: number;
}

function checkTemperature(op: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || !(t > 0)) throw new Error(`${op}: temperature must be positive and finite (e.g. 0.8), got ${describeValue(t)}`);
  return t;
}

function checkTopK(op: string, k: unknown, V: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > V) {
    throw new Error(`${op}: topK must be an integer in [0, ${V}] (the vocabulary size; 0 samples from all), got ${describeValue(k)}`);
  }
  return k;
}

/** Samples an index from logits with temperature and top-k, using `rng` (the GPU kernel's rule). */
export function sampleLogits(logits: ArrayLike<number>, rng: Rng, o: SampleOptions = {}): number {
  const temperature = checkTemperature('sample', o.temperature ?? 1);
  return sampleWithUniform(logits, rng.next(), temperature, checkTopK('sample', o.topK ?? 0, logits.length));
}

/** Where the generation loop runs (see the file header). */
export type GenerateEngine = 'auto' | 'gpu' | 'steps';

export interface GenerateOptions extends SampleOptions {
  /** Token ids to start from (at least one), each an integer in [0, V). */
  prime: Int32Array | number[];
  /** How many tokens to generate after the prime: a positive integer. */
  length: number;
  /** Seeds the draws (an integer; default 1): the same seed gives the same tokens. */
  seed?: number;
  /** Called with each new token as it is produced (streaming; with the 'gpu' engine tokens
   *  arrive a chunk of `stepsPerDispatch` at a time). */
  onToken?: (id: number, index: number) => void;
  /** Default 'auto': 'gpu' where the model fits, else 'steps'. */
  engine?: GenerateEngine;
  /** 'gpu' engine: steps per dispatch (default 128, or 32 when streaming). */
  stepsPerDispatch?: number;
}

function param(layer: Layer, name: string): Tensor {
  const p = layer.parameters().find((q: Parameter) => q.name === name);
  if (!p?.value) throw new Error(`generate: ${layer.name} has no built parameter ${name}`);
  return p.value;
}

/**
 * The on-GPU generator's description of `model`, or a sentence saying why the model does not fit
 * it: [Embedding | OneHot] → (unidirectional recurrent layers | Dropout)… → Dense without activation.
 */
export function generatorSpecOf(model: Sequential): GeneratorSpec | string {
  const layers = model.layers;
  const first = layers[0], last = layers[layers.length - 1];
  let input: GeneratorSpec['input'];
  if (first instanceof Embedding) input = { embedding: param(first, 'weight') };
  else if (first instanceof OneHot) input = { oneHot: first.numClasses };
  else return 'the first layer is not Embedding or OneHot';
  if (!(last instanceof Dense) || last.activation) return 'the last layer is not a Dense layer without activation';
  const spec: GeneratorSpec = { input, layers: [], head: { weight: param(last, 'weight'), bias: last.useBias ? param(last, 'bias') : undefined } };
  for (const layer of layers.slice(1, -1)) {
    if (layer instanceof Dropout) continue; // identity at inference
    if (!(layer instanceof Recurrent)) return `${layer.name} is not a recurrent or dropout layer`;
    if (layer.bidirectional) return `${layer.name} is bidirectional`;
    const cell = layer.cell === 'rnn' ? (layer.nonlinearity === 'relu' ? 'rnn_relu' : 'rnn_tanh') : layer.cell;
    for (let l = 0; l < layer.numLayers; l++) {
      spec.layers.push({
        cell, weightIh: param(layer, `weight_ih_l${l}`), weightHh: param(layer, `weight_hh_l${l}`),
        biasIh: param(layer, `bias_ih_l${l}`), biasHh: param(layer, `bias_hh_l${l}`),
        ...(layer.cell === 'rnn' ? {} : { activation: layer.activation, recurrentActivation: layer.recurrentActivation }),
        ...(layer.peepholes ? { peephole: param(layer, `weight_peephole_l${l}`) } : {}),
        ...(layer.cell === 'gru' ? { resetAfter: layer.resetAfter } : {}),
      });
    }
  }
  if (spec.layers.length === 0) return 'there is no recurrent layer';
  // A model stored in f16 (every recurrent layer and the head) generates from f16 weights too.
  const recurrent = layers.filter((l): l is Recurrent => l instanceof Recurrent);
  if (last.precision === 'f16' && recurrent.every((l) => l.precision === 'f16')) spec.precision = 'f16';
  return spec;
}

/**
 * Generates `length` tokens after `prime` from a model whose input is token ids and whose output
 * is per-step logits. States of every recurrent layer are carried between steps; the model's own
 * stateful carry is reset before and after.
 */
export async function generate(model: Sequential, o: GenerateOptions): Promise<Int32Array> {
  checkOptionsObject('generate', o, GENERATE_OPTIONS, '{ prime: [0], length: 100 }');
  return (await generateSamples(model, { ...o, samples: 1 }))[0];
}

const GENERATE_OPTIONS = ['prime', 'length', 'seed', 'onToken', 'engine', 'stepsPerDispatch', 'temperature', 'topK'] as const;

/** Every generation option checked (and the prime copied) before anything is recorded. */
function checkGenerateOptions(model: Sequential, o: GenerateOptions & { samples: number }): { prime: Int32Array; temperature: number; topK: number; seed: number; engine: GenerateEngine } {
  const op = 'generate';
  checkOptionsObject(op, o, [...GENERATE_OPTIONS, 'samples'], '{ prime: [0], length: 100 }');
  requireBuiltModel(model, op);
  if (model.input.kind !== 'tokens') throw new Error('generate: the model must take token ids (start with Embedding or OneHot)');
  if (model.output.kind !== 'seq') throw new Error('generate: the model must output per-step logits (no LastStep)');
  const vIn = model.input.size, V = model.output.size;
  if (V > vIn) throw new Error(`generate: the model outputs ${V} scores per step but takes token ids in [0, ${vIn}): sampled ids could not be fed back`);
  const raw = o.prime as unknown;
  if (!Array.isArray(raw) && !(ArrayBuffer.isView(raw) && !(raw instanceof DataView))) {
    throw new Error(`generate: prime must be an array of token ids (e.g. [3, 1, 4] or an Int32Array), got ${describeValue(raw)}`);
  }
  const ids = raw as ArrayLike<unknown>;
  if (ids.length === 0) throw new Error('generate: prime must contain at least one token (an array of token ids in [0, V))');
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vIn) throw new Error(`generate: prime[${i}] = ${describeValue(v)} is not a token id in [0, ${vIn - 1}] (expected an integer)`);
  }
  if (typeof o.length !== 'number' || !Number.isInteger(o.length) || o.length < 1) throw new Error(`generate: length must be a positive integer (the number of tokens to generate), got ${describeValue(o.length)}`);
  if (typeof o.samples !== 'number' || !Number.isInteger(o.samples) || o.samples < 1) throw new Error(`generate: samples must be a positive integer, got ${describeValue(o.samples)}`);
  const temperature = checkTemperature(op, o.temperature ?? 1);
  const topK = checkTopK(op, o.topK ?? 0, V);
  const seed = o.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new Error(`generate: seed must be an integer, got ${describeValue(seed)}`);
  const engine = o.engine ?? 'auto';
  if (!['auto', 'gpu', 'steps'].includes(engine)) throw new Error(`generate: engine must be 'auto', 'gpu' or 'steps', got ${describeValue(engine)}`);
  if (o.stepsPerDispatch !== undefined && (typeof o.stepsPerDispatch !== 'number' || !Number.isInteger(o.stepsPerDispatch) || o.stepsPerDispatch < 1)) {
    throw new Error(`generate: stepsPerDispatch must be a positive integer, got ${describeValue(o.stepsPerDispatch)}`);
  }
  if (o.onToken !== undefined && typeof o.onToken !== 'function') throw new Error(`generate: onToken must be a function (id, index) => void, got ${describeValue(o.onToken)}`);
  return { prime: Int32Array.from(ids as ArrayLike<number>), temperature, topK, seed, engine };
}

/**
 * Like `generate`, for `samples` independent continuations of the same prime (rows of one batch
 * on the GPU engine; the 'steps' engine runs them one after another).
 */
export async function generateSamples(model: Sequential, o: GenerateOptions & { samples: number }): Promise<Int32Array[]> {
  const { prime, temperature, topK, seed, engine } = checkGenerateOptions(model, o);
  const ctx = model.context;
  const spec = engine === 'steps' ? 'the steps engine was asked for' : generatorSpecOf(model);
  if (typeof spec !== 'string') {
    const g = packGenerator(ctx, spec);
    try {
      const { tokens } = await runGenerator(ctx, g, {
        prime, length: o.length, samples: o.samples, seed, temperature, topK,
        stepsPerDispatch: o.stepsPerDispatch ?? (o.onToken ? 32 : 128),
        onTokens: o.onToken ? (rows, first) => rows[0].forEach((id, k) => o.onToken!(id, first + k)) : undefined,
      });
      return tokens;
    } finally {
      g.release();
    }
  }
  if (engine === 'gpu') throw new Error(`generate: the 'gpu' engine cannot run this model: ${spec}`);
  const out: Int32Array[] = [];
  const rng = new Rng(seed);
  for (let r = 0; r < o.samples; r++) out.push(await generateSteps(model, prime, { ...o, temperature, topK }, rng, r === 0 ? o.onToken : undefined));
  return out;
}

/** The 'steps' engine: one forward per token, the last logits row read back and sampled on the CPU. */
async function generateSteps(model: Sequential, prime: Int32Array, o: GenerateOptions, rng: Rng, onToken?: (id: number, index: number) => void): Promise<Int32Array> {
  const ctx = model.context;
  const V = model.output.size;
  const layers = model.recurrentLayers();
  model.resetStates();
  const out = new Int32Array(o.length);
  let input = prime;
  for (let i = 0; i <= o.length; i++) {
    if (i > 0) for (const l of layers) l.setInitialState(l.finalState());
    const { out: act } = model.forward({ x: input, shape: [1, input.length] }, { training: false });
    if (i === o.length) break;
    const bytes = await ctx.readBytes(act.t.buffer, (input.length - 1) * V * 4, V * 4);
    const next = sampleLogits(new Float32Array(bytes), rng, o);
    out[i] = next;
    onToken?.(next, i);
    input = Int32Array.of(next);
  }
  for (const l of layers) l.setInitialState(null);
  model.resetStates();
  return out;
}

/** Argmax over the last dimension of row-major (…, V) scores: one class id per row. */
export function argmaxDecode(data: ArrayLike<number>, V: number): Int32Array {
  if (!Number.isInteger(V) || V < 1 || data.length % V !== 0) throw new Error(`argmaxDecode: ${data.length} values are not rows of ${V}`);
  const out = new Int32Array(data.length / V);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (data[r * V + v] > data[r * V + best]) best = v;
    out[r] = best;
  }
  return out;
}
