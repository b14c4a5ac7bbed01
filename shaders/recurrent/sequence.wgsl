// recurrent/sequence.wgsl — the whole-sequence schedule of any cell: all T steps in one dispatch,
// with step.wgsl's bindings, equations, variable-length rules and outputs. Each workgroup owns RB
// rows b0 .. b0+RB-1 (b0 = workgroup_id.x · RB; workgroups: ceil(B / RB)) and loops over t with one
// workgroupBarrier() per step; invocation l owns the elements e = l, l + WG, ... < RB·H of its
// rows' (RB, H) block (row b0 + e / H, unit e % H).
//
// seq_forward (t = 0 .. T-1): h_prev lives in workgroup memory, two (RB, H) buffers used in turn
//   (step t reads buffer t%2 and writes buffer (t+1)%2, so one barrier per step suffices).
//   hh_q = b_hh[qH+j] + Σ_k W_hh[qH+j, k]·h_prev[k] (k increasing), then as step_forward;
//   step.wgsl's final_state writes the final state afterwards.
// seq_backward (t = T-1 .. 0): dghh of step t+1 lives in workgroup memory, two (RB, G) buffers:
//   dh_rec = Σ_q Σ_r dghh[b,t+1,qH+r]·W_hh[qH+r, j]  (one accumulator per gate q, summed
//   pairwise: step_backward's terms, grouped differently), then as step_backward; step.wgsl's
//   backward_initial gives the initial-state gradients afterwards.
// Two-pass cells (SPLIT < NG): each step runs pass 1 after a barrier, as in step.wgsl.
// Workgroup memory: SH floats = 2·RB·H (forward) or 2·RB·G (backward); the wrapper sets SH.

override WG: u32 = 128u;  override RB: u32 = 1u;  override SH: u32 = 256u;
var<workgroup> shm: array<f32, SH>;

@compute @workgroup_size(WG)
fn seq_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;  let T = params.T;  let H = params.H;  let b0 = wid.x * RB;  let n = RB * H;   // n: the (RB, H) block
  for (var e = lid.x; e < n; e += WG) { if (b0 + e / H < B) { shm[e] = h0[(b0 + e / H) * H + e % H]; } }   // rows past B are never read
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    let cur = (t & 1u) * n;  let nxt = n - cur;   // h_prev buffer; the other one receives h
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;  let j = e % H;  let b = b0 + bl;
      if (b >= B) { continue; }
      let o = (b * T + t) * H + j;
      if (i32(t) >= lengths[b]) { hs[o] = ST(0.0);  cell_forward_skip(b, t, j);  continue; }
      var a = bhh_at(j);   // one lane per gate (gates from SPLIT on stay 0)
      for (var k = 0u; k < H; k++) {
        let hk = shm[cur + bl * H + k];
        a.x += f32(whh[j * H + k]) * hk;
        if (SPLIT > 1u) { a.y += f32(whh[(H + j) * H + k]) * hk; }
        if (SPLIT > 2u) { a.z += f32(whh[(2u * H + j) * H + k]) * hk; }
        if (SPLIT > 3u) { a.w += f32(whh[(3u * H + j) * H + k]) * hk; }
      }
      let h = cell_forward_row(b, t, j, a, shm[cur + e], false);
      hs[o] = ST(h);  shm[nxt + e] = st_round(h);   // as hs holds it (rounded when ST is f16)
    }
    if (SPLIT < NG) {
      storageBarrier();
      for (var e = lid.x; e < n; e += WG) {
        let b = b0 + e / H;  let j = e % H;
        if (b >= B || i32(t) >= lengths[b]) { continue; }
        let i0 = (b * T + t) * H;  var a = bhh[SPLIT * H + j];
        for (var k = 0u; k < H; k++) { a += f32(whh[(SPLIT * H + j) * H + k]) * cell_pass_input(i0 + k); }
        let h = cell_forward_row(b, t, j, vec4<f32>(a), shm[cur + e], true);
        hs[i0 + j] = ST(h);  shm[nxt + e] = st_round(h);
      }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn seq_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let B = params.B;  let T = params.T;  let H = params.H;  let G = NG * H;  let b0 = wid.x * RB;
  let n = RB * H;  let m = RB * G;   // elements of the (RB, H) block; floats in one (RB, G) dghh buffer
  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    let nxt = (s & 1u) * m;  let cur = m - nxt;   // dghh of step t+1 (from the previous iteration); of step t
    for (var e = lid.x; e < n; e += WG) {
      let bl = e / H;  let j = e % H;  let b = b0 + bl;
      if (b >= B) { continue; }
      let len = lengths[b];  let gb = (b * T + t) * G + j;  var d = vec4<f32>(0.0);
      if (i32(t) >= len) { cell_backward_skip(b, t, j); } else {
        let is_last = i32(t) == len - 1;
        var a = vec4<f32>(0.0);   // one lane per gate
        if (!is_last) {
          let nb = nxt + bl * G;
          for (var r = 0u; r < H; r++) {
            a.x += shm[nb + r] * f32(whh[r * H + j]);
            if (SPLIT > 1u) { a.y += shm[nb + H + r] * f32(whh[(H + r) * H + j]); }
            if (SPLIT > 2u) { a.z += shm[nb + 2u * H + r] * f32(whh[(2u * H + r) * H + j]); }
            if (SPLIT > 3u) { a.w += shm[nb + 3u * H + r] * f32(whh[(3u * H + r) * H + j]); }
          }
        }
        d = cell_backward_row(b, t, j, is_last, (a.x + a.y) + (a.z + a.w), false);
      }
      for (var q = 0u; q < NG; q++) { dghh[gb + q * H] = d[q];  shm[cur + bl * G + q * H + j] = d[q]; }
    }
    if (SPLIT < NG) {
      workgroupBarrier();
      for (var e = lid.x; e < n; e += WG) {
        let bl = e / H;  let j = e % H;  let b = b0 + bl;
        if (b >= B || i32(t) >= lengths[b]) { continue; }
        var a = 0.0;  for (var r = 0u; r < H; r++) { a += shm[cur + bl * G + SPLIT * H + r] * f32(whh[(SPLIT * H + r) * H + j]); }
        let d = cell_backward_row(b, t, j, false, a, true);
        for (var q = 0u; q < SPLIT; q++) { dghh[(b * T + t) * G + q * H + j] = d[q];  shm[cur + bl * G + q * H + j] = d[q]; }
      }
    }
    workgroupBarrier();
  }
}
