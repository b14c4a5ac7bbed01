// CPU reference for on-GPU generation (shaders/generate.wgsl), float64: each step runs every layer
// with the sequence references of this folder at T = 1 (lstmForward, gruForward, rnnForward, with
// each layer's cell options), then
// the dense head, then samples with the kernel's uniform draw u(seed, row, step) in the kernel's
// order (all ids ascending, or the top k descending with ties to the lower id).
import { lstmForward, type LstmCellOptions } from './lstm.ts';
import { gruForward, type GruCellOptions } from './gru.ts';
import { rnnForward } from './rnn.ts';
import { hashU32, randUniform } from './seq.ts';

type Arr = ArrayLike<number>;

export interface CpuGeneratorLayer {
  cell: 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';
  weight_ih: Arr; weight_hh: Arr; bias_ih: Arr; bias_hh: Arr;
  /** LSTM with peepholes: (3, H), rows p_i, p_f, p_o. */
  weight_peephole?: Arr;
  hiddenSize: number;
  /** LSTM/GRU options (activations; GRU's resetAfter); absent = the defaults. */
  options?: LstmCellOptions & GruCellOptions;
}

export interface CpuGeneratorSpec {
  /** Embedding table (vocab, dim), or one-hot over `oneHot` ids. */
  input: { embedding: Arr; vocab: number; dim: number } | { oneHot: number };
  layers: CpuGeneratorLayer[];
  /** weight (V, H_top), optional bias (V). */
  head: { weight: Arr; bias?: Arr; V: number };
}

export interface CpuGenerateOptions {
  prime: ArrayLike<number>;
  length: number;
  samples?: number;
  seed?: number;
  temperature?: number;
  topK?: number;
  /** Feed these tokens (rows × length) instead of the sampled ones (teacher forcing), to compare
   *  logits with a GPU run step by step. */
  forced?: ArrayLike<number>[];
}

/** The kernel's uniform draw for row b at step s. */
export function generateUniform(seed: number, b: number, s: number): number {
  return randUniform((hashU32(seed >>> 0) ^ b) >>> 0, s);
}

/** The kernel's sampling rule: logits / temperature, all ids or the top k, p ∝ exp, first id whose running sum exceeds u·Σp. */
export function sampleWithUniform(logits: Arr, u: number, temperature = 1, topK = 0): number {
  const V = logits.length;
  let order = Array.from({ length: V }, (_, i) => i);
  if (topK > 0 && topK < V) order = order.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, topK);
  let max = -Infinity;
  for (const i of order) max = Math.max(max, logits[i] / temperature);
  const p = order.map((i) => Math.exp(logits[i] / temperature - max));
  const goal = u * p.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let j = 0; j < order.length; j++) {
    acc += p[j];
    if (goal < acc) return order[j];
  }
  return order[order.length - 1];
}

/** Runs the generator: per row, the prime then `length` sampled (or forced) tokens. */
export function cpuGenerate(spec: CpuGeneratorSpec, o: CpuGenerateOptions): { tokens: Int32Array[]; logits: Float64Array } {
  const B = o.samples ?? 1, P = o.prime.length, N = o.length, V = spec.head.V;
  const L = spec.layers.length;
  const h: Float64Array[] = spec.layers.map((l) => new Float64Array(B * l.hiddenSize));
  const c: Float64Array[] = spec.layers.map((l) => new Float64Array(B * l.hiddenSize));
  const tokens = Array.from({ length: B }, () => new Int32Array(N));
  const logits = new Float64Array(B * N * V);
  const ones = new Int32Array(B).fill(1);
  const current = Array.from({ length: B }, () => o.prime[0]);
  for (let s = 0; s < P + N - 1; s++) {
    let x: Float64Array;
    if ('embedding' in spec.input) {
      const { embedding, dim } = spec.input;
      x = new Float64Array(B * dim);
      for (let b = 0; b < B; b++) for (let k = 0; k < dim; k++) x[b * dim + k] = embedding[current[b] * dim + k];
    } else {
      const n = spec.input.oneHot;
      x = new Float64Array(B * n);
      for (let b = 0; b < B; b++) x[b * n + current[b]] = 1;
    }
    for (let l = 0; l < L; l++) {
      const layer = spec.layers[l];
      if (layer.cell === 'lstm') {
        const r = lstmForward(x, layer, h[l], c[l], ones, layer.options);
        h[l] = r.hn; c[l] = r.cn;
      } else if (layer.cell === 'gru') {
        h[l] = gruForward(x, layer, h[l], ones, layer.options).hn;
      } else {
        h[l] = rnnForward(x, layer, h[l], ones, { nonlinearity: layer.cell === 'rnn_relu' ? 'relu' : 'tanh' }).hn;
      }
      x = h[l];
    }
    if (s + 1 < P) {
      for (let b = 0; b < B; b++) current[b] = o.prime[s + 1];
      continue;
    }
    const n = s + 1 - P, Hin = x.length / B;
    for (let b = 0; b < B; b++) {
      const row = logits.subarray((b * N + n) * V, (b * N + n + 1) * V);
      for (let v = 0; v < V; v++) {
        let acc = spec.head.bias ? spec.head.bias[v] : 0;
        for (let k = 0; k < Hin; k++) acc += spec.head.weight[v * Hin + k] * x[b * Hin + k];
        row[v] = acc;
      }
      const sampled = sampleWithUniform(row, generateUniform(o.seed ?? 1, b, s), o.temperature ?? 1, o.topK ?? 0);
      tokens[b][n] = sampled;
      current[b] = o.forced ? o.forced[b][n] : sampled;
    }
  }
  return { tokens, logits };
}
