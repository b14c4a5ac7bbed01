// The recurrent kernels against a baseline commit's, measured in one process (issue 12: the
// assembled kernels must be at least as fast as the per-cell kernels they replaced).
//   npm run bench:baseline                       baseline: the parent of the first commit that added
//                                                shaders/recurrent/, the last with only per-cell kernels
//                                                that loads on its own (the next one has the same kernels)
//   npm run bench:baseline -- --baseline <ref>   any other commit, tag or branch
//   npm run bench:baseline -- --json --rounds 10 --calls 5 --only lstm
// (also a section of npm run bench; --no-baseline skips it there).
//
// The baseline's src/ is copied out of git (git archive, cached in the OS temp folder under the
// commit's hash, node_modules linked) and imported next to the working tree's src/ through tsx;
// each library makes its own context on the same adapter. For LSTM, GRU and RNN (Embedding 65 →
// cell 128 → Dense 65, B16 T50) it times the Sequential training step (forward, loss, backward,
// Adam; synced) and the forward alone (predict, read back), with the per-timestep schedule in both
// step-kernel variants ('blocked' and 'plain') and the whole-sequence schedule, plus sampling with
// the on-GPU generation kernel. Each row runs in two phases, contexts and models set up old first
// and then new first (the library set up second runs a few percent slower here even with identical
// code); in each, after two warm-up calls per side, old and new alternate for 10 rounds of 3 calls
// per side (old first in even rounds, new first in odd ones) so that machine load hits both alike.
// A row shows each side's median and ratio = the median over the 20 rounds of old ms / new ms
// within the round (≥ 0.95: new at least as fast). `--baseline HEAD` times the working tree's
// committed kernels against themselves: the noise floor of a row on this machine.
// Pairing the two runs of one round cancels the load drift that moves whole rounds up and down
// on a shared CPU driver (rounds of one side spread up to 2.5× on lavapipe); `median_ratio` is the
// ratio of the two sides' medians.
// Without git, a checkout or the ref (e.g. an installed tarball) it prints one line and returns.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What the benchmark uses of a library copy; both the baseline's and the working tree's have it,
 *  except the step-kernel variant: a context setting now, a process-wide setter before. */
type Lib = typeof import('../src/node.ts') & { setStepKernelVariant?: (v: 'plain' | 'blocked') => void };
type Ctx = Awaited<ReturnType<Lib['createContext']>>;
type Cell = 'lstm' | 'gru' | 'rnn';
type Pass = 'train' | 'forward' | 'generate';
type Kernel = 'step blocked' | 'step plain' | 'sequence' | 'gpu';

export interface BaselineRow {
  config: string; cell: Cell; pass: Pass; kernel: Kernel; adapter: string; baseline: string;
  B: number; T: number; H: number; V: number; chars: number | null;
  /** Medians of wall milliseconds per call, and old_ms / new_ms. */
  old_ms: number; new_ms: number; ratio: number;
  /** old median / new median (unpaired). */
  median_ratio: number;
  /** Medians of the process's CPU milliseconds per call (all threads, a CPU driver's included), and
   *  the median over rounds of old / new CPU time: blind to time spent waiting for other processes on a loaded machine with a CPU
   *  driver; meaningless on a GPU. */
  old_cpu_ms: number; new_cpu_ms: number; cpu_ratio: number;
  /** Fastest round's wall milliseconds per call, and their ratio (the least disturbed by other load). */
  old_min_ms: number; new_min_ms: number; min_ratio: number;
  /** Each round's wall milliseconds per call. */
  old_runs: number[]; new_runs: number[];
}

export interface BaselineOptions {
  /** Git ref of the old kernels (default: the parent of the first commit that added shaders/recurrent/). */
  ref?: string;
  /** Alternating rounds per row, half with each side set up first (default 20). */
  rounds?: number;
  /** Timed calls per side and round (default 3). */
  calls?: number;
  /** Rows whose config contains this string (default all). */
  only?: string;
  log?: (s: string) => void;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = { B: 16, T: 50, H: 128, V: 65 };
const CHARS = 500;

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The baseline commit's hash and how it was chosen, or why there is none. */
function resolveBaseline(ref?: string): { commit: string; label: string } | string {
  try {
    git(['rev-parse', '--git-dir']);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? 'git is not installed' : `${ROOT} is not a git checkout`;
  }
  if (ref === undefined) {
    const added = git(['log', '--diff-filter=A', '--format=%H', '--', 'shaders/recurrent']).split('\n').filter(Boolean).pop();
    if (!added) return 'no commit in this checkout adds shaders/recurrent/ (pass --baseline <ref>)';
    ref = `${added}^`;
  }
  const shown = /^[0-9a-f]{40}\^$/.test(ref) ? `${ref.slice(0, 7)}^` : ref;
  try {
    const commit = git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    return { commit, label: `${shown} = ${commit.slice(0, 7)} "${git(['log', '-1', '--format=%s', commit]).slice(0, 60)}…"` };
  } catch {
    return `baseline ref ${JSON.stringify(shown)} is not a commit in this checkout (a shallow clone lacks history: git fetch --unshallow)`;
  }
}

/** The baseline's src/ extracted once per commit into the temp folder, node_modules linked. */
function extractBaseline(commit: string): string {
  const dir = join(tmpdir(), `webgpu-rnn-baseline-${commit.slice(0, 12)}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  const partial = `${dir}.${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const tar = join(partial, 'src.tar');
  git(['archive', '--format=tar', '-o', tar, commit, 'src', 'package.json', 'tsconfig.json']);
  execFileSync('tar', ['-xf', tar, '-C', partial]);
  rmSync(tar);
  symlinkSync(join(ROOT, 'node_modules'), join(partial, 'node_modules'), 'dir');
  writeFileSync(join(partial, '.complete'), commit);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return dir;
}

/** The baseline library, imported, or a one-line reason why not. */
export async function loadBaseline(ref?: string): Promise<{ lib: Lib; label: string } | string> {
  const base = resolveBaseline(ref);
  if (typeof base === 'string') return base;
  try {
    const dir = extractBaseline(base.commit);
    const lib = (await import(pathToFileURL(join(dir, 'src', 'node.ts')).href)) as Lib;
    return { lib, label: base.label };
  } catch (e) {
    return `the baseline ${base.label} could not be loaded (TypeScript sources need tsx: run through npm run bench): ${(e as Error).message.split('\n')[0]}`;
  }
}

interface Runner { run: () => Promise<void>; dispose: () => void }

function makeRunner(lib: Lib, ctx: Ctx, cell: Cell, pass: Pass, kernel: Kernel): Runner {
  const { B, T, H, V } = SIZES;
  const Cell = cell === 'lstm' ? lib.LSTM : cell === 'gru' ? lib.GRU : lib.RNN;
  const schedule = kernel === 'sequence' ? 'sequence' : 'step';
  const model = new lib.Sequential([new lib.Embedding({ numEmbeddings: V, embeddingDim: V }), new Cell({ hiddenSize: H, schedule }), new lib.Dense({ units: V })], { seed: 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new lib.Adam({ lr: 0.002 }) });
  const rng = new lib.Rng(2);
  const batch = { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V) };
  const stepVariant = kernel === 'step plain' ? 'plain' : 'blocked';
  const prime = Int32Array.from([1, 2, 3, 4]);
  const setVariant = typeof ctx.configure === 'function' ? () => ctx.configure({ stepVariant }) : () => lib.setStepKernelVariant!(stepVariant);
  const run = async (): Promise<void> => {
    setVariant();
    if (pass === 'train') { await model.trainStep(batch); await ctx.sync(); }
    else if (pass === 'forward') await model.predict(batch);
    else await lib.generate(model, { prime, length: CHARS, topK: 5, seed: 1, engine: 'gpu' });
  };
  return { run, dispose: () => model.dispose() };
}

const CASES: { cell: Cell; pass: Pass; kernel: Kernel }[] = [];
for (const cell of ['lstm', 'gru', 'rnn'] as Cell[]) {
  for (const pass of ['train', 'forward'] as Pass[]) for (const kernel of ['step blocked', 'step plain', 'sequence'] as Kernel[]) CASES.push({ cell, pass, kernel });
  CASES.push({ cell, pass: 'generate', kernel: 'gpu' });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

/** Wall and process CPU milliseconds per call (the CPU time includes a CPU driver's threads). */
async function msPerCall(r: Runner, reps: number): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await r.run();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / reps, cpu: (c.user + c.system) / 1000 / reps };
}

/** Runs the comparison: its rows, or a one-line note when there is no baseline to compare with. */
export async function benchBaseline(opts: BaselineOptions = {}): Promise<{ rows: BaselineRow[]; baseline: string } | { note: string }> {
  const log = opts.log ?? console.log;
  const rounds = opts.rounds ?? 20;
  const calls = opts.calls ?? 3;
  const loaded = await loadBaseline(opts.ref);
  if (typeof loaded === 'string') return { note: `baseline comparison skipped: ${loaded}` };
  const cur = (await import('../src/node.ts')) as Lib;
  const libs = { old: loaded.lib, new: cur };
  const probe = await cur.createContext();
  const adapter = probe.describe();
  probe.dispose();
  log(`baseline: ${loaded.label}; adapter: ${adapter}; B${SIZES.B} T${SIZES.T} H${SIZES.H} V${SIZES.V}, ${rounds} alternating rounds of ${calls} calls per side`);
  const rows: BaselineRow[] = [];
  for (const c of CASES) {
    const config = `baseline: ${c.cell} ${c.pass} ${c.kernel}`;
    if (opts.only && !config.includes(opts.only)) continue;
    const runs = { old: [] as { wall: number; cpu: number }[], new: [] as { wall: number; cpu: number }[] };
    // Two phases: contexts and models set up old first, then new first. Whichever library is set
    // up second runs a few percent slower on lavapipe even with identical code, so each side gets
    // half the rounds in each position.
    for (const first of ['old', 'new'] as const) {
      const order = first === 'old' ? (['old', 'new'] as const) : (['new', 'old'] as const);
      const ctxs: Partial<Record<'old' | 'new', Ctx>> = {};
      const runners: Partial<Record<'old' | 'new', Runner>> = {};
      try {
        for (const side of order) ctxs[side] = await libs[side].createContext();
        for (const side of order) runners[side] = makeRunner(libs[side], ctxs[side]!, c.cell, c.pass, c.kernel);
        // Warm-up (pipelines, buffers, the JIT), then `calls` timed calls per side and round.
        for (let w = 0; w < 2; w++) for (const side of order) await runners[side]!.run();
        for (let k = 0; k < Math.ceil(rounds / 2); k++) {
          const inRound = k % 2 === 0 ? order : ([order[1], order[0]] as const);
          for (const side of inRound) runs[side].push(await msPerCall(runners[side]!, calls));
        }
      } finally {
        for (const side of order) runners[side]?.dispose();
        for (const side of order) ctxs[side]?.dispose();
      }
    }
    const med = (side: 'old' | 'new', key: 'wall' | 'cpu') => median(runs[side].map((m) => m[key]));
    const old_min = Math.min(...runs.old.map((m) => m.wall)), new_min = Math.min(...runs.new.map((m) => m.wall));
    const old_ms = med('old', 'wall'), new_ms = med('new', 'wall'), old_cpu = med('old', 'cpu'), new_cpu = med('new', 'cpu');
    const row: BaselineRow = {
      config, ...c, adapter, baseline: loaded.label, ...SIZES, chars: c.pass === 'generate' ? CHARS : null,
      old_ms: +old_ms.toFixed(2), new_ms: +new_ms.toFixed(2),
      ratio: +median(runs.old.map((m, k) => m.wall / runs.new[k].wall)).toFixed(3), median_ratio: +(old_ms / new_ms).toFixed(3),
      old_min_ms: +old_min.toFixed(2), new_min_ms: +new_min.toFixed(2), min_ratio: +(old_min / new_min).toFixed(3),
      old_cpu_ms: +old_cpu.toFixed(2), new_cpu_ms: +new_cpu.toFixed(2), cpu_ratio: +median(runs.old.map((m, k) => m.cpu / runs.new[k].cpu)).toFixed(3),
      old_runs: runs.old.map((m) => +m.wall.toFixed(1)), new_runs: runs.new.map((m) => +m.wall.toFixed(1)),
    };
    rows.push(row);
    log(`  ${c.cell} ${c.pass.padEnd(8)} ${c.kernel.padEnd(12)} old ${old_ms.toFixed(1).padStart(7)} ms  new ${new_ms.toFixed(1).padStart(7)} ms  ratio ${row.ratio.toFixed(2)}  (fastest rounds ${row.min_ratio.toFixed(2)}, CPU time ${row.cpu_ratio.toFixed(2)})`);
  }
  return { rows, baseline: loaded.label };
}

/** The rows as a console table (ratio = old / new; ≥ 0.95 passes). */
export function printBaselineTable(rows: BaselineRow[]): void {
  console.table(rows.map((r) => ({
    cell: r.cell, pass: r.pass, kernel: r.kernel, 'old ms': r.old_ms.toFixed(1), 'new ms': r.new_ms.toFixed(1),
    'old/new': r.ratio.toFixed(2), '≥ 0.95': r.ratio >= 0.95 ? 'yes' : 'NO', 'CPU ms old/new': r.cpu_ratio.toFixed(2),
    // How far apart one side's rounds were: where this exceeds the distance of the ratio from 1,
    // machine load decided the ratio.
    'slowest/fastest round': Math.max(...[r.old_runs, r.new_runs].map((xs) => Math.max(...xs) / Math.min(...xs))).toFixed(1),
  })));
}

// Run directly: npm run bench:baseline.
if (/baseline\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const argv = process.argv.slice(2);
  const opt = (k: string): string | undefined => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const JSON_OUT = argv.includes('--json');
  const started = performance.now();
  const result = await benchBaseline({
    ref: opt('--baseline'), rounds: opt('--rounds') ? Number(opt('--rounds')) : undefined, only: opt('--only'),
    calls: opt('--calls') ? Number(opt('--calls')) : undefined,
    log: JSON_OUT ? (s) => console.error(s) : console.log,
  });
  if ('note' in result) {
    console.log(result.note);
  } else {
    if (JSON_OUT) for (const r of result.rows) console.log(JSON.stringify(r));
    else {
      console.log(`\nbaseline: ${result.baseline}`);
      printBaselineTable(result.rows);
    }
    if (result.rows.length > 0) {
      const geo = Math.exp(result.rows.reduce((a, r) => a + Math.log(r.ratio), 0) / result.rows.length);
      console.error(`geometric mean of old/new over ${result.rows.length} rows: ${geo.toFixed(3)}; rows below 0.95: ${result.rows.filter((r) => r.ratio < 0.95).length}`);
    }
  }
  console.error(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.exit(0);
}
