// CPU reference for the GRU (shaders/gru.wgsl), float64, PyTorch nn.GRU semantics, gate order r, z, n:
//   r = σ(gx_r + W_hr·h_prev + b_hr)          z = σ(gx_z + W_hz·h_prev + b_hz)
//   n = tanh(gx_n + r ⊙ (W_hn·h_prev + b_hn))  h = (1 − z) ⊙ n + z ⊙ h_prev
// with gx = x·W_ihᵀ + b_ih. Layouts are row-major: x (B,T,I), gx/gates/dgates/dghh (B,T,3H),
// hs/hnLin/dhs (B,T,H), h0/hn/dhn/dh0/dhCarry (B,H), weight_ih (3H,I), weight_hh (3H,H).
// Variable lengths: row b runs steps t < lengths[b]; later steps hold zeros and hn is the state at
// t = lengths[b]-1. The step functions mirror the kernels one dispatch each, including the
// backward carry protocol: dhCarry starts as dhn and holds dh ⊙ z of the step after.
import { sigmoid, tanh } from './math.ts';

export interface GruDims {
  B: number;
  T: number;
  H: number;
}

export interface GruWeights {
  weight_ih: ArrayLike<number>;
  weight_hh: ArrayLike<number>;
  bias_ih: ArrayLike<number>;
  bias_hh: ArrayLike<number>;
}

/** What gruBackward needs from gruForward besides the inputs. */
export interface GruSaved {
  hs: Float64Array;
  gates: Float64Array;
  hnLin: Float64Array;
}

export interface GruGrads {
  dx: Float64Array;
  dweight_ih: Float64Array;
  dweight_hh: Float64Array;
  dbias_ih: Float64Array;
  dbias_hh: Float64Array;
  dh0: Float64Array;
}

/** h_prev[b, k] for step t. */
function hPrev(t: number, b: number, k: number, d: GruDims, h0: ArrayLike<number>, hs: ArrayLike<number>): number {
  return t === 0 ? h0[b * d.H + k] : hs[(b * d.T + t - 1) * d.H + k];
}

/** One forward step (mirrors gru_step_forward): writes hs, gates, hnLin at t and hn where t == len-1. */
export function gruStepForward(
  t: number, d: GruDims,
  a: {
    gx: ArrayLike<number>; whh: ArrayLike<number>; bhh: ArrayLike<number>; h0: ArrayLike<number>; lengths: ArrayLike<number>;
    hs: Float64Array; gates: Float64Array; hnLin: Float64Array; hn: Float64Array;
  },
): void {
  const { B, T, H } = d;
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    const bt = b * T + t;
    for (let j = 0; j < H; j++) {
      const g = bt * 3 * H;
      if (t >= len) {
        a.hs[bt * H + j] = 0;
        a.hnLin[bt * H + j] = 0;
        a.gates[g + j] = 0; a.gates[g + H + j] = 0; a.gates[g + 2 * H + j] = 0;
        continue;
      }
      let ar = a.bhh[j], az = a.bhh[H + j], an = a.bhh[2 * H + j];
      for (let k = 0; k < H; k++) {
        const hk = hPrev(t, b, k, d, a.h0, a.hs);
        ar += a.whh[j * H + k] * hk;
        az += a.whh[(H + j) * H + k] * hk;
        an += a.whh[(2 * H + j) * H + k] * hk;
      }
      const r = sigmoid(a.gx[g + j] + ar);
      const z = sigmoid(a.gx[g + H + j] + az);
      const n = tanh(a.gx[g + 2 * H + j] + r * an);
      const h = (1 - z) * n + z * hPrev(t, b, j, d, a.h0, a.hs);
      a.gates[g + j] = r; a.gates[g + H + j] = z; a.gates[g + 2 * H + j] = n;
      a.hnLin[bt * H + j] = an;
      a.hs[bt * H + j] = h;
      if (t === len - 1) a.hn[b * H + j] = h;
    }
  }
}

/**
 * One backward step (mirrors gru_step_backward). dghh at t+1 must hold the previous step's output;
 * dhCarry holds dhn before the first step (t = T-1) and is updated in place to dh ⊙ z.
 */
export function gruStepBackward(
  t: number, d: GruDims,
  a: {
    dhs: ArrayLike<number>; gates: ArrayLike<number>; hnLin: ArrayLike<number>; hs: ArrayLike<number>; h0: ArrayLike<number>;
    whh: ArrayLike<number>; lengths: ArrayLike<number>; dgates: Float64Array; dghh: Float64Array; dhCarry: Float64Array;
  },
): void {
  const { B, T, H } = d;
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    const bt = b * T + t;
    const g = bt * G;
    for (let j = 0; j < H; j++) {
      if (t >= len) {
        for (const q of [0, H, 2 * H]) { a.dgates[g + q + j] = 0; a.dghh[g + q + j] = 0; }
        continue;
      }
      let dh = a.dhs[bt * H + j] + a.dhCarry[b * H + j];
      if (t + 1 < len) for (let k = 0; k < G; k++) dh += a.dghh[g + G + k] * a.whh[k * H + j];
      const r = a.gates[g + j], z = a.gates[g + H + j], n = a.gates[g + 2 * H + j];
      const hp = hPrev(t, b, j, d, a.h0, a.hs);
      const dn = dh * (1 - z);
      const dz = dh * (hp - n);
      const dnPre = dn * (1 - n * n);
      const drPre = dnPre * a.hnLin[bt * H + j] * r * (1 - r);
      const dzPre = dz * z * (1 - z);
      a.dgates[g + j] = drPre; a.dgates[g + H + j] = dzPre; a.dgates[g + 2 * H + j] = dnPre;
      a.dghh[g + j] = drPre; a.dghh[g + H + j] = dzPre; a.dghh[g + 2 * H + j] = dnPre * r;
      a.dhCarry[b * H + j] = dh * z;
    }
  }
}

/** dh0 = Σ_g dghh[b,0,g]·W_hh[g,:] + dhCarry (mirrors gru_backward_initial; after step 0). */
export function gruBackwardInitial(
  d: GruDims, a: { dghh: ArrayLike<number>; whh: ArrayLike<number>; dhCarry: ArrayLike<number>; dh0: Float64Array },
): void {
  const { B, T, H } = d;
  const G = 3 * H;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      let dh = a.dhCarry[b * H + j];
      for (let k = 0; k < G; k++) dh += a.dghh[b * T * G + k] * a.whh[k * H + j];
      a.dh0[b * H + j] = dh;
    }
  }
}

/** gx (B,T,3H) = x·W_ihᵀ + b_ih, the input projection the caller computes once for all steps. */
export function gruInputProjection(x: ArrayLike<number>, weight_ih: ArrayLike<number>, bias_ih: ArrayLike<number>, B: number, T: number, I: number, H: number): Float64Array {
  const G = 3 * H;
  const gx = new Float64Array(B * T * G);
  for (let bt = 0; bt < B * T; bt++) {
    for (let g = 0; g < G; g++) {
      let s = bias_ih[g];
      for (let k = 0; k < I; k++) s += x[bt * I + k] * weight_ih[g * I + k];
      gx[bt * G + g] = s;
    }
  }
  return gx;
}

/** B, T, I, H from the array lengths (throws if they do not fit together). */
export function gruDimsOf(x: ArrayLike<number>, w: GruWeights, lengths: ArrayLike<number>): GruDims & { I: number } {
  const B = lengths.length;
  const G = w.bias_hh.length;
  const H = G / 3;
  const I = w.weight_ih.length / G;
  const T = x.length / (B * I);
  const ok = Number.isInteger(H) && H > 0 && Number.isInteger(I) && I > 0 && Number.isInteger(T) && T > 0 &&
    w.bias_ih.length === G && w.weight_hh.length === G * H;
  if (!ok) {
    throw new Error(`gru (cpu): inconsistent sizes: x ${x.length}, weight_ih ${w.weight_ih.length}, weight_hh ${w.weight_hh.length}, ` +
      `bias_ih ${w.bias_ih.length}, bias_hh ${w.bias_hh.length}, B = lengths.length = ${B}`);
  }
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(lengths[b]) || lengths[b] < 1 || lengths[b] > T) throw new Error(`gru (cpu): lengths[${b}] = ${lengths[b]} is not in [1, ${T}]`);
  }
  return { B, T, I, H };
}

/** Whole-sequence forward of one GRU layer: hs (B,T,H), hn (B,H) and what backward needs. */
export function gruForward(
  x: ArrayLike<number>, w: GruWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>,
): { hs: Float64Array; hn: Float64Array; saved: GruSaved } {
  const d = gruDimsOf(x, w, lengths);
  const { B, T, I, H } = d;
  const gx = gruInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H);
  const hs = new Float64Array(B * T * H), gates = new Float64Array(B * T * 3 * H), hnLin = new Float64Array(B * T * H);
  const hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) gruStepForward(t, d, { gx, whh: w.weight_hh, bhh: w.bias_hh, h0, lengths, hs, gates, hnLin, hn });
  return { hs, hn, saved: { hs, gates, hnLin } };
}

/**
 * Whole-sequence backward of one GRU layer, given the gradients w.r.t. hs (B,T,H) and hn (B,H):
 * gradients w.r.t. x, the four parameters and h0.
 */
export function gruBackward(
  x: ArrayLike<number>, w: GruWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>, saved: GruSaved,
  dhs: ArrayLike<number>, dhn: ArrayLike<number>,
): GruGrads {
  const d = gruDimsOf(x, w, lengths);
  const { B, T, I, H } = d;
  const G = 3 * H;
  const dgates = new Float64Array(B * T * G), dghh = new Float64Array(B * T * G);
  const dhCarry = Float64Array.from(dhn);
  for (let t = T - 1; t >= 0; t--) {
    gruStepBackward(t, d, { dhs, gates: saved.gates, hnLin: saved.hnLin, hs: saved.hs, h0, whh: w.weight_hh, lengths, dgates, dghh, dhCarry });
  }
  const dh0 = new Float64Array(B * H);
  gruBackwardInitial(d, { dghh, whh: w.weight_hh, dhCarry, dh0 });

  const dx = new Float64Array(B * T * I), dweight_ih = new Float64Array(G * I), dbias_ih = new Float64Array(G);
  const dweight_hh = new Float64Array(G * H), dbias_hh = new Float64Array(G);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const bt = b * T + t;
      for (let g = 0; g < G; g++) {
        const dgi = dgates[bt * G + g], dgh = dghh[bt * G + g];
        dbias_ih[g] += dgi;
        dbias_hh[g] += dgh;
        for (let k = 0; k < I; k++) {
          dweight_ih[g * I + k] += dgi * x[bt * I + k];
          dx[bt * I + k] += dgi * w.weight_ih[g * I + k];
        }
        for (let k = 0; k < H; k++) dweight_hh[g * H + k] += dgh * hPrev(t, b, k, d, h0, saved.hs);
      }
    }
  }
  return { dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, dh0 };
}
