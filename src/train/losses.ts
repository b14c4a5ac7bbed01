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
import type { Act, ActDesc } from '../nn/layer.ts';
import type { Batch } from '../nn/model.ts';
import { floatArrayOf, indexOf, intArrayOf } from '../nn/batch.ts';
import { softmaxCrossEntropy } from '../kernels/softmax_xent.ts';
import { sigmoidCrossEntropy, meanSquaredError } from '../kernels/losses.ts';

export type LossKind = 'softmax_cross_entropy' | 'sigmoid_cross_entropy' | 'mse';
export const LOSS_KINDS: readonly LossKind[] = ['softmax_cross_entropy', 'sigmoid_cross_entropy', 'mse'];

/** A batch's targets after checking, ready to upload. */
export interface Targets {
  /** The targets' tensor shape: the output's shape without its class axis (softmax), or all of it. */
  shape: number[];
  y: Int32Array | Float32Array;
  weights?: Float32Array;
}

/** What a loss needs to know about the batch to check its targets. */
export interface TargetContext {
  /** The call, for messages (`trainStep`). */
  owner: string;
  /** The model's output shape for this batch: (B, T, D) or (B, D). */
  outShape: number[];
  B: number;
  T: number;
  lengths: Int32Array;
}

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

  /** Checks the batch's targets (y, weights) on the host; writes nothing. */
  abstract check(batch: Batch, c: TargetContext): Targets;

  /**
   * Uploads checked targets. Called before anything of the step is recorded, so its writes do
   * not split the step's command buffer.
   */
  abstract upload(ctx: GpuContext, t: Targets): void;

  /** The 1-element buffer the loss kernel writes the batch loss to. */
  lossBuffer(ctx: GpuContext): Tensor {
    return this.buf(ctx, 'loss', [1]);
  }

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
  check(batch: Batch, c: TargetContext): Targets {
    const { owner, outShape } = c;
    const lead = outShape.slice(0, -1);
    const seq = lead.length === 2;
    const n = lead.reduce((a, b) => a * b, 1);
    const V = outShape[outShape.length - 1];
    const desc = `${n} class ids in [0, ${V}) (shape [${lead.join(', ')}])`;
    if (batch.y === undefined) throw new Error(`${owner}: batch.y is missing; softmax_cross_entropy needs an Int32Array of ${desc}`);
    const y = intArrayOf(owner, 'batch.y', batch.y, n, desc);
    let w: Float32Array;
    if (batch.weights !== undefined) {
      w = floatArrayOf(owner, 'batch.weights', batch.weights, n, `${n} weights ≥ 0 (shape [${lead.join(', ')}])`, lead);
    } else {
      w = new Float32Array(n).fill(1);
      if (seq) for (let b = 0; b < c.B; b++) for (let t = c.lengths[b]; t < c.T; t++) w[b * c.T + t] = 0;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (w[i] < 0) throw new Error(`${owner}: batch.weights${indexOf(i, lead)} is ${w[i]}; expected weights ≥ 0`);
      sum += w[i];
      // Positions with weight 0 (padding) may hold any id: the kernel ignores them.
      if (w[i] !== 0 && (y[i] < 0 || y[i] >= V)) throw new Error(`${owner}: batch.y: class id ${y[i]} at ${indexOf(i, lead)} is outside [0, ${V}) (the output has ${V} classes)`);
    }
    if (!(sum > 0) || !Number.isFinite(sum)) {
      throw new Error(`${owner}: batch.weights sum to ${sum}; expected a finite sum > 0 (the loss is Σ w·CE / Σ w)`);
    }
    return { shape: lead, y, weights: w };
  }

  upload(ctx: GpuContext, t: Targets): void {
    ctx.write(this.buf(ctx, 'targets', t.shape, 'i32'), t.y);
    ctx.write(this.buf(ctx, 'weights', t.shape), t.weights!);
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
  check(batch: Batch, c: TargetContext): Targets {
    const { owner, outShape } = c;
    const n = outShape.reduce((a, b) => a * b, 1);
    const desc = `${n} finite targets (the output's shape [${outShape.join(', ')}])`;
    if (batch.y === undefined) throw new Error(`${owner}: batch.y is missing; ${this.kind} needs a Float32Array of ${desc}`);
    if (batch.weights !== undefined) throw new Error(`${owner}: batch.weights is given, but ${this.kind} takes no weights (only softmax_cross_entropy does); remove it`);
    return { shape: outShape, y: floatArrayOf(owner, 'batch.y', batch.y, n, desc, outShape) };
  }

  upload(ctx: GpuContext, t: Targets): void {
    ctx.write(this.buf(ctx, 'targets', t.shape), t.y);
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
