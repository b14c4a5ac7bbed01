// CPU reference for shaders/clip.wgsl, float64: PyTorch torch.nn.utils.clip_grad_norm_ (norm 2).
//   total_norm = sqrt(Σ over all gradients of Σ g²)
//   coef       = min(1, maxNorm / (total_norm + 1e-6));  every gradient *= coef

/** sqrt of the sum of squares over every gradient (float64; finite for values up to ~1e150). */
export function clipTotalNorm(grads: readonly ArrayLike<number>[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** The clip coefficient for a total norm. */
export function clipCoef(totalNorm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (totalNorm + 1e-6));
}

/** Clips in place; returns the total norm (before clipping) and the coefficient applied. */
export function clipGradNorm(grads: Float64Array[], maxNorm: number): { totalNorm: number; coef: number } {
  const totalNorm = clipTotalNorm(grads);
  const coef = clipCoef(totalNorm, maxNorm);
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return { totalNorm, coef };
}
