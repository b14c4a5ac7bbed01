// recurrent/resident.wgsl — the whole-sequence schedule with W_hh resident: sequence.wgsl's
// bindings, equations, length rules, outputs and summation order (bit-identical results), but each
// invocation copies its share of W_hh into a private array (ST, WMAX) once per dispatch instead of
// reading it from storage at every step. Workgroup wid.x owns rows b0 = wid.x·RB .. b0+RB-1.
// res_forward: invocation l holds the gate rows r = l, l+WG, … < G (row r at (r / WG)·H). Per step:
//   1. hh[bl, r] = b_hh[r] + Σ_k W_hh[r, k]·h_prev[bl, k]  (r < SPLIT·H, k increasing); barrier
//   2. forward_cells: per (bl, j), h = cell_forward_row(hh), over h_prev (only its owner reads it
//      now); barrier. Two-pass cells: storageBarrier, 1 for gate SPLIT's rows from cell_pass_input, 2.
// res_backward: invocation l holds the columns j = l, l+WG, … < H (column j, W_hh[0..G, j], at (j / WG)·G):
//   1. dh_rec[bl, j] = Σ_q Σ_r dghh[bl, t+1, qH+r]·W_hh[qH+r, j] (q < SPLIT; per gate, then pairwise); barrier
//   2. backward_cells: per (bl, j), dghh[t] = cell_backward_row(dh_rec), to storage and over dghh[t+1];
//      barrier. Two-pass cells: 1 for gate SPLIT's rows of dghh[t], 2.
// Columns keep the transposed product a per-invocation sum in sequence.wgsl's order. The wrapper
// checks ceil(G/WG)·H, ceil(H/WG)·G <= WMAX (recurrent/wmax_*.wgsl). Workgroup memory: SH = RB·(H + G)
// floats, h or dh_rec (RB, H) at 0, hh or dghh (RB, G) at n = RB·H. subgroup.wgsl shares all but res_*.

override WG: u32 = 256u;  override RB: u32 = 1u;  override SH: u32 = 256u;
var<workgroup> shm: array<f32, SH>;

fn load_h0(l: u32, b0: u32) {
  let H = params.H;
  for (var e = l; e < RB * H; e += WG) { if (b0 + e / H < params.B) { shm[e] = h0[(b0 + e / H) * H + e % H]; } }
}

fn forward_cells(l: u32, b0: u32, t: u32, ph: u32) {
  let H = params.H;  let G = NG * H;  let n = RB * H;
  for (var e = l; e < n; e += WG) {
    let bl = e / H;  let j = e % H;  let b = b0 + bl;
    if (b >= params.B) { continue; }
    let o = (b * params.T + t) * H + j;
    if (i32(t) >= lengths[b]) { if (ph == 0u) { hs[o] = ST(0.0);  cell_forward_skip(b, t, j); }  continue; }
    var a = vec4<f32>(0.0);   // pass 0: gate q's sum in lane q; pass 1: gate SPLIT's sum
    if (ph == 1u) { a = vec4<f32>(shm[n + bl * G + SPLIT * H + j]); } else { for (var q = 0u; q < SPLIT; q++) { a[q] = shm[n + bl * G + q * H + j]; } }
    let h = cell_forward_row(b, t, j, a, shm[e], ph == 1u);
    hs[o] = ST(h);
    if (ph == 1u || SPLIT == NG) { shm[e] = st_round(h); }   // as hs holds it (rounded when ST is f16)
  }
}

fn backward_cells(l: u32, b0: u32, t: u32, ph: u32) {
  let H = params.H;  let G = NG * H;
  for (var e = l; e < RB * H; e += WG) {
    let bl = e / H;  let j = e % H;  let b = b0 + bl;
    if (b >= params.B) { continue; }
    let len = lengths[b];  var d = vec4<f32>(0.0);
    if (i32(t) >= len) { if (ph == 1u) { continue; }  cell_backward_skip(b, t, j); } else { d = cell_backward_row(b, t, j, ph == 0u && i32(t) == len - 1, shm[e], ph == 1u); }
    for (var q = 0u; q < select(NG, SPLIT, ph == 1u); q++) { dghh[(b * params.T + t) * G + q * H + j] = d[q];  shm[RB * H + bl * G + q * H + j] = d[q]; }
  }
}

// Σ_k w[i + k]·x_k, k < H, from a: x_k = shm[at + k], or cell_pass_input(at + k) when `ph` (pass 1).
fn row_sum(w: ptr<function, array<ST, WMAX>>, i: u32, a: f32, at: u32, ph: bool) -> f32 {
  var s = a;   // two loops: a select would evaluate both operands
  if (ph) { for (var k = 0u; k < params.H; k++) { s += f32((*w)[i + k]) * cell_pass_input(at + k); } return s; }
  for (var k = 0u; k < params.H; k++) { s += f32((*w)[i + k]) * shm[at + k]; }
  return s;
}

// Σ_q Σ_r shm[at + qH + r]·w[i + qH + r] over n ≤ 4 gates, one accumulator per gate, summed pairwise.
fn col_sum(w: ptr<function, array<ST, WMAX>>, i: u32, at: u32, n: u32) -> f32 {
  let H = params.H;  var a = vec4<f32>(0.0);
  for (var r = 0u; r < H; r++) {
    a.x += shm[at + r] * f32((*w)[i + r]);
    if (n > 1u) { a.y += shm[at + H + r] * f32((*w)[i + H + r]); }
    if (n > 2u) { a.z += shm[at + 2u * H + r] * f32((*w)[i + 2u * H + r]); }
    if (n > 3u) { a.w += shm[at + 3u * H + r] * f32((*w)[i + 3u * H + r]); }
  }
  return (a.x + a.y) + (a.z + a.w);
}

@compute @workgroup_size(WG)
fn res_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;  let T = params.T;  let H = params.H;  let G = NG * H;  let n = RB * H;  let b0 = wid.x * RB;
  var w: array<ST, WMAX>;
  for (var r = lid.x; r < G; r += WG) { for (var k = 0u; k < H; k++) { w[r / WG * H + k] = whh[r * H + k]; } }
  load_h0(lid.x, b0);
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    for (var ph = 0u; ph < select(1u, 2u, SPLIT < NG); ph++) {
      if (ph == 1u) { storageBarrier(); }   // pass 0's cell_pass_input values are visible
      for (var r = lid.x; r < G; r += WG) {
        if ((r >= SPLIT * H) != (ph == 1u)) { continue; }
        for (var bl = 0u; bl < RB; bl++) {
          let b = b0 + bl;
          if (b >= B || i32(t) >= lengths[b]) { continue; }
          shm[n + bl * G + r] = row_sum(&w, r / WG * H, bhh[r], select(bl * H, (b * T + t) * H, ph == 1u), ph == 1u);
        }
      }
      workgroupBarrier();
      forward_cells(lid.x, b0, t, ph);
      workgroupBarrier();
    }
  }
}

@compute @workgroup_size(WG)
fn res_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;  let T = params.T;  let H = params.H;  let G = NG * H;  let n = RB * H;  let b0 = wid.x * RB;
  var w: array<ST, WMAX>;
  for (var j = lid.x; j < H; j += WG) { for (var r = 0u; r < G; r++) { w[j / WG * G + r] = whh[r * H + j]; } }
  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    for (var ph = 0u; ph < select(1u, 2u, SPLIT < NG); ph++) {
      for (var j = lid.x; j < H; j += WG) {
        for (var bl = 0u; bl < RB; bl++) {
          let b = b0 + bl;   // pass 0 needs dghh[t+1] (t+1 < len), pass 1 dghh[t] (t < len)
          if (b >= B || i32(t + 1u - ph) >= lengths[b]) { continue; }
          let q0 = select(0u, SPLIT, ph == 1u);
          shm[bl * H + j] = col_sum(&w, j / WG * G + q0 * H, n + bl * G + q0 * H, select(SPLIT, 1u, ph == 1u));
        }
      }
      workgroupBarrier();
      backward_cells(lid.x, b0, t, ph);
      workgroupBarrier();
    }
  }
}
