// The CPU reference model: the same layers as src/nn, in float64, built from the layers' configs
// and a state dict. Forward and backward of one batch, returning the loss, every parameter's
// gradient and the gradients w.r.t. the recurrent layers' initial states. Dropout is the identity
// here (reference runs are deterministic); compare with the GPU model in eval mode or with rate 0.
import { lstmBackward, lstmForward, type LstmCellOptions, type LstmSaved } from './lstm.ts';
import { gruBackward, gruForward, type GruCellOptions, type GruSaved } from './gru.ts';
import type { CellActivation, GateActivation } from './cell_activation.ts';
import { rnnBackward, rnnForward, type RnnSaved } from './rnn.ts';
import { matmulForward } from './matmul.ts';
import { activationBackward, activationForward, type CpuActivation } from './activation.ts';
import { seqGatherLast, seqReverse, seqScatterLast } from './seq.ts';
import { softmaxXentBackward, softmaxXentForward } from './softmax_xent.ts';
import { embeddingBackward, embeddingForward, oneHotForward } from './embedding.ts';
import { lossesMse, lossesMseBackward, lossesSigmoidXent, lossesSigmoidXentBackward } from './losses.ts';

export type CpuLayerConfig = Record<string, unknown> & { type: string; name: string };
export type CpuParams = Record<string, Float64Array>;

export interface CpuBatch {
  x: ArrayLike<number>;
  shape: number[];
  lengths?: ArrayLike<number>;
  y?: ArrayLike<number>;
  weights?: ArrayLike<number>;
}

export interface CpuState { h: Float64Array; c?: Float64Array }

export interface CpuModelResult {
  loss: number;
  output: Float64Array;
  outputShape: number[];
  grads: CpuParams;
  /** Per recurrent layer name: gradients w.r.t. its initial states (numLayers·dirs, B, H). */
  initialStateGrads: Record<string, CpuState>;
  /** Per recurrent layer name: final states. */
  finalStates: Record<string, CpuState>;
}

type Val = { kind: 'tokens' | 'seq' | 'vec'; data: Float64Array; D: number };

interface Tape { backward: (d: Float64Array) => Float64Array | null }

/**
 * Runs forward and backward of a model described by `layers` (each layer's config()) with
 * parameters `params` (state-dict names) on one batch, for the loss `loss`.
 */
export function cpuModelForwardBackward(
  layers: CpuLayerConfig[], params: CpuParams, batch: CpuBatch, loss: 'softmax_cross_entropy' | 'sigmoid_cross_entropy' | 'mse',
  initialStates: Record<string, CpuState> = {},
): CpuModelResult {
  const [B, T] = batch.shape;
  const lengths = batch.lengths ? Array.from(batch.lengths) : new Array(B).fill(T);
  const grads: CpuParams = {};
  for (const [k, v] of Object.entries(params)) grads[k] = new Float64Array(v.length);
  const P = (layer: string, name: string): Float64Array => {
    const v = params[`${layer}.${name}`];
    if (!v) throw new Error(`cpu model: parameter ${layer}.${name} missing`);
    return v;
  };
  const addGrad = (layer: string, name: string, g: ArrayLike<number>): void => {
    const dst = grads[`${layer}.${name}`];
    for (let i = 0; i < g.length; i++) dst[i] += g[i];
  };
  const tapes: Tape[] = [];
  const initialStateGrads: Record<string, CpuState> = {};
  const finalStates: Record<string, CpuState> = {};
  let v: Val = batch.shape.length === 2
    ? { kind: 'tokens', data: Float64Array.from(batch.x as ArrayLike<number>), D: 0 }
    : { kind: 'seq', data: Float64Array.from(batch.x as ArrayLike<number>), D: batch.shape[2] };

  for (const cfg of layers) {
    const name = cfg.name;
    switch (cfg.type) {
      case 'Embedding': {
        const V = cfg.numEmbeddings as number, E = cfg.embeddingDim as number;
        const tokens = Int32Array.from(v.data);
        const out = embeddingForward(P(name, 'weight'), tokens, V, E);
        tapes.push({ backward: (d) => { addGrad(name, 'weight', embeddingBackward(d, tokens, V, E)); return null; } });
        v = { kind: 'seq', data: Float64Array.from(out), D: E };
        break;
      }
      case 'OneHot': {
        const V = cfg.numClasses as number;
        const out = oneHotForward(Int32Array.from(v.data), V);
        tapes.push({ backward: () => null });
        v = { kind: 'seq', data: Float64Array.from(out), D: V };
        break;
      }
      case 'Dense': {
        const U = cfg.units as number, I = v.D, M = v.data.length / I;
        const x = v.data;
        const z = matmulForward(x, P(name, 'weight'), M, I, U, { transB: true, bias: cfg.bias === false ? undefined : P(name, 'bias') });
        const act = cfg.activation as CpuActivation | undefined;
        const y = act ? activationForward(act, z) : z;
        tapes.push({
          backward: (dy) => {
            const dz = act ? activationBackward(act, y, dy) : dy;
            addGrad(name, 'weight', matmulForward(dz, x, U, M, I, { transA: true }));
            if (cfg.bias !== false) {
              const db = new Float64Array(U);
              for (let m = 0; m < M; m++) for (let u = 0; u < U; u++) db[u] += dz[m * U + u];
              addGrad(name, 'bias', db);
            }
            return matmulForward(dz, P(name, 'weight'), M, U, I);
          },
        });
        v = { kind: v.kind, data: y, D: U };
        break;
      }
      case 'Dropout':
        tapes.push({ backward: (d) => d });
        break;
      case 'LastStep': {
        const D = v.D;
        const y = seqGatherLast(v.data, lengths, B, T, D);
        tapes.push({ backward: (d) => seqScatterLast(d, lengths, B, T, D) });
        v = { kind: 'vec', data: y, D };
        break;
      }
      case 'LSTM': case 'GRU': case 'RNN': {
        const r = recurrentForward(cfg, name, v.data, v.D, B, T, lengths, P, initialStates[name]);
        finalStates[name] = r.final;
        tapes.push({
          backward: (d) => {
            const g = r.backward(d);
            for (const [k, gv] of Object.entries(g.grads)) addGrad(name, k, gv);
            initialStateGrads[name] = g.dInitial;
            return g.dx;
          },
        });
        v = { kind: 'seq', data: r.out, D: r.D };
        break;
      }
      default:
        throw new Error(`cpu model: unknown layer type ${cfg.type}`);
    }
  }

  // Loss and its gradient w.r.t. the output.
  const out = v.data;
  const N = out.length / v.D;
  let lossValue: number;
  let dOut: Float64Array;
  if (loss === 'softmax_cross_entropy') {
    const targets = Array.from(batch.y ?? []);
    let w: number[];
    if (batch.weights) w = Array.from(batch.weights);
    else {
      w = new Array(N).fill(1);
      if (v.kind === 'seq') for (let b = 0; b < B; b++) for (let t = lengths[b]; t < T; t++) w[b * T + t] = 0;
    }
    lossValue = softmaxXentForward(out, targets, w, N, v.D).loss;
    dOut = softmaxXentBackward(out, targets, w, N, v.D);
  } else if (loss === 'mse') {
    const y = Float64Array.from(batch.y ?? []);
    lossValue = lossesMse(out, y).loss;
    dOut = lossesMseBackward(out, y);
  } else {
    const y = Float64Array.from(batch.y ?? []);
    lossValue = lossesSigmoidXent(out, y).loss;
    dOut = lossesSigmoidXentBackward(out, y);
  }
  let d: Float64Array | null = dOut;
  for (let i = tapes.length - 1; i >= 0 && d; i--) d = tapes[i].backward(d);
  return { loss: lossValue, output: out, outputShape: v.kind === 'seq' ? [B, T, v.D] : [B, v.D], grads, initialStateGrads, finalStates };
}

/**
 * A recurrent layer (its config) forward on x0 (B, T, I0): the output (B, T, H·D), the final
 * states, and a backward from the output's gradient and, optionally, the final states' gradients
 * (numLayers·dirs, B, H) — each direction gets its slice as dh_n (dc_n).
 */
export function recurrentForward(
  cfg: CpuLayerConfig, name: string, x0: Float64Array, I0: number, B: number, T: number, lengths: number[],
  P: (layer: string, n: string) => Float64Array, initial?: CpuState,
) {
  const cell = (cfg.type as string).toLowerCase() as 'lstm' | 'gru' | 'rnn';
  const H = cfg.hiddenSize as number, L = (cfg.numLayers as number) ?? 1, Dn = cfg.bidirectional ? 2 : 1;
  const nonlinearity = (cfg.nonlinearity as 'tanh' | 'relu') ?? 'tanh';
  // The Keras cell options (absent in configs written before they existed: the defaults).
  const cellOptions: LstmCellOptions & GruCellOptions = {
    activation: (cfg.activation as CellActivation | undefined) ?? 'tanh',
    recurrentActivation: (cfg.recurrentActivation as GateActivation | undefined) ?? 'sigmoid',
    resetAfter: (cfg.resetAfter as boolean | undefined) ?? true,
  };
  const peepholes = cell === 'lstm' && cfg.peepholes === true;
  const hasC = cell === 'lstm';
  const LD = L * Dn;
  const h0All = initial?.h ?? new Float64Array(LD * B * H);
  const c0All = hasC ? (initial?.c ?? new Float64Array(LD * B * H)) : undefined;
  const hnAll = new Float64Array(LD * B * H), cnAll = hasC ? new Float64Array(LD * B * H) : undefined;
  type Run = { xin: Float64Array; I: number; w: { weight_ih: Float64Array; weight_hh: Float64Array; bias_ih: Float64Array; bias_hh: Float64Array; weight_peephole?: Float64Array };
    h0: Float64Array; c0?: Float64Array; saved: LstmSaved | GruSaved | RnnSaved; suffix: string };
  const runs: Run[][] = [];
  let input = x0, I = I0;
  for (let l = 0; l < L; l++) {
    const out = new Float64Array(B * T * H * Dn);
    const layerRuns: Run[] = [];
    for (let dir = 0; dir < Dn; dir++) {
      const suffix = `_l${l}${dir ? '_reverse' : ''}`;
      const w = {
        weight_ih: P(name, `weight_ih${suffix}`), weight_hh: P(name, `weight_hh${suffix}`), bias_ih: P(name, `bias_ih${suffix}`), bias_hh: P(name, `bias_hh${suffix}`),
        ...(peepholes ? { weight_peephole: P(name, `weight_peephole${suffix}`) } : {}),
      };
      const idx = l * Dn + dir;
      const h0 = h0All.slice(idx * B * H, (idx + 1) * B * H);
      const c0 = c0All?.slice(idx * B * H, (idx + 1) * B * H);
      const xin = dir ? seqReverse(input, lengths, B, T, I) : input;
      let hs: Float64Array, hn: Float64Array, saved: LstmSaved | GruSaved | RnnSaved;
      if (cell === 'lstm') {
        const r = lstmForward(xin, w, h0, c0!, lengths, cellOptions);
        hs = r.hs; hn = r.hn; saved = r.saved;
        cnAll!.set(r.cn, idx * B * H);
      } else if (cell === 'gru') {
        const r = gruForward(xin, w, h0, lengths, cellOptions);
        hs = r.hs; hn = r.hn; saved = r.saved;
      } else {
        const r = rnnForward(xin, w, h0, lengths, { nonlinearity });
        hs = r.hs; hn = r.hn; saved = r.saved;
      }
      hnAll.set(hn, idx * B * H);
      const hsF = dir ? seqReverse(hs, lengths, B, T, H) : hs;
      for (let r = 0; r < B * T; r++) for (let j = 0; j < H; j++) out[r * H * Dn + dir * H + j] = hsF[r * H + j];
      layerRuns.push({ xin, I, w, h0, c0, saved, suffix });
    }
    runs.push(layerRuns);
    input = out; I = H * Dn;
  }
  const backward = (dy: Float64Array, dFinal?: Partial<CpuState>) => {
    const g: Record<string, Float64Array> = {};
    const dh0All = new Float64Array(LD * B * H), dc0All = hasC ? new Float64Array(LD * B * H) : undefined;
    let dOut = dy;
    let dxLayer = new Float64Array(0);
    for (let l = L - 1; l >= 0; l--) {
      const Il = runs[l][0].I;
      dxLayer = new Float64Array(B * T * Il);
      for (let dir = 0; dir < Dn; dir++) {
        const run = runs[l][dir];
        const idx = l * Dn + dir;
        const part = new Float64Array(B * T * H);
        for (let r = 0; r < B * T; r++) for (let j = 0; j < H; j++) part[r * H + j] = dOut[r * H * Dn + dir * H + j];
        const dhs = dir ? seqReverse(part, lengths, B, T, H) : part;
        const zeros = new Float64Array(B * H);
        const dhn = dFinal?.h ? dFinal.h.slice(idx * B * H, (idx + 1) * B * H) : zeros;
        const dcn = dFinal?.c ? dFinal.c.slice(idx * B * H, (idx + 1) * B * H) : zeros;
        let gr: {
          dx: Float64Array; dweight_ih: Float64Array; dweight_hh: Float64Array; dbias_ih: Float64Array; dbias_hh: Float64Array; dh0: Float64Array;
          dc0?: Float64Array; dweight_peephole?: Float64Array;
        };
        if (cell === 'lstm') gr = lstmBackward(run.xin, run.w, run.h0, run.c0!, lengths, run.saved as LstmSaved, dhs, dhn, dcn, cellOptions);
        else if (cell === 'gru') gr = gruBackward(run.xin, run.w, run.h0, lengths, run.saved as GruSaved, dhs, dhn, cellOptions);
        else gr = rnnBackward(run.xin, run.w, run.h0, lengths, run.saved as RnnSaved, dhs, dhn);
        g[`weight_ih${run.suffix}`] = gr.dweight_ih; g[`weight_hh${run.suffix}`] = gr.dweight_hh;
        g[`bias_ih${run.suffix}`] = gr.dbias_ih; g[`bias_hh${run.suffix}`] = gr.dbias_hh;
        if (gr.dweight_peephole) g[`weight_peephole${run.suffix}`] = gr.dweight_peephole;
        dh0All.set(gr.dh0, idx * B * H);
        if (dc0All && gr.dc0) dc0All.set(gr.dc0, idx * B * H);
        const dx = dir ? seqReverse(gr.dx, lengths, B, T, Il) : gr.dx;
        for (let i = 0; i < dx.length; i++) dxLayer[i] += dx[i];
      }
      dOut = dxLayer;
    }
    return { grads: g, dx: dxLayer, dInitial: hasC ? { h: dh0All, c: dc0All } : { h: dh0All } };
  };
  return { out: input, D: H * Dn, final: hasC ? { h: hnAll, c: cnAll } : { h: hnAll }, backward };
}
