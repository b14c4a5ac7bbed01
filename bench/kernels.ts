// Kernel-level timings of the recurrence: step kernels (one dispatch per t) vs sequence kernels
// (one dispatch for all t), forward and backward, with GPU time from timestamp queries where the
// adapter has them, and achieved GFLOP/s of the recurrent matmul (2·B·T·G·H flops each way).
//   npx tsx bench/kernels.ts [--B 16] [--T 50] [--H 128] [--json]
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { lstmBackwardSteps, lstmForwardSteps } from '../src/kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused, seqPlan } from '../src/kernels/lstm_seq.ts';
import { Rng } from '../src/cpu/random.ts';
import { GpuTimer, wallMs } from './timing.ts';

export interface KernelRow { kernel: string; B: number; T: number; H: number; rows_per_wg: number | null; dispatches: number; wall_ms: number; gpu_ms: number | null; gflops: number }

export async function benchLstmKernels(ctx: GpuContext, B: number, T: number, H: number, rbList: number[]): Promise<KernelRow[]> {
  const G = 4 * H;
  const rng = new Rng(1);
  const made: Tensor[] = [];
  const mk = (shape: number[], name: string, s = 0.5) => { const t = ctx.tensor(rng.uniformArray(shape.reduce((a, b) => a * b, 1), -s, s), shape, name); made.push(t); return t; };
  const f = {
    gx: mk([B, T, G], 'gx'), whh: mk([G, H], 'whh', 1 / Math.sqrt(H)), bhh: mk([G], 'bhh'), h0: mk([B, H], 'h0'), c0: mk([B, H], 'c0'),
    lengths: ctx.tensor(new Int32Array(B).fill(T), [B], 'lengths'),
    hs: mk([B, T, H], 'hs'), cs: mk([B, T, H], 'cs'), gates: mk([B, T, G], 'gates'), hn: mk([B, H], 'hn'), cn: mk([B, H], 'cn'),
  };
  made.push(f.lengths);
  const b = {
    dhs: mk([B, T, H], 'dhs'), dhn: mk([B, H], 'dhn'), dcn: mk([B, H], 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0, whh: f.whh, lengths: f.lengths,
    dgates: mk([B, T, G], 'dgates'), dcCarry: mk([B, H], 'dcc'), dh0: mk([B, H], 'dh0'), dc0: mk([B, H], 'dc0'),
  };
  const flops = 2 * B * T * G * H;
  const timer = GpuTimer.available(ctx) ? new GpuTimer(ctx) : null;
  const rows: KernelRow[] = [];
  const measure = async (kernel: string, rb: number | null, record: () => void): Promise<void> => {
    const d0 = ctx.dispatchCount;
    record();
    await ctx.sync();
    const dispatches = ctx.dispatchCount - d0;
    const wall = await wallMs(async () => { record(); await ctx.sync(); }, { budgetMs: 1500, trials: 2 });
    let gpu: number | null = null;
    if (timer) { gpu = Infinity; for (let i = 0; i < 3; i++) gpu = Math.min(gpu, await timer.time(record)); }
    rows.push({ kernel, B, T, H, rows_per_wg: rb, dispatches, wall_ms: wall, gpu_ms: gpu, gflops: flops / ((gpu ?? wall) * 1e6) });
  };
  await measure('lstm step forward', null, () => lstmForwardSteps(ctx, f));
  for (const rb of rbList) await measure('lstm seq forward', rb, () => lstmForwardFused(ctx, f, { rowsPerWorkgroup: rb }));
  await measure('lstm step backward', null, () => lstmBackwardSteps(ctx, b));
  for (const rb of rbList) await measure('lstm seq backward', rb, () => lstmBackwardFused(ctx, b, { rowsPerWorkgroup: rb }));
  timer?.destroy();
  for (const t of made) t.release();
  return rows;
}

export function defaultRowsList(ctx: GpuContext, B: number, H: number): number[] {
  const auto = seqPlan(ctx, B, H, 8 * H)?.RB ?? 1;
  return [...new Set([1, 2, 4, 8, auto])].filter((r) => r <= B && 32 * r * H <= ctx.limits.maxComputeWorkgroupStorageSize).sort((a, b) => a - b);
}

// Run directly (not when bundled into bench/run.ts, where import.meta.url is the bundle itself).
if (/kernels\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const { createContext } = await import('../src/node.ts');
  const arg = (k: string, d: number) => { const i = process.argv.indexOf(k); return i > 0 ? Number(process.argv[i + 1]) : d; };
  const B = arg('--B', 16), T = arg('--T', 50), H = arg('--H', 128);
  const ctx = await createContext();
  const adapter = ctx.describe();
  const rows = await benchLstmKernels(ctx, B, T, H, defaultRowsList(ctx, B, H));
  if (process.argv.includes('--json')) for (const r of rows) console.log(JSON.stringify({ adapter, ...r }));
  else {
    console.log(`adapter: ${adapter}`);
    console.table(rows.map((r) => ({ kernel: r.kernel, 'B,T,H': `${r.B},${r.T},${r.H}`, rows: r.rows_per_wg ?? '-', dispatches: r.dispatches, 'wall ms': r.wall_ms.toFixed(2), 'gpu ms': r.gpu_ms?.toFixed(2) ?? 'n/a', 'GFLOP/s': r.gflops.toFixed(2) })));
  }
  ctx.dispose();
}
