// Size checks: a tensor too large for the device (or for a JavaScript array) is refused with its
// name, shape and bytes, the limit it passes and what to do, before anything is allocated, instead
// of failing later as V8's "Invalid typed array length" or as WebGPU validation text.

import { BYTES_PER_ELEMENT, numel, shapeString } from './tensor.ts';

/** The device limits a tensor must fit (a GPUSupportedLimits has them). */
export interface AllocationLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/**
 * The most elements one tensor may hold on the host: kernels index elements with u32, and V8 (Node
 * 20) refuses typed arrays longer than 2^32 elements.
 */
export const MAX_HOST_ELEMENTS = 2 ** 32 - 1;

const ADVICE = 'use a smaller vocabulary, embedding, hidden size, batch or sequence length, or an adapter with larger limits';

/** `20,480,000,000 bytes (19.07 GiB)`. */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  const [div, unit] = units.find(([d]) => bytes >= d) ?? [1, 'bytes'];
  const human = div === 1 ? '' : ` (${(bytes / div).toFixed(2)} ${unit})`;
  return `${bytes.toLocaleString('en-US')} bytes${human}`;
}

/**
 * Throws unless a 4-byte tensor of `shape` fits one buffer of this device that one storage
 * binding can cover. `label` names the tensor in the message (e.g. `embedding.weight`).
 */
export function checkAllocation(limits: AllocationLimits, label: string, shape: readonly number[]): void {
  const bytes = numel(shape) * BYTES_PER_ELEMENT;
  const [limit, limitName] = limits.maxStorageBufferBindingSize <= limits.maxBufferSize
    ? [limits.maxStorageBufferBindingSize, 'maxStorageBufferBindingSize']
    : [limits.maxBufferSize, 'maxBufferSize'];
  if (bytes > limit) {
    throw new Error(`${label} ${shapeString(shape)} needs ${formatBytes(bytes)}, more than this adapter's ${limitName} of ${formatBytes(limit)}; ${ADVICE}`);
  }
}

/**
 * A zeroed Float32Array for the host copy of tensor `label` of `shape`, or a clear error when
 * JavaScript cannot hold it (instead of V8's "Invalid typed array length").
 */
export function hostFloat32Array(label: string, shape: readonly number[]): Float32Array {
  const n = numel(shape);
  const tooLarge = () => new Error(
    `${label} ${shapeString(shape)} has ${n.toLocaleString('en-US')} values (${formatBytes(n * BYTES_PER_ELEMENT)}), ` +
    `more than one JavaScript array or GPU buffer can hold (at most ${MAX_HOST_ELEMENTS.toLocaleString('en-US')} values, and a WebGPU ` +
    `device binds typically 128 MiB to 4 GiB at once); ${ADVICE}`,
  );
  if (n > MAX_HOST_ELEMENTS) throw tooLarge();
  try {
    return new Float32Array(n);
  } catch (e) {
    if (e instanceof RangeError) throw tooLarge();
    throw e;
  }
}
