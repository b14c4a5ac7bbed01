// precision/f32.wgsl — the storage type ST of the operands a kernel may keep in f16 (the recurrent
// kernels' whh and hs, matmul's b) in the f32 modules; precision/f16.wgsl is the f16 one.
alias ST = f32;
fn st_round(x: f32) -> f32 { return x; }   // as precision/f16.wgsl's: x as hs holds it
