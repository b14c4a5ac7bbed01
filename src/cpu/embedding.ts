// CPU reference for shaders/embedding.wgsl (float64), plus the host-side token helpers the GPU
// path needs: checkTokenIds (validation with a readable error) and buildTokenIndex (the counting
// sort that embedding_backward reads).
//   embeddingForward:  out[n, :] = weight[tokens[n], :]
//   oneHotForward:     out[n, v] = [tokens[n] == v]
//   embeddingBackward: dweight[v, :] (+)= Σ_{n : tokens[n] == v} dout[n, :]
// Out-of-range ids behave as on the GPU: a zero output row, no gradient.

const inVocab = (id: number, V: number): boolean => id >= 0 && id < V;

function multiIndex(i: number, shape?: readonly number[]): string {
  if (!shape || shape.length === 0) return `[${i}]`;
  const idx: number[] = [];
  let r = i;
  for (let k = shape.length - 1; k >= 0; k--) { idx.unshift(r % shape[k]); r = Math.floor(r / shape[k]); }
  return `[${idx.join(',')}]`;
}

/**
 * Throws `name: token id 130 at position [2,17] is outside the vocabulary [0, 101)` for the first
 * id outside [0, V). `shape` (e.g. [B, T]) turns the flat position into a multi-index.
 */
export function checkTokenIds(name: string, ids: Int32Array, V: number, shape?: readonly number[]): void {
  if (shape && shape.reduce((a, b) => a * b, 1) !== ids.length) {
    throw new Error(`${name}: ${ids.length} token ids do not fill shape (${shape.join(', ')})`);
  }
  for (let i = 0; i < ids.length; i++) {
    if (!inVocab(ids[i], V)) {
      throw new Error(`${name}: token id ${ids[i]} at position ${multiIndex(i, shape)} is outside the vocabulary [0, ${V})`);
    }
  }
}

export interface TokenIndex {
  /** (V + 1): the positions of id v are positions[offsets[v] .. offsets[v+1]). */
  offsets: Int32Array;
  /** (N): token positions grouped by id, increasing within each id. */
  positions: Int32Array;
}

/** Counting sort of the tokens by id (stable, so positions increase within each id). Refuses ids outside [0, V). */
export function buildTokenIndex(tokens: Int32Array, V: number, shape?: readonly number[]): TokenIndex {
  checkTokenIds('buildTokenIndex', tokens, V, shape);
  const offsets = new Int32Array(V + 1);
  for (let n = 0; n < tokens.length; n++) offsets[tokens[n] + 1]++;
  for (let v = 0; v < V; v++) offsets[v + 1] += offsets[v];
  const next = offsets.slice(0, V);
  const positions = new Int32Array(tokens.length);
  for (let n = 0; n < tokens.length; n++) positions[next[tokens[n]]++] = n;
  return { offsets, positions };
}

/** out (N, D) = weight (V, D) rows gathered by tokens (N); a zero row for an out-of-range id. */
export function embeddingForward(weight: ArrayLike<number>, tokens: ArrayLike<number>, V: number, D: number): Float64Array {
  if (weight.length !== V * D) throw new Error(`embeddingForward: weight has ${weight.length} values, expected V*D = ${V * D}`);
  const N = tokens.length;
  const out = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    const id = tokens[n];
    if (!inVocab(id, V)) continue;
    for (let d = 0; d < D; d++) out[n * D + d] = weight[id * D + d];
  }
  return out;
}

/** out (N, V): 1 at (n, tokens[n]), 0 elsewhere; an all-zero row for an out-of-range id. */
export function oneHotForward(tokens: ArrayLike<number>, V: number): Float64Array {
  const out = new Float64Array(tokens.length * V);
  for (let n = 0; n < tokens.length; n++) if (inVocab(tokens[n], V)) out[n * V + tokens[n]] = 1;
  return out;
}

/**
 * dweight (V, D) = Σ over positions n with tokens[n] == v of dout[n, :], added into `dweight`
 * when it is given (accumulate), else into a new zero array. Out-of-range ids contribute nothing.
 */
export function embeddingBackward(
  dout: ArrayLike<number>, tokens: ArrayLike<number>, V: number, D: number, dweight?: Float64Array,
): Float64Array {
  const N = tokens.length;
  if (dout.length !== N * D) throw new Error(`embeddingBackward: dout has ${dout.length} values, expected N*D = ${N * D}`);
  const dw = dweight ?? new Float64Array(V * D);
  if (dw.length !== V * D) throw new Error(`embeddingBackward: dweight has ${dw.length} values, expected V*D = ${V * D}`);
  for (let n = 0; n < N; n++) {
    const id = tokens[n];
    if (!inVocab(id, V)) continue;
    for (let d = 0; d < D; d++) dw[id * D + d] += dout[n * D + d];
  }
  return dw;
}
