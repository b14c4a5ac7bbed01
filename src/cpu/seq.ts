// CPU reference for shaders/seq.wgsl (float64 / exact copies).

export function seqShiftPrev(hs: ArrayLike<number>, h0: ArrayLike<number>, B: number, T: number, H: number): Float64Array {
  const y = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) {
    y[(b * T + t) * H + j] = t === 0 ? h0[b * H + j] : hs[(b * T + t - 1) * H + j];
  }
  return y;
}

export function seqReverse(x: ArrayLike<number>, lengths: ArrayLike<number>, B: number, T: number, D: number): Float64Array {
  const y = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let j = 0; j < D; j++) {
    y[(b * T + t) * D + j] = x[(b * T + lengths[b] - 1 - t) * D + j];
  }
  return y;
}

export function seqGatherLast(x: ArrayLike<number>, lengths: ArrayLike<number>, B: number, T: number, D: number): Float64Array {
  const y = new Float64Array(B * D);
  for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) y[b * D + j] = x[(b * T + lengths[b] - 1) * D + j];
  return y;
}

export function seqScatterLast(x: ArrayLike<number>, lengths: ArrayLike<number>, B: number, T: number, D: number): Float64Array {
  const y = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) y[(b * T + lengths[b] - 1) * D + j] = x[b * D + j];
  return y;
}

/** The PCG hash of common.wgsl, bit for bit, so CPU and GPU draw the same dropout masks. */
/** Σ_r x[r, off + j]·w[r, j] for j < W, x (N, Dx), w (N, W) (seq_column_dot). */
export function seqColumnDot(x: ArrayLike<number>, off: number, Dx: number, w: ArrayLike<number>, W: number): Float64Array {
  const N = w.length / W, out = new Float64Array(W);
  for (let r = 0; r < N; r++) for (let j = 0; j < W; j++) out[j] += x[r * Dx + off + j] * w[r * W + j];
  return out;
}

export function hashU32(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** rand_uniform(seed, i) of common.wgsl. */
export function randUniform(seed: number, i: number): number {
  const h = hashU32((i ^ hashU32(seed)) >>> 0);
  return (h >>> 8) * (1 / 16777216);
}

/** Inverted dropout with the mask of shaders/seq.wgsl: salt (per layer) and stepSeed (per step). */
export function seqDropout(x: ArrayLike<number>, keep: number, salt: number, stepSeed: number): Float64Array {
  const seed = hashU32((salt ^ stepSeed) >>> 0);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = randUniform(seed, i) < keep ? x[i] / keep : 0;
  return y;
}

/** A 32-bit salt from a name (FNV-1a), for per-layer dropout streams independent of init seeds. */
export function saltOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h >>> 0;
}
