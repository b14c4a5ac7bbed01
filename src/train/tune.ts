// Picking the recurrent schedule by measurement: the step schedule (one dispatch per timestep) and
// the sequence schedule (one dispatch for all timesteps) in its variants, W_hh streamed from
// storage every step, resident in private arrays, or split across subgroup lanes where the adapter
// has subgroups (src/kernels/seq_variant.ts), are all exact (to rounding), and
// which is fastest depends on the adapter and the sizes (dispatch latency against per-step
// parallelism and memory traffic). This times forward + loss + backward of the model on a real
// batch under each, and records the winner per adapter, cell and (B, T, H) on the context
// (`ctx.tuned` for the schedule, the sequence variant beside it), so every recurrent layer left on
// 'auto' (and the 'auto' sequence variant) on that context runs it from then on.
import type { Batch, Sequential } from '../nn/model.ts';
import type { RecurrentSchedule } from '../runtime/settings.ts';
import { residentSupported, subgroupLaunch } from '../kernels/seq_variant.ts';

export interface ScheduleTiming {
  schedule: 'step' | 'sequence';
  /** The sequence kernels' variant (sequence schedule only). */
  variant?: 'streamed' | 'resident' | 'subgroup';
  /** Mean milliseconds per forward + backward, or null where the schedule cannot run. */
  ms: number | null;
  note?: string;
}

export interface TuneResult {
  choice: 'step' | 'sequence';
  /** The sequence variant chosen (when `choice` is 'sequence'). */
  variant?: 'streamed' | 'resident' | 'subgroup';
  timings: ScheduleTiming[];
}

const GATES = { lstm: 4, gru: 3, rnn: 1 } as const;

/**
 * Times forward + loss + backward of `batch` (no dropout, no parameter update) under the step
 * schedule and the sequence variants ('subgroup' only where the adapter has the 'subgroups'
 * feature; elsewhere its timing is null with a note) and records the fastest for every recurrent layer of `model`
 * in `model.context.tuned` (and the sequence variant beside it). Layers' own `schedule` settings
 * and the context's settings are restored afterwards and stateful layers' carried states are reset,
 * so call it before training (fit does, with `tune: true`).
 */
export async function tuneSchedule(model: Sequential, batch: Batch, o: { reps?: number } = {}): Promise<TuneResult> {
  const reps = o.reps ?? 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`tuneSchedule: reps must be a positive integer, got ${reps}`);
  const ctx = model.context;
  const layers = model.recurrentLayers();
  if (layers.length === 0) return { choice: 'step', timings: [] };
  const own = layers.map((l) => l.schedule);
  const settings = ctx.settings;
  const timings: ScheduleTiming[] = [];
  const candidates = [
    { schedule: 'step' }, { schedule: 'sequence', variant: 'streamed' }, { schedule: 'sequence', variant: 'resident' }, { schedule: 'sequence', variant: 'subgroup' },
  ] as const;
  try {
    for (const cand of candidates) {
      const variant = 'variant' in cand ? cand.variant : undefined;
      const timing: ScheduleTiming = { schedule: cand.schedule, ...(variant ? { variant } : {}), ms: null };
      const unfit = variant === 'resident' ? layers.find((l) => !residentSupported(ctx, GATES[l.cell], l.hiddenSize)) : undefined;
      if (unfit) {
        timings.push({ ...timing, note: `layer "${unfit.name}": W_hh (${GATES[unfit.cell] * unfit.hiddenSize}, ${unfit.hiddenSize}) does not fit the resident kernel's private arrays on this adapter` });
        continue;
      }
      if (variant === 'subgroup') {
        const why = layers.map((l) => [l, subgroupLaunch(ctx, GATES[l.cell], l.hiddenSize, 1)] as const).find(([, r]) => 'why' in r);
        if (why) {
          timings.push({ ...timing, note: `layer "${why[0].name}": the subgroup kernel cannot run W_hh (${GATES[why[0].cell] * why[0].hiddenSize}, ${why[0].hiddenSize}): ${(why[1] as { why: string }).why}` });
          continue;
        }
      }
      for (const l of layers) l.schedule = cand.schedule as RecurrentSchedule;
      if (variant) ctx.configure({ sequenceVariant: variant });
      try {
        model.computeGradients(batch, { training: false }); // warm-up: pipelines, buffers
        await ctx.sync();
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) {
          model.computeGradients(batch, { training: false });
          await ctx.sync();
        }
        timings.push({ ...timing, ms: (performance.now() - t0) / reps });
      } catch (e) {
        const msg = (e as Error).message;
        if (cand.schedule === 'step' || !/no sequence kernel/.test(msg)) throw e;
        timings.push({ ...timing, note: msg });
      }
    }
  } finally {
    layers.forEach((l, i) => { l.schedule = own[i]; });
    ctx.configure(settings);
    model.resetStates();
  }
  const ran = timings.filter((t) => t.ms !== null) as (ScheduleTiming & { ms: number })[];
  const best = ran.reduce((a, b) => (b.ms < a.ms ? b : a));
  const [B, T] = batch.shape;
  for (const l of layers) {
    const d = { B, T, H: l.hiddenSize };
    ctx.tuned.set(l.cell, d, best.schedule);
    if (best.variant) ctx.tuned.setVariant(l.cell, d, best.variant);
  }
  return { choice: best.schedule, ...(best.variant ? { variant: best.variant } : {}), timings };
}
