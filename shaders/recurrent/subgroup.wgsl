// recurrent/subgroup.wgsl — the whole-sequence schedule with W_hh in private arrays (ST, WMAX) split
// along the summed index across each subgroup's lanes (feature 'subgroups'; subgroups.wgsl opens
// the module, resident.wgsl precedes this): sequence.wgsl's bindings, equations and length rules,
// resident.wgsl's workgroup memory and cell phases, but lane partials summed by subgroupAdd, so
// equal to the other variants to rounding. WG is a multiple of every subgroup size the adapter may
// use: NS = WG / S full subgroups of S lanes; subgroup g (drawn from a counter), lane s.
// sg_forward: subgroup g owns gate rows r = g + i·NS; lane s holds W_hh[r, k], k = s + m·S < H, at
//   w[i·KS + m] (KS = ceil(H/S)), loaded row by row: adjacent lanes read adjacent words. Per step:
//   hh[bl, r] = b_hh[r] + subgroupAdd(Σ_m W_hh[r, s+mS]·h_prev[bl, s+mS]) (r < SPLIT·H); barrier;
//   forward_cells; barrier (two-pass cells: then gate SPLIT's rows from cell_pass_input, as resident).
// sg_backward: subgroup g owns columns j = g + c·NS; lane s holds W_hh[r, j], r = s + m·S < G, at
//   w[c·MR + m] (MR = ceil(G/S)), copied in order through shm a chunk of whole rows at a time
//   (coalesced), then picked by their lanes. Per step: dh_rec[bl, j] = subgroupAdd(Σ_m
//   dghh[bl, t+1, s+mS]·W_hh[s+mS, j]) over the pass's rows; barrier; backward_cells; barrier.
// Subgroup operations stay in uniform control flow: loop bounds come from params, overrides and S
// (workgroupUniformLoad); lanes without a row or column add 0. The wrapper checks that
// ceil(G/NS)·KS and ceil(H/NS)·MR fit WMAX for every subgroup size the adapter reports.

var<workgroup> sg_size: u32;  var<workgroup> sg_count: atomic<u32>;

// This subgroup's number g in 0 .. NS-1 (lane 0 draws it, every lane gets it).
fn subgroup_number(s: u32) -> u32 {
  var g = 0u;  if (s == 0u) { g = atomicAdd(&sg_count, 1u); }  return subgroupBroadcast(g, 0u);
}

// The first r >= r0 with r % S == s.
fn first_row(r0: u32, s: u32, S: u32) -> u32 { return r0 + (s + S - r0 % S) % S; }

@compute @workgroup_size(WG)
fn sg_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(subgroup_size) size: u32, @builtin(subgroup_invocation_id) s: u32) {
  let B = params.B;  let T = params.T;  let H = params.H;  let G = NG * H;  let n = RB * H;  let b0 = wid.x * RB;
  if (lid.x == 0u) { sg_size = size; }  let S = workgroupUniformLoad(&sg_size);  let NS = WG / S;  let g = subgroup_number(s);  let KS = (H + S - 1u) / S;
  var w: array<ST, WMAX>;
  for (var i = 0u; g + i * NS < G; i++) { for (var k = s; k < H; k += S) { w[i * KS + k / S] = whh[(g + i * NS) * H + k]; } }
  load_h0(lid.x, b0);
  workgroupBarrier();
  for (var t = 0u; t < T; t++) {
    for (var ph = 0u; ph < select(1u, 2u, SPLIT < NG); ph++) {
      if (ph == 1u) { storageBarrier(); }   // pass 0's cell_pass_input values are visible
      for (var i = 0u; i < (G + NS - 1u) / NS; i++) {
        let r = g + i * NS;  let mine = r < G && (r >= SPLIT * H) == (ph == 1u);
        for (var bl = 0u; bl < RB; bl++) {
          let b = b0 + bl;
          if (b >= B || i32(t) >= lengths[b]) { continue; }
          var p = 0.0;   // two loops: a select would evaluate both operands
          if (mine && ph == 1u) { for (var k = s; k < H; k += S) { p += f32(w[i * KS + k / S]) * cell_pass_input((b * T + t) * H + k); } }
          if (mine && ph == 0u) { for (var k = s; k < H; k += S) { p += f32(w[i * KS + k / S]) * shm[bl * H + k]; } }
          let sum = subgroupAdd(p);
          if (mine && s == 0u) { shm[n + bl * G + r] = bhh[r] + sum; }
        }
      }
      workgroupBarrier();
      forward_cells(lid.x, b0, t, ph);
      workgroupBarrier();
    }
  }
}

@compute @workgroup_size(WG)
fn sg_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(subgroup_size) size: u32, @builtin(subgroup_invocation_id) s: u32) {
  let B = params.B;  let T = params.T;  let H = params.H;  let G = NG * H;  let n = RB * H;  let b0 = wid.x * RB;
  if (lid.x == 0u) { sg_size = size; }  let S = workgroupUniformLoad(&sg_size);  let NS = WG / S;  let g = subgroup_number(s);  let MR = (G + S - 1u) / S;
  var w: array<ST, WMAX>;
  for (var r0 = 0u; r0 < G; r0 += max(SH / H, 1u)) {   // whole rows per chunk
    let nr = min(max(SH / H, 1u), G - r0);
    for (var e = lid.x; e < nr * H; e += WG) { shm[e] = f32(whh[r0 * H + e]); }
    workgroupBarrier();
    for (var r = first_row(r0, s, S); r < r0 + nr; r += S) { for (var j = g; j < H; j += NS) { w[j / NS * MR + r / S] = ST(shm[(r - r0) * H + j]); } }
    workgroupBarrier();
  }
  for (var q = 0u; q < T; q++) {
    let t = T - 1u - q;
    for (var ph = 0u; ph < select(1u, 2u, SPLIT < NG); ph++) {
      let ra = select(0u, SPLIT * H, ph == 1u);  let rb = select(SPLIT * H, G, ph == 1u);   // the pass's rows
      for (var c = 0u; c < (H + NS - 1u) / NS; c++) {
        let j = g + c * NS;
        for (var bl = 0u; bl < RB; bl++) {
          let b = b0 + bl;   // pass 0 needs dghh[t+1] (t+1 < len), pass 1 dghh[t] (t < len)
          if (b >= B || i32(t + 1u - ph) >= lengths[b]) { continue; }
          var p = 0.0;
          if (j < H) { for (var r = first_row(ra, s, S); r < rb; r += S) { p += shm[n + bl * G + r] * f32(w[c * MR + r / S]); } }
          let sum = subgroupAdd(p);
          if (j < H && s == 0u) { shm[bl * H + j] = sum; }
        }
      }
      workgroupBarrier();
      backward_cells(lid.x, b0, t, ph);
      workgroupBarrier();
    }
  }
}
