// Greedy and beam-search decoding on the GPU (shaders/decode.wgsl, src/train/decode.ts) against
// the float64 search in src/cpu/decode.ts: a toy decoder whose logits come from fixed tables per
// (step, token) plus a per-(row, step) bias, a small random LSTM decoder built from the existing
// kernels (embedding → one LSTM step → dense) whose states the search gathers by parent, and a
// Sequential's layers as the decoder. Encoder–decoder graph Models (with and without attention,
// and with an input-feeding AttentionDecoder of either cell, whose h, c and h̃ the search carries)
// decoded from their layers must agree with their own forward on the greedy prefix. Sizes are
// awkward on purpose: B·K is never a multiple of the workgroup size.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gpu } from './helpers/gpu.ts';
import { expectClose, expectRejects, expectThrows } from './helpers/expect.ts';
import { Rng } from '../src/cpu/random.ts';
import { cpuBeamSearch, type CpuDecoder, type Hypothesis } from '../src/cpu/decode.ts';
import { lstmStepForward as cpuLstmStep } from '../src/cpu/lstm.ts';
import { beamSearch, greedyDecode, type DecoderSteps, type BeamSearchOptions } from '../src/train/decode.ts';
import { gatherRows } from '../src/kernels/decode.ts';
import { embeddingForward } from '../src/kernels/embedding.ts';
import { seqAxpy } from '../src/kernels/seq.ts';
import { lstmStepForward } from '../src/kernels/lstm.ts';
import { matmul } from '../src/kernels/matmul.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { Sequential } from '../src/nn/model.ts';
import { Embedding } from '../src/nn/embedding.ts';
import { GRU, LSTM } from '../src/nn/recurrent.ts';
import { Dense } from '../src/nn/layers.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { Input, type GraphValue } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';
import { Attention } from '../src/nn/attention.ts';
import { AttentionDecoder } from '../src/nn/attention_decoder.ts';
import { attentionDecoderForward } from '../src/cpu/attention_decoder.ts';

const test = suite('decode');

/**
 * logits(n, t) = table[t][token_n] + bias[b(n)][t]: tables (L, V, V) and bias (B, L, V), f32
 * values, as a GPU decoder (two embedding gathers and an add per step) and a CPU one.
 */
function tableDecoder(ctx: GpuContext, B: number, K: number, V: number, table: Float32Array, bias: Float32Array) {
  const N = B * K, L = table.length / (V * V);
  const tables = Array.from({ length: L }, (_, t) => ctx.tensor(table.subarray(t * V * V, (t + 1) * V * V), [V, V], `table${t}`));
  const biasT = ctx.tensor(bias, [B * L, V], 'bias');
  const rowIds = Array.from({ length: L }, (_, t) => ctx.tensor(Int32Array.from({ length: N }, (_, n) => Math.floor(n / K) * L + t), [N], `rows${t}`));
  const logits = ctx.empty([N, V], 'f32', 'logits'), extra = ctx.empty([N, V], 'f32', 'extra');
  const gpuDecoder: DecoderSteps = {
    step(c, tokens, t) {
      embeddingForward(c, tables[t], tokens, logits);
      embeddingForward(c, biasT, rowIds[t], extra);
      seqAxpy(c, 1, extra, logits);
      return logits;
    },
    reorder() { /* stateless */ },
  };
  const cpuDecoder: CpuDecoder = {
    step(tokens, t) {
      const out = new Float64Array(N * V);
      for (let n = 0; n < N; n++) {
        const b = Math.floor(n / K);
        for (let v = 0; v < V; v++) out[n * V + v] = Math.fround(table[(t * V + tokens[n]) * V + v] + bias[(b * L + t) * V + v]);
      }
      return out;
    },
    reorder() { /* stateless */ },
  };
  const release = () => { for (const t of [...tables, ...rowIds, biasT, logits, extra]) t.release(); };
  return { gpuDecoder, cpuDecoder, release };
}

/** Tokens must be equal; scores within f32 rounding of a sum of ≤ 10 log-probabilities. */
function expectSameBeams(name: string, got: Hypothesis[][], want: Hypothesis[][]): void {
  assert.is(got.length, want.length, `${name}: rows`);
  for (let b = 0; b < want.length; b++) {
    for (let i = 0; i < want[b].length; i++) {
      const g = got[b][i], w = want[b][i];
      const where = `${name} row ${b} beam ${i}`;
      assert.equal(g.tokens, w.tokens, `${where}: tokens`);
      assert.is(g.length, w.length, `${where}: length`);
      assert.is(g.finished, w.finished, `${where}: finished`);
      if (w.score === -Infinity) assert.is(g.score, -Infinity, `${where}: an unused beam`);
      // f32 log-softmax of O(1) logits summed over ≤ 10 steps: a few ulps of 10.
      else expectClose(`${where}: score`, [g.score, g.normalizedScore], [w.score, w.normalizedScore], { atol: 1e-4, rtol: 1e-5 });
    }
  }
}

function randomTables(seed: number, B: number, V: number, L: number, scale: number) {
  const rng = new Rng(seed);
  return { table: rng.uniformArray(L * V * V, -scale, scale), bias: rng.uniformArray(B * L * V, -scale, scale) };
}

test('toy decoder: GPU beam search == CPU beam search for each length normalisation (B=5, K=3, V=7: B·K = 15)', async () => {
  const ctx = await gpu();
  const B = 5, K = 3, V = 7, L = 8, eos = 2;
  const { table, bias } = randomTables(1, B, V, L, 2);
  const d = tableDecoder(ctx, B, K, V, table, bias);
  try {
    for (const lengthNormalization of ['none', 'average', 'gnmt'] as const) {
      const o = { batchSize: B, beamWidth: K, startToken: 0, endToken: eos, maxLength: L, lengthNormalization };
      const got = await beamSearch(ctx, d.gpuDecoder, o);
      const want = cpuBeamSearch(d.cpuDecoder, { B, K, V, start: 0, eos, maxLength: L, lengthNormalization });
      expectSameBeams(lengthNormalization, got.hypotheses, want);
      assert.equal(got.best, want.map((h) => h[0].tokens));
      for (const row of got.hypotheses) for (let i = 1; i < K; i++) assert.ok(row[i - 1].normalizedScore >= row[i].normalizedScore, 'best first');
    }
  } finally { d.release(); }
});

test('K = 1 equals greedy: greedyDecode == beamSearch(K = 1) == an arg-max loop written here', async () => {
  const ctx = await gpu();
  const B = 3, V = 9, L = 6, eos = 4;
  const { table, bias } = randomTables(2, B, V, L, 3);
  const d = tableDecoder(ctx, B, 1, V, table, bias);
  try {
    const o = { batchSize: B, startToken: 1, endToken: eos, maxLength: L };
    const greedy = await greedyDecode(ctx, d.gpuDecoder, o);
    const beam1 = await beamSearch(ctx, d.gpuDecoder, { ...o, beamWidth: 1 });
    assert.equal(greedy.hypotheses, beam1.hypotheses);
    for (let b = 0; b < B; b++) {
      const want: number[] = [];
      let tok = 1;
      for (let t = 0; t < L; t++) {
        const row = d.cpuDecoder.step(Int32Array.from({ length: B }, () => tok), t);
        let best = 0;
        for (let v = 1; v < V; v++) if (row[b * V + v] > row[b * V + best]) best = v;
        if (best === eos) break;
        want.push(best);
        tok = best;
      }
      assert.equal(greedy.best[b], want, `row ${b}`);
    }
  } finally { d.release(); }
});

test('length normalisation changes the winner where it should: none keeps the short hypothesis, average the long one', async () => {
  const ctx = await gpu();
  // Tokens: 0 start, 1 "a", 2 end; logits are log-probabilities. Short: end at once, log 0.44 =
  // -0.82. Long: a a a end, log(0.55·0.7·0.7·0.98) = -1.33 in all, -0.33 a token.
  const V = 3, L = 5, ln = Math.log;
  const table = new Float32Array(L * V * V).fill(ln(1 / 3));
  const set = (t: number, tok: number, p: number[]) => table.set(p.map(ln), (t * V + tok) * V);
  set(0, 0, [0.01, 0.55, 0.44]);
  set(1, 1, [0.01, 0.7, 0.29]);
  set(2, 1, [0.01, 0.7, 0.29]);
  set(3, 1, [0.01, 0.01, 0.98]);
  const d = tableDecoder(ctx, 1, 2, V, table, new Float32Array(L * V));
  try {
    const o = { batchSize: 1, beamWidth: 2, startToken: 0, endToken: 2, maxLength: L };
    const none = await beamSearch(ctx, d.gpuDecoder, { ...o, lengthNormalization: 'none' });
    const avg = await beamSearch(ctx, d.gpuDecoder, { ...o, lengthNormalization: 'average' });
    assert.equal(none.best[0], []);
    assert.equal(avg.best[0], [1, 1, 1]);
    expectClose('short score', [none.hypotheses[0][0].score], [ln(0.44)], { atol: 1e-5, rtol: 0 }); // f32 log of a table value
    expectClose('long mean', [avg.hypotheses[0][0].normalizedScore], [ln(0.55 * 0.7 * 0.7 * 0.98) / 4], { atol: 1e-5, rtol: 0 });
    for (const lengthNormalization of ['none', 'average'] as const) {
      const want = cpuBeamSearch(d.cpuDecoder, { B: 1, K: 2, V, start: 0, eos: 2, maxLength: L, lengthNormalization });
      expectSameBeams(lengthNormalization, (lengthNormalization === 'none' ? none : avg).hypotheses, want);
    }
  } finally { d.release(); }
});

test('the end token at a different step in each row; checkEvery stops early with the same beams', async () => {
  const ctx = await gpu();
  const B = 7, K = 2, V = 5, L = 9, eos = 3;
  const { table, bias } = randomTables(4, B, V, L, 1);
  // Row b's end token is forbidden before step b + 1 and certain at it.
  for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) bias[(b * L + t) * V + eos] = t < b + 1 ? -30 : 30;
  const d = tableDecoder(ctx, B, K, V, table, bias);
  try {
    const o = { batchSize: B, beamWidth: K, startToken: 0, endToken: eos, maxLength: L, lengthNormalization: 'average' as const };
    const full = await beamSearch(ctx, d.gpuDecoder, o);
    assert.is(full.steps, L);
    const want = cpuBeamSearch(d.cpuDecoder, { B, K, V, start: 0, eos, maxLength: L, lengthNormalization: 'average' });
    expectSameBeams('rows', full.hypotheses, want);
    for (let b = 0; b < B; b++) {
      assert.is(full.hypotheses[b][0].length, b + 2, `row ${b}: b + 1 tokens and the end token`);
      assert.ok(full.hypotheses[b].every((h) => h.finished));
    }
    const early = await beamSearch(ctx, d.gpuDecoder, { ...o, checkEvery: 2 });
    assert.is(early.steps, 8, 'all rows end by step 7 (row 6), seen at the check after step 8');
    assert.equal(early.hypotheses, full.hypotheses);
    // Cut off: rows that cannot finish within maxLength report unfinished hypotheses.
    const cut = await beamSearch(ctx, d.gpuDecoder, { ...o, maxLength: 3 });
    assert.ok(cut.hypotheses[0][0].finished && !cut.hypotheses[6][0].finished);
    assert.is(cut.hypotheses[6][0].tokens.length, 3);
  } finally { d.release(); }
});

/** A random LSTM decoder: E (V, 4H) as the input projection, one LSTM step, W (V, H) + c (V) head. */
function lstmDecoder(ctx: GpuContext, seed: number, B: number, K: number, V: number, H: number) {
  const rng = new Rng(seed), N = B * K, G = 4 * H;
  const E = rng.uniformArray(V * G, -1, 1), whh = rng.uniformArray(G * H, -0.5, 0.5), bhh = rng.uniformArray(G, -0.5, 0.5);
  const W = rng.uniformArray(V * H, -2, 2), c = rng.uniformArray(V, -0.5, 0.5), h0 = rng.uniformArray(B * H, -1, 1);
  // Each batch row starts from its own state (an encoder's, say), copied to its K beams.
  const start = new Float32Array(N * H);
  for (let n = 0; n < N; n++) start.set(h0.subarray(Math.floor(n / K) * H, (Math.floor(n / K) + 1) * H), n * H);
  const t = {
    E: ctx.tensor(E, [V, G], 'E'), whh: ctx.tensor(whh, [G, H], 'whh'), bhh: ctx.tensor(bhh, [G], 'bhh'),
    W: ctx.tensor(W, [V, H], 'W'), c: ctx.tensor(c, [V], 'c'),
    h: ctx.tensor(start, [N, H], 'h'), cell: ctx.zeros([N, H], 'f32', 'cell'),
    lengths: ctx.tensor(new Int32Array(N).fill(1), [N], 'lengths'),
    gx2: ctx.empty([N, G], 'f32', 'gx2'), gx: ctx.empty([N, 1, G], 'f32', 'gx'),
    hs: ctx.empty([N, 1, H], 'f32', 'hs'), cs: ctx.empty([N, 1, H], 'f32', 'cs'), gates: ctx.empty([N, 1, G], 'f32', 'gates'),
    hn: ctx.empty([N, H], 'f32', 'hn'), cn: ctx.empty([N, H], 'f32', 'cn'), logits: ctx.empty([N, V], 'f32', 'logits'),
  };
  const gpuDecoder: DecoderSteps = {
    step(x, tokens) {
      embeddingForward(x, t.E, tokens, t.gx2);
      x.copy(t.gx2, t.gx);
      lstmStepForward(x, 0, { gx: t.gx, whh: t.whh, bhh: t.bhh, h0: t.h, c0: t.cell, lengths: t.lengths, hs: t.hs, cs: t.cs, gates: t.gates, hn: t.hn, cn: t.cn });
      matmul(x, t.hn, t.W, t.logits, { transB: true, bias: t.c });
      return t.logits;
    },
    reorder(x, parents) {
      gatherRows(x, t.hn, parents, t.h);
      gatherRows(x, t.cn, parents, t.cell);
    },
  };
  let h = Float64Array.from(start), cc = new Float64Array(N * H);
  let hn = new Float64Array(N * H), cn = new Float64Array(N * H);
  const cpuDecoder: CpuDecoder = {
    step(tokens) {
      const gx = new Float64Array(N * G);
      for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) gx[n * G + g] = E[tokens[n] * G + g];
      hn = new Float64Array(N * H); cn = new Float64Array(N * H);
      cpuLstmStep(0, { gx, whh, bhh, h0: h, c0: cc, lengths: new Int32Array(N).fill(1), hs: new Float64Array(N * H), cs: new Float64Array(N * H), gates: new Float64Array(N * G), hn, cn });
      const out = new Float64Array(N * V);
      for (let n = 0; n < N; n++) for (let v = 0; v < V; v++) {
        let s = c[v];
        for (let k = 0; k < H; k++) s += hn[n * H + k] * W[v * H + k];
        out[n * V + v] = s;
      }
      return out;
    },
    reorder(parents) {
      h = new Float64Array(N * H); cc = new Float64Array(N * H);
      for (let n = 0; n < N; n++) for (let k = 0; k < H; k++) { h[n * H + k] = hn[parents[n] * H + k]; cc[n * H + k] = cn[parents[n] * H + k]; }
    },
  };
  const reset = () => { ctx.write(t.h, start); ctx.write(t.cell, new Float32Array(N * H)); h = Float64Array.from(start); cc = new Float64Array(N * H); };
  const release = () => { for (const x of Object.values(t)) x.release(); };
  return { gpuDecoder, cpuDecoder, reset, release };
}

test('a random LSTM decoder (embedding → LSTM step → dense, states gathered by parent): GPU == CPU for K = 4 and greedy', async () => {
  const ctx = await gpu();
  const B = 3, K = 4, V = 11, H = 6, L = 7, eos = 2;
  for (const k of [K, 1]) {
    const d = lstmDecoder(ctx, 9, B, k, V, H);
    try {
      const o: BeamSearchOptions = { batchSize: B, beamWidth: k, startToken: 1, endToken: eos, maxLength: L };
      const got = await beamSearch(ctx, d.gpuDecoder, o);
      const want = cpuBeamSearch(d.cpuDecoder, { B, K: k, V, start: 1, eos, maxLength: L });
      expectSameBeams(`K=${k}`, got.hypotheses, want);
      if (k === K) assert.ok(got.hypotheses.some((row) => row.some((hyp) => hyp.tokens.length > 1)), 'the beams are not trivial');
    } finally { d.release(); }
  }
});

test('a decoder made of layers (Embedding → LSTM → Dense, initial states per batch row): GPU search == CPU search on its weights', async () => {
  const ctx = await gpu();
  const B = 3, K = 3, V = 10, E = 5, H = 7, L = 6, eos = 2, N = B * K;
  const emb = new Embedding({ numEmbeddings: V, embeddingDim: E }), lstm = new LSTM({ hiddenSize: H }), dense = new Dense({ units: V });
  const model = new Sequential([emb, lstm, dense], { seed: 4 }).build(ctx);
  const sd = await stateDict(model);
  const w = (k: string) => sd[k].data;
  const rng = new Rng(8);
  const h0 = rng.uniformArray(B * H, -1, 1), c0 = rng.uniformArray(B * H, -1, 1);
  const init = { h: ctx.tensor(h0, [1, B, H], 'h0'), c: ctx.tensor(c0, [1, B, H], 'c0') };
  // The same decoder in float64 from the state dict; its states start as each row's, copied to its beams.
  const rep = (x: Float32Array) => Float64Array.from({ length: N * H }, (_, i) => x[Math.floor(i / (K * H)) * H + (i % H)]);
  let h = rep(h0), c = rep(c0), hn = new Float64Array(N * H), cn = new Float64Array(N * H);
  const cpuDecoder: CpuDecoder = {
    step(tokens) {
      const G = 4 * H, gx = new Float64Array(N * G);
      for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) {
        let s = w('lstm.bias_ih_l0')[g];
        for (let e = 0; e < E; e++) s += w('lstm.weight_ih_l0')[g * E + e] * w('embedding.weight')[tokens[n] * E + e];
        gx[n * G + g] = s;
      }
      hn = new Float64Array(N * H); cn = new Float64Array(N * H);
      cpuLstmStep(0, { gx, whh: w('lstm.weight_hh_l0'), bhh: w('lstm.bias_hh_l0'), h0: h, c0: c, lengths: new Int32Array(N).fill(1),
        hs: new Float64Array(N * H), cs: new Float64Array(N * H), gates: new Float64Array(N * G), hn, cn });
      const out = new Float64Array(N * V);
      for (let n = 0; n < N; n++) for (let v = 0; v < V; v++) {
        let s = w('dense.bias')[v];
        for (let k = 0; k < H; k++) s += hn[n * H + k] * w('dense.weight')[v * H + k];
        out[n * V + v] = s;
      }
      return out;
    },
    reorder(parents) {
      h = new Float64Array(N * H); c = new Float64Array(N * H);
      for (let n = 0; n < N; n++) for (let k = 0; k < H; k++) { h[n * H + k] = hn[parents[n] * H + k]; c[n * H + k] = cn[parents[n] * H + k]; }
    },
  };
  try {
    const got = await beamSearch(ctx, { layers: [emb, lstm, dense], initialStates: [init] }, { batchSize: B, beamWidth: K, startToken: 1, endToken: eos, maxLength: L });
    const want = cpuBeamSearch(cpuDecoder, { B, K, V, start: 1, eos, maxLength: L });
    expectSameBeams('layers', got.hypotheses, want);
    await expectRejects(() => beamSearch(ctx, { layers: [emb, lstm, dense], initialStates: [{ h: init.h }] }, { batchSize: B, startToken: 1, endToken: eos, maxLength: L }),
      /initialStates\[0\]\.c for layer "lstm"/, /shape \(numLayers, B, H\) = \(1, 3, 7\), got undefined/);
    await expectRejects(() => beamSearch(ctx, { layers: [emb, lstm, dense], initialStates: [init] }, { batchSize: 2, startToken: 1, endToken: eos, maxLength: L }),
      /initialStates\[0\]\.h/, /\(1, 2, 7\), got Tensor h0 f32\(1, 3, 7\)|\(1, 2, 7\), got Tensor h0/);
    // The model still trains and predicts at its own sizes afterwards.
    const p = await model.predict({ x: Int32Array.from([1, 2, 3, 4]), shape: [2, 2] });
    assert.is(p.data.length, 2 * 2 * V);
  } finally {
    init.h.release(); init.c.release();
    model.dispose();
  }
});

/** Greedy tokens of a Model's own forward on the growing prefix (the arg-max of its last step), until the end token. */
async function greedyByPrefix(model: Model, src: Int32Array, srcLengths: Int32Array, B: number, Ts: number, V: number, L: number, start: number, eos: number): Promise<number[][]> {
  const prefix = Array.from({ length: B }, () => [start]);
  const want: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  for (let t = 0; t < L; t++) {
    const out = await model.predict({ source: { x: src, shape: [B, Ts], lengths: srcLengths }, target: { x: Int32Array.from(prefix.flat()), shape: [B, t + 1] } });
    for (let b = 0; b < B; b++) {
      const row = out.logits.data.subarray((b * (t + 1) + t) * V, (b * (t + 1) + t + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      prefix[b].push(best);
      if (best === eos) done[b] = true;
      else if (!done[b]) want[b].push(best);
    }
  }
  return want;
}

for (const withAttention of [false, true]) {
  test(`an encoder–decoder graph Model${withAttention ? ' with Luong attention' : ''}: greedy decoding of its decoder layers from the encoder's states == its own forward on the greedy prefix`, async () => {
    const ctx = await gpu();
    const B = 3, V = 9, Ts = 5, L = 6, start = 1, eos = 2;
    const source = Input.tokens('source', V), target = Input.tokens('target', V);
    const encoder = new LSTM({ hiddenSize: 8, name: 'encoder' });
    const tgtEmb = new Embedding({ numEmbeddings: V, embeddingDim: 6, name: 'tgt_emb' });
    const decoder = new LSTM({ hiddenSize: 8, name: 'decoder' });
    const attention = new Attention({ score: 'general', attentionalHidden: 7 });
    const proj = new Dense({ units: V, name: 'proj' });
    const enc = encoder.call(new Embedding({ numEmbeddings: V, embeddingDim: 6, name: 'src_emb' }).call(source));
    const dec = decoder.call(tgtEmb.call(target), { initialState: enc.state });
    const logits = proj.call(withAttention ? attention.call(dec, enc).output : dec);
    const model = new Model({ inputs: { source, target }, outputs: { logits, memory: enc }, seed: 3 }).build(ctx);
    const src = new Rng(6).intArray(B * Ts, V), srcLengths = Int32Array.from([5, 2, 4]);
    try {
      // The encoder runs once (with a one-token target); the decoder's layers are then stepped from its states.
      const out = model.forward({ source: { x: src, shape: [B, Ts], lengths: srcLengths }, target: { x: new Int32Array(B).fill(start), shape: [B, 1] } });
      const layers = withAttention ? [tgtEmb, decoder, attention, proj] : [tgtEmb, decoder, proj];
      const got = await greedyDecode(ctx, { layers, initialStates: [encoder.finalState()], memory: { values: out.memory, lengths: srcLengths } },
        { batchSize: B, startToken: start, endToken: eos, maxLength: L });
      const want = await greedyByPrefix(model, src, srcLengths, B, Ts, V, L, start, eos);
      assert.equal(got.best, want);
      assert.ok(want.some((w) => w.length > 0), 'not every row ends at once');
      if (withAttention) {
        // Beams too: the best of 3 beams is at least as likely as the greedy path under no normalisation, here.
        const beam = await beamSearch(ctx, { layers, initialStates: [encoder.finalState()], memory: { values: out.memory, lengths: srcLengths } },
          { batchSize: B, beamWidth: 3, startToken: start, endToken: eos, maxLength: L, lengthNormalization: 'none' });
        const greedyScores = (await greedyDecode(ctx, { layers, initialStates: [encoder.finalState()], memory: { values: out.memory, lengths: srcLengths } },
          { batchSize: B, startToken: start, endToken: eos, maxLength: L, lengthNormalization: 'none' })).hypotheses.map((h) => h[0].score);
        beam.hypotheses.forEach((h, b) => assert.ok(h[0].score >= greedyScores[b] - 1e-5, `row ${b}: beam ${h[0].score} < greedy ${greedyScores[b]}`));
        await expectRejects(() => greedyDecode(ctx, { layers, initialStates: [encoder.finalState()] }, { batchSize: B, startToken: start, endToken: eos, maxLength: L }),
          /has an Attention node, so decoder.memory \{ values, lengths \} is required/, /got undefined/);
        await expectRejects(() => greedyDecode(ctx, { layers, initialStates: [encoder.finalState()], memory: { values: out.memory, lengths: [5, 6, 1] } },
          { batchSize: B, startToken: start, endToken: eos, maxLength: L }), /decoder.memory.lengths/, /B = 3 integers in \[1, 5\]/);
      }
    } finally {
      model.dispose();
    }
  });
}

for (const cell of ['lstm', 'gru'] as const) {
  test(`an input-feeding AttentionDecoder (${cell} cell) stepped by the search (h, c, h̃ carried and gathered by parent): beam == CPU search on its weights, greedy == the Model's own forward on the greedy prefix`, async () => {
    const ctx = await gpu();
    const gru = cell === 'gru';
    const B = 3, K = 3, V = 9, E = 4, H = 6, Hc = 5, Ts = 5, L = 6, start = 1, eos = 2, N = B * K;
    const source = Input.tokens('source', V), target = Input.tokens('target', V);
    const enc = (gru ? new GRU({ hiddenSize: H, name: 'encoder' }) : new LSTM({ hiddenSize: H, name: 'encoder' })).call(new Embedding({ numEmbeddings: V, embeddingDim: E, name: 'src_emb' }).call(source));
    const tgtEmb = new Embedding({ numEmbeddings: V, embeddingDim: E, name: 'tgt_emb' });
    const decoder = new AttentionDecoder({ hiddenSize: H, attentionalHidden: Hc, score: 'general', cell, name: 'decoder' });
    const proj = new Dense({ units: V, name: 'proj' });
    const dec = decoder.call(tgtEmb.call(target), enc, { h: enc.state.h, ...(gru ? {} : { c: enc.state.c! }) });
    const outputs: Record<string, GraphValue> = { logits: proj.call(dec.output), memory: enc, h: enc.state.h };
    if (enc.state.c) outputs.c = enc.state.c;
    const model = new Model({ inputs: { source, target }, outputs, seed: 11 }).build(ctx);
    const src = new Rng(12).intArray(B * Ts, V), srcLengths = Int32Array.from([5, 2, 4]);
    try {
      const out = model.forward({ source: { x: src, shape: [B, Ts], lengths: srcLengths }, target: { x: new Int32Array(B).fill(start), shape: [B, 1] } });
      const layers = [tgtEmb, decoder, proj];
      const memory = { values: out.memory, lengths: srcLengths };
      const [memV, h0] = [await ctx.read(out.memory), await ctx.read(out.h)];
      const c0 = gru ? new Float32Array(B * H) : await ctx.read(out.c);
      const initialStates = [gru ? { h: out.h } : { h: out.h, c: out.c }];
      const sd = await stateDict(model);
      const w = (k: string) => sd[k].data;
      const decP: Record<string, Float32Array> = {};
      for (const k of Object.keys(sd)) if (k.startsWith('decoder.')) decP[k.slice('decoder.'.length)] = w(k);
      // The same decoder in float64, one step at a time on N = B·K rows: each beam starts from its row's state and memory.
      const rep = (x: ArrayLike<number>, D: number) => Float64Array.from({ length: N * D }, (_, i) => x[Math.floor(i / (K * D)) * D + (i % D)]);
      const memN = rep(memV, Ts * H), lenS = Array.from({ length: N }, (_, n) => srcLengths[Math.floor(n / K)]);
      let h = rep(h0, H), c = rep(c0, H), a = new Float64Array(N * Hc);
      let last: { hn: Float64Array; cn: Float64Array; attentional: Float64Array } = { hn: h, cn: c, attentional: a };
      const cpuDecoder: CpuDecoder = {
        step(tokens) {
          const x = new Float64Array(N * E);
          for (let n = 0; n < N; n++) for (let e = 0; e < E; e++) x[n * E + e] = w('tgt_emb.weight')[tokens[n] * E + e];
          last = attentionDecoderForward('general', x, memN, new Array(N).fill(1), lenS, { B: N, T: 1, Ts, I: E, H, Hm: H, Hc, cell }, decP, h, c, a);
          const logits = new Float64Array(N * V);
          for (let n = 0; n < N; n++) for (let v = 0; v < V; v++) {
            let s = w('proj.bias')[v];
            for (let k = 0; k < Hc; k++) s += last.attentional[n * Hc + k] * w('proj.weight')[v * Hc + k];
            logits[n * V + v] = s;
          }
          return logits;
        },
        reorder(parents) {
          const gather = (x: Float64Array, D: number) => Float64Array.from({ length: N * D }, (_, i) => x[parents[Math.floor(i / D)] * D + (i % D)]);
          h = gather(last.hn, H); a = gather(last.attentional, Hc);
          if (!gru) c = gather(last.cn, H);
        },
      };
      const got = await beamSearch(ctx, { layers, initialStates, memory }, { batchSize: B, beamWidth: K, startToken: start, endToken: eos, maxLength: L });
      const want = cpuBeamSearch(cpuDecoder, { B, K, V, start, eos, maxLength: L });
      expectSameBeams(`${cell} attention decoder`, got.hypotheses, want);
      const greedy = await greedyDecode(ctx, { layers, initialStates, memory }, { batchSize: B, startToken: start, endToken: eos, maxLength: L });
      const byPrefix = await greedyByPrefix(model, src, srcLengths, B, Ts, V, L, start, eos);
      assert.equal(greedy.best, byPrefix);
      assert.ok(byPrefix.some((t) => t.length > 0), 'not every row ends at once');
      if (gru) {
        await expectRejects(() => greedyDecode(ctx, { layers, initialStates: [{ h: out.h, c: out.h }], memory }, { batchSize: B, startToken: start, endToken: eos, maxLength: L }),
          /initialStates\[0\] for layer "decoder" has c, but its GRU cell has no cell state/, /expected \{ h, attentional\? \}/);
        return;
      }
      // The states' shapes and the memory are checked before anything is recorded.
      const h2 = ctx.zeros([B, H + 1], 'f32', 'h2');
      try {
        await expectRejects(() => greedyDecode(ctx, { layers, initialStates: [{ h: h2, c: h2 }], memory }, { batchSize: B, startToken: start, endToken: eos, maxLength: L }),
          /initialStates\[0\]\.h for layer "decoder"/, /\(1, 3, 6\) or \(B, H\) = \(3, 6\), got Tensor h2/);
        await expectRejects(() => greedyDecode(ctx, { layers, initialStates: [{ h: out.h, c: out.c, attentional: h2 }], memory }, { batchSize: B, startToken: start, endToken: eos, maxLength: L }),
          /initialStates\[0\]\.attentional for layer "decoder"/, /\(B, attentionalHidden\) = \(3, 5\), got Tensor h2/);
      } finally {
        h2.release();
      }
      await expectRejects(() => greedyDecode(ctx, { layers }, { batchSize: B, startToken: start, endToken: eos, maxLength: L }),
        /has an AttentionDecoder, so decoder.memory \{ values, lengths \} is required/, /got undefined/);
    } finally {
      model.dispose();
    }
  });
}

test('gatherRows: rows by index, an out-of-range index gives a zero row (N = 67, D = 3)', async () => {
  const ctx = await gpu();
  const N = 67, D = 3, rng = new Rng(5);
  const src = rng.uniformArray(N * D), idx = rng.intArray(N, N);
  idx[4] = -1; idx[9] = N;
  const s = ctx.tensor(src, [N, D], 'src'), i = ctx.tensor(idx, [N], 'index'), dst = ctx.empty([N, D], 'f32', 'dst');
  gatherRows(ctx, s, i, dst);
  const got = await ctx.read(dst);
  const want = new Float32Array(N * D);
  for (let n = 0; n < N; n++) if (idx[n] >= 0 && idx[n] < N) want.set(src.subarray(idx[n] * D, idx[n] * D + D), n * D);
  assert.equal([...got], [...want]);
  expectThrows(() => gatherRows(ctx, s, s, dst), /gatherRows: index/, /i32/);
  // (G, S, D) → (G, N, D) with S ≠ N: each of 2 batch rows copied to its 3 beams, per layer.
  const st = rng.uniformArray(2 * 2 * 5), beams = ctx.tensor(Int32Array.from([0, 0, 0, 1, 1, 1]), [6], 'beams');
  const src3 = ctx.tensor(st, [2, 2, 5], 'src3'), dst3 = ctx.empty([2, 6, 5], 'f32', 'dst3');
  gatherRows(ctx, src3, beams, dst3);
  const got3 = await ctx.read(dst3);
  for (let g = 0; g < 2; g++) for (let n = 0; n < 6; n++) for (let d = 0; d < 5; d++) {
    assert.is(got3[(g * 6 + n) * 5 + d], st[(g * 2 + Math.floor(n / 3)) * 5 + d]);
  }
  for (const t of [s, i, dst, beams, src3, dst3]) t.release();
});

test('bad options and a decoder returning the wrong logits are refused naming what was wrong and what was expected', async () => {
  const ctx = await gpu();
  const d = tableDecoder(ctx, 2, 2, 4, new Float32Array(4 * 16), new Float32Array(2 * 4 * 4));
  const o = { batchSize: 2, beamWidth: 2, startToken: 0, endToken: 1, maxLength: 4 };
  try {
    const before = ctx.dispatchCount;
    await expectRejects(() => beamSearch(ctx, d.gpuDecoder, { ...o, beamWidth: 33 }), /option beamWidth/, /integer in \[1, 32\], got 33/);
    await expectRejects(() => beamSearch(ctx, d.gpuDecoder, { ...o, maxLength: 0 }), /option maxLength/, /positive integer, got 0/);
    await expectRejects(() => beamSearch(ctx, d.gpuDecoder, { ...o, lengthNormalization: 'mean' as 'none' }), /lengthNormalization/, /'none', 'average' or 'gnmt', got the string "mean"/);
    await expectRejects(() => beamSearch(ctx, d.gpuDecoder, { ...o, beamwidth: 2 } as BeamSearchOptions), /unknown option "beamwidth"/, /did you mean beamWidth/);
    await expectRejects(() => greedyDecode(ctx, d.gpuDecoder, { ...o } as BeamSearchOptions), /greedyDecode: option beamWidth is 2/, /one beam/);
    await expectRejects(() => beamSearch(ctx, {} as DecoderSteps, o), /decoder must be an object with step/, /got an? /);
    assert.is(ctx.dispatchCount, before, 'nothing recorded for bad options');
    await expectRejects(() => beamSearch(ctx, d.gpuDecoder, { ...o, endToken: 4 }), /endToken 4/, /V = 4/);
    const wrong: DecoderSteps = { step: (c) => c.empty([3, 4], 'f32', 'short'), reorder() {} };
    await expectRejects(() => beamSearch(ctx, wrong, o), /decoder.step\(t = 0\)/, /shape \(B·K = 4, V\)/);
  } finally { d.release(); }
});

test.run();
