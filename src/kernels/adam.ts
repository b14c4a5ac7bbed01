// Optimizer update kernels (shaders/adam.wgsl): Adam and SGD, in place, one thread per element.
// A non-finite `scale[0]` (clipGradNorm writes one when the gradient norm or the loss is inf/NaN)
// skips the update: nothing is written, so weights and slots keep their last good values.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
// SGD's bindings are a prefix of Adam's (v comes last).
const sgdBindings = [
  { name: 'p', kind: 'storage' },
  { name: 'grad', kind: 'read-only-storage' },
  { name: 'm', kind: 'storage' },
  { name: 'hyper', kind: 'read-only-storage' },
  { name: 'scale', kind: 'read-only-storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const adamBindings = [...sgdBindings, { name: 'v', kind: 'storage' }] as const;
const params = [['N', 'u32'], ['beta1', 'f32'], ['beta2', 'f32'], ['eps', 'f32'], ['weight_decay', 'f32'], ['momentum', 'f32']] as const;

export const ADAM_KERNELS: KernelSpec[] = [
  { name: 'adam_update', file: 'adam.wgsl', bindings: adamBindings, params, overrides: { WG } },
  { name: 'sgd_update', file: 'adam.wgsl', bindings: sgdBindings, params, overrides: { WG } },
];
registerKernels(ADAM_KERNELS);

export interface AdamHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * One Adam step on a parameter tensor, in place. `hyper` holds [lr, 1-beta1^t, 1-beta2^t];
 * `scale` holds the gradient scale (1, or the clip coefficient; inf/NaN: skip, write nothing).
 */
export function adamUpdate(
  ctx: GpuContext, p: Tensor, grad: Tensor, m: Tensor, v: Tensor, hyper: Tensor, scale: Tensor, h: AdamHyper,
): void {
  const op = 'adamUpdate';
  checkTensor(op, 'grad', grad, p.shape);
  checkTensor(op, 'm', m, p.shape);
  checkTensor(op, 'v', v, p.shape);
  checkTensor(op, 'hyper', hyper, [3]);
  checkTensor(op, 'scale', scale, [1]);
  ctx.dispatch('adam_update', {
    bindings: { p, grad, m, v, hyper, scale },
    params: { N: p.size, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weight_decay: h.weightDecay, momentum: 0 },
    workgroups: grid1d(p.size, WG),
  });
}

/**
 * One SGD step (momentum optional) on a parameter tensor, in place. `hyper[0]` is lr; `scale` as
 * in adamUpdate (inf/NaN: skip, write nothing).
 */
export function sgdUpdate(
  ctx: GpuContext, p: Tensor, grad: Tensor, m: Tensor, hyper: Tensor, scale: Tensor, h: { momentum: number; weightDecay: number },
): void {
  const op = 'sgdUpdate';
  checkTensor(op, 'grad', grad, p.shape);
  checkTensor(op, 'm', m, p.shape);
  checkTensor(op, 'hyper', hyper, [3]);
  checkTensor(op, 'scale', scale, [1]);
  ctx.dispatch('sgd_update', {
    bindings: { p, grad, m, hyper, scale },
    params: { N: p.size, beta1: 0, beta2: 0, eps: 0, weight_decay: h.weightDecay, momentum: h.momentum },
    workgroups: grid1d(p.size, WG),
  });
}
