// cells/gru.wgsl — the GRU cell (PyTorch nn.GRU): forward and backward of one unit j of one row
// from its pre-activations, for every schedule (step, sequence, generate). Buffers: gru_storage.wgsl.
//
// Gate order r, z, n (3 gates per unit, G = 3H); the state is h. gx = W_ih·x + b_ih and
// hh = W_hh·h_prev + b_hh per gate (kept apart: the reset gate multiplies the hidden side of n):
//   r = σ(gx_r + hh_r)   z = σ(gx_z + hh_z)   n = act(gx_n + r·hh_n)   h = (1 − z)·n + z·h_prev
// With the reset gate before the product (`before`: TF1 GRUCell, Keras reset_after=False) hh_n is
// W_hn·(r ⊙ h_prev) + b_hn, which needs every unit's r (a second pass), and n = act(gx_n + hh_n).
// σ, act: the gate and cell activations (codes of common.wgsl's cell_act; PyTorch: sigmoid, tanh).
// Saved for backward: the post-activation gates (r, z, n) and hn_lin = hh_n.
// Backward, given dh (the gradient w.r.t. h), with the slopes σ', act' written from the outputs:
//   dn = dh(1 − z)   dz = dh(h_prev − n)   dn_pre = dn·act'(n)   dr_pre = dn_pre·hn_lin·σ'(r)
//   dz_pre = dz·σ'(z)
//   dgx = [dr_pre, dz_pre, dn_pre]         gradient w.r.t. the input-side pre-activations
//   dhh = [dr_pre, dz_pre, dn_pre·r]       gradient w.r.t. W_hh·h_prev + b_hh
// Before: dhh_n = dn_pre, and dr_pre = s·h_prev·σ'(r) with s = (W_hnᵀ·dn_pre)[j] (a second pass,
// which also adds r·s to dh_prev); the caller passes hn_lin = 0 to the first.
//   dh_prev = dh·z                         the direct part of the gradient w.r.t. h_prev (the rest
//                                          is dhh·W_hh, summed over all units by the scaffold)

struct GruStep { h: f32, gates: vec3<f32> }   // gates: r, z, n

fn gru_forward(gx: vec3<f32>, hh: vec3<f32>, h_prev: f32, act: u32, gate: u32, before: bool) -> GruStep {
  let r = cell_act(gate, gx.x + hh.x);
  let z = cell_act(gate, gx.y + hh.y);
  let n = cell_act(act, gx.z + select(r * hh.z, hh.z, before));
  return GruStep((1.0 - z) * n + z * h_prev, vec3<f32>(r, z, n));
}

struct GruGrad { dgx: vec3<f32>, dhh: vec3<f32>, dh_prev: f32 }

fn gru_backward(dh: f32, gates: vec3<f32>, hn_lin: f32, h_prev: f32, act: u32, gate: u32, before: bool) -> GruGrad {
  let r = gates.x;  let z = gates.y;  let n = gates.z;
  let dn_pre = dh * (1.0 - z) * cell_act_grad(act, n);
  let dr_pre = dn_pre * hn_lin * cell_act_grad(gate, r);
  let dz_pre = dh * (h_prev - n) * cell_act_grad(gate, z);
  return GruGrad(vec3<f32>(dr_pre, dz_pre, dn_pre), vec3<f32>(dr_pre, dz_pre, select(dn_pre * r, dn_pre, before)), dh * z);
}
