// embedding.wgsl — token embedding lookup (PyTorch nn.Embedding), one-hot encoding, and the
// embedding gradient as a deterministic scatter-add (WGSL has no float atomics).
//
// N = number of token positions (B·T), V vocabulary size, D embedding width.
//
// embedding_forward:        out[n, d] = weight[tokens[n], d]                 one thread per (n, d)
// embedding_one_hot:        out[n, v] = (tokens[n] == v) ? 1 : 0              one thread per (n, v)
//                           (= embedding_forward with weight = the V×V identity, without the reads)
// embedding_backward:       dweight[v, d] (+)= Σ_{p = offsets[v]}^{offsets[v+1]-1} dout[positions[p], d]
//                           one workgroup per vocabulary row v (folded into y when V > 65535),
//                           threads over d; offsets/positions come from a counting sort of the
//                           tokens on the host (buildTokenIndex), positions of each id increasing.
// embedding_backward_scan:  dweight[v, d] (+)= Σ_{n : tokens[n] == v} dout[n, d]
//                           one thread per (v, d) scanning all N tokens in order: O(V·N·D) work,
//                           no index needed (for small V or tokens produced on the GPU).
// embedding_project_one_hot: out[n, d] = weight[d, tokens[n]] + bias[d]     one thread per (n, d)
//                           one-hot(tokens) · weightᵀ + bias without the one-hot matrix or a GEMM:
//                           the input projection of a recurrent layer whose input is one-hot
//                           (weight = W_ih (G, V), D = G). Out-of-range ids give just the bias.
//                           With HALF_WEIGHT each gathered weight is first rounded to f16 the way
//                           half_pack stores it (pack2x16float, core WGSL): the gather of a layer
//                           whose W_ih is f16 (precision 'f16'), with no f16 copy of the whole
//                           (G, V) matrix to refresh at every step. The f16 bits are widened with
//                           integer operations: a compiler may fold unpack2x16float(pack2x16float(x))
//                           or f32(f16(x)) back to x (Mesa's does), which would skip the rounding.
// embedding_project_one_hot_backward: dweight[d, v] (+)= Σ_{p = offsets[v]}^{offsets[v+1]-1} dout[positions[p], d]
//                           its weight gradient (dW_ih = dGᵀ · one-hot), one workgroup per id v and
//                           its lanes over d, through the same token index as embedding_backward.
// Both backward kernels sum in increasing n starting from 0.0 and then, with ACCUMULATE, add the
// old dweight once (dweight = dweight + s): the same order, so the same bits, run after run.
//
// Out-of-range ids (tokens[n] < 0 or >= V) never read or write out of bounds: embedding_forward
// writes a zero row, embedding_one_hot an all-zero row, embedding_backward_scan ignores the
// position. (The model layer validates ids on the host: checkTokenIds in src/cpu/embedding.ts;
// buildTokenIndex refuses them.) embedding_backward also clamps a malformed index to [0, N).
//
// Bindings (row-major; each kernel binds a subset, listed in src/kernels/embedding.ts):
//   weight    (V, D)  read        embedding table                      [forward]
//   tokens    (N)     read  i32   token ids                            [forward, one_hot, scan]
//   out       (N, D)  read_write  gathered rows; (N, V) for one_hot    [forward, one_hot]
//   params            uniform     {N, V, D}
//   dout      (N, D)  read        gradient w.r.t. out                  [backward, scan]
//   offsets   (V + 1) read  i32   positions[offsets[v] .. offsets[v+1]) are id v's positions  [backward]
//   positions (N)     read  i32   token positions sorted by id, increasing within an id        [backward]
//   dweight   (V, D)  read_write  gradient w.r.t. weight               [backward, scan]
//   bias      (D)     read        added by embedding_project_one_hot  (weight, dweight are (D, V) there)

override WG: u32 = 256u;
override ACCUMULATE: bool = false;
override HALF_WEIGHT: bool = false;

struct Params {
  N: u32,
  V: u32,
  D: u32,
}

@group(0) @binding(0) var<storage, read> weight: array<f32>;
@group(0) @binding(1) var<storage, read> tokens: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read> offsets: array<i32>;
@group(0) @binding(6) var<storage, read> positions: array<i32>;
@group(0) @binding(7) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(8) var<storage, read> bias: array<f32>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn id_in_range(id: i32) -> bool {
  return id >= 0 && u32(id) < params.V;
}

// dweight[o] = s, or dweight[o] += s with ACCUMULATE (the old value added once, after the sum).
fn store_dweight(o: u32, s: f32) {
  if (ACCUMULATE) { dweight[o] = dweight[o] + s; } else { dweight[o] = s; }
}

@compute @workgroup_size(WG)
fn embedding_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  let D = params.D;
  if (i >= params.N * D) { return; }
  let n = i / D;
  let d = i % D;
  let id = tokens[n];
  var v = 0.0;
  if (id_in_range(id)) { v = weight[u32(id) * D + d]; }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn embedding_one_hot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  let V = params.V;
  if (i >= params.N * V) { return; }
  let n = i / V;
  let v = i % V;
  out[i] = select(0.0, 1.0, tokens[n] == i32(v));
}

@compute @workgroup_size(WG)
fn embedding_backward(
  @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let v = wid.x + wid.y * nwg.x;
  if (v >= params.V) { return; }
  let D = params.D;
  let N = i32(params.N);
  let start = clamp(offsets[v], 0, N);
  let end = clamp(offsets[v + 1u], start, N);
  for (var d = lid.x; d < D; d += WG) {
    var s = 0.0;
    for (var p = start; p < end; p++) {
      let n = u32(clamp(positions[p], 0, N - 1));
      s += dout[n * D + d];
    }
    store_dweight(v * D + d, s);
  }
}

@compute @workgroup_size(WG)
fn embedding_backward_scan(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  let D = params.D;
  if (i >= params.V * D) { return; }
  let v = i32(i / D);
  let d = i % D;
  var s = 0.0;
  for (var n = 0u; n < params.N; n++) {
    if (tokens[n] == v) { s += dout[n * D + d]; }
  }
  store_dweight(i, s);
}

@compute @workgroup_size(WG)
fn embedding_project_one_hot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  let D = params.D;
  if (i >= params.N * D) { return; }
  let n = i / D;
  let d = i % D;
  let id = tokens[n];
  var v = bias[d];
  if (id_in_range(id)) {
    var w = weight[d * params.V + u32(id)];
    if (HALF_WEIGHT) { w = round_to_half(w); }
    v = v + w;
  }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn embedding_project_one_hot_backward(
  @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let v = wid.x + wid.y * nwg.x;   // one workgroup per id: the same positions for all its lanes
  if (v >= params.V) { return; }
  let D = params.D;
  let N = i32(params.N);
  for (var d = lid.x; d < D; d += WG) {   // lanes along d: adjacent lanes read adjacent words of dout
    var s = 0.0;
    for (var p = offsets[v]; p < offsets[v + 1u]; p++) {
      let n = u32(clamp(positions[clamp(p, 0, N - 1)], 0, N - 1));
      s = s + dout[n * D + d];
    }
    store_dweight(d * params.V + v, s);
  }
}
