/**
 * `webgpu-rnn/kernels`: the layer below the models, for writing a kernel or a layer of your own
 * and for benchmarks — every kernel family's typed wrappers and `KernelSpec`s (importing this
 * registers all kernels), the kernel registry, the recurrent cell drivers and schedule resolution, the graph-node protocol (`GraphOp`, `callOp`),
 * and the runtime helpers the wrappers use (tensor checks, buffer pool, size limits). These follow
 * the kernels and may change between minor versions; models, training and checkpoints are in the
 * root entry. Browser-safe.
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) the declarations use; @webgpu/types is a dependency.

export * from './kernels/index.ts';
export * from './runtime/registry.ts';
export * from './nn/cells.ts';
export {
  BYTES_PER_ELEMENT, numel, shapeString, checkShapeValid, typedArrayFor, dtypeOf, checkTensor, checkDim, checkDistinct,
} from './runtime/tensor.ts';
export { BufferPool } from './runtime/pool.ts';
export { BufferUsage, STORAGE_USAGE, bindingRange, deviceDescriptor } from './runtime/context.ts';
export * from './runtime/limits.ts';
export { RECURRENT_SCHEDULES, STEP_KERNEL_VARIANTS, checkSettings } from './runtime/settings.ts';
export { adapterFactsOf } from './runtime/adapter-facts.ts';
export { TunedSchedules } from './runtime/tuned.ts';
export { uniformInit, checkAct } from './nn/layer.ts';
// Writing a graph node of your own (several inputs or outputs): the protocol and how to call it.
export type { GraphOp } from './nn/graph-op.ts';
export { callOp } from './nn/graph-value.ts';
export { DENSE_ACTIVATIONS } from './nn/layers.ts';
export { Loss, makeLoss, type Targets, type TargetContext } from './train/losses.ts';
