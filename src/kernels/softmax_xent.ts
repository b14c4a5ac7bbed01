// Fused softmax + cross-entropy (shaders/softmax_xent.wgsl): TF sequence_loss semantics (weighted
// mean over positions, integer targets), its gradient, and a plain softmax for inference/sampling.
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, type DType, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
const b = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const logits = b('logits', 'read-only-storage', 0);
const targets = b('targets', 'read-only-storage', 1);
const weights = b('weights', 'read-only-storage', 2);
const params = b('params', 'uniform', 3);
const wsum = b('wsum', 'storage', 4);
const losses = b('losses', 'storage', 5);
const loss = b('loss', 'storage', 6);
const dlogits = b('dlogits', 'storage', 7);
const probs = b('probs', 'storage', 8);
const fields = [['N', 'u32'], ['V', 'u32'], ['grad_scale', 'f32'], ['inv_temp', 'f32']] as const;
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({
  name, file: moduleFile('reduce.wgsl', 'softmax_xent.wgsl'), bindings, params: fields, overrides: { WG },
});

export const SOFTMAX_XENT_KERNELS: KernelSpec[] = [
  spec('softmax_xent_wsum', [weights, params, wsum]),
  spec('softmax_xent_forward', [logits, targets, weights, params, losses]),
  spec('softmax_xent_forward_backward', [logits, targets, weights, params, wsum, losses, dlogits]),
  spec('softmax_xent_reduce', [params, wsum, losses, loss]),
  spec('softmax_xent_probs', [logits, params, probs]),
];
registerKernels(SOFTMAX_XENT_KERNELS);

export interface SoftmaxCrossEntropyArgs {
  /** (N, V) or (B, T, V) logits, f32. */
  logits: Tensor;
  /** Target ids, i32, shape = logits' leading dims (e.g. (B, T)) or flat (N). */
  targets: Tensor;
  /** Per-position weights, f32, same shape as targets (0 on padding). */
  weights: Tensor;
  /** Output: per-position weighted losses w_n·CE_n, f32, same shape as targets. */
  losses: Tensor;
  /** Output: the scalar loss Σ w_n·CE_n / Σ w_n (0 when Σw = 0), f32 (1). */
  loss: Tensor;
  /** Output (optional): (softmax − onehot(target))·w_n·gradScale/Σw, same shape as logits. */
  dlogits?: Tensor;
  /** Output (optional): Σ w_n, f32 (1). When absent a pooled scratch tensor is used (and released). */
  weightSum?: Tensor;
}

export interface SoftmaxCrossEntropyOptions {
  /** Multiplies dlogits (not the loss), e.g. 1/chunks when a batch is split. Default 1. */
  gradScale?: number;
}

/**
 * Threads per row: enough for about 4 columns each, a power of two in [32, 256]. Small
 * vocabularies then waste fewer idle threads; the reduction order is fixed for a given V (and
 * adapter kind). On CPU drivers (lavapipe, SwiftShader) 8: each barrier of the row's reduction
 * switches between every SIMD group of the workgroup there, and a core walks a row's columns fast.
 */
export function softmaxRowWorkgroup(V: number, cpuDriver = false): number {
  if (cpuDriver) return 8;
  let wg = 32;
  while (wg < 256 && wg * 4 < V) wg *= 2;
  return wg;
}

function rowsOf(op: string, lg: Tensor): { N: number; V: number; lead: number[] } {
  checkTensor(op, 'logits', lg, lg.shape.length === 3 ? [-1, -1, -1] : [-1, -1]);
  const V = lg.shape[lg.shape.length - 1];
  const lead = lg.shape.slice(0, -1);
  return { N: lead.reduce((a, c) => a * c, 1), V, lead };
}

/** Checks a per-position tensor: shape = logits' leading dims, or flat (N). */
function checkRows(op: string, arg: string, t: Tensor | undefined, lead: number[], N: number, dtype: DType): void {
  const flat = t !== undefined && typeof t === 'object' && 'shape' in t && t.shape.length === 1 && lead.length > 1;
  checkTensor(op, arg, t, flat ? [N] : lead, dtype);
}

/**
 * Softmax cross-entropy over rows of `logits` with integer targets and per-position weights,
 * TF `sequence_loss` (average over all weighted positions): writes `losses` (w_n·CE_n), `loss`
 * (Σ losses / Σ w, 0 if Σw = 0) and, when given, `dlogits`. Records 3 dispatches
 * (weight sum, rows, reduction); nothing is read back. A target outside [0, V) at a position with
 * nonzero weight makes that position's loss and dlogits row NaN (see `checkTargets`).
 */
export function softmaxCrossEntropy(ctx: GpuContext, args: SoftmaxCrossEntropyArgs, opts: SoftmaxCrossEntropyOptions = {}): void {
  const op = 'softmaxCrossEntropy';
  if (!args || typeof args !== 'object') throw new Error(`${op}: expected an object { logits, targets, weights, losses, loss, dlogits? }`);
  const { N, V, lead } = rowsOf(op, args.logits);
  checkRows(op, 'targets', args.targets, lead, N, 'i32');
  checkRows(op, 'weights', args.weights, lead, N, 'f32');
  checkRows(op, 'losses', args.losses, lead, N, 'f32');
  checkTensor(op, 'loss', args.loss, [1]);
  if (args.dlogits !== undefined) checkTensor(op, 'dlogits', args.dlogits, args.logits.shape);
  if (args.weightSum !== undefined) checkTensor(op, 'weightSum', args.weightSum, [1]);
  const gradScale = opts.gradScale ?? 1;
  if (!Number.isFinite(gradScale)) throw new Error(`${op}: gradScale must be a finite number, got ${gradScale}`);
  checkDistinct(op, [['logits', args.logits], ['targets', args.targets], ['weights', args.weights], ['losses', args.losses],
    ['loss', args.loss], ['dlogits', args.dlogits], ['weightSum', args.weightSum]]);

  const p = { N, V, grad_scale: gradScale, inv_temp: 1 };
  const W = args.weightSum ?? ctx.empty([1], 'f32', 'softmaxCrossEntropy.weightSum');
  try {
    ctx.dispatch('softmax_xent_wsum', { bindings: { weights: args.weights, wsum: W }, params: p, workgroups: [1] });
    if (args.dlogits) {
      ctx.dispatch('softmax_xent_forward_backward', {
        bindings: { logits: args.logits, targets: args.targets, weights: args.weights, wsum: W, losses: args.losses, dlogits: args.dlogits },
        params: p, overrides: { WG: softmaxRowWorkgroup(V, ctx.adapterFacts.isCpu) }, workgroups: grid1d(N, 1),
      });
    } else {
      ctx.dispatch('softmax_xent_forward', {
        bindings: { logits: args.logits, targets: args.targets, weights: args.weights, losses: args.losses },
        params: p, overrides: { WG: softmaxRowWorkgroup(V, ctx.adapterFacts.isCpu) }, workgroups: grid1d(N, 1),
      });
    }
    ctx.dispatch('softmax_xent_reduce', { bindings: { wsum: W, losses: args.losses, loss: args.loss }, params: p, workgroups: [1] });
  } finally {
    // Recorded work keeps its order, so the scratch may serve later work in the same submission.
    if (!args.weightSum) W.release();
  }
}

/** probs = softmax(logits / temperature) over the last dim; logits (N, V) or (B, T, V). One dispatch. */
export function softmaxProbs(ctx: GpuContext, logitsT: Tensor, probsT: Tensor, opts: { temperature?: number } = {}): void {
  const op = 'softmaxProbs';
  const { N, V } = rowsOf(op, logitsT);
  checkTensor(op, 'probs', probsT, logitsT.shape);
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`${op}: temperature must be a positive finite number, got ${temperature}`);
  checkDistinct(op, [['logits', logitsT], ['probs', probsT]]);
  ctx.dispatch('softmax_xent_probs', {
    bindings: { logits: logitsT, probs: probsT },
    params: { N, V, grad_scale: 1, inv_temp: 1 / temperature }, overrides: { WG: softmaxRowWorkgroup(V, ctx.adapterFacts.isCpu) }, workgroups: grid1d(N, 1),
  });
}

/**
 * Index of the first position whose target lies outside [0, V) while its weight (if weights are
 * given) is nonzero, or -1. Host-side: run it on the data before uploading.
 */
export function findBadTarget(targetsData: ArrayLike<number>, V: number, weightsData?: ArrayLike<number>): number {
  for (let i = 0; i < targetsData.length; i++) {
    if (weightsData && weightsData[i] === 0) continue;
    const t = targetsData[i];
    if (!Number.isInteger(t) || t < 0 || t >= V) return i;
  }
  return -1;
}

/**
 * Throws if a target with nonzero weight lies outside [0, V) (the GPU kernel would give a NaN loss
 * for it). Positions with weight 0 may hold any id (padding).
 */
export function checkTargets(targetsData: ArrayLike<number>, V: number, weightsData?: ArrayLike<number>): void {
  if (weightsData && weightsData.length !== targetsData.length) {
    throw new Error(`checkTargets: ${weightsData.length} weights for ${targetsData.length} targets`);
  }
  const i = findBadTarget(targetsData, V, weightsData);
  if (i >= 0) throw new Error(`checkTargets: targets[${i}] = ${targetsData[i]} is outside [0, ${V}) (vocabulary size V = ${V})`);
}
