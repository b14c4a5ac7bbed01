export * from './text.ts';
export * from './csv.ts';
export * from './idx.ts';
export * from './mnist.ts';
export * from './imdb.ts';
