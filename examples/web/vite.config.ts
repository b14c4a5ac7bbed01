// The example pages: `npm run web:dev` (dev server), `npm run web:build` (→ examples/web/dist),
// `npm run web:preview` (serves the build). One page per example, sharing style.css, layout.js (the
// tabs and banners), page.ts and one copy of the library: the char-RNN (index.html), MNIST,
// sentiment and stock. They import the library's browser entry from ../../src, so the repo root
// must be servable.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const repo = here('../..');

// layout.js is a classic script (it must run from file:// URLs too), which Vite does not bundle: the
// pages load it as it is (vite-ignore), so the build gets a copy beside them.
const copyLayout: Plugin = {
  name: 'copy-layout-js',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'layout.js', source: readFileSync(here('layout.js'), 'utf8') });
  },
};

export default defineConfig({
  root: here('.'),
  base: './',
  plugins: [copyLayout],
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
