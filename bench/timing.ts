// Timing helpers for the benchmarks: wall-clock per call (recorded and submitted, then synced) and
// GPU time from timestamp queries where the adapter has 'timestamp-query'.
//
// GPU time: an empty compute pass with a beginning-of-pass timestamp is recorded on the context's
// encoder before the work, and one with an end-of-pass timestamp after it, so the pair brackets
// everything recorded in between (the runtime's own passes need no change).
import type { GpuContext } from '../src/runtime/context.ts';

export class GpuTimer {
  private qs: GPUQuerySet;
  private resolve: GPUBuffer;
  private readback: GPUBuffer;
  constructor(private ctx: GpuContext) {
    const d = ctx.device;
    this.qs = d.createQuerySet({ type: 'timestamp', count: 2, label: 'bench timestamps' });
    this.resolve = d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'bench ts resolve' });
    this.readback = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'bench ts readback' });
  }

  static available(ctx: GpuContext): boolean {
    return ctx.features.has('timestamp-query');
  }

  /** GPU milliseconds of what `record` records (it must record, not submit). */
  async time(record: () => void): Promise<number> {
    const ctx = this.ctx;
    ctx.commandEncoder().beginComputePass({ timestampWrites: { querySet: this.qs, beginningOfPassWriteIndex: 0 } }).end();
    record();
    const enc = ctx.commandEncoder();
    enc.beginComputePass({ timestampWrites: { querySet: this.qs, endOfPassWriteIndex: 1 } }).end();
    enc.resolveQuerySet(this.qs, 0, 2, this.resolve, 0);
    enc.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
    await ctx.sync();
    await this.readback.mapAsync(GPUMapMode.READ);
    const t = new BigInt64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return Number(t[1] - t[0]) / 1e6;
  }

  destroy(): void {
    this.qs.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}

/** Best-of-`trials` wall milliseconds per call of an async step, after `warmup` untimed calls. */
export async function wallMs(step: () => Promise<void>, opts: { warmup?: number; reps?: number; trials?: number; budgetMs?: number } = {}): Promise<number> {
  const warmup = opts.warmup ?? 2;
  for (let i = 0; i < warmup; i++) await step();
  let t0 = performance.now();
  await step();
  const once = performance.now() - t0;
  const budget = opts.budgetMs ?? 3000;
  const reps = opts.reps ?? Math.max(1, Math.min(50, Math.floor(budget / 3 / Math.max(once, 0.01))));
  const trials = opts.trials ?? 3;
  let best = Infinity;
  for (let k = 0; k < trials; k++) {
    t0 = performance.now();
    for (let i = 0; i < reps; i++) await step();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}
