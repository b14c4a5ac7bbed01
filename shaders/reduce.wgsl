// reduce.wgsl — workgroup reductions (attention.wgsl, softmax_xent.wgsl, decode.wgsl, clip.wgsl),
// composed into their modules as a part (src/kernels/attention.ts, softmax_xent.ts, decode.ts,
// clip.ts). The kernel file declares `override WG: u32`, a power of two of at
// most 256; every thread of the workgroup calls softmax_reduce and block_sum from uniform control flow.
//
//   softmax_push(acc, x): a thread's running pair acc = (m, s), m = the largest x so far and
//                 s = Σ exp(x_i − m), extended by x (online softmax: one pass, no overflow for any x);
//                 a thread starts from SOFTMAX_EMPTY = (−F32_MAX, 0)
//   softmax_reduce(tid, acc): the threads' pairs combined in a fixed tree,
//                 (m, s) = (max(m1, m2), s1·exp(m1 − m) + s2·exp(m2 − m)); every thread gets the
//                 workgroup's (max, Σ exp(x − max))
//   block_sum(tid, v): Σ of v over the workgroup in a fixed tree; every thread gets it
//   block_max(tid, v): the largest v over the workgroup (the same tree); every thread gets it
// The trees are fixed, so the same inputs give bitwise the same results on every run.

const F32_MAX: f32 = 0x1.fffffep+127f;   // largest finite f32
const SOFTMAX_EMPTY = vec2<f32>(-F32_MAX, 0.0);

var<workgroup> red_m: array<f32, 256>;
var<workgroup> red_s: array<f32, 256>;

fn softmax_push(acc: vec2<f32>, x: f32) -> vec2<f32> {
  if (x > acc.x) { return vec2<f32>(x, acc.y * exp(acc.x - x) + 1.0); }
  return vec2<f32>(acc.x, acc.y + exp(x - acc.x));
}

fn softmax_reduce(tid: u32, acc: vec2<f32>) -> vec2<f32> {
  red_m[tid] = acc.x;
  red_s[tid] = acc.y;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (tid < k) {
      let m1 = red_m[tid];
      let m2 = red_m[tid + k];
      let mm = max(m1, m2);
      red_s[tid] = red_s[tid] * exp(m1 - mm) + red_s[tid + k] * exp(m2 - mm);
      red_m[tid] = mm;
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red_m[0], red_s[0]);
  workgroupBarrier();
  return r;
}

fn block_sum(tid: u32, v: f32) -> f32 {
  red_s[tid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (tid < k) { red_s[tid] = red_s[tid] + red_s[tid + k]; }
    workgroupBarrier();
  }
  let r = red_s[0];
  workgroupBarrier();
  return r;
}

fn block_max(tid: u32, v: f32) -> f32 {
  red_m[tid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (tid < k) { red_m[tid] = max(red_m[tid], red_m[tid + k]); }
    workgroupBarrier();
  }
  let r = red_m[0];
  workgroupBarrier();
  return r;
}
