// f16 storage (shaders/half.wgsl): a tensor of n values held as IEEE binary16, two per u32 word
// (value i in the low half of word i/2 when i is even, else the high half: a WGSL array<f16>).
// There is no f16 dtype: such a tensor is a u32 tensor of shape (ceil(n/2)), made by halfEmpty.
// halfPack / halfUnpack convert on the GPU (core WGSL, no device feature needed); roundToHalf and
// halfBits / halfValue are the same rounding on the host (to nearest, ties to even), used by the
// tests to round weights the way the GPU stores them.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, numel, shapeString, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
const bindings = [
  { name: 'values', kind: 'storage' }, { name: 'halves', kind: 'storage' }, { name: 'params', kind: 'uniform' },
] as const;
export const HALF_KERNELS: KernelSpec[] = [
  { name: 'half_pack', file: 'half.wgsl', bindings: [...bindings], params: [['n', 'u32']], overrides: { WG } },
  { name: 'half_unpack', file: 'half.wgsl', bindings: [...bindings], params: [['n', 'u32']], overrides: { WG } },
];
registerKernels(HALF_KERNELS);

/** u32 words that hold n f16 values. */
export const halfWords = (n: number): number => Math.ceil(n / 2);

/** A u32 tensor that holds numel(shape) f16 values (uninitialised). */
export function halfEmpty(ctx: GpuContext, shape: readonly number[], name: string): Tensor<'u32'> {
  return ctx.empty([halfWords(numel(shape))], 'u32', name);
}

/** Throws unless `t` is f16 storage (a u32 tensor of ceil(n/2) words) for a tensor of this shape. */
export function checkHalf(op: string, arg: string, t: Tensor, shape: readonly number[]): void {
  const words = halfWords(numel(shape));
  if (t.dtype !== 'u32' || t.shape.length !== 1 || t.shape[0] !== words) {
    throw new Error(`${op}: ${arg} (${t.name}) is ${t.dtype}${shapeString(t.shape)}, expected f16 storage of ${shapeString(shape)}: u32 (${words}) (see halfEmpty)`);
  }
}

/** halves = values rounded to f16, packed (values: any shape, f32; halves: from halfEmpty of that shape). */
export function halfPack(ctx: GpuContext, values: Tensor, halves: Tensor): void {
  const op = 'halfPack';
  checkTensor(op, 'values', values, values.shape);
  checkHalf(op, 'halves', halves, values.shape);
  ctx.dispatch('half_pack', { bindings: { values, halves }, params: { n: values.size }, workgroups: grid1d(halfWords(values.size), WG) });
}

/** values = the f16 values of halves, widened to f32 (halves: f16 storage of values' shape). */
export function halfUnpack(ctx: GpuContext, halves: Tensor, values: Tensor): void {
  const op = 'halfUnpack';
  checkTensor(op, 'values', values, values.shape);
  checkHalf(op, 'halves', halves, values.shape);
  ctx.dispatch('half_unpack', { bindings: { values, halves }, params: { n: values.size }, workgroups: grid1d(values.size, WG) });
}

/** The binary16 bits of x rounded to nearest, ties to even (±Infinity past the f16 range, NaN kept). */
export function halfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;   // 65520 and up round to infinity
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24);   // subnormal: a multiple of 2^-24 (may round up to the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;                   // log2 can round up just below a power of two
  else if (2 ** (e + 1) <= a) e++;
  const m = roundEven((a / 2 ** e - 1) * 1024);   // 10 fraction bits; 1024 carries into the exponent
  return sign | (((e + 15) << 10) + m);
}

/** The value of binary16 bits. */
export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/** x rounded to the nearest f16 value (ties to even), as a number. */
export const roundToHalf = (x: number): number => halfValue(halfBits(x));

/** The values of packed f16 words as read back from a tensor made by halfEmpty (n values). */
export function unpackHalves(words: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = halfValue((words[i >> 1] >>> (16 * (i & 1))) & 0xffff);
  return out;
}

function roundEven(v: number): number {
  const f = Math.floor(v), r = v - f;
  return r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
}
