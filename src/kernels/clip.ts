// Global-norm gradient clipping (shaders/clip.wgsl), PyTorch clip_grad_norm_ semantics:
// total_norm = sqrt(Σ over all gradients of Σ g²), coef = min(1, maxNorm / (total_norm + 1e-6)).
// The coefficient lands in a 1-element `scale` buffer that adamUpdate / sgdUpdate read, so clipping
// fuses into the optimizer step; clipScale applies it in place for users without those kernels.
// A non-finite norm (or loss, with `guard`) makes the coefficient non-finite, and the update
// kernels then skip the step: the decision is made on the GPU, in the step's own submission.
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { Tensor, checkTensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;
/** Elements summed by one clip_sumsq workgroup into one partial (the WGSL `CHUNK` constant). */
export const CLIP_CHUNK = 2048;

/** Threads of the reducing kernels (clip_sumsq, clip_finalize*): 32 on CPU drivers (lavapipe,
 *  SwiftShader), where every barrier switches between all of a workgroup's SIMD groups, else WG. */
const reduceWorkgroup = (ctx: GpuContext): number => (ctx.adapterFacts.isCpu ? 32 : WG);

const b = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const grad = b('grad', 'storage', 0);
const partials = b('partials', 'storage', 1);
const norm = b('norm', 'storage', 2);
const scale = b('scale', 'storage', 3);
const params = b('params', 'uniform', 4);
const loss = b('loss', 'read-only-storage', 5);
const status = b('status', 'storage', 6);
const fields = [['N', 'u32'], ['offset', 'u32'], ['count', 'u32'], ['max_norm', 'f32'], ['unscale', 'f32']] as const;
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({ name, file: moduleFile('reduce.wgsl', 'clip.wgsl'), bindings, params: fields, overrides: { WG } });

export const CLIP_KERNELS: KernelSpec[] = [
  spec('clip_sumsq', [grad, partials, params]),
  spec('clip_finalize', [partials, norm, scale, params]),
  spec('clip_finalize_step', [partials, norm, scale, params, loss, status]),
  spec('clip_scale', [grad, scale, params]),
];
registerKernels(CLIP_KERNELS);

/** Number of partials (pairs) one gradient of `size` elements produces. */
const partialsOf = (size: number): number => Math.ceil(size / CLIP_CHUNK);

/**
 * Length (in f32 elements) the `partials` tensor of clipGradNorm needs for these gradients
 * (tensors or element counts): 2 per CLIP_CHUNK elements of each gradient, rounded up.
 */
export function clipPartialsLength(grads: readonly (Tensor | number)[]): number {
  let n = 0;
  for (const g of grads) n += partialsOf(typeof g === 'number' ? g : g.size);
  return 2 * n;
}

export interface ClipGradNormOptions {
  /** Scratch, f32 (L) with L ≥ clipPartialsLength(grads). Reusable across steps. */
  partials: Tensor;
  /** Output: total_norm, f32 (1) (of the true gradients, with `gradScale`). */
  norm: Tensor;
  /**
   * Output: coef = min(1, maxNorm / (total_norm + 1e-6)), f32 (1): pass it to adamUpdate. It is
   * non-finite when total_norm is (or, with `guard`, when the loss is), which makes adamUpdate and
   * sgdUpdate skip the step.
   */
  scale: Tensor;
  /** Also multiply every gradient by coef in place (one more dispatch per gradient). Default false. */
  applyInPlace?: boolean;
  /**
   * A training step's guard: `loss` f32 (1) is read, and `status` f32 (STEP_STATUS_LENGTH) gets
   * [skip (1 or 0), total_norm, loss, coef], skip being 1 when the norm or the loss is not finite.
   * Same dispatch count (the finalize kernel does it); read `status` back to learn what happened.
   */
  guard?: { loss: Tensor; status: Tensor };
  /**
   * Loss scaling: the gradients hold the true ones times this factor (the loss was scaled by it).
   * `norm` is then the true gradients' norm and `scale` (coef) includes 1/gradScale, so the update
   * kernels unscale without a pass of their own. A positive finite number whose reciprocal is a
   * normal f32 (powers of two keep it exact). Default 1.
   */
  gradScale?: number;
}

/** Length of the status a guarded clipGradNorm writes: [skip, total_norm, loss, coef]. */
export const STEP_STATUS_LENGTH = 4;

/**
 * Global-norm clipping over many gradient buffers: records one clip_sumsq per gradient, one
 * clip_finalize (writing `norm` and `scale`), and with applyInPlace one clip_scale per gradient.
 * `maxNorm` is a positive number; `Infinity` measures the norm without clipping (coef 1).
 * Nothing is read back. Deterministic; finite for any finite gradients whose norm fits in f32.
 */
export function clipGradNorm(ctx: GpuContext, grads: readonly Tensor[], maxNorm: number, opts: ClipGradNormOptions): void {
  const op = 'clipGradNorm';
  if (!Array.isArray(grads) || grads.length === 0) throw new Error(`${op}: grads must be a non-empty array of tensors`);
  grads.forEach((g, i) => checkTensor(op, `grads[${i}]`, g, g instanceof Tensor ? g.shape : []));
  if (!(typeof maxNorm === 'number' && maxNorm > 0)) {
    throw new Error(`${op}: maxNorm must be a positive number (Infinity: measure the norm without clipping), got ${String(maxNorm)}`);
  }
  if (!opts || typeof opts !== 'object') throw new Error(`${op}: options { partials, norm, scale } are required`);
  const need = clipPartialsLength(grads);
  checkTensor(op, 'partials', opts.partials, [-1]);
  if (opts.partials.size < need) {
    throw new Error(`${op}: partials (${opts.partials.name}) has shape (${opts.partials.size}), expected at least (${need}) ` +
      `for these ${grads.length} gradients (see clipPartialsLength)`);
  }
  checkTensor(op, 'norm', opts.norm, [1]);
  checkTensor(op, 'scale', opts.scale, [1]);
  const outs = new Map<GPUBuffer, string>([[opts.partials.buffer, 'partials']]);
  for (const [name, t] of [['norm', opts.norm], ['scale', opts.scale]] as const) {
    const other = outs.get(t.buffer);
    if (other) throw new Error(`${op}: ${name} and ${other} must be different tensors`);
    outs.set(t.buffer, name);
  }
  const guard = opts.guard;
  if (guard !== undefined) {
    if (!guard || typeof guard !== 'object') throw new Error(`${op}: guard must be { loss, status }`);
    checkTensor(op, 'guard.loss', guard.loss, [1]);
    checkTensor(op, 'guard.status', guard.status, [STEP_STATUS_LENGTH]);
    for (const [name, t] of [['guard.loss', guard.loss], ['guard.status', guard.status]] as const) {
      const other = outs.get(t.buffer);
      if (other) throw new Error(`${op}: ${name} and ${other} must be different tensors`);
      outs.set(t.buffer, name);
    }
  }
  grads.forEach((g, i) => {
    const other = outs.get(g.buffer);
    if (other) throw new Error(`${op}: grads[${i}] and ${other} must be different tensors`);
  });
  // The uniform is finite: 0 stands for "no clipping".
  const maxNormParam = Number.isFinite(maxNorm) ? maxNorm : 0;
  const gradScale = opts.gradScale ?? 1;
  if (!(typeof gradScale === 'number' && gradScale >= 2 ** -126 && gradScale <= 2 ** 126)) {
    throw new Error(`${op}: gradScale must be a number in [2^-126, 2^126] (its reciprocal a normal f32), got ${String(gradScale)}`);
  }
  const unscale = 1 / gradScale;

  let offset = 0;
  for (const g of grads) {
    ctx.dispatch('clip_sumsq', {
      bindings: { grad: g, partials: opts.partials },
      params: { N: g.size, offset, count: 0, max_norm: maxNormParam, unscale: 1 },
      overrides: { WG: reduceWorkgroup(ctx) },
      workgroups: grid1d(g.size, CLIP_CHUNK),
    });
    offset += partialsOf(g.size);
  }
  const finalParams = { N: 0, offset: 0, count: offset, max_norm: maxNormParam, unscale };
  if (guard) {
    ctx.dispatch('clip_finalize_step', {
      bindings: { partials: opts.partials, norm: opts.norm, scale: opts.scale, loss: guard.loss, status: guard.status },
      params: finalParams,
      overrides: { WG: reduceWorkgroup(ctx) },
      workgroups: [1],
    });
  } else {
    ctx.dispatch('clip_finalize', {
      bindings: { partials: opts.partials, norm: opts.norm, scale: opts.scale },
      params: finalParams,
      overrides: { WG: reduceWorkgroup(ctx) },
      workgroups: [1],
    });
  }
  if (opts.applyInPlace) for (const g of grads) clipScale(ctx, g, opts.scale);
}

/** g *= scale[0] in place (scale: f32 (1), e.g. from clipGradNorm; a non-finite scale leaves g as it is). One dispatch. */
export function clipScale(ctx: GpuContext, g: Tensor, scaleT: Tensor): void {
  const op = 'clipScale';
  checkTensor(op, 'grad', g, g instanceof Tensor ? g.shape : []);
  checkTensor(op, 'scale', scaleT, [1]);
  if (g.buffer === scaleT.buffer) throw new Error(`${op}: grad and scale must be different tensors`);
  ctx.dispatch('clip_scale', {
    bindings: { grad: g, scale: scaleT },
    params: { N: g.size, offset: 0, count: 0, max_norm: 1, unscale: 1 },
    workgroups: grid1d(g.size, WG),
  });
}
