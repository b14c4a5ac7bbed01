// rnn_seq.wgsl — vanilla RNN sequence kernels (PyTorch nn.RNN, tanh or relu): all T timesteps in
// one dispatch.
//
// Same equations, bindings' meaning, variable-length rules and outputs as rnn.wgsl (see its header
// and docs/dev/RECURRENT_CONVENTIONS.md); only the schedule differs (as lstm_seq.wgsl does for the
// LSTM). G = H. ACT (override): 0 tanh (tanh_safe from common.wgsl), 1 relu. Batch rows are
// independent, so each workgroup owns RB consecutive rows b0 .. b0+RB-1 (b0 = workgroup_id.x · RB)
// and loops over t, with one workgroupBarrier() per step:
//
// rnn_seq_forward (t = 0 .. T-1). h_prev lives in workgroup memory (two (RB, H) buffers used in
//   turn: step t reads buffer t%2 and writes buffer (t+1)%2, so one barrier per step suffices).
//   h[b,t,j] = act(gx[b,t,j] + b_hh[j] + Σ_k W_hh[j,k]·h_prev[b,k])     (k increasing, as rnn_step_forward)
//   t >= len[b]: hs[b,t,:] = 0; t == len[b]-1: hn[b,:] = h[b,t,:].
// rnn_seq_backward (t = T-1 .. 0). dgates of step t+1 for the workgroup's rows lives in workgroup
//   memory (two (RB, H) buffers used in turn), so the recurrent term reads it from there:
//   dh = dhs[b,t,j] + (t == len-1 ? dhn[b,j] : Σ_g dgates[b,t+1,g]·W_hh[g,j])   (g increasing, from 0)
//   dgates[b,t,j] = dh·act'(h[b,t,j])  (tanh: 1 − h², relu: [h > 0])
//   t >= len: dgates[b,t,:] = 0. Afterwards rnn.wgsl's rnn_backward_initial gives dh0 = dgates[:,0]·W_hh.
//
// Bindings (row-major; index: name (layout) access — kernels using it):
//   0  gx       (B, T, H)  read        — forward (input projection incl. b_ih)
//   1  whh      (H, H)     read        — forward, backward
//   2  bhh      (H)        read        — forward
//   3  h0       (B, H)     read        — forward
//   4  lengths  (B) i32    read, each in [1, T] — forward, backward
//   5  hs       (B, T, H)  read_write  — forward writes, backward reads (act' from h)
//   6  hn       (B, H)     read_write  — forward (final state)
//   7  params   uniform {B, T, H, pad}
//   8  dhs      (B, T, H)  read        — backward
//   9  dhn      (B, H)     read        — backward (zeros when unused)
//  10  dgates   (B, T, H)  read_write  — backward
// Threads: WG invocations per workgroup; invocation l owns the elements e = l, l + WG, ... < RB·H
// of its rows' (RB, H) block (row b0 + e / H, unit e % H) at every step. Workgroups: ceil(B / RB).
// Workgroup memory: SH = 2·RB·H floats (both kernels); the wrapper sets SH.

override WG: u32 = 128u;
override RB: u32 = 1u;
override SH: u32 = 256u;
override ACT: u32 = 0u;

struct Params {
  B: u32,
  T: u32,
  H: u32,
  pad: u32,
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

var<workgroup> shm: array<f32, SH>;

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
fn rnn_seq_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let n = RB * H;                  // elements of the workgroup's (RB, H) block
  let b0 = wid.x * RB;

  for (var e = lid.x; e < n; e += WG) {
    let b = b0 + e / H;
    var v = 0.0;
    if (b < B) { v = h0[b * H + e % H]; }
    shm[e] = v;
  }
  workgroupBarrier();

  for (var t = 0u; t < T; t++) {
    let cur = (t & 1u) * n;        // h_prev buffer; the other one receives h
    let nxt = n - cur;
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;
      let j = e % H;
      let b = b0 + bl;
      if (b >= B) { continue; }
      let len = lengths[b];
      let o = (b * T + t) * H + j;
      if (i32(t) >= len) {
        hs[o] = 0.0;
        continue;
      }
      var acc = gx[o] + bhh[j];
      let w = j * H;
      let hb = cur + bl * H;
      for (var k = 0u; k < H; k++) { acc += whh[w + k] * shm[hb + k]; }
      let h = rnn_act(acc);
      hs[o] = h;
      shm[nxt + e] = h;
      if (i32(t) == len - 1) { hn[b * H + j] = h; }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn rnn_seq_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let n = RB * H;                  // floats in one (RB, H) dgates buffer
  let b0 = wid.x * RB;

  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    let nxt = (s & 1u) * n;        // dgates of step t+1 (written by the previous iteration)
    let cur = n - nxt;             // receives dgates of step t
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;
      let j = e % H;
      let b = b0 + bl;
      if (b >= B) { continue; }
      let len = lengths[b];
      let o = (b * T + t) * H + j;
      if (i32(t) >= len) {
        dgates[o] = 0.0;
        continue;
      }
      var dh = dhs[o];
      if (i32(t) == len - 1) {
        dh += dhn[b * H + j];
      } else {
        // t + 1 < len: Σ_g dgates[b,t+1,g]·W_hh[g,j] (column j of W_hh: adjacent invocations read adjacent j).
        let nb = nxt + bl * H;
        var acc = 0.0;
        for (var g = 0u; g < H; g++) { acc += shm[nb + g] * whh[g * H + j]; }
        dh += acc;
      }
      let d = dh * rnn_act_grad(hs[o]);
      dgates[o] = d;
      shm[cur + e] = d;
    }
    workgroupBarrier();
  }
}
