// Luong's input-feeding decoder in float64: an LSTM (or GRU) cell whose input at step t is [x_t; h̃_(t−1)],
// with attention over the memory inside the recurrence. The reference for the GPU node
// (src/nn/attention_decoder.ts); see src/cpu/attention.ts for the attention itself.
//
// For row b and step t < len_q[b] (h̃_(−1) = the initial h̃ or 0; h_(−1), c_(−1) = the initial state):
//   pre = W_ih [x_t; h̃_(t−1)] + b_ih + W_hh h_(t−1) + b_hh     gate order i, f, g, o (PyTorch)
//   c_t = σ(f)⊙c_(t−1) + σ(i)⊙tanh(g),  h_t = σ(o)⊙tanh(c_t)
//   (GRU, gate order r, z, n as PyTorch's nn.GRUCell: with gi = W_ih [x_t; h̃_(t−1)] + b_ih and
//   gh = W_hh h_(t−1) + b_hh, r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r⊙gh_n),
//   h_t = (1 − z)⊙n + z⊙h_(t−1); no cell state)
//   a_t, ctx_t = attention of the query h_t over m (dot, general or additive; masked by len_s[b])
//   h̃_t = tanh(W_c [ctx_t; h_t] + b_c)
// Steps t ≥ len_q[b] give h̃_t = 0 and a_t = 0; (h_n, c_n) and the final h̃ are those of step
// len_q[b] − 1.
// Parameters: the cell's `weight_ih` (4H, I + Hc), `weight_hh` (4H, H), `bias_ih`, `bias_hh` (4H)
// (PyTorch nn.LSTMCell; 3H rows for the GRU, nn.GRUCell), the attention's (`weight`, or `query_weight`, `key_weight`, `key_bias`,
// `score_weight`: src/cpu/attention.ts, with queries of size H) and `output_weight` (Hc, Hm + H),
// `output_bias` (Hc).
import { attentionBackward, attentionForward, type AttentionScore } from './attention.ts';

type Arr = ArrayLike<number>;

/** Sizes: x (B, T, I), memory (B, Ts, Hm), hidden H, attentional hidden Hc, additive units A; the cell (default 'lstm'). */
export interface AttentionDecoderDims { B: number; T: number; Ts: number; I: number; H: number; Hm: number; Hc: number; A?: number; cell?: 'lstm' | 'gru' }

export type AttentionDecoderParams = Record<string, Arr>;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function param(p: AttentionDecoderParams, name: string): Arr {
  const v = p[name];
  if (!v) throw new Error(`attention decoder reference: parameter ${name} is missing`);
  return v;
}

/** keys and scoreV of the memory for each score (projections over all memory positions). */
function memorySide(score: AttentionScore, m: Arr, d: AttentionDecoderDims, p: AttentionDecoderParams): { keys: Float64Array; D: number; scoreV: Arr | null } {
  const { B, Ts, Hm, H } = d;
  if (score === 'dot') return { keys: Float64Array.from(m), D: Hm, scoreV: null };
  const [W, bias, D] = score === 'general' ? [param(p, 'weight'), null, H] : [param(p, 'key_weight'), param(p, 'key_bias'), d.A ?? 0];
  const keys = new Float64Array(B * Ts * D);
  for (let r = 0; r < B * Ts; r++) {
    for (let o = 0; o < D; o++) {
      let s = bias ? bias[o] : 0;
      for (let k = 0; k < Hm; k++) s += W[o * Hm + k] * m[r * Hm + k];
      keys[r * D + o] = s;
    }
  }
  return { keys, D, scoreV: score === 'additive' ? param(p, 'score_weight') : null };
}

interface Step {
  xhat: Float64Array; hPrev: Float64Array; cPrev: Float64Array; gates: Float64Array; c: Float64Array; h: Float64Array;
  /** GRU: W_hn h_(t−1) + b_hn, the part of n's pre-activation the reset gate scales. */
  ghN: Float64Array;
  qk: Float64Array; weights: Float64Array; context: Float64Array; out: Float64Array; active: number[];
}

function run(score: AttentionScore, x: Arr, m: Arr, lenQ: Arr, lenS: Arr, d: AttentionDecoderDims, p: AttentionDecoderParams, h0?: Arr, c0?: Arr, a0?: Arr) {
  const { B, T, Ts, I, H, Hm, Hc } = d;
  const gru = d.cell === 'gru';
  const G = (gru ? 3 : 4) * H, X = I + Hc;
  const Wih = param(p, 'weight_ih'), Whh = param(p, 'weight_hh'), bih = param(p, 'bias_ih'), bhh = param(p, 'bias_hh');
  const Wc = param(p, 'output_weight'), bc = param(p, 'output_bias');
  const mem = memorySide(score, m, d, p);
  const D = mem.D;
  const output = new Float64Array(B * T * Hc), weights = new Float64Array(B * T * Ts);
  let h = h0 ? Float64Array.from(h0) : new Float64Array(B * H), c = c0 ? Float64Array.from(c0) : new Float64Array(B * H);
  let prevOut = a0 ? Float64Array.from(a0) : new Float64Array(B * Hc);
  const lastOut = Float64Array.from(prevOut);
  const steps: Step[] = [];
  for (let t = 0; t < T; t++) {
    const active = Array.from({ length: B }, (_, b) => (t < lenQ[b] ? 1 : 0));
    const xhat = new Float64Array(B * X), gates = new Float64Array(B * G), ghN = new Float64Array(B * H);
    const hn = Float64Array.from(h), cn = Float64Array.from(c);
    for (let b = 0; b < B; b++) {
      if (!active[b]) continue;
      for (let i = 0; i < I; i++) xhat[b * X + i] = x[(b * T + t) * I + i];
      for (let i = 0; i < Hc; i++) xhat[b * X + I + i] = prevOut[b * Hc + i];
      if (gru) {
        const gi = new Float64Array(G), gh = new Float64Array(G);
        for (let g = 0; g < G; g++) {
          gi[g] = bih[g];
          for (let i = 0; i < X; i++) gi[g] += Wih[g * X + i] * xhat[b * X + i];
          gh[g] = bhh[g];
          for (let k = 0; k < H; k++) gh[g] += Whh[g * H + k] * h[b * H + k];
        }
        for (let k = 0; k < H; k++) {
          const r = sigmoid(gi[k] + gh[k]), z = sigmoid(gi[H + k] + gh[H + k]), n = Math.tanh(gi[2 * H + k] + r * gh[2 * H + k]);
          gates[b * G + k] = r; gates[b * G + H + k] = z; gates[b * G + 2 * H + k] = n;
          ghN[b * H + k] = gh[2 * H + k];
          hn[b * H + k] = (1 - z) * n + z * h[b * H + k];
        }
        continue;
      }
      for (let g = 0; g < G; g++) {
        let s = bih[g] + bhh[g];
        for (let i = 0; i < X; i++) s += Wih[g * X + i] * xhat[b * X + i];
        for (let k = 0; k < H; k++) s += Whh[g * H + k] * h[b * H + k];
        const gate = Math.floor(g / H);
        gates[b * G + g] = gate === 2 ? Math.tanh(s) : sigmoid(s);
      }
      for (let k = 0; k < H; k++) {
        const [gi, gf, gg, go] = [0, 1, 2, 3].map((q) => gates[b * G + q * H + k]);
        cn[b * H + k] = gf * c[b * H + k] + gi * gg;
        hn[b * H + k] = go * Math.tanh(cn[b * H + k]);
      }
    }
    // The query side: h_t itself, or W_q h_t for the additive score.
    let qk: Float64Array = hn;
    if (score === 'additive') {
      const Wq = param(p, 'query_weight');
      qk = new Float64Array(B * D);
      for (let b = 0; b < B; b++) for (let o = 0; o < D; o++) {
        let s = 0;
        for (let k = 0; k < H; k++) s += Wq[o * H + k] * hn[b * H + k];
        qk[b * D + o] = s;
      }
    }
    const att = attentionForward(qk, mem.keys, m, mem.scoreV, active, lenS, { B, Tq: 1, Ts, D, Hm });
    const out = new Float64Array(B * Hc);
    for (let b = 0; b < B; b++) {
      if (!active[b]) continue;
      for (let o = 0; o < Hc; o++) {
        let s = bc[o];
        for (let k = 0; k < Hm; k++) s += Wc[o * (Hm + H) + k] * att.context[b * Hm + k];
        for (let k = 0; k < H; k++) s += Wc[o * (Hm + H) + Hm + k] * hn[b * H + k];
        out[b * Hc + o] = Math.tanh(s);
      }
      output.set(out.subarray(b * Hc, (b + 1) * Hc), (b * T + t) * Hc);
      lastOut.set(out.subarray(b * Hc, (b + 1) * Hc), b * Hc);
      weights.set(att.weights.subarray(b * Ts, (b + 1) * Ts), (b * T + t) * Ts);
    }
    steps.push({ xhat, hPrev: h, cPrev: c, gates, c: cn, h: hn, ghN, qk, weights: att.weights, context: att.context, out, active });
    // Rows past their length keep their state (h_n, c_n) and feed nothing further.
    h = hn; c = cn;
    prevOut = out;
  }
  return { output, weights, hn: h, cn: gru ? new Float64Array(0) : c, attentional: lastOut, steps, mem };
}

/**
 * Forward from the initial states h0, c0 (B, H) and h̃ a0 (B, Hc) (each zeros when missing; a
 * GRU ignores c0): output h̃ (B, T, Hc), weights (B, T, Ts), final states hn, cn (B, H; a GRU's
 * cn is empty) and the final h̃ `attentional` (B, Hc), each row's at its last step.
 */
export function attentionDecoderForward(
  score: AttentionScore, x: Arr, m: Arr, lenQ: Arr, lenS: Arr, dims: AttentionDecoderDims, params: AttentionDecoderParams, h0?: Arr, c0?: Arr, a0?: Arr,
): { output: Float64Array; weights: Float64Array; hn: Float64Array; cn: Float64Array; attentional: Float64Array } {
  const r = run(score, x, m, lenQ, lenS, dims, params, h0, c0, a0);
  return { output: r.output, weights: r.weights, hn: r.hn, cn: r.cn, attentional: r.attentional };
}

/** Upstream gradients of the final states and the final h̃ (zeros when missing). */
export interface AttentionDecoderFinalGrads { h?: Arr; c?: Arr; attentional?: Arr }

/**
 * Backward through time from doutput (B, T, Hc), optional dweights (B, T, Ts) and optional
 * gradients of the final states and h̃ (`dFinal`): dx, dm, dh0, dc0, da0 (the initial h̃'s) and
 * every parameter's gradient by name. Padded steps receive and pass no gradient.
 */
export function attentionDecoderBackward(
  score: AttentionScore, x: Arr, m: Arr, lenQ: Arr, lenS: Arr, dims: AttentionDecoderDims, params: AttentionDecoderParams,
  doutput: Arr, dweights: Arr | null, h0?: Arr, c0?: Arr, a0?: Arr, dFinal: AttentionDecoderFinalGrads = {},
): { dx: Float64Array; dm: Float64Array; dh0: Float64Array; dc0: Float64Array; da0: Float64Array; grads: Record<string, Float64Array> } {
  const { B, T, Ts, I, H, Hm, Hc } = dims;
  const gru = dims.cell === 'gru';
  const G = (gru ? 3 : 4) * H, X = I + Hc, W = Hm + H;
  const r = run(score, x, m, lenQ, lenS, dims, params, h0, c0, a0);
  const D = r.mem.D;
  const Wih = param(params, 'weight_ih'), Whh = param(params, 'weight_hh'), Wc = param(params, 'output_weight');
  const grads: Record<string, Float64Array> = {};
  for (const name of Object.keys(params)) grads[name] = new Float64Array(params[name].length);
  const dx = new Float64Array(B * T * I), dkeys = new Float64Array(B * Ts * D), dm = new Float64Array(B * Ts * Hm);
  // dh_n and dc_n enter at each row's last step: rows past their length pass dh, dc through.
  let dh = dFinal.h ? Float64Array.from(dFinal.h) : new Float64Array(B * H), dc = dFinal.c ? Float64Array.from(dFinal.c) : new Float64Array(B * H);
  let dfeed = new Float64Array(B * Hc);
  for (let t = T - 1; t >= 0; t--) {
    const s = r.steps[t];
    // h̃_t: its upstream gradient plus what step t + 1's input took from it.
    const dz = new Float64Array(B * Hc), dctx = new Float64Array(B * Hm), dhq = Float64Array.from(dh);
    const dwt = new Float64Array(B * Ts);
    for (let b = 0; b < B; b++) {
      if (!s.active[b]) continue;
      for (let o = 0; o < Hc; o++) {
        const y = s.out[b * Hc + o];
        const dLast = dFinal.attentional && t === lenQ[b] - 1 ? dFinal.attentional[b * Hc + o] : 0;
        const g = (doutput[(b * T + t) * Hc + o] + dfeed[b * Hc + o] + dLast) * (1 - y * y);
        dz[b * Hc + o] = g;
        grads.output_bias[o] += g;
        for (let k = 0; k < Hm; k++) {
          grads.output_weight[o * W + k] += g * s.context[b * Hm + k];
          dctx[b * Hm + k] += g * Wc[o * W + k];
        }
        for (let k = 0; k < H; k++) {
          grads.output_weight[o * W + Hm + k] += g * s.h[b * H + k];
          dhq[b * H + k] += g * Wc[o * W + Hm + k];
        }
      }
      if (dweights) for (let j = 0; j < Ts; j++) dwt[b * Ts + j] = dweights[(b * T + t) * Ts + j];
    }
    const core = attentionBackward(s.qk, r.mem.keys, m, r.mem.scoreV, s.weights, dctx, dwt, { B, Tq: 1, Ts, D, Hm });
    for (let i = 0; i < dm.length; i++) dm[i] += core.dvalues[i];
    for (let i = 0; i < dkeys.length; i++) dkeys[i] += core.dkeys[i];
    if (score === 'additive') {
      const Wq = param(params, 'query_weight');
      for (let d = 0; d < D; d++) grads.score_weight[d] += core.dv![d];
      for (let b = 0; b < B; b++) for (let o = 0; o < D; o++) {
        const g = core.dqk[b * D + o];
        for (let k = 0; k < H; k++) { grads.query_weight[o * H + k] += g * s.h[b * H + k]; dhq[b * H + k] += g * Wq[o * H + k]; }
      }
    } else {
      for (let i = 0; i < dhq.length; i++) dhq[i] += core.dqk[i];
    }
    // The cell at step t, for active rows; inactive rows pass dh, dc through unchanged.
    const nextDh = Float64Array.from(dhq), nextDc = Float64Array.from(dc);
    dfeed = new Float64Array(B * Hc);
    for (let b = 0; b < B; b++) {
      if (!s.active[b]) continue;
      // dpre: the input side's pre-activation gradients; dpreH the hidden side's (they differ
      // only in the GRU's n rows, which the reset gate scales).
      const dpre = new Float64Array(G), dpreH = gru ? new Float64Array(G) : dpre;
      if (gru) {
        for (let k = 0; k < H; k++) {
          const r = s.gates[b * G + k], z = s.gates[b * G + H + k], n = s.gates[b * G + 2 * H + k];
          const dht = dhq[b * H + k];
          const dn = dht * (1 - z) * (1 - n * n);
          const dr = dn * s.ghN[b * H + k];
          dpre[k] = dpreH[k] = dr * r * (1 - r);
          dpre[H + k] = dpreH[H + k] = dht * (s.hPrev[b * H + k] - n) * z * (1 - z);
          dpre[2 * H + k] = dn;
          dpreH[2 * H + k] = dn * r;
          nextDh[b * H + k] = dht * z;
        }
      }
      if (!gru) for (let k = 0; k < H; k++) {
        const [gi, gf, gg, go] = [0, 1, 2, 3].map((q) => s.gates[b * G + q * H + k]);
        const tc = Math.tanh(s.c[b * H + k]);
        const dht = dhq[b * H + k];
        const dct = dc[b * H + k] + dht * go * (1 - tc * tc);
        dpre[k] = dct * gg * gi * (1 - gi);
        dpre[H + k] = dct * s.cPrev[b * H + k] * gf * (1 - gf);
        dpre[2 * H + k] = dct * gi * (1 - gg * gg);
        dpre[3 * H + k] = dht * tc * go * (1 - go);
        nextDc[b * H + k] = dct * gf;
      }
      if (!gru) for (let k = 0; k < H; k++) nextDh[b * H + k] = 0;
      for (let g = 0; g < G; g++) {
        const v = dpre[g], vh = dpreH[g];
        grads.bias_ih[g] += v;
        grads.bias_hh[g] += vh;
        for (let i = 0; i < X; i++) grads.weight_ih[g * X + i] += v * s.xhat[b * X + i];
        for (let k = 0; k < H; k++) { grads.weight_hh[g * H + k] += vh * s.hPrev[b * H + k]; nextDh[b * H + k] += vh * Whh[g * H + k]; }
        for (let i = 0; i < I; i++) dx[(b * T + t) * I + i] += v * Wih[g * X + i];
        for (let i = 0; i < Hc; i++) dfeed[b * Hc + i] += v * Wih[g * X + I + i];
      }
    }
    dh = nextDh; dc = nextDc;
  }
  // The memory side's projections, once over all positions.
  if (score === 'dot') {
    for (let i = 0; i < dm.length; i++) dm[i] += dkeys[i];
  } else {
    const [Wname, bname] = score === 'general' ? ['weight', null] : ['key_weight', 'key_bias'];
    const Wk = param(params, Wname);
    for (let rr = 0; rr < B * Ts; rr++) for (let o = 0; o < D; o++) {
      const g = dkeys[rr * D + o];
      if (bname) grads[bname][o] += g;
      for (let k = 0; k < Hm; k++) { grads[Wname][o * Hm + k] += g * m[rr * Hm + k]; dm[rr * Hm + k] += g * Wk[o * Hm + k]; }
    }
  }
  return { dx, dm, dh0: dh, dc0: gru ? new Float64Array(0) : dc, da0: dfeed, grads };
}
