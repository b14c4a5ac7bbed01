// half.wgsl — f16 storage copies of f32 tensors and back, for the f16 recurrent kernels (their whh
// and hs, matmul's b: precision/f16.wgsl). n values are stored as IEEE binary16, two per u32 word, value i in
// bits 16·(i%2) .. 16·(i%2)+15 of word i/2: the layout of a WGSL array<f16>. Core WGSL
// (pack2x16float, unpack2x16float): no device feature needed. Values must lie within ±65504.
//
// half_pack:   halves[w] = pack2x16float(values[2w], values[2w+1])   w < ceil(n/2); past n packs 0
// half_unpack: values[i] = unpack2x16float(halves[i/2])[i%2]            i < n
// Bindings: 0 values (n) f32, 1 halves (ceil(n/2)) u32, 2 params { n }.

override WG: u32 = 256u;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read_write> values: array<f32>;
@group(0) @binding(1) var<storage, read_write> halves: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn half_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn half_pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = half_index(gid, nwg);
  if (2u * w >= params.n) { return; }
  let hi = select(0.0, values[2u * w + 1u], 2u * w + 1u < params.n);
  halves[w] = pack2x16float(vec2<f32>(values[2u * w], hi));
}

@compute @workgroup_size(WG)
fn half_unpack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = half_index(gid, nwg);
  if (i >= params.n) { return; }
  values[i] = unpack2x16float(halves[i >> 1u])[i & 1u];
}
