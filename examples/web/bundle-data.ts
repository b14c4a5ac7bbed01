// Writes the data the example pages ship in public/ (run once from the repository root; the files
// are committed, so the pages work offline and without this script):
//   mnist/test-images.idx, mnist/test-labels.idx    the first 300 MNIST test digits (pick one on the MNIST page)
//   mnist/train-images.idx, mnist/train-labels.idx  the first 2,000 training digits ("train here")
//   stock/data-02-stock_daily.csv                   the GOOG prices of data/stock (see data/README.md)
// The idx files are the standard MNIST files cut short (count patched), so the page reads them with
// the library's parseIdxImages / parseIdxLabels exactly as Node reads the full ones.
//
//   npx tsx examples/web/bundle-data.ts
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNIST_DEFAULT_DIR } from '../../src/node.ts';

const PUBLIC = join('examples', 'web', 'public');

/** The first `count` items of an idx file: its header with the count replaced, then their bytes. */
function idxPrefix(file: string, count: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(file));
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const dims = bytes[3];
  let itemSize = 1;
  for (let d = 1; d < dims; d++) itemSize *= view.getUint32(4 + 4 * d);
  const header = 4 + 4 * dims;
  if (view.getUint32(4) < count) throw new Error(`${file}: ${view.getUint32(4)} items, fewer than ${count}`);
  const out = bytes.slice(0, header + count * itemSize);
  new DataView(out.buffer).setUint32(4, count);
  return out;
}

mkdirSync(join(PUBLIC, 'mnist'), { recursive: true });
mkdirSync(join(PUBLIC, 'stock'), { recursive: true });
for (const [split, name, count] of [['t10k', 'test', 300], ['train', 'train', 2000]] as const) {
  writeFileSync(join(PUBLIC, 'mnist', `${name}-images.idx`), idxPrefix(join(MNIST_DEFAULT_DIR, `${split}-images-idx3-ubyte`), count));
  writeFileSync(join(PUBLIC, 'mnist', `${name}-labels.idx`), idxPrefix(join(MNIST_DEFAULT_DIR, `${split}-labels-idx1-ubyte`), count));
}
copyFileSync(join('data', 'stock', 'data-02-stock_daily.csv'), join(PUBLIC, 'stock', 'data-02-stock_daily.csv'));
console.log(`wrote ${PUBLIC}/mnist/*.idx (300 test and 2,000 training digits) and ${PUBLIC}/stock/data-02-stock_daily.csv`);
