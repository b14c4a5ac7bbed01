// Elementwise losses (shaders/losses.wgsl): sigmoid cross-entropy with logits and mean squared
// error, forward (per-element + scalar) and backward, with 'mean' or 'sum' reduction.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
const b = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const x = b('x', 'read-only-storage', 0);
const z = b('z', 'read-only-storage', 1);
const weights = b('weights', 'read-only-storage', 2);
const params = b('params', 'uniform', 3);
const elem = b('elem', 'storage', 4);
const dx = b('dx', 'storage', 5);
const loss = b('loss', 'storage', 6);
const fields = [['N', 'u32'], ['scale', 'f32'], ['grad_scale', 'f32']] as const;
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({
  name, file: 'losses.wgsl', bindings, params: fields, overrides: { WG },
});

export const LOSSES_KERNELS: KernelSpec[] = [
  spec('losses_sigmoid_xent', [x, z, weights, params, elem]),
  spec('losses_sigmoid_xent_grad', [x, z, weights, params, elem, dx]),
  spec('losses_mse', [x, z, weights, params, elem]),
  spec('losses_mse_grad', [x, z, weights, params, elem, dx]),
  spec('losses_sum', [params, elem, loss]),
];
registerKernels(LOSSES_KERNELS);

export type LossReduction = 'mean' | 'sum';

export interface LossOptions {
  /** 'mean' (default): loss = Σ w_i·l_i / N; 'sum': loss = Σ w_i·l_i. */
  reduction?: LossReduction;
  /** Multiplies the gradient (not the loss). Default 1. */
  gradScale?: number;
}

function scales(op: string, N: number, opts: LossOptions): { scale: number; grad_scale: number } {
  const reduction = opts.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum') throw new Error(`${op}: reduction must be 'mean' or 'sum', got '${String(reduction)}'`);
  const g = opts.gradScale ?? 1;
  if (!Number.isFinite(g)) throw new Error(`${op}: gradScale must be a finite number, got ${g}`);
  const s = reduction === 'mean' ? 1 / N : 1;
  return { scale: s, grad_scale: g * s };
}

interface Pointwise {
  x: Tensor; xName: string; z: Tensor; zName: string; weights?: Tensor;
  losses: Tensor; loss: Tensor; grad?: Tensor; gradName: string;
}

function runPointwise(ctx: GpuContext, op: string, kernel: string, a: Pointwise, opts: LossOptions): void {
  checkTensor(op, a.xName, a.x, a.x?.shape ?? []);
  const shape = a.x.shape;
  checkTensor(op, a.zName, a.z, shape);
  if (a.weights !== undefined) checkTensor(op, 'weights', a.weights, shape);
  checkTensor(op, 'losses', a.losses, shape);
  checkTensor(op, 'loss', a.loss, [1]);
  if (a.grad !== undefined) checkTensor(op, a.gradName, a.grad, shape);
  const N = a.x.size;
  const p = { N, ...scales(op, N, opts) };
  checkDistinct(op, [[a.xName, a.x], [a.zName, a.z], ['weights', a.weights], ['losses', a.losses], ['loss', a.loss], [a.gradName, a.grad]]);
  // Without weights, HAS_W = 0 and `weights` is never read: x is bound there (two read-only uses of
  // one buffer are valid), so nothing is allocated.
  const bindings: Record<string, Tensor> = { x: a.x, z: a.z, weights: a.weights ?? a.x, elem: a.losses };
  if (a.grad) bindings.dx = a.grad;
  ctx.dispatch(a.grad ? `${kernel}_grad` : kernel, {
    bindings, params: p, overrides: { HAS_W: a.weights ? 1 : 0 }, workgroups: grid1d(N, WG),
  });
  ctx.dispatch('losses_sum', { bindings: { elem: a.losses, loss: a.loss }, params: p, workgroups: [1] });
}

export interface SigmoidCrossEntropyArgs {
  /** Logits, f32, any shape. */
  logits: Tensor;
  /** Labels (usually 0/1), f32, same shape. */
  labels: Tensor;
  /** Optional per-element weights, f32, same shape. */
  weights?: Tensor;
  /** Output: per-element w·l, same shape. */
  losses: Tensor;
  /** Output: the reduced loss, f32 (1). */
  loss: Tensor;
  /** Output (optional): d loss / d logits, same shape. */
  dlogits?: Tensor;
}

/**
 * TF `sigmoid_cross_entropy_with_logits` (PyTorch BCEWithLogitsLoss): per-element
 * max(x,0) − x·z + log(1+exp(−|x|)), reduced by mean (default) or sum, and its gradient
 * (sigmoid(x) − z)·w·gradScale (/N for mean). Two dispatches; nothing is read back.
 */
export function sigmoidCrossEntropy(ctx: GpuContext, args: SigmoidCrossEntropyArgs, opts: LossOptions = {}): void {
  const op = 'sigmoidCrossEntropy';
  if (!args || typeof args !== 'object') throw new Error(`${op}: expected an object { logits, labels, weights?, losses, loss, dlogits? }`);
  runPointwise(ctx, op, 'losses_sigmoid_xent', {
    x: args.logits, xName: 'logits', z: args.labels, zName: 'labels', weights: args.weights,
    losses: args.losses, loss: args.loss, grad: args.dlogits, gradName: 'dlogits',
  }, opts);
}

export interface MeanSquaredErrorArgs {
  /** Predictions, f32, any shape. */
  pred: Tensor;
  /** Targets, f32, same shape. */
  target: Tensor;
  /** Optional per-element weights, f32, same shape. */
  weights?: Tensor;
  /** Output: per-element w·(pred − target)², same shape. */
  losses: Tensor;
  /** Output: the reduced loss, f32 (1). */
  loss: Tensor;
  /** Output (optional): d loss / d pred = 2·w·(pred − target)·gradScale (/N for mean). */
  dpred?: Tensor;
}

/**
 * Squared error: 'mean' (default, PyTorch MSELoss) or 'sum' (the TF tutorials'
 * tf.reduce_sum(tf.square(pred − Y))), and its gradient. Two dispatches; nothing is read back.
 */
export function meanSquaredError(ctx: GpuContext, args: MeanSquaredErrorArgs, opts: LossOptions = {}): void {
  const op = 'meanSquaredError';
  if (!args || typeof args !== 'object') throw new Error(`${op}: expected an object { pred, target, weights?, losses, loss, dpred? }`);
  runPointwise(ctx, op, 'losses_mse', {
    x: args.pred, xName: 'pred', z: args.target, zName: 'target', weights: args.weights,
    losses: args.losses, loss: args.loss, grad: args.dpred, gradName: 'dpred',
  }, opts);
}

/** out[0] = scale · Σ values (deterministic, one workgroup). values: f32, any shape. */
export function lossesSum(ctx: GpuContext, values: Tensor, out: Tensor, opts: { scale?: number } = {}): void {
  const op = 'lossesSum';
  checkTensor(op, 'values', values, values?.shape ?? []);
  checkTensor(op, 'out', out, [1]);
  const scale = opts.scale ?? 1;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  checkDistinct(op, [['values', values], ['out', out]]);
  ctx.dispatch('losses_sum', { bindings: { elem: values, loss: out }, params: { N: values.size, scale, grad_scale: 0 }, workgroups: [1] });
}
