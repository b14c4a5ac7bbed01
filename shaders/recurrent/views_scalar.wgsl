// recurrent/views_scalar.wgsl — layout.wgsl's whh, hs (type WS) and dghh (FS) as arrays of single
// elements: any H. The accessors take element indices; the 4-element ones read i .. i+3.
alias WS = ST;  alias FS = f32;
fn whh_at(i: u32) -> f32 { return f32(whh[i]); }
fn whh4_at(i: u32) -> vec4<f32> { return vec4<f32>(f32(whh[i]), f32(whh[i + 1u]), f32(whh[i + 2u]), f32(whh[i + 3u])); }
fn hs_at(i: u32) -> f32 { return f32(hs[i]); }
fn hs4_at(i: u32) -> vec4<f32> { return vec4<f32>(f32(hs[i]), f32(hs[i + 1u]), f32(hs[i + 2u]), f32(hs[i + 3u])); }
fn hs_put(i: u32, v: f32) { hs[i] = ST(v); }
fn dghh_at(i: u32) -> f32 { return dghh[i]; }
fn dghh4_at(i: u32) -> vec4<f32> { return vec4<f32>(dghh[i], dghh[i + 1u], dghh[i + 2u], dghh[i + 3u]); }
fn dghh_put(i: u32, v: f32) { dghh[i] = v; }
