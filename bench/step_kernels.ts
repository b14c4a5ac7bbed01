// Plain (R = 1) vs register-blocked (R = 4) step kernels (src/kernels/step_variant.ts) for LSTM,
// GRU and RNN: wall milliseconds of one whole-sequence forward (lstmForwardSteps /
// gruForwardSteps / rnnForwardSteps: T step dispatches + the final-state gather) and one
// whole-sequence backward, recorded, submitted and synced. The two variants alternate ROUNDS times
// in this one process (plain, blocked, plain, ...)
// so that machine load hits both alike; the table shows the median of each and plain / blocked.
//   npx tsx bench/step_kernels.ts [--rounds 3] [--cells lstm,gru,rnn] [--sizes 64x100x128,16x50x128] [--json]
import { createContext } from '../src/node.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { lstmBackwardSteps, lstmForwardSteps } from '../src/kernels/lstm.ts';
import { gruBackwardSteps, gruForwardSteps } from '../src/kernels/gru.ts';
import { rnnBackwardSteps, rnnForwardSteps } from '../src/kernels/rnn.ts';
import type { StepKernelVariant } from '../src/kernels/step_variant.ts';
import { Rng } from '../src/cpu/random.ts';

type Cell = 'lstm' | 'gru' | 'rnn';
interface Work { forward: () => void; backward: () => void; release: () => void }

/** Tensors and recorders of one cell at (B, T, H); every row has length T. */
function setup(ctx: GpuContext, cell: Cell, B: number, T: number, H: number): Work {
  const rng = new Rng(1);
  const G = (cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1) * H;
  const made: Tensor[] = [];
  const mk = (shape: number[], name: string, s = 0.5): Tensor => {
    const t = ctx.tensor(rng.uniformArray(shape.reduce((a, b) => a * b, 1), -s, s), shape, name);
    made.push(t);
    return t;
  };
  const lengths = ctx.tensor(new Int32Array(B).fill(T), [B], 'lengths');
  made.push(lengths);
  const whh = mk([G, H], 'whh', 1 / Math.sqrt(H));
  const gx = mk([B, T, G], 'gx'), bhh = mk([G], 'bhh'), h0 = mk([B, H], 'h0'), hs = mk([B, T, H], 'hs'), hn = mk([B, H], 'hn');
  const dhs = mk([B, T, H], 'dhs'), dhn = mk([B, H], 'dhn'), dgates = mk([B, T, G], 'dgates'), dh0 = mk([B, H], 'dh0');
  const release = () => { for (const t of made) t.release(); };
  if (cell === 'lstm') {
    const c0 = mk([B, H], 'c0'), cs = mk([B, T, H], 'cs'), gates = mk([B, T, G], 'gates'), cn = mk([B, H], 'cn');
    const dcn = mk([B, H], 'dcn'), dcCarry = mk([B, H], 'dcCarry'), dc0 = mk([B, H], 'dc0');
    return {
      forward: () => lstmForwardSteps(ctx, { gx, whh, bhh, h0, c0, lengths, hs, cs, gates, hn, cn }),
      backward: () => lstmBackwardSteps(ctx, { dhs, dhn, dcn, gates, cs, c0, whh, lengths, dgates, dcCarry, dh0, dc0 }),
      release,
    };
  }
  if (cell === 'gru') {
    const gates = mk([B, T, G], 'gates'), hnLin = mk([B, T, H], 'hnLin'), dghh = mk([B, T, G], 'dghh'), dhCarry = mk([B, H], 'dhCarry');
    return {
      forward: () => gruForwardSteps(ctx, { gx, whh, bhh, h0, lengths, hs, gates, hnLin, hn }),
      backward: () => gruBackwardSteps(ctx, { dhs, gates, hnLin, hs, h0, whh, lengths, dgates, dghh, dhn, dh0, dhCarry }),
      release,
    };
  }
  return {
    forward: () => rnnForwardSteps(ctx, { gx, whh, bhh, h0, lengths, hs, hn }),
    backward: () => rnnBackwardSteps(ctx, { dhs, dhn, hs, whh, lengths, dgates, dh0 }),
    release,
  };
}

async function timeMs(ctx: GpuContext, v: StepKernelVariant, record: () => void): Promise<number> {
  await ctx.sync();
  const t0 = performance.now();
  ctx.configure({ stepVariant: v });
  record();
  await ctx.sync();
  return performance.now() - t0;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const arg = (k: string, d: string): string => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const rounds = Number(arg('--rounds', '3'));
const cells = arg('--cells', 'lstm,gru,rnn').split(',') as Cell[];
const sizes = arg('--sizes', '64x100x128,16x50x128').split(',').map((z) => z.split('x').map(Number) as [number, number, number]);
const ctx = await createContext();
const prev = ctx.settings;
const rows: Record<string, string | number>[] = [];
console.log(`adapter: ${ctx.describe()}; ${rounds} alternating rounds per variant; load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const cell of cells) {
  for (const [B, T, H] of sizes) {
    const w = setup(ctx, cell, B, T, H);
    for (const pass of ['forward', 'backward'] as const) {
      // Warm-up: compile both variants' pipelines and touch the buffers.
      for (const v of ['plain', 'blocked'] as const) await timeMs(ctx, v, w[pass]);
      const ms: Record<StepKernelVariant, number[]> = { plain: [], blocked: [] };
      for (let r = 0; r < rounds; r++) {
        for (const v of (r % 2 === 0 ? ['plain', 'blocked'] : ['blocked', 'plain']) as StepKernelVariant[]) ms[v].push(await timeMs(ctx, v, w[pass]));
      }
      const p = median(ms.plain), b = median(ms.blocked);
      const row = { cell, 'B,T,H': `${B},${T},${H}`, pass, 'plain ms': p.toFixed(1), 'blocked ms': b.toFixed(1), 'plain/blocked': (p / b).toFixed(2), 'plain runs': ms.plain.map((x) => x.toFixed(0)).join(' '), 'blocked runs': ms.blocked.map((x) => x.toFixed(0)).join(' ') };
      rows.push(row);
      if (process.argv.includes('--json')) console.log(JSON.stringify(row));
    }
    w.release();
  }
}
ctx.configure(prev);
if (!process.argv.includes('--json')) console.table(rows);
console.log(`load average after: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
ctx.dispose();
