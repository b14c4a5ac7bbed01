export * from './safetensors.ts';
export * from './optimizers.ts';
export * from './losses.ts';
export * from './checkpoint.ts';
export * from './generate.ts';
export * from './progress.ts';
export * from './fit.ts';
export * from './tune.ts';
