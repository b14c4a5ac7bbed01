// CPU reference for the GRU (shaders/cells/gru.wgsl), float64, gate order r, z, n. By default PyTorch
// nn.GRU's formulation (Keras GRU(reset_after=True)), the reset gate applied after the product:
//   r = σ(gx_r + W_hr·h_prev + b_hr)          z = σ(gx_z + W_hz·h_prev + b_hz)
//   n = act(gx_n + r ⊙ (W_hn·h_prev + b_hn))   h = (1 − z) ⊙ n + z ⊙ h_prev
// With resetAfter: false (TF1 GRUCell, Keras GRU(reset_after=False), tfjs's GRU), the reset gate
// applies to h_prev before the product:
//   n = act(gx_n + W_hn·(r ⊙ h_prev) + b_hn)
// Keras and TF1 have one bias there; in our PyTorch-named layout both b_ih and b_hh remain, and
// b_hn, outside r ⊙ ·, simply adds to b_in (load a Keras bias into bias_ih and zeros into bias_hh).
// σ is the recurrent activation ('sigmoid' by default, or Keras's 'hard_sigmoid') and act the cell
// activation ('tanh' by default; Keras names, see cell_activation.ts); gx = x·W_ihᵀ + b_ih.
// Layouts are row-major: x (B,T,I), gx/gates/dgates/dghh (B,T,3H), hs/hnLin/dhs (B,T,H),
// h0/hn/dhn/dh0/dhCarry (B,H), weight_ih (3H,I), weight_hh (3H,H). hnLin is n's hidden-side
// pre-activation W_hn·h_prev + b_hn, or with resetAfter: false the vector W_hn multiplies, r ⊙ h_prev;
// dghh is the gradient w.r.t. the hidden-side pre-activations (W_hh·h_prev + b_hh, n's being
// W_hn·(r ⊙ h_prev) + b_hn with resetAfter: false), so dW_hh = dghhᵀ·h_prev, except that with
// resetAfter: false n's rows take dghhᵀ·(r ⊙ h_prev) = dghhᵀ·hnLin.
// Variable lengths: row b runs steps t < lengths[b]; later steps hold zeros and hn is the state at
// t = lengths[b]-1. The step functions mirror the kernels one dispatch each, including the
// backward carry protocol: dhCarry starts as dhn and holds what step t gives h_{t-1} pointwise,
// dh ⊙ z (plus r ⊙ W_hnᵀ·dn_pre with resetAfter: false); the next step adds the rest, dghh·W_hh over
// the rows whose product is with h_prev itself (all of them, or r and z with resetAfter: false).
import { cellActivate, cellActivationGrad, type CellActivation, type GateActivation } from './cell_activation.ts';

export interface GruDims {
  B: number;
  T: number;
  H: number;
}

/** The GRU's options: where the reset gate applies, and Keras's activations. */
export interface GruCellOptions {
  /** true (default): PyTorch's r ⊙ (W_hn·h + b_hn); false: TF1/Keras/tfjs's W_hn·(r ⊙ h) + b_hn. */
  resetAfter?: boolean;
  /** Candidate n: 'tanh' (default), 'relu', 'sigmoid', 'hard_sigmoid', 'linear'. */
  activation?: CellActivation;
  /** Gates r, z: 'sigmoid' (default) or 'hard_sigmoid' (clip(0.2·x + 0.5, 0, 1)). */
  recurrentActivation?: GateActivation;
}

function cellOf(o: GruCellOptions | undefined) {
  return { after: o?.resetAfter ?? true, act: o?.activation ?? 'tanh', gate: o?.recurrentActivation ?? 'sigmoid' } as const;
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
    hs: Float64Array; gates: Float64Array; hnLin: Float64Array; hn: Float64Array; cell?: GruCellOptions;
  },
): void {
  const { B, T, H } = d;
  const { after, act, gate } = cellOf(a.cell);
  const r = new Float64Array(H), z = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    const bt = b * T + t;
    const g = bt * 3 * H;
    if (t >= len) {
      for (let j = 0; j < H; j++) {
        a.hs[bt * H + j] = 0;
        a.hnLin[bt * H + j] = 0;
        a.gates[g + j] = 0; a.gates[g + H + j] = 0; a.gates[g + 2 * H + j] = 0;
      }
      continue;
    }
    // r and z for every unit first: with resetAfter false, n's product needs all of r ⊙ h_prev.
    for (let j = 0; j < H; j++) {
      let ar = a.bhh[j], az = a.bhh[H + j];
      for (let k = 0; k < H; k++) {
        const hk = hPrev(t, b, k, d, a.h0, a.hs);
        ar += a.whh[j * H + k] * hk;
        az += a.whh[(H + j) * H + k] * hk;
      }
      r[j] = cellActivate(gate, a.gx[g + j] + ar);
      z[j] = cellActivate(gate, a.gx[g + H + j] + az);
    }
    for (let j = 0; j < H; j++) {
      let an = a.bhh[2 * H + j];
      for (let k = 0; k < H; k++) an += a.whh[(2 * H + j) * H + k] * (after ? 1 : r[k]) * hPrev(t, b, k, d, a.h0, a.hs);
      const n = cellActivate(act, a.gx[g + 2 * H + j] + (after ? r[j] * an : an));
      const h = (1 - z[j]) * n + z[j] * hPrev(t, b, j, d, a.h0, a.hs);
      a.gates[g + j] = r[j]; a.gates[g + H + j] = z[j]; a.gates[g + 2 * H + j] = n;
      a.hnLin[bt * H + j] = after ? an : r[j] * hPrev(t, b, j, d, a.h0, a.hs);
      a.hs[bt * H + j] = h;
      if (t === len - 1) a.hn[b * H + j] = h;
    }
  }
}

/** The rows of W_hh whose product is with h_prev itself: all 3H, or r and z (2H) with resetAfter false. */
const plainRows = (after: boolean, H: number): number => (after ? 3 : 2) * H;

/**
 * One backward step (mirrors gru_step_backward). dghh at t+1 must hold the previous step's output;
 * dhCarry holds dhn before the first step (t = T-1) and is updated in place (see the header).
 *   dh = dhs[b,t] + dhCarry[b] + (t+1 < len ? dghh[b,t+1]·W_hh over the plain rows : 0)
 *   dn_pre = dh⊙(1−z)⊙act'(n)      dz_pre = dh⊙(h_prev − n)⊙σ'(z)
 *   resetAfter:  dr_pre = dn_pre⊙hnLin⊙σ'(r)   dghh_n = dn_pre⊙r   dhCarry = dh⊙z
 *   resetBefore: u = W_hnᵀ·dn_pre   dr_pre = u⊙h_prev⊙σ'(r)   dghh_n = dn_pre   dhCarry = dh⊙z + r⊙u
 */
export function gruStepBackward(
  t: number, d: GruDims,
  a: {
    dhs: ArrayLike<number>; gates: ArrayLike<number>; hnLin: ArrayLike<number>; hs: ArrayLike<number>; h0: ArrayLike<number>;
    whh: ArrayLike<number>; lengths: ArrayLike<number>; dgates: Float64Array; dghh: Float64Array; dhCarry: Float64Array;
    cell?: GruCellOptions;
  },
): void {
  const { B, T, H } = d;
  const G = 3 * H;
  const { after, act, gate } = cellOf(a.cell);
  const rows = plainRows(after, H);
  const dh = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    const bt = b * T + t;
    const g = bt * G;
    if (t >= len) {
      for (let q = 0; q < G; q++) { a.dgates[g + q] = 0; a.dghh[g + q] = 0; }
      continue;
    }
    for (let j = 0; j < H; j++) {
      dh[j] = a.dhs[bt * H + j] + a.dhCarry[b * H + j];
      if (t + 1 < len) for (let k = 0; k < rows; k++) dh[j] += a.dghh[g + G + k] * a.whh[k * H + j];
    }
    for (let j = 0; j < H; j++) {
      const z = a.gates[g + H + j], n = a.gates[g + 2 * H + j];
      const dnPre = dh[j] * (1 - z) * cellActivationGrad(act, n);
      a.dgates[g + H + j] = dh[j] * (hPrev(t, b, j, d, a.h0, a.hs) - n) * cellActivationGrad(gate, z);
      a.dgates[g + 2 * H + j] = dnPre;
    }
    for (let j = 0; j < H; j++) {
      const r = a.gates[g + j], z = a.gates[g + H + j], dnPre = a.dgates[g + 2 * H + j];
      let drPre: number;
      if (after) {
        drPre = dnPre * a.hnLin[bt * H + j] * cellActivationGrad(gate, r);
        a.dghh[g + 2 * H + j] = dnPre * r;
        a.dhCarry[b * H + j] = dh[j] * z;
      } else {
        let u = 0; // (W_hnᵀ·dn_pre)[j]: the gradient w.r.t. (r ⊙ h_prev)[j]
        for (let k = 0; k < H; k++) u += a.whh[(2 * H + k) * H + j] * a.dgates[g + 2 * H + k];
        drPre = u * hPrev(t, b, j, d, a.h0, a.hs) * cellActivationGrad(gate, r);
        a.dghh[g + 2 * H + j] = dnPre;
        a.dhCarry[b * H + j] = dh[j] * z + r * u;
      }
      a.dgates[g + j] = drPre;
      a.dghh[g + j] = drPre;
      a.dghh[g + H + j] = a.dgates[g + H + j];
    }
  }
}

/** dh0 = dghh[b,0]·W_hh over the plain rows + dhCarry (mirrors gru_backward_initial; after step 0). */
export function gruBackwardInitial(
  d: GruDims, a: { dghh: ArrayLike<number>; whh: ArrayLike<number>; dhCarry: ArrayLike<number>; dh0: Float64Array; cell?: GruCellOptions },
): void {
  const { B, T, H } = d;
  const G = 3 * H;
  const rows = plainRows(cellOf(a.cell).after, H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      let dh = a.dhCarry[b * H + j];
      for (let k = 0; k < rows; k++) dh += a.dghh[b * T * G + k] * a.whh[k * H + j];
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
  x: ArrayLike<number>, w: GruWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>, cell?: GruCellOptions,
): { hs: Float64Array; hn: Float64Array; saved: GruSaved } {
  const d = gruDimsOf(x, w, lengths);
  const { B, T, I, H } = d;
  const gx = gruInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H);
  const hs = new Float64Array(B * T * H), gates = new Float64Array(B * T * 3 * H), hnLin = new Float64Array(B * T * H);
  const hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) gruStepForward(t, d, { gx, whh: w.weight_hh, bhh: w.bias_hh, h0, lengths, hs, gates, hnLin, hn, cell });
  return { hs, hn, saved: { hs, gates, hnLin } };
}

/**
 * Whole-sequence backward of one GRU layer, given the gradients w.r.t. hs (B,T,H) and hn (B,H):
 * gradients w.r.t. x, the four parameters and h0. `cell` must be the forward's.
 */
export function gruBackward(
  x: ArrayLike<number>, w: GruWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>, saved: GruSaved,
  dhs: ArrayLike<number>, dhn: ArrayLike<number>, cell?: GruCellOptions,
): GruGrads {
  const d = gruDimsOf(x, w, lengths);
  const { B, T, I, H } = d;
  const G = 3 * H;
  const dgates = new Float64Array(B * T * G), dghh = new Float64Array(B * T * G);
  const dhCarry = Float64Array.from(dhn);
  for (let t = T - 1; t >= 0; t--) {
    gruStepBackward(t, d, { dhs, gates: saved.gates, hnLin: saved.hnLin, hs: saved.hs, h0, whh: w.weight_hh, lengths, dgates, dghh, dhCarry, cell });
  }
  const dh0 = new Float64Array(B * H);
  gruBackwardInitial(d, { dghh, whh: w.weight_hh, dhCarry, dh0, cell });
  const after = cellOf(cell).after;

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
        // n's rows multiply r ⊙ h_prev (saved as hnLin) when the reset gate applies before the product.
        const reset = !after && g >= 2 * H;
        for (let k = 0; k < H; k++) dweight_hh[g * H + k] += dgh * (reset ? saved.hnLin[bt * H + k] : hPrev(t, b, k, d, h0, saved.hs));
      }
    }
  }
  return { dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh, dh0 };
}
