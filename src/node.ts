/**
 * webgpu-rnn's Node entry (what `import … from 'webgpu-rnn'` resolves to in Node, or
 * `'webgpu-rnn/node'`): everything from the browser entry, plus `createContext()` backed by Dawn
 * (the `webgpu` package) and checkpoint files on disk (`saveCheckpoint` / `loadCheckpoint`, written
 * atomically).
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) the declarations use; @webgpu/types is a dependency.
export * from './index.ts';
export { createNodeContext as createContext, type NodeContextOptions } from './runtime/node-device.ts';
export { saveCheckpoint, loadCheckpoint, trainingStatePath } from './train/checkpoint-node.ts';
export { writeFileAtomic, readFileBytes } from './train/files.ts';
export { readBytes, readText } from './data/files.ts';
export * from './data/mnist.ts';
