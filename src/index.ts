/**
 * webgpu-rnn's browser-safe entry (`import … from 'webgpu-rnn'` in a bundler, or
 * `'webgpu-rnn/browser'`): the runtime (`createBrowserContext`, tensors, kernels), layers
 * (`Sequential`, `Embedding`, `LSTM`, `GRU`, `RNN`, `Dense`, …), training (`Adam`, `SGD`, `fit`),
 * checkpoints as bytes (`encodeModel`, `decodeModelInto`), generation and the float64 CPU
 * reference (`cpu`). It never imports `webgpu` or Node built-ins.
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) the declarations use; @webgpu/types is a dependency.
export * from './runtime/index.ts';
export * from './kernels/index.ts';
export * from './nn/index.ts';
export * from './train/index.ts';
export { Rng } from './cpu/random.ts';
export * as cpu from './cpu/index.ts';
export * from './data/index.ts';
