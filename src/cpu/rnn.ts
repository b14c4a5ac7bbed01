// CPU reference for the vanilla RNN (PyTorch nn.RNN, tanh or relu), float64, written from the
// equations in docs/dev/RECURRENT_CONVENTIONS.md:
//   h[b,t] = act(gx[b,t] + b_hh + W_hh·h_prev),   gx = x·W_ihᵀ + b_ih,   h_prev = t == 0 ? h0 : h[b,t-1]
//   t >= lengths[b]: hs[b,t] = 0; hn[b] = h[b, lengths[b]-1]
//   dpre = dh ⊙ act'(h) (tanh: 1 - h², relu: [h > 0]);  dh_prev = dpre·W_hh
// Step functions mirror the kernels of shaders/rnn.wgsl; rnnForward / rnnBackward run whole sequences.

export type RnnNonlinearity = 'tanh' | 'relu';

export interface RnnDims {
  B: number;
  T: number;
  H: number;
}

export interface RnnCpuOptions {
  nonlinearity?: RnnNonlinearity;
}

/** PyTorch nn.RNN parameters of one layer: weight_ih (H, I), weight_hh (H, H), bias_ih (H), bias_hh (H). */
export interface RnnWeights {
  weight_ih: ArrayLike<number>;
  weight_hh: ArrayLike<number>;
  bias_ih: ArrayLike<number>;
  bias_hh: ArrayLike<number>;
}

/** What rnnBackward needs from rnnForward (the outputs are enough for the RNN). */
export interface RnnSaved {
  B: number;
  T: number;
  I: number;
  H: number;
  nonlinearity: RnnNonlinearity;
  /** (B, T, H), the same array as the forward's hs. */
  hs: Float64Array;
}

function nonlinearityOf(opts: RnnCpuOptions): RnnNonlinearity {
  const n = opts.nonlinearity ?? 'tanh';
  if (n !== 'tanh' && n !== 'relu') throw new Error(`rnn: nonlinearity must be 'tanh' or 'relu', got ${JSON.stringify(n)}`);
  return n;
}

const act = (n: RnnNonlinearity, x: number): number => (n === 'relu' ? (x > 0 ? x : 0) : Math.tanh(x));
/** act'(pre) in terms of h = act(pre). */
const actGrad = (n: RnnNonlinearity, h: number): number => (n === 'relu' ? (h > 0 ? 1 : 0) : 1 - h * h);

/**
 * Forward step t (mirrors rnn_step_forward): writes hs[:, t, :] (zero for t >= lengths[b]) and
 * hn[b] where t == lengths[b]-1.
 */
export function rnnStepForward(
  d: RnnDims, t: number,
  a: {
    gx: ArrayLike<number>; whh: ArrayLike<number>; bhh: ArrayLike<number>; h0: ArrayLike<number>;
    lengths: ArrayLike<number>; hs: Float64Array; hn: Float64Array;
  },
  opts: RnnCpuOptions = {},
): void {
  const n = nonlinearityOf(opts);
  const { B, T, H } = d;
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    for (let j = 0; j < H; j++) {
      const o = (b * T + t) * H + j;
      if (t >= len) { a.hs[o] = 0; continue; }
      let pre = a.gx[o] + a.bhh[j];
      for (let k = 0; k < H; k++) {
        const hp = t === 0 ? a.h0[b * H + k] : a.hs[(b * T + t - 1) * H + k];
        pre += a.whh[j * H + k] * hp;
      }
      const h = act(n, pre);
      a.hs[o] = h;
      if (t === len - 1) a.hn[b * H + j] = h;
    }
  }
}

/**
 * Backward step t (mirrors rnn_step_backward): dgates[:, t, :] = dh ⊙ act'(h), with
 * dh = dhs[:, t] + [t = len-1]·dhn + [t+1 < len]·dgates[:, t+1]·W_hh; zero for t >= len.
 */
export function rnnStepBackward(
  d: RnnDims, t: number,
  a: {
    dhs: ArrayLike<number>; dhn: ArrayLike<number>; hs: ArrayLike<number>; whh: ArrayLike<number>;
    lengths: ArrayLike<number>; dgates: Float64Array;
  },
  opts: RnnCpuOptions = {},
): void {
  const n = nonlinearityOf(opts);
  const { B, T, H } = d;
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    for (let j = 0; j < H; j++) {
      const o = (b * T + t) * H + j;
      if (t >= len) { a.dgates[o] = 0; continue; }
      let dh = a.dhs[o];
      if (t === len - 1) dh += a.dhn[b * H + j];
      if (t + 1 < len) {
        for (let g = 0; g < H; g++) dh += a.dgates[(b * T + t + 1) * H + g] * a.whh[g * H + j];
      }
      a.dgates[o] = dh * actGrad(n, a.hs[o]);
    }
  }
}

/** dh0[b, j] = Σ_g dgates[b, 0, g]·W_hh[g, j] (mirrors rnn_backward_initial). */
export function rnnBackwardInitial(d: RnnDims, a: { dgates: ArrayLike<number>; whh: ArrayLike<number>; dh0: Float64Array }): void {
  const { B, T, H } = d;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let g = 0; g < H; g++) s += a.dgates[b * T * H + g] * a.whh[g * H + j];
      a.dh0[b * H + j] = s;
    }
  }
}

/** gx (B, T, H) = x (B, T, I)·W_ihᵀ + b_ih: the input projection the model layer does with one GEMM. */
export function rnnInputProjection(
  x: ArrayLike<number>, weightIh: ArrayLike<number>, biasIh: ArrayLike<number>, B: number, T: number, I: number, H: number,
): Float64Array {
  const gx = new Float64Array(B * T * H);
  for (let r = 0; r < B * T; r++) {
    for (let g = 0; g < H; g++) {
      let s = biasIh[g];
      for (let i = 0; i < I; i++) s += x[r * I + i] * weightIh[g * I + i];
      gx[r * H + g] = s;
    }
  }
  return gx;
}

function dimsOf(op: string, x: ArrayLike<number>, w: RnnWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>): { B: number; T: number; I: number; H: number } {
  const H = w.bias_hh.length;
  const B = lengths.length;
  const I = w.weight_ih.length / H;
  const T = x.length / (B * I);
  if (H < 1 || B < 1 || !Number.isInteger(I) || I < 1 || !Number.isInteger(T) || T < 1) {
    throw new Error(`${op}: inconsistent sizes: x ${x.length}, weight_ih ${w.weight_ih.length}, bias_hh ${H}, lengths ${B}`);
  }
  if (w.weight_hh.length !== H * H) throw new Error(`${op}: weight_hh has ${w.weight_hh.length} values, expected H*H = ${H * H}`);
  if (w.bias_ih.length !== H) throw new Error(`${op}: bias_ih has ${w.bias_ih.length} values, expected H = ${H}`);
  if (h0.length !== B * H) throw new Error(`${op}: h0 has ${h0.length} values, expected B*H = ${B * H}`);
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(lengths[b]) || lengths[b] < 1 || lengths[b] > T) {
      throw new Error(`${op}: lengths[${b}] = ${lengths[b]} is outside [1, ${T}]`);
    }
  }
  return { B, T, I, H };
}

/**
 * Whole-sequence forward: x (B, T, I) → hs (B, T, H) (zero past each row's length),
 * hn (B, H) = h at each row's last valid step. Sizes come from the arrays: B = lengths.length,
 * H = bias_hh.length, I = weight_ih.length / H, T = x.length / (B·I).
 */
export function rnnForward(
  x: ArrayLike<number>, w: RnnWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>, opts: RnnCpuOptions = {},
): { hs: Float64Array; hn: Float64Array; saved: RnnSaved } {
  const nonlinearity = nonlinearityOf(opts);
  const { B, T, I, H } = dimsOf('rnnForward', x, w, h0, lengths);
  const gx = rnnInputProjection(x, w.weight_ih, w.bias_ih, B, T, I, H);
  const hs = new Float64Array(B * T * H), hn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) {
    rnnStepForward({ B, T, H }, t, { gx, whh: w.weight_hh, bhh: w.bias_hh, h0, lengths, hs, hn }, { nonlinearity });
  }
  return { hs, hn, saved: { B, T, I, H, nonlinearity, hs } };
}

/**
 * Whole-sequence backward (BPTT) for the loss gradients dhs (B, T, H) and dhn (B, H). Returns the
 * gradients w.r.t. x, every parameter and h0, plus dgates (B, T, H) (the pre-activation gradient).
 */
export function rnnBackward(
  x: ArrayLike<number>, w: RnnWeights, h0: ArrayLike<number>, lengths: ArrayLike<number>, saved: RnnSaved,
  dhs: ArrayLike<number>, dhn: ArrayLike<number>,
): {
  dx: Float64Array; dweight_ih: Float64Array; dweight_hh: Float64Array; dbias_ih: Float64Array;
  dbias_hh: Float64Array; dh0: Float64Array; dgates: Float64Array;
} {
  const { B, T, I, H } = dimsOf('rnnBackward', x, w, h0, lengths);
  if (saved.B !== B || saved.T !== T || saved.I !== I || saved.H !== H) throw new Error('rnnBackward: saved state is from a forward of other sizes');
  if (dhs.length !== B * T * H) throw new Error(`rnnBackward: dhs has ${dhs.length} values, expected B*T*H = ${B * T * H}`);
  if (dhn.length !== B * H) throw new Error(`rnnBackward: dhn has ${dhn.length} values, expected B*H = ${B * H}`);
  const d = { B, T, H }, hs = saved.hs;
  const dgates = new Float64Array(B * T * H);
  for (let t = T - 1; t >= 0; t--) {
    rnnStepBackward(d, t, { dhs, dhn, hs, whh: w.weight_hh, lengths, dgates }, { nonlinearity: saved.nonlinearity });
  }
  const dh0 = new Float64Array(B * H);
  rnnBackwardInitial(d, { dgates, whh: w.weight_hh, dh0 });

  const dx = new Float64Array(B * T * I), dweight_ih = new Float64Array(H * I), dweight_hh = new Float64Array(H * H);
  const dbias = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const r = b * T + t;
      for (let g = 0; g < H; g++) {
        const dg = dgates[r * H + g];
        if (dg === 0) continue;
        dbias[g] += dg;
        for (let i = 0; i < I; i++) {
          dweight_ih[g * I + i] += dg * x[r * I + i];
          dx[r * I + i] += dg * w.weight_ih[g * I + i];
        }
        for (let k = 0; k < H; k++) {
          const hp = t === 0 ? h0[b * H + k] : hs[(r - 1) * H + k];
          dweight_hh[g * H + k] += dg * hp;
        }
      }
    }
  }
  return { dx, dweight_ih, dweight_hh, dbias_ih: dbias, dbias_hh: Float64Array.from(dbias), dh0, dgates };
}
