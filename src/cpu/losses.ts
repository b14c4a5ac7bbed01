// CPU reference for shaders/losses.wgsl, float64.
//
//   sigmoid cross-entropy with logits (TF sigmoid_cross_entropy_with_logits):
//     l_i = max(x_i, 0) − x_i·z_i + log(1 + exp(−|x_i|)),   dl/dx_i = sigmoid(x_i) − z_i
//   squared error:  l_i = (x_i − z_i)²,   dl/dx_i = 2(x_i − z_i)
//   loss = Σ w_i·l_i / N ('mean', default) or Σ w_i·l_i ('sum'); w_i = 1 without weights.
import { sigmoid } from './math.ts';

export type LossReductionCpu = 'mean' | 'sum';

export interface LossCpuOptions {
  weights?: ArrayLike<number>;
  reduction?: LossReductionCpu;
  /** Multiplies the gradient. Default 1. */
  gradScale?: number;
}

export interface LossCpuResult {
  /** Per-element w_i·l_i. */
  losses: Float64Array;
  /** The reduced loss. */
  loss: number;
}

const reduce = (losses: Float64Array, reduction: LossReductionCpu = 'mean'): number => {
  let s = 0;
  for (const v of losses) s += v;
  return reduction === 'mean' ? s / losses.length : s;
};

const sigmoidXent = (x: number, z: number): number => Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x)));

export function lossesSigmoidXent(x: ArrayLike<number>, z: ArrayLike<number>, o: LossCpuOptions = {}): LossCpuResult {
  const losses = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) losses[i] = (o.weights ? o.weights[i] : 1) * sigmoidXent(x[i], z[i]);
  return { losses, loss: reduce(losses, o.reduction) };
}

export function lossesSigmoidXentBackward(x: ArrayLike<number>, z: ArrayLike<number>, o: LossCpuOptions = {}): Float64Array {
  const d = new Float64Array(x.length);
  const s = (o.gradScale ?? 1) / ((o.reduction ?? 'mean') === 'mean' ? x.length : 1);
  for (let i = 0; i < x.length; i++) d[i] = (o.weights ? o.weights[i] : 1) * (sigmoid(x[i]) - z[i]) * s;
  return d;
}

export function lossesMse(pred: ArrayLike<number>, target: ArrayLike<number>, o: LossCpuOptions = {}): LossCpuResult {
  const losses = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - target[i];
    losses[i] = (o.weights ? o.weights[i] : 1) * d * d;
  }
  return { losses, loss: reduce(losses, o.reduction) };
}

export function lossesMseBackward(pred: ArrayLike<number>, target: ArrayLike<number>, o: LossCpuOptions = {}): Float64Array {
  const g = new Float64Array(pred.length);
  const s = (o.gradScale ?? 1) / ((o.reduction ?? 'mean') === 'mean' ? pred.length : 1);
  for (let i = 0; i < pred.length; i++) g[i] = 2 * (o.weights ? o.weights[i] : 1) * (pred[i] - target[i]) * s;
  return g;
}
