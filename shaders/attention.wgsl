// attention.wgsl — attention of queries over a memory (encoder outputs), masked by lengths: scores,
// a numerically stable masked softmax and the context in one dispatch, and its backward.
//
// The projections (Luong general W_a·m, Bahdanau W_q·q and W_k·m + b) are GEMMs over all positions
// done before these kernels; here qk is the query-side vector and keys the key-side vector, both of
// width D, and values the memory itself (width Hm). For row b, query step t and memory step j:
//   SCORE 0 (dot product, Luong dot and general): e_tj = Σ_d qk[t,d]·keys[j,d]
//   SCORE 1 (additive, Bahdanau):                 e_tj = Σ_d v[d]·tanh(qk[t,d] + keys[j,d])
//   a_tj = exp(e_tj − M_t) / Σ_(k < ls) exp(e_tk − M_t)  for j < ls = len_s[b], M_t = max_(k < ls) e_tk;
//   a_tj = 0 for j ≥ ls (masked out of the softmax)
//   c_t  = Σ_j a_tj·values[j]
// Query steps t ≥ len_q[b] give a = 0 and c = 0. len_s[b] must be in [1, Ts].
// The query-side tensors are (B, T_all, ·); a dispatch covers query steps t0 ≤ t < t0 + Tq of each row
// (all of them: t0 = 0, Tq = T_all; one step of a decoder loop: Tq = 1, t0 = t).
// Backward, from dc (and optionally dA, an upstream gradient of the weights):
//   da_tj = dc_t·values_j + dA_tj
//   de_tj = a_tj·(da_tj − Σ_k a_tk·da_tk)                      (softmax backward; 0 where a = 0)
//   dot:      dqk_t = Σ_j de_tj·keys_j            dkeys_j = Σ_t de_tj·qk_t
//   additive: u = tanh(qk_t + keys_j) (recomputed), dqk_t[d] = v[d]·Σ_j de_tj·(1 − u_d²),
//             dkeys_j[d] = v[d]·Σ_t de_tj·(1 − u_d²), dv_part[t,d] = Σ_j de_tj·u_d (dv = Σ_(b,t) dv_part)
//   dvalues_j = Σ_t a_tj·dc_t                                     (the path through the values)
// Masked positions get zero gradients because their a (and so de) is 0: the backward kernels need
// no lengths.
//
// Determinism: no atomics. attention_forward and attention_backward_queries run one workgroup per
// (b, t) row; a row's (max, sum) and Σ_k a·da are reduced in a fixed tree (softmax_reduce and
// block_sum of reduce.wgsl, a part of this module); every other sum is one thread's loop in index
// order. attention_backward_memory runs one workgroup per (b, j), summing over t in order. Rows are
// folded over (x, y) when there are more than 65535 (row = wid.x + wid.y·nwg.x).
// storageBarrier() orders a row's writes to weights / dscores before other threads read them.
//
// Bindings (row-major):
//   qk       (B, T_all, D)  f32   query-side vectors (queries, or W_q·q)
//   keys     (B, Ts, D)  f32   key-side vectors (memory, W_a·m, or W_k·m + b)
//   values   (B, Ts, Hm) f32   the memory
//   score_v  (D)         f32   v of the additive score (unused by SCORE 0)
//   len_q    (B)         i32   query lengths, len_s (B) i32 memory lengths
//   params   {B, Tq, Ts, D, Hm, T_all, t0}   (query-side tensors are (B, T_all, ·); Tq steps from t0)
//   weights  (B, T_all, Ts) f32   a (written forward, read backward)
//   context  (B, T_all, Hm) f32   c
//   dcontext (B, T_all, Hm) f32
//   dweights (B, T_all, Ts) f32   dA (read when HAS_DWEIGHTS)
//   dscores  (B, T_all, Ts) f32   de (written by backward_queries, read by backward_memory)
//   dqk      (B, T_all, D)  f32
//   dv_part  (B, T_all, D)  f32   per-row parts of dv (written when SCORE 1)
//   dkeys    (B, Ts, D)  f32
//   dvalues  (B, Ts, Hm) f32

override WG: u32 = 64u;          // power of two, at most 256
override SCORE: u32 = 0u;        // 0 dot product, 1 additive
override HAS_DWEIGHTS: bool = false;

struct Params {
  B: u32,
  Tq: u32,
  Ts: u32,
  D: u32,
  Hm: u32,
  T_all: u32,
  t0: u32,
}

@group(0) @binding(0) var<storage, read> qk: array<f32>;
@group(0) @binding(1) var<storage, read> keys: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> score_v: array<f32>;
@group(0) @binding(4) var<storage, read> len_q: array<i32>;
@group(0) @binding(5) var<storage, read> len_s: array<i32>;
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(7) var<storage, read_write> weights: array<f32>;
@group(0) @binding(8) var<storage, read_write> context: array<f32>;
@group(0) @binding(9) var<storage, read> dcontext: array<f32>;
@group(0) @binding(10) var<storage, read> dweights: array<f32>;
@group(0) @binding(11) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(12) var<storage, read_write> dqk: array<f32>;
@group(0) @binding(13) var<storage, read_write> dv_part: array<f32>;
@group(0) @binding(14) var<storage, read_write> dkeys: array<f32>;
@group(0) @binding(15) var<storage, read_write> dvalues: array<f32>;

// e_tj for query vector at qk[q0..] and key vector at keys[k0..].
fn score(q0: u32, k0: u32) -> f32 {
  var e = 0.0;
  if (SCORE == 1u) {
    for (var d = 0u; d < params.D; d++) { e += score_v[d] * tanh_safe(qk[q0 + d] + keys[k0 + d]); }
  } else {
    for (var d = 0u; d < params.D; d++) { e += qk[q0 + d] * keys[k0 + d]; }
  }
  return e;
}

@compute @workgroup_size(WG)
fn attention_forward(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  let Tq = params.Tq;
  let Ts = params.Ts;
  let Hm = params.Hm;
  if (row >= params.B * Tq) { return; }
  let b = row / Tq;
  let t = params.t0 + row % Tq;
  let g = b * params.T_all + t;   // the row of the query-side tensors
  let a0 = g * Ts;
  let c0 = g * Hm;
  if (t >= u32(len_q[b])) {
    for (var j = tid; j < Ts; j += WG) { weights[a0 + j] = 0.0; }
    for (var h = tid; h < Hm; h += WG) { context[c0 + h] = 0.0; }
    return;
  }
  let ls = min(u32(len_s[b]), Ts);
  let q0 = g * params.D;
  // Scores of the valid memory steps, kept in the weights row, with a running (max, sum) per thread.
  var acc = SOFTMAX_EMPTY;
  for (var j = tid; j < ls; j += WG) {
    let e = score(q0, (b * Ts + j) * params.D);
    weights[a0 + j] = e;
    acc = softmax_push(acc, e);
  }
  let st = softmax_reduce(tid, acc);
  let row_max = st.x;
  let inv_sum = 1.0 / st.y;
  for (var j = tid; j < Ts; j += WG) {
    var a = 0.0;
    if (j < ls) { a = exp(weights[a0 + j] - row_max) * inv_sum; }
    weights[a0 + j] = a;
  }
  storageBarrier();
  for (var h = tid; h < Hm; h += WG) {
    var c = 0.0;
    for (var j = 0u; j < ls; j++) { c += weights[a0 + j] * values[(b * Ts + j) * Hm + h]; }
    context[c0 + h] = c;
  }
}

@compute @workgroup_size(WG)
fn attention_backward_queries(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  let Tq = params.Tq;
  let Ts = params.Ts;
  let Hm = params.Hm;
  let D = params.D;
  if (row >= params.B * Tq) { return; }
  let b = row / Tq;
  let g = b * params.T_all + params.t0 + row % Tq;
  let a0 = g * Ts;
  let c0 = g * Hm;
  // da_tj (kept in dscores: each thread later reads back only its own j) and Σ_j a_tj·da_tj.
  var part = 0.0;
  for (var j = tid; j < Ts; j += WG) {
    let a = weights[a0 + j];
    var da = 0.0;
    if (a != 0.0) {
      let v0 = (b * Ts + j) * Hm;
      for (var h = 0u; h < Hm; h++) { da += dcontext[c0 + h] * values[v0 + h]; }
      if (HAS_DWEIGHTS) { da += dweights[a0 + j]; }
    }
    dscores[a0 + j] = da;
    part += a * da;
  }
  let dot_a_da = block_sum(tid, part);
  for (var j = tid; j < Ts; j += WG) {
    dscores[a0 + j] = weights[a0 + j] * (dscores[a0 + j] - dot_a_da);
  }
  storageBarrier();
  let q0 = g * D;
  for (var d = tid; d < D; d += WG) {
    var s = 0.0;
    if (SCORE == 1u) {
      var sv = 0.0;
      let q = qk[q0 + d];
      for (var j = 0u; j < Ts; j++) {
        let de = dscores[a0 + j];
        if (de != 0.0) {
          let u = tanh_safe(q + keys[(b * Ts + j) * D + d]);
          s += de * (1.0 - u * u);
          sv += de * u;
        }
      }
      dqk[q0 + d] = score_v[d] * s;
      dv_part[q0 + d] = sv;
    } else {
      for (var j = 0u; j < Ts; j++) { s += dscores[a0 + j] * keys[(b * Ts + j) * D + d]; }
      dqk[q0 + d] = s;
    }
  }
}

@compute @workgroup_size(WG)
fn attention_backward_memory(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let mrow = wid.x + wid.y * nwg.x;   // b·Ts + j
  let Tq = params.Tq;
  let Ts = params.Ts;
  let Hm = params.Hm;
  let D = params.D;
  if (mrow >= params.B * Ts) { return; }
  let b = mrow / Ts;
  let j = mrow % Ts;
  for (var h = tid; h < Hm; h += WG) {
    var g = 0.0;
    for (var t = 0u; t < Tq; t++) {
      let r = b * params.T_all + params.t0 + t;
      g += weights[r * Ts + j] * dcontext[r * Hm + h];
    }
    dvalues[mrow * Hm + h] = g;
  }
  let k0 = mrow * D;
  for (var d = tid; d < D; d += WG) {
    var g = 0.0;
    if (SCORE == 1u) {
      let k = keys[k0 + d];
      for (var t = 0u; t < Tq; t++) {
        let r = b * params.T_all + params.t0 + t;
        let de = dscores[r * Ts + j];
        if (de != 0.0) {
          let u = tanh_safe(qk[r * D + d] + k);
          g += de * (1.0 - u * u);
        }
      }
      g *= score_v[d];
    } else {
      for (var t = 0u; t < Tq; t++) {
        let r = b * params.T_all + params.t0 + t;
        g += dscores[r * Ts + j] * qk[r * D + d];
      }
    }
    dkeys[k0 + d] = g;
  }
}
