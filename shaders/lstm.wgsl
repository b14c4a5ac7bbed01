// lstm.wgsl — LSTM step kernels (PyTorch nn.LSTM), one dispatch per timestep, one thread per (b, j), j < H.
//
// Gate order i, f, g, o (G = 4H). The caller precomputes gx = x·W_ihᵀ + b_ih for all timesteps.
// lstm_step_forward, step t (h_prev, c_prev = h0[b], c0[b] when t == 0, else hs, cs at [b, t-1]):
//   pre_q = gx[b,t,qH+j] + bhh[qH+j] + Σ_k whh[qH+j, k]·h_prev[k]       q = 0..3 (i, f, g, o)
//   i = σ(pre_i)   f = σ(pre_f)   g = tanh(pre_g)   o = σ(pre_o)
//   c = f·c_prev + i·g            h = o·tanh(c)
//   For t >= len[b] (len = lengths[b]) it writes 0 to hs, cs and gates at [b, t].
// lstm_transpose_whh: whh_t[k, r] = whh[r, k] — W_hh as (H, G), recorded once before the steps.
// lstm_step_forward_t: lstm_step_forward reading whh_t, so that neighbouring threads (j, j+1)
//   read neighbouring weights (coalesced on a GPU, vector loads on a CPU driver) instead of
//   rows H floats apart. Same arithmetic in the same order: bit-identical results.
// lstm_final_state, after step T-1: hn[b] = hs[b, len[b]-1], cn[b] = cs[b, len[b]-1] (the state at
//   each row's last valid step). The step kernel does not write hn, cn itself: that would bind 11
//   storage buffers.
// lstm_step_backward, step t (dispatched for t = T-1 down to 0):
//   dh = dhs[b,t,j] + (t == len-1 ? dhn[b,j] : 0) + (t+1 < len ? Σ_r dgates[b,t+1,r]·whh[r,j] : 0)
//   dc = (t == len-1 ? dcn[b,j] : dc_carry[b,j]) + dh·o·(1 − tanh(c)²)
//   dgates[b,t] = [dc·g·i(1−i),  dc·c_prev·f(1−f),  dc·i·(1−g²),  dh·tanh(c)·o(1−o)]
//   dc_carry[b,j] = dc·f          (the gradient w.r.t. c_prev)
//   For t >= len: dgates[b,t] = 0 and dc_carry is left alone. The caller clears dc_carry before
//   t = T-1. dgates is the gradient w.r.t. the gate pre-activations on both sides (the input GEMM
//   and W_hh·h_prev + b_hh): dW_ih = dgatesᵀ·X, dW_hh = dgatesᵀ·H_prev, db_ih = db_hh = Σ dgates.
// lstm_backward_initial, after the backward step at t = 0 (always valid, lengths >= 1):
//   dh0[b,j] = Σ_r dgates[b,0,r]·whh[r,j]      dc0[b,j] = dc_carry[b,j]
//
// Bindings (row-major; index: name (layout) access — kernels using it):
//   0  gx       (B, T, G)  read        — forward
//   1  whh      (G, H)     read        — forward, backward, initial
//   2  bhh      (G)        read        — forward
//   3  h0       (B, H)     read        — forward
//   4  c0       (B, H)     read        — forward, backward
//   5  lengths  (B) i32    read, each in [1, T] — forward, final, backward
//   6  hs       (B, T, H)  read_write  — forward writes (reads row t-1), final reads
//   7  cs       (B, T, H)  read_write  — forward writes (reads row t-1), final and backward read
//   8  gates    (B, T, G)  read_write  — post-activation i, f, g, o; forward writes, backward reads
//   9  params   uniform {B, T, H, t} — all (t unused by final and initial)
//  10  hn       (B, H)     read_write  — final
//  11  cn       (B, H)     read_write  — final
//  12  dhs      (B, T, H)  read        — backward: gradient w.r.t. hs
//  13  dhn      (B, H)     read        — backward: gradient w.r.t. hn (zeros when unused)
//  14  dcn      (B, H)     read        — backward: gradient w.r.t. cn (zeros when unused)
//  15  dgates   (B, T, G)  read_write  — backward writes step t, reads step t+1; initial reads
//  16  dc_carry (B, H)     read_write  — backward (in place, same thread), initial reads
//  17  dh0      (B, H)     read_write  — initial
//  18  dc0      (B, H)     read_write  — initial
//  19  whh_t    (H, G)     read_write  — transpose writes, forward_t reads
// Threads: flat index idx = b*H + j over B*H, folded into y (gid.x + gid.y * num_workgroups.x * WG).
//
// Register-blocked variants (lstm_step_forward_blocked, lstm_step_forward_blocked_t,
// lstm_step_backward_blocked, lstm_backward_initial_blocked): same bindings, equations and outputs
// as the plain kernels of the same name, but one thread computes unit j for the R consecutive batch
// rows b = bb*R .. bb*R + R-1 of block bb (rows >= B skipped, so any B works), loading each W_hh
// weight once for the R rows and keeping R accumulators per gate (the lanes of a vec4<f32>, so
// 1 <= R <= 4). Each row's sum still runs over k (or r) in increasing order from the same start
// value, so the results are bit-identical to the plain kernels. Lengths are checked per row. Lanes
// past the block's last valid row (past B, or past R when R < 4) repeat that row and are not written.
// Threads: flat index idx = bb*H + j over ceil(B/R)*H, folded into y as above.

override WG: u32 = 64u;
override R: u32 = 4u;   // batch rows per thread in the blocked kernels, 1..4

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
@group(0) @binding(4) var<storage, read> c0: array<f32>;
@group(0) @binding(5) var<storage, read> lengths: array<i32>;
@group(0) @binding(6) var<storage, read_write> hs: array<f32>;
@group(0) @binding(7) var<storage, read_write> cs: array<f32>;
@group(0) @binding(8) var<storage, read_write> gates: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;
@group(0) @binding(10) var<storage, read_write> hn: array<f32>;
@group(0) @binding(11) var<storage, read_write> cn: array<f32>;
@group(0) @binding(12) var<storage, read> dhs: array<f32>;
@group(0) @binding(13) var<storage, read> dhn: array<f32>;
@group(0) @binding(14) var<storage, read> dcn: array<f32>;
@group(0) @binding(15) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(16) var<storage, read_write> dc_carry: array<f32>;
@group(0) @binding(17) var<storage, read_write> dh0: array<f32>;
@group(0) @binding(18) var<storage, read_write> dc0: array<f32>;
@group(0) @binding(19) var<storage, read_write> whh_t: array<f32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// h_prev[b, k] and c_prev[b, k] of the current step t.
fn h_prev(b: u32, k: u32) -> f32 {
  if (params.t == 0u) { return h0[b * params.H + k]; }
  return hs[(b * params.T + params.t - 1u) * params.H + k];
}

fn c_prev(b: u32, k: u32) -> f32 {
  if (params.t == 0u) { return c0[b * params.H + k]; }
  return cs[(b * params.T + params.t - 1u) * params.H + k];
}

@compute @workgroup_size(WG)
fn lstm_step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;
  let j = idx % H;
  let t = params.t;
  let G = 4u * H;
  let row = b * params.T + t;      // (b, t)
  let out = row * H + j;           // hs / cs element (b, t, j)
  let gbase = row * G;             // start of the gx / gates row (b, t)

  if (i32(t) >= lengths[b]) {
    hs[out] = 0.0;
    cs[out] = 0.0;
    for (var q = 0u; q < 4u; q++) { gates[gbase + q * H + j] = 0.0; }
    return;
  }

  // Pre-activations: input projection + recurrent bias + rows qH + j of W_hh times h_prev.
  var pre_i = gx[gbase + j] + bhh[j];
  var pre_f = gx[gbase + H + j] + bhh[H + j];
  var pre_g = gx[gbase + 2u * H + j] + bhh[2u * H + j];
  var pre_o = gx[gbase + 3u * H + j] + bhh[3u * H + j];
  let wi = j * H;                  // start of W_hh row j (gate i)
  let wf = (H + j) * H;
  let wg = (2u * H + j) * H;
  let wo = (3u * H + j) * H;
  for (var k = 0u; k < H; k++) {
    let hk = h_prev(b, k);
    pre_i += whh[wi + k] * hk;
    pre_f += whh[wf + k] * hk;
    pre_g += whh[wg + k] * hk;
    pre_o += whh[wo + k] * hk;
  }

  let i = sigmoid(pre_i);
  let f = sigmoid(pre_f);
  let g = tanh_safe(pre_g);
  let o = sigmoid(pre_o);
  let c = f * c_prev(b, j) + i * g;
  hs[out] = o * tanh_safe(c);
  cs[out] = c;
  gates[gbase + j] = i;
  gates[gbase + H + j] = f;
  gates[gbase + 2u * H + j] = g;
  gates[gbase + 3u * H + j] = o;
}

@compute @workgroup_size(WG)
fn lstm_transpose_whh(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  let G = 4u * H;
  if (idx >= G * H) { return; }
  let r = idx / H;
  let k = idx % H;
  whh_t[k * G + r] = whh[idx];
}

@compute @workgroup_size(WG)
fn lstm_step_forward_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;
  let j = idx % H;
  let t = params.t;
  let G = 4u * H;
  let row = b * params.T + t;
  let out = row * H + j;
  let gbase = row * G;

  if (i32(t) >= lengths[b]) {
    hs[out] = 0.0;
    cs[out] = 0.0;
    for (var q = 0u; q < 4u; q++) { gates[gbase + q * H + j] = 0.0; }
    return;
  }

  var pre_i = gx[gbase + j] + bhh[j];
  var pre_f = gx[gbase + H + j] + bhh[H + j];
  var pre_g = gx[gbase + 2u * H + j] + bhh[2u * H + j];
  var pre_o = gx[gbase + 3u * H + j] + bhh[3u * H + j];
  for (var k = 0u; k < H; k++) {
    let hk = h_prev(b, k);
    let w = k * G + j;             // whh_t[k, qH + j] = whh[qH + j, k]
    pre_i += whh_t[w] * hk;
    pre_f += whh_t[w + H] * hk;
    pre_g += whh_t[w + 2u * H] * hk;
    pre_o += whh_t[w + 3u * H] * hk;
  }

  let i = sigmoid(pre_i);
  let f = sigmoid(pre_f);
  let g = tanh_safe(pre_g);
  let o = sigmoid(pre_o);
  let c = f * c_prev(b, j) + i * g;
  hs[out] = o * tanh_safe(c);
  cs[out] = c;
  gates[gbase + j] = i;
  gates[gbase + H + j] = f;
  gates[gbase + 2u * H + j] = g;
  gates[gbase + 3u * H + j] = o;
}

@compute @workgroup_size(WG)
fn lstm_final_state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;
  let j = idx % H;
  // A length outside [1, T] is clamped into it so that the reads stay inside row b.
  let last = u32(clamp(lengths[b], 1, i32(params.T))) - 1u;
  let src = (b * params.T + last) * H + j;
  hn[idx] = hs[src];
  cn[idx] = cs[src];
}

@compute @workgroup_size(WG)
fn lstm_step_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;
  let j = idx % H;
  let t = params.t;
  let G = 4u * H;
  let len = lengths[b];
  let row = b * params.T + t;      // (b, t)
  let gbase = row * G;             // start of the gates / dgates row (b, t)

  if (i32(t) >= len) {
    for (var q = 0u; q < 4u; q++) { dgates[gbase + q * H + j] = 0.0; }
    return;
  }
  let is_last = i32(t) == len - 1;

  // Gradient w.r.t. h at (b, t): from the output, from hn, and through W_hh from step t+1.
  var dh = dhs[row * H + j];
  if (is_last) {
    dh += dhn[idx];
  } else {
    let next = gbase + G;          // dgates row (b, t+1), written by the previous dispatch
    for (var r = 0u; r < G; r++) { // r: a row of W_hh, i.e. one gate pre-activation
      dh += dgates[next + r] * whh[r * H + j];
    }
  }

  let i = gates[gbase + j];
  let f = gates[gbase + H + j];
  let g = gates[gbase + 2u * H + j];
  let o = gates[gbase + 3u * H + j];
  let tc = tanh_safe(cs[row * H + j]);
  var dc_in: f32;
  if (is_last) { dc_in = dcn[idx]; } else { dc_in = dc_carry[idx]; }
  let dc = dc_in + dh * o * (1.0 - tc * tc);

  dgates[gbase + j] = dc * g * i * (1.0 - i);
  dgates[gbase + H + j] = dc * c_prev(b, j) * f * (1.0 - f);
  dgates[gbase + 2u * H + j] = dc * i * (1.0 - g * g);
  dgates[gbase + 3u * H + j] = dh * tc * o * (1.0 - o);
  dc_carry[idx] = dc * f;
}

@compute @workgroup_size(WG)
fn lstm_backward_initial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;
  let j = idx % H;
  let G = 4u * H;
  let base = b * params.T * G;     // dgates row (b, 0)
  var dh = 0.0;
  for (var r = 0u; r < G; r++) {   // r: a row of W_hh, i.e. one gate pre-activation
    dh += dgates[base + r] * whh[r * H + j];
  }
  dh0[idx] = dh;
  dc0[idx] = dc_carry[idx];
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

// The forward epilogue of row b, unit j (identical to lstm_step_forward's, given the pre-activations).
fn lstm_forward_emit(b: u32, j: u32, pre_i: f32, pre_f: f32, pre_g: f32, pre_o: f32) {
  let H = params.H;
  let t = params.t;
  let row = b * params.T + t;
  let out = row * H + j;
  let gbase = row * 4u * H;
  if (i32(t) >= lengths[b]) {
    hs[out] = 0.0;
    cs[out] = 0.0;
    for (var q = 0u; q < 4u; q++) { gates[gbase + q * H + j] = 0.0; }
    return;
  }
  let i = sigmoid(pre_i);
  let f = sigmoid(pre_f);
  let g = tanh_safe(pre_g);
  let o = sigmoid(pre_o);
  let c = f * c_prev(b, j) + i * g;
  hs[out] = o * tanh_safe(c);
  cs[out] = c;
  gates[gbase + j] = i;
  gates[gbase + H + j] = f;
  gates[gbase + 2u * H + j] = g;
  gates[gbase + 3u * H + j] = o;
}

fn lstm_forward_emit_block(bb: u32, j: u32, rows: vec4<u32>, pi: vec4<f32>, pf: vec4<f32>, pg: vec4<f32>, po: vec4<f32>) {
  let n = block_count(bb);
  lstm_forward_emit(rows.x, j, pi.x, pf.x, pg.x, po.x);
  if (n > 1u) { lstm_forward_emit(rows.y, j, pi.y, pf.y, pg.y, po.y); }
  if (n > 2u) { lstm_forward_emit(rows.z, j, pi.z, pf.z, pg.z, po.z); }
  if (n > 3u) { lstm_forward_emit(rows.w, j, pi.w, pf.w, pg.w, po.w); }
}

// gx[row, t, q*H + j] + bhh[q*H + j] for the 4 lanes (the start value of each pre-activation).
fn lstm_pre_start(rows: vec4<u32>, j: u32, q: u32) -> vec4<f32> {
  let G = 4u * params.H;
  let e = (rows * params.T + vec4<u32>(params.t)) * G + vec4<u32>(q * params.H + j);
  return vec4<f32>(gx[e.x], gx[e.y], gx[e.z], gx[e.w]) + bhh[q * params.H + j];
}

@compute @workgroup_size(WG)
fn lstm_step_forward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;
  let j = idx % H;
  let rows = block_rows(bb);
  var pre_i = lstm_pre_start(rows, j, 0u);
  var pre_f = lstm_pre_start(rows, j, 1u);
  var pre_g = lstm_pre_start(rows, j, 2u);
  var pre_o = lstm_pre_start(rows, j, 3u);
  let wi = j * H;
  let wf = (H + j) * H;
  let wg = (2u * H + j) * H;
  let wo = (3u * H + j) * H;
  if (params.t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k]);
      pre_i += whh[wi + k] * hk;
      pre_f += whh[wf + k] * hk;
      pre_g += whh[wg + k] * hk;
      pre_o += whh[wo + k] * hk;
    }
  } else {
    let p = (rows * params.T + vec4<u32>(params.t - 1u)) * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(hs[p.x + k], hs[p.y + k], hs[p.z + k], hs[p.w + k]);
      pre_i += whh[wi + k] * hk;
      pre_f += whh[wf + k] * hk;
      pre_g += whh[wg + k] * hk;
      pre_o += whh[wo + k] * hk;
    }
  }
  lstm_forward_emit_block(bb, j, rows, pre_i, pre_f, pre_g, pre_o);
}

@compute @workgroup_size(WG)
fn lstm_step_forward_blocked_t(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;
  let j = idx % H;
  let G = 4u * H;
  let rows = block_rows(bb);
  var pre_i = lstm_pre_start(rows, j, 0u);
  var pre_f = lstm_pre_start(rows, j, 1u);
  var pre_g = lstm_pre_start(rows, j, 2u);
  var pre_o = lstm_pre_start(rows, j, 3u);
  if (params.t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k]);
      let w = k * G + j;           // whh_t[k, qH + j] = whh[qH + j, k]
      pre_i += whh_t[w] * hk;
      pre_f += whh_t[w + H] * hk;
      pre_g += whh_t[w + 2u * H] * hk;
      pre_o += whh_t[w + 3u * H] * hk;
    }
  } else {
    let p = (rows * params.T + vec4<u32>(params.t - 1u)) * H;
    for (var k = 0u; k < H; k++) {
      let hk = vec4<f32>(hs[p.x + k], hs[p.y + k], hs[p.z + k], hs[p.w + k]);
      let w = k * G + j;
      pre_i += whh_t[w] * hk;
      pre_f += whh_t[w + H] * hk;
      pre_g += whh_t[w + 2u * H] * hk;
      pre_o += whh_t[w + 3u * H] * hk;
    }
  }
  lstm_forward_emit_block(bb, j, rows, pre_i, pre_f, pre_g, pre_o);
}

// The backward epilogue of row b, unit j; dh_rec = dhs[b,t,j] + Σ_r dgates[b,t+1,r]·whh[r,j]
// (in increasing r; only used when t+1 < len, i.e. it is valid whenever it is used).
fn lstm_backward_emit(b: u32, j: u32, dh_rec: f32) {
  let H = params.H;
  let t = params.t;
  let G = 4u * H;
  let len = lengths[b];
  let row = b * params.T + t;
  let gbase = row * G;
  let idx = b * H + j;
  if (i32(t) >= len) {
    for (var q = 0u; q < 4u; q++) { dgates[gbase + q * H + j] = 0.0; }
    return;
  }
  let is_last = i32(t) == len - 1;
  var dh = dh_rec;
  if (is_last) { dh = dhs[row * H + j] + dhn[idx]; }
  let i = gates[gbase + j];
  let f = gates[gbase + H + j];
  let g = gates[gbase + 2u * H + j];
  let o = gates[gbase + 3u * H + j];
  let tc = tanh_safe(cs[row * H + j]);
  var dc_in: f32;
  if (is_last) { dc_in = dcn[idx]; } else { dc_in = dc_carry[idx]; }
  let dc = dc_in + dh * o * (1.0 - tc * tc);
  dgates[gbase + j] = dc * g * i * (1.0 - i);
  dgates[gbase + H + j] = dc * c_prev(b, j) * f * (1.0 - f);
  dgates[gbase + 2u * H + j] = dc * i * (1.0 - g * g);
  dgates[gbase + 3u * H + j] = dh * tc * o * (1.0 - o);
  dc_carry[idx] = dc * f;
}

@compute @workgroup_size(WG)
fn lstm_step_backward_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;
  let j = idx % H;
  let t = params.t;
  let G = 4u * H;
  let rows = block_rows(bb);
  let e = (rows * params.T + vec4<u32>(t)) * H + vec4<u32>(j);
  var dh = vec4<f32>(dhs[e.x], dhs[e.y], dhs[e.z], dhs[e.w]);
  if (t + 1u < params.T) {
    // Rows whose step t+1 is past their length read zeros there (or are replaced by the is_last
    // value in the epilogue): the lanes are computed regardless and discarded where unused.
    let next = (rows * params.T + vec4<u32>(t + 1u)) * G;
    for (var r = 0u; r < G; r++) {
      let w = whh[r * H + j];
      dh += vec4<f32>(dgates[next.x + r], dgates[next.y + r], dgates[next.z + r], dgates[next.w + r]) * w;
    }
  }
  let n = block_count(bb);
  lstm_backward_emit(rows.x, j, dh.x);
  if (n > 1u) { lstm_backward_emit(rows.y, j, dh.y); }
  if (n > 2u) { lstm_backward_emit(rows.z, j, dh.z); }
  if (n > 3u) { lstm_backward_emit(rows.w, j, dh.w); }
}

@compute @workgroup_size(WG)
fn lstm_backward_initial_blocked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);
  let H = params.H;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;
  let j = idx % H;
  let G = 4u * H;
  let rows = block_rows(bb);
  let base = rows * params.T * G;  // dgates rows (b, 0)
  var dh = vec4<f32>(0.0);
  for (var r = 0u; r < G; r++) {
    let w = whh[r * H + j];
    dh += vec4<f32>(dgates[base.x + r], dgates[base.y + r], dgates[base.z + r], dgates[base.w + r]) * w;
  }
  let n = block_count(bb);
  for (var q = 0u; q < n; q++) {
    let o = rows[q] * H + j;
    dh0[o] = dh[q];
    dc0[o] = dc_carry[o];
  }
}
