// rnn.wgsl — vanilla RNN (PyTorch nn.RNN) step kernels; one dispatch per timestep, one thread per (b, j).
// Conventions shared with lstm.wgsl / gru.wgsl: docs/dev/RECURRENT_CONVENTIONS.md.
//
// G = H (one gate). The caller computes gx = X·W_ihᵀ + b_ih for all timesteps with one GEMM.
// ACT (override): 0 tanh (tanh_safe from common.wgsl), 1 relu.
//
// rnn_step_forward, step t:
//   h_prev = t == 0 ? h0[b] : hs[b, t-1]
//   h[b,t,j] = act(gx[b,t,j] + b_hh[j] + Σ_k W_hh[j,k] · h_prev[k])
//   t >= lengths[b]: hs[b,t,:] = 0 and hn[b] is left alone; t == lengths[b]-1: hn[b,:] = h[b,t,:].
//   Nothing else is saved for backward: act'(pre) is recovered from h (tanh: 1 - h², relu: h > 0).
// rnn_step_backward, step t (dispatched for t = T-1 down to 0):
//   dh[b,t,j] = dhs[b,t,j] + (t == len-1 ? dhn[b,j] : 0) + (t+1 < len ? Σ_g dgates[b,t+1,g] · W_hh[g,j] : 0)
//   dgates[b,t,j] = dh[b,t,j] · act'(h[b,t,j])           (= dpre; for the RNN dghh == dgates)
//   t >= len: dgates[b,t,:] = 0. Step t reads step t+1's dgates, written by the previous dispatch,
//   so no carry buffer is needed and dgates needs no clearing.
// rnn_backward_initial (after step 0):
//   dh0[b,j] = Σ_g dgates[b,0,g] · W_hh[g,j]             (every length is >= 1, so step 0 is valid)
//
// Bindings (row-major; each kernel binds a subset, listed in src/kernels/rnn.ts):
//   gx      (B, T, H)  read         input projection incl. b_ih            [forward]
//   whh     (H, H)     read         weight_hh, W_hh[g, k] at g*H + k       [all]
//   bhh     (H)        read         bias_hh                                [forward]
//   h0      (B, H)     read         initial state                          [forward]
//   lengths (B)        read  i32    valid steps per row, each in [1, T]    [forward, backward]
//   hs      (B, T, H)  read_write   outputs (forward writes, backward reads act' from them)
//   hn      (B, H)     read_write   final state h[b, lengths[b]-1]         [forward]
//   params             uniform      {B, T, H, t}
//   dhs     (B, T, H)  read         gradient w.r.t. hs                     [backward]
//   dhn     (B, H)     read         gradient w.r.t. hn (zeros when unused) [backward]
//   dgates  (B, T, H)  read_write   gradient w.r.t. the pre-activation     [backward, initial]
//   dh0     (B, H)     read_write   gradient w.r.t. h0                     [initial]
// Lengths are not validated on the GPU: a length outside [1, T] never reads out of bounds (every
// index is built from b < B and t < T) but leaves hn[b] unwritten (len > T) or the row zero (len < 1).
//
// Register-blocked variants (rnn_step_forward_blocked, rnn_step_backward_blocked,
// rnn_backward_initial_blocked): same bindings, equations and outputs as the plain kernels, but one
// thread computes unit j for the R consecutive batch rows b = bb*R .. bb*R + R-1 of block bb (rows
// >= B skipped), loading each W_hh weight once for the R rows and keeping R accumulators (the lanes
// of a vec4<f32>, so 1 <= R <= 4). Each row's sum runs in increasing order from the same start value
// as in the plain kernel: bit-identical results. Lengths are checked per row; lanes past the block's
// last valid row repeat that row and are not written. Threads: i = bb*H + j over ceil(B/R)*H.

override WG: u32 = 64u;
override R: u32 = 4u;   // batch rows per thread in the blocked kernels, 1..4
override ACT: u32 = 0u;

struct Params {
  B: u32,
  T: u32,
  H: u32,
  t: u32,
}

@group(0) @binding(0) var<storage, read> gx: array<f32>;
@group(0) @binding(1) var<storage, read> whh: array<f32>;
@group(0) @binding(2) var<storage, read> bhh: array<f32>;
@group(0) @binding(3) var<storage, read> h0: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
@group(0) @binding(6) var<storage, read_write> hn: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;
@group(0) @binding(8) var<storage, read> dhs: array<f32>;
@group(0) @binding(9) var<storage, read> dhn: array<f32>;
@group(0) @binding(10) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(11) var<storage, read_write> dh0: array<f32>;

fn rnn_act(x: f32) -> f32 {
  if (ACT == 1u) { return max(x, 0.0); }
  return tanh_safe(x);
}

// act'(pre) written in terms of the output h = act(pre).
fn rnn_act_grad(h: f32) -> f32 {
  if (ACT == 1u) { return select(0.0, 1.0, h > 0.0); }
  return 1.0 - h * h;
}

@compute @workgroup_size(WG)
fn rnn_step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let t = params.t;
  let T = params.T;
  let len = lengths[b];
  let o = (b * T + t) * H + j;
  if (i32(t) >= len) {
    hs[o] = 0.0;
    return;
  }
  var acc = gx[o] + bhh[j];
  let w = j * H;
  if (t == 0u) {
    let p = b * H;
    for (var k = 0u; k < H; k++) { acc += whh[w + k] * h0[p + k]; }
  } else {
    let p = (b * T + t - 1u) * H;
    for (var k = 0u; k < H; k++) { acc += whh[w + k] * hs[p + k]; }
  }
  let h = rnn_act(acc);
  hs[o] = h;
  if (i32(t) == len - 1) { hn[i] = h; }
}

@compute @workgroup_size(WG)
fn rnn_step_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let t = params.t;
  let T = params.T;
  let len = lengths[b];
  let o = (b * T + t) * H + j;
  if (i32(t) >= len) {
    dgates[o] = 0.0;
    return;
  }
  var dh = dhs[o];
  if (i32(t) == len - 1) {
    dh += dhn[i];
  } else {
    // t + 1 < len: the recurrent gradient from step t+1 (written by the previous dispatch).
    let p = (b * T + t + 1u) * H;
    var acc = 0.0;
    for (var g = 0u; g < H; g++) { acc += dgates[p + g] * whh[g * H + j]; }
    dh += acc;
  }
  dgates[o] = dh * rnn_act_grad(hs[o]);
}

@compute @workgroup_size(WG)
fn rnn_backward_initial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let p = b * params.T * H;
  var acc = 0.0;
  for (var g = 0u; g < H; g++) { acc += dgates[p + g] * whh[g * H + j]; }
  dh0[i] = acc;
}

// ---------------------------------------------------------------- register-blocked variants

// Number of valid rows of block bb: min(R, B - bb*R).
fn block_count(bb: u32) -> u32 {
  return min(R, params.B - bb * R);
}

// The rows of block bb's 4 lanes; lanes past the last valid row repeat it (they read only rows
// this thread owns, and their results are discarded).
fn block_rows(bb: u32) -> vec4<u32> {
  let b0 = bb * R;
  return min(vec4<u32>(b0, b0 + 1u, b0 + 2u, b0 + 3u), vec4<u32>(b0 + block_count(bb) - 1u));
}

fn rnn_forward_emit(b: u32, j: u32, acc: f32) {
  let H = params.H;
  let t = params.t;
  let o = (b * params.T + t) * H + j;
  let len = lengths[b];
  if (i32(t) >= len) {
    hs[o] = 0.0;
    return;
  }
  let h = rnn_act(acc);
  hs[o] = h;
  if (i32(t) == len - 1) { hn[b * H + j] = h; }
}

@compute @workgroup_size(WG)
fn rnn_step_forward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let t = params.t;
  let T = params.T;
  let rows = block_rows(bb);
  let o = (rows * T + vec4<u32>(t)) * H + vec4<u32>(j);
  var acc = vec4<f32>(gx[o.x], gx[o.y], gx[o.z], gx[o.w]) + bhh[j];
  let w = j * H;
  if (t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < H; k++) { acc += whh[w + k] * vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k]); }
  } else {
    let p = (rows * T + vec4<u32>(t - 1u)) * H;
    for (var k = 0u; k < H; k++) { acc += whh[w + k] * vec4<f32>(hs[p.x + k], hs[p.y + k], hs[p.z + k], hs[p.w + k]); }
  }
  let n = block_count(bb);
  rnn_forward_emit(rows.x, j, acc.x);
  if (n > 1u) { rnn_forward_emit(rows.y, j, acc.y); }
  if (n > 2u) { rnn_forward_emit(rows.z, j, acc.z); }
  if (n > 3u) { rnn_forward_emit(rows.w, j, acc.w); }
}

// acc = Σ_g dgates[b,t+1,g]·W_hh[g,j] (increasing g, from 0), used only where t+1 < len.
fn rnn_backward_emit(b: u32, j: u32, acc: f32) {
  let H = params.H;
  let t = params.t;
  let o = (b * params.T + t) * H + j;
  let len = lengths[b];
  if (i32(t) >= len) {
    dgates[o] = 0.0;
    return;
  }
  var dh = dhs[o];
  if (i32(t) == len - 1) { dh += dhn[b * H + j]; } else { dh += acc; }
  dgates[o] = dh * rnn_act_grad(hs[o]);
}

@compute @workgroup_size(WG)
fn rnn_step_backward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let t = params.t;
  let T = params.T;
  let rows = block_rows(bb);
  var acc = vec4<f32>(0.0);
  if (t + 1u < T) {
    // Lanes whose step t+1 is past their length use dhn instead in the epilogue.
    let p = (rows * T + vec4<u32>(t + 1u)) * H;
    for (var g = 0u; g < H; g++) {
      acc += vec4<f32>(dgates[p.x + g], dgates[p.y + g], dgates[p.z + g], dgates[p.w + g]) * whh[g * H + j];
    }
  }
  let n = block_count(bb);
  rnn_backward_emit(rows.x, j, acc.x);
  if (n > 1u) { rnn_backward_emit(rows.y, j, acc.y); }
  if (n > 2u) { rnn_backward_emit(rows.z, j, acc.z); }
  if (n > 3u) { rnn_backward_emit(rows.w, j, acc.w); }
}

@compute @workgroup_size(WG)
fn rnn_backward_initial_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let rows = block_rows(bb);
  let p = rows * params.T * H;
  var acc = vec4<f32>(0.0);
  for (var g = 0u; g < H; g++) {
    acc += vec4<f32>(dgates[p.x + g], dgates[p.y + g], dgates[p.z + g], dgates[p.w + g]) * whh[g * H + j];
  }
  let n = block_count(bb);
  for (var q = 0u; q < n; q++) { dh0[rows[q] * H + j] = acc[q]; }
}
