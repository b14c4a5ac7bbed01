// clip.wgsl — global-norm gradient clipping (PyTorch torch.nn.utils.clip_grad_norm_, norm_type 2):
//   total_norm = sqrt(sum over every gradient buffer g of sum_i g_i^2)
//   coef       = min(1, max_norm / (total_norm + 1e-6))
//   g_i       *= coef       (clip_scale; or fused into adam_update / sgd_update, which read scale[0])
//
// Overflow-safe sums: squares are taken of values scaled by an exact power of two, so gradients up
// to the largest f32 give a finite norm as long as the norm itself is below 3.4e38.
// clip_sumsq (one dispatch per gradient buffer): workgroup p owns CHUNK = 2048 consecutive
//   elements of the buffer and writes one partial, the pair
//     e = exponent of the chunk's max |g_i| (max |g| = f * 2^e, f in [0.5, 1); e clamped to
//         [-120, 126] so every 2^-e used is a normal f32), -120 for an all-zero chunk
//     q = sum_i (g_i * 2^-e)^2        (so sum_i g_i^2 = q * 4^e; q <= 16 * CHUNK)
//   at partials[2 (offset + p)], partials[2 (offset + p) + 1] (e stored as an exact f32).
//   A chunk holding an inf writes q = inf; a NaN propagates through q; a non-finite q gets e = 126
//   so that it is never skipped.
// clip_finalize (one workgroup, after every clip_sumsq of the step): over the `count` partials,
//   E = max e_p, Q = sum_p q_p * 4^(e_p - E) (terms with e_p - E < -50 are below f32 resolution
//   and skipped), total_norm = sqrt(Q) * 2^E; writes norm[0] = total_norm, scale[0] = coef.
//   max_norm 0 means "measure only": coef = 1. A non-finite total_norm (an inf or NaN gradient, or
//   a norm past the f32 range) gives coef = total_norm, non-finite, which makes adam_update and
//   sgd_update skip the step (write nothing) instead of writing inf/NaN into the weights.
//   Loss scaling: gradients that hold the true ones times S (a scaled loss) are unscaled here, not
//   in a pass of their own: with unscale = 1/S, total_norm is the sum's norm times unscale (the
//   true gradients' norm) and scale[0] = coef * unscale, so the update kernels, which multiply
//   each gradient by scale[0], see the true gradients, clipped. unscale 1: no loss scaling.
// clip_finalize_step (clip_finalize for a training step): also reads the step's loss and writes
//   status = [skip, total_norm, loss, coef] with skip = 1 when total_norm or the loss is not
//   finite, else 0; a non-finite loss makes coef non-finite too, so the update is skipped. Finite
//   means exponent bits not all ones: drivers may fold NaN compares (GL ES does), so no x != x.
//
// Determinism: no atomics; every sum runs in a fixed order (within a chunk: thread k's CHUNK / WG values in
// order, then a fixed tree; across partials: thread k takes partials k, k+WG, ... in order with
// Kahan compensation, then a fixed tree).
// Dispatch: clip_sumsq: ceil(N / CHUNK) workgroups, folded over (x, y) past 65535
// (p = wid.x + wid.y * nwg.x); clip_finalize(_step): one workgroup; clip_scale: one thread per element,
// folded (i = gid.x + gid.y * nwg.x * WG).
//
// Bindings:
//   grad     (N)         one gradient buffer (any shape, flat): read by clip_sumsq, scaled by clip_scale
//                        (left as it is when scale is not finite)
//   partials (2 * count) pairs [q, e] from clip_sumsq
//   norm     (1)         total_norm
//   scale    (1)         coef (1 when no clipping is needed)
//   params   {N, offset, count, max_norm, unscale}: N elements of grad, the first partial this
//            dispatch writes (clip_sumsq), the number of partials (clip_finalize), max_norm
//            (clip_finalize; 0: no clipping), unscale (clip_finalize: 1 / the loss scale, else 1)
//   loss     (1)         the step's loss (clip_finalize_step)
//   status   (4)         [skip, total_norm, loss, coef] (clip_finalize_step)

override WG: u32 = 256u;   // power of two, at most 256 (the host: 32 on CPU drivers, where barriers are costly)
const CHUNK: u32 = 2048u;  // elements per clip_sumsq workgroup, CHUNK / WG per thread (read twice: max, then sum)
const E_MIN: i32 = -120;
const E_MAX: i32 = 126;

struct Params {
  N: u32,
  offset: u32,
  count: u32,
  max_norm: f32,
  unscale: f32,
}

@group(0) @binding(0) var<storage, read_write> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> scale: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read> loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> status: array<f32>;

@compute @workgroup_size(WG)
fn clip_sumsq(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let p = wid.x + wid.y * nwg.x;
  let nparts = (params.N + CHUNK - 1u) / CHUNK;
  if (p >= nparts) { return; }
  let base = p * CHUNK;
  var mx = 0.0;
  for (var k = 0u; k < CHUNK / WG; k++) {
    let i = base + k * WG + tid;
    if (i < params.N) { mx = max(mx, abs(grad[i])); }
  }
  let gmax = block_max(tid, mx);
  var e = E_MIN;
  var inf_chunk = false;
  if (gmax > F32_MAX) {
    inf_chunk = true;
  } else if (gmax > 0.0) {
    e = clamp(frexp(gmax).exp, E_MIN, E_MAX);
  }
  var q = 0.0;
  for (var k = 0u; k < CHUNK / WG; k++) {
    let i = base + k * WG + tid;
    var g = 0.0;
    if (i < params.N) { g = grad[i]; }
    let v = ldexp(g, -e);
    q += v * v;
  }
  let total = select(block_sum(tid, q), gmax, inf_chunk);   // gmax is inf there
  if (tid == 0u) {
    let j = 2u * (params.offset + p);
    // A non-finite partial gets the largest exponent so that clip_finalize never skips it.
    let finite = is_finite_bits(total);
    partials[j] = total;
    partials[j + 1u] = f32(select(E_MAX, e, finite));
  }
}

fn is_finite_bits(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// The total norm over the `count` partials; every thread returns it.
fn total_norm_of_partials(tid: u32) -> f32 {
  let count = params.count;
  var emax = f32(E_MIN);
  for (var p = tid; p < count; p += WG) { emax = max(emax, partials[2u * p + 1u]); }
  let E = i32(block_max(tid, emax));
  var s = 0.0;
  var c = 0.0;   // Kahan compensation
  for (var p = tid; p < count; p += WG) {
    let d = i32(partials[2u * p + 1u]) - E;
    if (d >= -50) {
      let y = ldexp(partials[2u * p], 2 * d) - c;
      let t = s + y;
      c = (t - s) - y;
      s = t;
    }
  }
  let Q = block_sum(tid, s);
  return sqrt(Q) * ldexp(1.0, E);
}

// min(1, max_norm / (total_norm + 1e-6)); 1 when max_norm is 0; total_norm itself when it is not
// finite, so that the update kernels skip the step.
fn clip_coef(total_norm: f32) -> f32 {
  var coef = 1.0;
  if (params.max_norm > 0.0) {
    let r = params.max_norm / (total_norm + 1e-6);
    coef = select(r, 1.0, r > 1.0);
  }
  return select(total_norm, coef, is_finite_bits(total_norm));
}

@compute @workgroup_size(WG)
fn clip_finalize(@builtin(local_invocation_index) tid: u32) {
  let total_norm = total_norm_of_partials(tid) * params.unscale;
  if (tid == 0u) {
    norm[0] = total_norm;
    scale[0] = clip_coef(total_norm) * params.unscale;
  }
}

@compute @workgroup_size(WG)
fn clip_finalize_step(@builtin(local_invocation_index) tid: u32) {
  let total_norm = total_norm_of_partials(tid) * params.unscale;
  if (tid == 0u) {
    let l = loss[0];
    let loss_ok = is_finite_bits(l);
    let skip = !(is_finite_bits(total_norm) && loss_ok);
    // A non-finite loss with a finite norm still has to skip: pass the loss on as the scale.
    let coef = select(l, clip_coef(total_norm) * params.unscale, loss_ok);
    norm[0] = total_norm;
    scale[0] = coef;
    status[0] = select(0.0, 1.0, skip);
    status[1] = total_norm;
    status[2] = l;
    status[3] = coef;
  }
}

@compute @workgroup_size(WG)
fn clip_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N || !is_finite_bits(scale[0])) { return; }   // a skipped step: leave it
  grad[i] = grad[i] * scale[0];
}
