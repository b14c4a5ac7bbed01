// Merge nodes of a graph Model: Concatenate (features side by side, Keras's Concatenate on the
// last axis) and Add (elementwise sum). Both take two or more values of the same kind — sequences
// (B, T, ·) of the same T, or vectors (B, ·) — and have no parameters. Forward and backward are
// column copies (seq_copy_cols / seq_take_cols) and axpys over the whole tensors.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { seqAxpy, seqCopyCols, seqTakeCols } from '../kernels/seq.ts';
import { GraphOpBase } from './graph-op.ts';
import { callOp, type GraphValue } from './graph-value.ts';
import type { Act, ActDesc, RunCheck, RunInfo } from './layer.ts';
import { checkLayerName, describeValue } from './options.ts';

/** What both merge nodes share: input checks, cached buffers, no parameters. */
abstract class MergeOp extends GraphOpBase {
  protected sizes: number[] = [];
  protected kind: 'seq' | 'vec' = 'seq';

  constructor(type: string, name: string) {
    super(checkLayerName(type, name));
  }

  protected abstract get type(): string;

  protected override get owner(): string {
    return `${this.type} ${JSON.stringify(this.name)}`;
  }

  /** Calls the node on two or more values; returns the merged value. */
  call(inputs: GraphValue[]): GraphValue {
    if (!Array.isArray(inputs) || inputs.length < 2) throw new Error(`${this.owner}.call: expected an array of two or more graph values, got ${describeValue(inputs)}`);
    return callOp(this, inputs, 1)[0];
  }

  protected checkInputs(inputs: ActDesc[]): void {
    const kind = inputs[0].kind;
    inputs.forEach((d, i) => {
      if (d.kind === 'tokens') throw new Error(`${this.owner}: input ${i} is token ids; expected sequences (B, T, features) or vectors (B, features)`);
      if (d.kind !== kind) throw new Error(`${this.owner}: input ${i} is a ${d.kind === 'seq' ? 'sequence' : 'vector'}, input 0 a ${kind === 'seq' ? 'sequence' : 'vector'}; expected all of one kind`);
    });
    this.kind = kind as 'seq' | 'vec';
    this.sizes = inputs.map((d) => d.size);
  }

  checkRunInputs(runs: RunCheck[]): void {
    if (this.kind !== 'seq') return;
    runs.forEach((r, i) => {
      if (r.T !== runs[0].T) throw new Error(`${this.owner}: input ${i} has T = ${r.T} steps, input 0 has ${runs[0].T}; expected sequences of the same length (they come from inputs of different T)`);
    });
  }

  protected shapeOf(run: RunInfo, size: number): number[] {
    return this.kind === 'seq' ? [run.B, run.T, size] : [run.B, size];
  }

  config(): Record<string, unknown> {
    return { type: this.type, name: this.name };
  }
}

/** Features of two or more values side by side: (…, D₀ + D₁ + …). */
export class Concatenate extends MergeOp {
  constructor(o: { name?: string } = {}) {
    super('Concatenate', o?.name ?? 'concatenate');
  }

  protected get type(): string { return 'Concatenate'; }

  configureInputs(inputs: ActDesc[]): ActDesc[] {
    this.checkInputs(inputs);
    return [{ kind: this.kind, size: this.sizes.reduce((a, b) => a + b, 0) }];
  }

  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[] {
    const total = this.sizes.reduce((a, b) => a + b, 0);
    const y = this.buffer('y', this.shapeOf(runs[0], total));
    let off = 0;
    inputs.forEach((x, i) => { seqCopyCols(ctx, x.t, y, off); off += this.sizes[i]; });
    return [{ kind: this.kind, t: y }];
  }

  backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[] {
    const dy = dOutputs[0];
    let off = 0;
    return this.sizes.map((size, i) => {
      const at = off;
      off += size;
      if (!dy || !needInputGrads[i]) return null;
      const dx = this.buffer(`dx${i}`, this.shapeOf(runs[i], size));
      seqTakeCols(ctx, dy, dx, at);
      return dx;
    });
  }
}

/** The elementwise sum of two or more values of the same size. */
export class Add extends MergeOp {
  constructor(o: { name?: string } = {}) {
    super('Add', o?.name ?? 'add');
  }

  protected get type(): string { return 'Add'; }

  configureInputs(inputs: ActDesc[]): ActDesc[] {
    this.checkInputs(inputs);
    this.sizes.forEach((s, i) => {
      if (s !== this.sizes[0]) throw new Error(`${this.owner}: input ${i} has ${s} features, input 0 has ${this.sizes[0]}; expected equal sizes`);
    });
    return [{ kind: this.kind, size: this.sizes[0] }];
  }

  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[] {
    const y = this.buffer('y', this.shapeOf(runs[0], this.sizes[0]));
    ctx.copy(inputs[0].t, y, y.byteSize);
    for (let i = 1; i < inputs.length; i++) seqAxpy(ctx, 1, inputs[i].t, y);
    return [{ kind: this.kind, t: y }];
  }

  backwardInputs(_ctx: GpuContext, dOutputs: (Tensor | null)[], _runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[] {
    // Every input's gradient is the output's (the model sums, never writes, what it is given).
    return needInputGrads.map((need) => (need ? dOutputs[0] : null));
  }
}
