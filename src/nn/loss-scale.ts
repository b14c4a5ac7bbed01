// Loss scaling for training with small gradients (f16 storage): compile's `lossScale` option, like
// PyTorch's torch.cuda.amp.GradScaler and Keras' LossScaleOptimizer. A training step seeds the
// backward pass with the loss gradient times the scale S; the clip kernel divides the gradients'
// norm and its coefficient by S, so the optimizer sees the true gradients without a pass over them
// (shaders/clip.wgsl). The reported loss is never scaled. Dynamic scaling starts at 2^15, halves
// the scale when a step's gradients overflow (that step is skipped on the GPU, as any non-finite
// step), and doubles it after `growthInterval` steps in a row that were applied. The scale stays a
// power of two when it starts as one, so scaling and unscaling are exact in f32.

import { describeValue } from './options.ts';
import type { StepResult } from './step-guard.ts';

/** compile's `lossScale`: 'dynamic', a fixed scale, or dynamic scaling with its settings. */
export type LossScaleOption = 'dynamic' | number | DynamicLossScaleOptions;

export interface DynamicLossScaleOptions {
  /** The first step's scale, in [1, 2^126]. Default 2^15 (32768). */
  initialScale?: number;
  /** Applied steps in a row after which the scale doubles: a positive integer. Default 2000. */
  growthInterval?: number;
}

export const DEFAULT_INITIAL_LOSS_SCALE = 2 ** 15;
export const DEFAULT_GROWTH_INTERVAL = 2000;
/** The largest scale: its reciprocal, which the clip kernel multiplies by, is still a normal f32. */
export const MAX_LOSS_SCALE = 2 ** 126;
/** Dynamic scaling does not halve below 1: a scale under 1 cannot keep small gradients from underflowing. */
export const MIN_DYNAMIC_LOSS_SCALE = 1;

const EXAMPLE = "'dynamic', a number such as 1024, or { initialScale: 32768, growthInterval: 2000 }";

/** The loss scale of a compiled model and, when dynamic, its growth counter (training state). */
export class LossScaler {
  /** The scale the next step uses. */
  scale: number;
  /** Applied steps in a row since the scale last changed or a step was skipped (dynamic only). */
  goodSteps = 0;

  constructor(readonly dynamic: boolean, initialScale: number, readonly growthInterval: number) {
    this.scale = initialScale;
  }

  /** After a step: a dynamic scale halves when the gradients overflowed and grows after enough good steps. */
  afterStep(result: StepResult): void {
    if (!this.dynamic) return;
    if (result.skipped) {
      // Only an overflow of the gradients says the scale is too large; a non-finite loss with
      // finite gradients is the data's doing.
      if (!Number.isFinite(result.gradNorm)) this.scale = Math.max(MIN_DYNAMIC_LOSS_SCALE, this.scale / 2);
      this.goodSteps = 0;
      return;
    }
    if (++this.goodSteps >= this.growthInterval) {
      this.scale = Math.min(MAX_LOSS_SCALE, this.scale * 2);
      this.goodSteps = 0;
    }
  }
}

/** A scale value: a number in [1, 2^126]. */
function checkScale(owner: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 1 && v <= MAX_LOSS_SCALE)) {
    throw new Error(`${owner}: ${what} is ${describeValue(v)}; expected a number in [1, 2^126] (powers of two keep the gradients exact), e.g. 32768`);
  }
  return v;
}

/** compile's `lossScale` option, checked: a fresh scaler, or null without loss scaling. */
export function checkLossScaleOption(owner: string, v: unknown): LossScaler | null {
  if (v === undefined) return null;
  if (v === 'dynamic') return new LossScaler(true, DEFAULT_INITIAL_LOSS_SCALE, DEFAULT_GROWTH_INTERVAL);
  if (typeof v === 'number') return new LossScaler(false, checkScale(owner, 'option lossScale', v), DEFAULT_GROWTH_INTERVAL);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error(`${owner}: option lossScale is ${describeValue(v)}; expected ${EXAMPLE}, or omit it for no loss scaling`);
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'initialScale' && k !== 'growthInterval') {
      throw new Error(`${owner}: option lossScale has an unknown field ${JSON.stringify(k)}; expected { initialScale?, growthInterval? } (dynamic scaling)`);
    }
  }
  const initial = o.initialScale === undefined ? DEFAULT_INITIAL_LOSS_SCALE : checkScale(owner, 'option lossScale.initialScale', o.initialScale);
  const g = o.growthInterval;
  if (g !== undefined && !(typeof g === 'number' && Number.isSafeInteger(g) && g >= 1)) {
    throw new Error(`${owner}: option lossScale.growthInterval is ${describeValue(g)}; expected a positive integer (applied steps before the scale doubles), e.g. 2000`);
  }
  return new LossScaler(true, initial, (g as number | undefined) ?? DEFAULT_GROWTH_INTERVAL);
}
