// Dense, Dropout and LastStep layers.
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import { matmul, matmulColumnSum } from '../kernels/matmul.ts';
import { halfEmpty, halfPack } from '../kernels/half.ts';
import { checkHalfSupported } from '../kernels/recurrent.ts';
import { activationBackward, activationForward, type Activation } from '../kernels/activation.ts';
import { seqDropout, seqGatherLast, seqScatterLast } from '../kernels/seq.ts';
import { Layer, checkAct, uniformInit, type Act, type ActDesc, type Parameter, type RunInfo } from './layer.ts';
import { saltOf } from '../cpu/seq.ts';
import { checkBoolean, checkEnum, checkInteger, checkLayerName, checkNumberInRange, checkOptionsObject, describeValue, layerLabel } from './options.ts';

/** The activations a Dense layer can apply (its `activation` option). */
export const DENSE_ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid'];
const DENSE_OPTIONS = ['units', 'inputSize', 'activation', 'bias', 'precision', 'name'] as const;

export interface DenseOptions {
  /** Output features. */
  units: number;
  /** Input features; inferred from the previous layer when omitted or 0. */
  inputSize?: number;
  /** Applied after the affine map; none by default. */
  activation?: Activation;
  /** Default true. */
  bias?: boolean;
  /**
   * 'f16': the GEMMs read an f16 copy of the weight, packed from the f32 weight at every forward
   * (the master copy optimizers and checkpoints see), with f32 sums; inputs, outputs, bias and
   * gradients stay f32. Needs the WebGPU feature 'shader-f16' (build throws without it). Default 'f32'.
   */
  precision?: 'f32' | 'f16';
  name?: string;
}

/**
 * A fully connected layer, PyTorch nn.Linear layout: weight (units, in), bias (units). On a
 * sequence it applies to every timestep (TF's output projection); put a LastStep before it for a
 * many-to-one head.
 */
export class Dense extends Layer {
  readonly units: number;
  readonly activation?: Activation;
  readonly useBias: boolean;
  /** Storage of the weight the GEMMs read (see DenseOptions.precision). */
  readonly precision: 'f32' | 'f16';
  inputSize: number;
  private weight!: Parameter;
  /** The f16 copy of the weight (precision 'f16'), a u32 tensor of packed halves. */
  private weight16: Tensor | null = null;
  private bias?: Parameter;
  private x: Tensor | null = null;
  private y: Tensor | null = null;

  constructor(o: DenseOptions) {
    checkOptionsObject('Dense', o, DENSE_OPTIONS, '{ units: 10 }');
    const name = o.name === undefined ? 'dense' : checkLayerName('Dense', o.name);
    super(name);
    const owner = layerLabel('Dense', name);
    this.units = checkInteger(owner, 'option units', o.units, 1);
    this.activation = o.activation === undefined ? undefined : checkEnum(owner, 'option activation', o.activation, DENSE_ACTIVATIONS);
    this.useBias = o.bias === undefined ? true : checkBoolean(owner, 'option bias', o.bias);
    this.inputSize = o.inputSize === undefined ? 0 : checkInteger(owner, 'option inputSize (0 = inferred)', o.inputSize, 0);
    this.precision = o.precision === undefined ? 'f32' : checkEnum(owner, 'option precision', o.precision, ['f32', 'f16'] as const);
  }

  /** Refuses precision 'f16' on a device without 'shader-f16' before anything is uploaded. */
  override build(ctx: GpuContext): void {
    if (this.precision === 'f16') checkHalfSupported(ctx, `${layerLabel('Dense', this.name)}: option precision 'f16'`);
    super.build(ctx);
    this.weight16?.release();
    this.weight16 = this.precision === 'f16' ? halfEmpty(ctx, this.weight.shape, `${this.name}.weight16`) : null;
  }

  override dispose(): void {
    this.weight16?.release();
    this.weight16 = null;
    super.dispose();
  }

  configure(input: ActDesc, rng: Rng): ActDesc {
    if (input.kind === 'tokens') throw new Error(`${this.name}: Dense cannot take token ids; put an Embedding or OneHot first`);
    if (this.inputSize && this.inputSize !== input.size) throw new Error(`${this.name}: inputSize ${this.inputSize} but the previous layer gives ${input.size}`);
    this.inputSize = input.size;
    this.params = [];
    const bound = 1 / Math.sqrt(this.inputSize);
    this.weight = this.addParam('weight', [this.units, this.inputSize], uniformInit(rng, this.units * this.inputSize, bound, `${this.name}.weight`));
    if (this.useBias) this.bias = this.addParam('bias', [this.units], uniformInit(rng, this.units, bound));
    return { kind: input.kind, size: this.units };
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    const shape = x.kind === 'seq' ? [run.B, run.T, this.units] : [run.B, this.units];
    let y = this.buffer('z', shape);
    if (this.weight16) {
      halfPack(ctx, this.weight.value!, this.weight16);   // fresh from the f32 weight (updates included)
      matmul(ctx, x.t, this.weight16, y, { transB: true, bias: this.bias?.value, bHalfShape: this.weight.shape });
    } else {
      matmul(ctx, x.t, this.weight.value!, y, { transB: true, bias: this.bias?.value });
    }
    if (this.activation) {
      const z = y;
      y = this.buffer('y', shape);
      activationForward(ctx, this.activation, z, y); // separate buffers: WebGPU forbids aliased writes
    }
    this.x = x.t;
    this.y = y;
    return { kind: x.kind, t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null {
    if (!this.x || !this.y) throw new Error(`${this.name}: backward before forward`);
    let dz = dy;
    if (this.activation) {
      dz = this.buffer('dz', this.y.shape);
      activationBackward(ctx, this.activation, this.y, dy, dz);
    }
    matmul(ctx, dz, this.x, this.weight.grad!, { transA: true, accumulate: true });
    if (this.bias) matmulColumnSum(ctx, dz, this.bias.grad!, { accumulate: true });
    if (!needInputGrad) return null;
    const dx = this.buffer('dx', this.x.shape);
    if (this.weight16) matmul(ctx, dz, this.weight16, dx, { bHalfShape: this.weight.shape });   // the forward's f16 weight
    else matmul(ctx, dz, this.weight.value!, dx);
    return dx;
  }

  config(): Record<string, unknown> {
    return {
      type: 'Dense', name: this.name, units: this.units, inputSize: this.inputSize, activation: this.activation, bias: this.useBias,
      ...(this.precision === 'f16' ? { precision: this.precision } : {}),
    };
  }
}

/**
 * Inverted dropout on outputs, training only (TF DropoutWrapper's output_keep_prob = 1 − rate).
 * The mask comes from a hash of (step seed, layer-name salt, element), so it is reproducible and the
 * backward pass recomputes it instead of storing it.
 */
export class Dropout extends Layer {
  readonly rate: number;
  private salt = 0;

  constructor(rate: number, name = 'dropout') {
    super(checkLayerName('Dropout', name));
    if (typeof rate === 'object' && rate !== null) {
      throw new Error(`Dropout: the first argument is the rate, e.g. new Dropout(0.5), got ${describeValue(rate)}`);
    }
    this.rate = checkNumberInRange(layerLabel('Dropout', name), 'rate', rate, 0, 1);
  }

  configure(input: ActDesc): ActDesc {
    if (input.kind === 'tokens') throw new Error(`${this.name}: Dropout cannot take token ids`);
    this.salt = saltOf(this.name);
    return input;
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    if (!run.training || this.rate === 0) return x;
    const y = this.buffer('y', x.t.shape);
    seqDropout(ctx, x.t, y, 1 - this.rate, this.salt, run.seedTensor);
    return { kind: x.kind, t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    if (!run.training || this.rate === 0) return dy;
    const dx = this.buffer('dx', dy.shape);
    seqDropout(ctx, dy, dx, 1 - this.rate, this.salt, run.seedTensor);
    return dx;
  }

  config(): Record<string, unknown> {
    return { type: 'Dropout', name: this.name, rate: this.rate };
  }
}

/** Takes each row's output at its last valid step (many-to-one): (B, T, D) → (B, D). */
export class LastStep extends Layer {
  constructor(name = 'last_step') {
    super(checkLayerName('LastStep', name));
  }

  configure(input: ActDesc): ActDesc {
    if (input.kind !== 'seq') throw new Error(`${this.name}: LastStep needs a sequence input, got ${input.kind}`);
    return { kind: 'vec', size: input.size };
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    checkAct(this.name, x, 'seq');
    const y = this.buffer('y', [run.B, x.t.shape[2]]);
    seqGatherLast(ctx, x.t, run.lengths, y);
    return { kind: 'vec', t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo, needInputGrad: boolean): Tensor | null {
    if (!needInputGrad) return null;
    const dx = this.buffer('dx', [run.B, run.T, dy.shape[1]]);
    seqScatterLast(ctx, dy, run.lengths, dx);
    return dx;
  }

  config(): Record<string, unknown> {
    return { type: 'LastStep', name: this.name };
  }
}
