// GEMM and column sums (shaders/matmul.wgsl): input projections for all timesteps, output
// projections, weight and bias gradients. Two GEMM variants sit behind one wrapper, `matmul`:
// 'tiled' (workgroup-memory tiling, for real GPUs) and 'register' (no workgroup memory, for
// lavapipe-like CPU drivers). A call that names no variant uses the context's matmulVariant
// setting (`ctx.configure({ matmulVariant })`).
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type KernelSpec } from '../runtime/registry.ts';
import { Tensor, checkTensor, shapeString } from '../runtime/tensor.ts';
import { ceilDiv } from './grid.ts';
import { checkHalf } from './half.ts';
import { checkHalfSupported } from './recurrent.ts';

export { MATMUL_VARIANTS, type MatmulVariant } from '../runtime/settings.ts';
import { MATMUL_VARIANTS, type MatmulVariant } from '../runtime/settings.ts';

/** Workgroup shapes (the WGSL defaults; kept here so dispatch sizes agree with them). */
const RWG_X = 16, RWG_Y = 1;  // register: block of 4·RWG_Y rows × 4·RWG_X columns
const TWG = 16;                // tiled: block of 4·TWG × 4·TWG
const CS_COLS = 64, CS_ROWS = 4;

// Bindings shared by all kernels of the file: the column sum uses the prefix (a, out, params).
const columnSumBindings = [
  { name: 'a', kind: 'read-only-storage' },
  { name: 'out', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const gemmBindings = [
  ...columnSumBindings,
  { name: 'b', kind: 'read-only-storage' },
  { name: 'bias', kind: 'read-only-storage' },
] as const;
const params = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['alpha', 'f32'], ['has_bias', 'u32'], ['accumulate', 'u32']] as const;
const modes = { TRANS_A: 0, TRANS_B: 0, VEC_A: 0, VEC_B: 0 };

// b's element type ST is f32 (precision/f32.wgsl), or f16 in the matmul_f16_* GEMMs (b: f16 storage
// from ./half.ts, e.g. a recurrent layer's W_ih at precision 'f16'; sums stay f32).
const f32Module = moduleFile('precision/f32.wgsl', 'matmul.wgsl');
const f16Module = moduleFile('precision/f16.wgsl', 'common.wgsl', 'matmul.wgsl');
const f16 = ['shader-f16'];
export const MATMUL_KERNELS: KernelSpec[] = [
  { name: 'matmul_tiled', file: f32Module, bindings: gemmBindings, params, overrides: { ...modes, TWG } },
  { name: 'matmul_register', file: f32Module, bindings: gemmBindings, params, overrides: { ...modes, RWG_X, RWG_Y } },
  { name: 'matmul_column_sum', file: f32Module, bindings: columnSumBindings, params, overrides: { CS_COLS, CS_ROWS } },
  { name: 'matmul_f16_tiled', entry: 'matmul_tiled', file: f16Module, bindings: gemmBindings, params, overrides: { ...modes, TWG }, features: f16 },
  { name: 'matmul_f16_register', entry: 'matmul_register', file: f16Module, bindings: gemmBindings, params, overrides: { ...modes, RWG_X, RWG_Y }, features: f16 },
];
registerKernels(MATMUL_KERNELS);

export interface MatmulOptions {
  /** Use Aᵀ: a is stored (K, M). */
  transA?: boolean;
  /** Use Bᵀ: b is stored (N, K) — e.g. a PyTorch weight (out_features, in_features). */
  transB?: boolean;
  /** (N) added to every row of the product. */
  bias?: Tensor;
  /** Add the result to out's current contents instead of overwriting them. */
  accumulate?: boolean;
  /** Scale of the product (not of bias or the accumulated value). Default 1. */
  alpha?: number;
  /** GEMM variant; default the context's `settings.matmulVariant`. */
  variant?: MatmulVariant;
  /** b is f16 storage (./half.ts: halfEmpty, halfPack) of a tensor of this shape, read by the
   *  matmul_f16_* kernels (sums in f32; needs 'shader-f16'). Absent: b is f32. */
  bHalfShape?: readonly number[];
}

/** A tensor of any rank as a matrix: [product of all dims but the last, last dim]. */
function asMatrix(t: Tensor): [number, number] {
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  return [t.size / cols, cols];
}

const tname = (t: Tensor): string => `(${t.name})`;

/** Checks that `t` is a live f32 tensor (shape checked by the caller). */
function checkF32(op: string, arg: string, t: Tensor | undefined): asserts t is Tensor {
  checkTensor(op, arg, t, t instanceof Tensor ? t.shape : [], 'f32');
}

/** a and b are bound as arrays of 4-vectors: their buffers must hold whole 4-vectors. */
function checkVec4Buffer(op: string, arg: string, t: Tensor): void {
  if (t.buffer.size % 16 !== 0) {
    throw new Error(`${op}: ${arg} ${tname(t)} lives in a buffer of ${t.buffer.size} bytes; matmul reads it as 4-vectors and needs a multiple of 16 bytes (pooled tensors always are)`);
  }
}

/** Row blocks go to y, folded into z when they exceed the per-dimension limit. */
function blockGrid(ctx: GpuContext, colBlocks: number, rowBlocks: number): [number, number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (rowBlocks <= max) return [colBlocks, rowBlocks, 1];
  const z = ceilDiv(rowBlocks, max);
  return [colBlocks, ceilDiv(rowBlocks, z), z];
}

/**
 * out = alpha·op(A)·op(B) (+ bias broadcast over rows) (+ out if accumulate).
 * Tensors of any rank are viewed as matrices [all dims but the last, last dim]; op(A) is (M, K)
 * (a stored (M, K), or (K, M) when transA) and op(B) is (K, N) (b stored (K, N), or (N, K) when
 * transB); out must hold M·N values with last dimension N; bias is (N). All f32, except b with
 * `bHalfShape` (f16 storage). out must not be the same buffer as a, b or bias.
 */
export function matmul(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, opts: MatmulOptions = {}): void {
  const op = 'matmul';
  checkF32(op, 'a', a);
  const bHalf = opts.bHalfShape;
  if (bHalf) checkHalf(op, 'b', b, bHalf);
  else checkF32(op, 'b', b);
  checkF32(op, 'out', out);
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  const [ar, ac] = asMatrix(a);
  const [br, bc] = bHalf ? [bHalf.reduce((x, y) => x * y, 1) / bHalf[bHalf.length - 1], bHalf[bHalf.length - 1]] : asMatrix(b);
  const M = transA ? ac : ar, K = transA ? ar : ac;
  const kB = transB ? bc : br, N = transB ? br : bc;
  const aDesc = `a ${tname(a)} viewed as ${shapeString([ar, ac])}${transA ? ' (transA)' : ''}`;
  if (kB !== K) {
    throw new Error(`${op}: b ${tname(b)} has shape ${shapeString(bHalf ?? b.shape)}, expected inner dimension ${K} ` +
      `(${transB ? 'b is (N, K) with transB' : 'b is (K, N)'}; ${aDesc} gives M=${M}, K=${K})`);
  }
  const outCols = out.shape.length === 0 ? 1 : out.shape[out.shape.length - 1];
  if (out.size !== M * N || outCols !== N) {
    throw new Error(`${op}: out ${tname(out)} has shape ${shapeString(out.shape)}, expected ${M * N} values with last dimension ${N}, ` +
      `e.g. ${shapeString([M, N])} (M=${M} from a, N=${N} from b)`);
  }
  if (opts.bias !== undefined) {
    checkTensor(op, 'bias', opts.bias, [N], 'f32');
    if (opts.bias.buffer === out.buffer) throw new Error(`${op}: out ${tname(out)} and bias ${tname(opts.bias)} share a buffer`);
  }
  if (out.buffer === a.buffer || out.buffer === b.buffer) {
    throw new Error(`${op}: out ${tname(out)} shares a buffer with ${out.buffer === a.buffer ? `a ${tname(a)}` : `b ${tname(b)}`}; it must be a separate tensor`);
  }
  checkVec4Buffer(op, 'a', a);
  checkVec4Buffer(op, 'b', b);
  const alpha = opts.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw new Error(`${op}: alpha is ${alpha}, expected a finite number`);
  const variant = opts.variant ?? ctx.settings.matmulVariant;
  if (!MATMUL_VARIANTS.includes(variant)) throw new Error(`${op}: unknown variant ${String(variant)}; expected one of ${MATMUL_VARIANTS.join(', ')}`);
  if (bHalf) checkHalfSupported(ctx, `${op}: b ${tname(b)} (f16 storage)`);
  const family = bHalf ? 'matmul_f16' : 'matmul';

  // 4-vector loads of a / b when their stored rows start 16-byte aligned (last dim % 4 == 0).
  // The register kernel uses them only when both are aligned: it gets both flags or neither, so
  // that it has one pipeline per transpose pair and alignment.
  const vecA = ac % 4 === 0, vecB = bc % 4 === 0;
  const both = variant === 'register' ? vecA && vecB : null;
  const overrides = {
    TRANS_A: transA ? 1 : 0,
    TRANS_B: transB ? 1 : 0,
    VEC_A: (both ?? vecA) ? 1 : 0,
    VEC_B: (both ?? vecB) ? 1 : 0,
  };
  const bindings = { a, b, out, bias: opts.bias ?? b };
  const p = { M, N, K, alpha, has_bias: opts.bias ? 1 : 0, accumulate: opts.accumulate ? 1 : 0 };
  if (variant === 'tiled') {
    const bm = 4 * TWG;
    ctx.dispatch(`${family}_tiled`, { bindings, params: p, overrides, workgroups: blockGrid(ctx, ceilDiv(N, bm), ceilDiv(M, bm)) });
  } else {
    ctx.dispatch(`${family}_register`, {
      bindings, params: p, overrides, workgroups: blockGrid(ctx, ceilDiv(N, 4 * RWG_X), ceilDiv(M, 4 * RWG_Y)),
    });
  }
}

/**
 * out (N) = Σ over the rows of a viewed as (M, N) (+ out if accumulate), N = a's last dimension:
 * bias gradients (db = Σ_rows dG). Deterministic (fixed summation order, no atomics).
 */
export function matmulColumnSum(ctx: GpuContext, a: Tensor, out: Tensor, opts: { accumulate?: boolean } = {}): void {
  const op = 'matmulColumnSum';
  checkF32(op, 'a', a);
  const [M, N] = asMatrix(a);
  checkTensor(op, 'out', out, [N], 'f32');
  if (out.buffer === a.buffer) throw new Error(`${op}: out ${tname(out)} shares a buffer with a ${tname(a)}`);
  checkVec4Buffer(op, 'a', a);
  const groups = ceilDiv(N, CS_COLS);
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const workgroups: [number, number] = groups <= max ? [groups, 1] : [ceilDiv(groups, ceilDiv(groups, max)), ceilDiv(groups, max)];
  ctx.dispatch('matmul_column_sum', {
    bindings: { a, out },
    params: { M, N, K: 1, alpha: 1, has_bias: 0, accumulate: opts.accumulate ? 1 : 0 },
    workgroups,
  });
}
