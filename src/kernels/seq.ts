// Sequence plumbing kernels (shaders/seq.wgsl): shift, per-row reverse, last-step gather/scatter,
// dropout, column copies (concat/split), axpy and column dot products.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
const x: BindingSpec = { name: 'x', kind: 'read-only-storage' };
const y: BindingSpec = { name: 'y', kind: 'storage' };
const params: BindingSpec = { name: 'params', kind: 'uniform' };
const aux: BindingSpec = { name: 'aux', kind: 'read-only-storage', index: 3 };
const lengths: BindingSpec = { name: 'lengths', kind: 'read-only-storage', index: 4 };
const stepSeed: BindingSpec = { name: 'step_seed', kind: 'read-only-storage', index: 5 };
const fields = [
  ['B', 'u32'], ['T', 'u32'], ['D', 'u32'], ['n', 'u32'], ['off', 'u32'], ['Dx', 'u32'], ['Dy', 'u32'],
  ['seed', 'u32'], ['keep', 'f32'], ['alpha', 'f32'],
] as const;
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({ name, file: 'seq.wgsl', bindings, params: fields, overrides: { WG } });

export const SEQ_KERNELS: KernelSpec[] = [
  spec('seq_shift_prev', [x, y, params, aux]),
  spec('seq_reverse', [x, y, params, lengths]),
  spec('seq_gather_last', [x, y, params, lengths]),
  spec('seq_scatter_last', [x, y, params, lengths]),
  spec('seq_dropout', [x, y, params, stepSeed]),
  spec('seq_copy_cols', [x, y, params]),
  spec('seq_take_cols', [x, y, params]),
  spec('seq_axpy', [x, y, params]),
  spec('seq_column_dot', [x, y, params, aux]),
];
registerKernels(SEQ_KERNELS);

type P = { B?: number; T?: number; D?: number; n: number; off?: number; Dx?: number; Dy?: number; seed?: number; keep?: number; alpha?: number };
function run(ctx: GpuContext, name: string, b: Record<string, Tensor>, p: P, accumulate = false): void {
  const full = { B: 0, T: 0, D: 0, off: 0, Dx: 0, Dy: 0, seed: 0, keep: 1, alpha: 0, ...p };
  ctx.dispatch(name, { bindings: b, params: full, overrides: accumulate ? { ACCUMULATE: 1 } : undefined, workgroups: grid1d(p.n, WG) });
}

function dims3(op: string, name: string, t: Tensor): [number, number, number] {
  if (t.shape.length !== 3) throw new Error(`${op}: ${name} (${t.name}) must be (B, T, D), got shape (${t.shape.join(', ')})`);
  return [t.shape[0], t.shape[1], t.shape[2]];
}

/** hprev (B,T,H): hprev[:,0] = h0, hprev[:,t] = hs[:,t-1]. */
export function seqShiftPrev(ctx: GpuContext, hs: Tensor, h0: Tensor, hprev: Tensor): void {
  const op = 'seqShiftPrev';
  const [B, T, H] = dims3(op, 'hs', hs);
  checkTensor(op, 'h0', h0, [B, H]);
  checkTensor(op, 'hprev', hprev, [B, T, H]);
  run(ctx, 'seq_shift_prev', { x: hs, y: hprev, aux: h0 }, { B, T, D: H, n: hprev.size });
}

/** y[b,t] = x[b, len[b]-1-t] for t < len[b], else 0. Its own inverse on the valid steps. */
export function seqReverse(ctx: GpuContext, x: Tensor, lengths: Tensor, y: Tensor): void {
  const op = 'seqReverse';
  const [B, T, D] = dims3(op, 'x', x);
  checkTensor(op, 'lengths', lengths, [B], 'i32');
  checkTensor(op, 'y', y, [B, T, D]);
  if (x.buffer === y.buffer) throw new Error(`${op}: x and y must be different tensors`);
  run(ctx, 'seq_reverse', { x, y, lengths }, { B, T, D, n: y.size });
}

/** y (B,D) = x[b, len[b]-1, :]. */
export function seqGatherLast(ctx: GpuContext, x: Tensor, lengths: Tensor, y: Tensor): void {
  const op = 'seqGatherLast';
  const [B, T, D] = dims3(op, 'x', x);
  checkTensor(op, 'lengths', lengths, [B], 'i32');
  checkTensor(op, 'y', y, [B, D]);
  run(ctx, 'seq_gather_last', { x, y, lengths }, { B, T, D, n: y.size });
}

/** y (B,T,D) = x[b] at t = len[b]-1, 0 elsewhere (or added to y with accumulate). */
export function seqScatterLast(ctx: GpuContext, x: Tensor, lengths: Tensor, y: Tensor, opts: { accumulate?: boolean } = {}): void {
  const op = 'seqScatterLast';
  const [B, T, D] = dims3(op, 'y', y);
  checkTensor(op, 'lengths', lengths, [B], 'i32');
  checkTensor(op, 'x', x, [B, D]);
  run(ctx, 'seq_scatter_last', { x, y, lengths }, { B, T, D, n: y.size }, opts.accumulate);
}

/**
 * Inverted dropout: y = x·mask/keep with mask_i = [rand_uniform(hash_u32(salt ^ stepSeed[0]), i) < keep].
 * `salt` is fixed per layer (it goes in the cached uniform); `stepSeed` is a (1) u32 tensor the
 * model rewrites each step. Forward and backward call this with the same seeds (the backward of
 * y = x·m/keep is dx = dy·m/keep).
 */
export function seqDropout(
  ctx: GpuContext, x: Tensor, y: Tensor, keep: number, salt: number, stepSeed: Tensor, opts: { accumulate?: boolean } = {},
): void {
  const op = 'seqDropout';
  checkTensor(op, 'y', y, x.shape);
  checkTensor(op, 'stepSeed', stepSeed, [1], 'u32');
  if (!(keep > 0 && keep <= 1)) throw new Error(`${op}: keep probability must be in (0, 1], got ${keep}`);
  if (!Number.isInteger(salt) || salt < 0 || salt > 0xffffffff) throw new Error(`${op}: salt must be a 32-bit unsigned integer, got ${salt}`);
  run(ctx, 'seq_dropout', { x, y, step_seed: stepSeed }, { n: x.size, seed: salt, keep }, opts.accumulate);
}

function cols(t: Tensor): [number, number] {
  const d = t.shape[t.shape.length - 1];
  return [t.size / d, d];
}

/** y[:, off:off+W] (+)= x, with x viewed as (N, W) and y as (N, Dy). */
export function seqCopyCols(ctx: GpuContext, x: Tensor, y: Tensor, off: number, opts: { accumulate?: boolean } = {}): void {
  const op = 'seqCopyCols';
  const [N, W] = cols(x), [Ny, Dy] = cols(y);
  if (N !== Ny) throw new Error(`${op}: x (${x.name}) has ${N} rows, y (${y.name}) has ${Ny}`);
  if (!Number.isInteger(off) || off < 0 || off + W > Dy) throw new Error(`${op}: columns [${off}, ${off + W}) do not fit in y's ${Dy} columns`);
  checkTensor(op, 'x', x, x.shape);
  checkTensor(op, 'y', y, y.shape);
  run(ctx, 'seq_copy_cols', { x, y }, { D: W, n: N * W, off, Dx: W, Dy }, opts.accumulate);
}

/** y (+)= x[:, off:off+W], with x viewed as (N, Dx) and y as (N, W). */
export function seqTakeCols(ctx: GpuContext, x: Tensor, y: Tensor, off: number, opts: { accumulate?: boolean } = {}): void {
  const op = 'seqTakeCols';
  const [N, Dx] = cols(x), [Ny, W] = cols(y);
  if (N !== Ny) throw new Error(`${op}: x (${x.name}) has ${N} rows, y (${y.name}) has ${Ny}`);
  if (!Number.isInteger(off) || off < 0 || off + W > Dx) throw new Error(`${op}: columns [${off}, ${off + W}) do not fit in x's ${Dx} columns`);
  checkTensor(op, 'x', x, x.shape);
  checkTensor(op, 'y', y, y.shape);
  run(ctx, 'seq_take_cols', { x, y }, { D: W, n: N * W, off, Dx, Dy: W }, opts.accumulate);
}

/**
 * y[yOff + j] (+)= Σ_r x[r, off + j]·w[r, j] for j < W: with x viewed as (N, Dx) and w as (N, W),
 * the column sums of an elementwise product (e.g. the LSTM peepholes' gradient from dgates and c).
 */
export function seqColumnDot(ctx: GpuContext, x: Tensor, off: number, w: Tensor, y: Tensor, yOff: number, opts: { accumulate?: boolean } = {}): void {
  const op = 'seqColumnDot';
  const [N, Dx] = cols(x), [Nw, W] = cols(w);
  if (N !== Nw) throw new Error(`${op}: x (${x.name}) has ${N} rows, w (${w.name}) has ${Nw}`);
  if (!Number.isInteger(off) || off < 0 || off + W > Dx) throw new Error(`${op}: columns [${off}, ${off + W}) do not fit in x's ${Dx} columns`);
  if (!Number.isInteger(yOff) || yOff < 0 || yOff + W > y.size) throw new Error(`${op}: y (${y.name}) has ${y.size} elements, too few for ${W} at offset ${yOff}`);
  checkTensor(op, 'x', x, x.shape);
  checkTensor(op, 'w', w, w.shape);
  checkTensor(op, 'y', y, y.shape);
  if (y.buffer === x.buffer || y.buffer === w.buffer) throw new Error(`${op}: y (${y.name}) must not share a buffer with x or w`);
  run(ctx, 'seq_column_dot', { x, y, aux: w }, { B: N, D: W, n: W, off, Dx, Dy: yOff }, opts.accumulate);
}

/** y += alpha·x (same number of elements). */
export function seqAxpy(ctx: GpuContext, alpha: number, x: Tensor, y: Tensor): void {
  const op = 'seqAxpy';
  checkTensor(op, 'x', x, x.shape);
  if (x.size !== y.size) throw new Error(`${op}: x (${x.name}) has ${x.size} elements, y (${y.name}) has ${y.size}`);
  checkTensor(op, 'y', y, y.shape);
  run(ctx, 'seq_axpy', { x, y }, { n: x.size, alpha });
}
