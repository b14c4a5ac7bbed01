// GEMM throughput of each matmul variant on this adapter, in GFLOP/s (2·M·N·K flops per call).
//   npx tsx bench/matmul.ts            default sizes
//   npx tsx bench/matmul.ts --reps 20  more repetitions per measurement
// Each case: one warm-up call (pipeline creation) and sync, then `reps` calls recorded into one
// command buffer between two ctx.sync()s; the best of 3 such runs is reported, with its time per
// call. On a CPU driver (lavapipe/llvmpipe, SwiftShader) the device is this process's threads, so
// a second figure, GFLOP per CPU-second of the process (user + system), is printed too: it does
// not depend on other load on the machine (wall-clock figures do).
import { createContext } from '../src/node.ts';
import { MATMUL_VARIANTS, matmul } from '../src/kernels/matmul.ts';
import { Rng } from '../src/cpu/random.ts';

interface Case { label: string; M: number; K: number; N: number; transA: boolean; transB: boolean; bias: boolean }

const cases: Case[] = [
  { label: 'square 512³', M: 512, K: 512, N: 512, transA: false, transB: false, bias: false },
  { label: 'input proj X·W_ihᵀ+b, I=65 (hamlet)', M: 6400, K: 65, N: 512, transA: false, transB: true, bias: true },
  { label: 'input proj X·W_ihᵀ+b, I=128', M: 6400, K: 128, N: 512, transA: false, transB: true, bias: true },
  { label: 'weight grad dGᵀ·X, (512×6400)·(6400×128)', M: 512, K: 6400, N: 128, transA: true, transB: false, bias: false },
  { label: 'backprop dG·W, (6400×512)·(512×128)', M: 6400, K: 512, N: 128, transA: false, transB: false, bias: false },
];

const argReps = process.argv.indexOf('--reps');
const targetSeconds = 0.5;

const ctx = await createContext();
console.log(`adapter: ${ctx.describe()}`);
const cpuDriver = /llvmpipe|lavapipe|swiftshader/i.test(ctx.describe());
if (cpuDriver) console.log('CPU driver: each cell is "GFLOP/s (ms per call) | GFLOP per CPU-second"');
const rng = new Rng(1);
const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`${pad('case', 44)} ${pad('M×K×N', 18)} ${MATMUL_VARIANTS.map((v) => pad(v, cpuDriver ? 28 : 16)).join(' ')}`);
for (const c of cases) {
  const a = ctx.tensor(rng.uniformArray(c.M * c.K), c.transA ? [c.K, c.M] : [c.M, c.K], 'a');
  const b = ctx.tensor(rng.uniformArray(c.K * c.N), c.transB ? [c.N, c.K] : [c.K, c.N], 'b');
  const bias = c.bias ? ctx.tensor(rng.uniformArray(c.N), [c.N], 'bias') : undefined;
  const out = ctx.empty([c.M, c.N], 'f32', 'out');
  const flops = 2 * c.M * c.N * c.K;
  const cols: string[] = [];
  for (const variant of MATMUL_VARIANTS) {
    const run = (): void => matmul(ctx, a, b, out, { transA: c.transA, transB: c.transB, bias, variant });
    run();
    await ctx.sync();
    // Calibrate the repetition count to roughly targetSeconds per run.
    let t0 = performance.now();
    run();
    await ctx.sync();
    const once = (performance.now() - t0) / 1000;
    const reps = argReps > 0 ? Number(process.argv[argReps + 1]) : Math.max(2, Math.min(200, Math.round(targetSeconds / Math.max(once, 1e-5))));
    let best = Infinity, bestCpu = Infinity;
    for (let trial = 0; trial < 3; trial++) {
      await ctx.sync();
      t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let r = 0; r < reps; r++) run();
      await ctx.sync();
      best = Math.min(best, (performance.now() - t0) / 1000 / reps);
      const cpu = process.cpuUsage(c0);
      bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6 / reps);
    }
    const cell = `${(flops / best / 1e9).toFixed(2)} (${(best * 1e3).toFixed(1)} ms)`;
    cols.push(pad(cpuDriver ? `${cell} | ${(flops / bestCpu / 1e9).toFixed(2)}` : cell, cpuDriver ? 28 : 16));
  }
  console.log(`${pad(c.label, 44)} ${pad(`${c.M}×${c.K}×${c.N}`, 18)} ${cols.join(' ')}`);
  for (const t of [a, b, out, bias]) t?.release();
}
ctx.dispose();
