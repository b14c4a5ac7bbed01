// CPU reference for the LSTM (PyTorch nn.LSTM, gate order i, f, g, o), float64, written from the
// equations (docs/dev/RECURRENT_CONVENTIONS.md):
//   pre = gx[b,t] + b_hh + W_hh·h_prev     gx = x·W_ihᵀ + b_ih
//   i, f, o = σ(pre_i, pre_f, pre_o)       g = act(pre_g)
//   c = f⊙c_prev + i⊙g                     h = o⊙act(c)
// σ is the recurrent activation ('sigmoid' by default, or Keras's 'hard_sigmoid') and act the
// cell activation ('tanh' by default; Keras names, see cell_activation.ts). With peepholes (TF1
// LSTMCell(use_peepholes=True), ONNX LSTM's P input; PyTorch has none) the gates also see the
// cell state, elementwise: pre_i += p_i⊙c_prev, pre_f += p_f⊙c_prev, and pre_o += p_o⊙c (the new
// c, so o is computed after c). The peephole weights are one (3, H) array, rows p_i, p_f, p_o
// (ONNX's P orders them i, o, f; TF1 names them w_i_diag, w_f_diag, w_o_diag).
// Step functions mirror the GPU step kernels (lstm_step_forward, lstm_step_backward,
// lstm_backward_initial); lstmForward / lstmBackward run a whole sequence from x and the weights.
// All arrays are flat and row-major: gx (B,T,G), whh (G,H), hs (B,T,H), h0 (B,H), lengths (B), G = 4H.
import { cellActivate, cellActivationGrad, type CellActivation, type GateActivation } from './cell_activation.ts';

type Arr = ArrayLike<number>;

function fail(op: string, msg: string): never {
  throw new Error(`${op}: ${msg}`);
}

function expectLength(op: string, name: string, a: Arr, n: number): void {
  if (a.length !== n) fail(op, `${name} has ${a.length} values, expected ${n}`);
}

/** B and H from lengths and h0 (or c0), T from a (B, T, perRow) array; checks lengths in [1, T]. */
function stepDims(op: string, lengths: Arr, state: Arr, seq: Arr, seqName: string, perRow: (H: number) => number) {
  const B = lengths.length;
  if (B < 1) fail(op, 'lengths is empty');
  const H = state.length / B;
  if (!Number.isInteger(H) || H < 1) fail(op, `initial state has ${state.length} values, not a multiple of B = ${B}`);
  const T = seq.length / (B * perRow(H));
  if (!Number.isInteger(T) || T < 1) fail(op, `${seqName} has ${seq.length} values, not B*T*${perRow(H)} for B = ${B}`);
  for (let b = 0; b < B; b++) {
    if (!Number.isInteger(lengths[b]) || lengths[b] < 1 || lengths[b] > T) fail(op, `lengths[${b}] = ${lengths[b]} is not in [1, ${T}]`);
  }
  return { B, T, H, G: 4 * H };
}

/** The LSTM's Keras options: the cell activation and the gates' activation. */
export interface LstmCellOptions {
  /** Candidate g and output act(c): 'tanh' (default), 'relu', 'sigmoid', 'hard_sigmoid', 'linear'. */
  activation?: CellActivation;
  /** Gates i, f, o: 'sigmoid' (default) or 'hard_sigmoid' (clip(0.2·x + 0.5, 0, 1)). */
  recurrentActivation?: GateActivation;
}

export interface LstmStepForwardArrays {
  gx: Arr; whh: Arr; bhh: Arr; h0: Arr; c0: Arr; lengths: Arr;
  /** Peephole weights (3,H), rows p_i, p_f, p_o; absent = no peepholes. */
  peephole?: Arr;
  /** Activations (default tanh and sigmoid). */
  cell?: LstmCellOptions;
  /** Outputs (B,T,H), (B,T,H), (B,T,4H), (B,H), (B,H). */
  hs: Float64Array; cs: Float64Array; gates: Float64Array; hn: Float64Array; cn: Float64Array;
}

/**
 * Forward step t: writes hs, cs, gates at [b, t] (zeros for t >= lengths[b]) and hn, cn[b] when
 * t == lengths[b]-1. h_prev / c_prev are h0 / c0 at t == 0, else hs / cs at t-1.
 */
export function lstmStepForward(t: number, a: LstmStepForwardArrays): void {
  const op = 'lstmStepForward';
  const { B, T, H, G } = stepDims(op, a.lengths, a.h0, a.gx, 'gx', (h) => 4 * h);
  if (!Number.isInteger(t) || t < 0 || t >= T) fail(op, `t = ${t} is not in [0, ${T - 1}]`);
  expectLength(op, 'whh', a.whh, G * H);
  expectLength(op, 'bhh', a.bhh, G);
  expectLength(op, 'c0', a.c0, B * H);
  if (a.peephole) expectLength(op, 'peephole', a.peephole, 3 * H);
  const act = a.cell?.activation ?? 'tanh', gate = a.cell?.recurrentActivation ?? 'sigmoid';
  const p = a.peephole;
  for (const [n, arr, len] of [['hs', a.hs, B * T * H], ['cs', a.cs, B * T * H], ['gates', a.gates, B * T * G], ['hn', a.hn, B * H], ['cn', a.cn, B * H]] as const) {
    expectLength(op, n, arr, len);
  }
  for (let b = 0; b < B; b++) {
    const row = b * T + t;
    if (t >= a.lengths[b]) {
      for (let j = 0; j < H; j++) { a.hs[row * H + j] = 0; a.cs[row * H + j] = 0; }
      for (let q = 0; q < G; q++) a.gates[row * G + q] = 0;
      continue;
    }
    const hPrev = (k: number) => (t === 0 ? a.h0[b * H + k] : a.hs[(row - 1) * H + k]);
    const cPrev = (j: number) => (t === 0 ? a.c0[b * H + j] : a.cs[(row - 1) * H + j]);
    // All pre-activations first: h_prev must not change while row t is written (it is row t-1).
    const pre = new Float64Array(G);
    for (let r = 0; r < G; r++) {
      let s = a.gx[row * G + r] + a.bhh[r];
      for (let k = 0; k < H; k++) s += a.whh[r * H + k] * hPrev(k);
      pre[r] = s;
    }
    for (let j = 0; j < H; j++) {
      const cp = cPrev(j);
      const i = cellActivate(gate, pre[j] + (p ? p[j] * cp : 0));
      const f = cellActivate(gate, pre[H + j] + (p ? p[H + j] * cp : 0));
      const g = cellActivate(act, pre[2 * H + j]);
      const c = f * cp + i * g;
      const o = cellActivate(gate, pre[3 * H + j] + (p ? p[2 * H + j] * c : 0)); // o peeks at the new c
      const h = o * cellActivate(act, c);
      a.hs[row * H + j] = h;
      a.cs[row * H + j] = c;
      a.gates[row * G + j] = i;
      a.gates[row * G + H + j] = f;
      a.gates[row * G + 2 * H + j] = g;
      a.gates[row * G + 3 * H + j] = o;
      if (t === a.lengths[b] - 1) { a.hn[b * H + j] = h; a.cn[b * H + j] = c; }
    }
  }
}

export interface LstmStepBackwardArrays {
  dhs: Arr; dhn: Arr; dcn: Arr; gates: Arr; cs: Arr; c0: Arr; whh: Arr; lengths: Arr;
  /** Peephole weights (3,H) as in the forward, and their gradient, accumulated (+=) when given. */
  peephole?: Arr; dpeephole?: Float64Array;
  /** Activations, as in the forward. */
  cell?: LstmCellOptions;
  /** Output (B,T,4H): gradient w.r.t. the gate pre-activations; row t+1 is read. */
  dgates: Float64Array;
  /** (B,H) cell-gradient carry, read and written; zero before t = T-1. */
  dcCarry: Float64Array;
}

/**
 * Backward step t (call for t = T-1 down to 0):
 *   dh = dhs[b,t] + (t == len-1 ? dhn[b] : 0) + (t+1 < len ? dgates[b,t+1]·W_hh : 0)
 *   d_o = dh⊙act(c)⊙σ'(o)
 *   dc = (t == len-1 ? dcn[b] : dcCarry[b]) + dh⊙o⊙act'(c) + d_o⊙p_o
 *   d_i = dc⊙g⊙σ'(i)  d_f = dc⊙c_prev⊙σ'(f)  d_g = dc⊙i⊙act'(g)
 *   dcCarry[b] = dc⊙f + d_i⊙p_i + d_f⊙p_f
 *   dp_i += d_i⊙c_prev  dp_f += d_f⊙c_prev  dp_o += d_o⊙c     (p = 0 without peepholes)
 * with the defaults σ'(y) = y(1-y) and act'(y) = 1-y², written from the saved outputs.
 * For t >= lengths[b]: dgates[b,t] = 0 and dcCarry[b] is left alone.
 */
export function lstmStepBackward(t: number, a: LstmStepBackwardArrays): void {
  const op = 'lstmStepBackward';
  const { B, T, H, G } = stepDims(op, a.lengths, a.c0, a.dgates, 'dgates', (h) => 4 * h);
  if (!Number.isInteger(t) || t < 0 || t >= T) fail(op, `t = ${t} is not in [0, ${T - 1}]`);
  expectLength(op, 'dhs', a.dhs, B * T * H);
  expectLength(op, 'dhn', a.dhn, B * H);
  expectLength(op, 'dcn', a.dcn, B * H);
  expectLength(op, 'gates', a.gates, B * T * G);
  expectLength(op, 'cs', a.cs, B * T * H);
  expectLength(op, 'whh', a.whh, G * H);
  expectLength(op, 'dcCarry', a.dcCarry, B * H);
  if (a.peephole) expectLength(op, 'peephole', a.peephole, 3 * H);
  if (a.dpeephole) expectLength(op, 'dpeephole', a.dpeephole, 3 * H);
  const act = a.cell?.activation ?? 'tanh', gate = a.cell?.recurrentActivation ?? 'sigmoid';
  const p = a.peephole, dp = a.dpeephole;
  for (let b = 0; b < B; b++) {
    const len = a.lengths[b];
    const row = b * T + t;
    if (t >= len) {
      for (let q = 0; q < G; q++) a.dgates[row * G + q] = 0;
      continue;
    }
    const last = t === len - 1;
    for (let j = 0; j < H; j++) {
      let dh = a.dhs[row * H + j];
      if (last) dh += a.dhn[b * H + j];
      else for (let r = 0; r < G; r++) dh += a.dgates[(row + 1) * G + r] * a.whh[r * H + j];
      const i = a.gates[row * G + j];
      const f = a.gates[row * G + H + j];
      const g = a.gates[row * G + 2 * H + j];
      const o = a.gates[row * G + 3 * H + j];
      const c = a.cs[row * H + j];
      const ac = cellActivate(act, c);
      const cPrev = t === 0 ? a.c0[b * H + j] : a.cs[(row - 1) * H + j];
      const dO = dh * ac * cellActivationGrad(gate, o);
      const dc = (last ? a.dcn[b * H + j] : a.dcCarry[b * H + j]) + dh * o * cellActivationGrad(act, ac) + (p ? dO * p[2 * H + j] : 0);
      const dI = dc * g * cellActivationGrad(gate, i);
      const dF = dc * cPrev * cellActivationGrad(gate, f);
      a.dgates[row * G + j] = dI;
      a.dgates[row * G + H + j] = dF;
      a.dgates[row * G + 2 * H + j] = dc * i * cellActivationGrad(act, g);
      a.dgates[row * G + 3 * H + j] = dO;
      a.dcCarry[b * H + j] = dc * f + (p ? dI * p[j] + dF * p[H + j] : 0);
      if (dp) { dp[j] += dI * cPrev; dp[H + j] += dF * cPrev; dp[2 * H + j] += dO * c; }
    }
  }
}

export interface LstmBackwardInitialArrays {
  dgates: Arr; whh: Arr; dcCarry: Arr;
  /** Outputs (B,H): gradients w.r.t. h0 and c0. */
  dh0: Float64Array; dc0: Float64Array;
}

/** dh0[b] = dgates[b,0]·W_hh, dc0[b] = dcCarry[b] (after the backward step at t = 0). */
export function lstmBackwardInitial(a: LstmBackwardInitialArrays): void {
  const op = 'lstmBackwardInitial';
  const H = Math.round(Math.sqrt(a.whh.length / 4)); // whh is (4H, H)
  if (H < 1 || 4 * H * H !== a.whh.length) fail(op, `whh has ${a.whh.length} values, not 4*H*H`);
  const B = a.dh0.length / H;
  if (!Number.isInteger(B) || B < 1) fail(op, `dh0 has ${a.dh0.length} values, not a multiple of H = ${H}`);
  const G = 4 * H;
  const T = a.dgates.length / (B * G);
  if (!Number.isInteger(T) || T < 1) fail(op, `dgates has ${a.dgates.length} values, not B*T*${G} for B = ${B}`);
  expectLength(op, 'dcCarry', a.dcCarry, B * H);
  expectLength(op, 'dc0', a.dc0, B * H);
  for (let b = 0; b < B; b++) {
    const base = b * T * G;
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let r = 0; r < G; r++) s += a.dgates[base + r] * a.whh[r * H + j];
      a.dh0[b * H + j] = s;
      a.dc0[b * H + j] = a.dcCarry[b * H + j];
    }
  }
}

/**
 * PyTorch nn.LSTM parameters of one layer: weight_ih (G,I), weight_hh (G,H), bias_ih, bias_hh (G),
 * and with peepholes weight_peephole (3,H), rows p_i, p_f, p_o.
 */
export interface LstmWeights {
  weight_ih: Arr;
  weight_hh: Arr;
  bias_ih: Arr;
  bias_hh: Arr;
  weight_peephole?: Arr;
}

/** What lstmBackward needs from lstmForward. */
export interface LstmSaved {
  B: number; T: number; I: number; H: number;
  /** (B,T,4H) x·W_ihᵀ + b_ih. */
  gx: Float64Array;
  /** (B,T,4H) post-activation gates i, f, g, o. */
  gates: Float64Array;
  /** (B,T,H) hidden and cell states (zero past each row's length). */
  hs: Float64Array;
  cs: Float64Array;
}

export interface LstmForwardResult {
  hs: Float64Array;
  cs: Float64Array;
  hn: Float64Array;
  cn: Float64Array;
  saved: LstmSaved;
}

function seqDims(op: string, x: Arr, w: LstmWeights, h0: Arr, c0: Arr, lengths: Arr) {
  const G = w.bias_ih.length;
  const H = G / 4;
  if (!Number.isInteger(H) || H < 1) fail(op, `bias_ih has ${G} values, not a multiple of 4`);
  const I = w.weight_ih.length / G;
  if (!Number.isInteger(I) || I < 1) fail(op, `weight_ih has ${w.weight_ih.length} values, not G*I for G = ${G}`);
  expectLength(op, 'weight_hh', w.weight_hh, G * H);
  expectLength(op, 'bias_hh', w.bias_hh, G);
  const B = lengths.length;
  const T = x.length / (B * I);
  if (!Number.isInteger(T) || T < 1) fail(op, `x has ${x.length} values, not B*T*I for B = ${B}, I = ${I}`);
  expectLength(op, 'h0', h0, B * H);
  expectLength(op, 'c0', c0, B * H);
  if (w.weight_peephole) expectLength(op, 'weight_peephole', w.weight_peephole, 3 * H);
  return { B, T, I, H, G };
}

/**
 * Whole-sequence forward for x (B,T,I): gx = x·W_ihᵀ + b_ih, then T steps. hs/cs are zero past
 * each row's length; hn/cn are the states at t = lengths[b]-1.
 */
export function lstmForward(x: Arr, w: LstmWeights, h0: Arr, c0: Arr, lengths: Arr, cell?: LstmCellOptions): LstmForwardResult {
  const { B, T, I, H, G } = seqDims('lstmForward', x, w, h0, c0, lengths);
  const gx = new Float64Array(B * T * G);
  for (let bt = 0; bt < B * T; bt++) {
    for (let r = 0; r < G; r++) {
      let s = w.bias_ih[r];
      for (let k = 0; k < I; k++) s += x[bt * I + k] * w.weight_ih[r * I + k];
      gx[bt * G + r] = s;
    }
  }
  const hs = new Float64Array(B * T * H), cs = new Float64Array(B * T * H), gates = new Float64Array(B * T * G);
  const hn = new Float64Array(B * H), cn = new Float64Array(B * H);
  for (let t = 0; t < T; t++) {
    lstmStepForward(t, { gx, whh: w.weight_hh, bhh: w.bias_hh, h0, c0, lengths, peephole: w.weight_peephole, cell, hs, cs, gates, hn, cn });
  }
  return { hs, cs, hn, cn, saved: { B, T, I, H, gx, gates, hs, cs } };
}

export interface LstmGrads {
  dx: Float64Array;
  dweight_ih: Float64Array;
  dweight_hh: Float64Array;
  dbias_ih: Float64Array;
  dbias_hh: Float64Array;
  dh0: Float64Array;
  dc0: Float64Array;
  /** With peepholes only: (3,H). */
  dweight_peephole?: Float64Array;
}

/**
 * Whole-sequence backward given dL/dhs (B,T,H), dL/dhn and dL/dcn (B,H): the backward steps from
 * T-1 to 0, then dx = dgates·W_ih, dW_ih = dgatesᵀ·x, dW_hh = dgatesᵀ·h_prev,
 * db_ih = db_hh = Σ dgates, and dh0, dc0 (and the peepholes' gradient when w has them). `cell`
 * must be the forward's.
 */
export function lstmBackward(
  x: Arr, w: LstmWeights, h0: Arr, c0: Arr, lengths: Arr, saved: LstmSaved, dhs: Arr, dhn: Arr, dcn: Arr, cell?: LstmCellOptions,
): LstmGrads {
  const { B, T, I, H, G } = seqDims('lstmBackward', x, w, h0, c0, lengths);
  if (saved.B !== B || saved.T !== T || saved.I !== I || saved.H !== H) {
    fail('lstmBackward', `saved is for B=${saved.B} T=${saved.T} I=${saved.I} H=${saved.H}, inputs are B=${B} T=${T} I=${I} H=${H}`);
  }
  const dgates = new Float64Array(B * T * G), dcCarry = new Float64Array(B * H);
  const dweight_peephole = w.weight_peephole ? new Float64Array(3 * H) : undefined;
  for (let t = T - 1; t >= 0; t--) {
    lstmStepBackward(t, {
      dhs, dhn, dcn, gates: saved.gates, cs: saved.cs, c0, whh: w.weight_hh, lengths, dgates, dcCarry,
      peephole: w.weight_peephole, dpeephole: dweight_peephole, cell,
    });
  }
  const dh0 = new Float64Array(B * H), dc0 = new Float64Array(B * H);
  lstmBackwardInitial({ dgates, whh: w.weight_hh, dcCarry, dh0, dc0 });

  const dx = new Float64Array(B * T * I), dweight_ih = new Float64Array(G * I), dweight_hh = new Float64Array(G * H);
  const dbias_ih = new Float64Array(G);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      for (let r = 0; r < G; r++) {
        const d = dgates[row * G + r];
        if (d === 0) continue;
        dbias_ih[r] += d;
        for (let k = 0; k < I; k++) {
          dx[row * I + k] += d * w.weight_ih[r * I + k];
          dweight_ih[r * I + k] += d * x[row * I + k];
        }
        for (let k = 0; k < H; k++) {
          const hPrev = t === 0 ? h0[b * H + k] : saved.hs[(row - 1) * H + k];
          dweight_hh[r * H + k] += d * hPrev;
        }
      }
    }
  }
  return { dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh: Float64Array.from(dbias_ih), dh0, dc0, ...(dweight_peephole ? { dweight_peephole } : {}) };
}
