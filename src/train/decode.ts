// Greedy and beam-search decoding for encoder–decoder models, the loop recorded on the GPU: at
// every step the decoder records its logits for the tokens the beams fed, one kernel does the
// log-softmax, the top-K over K·V candidates, the backpointers and the finished-beam bookkeeping,
// and the decoder gathers its states for the surviving beams. Nothing is read back inside the loop
// (unless `checkEvery` asks for the finished flags to stop early); the histories come back once at
// the end and are backtracked on the host.
//
// Ranking: a hypothesis' score is the sum of its tokens' log-probabilities (the end token's
// included) divided by a length penalty lp(len): 'gnmt' (default) ((5 + len) / 6)^α with α = 0.6
// (Wu et al. 2016, GNMT), 'average' len (the mean log-probability), 'none' 1. A beam that produced
// the end token stays in the beam with its score and competes with the longer ones; a row is done
// when all its K beams are. Beams still open after maxLength tokens come back with finished:
// false, ranked with the rest. K = 1 is greedy decoding (ties go to the smaller token id).
import type { GpuContext } from '../runtime/context.ts';
import { Tensor } from '../runtime/tensor.ts';
import { decodeBeamInit, decodeBeamStep, gatherRows, MAX_BEAM_WIDTH, type BeamState, type LengthNormalization } from '../kernels/decode.ts';
import { Layer, type Act, type RunInfo } from '../nn/layer.ts';
import { Recurrent, type RecurrentState } from '../nn/recurrent.ts';
import { Attention } from '../nn/attention.ts';
import { AttentionDecoder } from '../nn/attention_decoder.ts';
import { beamHypotheses, type Hypothesis } from '../cpu/decode.ts';
import { checkOptionsObject, describeValue } from '../nn/options.ts';

export type { Hypothesis } from '../cpu/decode.ts';
export type { LengthNormalization } from '../kernels/decode.ts';

/**
 * A decoder as the search drives it, for N = B·K rows (batch row b's beam i is row b·K + i).
 * Both callbacks only record GPU work; neither may read back.
 */
export interface DecoderSteps {
  /**
   * Records decoder step t for `tokens` (N) i32 (the start token at t = 0, then each beam's last
   * token) and returns the logits (N, V) f32, which must stay valid until the next call.
   */
  step(ctx: GpuContext, tokens: Tensor, t: number): Tensor;
  /**
   * Records the gather of the decoder's states after a step: row n continues from row parents[n]
   * ((N) i32, absolute rows; `gatherRows` from `webgpu-rnn/kernels` does it for one (N, D) state).
   */
  reorder(ctx: GpuContext, parents: Tensor): void;
}

/** The initial states of an AttentionDecoder in a LayerDecoder: h, c (1, B, H) or (B, H) (c: LSTM cell only), h̃ (B, Hc). */
export interface AttentionDecoderInitialState {
  h: Tensor;
  c?: Tensor;
  /** The initial h̃ (zeros when missing). */
  attentional?: Tensor;
}

/**
 * A decoder made of built layers, run one token at a time: token ids in, logits out, e.g.
 * Embedding → LSTM → Dense, Embedding → LSTM → Attention → Dense or Embedding → AttentionDecoder
 * → Dense (a chain of [Embedding | OneHot], unidirectional non-stateful recurrent layers,
 * Dropout, `Attention` nodes, `AttentionDecoder`s and Dense, whose last output is the logits).
 * The search steps it with T = 1, carries each recurrent layer's states (an AttentionDecoder's h,
 * c and h̃) between steps (gathered by the beams' parents), and lets each Attention node's single
 * query step, and each AttentionDecoder's, attend over `memory`.
 */
export interface LayerDecoder {
  layers: readonly (Layer | Attention | AttentionDecoder)[];
  /**
   * Per recurrent layer and AttentionDecoder of `layers`, in order: its initial states for the B
   * batch rows, e.g. an encoder's final states (`encoder.finalState()`): (numLayers, B, H) for a
   * recurrent layer, `AttentionDecoderInitialState` for an AttentionDecoder; null or missing:
   * zeros. Each batch row's state is copied to its K beams.
   */
  initialStates?: readonly (RecurrentState | AttentionDecoderInitialState | null | undefined)[];
  /**
   * What Attention nodes and AttentionDecoders attend over: the encoder's outputs (B, Ts, Hm) f32
   * (e.g. from `model.forward`) and their lengths (B), each in [1, Ts]. Required when `layers` has
   * one.
   */
  memory?: { values: Tensor; lengths: Int32Array | readonly number[] };
}

export interface BeamSearchOptions {
  /** B: batch rows decoded together. */
  batchSize: number;
  /** K: beams per row, in [1, 32]. Default 4 (1 for `greedyDecode`). */
  beamWidth?: number;
  /** The token fed at step 0. */
  startToken: number;
  /** The token that ends a hypothesis. */
  endToken: number;
  /** The most tokens a hypothesis may have, the end token included. */
  maxLength: number;
  /** Default 'gnmt' (see the file header). */
  lengthNormalization?: LengthNormalization;
  /** GNMT's α. Default 0.6. */
  alpha?: number;
  /** Read the finished flags back every this many steps and stop once every beam has finished; 0 (default): never, run maxLength steps. */
  checkEvery?: number;
}

export interface DecodeResult {
  /** Per batch row, its K hypotheses, best first. */
  hypotheses: Hypothesis[][];
  /** Per batch row, the best hypothesis' tokens (no end token). */
  best: number[][];
  /** Decoder steps run. */
  steps: number;
}

const KNOWN = ['batchSize', 'beamWidth', 'startToken', 'endToken', 'maxLength', 'lengthNormalization', 'alpha', 'checkEvery'];

function checkOptions(op: string, o: BeamSearchOptions, defaultWidth: number): Required<BeamSearchOptions> {
  checkOptionsObject(op, o, KNOWN, '{ batchSize: 8, beamWidth: 4, startToken: 1, endToken: 2, maxLength: 20 }');
  const int = (name: keyof BeamSearchOptions, v: unknown, min: number, max: number, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`${op}: option ${name} must be ${what}, got ${describeValue(v)}`);
    return v;
  };
  const norm = o.lengthNormalization ?? 'gnmt';
  if (!['none', 'average', 'gnmt'].includes(norm)) throw new Error(`${op}: option lengthNormalization must be 'none', 'average' or 'gnmt', got ${describeValue(norm)}`);
  const alpha = o.alpha ?? 0.6;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) throw new Error(`${op}: option alpha must be a finite number >= 0 (GNMT uses 0.6), got ${describeValue(alpha)}`);
  return {
    batchSize: int('batchSize', o.batchSize, 1, 65535 * 65535, 'a positive integer'),
    beamWidth: int('beamWidth', o.beamWidth ?? defaultWidth, 1, MAX_BEAM_WIDTH, `an integer in [1, ${MAX_BEAM_WIDTH}]`),
    startToken: int('startToken', o.startToken, 0, 2 ** 31 - 1, 'a token id (a non-negative integer)'),
    endToken: int('endToken', o.endToken, 0, 2 ** 31 - 1, 'a token id (a non-negative integer)'),
    maxLength: int('maxLength', o.maxLength, 1, 1 << 20, 'a positive integer'),
    lengthNormalization: norm, alpha,
    checkEvery: int('checkEvery', o.checkEvery ?? 0, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (0: never)'),
  };
}

/** The largest f32; the kernels mark unused beams with its negative, reported here as -Infinity. */
const F32_MAX = 3.4028234663852886e38;

/**
 * Beam search of width K over `decoder` (see `DecoderSteps` and the file header for the ranking).
 * Records init, then per step: decoder.step, one search dispatch, decoder.reorder; reads the
 * histories back once at the end.
 */
export async function beamSearch(ctx: GpuContext, decoder: DecoderSteps | LayerDecoder, options: BeamSearchOptions): Promise<DecodeResult> {
  return search('beamSearch', ctx, decoder, checkOptions('beamSearch', options, 4));
}

/** Greedy decoding: beam search with one beam (the arg-max token at every step). */
export async function greedyDecode(ctx: GpuContext, decoder: DecoderSteps | LayerDecoder, options: Omit<BeamSearchOptions, 'beamWidth'>): Promise<DecodeResult> {
  const o = checkOptions('greedyDecode', options, 1);
  if (o.beamWidth !== 1) throw new Error(`greedyDecode: option beamWidth is ${o.beamWidth}; greedy decoding has one beam (use beamSearch for more)`);
  return search('greedyDecode', ctx, decoder, o);
}

async function search(op: string, ctx: GpuContext, given: DecoderSteps | LayerDecoder, o: Required<BeamSearchOptions>): Promise<DecodeResult> {
  const B = o.batchSize, K = o.beamWidth, N = B * K, L = o.maxLength;
  const layered = given && typeof given === 'object' && 'layers' in given ? layerSteps(op, ctx, given, B, K) : null;
  const decoder = layered ?? given as DecoderSteps;
  if (!decoder || typeof decoder.step !== 'function' || typeof decoder.reorder !== 'function') {
    throw new Error(`${op}: the decoder must be an object with step(ctx, tokens, t) and reorder(ctx, parents) functions, or { layers, initialStates? }, got ${describeValue(decoder)}`);
  }
  const d = { B, K };
  const s: BeamState = {
    scores: ctx.empty([N], 'f32', `${op}.scores`), lengths: ctx.empty([N], 'u32', `${op}.lengths`),
    finished: ctx.empty([N], 'u32', `${op}.finished`), tokens: ctx.empty([N], 'i32', `${op}.tokens`),
    parents: ctx.empty([N], 'i32', `${op}.parents`),
    tokenHistory: ctx.empty([L, N], 'i32', `${op}.tokenHistory`), parentHistory: ctx.empty([L, N], 'i32', `${op}.parentHistory`),
  };
  try {
    decodeBeamInit(ctx, s, d, o.startToken);
    let steps = 0;
    for (let t = 0; t < L; t++) {
      const logits = decoder.step(ctx, s.tokens, t);
      if (!(logits instanceof Tensor) || logits.dtype !== 'f32' || logits.shape.length !== 2 || logits.shape[0] !== N) {
        throw new Error(`${op}: decoder.step(t = ${t}) must return the logits as an f32 tensor of shape (B·K = ${N}, V), got ${logits instanceof Tensor ? String(logits) : describeValue(logits)}`);
      }
      if (o.endToken >= logits.shape[1]) throw new Error(`${op}: option endToken ${o.endToken} is not a token of the decoder's V = ${logits.shape[1]} logits`);
      decodeBeamStep(ctx, logits, s, d, t, { eos: o.endToken, lengthNormalization: o.lengthNormalization, alpha: o.alpha });
      decoder.reorder(ctx, s.parents);
      steps = t + 1;
      if (o.checkEvery > 0 && steps % o.checkEvery === 0 && steps < L) {
        if ((await ctx.read(s.finished)).every((f) => f === 1)) break;
      }
    }
    const [tok, par, scores, lengths, finished] = [
      await ctx.read(s.tokenHistory), await ctx.read(s.parentHistory), await ctx.read(s.scores), await ctx.read(s.lengths), await ctx.read(s.finished),
    ];
    const exact = Float64Array.from(scores, (v) => (v <= -F32_MAX ? -Infinity : v));
    const hypotheses = beamHypotheses({ B, K, eos: o.endToken, steps, lengthNormalization: o.lengthNormalization, alpha: o.alpha },
      tok, par, exact, lengths, finished);
    return { hypotheses, best: hypotheses.map((h) => h[0].tokens), steps };
  } finally {
    for (const t of Object.values(s)) t.release();
    layered?.dispose();
  }
}

/**
 * The DecoderSteps of a LayerDecoder for B rows of K beams: each step copies the tokens to an
 * (N, 1) input, runs every layer's forward with T = 1 and copies the (N, 1, V) output to the
 * logits; reorder gathers each recurrent layer's final states into its next initial states.
 * Everything is checked here, before the search records anything.
 */
function layerSteps(op: string, ctx: GpuContext, dec: LayerDecoder, B: number, K: number): DecoderSteps & { dispose(): void } {
  const N = B * K;
  if (!Array.isArray(dec.layers) || dec.layers.length === 0 || !dec.layers.every((l) => l instanceof Layer || l instanceof Attention || l instanceof AttentionDecoder)) {
    throw new Error(`${op}: decoder.layers must be a non-empty array of layers, Attention nodes and AttentionDecoders (e.g. [embedding, lstm, dense]), got ${describeValue(dec.layers)}`);
  }
  for (const l of dec.layers) {
    if (l.parameters().some((p) => !p.value || p.value.released)) throw new Error(`${op}: decoder layer "${l.name}" is not built; build its model first (model.build(ctx))`);
  }
  // The layers that carry states, in order: initialStates has one entry per each.
  const carriers = dec.layers.filter((l): l is Recurrent | AttentionDecoder => l instanceof Recurrent || l instanceof AttentionDecoder);
  const rec = carriers.filter((l): l is Recurrent => l instanceof Recurrent);
  for (const r of rec) {
    if (r.bidirectional) throw new Error(`${op}: decoder layer "${r.name}" is bidirectional; a decoder runs forward one token at a time (expected bidirectional: false)`);
    if (r.stateful) throw new Error(`${op}: decoder layer "${r.name}" is stateful; its carried state would replace the search's (expected stateful: false)`);
  }
  const init = dec.initialStates ?? [];
  if (!Array.isArray(init) || init.length > carriers.length) {
    throw new Error(`${op}: decoder.initialStates must be an array with at most one entry per recurrent layer and AttentionDecoder (${carriers.length}), got ${describeValue(init)}`);
  }
  const shapeOf = (r: Recurrent, rows: number) => [r.numLayers, rows, r.hiddenSize];
  carriers.forEach((r, i) => {
    const st = init[i] as Partial<AttentionDecoderInitialState> | null | undefined;
    if (st === null || st === undefined) return;
    const check = (what: string, t: unknown, wants: number[][], shapes: string) => {
      if (!(t instanceof Tensor) || t.released || t.dtype !== 'f32' || !wants.some((w) => w.length === t.shape.length && t.shape.every((d, k) => d === w[k]))) {
        throw new Error(`${op}: decoder.initialStates[${i}].${what} for layer "${r.name}" must be an f32 tensor of shape ${shapes}, got ${t instanceof Tensor ? String(t) : describeValue(t)}`);
      }
    };
    if (r instanceof AttentionDecoder) {
      const H = r.hiddenSize, Hc = r.attentionalHidden;
      const shapes = `(1, B, H) = (1, ${B}, ${H}) or (B, H) = (${B}, ${H})`;
      check('h', st.h, [[1, B, H], [B, H]], shapes);
      if (r.cell === 'lstm') check('c', st.c, [[1, B, H], [B, H]], shapes);
      else if (st.c !== undefined) throw new Error(`${op}: decoder.initialStates[${i}] for layer "${r.name}" has c, but its GRU cell has no cell state; expected { h, attentional? }`);
      if (st.attentional !== undefined) check('attentional', st.attentional, [[B, Hc]], `(B, attentionalHidden) = (${B}, ${Hc})`);
      return;
    }
    const want = shapeOf(r, B);
    const shapes = `(numLayers, B, H) = (${want.join(', ')})`;
    check('h', st.h, [want], shapes);
    if (r.cell === 'lstm') check('c', st.c, [want], shapes);
  });
  const attending = dec.layers.some((l) => l instanceof Attention || l instanceof AttentionDecoder);
  const mem = attending ? checkMemory(op, dec.memory, B, dec.layers.some((l) => l instanceof Attention) ? 'an Attention node' : 'an AttentionDecoder') : null;
  for (const l of dec.layers) {
    const one = { B: N, T: 1, training: false }, memRun = { B: N, T: mem?.Ts ?? 1, training: false };
    if (l instanceof Attention) l.checkRunInputs([one, memRun]);
    else if (l instanceof AttentionDecoder) l.checkRunInputs([one, memRun, one, one, one].slice(0, l.cell === 'lstm' ? 5 : 4));
    else l.checkRun(one);
  }

  const owned: Tensor[] = [];
  const own = <T extends Tensor>(t: T): T => { owned.push(t); return t; };
  const ones = new Int32Array(N).fill(1);
  const seedTensor = own(ctx.zeros([1], 'u32', `${op}.seed`));
  const run: RunInfo = { B: N, T: 1, lengths: own(ctx.tensor(ones, [N], `${op}.lengths`)), hostLengths: ones, training: false, seed: 0, seedTensor };
  const tokens = own(ctx.empty([N, 1], 'i32', `${op}.input`));
  // Each beam starts from its batch row's state: rows n = b·K + i read row b.
  const beamRow = own(ctx.tensor(Int32Array.from({ length: N }, (_, n) => Math.floor(n / K)), [N], `${op}.beamRow`));
  const states = rec.map((r) => {
    const i = carriers.indexOf(r);
    const h = own(ctx.empty(shapeOf(r, N), 'f32', `${op}.${r.name}.h`));
    const c = r.cell === 'lstm' ? own(ctx.empty(shapeOf(r, N), 'f32', `${op}.${r.name}.c`)) : undefined;
    const st = init[i] as RecurrentState | null | undefined;
    if (st) {
      gatherRows(ctx, st.h, beamRow, h);
      if (c && st.c) gatherRows(ctx, st.c, beamRow, c);
    } else {
      ctx.clear(h);
      if (c) ctx.clear(c);
    }
    r.setInitialState(c ? { h, c } : { h });
    return { r, h, c };
  });
  // The memory copied to every beam of its row, with its lengths: the Attention nodes' second input.
  let memory: { act: Act; run: RunInfo } | null = null;
  if (mem) {
    const { values, Ts, Hm } = mem;
    const rows = own(ctx.empty([N, Ts, Hm], 'f32', `${op}.memory`));
    gatherRows(ctx, view(values, [B, Ts * Hm]), beamRow, view(rows, [N, Ts * Hm]));
    const lengths = Int32Array.from({ length: N }, (_, n) => mem.lengths[Math.floor(n / K)]);
    memory = {
      act: { kind: 'seq', t: rows },
      run: { B: N, T: Ts, lengths: own(ctx.tensor(lengths, [N], `${op}.memoryLengths`)), hostLengths: lengths, training: false, seed: 0, seedTensor },
    };
  }
  // Each AttentionDecoder's carried h, c (N, H; c for the LSTM cell only) and h̃ (N, Hc), and its
  // last step's outputs [h̃, weights, h_n, c_n (LSTM), h̃_n].
  const decoders = carriers.filter((l): l is AttentionDecoder => l instanceof AttentionDecoder).map((d) => {
    const st = init[carriers.indexOf(d)] as AttentionDecoderInitialState | null | undefined;
    const H = d.hiddenSize, Hc = d.attentionalHidden;
    const carried = (what: string, size: number, from: Tensor | undefined): Tensor => {
      const t = own(ctx.empty([N, size], 'f32', `${op}.${d.name}.${what}`));
      if (from) gatherRows(ctx, view(from, [B, size]), beamRow, t);
      else ctx.clear(t);
      return t;
    };
    const carry = { h: carried('h', H, st?.h), c: d.cell === 'lstm' ? carried('c', H, st?.c) : null, attentional: carried('attentional', Hc, st?.attentional) };
    return { d, carry, last: null as Act[] | null };
  });
  const stepDecoder = (c: GpuContext, d: AttentionDecoder, x: Act): Act => {
    const s = decoders.find((e) => e.d === d)!;
    const states: Act[] = [s.carry.h, ...(s.carry.c ? [s.carry.c] : []), s.carry.attentional].map((t) => ({ kind: 'vec', t }));
    s.last = d.forwardInputs(c, [x, memory!.act, ...states], [run, memory!.run, ...states.map(() => run)]);
    return s.last[0];
  };
  let logits: Tensor | null = null;
  return {
    step(c, ids) {
      c.copy(ids, tokens);
      let a: Act = { kind: 'tokens', t: tokens };
      for (const l of dec.layers) {
        if (l instanceof Attention) a = l.forwardInputs(c, [a, memory!.act], [run, memory!.run])[0];
        else if (l instanceof AttentionDecoder) a = stepDecoder(c, l, a);
        else a = l.forward(c, a, run);
      }
      if (a.kind !== 'seq' || a.t.shape.length !== 3 || a.t.shape[0] !== N || a.t.shape[1] !== 1) {
        throw new Error(`${op}: the decoder's last layer "${dec.layers[dec.layers.length - 1].name}" gave ${String(a.t)}; expected logits (N, 1, V) for one step`);
      }
      logits ??= own(c.empty([N, a.t.shape[2]], 'f32', `${op}.logits`));
      c.copy(a.t, logits);
      return logits;
    },
    reorder(c, parents) {
      for (const s of states) {
        const fin = s.r.finalState();
        gatherRows(c, fin.h, parents, s.h);
        if (s.c && fin.c) gatherRows(c, fin.c, parents, s.c);
      }
      for (const s of decoders) {
        if (!s.last) continue;
        gatherRows(c, s.last[2].t, parents, s.carry.h);
        if (s.carry.c) gatherRows(c, s.last[3].t, parents, s.carry.c);
        gatherRows(c, s.last[s.last.length - 1].t, parents, s.carry.attentional);
      }
    },
    dispose() {
      for (const s of states) s.r.setInitialState(null);
      for (const t of owned) t.release();
    },
  };
}

/** Another shape of the same buffer; releasing it does nothing (the tensor it views owns the buffer). */
function view(t: Tensor, shape: number[]): Tensor {
  return new Tensor(t.buffer, shape, t.dtype, t.name, () => {});
}

function checkMemory(op: string, m: LayerDecoder['memory'], B: number, attending: string): { values: Tensor; lengths: Int32Array; Ts: number; Hm: number } {
  if (!m || typeof m !== 'object') throw new Error(`${op}: the decoder has ${attending}, so decoder.memory { values, lengths } is required (the encoder's outputs (B, Ts, Hm)), got ${describeValue(m)}`);
  const v = m.values;
  if (!(v instanceof Tensor) || v.released || v.dtype !== 'f32' || v.shape.length !== 3 || v.shape[0] !== B) {
    throw new Error(`${op}: decoder.memory.values must be an f32 tensor (B = ${B}, Ts, Hm), got ${v instanceof Tensor ? String(v) : describeValue(v)}`);
  }
  const Ts = v.shape[1], Hm = v.shape[2];
  const lengths = Int32Array.from(m.lengths ?? [], Number);
  if (lengths.length !== B || lengths.some((l) => !Number.isInteger(l) || l < 1 || l > Ts)) {
    throw new Error(`${op}: decoder.memory.lengths must hold B = ${B} integers in [1, ${Ts}], got ${describeValue(m.lengths)}`);
  }
  return { values: v, lengths, Ts, Hm };
}
