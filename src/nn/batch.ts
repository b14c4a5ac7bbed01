// Batch checks: a batch is validated completely on the host before a run writes or records
// anything, and comes out as typed arrays (plain arrays of numbers are accepted and converted; a
// typed array of the wrong kind is refused, since it usually means the fields were mixed up).
// Every message names the field, the bad value or type, and what was expected.

import type { ActDesc } from './layer.ts';
import { closestName, describeValue } from './options.ts';

/** The fields a batch may have. */
export const BATCH_FIELDS = ['x', 'shape', 'lengths', 'y', 'weights'] as const;

/** A batch after checking: sizes, and the inputs as typed arrays. */
export interface CheckedBatch {
  B: number;
  T: number;
  shape: number[];
  /** Token ids (i32) or features (f32). */
  x: Int32Array | Float32Array;
  /** (B) lengths in [1, T]; all T when the batch has none. */
  lengths: Int32Array;
}

/** `[b, t]` / `[b, t, i]` for a flat index into a row-major shape. */
export function indexOf(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  let r = flat;
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(r % shape[d]); r = Math.floor(r / shape[d]); }
  return `[${idx.join(', ')}]`;
}

/**
 * An Int32Array, or a plain array of integers (converted). `what` names the field (`batch.y`),
 * `desc` says what it holds (`6 class ids (shape [2, 3])`).
 */
export function intArrayOf(owner: string, what: string, v: unknown, n: number, desc: string): Int32Array {
  let out: Int32Array;
  if (v instanceof Int32Array) {
    out = v;
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (typeof e !== 'number' || !Number.isInteger(e) || e < -2147483648 || e > 2147483647) {
        throw new Error(`${owner}: ${what}[${i}] is ${describeValue(e)}; expected an integer (${what} holds ${desc})`);
      }
    }
    out = Int32Array.from(v as number[]);
  } else {
    throw new Error(`${owner}: ${what} must be an Int32Array of ${desc}, or an array of integers; got ${describeValue(v)}`);
  }
  if (out.length !== n) throw new Error(`${owner}: ${what} has ${out.length} values, expected ${desc}`);
  return out;
}

/** A Float32Array, or a plain array of numbers (converted); every value finite. `shape` names positions. */
export function floatArrayOf(owner: string, what: string, v: unknown, n: number, desc: string, shape: readonly number[]): Float32Array {
  let out: Float32Array;
  if (v instanceof Float32Array) {
    out = v;
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'number') throw new Error(`${owner}: ${what}[${i}] is ${describeValue(v[i])}; expected a finite number (${what} holds ${desc})`);
    }
    out = Float32Array.from(v as number[]);
  } else {
    throw new Error(`${owner}: ${what} must be a Float32Array of ${desc}, or an array of numbers; got ${describeValue(v)}`);
  }
  if (out.length !== n) throw new Error(`${owner}: ${what} has ${out.length} values, expected ${desc}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i])) {
      const given = Array.isArray(v) && Number.isFinite(v[i]) ? ` (${v[i]} does not fit in f32)` : '';
      throw new Error(`${owner}: ${what}${indexOf(i, shape)} = ${out[i]}${given} is not finite; expected finite values`);
    }
  }
  return out;
}

/**
 * Checks a batch's object, shape, inputs and lengths for a model whose input is `input`. `owner`
 * is the call (`trainStep`). Targets are the loss's to check.
 */
export function checkBatch(owner: string, batch: unknown, input: ActDesc): CheckedBatch {
  const tokens = input.kind === 'tokens';
  const want = tokens ? '[B, T] (token ids)' : `[B, T, ${input.size}] (features)`;
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch) || ArrayBuffer.isView(batch)) {
    throw new Error(`${owner}: the batch must be an object { x, shape, lengths?, y?, weights? }, got ${describeValue(batch)}`);
  }
  for (const key of Object.keys(batch)) {
    if ((BATCH_FIELDS as readonly string[]).includes(key)) continue;
    const near = closestName(key, BATCH_FIELDS);
    throw new Error(`${owner}: unknown batch field ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}; a batch has ${BATCH_FIELDS.join(', ')}`);
  }
  const b = batch as Record<string, unknown>;
  const shape = b.shape;
  if (!Array.isArray(shape)) throw new Error(`${owner}: batch.shape must be an array ${want}, got ${describeValue(shape)}`);
  const rank = tokens ? 2 : 3;
  if (shape.length !== rank || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
    throw new Error(`${owner}: batch.shape is [${shape.map((d) => (typeof d === 'number' ? String(d) : describeValue(d))).join(', ')}], expected ${want} with positive integers`);
  }
  const dims = shape as number[];
  if (!tokens && dims[2] !== input.size) throw new Error(`${owner}: batch.shape is [${dims.join(', ')}], expected ${want}: the model's input size is ${input.size}`);
  const [B, T] = dims;
  const n = dims.reduce((a, d) => a * d, 1);
  if (b.x === undefined) throw new Error(`${owner}: batch.x is missing; expected ${tokens ? `an Int32Array of token ids (B·T = ${n})` : `a Float32Array of features (B·T·I = ${n})`}`);
  let x: Int32Array | Float32Array;
  if (tokens) {
    x = intArrayOf(owner, 'batch.x', b.x, n, `token ids (B·T = ${n} for shape [${dims.join(', ')}])`);
    for (let i = 0; i < n; i++) {
      const v = x[i];
      if (v < 0 || v >= input.size) throw new Error(`${owner}: batch.x: token id ${v} at ${indexOf(i, dims)} is outside the vocabulary [0, ${input.size})`);
    }
  } else {
    x = floatArrayOf(owner, 'batch.x', b.x, n, `features (B·T·I = ${n} for shape [${dims.join(', ')}])`, dims);
  }
  let lengths: Int32Array;
  if (b.lengths === undefined) {
    lengths = new Int32Array(B).fill(T);
  } else {
    lengths = intArrayOf(owner, 'batch.lengths', b.lengths, B, `B = ${B} lengths (one per row)`);
    for (let r = 0; r < B; r++) {
      if (!(lengths[r] >= 1 && lengths[r] <= T)) throw new Error(`${owner}: batch.lengths[${r}] = ${lengths[r]} is outside [1, ${T}]; expected 1 ≤ length ≤ T = ${T}`);
    }
  }
  return { B, T, shape: dims, x, lengths };
}
