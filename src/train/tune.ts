// Picking the recurrent schedule by measurement: the step schedule (one dispatch per timestep) and
// the sequence schedule (one dispatch for all timesteps) are both exact, and which is faster
// depends on the adapter and the sizes (dispatch latency against per-step parallelism). This times
// forward + loss + backward of the model on a real batch under each, and records the winner per
// adapter, cell and (B, T, H) in the context's `ctx.tuned`, so every recurrent layer left on
// 'auto' on that context runs it from then on.
import type { Batch, Sequential } from '../nn/model.ts';
import type { RecurrentSchedule } from '../runtime/settings.ts';

export interface ScheduleTiming {
  schedule: 'step' | 'sequence';
  /** Mean milliseconds per forward + backward, or null where the schedule cannot run. */
  ms: number | null;
  note?: string;
}

export interface TuneResult {
  choice: 'step' | 'sequence';
  timings: ScheduleTiming[];
}

/**
 * Times forward + loss + backward of `batch` (no dropout, no parameter update) under each schedule
 * and records the faster one for every recurrent layer of `model` in `model.context.tuned`. Layers' own `schedule` settings are restored afterwards and stateful layers'
 * carried states are reset, so call it before training (fit does, with `tune: true`).
 */
export async function tuneSchedule(model: Sequential, batch: Batch, o: { reps?: number } = {}): Promise<TuneResult> {
  const reps = o.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`tuneSchedule: reps must be a positive integer, got ${reps}`);
  const ctx = model.context;
  const layers = model.recurrentLayers();
  if (layers.length === 0) return { choice: 'step', timings: [] };
  const own = layers.map((l) => l.schedule);
  const timings: ScheduleTiming[] = [];
  try {
    for (const schedule of ['step', 'sequence'] as const) {
      for (const l of layers) l.schedule = schedule as RecurrentSchedule;
      try {
        model.computeGradients(batch, { training: false }); // warm-up: pipelines, buffers
        await ctx.sync();
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) {
          model.computeGradients(batch, { training: false });
          await ctx.sync();
        }
        timings.push({ schedule, ms: (performance.now() - t0) / reps });
      } catch (e) {
        const msg = (e as Error).message;
        if (schedule === 'step' || !/no sequence kernel/.test(msg)) throw e;
        timings.push({ schedule, ms: null, note: msg });
      }
    }
  } finally {
    layers.forEach((l, i) => { l.schedule = own[i]; });
    model.resetStates();
  }
  const ran = timings.filter((t) => t.ms !== null) as (ScheduleTiming & { ms: number })[];
  const choice = ran.reduce((a, b) => (b.ms < a.ms ? b : a)).schedule;
  const [B, T] = batch.shape;
  for (const l of layers) ctx.tuned.set(l.cell, { B, T, H: l.hiddenSize }, choice);
  return { choice, timings };
}
