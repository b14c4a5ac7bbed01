// common.wgsl — helpers prepended to every kernel file by the runtime (src/runtime/registry.ts).
//
//   sigmoid(x)  = 1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows
//   tanh_safe(x) = sign(x) * (1 - e) / (1 + e), e = exp(-2|x|); WGSL's tanh may return NaN or
//                 garbage for |x| > ~88 on some drivers (it is often lowered to exp ratios)
//   hash_u32 / rand_uniform: a stateless PRNG (PCG hash) for dropout masks and sampling:
//                 rand_uniform(seed, i) is a float in [0, 1) that depends only on (seed, i).

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);
  return select(1.0 - s, s, x >= 0.0);
}

fn tanh_safe(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}

fn hash_u32(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn rand_uniform(seed: u32, i: u32) -> f32 {
  let h = hash_u32(i ^ hash_u32(seed));
  // 24 random bits -> [0, 1)
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
