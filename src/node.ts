// webgpu-rnn: Node entry. Everything from the browser entry, plus a Dawn-backed createContext.
export * from './index.ts';
export { createNodeContext, createNodeContext as createContext, type NodeContextOptions } from './runtime/node-device.ts';
