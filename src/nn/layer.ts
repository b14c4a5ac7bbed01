// The layer protocol shared by every layer of a Sequential model.
//
// A layer is built once (shapes inferred from the layer before it, parameters initialised on the
// CPU from a seeded Rng and uploaded), then records GPU work: `forward` for one batch and, in
// training, `backward` in reverse order. Activations flow as (B, T, D) sequences, (B, D) vectors
// or (B, T) token ids. Buffers that depend on the batch shape are cached per layer and only
// reallocated when (B, T) changes, so a steady training loop allocates nothing.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import { hostFloat32Array } from '../runtime/limits.ts';
import { connectLayer, type GraphValue } from './graph-value.ts';

/** What flows between layers. */
export type ActKind = 'tokens' | 'seq' | 'vec';
export interface ActDesc {
  kind: ActKind;
  /** Feature size (D) for seq/vec; vocabulary size for tokens. */
  size: number;
}
export interface Act {
  kind: ActKind;
  /** tokens: i32 (B, T); seq: (B, T, D); vec: (B, D). */
  t: Tensor;
}

/** Everything a layer needs to know about the batch being run. */
export interface RunInfo {
  B: number;
  T: number;
  /** (B) i32, each in [1, T]. */
  lengths: Tensor;
  /** Host copy of lengths. */
  hostLengths: Int32Array;
  /** Host copy of the token ids when the input is tokens (for the embedding's gradient index). */
  hostTokens?: Int32Array;
  training: boolean;
  /** A fresh 32-bit seed per training step (dropout masks). */
  seed: number;
  /** The same seed on the GPU: (1) u32, written once per step. */
  seedTensor: Tensor;
  /** The token ids grouped by id (counting sort), uploaded on first use in a step; for the
   *  deterministic scatter-add gradients of Embedding and of a one-hot input projection. */
  tokenIndex?: () => { offsets: Tensor; positions: Tensor };
}

/** What Layer.checkRun is told about a run before anything of it is written. */
export interface RunCheck {
  B: number;
  T: number;
  training: boolean;
}

/** A trainable tensor with its gradient, named as in PyTorch (`weight_ih_l0`, `weight`, …). */
export interface Parameter {
  name: string;
  shape: number[];
  /** Initial (or loaded) values on the CPU; uploaded by `build`. */
  init: Float32Array;
  value?: Tensor;
  grad?: Tensor;
}

export abstract class Layer {
  /** Prefix of this layer's parameter names in a state dict (`lstm` → `lstm.weight_ih_l0`). */
  name: string;
  protected params: Parameter[] = [];
  protected ctx: GpuContext | null = null;
  private buffers = new Map<string, Tensor>();

  constructor(name: string) {
    this.name = name;
  }

  /**
   * Calls the layer on a graph value (an `Input` or another layer's output) for a graph `Model`:
   * records a node and returns its output value. Each layer object can be called once.
   */
  call(input: GraphValue): GraphValue {
    return connectLayer(this, input);
  }

  /** Infers shapes from the input, creates parameters on the CPU, returns the output description. */
  abstract configure(input: ActDesc, rng: Rng): ActDesc;
  abstract forward(ctx: GpuContext, x: Act, run: RunInfo): Act;
  /**
   * Records the backward pass given the gradient of this layer's output. Accumulates into the
   * parameters' grads (which the model clears first). Returns the gradient w.r.t. the input, or
   * null when `needInputGrad` is false or the input is token ids.
   */
  abstract backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null;
  /** A JSON-able description used to rebuild the layer from a checkpoint. */
  abstract config(): Record<string, unknown>;

  /**
   * Per-run checks that depend on the batch (a stateful layer's batch size, given initial states,
   * the schedule at these sizes). Sequential calls it on every layer before a run writes,
   * records or counts anything, so `forward` never has to throw halfway through a recording.
   * Throws an error naming the layer; changes nothing.
   */
  checkRun(_run: RunCheck): void {}

  /**
   * Widths W of the (B, T, W) tensors a run allocates besides its input and output (a recurrent
   * layer's gate pre-activations, saved activations), by label. Sequential checks every such
   * tensor against the device's limits before a run records anything.
   */
  runWidths(): Record<string, number> { return {}; }

  /**
   * Called after a training step whose update the GPU skipped (its gradient norm or loss was not
   * finite): restores what the step's forward changed in the layer (a stateful layer's carried
   * states), so the model is as it was before the step. May record GPU work.
   */
  stepSkipped(_ctx: GpuContext): void {}

  parameters(): Parameter[] {
    return this.params;
  }

  /** Uploads the parameters and allocates their gradients. */
  build(ctx: GpuContext): void {
    uploadParameters(ctx, this.name, this.params);
    this.ctx = ctx;
  }

  /** A cached buffer for this layer, reallocated only when its shape changes. */
  protected buffer(key: string, shape: readonly number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
    const ctx = this.ctx;
    if (!ctx) throw new Error(`${this.name}: layer used before build()`);
    const have = this.buffers.get(key);
    if (have && have.dtype === dtype && have.shape.length === shape.length && have.shape.every((d, i) => d === shape[i])) return have;
    have?.release();
    const t = ctx.empty(shape, dtype, `${this.name}.${key}`);
    this.buffers.set(key, t);
    return t;
  }

  /** Releases every GPU buffer the layer holds (parameters included). */
  dispose(): void {
    for (const t of this.buffers.values()) t.release();
    this.buffers.clear();
    releaseParameters(this.params);
  }

  protected addParam(name: string, shape: number[], init: Float32Array): Parameter {
    const p: Parameter = { name, shape, init };
    this.params.push(p);
    return p;
  }
}

/**
 * Uploads parameters' initial values and allocates their zeroed gradients, named `<owner>.<param>`
 * and `d<owner>.<param>`. Every parameter is checked against the device's limits before any is
 * allocated, so a parameter too large for the adapter leaves nothing half-built.
 */
export function uploadParameters(ctx: GpuContext, owner: string, params: Parameter[]): void {
  for (const p of params) ctx.checkAllocation(`${owner}.${p.name}`, p.shape);
  for (const p of params) {
    p.value?.release();
    p.grad?.release();
    p.value = ctx.tensor(p.init, p.shape, `${owner}.${p.name}`);
    p.grad = ctx.zeros(p.shape, 'f32', `d${owner}.${p.name}`);
  }
}

/** Releases parameters' values and gradients (they can be uploaded again by a later build). */
export function releaseParameters(params: Parameter[]): void {
  for (const p of params) { p.value?.release(); p.grad?.release(); p.value = undefined; p.grad = undefined; }
}

/** PyTorch's default for nn.Linear, nn.LSTM, …: U(−1/√fan, 1/√fan). */
export function uniformInit(rng: Rng, n: number, bound: number, label = 'parameter'): Float32Array {
  const a = hostFloat32Array(label, [n]);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
  return a;
}

export function checkAct(layer: string, x: Act, kind: ActKind): void {
  if (x.kind !== kind) throw new Error(`${layer}: expects ${kind} input, got ${x.kind} ${x.t.toString()}`);
}
