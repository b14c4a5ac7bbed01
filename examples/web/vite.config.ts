// The example pages: `npm run web:dev` (dev server), `npm run web:build` (→ examples/web/dist),
// `npm run web:preview` (serves the build). One page per example, sharing style.css, page.ts and
// one copy of the library: the char-RNN (index.html), MNIST, sentiment and stock.
// They import the library's browser entry from ../../src, so the repo root must be servable.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const repo = here('../..');

export default defineConfig({
  root: here('.'),
  base: './',
  build: {
    outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1024,
    rollupOptions: {
      input: {
        charrnn: here('index.html'), mnist: here('mnist.html'), sentiment: here('sentiment.html'), stock: here('stock.html'),
      },
    },
  },
  server: { host: '127.0.0.1', fs: { allow: [repo] } },
  preview: { host: '127.0.0.1' },
});
