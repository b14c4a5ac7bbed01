// matmul.wgsl — general matrix multiply (GEMM) and column sums: input projections for all
// timesteps (Gx = X·W_ihᵀ + b), output projections (logits = H·Wᵀ + b), weight gradients
// (dW = dGᵀ·X, dX = dG·W) and bias gradients (db = Σ_rows dG).
//
// matmul_tiled, matmul_register (two variants of the same op; the host picks one):
//   op(A) (M, K) = A, or Aᵀ when TRANS_A        op(B) (K, N) = B, or Bᵀ when TRANS_B
//   out[m, n] = alpha · Σ_k op(A)[m, k] · op(B)[k, n]
//               (+ bias[n]      when params.has_bias)     bias broadcast over rows
//               (+ out[m, n]    when params.accumulate)   out's old value (gradient accumulation)
//   The sum over k is accumulated in f32 in increasing k.
// matmul_column_sum:
//   out[n] = Σ_m a[m, n]  (+ out[n] when params.accumulate)
//   Deterministic: CS_ROWS lanes per column each sum a fixed stride of rows in order, then the
//   lanes are added in a fixed order (no atomics).
//
// Bindings (row-major; the host views a tensor of any rank as [all dims but the last, last dim]):
//   0 a       GEMM: (M, K), or (K, M) when TRANS_A      column sum: (M, N)
//   1 out     GEMM: (M, N)                              column sum: (N)
//   2 params  { M, N, K, alpha, has_bias, accumulate }   column sum: K, alpha, has_bias unused
//   3 b       GEMM only: (K, N), or (N, K) when TRANS_B; element type ST (precision/f32.wgsl, or
//             f16 in matmul_f16_*: precision/f16.wgsl opens the module), widened to f32 on load
//   4 bias    GEMM only: (N); when has_bias is 0 any buffer may be bound here and it is never read
//
// Variants:
//   matmul_tiled: a (TWG × TWG)-thread workgroup computes a (4·TWG)×(4·TWG) block of out, each
//     thread a 4×4 sub-block; slices of TBK columns of op(A) / rows of op(B) are staged in
//     workgroup memory (as 4-vectors), loaded so that neighbouring threads read neighbouring
//     addresses for every transpose combination, 4-vector loads when VEC_A / VEC_B. The classic
//     GEMM for real GPUs.
//   matmul_register: no workgroup memory; each thread computes a 4×4 block of out, reading op(A)
//     and op(B) straight from storage: 4×4 blocks as four 4-vector loads each when VEC_A and
//     VEC_B (the host sets both or neither for this kernel), else one k at a time. With
//     RWG_Y = 1 a workgroup's threads share their rows, so their op(A) loads are the same
//     addresses. Fast where workgroup memory and barriers are costly (lavapipe).
// Edges: register: rows/columns past M/N are clamped onto the last row/column for loads; K is
// walked in steps of 4 up to K - K%4 with no bounds checks and the K%4 remainder one k at a time.
// tiled: staged slices are zero-filled outside op(A)/op(B). Both store through store_block (see
// there), so any M, N, K ≥ 1 works.
// Dispatch: x = column blocks, row block = wid.y + wid.z·nwg.y (z folds y past 65535); workgroups
// past the last row block return at once.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// Set by the host when 4-element runs of the stored matrix along its contiguous dimension are
// 16-byte aligned: VEC_A when a's last dimension (K, or M when TRANS_A) is a multiple of 4,
// VEC_B when b's last dimension (N, or K when TRANS_B) is a multiple of 4.
override VEC_A: bool = false;
override VEC_B: bool = false;
// matmul_register: workgroup (RWG_X, RWG_Y) threads, block (4·RWG_Y rows) × (4·RWG_X columns).
override RWG_X: u32 = 16u;
override RWG_Y: u32 = 1u;
// matmul_tiled: workgroup (TWG, TWG) threads, block (4·TWG) × (4·TWG), K slices of TBK.
override TWG: u32 = 16u;
const TBK: u32 = 16u;
// matmul_column_sum: workgroup (CS_COLS, CS_ROWS): CS_COLS columns, CS_ROWS lanes per column.
override CS_COLS: u32 = 64u;
override CS_ROWS: u32 = 4u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  alpha: f32,
  has_bias: u32,    // 1: add bias[n] (GEMM only)
  accumulate: u32,  // 1: add out's old value
}

// a and b are read as 4-vectors where aligned (element i is a[i / 4][i % 4]); the host binds
// buffers whose size is a multiple of 16 bytes.
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> b: array<vec4<ST>>;   // ST: f32, or f16 (precision/f16.wgsl)
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// Element i of the stored a / b.
fn a_elem(i: u32) -> f32 { return a[i >> 2u][i & 3u]; }
fn b_elem(i: u32) -> f32 { return f32(b[i >> 2u][i & 3u]); }
fn b_vec(i: u32) -> vec4<f32> { return vec4<f32>(b[i]); }

// op(A)[m, k] and op(B)[k, n] (no bounds checks).
fn a_at(m: u32, k: u32) -> f32 {
  if (TRANS_A) { return a_elem(k * params.M + m); }
  return a_elem(m * params.K + k);
}

fn b_at(k: u32, n: u32) -> f32 {
  if (TRANS_B) { return b_elem(n * params.K + k); }
  return b_elem(k * params.N + n);
}

// Stores the 4×4 block v (column i = row row0 + i, at columns col0 .. col0 + 3) as
// out = alpha·v (+ bias) (+ out), for a block whose first row and column are inside out.
// Rows/columns past the edge are clamped onto the last row/column and everything is written in
// descending order, so the write that lands last on a clamped address is the true one (the
// smallest i / j); all old values are read before any write. No branches per element.
fn store_block(row0: u32, col0: u32, v: mat4x4<f32>) {
  let N = params.N;
  let r = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.M - 1u));
  let c = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u));
  var x = params.alpha * v;
  if (params.has_bias != 0u) {
    let bv = vec4<f32>(bias[c.x], bias[c.y], bias[c.z], bias[c.w]);
    for (var i = 0u; i < 4u; i++) { x[i] = x[i] + bv; }
  }
  if (params.accumulate != 0u) {
    for (var i = 0u; i < 4u; i++) {
      let o = r[i] * N;
      x[i] = x[i] + vec4<f32>(out[o + c.x], out[o + c.y], out[o + c.z], out[o + c.w]);
    }
  }
  for (var i = 4u; i > 0u; i--) {
    let o = r[i - 1u] * N;
    let xi = x[i - 1u];
    out[o + c.w] = xi.w;
    out[o + c.z] = xi.z;
    out[o + c.y] = xi.y;
    out[o + c.x] = xi.x;
  }
}

// ---------------------------------------------------------------------------------------- register

// With VEC_A: the 4×4 block of op(A) at rows r, columns k..k+3, as a matrix whose column i is row
// r[i] of op(A): four 4-vector loads, along k (rows of stored A), or when TRANS_A along m (rows r
// are consecutive there: M % 4 == 0, so r is never clamped) and then transposed.
fn a_block(r: vec4<u32>, k: u32) -> mat4x4<f32> {
  if (TRANS_A) {
    let M = params.M;
    return transpose(mat4x4<f32>(
      a[(k * M + r.x) >> 2u], a[((k + 1u) * M + r.x) >> 2u], a[((k + 2u) * M + r.x) >> 2u], a[((k + 3u) * M + r.x) >> 2u]));
  }
  let K = params.K;
  return mat4x4<f32>(a[(r.x * K + k) >> 2u], a[(r.y * K + k) >> 2u], a[(r.z * K + k) >> 2u], a[(r.w * K + k) >> 2u]);
}

// With VEC_B: the 4×4 block of op(B) at rows k..k+3, columns c, as a matrix whose column j is row
// k+j of op(B) at the columns c: four 4-vector loads, along n, or when TRANS_B along k and then
// transposed.
fn b_block(k: u32, c: vec4<u32>) -> mat4x4<f32> {
  if (TRANS_B) {
    let K = params.K;
    return transpose(mat4x4<f32>(b_vec((c.x * K + k) >> 2u), b_vec((c.y * K + k) >> 2u), b_vec((c.z * K + k) >> 2u), b_vec((c.w * K + k) >> 2u)));
  }
  let N = params.N;
  return mat4x4<f32>(
    b_vec((k * N + c.x) >> 2u), b_vec(((k + 1u) * N + c.x) >> 2u), b_vec(((k + 2u) * N + c.x) >> 2u), b_vec(((k + 3u) * N + c.x) >> 2u));
}

@compute @workgroup_size(RWG_X, RWG_Y)
fn matmul_register(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = ((wid.y + wid.z * nwg.y) * RWG_Y + lid.y) * 4u;
  let col0 = (wid.x * RWG_X + lid.x) * 4u;
  if (row0 >= M || col0 >= N) { return; }
  // Rows/columns past the edge read the last row/column; their results are never stored.
  let r = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(M - 1u));
  let c = min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u));
  // acc column i = out row r[i] at columns c.
  var acc = mat4x4<f32>();
  // With 4-vector loads on both sides k advances through 4×4 blocks up to K - K % 4; otherwise
  // (the host sets VEC_A = VEC_B here) and for the K % 4 remainder, one k at a time: the same
  // scalar loads as 4×4 blocks would make, with a quarter of the code to compile.
  let k4 = select(0u, K & ~3u, VEC_A && VEC_B);
  for (var k = 0u; k < k4; k += 4u) {
    acc = acc + b_block(k, c) * a_block(r, k);
  }
  for (var k = k4; k < K; k++) {
    let bv = vec4<f32>(b_at(k, c.x), b_at(k, c.y), b_at(k, c.z), b_at(k, c.w));
    acc[0] = acc[0] + a_at(r.x, k) * bv;
    acc[1] = acc[1] + a_at(r.y, k) * bv;
    acc[2] = acc[2] + a_at(r.z, k) * bv;
    acc[3] = acc[3] + a_at(r.w, k) * bv;
  }
  store_block(row0, col0, acc);
}

// ------------------------------------------------------------------------------------------- tiled

// tile_a[kk·TWG + q] = op(A)[m0 + 4q .. m0 + 4q + 3, k0 + kk] (4 rows);
// tile_b[kk·TWG + q] = op(B)[k0 + kk, n0 + 4q .. n0 + 4q + 3] (4 columns). Zero outside op(A)/op(B).
var<workgroup> tile_a: array<vec4<f32>, TBK * TWG>;
var<workgroup> tile_b: array<vec4<f32>, TBK * TWG>;

@compute @workgroup_size(TWG, TWG)
fn matmul_tiled(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let BM = 4u * TWG;
  let m0 = (wid.y + wid.z * nwg.y) * BM;
  let n0 = wid.x * BM;
  if (m0 >= M) { return; }  // the whole workgroup: m0 is uniform
  let t = lid.y * TWG + lid.x;
  let threads = TWG * TWG;
  var acc = mat4x4<f32>();  // column i = out row m0 + 4·lid.y + i at columns n0 + 4·lid.x ..
  for (var k0 = 0u; k0 < K; k0 += TBK) {
    // Stage the slices. Consecutive threads read consecutive addresses of the stored layout;
    // with VEC_A/VEC_B each thread reads 4-vectors (a run is either all inside or all outside).
    if (VEC_A) {
      for (var e = t; e < TBK * BM / 4u; e += threads) {
        if (TRANS_A) {  // run along m: op(A)[m0 + 4q .. +3, k0 + kk]
          let q = e % TWG;
          let kk = e / TWG;
          var v = vec4<f32>();
          if (m0 + 4u * q < M && k0 + kk < K) { v = a[((k0 + kk) * M + m0 + 4u * q) >> 2u]; }
          tile_a[kk * TWG + q] = v;
        } else {        // run along k: op(A)[m0 + mm, k0 + 4j .. +3]
          let j = e % (TBK / 4u);
          let mm = e / (TBK / 4u);
          var v = vec4<f32>();
          if (m0 + mm < M && k0 + 4u * j < K) { v = a[((m0 + mm) * K + k0 + 4u * j) >> 2u]; }
          for (var i = 0u; i < 4u; i++) { tile_a[(4u * j + i) * TWG + mm / 4u][mm % 4u] = v[i]; }
        }
      }
    } else {
      for (var e = t; e < TBK * BM; e += threads) {
        var mm: u32;
        var kk: u32;
        if (TRANS_A) { mm = e % BM; kk = e / BM; } else { kk = e % TBK; mm = e / TBK; }
        var v = 0.0;
        if (m0 + mm < M && k0 + kk < K) { v = a_at(m0 + mm, k0 + kk); }
        tile_a[kk * TWG + mm / 4u][mm % 4u] = v;
      }
    }
    if (VEC_B) {
      for (var e = t; e < TBK * BM / 4u; e += threads) {
        if (TRANS_B) {  // run along k: op(B)[k0 + 4j .. +3, n0 + nn]
          let j = e % (TBK / 4u);
          let nn = e / (TBK / 4u);
          var v = vec4<f32>();
          if (n0 + nn < N && k0 + 4u * j < K) { v = b_vec(((n0 + nn) * K + k0 + 4u * j) >> 2u); }
          for (var i = 0u; i < 4u; i++) { tile_b[(4u * j + i) * TWG + nn / 4u][nn % 4u] = v[i]; }
        } else {        // run along n: op(B)[k0 + kk, n0 + 4q .. +3]
          let q = e % TWG;
          let kk = e / TWG;
          var v = vec4<f32>();
          if (n0 + 4u * q < N && k0 + kk < K) { v = b_vec(((k0 + kk) * N + n0 + 4u * q) >> 2u); }
          tile_b[kk * TWG + q] = v;
        }
      }
    } else {
      for (var e = t; e < TBK * BM; e += threads) {
        var nn: u32;
        var kk: u32;
        if (TRANS_B) { kk = e % TBK; nn = e / TBK; } else { nn = e % BM; kk = e / BM; }
        var v = 0.0;
        if (n0 + nn < N && k0 + kk < K) { v = b_at(k0 + kk, n0 + nn); }
        tile_b[kk * TWG + nn / 4u][nn % 4u] = v;
      }
    }
    workgroupBarrier();
    // A run-time bound: skips the zero padding of the last slice, and keeps shader compilers
    // from unrolling the loop 16 times (on lavapipe that costs seconds of LLVM time per pipeline).
    let kend = min(TBK, K - k0);
    for (var kk = 0u; kk < kend; kk++) {
      let av = tile_a[kk * TWG + lid.y];
      let bv = tile_b[kk * TWG + lid.x];
      acc[0] = acc[0] + av.x * bv;
      acc[1] = acc[1] + av.y * bv;
      acc[2] = acc[2] + av.z * bv;
      acc[3] = acc[3] + av.w * bv;
    }
    workgroupBarrier();
  }
  let row0 = m0 + lid.y * 4u;
  let col0 = n0 + lid.x * 4u;
  if (row0 < M && col0 < N) { store_block(row0, col0, acc); }
}

// -------------------------------------------------------------------------------------- column sum

var<workgroup> col_partial: array<f32, CS_COLS * CS_ROWS>;

@compute @workgroup_size(CS_COLS, CS_ROWS)
fn matmul_column_sum(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let M = params.M;
  let N = params.N;
  let n = (wid.x + wid.y * nwg.x) * CS_COLS + lid.x;
  var s = 0.0;
  if (n < N) {
    for (var m = lid.y; m < M; m += CS_ROWS) { s = s + a_elem(m * N + n); }
  }
  col_partial[lid.y * CS_COLS + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && n < N) {
    var total = 0.0;
    for (var j = 0u; j < CS_ROWS; j++) { total = total + col_partial[j * CS_COLS + lid.x]; }
    if (params.accumulate != 0u) { total = total + out[n]; }
    out[n] = total;
  }
}
