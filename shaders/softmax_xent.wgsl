// softmax_xent.wgsl — fused softmax + cross-entropy with integer targets and per-position weights,
// TF tf.contrib.seq2seq.sequence_loss with average_across_timesteps = average_across_batch = True
// (a weighted mean over all positions), plus a plain softmax for inference and sampling.
//
// For each position (row) n < N of logits (N = B*T), with target t_n and weight w_n:
//   m_n  = max_j x[n,j]
//   s_n  = sum_j exp(x[n,j] - m_n)                         (1 <= s_n <= V: no overflow for any logits)
//   CE_n = m_n + log(s_n) - x[n,t_n]                        (= -log softmax(x[n,:])[t_n])
//   losses[n]    = w_n * CE_n                              (= sequence_loss without averaging)
//   W            = sum_n w_n                               softmax_xent_wsum
//   loss         = sum_n losses[n] / W                     softmax_xent_reduce
//   dlogits[n,j] = (exp(x[n,j] - m_n) / s_n - [j == t_n]) * w_n * grad_scale / W
//   probs[n,j]   = softmax(x[n,:] * inv_temp)[j]           softmax_xent_probs (temperature 1/inv_temp)
// W = 0 gives loss = 0 and dlogits = 0. A position with w_n = 0 is skipped: losses[n] = 0 and its
// dlogits row is 0 whatever its target and logits hold (padding may use any id, e.g. -1).
// A position with w_n != 0 and t_n outside [0, V) reads nothing out of bounds: losses[n] and its
// whole dlogits row are NaN (as TF's GPU kernel does), so the loss is NaN.
//
// Determinism: no atomics. A row's (max, sum) pair is reduced by one workgroup: thread k visits
// columns k, k+WG, k+2WG, ... keeping a running pair (online softmax), then a fixed tree combines
// pairs (m, s) = (max(m1, m2), s1 exp(m1 - m) + s2 exp(m2 - m)). Sums over N (W and the loss) run in
// one workgroup: thread k adds elements k, k+WG, ... in order (Kahan-compensated), then a fixed
// tree. The same inputs give bitwise the same outputs on every run. The reductions (softmax_push,
// softmax_reduce, block_sum) are those of reduce.wgsl, a part of this module.
//
// Dispatch: softmax_xent_forward / _forward_backward / _probs: one workgroup per row, rows folded
// over (x, y) when N > 65535 (row = wid.x + wid.y * nwg.x; extra groups return). softmax_xent_wsum
// and softmax_xent_reduce: one workgroup. Order: wsum, then forward[_backward], then reduce.
//
// Bindings (row-major):
//   logits  (N, V) f32   x
//   targets (N)    i32   t
//   weights (N)    f32   w
//   params  {N, V, grad_scale, inv_temp}
//   wsum    (1)    f32   W (written by softmax_xent_wsum, read by the others)
//   losses  (N)    f32   w_n * CE_n
//   loss    (1)    f32   the scalar loss
//   dlogits (N, V) f32
//   probs   (N, V) f32

override WG: u32 = 256u;   // power of two, at most 256

struct Params {
  N: u32,
  V: u32,
  grad_scale: f32,
  inv_temp: f32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> wsum: array<f32>;
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
@group(0) @binding(7) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(8) var<storage, read_write> probs: array<f32>;

// A quiet NaN built at run time (a NaN constant is a shader-creation error in WGSL).
fn nan_f32() -> f32 {
  return bitcast<f32>(0x7fc00000u | (params.N & 0u));
}

// (max, sum of exp(x - max)) of row `row` with logits multiplied by `mul`, reduced over the
// workgroup; every thread gets the result. Call from uniform control flow.
fn row_stats(row: u32, tid: u32, mul: f32) -> vec2<f32> {
  let V = params.V;
  let base = row * V;
  var acc = SOFTMAX_EMPTY;
  for (var j = tid; j < V; j += WG) { acc = softmax_push(acc, logits[base + j] * mul); }
  return softmax_reduce(tid, acc);
}

fn target_ok(t: i32) -> bool {
  return t >= 0 && u32(t) < params.V;
}

// Writes losses[row] (thread 0) and returns the row's (max, sum) for the backward part.
fn forward_row(row: u32, tid: u32) -> vec2<f32> {
  let st = row_stats(row, tid, 1.0);
  if (tid == 0u) {
    let w = weights[row];
    let t = targets[row];
    var l = 0.0;
    if (w != 0.0) {
      if (target_ok(t)) {
        let ce = st.x + log(st.y) - logits[row * params.V + u32(t)];
        l = w * ce;
      } else {
        l = nan_f32();
      }
    }
    losses[row] = l;
  }
  return st;
}

@compute @workgroup_size(WG)
fn softmax_xent_wsum(@builtin(local_invocation_index) tid: u32) {
  var s = 0.0;
  var c = 0.0;   // Kahan compensation
  for (var i = tid; i < params.N; i += WG) {
    let y = weights[i] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  let total = block_sum(tid, s);
  if (tid == 0u) { wsum[0] = total; }
}

@compute @workgroup_size(WG)
fn softmax_xent_forward(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.N) { return; }
  _ = forward_row(row, tid);
}

@compute @workgroup_size(WG)
fn softmax_xent_forward_backward(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.N) { return; }
  let st = forward_row(row, tid);
  let V = params.V;
  let base = row * V;
  let w = weights[row];
  let W = wsum[0];
  let t = targets[row];
  if (w == 0.0 || W == 0.0) {
    for (var j = tid; j < V; j += WG) { dlogits[base + j] = 0.0; }
  } else if (!target_ok(t)) {
    let nan = nan_f32();
    for (var j = tid; j < V; j += WG) { dlogits[base + j] = nan; }
  } else {
    let coef = w * params.grad_scale / W;
    let inv_s = 1.0 / st.y;
    let tu = u32(t);
    for (var j = tid; j < V; j += WG) {
      let p = exp(logits[base + j] - st.x) * inv_s;
      dlogits[base + j] = (p - select(0.0, 1.0, j == tu)) * coef;
    }
  }
}

@compute @workgroup_size(WG)
fn softmax_xent_reduce(@builtin(local_invocation_index) tid: u32) {
  var s = 0.0;
  var c = 0.0;
  for (var i = tid; i < params.N; i += WG) {
    let y = losses[i] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  let total = block_sum(tid, s);
  if (tid == 0u) {
    let W = wsum[0];
    loss[0] = select(0.0, total / W, W != 0.0);
  }
}

@compute @workgroup_size(WG)
fn softmax_xent_probs(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.N) { return; }
  let mul = params.inv_temp;
  let st = row_stats(row, tid, mul);
  let V = params.V;
  let base = row * V;
  let inv_s = 1.0 / st.y;
  for (var j = tid; j < V; j += WG) {
    probs[base + j] = exp(logits[base + j] * mul - st.x) * inv_s;
  }
}
