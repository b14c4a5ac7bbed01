// cells/lstm_storage.wgsl — the LSTM's buffers and per-(b, t, j) functions for the step and
// sequence scaffolds (recurrent/layout.wgsl). Math: cells/lstm.wgsl.
//
// Bindings besides recurrent/layout.wgsl's (dghh there is dgates: one gradient for both sides):
//  11  c0       (B, H)     read        initial cell state
//  12  cs       (B, T, H)  read_write  cell states; zero past each row's length
//  13  gates    (B, T, 4H) read_write  post-activation i, f, g, o; zero past each row's length
//  14  cn       (B, H)     read_write  final cell state cs[b, lengths[b]-1]
//  15  dhn      (B, H)     read        gradient w.r.t. hn (zeros when unused)
//  16  dc_carry (B, H)     read_write  gradient w.r.t. c_prev, from step t+1 to step t. The caller
//                                      fills it with dcn (the gradient w.r.t. cn, zeros when
//                                      unused) before the backward; steps t >= len leave it alone
//  17  dc0      (B, H)     read_write  gradient w.r.t. c0 (= dc_carry after step 0)
//  18  peep     (3, H)     read        peepholes p_i, p_f, p_o; read when PEEP = 1 (else c0 is bound)
// Overrides: ACT, RACT (cell and gate activations, codes of common.wgsl's cell_act), PEEP (0 or 1).
// Backward at step t: dh = dhs + (t == len-1 ? dhn : dh_rec), dc_next = dc_carry.

const NG: u32 = 4u;
const SPLIT: u32 = NG;   // one pass (layout.wgsl)
fn cell_pass_input(i: u32) -> f32 { return 0.0; }
override ACT: u32 = 0u;  override RACT: u32 = 2u;  override PEEP: u32 = 0u;

@group(0) @binding(11) var<storage, read> c0: array<f32>;
@group(0) @binding(12) var<storage, read_write> cs: array<f32>;
@group(0) @binding(13) var<storage, read_write> gates: array<f32>;
@group(0) @binding(14) var<storage, read_write> cn: array<f32>;
@group(0) @binding(15) var<storage, read> dhn: array<f32>;
@group(0) @binding(16) var<storage, read_write> dc_carry: array<f32>;
@group(0) @binding(17) var<storage, read_write> dc0: array<f32>;
@group(0) @binding(18) var<storage, read> peep: array<f32>;

fn peep_at(j: u32) -> vec3<f32> {
  if (PEEP == 0u) { return vec3<f32>(0.0); }  return vec3<f32>(peep[j], peep[params.H + j], peep[2u * params.H + j]);
}

fn c_prev_at(b: u32, t: u32, j: u32) -> f32 {
  if (t == 0u) { return c0[b * params.H + j]; }  return cs[(b * params.T + t - 1u) * params.H + j];
}

// Saves c and the gates of (b, t, j).
fn lstm_save(row: u32, j: u32, c: f32, g: vec4<f32>) {
  cs[row * params.H + j] = c;  for (var q = 0u; q < 4u; q++) { gates[(row * 4u + q) * params.H + j] = g[q]; }
}

fn cell_forward_row(b: u32, t: u32, j: u32, hh: vec4<f32>, h_prev: f32, second: bool) -> f32 {
  let s = lstm_forward(gx_at(b, t, j) + hh, c_prev_at(b, t, j), ACT, RACT, peep_at(j));
  lstm_save(b * params.T + t, j, s.c, s.gates);
  return s.h;
}

fn cell_forward_skip(b: u32, t: u32, j: u32) { lstm_save(b * params.T + t, j, 0.0, vec4<f32>(0.0)); }

// Returns dgates at (b, t, j); dh_rec = Σ_r dgates[b, t+1, r]·W_hh[r, j] (unused when is_last).
fn cell_backward_row(b: u32, t: u32, j: u32, is_last: bool, dh_rec: f32, second: bool) -> vec4<f32> {
  let H = params.H;  let row = b * params.T + t;  let idx = b * H + j;
  let dh = dhs[row * H + j] + select(dh_rec, dhn[idx], is_last);
  let gb = row * 4u * H + j;
  let saved = vec4<f32>(gates[gb], gates[gb + H], gates[gb + 2u * H], gates[gb + 3u * H]);
  let d = lstm_backward(dh, dc_carry[idx], saved, cs[row * H + j], c_prev_at(b, t, j), ACT, RACT, peep_at(j));
  dc_carry[idx] = d.dc_prev;
  return d.dpre;
}

fn cell_backward_skip(b: u32, t: u32, j: u32) {}
fn cell_backward_initial(b: u32, j: u32, dh_rec: f32) { dh0[b * params.H + j] = dh_rec;  dc0[b * params.H + j] = dc_carry[b * params.H + j]; }
fn cell_final_state(b: u32, j: u32, src: u32) { cn[b * params.H + j] = cs[src]; }
