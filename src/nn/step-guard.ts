// The training-step machinery every model shares (Sequential and the graph Model): the optimizer
// and clipping options, the buffers of the GPU-side gradient-norm guard, recording the clipped,
// guarded update after a model's backward, and reading the 16-byte step status back. The GPU skips
// the update when the gradient norm or the loss is not finite, in the same submission. With loss
// scaling (./loss-scale.ts) the gradients arrive scaled and are unscaled in the clip coefficient.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Parameter } from './layer.ts';
import type { Optimizer } from '../train/optimizers.ts';
import { describeValue } from './options.ts';
import type { LossScaler } from './loss-scale.ts';
import { clipGradNorm, clipPartialsLength, STEP_STATUS_LENGTH } from '../kernels/clip.ts';

/** The buffers of a step's gradient-norm guard (and clipping). */
export interface GuardBuffers {
  partials: Tensor;
  norm: Tensor;
  scale: Tensor;
  /** [skip, grad norm, loss, coef], read back after every step. */
  status: Tensor;
}

/** What one training step did. */
export interface StepResult {
  /**
   * True when the GPU skipped the update because the gradient norm or the loss was not finite
   * (inf/NaN): the weights, optimizer state, `model.step`, `optimizer.step` and the dropout RNG are
   * as they were before the step, and stateful layers carry the states they had.
   */
  skipped: boolean;
  /** The global gradient norm before clipping (inf or NaN on a skipped step); unscaled with loss scaling. */
  gradNorm: number;
  /** The batch loss, with `readLoss` (and always on a skipped step, to say what went wrong); never scaled. */
  loss?: number;
  /**
   * The loss scale this step used, when the model was compiled with `lossScale`. With dynamic
   * scaling a skipped step whose gradients overflowed (gradNorm not finite) halves the scale for
   * the next step: such skips are part of normal training.
   */
  lossScale?: number;
}

/** compile's `optimizer` option, checked. */
export function checkOptimizerOption(owner: string, opt: unknown): Optimizer {
  if (typeof opt !== 'object' || opt === null || typeof (opt as Optimizer).attach !== 'function' || typeof (opt as Optimizer).record !== 'function') {
    throw new Error(`${owner}: option optimizer must be an optimizer such as new Adam({ lr: 0.001 }) or new SGD({ lr: 0.1 }), got ${describeValue(opt)}`);
  }
  return opt as Optimizer;
}

/** compile's `clipNorm` option, checked: a positive finite number or undefined. */
export function checkClipNormOption(owner: string, clipNorm: unknown): number | undefined {
  if (clipNorm !== undefined && !(typeof clipNorm === 'number' && clipNorm > 0 && Number.isFinite(clipNorm))) {
    throw new Error(`${owner}: option clipNorm is ${describeValue(clipNorm)}; expected a positive finite number, or omit it for no clipping`);
  }
  return clipNorm as number | undefined;
}

/** The guard's buffers for these gradients (null when there are none). */
export function makeGuardBuffers(ctx: GpuContext, grads: Tensor[]): GuardBuffers | null {
  if (grads.length === 0) return null;
  return {
    partials: ctx.empty([clipPartialsLength(grads)], 'f32', 'clip.partials'),
    norm: ctx.zeros([1], 'f32', 'clip.norm'),
    scale: ctx.zeros([1], 'f32', 'clip.scale'),
    status: ctx.zeros([STEP_STATUS_LENGTH], 'f32', 'step.status'),
  };
}

export function releaseGuardBuffers(g: GuardBuffers | null): void {
  if (g) for (const t of Object.values(g)) t.release();
}

/**
 * The checks of a training step that do not depend on the batch: compiled, has parameters, the
 * optimizer still attached to these parameters. Returns the guard's buffers.
 */
export function checkStepReady(owner: string, optimizer: Optimizer | null, hasLoss: boolean, guard: GuardBuffers | null, params: Parameter[]): { optimizer: Optimizer; guard: GuardBuffers } {
  if (!optimizer || !hasLoss) throw new Error(`${owner}: the model is not compiled; call model.compile({ loss, optimizer }) first`);
  optimizer.checkAttached();
  if (!guard) throw new Error(`${owner}: the model has no trainable parameters`);
  if (!optimizer.attachedTo(params)) {
    throw new Error(`${owner}: the optimizer was attached to another model's parameters since this model was compiled; compile this model again (each model needs its own optimizer)`);
  }
  return { optimizer, guard };
}

/**
 * Records, after a backward, the global gradient norm (clipping to `clipNorm` when given), the
 * non-finite guard on the norm and `loss`, and the optimizer's update (skipped on the GPU when the
 * guard trips). `gradScale` is the loss scale the gradients carry (1: none); the clip coefficient
 * divides it out. `optimizer.prepareStep` must have been called before the step's recording.
 */
export function recordGuardedUpdate(
  ctx: GpuContext, optimizer: Optimizer, grads: Tensor[], clipNorm: number | undefined, guard: GuardBuffers, loss: Tensor, gradScale = 1,
): void {
  clipGradNorm(ctx, grads, clipNorm ?? Infinity, {
    partials: guard.partials, norm: guard.norm, scale: guard.scale,
    guard: { loss, status: guard.status }, gradScale,
  });
  optimizer.record(guard.scale);
}

/**
 * Submits and reads the step status: whether the update was skipped, the norm and the loss. With
 * the model's loss scaler, the result names the scale the step used and the scaler then moves on.
 */
export async function readStepStatus(ctx: GpuContext, guard: GuardBuffers, readLoss: boolean, scaler: LossScaler | null = null): Promise<StepResult> {
  const status = await ctx.read(guard.status);
  const skipped = status[0] !== 0;
  const result: StepResult = { skipped, gradNorm: status[1] };
  if (readLoss || skipped) result.loss = status[2];
  if (scaler) {
    result.lossScale = scaler.scale;
    scaler.afterStep(result);
  }
  return result;
}
