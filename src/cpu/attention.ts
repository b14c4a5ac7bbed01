// Attention over a memory, masked by lengths, in float64: the reference for shaders/attention.wgsl
// (`attentionForward` ↔ attention_forward, `attentionBackward` ↔ attention_backward_queries +
// attention_backward_memory) and for the Attention node (`attentionLayerForward` / `attentionLayerBackward`:
// the projections, the attention and Luong's attentional hidden state together).
//
// For row b, query step t < len_q[b] and memory step j < len_s[b]:
//   dot:      e_tj = q_t · m_j                               (Hq = Hm)
//   general:  e_tj = q_t · (W_a m_j)                         W_a (Hq, Hm)      `weight`
//   additive: e_tj = vᵀ tanh(W_q q_t + W_k m_j + b)          W_q (A, Hq) `query_weight`, W_k (A, Hm)
//                                                            `key_weight`, b (A) `key_bias`, v (1, A) `score_weight`
//   a_t = softmax over j < len_s[b] of e_t (0 for j ≥ len_s[b]);  c_t = Σ_j a_tj m_j
//   h̃_t = tanh(W_c [c_t; q_t] + b_c)  when attentionalHidden = Hc   W_c (Hc, Hm + Hq) `output_weight`, b_c `output_bias`
// Query steps t ≥ len_q[b] have a_t = 0 and c_t = 0 (and receive no gradient through them).

/** Sizes of the attention core: qk (B, Tq, D), keys (B, Ts, D), values (B, Ts, Hm). */
export interface AttentionDims { B: number; Tq: number; Ts: number; D: number; Hm: number }

type Arr = ArrayLike<number>;

function scoreOf(qk: Arr, keys: Arr, scoreV: Arr | null, q0: number, k0: number, D: number): number {
  let e = 0;
  for (let d = 0; d < D; d++) e += scoreV ? scoreV[d] * Math.tanh(qk[q0 + d] + keys[k0 + d]) : qk[q0 + d] * keys[k0 + d];
  return e;
}

/**
 * The attention core: scores (dot product, or additive with `scoreV`), masked softmax, context.
 * Returns weights (B, Tq, Ts) and context (B, Tq, Hm).
 */
export function attentionForward(
  qk: Arr, keys: Arr, values: Arr, scoreV: Arr | null, lenQ: Arr, lenS: Arr, dims: AttentionDims,
): { weights: Float64Array; context: Float64Array } {
  const { B, Tq, Ts, D, Hm } = dims;
  const weights = new Float64Array(B * Tq * Ts), context = new Float64Array(B * Tq * Hm);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < lenQ[b]; t++) {
      const row = b * Tq + t, ls = lenS[b];
      const e = new Float64Array(ls);
      let max = -Infinity;
      for (let j = 0; j < ls; j++) {
        e[j] = scoreOf(qk, keys, scoreV, row * D, (b * Ts + j) * D, D);
        max = Math.max(max, e[j]);
      }
      let sum = 0;
      for (let j = 0; j < ls; j++) sum += Math.exp(e[j] - max);
      for (let j = 0; j < ls; j++) {
        const a = Math.exp(e[j] - max) / sum;
        weights[row * Ts + j] = a;
        for (let h = 0; h < Hm; h++) context[row * Hm + h] += a * values[(b * Ts + j) * Hm + h];
      }
    }
  }
  return { weights, context };
}

/**
 * Backward of the attention core from dcontext (and an optional upstream gradient of the weights).
 * dkeys is the gradient through the scores only, dvalues through the context only (for the dot
 * score keys = values = m, and dm is their sum). dv is null without `scoreV`.
 */
export function attentionBackward(
  qk: Arr, keys: Arr, values: Arr, scoreV: Arr | null, weights: Arr, dcontext: Arr, dweights: Arr | null, dims: AttentionDims,
): { dscores: Float64Array; dqk: Float64Array; dkeys: Float64Array; dvalues: Float64Array; dv: Float64Array | null } {
  const { B, Tq, Ts, D, Hm } = dims;
  const dscores = new Float64Array(B * Tq * Ts), dqk = new Float64Array(B * Tq * D);
  const dkeys = new Float64Array(B * Ts * D), dvalues = new Float64Array(B * Ts * Hm);
  const dv = scoreV ? new Float64Array(D) : null;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) {
      const row = b * Tq + t;
      const da = new Float64Array(Ts);
      let dot = 0;
      for (let j = 0; j < Ts; j++) {
        const a = weights[row * Ts + j];
        let g = dweights ? dweights[row * Ts + j] : 0;
        for (let h = 0; h < Hm; h++) {
          g += dcontext[row * Hm + h] * values[(b * Ts + j) * Hm + h];
          dvalues[(b * Ts + j) * Hm + h] += a * dcontext[row * Hm + h];
        }
        da[j] = g;
        dot += a * g;
      }
      for (let j = 0; j < Ts; j++) {
        const de = weights[row * Ts + j] * (da[j] - dot);
        dscores[row * Ts + j] = de;
        if (de === 0) continue;
        const k0 = (b * Ts + j) * D;
        for (let d = 0; d < D; d++) {
          if (scoreV) {
            const u = Math.tanh(qk[row * D + d] + keys[k0 + d]);
            const g = de * scoreV[d] * (1 - u * u);
            dqk[row * D + d] += g;
            dkeys[k0 + d] += g;
            dv![d] += de * u;
          } else {
            dqk[row * D + d] += de * keys[k0 + d];
            dkeys[k0 + d] += de * qk[row * D + d];
          }
        }
      }
    }
  }
  return { dscores, dqk, dkeys, dvalues, dv };
}

/** The score functions of the Attention node. */
export type AttentionScore = 'dot' | 'general' | 'additive';

/** Sizes of the Attention node: queries (B, Tq, Hq), memory (B, Ts, Hm); A additive units; Hc attentional hidden (0: none). */
export interface AttentionLayerDims { B: number; Tq: number; Ts: number; Hq: number; Hm: number; A?: number; Hc?: number }

/** The node's parameters by their state-dict names (row-major, PyTorch nn.Linear layouts). */
export type AttentionParams = Partial<Record<
  'weight' | 'query_weight' | 'key_weight' | 'key_bias' | 'score_weight' | 'output_weight' | 'output_bias', Arr>>;

/** y (N, O) = x (N, I) · Wᵀ (+ bias), W (O, I). */
function linear(x: Arr, W: Arr, bias: Arr | undefined, N: number, I: number, O: number): Float64Array {
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < I; i++) s += x[n * I + i] * W[o * I + i];
      y[n * O + o] = s;
    }
  }
  return y;
}

/** Backward of `linear`: dW += dyᵀ·x, dbias += Σ_n dy, and returns dx = dy·W. */
function linearBackward(dy: Arr, x: Arr, W: Arr, dW: Float64Array, dbias: Float64Array | null, N: number, I: number, O: number): Float64Array {
  const dx = new Float64Array(N * I);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = dy[n * O + o];
      if (dbias) dbias[o] += g;
      for (let i = 0; i < I; i++) {
        dW[o * I + i] += g * x[n * I + i];
        dx[n * I + i] += g * W[o * I + i];
      }
    }
  }
  return dx;
}

function need(p: AttentionParams, name: keyof AttentionParams): Arr {
  const v = p[name];
  if (!v) throw new Error(`attention reference: parameter ${name} is missing`);
  return v;
}

interface LayerSaved { qk: Arr; keys: Arr; scoreV: Arr | null; D: number; weights: Float64Array; context: Float64Array; cat: Float64Array | null }

function layerForward(
  score: AttentionScore, q: Arr, m: Arr, lenQ: Arr, lenS: Arr, dims: AttentionLayerDims, p: AttentionParams,
): { output: Float64Array; saved: LayerSaved } {
  const { B, Tq, Ts, Hq, Hm } = dims;
  let qk: Arr = q, keys: Arr = m, scoreV: Arr | null = null, D = Hq;
  if (score === 'general') keys = linear(m, need(p, 'weight'), undefined, B * Ts, Hm, Hq);
  if (score === 'additive') {
    D = dims.A ?? 0;
    qk = linear(q, need(p, 'query_weight'), undefined, B * Tq, Hq, D);
    keys = linear(m, need(p, 'key_weight'), need(p, 'key_bias'), B * Ts, Hm, D);
    scoreV = need(p, 'score_weight');
  }
  const { weights, context } = attentionForward(qk, keys, m, scoreV, lenQ, lenS, { B, Tq, Ts, D, Hm });
  const Hc = dims.Hc ?? 0;
  if (!Hc) return { output: context, saved: { qk, keys, scoreV, D, weights, context, cat: null } };
  const N = B * Tq, W = Hm + Hq;
  const cat = new Float64Array(N * W);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < Hm; h++) cat[n * W + h] = context[n * Hm + h];
    for (let h = 0; h < Hq; h++) cat[n * W + Hm + h] = q[n * Hq + h];
  }
  const output = linear(cat, need(p, 'output_weight'), need(p, 'output_bias'), N, W, Hc).map(Math.tanh);
  return { output, saved: { qk, keys, scoreV, D, weights, context, cat } };
}

/**
 * The Attention node forward: queries q (B, Tq, Hq), memory m (B, Ts, Hm). Returns its outputs,
 * output (B, Tq, Hc or Hm: h̃ with attentionalHidden, else the context) and weights (B, Tq, Ts),
 * and the context.
 */
export function attentionLayerForward(
  score: AttentionScore, q: Arr, m: Arr, lenQ: Arr, lenS: Arr, dims: AttentionLayerDims, params: AttentionParams,
): { output: Float64Array; weights: Float64Array; context: Float64Array } {
  const { output, saved } = layerForward(score, q, m, lenQ, lenS, dims, params);
  return { output, weights: saved.weights, context: saved.context };
}

/**
 * The Attention node backward from doutput (B, Tq, Hc or Hm) and an optional dweights (B, Tq, Ts):
 * dq, dm and every parameter's gradient by name.
 */
export function attentionLayerBackward(
  score: AttentionScore, q: Arr, m: Arr, lenQ: Arr, lenS: Arr, dims: AttentionLayerDims, params: AttentionParams,
  doutput: Arr, dweights: Arr | null,
): { dq: Float64Array; dm: Float64Array; grads: Record<string, Float64Array> } {
  const { B, Tq, Ts, Hq, Hm } = dims;
  const { output, saved } = layerForward(score, q, m, lenQ, lenS, dims, params);
  const grads: Record<string, Float64Array> = {};
  const N = B * Tq;
  const dq = new Float64Array(N * Hq);
  let dcontext: Arr = doutput;
  const Hc = dims.Hc ?? 0;
  if (Hc) {
    const W = Hm + Hq;
    const dz = new Float64Array(N * Hc);
    for (let i = 0; i < dz.length; i++) dz[i] = doutput[i] * (1 - output[i] * output[i]);
    grads.output_weight = new Float64Array(Hc * W);
    grads.output_bias = new Float64Array(Hc);
    const dcat = linearBackward(dz, saved.cat!, need(params, 'output_weight'), grads.output_weight, grads.output_bias, N, W, Hc);
    const dc = new Float64Array(N * Hm);
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < Hm; h++) dc[n * Hm + h] = dcat[n * W + h];
      for (let h = 0; h < Hq; h++) dq[n * Hq + h] += dcat[n * W + Hm + h];
    }
    dcontext = dc;
  }
  const core = attentionBackward(saved.qk, saved.keys, m, saved.scoreV, saved.weights, dcontext, dweights,
    { B, Tq, Ts, D: saved.D, Hm });
  const dm = core.dvalues;
  if (score === 'dot') {
    for (let i = 0; i < dq.length; i++) dq[i] += core.dqk[i];
    for (let i = 0; i < dm.length; i++) dm[i] += core.dkeys[i];
  } else if (score === 'general') {
    for (let i = 0; i < dq.length; i++) dq[i] += core.dqk[i];
    grads.weight = new Float64Array(Hq * Hm);
    const dmk = linearBackward(core.dkeys, m, need(params, 'weight'), grads.weight, null, B * Ts, Hm, Hq);
    for (let i = 0; i < dm.length; i++) dm[i] += dmk[i];
  } else {
    const A = saved.D;
    grads.query_weight = new Float64Array(A * Hq);
    grads.key_weight = new Float64Array(A * Hm);
    grads.key_bias = new Float64Array(A);
    grads.score_weight = core.dv!;
    const dqq = linearBackward(core.dqk, q, need(params, 'query_weight'), grads.query_weight, null, N, Hq, A);
    const dmk = linearBackward(core.dkeys, m, need(params, 'key_weight'), grads.key_weight, grads.key_bias, B * Ts, Hm, A);
    for (let i = 0; i < dq.length; i++) dq[i] += dqq[i];
    for (let i = 0; i < dm.length; i++) dm[i] += dmk[i];
  }
  return { dq, dm, grads };
}
