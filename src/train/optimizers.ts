// Optimizers over a list of parameters: Adam and SGD (PyTorch semantics), with a learning-rate
// schedule hook. The step-dependent scalars (lr, bias corrections) go to the GPU as one 12-byte
// write per step, so the kernels' uniforms stay cached. Gradients are scaled on the fly by
// `scale[0]` (the global-norm clip coefficient, or 1).

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Parameter } from '../nn/layer.ts';
import { adamUpdate, sgdUpdate } from '../kernels/adam.ts';

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

  constructor(lr: number, schedule?: LrSchedule) {
    if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`optimizer: learning rate must be a positive number, got ${lr}`);
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

  /** The learning rate the next step will use. */
  currentLr(): number {
    return this.schedule ? this.schedule(this.step + 1, this.lr) : this.lr;
  }

  /**
   * Starts a step: advances the step count and writes [lr, bias corrections] to the GPU. It writes,
   * so call it before recording the step's other work (Sequential.trainStep does), or the write
   * would split the step into two submissions.
   */
  beginStep(): void {
    const ctx = this.ctx;
    if (!ctx || !this.hyper || !this.one) throw new Error('optimizer: attach() it to parameters first (model.compile does)');
    this.step++;
    const lr = this.schedule ? this.schedule(this.step, this.lr) : this.lr;
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`optimizer: the schedule gave learning rate ${lr} at step ${this.step}`);
    const [bc1, bc2] = this.biasCorrections(this.step);
    ctx.write(this.hyper, new Float32Array([lr, bc1, bc2]));
  }

  /** Records the update of every parameter for the step begun; `scale` (1 element) multiplies the gradients. */
  record(scale?: Tensor): void {
    const ctx = this.ctx;
    if (!ctx || !this.hyper || !this.one) throw new Error('optimizer: attach() it to parameters first (model.compile does)');
    for (const { key, p } of this.params) this.update(ctx, p, this.slots.get(key)!, this.hyper, scale ?? this.one);
  }

  /** beginStep() then record(): one update of every parameter. */
  apply(scale?: Tensor): void {
    this.beginStep();
    this.record(scale);
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
    super(o.lr ?? 1e-3, o.schedule);
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    for (const [k, v] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(v >= 0 && v < 1)) throw new Error(`Adam: ${k} must be in [0, 1), got ${v}`);
    }
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
    super(o.lr, o.schedule);
    this.momentum = o.momentum ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new Error(`SGD: momentum must be in [0, 1), got ${this.momentum}`);
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
