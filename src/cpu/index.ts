// The CPU reference: the same ops as the WGSL kernels, written by hand in float64.
export * from './random.ts';
export * from './optim.ts';
export * from './math.ts';
