// The char-RNN of the web demo, browser-safe: vocabulary, batches, the model, and rebuilding a
// model from a checkpoint's metadata. Node imports this file too (test/browser.test.ts generates
// with it to compare against the page).
import {
  decodeSafetensors, decodeModelInto, encodeModel, Dense, Dropout, Embedding, GRU, LastStep, LSTM, OneHot, RNN,
  Rng, Sequential, type GpuContext, type Layer,
} from '../../src/index.ts';

/** Sorted distinct characters of a text. */
export function vocabOf(text: string): string[] {
  return [...new Set(text)].sort();
}

export function encodeText(text: string, vocab: string[]): Int32Array {
  const index = new Map(vocab.map((c, i) => [c, i]));
  const out = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const id = index.get(text[i]);
    if (id === undefined) throw new Error(`character ${JSON.stringify(text[i])} at ${i} is not in the model's vocabulary`);
    out[i] = id;
  }
  return out;
}

export interface CharRnnOptions {
  cell?: 'LSTM' | 'GRU' | 'RNN';
  hiddenSize?: number;
  numLayers?: number;
  embeddingDim?: number;
  seed?: number;
}

/** Embedding → LSTM/GRU/RNN → Dense over the vocabulary (per-step logits). */
export function charRnn(V: number, o: CharRnnOptions = {}): Sequential {
  const opts = { hiddenSize: o.hiddenSize ?? 128, numLayers: o.numLayers ?? 1 };
  const cell = o.cell ?? 'LSTM';
  const rnn = cell === 'GRU' ? new GRU(opts) : cell === 'RNN' ? new RNN(opts) : new LSTM(opts);
  return new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: o.embeddingDim ?? 32 }), rnn, new Dense({ units: V })], { seed: o.seed ?? 1 });
}

/** Random windows of length T+1 from the text, seeded: x = window[0..T), y = window[1..T]. */
export function randomBatch(ids: Int32Array, B: number, T: number, rng: Rng): { x: Int32Array; y: Int32Array; shape: number[] } {
  if (ids.length < T + 2) throw new Error(`the text has ${ids.length} characters; at least ${T + 2} are needed for windows of ${T}`);
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = Math.floor(rng.next() * (ids.length - T - 1));
    x.set(ids.subarray(start, start + T), b * T);
    y.set(ids.subarray(start + 1, start + T + 1), b * T);
  }
  return { x, y, shape: [B, T] };
}

type LayerConfig = Record<string, unknown> & { type: string; name?: string };

/** A layer from its `config()` JSON (as stored in a checkpoint's `config` metadata). */
export function layerFromConfig(c: LayerConfig): Layer {
  const name = c.name;
  switch (c.type) {
    case 'Embedding': return new Embedding({ numEmbeddings: c.numEmbeddings as number, embeddingDim: c.embeddingDim as number, name });
    case 'OneHot': return new OneHot(c.numClasses as number, name);
    case 'Dense': return new Dense({ units: c.units as number, inputSize: c.inputSize as number, activation: c.activation as never, bias: c.bias as boolean, name });
    case 'Dropout': return new Dropout(c.rate as number, name);
    case 'LastStep': return new LastStep(name);
    case 'LSTM': case 'GRU': case 'RNN': {
      const o = {
        hiddenSize: c.hiddenSize as number, inputSize: c.inputSize as number, numLayers: c.numLayers as number,
        bidirectional: c.bidirectional as boolean, dropout: c.dropout as number, name,
      };
      if (c.type === 'LSTM') return new LSTM({ ...o, forgetBias: c.forgetBias as number | undefined });
      if (c.type === 'GRU') return new GRU(o);
      return new RNN({ ...o, nonlinearity: c.nonlinearity as 'tanh' | 'relu' | undefined });
    }
    default: throw new Error(`checkpoint: unknown layer type ${JSON.stringify(c.type)}`);
  }
}

export interface LoadedCharRnn {
  model: Sequential;
  vocab: string[];
  metadata: Record<string, string>;
}

/**
 * Rebuilds a char-RNN from safetensors bytes written by encodeModel / saveCheckpoint: the layers
 * from the `config` metadata, the vocabulary from `vocab` (a JSON array of characters, or a JSON
 * string of them), then the parameters. Throws a readable error when something is missing.
 */
export function charRnnFromCheckpoint(ctx: GpuContext, bytes: Uint8Array, source = 'checkpoint'): LoadedCharRnn {
  const { metadata } = decodeSafetensors(bytes, source);
  if (!metadata.config) throw new Error(`${source}: no "config" in the metadata (not written by webgpu-rnn's encodeModel?)`);
  const config = JSON.parse(metadata.config) as { layers: LayerConfig[]; seed?: number };
  const rawVocab = metadata.vocab ?? metadata.chars;
  if (!rawVocab) throw new Error(`${source}: no "vocab" in the metadata: save it with encodeModel(model, { vocab: JSON.stringify(chars) })`);
  const parsed = JSON.parse(rawVocab) as string[] | string;
  const vocab = typeof parsed === 'string' ? [...parsed] : parsed;
  const model = new Sequential(config.layers.map(layerFromConfig), { seed: config.seed ?? 1 });
  model.build(ctx, { kind: 'tokens', size: vocab.length });
  try {
    decodeModelInto(model, bytes, source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (model.output.kind !== 'seq' || model.output.size !== vocab.length) {
    model.dispose();
    throw new Error(`${source}: the model outputs ${model.output.size} values per step, the vocabulary has ${vocab.length} characters`);
  }
  if (metadata.step && Number.isFinite(Number(metadata.step))) model.step = Number(metadata.step);
  return { model, vocab, metadata };
}

/** Safetensors bytes of a char-RNN with its vocabulary in the metadata. */
export function encodeCharRnn(model: Sequential, vocab: string[], extra: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeModel(model, { vocab: JSON.stringify(vocab), ...extra });
}
