// gru.wgsl — GRU step kernels (PyTorch nn.GRU), one dispatch per timestep, one thread per (b, j).
//
// Gate order r, z, n (G = 3H). The caller precomputes gx = x·W_ihᵀ + b_ih for all timesteps.
// Forward, step t (h_prev = h0[b] when t == 0, else hs[b, t-1]):
//   r      = σ(gx_r + W_hr·h_prev + b_hr)
//   z      = σ(gx_z + W_hz·h_prev + b_hz)
//   hn_lin = W_hn·h_prev + b_hn
//   n      = tanh(gx_n + r ⊙ hn_lin)
//   h      = (1 − z) ⊙ n + z ⊙ h_prev
// Variable lengths: for t >= len[b] hs, gates and hn_lin at (b, t) are written as 0 and hn is left
// alone; at t == len[b]-1 the state is also written to hn[b].
//
// Backward, step t (dispatched for t = T-1 down to 0). dh is the gradient w.r.t. h at (b, t):
//   dh      = dhs[b,t] + dh_carry[b] + (t+1 < len ? Σ_g dghh[b,t+1,g]·W_hh[g,:] : 0)
//   dn      = dh(1 − z);   dz = dh(h_prev − n)
//   dn_pre  = dn(1 − n²);  dr = dn_pre ⊙ hn_lin
//   dr_pre  = dr·r(1 − r); dz_pre = dz·z(1 − z)
//   dgates[b,t] = [dr_pre, dz_pre, dn_pre]        gradient w.r.t. the input-side pre-activations
//   dghh[b,t]   = [dr_pre, dz_pre, dn_pre ⊙ r]    gradient w.r.t. W_hh·h_prev + b_hh
//   dh_carry[b] = dh ⊙ z                          the direct part of the gradient w.r.t. h_prev
// The full gradient w.r.t. h_prev is dghh[b,t]·W_hh + dh ⊙ z; its matrix part needs every gate of
// row b, so the next dispatch (step t-1) or gru_backward_initial adds it.
// dh_carry: before step T-1 the caller fills it with dhn (the gradient w.r.t. the final state hn;
// zeros when unused). Steps t >= len[b] leave it alone and write 0 to dgates/dghh, so at
// t == len[b]-1 the entering gradient is dhs + dhn, as it should be.
// gru_backward_initial: dh0[b] = Σ_g dghh[b,0,g]·W_hh[g,:] + dh_carry[b] (gradient w.r.t. h0).
//
// Bindings (row-major; index: name (layout) access — kernels using it):
//   0  gx       (B, T, 3H)  read        — forward
//   1  whh      (3H, H)     read        — all
//   2  bhh      (3H)        read        — forward
//   3  h0       (B, H)      read        — forward, backward
//   4  lengths  (B) i32     read, each in [1, T] — forward, backward
//   5  hs       (B, T, H)   read_write  — forward writes, backward reads
//   6  gates    (B, T, 3H)  read_write  — post-activation r, z, n; forward writes, backward reads
//   7  hn_lin   (B, T, H)   read_write  — W_hn·h_prev + b_hn; forward writes, backward reads
//   8  hn       (B, H)      read_write  — forward (final state)
//   9  params   uniform {B, T, H, t} — all
//  10  dhs      (B, T, H)   read        — backward
//  11  dgates   (B, T, 3H)  read_write  — backward
//  12  dghh     (B, T, 3H)  read_write  — backward writes step t, reads step t+1; initial reads
//  13  dh_carry (B, H)      read_write  — backward (in place, same thread), initial reads
//  14  dh0      (B, H)      read_write  — initial
// Threads: flat index i = b*H + j over B*H, folded into y (gid.x + gid.y * num_workgroups.x * WG).
//
// Register-blocked variants (gru_step_forward_blocked, gru_step_backward_blocked,
// gru_backward_initial_blocked): same bindings, equations and outputs as the plain kernels, but one
// thread computes unit j for the R consecutive batch rows b = bb*R .. bb*R + R-1 of block bb (rows
// >= B skipped), loading each W_hh weight once for the R rows and keeping R accumulators per gate
// (the lanes of a vec4<f32>, so 1 <= R <= 4). Each row's sum runs over k in increasing order from
// the same start value as in the plain kernel: bit-identical results. Lengths are checked per row;
// lanes past the block's last valid row repeat that row and are not written.
// Threads: flat index i = bb*H + j over ceil(B/R)*H, folded into y as above.

override WG: u32 = 64u;
override R: u32 = 4u;   // batch rows per thread in the blocked kernels, 1..4

struct Params {
  B: u32,
  T: u32,
  H: u32,
  t: u32,   // the timestep of this dispatch (unused by gru_backward_initial)
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
@group(0) @binding(14) var<storage, read_write> dh0: array<f32>;

@compute @workgroup_size(WG)
fn gru_step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  let T = params.T;
  let t = params.t;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let bt = b * T + t;
  let len = lengths[b];
  if (i32(t) >= len) {
    hs[bt * H + j] = 0.0;
    hn_lin[bt * H + j] = 0.0;
    gates[bt * 3u * H + j] = 0.0;
    gates[bt * 3u * H + H + j] = 0.0;
    gates[bt * 3u * H + 2u * H + j] = 0.0;
    return;
  }
  // Hidden-side pre-activations: rows j, H + j, 2H + j of W_hh times h_prev, plus b_hh.
  var ar = bhh[j];
  var az = bhh[H + j];
  var an = bhh[2u * H + j];
  let wr = j * H;
  let wz = (H + j) * H;
  let wn = (2u * H + j) * H;
  var hprev_j: f32;
  if (t == 0u) {
    let base = b * H;
    for (var k = 0u; k < H; k++) {
      let hk = h0[base + k];
      ar += whh[wr + k] * hk;
      az += whh[wz + k] * hk;
      an += whh[wn + k] * hk;
    }
    hprev_j = h0[base + j];
  } else {
    let base = (bt - 1u) * H;
    for (var k = 0u; k < H; k++) {
      let hk = hs[base + k];
      ar += whh[wr + k] * hk;
      az += whh[wz + k] * hk;
      an += whh[wn + k] * hk;
    }
    hprev_j = hs[base + j];
  }
  let g = bt * 3u * H;
  let r = sigmoid(gx[g + j] + ar);
  let z = sigmoid(gx[g + H + j] + az);
  let n = tanh_safe(gx[g + 2u * H + j] + r * an);
  let h = (1.0 - z) * n + z * hprev_j;
  gates[g + j] = r;
  gates[g + H + j] = z;
  gates[g + 2u * H + j] = n;
  hn_lin[bt * H + j] = an;
  hs[bt * H + j] = h;
  if (i32(t) == len - 1) { hn[i] = h; }
}

@compute @workgroup_size(WG)
fn gru_step_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  let T = params.T;
  let t = params.t;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let bt = b * T + t;
  let g = bt * 3u * H;
  let len = lengths[b];
  if (i32(t) >= len) {
    dgates[g + j] = 0.0;
    dgates[g + H + j] = 0.0;
    dgates[g + 2u * H + j] = 0.0;
    dghh[g + j] = 0.0;
    dghh[g + H + j] = 0.0;
    dghh[g + 2u * H + j] = 0.0;
    return;
  }
  var dh = dhs[bt * H + j] + dh_carry[i];
  if (i32(t) + 1 < len) {
    // Σ_g dghh[b, t+1, g] · W_hh[g, j]: column j of W_hh (adjacent threads read adjacent j).
    let nxt = g + 3u * H;
    for (var k = 0u; k < 3u * H; k++) {
      dh += dghh[nxt + k] * whh[k * H + j];
    }
  }
  var hprev_j: f32;
  if (t == 0u) { hprev_j = h0[i]; } else { hprev_j = hs[(bt - 1u) * H + j]; }
  let r = gates[g + j];
  let z = gates[g + H + j];
  let n = gates[g + 2u * H + j];
  let dn = dh * (1.0 - z);
  let dz = dh * (hprev_j - n);
  let dn_pre = dn * (1.0 - n * n);
  let dr = dn_pre * hn_lin[bt * H + j];
  let dr_pre = dr * r * (1.0 - r);
  let dz_pre = dz * z * (1.0 - z);
  dgates[g + j] = dr_pre;
  dgates[g + H + j] = dz_pre;
  dgates[g + 2u * H + j] = dn_pre;
  dghh[g + j] = dr_pre;
  dghh[g + H + j] = dz_pre;
  dghh[g + 2u * H + j] = dn_pre * r;
  dh_carry[i] = dh * z;
}

@compute @workgroup_size(WG)
fn gru_backward_initial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= params.B * H) { return; }
  let b = i / H;
  let j = i % H;
  let g0 = b * params.T * 3u * H;
  var dh = dh_carry[i];
  for (var k = 0u; k < 3u * H; k++) {
    dh += dghh[g0 + k] * whh[k * H + j];
  }
  dh0[i] = dh;
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

// The forward epilogue of row b, unit j (as in gru_step_forward, given the hidden-side sums).
fn gru_forward_emit(b: u32, j: u32, ar: f32, az: f32, an: f32) {
  let H = params.H;
  let t = params.t;
  let bt = b * params.T + t;
  let len = lengths[b];
  let g = bt * 3u * H;
  if (i32(t) >= len) {
    hs[bt * H + j] = 0.0;
    hn_lin[bt * H + j] = 0.0;
    gates[g + j] = 0.0;
    gates[g + H + j] = 0.0;
    gates[g + 2u * H + j] = 0.0;
    return;
  }
  var hprev_j: f32;
  if (t == 0u) { hprev_j = h0[b * H + j]; } else { hprev_j = hs[(bt - 1u) * H + j]; }
  let r = sigmoid(gx[g + j] + ar);
  let z = sigmoid(gx[g + H + j] + az);
  let n = tanh_safe(gx[g + 2u * H + j] + r * an);
  let h = (1.0 - z) * n + z * hprev_j;
  gates[g + j] = r;
  gates[g + H + j] = z;
  gates[g + 2u * H + j] = n;
  hn_lin[bt * H + j] = an;
  hs[bt * H + j] = h;
  if (i32(t) == len - 1) { hn[b * H + j] = h; }
}

@compute @workgroup_size(WG)
fn gru_step_forward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let rows = block_rows(bb);
  var ar = vec4<f32>(bhh[j]);
  var az = vec4<f32>(bhh[H + j]);
  var an = vec4<f32>(bhh[2u * H + j]);
  let wr = j * H;
  let wz = (H + j) * H;
  let wn = (2u * H + j) * H;
  if (params.t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k]);
      ar += whh[wr + k] * hk;
      az += whh[wz + k] * hk;
      an += whh[wn + k] * hk;
    }
  } else {
    let p = (rows * params.T + vec4<u32>(params.t - 1u)) * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(hs[p.x + k], hs[p.y + k], hs[p.z + k], hs[p.w + k]);
      ar += whh[wr + k] * hk;
      az += whh[wz + k] * hk;
      an += whh[wn + k] * hk;
    }
  }
  let n = block_count(bb);
  gru_forward_emit(rows.x, j, ar.x, az.x, an.x);
  if (n > 1u) { gru_forward_emit(rows.y, j, ar.y, az.y, an.y); }
  if (n > 2u) { gru_forward_emit(rows.z, j, ar.z, az.z, an.z); }
  if (n > 3u) { gru_forward_emit(rows.w, j, ar.w, az.w, an.w); }
}

// The backward epilogue of row b, unit j; dh_rec = dhs + dh_carry + Σ_k dghh[b,t+1,k]·W_hh[k,j]
// (increasing k), used only where t+1 < len (else dh = dhs + dh_carry, as in the plain kernel).
fn gru_backward_emit(b: u32, j: u32, dh_rec: f32) {
  let H = params.H;
  let t = params.t;
  let bt = b * params.T + t;
  let g = bt * 3u * H;
  let i = b * H + j;
  let len = lengths[b];
  if (i32(t) >= len) {
    dgates[g + j] = 0.0;
    dgates[g + H + j] = 0.0;
    dgates[g + 2u * H + j] = 0.0;
    dghh[g + j] = 0.0;
    dghh[g + H + j] = 0.0;
    dghh[g + 2u * H + j] = 0.0;
    return;
  }
  var dh = dh_rec;
  if (!(i32(t) + 1 < len)) { dh = dhs[bt * H + j] + dh_carry[i]; }
  var hprev_j: f32;
  if (t == 0u) { hprev_j = h0[i]; } else { hprev_j = hs[(bt - 1u) * H + j]; }
  let r = gates[g + j];
  let z = gates[g + H + j];
  let n = gates[g + 2u * H + j];
  let dn = dh * (1.0 - z);
  let dz = dh * (hprev_j - n);
  let dn_pre = dn * (1.0 - n * n);
  let dr = dn_pre * hn_lin[bt * H + j];
  let dr_pre = dr * r * (1.0 - r);
  let dz_pre = dz * z * (1.0 - z);
  dgates[g + j] = dr_pre;
  dgates[g + H + j] = dz_pre;
  dgates[g + 2u * H + j] = dn_pre;
  dghh[g + j] = dr_pre;
  dghh[g + H + j] = dz_pre;
  dghh[g + 2u * H + j] = dn_pre * r;
  dh_carry[i] = dh * z;
}

@compute @workgroup_size(WG)
fn gru_step_backward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let t = params.t;
  let rows = block_rows(bb);
  let e = (rows * params.T + vec4<u32>(t)) * H + vec4<u32>(j);
  let c = rows * H + vec4<u32>(j);
  var dh = vec4<f32>(dhs[e.x] + dh_carry[c.x], dhs[e.y] + dh_carry[c.y], dhs[e.z] + dh_carry[c.z], dhs[e.w] + dh_carry[c.w]);
  if (t + 1u < params.T) {
    // Lanes whose step t+1 is past their length are recomputed in the epilogue.
    let nxt = (rows * params.T + vec4<u32>(t + 1u)) * 3u * H;
    for (var k = 0u; k < 3u * H; k++) {
      let w = whh[k * H + j];
      dh += vec4<f32>(dghh[nxt.x + k], dghh[nxt.y + k], dghh[nxt.z + k], dghh[nxt.w + k]) * w;
    }
  }
  let n = block_count(bb);
  gru_backward_emit(rows.x, j, dh.x);
  if (n > 1u) { gru_backward_emit(rows.y, j, dh.y); }
  if (n > 2u) { gru_backward_emit(rows.z, j, dh.z); }
  if (n > 3u) { gru_backward_emit(rows.w, j, dh.w); }
}

@compute @workgroup_size(WG)
fn gru_backward_initial_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let H = params.H;
  if (i >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = i / H;
  let j = i % H;
  let rows = block_rows(bb);
  let c = rows * H + vec4<u32>(j);
  let g0 = rows * params.T * 3u * H;
  var dh = vec4<f32>(dh_carry[c.x], dh_carry[c.y], dh_carry[c.z], dh_carry[c.w]);
  for (var k = 0u; k < 3u * H; k++) {
    let w = whh[k * H + j];
    dh += vec4<f32>(dghh[g0.x + k], dghh[g0.y + k], dghh[g0.z + k], dghh[g0.w + k]) * w;
  }
  let n = block_count(bb);
  for (var q = 0u; q < n; q++) { dh0[c[q]] = dh[q]; }
}
