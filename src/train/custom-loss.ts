// Custom losses for a graph Model, recorded on the GPU: a loss is an object that checks and
// uploads its own targets, then records its value (a (1) tensor) and its gradients w.r.t. the
// outputs it uses. `LossOps` gives it the fused loss kernels (each returning the loss and the
// gradient), scale and add to combine terms, cached buffers, and `ops.ctx` for a kernel of the
// user's own (ctx.dispatch).
//
//   const loss: CustomLoss<'logits' | 'score'> = {
//     check: (targets) => targets as { ids: Int32Array; w: Float32Array; score: Float32Array },
//     upload(ops, t) { ops.write('ids', t.ids, [B, T]); ops.write('w', t.w, [B, T]); ops.write('score', t.score, [B, 1]); },
//     record(ops, out, withGrad) {
//       const a = ops.softmaxCrossEntropy('a', out.logits, ops.get('ids'), ops.get('w'), withGrad);
//       const b = ops.mse('b', out.score, ops.get('score'), withGrad);
//       return { loss: ops.add('total', a.loss, b.loss, 1, 0.5), grads: { logits: a.grad, score: b.grad && ops.scale('ds', b.grad, 0.5) } };
//     },
//   };

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { softmaxCrossEntropy } from '../kernels/softmax_xent.ts';
import { meanSquaredError, sigmoidCrossEntropy } from '../kernels/losses.ts';
import { seqAxpy } from '../kernels/seq.ts';

/** A loss term: its value (1) and, when asked for, its gradient w.r.t. the output it used. */
export interface LossTerm {
  loss: Tensor;
  grad?: Tensor;
}

/** A loss of the user's own over some of a Model's outputs (see the file header). */
export interface CustomLoss<O extends string = string> {
  /** Checks the targets on the host (throwing names what is wrong); returns what `upload` gets. */
  check?(targets: unknown, outputShapes: Record<O, number[]>): unknown;
  /** Writes the checked targets (ops.write); called before anything of the step is recorded. */
  upload?(ops: LossOps, checked: unknown): void;
  /**
   * Records the total loss (a (1) tensor) and, with `withGrad`, d(loss)/d(output) for the outputs
   * it uses (each the output's shape). Must only record work (no writes or reads).
   */
  record(ops: LossOps, outputs: Record<O, Tensor>, withGrad: boolean): { loss: Tensor; grads?: Partial<Record<O, Tensor>> };
}

/** The ops a custom loss is composed from; buffers are cached by key (a steady loop allocates nothing). */
export class LossOps {
  private bufs = new Map<string, Tensor>();

  constructor(readonly ctx: GpuContext) {}

  /** A cached buffer `key` of this shape (reallocated when the shape changes); contents undefined. */
  buffer(key: string, shape: readonly number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
    const have = this.bufs.get(key);
    if (have && have.dtype === dtype && have.shape.length === shape.length && have.shape.every((d, i) => d === shape[i])) return have;
    have?.release();
    const t = this.ctx.empty(shape, dtype, `customLoss.${key}`);
    this.bufs.set(key, t);
    return t;
  }

  /** Writes data to the buffer `key` (in `upload`, before the step's recording). */
  write(key: string, data: Int32Array | Float32Array, shape: readonly number[]): Tensor {
    const t = this.buffer(key, shape, data instanceof Int32Array ? 'i32' : 'f32');
    this.ctx.write(t, data);
    return t;
  }

  /** The buffer `key` written before. */
  get(key: string): Tensor {
    const t = this.bufs.get(key);
    if (!t) throw new Error(`custom loss: no buffer ${JSON.stringify(key)}; write it in upload() first`);
    return t;
  }

  /** Σ w·CE / Σ w over positions (TF sequence_loss); targets i32 and weights f32 of the logits' shape without its last axis. */
  softmaxCrossEntropy(key: string, logits: Tensor, targets: Tensor, weights: Tensor, withGrad = true): LossTerm {
    const lead = logits.shape.slice(0, -1);
    const loss = this.buffer(`${key}.loss`, [1]);
    const grad = withGrad ? this.buffer(`${key}.grad`, logits.shape) : undefined;
    softmaxCrossEntropy(this.ctx, {
      logits, targets, weights, losses: this.buffer(`${key}.losses`, lead), loss, dlogits: grad, weightSum: this.buffer(`${key}.wsum`, [1]),
    });
    return { loss, grad };
  }

  /** Mean over elements of TF sigmoid_cross_entropy_with_logits. */
  sigmoidCrossEntropy(key: string, logits: Tensor, labels: Tensor, withGrad = true): LossTerm {
    const loss = this.buffer(`${key}.loss`, [1]);
    const grad = withGrad ? this.buffer(`${key}.grad`, logits.shape) : undefined;
    sigmoidCrossEntropy(this.ctx, { logits, labels, losses: this.buffer(`${key}.losses`, logits.shape), loss, dlogits: grad });
    return { loss, grad };
  }

  /** Mean squared error over all elements. */
  mse(key: string, pred: Tensor, target: Tensor, withGrad = true): LossTerm {
    const loss = this.buffer(`${key}.loss`, [1]);
    const grad = withGrad ? this.buffer(`${key}.grad`, pred.shape) : undefined;
    meanSquaredError(this.ctx, { pred, target, losses: this.buffer(`${key}.losses`, pred.shape), loss, dpred: grad });
    return { loss, grad };
  }

  /** alpha·x, in the buffer `key`. */
  scale(key: string, x: Tensor, alpha: number): Tensor {
    const y = this.buffer(key, x.shape);
    this.ctx.clear(y);
    seqAxpy(this.ctx, alpha, x, y);
    return y;
  }

  /** alpha·a + beta·b (same number of elements), in the buffer `key`. */
  add(key: string, a: Tensor, b: Tensor, alpha = 1, beta = 1): Tensor {
    const y = this.buffer(key, a.shape);
    this.ctx.clear(y);
    seqAxpy(this.ctx, alpha, a, y);
    seqAxpy(this.ctx, beta, b, y);
    return y;
  }

  dispose(): void {
    for (const t of this.bufs.values()) t.release();
    this.bufs.clear();
  }
}
