// webgpu-rnn: browser-safe entry (never imports `webgpu` or Node built-ins).
// Node users import the same names from the package root and get `createContext` (Dawn) as well;
// see src/node.ts.
export * from './runtime/index.ts';
export * from './kernels/index.ts';
export * from './nn/index.ts';
export * from './train/index.ts';
export { Rng } from './cpu/random.ts';
export * as cpu from './cpu/index.ts';
