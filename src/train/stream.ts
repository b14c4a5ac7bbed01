// Streaming inference: a session that keeps every recurrent layer's states on the GPU and advances
// them a block of n steps at a time (n ≥ 1, any size per call), for token or feature inputs.
//
// One block records, for each stage of the model: the input projection of all n steps as one GEMM
// (a gather of W_ih's columns for a fused one-hot input), each stacked layer's recurrence over the
// block as one sequence-kernel dispatch plus the final-state gather (with the step kernels: n
// dispatches plus the gather), the head as one GEMM; then one readback. The schedule is the
// layer's, resolved as for `predict` (its own, else the context's: 'auto' takes the sequence
// kernels on GPUs and the step kernels on CPU drivers, where they are faster; see tuneSchedule).
// Embedding → 2-layer LSTM → Dense with the sequence kernels: 8 dispatches per block, whatever n.
// The states ping-pong between two buffers per layer (a kernel may not read and write one buffer),
// so nothing is copied between blocks. Buffers are cached per block length (the 8 most recently
// used lengths), so a steady stream allocates nothing after its first block. Running a sequence in
// blocks gives bit for bit what `predict` gives on the whole sequence with the same schedule: the
// kernels compute each step the same way. Layers of precision 'f16' run as in their forward: f16
// copies of W_ih, W_hh and the Dense weight, packed from the f32 weights at each push, and an f16
// hidden-state sequence (widened to f32 for the next stage); the carried states are f32 holding
// the f16-rounded values, as the recurrence reads them.
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Sequential } from '../nn/model.ts';
import { Dense, Dropout, LastStep } from '../nn/layers.ts';
import { Embedding, OneHot } from '../nn/embedding.ts';
import { Recurrent } from '../nn/recurrent.ts';
import type { Layer } from '../nn/layer.ts';
import { CELL_DRIVERS, resolveSchedule, type CellDriver, type CellKerasOptions } from '../nn/cells.ts';
import { floatArrayOf, indexOf, intArrayOf } from '../nn/batch.ts';
import { checkBoolean, checkInteger, checkOptionsObject, describeValue } from '../nn/options.ts';
import { matmul } from '../kernels/matmul.ts';
import { activationForward } from '../kernels/activation.ts';
import { embeddingForward, embeddingProjectOneHot, oneHotForward } from '../kernels/embedding.ts';
import { seqGatherLast } from '../kernels/seq.ts';
import { halfEmpty, halfPack, halfUnpack } from '../kernels/half.ts';
import { requireBuiltModel } from './checkpoint.ts';

export interface StreamOptions {
  /** Rows streamed side by side (independent streams, e.g. audio channels or users): B ≥ 1. */
  batch: number;
}

/** One block: `shape` [B, n] token ids or [B, n, I] features, `x` row-major. */
export interface StreamBlock {
  x: Int32Array | Float32Array | number[];
  shape: number[];
}

export interface StreamPushOptions {
  /** Return only the last step's outputs, (B, O): the head then runs on that step alone. Default false. */
  lastStep?: boolean;
}

/** The model's outputs for a block: (B, n, O), or (B, O) with `lastStep`. */
export interface StreamOutput {
  data: Float32Array;
  shape: number[];
}

/** One stage of the streamed model, in order (Dropout is the identity at inference and has none). */
type Stage =
  | { kind: 'embedding'; layer: Embedding }
  | { kind: 'oneHot'; layer: OneHot }
  | { kind: 'recurrent'; layer: Recurrent; driver: CellDriver; tokens: boolean }
  | { kind: 'dense'; layer: Dense };

const PUSH = 'stream.push';

function param(layer: Layer, name: string): Tensor {
  const p = layer.parameters().find((q) => q.name === name);
  if (!p?.value) throw new Error(`${PUSH}: ${layer.name} has no built parameter ${name}; build the model first`);
  return p.value;
}

/** The stages of a model a stream can run, or an error naming the layer that cannot be streamed. */
function stagesOf(model: Sequential): Stage[] {
  const stages: Stage[] = [];
  for (const layer of model.layers) {
    if (layer instanceof Dropout) continue;
    if (layer instanceof Embedding) stages.push({ kind: 'embedding', layer });
    else if (layer instanceof OneHot) stages.push({ kind: 'oneHot', layer });
    else if (layer instanceof Dense) stages.push({ kind: 'dense', layer });
    else if (layer instanceof Recurrent) {
      if (layer.bidirectional) throw new Error(`createStream: ${layer.cell.toUpperCase()} ${JSON.stringify(layer.name)} is bidirectional; a stream cannot see the future, so it needs unidirectional recurrent layers`);
      const prev = stages[stages.length - 1];
      stages.push({ kind: 'recurrent', layer, driver: CELL_DRIVERS[layer.cell], tokens: prev?.kind === 'oneHot' && prev.layer.passTokens });
    } else if (layer instanceof LastStep) {
      throw new Error(`createStream: ${JSON.stringify(layer.name)} is a LastStep layer, which needs the whole sequence; a stream gives per-step outputs (use push(block, { lastStep: true }) for the last step's)`);
    } else {
      throw new Error(`createStream: layer ${JSON.stringify(layer.name)} (${layer.constructor.name}) cannot be streamed; expected Embedding, OneHot, LSTM, GRU, RNN, Dense or Dropout`);
    }
  }
  if (!stages.some((s) => s.kind === 'recurrent')) throw new Error('createStream: the model has no recurrent layer, so there is no state to stream; expected an LSTM, GRU or RNN layer');
  return stages;
}

/** The Keras options the LSTM/GRU kernels take (none for RNN), as the layer passes them. */
function kerasOptions(layer: Recurrent): CellKerasOptions | undefined {
  if (layer.cell === 'rnn') return undefined;
  return { activation: layer.activation, recurrentActivation: layer.recurrentActivation, ...(layer.cell === 'gru' ? { resetAfter: layer.resetAfter } : {}) };
}

/**
 * A streaming session over a built Sequential model (see `createStream`). Every check of a push
 * happens before anything is written or recorded, so a rejected push leaves the states as they were.
 */
export class StreamingSession {
  /** Rows streamed side by side. */
  readonly batch: number;
  /** Steps pushed since creation or the last full `reset()`. */
  steps = 0;
  private readonly model: Sequential;
  private readonly stages: Stage[];
  /** Per recurrent stage, per stacked layer: two h (and c) buffers (B, H); `current` picks the live one. */
  private readonly states: { h: [Tensor, Tensor]; c?: [Tensor, Tensor] }[][];
  private current: 0 | 1 = 0;
  private zeros: Tensor;
  /** Buffers of a block, per block length and output mode. */
  private blocks = new Map<string, Map<string, Tensor>>();
  /** f16 copies of the weights of precision 'f16' layers (u32 words of packed halves), by name. */
  private halfWeights = new Map<string, Tensor>();
  private disposed = false;

  constructor(model: Sequential, opts: StreamOptions) {
    if (!(model instanceof Sequential)) throw new Error(`createStream: expected a built Sequential model, got ${describeValue(model)}`);
    checkOptionsObject('createStream', opts, ['batch'], '{ batch: 1 }');
    const ctx = requireBuiltModel(model, 'createStream');
    this.batch = checkInteger('createStream', 'option batch', opts.batch, 1);
    this.model = model;
    this.stages = stagesOf(model);
    const B = this.batch;
    let maxH = 1;
    for (const s of this.stages) {
      if (s.kind !== 'recurrent') continue;
      resolveSchedule(ctx, s.driver, { B, T: 1, H: s.layer.hiddenSize }, s.layer.schedule);
      ctx.checkAllocation(`${s.layer.name}'s stream state at batch ${B}`, [B, s.layer.hiddenSize]);
      maxH = Math.max(maxH, s.layer.hiddenSize);
    }
    this.states = this.stages.filter((s): s is Extract<Stage, { kind: 'recurrent' }> => s.kind === 'recurrent').map((s) => {
      const H = s.layer.hiddenSize;
      const pair = (what: string): [Tensor, Tensor] => [0, 1].map((i) => ctx.zeros([B, H], 'f32', `stream.${s.layer.name}.${what}${i}`)) as [Tensor, Tensor];
      return Array.from({ length: s.layer.numLayers }, (_, l) => ({ h: pair(`h_l${l}_`), ...(s.driver.hasCell ? { c: pair(`c_l${l}_`) } : {}) }));
    });
    this.zeros = ctx.zeros([maxH], 'f32', 'stream.zeros');
  }

  private get ctx(): GpuContext {
    return this.model.context;
  }

  private requireLive(op: string): GpuContext {
    if (this.disposed) throw new Error(`${op}: the stream was disposed; create a new one with createStream(model, { batch })`);
    return requireBuiltModel(this.model, op);
  }

  /**
   * Runs the next n steps of every row and advances the states. `block.shape` is [B, n] (token ids)
   * or [B, n, I] (features) with B the session's batch and any n ≥ 1. Resolves to the outputs of
   * those n steps, (B, n, O), or (B, O) with `{ lastStep: true }`. Pushes may overlap: the GPU runs
   * them in call order.
   */
  async push(block: StreamBlock, opts: StreamPushOptions = {}): Promise<StreamOutput> {
    const ctx = this.requireLive(PUSH);
    checkOptionsObject(PUSH, opts, ['lastStep'], '{ lastStep: true }');
    const lastStep = opts.lastStep === undefined ? false : checkBoolean(PUSH, 'option lastStep', opts.lastStep);
    const { n, x } = this.checkBlock(block);
    const bufs = this.blockBuffers(ctx, n, lastStep);
    // Everything is valid: one write, the recording, one readback.
    ctx.write(bufs.get('x')!, x);
    const out = this.record(ctx, bufs, n, lastStep);
    this.current = this.current === 0 ? 1 : 0;
    this.steps += n;
    const data = (await ctx.read(out)) as Float32Array;
    return { data, shape: [...out.shape] };
  }

  /** A block's shape and values, checked: B rows, n ≥ 1 steps, ids in the vocabulary, finite features. */
  private checkBlock(block: unknown): { n: number; x: Int32Array | Float32Array } {
    const input = this.model.input;
    const tokens = input.kind === 'tokens';
    const B = this.batch;
    const want = tokens ? `[${B}, n] (token ids, n ≥ 1 steps)` : `[${B}, n, ${input.size}] (features, n ≥ 1 steps)`;
    if (typeof block !== 'object' || block === null || Array.isArray(block) || ArrayBuffer.isView(block)) {
      throw new Error(`${PUSH}: the block must be an object { x, shape } with shape ${want}, got ${describeValue(block)}`);
    }
    const b = block as Record<string, unknown>;
    for (const field of Object.keys(b)) {
      if (field !== 'x' && field !== 'shape') throw new Error(`${PUSH}: unknown block field ${JSON.stringify(field)}; a block has x and shape ${want} (every step is valid: no lengths)`);
    }
    const shape = b.shape;
    if (!Array.isArray(shape)) throw new Error(`${PUSH}: block.shape must be an array ${want}, got ${describeValue(shape)}`);
    const shown = `[${shape.map((d) => (typeof d === 'number' ? String(d) : describeValue(d))).join(', ')}]`;
    if (shape.length !== (tokens ? 2 : 3) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
      throw new Error(`${PUSH}: block.shape is ${shown}, expected ${want} with positive integers`);
    }
    const dims = shape as number[];
    if (dims[0] !== B) throw new Error(`${PUSH}: block.shape is ${shown}: batch ${dims[0]}, but the stream was created with batch ${B}; expected ${want}`);
    if (!tokens && dims[2] !== input.size) throw new Error(`${PUSH}: block.shape is ${shown}: ${dims[2]} features, but the model takes ${input.size}; expected ${want}`);
    const n = dims[1];
    const count = dims.reduce((a, d) => a * d, 1);
    this.ctx.checkAllocation(`a stream block of ${n} steps at batch ${B}`, [B, n, this.widest()]);
    let x: Int32Array | Float32Array;
    if (tokens) {
      x = intArrayOf(PUSH, 'block.x', b.x, count, `token ids (B·n = ${count} for shape ${shown})`);
      for (let i = 0; i < count; i++) {
        if (x[i] < 0 || x[i] >= input.size) throw new Error(`${PUSH}: block.x: token id ${x[i]} at ${indexOf(i, dims)} is outside the vocabulary [0, ${input.size}); expected ids in [0, ${input.size - 1}]`);
      }
    } else {
      x = floatArrayOf(PUSH, 'block.x', b.x, count, `features (B·n·I = ${count} for shape ${shown})`, dims);
    }
    return { n, x };
  }

  /** The widest per-step tensor a block allocates (for the size check against the device). */
  private widest(): number {
    let w = this.model.input.kind === 'tokens' ? 1 : this.model.input.size;
    for (const s of this.stages) {
      if (s.kind === 'recurrent') w = Math.max(w, s.driver.gates * s.layer.hiddenSize);
      else if (s.kind === 'dense') w = Math.max(w, s.layer.units);
      else if (s.kind === 'embedding') w = Math.max(w, s.layer.embeddingDim);
      else w = Math.max(w, s.layer.numClasses);
    }
    return w;
  }

  /** The buffers of a block of n steps, allocated on first use (and the lengths written then). */
  private blockBuffers(ctx: GpuContext, n: number, lastStep: boolean): Map<string, Tensor> {
    const key = `${n}/${lastStep ? 'last' : 'all'}`;
    let bufs = this.blocks.get(key);
    if (bufs) {
      // Most recently used last; a stream alternating between a few block lengths keeps them all.
      this.blocks.delete(key);
      this.blocks.set(key, bufs);
      return bufs;
    }
    if (this.blocks.size >= 8) {
      const [oldest, old] = this.blocks.entries().next().value!;
      for (const t of old.values()) t.release();
      this.blocks.delete(oldest);
    }
    const B = this.batch;
    bufs = new Map();
    const tokens = this.model.input.kind === 'tokens';
    bufs.set('x', ctx.empty(tokens ? [B, n] : [B, n, this.model.input.size], tokens ? 'i32' : 'f32', `stream.x.${n}`));
    const lengths = ctx.empty([B], 'i32', `stream.lengths.${n}`);
    ctx.write(lengths, new Int32Array(B).fill(n));
    bufs.set('lengths', lengths);
    this.blocks.set(key, bufs);
    return bufs;
  }

  private buffer(bufs: Map<string, Tensor>, name: string, shape: number[]): Tensor {
    let t = bufs.get(name);
    if (!t) {
      t = this.ctx.empty(shape, 'f32', `stream.${name}`);
      bufs.set(name, t);
    }
    return t;
  }

  /** f16 storage of a block tensor of this shape (see ../kernels/half.ts). */
  private halfBuffer(bufs: Map<string, Tensor>, name: string, shape: number[]): Tensor {
    let t = bufs.get(name);
    if (!t) {
      t = halfEmpty(this.ctx, shape, `stream.${name}`);
      bufs.set(name, t);
    }
    return t;
  }

  /** The f16 copy of a layer's weight, packed from its f32 value now (weights are read at each push). */
  private halfWeight(ctx: GpuContext, layer: Layer, name: string): Tensor {
    const w = param(layer, name);
    const key = `${layer.name}.${name}`;
    let t = this.halfWeights.get(key);
    if (!t) {
      t = halfEmpty(ctx, w.shape, `stream.${key}16`);
      this.halfWeights.set(key, t);
    }
    halfPack(ctx, w, t);
    return t;
  }

  /** Records one block through every stage; returns the output tensor. */
  private record(ctx: GpuContext, bufs: Map<string, Tensor>, n: number, lastStep: boolean): Tensor {
    const B = this.batch;
    const lengths = bufs.get('lengths')!;
    const lastRecurrent = this.stages.map((s) => s.kind).lastIndexOf('recurrent');
    const cur = this.current, next = cur === 0 ? 1 : 0;
    let a = bufs.get('x')!;
    let r = 0;
    this.stages.forEach((s, i) => {
      // After the last recurrent stage with lastStep, the rest runs on (B, ·) vectors.
      const rows = lastStep && i > lastRecurrent ? [B] : [B, n];
      const key = `${i}`;
      if (s.kind === 'embedding') {
        const y = this.buffer(bufs, `${key}.embedding`, [B, n, s.layer.embeddingDim]);
        embeddingForward(ctx, param(s.layer, 'weight'), a, y);
        a = y;
      } else if (s.kind === 'oneHot') {
        if (s.layer.passTokens) return; // the recurrent layer after it gathers W_ih's columns
        const y = this.buffer(bufs, `${key}.onehot`, [B, n, s.layer.numClasses]);
        oneHotForward(ctx, a, y);
        a = y;
      } else if (s.kind === 'dense') {
        const units = s.layer.units;
        let y = this.buffer(bufs, `${key}.dense`, [...rows, units]);
        const bias = s.layer.useBias ? param(s.layer, 'bias') : undefined;
        if (s.layer.precision === 'f16') {
          matmul(ctx, a, this.halfWeight(ctx, s.layer, 'weight'), y, { transB: true, bias, bHalfShape: param(s.layer, 'weight').shape });
        } else {
          matmul(ctx, a, param(s.layer, 'weight'), y, { transB: true, bias });
        }
        if (s.layer.activation) {
          const z = y;
          y = this.buffer(bufs, `${key}.act`, [...rows, units]);
          activationForward(ctx, s.layer.activation, z, y);
        }
        a = y;
      } else {
        const { layer, driver } = s;
        const H = layer.hiddenSize, G = driver.gates * H;
        const states = this.states[r++];
        const half = layer.precision === 'f16';
        for (let l = 0; l < layer.numLayers; l++) {
          const gx = this.buffer(bufs, `${key}.gx${l}`, [B, n, G]);
          const wih = param(layer, `weight_ih_l${l}`), bih = param(layer, `bias_ih_l${l}`);
          if (l === 0 && s.tokens) embeddingProjectOneHot(ctx, wih, bih, a, gx, { weightPrecision: layer.precision });
          else if (half) matmul(ctx, a, this.halfWeight(ctx, layer, `weight_ih_l${l}`), gx, { transB: true, bias: bih, bHalfShape: wih.shape });
          else matmul(ctx, a, wih, gx, { transB: true, bias: bih });
          const hs = this.buffer(bufs, `${key}.hs${l}`, [B, n, H]);
          // f16: the recurrence reads and writes an f16 hs; hs gets it widened for the next stage.
          const hsRun = half ? this.halfBuffer(bufs, `${key}.hs16_${l}`, [B, n, H]) : hs;
          const saved: Record<string, Tensor> = {};
          for (const [name, width] of Object.entries(driver.saved)) saved[name] = this.buffer(bufs, `${key}.${name}${l}`, [B, n, width * H]);
          const st = states[l];
          const whh = half ? this.halfWeight(ctx, layer, `weight_hh_l${l}`) : param(layer, `weight_hh_l${l}`);
          driver.forward(ctx, {
            gx, whh, bhh: param(layer, `bias_hh_l${l}`), h0: st.h[cur], c0: st.c?.[cur], lengths,
            hs: hsRun, hn: st.h[next], cn: st.c?.[next], saved, schedule: layer.schedule,
            peephole: layer.peepholes ? param(layer, `weight_peephole_l${l}`) : undefined, cell: kerasOptions(layer),
          }, layer.nonlinearity);
          if (half) halfUnpack(ctx, hsRun, hs);
          a = hs;
        }
        if (lastStep && i === lastRecurrent) {
          const y = this.buffer(bufs, `${key}.last`, [B, H]);
          seqGatherLast(ctx, a, lengths, y);
          a = y;
        }
      }
    });
    return a;
  }

  /**
   * Zeroes the states of every row, or of the given rows only (a new utterance on one channel);
   * recorded in order with the pushes around it.
   */
  reset(rows?: number[]): void {
    const ctx = this.requireLive('stream.reset');
    const B = this.batch;
    if (rows !== undefined) {
      if (!Array.isArray(rows)) throw new Error(`stream.reset: rows must be an array of row indices in [0, ${B - 1}], got ${describeValue(rows)}`);
      rows.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= B) throw new Error(`stream.reset: rows[${i}] = ${describeValue(v)} is not a row of this stream; expected an integer in [0, ${B - 1}]`);
      });
    }
    for (const layerStates of this.states) {
      for (const st of layerStates) {
        for (const t of [st.h[this.current], st.c?.[this.current]]) {
          if (!t) continue;
          if (rows === undefined) ctx.clear(t);
          else for (const row of rows) ctx.copy(this.zeros, t, t.shape[1] * 4, 0, row * t.shape[1] * 4);
        }
      }
    }
    if (rows === undefined || rows.length === B) this.steps = 0;
  }

  /**
   * The current states, read back: per recurrent layer name, h (and c for LSTM) of shape
   * (numLayers, B, H) like the layer's `finalState()`.
   */
  async readStates(): Promise<Record<string, { h: Float32Array; c?: Float32Array; shape: number[] }>> {
    const ctx = this.requireLive('stream.readStates');
    const out: Record<string, { h: Float32Array; c?: Float32Array; shape: number[] }> = {};
    const recurrent = this.stages.filter((s): s is Extract<Stage, { kind: 'recurrent' }> => s.kind === 'recurrent');
    for (const [i, s] of recurrent.entries()) {
      const L = s.layer.numLayers, B = this.batch, H = s.layer.hiddenSize;
      const h = new Float32Array(L * B * H);
      const c = s.driver.hasCell ? new Float32Array(L * B * H) : undefined;
      for (let l = 0; l < L; l++) {
        const st = this.states[i][l];
        h.set((await ctx.read(st.h[this.current])) as Float32Array, l * B * H);
        if (c && st.c) c.set((await ctx.read(st.c[this.current])) as Float32Array, l * B * H);
      }
      out[s.layer.name] = { h, ...(c ? { c } : {}), shape: [L, B, H] };
    }
    return out;
  }

  /** Releases the session's GPU buffers; the model is untouched. Later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const bufs of this.blocks.values()) for (const t of bufs.values()) t.release();
    this.blocks.clear();
    for (const layerStates of this.states) for (const st of layerStates) for (const t of [...st.h, ...(st.c ?? [])]) t.release();
    for (const t of this.halfWeights.values()) t.release();
    this.halfWeights.clear();
    this.zeros.release();
  }
}

/**
 * Opens a streaming session on a built Sequential model of the shape [Embedding | OneHot]? →
 * (unidirectional LSTM / GRU / RNN | Dense | Dropout)…, any cell option; Dropout is the identity.
 * `await session.push(block)` runs the next n steps of `batch` independent rows from the states
 * the previous push left (zeros at first) and returns the outputs of those steps. A bidirectional
 * or LastStep layer is refused: a stream cannot see the future. Weights are read at each push, so
 * a session follows further training of the model.
 */
export function createStream(model: Sequential, opts: StreamOptions): StreamingSession {
  return new StreamingSession(model, opts);
}
