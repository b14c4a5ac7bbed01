// Beam-search kernels (shaders/decode.wgsl): the start state, one search step over a decoder's
// logits (log-softmax, top-K over K·V candidates, backpointers, finished beams) and a row gather
// for reordering decoder states. Nothing is read back.
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, registerKernels, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkDistinct, checkTensor, type Tensor } from '../runtime/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 64;
/** The largest beam width the step kernel holds in workgroup memory. */
export const MAX_BEAM_WIDTH = 32;

const b = (name: string, kind: BindingSpec['kind'], index: number): BindingSpec => ({ name, kind, index });
const fields = [['B', 'u32'], ['K', 'u32'], ['V', 'u32'], ['t', 'u32'], ['eos', 'u32'], ['start', 'u32'], ['norm', 'u32'], ['alpha', 'f32']] as const;
const params = b('params', 'uniform', 1);
const state = [b('scores', 'storage', 2), b('lengths', 'storage', 3), b('finished', 'storage', 4), b('tokens', 'storage', 5)];
const spec = (name: string, bindings: BindingSpec[]): KernelSpec => ({ name, file: moduleFile('reduce.wgsl', 'decode.wgsl'), bindings, params: fields, overrides: { WG } });
export const DECODE_KERNELS: KernelSpec[] = [
  spec('decode_beam_init', [params, ...state]),
  spec('decode_beam_step', [b('logits', 'read-only-storage', 0), params, ...state, b('parents', 'storage', 6),
    b('tok_hist', 'storage', 7), b('par_hist', 'storage', 8)]),
  spec('decode_gather_rows', [params, b('src', 'read-only-storage', 9), b('index', 'read-only-storage', 10), b('dst', 'storage', 11)]),
];
registerKernels(DECODE_KERNELS);

/** How a hypothesis' log-probability is divided by its length before beams are compared. */
export type LengthNormalization = 'none' | 'average' | 'gnmt';
const NORM_CODES: Record<LengthNormalization, number> = { none: 0, average: 1, gnmt: 2 };

/** The search state of B rows of K beams, all on the GPU. */
export interface BeamState {
  /** (B·K) f32 cumulative log-probabilities (a large negative sentinel for unused beams). */
  scores: Tensor;
  /** (B·K) u32 tokens generated, the end token included. */
  lengths: Tensor;
  /** (B·K) u32 1 once the beam produced the end token. */
  finished: Tensor;
  /** (B·K) i32 the token each beam feeds to the decoder next. */
  tokens: Tensor;
  /** (B·K) i32 the row each beam of the last step continues. */
  parents: Tensor;
  /** (L, B·K) i32 tokens chosen at each step. */
  tokenHistory: Tensor;
  /** (L, B·K) i32 parent beam (0..K-1) of each step's beams. */
  parentHistory: Tensor;
}

export interface BeamDims { B: number; K: number }

function checkState(op: string, s: BeamState, d: BeamDims): number {
  if (!s || typeof s !== 'object') throw new Error(`${op}: expected a BeamState object { scores, lengths, finished, tokens, parents, tokenHistory, parentHistory }`);
  if (!Number.isInteger(d.B) || d.B < 1) throw new Error(`${op}: B must be a positive integer, got ${String(d.B)}`);
  if (!Number.isInteger(d.K) || d.K < 1 || d.K > MAX_BEAM_WIDTH) throw new Error(`${op}: the beam width K must be an integer in [1, ${MAX_BEAM_WIDTH}], got ${String(d.K)}`);
  const N = d.B * d.K;
  checkTensor(op, 'scores', s.scores, [N], 'f32');
  checkTensor(op, 'lengths', s.lengths, [N], 'u32');
  checkTensor(op, 'finished', s.finished, [N], 'u32');
  checkTensor(op, 'tokens', s.tokens, [N], 'i32');
  checkTensor(op, 'parents', s.parents, [N], 'i32');
  checkTensor(op, 'tokenHistory', s.tokenHistory, [-1, N], 'i32');
  checkTensor(op, 'parentHistory', s.parentHistory, s.tokenHistory.shape, 'i32');
  checkDistinct(op, [['scores', s.scores], ['lengths', s.lengths], ['finished', s.finished], ['tokens', s.tokens], ['parents', s.parents],
    ['tokenHistory', s.tokenHistory], ['parentHistory', s.parentHistory]]);
  return s.tokenHistory.shape[0];
}

function checkToken(op: string, name: string, v: number, V?: number): void {
  if (!Number.isInteger(v) || v < 0 || (V !== undefined && v >= V)) {
    throw new Error(`${op}: ${name} must be a token id in [0, ${V ?? '2^31'}), got ${String(v)}`);
  }
}

/** Records the start of a search: beam 0 of each row at score 0, the others unused, tokens = start. */
export function decodeBeamInit(ctx: GpuContext, s: BeamState, d: BeamDims, start: number): void {
  const op = 'decodeBeamInit';
  checkState(op, s, d);
  checkToken(op, 'start', start);
  const N = d.B * d.K;
  ctx.dispatch('decode_beam_init', {
    bindings: { scores: s.scores, lengths: s.lengths, finished: s.finished, tokens: s.tokens },
    params: { B: d.B, K: d.K, V: 1, t: 0, eos: 0, start, norm: 0, alpha: 0 },
    workgroups: grid1d(N, WG),
  });
}

export interface BeamStepOptions {
  /** The end token: a beam that produces it is finished and carries its score unchanged. */
  eos: number;
  /** Default 'gnmt'. */
  lengthNormalization?: LengthNormalization;
  /** GNMT's α in ((5 + len) / 6)^α. Default 0.6. */
  alpha?: number;
}

/**
 * Records search step t (0 <= t < L): reads `logits` (B·K, V) of the decoder's step t and updates
 * the beams in place, writing the next tokens, the parents and row t of both histories. One
 * dispatch, one workgroup per batch row.
 */
export function decodeBeamStep(ctx: GpuContext, logits: Tensor, s: BeamState, d: BeamDims, t: number, opts: BeamStepOptions): void {
  const op = 'decodeBeamStep';
  const L = checkState(op, s, d);
  checkTensor(op, 'logits', logits, [d.B * d.K, -1], 'f32');
  const V = logits.shape[1];
  if (!Number.isInteger(t) || t < 0 || t >= L) throw new Error(`${op}: step t must be an integer in [0, ${L}) (the histories hold ${L} steps), got ${String(t)}`);
  checkToken(op, 'eos', opts.eos, V);
  const norm = opts.lengthNormalization ?? 'gnmt';
  if (!(norm in NORM_CODES)) throw new Error(`${op}: lengthNormalization must be 'none', 'average' or 'gnmt', got ${JSON.stringify(norm)}`);
  const alpha = opts.alpha ?? 0.6;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0) throw new Error(`${op}: alpha must be a finite number >= 0, got ${String(alpha)}`);
  ctx.dispatch('decode_beam_step', {
    bindings: { logits, scores: s.scores, lengths: s.lengths, finished: s.finished, tokens: s.tokens, parents: s.parents,
      tok_hist: s.tokenHistory, par_hist: s.parentHistory },
    params: { B: d.B, K: d.K, V, t, eos: opts.eos, start: 0, norm: NORM_CODES[norm], alpha },
    workgroups: grid1d(d.B, 1),
  });
}

/**
 * Records dst[g, n, :] = src[g, index[n], :]: src (S, D) or (G, S, D), index (N) i32, dst (N, D) or
 * (G, N, D), f32; an index outside [0, S) gives a zero row. Reorders a decoder's states by the
 * beams' parents (S = N), or copies each batch row's state to its K beams (S = B, index n → n / K).
 */
export function gatherRows(ctx: GpuContext, src: Tensor, index: Tensor, dst: Tensor): void {
  const op = 'gatherRows';
  checkTensor(op, 'src', src, src?.shape?.length === 3 ? [-1, -1, -1] : [-1, -1], 'f32');
  const rank = src.shape.length;
  const G = rank === 3 ? src.shape[0] : 1, S = src.shape[rank - 2], D = src.shape[rank - 1];
  checkTensor(op, 'index', index, [-1], 'i32');
  const N = index.shape[0];
  checkTensor(op, 'dst', dst, rank === 3 ? [G, N, D] : [N, D], 'f32');
  checkDistinct(op, [['src', src], ['index', index], ['dst', dst]]);
  ctx.dispatch('decode_gather_rows', {
    bindings: { src, index, dst },
    params: { B: N, K: S, V: D, t: G, eos: 0, start: 0, norm: 0, alpha: 0 },
    workgroups: grid1d(G * N * D, WG),
  });
}
