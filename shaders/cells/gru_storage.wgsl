// cells/gru_storage.wgsl — the GRU's buffers and per-(b, t, j) functions for the step and
// sequence scaffolds (recurrent/layout.wgsl). Math: cells/gru.wgsl.
//
// Bindings besides recurrent/layout.wgsl's:
//  11  gates    (B, T, 3H) read_write  post-activation r, z, n; zero past each row's length
//  12  hn_lin   (B, T, H)  read_write  W_hn·h_prev + b_hn; zero past each row's length
//  13  dgates   (B, T, 3H) read_write  gradient w.r.t. the input-side pre-activations
//  14  dh_carry (B, H)     read_write  the direct part dh·z of the gradient w.r.t. h_prev. The
//                                      caller fills it with dhn (zeros when unused) before the
//                                      backward; steps t >= len leave it alone
// Backward at step t: dh = dhs + dh_carry + (t+1 < len ? dh_rec : 0).
// Overrides: ACT, RACT (cell and gate activations, codes of common.wgsl's cell_act).

const NG: u32 = 3u;
override ACT: u32 = 0u;  override RACT: u32 = 2u;
// SPLIT = 2: the reset gate before the product, n in a second pass from hn_lin = r ⊙ h_prev.
override SPLIT: u32 = 3u;
fn cell_pass_input(i: u32) -> f32 { return hn_lin[i]; }

@group(0) @binding(11) var<storage, read_write> gates: array<f32>;
@group(0) @binding(12) var<storage, read_write> hn_lin: array<f32>;
@group(0) @binding(13) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(14) var<storage, read_write> dh_carry: array<f32>;

// Saves the gates and hn_lin of (b, t, j).
fn gru_save(row: u32, j: u32, g: vec3<f32>, lin: f32) {
  for (var q = 0u; q < 3u; q++) { gates[(row * 3u + q) * params.H + j] = g[q]; }  hn_lin[row * params.H + j] = lin;
}

fn cell_forward_row(b: u32, t: u32, j: u32, hh: vec4<f32>, h_prev: f32, second: bool) -> f32 {
  let H = params.H;  let row = b * params.T + t;  let gb = row * 3u * H + j;  let gx = gx_at(b, t, j).xyz;
  if (second) {   // reset before, pass 1: hh.x = W_hn·(r ⊙ h_prev) + b_hn; z from pass 0
    let z = gates[gb + H];  let n = cell_act(ACT, gx.z + hh.x);
    gates[gb + 2u * H] = n;
    return (1.0 - z) * n + z * h_prev;
  }
  let s = gru_forward(gx, hh.xyz, h_prev, ACT, RACT, SPLIT == 2u);
  gru_save(row, j, s.gates, select(hh.z, s.gates.x * h_prev, SPLIT == 2u));
  return s.h;   // reset before: not h yet (pass 1 writes it)
}

fn cell_forward_skip(b: u32, t: u32, j: u32) { gru_save(b * params.T + t, j, vec3<f32>(0.0), 0.0); }

// Returns dghh at (b, t, j); dh_rec = Σ_r dghh[b, t+1, r]·W_hh[r, j] (unused when is_last).
fn cell_backward_row(b: u32, t: u32, j: u32, is_last: bool, dh_rec: f32, second: bool) -> vec4<f32> {
  let H = params.H;  let row = b * params.T + t;  let idx = b * H + j;  let gb = row * 3u * H + j;
  if (second) {   // reset before, pass 1: dh_rec = s = (W_hnᵀ·dn_pre)[j]
    let r = gates[gb];
    let dr_pre = dh_rec * h_prev_at(b, t, j) * cell_act_grad(RACT, r);
    dgates[gb] = dr_pre;
    dh_carry[idx] += r * dh_rec;
    return vec4<f32>(dr_pre, dgates[gb + H], 0.0, 0.0);
  }
  var dh = dhs[row * H + j] + dh_carry[idx];
  if (!is_last) { dh += dh_rec; }
  let saved = vec3<f32>(gates[gb], gates[gb + H], gates[gb + 2u * H]);
  let d = gru_backward(dh, saved, select(hn_lin[row * H + j], 0.0, SPLIT == 2u), h_prev_at(b, t, j), ACT, RACT, SPLIT == 2u);
  for (var q = 0u; q < 3u; q++) { dgates[gb + q * H] = d.dgx[q]; }
  dh_carry[idx] = d.dh_prev;
  return vec4<f32>(d.dhh, 0.0);
}

fn cell_backward_skip(b: u32, t: u32, j: u32) { for (var q = 0u; q < 3u; q++) { dgates[((b * params.T + t) * 3u + q) * params.H + j] = 0.0; } }

fn cell_backward_initial(b: u32, j: u32, dh_rec: f32) { dh0[b * params.H + j] = dh_carry[b * params.H + j] + dh_rec; }
fn cell_final_state(b: u32, j: u32, src: u32) {}
