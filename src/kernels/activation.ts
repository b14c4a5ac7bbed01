// Pointwise activations (shaders/activation.wgsl): relu, tanh, sigmoid, forward and backward.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

export type Activation = 'relu' | 'tanh' | 'sigmoid';
const ACT: Record<Activation, number> = { relu: 0, tanh: 1, sigmoid: 2 };
const WG = 256;
const base = [
  { name: 'src', kind: 'read-only-storage' },
  { name: 'dst', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
export const ACTIVATION_KERNELS: KernelSpec[] = [
  { name: 'activation_forward', file: 'activation.wgsl', bindings: [...base], params: [['n', 'u32']], overrides: { WG } },
  { name: 'activation_backward', file: 'activation.wgsl', bindings: [...base, { name: 'dy', kind: 'read-only-storage' }], params: [['n', 'u32']], overrides: { WG } },
];
registerKernels(ACTIVATION_KERNELS);

function actCode(op: string, a: Activation): number {
  const code = ACT[a];
  if (code === undefined) throw new Error(`${op}: unknown activation '${a}', expected relu, tanh or sigmoid`);
  return code;
}

/** y = f(x). x and y must be different tensors (WebGPU forbids a read and a write binding of one buffer). */
export function activationForward(ctx: GpuContext, activation: Activation, x: Tensor, y: Tensor): void {
  const op = 'activationForward';
  const code = actCode(op, activation);
  checkTensor(op, 'x', x, x.shape);
  checkTensor(op, 'y', y, x.shape);
  if (x.buffer === y.buffer) throw new Error(`${op}: y must not alias x`);
  ctx.dispatch('activation_forward', { bindings: { src: x, dst: y }, params: { n: x.size }, overrides: { ACT: code }, workgroups: grid1d(x.size, WG) });
}

/** dx (+)= dy · f'(x), computed from the forward output y. */
export function activationBackward(ctx: GpuContext, activation: Activation, y: Tensor, dy: Tensor, dx: Tensor, opts: { accumulate?: boolean } = {}): void {
  const op = 'activationBackward';
  const code = actCode(op, activation);
  checkTensor(op, 'y', y, y.shape);
  checkTensor(op, 'dy', dy, y.shape);
  checkTensor(op, 'dx', dx, y.shape);
  if (dx.buffer === y.buffer) throw new Error(`${op}: dx must not alias y`);
  ctx.dispatch('activation_backward', {
    bindings: { src: y, dst: dx, dy }, params: { n: y.size },
    overrides: { ACT: code, ACCUMULATE: opts.accumulate ? 1 : 0 }, workgroups: grid1d(y.size, WG),
  });
}
