// webgpu-rnn: Node entry. Everything from the browser entry, plus a Dawn-backed createContext and
// checkpoint files on disk (atomic writes).
export * from './index.ts';
export { createNodeContext, createNodeContext as createContext, type NodeContextOptions } from './runtime/node-device.ts';
export { saveCheckpoint, loadCheckpoint, trainingStatePath } from './train/checkpoint-node.ts';
export { writeFileAtomic, readFileBytes } from './train/files.ts';
