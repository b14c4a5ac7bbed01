// CPU reference for the optimizer updates (shaders/adam.wgsl), float64, in place.
// A non-finite gradient scale skips the step: nothing is written (as the kernels do).

export interface AdamCpuOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** Gradient scale (clip coefficient); inf or NaN skips the step. */
  scale?: number;
}

export function adamUpdate(p: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array, o: AdamCpuOptions): void {
  const bc1 = 1 - Math.pow(o.beta1, o.step);
  const bc2 = 1 - Math.pow(o.beta2, o.step);
  const s = o.scale ?? 1;
  if (!Number.isFinite(s)) return;
  for (let i = 0; i < p.length; i++) {
    const g = grad[i] * s + o.weightDecay * p[i];
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    p[i] -= (o.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps);
  }
}

export function sgdUpdate(
  p: Float64Array, grad: ArrayLike<number>, m: Float64Array,
  o: { lr: number; momentum: number; weightDecay: number; /** inf or NaN skips the step */ scale?: number },
): void {
  const s = o.scale ?? 1;
  if (!Number.isFinite(s)) return;
  for (let i = 0; i < p.length; i++) {
    const g = grad[i] * s + o.weightDecay * p[i];
    let step = g;
    if (o.momentum > 0) { m[i] = o.momentum * m[i] + g; step = m[i]; }
    p[i] -= o.lr * step;
  }
}
