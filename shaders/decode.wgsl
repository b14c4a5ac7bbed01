// decode.wgsl — beam search over a decoder's logits, one step per dispatch, with no readback: the
// beams' scores, lengths, finished flags, the next tokens and the backpointers stay on the GPU.
//
// B batch rows, K beams per row (K <= 32; K = 1 is greedy decoding), V tokens. Beam i of row b is
// row n = b*K + i of every (B*K, …) tensor. For step t (0-based), per row b:
//   lse_j   = log sum_v exp(logits[b*K + j, v])                       (log-softmax normaliser)
//   candidates c = j*V + v, j < K, v < V:
//     beam j alive:     raw = score_j + logits[b*K + j, v] - lse_j,    len = t + 1
//     beam j dead (score_j = DEAD, an unused beam at t = 0): raw = DEAD, len = t + 1
//     beam j finished:  only v = eos, raw = score_j, len = len_j       (it carries unchanged)
//   norm = raw / lp(len):  lp = 1 (norm 0, 'none'), len (1, 'average': mean log-prob),
//          ((5 + len) / 6)^alpha (2, 'gnmt': Wu et al. 2016); DEAD stays DEAD, a NaN counts as DEAD
//   the K candidates with the largest norm, in descending order, ties to the smaller c, become the
//   new beams i = 0..K-1: score, len, finished = (j finished or v = eos), tokens[n] = v,
//   parents[n] = b*K + j (the row whose decoder state beam i continues), and the history
//   tok_hist[t, n] = v, par_hist[t, n] = j for the backtrack after the last step.
// Selection is K rounds of a workgroup arg-max over the K*V candidates, excluding those already
// chosen; fixed order, no atomics, so the same logits give the same beams on every run. Cost:
// O(K^2 * V) logit reads per row and step, small for character vocabularies; a word vocabulary
// would want a per-beam top-K pass first (only a beam's own top K can survive).
//
// decode_beam_init: scores = (0, DEAD, …, DEAD) per row (the K beams start as one), lengths = 0,
//   finished = 0, tokens = start.
// decode_gather_rows: dst[g, n, d] = src[g, index[n], d] for g < G, n < N, d < D (params: B = N,
//   K = S source rows, V = D, t = G); an index outside [0, S) gives a zero row. Gathers a
//   decoder's states (layers, rows, H) by `parents`, or copies each batch row's state to its beams.
//
// Dispatch: decode_beam_step one workgroup per batch row (folded over (x, y) past 65535);
// decode_beam_init and decode_gather_rows one thread per element, WG per group, folded likewise.
//
// Bindings (row-major):
//   logits   (B*K, V) f32
//   params   {B, K, V, t, eos, start, norm, alpha}
//   scores   (B*K)    f32   cumulative log-probabilities
//   lengths  (B*K)    u32   tokens generated, the end token included
//   finished (B*K)    u32   1 once the beam has produced the end token
//   tokens   (B*K)    i32   the token each beam feeds to the decoder next
//   parents  (B*K)    i32   the row each new beam continues
//   tok_hist (L, B*K) i32   tokens chosen at each step
//   par_hist (L, B*K) i32   parent beam (0..K-1) of each step's beams
//   src      (G, S, D) f32  decode_gather_rows
//   index    (N)       i32
//   dst      (G, N, D) f32

override WG: u32 = 64u;   // power of two, 32 to 256

const MAX_K: u32 = 32u;
const DEAD: f32 = -0x1.fffffep+127f;   // the score of a beam that does not exist
const NONE: u32 = 0xffffffffu;

struct Params {
  B: u32,
  K: u32,
  V: u32,
  t: u32,
  eos: u32,
  start: u32,
  norm: u32,
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(0) @binding(3) var<storage, read_write> lengths: array<u32>;
@group(0) @binding(4) var<storage, read_write> finished: array<u32>;
@group(0) @binding(5) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(6) var<storage, read_write> parents: array<i32>;
@group(0) @binding(7) var<storage, read_write> tok_hist: array<i32>;
@group(0) @binding(8) var<storage, read_write> par_hist: array<i32>;
@group(0) @binding(9) var<storage, read> src: array<f32>;
@group(0) @binding(10) var<storage, read> index: array<i32>;
@group(0) @binding(11) var<storage, read_write> dst: array<f32>;

var<workgroup> red_v: array<f32, 256>;
var<workgroup> red_i: array<u32, 256>;
var<workgroup> old_score: array<f32, MAX_K>;
var<workgroup> old_len: array<u32, MAX_K>;
var<workgroup> old_fin: array<u32, MAX_K>;
var<workgroup> lse: array<f32, MAX_K>;
var<workgroup> chosen: array<u32, MAX_K>;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn length_penalty(len: u32) -> f32 {
  switch params.norm {
    case 1u: { return f32(len); }
    case 2u: { return pow((5.0 + f32(len)) / 6.0, params.alpha); }
    default: { return 1.0; }
  }
}

struct Candidate {
  ok: bool,   // false: not a candidate (a finished beam continued by another token)
  raw: f32,
  norm: f32,
  len: u32,
}

fn candidate(b: u32, c: u32) -> Candidate {
  let V = params.V;
  let j = c / V;
  let v = c - j * V;
  var cd: Candidate;
  cd.ok = true;
  if (old_fin[j] != 0u) {
    cd.ok = v == params.eos;
    cd.raw = old_score[j];
    cd.len = old_len[j];
  } else {
    cd.len = params.t + 1u;
    if (old_score[j] == DEAD) {
      cd.raw = DEAD;
    } else {
      cd.raw = old_score[j] + (logits[(b * params.K + j) * V + v] - lse[j]);
    }
  }
  if (cd.raw == DEAD || is_nan(cd.raw)) {
    cd.raw = DEAD;
    cd.norm = DEAD;
  } else {
    cd.norm = cd.raw / length_penalty(cd.len);
    if (is_nan(cd.norm)) { cd.norm = DEAD; }
  }
  return cd;
}

// log sum_v exp(logits[n, v]), reduced over the workgroup (online max and sum, then a fixed tree).
fn row_lse(n: u32, tid: u32) -> f32 {
  var acc = SOFTMAX_EMPTY;   // (max, Σ exp(x − max)) of this thread's logits (reduce.wgsl)
  for (var v = tid; v < params.V; v += WG) { acc = softmax_push(acc, logits[n * params.V + v]); }
  let r = softmax_reduce(tid, acc);
  return r.x + log(r.y);
}

// a beats b: a is a candidate and b is not, or a larger norm, or an equal norm and a smaller index.
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  if (ai == NONE) { return false; }
  if (bi == NONE) { return true; }
  return av > bv || (av == bv && ai < bi);
}

@compute @workgroup_size(WG)
fn decode_beam_step(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= params.B) { return; }
  let K = params.K;
  let V = params.V;
  if (tid < K) {
    let n = b * K + tid;
    old_score[tid] = scores[n];
    old_len[tid] = lengths[n];
    old_fin[tid] = finished[n];
  }
  for (var j = 0u; j < K; j++) {
    let l = row_lse(b * K + j, tid);
    if (tid == 0u) { lse[j] = l; }
  }
  workgroupBarrier();

  let KV = K * V;
  for (var r = 0u; r < K; r++) {
    var best = DEAD;
    var bi = NONE;
    for (var c = tid; c < KV; c += WG) {
      var taken = false;
      for (var q = 0u; q < r; q++) { if (chosen[q] == c) { taken = true; } }
      if (taken) { continue; }
      let cd = candidate(b, c);
      if (cd.ok && better(cd.norm, c, best, bi)) {
        best = cd.norm;
        bi = c;
      }
    }
    red_v[tid] = best;
    red_i[tid] = bi;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
      if (tid < k && better(red_v[tid + k], red_i[tid + k], red_v[tid], red_i[tid])) {
        red_v[tid] = red_v[tid + k];
        red_i[tid] = red_i[tid + k];
      }
      workgroupBarrier();
    }
    if (tid == 0u) { chosen[r] = red_i[0]; }
    workgroupBarrier();
  }

  if (tid < K) {
    let c = chosen[tid];
    let j = c / V;
    let v = c - j * V;
    let cd = candidate(b, c);
    let n = b * K + tid;
    scores[n] = cd.raw;
    lengths[n] = cd.len;
    finished[n] = select(0u, 1u, old_fin[j] != 0u || v == params.eos);
    tokens[n] = i32(v);
    parents[n] = i32(b * K + j);
    let h = params.t * params.B * K + n;
    tok_hist[h] = i32(v);
    par_hist[h] = i32(j);
  }
}

@compute @workgroup_size(WG)
fn decode_beam_init(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= params.B * params.K) { return; }
  scores[n] = select(DEAD, 0.0, n % params.K == 0u);
  lengths[n] = 0u;
  finished[n] = 0u;
  tokens[n] = i32(params.start);
}

@compute @workgroup_size(WG)
fn decode_gather_rows(
  @builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let e = gid.x + gid.y * nwg.x * WG;
  let N = params.B;
  let S = params.K;
  let D = params.V;
  if (e >= params.t * N * D) { return; }
  let g = e / (N * D);
  let r = e - g * N * D;
  let n = r / D;
  let d = r - n * D;
  let i = index[n];
  if (i < 0 || u32(i) >= S) {
    dst[e] = 0.0;
  } else {
    dst[e] = src[(g * S + u32(i)) * D + d];
  }
}
