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

override WG: u32 = 64u;
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
