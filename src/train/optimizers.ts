// Optimizers over a list of parameters: Adam and SGD (PyTorch semantics), with a learning-rate
// schedule hook. The step-dependent scalars (lr, bias corrections) go to the GPU as one 12-byte
// write per step, so the kernels' uniforms stay cached. Gradients are scaled on the fly by
// `scale[0]` (the global-norm clip coefficient, or 1); a non-finite scale skips the update on the
// GPU. A step is prepared (lr checked, scalars written), recorded, and counted only once the
// caller knows it was not skipped, so the step count and bias corrections stay at the last good step.

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Parameter } from '../nn/layer.ts';
import { adamUpdate, sgdUpdate } from '../kernels/adam.ts';
import { checkNumberInRange, checkOptionsObject, checkPositive, describeValue } from '../nn/options.ts';

function nonNegative(owner: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v >= 0)) throw new Error(`${owner}: ${what} must be a finite number ≥ 0, got ${describeValue(v)}`);
  return v;
}

/** Learning rate for a (1-based) step, given the base rate. */
export type LrSchedule = (step: number, baseLr: number) => number;

export interface OptimizerState {
  step: number;
  /** Per parameter name: its state tensors by slot name (exp_avg, exp_avg_sq, momentum_buffer). */
  slots: Map<string, Record<string, Tensor>>;
}

export abstract class Optimizer {
  lr: number;
  schedule?: LrSchedule;
  /** Number of steps taken. */
  step = 0;
  protected ctx: GpuContext | null = null;
  protected params: { key: string; p: Parameter }[] = [];
  protected slots = new Map<string, Record<string, Tensor>>();
  private hyper: Tensor | null = null;
  private one: Tensor | null = null;

  constructor(lr: number, schedule?: LrSchedule, owner = 'optimizer') {
    if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new Error(`${owner}: option lr (the learning rate) must be a finite number > 0, got ${describeValue(lr)}`);
    if (schedule !== undefined && typeof schedule !== 'function') {
      throw new Error(`${owner}: option schedule must be a function (step, baseLr) => lr, got ${describeValue(schedule)}`);
    }
    this.lr = lr;
    this.schedule = schedule;
  }

  protected abstract slotNames(): string[];
  protected abstract biasCorrections(step: number): [number, number];
  protected abstract update(ctx: GpuContext, p: Parameter, slots: Record<string, Tensor>, hyper: Tensor, scale: Tensor): void;
  abstract config(): Record<string, unknown>;

  /** Binds the optimizer to named parameters and allocates its state (zeros). */
  attach(ctx: GpuContext, params: { key: string; p: Parameter }[]): void {
    this.release();
    this.ctx = ctx;
    this.params = params;
    for (const { key, p } of params) {
      const s: Record<string, Tensor> = {};
      for (const n of this.slotNames()) s[n] = ctx.zeros(p.shape, 'f32', `${key}.${n}`);
      this.slots.set(key, s);
    }
    this.hyper = ctx.zeros([3], 'f32', 'optimizer.hyper');
    this.one = ctx.tensor(new Float32Array([1]), [1], 'optimizer.one');
  }

  /** Whether attach() has bound it to parameters (model.compile does). */
  get attached(): boolean {
    return this.ctx !== null && this.hyper !== null && this.one !== null;
  }

  /** Whether it is attached to exactly these parameters (a model's, in order). */
  attachedTo(params: readonly Parameter[]): boolean {
    return this.params.length === params.length && this.params.every(({ p }, i) => p === params[i]);
  }

  /** Throws unless attached: a check to run before anything of a step is recorded. */
  checkAttached(): void {
    if (!this.attached) throw new Error(`${this.constructor.name}: not attached to any parameters; compile the model with this optimizer first (model.compile({ loss, optimizer }))`);
  }

  /**
   * The learning rate the next step (step + 1) will use, checked: a schedule that throws or gives
   * a negative or non-finite rate is an error naming the step. Changes nothing.
   */
  currentLr(): number {
    const next = this.step + 1;
    if (!this.schedule) return this.lr;
    let lr: unknown;
    try {
      lr = this.schedule(next, this.lr);
    } catch (e) {
      throw new Error(`${this.constructor.name}: the lr schedule threw at step ${next}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) {
      throw new Error(`${this.constructor.name}: the lr schedule gave ${describeValue(lr)} at step ${next}; expected a finite number ≥ 0`);
    }
    return lr;
  }

  /**
   * Prepares the next step (step + 1): writes [lr, bias corrections] to the GPU; `lr` comes from
   * currentLr(), checked before anything is recorded. It writes, so call it before recording the
   * step's other work (Sequential.trainStep does), or the write would split the step into two
   * submissions. The step is counted by commitStep().
   */
  prepareStep(lr: number): void {
    this.checkAttached();
    const [bc1, bc2] = this.biasCorrections(this.step + 1);
    this.ctx!.write(this.hyper!, new Float32Array([lr, bc1, bc2]));
  }

  /**
   * Records the update of every parameter for the prepared step; `scale` (1 element) multiplies
   * the gradients, and a non-finite scale makes the kernels write nothing (a skipped step).
   */
  record(scale?: Tensor): void {
    this.checkAttached();
    for (const { key, p } of this.params) this.update(this.ctx!, p, this.slots.get(key)!, this.hyper!, scale ?? this.one!);
  }

  /** Counts the prepared step once its update ran (not when the GPU skipped it). */
  commitStep(): void {
    this.step++;
  }

  /**
   * One update of every parameter, counted without looking at the GPU: prepareStep, record,
   * commitStep. Sequential.trainStep instead counts only steps that were not skipped.
   */
  apply(scale?: Tensor): void {
    this.checkAttached();
    this.prepareStep(this.currentLr());
    this.record(scale);
    this.commitStep();
  }

  /** State for checkpoints: the step count and every slot tensor. */
  state(): OptimizerState {
    return { step: this.step, slots: this.slots };
  }

  release(): void {
    for (const s of this.slots.values()) for (const t of Object.values(s)) t.release();
    this.slots.clear();
    this.hyper?.release(); this.one?.release();
    this.hyper = this.one = null;
  }
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  schedule?: LrSchedule;
}

/** torch.optim.Adam (defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay). */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(o: AdamOptions = {}) {
    checkOptionsObject('Adam', o as unknown, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'schedule'], '{ lr: 0.001 }');
    super(o.lr ?? 1e-3, o.schedule, 'Adam');
    this.beta1 = checkNumberInRange('Adam', 'option beta1', o.beta1 ?? 0.9, 0, 1);
    this.beta2 = checkNumberInRange('Adam', 'option beta2', o.beta2 ?? 0.999, 0, 1);
    this.eps = checkPositive('Adam', 'option eps', o.eps ?? 1e-8);
    this.weightDecay = nonNegative('Adam', 'option weightDecay', o.weightDecay ?? 0);
  }

  protected slotNames(): string[] { return ['exp_avg', 'exp_avg_sq']; }
  protected biasCorrections(step: number): [number, number] {
    return [1 - Math.pow(this.beta1, step), 1 - Math.pow(this.beta2, step)];
  }
  protected update(ctx: GpuContext, p: Parameter, s: Record<string, Tensor>, hyper: Tensor, scale: Tensor): void {
    adamUpdate(ctx, p.value!, p.grad!, s.exp_avg, s.exp_avg_sq, hyper, scale,
      { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay });
  }
  config(): Record<string, unknown> {
    return { type: 'Adam', lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: LrSchedule;
}

/** torch.optim.SGD (momentum without dampening or Nesterov). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;

  constructor(o: SGDOptions) {
    checkOptionsObject('SGD', o as unknown, ['lr', 'momentum', 'weightDecay', 'schedule'], '{ lr: 0.1 }');
    super(o.lr, o.schedule, 'SGD');
    this.momentum = checkNumberInRange('SGD', 'option momentum', o.momentum ?? 0, 0, 1);
    this.weightDecay = nonNegative('SGD', 'option weightDecay', o.weightDecay ?? 0);
  }

  protected slotNames(): string[] { return ['momentum_buffer']; }
  protected biasCorrections(): [number, number] { return [1, 1]; }
  protected update(ctx: GpuContext, p: Parameter, s: Record<string, Tensor>, hyper: Tensor, scale: Tensor): void {
    sgdUpdate(ctx, p.value!, p.grad!, s.momentum_buffer, hyper, scale, { momentum: this.momentum, weightDecay: this.weightDecay });
  }
  config(): Record<string, unknown> {
    return { type: 'SGD', lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay };
  }
}
