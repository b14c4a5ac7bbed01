// webgpu-rnn: browser-safe entry (never imports `webgpu` or Node built-ins).
export * from './runtime/index.ts';
export * from './kernels/index.ts';
export * as cpu from './cpu/index.ts';
