// Beam search in float64, the reference for shaders/decode.wgsl: the same candidates, length
// normalisation and tie-breaking (larger normalised score first, then the smaller candidate index
// j·V + v), with the decoder as two callbacks. Also the backtrack that turns the per-step
// histories into hypotheses, shared with the GPU search (src/train/decode.ts).

/** A decoder stepped on the host: logits (B·K, V) for the tokens fed at step t. */
export interface CpuDecoder {
  step(tokens: Int32Array, t: number): ArrayLike<number>;
  /** Row n's next state is row parents[n]'s current state. */
  reorder(parents: Int32Array): void;
}

export interface CpuBeamOptions {
  B: number;
  K: number;
  V: number;
  start: number;
  eos: number;
  maxLength: number;
  lengthNormalization?: 'none' | 'average' | 'gnmt';
  alpha?: number;
}

/** One finished (or cut off at the maximum length) hypothesis. */
export interface Hypothesis {
  /** The tokens, without the end token. */
  tokens: number[];
  /** Sum of the tokens' log-probabilities (the end token's included). */
  score: number;
  /** `score` divided by the length penalty: what beams are ranked by. */
  normalizedScore: number;
  /** Tokens generated, the end token included. */
  length: number;
  /** Whether it ended with the end token (false: cut off at the maximum length). */
  finished: boolean;
}

/** The length penalty lp(len) that a score is divided by. */
export function lengthPenalty(kind: 'none' | 'average' | 'gnmt', alpha: number, len: number): number {
  return kind === 'average' ? len : kind === 'gnmt' ? ((5 + len) / 6) ** alpha : 1;
}

/**
 * Hypotheses of every row, best first, from the histories of `steps` steps (tokens and parent
 * beams, each (steps, B·K) row-major) and the final scores, lengths and finished flags.
 */
export function beamHypotheses(
  o: { B: number; K: number; eos: number; steps: number; lengthNormalization: 'none' | 'average' | 'gnmt'; alpha: number },
  tokenHistory: ArrayLike<number>, parentHistory: ArrayLike<number>,
  scores: ArrayLike<number>, lengths: ArrayLike<number>, finished: ArrayLike<number>,
): Hypothesis[][] {
  const { B, K, steps } = o;
  const out: Hypothesis[][] = [];
  for (let b = 0; b < B; b++) {
    const row: Hypothesis[] = [];
    for (let i = 0; i < K; i++) {
      const seq: number[] = [];
      let beam = i;
      for (let t = steps - 1; t >= 0; t--) {
        const h = t * B * K + b * K + beam;
        seq.push(tokenHistory[h]);
        beam = parentHistory[h];
      }
      seq.reverse();
      const n = b * K + i;
      const length = lengths[n];
      const done = finished[n] !== 0;
      const score = scores[n];
      row.push({
        tokens: seq.slice(0, done ? length - 1 : length), score, length, finished: done,
        normalizedScore: score / lengthPenalty(o.lengthNormalization, o.alpha, length),
      });
    }
    out.push(row);
  }
  return out;
}

/** Beam search of width K (K = 1: greedy) with the decoder on the host; rows stop at the end token. */
export function cpuBeamSearch(decoder: CpuDecoder, o: CpuBeamOptions): Hypothesis[][] {
  const { B, K, V, eos, maxLength } = o;
  const norm = o.lengthNormalization ?? 'gnmt', alpha = o.alpha ?? 0.6;
  const N = B * K;
  let scores = new Float64Array(N).map((_, n) => (n % K === 0 ? 0 : -Infinity));
  let lengths = new Int32Array(N), finished = new Uint8Array(N);
  const tokens = new Int32Array(N).fill(o.start);
  const tokHist: number[] = [], parHist: number[] = [];
  let steps = 0;
  for (let t = 0; t < maxLength; t++) {
    if (finished.every((f) => f === 1)) break;
    const logits = decoder.step(tokens, t);
    if (logits.length !== N * V) throw new Error(`cpuBeamSearch: step ${t} returned ${logits.length} logits, expected B·K·V = ${N * V}`);
    const next = { scores: new Float64Array(N), lengths: new Int32Array(N), finished: new Uint8Array(N) };
    const parents = new Int32Array(N);
    const stepTok = new Array<number>(N), stepPar = new Array<number>(N);
    for (let b = 0; b < B; b++) {
      const cands: { c: number; raw: number; norm: number; len: number; fin: boolean }[] = [];
      for (let j = 0; j < K; j++) {
        const n = b * K + j;
        if (finished[n]) {
          const norm1 = scores[n] === -Infinity ? -Infinity : scores[n] / lengthPenalty(norm, alpha, lengths[n]);
          cands.push({ c: j * V + eos, raw: scores[n], norm: norm1, len: lengths[n], fin: true });
          continue;
        }
        let m = -Infinity;
        for (let v = 0; v < V; v++) m = Math.max(m, logits[n * V + v]);
        let s = 0;
        for (let v = 0; v < V; v++) s += Math.exp(logits[n * V + v] - m);
        const lse = m + Math.log(s);
        for (let v = 0; v < V; v++) {
          let raw = scores[n] === -Infinity ? -Infinity : scores[n] + (logits[n * V + v] - lse);
          if (Number.isNaN(raw)) raw = -Infinity;
          const nm = raw === -Infinity ? -Infinity : raw / lengthPenalty(norm, alpha, t + 1);
          cands.push({ c: j * V + v, raw, norm: Number.isNaN(nm) ? -Infinity : nm, len: t + 1, fin: v === eos });
        }
      }
      // Larger normalised score first, ties (equal infinities included) to the smaller index.
      cands.sort((a, c) => (a.norm === c.norm ? a.c - c.c : c.norm > a.norm ? 1 : -1));
      for (let i = 0; i < K; i++) {
        const cd = cands[i];
        const j = Math.floor(cd.c / V), v = cd.c - j * V;
        const n = b * K + i;
        next.scores[n] = cd.raw;
        next.lengths[n] = cd.len;
        next.finished[n] = cd.fin ? 1 : 0;
        tokens[n] = v;
        parents[n] = b * K + j;
        stepTok[n] = v;
        stepPar[n] = j;
      }
    }
    tokHist.push(...stepTok);
    parHist.push(...stepPar);
    scores = next.scores;
    lengths = next.lengths;
    finished = next.finished;
    steps = t + 1;
    decoder.reorder(parents);
  }
  return beamHypotheses({ B, K, eos, steps, lengthNormalization: norm, alpha }, tokHist, parHist, scores, lengths, finished);
}
