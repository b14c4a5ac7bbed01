// cells/rnn_storage.wgsl — the vanilla RNN's buffers and per-(b, t, j) functions for the step and
// sequence scaffolds (recurrent/layout.wgsl). Math: cells/rnn.wgsl. ACT (override): 0 tanh, 1 relu.
//
// Bindings besides recurrent/layout.wgsl's (dghh there is dgates: one gradient for both sides):
//  11  dhn      (B, H)     read        gradient w.r.t. hn (zeros when unused)
// Backward at step t: dh = dhs + (t == len-1 ? dhn : dh_rec); act' comes from hs.

const NG: u32 = 1u;
const SPLIT: u32 = NG;   // one pass (layout.wgsl)
fn cell_pass_input(i: u32) -> f32 { return 0.0; }
override ACT: u32 = 0u;

@group(0) @binding(11) var<storage, read> dhn: array<f32>;

fn cell_forward_row(b: u32, t: u32, j: u32, hh: vec4<f32>, h_prev: f32, second: bool) -> f32 { return rnn_forward(gx_at(b, t, j).x + hh.x, ACT); }
fn cell_forward_skip(b: u32, t: u32, j: u32) {}

// Returns dgates at (b, t, j); dh_rec = Σ_g dgates[b, t+1, g]·W_hh[g, j] (unused when is_last).
fn cell_backward_row(b: u32, t: u32, j: u32, is_last: bool, dh_rec: f32, second: bool) -> vec4<f32> {
  let o = (b * params.T + t) * params.H + j;
  let dh = dhs[o] + select(dh_rec, dhn[b * params.H + j], is_last);
  return vec4<f32>(rnn_backward(dh, hs_at(o), ACT), 0.0, 0.0, 0.0);
}

fn cell_backward_skip(b: u32, t: u32, j: u32) {}
fn cell_backward_initial(b: u32, j: u32, dh_rec: f32) { dh0[b * params.H + j] = dh_rec; }
fn cell_final_state(b: u32, j: u32, src: u32) {}
