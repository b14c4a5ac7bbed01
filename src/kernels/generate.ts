// On-GPU generation (shaders/recurrent/generate.wgsl): a stack of recurrent layers between a token input
// (Embedding or one-hot) and a dense head, run autoregressively with sampling on the GPU, many
// steps per dispatch. The parameters are copied once into one packed buffer (so one kernel serves
// any depth and mix of cells); only the sampled ids are read back.
//
//   packGenerator(ctx, spec)          packs the parameters (recorded copies) and the program table
//   generateSteps(ctx, g, t, o)       records one dispatch: steps s_begin .. s_end-1 for B rows
//   runGenerator(ctx, g, o)           prime + sample N tokens for B rows: allocates, dispatches in
//                                     chunks, reads back the ids (and optionally the logits)
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, shapeString, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';
import { halfWords } from './half.ts';
import { checkHalfSupported } from './recurrent.ts';
import { cellActivationCode, gateActivationCode } from './cell_activation.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';

const B_ = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const fields = [
  ['B', 'u32'], ['S', 'u32'], ['P', 'u32'], ['s_begin', 'u32'], ['s_end', 'u32'], ['seed', 'u32'], ['top_k', 'u32'], ['record', 'u32'],
  ['inv_temperature', 'f32'], ['scratch_stride', 'u32'], ['h_max', 'u32'], ['g_max', 'u32'], ['n_layers', 'u32'], ['V', 'u32'],
  ['serial', 'u32'], ['pack_rows', 'u32'], ['pack_cols', 'u32'], ['pack_offset', 'u32'], ['pack_stride', 'u32'], ['pad0', 'u32'],
] as const;
const params = B_('params', 'uniform', 6);
// The generation scaffold with every cell's math: a layer's cell is chosen at run time. The packed
// weights are f32, or f16 in the generate_f16_* kernels (precision/f16.wgsl; sums stay f32).
const parts = ['cells/lstm.wgsl', 'cells/gru.wgsl', 'cells/rnn.wgsl', 'recurrent/generate.wgsl'];
const generateKernels = (precision: 'f32' | 'f16'): KernelSpec[] => {
  const half = precision === 'f16';
  const file = half ? moduleFile('precision/f16.wgsl', 'common.wgsl', ...parts) : moduleFile('precision/f32.wgsl', ...parts);
  const family = half ? 'generate_f16' : 'generate';
  const features = half ? { features: ['shader-f16'] } : {};
  return [
    {
      name: `${family}_steps`, entry: 'generate_steps', file, params: fields, overrides: { WG: 256 }, ...features,
      bindings: [
        B_('weights', 'read-only-storage', 0), B_('program', 'read-only-storage', 1), B_('ids', 'storage', 2), B_('state', 'storage', 3),
        B_('scratch', 'storage', 4), B_('logits', 'storage', 5), params,
      ],
    },
    {
      name: `${family}_pack`, entry: 'generate_pack', file, params: fields, overrides: { WG: 64 }, ...features,
      bindings: [params, B_('source', 'read-only-storage', 7), B_('packed', 'storage', 8)],
    },
  ];
};
export const GENERATE_KERNELS: KernelSpec[] = [...generateKernels('f32'), ...generateKernels('f16')];
const ZERO_PARAMS = Object.fromEntries(fields.map(([k]) => [k, 0])) as Record<(typeof fields)[number][0], number>;
registerKernels(GENERATE_KERNELS);

/** The recurrent cell of one generator layer (RNN with its nonlinearity). */
export type GeneratorCell = 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';
const CELL_CODE: Record<GeneratorCell, number> = { lstm: 0, gru: 1, rnn_tanh: 2, rnn_relu: 3 };
const GATES: Record<GeneratorCell, number> = { lstm: 4, gru: 3, rnn_tanh: 1, rnn_relu: 1 };

export interface GeneratorLayer {
  cell: GeneratorCell;
  /** PyTorch layouts: (G, I), (G, H), (G), (G) with G = 4H (LSTM), 3H (GRU), H (RNN). */
  weightIh: Tensor; weightHh: Tensor; biasIh: Tensor; biasHh: Tensor;
  /** LSTM/GRU: Keras's activation (default 'tanh') and recurrent activation (default 'sigmoid'). */
  activation?: CellActivation;
  recurrentActivation?: GateActivation;
  /** LSTM peepholes (3, H), rows p_i, p_f, p_o. */
  peephole?: Tensor;
  /** GRU: false for the reset gate before the product (TF1 GRUCell, Keras reset_after=False). */
  resetAfter?: boolean;
}

export interface GeneratorSpec {
  /** Token input: an Embedding table (V_in, E), or one-hot over `oneHot` ids (layer 0's I = V_in). */
  input: { embedding: Tensor } | { oneHot: number };
  /** Unidirectional layers, bottom first; layer l's input is layer l−1's h. */
  layers: GeneratorLayer[];
  /** Dense head to the logits: weight (V, H_top), optional bias (V). */
  head: { weight: Tensor; bias?: Tensor };
  /** 'f16': the packed parameters are f16 (half the bytes every step re-reads), sums and states
   *  f32; needs 'shader-f16'. Default 'f32'. */
  precision?: 'f32' | 'f16';
}

/** A packed generator: the parameters in one buffer plus the program table the kernel walks. */
export interface PackedGenerator {
  /** f32, or f16 storage (u32 words of packed halves, ./half.ts) when `precision` is 'f16'. */
  weights: Tensor;
  precision: 'f32' | 'f16';
  program: Tensor<'u32'>;
  /** Token ids the input accepts (V_in) and logits the head gives (V). */
  inputVocab: number;
  V: number;
  nLayers: number;
  hMax: number;
  gMax: number;
  /** One float bound as `logits` when a run records none (allocated once, not per dispatch). */
  noLogits: Tensor;
  release(): void;
}

const NONE = 0xffffffff;
const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Checks the spec's shapes and records copies of every parameter into one packed buffer. */
export function packGenerator(ctx: GpuContext, spec: GeneratorSpec): PackedGenerator {
  const op = 'packGenerator';
  const precision = spec.precision ?? 'f32';
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`${op}: precision must be 'f32' or 'f16', got ${JSON.stringify(precision)}`);
  if (precision === 'f16') checkHalfSupported(ctx, `${op}: precision 'f16'`);
  if (spec.layers.length < 1) throw new Error(`${op}: at least one recurrent layer is needed`);
  // Matrices are stored transposed with rows padded to a multiple of 4, vectors padded to a
  // multiple of 4, the embedding as it is; every part starts at a multiple of 4 floats (a vec4).
  const parts: { t: Tensor; transpose: boolean; at: number }[] = [];
  let packedSize = 0;
  const offsetOf = (t: Tensor, transpose = false): number => {
    const at = packedSize;
    parts.push({ t, transpose, at });
    packedSize += transpose ? t.shape[1] * pad4(t.shape[0]) : pad4(t.size);
    return at;
  };
  const header = new Uint32Array(8);
  let inputVocab: number, inSize: number;
  if ('embedding' in spec.input) {
    checkTensor(op, 'input.embedding', spec.input.embedding, [-1, -1]);
    [inputVocab, inSize] = spec.input.embedding.shape;
    header[1] = 0;
    header[6] = offsetOf(spec.input.embedding);
  } else {
    inputVocab = inSize = spec.input.oneHot;
    if (!Number.isInteger(inputVocab) || inputVocab < 1) throw new Error(`${op}: input.oneHot must be a positive integer, got ${inputVocab}`);
    header[1] = 1;
  }
  header[2] = inSize;
  const layerWords = new Uint32Array(8 * spec.layers.length);
  let hMax = 0, gMax = 0, I = inSize;
  spec.layers.forEach((layer, l) => {
    if (!(layer.cell in CELL_CODE)) throw new Error(`${op}: layers[${l}].cell must be one of ${Object.keys(CELL_CODE).join(', ')}, got ${String(layer.cell)}`);
    checkTensor(op, `layers[${l}].weightHh`, layer.weightHh, [-1, -1]);
    const H = layer.weightHh.shape[1], G = GATES[layer.cell] * H;
    checkTensor(op, `layers[${l}].weightHh`, layer.weightHh, [G, H]);
    checkTensor(op, `layers[${l}].weightIh`, layer.weightIh, [G, I]);
    checkTensor(op, `layers[${l}].biasIh`, layer.biasIh, [G]);
    checkTensor(op, `layers[${l}].biasHh`, layer.biasHh, [G]);
    const keras = layer.cell === 'lstm' || layer.cell === 'gru';
    if (!keras && (layer.activation !== undefined || layer.recurrentActivation !== undefined || layer.peephole)) {
      throw new Error(`${op}: layers[${l}] is ${layer.cell}; activation, recurrentActivation and peephole apply to lstm and gru only`);
    }
    if (layer.peephole && layer.cell !== 'lstm') throw new Error(`${op}: layers[${l}].peephole applies to lstm only, got cell ${layer.cell}`);
    if (layer.resetAfter !== undefined && layer.cell !== 'gru') throw new Error(`${op}: layers[${l}].resetAfter applies to gru only, got cell ${layer.cell}`);
    const before = layer.resetAfter === false ? 1 << 16 : 0;
    const act = cellActivationCode(`${op}: layers[${l}].activation`, layer.activation ?? 'tanh');
    const gate = gateActivationCode(`${op}: layers[${l}].recurrentActivation`, layer.recurrentActivation ?? 'sigmoid');
    if (layer.peephole) checkTensor(op, `layers[${l}].peephole`, layer.peephole, [3, H]);
    layerWords.set([
      CELL_CODE[layer.cell] | (keras ? act << 8 | gate << 12 : 0) | before, I, H, offsetOf(layer.weightIh, true), offsetOf(layer.weightHh, true),
      offsetOf(layer.biasIh), offsetOf(layer.biasHh), layer.peephole ? offsetOf(layer.peephole) : NONE,
    ], 8 * l);
    hMax = Math.max(hMax, H);
    gMax = Math.max(gMax, pad4(G));
    I = H;
  });
  checkTensor(op, 'head.weight', spec.head.weight, [-1, I]);
  const V = spec.head.weight.shape[0];
  if (V !== inputVocab) throw new Error(`${op}: the head gives ${V} logits but the input takes ${inputVocab} token ids; sampled ids are fed back, so they must be the same vocabulary`);
  header[0] = spec.layers.length;
  header[3] = V;
  header[4] = offsetOf(spec.head.weight, true);
  if (spec.head.bias) {
    checkTensor(op, 'head.bias', spec.head.bias, [V]);
    header[5] = offsetOf(spec.head.bias);
  } else {
    header[5] = NONE;
  }
  header[7] = I;

  const half = precision === 'f16';
  // The padding must be 0. f16: packedSize (a multiple of 4) halves in packedSize / 2 words.
  const weights = half ? ctx.zeros([halfWords(packedSize)], 'u32', 'generator_weights') : ctx.zeros([packedSize], 'f32', 'generator_weights');
  const pack = (t: Tensor, rows: number, cols: number, at: number, stride: number): void => ctx.dispatch(half ? 'generate_f16_pack' : 'generate_pack', {
    bindings: { source: t, packed: weights },
    params: { ...ZERO_PARAMS, pack_rows: rows, pack_cols: cols, pack_offset: at, pack_stride: stride },
    workgroups: grid1d(rows * cols, 64, ctx.limits.maxComputeWorkgroupsPerDimension),
  });
  for (const { t, transpose, at } of parts) {
    if (transpose) pack(t, t.shape[0], t.shape[1], at, pad4(t.shape[0]));
    else if (half) pack(t, t.size, 1, at, 0);   // as one column: packed[at + r] = t[r], rounded to f16
    else ctx.copy(t, weights, t.byteSize, 0, at * 4);
  }
  const table = new Uint32Array(8 + layerWords.length);
  table.set(header);
  table.set(layerWords, 8);
  const program = ctx.tensor(table, [table.length], 'generator_program') as Tensor<'u32'>;
  const noLogits = ctx.empty([1], 'f32', 'generate_no_logits');
  return {
    weights, precision, program, inputVocab, V, nLayers: spec.layers.length, hMax, gMax, noLogits,
    release() { weights.release(); program.release(); noLogits.release(); },
  };
}

export interface GenerateStepsTensors {
  /** (B, S) i32: the prime in columns 0..P−1; sampled ids are written after it. */
  ids: Tensor<'i32'>;
  /** (B, L, 2, hMax): h and c of every layer (zeros before the first step). */
  state: Tensor;
  /** (B, generatorScratchSize(g, topK)). */
  scratch: Tensor;
  /** (B, S − P, V): the logits each sampled token came from (only when `record`). */
  logits?: Tensor;
}

export interface GenerateStepsOptions {
  /** Prime length P (≥ 1). */
  P: number;
  sBegin: number;
  sEnd: number;
  seed: number;
  /** > 0; default 1. */
  temperature?: number;
  /** Sample among the topK most likely ids (0 = all); default 0. */
  topK?: number;
  /** Invocations per workgroup (a power of two); default 16 on CPU adapters, 256 on GPUs. */
  workgroupSize?: number;
  /** 'serial': one invocation samples (no barriers); 'parallel': workgroup reductions; 'auto'
   *  (default): serial when V·max(K, 2) ≤ 1024. */
  sampler?: 'auto' | 'serial' | 'parallel';
}

/** The `top_k` the kernel runs: 0 (all ids) when topK is 0 or ≥ V. */
function effectiveTopK(topK: number, V: number): number {
  return topK > 0 && topK < V ? topK : 0;
}

/** Floats of scratch per row for a generator and top-k. */
export function generatorScratchSize(g: PackedGenerator, topK = 0): number {
  return 2 * g.gMax + g.V + 2 * effectiveTopK(topK, g.V);
}

function defaultWorkgroupSize(ctx: GpuContext): number {
  const cap = Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup);
  let wg = ctx.adapterFacts.isCpu ? 16 : 256; // bench/sampling.ts: 16 was fastest on lavapipe (8-wide SIMD)
  while (wg > cap) wg /= 2;
  return wg;
}

/** Records one dispatch of steps sBegin .. sEnd−1 for every row of `ids`. */
export function generateSteps(ctx: GpuContext, g: PackedGenerator, t: GenerateStepsTensors, o: GenerateStepsOptions): void {
  const op = 'generateSteps';
  checkTensor(op, 'ids', t.ids, [-1, -1], 'i32');
  const [B, S] = t.ids.shape;
  const topK = o.topK ?? 0;
  const temperature = o.temperature ?? 1;
  if (!Number.isInteger(o.P) || o.P < 1 || o.P >= S) throw new Error(`${op}: prime length P = ${o.P} must be in [1, ${S - 1}] for ids of shape ${shapeString(t.ids.shape)}`);
  if (!Number.isInteger(o.sBegin) || !Number.isInteger(o.sEnd) || o.sBegin < 0 || o.sEnd > S - 1 || o.sBegin > o.sEnd) {
    throw new Error(`${op}: steps [${o.sBegin}, ${o.sEnd}) must lie in [0, ${S - 1}]`);
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`${op}: temperature must be a positive number, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`${op}: topK must be a non-negative integer, got ${topK}`);
  const K = effectiveTopK(topK, g.V);
  checkTensor(op, 'state', t.state, [B, g.nLayers, 2, g.hMax]);
  checkTensor(op, 'scratch', t.scratch, [B, generatorScratchSize(g, topK)]);
  if (t.logits) checkTensor(op, 'logits', t.logits, [B, S - o.P, g.V]);
  if (B > ctx.limits.maxComputeWorkgroupsPerDimension) throw new Error(`${op}: ${B} rows exceed this adapter's ${ctx.limits.maxComputeWorkgroupsPerDimension} workgroups per dispatch`);
  const WG = o.workgroupSize ?? defaultWorkgroupSize(ctx);
  if (!Number.isInteger(WG) || WG < 1 || (WG & (WG - 1)) !== 0 || WG > ctx.limits.maxComputeInvocationsPerWorkgroup) {
    throw new Error(`${op}: workgroupSize must be a power of two ≤ ${ctx.limits.maxComputeInvocationsPerWorkgroup}, got ${WG}`);
  }
  const sampler = o.sampler ?? 'auto';
  if (!['auto', 'serial', 'parallel'].includes(sampler)) throw new Error(`${op}: sampler must be 'auto', 'serial' or 'parallel', got ${String(sampler)}`);
  const serial = sampler === 'serial' || (sampler === 'auto' && g.V * Math.max(K, 2) <= 1024);
  if (o.sBegin === o.sEnd) return;
  ctx.dispatch(g.precision === 'f16' ? 'generate_f16_steps' : 'generate_steps', {
    bindings: { weights: g.weights, program: g.program, ids: t.ids, state: t.state, scratch: t.scratch, logits: t.logits ?? g.noLogits },
    params: {
      B, S, P: o.P, s_begin: o.sBegin, s_end: o.sEnd, seed: o.seed >>> 0, top_k: K, record: t.logits ? 1 : 0,
      inv_temperature: 1 / temperature, scratch_stride: generatorScratchSize(g, topK), h_max: g.hMax, g_max: g.gMax,
      n_layers: g.nLayers, V: g.V, serial: serial ? 1 : 0, pack_rows: 0, pack_cols: 0, pack_offset: 0, pack_stride: 0, pad0: 0,
    },
    overrides: { WG },
    workgroups: [B, 1],
  });
}

export interface RunGeneratorOptions {
  /** Prime token ids, shared by every row (at least one). */
  prime: ArrayLike<number>;
  /** Tokens to sample after the prime. */
  length: number;
  /** Independent samples (rows); default 1. */
  samples?: number;
  seed?: number;
  temperature?: number;
  topK?: number;
  /** Steps per dispatch; default 128. */
  stepsPerDispatch?: number;
  workgroupSize?: number;
  sampler?: GenerateStepsOptions['sampler'];
  /** Also read back the logits every token was sampled from, (samples, length, V). */
  recordLogits?: boolean;
  /** Called with the tokens of each finished chunk (rows × new ids), for streaming. Without it
   *  every chunk is recorded into one submission and the ids are read once at the end. */
  onTokens?: (tokens: Int32Array[], first: number) => void;
}

export interface RunGeneratorResult {
  /** One Int32Array of `length` sampled ids per row. */
  tokens: Int32Array[];
  /** (samples, length, V) when recordLogits. */
  logits?: Float32Array;
}

/** Primes the generator with `prime` and samples `length` ids per row, all on the GPU. */
export async function runGenerator(ctx: GpuContext, g: PackedGenerator, o: RunGeneratorOptions): Promise<RunGeneratorResult> {
  const op = 'runGenerator';
  const B = o.samples ?? 1;
  const P = o.prime.length;
  const N = o.length;
  if (!Number.isInteger(B) || B < 1) throw new Error(`${op}: samples must be a positive integer, got ${o.samples}`);
  if (P < 1) throw new Error(`${op}: prime must contain at least one token`);
  if (!Number.isInteger(N) || N < 0) throw new Error(`${op}: length must be a non-negative integer, got ${N}`);
  for (let i = 0; i < P; i++) {
    const v = o.prime[i];
    if (!Number.isInteger(v) || v < 0 || v >= g.inputVocab) throw new Error(`${op}: prime[${i}] = ${v} is not a token id in [0, ${g.inputVocab - 1}]`);
  }
  const chunk = o.stepsPerDispatch ?? 128;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`${op}: stepsPerDispatch must be a positive integer, got ${chunk}`);
  if (N === 0) return { tokens: Array.from({ length: B }, () => new Int32Array(0)), logits: o.recordLogits ? new Float32Array(0) : undefined };

  const S = P + N;
  const host = new Int32Array(B * S);
  for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) host[b * S + i] = o.prime[i];
  const ids = ctx.tensor(host, [B, S], 'generate_ids') as Tensor<'i32'>;
  const state = ctx.zeros([B, g.nLayers, 2, g.hMax], 'f32', 'generate_state');
  const scratch = ctx.empty([B, generatorScratchSize(g, o.topK ?? 0)], 'f32', 'generate_scratch');
  const logits = o.recordLogits ? ctx.empty([B, N, g.V], 'f32', 'generate_logits') : undefined;
  const rows = (all: Int32Array, from: number, to: number) => Array.from({ length: B }, (_, b) => all.slice(b * S + from, b * S + to));
  try {
    const seed = o.seed ?? 1;
    let emitted = P;
    for (let s = 0; s < S - 1; s += chunk) {
      const sEnd = Math.min(s + chunk, S - 1);
      generateSteps(ctx, g, { ids, state, scratch, logits }, { P, sBegin: s, sEnd, seed, temperature: o.temperature, topK: o.topK, workgroupSize: o.workgroupSize, sampler: o.sampler });
      if (o.onTokens && sEnd + 1 > emitted) {
        const all = await ctx.read(ids);
        o.onTokens(rows(all, emitted, sEnd + 1), emitted - P);
        emitted = sEnd + 1;
      }
    }
    const all = await ctx.read(ids);
    return { tokens: rows(all, P, S), logits: logits ? await ctx.read(logits) : undefined };
  } finally {
    for (const t of [ids, state, scratch, logits]) t?.release();
  }
}
