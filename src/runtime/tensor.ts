// Tensors: a GPU buffer with a shape and a dtype. Row-major, 4 bytes per element.

export type DType = 'f32' | 'i32' | 'u32';
/** The typed array a read of a Tensor<D> returns. Not distributive: a tensor typed only as
 *  `Tensor` (any dtype) reads as Float32Array, the common case; i32/u32 tensors made with an
 *  explicit dtype read as Int32Array/Uint32Array. */
export type TypedArrayFor<D extends DType> = [D] extends ['i32'] ? Int32Array : [D] extends ['u32'] ? Uint32Array : Float32Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

export const BYTES_PER_ELEMENT = 4;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

export function checkShapeValid(name: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new Error(`${name}: shape ${shapeString(shape)} is not valid; every dimension must be a positive integer`);
    }
  }
}

export function typedArrayFor(dtype: DType, n: number | ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'f32': return typeof n === 'number' ? new Float32Array(n) : new Float32Array(n);
    case 'i32': return typeof n === 'number' ? new Int32Array(n) : new Int32Array(n);
    case 'u32': return typeof n === 'number' ? new Uint32Array(n) : new Uint32Array(n);
  }
}

/** dtype of a typed array, or undefined for anything else. */
export function dtypeOf(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint32Array) return 'u32';
  return undefined;
}

let nextTensorId = 1;

/**
 * A view of a GPU buffer as a row-major tensor. Tensors made by a context come from its buffer
 * pool; `release()` gives the buffer back to the pool, `destroy()` frees it.
 */
export class Tensor<D extends DType = DType> {
  readonly id = nextTensorId++;
  readonly size: number;
  released = false;

  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: D,
    readonly name: string,
    private readonly onRelease?: (t: Tensor) => void,
  ) {
    this.size = numel(shape);
  }

  get byteSize(): number {
    return this.size * BYTES_PER_ELEMENT;
  }

  /** Give the buffer back to the pool it came from (or destroy it if it has none). */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.onRelease) this.onRelease(this);
    else this.buffer.destroy();
  }

  toString(): string {
    return `Tensor ${this.name} ${this.dtype}${shapeString(this.shape)}`;
  }
}

/**
 * Throws unless `t` has the expected dtype and shape. `expected` may contain `-1` for "any size"
 * in that dimension. Used by every kernel wrapper before anything is dispatched.
 */
export function checkTensor(
  op: string,
  argName: string,
  t: Tensor | undefined,
  expected: readonly number[],
  dtype: DType | DType[] = 'f32',
): void {
  if (!(t instanceof Tensor)) {
    throw new Error(`${op}: ${argName} must be a Tensor, got ${t === undefined ? 'undefined' : typeof t}`);
  }
  if (t.released) throw new Error(`${op}: ${argName} (${t.name}) was released and can no longer be used`);
  const dtypes = Array.isArray(dtype) ? dtype : [dtype];
  if (!dtypes.includes(t.dtype)) {
    throw new Error(`${op}: ${argName} (${t.name}) has dtype ${t.dtype}, expected ${dtypes.join(' or ')}`);
  }
  const ok = t.shape.length === expected.length && expected.every((e, i) => e === -1 || e === t.shape[i]);
  if (!ok) {
    const exp = `(${expected.map((e) => (e === -1 ? '*' : String(e))).join(', ')})`;
    throw new Error(`${op}: ${argName} (${t.name}) has shape ${shapeString(t.shape)}, expected ${exp}`);
  }
}

/** Throws unless `v` is a positive integer (a dimension or a count). */
export function checkDim(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
}

/**
 * Throws unless the named tensors are all different buffers (WebGPU refuses a buffer bound twice
 * in one dispatch when one binding is written; checking in the wrapper names the arguments).
 * Takes `{ name: tensor }` or `[name, tensor]` pairs; undefined entries are skipped.
 */
export function checkDistinct(op: string, named: Record<string, Tensor | undefined> | [string, Tensor | undefined][]): void {
  const entries = Array.isArray(named) ? named : Object.entries(named);
  const seen = new Map<GPUBuffer, string>();
  for (const [name, t] of entries) {
    if (!t) continue;
    const other = seen.get(t.buffer);
    if (other !== undefined) throw new Error(`${op}: ${name} and ${other} must be different tensors (both are ${t.name})`);
    seen.set(t.buffer, name);
  }
}
