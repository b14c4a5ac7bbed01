// CPU reference for shaders/clip.wgsl, float64: PyTorch torch.nn.utils.clip_grad_norm_ (norm 2).
//   total_norm = sqrt(Σ over all gradients of Σ g²)
//   coef       = min(1, maxNorm / (total_norm + 1e-6));  every gradient *= coef
// A non-finite total_norm gives coef = total_norm (non-finite: the optimizer skips the step), and
// maxNorm = Infinity measures without clipping (coef 1), as shaders/clip.wgsl does.

/** sqrt of the sum of squares over every gradient (float64; finite for values up to ~1e150). */
export function clipTotalNorm(grads: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** The clip coefficient for a total norm (non-finite when the norm is: a skipped step). */
export function clipCoef(totalNorm: number, maxNorm: number): number {
  if (!Number.isFinite(totalNorm)) return totalNorm;
  if (maxNorm === Infinity) return 1;
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/**
 * Clips in place; returns the total norm (before clipping) and the coefficient applied. A
 * non-finite norm leaves the gradients as they are (the step is skipped).
 */
export function clipGradNorm(grads: Float64Array[], maxNorm: number): { totalNorm: number; coef: number } {
  const totalNorm = clipTotalNorm(grads);
  const coef = clipCoef(totalNorm, maxNorm);
  if (Number.isFinite(coef)) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return { totalNorm, coef };
}

/** What a training step's guard decides: skip when the gradient norm or the loss is not finite. */
export function stepSkipped(totalNorm: number, loss: number): boolean {
  return !(Number.isFinite(totalNorm) && Number.isFinite(loss));
}
