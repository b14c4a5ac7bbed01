// common.wgsl — helpers prepended to every kernel file by the runtime (src/runtime/registry.ts).
//
//   sigmoid(x)  = 1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows
//   tanh_safe(x) = sign(x) * (1 - e) / (1 + e), e = exp(-2|x|); WGSL's tanh may return NaN or
//                 garbage for |x| > ~88 on some drivers (it is often lowered to exp ratios)
//   cell_act(code, x) / cell_act_grad(code, y): the recurrent cells' activations by Keras name,
//                 code 0 tanh, 1 relu, 2 sigmoid, 3 hard_sigmoid = clip(0.2x + 0.5, 0, 1) (Keras 2
//                 and tfjs), 4 linear; the slope is written from the output y = act(x), 0 at kinks
//   round_to_half(x): x rounded to binary16 (pack2x16float) and widened back by integer operations
//                 only: drivers may fold f32(f16(x)) or unpack2x16float(pack2x16float(x)) to x
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

fn cell_act(code: u32, x: f32) -> f32 {
  switch code {
    case 1u: { return max(x, 0.0); }
    case 2u: { return sigmoid(x); }
    case 3u: { return clamp(0.2 * x + 0.5, 0.0, 1.0); }
    case 4u: { return x; }
    default: { return tanh_safe(x); }
  }
}

fn cell_act_grad(code: u32, y: f32) -> f32 {
  switch code {
    case 1u: { return select(0.0, 1.0, y > 0.0); }
    case 2u: { return y * (1.0 - y); }
    case 3u: { return select(0.0, 0.2, y > 0.0 && y < 1.0); }
    case 4u: { return 1.0; }
    default: { return 1.0 - y * y; }
  }
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

fn round_to_half(x: f32) -> f32 {
  let h = pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu;
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { let v = f32(m) * 5.9604644775390625e-8; return select(v, -v, sign != 0u); }   // zero, subnormal: m · 2^-24
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }   // inf, NaN
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
