// precision/f16.wgsl — opens an f16 module, before common.wgsl (an enable directive comes first):
// the operands of type ST (the recurrent kernels' whh and hs, matmul's b) are stored as f16; every
// sum stays f32. Such kernels need the device feature 'shader-f16'.
enable f16;
alias ST = f16;

// x as a store to ST and a load give it back, for values kept in registers or workgroup memory
// beside hs (common.wgsl's round_to_half: a plain f32(f16(x)) may be folded away by the driver).
fn st_round(x: f32) -> f32 { return round_to_half(x); }
