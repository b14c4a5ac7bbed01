// Browser-safe loaders; the Node-only readers (files.ts, mnist.ts) are exported from src/node.ts.
export * from './text.ts';
export * from './csv.ts';
export * from './idx.ts';
export * from './imdb.ts';
export * from './dates.ts';
