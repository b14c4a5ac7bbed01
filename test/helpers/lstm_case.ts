// A random LSTM case and the CPU step functions run over it, shared by the step-kernel tests
// (test/lstm.test.ts) and the sequence-kernel tests (test/lstm_seq.test.ts).
import * as cpu from '../../src/cpu/lstm.ts';
import { Rng } from '../../src/cpu/random.ts';

/** gx = x·W_ihᵀ + b_ih in float64, rounded to f32 for upload. */
export function inputProjection(x: Float32Array, wih: Float32Array, bih: Float32Array, BT: number, I: number, G: number): Float32Array {
  const gx = new Float32Array(BT * G);
  for (let n = 0; n < BT; n++) {
    for (let r = 0; r < G; r++) {
      let s = bih[r];
      for (let k = 0; k < I; k++) s += x[n * I + k] * wih[r * I + k];
      gx[n * G + r] = s;
    }
  }
  return gx;
}

export interface Case {
  B: number; T: number; H: number;
  gx: Float32Array; whh: Float32Array; bhh: Float32Array; h0: Float32Array; c0: Float32Array;
  lengths: Int32Array; dhs: Float32Array; dhn: Float32Array; dcn: Float32Array;
}

/** Random case with PyTorch's init scale for the weights (U(-1/√H, 1/√H)) and gx from random x. */
export function randomCase(seed: number, B: number, T: number, H: number, I: number, lengths: number[]): Case {
  const rng = new Rng(seed);
  const G = 4 * H, k = 1 / Math.sqrt(H);
  const x = rng.uniformArray(B * T * I), wih = rng.uniformArray(G * I, -k, k), bih = rng.uniformArray(G, -k, k);
  return {
    B, T, H,
    gx: inputProjection(x, wih, bih, B * T, I, G),
    whh: rng.uniformArray(G * H, -k, k), bhh: rng.uniformArray(G, -k, k),
    h0: rng.uniformArray(B * H), c0: rng.uniformArray(B * H), lengths: Int32Array.from(lengths),
    dhs: rng.uniformArray(B * T * H), dhn: rng.uniformArray(B * H), dcn: rng.uniformArray(B * H),
  };
}

export interface CpuResult {
  hs: Float64Array; cs: Float64Array; gates: Float64Array; hn: Float64Array; cn: Float64Array;
  dgates: Float64Array; dcCarry: Float64Array; dh0: Float64Array; dc0: Float64Array;
}

/** The CPU step functions over the whole sequence, forward then backward. */
export function runCpu(c: Case): CpuResult {
  const { B, T, H } = c, G = 4 * H;
  const f = {
    gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, c0: c.c0, lengths: c.lengths,
    hs: new Float64Array(B * T * H), cs: new Float64Array(B * T * H), gates: new Float64Array(B * T * G),
    hn: new Float64Array(B * H), cn: new Float64Array(B * H),
  };
  for (let t = 0; t < T; t++) cpu.lstmStepForward(t, f);
  const dgates = new Float64Array(B * T * G), dcCarry = new Float64Array(B * H);
  for (let t = T - 1; t >= 0; t--) {
    cpu.lstmStepBackward(t, { dhs: c.dhs, dhn: c.dhn, dcn: c.dcn, gates: f.gates, cs: f.cs, c0: c.c0, whh: c.whh, lengths: c.lengths, dgates, dcCarry });
  }
  const dh0 = new Float64Array(B * H), dc0 = new Float64Array(B * H);
  cpu.lstmBackwardInitial({ dgates, whh: c.whh, dcCarry, dh0, dc0 });
  return { hs: f.hs, cs: f.cs, gates: f.gates, hn: f.hn, cn: f.cn, dgates, dcCarry, dh0, dc0 };
}

export type GpuResult = { [K in keyof CpuResult]: Float32Array };
