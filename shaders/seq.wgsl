// seq.wgsl — sequence plumbing around the recurrent cells; one thread per output element.
//
// seq_shift_prev:   hprev[b,t,:] = t == 0 ? h0[b,:] : hs[b,t-1,:]       (input of dW_hh = dGᵀ·Hprev)
// seq_reverse:      y[b,t,:] = t < len[b] ? x[b, len[b]-1-t, :] : 0     (reverse direction; self-inverse)
// seq_gather_last:  y[b,:] = x[b, len[b]-1, :]                          (many-to-one heads)
// seq_scatter_last: y[b,t,:] = t == len[b]-1 ? x[b,:] : 0               (its backward)
// seq_dropout:      y = x * (u < keep ? 1/keep : 0), u = rand_uniform(hash_u32(seed ^ step_seed[0]), i):
//                   `seed` (uniform) is the layer's fixed salt, step_seed (storage) the per-step seed the
//                   model writes once per step, so the uniform stays cached. Forward and backward use the
//                   same seeds, so the mask is never stored (TF DropoutWrapper semantics)
// seq_copy_cols:    y[n, off + j] = x[n, j] (+ y[n, off + j] if ACCUMULATE), j < W   (concat)
// seq_take_cols:    y[n, j] = x[n, off + j] (+ y[n, j] if ACCUMULATE), j < W        (split)
// seq_axpy:         y = y + alpha * x
// seq_column_dot:   y[Dy + j] (+)= Σ_r x[r, off + j]·aux[r, j], j < D, rows r < B of x (B, Dx) and aux (B, D):
//                   one thread per column, rows summed in order (deterministic; e.g. the LSTM
//                   peepholes' gradient, Σ_(b,t) dgates_q ⊙ c)
//
// Bindings: x (read), y (read_write), params, aux (read: h0 (B,H)), lengths (B) i32, step_seed (1) u32.
// Layouts are row-major: sequences (B, T, D); matrices for the column copies (N, Dx) / (N, Dy).

override WG: u32 = 256u;
override ACCUMULATE: bool = false;

struct Params {
  B: u32,
  T: u32,
  D: u32,      // feature size of one timestep (H), or W for the column copies
  n: u32,      // total threads needed
  off: u32,    // column offset (copy/take cols)
  Dx: u32,     // row length of x (copy/take cols)
  Dy: u32,     // row length of y (copy/take cols)
  seed: u32,
  keep: f32,   // dropout keep probability
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read> lengths: array<i32>;
@group(0) @binding(5) var<storage, read> step_seed: array<u32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Element i of a (B, T, D) sequence: batch row b, timestep t, feature j.
struct SeqElement {
  b: u32,
  t: u32,
  j: u32,
}

fn seq_element(i: u32) -> SeqElement {
  let D = params.D;
  return SeqElement(i / (D * params.T), (i / D) % params.T, i % D);
}

// y[dst] = v, or y[dst] += v with ACCUMULATE.
fn store_y(dst: u32, v: f32) {
  if (ACCUMULATE) { y[dst] = y[dst] + v; } else { y[dst] = v; }
}

@compute @workgroup_size(WG)
fn seq_shift_prev(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let e = seq_element(i);
  if (e.t == 0u) {
    y[i] = aux[e.b * params.D + e.j];
  } else {
    y[i] = x[i - params.D];
  }
}

@compute @workgroup_size(WG)
fn seq_reverse(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let e = seq_element(i);
  let len = u32(lengths[e.b]);
  if (e.t < len) {
    y[i] = x[(e.b * params.T + (len - 1u - e.t)) * params.D + e.j];
  } else {
    y[i] = 0.0;
  }
}

@compute @workgroup_size(WG)
fn seq_gather_last(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let D = params.D;
  let j = i % D;
  let b = i / D;
  let t = u32(lengths[b]) - 1u;
  y[i] = x[(b * params.T + t) * D + j];
}

@compute @workgroup_size(WG)
fn seq_scatter_last(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let e = seq_element(i);
  var v = 0.0;
  if (e.t == u32(lengths[e.b]) - 1u) { v = x[e.b * params.D + e.j]; }
  store_y(i, v);
}

@compute @workgroup_size(WG)
fn seq_dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let keep = params.keep;
  let m = select(0.0, 1.0 / keep, rand_uniform(hash_u32(params.seed ^ step_seed[0]), i) < keep);
  store_y(i, x[i] * m);
}

@compute @workgroup_size(WG)
fn seq_copy_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let W = params.D;
  let j = i % W;
  let r = i / W;
  store_y(r * params.Dy + params.off + j, x[r * params.Dx + j]);
}

@compute @workgroup_size(WG)
fn seq_take_cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  let W = params.D;
  let j = i % W;
  let r = i / W;
  store_y(r * params.Dy + j, x[r * params.Dx + params.off + j]);
}

@compute @workgroup_size(WG)
fn seq_axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= params.n) { return; }
  y[i] = y[i] + params.alpha * x[i];
}

@compute @workgroup_size(WG)
fn seq_column_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = flat_index(gid, nwg);
  if (j >= params.n) { return; }
  var s = 0.0;
  for (var r = 0u; r < params.B; r++) { s += x[r * params.Dx + params.off + j] * aux[r * params.D + j]; }
  store_y(params.Dy + j, s);
}
