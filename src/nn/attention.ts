// The Attention node: a decoder's outputs (queries) attend over an encoder's outputs (the memory),
// masked by the memory's lengths. Luong's dot and general scores, Bahdanau's additive score, and
// optionally Luong's attentional hidden state h̃_t = tanh(W_c [c_t; q_t] + b_c).
//
// Forward: the projections as one GEMM each over all positions (general: W_a·m; additive: W_q·q and
// W_k·m + b), then the fused kernel (scores, masked softmax, context; src/kernels/attention.ts),
// then h̃ (a column copy into [c; q], a GEMM and tanh). Backward: the kernel's two dispatches give
// the gradients of the scores' two sides and of the values; parameter gradients are GEMMs and
// column sums over all positions, input gradients GEMMs accumulated into the kernel's outputs.
// The equations and the float64 reference are in src/cpu/attention.ts.

import type { GpuContext } from '../runtime/context.ts';
import { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import type { AttentionScore } from '../cpu/attention.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { matmul, matmulColumnSum } from '../kernels/matmul.ts';
import { activationBackward, activationForward } from '../kernels/activation.ts';
import { seqAxpy, seqCopyCols, seqTakeCols } from '../kernels/seq.ts';
import { GraphOpBase } from './graph-op.ts';
import { callOp, type GraphValue } from './graph-value.ts';
import { uniformInit, type Act, type ActDesc, type RunCheck, type RunInfo } from './layer.ts';
import { checkEnum, checkInteger, checkLayerName, checkOptionsObject, layerLabel } from './options.ts';

export type { AttentionScore } from '../cpu/attention.ts';

/** The score functions (`score` option). */
export const ATTENTION_SCORES: readonly AttentionScore[] = ['dot', 'general', 'additive'];
const ATTENTION_OPTIONS = ['score', 'units', 'attentionalHidden', 'name'] as const;

export interface AttentionOptions {
  /**
   * How query q_t and memory step m_j are scored: 'dot' e = q·m (Luong; needs equal sizes),
   * 'general' e = q·(W_a m) (Luong), 'additive' e = vᵀ tanh(W_q q + W_k m + b) (Bahdanau).
   */
  score: AttentionScore;
  /** 'additive' only: A, the width of the tanh layer. Default: the query size. */
  units?: number;
  /**
   * Hc: output Luong's attentional hidden state h̃_t = tanh(W_c [c_t; q_t] + b_c) of this size
   * instead of the context c_t.
   */
  attentionalHidden?: number;
  /** Prefix of the parameter names. Default 'attention'. */
  name?: string;
}

/** What calling an Attention node on graph values gives. */
export interface AttentionValues {
  /** (B, Tq, Hc) h̃ with attentionalHidden, else the context (B, Tq, Hm). */
  output: GraphValue;
  /** (B, Tq, Ts) the attention weights (0 on masked memory steps and padded query steps). */
  weights: GraphValue;
}

/**
 * Attention of queries (B, Tq, Hq) over a memory (B, Ts, Hm), masked by the memory's lengths:
 * inputs [queries, memory]; outputs [context (B, Tq, Hm) or h̃ (B, Tq, Hc), weights (B, Tq, Ts)].
 * Memory steps j ≥ len_s[b] get weight 0; query steps t ≥ len_q[b] get zero weights and context
 * (h̃ there is tanh(W_c [0; q_t] + b_c)) and no gradient through the attention.
 *
 * Parameters (PyTorch nn.Linear layouts, names prefixed `<name>.`): 'general': `weight` (Hq, Hm)
 * = W_a. 'additive': `query_weight` (A, Hq) = W_q, `key_weight` (A, Hm) = W_k, `key_bias` (A) = b,
 * `score_weight` (1, A) = vᵀ. With attentionalHidden: `output_weight` (Hc, Hm + Hq) = W_c (columns:
 * context first, then query) and `output_bias` (Hc) = b_c. 'dot' alone has none.
 */
export class Attention extends GraphOpBase {
  readonly score: AttentionScore;
  readonly attentionalHidden: number;
  /** A (additive); 0 until configured when the default applies. */
  units: number;
  querySize = 0;
  memorySize = 0;
  private saved: { q: Tensor; m: Tensor; qk: Tensor; keys: Tensor; weights: Tensor; cat?: Tensor; out?: Tensor } | null = null;

  constructor(o: AttentionOptions) {
    checkOptionsObject('Attention', o, ATTENTION_OPTIONS, "{ score: 'general' }");
    const name = o.name === undefined ? 'attention' : checkLayerName('Attention', o.name);
    super(name);
    const owner = layerLabel('Attention', name);
    if (o.score === undefined) throw new Error(`${owner}: option score is required: one of ${ATTENTION_SCORES.join(', ')}`);
    this.score = checkEnum(owner, 'option score', o.score, ATTENTION_SCORES);
    this.units = o.units === undefined ? 0 : checkInteger(owner, 'option units', o.units, 1);
    if (o.units !== undefined && this.score !== 'additive') {
      throw new Error(`${owner}: option units (${o.units}) applies only to score 'additive', got score '${this.score}'`);
    }
    this.attentionalHidden = o.attentionalHidden === undefined ? 0 : checkInteger(owner, 'option attentionalHidden', o.attentionalHidden, 1);
  }

  protected get owner(): string { return layerLabel('Attention', this.name); }

  /** Adds this node to a graph: queries (e.g. a decoder's outputs) attend over memory (an encoder's). */
  call(queries: GraphValue, memory: GraphValue): AttentionValues {
    const [output, weights] = callOp(this, [queries, memory], 2);
    return { output, weights };
  }

  configureInputs(inputs: ActDesc[], rng: Rng): ActDesc[] {
    const owner = this.owner;
    if (inputs.length !== 2) throw new Error(`${owner}: takes 2 inputs [queries, memory], got ${inputs.length}`);
    const [q, m] = inputs;
    for (const [what, d] of [['queries', q], ['memory', m]] as const) {
      if (d.kind !== 'seq') throw new Error(`${owner}: ${what} must be a sequence (B, T, features), got ${d.kind === 'tokens' ? 'token ids (put an Embedding first)' : 'vectors (B, features)'}`);
    }
    const Hq = q.size, Hm = m.size;
    if (this.score === 'dot' && Hq !== Hm) {
      throw new Error(`${owner}: score 'dot' needs queries and memory of one size, got ${Hq} and ${Hm}; use score 'general' or 'additive' for different sizes`);
    }
    this.querySize = Hq;
    this.memorySize = Hm;
    this.params = [];
    const add = (name: string, shape: number[], fanIn: number) => {
      const n = shape.reduce((a, c) => a * c, 1);
      this.params.push({ name, shape, init: uniformInit(rng, n, 1 / Math.sqrt(fanIn), `${this.name}.${name}`) });
    };
    if (this.score === 'general') add('weight', [Hq, Hm], Hm);
    if (this.score === 'additive') {
      const A = this.units || Hq;
      this.units = A;
      add('query_weight', [A, Hq], Hq);
      add('key_weight', [A, Hm], Hm);
      add('key_bias', [A], Hm);
      add('score_weight', [1, A], A);
    }
    const Hc = this.attentionalHidden;
    if (Hc) {
      add('output_weight', [Hc, Hm + Hq], Hm + Hq);
      add('output_bias', [Hc], Hm + Hq);
    }
    // The weights' last dimension is the memory's length, known only per run: size 0 says so.
    return [{ kind: 'seq', size: Hc || Hm }, { kind: 'seq', size: 0 }];
  }

  checkRunInputs(runs: RunCheck[]): void {
    if (runs.length !== 2) throw new Error(`${this.owner}: takes 2 inputs [queries, memory], got ${runs.length}`);
    if (runs[0].B !== runs[1].B) {
      throw new Error(`${this.owner}: queries have batch size ${runs[0].B} but the memory has ${runs[1].B}; each query row attends over the same row of the memory`);
    }
  }

  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[] {
    const [qa, ma] = inputs;
    const q = qa.t, m = ma.t;
    const B = runs[0].B, Tq = runs[0].T, Ts = runs[1].T, Hq = this.querySize, Hm = this.memorySize;
    let qk = q, keys = m, scoreV: Tensor | undefined;
    if (this.score === 'general') {
      keys = this.buffer('keys', [B, Ts, Hq]);
      matmul(ctx, m, this.param('weight').value!, keys, { transB: true });
    } else if (this.score === 'additive') {
      const A = this.units;
      qk = this.buffer('qk', [B, Tq, A]);
      keys = this.buffer('keys', [B, Ts, A]);
      matmul(ctx, q, this.param('query_weight').value!, qk, { transB: true });
      matmul(ctx, m, this.param('key_weight').value!, keys, { transB: true, bias: this.param('key_bias').value });
      scoreV = this.param('score_weight').value!;
    }
    const weights = this.buffer('weights', [B, Tq, Ts]);
    const context = this.buffer('context', [B, Tq, Hm]);
    attentionForward(ctx, { qk, keys, values: m, scoreV: scoreV && vectorView(scoreV), lengthsQ: runs[0].lengths, lengthsS: runs[1].lengths, weights, context });
    this.saved = { q, m, qk, keys, weights };
    const Hc = this.attentionalHidden;
    if (!Hc) return [{ kind: 'seq', t: context }, { kind: 'seq', t: weights }];
    const cat = this.buffer('cat', [B, Tq, Hm + Hq]);
    seqCopyCols(ctx, context, cat, 0);
    seqCopyCols(ctx, q, cat, Hm);
    const z = this.buffer('z', [B, Tq, Hc]);
    matmul(ctx, cat, this.param('output_weight').value!, z, { transB: true, bias: this.param('output_bias').value });
    const out = this.buffer('out', [B, Tq, Hc]);
    activationForward(ctx, 'tanh', z, out);
    this.saved.cat = cat;
    this.saved.out = out;
    return [{ kind: 'seq', t: out }, { kind: 'seq', t: weights }];
  }

  backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[] {
    const s = this.saved;
    if (!s) throw new Error(`${this.owner}: backward before forward`);
    const B = runs[0].B, Tq = runs[0].T, Ts = runs[1].T, Hq = this.querySize, Hm = this.memorySize, Hc = this.attentionalHidden;
    const [dout, dweights] = dOutputs;
    const D = this.score === 'additive' ? this.units : Hq;
    // The gradient of the context: from h̃ through W_c, or the output's own gradient.
    let dcontext: Tensor;
    let dcat: Tensor | null = null;
    if (!dout) {
      dcontext = this.buffer('dcontext', [B, Tq, Hm]);
      ctx.clear(dcontext);
    } else if (Hc) {
      const dz = this.buffer('dz', [B, Tq, Hc]);
      activationBackward(ctx, 'tanh', s.out!, dout, dz);
      matmul(ctx, dz, s.cat!, this.param('output_weight').grad!, { transA: true, accumulate: true });
      matmulColumnSum(ctx, dz, this.param('output_bias').grad!, { accumulate: true });
      dcat = this.buffer('dcat', [B, Tq, Hm + Hq]);
      matmul(ctx, dz, this.param('output_weight').value!, dcat);
      dcontext = this.buffer('dcontext', [B, Tq, Hm]);
      seqTakeCols(ctx, dcat, dcontext, 0);
    } else {
      dcontext = dout;
    }
    const dscores = this.buffer('dscores', [B, Tq, Ts]);
    const dqk = this.buffer('dqk', [B, Tq, D]);
    const dkeys = this.buffer('dkeys', [B, Ts, D]);
    const dvalues = this.buffer('dvalues', [B, Ts, Hm]);
    const additive = this.score === 'additive';
    const dvPart = additive ? this.buffer('dvPart', [B, Tq, D]) : undefined;
    attentionBackward(ctx, {
      qk: s.qk, keys: s.keys, values: s.m, scoreV: additive ? vectorView(this.param('score_weight').value!) : undefined,
      weights: s.weights, dcontext, dweights: dweights ?? undefined, dscores, dqk, dkeys, dvalues, dvPart,
    });
    const [needQ, needM] = needInputGrads;
    let dq: Tensor | null = null;
    const dm = dvalues;
    if (this.score === 'dot') {
      dq = dqk;
      if (needM) seqAxpy(ctx, 1, dkeys, dm);
    } else if (this.score === 'general') {
      const W = this.param('weight');
      dq = dqk;
      matmul(ctx, dkeys, s.m, W.grad!, { transA: true, accumulate: true });
      if (needM) matmul(ctx, dkeys, W.value!, dm, { accumulate: true });
    } else {
      const Wq = this.param('query_weight'), Wk = this.param('key_weight');
      matmul(ctx, dqk, s.q, Wq.grad!, { transA: true, accumulate: true });
      matmul(ctx, dkeys, s.m, Wk.grad!, { transA: true, accumulate: true });
      matmulColumnSum(ctx, dkeys, this.param('key_bias').grad!, { accumulate: true });
      matmulColumnSum(ctx, dvPart!, vectorView(this.param('score_weight').grad!), { accumulate: true });
      if (needQ) {
        dq = this.buffer('dq', [B, Tq, Hq]);
        matmul(ctx, dqk, Wq.value!, dq);
      }
      if (needM) matmul(ctx, dkeys, Wk.value!, dm, { accumulate: true });
    }
    if (needQ && dcat) seqTakeCols(ctx, dcat, dq!, Hm, { accumulate: true });
    return [needQ ? dq : null, needM ? dm : null];
  }

  protected override forgetRun(): void {
    this.saved = null;
  }

  /** Rebuilds a node from what `config()` wrote (same options; parameters are initialised fresh). */
  static fromConfig(c: Record<string, unknown>): Attention {
    if (c.type !== 'Attention') throw new Error(`Attention.fromConfig: expected a config of type "Attention", got ${JSON.stringify(c.type)}`);
    return new Attention({
      score: c.score as AttentionScore, name: c.name as string,
      ...(c.units === undefined ? {} : { units: c.units as number }),
      ...(c.attentionalHidden === undefined ? {} : { attentionalHidden: c.attentionalHidden as number }),
    });
  }

  config(): Record<string, unknown> {
    return {
      type: 'Attention', name: this.name, score: this.score, units: this.score === 'additive' ? this.units : undefined,
      attentionalHidden: this.attentionalHidden || undefined, querySize: this.querySize, memorySize: this.memorySize,
    };
  }
}

/** The (1, A) score_weight as the (A) vector the kernels take: the same buffer, never released. */
function vectorView(t: Tensor): Tensor {
  return new Tensor(t.buffer, [t.size], t.dtype, `${t.name} (as a vector)`, () => {});
}
