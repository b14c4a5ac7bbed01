// activation.wgsl — pointwise activations for Dense layers, one thread per element.
//
// ACT: 0 relu, 1 tanh, 2 sigmoid (override constant).
// activation_forward:  y = f(x)
// activation_backward: dx = dy * f'(x) written from the forward output y, which is all f' needs:
//                      relu' = [y > 0], tanh' = 1 - y², sigmoid' = y (1 - y).
//                      With ACCUMULATE, dx += … instead.
// Bindings: x / y / dy / dx are flat arrays of n elements (any shape, row-major).

override WG: u32 = 256u;
override ACT: u32 = 0u;
override ACCUMULATE: bool = false;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;      // forward: x;  backward: y
@group(0) @binding(1) var<storage, read_write> dst: array<f32>; // forward: y;  backward: dx
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> dy: array<f32>;         // backward only

fn act(x: f32) -> f32 {
  switch ACT {
    case 0u: { return max(x, 0.0); }
    case 1u: { return tanh_safe(x); }
    default: { return sigmoid(x); }
  }
}

fn act_grad_from_output(y: f32) -> f32 {
  switch ACT {
    case 0u: { return select(0.0, 1.0, y > 0.0); }
    case 1u: { return 1.0 - y * y; }
    default: { return y * (1.0 - y); }
  }
}

@compute @workgroup_size(WG)
fn activation_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  dst[i] = act(src[i]);
}

@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let g = dy[i] * act_grad_from_output(src[i]);
  if (ACCUMULATE) { dst[i] = dst[i] + g; } else { dst[i] = g; }
}
