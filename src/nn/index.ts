export * from './layer.ts';
export * from './layers.ts';
export * from './embedding.ts';
export * from './recurrent.ts';
export * from './cells.ts';
export * from './model.ts';
export * from './config.ts';
