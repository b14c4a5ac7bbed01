// precision/f16.wgsl — opens an f16 module, before common.wgsl (an enable directive comes first):
// the operands of type ST (the recurrent kernels' whh and hs, matmul's b) are stored as f16; every
// sum stays f32. Such kernels need the device feature 'shader-f16'.
enable f16;
alias ST = f16;
