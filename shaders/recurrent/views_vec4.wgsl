// recurrent/views_vec4.wgsl — layout.wgsl's whh, hs (type WS) and dghh (FS) as arrays of 4-vectors,
// for the step kernels when H % 4 == 0 (the host's choice): a 4-element accessor (i % 4 == 0) is
// one vector load where CPU drivers (lavapipe) would load 4 elements one by one. Same values.
alias WS = vec4<ST>;  alias FS = vec4<f32>;
fn whh_at(i: u32) -> f32 { return f32(whh[i >> 2u][i & 3u]); }
fn whh4_at(i: u32) -> vec4<f32> { return vec4<f32>(whh[i >> 2u]); }
fn hs_at(i: u32) -> f32 { return f32(hs[i >> 2u][i & 3u]); }
fn hs4_at(i: u32) -> vec4<f32> { return vec4<f32>(hs[i >> 2u]); }
fn hs_put(i: u32, v: f32) { hs[i >> 2u][i & 3u] = ST(v); }
fn dghh_at(i: u32) -> f32 { return dghh[i >> 2u][i & 3u]; }
fn dghh4_at(i: u32) -> vec4<f32> { return dghh[i >> 2u]; }
fn dghh_put(i: u32, v: f32) { dghh[i >> 2u][i & 3u] = v; }
