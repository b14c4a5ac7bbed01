// Losses as the model uses them: each uploads its targets, records the fused loss kernel (loss
// and gradient of the model's output in one pass) and reads the scalar back only on request.
//
//   softmax_cross_entropy  TF sequence_loss: Σ w·CE / Σ w over positions; targets are class ids,
//                          (B, T) for per-step outputs or (B) for many-to-one; weights default to 1
//                          on valid steps and 0 past each row's length.
//   sigmoid_cross_entropy  mean over elements of TF sigmoid_cross_entropy_with_logits.
//   mse                    mean squared error over all output elements.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Act, ActDesc, RunInfo } from '../nn/layer.ts';
import type { Batch } from '../nn/model.ts';
import { softmaxCrossEntropy } from '../kernels/softmax_xent.ts';
import { sigmoidCrossEntropy, meanSquaredError } from '../kernels/losses.ts';

export type LossKind = 'softmax_cross_entropy' | 'sigmoid_cross_entropy' | 'mse';
export const LOSS_KINDS: readonly LossKind[] = ['softmax_cross_entropy', 'sigmoid_cross_entropy', 'mse'];

export abstract class Loss {
  protected bufs = new Map<string, Tensor>();
  protected ctx: GpuContext | null = null;

  constructor(readonly kind: LossKind, readonly output: ActDesc) {}

  protected buf(ctx: GpuContext, key: string, shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
    this.ctx = ctx;
    const have = this.bufs.get(key);
    if (have && have.dtype === dtype && have.shape.length === shape.length && have.shape.every((d, i) => d === shape[i])) return have;
    have?.release();
    const t = ctx.empty(shape, dtype, `loss.${key}`);
    this.bufs.set(key, t);
    return t;
  }

  /**
   * Checks the batch's targets for an output of `outShape` and uploads them. Called before
   * anything of the step is recorded, so its writes do not split the step's command buffer.
   */
  abstract prepare(ctx: GpuContext, batch: Batch, outShape: number[], run: RunInfo): void;

  /** Records the loss (and, with `withGrad`, d(loss)/d(output), returned) for the prepared targets. */
  abstract record(ctx: GpuContext, out: Act, withGrad: boolean): Tensor | undefined;

  /** Reads the scalar loss of the last recorded call. */
  async read(ctx: GpuContext): Promise<number> {
    const t = this.bufs.get('loss');
    if (!t) throw new Error('loss: nothing computed yet');
    return (await ctx.read(t))[0];
  }

  dispose(): void {
    for (const t of this.bufs.values()) t.release();
    this.bufs.clear();
  }
}

class SoftmaxXentLoss extends Loss {
  prepare(ctx: GpuContext, batch: Batch, outShape: number[], run: RunInfo): void {
    const lead = outShape.slice(0, -1);
    const seq = lead.length === 2;
    const n = lead.reduce((a, b) => a * b, 1);
    const V = outShape[outShape.length - 1];
    const y = batch.y;
    if (!(y instanceof Int32Array)) throw new Error(`batch.y must be an Int32Array of class ids for softmax_cross_entropy (shape [${lead.join(', ')}])`);
    if (y.length !== n) throw new Error(`batch.y has ${y.length} values, expected ${n} (shape [${lead.join(', ')}])`);
    let w = batch.weights;
    if (w) {
      if (!(w instanceof Float32Array) || w.length !== n) throw new Error(`batch.weights must be a Float32Array of ${n} values`);
    } else {
      w = new Float32Array(n).fill(1);
      if (seq) for (let b = 0; b < run.B; b++) for (let t = run.hostLengths[b]; t < run.T; t++) w[b * run.T + t] = 0;
    }
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(w[i])) throw new Error(`batch.weights[${i}] = ${w[i]} is not finite`);
      if (w[i] !== 0 && (y[i] < 0 || y[i] >= V)) {
        const where = seq ? `[${Math.floor(i / run.T)}, ${i % run.T}]` : `[${i}]`;
        throw new Error(`batch.y: class id ${y[i]} at ${where} is outside [0, ${V})`);
      }
    }
    ctx.write(this.buf(ctx, 'targets', lead, 'i32'), y);
    ctx.write(this.buf(ctx, 'weights', lead), w);
  }

  record(ctx: GpuContext, out: Act, withGrad: boolean): Tensor | undefined {
    const lead = out.t.shape.slice(0, -1);
    const dlogits = withGrad ? this.buf(ctx, 'dlogits', [...out.t.shape]) : undefined;
    softmaxCrossEntropy(ctx, {
      logits: out.t, targets: this.buf(ctx, 'targets', lead, 'i32'), weights: this.buf(ctx, 'weights', lead),
      losses: this.buf(ctx, 'losses', lead), loss: this.buf(ctx, 'loss', [1]), dlogits, weightSum: this.buf(ctx, 'wsum', [1]),
    });
    return dlogits;
  }
}

class ElementwiseLoss extends Loss {
  prepare(ctx: GpuContext, batch: Batch, outShape: number[]): void {
    const y = batch.y;
    const n = outShape.reduce((a, b) => a * b, 1);
    if (!(y instanceof Float32Array)) throw new Error(`batch.y must be a Float32Array of ${n} targets for ${this.kind} (shape [${outShape.join(', ')}])`);
    if (y.length !== n) throw new Error(`batch.y has ${y.length} values, expected ${n} (the output's shape [${outShape.join(', ')}])`);
    for (let i = 0; i < n; i++) if (!Number.isFinite(y[i])) throw new Error(`batch.y[${i}] = ${y[i]} is not finite`);
    ctx.write(this.buf(ctx, 'targets', outShape), y);
  }

  record(ctx: GpuContext, out: Act, withGrad: boolean): Tensor | undefined {
    const shape = [...out.t.shape];
    const targets = this.buf(ctx, 'targets', shape);
    const loss = this.buf(ctx, 'loss', [1]);
    const losses = this.buf(ctx, 'losses', shape);
    const grad = withGrad ? this.buf(ctx, 'grad', shape) : undefined;
    if (this.kind === 'mse') meanSquaredError(ctx, { pred: out.t, target: targets, losses, loss, dpred: grad });
    else sigmoidCrossEntropy(ctx, { logits: out.t, labels: targets, losses, loss, dlogits: grad });
    return grad;
  }
}

/** The loss module for a model output: checks that `kind` fits the output (tokens, sequence or vector). */
export function makeLoss(kind: LossKind, output: ActDesc): Loss {
  switch (kind) {
    case 'softmax_cross_entropy':
      if (output.kind === 'tokens') throw new Error('softmax_cross_entropy needs logits, the model outputs token ids');
      return new SoftmaxXentLoss(kind, output);
    case 'sigmoid_cross_entropy':
    case 'mse':
      return new ElementwiseLoss(kind, output);
    default:
      throw new Error(`unknown loss '${String(kind)}'; expected one of ${LOSS_KINDS.join(', ')}`);
  }
}
