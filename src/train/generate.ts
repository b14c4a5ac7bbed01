// Generation: prime the model with a sequence, then sample one token at a time with temperature
// and top-k (the tutorial's get_top_char keeps the top 5), seeded and reproducible. The recurrent
// states are carried on the GPU from step to step; only the last logits row is read back.
import type { Sequential } from '../nn/model.ts';
import { Rng } from '../cpu/random.ts';

export interface SampleOptions {
  /** Softmax temperature (> 0). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = all). Default 0. */
  topK?: number;
}

/** Samples an index from logits with temperature and top-k, using `rng`. */
export function sampleLogits(logits: ArrayLike<number>, rng: Rng, o: SampleOptions = {}): number {
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`sample: temperature must be positive, got ${temperature}`);
  const V = logits.length;
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  let idx = Array.from({ length: V }, (_, i) => i);
  if (k < V) idx = idx.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, k);
  let max = -Infinity;
  for (const i of idx) max = Math.max(max, logits[i] / temperature);
  const p = idx.map((i) => Math.exp(logits[i] / temperature - max));
  const total = p.reduce((a, b) => a + b, 0);
  let u = rng.next() * total;
  for (let j = 0; j < idx.length; j++) {
    u -= p[j];
    if (u < 0) return idx[j];
  }
  return idx[idx.length - 1];
}

export interface GenerateOptions extends SampleOptions {
  /** Token ids to start from (at least one). */
  prime: Int32Array | number[];
  /** How many tokens to generate after the prime. */
  length: number;
  seed?: number;
  /** Called with each new token as it is produced (streaming). */
  onToken?: (id: number, index: number) => void;
}

/**
 * Generates `length` tokens after `prime` from a model whose input is token ids and whose output
 * is per-step logits. States of every recurrent layer are carried between steps; the model's own
 * stateful carry is reset before and after.
 */
export async function generate(model: Sequential, o: GenerateOptions): Promise<Int32Array> {
  const ctx = model.context;
  if (model.input.kind !== 'tokens') throw new Error('generate: the model must take token ids (start with Embedding or OneHot)');
  if (model.output.kind !== 'seq') throw new Error('generate: the model must output per-step logits (no LastStep)');
  const prime = Int32Array.from(o.prime);
  if (prime.length === 0) throw new Error('generate: prime must contain at least one token');
  if (!Number.isInteger(o.length) || o.length < 0) throw new Error(`generate: length must be a non-negative integer, got ${o.length}`);
  const V = model.output.size;
  const rng = new Rng(o.seed ?? 1);
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
    o.onToken?.(next, i);
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
