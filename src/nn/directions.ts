// Two ways to read a bidirectional recurrent layer's output other than our (and PyTorch's)
// [forward, reverse] concatenation of the whole sequence, both as Keras's Bidirectional gives them:
//   BidirectionalLastStep: each direction's final output, (B, T, 2H) → (B, 2H): the forward half at
//     each row's last valid step and the reverse half at step 0 (Keras's return_sequences=False;
//     LastStep would take the reverse half at the last step, as PyTorch's out[:, -1] does);
//   SumDirections: the forward half plus the reverse half, (…, 2H) → (…, H) (Keras's merge_mode='sum').
// Neither has parameters; both are column moves on the GPU (the seq kernels), with their backward.
// Models loaded from Keras use them, and checkpoints rebuild them through layerFromConfig.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { seqCopyCols, seqGatherLast, seqScatterLast, seqTakeCols } from '../kernels/seq.ts';
import { Layer, checkAct, type Act, type ActDesc, type RunInfo } from './layer.ts';
import { checkLayerName, layerLabel } from './options.ts';

/** H, half the input's features; the input must be a bidirectional layer's output (2H features). */
function directionWidth(owner: string, input: ActDesc): number {
  if (input.kind === 'tokens' || input.size % 2 !== 0) {
    throw new Error(`${owner}: got ${input.kind === 'tokens' ? 'token ids' : `${input.kind} input of ${input.size} features`}; expected a bidirectional layer's output (an even number of features: forward half, then reverse half)`);
  }
  return input.size / 2;
}

/**
 * Each direction's final output of a bidirectional recurrent layer, as Keras's Bidirectional with
 * `return_sequences=False` gives it: (B, T, 2H) → (B, 2H), the forward half at each row's last
 * valid step and the reverse half at step 0 (where the reverse direction ends). Put it after a
 * bidirectional LSTM / GRU / RNN in place of LastStep, which takes both halves at the last step.
 */
export class BidirectionalLastStep extends Layer {
  private H = 0;
  private onesB = 0;

  constructor(name = 'bidirectional_last_step') {
    super(checkLayerName('BidirectionalLastStep', name));
  }

  configure(input: ActDesc): ActDesc {
    const owner = layerLabel('BidirectionalLastStep', this.name);
    if (input.kind !== 'seq') throw new Error(`${owner}: got ${input.kind === 'tokens' ? 'token ids' : 'a vector input'}; expected a sequence (a bidirectional layer's output)`);
    this.H = directionWidth(owner, input);
    return { kind: 'vec', size: input.size };
  }

  /** A (B) tensor of ones: "length 1" makes the last-step gather and scatter read and write step 0. */
  private ones(ctx: GpuContext, B: number): Tensor {
    const t = this.buffer('ones', [B], 'i32');
    if (this.onesB !== B) { ctx.write(t, new Int32Array(B).fill(1)); this.onesB = B; }
    return t;
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    checkAct(this.name, x, 'seq');
    const { B } = run, H = this.H;
    const last = this.buffer('last', [B, 2 * H]), first = this.buffer('first', [B, 2 * H]);
    const forwardHalf = this.buffer('forward_half', [B, H]), reverseHalf = this.buffer('reverse_half', [B, H]);
    const y = this.buffer('y', [B, 2 * H]);
    seqGatherLast(ctx, x.t, run.lengths, last);
    seqGatherLast(ctx, x.t, this.ones(ctx, B), first);
    seqTakeCols(ctx, last, forwardHalf, 0);
    seqCopyCols(ctx, forwardHalf, y, 0);
    seqTakeCols(ctx, first, reverseHalf, H);
    seqCopyCols(ctx, reverseHalf, y, H);
    return { kind: 'vec', t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const { B, T } = run, H = this.H;
    const dForward = this.buffer('d_forward_half', [B, H]), dReverse = this.buffer('d_reverse_half', [B, H]);
    const dLast = this.buffer('d_last', [B, 2 * H]), dFirst = this.buffer('d_first', [B, 2 * H]);
    ctx.clear(dLast);
    ctx.clear(dFirst);
    seqTakeCols(ctx, dy, dForward, 0);
    seqCopyCols(ctx, dForward, dLast, 0);
    seqTakeCols(ctx, dy, dReverse, H);
    seqCopyCols(ctx, dReverse, dFirst, H);
    const dx = this.buffer('dx', [B, T, 2 * H]);
    seqScatterLast(ctx, dLast, run.lengths, dx);
    seqScatterLast(ctx, dFirst, this.ones(ctx, B), dx, { accumulate: true });
    return dx;
  }

  config(): Record<string, unknown> {
    return { type: 'BidirectionalLastStep', name: this.name };
  }
}

/**
 * The sum of a bidirectional layer's two directions, as Keras's Bidirectional with
 * `merge_mode='sum'` gives it: (…, 2H) → (…, H), forward half + reverse half, on sequences or on
 * vectors (after BidirectionalLastStep).
 */
export class SumDirections extends Layer {
  private H = 0;

  constructor(name = 'sum_directions') {
    super(checkLayerName('SumDirections', name));
  }

  configure(input: ActDesc): ActDesc {
    this.H = directionWidth(layerLabel('SumDirections', this.name), input);
    return { kind: input.kind, size: this.H };
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    const shape = x.kind === 'seq' ? [run.B, run.T, this.H] : [run.B, this.H];
    const y = this.buffer('y', shape);
    seqTakeCols(ctx, x.t, y, 0);
    seqTakeCols(ctx, x.t, y, this.H, { accumulate: true });
    return { kind: x.kind, t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, _run: RunInfo, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const dx = this.buffer('dx', [...dy.shape.slice(0, -1), 2 * this.H]);
    seqCopyCols(ctx, dy, dx, 0);
    seqCopyCols(ctx, dy, dx, this.H);
    return dx;
  }

  config(): Record<string, unknown> {
    return { type: 'SumDirections', name: this.name };
  }
}
