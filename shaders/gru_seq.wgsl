// gru_seq.wgsl — GRU sequence kernels (PyTorch nn.GRU): all T timesteps in one dispatch.
//
// Same equations, bindings' meaning, variable-length rules and outputs as gru.wgsl (see its header
// and docs/dev/RECURRENT_CONVENTIONS.md); only the schedule differs (as lstm_seq.wgsl does for the
// LSTM). Gate order r, z, n (G = 3H). Batch rows are independent, so each workgroup owns RB
// consecutive rows b0 .. b0+RB-1 (b0 = workgroup_id.x · RB) and loops over t, with one
// workgroupBarrier() per step:
//
// gru_seq_forward (t = 0 .. T-1). h_prev lives in workgroup memory (two (RB, H) buffers used in
//   turn: step t reads buffer t%2 and writes buffer (t+1)%2, so one barrier per step suffices).
//   ar = b_hr[j] + Σ_k W_hr[j,k]·h_prev[k]   az, an likewise with W_hz, W_hn (k increasing, the
//   same order as gru_step_forward)
//   r = σ(gx_r + ar)   z = σ(gx_z + az)   hn_lin = an   n = tanh(gx_n + r·an)
//   h = (1 − z)·n + z·h_prev
//   For t >= len[b]: hs, gates, hn_lin at [b, t] are written as 0; at t == len[b]-1 also hn[b] = h.
// gru_seq_backward (t = T-1 .. 0). dghh of step t+1 for the workgroup's rows lives in workgroup
//   memory (two (RB, 3H) buffers used in turn), so the recurrent term reads it from there:
//   dh = dhs[b,t,j] + dh_carry[b,j] + (t+1 < len ? Σ_k dghh[b,t+1,k]·W_hh[k,j] : 0)   (k increasing)
//   dn = dh(1 − z); dz = dh(h_prev − n); dn_pre = dn(1 − n²); dr_pre = dn_pre·hn_lin·r(1 − r);
//   dz_pre = dz·z(1 − z)
//   dgates[b,t] = [dr_pre, dz_pre, dn_pre]   dghh[b,t] = [dr_pre, dz_pre, dn_pre·r]
//   dh_carry[b,j] = dh·z
//   For t >= len: dgates, dghh at [b, t] are 0 and dh_carry is left alone. As for the step kernels
//   the caller fills dh_carry with dhn (or zeros) before this dispatch, so at t == len-1 the entering
//   gradient is dhs + dhn. Afterwards gru.wgsl's gru_backward_initial gives
//   dh0 = dghh[:,0]·W_hh + dh_carry.
//
// Bindings (row-major; index: name (layout) access — kernels using it):
//   0  gx       (B, T, 3H)  read        — forward
//   1  whh      (3H, H)     read        — forward, backward
//   2  bhh      (3H)        read        — forward
//   3  h0       (B, H)      read        — forward, backward
//   4  lengths  (B) i32     read, each in [1, T] — forward, backward
//   5  hs       (B, T, H)   read_write  — forward writes, backward reads
//   6  gates    (B, T, 3H)  read_write  — post-activation r, z, n; forward writes, backward reads
//   7  hn_lin   (B, T, H)   read_write  — W_hn·h_prev + b_hn; forward writes, backward reads
//   8  hn       (B, H)      read_write  — forward (final state)
//   9  params   uniform {B, T, H, pad}
//  10  dhs      (B, T, H)   read        — backward
//  11  dgates   (B, T, 3H)  read_write  — backward
//  12  dghh     (B, T, 3H)  read_write  — backward
//  13  dh_carry (B, H)      read_write  — backward (in place, same invocation)
// Threads: WG invocations per workgroup; invocation l owns the elements e = l, l + WG, ... < RB·H
// of its rows' (RB, H) block (row b0 + e / H, unit e % H) at every step. Workgroups: ceil(B / RB).
// Workgroup memory: SH floats = 2·RB·H (forward) or 2·RB·3H (backward); the wrapper sets SH.

override WG: u32 = 128u;
override RB: u32 = 1u;
override SH: u32 = 256u;

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
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> hn_lin: array<f32>;
@group(0) @binding(8) var<storage, read_write> hn: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;
@group(0) @binding(10) var<storage, read> dhs: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(12) var<storage, read_write> dghh: array<f32>;
@group(0) @binding(13) var<storage, read_write> dh_carry: array<f32>;

var<workgroup> shm: array<f32, SH>;

@compute @workgroup_size(WG)
fn gru_seq_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let G = 3u * H;
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
      let row = b * T + t;
      let out = row * H + j;
      let g = row * G;
      if (i32(t) >= len) {
        hs[out] = 0.0;
        hn_lin[out] = 0.0;
        gates[g + j] = 0.0;
        gates[g + H + j] = 0.0;
        gates[g + 2u * H + j] = 0.0;
        continue;
      }
      var ar = bhh[j];
      var az = bhh[H + j];
      var an = bhh[2u * H + j];
      let wr = j * H;
      let wz = (H + j) * H;
      let wn = (2u * H + j) * H;
      let hb = cur + bl * H;
      for (var k = 0u; k < H; k++) {
        let hk = shm[hb + k];
        ar += whh[wr + k] * hk;
        az += whh[wz + k] * hk;
        an += whh[wn + k] * hk;
      }
      let hprev_j = shm[cur + e];
      let r = sigmoid(gx[g + j] + ar);
      let z = sigmoid(gx[g + H + j] + az);
      let nn = tanh_safe(gx[g + 2u * H + j] + r * an);
      let h = (1.0 - z) * nn + z * hprev_j;
      gates[g + j] = r;
      gates[g + H + j] = z;
      gates[g + 2u * H + j] = nn;
      hn_lin[out] = an;
      hs[out] = h;
      shm[nxt + e] = h;
      if (i32(t) == len - 1) { hn[b * H + j] = h; }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn gru_seq_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;
  let T = params.T;
  let H = params.H;
  let G = 3u * H;
  let n = RB * H;
  let m = RB * G;                  // floats in one (RB, 3H) dghh buffer
  let b0 = wid.x * RB;

  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    let nxt = (s & 1u) * m;        // dghh of step t+1 (written by the previous iteration)
    let cur = m - nxt;             // receives dghh of step t
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;
      let j = e % H;
      let b = b0 + bl;
      if (b >= B) { continue; }
      let len = lengths[b];
      let row = b * T + t;
      let g = row * G;
      if (i32(t) >= len) {
        dgates[g + j] = 0.0;
        dgates[g + H + j] = 0.0;
        dgates[g + 2u * H + j] = 0.0;
        dghh[g + j] = 0.0;
        dghh[g + H + j] = 0.0;
        dghh[g + 2u * H + j] = 0.0;
        continue;
      }
      let idx = b * H + j;
      var dh = dhs[row * H + j] + dh_carry[idx];
      if (i32(t) + 1 < len) {
        // Σ_k dghh[b,t+1,k]·W_hh[k,j]: column j of W_hh (adjacent invocations read adjacent j).
        let nb = nxt + bl * G;
        for (var k = 0u; k < G; k++) {
          dh += shm[nb + k] * whh[k * H + j];
        }
      }
      var hprev_j: f32;
      if (t == 0u) { hprev_j = h0[idx]; } else { hprev_j = hs[row * H + j - H]; }
      let r = gates[g + j];
      let z = gates[g + H + j];
      let nn = gates[g + 2u * H + j];
      let dn = dh * (1.0 - z);
      let dz = dh * (hprev_j - nn);
      let dn_pre = dn * (1.0 - nn * nn);
      let dr = dn_pre * hn_lin[row * H + j];
      let dr_pre = dr * r * (1.0 - r);
      let dz_pre = dz * z * (1.0 - z);
      let dn_hh = dn_pre * r;
      dgates[g + j] = dr_pre;
      dgates[g + H + j] = dz_pre;
      dgates[g + 2u * H + j] = dn_pre;
      dghh[g + j] = dr_pre;
      dghh[g + H + j] = dz_pre;
      dghh[g + 2u * H + j] = dn_hh;
      let sb = cur + bl * G;
      shm[sb + j] = dr_pre;
      shm[sb + H + j] = dz_pre;
      shm[sb + 2u * H + j] = dn_hh;
      dh_carry[idx] = dh * z;
    }
    workgroupBarrier();
  }
}
