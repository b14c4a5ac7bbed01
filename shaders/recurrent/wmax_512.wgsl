// recurrent/wmax_512.wgsl — the large bucket of resident.wgsl's private W_hh values per invocation.
const WMAX: u32 = 512u;
