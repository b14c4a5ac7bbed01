// The char-RNN of the web demo, browser-safe: vocabulary, batches, the model, and rebuilding a
// model from a checkpoint's metadata. Node imports this file too (test/browser.test.ts generates
// with it to compare against the page).
import {
  decodeSafetensors, decodeModelInto, encodeModel, Dense, Dropout, Embedding, GRU, LastStep, LSTM, OneHot, RNN,
  Rng, Sequential, type GpuContext, type Layer,
} from '../../src/index.ts';

// A character is a Unicode code point (what for…of yields), not a UTF-16 unit: an emoji is one
// token, and the vocabulary, the encoding and the decoding all agree on that.

/** Sorted distinct characters (code points) of a text. */
export function vocabOf(text: string): string[] {
  return [...new Set(text)].sort();
}

/** The number of characters (code points) of a text, which is its number of tokens. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** One id per character (code point); throws naming the first character not in `vocab`. */
export function encodeText(text: string, vocab: string[]): Int32Array {
  const index = new Map(vocab.map((c, i) => [c, i]));
  const chars = Array.from(text);
  const out = new Int32Array(chars.length);
  for (let i = 0; i < chars.length; i++) {
    const id = index.get(chars[i]);
    if (id === undefined) {
      throw new Error(`character ${JSON.stringify(chars[i])} at position ${i} is not in the model's vocabulary ` +
        `(expected one of its ${vocab.length} characters)`);
    }
    out[i] = id;
  }
  return out;
}

/** The text of token ids (the inverse of encodeText). */
export function decodeText(ids: ArrayLike<number>, vocab: string[]): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) s += vocab[ids[i]] ?? '\uFFFD';
  return s;
}

/** The distinct characters of `text` that `vocab` lacks, in order of first appearance. */
export function unseenCharacters(text: string, vocab: string[]): string[] {
  const known = new Set(vocab);
  const unseen = new Set<string>();
  for (const c of text) if (!known.has(c)) unseen.add(c);
  return [...unseen];
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

/** The settings the page offers, as a model built by `charRnn` or loaded from a checkpoint has them. */
export interface CharRnnSettings {
  cell: 'LSTM' | 'GRU' | 'RNN';
  hiddenSize: number;
  numLayers: number;
}

/** The recurrent layer's settings of a model, or null when it has no recurrent layer. */
export function settingsOf(model: Sequential): CharRnnSettings | null {
  const rnn = model.layers.map((l) => l.config()).find((c) => ['LSTM', 'GRU', 'RNN'].includes(String(c.type)));
  if (!rnn) return null;
  return { cell: rnn.type as CharRnnSettings['cell'], hiddenSize: Number(rnn.hiddenSize), numLayers: Number(rnn.numLayers) };
}

/** The layers in one line, e.g. `Embedding 65→32 → LSTM 128 × 2 layers → Dense 65`. */
export function describeLayers(model: Sequential): string {
  return model.layers.map((l) => {
    const c = l.config();
    switch (c.type) {
      case 'Embedding': return `Embedding ${String(c.numEmbeddings)}→${String(c.embeddingDim)}`;
      case 'OneHot': return `one-hot ${String(c.numClasses)}`;
      case 'Dense': return `Dense ${String(c.units)}`;
      case 'Dropout': return `Dropout ${String(c.rate)}`;
      case 'LSTM': case 'GRU': case 'RNN': {
        const layers = Number(c.numLayers);
        return `${String(c.type)} ${String(c.hiddenSize)}${layers > 1 ? ` × ${layers} layers` : ''}`;
      }
      default: return String(c.type);
    }
  }).join(' → ');
}

/** A new, untrained model with the same layers as `model` (for warming up kernels on scratch buffers). */
export function sameArchitecture(model: Sequential): Sequential {
  return new Sequential(model.layers.map((l) => layerFromConfig(l.config() as LayerConfig)), { seed: 1 });
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
  const notOne = `not a webgpu-rnn checkpoint (.safetensors): ${source}`;
  const why = whyNotSafetensors(bytes);
  if (why) throw new Error(`${notOne} ${why}; pick a .safetensors file saved by this page or by saveCheckpoint in Node`);
  const { metadata } = decodeSafetensors(bytes, source);
  if (!metadata.config) throw new Error(`${notOne} has no "config" in its metadata, expected the layer list that webgpu-rnn's encodeModel writes`);
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

/**
 * Why `bytes` cannot be a safetensors file, judged from its first bytes (an 8-byte little-endian
 * header length, then that many bytes of JSON opening with "{"), or null when they look like one.
 * Catches a text file or an image picked by mistake before its first bytes are read as a length.
 */
export function whyNotSafetensors(bytes: Uint8Array): string | null {
  if (bytes.length < 10) return `is only ${bytes.length} bytes long, too short for a safetensors header`;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength <= BigInt(bytes.length - 8) && bytes[8] === 0x7b /* { */) return null;
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 48));
  const printable = [...head].filter((c) => c >= ' ' || c === '\n' || c === '\t').length >= head.length * 0.9;
  const looksLike = printable
    ? `begins with the text ${JSON.stringify(head.length >= 40 ? `${head.slice(0, 40)}…` : head)}`
    : `begins with the bytes ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
  return `${looksLike}, not with a safetensors header (an 8-byte length, then JSON)`;
}

/** Safetensors bytes of a char-RNN with its vocabulary in the metadata. */
export function encodeCharRnn(model: Sequential, vocab: string[], extra: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeModel(model, { vocab: JSON.stringify(vocab), ...extra });
}
