// recurrent/layout.wgsl — the bindings every cell shares in the step and sequence kernels. A module
// is common.wgsl + precision/f32.wgsl (or precision/f16.wgsl first) + this + cells/<cell>.wgsl +
// cells/<cell>_storage.wgsl + recurrent/views_scalar.wgsl (or views_vec4.wgsl: how whh, hs and dghh
// are typed and read) + recurrent/step.wgsl or sequence.wgsl (src/kernels/recurrent.ts). The storage file declares the cell's bindings (11 up),
// const NG (gates per unit) and the functions the scaffolds call per (b, t, j): cell_forward_row,
// cell_forward_skip, cell_backward_row, cell_backward_skip, cell_backward_initial, cell_final_state.
// SPLIT (const or override): NG, or for a two-pass cell the gate computed in a second pass from
// cell_pass_input (GRU with the reset gate before the product: n from r ⊙ h_prev); the row
// functions' `second` is true in that pass, where hh.x / dh_rec is that gate's sum alone.
//
// G = NG·H. Bindings (row-major; each kernel binds the subset it uses, listed in its spec):
//   0  gx       (B, T, G)  read        input projection x·W_ihᵀ + b_ih
//   1  whh      (G, H) ST  read        weight_hh, W_hh[r, k] at r·H + k (ST: f32, or f16 storage)
//   2  bhh      (G)        read        bias_hh
//   3  h0       (B, H)     read        initial hidden state
//   4  lengths  (B) i32    read        valid steps per row, each in [1, T]
//   5  hs     (B, T, H) ST read_write  hidden states; zero past each row's length
//   6  params   uniform {B, T, H, t}   t: the step of a per-step dispatch (else unused)
//   7  dhs      (B, T, H)  read        gradient w.r.t. hs
//   8  dghh     (B, T, G)  read_write  gradient w.r.t. the hidden-side pre-activations W_hh·h_prev
//                                     + b_hh (LSTM, RNN: dgates itself); multiplied by W_hh
//   9  dh0      (B, H)     read_write  gradient w.r.t. h0
//  10  hn       (B, H)     read_write  final state hs[b, lengths[b]-1]

struct Params { B: u32, T: u32, H: u32, t: u32 }

@group(0) @binding(0) var<storage, read> gx: array<f32>;
@group(0) @binding(1) var<storage, read> whh: array<WS>;
@group(0) @binding(2) var<storage, read> bhh: array<f32>;
@group(0) @binding(3) var<storage, read> h0: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read_write> hs: array<WS>;
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(7) var<storage, read> dhs: array<f32>;
@group(0) @binding(8) var<storage, read_write> dghh: array<FS>;
@group(0) @binding(9) var<storage, read_write> dh0: array<f32>;
@group(0) @binding(10) var<storage, read_write> hn: array<f32>;

// h_prev[b, j] of step t: h0 at t = 0, else hs[b, t-1] (hs of earlier steps is final by then).
fn h_prev_at(b: u32, t: u32, j: u32) -> f32 {
  if (t == 0u) { return h0[b * params.H + j]; }  return hs_at((b * params.T + t - 1u) * params.H + j);
}

// b_hh[q·H + j] for the gates q < SPLIT (lanes past SPLIT are 0): the start of each gate's sum.
fn bhh_at(j: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);  for (var q = 0u; q < SPLIT; q++) { v[q] = bhh[q * params.H + j]; }  return v;
}

// gx[b, t, q·H + j] for the gates q < NG (lanes past NG are 0).
fn gx_at(b: u32, t: u32, j: u32) -> vec4<f32> {
  let base = (b * params.T + t) * NG * params.H + j;
  var v = vec4<f32>(0.0);  for (var q = 0u; q < NG; q++) { v[q] = gx[base + q * params.H]; }  return v;
}
