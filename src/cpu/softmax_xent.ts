// CPU reference for shaders/softmax_xent.wgsl, float64: softmax cross-entropy with integer targets
// and per-position weights, TF tf.contrib.seq2seq.sequence_loss semantics (the default
// average_across_timesteps = average_across_batch = True: a weighted mean over all positions).
//
//   CE_n = log Σ_j exp(x[n,j]) − x[n,t_n]        losses[n] = w_n·CE_n (0 when w_n = 0)
//   loss = Σ_n losses[n] / Σ_n w_n                 (0 when Σ w = 0)
//   dlogits[n,j] = (softmax(x[n,:])[j] − [j = t_n])·w_n·gradScale / Σ w
// A target outside [0, V) at a position with w_n ≠ 0 gives NaN for that position (as the kernel).

export interface SoftmaxXentResult {
  /** Per-position w_n·CE_n, length N. */
  losses: Float64Array;
  /** Σ losses / Σ w (0 when Σ w = 0). */
  loss: number;
  /** Σ w. */
  weightSum: number;
}

/** log Σ exp(x[row, :]) computed stably (max subtracted). */
function logSumExp(x: ArrayLike<number>, row: number, V: number, mul = 1): { max: number; lse: number } {
  let m = -Infinity;
  for (let j = 0; j < V; j++) m = Math.max(m, x[row * V + j] * mul);
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(x[row * V + j] * mul - m);
  return { max: m, lse: m + Math.log(s) };
}

const validTarget = (t: number, V: number): boolean => Number.isInteger(t) && t >= 0 && t < V;

/** Forward: per-position weighted losses, the weighted-mean loss and Σ w. logits is (N, V) row-major. */
export function softmaxXentForward(
  logits: ArrayLike<number>, targets: ArrayLike<number>, weights: ArrayLike<number>, N: number, V: number,
): SoftmaxXentResult {
  const losses = new Float64Array(N);
  let wsum = 0, total = 0;
  for (let n = 0; n < N; n++) {
    const w = weights[n];
    wsum += w;
    if (w === 0) continue;
    const t = targets[n];
    if (!validTarget(t, V)) { losses[n] = NaN; total = NaN; continue; }
    const { lse } = logSumExp(logits, n, V);
    losses[n] = w * (lse - logits[n * V + t]);
    total += losses[n];
  }
  return { losses, loss: wsum === 0 ? 0 : total / wsum, weightSum: wsum };
}

/** Backward: d loss / d logits, (N, V) row-major, times gradScale. */
export function softmaxXentBackward(
  logits: ArrayLike<number>, targets: ArrayLike<number>, weights: ArrayLike<number>, N: number, V: number, gradScale = 1,
): Float64Array {
  const d = new Float64Array(N * V);
  let wsum = 0;
  for (let n = 0; n < N; n++) wsum += weights[n];
  if (wsum === 0) return d;
  for (let n = 0; n < N; n++) {
    const w = weights[n];
    if (w === 0) continue;
    const t = targets[n];
    if (!validTarget(t, V)) { d.fill(NaN, n * V, (n + 1) * V); continue; }
    const { lse } = logSumExp(logits, n, V);
    const coef = (w * gradScale) / wsum;
    for (let j = 0; j < V; j++) {
      const p = Math.exp(logits[n * V + j] - lse);
      d[n * V + j] = (p - (j === t ? 1 : 0)) * coef;
    }
  }
  return d;
}

/** softmax(logits / temperature) over each row of (N, V). */
export function softmaxXentProbs(logits: ArrayLike<number>, N: number, V: number, temperature = 1): Float64Array {
  const out = new Float64Array(N * V);
  const mul = 1 / temperature;
  for (let n = 0; n < N; n++) {
    const { lse } = logSumExp(logits, n, V, mul);
    for (let j = 0; j < V; j++) out[n * V + j] = Math.exp(logits[n * V + j] * mul - lse);
  }
  return out;
}
