// lstm_seq.wgsl — LSTM sequence kernels (PyTorch nn.LSTM): all T timesteps in one dispatch.
//
// Same equations, bindings' meaning, variable-length rules and outputs as lstm.wgsl (see its header
// and docs/dev/RECURRENT_CONVENTIONS.md); only the schedule differs. Gate order i, f, g, o (G = 4H).
// Batch rows are independent, so each workgroup owns RB consecutive rows b0 .. b0+RB-1
// (b0 = workgroup_id.x · RB) and loops over t, with one workgroupBarrier() per step:
//
// lstm_seq_forward (t = 0 .. T-1). h_prev lives in workgroup memory (two (RB, H) buffers used in
//   turn: step t reads buffer t%2 and writes buffer (t+1)%2, so one barrier per step suffices);
//   c_prev is read back from cs[b, t-1] (written by the same invocation: each invocation owns the
//   same (b, j) elements at every step), or c0 at t = 0.
//   pre_q = gx[b,t,qH+j] + bhh[qH+j] + Σ_k whh[qH+j, k]·h_prev[b,k]       q = 0..3 (i, f, g, o)
//   i, f, o = σ(pre_i, pre_f, pre_o)   g = tanh(pre_g)   c = f·c_prev + i·g   h = o·tanh(c)
//   For t >= len[b]: hs, cs, gates at [b, t] are written as 0. hn, cn are written afterwards by
//   lstm.wgsl's lstm_final_state (writing them here would bind 11 storage buffers).
// lstm_seq_backward (t = T-1 .. 0). dgates of step t+1 for the workgroup's rows lives in workgroup
//   memory (two (RB, G) buffers used in turn), so the recurrent term reads it from there:
//   dh = dhs[b,t,j] + (t == len-1 ? dhn[b,j] : 0) + (t+1 < len ? Σ_r dgates[b,t+1,r]·whh[r,j] : 0)
//   dc = (t == len-1 ? dcn[b,j] : dc_carry[b,j]) + dh·o·(1 − tanh(c)²)
//   dgates[b,t] = [dc·g·i(1−i),  dc·c_prev·f(1−f),  dc·i·(1−g²),  dh·tanh(c)·o(1−o)]
//   dc_carry[b,j] = dc·f
//   For t >= len: dgates[b,t] = 0 and dc_carry is left alone; dc_carry is only read after it has
//   been written at a valid step, so it needs no clearing. Afterwards lstm.wgsl's
//   lstm_backward_initial gives dh0 = dgates[:,0]·W_hh and dc0 = dc_carry.
//
// Bindings (row-major; index: name (layout) access — kernels using it):
//   0  whh      (G, H)     read        — forward, backward
//   1  c0       (B, H)     read        — forward, backward
//   2  lengths  (B) i32    read, each in [1, T] — forward, backward
//   3  cs       (B, T, H)  read_write  — forward writes, backward reads
//   4  gates    (B, T, G)  read_write  — post-activation i, f, g, o; forward writes, backward reads
//   5  params   uniform {B, T, H, pad}
//   6  gx       (B, T, G)  read        — forward
//   7  bhh      (G)        read        — forward
//   8  h0       (B, H)     read        — forward
//   9  hs       (B, T, H)  read_write  — forward
//  10  dhs      (B, T, H)  read        — backward
//  11  dhn      (B, H)     read        — backward
//  12  dcn      (B, H)     read        — backward
//  13  dgates   (B, T, G)  read_write  — backward
//  14  dc_carry (B, H)     read_write  — backward (in place, same invocation)
// Threads: WG invocations per workgroup; invocation l owns the elements e = l, l + WG, ... < RB·H
// of its rows' (RB, H) block (row b0 + e / H, unit e % H). Workgroups: ceil(B / RB) along x.
// Workgroup memory: SH floats = 2·RB·H (forward) or 2·RB·4H (backward); the wrapper sets SH.

override WG: u32 = 128u;
override RB: u32 = 1u;
override SH: u32 = 256u;

struct Params {
  B: u32,
  T: u32,
  H: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read> whh: array<f32>;
@group(0) @binding(1) var<storage, read> c0: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<i32>;
@group(0) @binding(3) var<storage, read_write> cs: array<f32>;
@group(0) @binding(4) var<storage, read_write> gates: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
@group(0) @binding(6) var<storage, read> gx: array<f32>;
@group(0) @binding(7) var<storage, read> bhh: array<f32>;
@group(0) @binding(8) var<storage, read> h0: array<f32>;
@group(0) @binding(9) var<storage, read_write> hs: array<f32>;
@group(0) @binding(10) var<storage, read> dhs: array<f32>;
@group(0) @binding(11) var<storage, read> dhn: array<f32>;
@group(0) @binding(12) var<storage, read> dcn: array<f32>;
@group(0) @binding(13) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(14) var<storage, read_write> dc_carry: array<f32>;

var<workgroup> shm: array<f32, SH>;

@compute @workgroup_size(WG)
fn lstm_seq_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let G = 4u * H;
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
      let row = b * T + t;
      let out = row * H + j;
      let gbase = row * G;
      if (i32(t) >= lengths[b]) {
        hs[out] = 0.0;
        cs[out] = 0.0;
        for (var q = 0u; q < 4u; q++) { gates[gbase + q * H + j] = 0.0; }
        continue;
      }
      var pre_i = gx[gbase + j] + bhh[j];
      var pre_f = gx[gbase + H + j] + bhh[H + j];
      var pre_g = gx[gbase + 2u * H + j] + bhh[2u * H + j];
      var pre_o = gx[gbase + 3u * H + j] + bhh[3u * H + j];
      let wi = j * H;
      let wf = (H + j) * H;
      let wg = (2u * H + j) * H;
      let wo = (3u * H + j) * H;
      let hb = cur + bl * H;
      for (var k = 0u; k < H; k++) {
        let hk = shm[hb + k];
        pre_i += whh[wi + k] * hk;
        pre_f += whh[wf + k] * hk;
        pre_g += whh[wg + k] * hk;
        pre_o += whh[wo + k] * hk;
      }
      let i = sigmoid(pre_i);
      let f = sigmoid(pre_f);
      let g = tanh_safe(pre_g);
      let o = sigmoid(pre_o);
      var cp: f32;
      if (t == 0u) { cp = c0[b * H + j]; } else { cp = cs[out - H]; }
      let c = f * cp + i * g;
      let h = o * tanh_safe(c);
      hs[out] = h;
      cs[out] = c;
      gates[gbase + j] = i;
      gates[gbase + H + j] = f;
      gates[gbase + 2u * H + j] = g;
      gates[gbase + 3u * H + j] = o;
      shm[nxt + e] = h;
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn lstm_seq_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let G = 4u * H;
  let n = RB * H;
  let m = RB * G;                  // floats in one (RB, G) dgates buffer
  let b0 = wid.x * RB;

  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    let nxt = (s & 1u) * m;        // dgates of step t+1 (written by the previous iteration)
    let cur = m - nxt;             // receives dgates of step t
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;
      let j = e % H;
      let b = b0 + bl;
      if (b >= B) { continue; }
      let len = lengths[b];
      let row = b * T + t;
      let gbase = row * G;
      let sb = cur + bl * G;
      if (i32(t) >= len) {
        for (var q = 0u; q < 4u; q++) { dgates[gbase + q * H + j] = 0.0; }
        continue;
      }
      let is_last = i32(t) == len - 1;
      let idx = b * H + j;
      var dh = dhs[row * H + j];
      if (is_last) {
        dh += dhn[idx];
      } else {
        // Σ_r dgates[b,t+1,r]·whh[r,j], as the four gate blocks summed separately (four
        // independent accumulators; the same terms as lstm_step_backward, grouped differently).
        let nb = nxt + bl * G;
        var a0 = 0.0;
        var a1 = 0.0;
        var a2 = 0.0;
        var a3 = 0.0;
        for (var r = 0u; r < H; r++) {
          a0 += shm[nb + r] * whh[r * H + j];
          a1 += shm[nb + H + r] * whh[(H + r) * H + j];
          a2 += shm[nb + 2u * H + r] * whh[(2u * H + r) * H + j];
          a3 += shm[nb + 3u * H + r] * whh[(3u * H + r) * H + j];
        }
        dh += (a0 + a1) + (a2 + a3);
      }
      let i = gates[gbase + j];
      let f = gates[gbase + H + j];
      let g = gates[gbase + 2u * H + j];
      let o = gates[gbase + 3u * H + j];
      let tc = tanh_safe(cs[row * H + j]);
      var dc_in: f32;
      if (is_last) { dc_in = dcn[idx]; } else { dc_in = dc_carry[idx]; }
      let dc = dc_in + dh * o * (1.0 - tc * tc);
      var cp: f32;
      if (t == 0u) { cp = c0[idx]; } else { cp = cs[row * H + j - H]; }
      let d_i = dc * g * i * (1.0 - i);
      let d_f = dc * cp * f * (1.0 - f);
      let d_g = dc * i * (1.0 - g * g);
      let d_o = dh * tc * o * (1.0 - o);
      dgates[gbase + j] = d_i;
      dgates[gbase + H + j] = d_f;
      dgates[gbase + 2u * H + j] = d_g;
      dgates[gbase + 3u * H + j] = d_o;
      shm[sb + j] = d_i;
      shm[sb + H + j] = d_f;
      shm[sb + 2u * H + j] = d_g;
      shm[sb + 3u * H + j] = d_o;
      dc_carry[idx] = dc * f;
    }
    workgroupBarrier();
  }
}
