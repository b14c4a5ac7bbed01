// recurrent/step.wgsl — the per-timestep schedule of any cell: one dispatch per step t. Bindings:
// recurrent/layout.wgsl and the cell's storage file; equations: cells/<cell>.wgsl.
//
// One invocation computes unit j (backward: units j0 .. j0+3, each dghh load serving 4) for the R rows
// bb·R .. bb·R + R-1 of block bb (rows >= B skipped), loading each W_hh weight once for them: one
// accumulator per row in the lanes of a vec4<f32> (R <= 4; R = 1: one row's gates, or backward its 4
// units, in the lanes). Each row's sum runs in the same order from the same start whatever R is
// (bit-identical results); lanes past the last row repeat it, unwritten.
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

// a + W_hh[q·H + j, k]·hk in lane q for the gates q < SPLIT (a loop the compiler unrolls): R = 1's sums.
fn add_gates(a: vec4<f32>, j: u32, k: u32, hk: f32) -> vec4<f32> {
  var s = a;  for (var q = 0u; q < SPLIT; q++) { s[q] += f32(whh[(q * params.H + j) * params.H + k]) * hk; }  return s;
}

// Σ_r dghh[b, s, r]·W_hh[r, j0 + u] over r0 <= r < r1 (r increasing) in column u, one lane per row b of `rows`.
fn dghh_times_whh(rows: vec4<u32>, s: u32, j0: u32, r0: u32, r1: u32) -> mat4x4<f32> {
  let H = params.H;  let at = (rows * params.T + vec4<u32>(s)) * NG * H;  let js = min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(H - 1u));
  var m = mat4x4<f32>();  var one = vec4<f32>(0.0);   // R = 1: the 4 units' sums of one row (4 lanes of one row would load each term 4 times)
  for (var r = r0; r < r1; r++) {
    let w = vec4<f32>(f32(whh[r * H + js.x]), f32(whh[r * H + js.y]), f32(whh[r * H + js.z]), f32(whh[r * H + js.w]));
    if (R == 1u) { one += dghh[at.x + r] * w;  continue; }
    let dg = vec4<f32>(dghh[at.x + r], dghh[at.y + r], dghh[at.z + r], dghh[at.w + r]);  m[0] += dg * w.x;  m[1] += dg * w.y;  m[2] += dg * w.z;  m[3] += dg * w.w;
  }
  if (R == 1u) { return mat4x4<f32>(vec4<f32>(one.x), vec4<f32>(one.y), vec4<f32>(one.z), vec4<f32>(one.w)); }  return m;
}

@compute @workgroup_size(WG)
fn step_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let T = params.T;  let t = params.t;
  if (idx >= ((params.B + R - 1u) / R) * H) { return; }
  let bb = idx / H;  let j = idx % H;  let rows = block_rows(bb);
  if (PASS == 1u) {
    let p = (rows * T + vec4<u32>(t)) * H;
    var a = vec4<f32>(bhh[SPLIT * H + j]);
    for (var k = 0u; k < H; k++) { a += f32(whh[(SPLIT * H + j) * H + k]) * vec4<f32>(cell_pass_input(p.x + k), cell_pass_input(p.y + k), cell_pass_input(p.z + k), cell_pass_input(p.w + k)); }
    let v = a;
    for (var l = 0u; l < block_count(bb); l++) {
      let b = rows[l];
      if (i32(t) < lengths[b]) { hs[(b * T + t) * H + j] = ST(cell_forward_row(b, t, j, vec4<f32>(v[l]), h_prev_at(b, t, j), true)); }
    }
    return;
  }
  // a_q: gate q's sums, one lane per row (gates from SPLIT on stay 0).
  let bias = bhh_at(j);
  var a0 = vec4<f32>(bias.x);  var a1 = vec4<f32>(bias.y);  var a2 = vec4<f32>(bias.z);  var a3 = vec4<f32>(bias.w);
  var one = bias;   // R = 1: the row's gates in the lanes (each h_prev[k] loaded once, one FMA per weight)
  // Two loops rather than a branch per k: h_prev is h0 at t = 0, else hs at t-1.
  if (t == 0u) {
    let p = rows * H;
    for (var k = 0u; k < H; k++) {
      if (R == 1u) { one = add_gates(one, j, k, h0[p.x + k]); continue; }
      let hk = vec4<f32>(h0[p.x + k], h0[p.y + k], h0[p.z + k], h0[p.w + k]);
      a0 += f32(whh[j * H + k]) * hk;
      if (SPLIT > 1u) { a1 += f32(whh[(H + j) * H + k]) * hk; }
      if (SPLIT > 2u) { a2 += f32(whh[(2u * H + j) * H + k]) * hk; }
      if (SPLIT > 3u) { a3 += f32(whh[(3u * H + j) * H + k]) * hk; }
    }
  } else {
    let p = (rows * T + vec4<u32>(t - 1u)) * H;
    for (var k = 0u; k < H; k++) {
      if (R == 1u) { one = add_gates(one, j, k, f32(hs[p.x + k])); continue; }
      let hk = vec4<f32>(f32(hs[p.x + k]), f32(hs[p.y + k]), f32(hs[p.z + k]), f32(hs[p.w + k]));
      a0 += f32(whh[j * H + k]) * hk;
      if (SPLIT > 1u) { a1 += f32(whh[(H + j) * H + k]) * hk; }
      if (SPLIT > 2u) { a2 += f32(whh[(2u * H + j) * H + k]) * hk; }
      if (SPLIT > 3u) { a3 += f32(whh[(3u * H + j) * H + k]) * hk; }
    }
  }
  // v[l]: row l's sums per gate. Lanes are read from a value: a dynamic index into a variable
  // would keep the accumulators in memory on some drivers (lavapipe).
  if (R == 1u) { a0 = vec4<f32>(one.x);  a1 = vec4<f32>(one.y);  a2 = vec4<f32>(one.z);  a3 = vec4<f32>(one.w); }
  let v = transpose(mat4x4<f32>(a0, a1, a2, a3));
  for (var l = 0u; l < block_count(bb); l++) {
    let b = rows[l];  let o = (b * T + t) * H + j;
    if (i32(t) >= lengths[b]) { hs[o] = ST(0.0);  cell_forward_skip(b, t, j);  continue; }
    hs[o] = ST(cell_forward_row(b, t, j, v[l], h_prev_at(b, t, j), false));
  }
}

@compute @workgroup_size(WG)
fn step_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let T = params.T;  let t = params.t;  let G = NG * H;
  let bb = idx / ((H + 3u) / 4u);  let j0 = idx % ((H + 3u) / 4u) * 4u;
  if (bb >= (params.B + R - 1u) / R) { return; }  let rows = block_rows(bb);
  if (PASS == 1u) {
    let m = dghh_times_whh(rows, t, j0, SPLIT * H, SPLIT * H + H);
    for (var u = 0u; u < min(4u, H - j0); u++) { for (var l = 0u; l < block_count(bb); l++) {
      let b = rows[l];  let j = j0 + u;
      if (i32(t) >= lengths[b]) { continue; }
      let d = cell_backward_row(b, t, j, false, m[u][l], true);
      for (var q = 0u; q < SPLIT; q++) { dghh[(b * T + t) * G + q * H + j] = d[q]; }
    } }  return;
  }
  let m = dghh_times_whh(rows, t + 1u, j0, 0u, select(0u, SPLIT * H, t + 1u < T));   // 0 at T-1
  for (var u = 0u; u < min(4u, H - j0); u++) { for (var l = 0u; l < block_count(bb); l++) {
    let b = rows[l];  let len = lengths[b];  let j = j0 + u;  let gb = (b * T + t) * G + j;
    var d = vec4<f32>(0.0);
    if (i32(t) >= len) { cell_backward_skip(b, t, j); } else { d = cell_backward_row(b, t, j, i32(t) == len - 1, m[u][l], false); }
    for (var q = 0u; q < NG; q++) { dghh[gb + q * H] = d[q]; }
  } }
}

@compute @workgroup_size(WG)
fn backward_initial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;  let bb = idx / ((H + 3u) / 4u);  let j0 = idx % ((H + 3u) / 4u) * 4u;
  if (bb >= (params.B + R - 1u) / R) { return; }
  let m = dghh_times_whh(block_rows(bb), 0u, j0, 0u, SPLIT * H);
  for (var u = 0u; u < min(4u, H - j0); u++) { for (var l = 0u; l < block_count(bb); l++) { cell_backward_initial(block_rows(bb)[l], j0 + u, m[u][l]); } }
}

@compute @workgroup_size(WG)
fn final_state(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_index(gid, nwg);  let H = params.H;
  if (idx >= params.B * H) { return; }
  let b = idx / H;  let j = idx % H;  let last = u32(clamp(lengths[b], 1, i32(params.T))) - 1u;
  let src = (b * params.T + last) * H + j;
  hn[idx] = f32(hs[src]);  cell_final_state(b, j, src);
}
