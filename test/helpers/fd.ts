// Central finite differences in float64 for checking CPU backward passes.

/**
 * Numerical gradient of scalar f with respect to every element of x (x is perturbed in place and
 * restored). h = 1e-6 in float64 gives ~1e-8 accuracy for smooth functions of O(1) values.
 */
export function numericalGrad(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + h; const fp = f();
    x[i] = old - h; const fm = f();
    x[i] = old;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Sum of w[i] * y[i]: a scalar loss whose gradient w.r.t. y is w (a random projection). */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * y[i];
  return s;
}
