// The Attention node (src/nn/attention.ts) through the GraphOp protocol: forward and backward
// (forwardInputs / backwardInputs) against the float64 reference of the whole node
// (src/cpu/attention.ts), for every score, with and without the attentional hidden state, with
// different query and memory lengths per row; and its option and input checks.
import { suite } from 'uvu';
import { Attention, type AttentionOptions } from '../src/nn/attention.ts';
import * as cpu from '../src/cpu/attention.ts';
import { Rng } from '../src/cpu/random.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import type { RunInfo } from '../src/nn/layer.ts';
import { expectClose, expectThrows } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { Input } from '../src/nn/graph-value.ts';
import { Model } from '../src/nn/graph.ts';

const test = suite('attention_node');

function runInfo(ctx: GpuContext, B: number, T: number, lengths: number[], made: Tensor[]): RunInfo {
  const l = ctx.tensor(Int32Array.from(lengths), [B], 'lengths'), seed = ctx.zeros([1], 'u32', 'seed');
  made.push(l, seed);
  return { B, T, lengths: l, hostLengths: Int32Array.from(lengths), training: true, seed: 0, seedTensor: seed };
}

interface NodeCase { opts: AttentionOptions; B: number; Tq: number; Ts: number; Hq: number; Hm: number; lenQ: number[]; lenS: number[]; dweights: boolean; needQ?: boolean; needM?: boolean }

async function compareNode(c: NodeCase, seed: number): Promise<void> {
  const ctx = await gpu();
  const rng = new Rng(seed);
  const { B, Tq, Ts, Hq, Hm } = c;
  const node = new Attention(c.opts);
  const outs = node.configureInputs([{ kind: 'seq', size: Hq }, { kind: 'seq', size: Hm }], new Rng(seed + 100));
  const Hc = c.opts.attentionalHidden ?? 0;
  if (outs[0].size !== (Hc || Hm) || outs[1].kind !== 'seq') throw new Error(`output descriptions ${JSON.stringify(outs)}`);
  node.build(ctx);
  const made: Tensor[] = [];
  try {
    const q = rng.uniformArray(B * Tq * Hq, -1.5, 1.5), m = rng.uniformArray(B * Ts * Hm, -1.5, 1.5);
    const dout = rng.uniformArray(B * Tq * (Hc || Hm), -1, 1);
    const dw = c.dweights ? rng.uniformArray(B * Tq * Ts, -1, 1) : null;
    const tq = ctx.tensor(q, [B, Tq, Hq], 'q'), tm = ctx.tensor(m, [B, Ts, Hm], 'm');
    const tdout = ctx.tensor(dout, [B, Tq, Hc || Hm], 'dout'), tdw = dw ? ctx.tensor(dw, [B, Tq, Ts], 'dweights') : null;
    made.push(tq, tm, tdout, ...(tdw ? [tdw] : []));
    const runs = [runInfo(ctx, B, Tq, c.lenQ, made), runInfo(ctx, B, Ts, c.lenS, made)];
    node.checkRunInputs([{ B, T: Tq, training: true }, { B, T: Ts, training: true }]);
    const [out, weights] = node.forwardInputs(ctx, [{ kind: 'seq', t: tq }, { kind: 'seq', t: tm }], runs);
    const needQ = c.needQ ?? true, needM = c.needM ?? true;
    const [dq, dm] = node.backwardInputs(ctx, [tdout, tdw], runs, [needQ, needM]);
    if ((dq === null) === needQ || (dm === null) === needM) throw new Error(`input gradients given: dq ${dq !== null}, dm ${dm !== null}; asked for ${needQ}, ${needM}`);

    const params: Record<string, Float32Array> = {};
    for (const p of node.parameters()) params[p.name] = p.init;
    const dims = { B, Tq, Ts, Hq, Hm, A: node.units || undefined, Hc: Hc || undefined };
    const ref = cpu.attentionLayerForward(c.opts.score, q, m, c.lenQ, c.lenS, dims, params);
    const dref = cpu.attentionLayerBackward(c.opts.score, q, m, c.lenQ, c.lenS, dims, params, dout, dw);
    const label = `${c.opts.score}${Hc ? '+hidden' : ''}`;
    // Forward: the dot scores of 37 products of values in ±1.5 reach |e| ≈ 15, so an f32 score
    // error of ~1e-6 moves a weight by ~1e-6 relative; measured ≤ 9.6e-7 on outputs and weights of
    // size ≤ 1.5: atol 4e-6 (kernel-level tolerances are argued in attention.test.ts).
    expectClose(`${label} output`, await ctx.read(out.t), ref.output, { atol: 4e-6, rtol: 1e-5, shape: [B, Tq, Hc || Hm] });
    expectClose(`${label} weights`, await ctx.read(weights.t), ref.weights, { atol: 4e-6, rtol: 1e-5, shape: [B, Tq, Ts] });
    // Backward: sums over up to Tq·Ts products per entry, each carrying the forward's error, then
    // GEMMs over B·T rows; entries near 0 come from cancellation, so the bound is relative to the
    // largest entry: 4e-6 of it (measured ≤ 4.2e-7 of it).
    const gtol = (r: ArrayLike<number>, shape?: number[]) => ({ atol: 4e-6 * Math.max(1, maxAbs(r)), rtol: 1e-4, shape });
    if (dq) expectClose(`${label} dq`, await ctx.read(dq), dref.dq, gtol(dref.dq, [B, Tq, Hq]));
    if (dm) expectClose(`${label} dm`, await ctx.read(dm), dref.dm, gtol(dref.dm, [B, Ts, Hm]));
    const names = node.parameters().map((p) => p.name);
    if (names.sort().join() !== Object.keys(dref.grads).sort().join()) throw new Error(`${label}: parameters ${names.join(', ')}, reference grads ${Object.keys(dref.grads).join(', ')}`);
    for (const p of node.parameters()) expectClose(`${label} d${p.name}`, await ctx.read(p.grad!), dref.grads[p.name], gtol(dref.grads[p.name], p.shape));
  } finally {
    for (const t of made) t.release();
    node.dispose();
  }
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// B = 3, Tq = 5, Ts = 7: a row with len_s = 1, a row with len = T, query and memory lengths differ.
const SIZES = { B: 3, Tq: 5, Ts: 7, lenQ: [5, 2, 4], lenS: [3, 7, 1] };

test('dot: node forward/backward match the float64 reference (H = 37)', async () => {
  await compareNode({ opts: { score: 'dot' }, ...SIZES, Hq: 37, Hm: 37, dweights: false }, 1);
  await compareNode({ opts: { score: 'dot', name: 'att' }, ...SIZES, Hq: 37, Hm: 37, dweights: true, needQ: false }, 2);
});

test('general: node forward/backward match the float64 reference (Hq = 37, Hm = 29)', async () => {
  await compareNode({ opts: { score: 'general' }, ...SIZES, Hq: 37, Hm: 29, dweights: true }, 3);
  await compareNode({ opts: { score: 'general' }, ...SIZES, Hq: 37, Hm: 29, dweights: false, needM: false }, 4);
});

test('additive: node forward/backward match the float64 reference (A = 19, default A = Hq)', async () => {
  await compareNode({ opts: { score: 'additive', units: 19 }, ...SIZES, Hq: 37, Hm: 29, dweights: true }, 5);
  await compareNode({ opts: { score: 'additive' }, ...SIZES, Hq: 11, Hm: 13, dweights: false, needQ: false, needM: false }, 6);
});

test('attentional hidden state h̃ = tanh(W_c [c; q] + b_c) for every score', async () => {
  await compareNode({ opts: { score: 'dot', attentionalHidden: 23 }, ...SIZES, Hq: 37, Hm: 37, dweights: false }, 7);
  await compareNode({ opts: { score: 'general', attentionalHidden: 17 }, ...SIZES, Hq: 37, Hm: 29, dweights: true }, 8);
  await compareNode({ opts: { score: 'additive', units: 19, attentionalHidden: 17 }, ...SIZES, Hq: 37, Hm: 29, dweights: false }, 9);
});

test('parameters have PyTorch-style names and nn.Linear shapes', () => {
  const shapes = (o: AttentionOptions, Hq: number, Hm: number) => {
    const n = new Attention(o);
    n.configureInputs([{ kind: 'seq', size: Hq }, { kind: 'seq', size: Hm }], new Rng(1));
    return n.parameters().map((p) => `${p.name}(${p.shape.join(',')})`).join(' ');
  };
  const expect = (got: string, want: string) => { if (got !== want) throw new Error(`got ${got}, expected ${want}`); };
  expect(shapes({ score: 'dot' }, 4, 4), '');
  expect(shapes({ score: 'general' }, 3, 5), 'weight(3,5)');
  expect(shapes({ score: 'additive', units: 6 }, 3, 5), 'query_weight(6,3) key_weight(6,5) key_bias(6) score_weight(1,6)');
  expect(shapes({ score: 'dot', attentionalHidden: 2 }, 4, 4), 'output_weight(2,8) output_bias(2)');
});

test('config() round-trips through Attention.fromConfig (JSON, as checkpoints store it)', () => {
  for (const o of [{ score: 'dot' }, { score: 'general', attentionalHidden: 4, name: 'luong' }, { score: 'additive', units: 3 }] as AttentionOptions[]) {
    const a = new Attention(o);
    a.configureInputs([{ kind: 'seq', size: 5 }, { kind: 'seq', size: 5 }], new Rng(1));
    const b = Attention.fromConfig(JSON.parse(JSON.stringify(a.config())));
    b.configureInputs([{ kind: 'seq', size: 5 }, { kind: 'seq', size: 5 }], new Rng(1));
    if (JSON.stringify(b.config()) !== JSON.stringify(a.config())) throw new Error(`${JSON.stringify(b.config())} != ${JSON.stringify(a.config())}`);
  }
  expectThrows(() => Attention.fromConfig({ type: 'Dense', name: 'd' }), /Attention\.fromConfig: expected a config of type "Attention"/, /got "Dense"/);
});

test('options are checked: unknown keys with a suggestion, bad values, units without additive', () => {
  expectThrows(() => new Attention({ score: 'dot', attentionHidden: 3 } as unknown as AttentionOptions), /Attention: unknown option "attentionHidden"/, /did you mean attentionalHidden\?/);
  expectThrows(() => new Attention({ score: 'luong' } as unknown as AttentionOptions), /Attention "attention": option score must be one of dot, general, additive/, /the string "luong"/);
  expectThrows(() => new Attention({ score: 'additiv' } as unknown as AttentionOptions), /option score/, /did you mean additive\?/);
  expectThrows(() => new Attention({} as AttentionOptions), /option score is required/, /dot, general, additive/);
  expectThrows(() => new Attention({ score: 'general', units: 4 }), /option units \(4\) applies only to score 'additive'/, /got score 'general'/);
  expectThrows(() => new Attention({ score: 'additive', units: 2.5 }), /option units must be a positive integer/, /got 2\.5/);
  expectThrows(() => new Attention({ score: 'dot', attentionalHidden: 0 }), /option attentionalHidden must be a positive integer/, /got 0/);
  expectThrows(() => new Attention({ score: 'dot', name: '' }), /Attention: name must be a non-empty string/, /got the string ""/);
  expectThrows(() => new Attention('dot' as unknown as AttentionOptions), /Attention: expected an options object/, /the string "dot"/);
});

test('inputs are checked: kinds, sizes for dot, batch sizes', () => {
  const dot = new Attention({ score: 'dot', name: 'att' });
  expectThrows(() => dot.configureInputs([{ kind: 'seq', size: 4 }, { kind: 'seq', size: 5 }], new Rng(1)),
    /Attention "att": score 'dot' needs queries and memory of one size, got 4 and 5/, /use score 'general' or 'additive'/);
  expectThrows(() => dot.configureInputs([{ kind: 'tokens', size: 4 }, { kind: 'seq', size: 4 }], new Rng(1)), /queries must be a sequence/, /got token ids/);
  expectThrows(() => dot.configureInputs([{ kind: 'seq', size: 4 }], new Rng(1)), /takes 2 inputs \[queries, memory\]/, /got 1/);
  expectThrows(() => dot.checkRunInputs([{ B: 3, T: 5, training: true }, { B: 2, T: 7, training: true }]),
    /queries have batch size 3 but the memory has 2/, /same row of the memory/);
});

test('through a Model: queries and memory with their own lengths, gradients of both outputs, both inputs and every parameter', async () => {
  const ctx = await gpu();
  const B = 3, Tq = 4, Ts = 6, Hq = 5, Hm = 7, A = 4, Hc = 3;
  const lenQ = [4, 1, 3], lenS = [2, 6, 1];
  const queries = Input.sequence('queries', Hq), memory = Input.sequence('memory', Hm);
  const att = new Attention({ score: 'additive', units: A, attentionalHidden: Hc, name: 'att' }).call(queries, memory);
  const model = new Model({ inputs: { queries, memory }, outputs: { out: att.output, weights: att.weights }, seed: 3 }).build(ctx);
  const made: Tensor[] = [];
  try {
    const rng = new Rng(30);
    const q = rng.uniformArray(B * Tq * Hq, -1, 1), m = rng.uniformArray(B * Ts * Hm, -1, 1);
    const dout = rng.uniformArray(B * Tq * Hc, -1, 1), dw = rng.uniformArray(B * Tq * Ts, -1, 1);
    const outs = model.forward({ queries: { x: q, shape: [B, Tq, Hq], lengths: lenQ }, memory: { x: m, shape: [B, Ts, Hm], lengths: lenS } }, { training: true });
    const tdout = ctx.tensor(dout, [B, Tq, Hc], 'dout'), tdw = ctx.tensor(dw, [B, Tq, Ts], 'dweights');
    made.push(tdout, tdw);
    const grads = model.backward({ out: tdout, weights: tdw });
    const params: Record<string, Float32Array> = {};
    const named = model.namedParameters();
    for (const [key, p] of named) params[key.replace(/^att\./, '')] = p.init;
    const dims = { B, Tq, Ts, Hq, Hm, A, Hc };
    const ref = cpu.attentionLayerForward('additive', q, m, lenQ, lenS, dims, params);
    const dref = cpu.attentionLayerBackward('additive', q, m, lenQ, lenS, dims, params, dout, dw);
    // Tolerances as in the node tests above (same computation, smaller sizes).
    expectClose('model out', await ctx.read(outs.out), ref.output, { atol: 4e-6, rtol: 1e-5, shape: [B, Tq, Hc] });
    expectClose('model weights', await ctx.read(outs.weights), ref.weights, { atol: 4e-6, rtol: 1e-5, shape: [B, Tq, Ts] });
    const gtol = (r: ArrayLike<number>, shape?: readonly number[]) => ({ atol: 4e-6 * Math.max(1, maxAbs(r)), rtol: 1e-4, shape });
    expectClose('model dqueries', await ctx.read(grads.queries!), dref.dq, gtol(dref.dq, [B, Tq, Hq]));
    expectClose('model dmemory', await ctx.read(grads.memory!), dref.dm, gtol(dref.dm, [B, Ts, Hm]));
    const keys = named.map(([k]) => k).sort().join(' ');
    if (keys !== 'att.key_bias att.key_weight att.output_bias att.output_weight att.query_weight att.score_weight') throw new Error(`state-dict names: ${keys}`);
    for (const [key, p] of named) {
      const g = dref.grads[key.replace(/^att\./, '')];
      expectClose(`model d${key}`, await ctx.read(p.grad!), g, gtol(g, p.shape));
    }
  } finally {
    for (const t of made) t.release();
    model.dispose();
  }
});

test.run();
