// The CPU reference of a graph Model, in float64: runs the graph its config() describes (layers'
// configs and the wiring) with parameters by state-dict name on inputs that each carry their own
// shape and lengths, then goes back from upstream gradients of any outputs (final states
// included), returning the outputs, every parameter's gradient and the float inputs' gradients.
// Dropout is the identity here (compare with the GPU model in eval mode or with rate 0).
import { embeddingBackward, embeddingForward, oneHotForward } from './embedding.ts';
import { matmulForward } from './matmul.ts';
import { activationBackward, activationForward, type CpuActivation } from './activation.ts';
import { seqGatherLast, seqScatterLast } from './seq.ts';
import { recurrentForward, type CpuLayerConfig, type CpuParams, type CpuState } from './model.ts';
import { attentionLayerBackward, attentionLayerForward, type AttentionParams, type AttentionScore } from './attention.ts';

/** A Model's config(): inputs, nodes (layer config, input value ids), outputs (value ids). */
export interface CpuGraphConfig {
  inputs: Record<string, { kind: 'tokens' | 'seq'; size: number }>;
  nodes: { layer: CpuLayerConfig; op?: boolean; inputs: string[]; initialState?: boolean }[];
  outputs: Record<string, string>;
}

export interface CpuGraphInput {
  x: ArrayLike<number>;
  shape: number[];
  lengths?: ArrayLike<number>;
}

export interface CpuGraphResult {
  outputs: Record<string, { data: Float64Array; shape: number[] }>;
  grads: CpuParams;
  /** Gradients of the float (sequence) inputs. */
  inputGrads: Record<string, Float64Array>;
}

interface Stream { B: number; T: number; lengths: number[] }
interface Value { data: Float64Array; shape: number[]; stream: Stream }

/**
 * Forward of the graph, then backward from `upstream` (gradients by output name, each the output's
 * shape; or a function of the outputs giving them, for a loss computed on the CPU).
 */
export function cpuGraphForwardBackward(
  config: CpuGraphConfig, params: CpuParams, inputs: Record<string, CpuGraphInput>,
  upstream: Record<string, Float64Array> | ((outputs: Record<string, { data: Float64Array; shape: number[] }>) => Record<string, Float64Array>),
): CpuGraphResult {
  const grads: CpuParams = {};
  for (const [k, v] of Object.entries(params)) grads[k] = new Float64Array(v.length);
  const P = (layer: string, name: string): Float64Array => {
    const v = params[`${layer}.${name}`];
    if (!v) throw new Error(`cpu graph: parameter ${layer}.${name} missing`);
    return v;
  };
  const addGrad = (layer: string, name: string, g: ArrayLike<number>): void => {
    const dst = grads[`${layer}.${name}`];
    if (!dst) throw new Error(`cpu graph: gradient of unknown parameter ${layer}.${name}`);
    for (let i = 0; i < g.length; i++) dst[i] += g[i];
  };
  const values = new Map<string, Value>();
  for (const [k, d] of Object.entries(config.inputs)) {
    const inp = inputs[k];
    if (!inp) throw new Error(`cpu graph: input ${k} missing`);
    const [B, T] = inp.shape;
    const stream = { B, T, lengths: inp.lengths ? Array.from(inp.lengths) : new Array(B).fill(T) };
    values.set(`input:${k}`, { data: Float64Array.from(inp.x), shape: d.kind === 'tokens' ? [B, T] : [B, T, d.size], stream });
  }
  // Each node's backward: from its outputs' gradients (null: none) to its inputs' (null: none).
  const tapes: { node: CpuGraphConfig['nodes'][number]; outs: string[]; backward: (d: (Float64Array | null)[]) => (Float64Array | null)[] }[] = [];
  for (const node of config.nodes) {
    const cfg = node.layer, name = cfg.name;
    const ins = node.inputs.map((id) => {
      const v = values.get(id);
      if (!v) throw new Error(`cpu graph: value ${id} used before it is made`);
      return v;
    });
    const x = ins[0], s = x.stream, { B, T } = s;
    const D = x.shape[x.shape.length - 1];
    let outs: Value[];
    let backward: (d: (Float64Array | null)[]) => (Float64Array | null)[];
    switch (cfg.type) {
      case 'Embedding': {
        const V = cfg.numEmbeddings as number, E = cfg.embeddingDim as number;
        const tokens = Int32Array.from(x.data);
        outs = [{ data: Float64Array.from(embeddingForward(P(name, 'weight'), tokens, V, E)), shape: [B, T, E], stream: s }];
        backward = ([d]) => { addGrad(name, 'weight', embeddingBackward(d!, tokens, V, E)); return [null]; };
        break;
      }
      case 'OneHot': {
        const V = cfg.numClasses as number;
        outs = [{ data: Float64Array.from(oneHotForward(Int32Array.from(x.data), V)), shape: [B, T, V], stream: s }];
        backward = () => [null];
        break;
      }
      case 'Dense': {
        const U = cfg.units as number, M = x.data.length / D;
        const z = matmulForward(x.data, P(name, 'weight'), M, D, U, { transB: true, bias: cfg.bias === false ? undefined : P(name, 'bias') });
        const act = cfg.activation as CpuActivation | undefined;
        const y = act ? activationForward(act, z) : z;
        outs = [{ data: y, shape: [...x.shape.slice(0, -1), U], stream: s }];
        backward = ([dy]) => {
          const dz = act ? activationBackward(act, y, dy!) : dy!;
          addGrad(name, 'weight', matmulForward(dz, x.data, U, M, D, { transA: true }));
          if (cfg.bias !== false) {
            const db = new Float64Array(U);
            for (let m = 0; m < M; m++) for (let u = 0; u < U; u++) db[u] += dz[m * U + u];
            addGrad(name, 'bias', db);
          }
          return [matmulForward(dz, P(name, 'weight'), M, U, D)];
        };
        break;
      }
      case 'Dropout':
        outs = [x];
        backward = ([d]) => [d];
        break;
      case 'LastStep':
        outs = [{ data: seqGatherLast(x.data, s.lengths, B, T, D), shape: [B, D], stream: s }];
        backward = ([d]) => [seqScatterLast(d!, s.lengths, B, T, D)];
        break;
      case 'LSTM': case 'GRU': case 'RNN': {
        const initial: CpuState | undefined = node.initialState ? { h: ins[1].data, ...(ins[2] ? { c: ins[2].data } : {}) } : undefined;
        const r = recurrentForward(cfg, name, x.data, D, B, T, s.lengths, P, initial);
        const H = cfg.hiddenSize as number, LD = ((cfg.numLayers as number) ?? 1) * (cfg.bidirectional ? 2 : 1);
        outs = [{ data: r.out, shape: [B, T, r.D], stream: s }, { data: r.final.h, shape: [LD, B, H], stream: s }];
        if (r.final.c) outs.push({ data: r.final.c, shape: [LD, B, H], stream: s });
        backward = ([dy, dh, dc]) => {
          const g = r.backward(dy ?? new Float64Array(B * T * r.D), { h: dh ?? undefined, c: dc ?? undefined });
          for (const [k, gv] of Object.entries(g.grads)) addGrad(name, k, gv);
          return [g.dx, ...(node.initialState ? [g.dInitial.h, ...(ins[2] ? [g.dInitial.c!] : [])] : [])];
        };
        break;
      }
      case 'Attention': {
        const [q, m] = ins;
        const dims = {
          B, Tq: q.stream.T, Ts: m.stream.T, Hq: q.shape[2], Hm: m.shape[2],
          A: cfg.units as number | undefined, Hc: (cfg.attentionalHidden as number | undefined) ?? 0,
        };
        const score = cfg.score as AttentionScore;
        const p: AttentionParams = {};
        for (const k of Object.keys(params)) if (k.startsWith(`${name}.`)) p[k.slice(name.length + 1) as keyof AttentionParams] = params[k];
        const lenQ = q.stream.lengths, lenS = m.stream.lengths;
        const f = attentionLayerForward(score, q.data, m.data, lenQ, lenS, dims, p);
        outs = [
          { data: f.output, shape: [B, dims.Tq, f.output.length / (B * dims.Tq)], stream: q.stream },
          { data: f.weights, shape: [B, dims.Tq, dims.Ts], stream: q.stream },
        ];
        backward = ([dOut, dW]) => {
          const r = attentionLayerBackward(score, q.data, m.data, lenQ, lenS, dims, p, dOut ?? new Float64Array(f.output.length), dW);
          for (const [k, gv] of Object.entries(r.grads)) addGrad(name, k, gv);
          return [r.dq, r.dm];
        };
        break;
      }
      case 'Concatenate': {
        const sizes = ins.map((v) => v.shape[v.shape.length - 1]), W = sizes.reduce((a, b) => a + b, 0), N = x.data.length / D;
        const y = new Float64Array(N * W);
        let off = 0;
        ins.forEach((v, i) => { for (let r = 0; r < N; r++) for (let j = 0; j < sizes[i]; j++) y[r * W + off + j] = v.data[r * sizes[i] + j]; off += sizes[i]; });
        outs = [{ data: y, shape: [...x.shape.slice(0, -1), W], stream: s }];
        backward = ([d]) => {
          let at = 0;
          return sizes.map((size) => {
            const dx = new Float64Array(N * size);
            for (let r = 0; r < N; r++) for (let j = 0; j < size; j++) dx[r * size + j] = d![r * W + at + j];
            at += size;
            return dx;
          });
        };
        break;
      }
      case 'Add': {
        const y = new Float64Array(x.data.length);
        for (const v of ins) for (let i = 0; i < y.length; i++) y[i] += v.data[i];
        outs = [{ data: y, shape: [...x.shape], stream: s }];
        backward = ([d]) => ins.map(() => d);
        break;
      }
      default:
        throw new Error(`cpu graph: unknown node type ${cfg.type}`);
    }
    const ids = outs.map((_, i) => `${name}:${i}`);
    outs.forEach((v, i) => values.set(ids[i], v));
    tapes.push({ node, outs: ids, backward });
  }

  const outputs: CpuGraphResult['outputs'] = {};
  for (const [k, id] of Object.entries(config.outputs)) {
    const v = values.get(id)!;
    outputs[k] = { data: v.data, shape: v.shape };
  }
  const up = typeof upstream === 'function' ? upstream(outputs) : upstream;
  const dvals = new Map<string, Float64Array>();
  const add = (id: string, g: Float64Array | null): void => {
    if (!g) return;
    const have = dvals.get(id);
    if (!have) { dvals.set(id, Float64Array.from(g)); return; }
    for (let i = 0; i < g.length; i++) have[i] += g[i];
  };
  for (const [k, g] of Object.entries(up)) add(config.outputs[k], g);
  for (let i = tapes.length - 1; i >= 0; i--) {
    const t = tapes[i];
    const d = t.outs.map((id) => dvals.get(id) ?? null);
    if (d.every((g) => g === null)) continue;
    const dIns = t.backward(d);
    t.node.inputs.forEach((id, j) => add(id, dIns[j] ?? null));
  }
  const inputGrads: Record<string, Float64Array> = {};
  for (const [k, d] of Object.entries(config.inputs)) {
    if (d.kind !== 'seq') continue;
    inputGrads[k] = dvals.get(`input:${k}`) ?? new Float64Array(values.get(`input:${k}`)!.data.length);
  }
  return { outputs, grads, inputGrads };
}
