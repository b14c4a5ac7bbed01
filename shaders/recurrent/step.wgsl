// recurrent/step.wgsl — the per-timestep schedule of any cell: one dispatch per step t. Bindings:
// recurrent/layout.wgsl and the cell's storage file; equations: cells/<cell>.wgsl.
//
// One invocation computes unit j (backward: units j0 .. j0+3, each dghh load serving 4) for the R rows
// bb·R .. bb·R + R-1 of block bb (rows >= B skipped), loading each W_hh weight once for them: one
// accumulator per row in the lanes of a vec4<f32> (R <= 4; R = 1: one row's gates, or backward its 4
// units, in the lanes). Each row's sum runs in the same order from the same start whatever R is
// (bit-identical results); lanes past the last row repeat it, unwritten. When H % 4 == 0 the sums
// over k (r) run in blocks of 4 from 4-vector loads (the host then assembles the module with
// views_vec4.wgsl, where such a load is one load: 1.3x on lavapipe), adding the same products in
// the same order as one k at a time.
// Invocations: idx = bb·H + j < ceil(B/R)·H (backward bb·ceil(H/4) + j0/4), folded into y (gid.x + gid.y · num_workgroups.x · WG).
//
// step_forward, step t (h_prev = h0 at t = 0, else hs[b, t-1]):
//   hh_q = b_hh[qH+j] + Σ_k W_hh[qH+j, k]·h_prev[k]   (k increasing; q < SPLIT, = NG for one pass)
//   t < len[b]: hs[b,t,j] = cell_forward_row(…) (which saves what backward needs);
//   else hs[b,t,j] = 0 and cell_forward_skip zeroes the saves
// step_backward, step t = T-1 down to 0 (dghh of step t+1 from the previous dispatch, 0 past len):
//   dh_rec = Σ_r dghh[b,t+1,r]·W_hh[r,j]   (r increasing; 0 at t = T-1)
//   t < len[b]: dghh[b,t] = cell_backward_row(…, t == len-1, dh_rec); else 0 (and cell_backward_skip)
// backward_initial, after step 0 (every length is >= 1): cell_backward_initial(b, j, Σ_r dghh[b,0,r]·W_hh[r,j])
// Two-pass cells (SPLIT < NG) dispatch each step twice, PASS = 0 then 1: the sums over r above stop at
// SPLIT·H; pass 1 sums gate SPLIT's rows alone (forward: over cell_pass_input at t; backward: dghh at t).
// final_state, after the forward, one invocation per (b, j): hn[b] = hs[b, len-1] and
//   cell_final_state (e.g. the LSTM's cn); len is clamped into [1, T] so reads stay inside row b.

override WG: u32 = 64u;  override R: u32 = 4u;  override PASS: u32 = 0u;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// Number of valid rows of block bb, and the rows of its 4 lanes (past the last valid row, repeats it).
fn block_count(bb: u32) -> u32 { return min(R, params.B - bb * R); }
fn block_rows(bb: u32) -> vec4<u32> { return min(vec4<u32>(bb * R) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(bb * R + block_count(bb) - 1u)); }

// W_hh's row of gate q, unit j; row j again for the gates q >= SPLIT (loaded, then masked out).
fn gate_row(q: u32, j: u32) -> u32 { return select(j, q * params.H + j, q < SPLIT); }

// h0[i .. i+3] (h0 stays an array of elements: it is read at t = 0 only).
fn h0_4(i: u32) -> vec4<f32> { return vec4<f32>(h0[i], h0[i + 1u], h0[i + 2u], h0[i + 3u]); }

// The forward's sums a (step_forward) plus W_hh[qH + j, k + i]·hk[i] over i = 0..3 in order, hk[i]:
// the rows' h_prev[k + i] (R = 1: lane x, into a[0]'s gate lanes). k % 4 == 0, H % 4 == 0.
fn add_block(a: mat4x4<f32>, j: u32, k: u32, hk: mat4x4<f32>) -> mat4x4<f32> {
  let H = params.H;  var s = a;
  if (R == 1u) {
    let w = transpose(mat4x4<f32>(whh4_at(gate_row(0u, j) * H + k), whh4_at(gate_row(1u, j) * H + k), whh4_at(gate_row(2u, j) * H + k), whh4_at(gate_row(3u, j) * H + k)));
    let m = vec4<bool>(SPLIT > 0u, SPLIT > 1u, SPLIT > 2u, SPLIT > 3u);   // w[i]: the gates' weights at k+i
    s[0] += select(vec4<f32>(0.0), w[0] * hk[0].x, m);  s[0] += select(vec4<f32>(0.0), w[1] * hk[1].x, m);
    s[0] += select(vec4<f32>(0.0), w[2] * hk[2].x, m);  s[0] += select(vec4<f32>(0.0), w[3] * hk[3].x, m);  return s;
  }
  s[0] = fma4(s[0], whh4_at(j * H + k), hk);
  if (SPLIT > 1u) { s[1] = fma4(s[1], whh4_at((H + j) * H + k), hk); }
  if (SPLIT > 2u) { s[2] = fma4(s[2], whh4_at((2u * H + j) * H + k), hk); }
  if (SPLIT > 3u) { s[3] = fma4(s[3], whh4_at((3u * H + j) * H + k), hk); }
  return s;
}

// a + w[i]·hk[i] for i = 0..3 in order. Written out with constant indices: a compiler that does not
// unroll (SwiftShader) would index the matrix in memory.
fn fma4(a: vec4<f32>, w: vec4<f32>, hk: mat4x4<f32>) -> vec4<f32> {
  var s = a;  s += w.x * hk[0];  s += w.y * hk[1];  s += w.z * hk[2];  s += w.w * hk[3];  return s;
}

// The same for one k, hk: the rows' h_prev[k].
fn add_one(a: mat4x4<f32>, j: u32, k: u32, hk: vec4<f32>) -> mat4x4<f32> {
  let H = params.H;  var s = a;
  if (R == 1u) { for (var q = 0u; q < SPLIT; q++) { s[0][q] += whh_at((q * H + j) * H + k) * hk.x; }  return s; }   // unrolled
  s[0] += whh_at(j * H + k) * hk;
  if (SPLIT > 1u) { s[1] += whh_at((H + j) * H + k) * hk; }
  if (SPLIT > 2u) { s[2] += whh_at((2u * H + j) * H + k) * hk; }
  if (SPLIT > 3u) { s[3] += whh_at((3u * H + j) * H + k) * hk; }
  return s;
}

// W_hh[r, js] for the 4 units js (consecutive and inside the row when H % 4 == 0).
fn whh_units(r: u32, js: vec4<u32>) -> vec4<f32> {
  let H = params.H;  if (H % 4u == 0u) { return whh4_at(r * H + js.x); }
  return vec4<f32>(whh_at(r * H + js.x), whh_at(r * H + js.y), whh_at(r * H + js.z), whh_at(r * H + js.w));
}

// m[u] + dg·w[u] for the 4 units u (dg: the rows' dghh at one r, w: W_hh[r, the units]).
fn add_units(m: mat4x4<f32>, dg: vec4<f32>, w: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(m[0] + dg * w.x, m[1] + dg * w.y, m[2] + dg * w.z, m[3] + dg * w.w);
}

// Σ_r dghh[b, s, r]·W_hh[r, j0 + u] over r0 <= r < r1 (r increasing) in column u, one lane per row b of `rows`.
// Blocks of 4 r (4-vector loads along r and along the units), then the rest one r at a time.
fn dghh_times_whh(rows: vec4<u32>, s: u32, j0: u32, r0: u32, r1: u32) -> mat4x4<f32> {
  let H = params.H;  let at = (rows * params.T + vec4<u32>(s)) * NG * H;  let js = min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(H - 1u));
  var m = mat4x4<f32>();  var one = vec4<f32>(0.0);   // R = 1: the 4 units' sums of one row (4 lanes of one row would load each term 4 times)
  let r4 = select(r0, r0 + ((r1 - r0) & ~3u), H % 4u == 0u);
  for (var r = r0; r < r4; r += 4u) {
    let w = mat4x4<f32>(whh_units(r, js), whh_units(r + 1u, js), whh_units(r + 2u, js), whh_units(r + 3u, js));   // w[i]: row r+i
    if (R == 1u) { let d = dghh4_at(at.x + r);  one += d.x * w[0];  one += d.y * w[1];  one += d.z * w[2];  one += d.w * w[3];  continue; }
    let dg = transpose(mat4x4<f32>(dghh4_at(at.x + r), dghh4_at(at.y + r), dghh4_at(at.z + r), dghh4_at(at.w + r)));   // dg[i]: the rows at r+i
    m = add_units(add_units(add_units(add_units(m, dg[0], w[0]), dg[1], w[1]), dg[2], w[2]), dg[3], w[3]);
  }
  for (var r = r4; r < r1; r++) {
    let w = whh_units(r, js);
    if (R == 1u) { one += dghh_at(at.x + r) * w;  continue; }
    m = add_units(m, vec4<f32>(dghh_at(at.x + r), dghh_at(at.y + r), dghh_at(at.z + r), dghh_at(at.w + r)), w);
  }
  if (R == 1u) { return mat4x4<f32>(vec4<f32>(one.x), vec4<f32>(one.y), vec4<f32>(one.z), vec4<f32>(one.w)); }  return m;
}

// The per-row ends of the kernels, for the n <= R valid lanes of `rows`: written out with constant
// lanes rather than looped, since a compiler that does not unroll (SwiftShader) would index the
// sums in memory. forward_rows: row lane l's gate sums are v[l] (`second`: pass 1's sum in v[l].x).
fn forward_rows(rows: vec4<u32>, n: u32, t: u32, j: u32, v: mat4x4<f32>, second: bool) {
  forward_row(rows.x, t, j, v[0], second);  if (n > 1u) { forward_row(rows.y, t, j, v[1], second); }
  if (n > 2u) { forward_row(rows.z, t, j, v[2], second); }  if (n > 3u) { forward_row(rows.w, t, j, v[3], second); }
}

fn forward_row(b: u32, t: u32, j: u32, hh: vec4<f32>, second: bool) {
  let o = (b * params.T + t) * params.H + j;  let valid = i32(t) < lengths[b];
  if (second) { if (valid) { hs_put(o, cell_forward_row(b, t, j, hh, h_prev_at(b, t, j), true)); }  return; }
  if (!valid) { hs_put(o, 0.0);  cell_forward_skip(b, t, j);  return; }
  hs_put(o, cell_forward_row(b, t, j, hh, h_prev_at(b, t, j), false));
}

// Units j0 .. j0+3 (those < H) of the rows: m[u] holds unit u's dh_rec, one lane per row.
fn backward_units(rows: vec4<u32>, n: u32, t: u32, j0: u32, m: mat4x4<f32>, second: bool) {
  let nu = min(4u, params.H - j0);
  backward_rows(rows, n, t, j0, m[0], second);  if (nu > 1u) { backward_rows(rows, n, t, j0 + 1u, m[1], second); }
  if (nu > 2u) { backward_rows(rows, n, t, j0 + 2u, m[2], second); }  if (nu > 3u) { backward_rows(rows, n, t, j0 + 3u, m[3], second); }
}

fn backward_rows(rows: vec4<u32>, n: u32, t: u32, j: u32, dh_rec: vec4<f32>, second: bool) {
  backward_row(rows.x, t, j, dh_rec.x, second);  if (n > 1u) { backward_row(rows.y, t, j, dh_rec.y, second); }
  if (n > 2u) { backward_row(rows.z, t, j, dh_rec.z, second); }  if (n > 3u) { backward_row(rows.w, t, j, dh_rec.w, second); }
}

fn backward_row(b: u32, t: u32, j: u32, dh_rec: f32, second: bool) {
  let H = params.H;  let gb = (b * params.T + t) * NG * H + j;  let len = lengths[b];
  if (second) {
    if (i32(t) < len) { let d = cell_backward_row(b, t, j, false, dh_rec, true);  for (var q = 0u; q < SPLIT; q++) { dghh_put(gb + q * H, d[q]); } }
    return;
  }
  var d = vec4<f32>(0.0);
  if (i32(t) >= len) { cell_backward_skip(b, t, j); } else { d = cell_backward_row(b, t, j, i32(t) == len - 1, dh_rec, false); }
  for (var q = 0u; q < NG; q++) { dghh_put(gb + q * H, d[q]); }
}

@compute @workgroup_size(WG)
fn step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let T = params.T;  let t = params.t;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;  let j = idx % H;  let rows = block_rows(bb);
  if (PASS == 1u) {
    let p = (rows * T + vec4<u32>(t)) * H;
    var a = vec4<f32>(bhh[SPLIT * H + j]);
    for (var k = 0u; k < H; k++) { a += whh_at((SPLIT * H + j) * H + k) * vec4<f32>(cell_pass_input(p.x + k), cell_pass_input(p.y + k), cell_pass_input(p.z + k), cell_pass_input(p.w + k)); }
    forward_rows(rows, block_count(bb), t, j, mat4x4<f32>(vec4<f32>(a.x), vec4<f32>(a.y), vec4<f32>(a.z), vec4<f32>(a.w)), true);  return;
  }
  // a[q]: gate q's sums, one lane per row (gates from SPLIT on stay 0); R = 1: a[0] holds the
  // row's gates in its lanes (each h_prev[k] loaded once, one FMA per weight).
  let bias = bhh_at(j);
  var a = mat4x4<f32>(vec4<f32>(bias.x), vec4<f32>(bias.y), vec4<f32>(bias.z), vec4<f32>(bias.w));
  if (R == 1u) { a[0] = bias; }
  // Two loop pairs rather than a branch per k: h_prev is h0 at t = 0, else hs at t-1. Blocks of 4 k
  // when H % 4 == 0 (4-vector loads), else one k at a time: the same products in the same order.
  let k4 = select(0u, H, H % 4u == 0u);
  if (t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < k4; k += 4u) { a = add_block(a, j, k, transpose(mat4x4<f32>(h0_4(p.x + k), h0_4(p.y + k), h0_4(p.z + k), h0_4(p.w + k)))); }
    for (var k = k4; k < H; k++) { a = add_one(a, j, k, vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k])); }
  } else {
    let p = (rows * T + vec4<u32>(t - 1u)) * H;
    for (var k = 0u; k < k4; k += 4u) { a = add_block(a, j, k, transpose(mat4x4<f32>(hs4_at(p.x + k), hs4_at(p.y + k), hs4_at(p.z + k), hs4_at(p.w + k)))); }
    for (var k = k4; k < H; k++) { a = add_one(a, j, k, vec4<f32>(hs_at(p.x + k), hs_at(p.y + k), hs_at(p.z + k), hs_at(p.w + k))); }
  }
  // v[l]: row l's sums per gate. Lanes are read from a value: a dynamic index into a variable
  // would keep the accumulators in memory on some drivers (lavapipe).
  if (R == 1u) { a = mat4x4<f32>(vec4<f32>(a[0].x), vec4<f32>(a[0].y), vec4<f32>(a[0].z), vec4<f32>(a[0].w)); }
  forward_rows(rows, block_count(bb), t, j, transpose(a), false);
}

@compute @workgroup_size(WG)
fn step_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let T = params.T;  let t = params.t;
  let bb = idx / ((H + 3u) / 4u);  let j0 = idx % ((H + 3u) / 4u) * 4u;
  if (bb >= (params.B + R - 1u) / R) { return; }  let rows = block_rows(bb);
  if (PASS == 1u) {
    backward_units(rows, block_count(bb), t, j0, dghh_times_whh(rows, t, j0, SPLIT * H, SPLIT * H + H), true);  return;
  }
  backward_units(rows, block_count(bb), t, j0, dghh_times_whh(rows, t + 1u, j0, 0u, select(0u, SPLIT * H, t + 1u < T)), false);   // 0 at T-1
}

@compute @workgroup_size(WG)
fn backward_initial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let bb = idx / ((H + 3u) / 4u);  let j0 = idx % ((H + 3u) / 4u) * 4u;
  if (bb >= (params.B + R - 1u) / R) { return; }
  let m = dghh_times_whh(block_rows(bb), 0u, j0, 0u, SPLIT * H);
  for (var u = 0u; u < min(4u, H - j0); u++) { for (var l = 0u; l < R; l++) { if (l >= block_count(bb)) { break; } cell_backward_initial(block_rows(bb)[l], j0 + u, m[u][l]); } }
}

@compute @workgroup_size(WG)
fn final_state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;  let j = idx % H;  let last = u32(clamp(lengths[b], 1, i32(params.T))) - 1u;
  let src = (b * params.T + last) * H + j;
  hn[idx] = hs_at(src);  cell_final_state(b, j, src);
}
