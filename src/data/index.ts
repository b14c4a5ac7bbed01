export * from './text.ts';
export * from './csv.ts';
export * from './idx.ts';
