// recurrent/wmax_160.wgsl — the small bucket of resident.wgsl's private W_hh values per invocation.
const WMAX: u32 = 160u;
