// Scalar helpers shared by the CPU reference (float64).

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
export const tanh = Math.tanh;
export const relu = (x: number): number => (x > 0 ? x : 0);

/** Float64 copy of any numeric array. */
export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a as ArrayLike<number>);
