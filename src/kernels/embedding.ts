// Embedding kernels (shaders/embedding.wgsl): the lookup, one-hot encoding, and the gradient as a
// deterministic scatter-add, either through a host-built token index (embeddingBackward) or by
// scanning the tokens (embeddingBackwardScan).
//
// Token ids are not validated on the GPU (the wrappers cannot see GPU data): an id outside [0, V)
// gives a zero row (forward, one-hot) and no gradient (scan); nothing is read or written out of
// bounds. Validate ids on the host with checkTokenIds; buildTokenIndex refuses them.
import type { GpuContext } from '../runtime/context.ts';
import { registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { Tensor, checkDistinct, checkTensor, numel, shapeString } from '../runtime/tensor.ts';
import { buildTokenIndex } from '../cpu/embedding.ts';
import { grid1d } from './grid.ts';

export { buildTokenIndex, checkTokenIds, type TokenIndex } from '../cpu/embedding.ts';

const WG = 256;
const b = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const weight = b('weight', 'read-only-storage', 0);
const tokens = b('tokens', 'read-only-storage', 1);
const out = b('out', 'storage', 2);
const params = b('params', 'uniform', 3);
const dout = b('dout', 'read-only-storage', 4);
const offsets = b('offsets', 'read-only-storage', 5);
const positions = b('positions', 'read-only-storage', 6);
const dweight = b('dweight', 'storage', 7);
const bias = b('bias', 'read-only-storage', 8);
const fields = [['N', 'u32'], ['V', 'u32'], ['D', 'u32']] as const;

export const EMBEDDING_KERNELS: KernelSpec[] = [
  { name: 'embedding_forward', file: 'embedding.wgsl', params: fields, overrides: { WG }, bindings: [weight, tokens, out, params] },
  { name: 'embedding_one_hot', file: 'embedding.wgsl', params: fields, overrides: { WG }, bindings: [tokens, out, params] },
  {
    name: 'embedding_backward', file: 'embedding.wgsl', params: fields, overrides: { WG: 64, ACCUMULATE: 0 },
    bindings: [params, dout, offsets, positions, dweight],
  },
  {
    name: 'embedding_backward_scan', file: 'embedding.wgsl', params: fields, overrides: { WG, ACCUMULATE: 0 },
    bindings: [tokens, params, dout, dweight],
  },
  { name: 'embedding_project_one_hot', file: 'embedding.wgsl', params: fields, overrides: { WG, HALF_WEIGHT: 0 }, bindings: [weight, tokens, out, params, bias] },
  {
    name: 'embedding_project_one_hot_backward', file: 'embedding.wgsl', params: fields, overrides: { WG, ACCUMULATE: 0 },
    bindings: [params, dout, offsets, positions, dweight],
  },
];
registerKernels(EMBEDDING_KERNELS);

export interface EmbeddingBackwardOptions {
  /** Add into dweight instead of overwriting it (default false). */
  accumulate?: boolean;
}

const U32_MAX = 0xffffffff;

/** The tensor's own shape (checkTensor then checks only that it is a live tensor of the dtype). */
const anyShape = (t: Tensor | undefined): readonly number[] => (t instanceof Tensor ? t.shape : []);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A per-position tensor: shape (...tokens.shape, W) or (N, W), N = tokens.size. */
function checkRows(op: string, arg: string, t: Tensor, tokensShape: readonly number[], W: number): void {
  checkTensor(op, arg, t, anyShape(t), 'f32');
  const full = [...tokensShape, W], flat = [numel(tokensShape), W];
  if (!sameShape(t.shape, full) && !sameShape(t.shape, flat)) {
    const alt = sameShape(full, flat) ? '' : ` or ${shapeString(flat)}`;
    throw new Error(`${op}: ${arg} (${t.name}) has shape ${shapeString(t.shape)}, expected ${shapeString(full)}${alt}`);
  }
}

function checkSize(op: string, what: string, n: number): void {
  if (n > U32_MAX) throw new Error(`${op}: ${what} = ${n} exceeds 2^32 - 1 elements`);
}

/** Workgroup size of embedding_backward: threads over D, a power of two in [32, 256]. */
function backwardWg(D: number): number {
  let wg = 32;
  while (wg < D && wg < 256) wg *= 2;
  return wg;
}

/**
 * out = weight[tokens]: weight (V, D), tokens (any shape, i32), out (...tokens.shape, D) or (N, D).
 * Out-of-range ids give zero rows.
 */
export function embeddingForward(ctx: GpuContext, weight: Tensor, tokens: Tensor, out: Tensor): void {
  const op = 'embeddingForward';
  checkTensor(op, 'weight', weight, [-1, -1]);
  const [V, D] = weight.shape;
  checkTensor(op, 'tokens', tokens, anyShape(tokens), 'i32');
  checkRows(op, 'out', out, tokens.shape, D);
  checkDistinct(op, [['out', out], ['weight', weight]]);
  const N = tokens.size;
  checkSize(op, 'N*D', N * D);
  ctx.dispatch('embedding_forward', {
    bindings: { weight, tokens, out },
    params: { N, V, D },
    workgroups: grid1d(N * D, WG),
  });
}

/**
 * One-hot encoding, out (...tokens.shape, V) or (N, V): 1 at the token's id, 0 elsewhere (an
 * all-zero row for an id outside [0, V)). Equal to embeddingForward with weight = the V×V identity.
 */
export function oneHotForward(ctx: GpuContext, tokens: Tensor, out: Tensor): void {
  const op = 'oneHotForward';
  checkTensor(op, 'tokens', tokens, anyShape(tokens), 'i32');
  checkTensor(op, 'out', out, anyShape(out), 'f32');
  if (out.shape.length < 2) throw new Error(`${op}: out (${out.name}) has shape ${shapeString(out.shape)}, expected (..., V)`);
  const V = out.shape[out.shape.length - 1];
  checkRows(op, 'out', out, tokens.shape, V);
  const N = tokens.size;
  checkSize(op, 'N*V', N * V);
  ctx.dispatch('embedding_one_hot', {
    bindings: { tokens, out },
    params: { N, V, D: 0 },
    workgroups: grid1d(N * V, WG),
  });
}

/**
 * dweight (V, D) (+)= Σ_{n : tokens[n] == v} dout[n, :] through a token index from
 * buildTokenIndex / embeddingTokenIndex: offsets (V+1) i32, positions (N) i32. dout is (N, D) or
 * (B, T, D). One workgroup per vocabulary row; deterministic (each row sums its positions in order).
 */
export function embeddingBackward(
  ctx: GpuContext, dout: Tensor, offsets: Tensor, positions: Tensor, dweight: Tensor, opts: EmbeddingBackwardOptions = {},
): void {
  const op = 'embeddingBackward';
  checkTensor(op, 'dweight', dweight, [-1, -1]);
  const [V, D] = dweight.shape;
  checkTensor(op, 'dout', dout, anyShape(dout), 'f32');
  if (dout.shape.length < 2 || dout.shape[dout.shape.length - 1] !== D) {
    throw new Error(`${op}: dout (${dout.name}) has shape ${shapeString(dout.shape)}, expected (..., ${D}) to match dweight (${V}, ${D})`);
  }
  const N = dout.size / D;
  checkTensor(op, 'offsets', offsets, [V + 1], 'i32');
  checkTensor(op, 'positions', positions, [N], 'i32');
  checkDistinct(op, [['dweight', dweight], ['dout', dout]]);
  checkSize(op, 'V*D', V * D);
  ctx.dispatch('embedding_backward', {
    bindings: { dout, offsets, positions, dweight },
    params: { N, V, D },
    overrides: { WG: backwardWg(D), ACCUMULATE: opts.accumulate ? 1 : 0 },
    workgroups: grid1d(V, 1),
  });
}

/**
 * dweight (V, D) (+)= Σ_{n : tokens[n] == v} dout[n, :] without an index: one thread per (v, d)
 * scans all N tokens in order (O(V·N·D); for small V or tokens that live only on the GPU).
 * Out-of-range ids contribute nothing. Bit-identical to embeddingBackward (same summation order).
 */
export function embeddingBackwardScan(
  ctx: GpuContext, dout: Tensor, tokens: Tensor, dweight: Tensor, opts: EmbeddingBackwardOptions = {},
): void {
  const op = 'embeddingBackwardScan';
  checkTensor(op, 'dweight', dweight, [-1, -1]);
  const [V, D] = dweight.shape;
  checkTensor(op, 'tokens', tokens, anyShape(tokens), 'i32');
  checkRows(op, 'dout', dout, tokens.shape, D);
  checkDistinct(op, [['dweight', dweight], ['dout', dout]]);
  checkSize(op, 'V*D', V * D);
  ctx.dispatch('embedding_backward_scan', {
    bindings: { tokens, dout, dweight },
    params: { N: tokens.size, V, D },
    overrides: { ACCUMULATE: opts.accumulate ? 1 : 0 },
    workgroups: grid1d(V * D, WG),
  });
}

/**
 * Builds the token index on the host (counting sort; refuses ids outside [0, V) with the
 * checkTokenIds message) and uploads it: offsets (V+1) i32 and positions (N) i32. Allocates two
 * tensors, which the caller releases. `shape` (e.g. [B, T]) only improves the error message.
 */
export function embeddingTokenIndex(
  ctx: GpuContext, tokens: Int32Array, V: number, shape?: readonly number[],
): { offsets: Tensor; positions: Tensor } {
  if (!Number.isInteger(V) || V < 1) throw new Error(`embeddingTokenIndex: V must be a positive integer, got ${V}`);
  if (tokens.length === 0) throw new Error('embeddingTokenIndex: no tokens');
  const idx = buildTokenIndex(tokens, V, shape);
  return {
    offsets: ctx.tensor(idx.offsets, [V + 1], 'token offsets'),
    positions: ctx.tensor(idx.positions, [tokens.length], 'token positions'),
  };
}

export interface ProjectOneHotOptions {
  /**
   * 'f16': gather the weight rounded to f16 (as halfPack stores it), giving what a GEMM with an f16
   * copy of the weight gives (matmul's bHalfShape) without packing the whole (D, V) matrix; no
   * device feature needed. Default 'f32'.
   */
  weightPrecision?: 'f32' | 'f16';
}

/**
 * out (N, D) = one-hot(tokens) · weightᵀ + bias, i.e. out[n, :] = weight[:, tokens[n]] + bias, for
 * weight (D, V) (a recurrent layer's W_ih (G, V) when its input is one-hot). A gather instead of a
 * GEMM over a one-hot matrix. Out-of-range ids give the bias alone.
 */
export function embeddingProjectOneHot(ctx: GpuContext, weight: Tensor, bias: Tensor, tokens: Tensor, out: Tensor, opts: ProjectOneHotOptions = {}): void {
  const op = 'embeddingProjectOneHot';
  const precision = opts.weightPrecision ?? 'f32';
  if (precision !== 'f32' && precision !== 'f16') throw new Error(`${op}: weightPrecision must be 'f32' or 'f16', got ${JSON.stringify(precision)}`);
  checkTensor(op, 'weight', weight, [-1, -1]);
  const [D, V] = weight.shape;
  checkTensor(op, 'bias', bias, [D]);
  checkTensor(op, 'tokens', tokens, anyShape(tokens), 'i32');
  checkRows(op, 'out', out, tokens.shape, D);
  checkDistinct(op, [['out', out], ['weight', weight], ['bias', bias]]);
  checkSize(op, 'N*D', tokens.size * D);
  ctx.dispatch('embedding_project_one_hot', {
    bindings: { weight, tokens, out, bias }, params: { N: tokens.size, V, D }, workgroups: grid1d(tokens.size * D, WG),
    ...(precision === 'f16' ? { overrides: { HALF_WEIGHT: 1 } } : {}),
  });
}

/**
 * dweight (D, V) (+)= dout (N, D)ᵀ · one-hot(tokens): the weight gradient of
 * embeddingProjectOneHot, through the token index (offsets (V+1), positions (N)) of
 * buildTokenIndex. Deterministic: each (d, v) sums its positions in increasing order.
 */
export function embeddingProjectOneHotBackward(
  ctx: GpuContext, dout: Tensor, offsets: Tensor, positions: Tensor, dweight: Tensor, opts: EmbeddingBackwardOptions = {},
): void {
  const op = 'embeddingProjectOneHotBackward';
  checkTensor(op, 'dweight', dweight, [-1, -1]);
  const [D, V] = dweight.shape;
  checkTensor(op, 'dout', dout, anyShape(dout), 'f32');
  if (dout.shape.length < 2 || dout.shape[dout.shape.length - 1] !== D) {
    throw new Error(`${op}: dout (${dout.name}) has shape ${shapeString(dout.shape)}, expected (..., ${D}) to match dweight (${D}, ${V})`);
  }
  const N = dout.size / D;
  checkTensor(op, 'offsets', offsets, [V + 1], 'i32');
  checkTensor(op, 'positions', positions, [N], 'i32');
  checkDistinct(op, [['dweight', dweight], ['dout', dout]]);
  checkSize(op, 'V*D', V * D);
  ctx.dispatch('embedding_project_one_hot_backward', {
    bindings: { dout, offsets, positions, dweight }, params: { N, V, D },
    overrides: { ACCUMULATE: opts.accumulate ? 1 : 0 }, workgroups: grid1d(V, 1),   // one workgroup per id
  });
}
