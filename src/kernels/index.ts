// Every kernel family; importing this registers all kernels.
export * from './grid.ts';
export * from './adam.ts';
