// Small helpers shared by the examples that train on data sets: seeded shuffling into minibatches
// (and `fit`'s trainBatches made of them) and accuracy from a model's batched predictions.
import { Rng, type Batch, type Sequential } from '../../src/node.ts';

/** 0..n-1 in a seeded random order (Fisher–Yates); a different order per (seed, epoch). */
export function shuffled(n: number, seed: number, epoch: number): Int32Array {
  const rng = new Rng(seed * 1000003 + epoch + 1);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
  }
  return idx;
}

/** Splits `order` into consecutive groups of `size` (the last one shorter unless `dropLast`). */
export function* chunks(order: Int32Array, size: number, dropLast = false): Generator<Int32Array> {
  for (let i = 0; i < order.length; i += size) {
    if (dropLast && i + size > order.length) return;
    yield order.subarray(i, Math.min(i + size, order.length));
  }
}

/**
 * `fit`'s trainBatches for `count` examples: each epoch a new seeded order, cut into full
 * minibatches of `size` (a shorter last one is dropped), each made into a Batch by `batchOf`.
 */
export function shuffledBatches(count: number, size: number, seed: number, batchOf: (idx: Int32Array) => Batch): (epoch: number) => Generator<Batch> {
  return function* (epoch) {
    for (const idx of chunks(shuffled(count, seed, epoch), size, true)) yield batchOf(idx);
  };
}

/**
 * Accuracy of a classifier over batches: `argmax` of a (B, C) output against class ids, or for a
 * single-logit output (B, 1) the sign against 0/1 labels.
 */
export async function accuracy(model: Sequential, batches: Iterable<{ batch: Batch; labels: ArrayLike<number> }>): Promise<number> {
  let right = 0, total = 0;
  for (const { batch, labels } of batches) {
    const { data, shape } = await model.predict(batch);
    const [B, C] = shape;
    for (let b = 0; b < B; b++) {
      let guess = 0;
      if (C === 1) guess = data[b] > 0 ? 1 : 0;
      else for (let c = 1; c < C; c++) if (data[b * C + c] > data[b * C + guess]) guess = c;
      if (guess === labels[b]) right++;
      total++;
    }
  }
  return right / Math.max(total, 1);
}
