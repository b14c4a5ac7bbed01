// precision/f16.wgsl — opens an f16 module, before common.wgsl (an enable directive comes first):
// the operands of type ST (the recurrent kernels' whh and hs, matmul's b) are stored as f16; every
// sum stays f32. Such kernels need the device feature 'shader-f16'.
enable f16;
alias ST = f16;

// x as a store to ST and a load give it back (rounded to f16), for values kept in registers or
// workgroup memory beside hs. Decoded from pack2x16float's bits with integer operations: drivers
// may fold f32(f16(x)) and unpack2x16float(pack2x16float(x)) back to x (Mesa's compiler does).
fn st_round(x: f32) -> f32 {
  let h = pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu;
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { let v = f32(m) * 5.9604644775390625e-8; return select(v, -v, sign != 0u); }   // zero, subnormal
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }   // inf, NaN
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
