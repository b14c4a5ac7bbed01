// The protocol of a layer with several inputs or outputs, as a node of a `Model` graph.
//
// A single-input layer (`Layer`) is a node with one input and one output. A `GraphOp` is the general
// case: attention (queries and keys in; context and weights out), concatenation, a recurrent layer
// that also takes initial states and gives final states. Each input arrives with the RunInfo of the
// stream it came from (its own B, T and lengths: a decoder's target and an encoder's source differ),
// and backward gets one upstream gradient per output (null where nothing flows back).

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import { releaseParameters, uploadParameters, type Act, type ActDesc, type Parameter, type RunCheck, type RunInfo } from './layer.ts';

export interface GraphOp {
  /** Prefix of this node's parameter names in a state dict (`attention` → `attention.weight`). */
  name: string;
  /** Output descriptions from input descriptions; creates the parameters on the CPU (seeded). */
  configureInputs(inputs: ActDesc[], rng: Rng): ActDesc[];
  /** Per-run checks before anything is recorded (one RunCheck per input); throws naming the node. */
  checkRunInputs?(runs: RunCheck[]): void;
  /** Records the forward pass; `runs[i]` is the stream input i came from. */
  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[];
  /**
   * Records the backward pass. `dOutputs[j]` is the gradient of output j (null: none flows back).
   * Accumulates into the parameters' grads (cleared by the model first). Returns one gradient per
   * input: null where `needInputGrads[i]` is false or the input is token ids.
   */
  backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[];
  parameters(): Parameter[];
  build(ctx: GpuContext): void;
  dispose(): void;
  /** A JSON-able description used to rebuild the node from a checkpoint. */
  config(): Record<string, unknown>;
}

/**
 * What the built-in graph nodes share: parameters uploaded by `build` (as a Layer's are), buffers
 * cached per key and reallocated only when their shape changes, and their release. A node adds its
 * parameters in `configureInputs` (`addParameter`) and records its work with `buffer`.
 */
export abstract class GraphOpBase implements GraphOp {
  name: string;
  protected params: Parameter[] = [];
  protected ctx: GpuContext | null = null;
  private buffers = new Map<string, Tensor>();

  constructor(name: string) {
    this.name = name;
  }

  /** The node's kind and name for messages, e.g. `Attention "attention"`. */
  protected abstract get owner(): string;

  abstract configureInputs(inputs: ActDesc[], rng: Rng): ActDesc[];
  abstract forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[];
  abstract backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[];
  abstract config(): Record<string, unknown>;

  parameters(): Parameter[] {
    return this.params;
  }

  build(ctx: GpuContext): void {
    uploadParameters(ctx, this.name, this.params);
    this.ctx = ctx;
  }

  dispose(): void {
    for (const t of this.buffers.values()) t.release();
    this.buffers.clear();
    this.forgetRun();
    releaseParameters(this.params);
  }

  /** Drops what the last forward kept for backward (called by dispose). */
  protected forgetRun(): void {}

  /** A built parameter by name. */
  protected param(name: string): Parameter {
    const p = this.params.find((x) => x.name === name);
    if (!p?.value || !p.grad) throw new Error(`${this.owner}: used before build()`);
    return p;
  }

  /** A buffer the last forward made (backward reads them without repeating their shapes). */
  protected cached(key: string): Tensor {
    const t = this.buffers.get(key);
    if (!t) throw new Error(`${this.owner}: backward before forward`);
    return t;
  }

  /** A cached f32 buffer of this node, reallocated only when its shape changes. */
  protected buffer(key: string, shape: readonly number[]): Tensor {
    const ctx = this.ctx;
    if (!ctx) throw new Error(`${this.owner}: used before build()`);
    const have = this.buffers.get(key);
    if (have && have.shape.length === shape.length && have.shape.every((d, i) => d === shape[i])) return have;
    have?.release();
    const t = ctx.empty(shape, 'f32', `${this.name}.${key}`);
    this.buffers.set(key, t);
    return t;
  }
}
