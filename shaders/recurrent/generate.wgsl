// recurrent/generate.wgsl — autoregressive sampling with the whole loop on the GPU: token → input →
// every recurrent layer → dense head → softmax → sample, many steps per dispatch; only ids are read back.
//
// One workgroup per sample row b, looping over steps s = s_begin .. s_end-1 of a row of S token
// slots: ids[b, 0 .. P-1] hold the prime, step s reads ids[b, s] and, once s + 1 >= P, writes the
// token it samples to ids[b, s + 1]. S − 1 steps prime the model and generate N = S − P tokens,
// possibly over several dispatches (the states carry in `state`).
//
// Module: common.wgsl + precision/f32.wgsl (or precision/f16.wgsl first: f16 weights, f32 sums) +
// every cell's math (cells/lstm.wgsl, gru.wgsl, rnn.wgsl: a layer's cell is chosen at run time from
// the program table) + this file. Per step:
//   x      = emb[tok, :]  (input mode 0, Embedding (V_in, E))  or  the one-hot e_tok (mode 1, so
//            W_ih·x = W_ih[:, tok])
//   layer l (x is the new h of layer l−1 for l > 0):
//     gi = W_ih·x + b_ih      gh = W_hh·h_l + b_hh      (G = 4H, 3H or H rows)
//     (h, c) = the cell's forward from gi and gh (lstm_forward, gru_forward, rnn_forward)
//   if s + 1 >= P:
//     logits = W_out·h_top + b_out  (V);  z = logits / temperature
//     top_k = 0: all ids, in id order;  top_k = K: the K largest z (ties: lower id) in descending order
//     p ∝ exp(z − max z) over those ids;  u = rand_uniform(hash_u32(seed) ^ b, s) in [0, 1)
//     ids[b, s+1] = the first id (in that order) whose running sum of p exceeds u·Σp
//   (the CPU reference, src/cpu/generate.ts, samples with the same u in the same order).
//
// Bindings (row-major):
//   0  weights  vec4<ST>, read: every parameter packed at element offsets (multiples of 4) given in
//               `program`; matrices transposed, rows zero-padded to a multiple of 4: W_ih (I, G4),
//               W_hh (H, G4), the head (H_top, V4); biases padded to G4 / V4; embedding (V_in, E) as is
//   1  program  u32: [8 header words][8 words per layer]                          read
//        header: n_layers, input_mode, input_size, V, head_w, head_b (NONE: no bias), emb, head_in
//        layer:  cell, I, H, w_ih, w_hh, b_ih, b_hh, peep (LSTM peepholes (3, H), NONE: none);
//                cell = code (0 LSTM, 1 GRU, 2 RNN tanh, 3 RNN relu) | act << 8 | gate act << 12
//                (LSTM/GRU activation codes of common.wgsl's cell_act) | 1 << 16 for a GRU with the
//                reset gate before the product (r ⊙ h goes to the layer's unused c slot, then n's rows)
//   2  ids      i32 (B, S)                                                        read_write
//   3  state    f32 (B, L, 2, h_max): h then c of every layer                     read_write
//   4  scratch  f32 (B, scratch_stride): gi, gh (g_max = the largest G4 each), z (V), kept z, id (K)
//   5  logits   f32 (B, N, V): the raw logits each token was drawn from, when record = 1
//   6  params   uniform (below)
//   7  source   f32 (rows, cols)  read         — generate_pack only
//   8  packed   ST (the weights buffer) read_write — generate_pack only
// Threads: WG invocations (a power of two) per workgroup; workgroups: B along x.
// Each phase is followed by storageBarrier(): the next phase reads values other invocations wrote.

override WG: u32 = 256u;

const NONE: u32 = 0xffffffffu;
const TAKEN: f32 = -3.0e38;   // marks an id already chosen by top-k selection
const LOWEST: f32 = -3.4e38;  // below every logit and below TAKEN

struct Params {
  B: u32, S: u32, P: u32, s_begin: u32, s_end: u32, seed: u32, top_k: u32, record: u32,
  inv_temperature: f32, scratch_stride: u32, h_max: u32, g_max: u32, n_layers: u32, V: u32, serial: u32,
  pack_rows: u32, pack_cols: u32, pack_offset: u32, pack_stride: u32, pad0: u32,
}

@group(0) @binding(0) var<storage, read> weights: array<vec4<ST>>;
@group(0) @binding(1) var<storage, read> program: array<u32>;
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(5) var<storage, read_write> logits: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(7) var<storage, read> source: array<f32>;
@group(0) @binding(8) var<storage, read_write> packed: array<ST>;

var<workgroup> red_v: array<f32, WG>;  var<workgroup> red_i: array<u32, WG>;

// One float of the packed weights by float index.
fn weight_at(i: u32) -> f32 { return f32(weights[i / 4u][i % 4u]); }

fn gate_rows(cell: u32, H: u32) -> u32 { return select(select(H, 3u * H, cell == 1u), 4u * H, cell == 0u); }

// Offset of layer l's h in `state` for row b (c follows at + h_max).
fn state_at(b: u32, l: u32) -> u32 { return (b * params.n_layers + l) * 2u * params.h_max; }

// Tree reduction of (red_v, red_i) to slot 0: the larger value wins, ties go to the lower id.
fn reduce_argmax(lid: u32) {
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) {
      let v = red_v[lid + w];  let i = red_i[lid + w];
      if (v > red_v[lid] || (v == red_v[lid] && i < red_i[lid])) { red_v[lid] = v;  red_i[lid] = i; }
    }
    workgroupBarrier();
  }
}

// One recurrent layer for one step: gates into scratch, then the new h (and c) into state.
fn layer_step(lid: u32, b: u32, l: u32, tok: u32) {
  let e = 8u + 8u * l;  let cell = program[e] & 0xffu;  let act = (program[e] >> 8u) & 0xfu;  let gate = (program[e] >> 12u) & 0xfu;
  let before = (program[e] & 0x10000u) != 0u;  let peep = program[e + 7u];
  let I = program[e + 1u];  let H = program[e + 2u];  let w_ih = program[e + 3u];  let w_hh = program[e + 4u];
  let b_ih = program[e + 5u];  let b_hh = program[e + 6u];  let G = gate_rows(cell, H);
  let sc = b * params.scratch_stride;  let h_at = state_at(b, l);  let input_mode = program[1];  let emb_row = program[6] + tok * I;
  // Invocation lid owns the rows 4·q .. 4·q+3 for q = lid, lid + WG, ...: one vec4 load per k.
  let Q = (G + 3u) / 4u; // vec4s per transposed row (G padded to a multiple of 4 with zeros)
  let wi = w_ih / 4u;  let wh = w_hh / 4u;
  for (var q = lid; q < Q; q += WG) {
    var gi = vec4<f32>(weights[b_ih / 4u + q]);
    if (l == 0u && input_mode == 1u) { gi += vec4<f32>(weights[wi + tok * Q + q]); }
    else if (l == 0u) { for (var k = 0u; k < I; k++) { gi += vec4<f32>(weights[wi + k * Q + q]) * weight_at(emb_row + k); } }
    else { for (var k = 0u; k < I; k++) { gi += vec4<f32>(weights[wi + k * Q + q]) * state[state_at(b, l - 1u) + k]; } }
    var gh = vec4<f32>(weights[b_hh / 4u + q]);
    for (var k = 0u; k < H; k++) { gh += vec4<f32>(weights[wh + k * Q + q]) * state[h_at + k]; }
    for (var i = 0u; i < 4u; i++) { scratch[sc + 4u * q + i] = gi[i];  scratch[sc + params.g_max + 4u * q + i] = gh[i]; }
  }
  storageBarrier();  let gi_at = sc;  let gh_at = sc + params.g_max;
  if (before) {
    for (var j = lid; j < H; j += WG) { state[h_at + params.h_max + j] = cell_act(gate, scratch[gi_at + j] + scratch[gh_at + j]) * state[h_at + j]; }
    storageBarrier();
    for (var j = lid; j < H; j += WG) {
      var a = weight_at(b_hh + 2u * H + j);
      for (var k = 0u; k < H; k++) { a += weight_at(w_hh + k * 4u * Q + 2u * H + j) * state[h_at + params.h_max + k]; }
      scratch[gh_at + 2u * H + j] = a;
    }
    storageBarrier();
  }
  for (var j = lid; j < H; j += WG) {
    let h_prev = state[h_at + j];
    var gi = vec4<f32>(0.0);  var gh = vec4<f32>(0.0);
    for (var q = 0u; q < G / H; q++) { gi[q] = scratch[gi_at + q * H + j];  gh[q] = scratch[gh_at + q * H + j]; }
    var h = 0.0;
    if (cell == 0u) {
      var p = vec3<f32>(0.0);
      if (peep != NONE) { p = vec3<f32>(weight_at(peep + j), weight_at(peep + H + j), weight_at(peep + 2u * H + j)); }
      let s = lstm_forward(gi + gh, state[h_at + params.h_max + j], act, gate, p);
      state[h_at + params.h_max + j] = s.c;
      h = s.h;
    } else if (cell == 1u) { h = gru_forward(gi.xyz, gh.xyz, h_prev, act, gate, before).h; }
    else { h = rnn_forward(gi.x + gh.x, cell - 2u); }   // codes 2, 3: cell_act's tanh, relu
    state[h_at + j] = h;
  }
  storageBarrier();
}

// The head's logits for row b at step s into scratch z (scaled by 1/temperature) and, when
// recording, into `logits`.
fn head(lid: u32, b: u32, s: u32) {
  let V = params.V;  let head_w = program[4];  let head_b = program[5];  let head_in = program[7];
  let top = state_at(b, params.n_layers - 1u);  let z_at = b * params.scratch_stride + 2u * params.g_max;
  let n = s + 1u - params.P;  let N = params.S - params.P;  let Q = (V + 3u) / 4u;  let hw = head_w / 4u;
  for (var q = lid; q < Q; q += WG) {
    var acc = vec4<f32>(0.0);
    if (head_b != NONE) { acc = vec4<f32>(weights[head_b / 4u + q]); }
    for (var k = 0u; k < head_in; k++) { acc += vec4<f32>(weights[hw + k * Q + q]) * state[top + k]; }
    for (var i = 0u; i < 4u; i++) {
      let v = 4u * q + i;
      if (v >= V) { continue; }
      if (params.record == 1u) { logits[(b * N + n) * V + v] = acc[i]; }
      scratch[z_at + v] = acc[i] * params.inv_temperature;
    }
  }
  storageBarrier();
}

// Invocation 0 only: the index j < n drawn with u from the n values z at z_at (weights exp(z − m)),
// in their order: all V ids, or the K kept (z, id) pairs in descending order (m = the first).
fn pick(z_at: u32, n: u32, m: f32, u: f32) -> u32 {
  var total = 0.0;
  for (var j = 0u; j < n; j++) { total += exp(scratch[z_at + j] - m); }
  let goal = u * total;  var acc = 0.0;
  for (var j = 0u; j < n; j++) { acc += exp(scratch[z_at + j] - m);  if (goal < acc) { return j; } }
  return n - 1u; // rounding left the goal past the last sum
}

// Samples ids[b, s + 1] from scratch z (see the header). serial = 1: invocation 0 does it all (no
// barriers; best for small V·K); else workgroup reductions (max and chunk sums, or K argmax rounds).
fn sample_token(lid: u32, b: u32, s: u32) {
  let V = params.V;  let K = params.top_k;
  let z_at = b * params.scratch_stride + 2u * params.g_max;  let kz_at = z_at + V;  let ki_at = kz_at + K;
  let u = rand_uniform(hash_u32(params.seed) ^ b, s);
  var chosen = 0u;
  if (params.serial == 1u) {
    if (lid == 0u) {
      if (K == 0u) {
        var m = LOWEST;
        for (var v = 0u; v < V; v++) { m = max(m, scratch[z_at + v]); }
        chosen = pick(z_at, V, m, u);
      } else {
        for (var j = 0u; j < K; j++) {
          var best = LOWEST;  var best_i = 0u;
          for (var v = 0u; v < V; v++) { let z = scratch[z_at + v];  if (z > best) { best = z; best_i = v; } }
          scratch[kz_at + j] = best;  scratch[ki_at + j] = f32(best_i);  scratch[z_at + best_i] = TAKEN;
        }
        chosen = u32(scratch[ki_at + pick(kz_at, K, scratch[kz_at], u)]);
      }
    }
  } else if (K == 0u) {
    // max z, then per-invocation sums of exp(z − max) over contiguous chunks, then one scan.
    var m = LOWEST;
    for (var v = lid; v < V; v += WG) { m = max(m, scratch[z_at + v]); }  red_v[lid] = m;  red_i[lid] = 0u;
    workgroupBarrier();
    reduce_argmax(lid);
    m = red_v[0];  workgroupBarrier();
    let C = (V + WG - 1u) / WG;  let lo = min(lid * C, V);  let hi = min(lo + C, V);
    var part = 0.0;
    for (var v = lo; v < hi; v++) { part += exp(scratch[z_at + v] - m); }
    red_v[lid] = part;
    workgroupBarrier();
    if (lid == 0u) {
      var total = 0.0;
      for (var i = 0u; i < WG; i++) { total += red_v[i]; }
      let goal = u * total;  var acc = 0.0;  var chunk = WG;
      for (var i = 0u; i < WG; i++) { if (goal < acc + red_v[i]) { chunk = i; break; }  acc += red_v[i]; }
      chosen = V - 1u; // rounding left the goal past the last sum: the last id, as on the CPU
      if (chunk < WG) {
        let c_lo = chunk * C;  let c_hi = min(c_lo + C, V);
        chosen = c_hi - 1u; // the same rounding within the chunk
        for (var v = c_lo; v < c_hi; v++) { acc += exp(scratch[z_at + v] - m);  if (goal < acc) { chosen = v; break; } }
      }
    }
  } else {
    // K rounds of argmax; the chosen id is marked TAKEN so the next round skips it.
    for (var j = 0u; j < K; j++) {
      var best = LOWEST;  var best_i = V;
      for (var v = lid; v < V; v += WG) { let z = scratch[z_at + v];  if (z > best) { best = z; best_i = v; } }
      red_v[lid] = best;  red_i[lid] = best_i;
      workgroupBarrier();
      reduce_argmax(lid);
      if (lid == 0u) { scratch[kz_at + j] = red_v[0];  scratch[ki_at + j] = f32(red_i[0]);  scratch[z_at + red_i[0]] = TAKEN; }
      storageBarrier();
      workgroupBarrier();
    }
    if (lid == 0u) { chosen = u32(scratch[ki_at + pick(kz_at, K, scratch[kz_at], u)]); }
  }
  if (lid == 0u) { ids[b * params.S + s + 1u] = i32(chosen); }
  storageBarrier();
}

@compute @workgroup_size(WG)
fn generate_steps(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;  let b = wid.x;
  for (var s = params.s_begin; s < params.s_end; s++) {
    let tok = u32(ids[b * params.S + s]);
    for (var l = 0u; l < params.n_layers; l++) { layer_step(lid, b, l, tok); }
    if (s + 1u >= params.P) { head(lid, b, s);  sample_token(lid, b, s); }
  }
}

// generate_pack: packed[pack_offset + c·pack_stride + r] = source[r·cols + c] — a (rows, cols)
// matrix stored transposed with rows padded to pack_stride (a multiple of 4; the padding stays 0),
// so that at every k the invocations of generate_steps read consecutive vec4s (4 rows each).
// One invocation per element.
@compute @workgroup_size(WG)
fn generate_pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= params.pack_rows * params.pack_cols) { return; }
  let r = idx / params.pack_cols;  let c = idx % params.pack_cols;
  packed[params.pack_offset + c * params.pack_stride + r] = ST(source[idx]);
}
