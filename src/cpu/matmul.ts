// CPU reference for shaders/matmul.wgsl, float64, written from the equations:
//   op(A) (M, K) = A (stored (M, K)) or Aᵀ (A stored (K, M), transA)
//   op(B) (K, N) = B (stored (K, N)) or Bᵀ (B stored (N, K), transB)
//   out[m, n] = alpha · Σ_k op(A)[m, k] · op(B)[k, n] + bias[n]
//   column sum: out[n] = Σ_m a[m, n]
// Backward of out = alpha·op(A)·op(B) + bias, given dOut (M, N):
//   d op(A) = alpha · dOut · op(B)ᵀ   (M, K)  → dA = d op(A), or its transpose (K, M) when transA
//   d op(B) = alpha · op(A)ᵀ · dOut   (K, N)  → dB = d op(B), or its transpose (N, K) when transB
//   dbias   = Σ_m dOut[m, :]          (N)
// (With accumulation, out_new = out_old + …, so d out_old = dOut unchanged.)

export interface MatmulCpuOptions {
  transA?: boolean;
  transB?: boolean;
  /** (N), added to every row. */
  bias?: ArrayLike<number>;
  /** Scale of the product. Default 1. */
  alpha?: number;
}

function checkLen(op: string, name: string, x: ArrayLike<number>, n: number): void {
  if (x.length !== n) throw new Error(`${op}: ${name} has ${x.length} values, expected ${n}`);
}

/** out (M, N) = alpha·op(A)·op(B) + bias, in float64. */
export function matmulForward(
  a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number, opts: MatmulCpuOptions = {},
): Float64Array {
  const op = 'matmulForward';
  checkLen(op, 'a', a, M * K);
  checkLen(op, 'b', b, K * N);
  if (opts.bias) checkLen(op, 'bias', opts.bias, N);
  const { transA = false, transB = false, bias } = opts;
  const alpha = opts.alpha ?? 1;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * M + m] : a[m * K + k];
        const bv = transB ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      out[m * N + n] = alpha * s + (bias ? bias[n] : 0);
    }
  }
  return out;
}

/** out (N) = Σ over the M rows of a (M, N), in float64. */
export function matmulColumnSumForward(a: ArrayLike<number>, M: number, N: number): Float64Array {
  checkLen('matmulColumnSumForward', 'a', a, M * N);
  const out = new Float64Array(N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[n] += a[m * N + n];
  return out;
}

export interface MatmulGrads {
  /** Same layout as a: (M, K), or (K, M) when transA. */
  dA: Float64Array;
  /** Same layout as b: (K, N), or (N, K) when transB. */
  dB: Float64Array;
  /** (N): the gradient of the bias (whether or not the forward used one). */
  dbias: Float64Array;
}

/** Gradients of out = alpha·op(A)·op(B) + bias with respect to a, b and bias, given dOut (M, N). */
export function matmulBackward(
  a: ArrayLike<number>, b: ArrayLike<number>, dOut: ArrayLike<number>, M: number, K: number, N: number,
  opts: Omit<MatmulCpuOptions, 'bias'> = {},
): MatmulGrads {
  const op = 'matmulBackward';
  checkLen(op, 'a', a, M * K);
  checkLen(op, 'b', b, K * N);
  checkLen(op, 'dOut', dOut, M * N);
  const { transA = false, transB = false } = opts;
  const alpha = opts.alpha ?? 1;
  const dA = new Float64Array(M * K);
  const dB = new Float64Array(K * N);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      // d op(A)[m, k] = alpha · Σ_n dOut[m, n] · op(B)[k, n]
      let s = 0;
      for (let n = 0; n < N; n++) s += dOut[m * N + n] * (transB ? b[n * K + k] : b[k * N + n]);
      dA[transA ? k * M + m : m * K + k] = alpha * s;
    }
  }
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      // d op(B)[k, n] = alpha · Σ_m op(A)[m, k] · dOut[m, n]
      let s = 0;
      for (let m = 0; m < M; m++) s += (transA ? a[k * M + m] : a[m * K + k]) * dOut[m * N + n];
      dB[transB ? n * K + k : k * N + n] = alpha * s;
    }
  }
  return { dA, dB, dbias: matmulColumnSumForward(dOut, M, N) };
}
