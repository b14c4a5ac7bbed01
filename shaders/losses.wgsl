// losses.wgsl — elementwise losses, their gradients, and a deterministic scalar reduction.
//
// losses_sigmoid_xent[_grad] (TF tf.nn.sigmoid_cross_entropy_with_logits, PyTorch
// BCEWithLogitsLoss), x = logits, z = labels (usually in [0, 1]):
//   elem[i] = w_i * (max(x_i, 0) - x_i * z_i + log(1 + exp(-|x_i|)))     never overflows
//   dx[i]   = w_i * (sigmoid(x_i) - z_i) * grad_scale                     (_grad only)
// losses_mse[_grad] (x = predictions, z = targets):
//   elem[i] = w_i * (x_i - z_i)^2
//   dx[i]   = 2 * w_i * (x_i - z_i) * grad_scale                          (_grad only)
// losses_sum:
//   loss[0] = scale * sum_i elem[i]
// The wrapper sets, for reduction 'mean': scale = 1/N, grad_scale = g/N; for 'sum': scale = 1,
// grad_scale = g (g = the caller's gradient multiplier, default 1). With weights this is PyTorch's
// convention: mean = sum_i w_i * l_i / N. w_i = weights[i] when HAS_W = 1; with HAS_W = 0 every
// w_i = 1 and `weights` is never read (the wrapper binds x there).
// log(1 + e) for e = exp(-|x|) in (0, 1] uses a series for e < 0.05 (|x| > 3), so the loss of a
// confident correct prediction (≈ e^-|x|) keeps its relative accuracy instead of rounding to 0.
//
// Determinism: losses_sum runs in one workgroup; thread k adds elem[k], elem[k+WG], ... in order
// (Kahan-compensated), then a fixed tree. No atomics.
// Dispatch: the pointwise kernels: one thread per element, groups folded over (x, y) when more than
// 65535 are needed (i = gid.x + gid.y * nwg.x * WG); losses_sum: one workgroup.
//
// Bindings (all flat, N elements, any row-major shape):
//   x        (N)  logits (sigmoid_xent) or predictions (mse)
//   z        (N)  labels / targets
//   weights  (N)  per-element weights (HAS_W = 1 only)
//   params   {N, scale, grad_scale}
//   elem     (N)  per-element losses
//   dx       (N)  gradient of the reduced loss w.r.t. x
//   loss     (1)  the reduced loss

override WG: u32 = 256u;     // power of two, at most 256
override HAS_W: bool = false;

struct Params {
  N: u32,
  scale: f32,
  grad_scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> elem: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;

var<workgroup> red: array<f32, 256>;

fn weight_at(i: u32) -> f32 {
  if (HAS_W) { return weights[i]; }
  return 1.0;
}

// log(1 + e) for e in [0, 1] with a small relative error for tiny e (WGSL has no log1p, and its
// log is only accurate to ~2^-21 absolute near 1): a Taylor series below 0.05 (7 terms, truncation
// e^7/7 < 1.2e-10 relative), log(1 + e) >= 0.0488 above.
fn log1p_small(e: f32) -> f32 {
  if (e < 0.05) {
    return e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - e * (0.25 - e * (0.2 - e * (1.0 / 6.0 - e / 7.0))))));
  }
  return log(1.0 + e);
}

fn sigmoid_xent(xi: f32, zi: f32) -> f32 {
  return max(xi, 0.0) - xi * zi + log1p_small(exp(-abs(xi)));
}

@compute @workgroup_size(WG)
fn losses_sigmoid_xent(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  elem[i] = weight_at(i) * sigmoid_xent(x[i], z[i]);
}

@compute @workgroup_size(WG)
fn losses_sigmoid_xent_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let w = weight_at(i);
  let xi = x[i];
  let zi = z[i];
  elem[i] = w * sigmoid_xent(xi, zi);
  dx[i] = w * (sigmoid(xi) - zi) * params.grad_scale;
}

@compute @workgroup_size(WG)
fn losses_mse(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let d = x[i] - z[i];
  elem[i] = weight_at(i) * d * d;
}

@compute @workgroup_size(WG)
fn losses_mse_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let w = weight_at(i);
  let d = x[i] - z[i];
  elem[i] = w * d * d;
  dx[i] = 2.0 * w * d * params.grad_scale;
}

@compute @workgroup_size(WG)
fn losses_sum(@builtin(local_invocation_index) tid: u32) {
  var s = 0.0;
  var c = 0.0;   // Kahan compensation
  for (var i = tid; i < params.N; i += WG) {
    let y = elem[i] - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  red[tid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (tid < k) { red[tid] = red[tid] + red[tid + k]; }
    workgroupBarrier();
  }
  if (tid == 0u) { loss[0] = red[0] * params.scale; }
}
