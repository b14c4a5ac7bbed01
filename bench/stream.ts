// Streaming-inference benchmark: latency of one block (push → outputs read back) of a stream
// session (src/train/stream.ts) on features → LSTM H 128 × 2 layers → Dense, for B = 1 and 8
// rows and blocks of n = 1, 10 and 100 steps; the median of several blocks after warm-ups, in ms
// per block and per step. Real-time audio wants a block in under 8 ms.
//   npm run bench:stream [-- --json] [--reps 15]      (also a part of npm run bench)
import { createContext } from '../src/node.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { Dense, LSTM, Sequential, type RecurrentSchedule } from '../src/nn/index.ts';
import { createStream } from '../src/train/stream.ts';
import { Rng } from '../src/cpu/random.ts';

export interface StreamRow {
  config: string; adapter: string; schedule: RecurrentSchedule; B: number; n: number; H: number; layers: number; I: number; O: number;
  dispatches_per_block: number; ms_per_block: number; ms_per_step: number; blocks_timed: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function benchStream(ctx: GpuContext, o: { reps?: number; log?: (s: string) => void } = {}): Promise<StreamRow[]> {
  const log = o.log ?? console.log;
  const reps = o.reps ?? 15;
  const adapter = ctx.describe();
  const H = 128, L = 2, I = 40, O = 40; // e.g. 40 mel bands in, 40 scores out
  const lstm = new LSTM({ hiddenSize: H, numLayers: L });
  const model = new Sequential([lstm, new Dense({ units: O })], { seed: 1 }).build(ctx, { kind: 'seq', size: I });
  const rng = new Rng(3);
  log(`streaming inference: features ${I} → LSTM ${H} × ${L} → Dense ${O}, median of ${reps} blocks, on ${adapter}`);
  const rows: StreamRow[] = [];
  // The sequence kernel (one dispatch per block; the stream's default where the adapter has it) and
  // the step kernels (n dispatches).
  for (const schedule of ['sequence', 'step'] as const)
  for (const B of [1, 8]) {
    lstm.schedule = schedule;
    const session = createStream(model, { batch: B });
    for (const n of [1, 10, 100]) {
      const block = { x: Float32Array.from({ length: B * n * I }, () => rng.uniform(-1, 1)), shape: [B, n, I] };
      for (let w = 0; w < 3; w++) await session.push(block); // pipelines, buffers
      ctx.flush();
      const d0 = ctx.dispatchCount;
      await session.push(block);
      const dispatches = ctx.dispatchCount - d0;
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        await session.push(block);
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      rows.push({
        config: `stream-lstm${H}x${L}-${schedule}-B${B}-n${n}`, adapter, schedule, B, n, H, layers: L, I, O,
        dispatches_per_block: dispatches, ms_per_block: +ms.toFixed(3), ms_per_step: +(ms / n).toFixed(4), blocks_timed: reps,
      });
    }
    session.dispose();
  }
  model.dispose();
  log('| schedule | B | n (steps per block) | dispatches | ms per block | ms per step |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) log(`| ${r.schedule} | ${r.B} | ${r.n} | ${r.dispatches_per_block} | ${r.ms_per_block.toFixed(2)} | ${r.ms_per_step.toFixed(3)} |`);
  return rows;
}

// Run directly (not when bundled into bench/run.ts, where import.meta.url is the bundle itself).
if (/stream\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const argv = process.argv.slice(2);
  const JSON_OUT = argv.includes('--json');
  const ri = argv.indexOf('--reps');
  const ctx = await createContext();
  const rows = await benchStream(ctx, { reps: ri >= 0 ? Number(argv[ri + 1]) : 15, log: JSON_OUT ? (s) => console.error(s) : console.log });
  if (JSON_OUT) for (const r of rows) console.log(JSON.stringify(r));
  ctx.dispose();
}
