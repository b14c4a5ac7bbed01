// The input-feeding decoder (src/nn/attention_decoder.ts: an LSTM or GRU cell fed [x_t; h̃_(t−1)],
// with attention inside the recurrence) through the GraphOp protocol, against its float64
// reference (src/cpu/attention_decoder.ts, checked by finite differences in attention.test.ts and
// here for both cells, the initial h̃ and the final states): outputs, final h, c, h̃ and every
// gradient; inside a Model after an encoder whose final states start it.
import { suite } from 'uvu';
import { AttentionDecoder, type AttentionDecoderOptions } from '../src/nn/attention_decoder.ts';
import { attentionDecoderBackward, attentionDecoderForward } from '../src/cpu/attention_decoder.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import type { Act, ActDesc, RunInfo } from '../src/nn/layer.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { Input, type GraphValue } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';
import { graphFromConfig } from '../src/nn/graph-config.ts';
import { GRU, LSTM } from '../src/nn/recurrent.ts';
import { lstmBackward, lstmForward } from '../src/cpu/lstm.ts';
import { gruBackward, gruForward } from '../src/cpu/gru.ts';

const test = suite('attention_decoder');

function runInfo(ctx: GpuContext, B: number, T: number, lengths: number[], made: Tensor[]): RunInfo {
  const l = ctx.tensor(Int32Array.from(lengths), [B], 'lengths'), seed = ctx.zeros([1], 'u32', 'seed');
  made.push(l, seed);
  return { B, T, lengths: l, hostLengths: Int32Array.from(lengths), training: true, seed: 0, seedTensor: seed };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

interface DecoderCase {
  opts: AttentionDecoderOptions; B: number; T: number; Ts: number; I: number; Hm: number; lenQ: number[]; lenS: number[]; state: boolean; dweights: boolean;
  /** An initial h̃ input (needs state) and upstream gradients of the final h, c, h̃. */
  feed?: boolean; finalGrads?: boolean;
}

async function compareDecoder(c: DecoderCase, seed: number): Promise<void> {
  const ctx = await gpu();
  const rng = new Rng(seed);
  const { B, T, Ts, I, Hm } = c;
  const H = c.opts.hiddenSize, Hc = c.opts.attentionalHidden, gru = c.opts.cell === 'gru';
  const node = new AttentionDecoder(c.opts);
  const descs: ActDesc[] = [{ kind: 'seq', size: I }, { kind: 'seq', size: Hm }];
  // Inputs [x, memory, h0, c0 (LSTM only), h̃0]; outputs [h̃, weights, h_n, c_n (LSTM only), h̃_n].
  if (c.state) descs.push(...Array.from({ length: gru ? 1 : 2 }, (): ActDesc => ({ kind: 'vec', size: H })));
  if (c.feed) descs.push({ kind: 'vec', size: Hc });
  node.configureInputs(descs, new Rng(seed + 100));
  node.build(ctx);
  const made: Tensor[] = [];
  try {
    const x = rng.uniformArray(B * T * I, -1, 1), m = rng.uniformArray(B * Ts * Hm, -1, 1);
    const h0 = c.state ? rng.uniformArray(B * H, -0.5, 0.5) : undefined, c0 = c.state && !gru ? rng.uniformArray(B * H, -0.5, 0.5) : undefined;
    const a0 = c.feed ? rng.uniformArray(B * Hc, -0.5, 0.5) : undefined;
    const dout = rng.uniformArray(B * T * Hc, -1, 1), dw = c.dweights ? rng.uniformArray(B * T * Ts, -1, 1) : null;
    const dFinal = c.finalGrads ? { h: rng.uniformArray(B * H, -1, 1), c: gru ? undefined : rng.uniformArray(B * H, -1, 1), attentional: rng.uniformArray(B * Hc, -1, 1) } : {};
    const up = (a: Float32Array, shape: number[]) => { const t = ctx.tensor(a, shape, `in${made.length}`); made.push(t); return t; };
    const acts: Act[] = [{ kind: 'seq', t: up(x, [B, T, I]) }, { kind: 'seq', t: up(m, [B, Ts, Hm]) }];
    if (h0) acts.push({ kind: 'vec', t: up(h0, [B, H]) });
    if (c0) acts.push({ kind: 'vec', t: up(c0, [B, H]) });
    if (a0) acts.push({ kind: 'vec', t: up(a0, [B, Hc]) });
    const rq = runInfo(ctx, B, T, c.lenQ, made), rs = runInfo(ctx, B, Ts, c.lenS, made);
    const runs = [rq, rs, ...acts.slice(2).map(() => rq)];
    node.checkRunInputs(runs.map((r) => ({ B: r.B, T: r.T, training: true })));
    const outs = node.forwardInputs(ctx, acts, runs);
    const [out, weights, hn] = outs, cn = gru ? null : outs[3], an = outs[outs.length - 1];
    const finalUp = (a: Float32Array | undefined, shape: number[]) => (a ? up(a, shape) : null);
    const grads = node.backwardInputs(ctx, [
      up(dout, [B, T, Hc]), dw ? up(dw, [B, T, Ts]) : null,
      finalUp(dFinal.h, [B, H]), ...(gru ? [] : [finalUp(dFinal.c, [B, H])]), finalUp(dFinal.attentional, [B, Hc]),
    ], runs, runs.map(() => true));
    const dh0 = grads[2], dc0 = gru ? null : grads[3], da0 = grads[gru ? 3 : 4];

    const params: Record<string, Float32Array> = {};
    for (const p of node.parameters()) params[p.name] = p.init;
    const dims = { B, T, Ts, I, H, Hm, Hc, A: c.opts.score === 'additive' ? node.units : undefined, cell: c.opts.cell };
    const ref = attentionDecoderForward(c.opts.score, x, m, c.lenQ, c.lenS, dims, params, h0, c0, a0);
    const dref = attentionDecoderBackward(c.opts.score, x, m, c.lenQ, c.lenS, dims, params, dout, dw, h0, c0, a0, dFinal);
    const label = `${gru ? 'gru ' : ''}${c.opts.score}${c.state ? '+state' : ''}${c.feed ? '+feed' : ''}${c.finalGrads ? '+final' : ''}`;
    // f32 through T steps of LSTM + attention + tanh on O(1) values; measured ≤ 1.4e-7: atol 1e-6.
    expectClose(`${label} output`, await ctx.read(out.t), ref.output, { atol: 1e-6, rtol: 1e-5, shape: [B, T, Hc] });
    expectClose(`${label} weights`, await ctx.read(weights.t), ref.weights, { atol: 1e-6, rtol: 1e-5, shape: [B, T, Ts] });
    expectClose(`${label} h_n`, await ctx.read(hn.t), ref.hn, { atol: 1e-6, rtol: 1e-5, shape: [B, H] });
    if (cn) expectClose(`${label} c_n`, await ctx.read(cn.t), ref.cn, { atol: 1e-6, rtol: 1e-5, shape: [B, H] });
    expectClose(`${label} final h̃`, await ctx.read(an.t), ref.attentional, { atol: 1e-6, rtol: 1e-5, shape: [B, Hc] });
    // Gradients: backpropagated through T steps, GEMMs over B·T rows; relative to each output's
    // largest entry (entries near 0 come from cancellation): 2e-6 of it (measured ≤ 1e-7 of it).
    const gtol = (r: ArrayLike<number>, shape?: readonly number[]) => ({ atol: 2e-6 * Math.max(1, maxAbs(r)), rtol: 1e-4, shape });
    expectClose(`${label} dx`, await ctx.read(grads[0]!), dref.dx, gtol(dref.dx, [B, T, I]));
    expectClose(`${label} dm`, await ctx.read(grads[1]!), dref.dm, gtol(dref.dm, [B, Ts, Hm]));
    if (c.state) {
      expectClose(`${label} dh0`, await ctx.read(dh0!), dref.dh0, gtol(dref.dh0, [B, H]));
      if (!gru) expectClose(`${label} dc0`, await ctx.read(dc0!), dref.dc0, gtol(dref.dc0, [B, H]));
    }
    if (c.feed) expectClose(`${label} dh̃0`, await ctx.read(da0!), dref.da0, gtol(dref.da0, [B, Hc]));
    for (const p of node.parameters()) expectClose(`${label} d${p.name}`, await ctx.read(p.grad!), dref.grads[p.name], gtol(dref.grads[p.name], p.shape));
  } finally {
    for (const t of made) t.release();
    node.dispose();
  }
}

// Different decoder and memory lengths per row, a row with len = 1, a row with len = T.
const SIZES = { B: 3, T: 5, Ts: 6, I: 4, Hm: 7, lenQ: [5, 1, 3], lenS: [2, 6, 1] };

test('general score: forward and backward through time match the float64 reference', async () => {
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 5, score: 'general' }, ...SIZES, state: false, dweights: true }, 1);
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 5, score: 'general' }, ...SIZES, state: true, dweights: false }, 2);
});

test('dot and additive scores match the float64 reference', async () => {
  await compareDecoder({ opts: { hiddenSize: 7, attentionalHidden: 3, score: 'dot' }, ...SIZES, state: true, dweights: true }, 3);
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 4, score: 'additive', units: 5 }, ...SIZES, state: false, dweights: true }, 4);
});

test('GRU cell: forward, final states and backward through time match the float64 reference (every score)', async () => {
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 5, score: 'general', cell: 'gru' }, ...SIZES, state: true, dweights: true, feed: true, finalGrads: true }, 7);
  await compareDecoder({ opts: { hiddenSize: 7, attentionalHidden: 3, score: 'dot', cell: 'gru' }, ...SIZES, state: false, dweights: true }, 8);
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 4, score: 'additive', units: 5, cell: 'gru' }, ...SIZES, state: true, dweights: false, finalGrads: true }, 9);
});

test('an initial h̃ in and the final h, c, h̃ out (with upstream gradients at each row\'s last step) match the float64 reference', async () => {
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 5, score: 'general' }, ...SIZES, state: true, dweights: false, feed: true, finalGrads: true }, 5);
  await compareDecoder({ opts: { hiddenSize: 6, attentionalHidden: 4, score: 'additive', units: 3 }, ...SIZES, state: false, dweights: true, finalGrads: true }, 6);
});

test('float64 reference, LSTM and GRU cells: every gradient (initial h̃ and final states included) by central differences', () => {
  for (const cell of ['lstm', 'gru'] as const) checkReferenceByDifferences(cell);
});

function checkReferenceByDifferences(cell: 'lstm' | 'gru'): void {
  const d = { B: 2, T: 3, Ts: 3, I: 2, H: 3, Hm: 2, Hc: 2, cell };
  const rng = new Rng(9);
  const lenQ = [3, 2], lenS = [3, 2];
  const u = (n: number) => Float64Array.from(rng.uniformArray(n, -0.8, 0.8));
  const G = (cell === 'gru' ? 3 : 4) * d.H;
  const params: Record<string, Float64Array> = {
    weight_ih: u(G * (d.I + d.Hc)), weight_hh: u(G * d.H), bias_ih: u(G), bias_hh: u(G),
    weight: u(d.H * d.Hm), output_weight: u(d.Hc * (d.Hm + d.H)), output_bias: u(d.Hc),
  };
  const x = u(d.B * d.T * d.I), m = u(d.B * d.Ts * d.Hm), h0 = u(d.B * d.H), c0 = u(d.B * d.H), a0 = u(d.B * d.Hc);
  const dout = u(d.B * d.T * d.Hc), dFinal = { h: u(d.B * d.H), c: u(d.B * d.H), attentional: u(d.B * d.Hc) };
  // The loss whose gradient the backward computes: Σ dout·h̃ + Σ dh_n·h_n + Σ dc_n·c_n + Σ dh̃_n·h̃_n.
  const loss = (): number => {
    const r = attentionDecoderForward('general', x, m, lenQ, lenS, d, params, h0, c0, a0);
    let s = 0;
    for (const [a, g] of [[r.output, dout], [r.hn, dFinal.h], [r.cn, dFinal.c], [r.attentional, dFinal.attentional]] as const) {
      for (let i = 0; i < a.length; i++) s += a[i] * g[i];
    }
    return s;
  };
  const g = attentionDecoderBackward('general', x, m, lenQ, lenS, d, params, dout, null, h0, c0, a0, dFinal);
  const eps = 1e-6;
  const checks: [string, Float64Array, Float64Array][] = [['a0', a0, g.da0], ['h0', h0, g.dh0], ['x', x, g.dx], ['m', m, g.dm]];
  if (cell === 'lstm') checks.push(['c0', c0, g.dc0]);
  for (const [k, v] of Object.entries(params)) checks.push([k, v, g.grads[k]]);
  for (const [what, arr, grad] of checks) {
    const fd = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const keep = arr[i];
      arr[i] = keep + eps; const up = loss();
      arr[i] = keep - eps; const down = loss();
      arr[i] = keep;
      fd[i] = (up - down) / (2 * eps);
    }
    expectClose(`${cell} finite differences d${what}`, grad, fd, { atol: 1e-7, rtol: 1e-6 });
  }
}

test('config() round-trips through AttentionDecoder.fromConfig', () => {
  const gru: AttentionDecoderOptions = { hiddenSize: 4, attentionalHidden: 3, score: 'dot', cell: 'gru' };
  for (const o of [{ hiddenSize: 4, attentionalHidden: 3, score: 'dot' }, { hiddenSize: 4, attentionalHidden: 2, score: 'additive', units: 5, name: 'dec' }, gru] as AttentionDecoderOptions[]) {
    const a = new AttentionDecoder(o);
    a.configureInputs([{ kind: 'seq', size: 2 }, { kind: 'seq', size: 4 }], new Rng(1));
    const b = AttentionDecoder.fromConfig(JSON.parse(JSON.stringify(a.config())));
    b.configureInputs([{ kind: 'seq', size: 2 }, { kind: 'seq', size: 4 }], new Rng(1));
    if (JSON.stringify(b.config()) !== JSON.stringify(a.config())) throw new Error(`${JSON.stringify(b.config())} != ${JSON.stringify(a.config())}`);
    const names = a.parameters().map((p) => `${p.name}(${p.shape.join(',')})`).join(' ');
    const want = o === gru
      ? 'weight_ih(12,5) weight_hh(12,4) bias_ih(12) bias_hh(12) output_weight(3,8) output_bias(3)'
      : o.score === 'dot'
      ? 'weight_ih(16,5) weight_hh(16,4) bias_ih(16) bias_hh(16) output_weight(3,8) output_bias(3)'
      : 'weight_ih(16,4) weight_hh(16,4) bias_ih(16) bias_hh(16) query_weight(5,4) key_weight(5,4) key_bias(5) score_weight(1,5) output_weight(2,8) output_bias(2)';
    if (names !== want) throw new Error(`parameters ${names}, expected ${want}`);
  }
  expectThrows(() => AttentionDecoder.fromConfig({ type: 'Attention', name: 'a' }), /expected a config of type "AttentionDecoder"/, /got "Attention"/);
});

test('options and inputs are checked', () => {
  expectThrows(() => new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot', unit: 3 } as unknown as AttentionDecoderOptions),
    /AttentionDecoder: unknown option "unit"/, /did you mean units\?/);
  expectThrows(() => new AttentionDecoder({ hiddenSize: 0, attentionalHidden: 4, score: 'dot' }), /option hiddenSize must be a positive integer/, /got 0/);
  const dot = new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot' });
  expectThrows(() => dot.configureInputs([{ kind: 'seq', size: 3 }, { kind: 'seq', size: 5 }], new Rng(1)), /score 'dot' needs hiddenSize = the memory's size/, /got 4 and 5/);
  expectThrows(() => dot.configureInputs([{ kind: 'seq', size: 3 }, { kind: 'seq', size: 4 }, { kind: 'vec', size: 3 }, { kind: 'vec', size: 4 }], new Rng(1)),
    /h0 must be a \(B, 4\) state/, /got vec of size 3/);
  expectThrows(() => dot.checkRunInputs([{ B: 2, T: 3, training: true }, { B: 3, T: 4, training: true }]), /batch sizes 2, 3/, /expected one batch size/);
  expectThrows(() => new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot', cell: 'rnn' as 'gru' }), /option cell must be one of lstm, gru/, /got the string "rnn"/);
  // The initial states a cell takes: h and c for the LSTM, h alone for the GRU.
  const x = Input.sequence('x', 3), m = Input.sequence('m', 4), h = Input.sequence('h', 4);
  expectThrows(() => new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot' }).call(x, m, { h }),
    /initialState needs both h and c/, /got no c; expected \{ h, c, attentional\? \}/);
  expectThrows(() => new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot', cell: 'gru' }).call(x, m, { h, c: h }),
    /initialState.c is given, but the decoder's GRU cell has no cell state/, /expected \{ h, attentional\? \}/);
  expectThrows(() => new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 4, score: 'dot' }).call(x, m, { h, c: h, feed: h } as never),
    /initialState has an unknown field "feed"/, /expected \{ h, c, attentional\? \}/);
  const gruDot = new AttentionDecoder({ hiddenSize: 4, attentionalHidden: 2, score: 'dot', cell: 'gru' });
  expectThrows(() => gruDot.configureInputs([{ kind: 'seq', size: 3 }, { kind: 'seq', size: 4 }, { kind: 'vec', size: 4 }, { kind: 'vec', size: 4 }], new Rng(1)),
    /the initial h̃ must be a \(B, 2\) state/, /got vec of size 4/);
});

/**
 * An encoder (LSTM, or GRU for the GRU cell) → input-feeding decoder attending over its outputs,
 * as a Model; `withState`: the decoder also starts from the encoder's final states and its own
 * final h, c, h̃ are outputs with upstream gradients, so gradient reaches the encoder through
 * dh_n (dc_n) as well as the memory. Also checks the Model's config round trip.
 */
async function encoderDecoderModel(withState: boolean, cell: 'lstm' | 'gru' = 'lstm'): Promise<void> {
  const ctx = await gpu();
  const B = 3, Ts = 5, T = 4, Is = 3, I = 2, H = 5, Hc = 4, gru = cell === 'gru';
  const lenS = [5, 2, 3], lenQ = [4, 3, 1];
  const source = Input.sequence('source', Is), target = Input.sequence('target', I);
  const enc = (gru ? new GRU({ hiddenSize: H, name: 'encoder' }) : new LSTM({ hiddenSize: H, name: 'encoder' })).call(source);
  const dec = new AttentionDecoder({ hiddenSize: H, attentionalHidden: Hc, score: 'general', cell, name: 'decoder' })
    .call(target, enc, withState ? { h: enc.state.h, ...(gru ? {} : { c: enc.state.c! }) } : undefined);
  const outputs: Record<string, GraphValue> = { out: dec.output, weights: dec.weights, h: dec.state.h, attentional: dec.state.attentional };
  if (dec.state.c) outputs.c = dec.state.c;
  const model = new Model({ inputs: { source, target }, outputs, seed: 5 }).build(ctx);
  const made: Tensor[] = [];
  try {
    const config = JSON.stringify(model.config());
    const rebuilt = graphFromConfig(JSON.parse(config));
    if (JSON.stringify(rebuilt.config()) !== config) throw new Error(`config round trip: ${JSON.stringify(rebuilt.config())} != ${config}`);
    const rng = new Rng(50);
    const xs = rng.uniformArray(B * Ts * Is, -1, 1), xt = rng.uniformArray(B * T * I, -1, 1);
    const dout = rng.uniformArray(B * T * Hc, -1, 1), dw = rng.uniformArray(B * T * Ts, -1, 1);
    const dFinal = withState ? { h: rng.uniformArray(B * H, -1, 1), c: gru ? undefined : rng.uniformArray(B * H, -1, 1), attentional: rng.uniformArray(B * Hc, -1, 1) } : {};
    const outs = model.forward({ source: { x: xs, shape: [B, Ts, Is], lengths: lenS }, target: { x: xt, shape: [B, T, I], lengths: lenQ } }, { training: true });
    const upload = (a: Float32Array, shape: number[], name: string) => { const t = ctx.tensor(a, shape, name); made.push(t); return t; };
    const upstream: Record<string, Tensor> = { out: upload(dout, [B, T, Hc], 'dout'), weights: upload(dw, [B, T, Ts], 'dweights') };
    if (dFinal.h) upstream.h = upload(dFinal.h, [B, H], 'dh_n');
    if (dFinal.c) upstream.c = upload(dFinal.c, [B, H], 'dc_n');
    if (dFinal.attentional) upstream.attentional = upload(dFinal.attentional, [B, Hc], 'dattentional_n');
    const grads = model.backward(upstream);
    const p: Record<string, Float32Array> = {};
    for (const [key, param] of model.namedParameters()) p[key] = param.init;
    // The float64 chain: encoder → decoder (memory = the encoder's outputs) and back.
    const encW = { weight_ih: p['encoder.weight_ih_l0'], weight_hh: p['encoder.weight_hh_l0'], bias_ih: p['encoder.bias_ih_l0'], bias_hh: p['encoder.bias_hh_l0'] };
    const zeros = new Float64Array(B * H);
    const eL = gru ? null : lstmForward(xs, encW, zeros, zeros, lenS), eG = gru ? gruForward(xs, encW, zeros, lenS) : null;
    const e = (eL ?? eG)!;
    const decP: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(p)) if (k.startsWith('decoder.')) decP[k.slice('decoder.'.length)] = v;
    const dims = { B, T, Ts, I, H, Hm: H, Hc, cell };
    // With the state: the decoder starts from the encoder's (h_n, c_n), whose gradients are dh0, dc0.
    const h0 = withState ? e.hn : undefined, c0 = withState && eL ? eL.cn : undefined;
    const ref = attentionDecoderForward('general', xt, e.hs, lenQ, lenS, dims, decP, h0, c0);
    const dref = attentionDecoderBackward('general', xt, e.hs, lenQ, lenS, dims, decP, dout, dw, h0, c0, undefined, dFinal);
    const eg = eL
      ? lstmBackward(xs, encW, zeros, zeros, lenS, eL.saved, dref.dm, withState ? dref.dh0 : zeros, withState ? dref.dc0 : zeros)
      : gruBackward(xs, encW, zeros, lenS, eG!.saved, dref.dm, withState ? dref.dh0 : zeros);
    const label = `${cell} model${withState ? '+state' : ''}`;
    expectClose(`${label} out`, await ctx.read(outs.out), ref.output, { atol: 1e-6, rtol: 1e-5, shape: [B, T, Hc] });
    expectClose(`${label} weights`, await ctx.read(outs.weights), ref.weights, { atol: 1e-6, rtol: 1e-5, shape: [B, T, Ts] });
    expectClose(`${label} h_n`, await ctx.read(outs.h), ref.hn, { atol: 1e-6, rtol: 1e-5, shape: [B, H] });
    if (!gru) expectClose(`${label} c_n`, await ctx.read(outs.c), ref.cn, { atol: 1e-6, rtol: 1e-5, shape: [B, H] });
    expectClose(`${label} final h̃`, await ctx.read(outs.attentional), ref.attentional, { atol: 1e-6, rtol: 1e-5, shape: [B, Hc] });
    // As above, plus the encoder's backward through time: 2e-6 of each output's largest entry.
    const gtol = (r: ArrayLike<number>, shape?: readonly number[]) => ({ atol: 2e-6 * Math.max(1, maxAbs(r)), rtol: 1e-4, shape });
    expectClose(`${label} dsource`, await ctx.read(grads.source!), eg.dx, gtol(eg.dx, [B, Ts, Is]));
    expectClose(`${label} dtarget`, await ctx.read(grads.target!), dref.dx, gtol(dref.dx, [B, T, I]));
    const want: Record<string, ArrayLike<number>> = {
      'encoder.weight_ih_l0': eg.dweight_ih, 'encoder.weight_hh_l0': eg.dweight_hh, 'encoder.bias_ih_l0': eg.dbias_ih, 'encoder.bias_hh_l0': eg.dbias_hh,
    };
    for (const [k, v] of Object.entries(dref.grads)) want[`decoder.${k}`] = v;
    const names = model.namedParameters().map(([k]) => k);
    if (names.sort().join() !== Object.keys(want).sort().join()) throw new Error(`parameters ${names.join(', ')}; expected ${Object.keys(want).join(', ')}`);
    for (const [key, param] of model.namedParameters()) expectClose(`${label} d${key}`, await ctx.read(param.grad!), want[key], gtol(want[key], param.shape));
  } finally {
    for (const t of made) t.release();
    model.dispose();
  }
}

test('an encoder–decoder Model: LSTM encoder → input-feeding decoder attending over its outputs, every gradient vs float64', async () => {
  await encoderDecoderModel(false);
});

test('the encoder\'s final states start the decoder (enc.state → initialState); the decoder\'s final h, c, h̃ are outputs; every gradient vs float64', async () => {
  await encoderDecoderModel(true);
});

test('GRU encoder → GRU-cell decoder from its final state, the decoder\'s final h, h̃ as outputs: every gradient vs float64', async () => {
  await encoderDecoderModel(true, 'gru');
});

test.run();
