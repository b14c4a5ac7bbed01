// adam.wgsl — optimizer updates, one thread per parameter element, in place.
//
// adam_update (PyTorch torch.optim.Adam, L2 weight decay added to the gradient):
//   g  = grad * scale[0] + weight_decay * p        scale[0]: global-norm clip coefficient (or 1)
//   m  = beta1 * m + (1 - beta1) * g
//   v  = beta2 * v + (1 - beta2) * g * g
//   p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)  bc1 = 1 - beta1^t, bc2 = 1 - beta2^t
// sgd_update (torch.optim.SGD with momentum, dampening 0, not Nesterov):
//   g  = grad * scale[0] + weight_decay * p
//   m  = momentum * m + g    (m = g on the first step: the caller clears m)
//   p -= lr * (momentum > 0 ? m : g)
// Skipped step: a non-finite scale[0] (inf or NaN; clip_finalize writes one when the gradient norm
// or the loss is not finite) makes both kernels write nothing, so p, m and v keep their last good
// values. The test looks at the bits (exponent all ones), since drivers may fold NaN compares.
//
// Bindings (all flat arrays of N elements unless noted):
//   p      (N)  parameter, updated in place
//   grad   (N)  gradient
//   m      (N)  first moment (Adam) / momentum buffer (SGD)
//   hyper  (3)  [lr, bc1, bc2] written by the host each step, so the uniform stays cached
//   scale  (1)  gradient scale from clip.wgsl (a buffer holding 1.0 when not clipping); non-finite: skip
//   v      (N)  second moment (Adam only; last so that SGD's bindings are a prefix)

override WG: u32 = 256u;

struct Params {
  N: u32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  momentum: f32,
}

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read> hyper: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;   // Adam only

fn skip_step() -> bool {
  return (bitcast<u32>(scale[0]) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WG)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N || skip_step()) { return; }
  let lr = hyper[0];
  let bc1 = hyper[1];
  let bc2 = hyper[2];
  let g = grad[i] * scale[0] + params.weight_decay * p[i];
  let mi = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let vi = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] - (lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + params.eps);
}

@compute @workgroup_size(WG)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N || skip_step()) { return; }
  let lr = hyper[0];
  let g = grad[i] * scale[0] + params.weight_decay * p[i];
  var step = g;
  if (params.momentum > 0.0) {
    let mi = params.momentum * m[i] + g;
    m[i] = mi;
    step = mi;
  }
  p[i] = p[i] - lr * step;
}
