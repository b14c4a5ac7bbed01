// The recurrent kernels, table-driven over cells × options (CELLS in test/helpers/recurrent_cases.ts:
// LSTM with Keras's activations and TF1 peepholes, GRU with the reset gate after or before the
// product, RNN tanh and relu) × schedules: 'step' (one dispatch per timestep, R = 1 'plain' or
// R = 4 'blocked' batch rows per invocation), 'per-t' (one public call per timestep),
// 'sequence' (one dispatch per direction, 1–3 rows per workgroup), 'sequence resident' (W_hh kept
// in private arrays for all steps; also with f16 storage, = streamed bit for bit) and 'sequence
// subgroup' (W_hh split across subgroup lanes, sums by subgroupAdd: another summation order, so
// within a tolerance; run through the setting, which falls back to the resident kernel on adapters
// without subgroups; test/subgroup_variant.test.ts has the explicit variant). Each is checked forward and
// backward against the float64 CPU reference (src/cpu) at an awkward size (B=5: a full row block
// and a partial one; H=37; lengths 1 to T), every buffer, the parameter gradients that its dgates
// give, the length rules and the dispatch counts; variants that sum in the same order must be
// bit-identical. Then the extremes (±200 pre-activations, saturated gates, large weights), the
// realistic and the wide sizes, the argument checks, the layers under both schedules and against
// the CPU model (bidirectional, stacked), and the generation kernel with the cell options.
// The CPU reference itself is checked against finite differences in test/cells_cpu.test.ts.
import { suite } from 'uvu';
import * as cpuGru from '../src/cpu/gru.ts';
import { f64 } from '../src/cpu/math.ts';
import { Rng } from '../src/cpu/random.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import { cpuGenerate, type CpuGeneratorSpec } from '../src/cpu/generate.ts';
import * as lstmK from '../src/kernels/lstm.ts';
import { lstmBackwardFused, lstmForwardFused, lstmFusedSupported } from '../src/kernels/lstm_seq.ts';
import {
  gruBackwardInitial, gruBackwardSteps, gruForwardSteps, gruStepBackward, gruStepForward,
  type GruBackwardStepTensors, type GruForwardTensors,
} from '../src/kernels/gru.ts';
import { gruBackwardFused, gruForwardFused, gruFusedSupported } from '../src/kernels/gru_seq.ts';
import {
  rnnBackwardInitial, rnnBackwardSteps, rnnForwardSteps, rnnStepBackward, rnnStepForward, type RnnNonlinearity,
} from '../src/kernels/rnn.ts';
import { rnnBackwardFused, rnnForwardFused, rnnFusedSupported } from '../src/kernels/rnn_seq.ts';
import { subgroupSupported } from '../src/kernels/seq_variant.ts';
import { packGenerator, runGenerator } from '../src/kernels/generate.ts';
import { Dense, Embedding, GRU, LSTM, RNN, Sequential, type Layer, type Recurrent, type RecurrentSchedule } from '../src/nn/index.ts';
import type { Batch } from '../src/nn/model.ts';
import { SGD } from '../src/train/optimizers.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { generatorSpecOf } from '../src/train/generate.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { expectClose, expectRejects, expectThrows, type Tolerance } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import {
  CELLS, buffersOf, cellRow, cpuParameterGrads, cpuReference, expectedDispatches, makeCase, parameterGradsFrom, runGpu, upload,
  type Case, type CellRow, type GpuRun, type Outputs, type Schedule,
} from './helpers/recurrent_cases.ts';

const test = suite('recurrent');

// f32 kernels against float64: sums of H (forward) or up to 4H (backward) products of O(1) terms
// per element, a few ulps each, compounding over T steps.
const TOL_F: Tolerance = { atol: 2e-6, rtol: 1e-5 };
const TOL_B: Tolerance = { atol: 5e-6, rtol: 1e-4 };
// The parameter gradients sum B·T such terms again.
const TOL_P: Tolerance = { atol: 1e-4, rtol: 1e-4 };
// Sequence against step kernels: the same f32 expressions in the same summation order; only where
// h_prev / dgates[t+1] are read from differs (workgroup memory vs storage). Bit-identical on
// lavapipe; a few ulps are allowed in case a compiler contracts a multiply-add differently.
const TOL_SAME: Tolerance = { atol: 1e-6, rtol: 1e-5 };
const EXACT: Tolerance = { atol: 0, rtol: 0 };
// The subgroup kernels against the others: W_hh·h_prev summed as lane partials and a subgroupAdd
// tree instead of in order; the reordering moves each sum by a few ulps of its largest terms
// (absolute, hence the atol where sums cancel), compounding over T steps and into the gradients.
const TOL_SUBGROUP: Tolerance = { atol: 1e-6, rtol: 1e-4 };

// ------------------------------------------------------------------ comparisons

const shapeOf = (c: Case, width: number) => (width ? [c.B, c.T, width * c.H] : [c.B, c.H]);

/** Compares the buffers of one direction ('forward' or 'backward') of `got` with `want`. */
function compare(what: string, row: CellRow, c: Case, dir: 'forward' | 'backward', got: Outputs, want: Record<string, ArrayLike<number>>, tol: Tolerance): void {
  for (const [name, width] of Object.entries(buffersOf(row)[dir])) expectClose(`${what} ${name}`, got[name], want[name], { ...tol, shape: shapeOf(c, width) });
}

/** The length rules, independently of any reference: per-step buffers are zero past each row's
 *  length and the final states are the states at its last step, copied. */
function expectLengthRules(what: string, row: CellRow, c: Case, out: Outputs): void {
  const { B, T, H } = c;
  const { forward, backward } = buffersOf(row);
  for (const [name, width] of Object.entries({ ...forward, ...backward })) {
    if (!width) continue;
    const W = width * H;
    for (let b = 0; b < B; b++) {
      for (let i = (b * T + c.lengths[b]) * W; i < (b + 1) * T * W; i++) {
        if (out[name][i] !== 0) throw new Error(`${what}: ${name}[${b}, t ≥ ${c.lengths[b]}] = ${out[name][i]}, expected 0 past the length`);
      }
    }
  }
  for (const [fin, seq] of [['hn', 'hs'], ['cn', 'cs']]) {
    if (!out[fin]) continue;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        if (!Object.is(out[fin][b * H + j], out[seq][(b * T + c.lengths[b] - 1) * H + j])) throw new Error(`${what}: ${fin}[${b},${j}] is not ${seq}[${b},${c.lengths[b] - 1},${j}]`);
      }
    }
  }
}

function expectFinite(what: string, out: Outputs): void {
  for (const [name, v] of Object.entries(out)) if (!v.every(Number.isFinite)) throw new Error(`${what}: ${name} has a NaN or Inf`);
}

function expectDispatches(what: string, row: CellRow, c: Case, s: Schedule, run: GpuRun, dir: 'forward' | 'backward'): void {
  const want = expectedDispatches(row, s, c.T);
  if (run.dispatches[dir] !== want) throw new Error(`${what}: the ${dir} recorded ${run.dispatches[dir]} dispatches, expected ${want}`);
}

/** The sequence kernels a run of `s` records on this adapter: 'subgroup' falls back to 'resident'
 *  without the 'subgroups' feature (runSeq asks for it through the setting). */
const ranVariant = (ctx: GpuContext, s: Schedule) => (s.seqVariant === 'subgroup' && !ctx.features.has('subgroups') ? 'resident' : s.seqVariant ?? 'streamed');

/** A sequence run recorded the kernels of its variant: res* or sg* forward and backward. */
function expectVariant(ctx: GpuContext, what: string, s: Schedule, run: GpuRun): void {
  if (s.schedule !== 'sequence') return;
  const want = ranVariant(ctx, s);
  for (const [v, re] of [['resident', /_res\d+_(forward|backward)$/], ['subgroup', /_sg\d+_(forward|backward)$/]] as const) {
    const n = [...run.kernels].filter((k) => re.test(k)).length;
    if (n !== (want === v ? 2 : 0)) throw new Error(`${what}: ran ${[...run.kernels].join(', ')}; expected the ${want} kernels`);
  }
}

/** runGpu, with 'subgroup' asked for by the context's setting rather than the call, so that an
 *  adapter without subgroups runs the fallback (the resident kernels) instead of refusing. */
async function runSeq(ctx: GpuContext, row: CellRow, c: Case, s: Schedule): Promise<GpuRun> {
  if (s.seqVariant !== 'subgroup') return runGpu(ctx, row, c, s);
  const prev = ctx.configure({ sequenceVariant: 'subgroup' });
  try { return await runGpu(ctx, row, c, { ...s, seqVariant: undefined }); } finally { ctx.configure(prev); }
}

/** How closely a run must match the step kernels: the subgroup kernels (where they ran) sum in
 *  another order; the others are exact forward, TOL_SAME backward for sequence kernels. */
function sameAs(ctx: GpuContext, s: Schedule, dir: 'forward' | 'backward'): Tolerance {
  if (s.schedule === 'sequence' && ranVariant(ctx, s) === 'subgroup') return TOL_SUBGROUP;
  return dir === 'backward' && s.schedule === 'sequence' ? TOL_SAME : EXACT;
}

// ------------------------------------------------------------------ cells × options × schedules

/** The awkward case: B = 5 is one full block of R = 4 rows and a partial one, and leaves a partial
 *  last workgroup at 2 and 3 rows per workgroup; lengths run from 1 to T; H = 37 is prime. */
const mainCase = (row: CellRow) => makeCase(row, 11, 5, 5, 37, 7, [5, 2, 1, 5, 3]);

const SCHEDULES: { name: string; runs: Schedule[] }[] = [
  { name: 'step (plain)', runs: [{ schedule: 'step', variant: 'plain' }] },
  { name: 'step (blocked, R=4)', runs: [{ schedule: 'step', variant: 'blocked' }] },
  { name: 'step (one call per timestep)', runs: [{ schedule: 'per-t', variant: 'plain' }] },
  { name: 'sequence (1, 2, 3 rows per workgroup)', runs: [1, 2, 3].map((rows) => ({ schedule: 'sequence' as const, rows })) },
  { name: 'sequence resident (1, 3 rows per workgroup)', runs: [1, 3].map((rows) => ({ schedule: 'sequence' as const, rows, seqVariant: 'resident' as const })) },
  { name: 'sequence subgroup (1, 3 rows per workgroup)', runs: [1, 3].map((rows) => ({ schedule: 'sequence' as const, rows, seqVariant: 'subgroup' as const })) },
];

/** Each row's case, CPU reference and GPU runs, computed once and shared by its forward and
 *  backward tests. */
const memo = new Map<string, Promise<unknown>>();
function once<T>(key: string, f: () => Promise<T>): Promise<T> {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key) as Promise<T>;
}
const reference = (row: CellRow) => once(`${row.name} cpu`, async () => {
  const c = mainCase(row);
  return { c, want: cpuReference(row, c), grads: cpuParameterGrads(row, c) };
});
const gpuRuns = (row: CellRow, sched: (typeof SCHEDULES)[number]) => once(`${row.name} ${sched.name}`, async () => {
  const ctx = await gpu();
  const { c } = await reference(row);
  const runs: GpuRun[] = [];
  for (const s of sched.runs) runs.push(await runSeq(ctx, row, c, s));
  return runs;
});

for (const row of CELLS) {
  for (const sched of SCHEDULES) {
    test(`${row.name} · ${sched.name} · forward`, async () => {
      const ctx = await gpu();
      const { c, want } = await reference(row);
      const runs = await gpuRuns(row, sched);
      const plain = (await gpuRuns(row, SCHEDULES[0]))[0];
      for (const [i, run] of runs.entries()) {
        const s = sched.runs[i], what = `${sched.name}${s.rows ? ` ${s.rows} rows` : ''}`;
        compare(what, row, c, 'forward', run.out, want, TOL_F);
        expectLengthRules(what, row, c, run.out);
        expectDispatches(what, row, c, s, run, 'forward');
        expectVariant(ctx, what, s, run);
        // R = 1 and R = 4, one call or one wrapper per step, and the sequence kernels' forward
        // sum the same terms in the same order (the subgroup kernels excepted).
        if (run !== plain) compare(`${what} = step (plain)`, row, c, 'forward', run.out, plain.out, sameAs(ctx, s, 'forward'));
        // The final states are gathered once, with the last step.
        if (run.hnAfterFirstStep && !run.hnAfterFirstStep.every(Number.isNaN)) throw new Error(`${what}: hn was written at step 0 of ${c.T}`);
      }
    });

    test(`${row.name} · ${sched.name} · backward`, async () => {
      const ctx = await gpu();
      const { c, want, grads } = await reference(row);
      const runs = await gpuRuns(row, sched);
      const plain = (await gpuRuns(row, SCHEDULES[0]))[0];
      for (const [i, run] of runs.entries()) {
        const s = sched.runs[i], what = `${sched.name}${s.rows ? ` ${s.rows} rows` : ''}`;
        compare(what, row, c, 'backward', run.out, want, TOL_B);
        for (const [k, v] of Object.entries(parameterGradsFrom(row, c, run.out))) expectClose(`${what} ${k}`, v, grads[k], TOL_P);
        expectDispatches(what, row, c, s, run, 'backward');
        if (run === plain) continue;
        compare(`${what} = step (plain)`, row, c, 'backward', run.out, plain.out, sameAs(ctx, s, 'backward'));
      }
    });
  }

  test(`${row.name} · step (blocked) and sequence · pre-activations beyond ±200 saturate without NaN or Inf`, async () => {
    const ctx = await gpu();
    const c = makeCase(row, 13, 3, 4, 16, 5, [4, 1, 3], 600);
    let maxGx = 0;
    for (const v of c.gx) maxGx = Math.max(maxGx, Math.abs(v));
    if (maxGx < 200) throw new Error(`the case does not reach ±200 pre-activations (max |gx| ${maxGx})`);
    const want = cpuReference(row, c), grads = cpuParameterGrads(row, c);
    // Saturated gates are flat, but a pre-activation in the linear range is a sum of terms of
    // size ~600 (f32 error ~1e-4 absolute), which moves a gate by up to ~1e-4; gradients scale with
    // |x|·|dgates| and relu's unbounded outputs carry the same relative error.
    const tol = { atol: 2e-3, rtol: 1e-3 };
    for (const s of [{ schedule: 'step', variant: 'blocked' }, { schedule: 'sequence' }] as Schedule[]) {
      const { out } = await runGpu(ctx, row, c, s);
      expectFinite(s.schedule, out);
      compare(s.schedule, row, c, 'forward', out, want, tol);
      for (const [k, v] of Object.entries(parameterGradsFrom(row, c, out))) expectClose(`${s.schedule} ${k}`, v, grads[k], tol);
    }
  });
}

// ------------------------------------------------------------------ sizes

const DEFAULT_ROWS = ['lstm', 'gru', 'rnn', 'rnn relu'].map(cellRow);
const GATES = { lstm: 4, gru: 3, rnn: 1 } as const;

for (const row of DEFAULT_ROWS) {
  test(`${row.name} · step (plain, blocked), sequence (default, 4, 16 rows), sequence resident and subgroup · B=64 H=128 T=6, mixed lengths`, async () => {
    const ctx = await gpu();
    const rng = new Rng(2);
    const lengths = Array.from({ length: 64 }, (_, b) => (b < 4 ? [6, 1, 4, 5][b] : 1 + rng.int(6)));
    const c = makeCase(row, 14, 64, 6, 128, 16, lengths);
    const plain = await runGpu(ctx, row, c, { schedule: 'step', variant: 'plain' });
    // The backward on the GPU's own forward buffers: relu's slope flips where h rounds across 0.
    const want = cpuReference(row, c, plain.out);
    compare('step (plain)', row, c, 'forward', plain.out, want, TOL_F);
    compare('step (plain)', row, c, 'backward', plain.out, want, TOL_B);
    expectLengthRules('step (plain)', row, c, plain.out);
    const blocked = await runGpu(ctx, row, c, { schedule: 'step', variant: 'blocked' });
    for (const dir of ['forward', 'backward'] as const) compare('step (blocked) = plain', row, c, dir, blocked.out, plain.out, EXACT);
    const runs: Schedule[] = [undefined, 4, 16].map((rows) => ({ schedule: 'sequence', rows }));
    for (const s of [...runs, ...(['resident', 'subgroup'] as const).map((v) => ({ schedule: 'sequence', seqVariant: v }) as Schedule)]) {
      const what = `sequence${s.seqVariant ? ` ${s.seqVariant}` : ''}, ${s.rows ?? 'default'} rows`;
      const seq = await runSeq(ctx, row, c, s);
      expectVariant(ctx, what, s, seq);
      compare(what, row, c, 'forward', seq.out, want, TOL_F);
      compare(what, row, c, 'backward', seq.out, want, TOL_B);
      const same = ranVariant(ctx, s) === 'subgroup' ? TOL_SUBGROUP : TOL_SAME;
      for (const dir of ['forward', 'backward'] as const) compare(`${what} = step`, row, c, dir, seq.out, plain.out, same);
      expectLengthRules(what, row, c, seq.out);
    }
  });
}

for (const row of ['lstm', 'gru', 'rnn'].map(cellRow)) {
  test(`${row.name} · sequence (2 rows per workgroup) · B=5 H=300 (more units than invocations: each loops over units), T=4; too large to keep W_hh resident`, async () => {
    const ctx = await gpu();
    const c = makeCase(row, 4, 5, 4, 300, 3, [4, 1, 3, 2, 4]);
    // W_hh does not fit the resident kernel's private arrays: asked for by the call, it is refused
    // before anything is recorded; asked for by the context's setting, the streamed kernel runs.
    // The subgroup kernel spreads W_hh over every lane: the RNN's (300, 300) fits it where the
    // adapter has subgroups, and runs under the setting 'subgroup'; elsewhere that setting falls
    // back to the streamed kernel too (the resident one does not fit) and the call is refused.
    const before = ctx.dispatchCount;
    await expectRejects(() => runGpu(ctx, row, c, { schedule: 'sequence', rows: 2, seqVariant: 'resident' }), "variant 'resident' cannot keep W_hh", 'on this adapter', "use variant 'streamed'");
    const subgroupFits = subgroupSupported(ctx, GATES[row.cell], 300);
    if (!subgroupFits) await expectRejects(() => runGpu(ctx, row, c, { schedule: 'sequence', rows: 2, seqVariant: 'subgroup' }), "variant 'subgroup' cannot run W_hh", ctx.features.has('subgroups') ? 'expected at most 512' : "lacks the WebGPU feature 'subgroups'", "use variant 'resident' or 'streamed'");
    if (ctx.dispatchCount !== before) throw new Error('the refused resident or subgroup call recorded dispatches');
    if (row.cell === 'rnn' && ctx.features.has('subgroups') && !subgroupFits) throw new Error('the RNN\'s W_hh (300, 300) should fit the subgroup kernel');
    const want = cpuReference(row, c);
    for (const setting of ['resident', 'subgroup'] as const) {
      const prev = ctx.configure({ sequenceVariant: setting });
      let run: GpuRun;
      try { run = await runGpu(ctx, row, c, { schedule: 'sequence', rows: 2 }); } finally { ctx.configure(prev); }
      const ran: Schedule = { schedule: 'sequence', seqVariant: setting === 'subgroup' && subgroupFits ? 'subgroup' : undefined };
      expectVariant(ctx, `H=300 under the setting ${setting}`, ran, run);
      const { out } = run;
      compare(`H=300 ${setting}`, row, c, 'forward', out, want, TOL_F);
      compare(`H=300 ${setting}`, row, c, 'backward', out, want, TOL_B);
      expectLengthRules(`H=300 ${setting}`, row, c, out);
    }
  });
}

// ------------------------------------------------------------------ extremes, per cell

test('lstm · per-t and sequence · saturated gates (pre-activations ±110..±250) give exact, finite results', async () => {
  const ctx = await gpu();
  const row = cellRow('lstm');
  const rng = new Rng(9);
  const c = makeCase(row, 9, 3, 4, 37, 5, [4, 3, 1]);
  // |gx| in [150, 250] with random sign; |W_hh·h| + |b_hh| <= 38, so every |pre| >= 112.
  for (let n = 0; n < c.gx.length; n++) c.gx[n] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(150, 250);
  c.whh = rng.uniformArray(c.G * c.H, -1, 1);
  const want = cpuReference(row, c);
  for (const s of [{ schedule: 'per-t' }, { schedule: 'sequence', rows: 2 }] as Schedule[]) {
    const { out } = await runGpu(ctx, row, c, s);
    // Every gate is 0, 1 or ±1 to within exp(-112): f32 and float64 agree to rounding of c (|c| <= 5).
    compare(s.schedule, row, c, 'forward', out, want, { atol: 1e-6, rtol: 1e-6 });
    compare(s.schedule, row, c, 'backward', out, want, { atol: 1e-6, rtol: 1e-5 });
    expectFinite(s.schedule, out);
    expectLengthRules(s.schedule, row, c, out);
  }
});

test('lstm · step · large weights (pre-activations up to ±200 and beyond): no NaN or Inf, gates in range, step 0 = CPU', async () => {
  const ctx = await gpu();
  const row = cellRow('lstm');
  const B = 3, T = 4, H = 37, G = 4 * H;
  const rng = new Rng(10);
  const c = makeCase(row, 10, B, T, H, 5, [4, 2, 1]);
  for (let n = 0; n < c.gx.length; n++) c.gx[n] = rng.uniform(-200, 200);
  c.whh = rng.uniformArray(G * H, -40, 40);
  c.bhh = rng.uniformArray(G, -50, 50);
  const { out } = await runGpu(ctx, row, c, { schedule: 'step' });
  const want = cpuReference(row, c);
  expectFinite('step', out);
  for (let n = 0; n < out.gates.length; n++) {
    const q = Math.floor((n % G) / H); // gate index: 2 is g (tanh), the others are sigmoids
    if (q === 2 ? Math.abs(out.gates[n]) > 1 : out.gates[n] < 0 || out.gates[n] > 1) throw new Error(`gates[${n}] = ${out.gates[n]} out of range`);
  }
  if (!out.hs.every((v) => Math.abs(v) <= 1)) throw new Error('|h| > 1');
  // Step 0 sees exact inputs: pre-activations of size ~300 carry ~1e-4 absolute f32 rounding,
  // which moves a gate by at most 1e-4/4 where it is not saturated. Later steps amplify tiny
  // differences by |W_hh| ~ 40, so only step 0 is compared.
  const step0 = (a: ArrayLike<number>, w: number) => Array.from({ length: B * w }, (_, n) => a[Math.floor(n / w) * T * w + (n % w)]);
  const tol0 = { atol: 1e-4, rtol: 1e-4 };
  expectClose('hs[:,0]', step0(out.hs, H), step0(want.hs, H), tol0);
  expectClose('cs[:,0]', step0(out.cs, H), step0(want.cs, H), tol0);
  expectClose('gates[:,0]', step0(out.gates, G), step0(want.gates, G), tol0);
});

test('lstm peepholes recurrentActivation=hard_sigmoid, activation tanh and hard_sigmoid · every schedule · ±200 pre-activations = CPU, no NaN', async () => {
  const ctx = await gpu();
  for (const activation of ['tanh', 'hard_sigmoid'] as const) {
    const row: CellRow = { name: `lstm peepholes ${activation}`, cell: 'lstm', peepholes: true, activation, recurrentActivation: 'hard_sigmoid' };
    const c = makeCase(row, 73, 3, 5, 37, 6, [5, 2, 4]);
    for (let i = 0; i < c.gx.length; i++) c.gx[i] *= 200;
    const want = cpuReference(row, c);
    // Saturated gates: the values are 0, 1 or the clip's exact slope; what is left is f32 rounding of c.
    const tol = { atol: 1e-4, rtol: 1e-4 };
    for (const sched of [SCHEDULES[0], SCHEDULES[1], { name: 'sequence', runs: [{ schedule: 'sequence' }] as Schedule[] }]) {
      const { out } = await runGpu(ctx, row, c, sched.runs[0]);
      expectFinite(`${activation} ${sched.name}`, out);
      for (const dir of ['forward', 'backward'] as const) compare(`${activation} ${sched.name}`, row, c, dir, out, want, tol);
    }
  }
});

test('gru · per-t · pre-activations beyond ±200 with W_hh ±20: no NaN, each step = the CPU step fed the GPU\'s state', async () => {
  const ctx = await gpu();
  const row = cellRow('gru');
  const rng = new Rng(200);
  const B = 3, T = 4, H = 37, G = 3 * H;
  // r gates: gx of magnitude 100..300 with random sign and W_hh rows up to ±20 (W_hh·h up to a few
  // hundred), b_hh ±50. z and n gates the same for even units j; for odd units gx_z, gx_n in ±2 and
  // small W_hz rows, so that z and n stay in their linear range while r saturates and hn_lin is
  // large: gradients then flow through n and z, and dr_pre = dn_pre·hn_lin·r(1−r) meets r(1−r) ≈ 0.
  const c = makeCase(row, 200, B, T, H, 2, [4, 2, 1]);
  const moderate = (q: number) => q >= H && (q % H) % 2 === 1;
  for (let i = 0; i < c.gx.length; i++) {
    const q = i % G;
    c.gx[i] = moderate(q) ? rng.uniform(-2, 2) : (rng.next() < 0.5 ? -1 : 1) * rng.uniform(100, 300);
  }
  c.whh = rng.uniformArray(G * H, -20, 20);
  c.bhh = rng.uniformArray(G, -50, 50);
  for (let j = 1; j < H; j += 2) {
    for (let k = 0; k < H; k++) c.whh[(H + j) * H + k] *= 0.005; // W_hz row j within ±0.1
    c.bhh[H + j] *= 0.01;
  }
  c.dhs = rng.uniformArray(B * T * H, -100, 100);
  c.dhn = rng.uniformArray(B * H, -100, 100);
  const g = upload(ctx, row, c);
  const d = { B, T, H };
  // Forward step by step: the CPU step t is fed the GPU's own h_{t-1} (and hn), so that f32
  // rounding of one saturating step is not amplified by the next through weights of ±20.
  const rows = (a: ArrayLike<number>, t: number, D: number) => {
    const out: number[] = [];
    for (let b = 0; b < B; b++) for (let j = 0; j < D; j++) out.push(a[(b * T + t) * D + j]);
    return out;
  };
  const fwd: GruForwardTensors = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
  let maxPre = 0;
  for (let t = 0; t < T; t++) {
    const hs = f64(await ctx.read(g.hs)), hn = f64(await ctx.read(g.hn));
    const gates = new Float64Array(B * T * G), hnLin = new Float64Array(B * T * H);
    gruStepForward(ctx, t, fwd);
    cpuGru.gruStepForward(t, d, { gx: c.gx, whh: c.whh, bhh: c.bhh, h0: c.h0, lengths: c.lengths, hs, gates, hnLin, hn });
    // The pre-activations this step reached (r, z: gx + W_hh·h_prev + b_hh; n: gx_n + r·hn_lin).
    for (let b = 0; b < B; b++) {
      if (t >= c.lengths[b]) continue;
      for (let q = 0; q < G; q++) {
        let pre = c.gx[(b * T + t) * G + q];
        if (q < 2 * H) {
          pre += c.bhh[q];
          for (let k = 0; k < H; k++) pre += c.whh[q * H + k] * (t === 0 ? c.h0[b * H + k] : hs[(b * T + t - 1) * H + k]);
        } else {
          pre += gates[(b * T + t) * G + q - 2 * H] * hnLin[(b * T + t) * H + q - 2 * H];
        }
        maxPre = Math.max(maxPre, Math.abs(pre));
      }
    }
    // Saturated sigmoids/tanh are flat, but where a pre-activation (~1e2, summed in f32 with a
    // relative error ~1e-7 · Σ|terms| ≈ 1e-4) lands in the linear range the gate moves by ~1e-4.
    const tol = { atol: 1e-3, rtol: 1e-3 };
    expectClose(`hs[:, ${t}]`, rows(await ctx.read(g.hs), t, H), rows(hs, t, H), tol);
    expectClose(`gates[:, ${t}]`, rows(await ctx.read(g.gates), t, G), rows(gates, t, G), tol);
    // hn_lin is a 37-term f32 dot product of ±20 weights with |h| ≤ 1, plus b_hn: ~1e-4 absolute.
    expectClose(`hnLin[:, ${t}]`, rows(await ctx.read(g.hnLin), t, H), rows(hnLin, t, H), { atol: 1e-3, rtol: 1e-5 });
    // hn is gathered once, with the last step: each row's hs at its last valid step, copied.
    if (t === T - 1) {
      const hsGpu = f64(await ctx.read(g.hs));
      const want = Array.from({ length: B * H }, (_, i) => hsGpu[(Math.floor(i / H) * T + c.lengths[Math.floor(i / H)] - 1) * H + (i % H)]);
      expectClose('hn after the last step', await ctx.read(g.hn), want, EXACT);
    }
  }
  if (maxPre < 200) throw new Error(`test does not reach ±200 pre-activations (max ${maxPre})`);
  // Backward step by step, each CPU step fed the GPU's carry and dghh[:, t+1].
  ctx.copy(g.dhn, g.dhCarry);
  const hs = f64(await ctx.read(g.hs)), gates = f64(await ctx.read(g.gates)), hnLin = f64(await ctx.read(g.hnLin));
  const step: GruBackwardStepTensors = {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
  };
  for (let t = T - 1; t >= 0; t--) {
    const dhCarry = f64(await ctx.read(g.dhCarry)), dghh = f64(await ctx.read(g.dghh));
    gruStepBackward(ctx, t, step);
    const dgates = new Float64Array(B * T * G);
    cpuGru.gruStepBackward(t, d, { dhs: c.dhs, gates, hnLin, hs, h0: c.h0, whh: c.whh, lengths: c.lengths, dgates, dghh, dhCarry });
    // dh reaches ~1e2 (dhs, dhn ±100) and sums 3H terms dghh·W with |W| ≤ 20 (Σ|terms| up to ~1e4,
    // f32 rounding ~1e-7 each): ~1e-3 absolute; saturated derivatives are exactly 0 in f32 where
    // float64 has ~1e-80, which is far inside atol.
    const tol = { atol: 1e-2, rtol: 1e-3 };
    expectClose(`dgates[:, ${t}]`, rows(await ctx.read(g.dgates), t, G), rows(dgates, t, G), tol);
    expectClose(`dghh[:, ${t}]`, rows(await ctx.read(g.dghh), t, G), rows(dghh, t, G), tol);
    expectClose(`dhCarry after step ${t}`, await ctx.read(g.dhCarry), dhCarry, tol);
  }
  const dhCarry = f64(await ctx.read(g.dhCarry)), dghh = f64(await ctx.read(g.dghh)), dh0 = new Float64Array(B * H);
  gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: g.dh0 });
  cpuGru.gruBackwardInitial(d, { dghh, whh: c.whh, dhCarry, dh0 });
  expectClose('dh0', await ctx.read(g.dh0), dh0, { atol: 1e-2, rtol: 1e-3 });
  for (const name of ['hs', 'gates', 'hnLin', 'hn', 'dgates', 'dghh', 'dhCarry', 'dh0'] as const) {
    const v = await ctx.read(g[name]);
    if (!v.every(Number.isFinite)) throw new Error(`${name} has a NaN or Inf`);
  }
  for (const t of Object.values(g)) t.release();
});

test('gru · sequence · pre-activations beyond ±200 with W_hh ±20: finite, and equal to the step kernels', async () => {
  const ctx = await gpu();
  const row = cellRow('gru');
  const rng = new Rng(200);
  const B = 3, T = 4, H = 37, G = 3 * H;
  const c = makeCase(row, 5, B, T, H, 5, [4, 2, 1]);
  // gx of magnitude 100..300 with random sign and W_hh up to ±20, b_hh ±50: every gate saturates
  // somewhere and hn_lin is large. With such weights f32 rounding of one step is amplified by the
  // next, so the reference is the step kernels (the same f32 arithmetic), not float64.
  for (let i = 0; i < c.gx.length; i++) c.gx[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(100, 300);
  c.whh = rng.uniformArray(G * H, -20, 20);
  c.bhh = rng.uniformArray(G, -50, 50);
  c.dhs = rng.uniformArray(B * T * H, -100, 100);
  c.dhn = rng.uniformArray(B * H, -100, 100);
  const seq = (await runGpu(ctx, row, c, { schedule: 'sequence', rows: 2 })).out;
  const step = (await runGpu(ctx, row, c, { schedule: 'step' })).out;
  expectFinite('sequence', seq);
  // Saturated gates are exactly 0/1 in both; the rest go through the same expressions (measured
  // bit-identical on lavapipe). hn_lin reaches ~2e2 and dhCarry / dh0 ~5e2, sums of terms up to
  // ±20·|·| each, so a different contraction would show up as a few ulps of those terms: the
  // absolute parts cover that.
  compare('sequence = step', row, c, 'forward', seq, step, { atol: 1e-4, rtol: 1e-5 });
  compare('sequence = step', row, c, 'backward', seq, step, { atol: 1e-3, rtol: 1e-5 });
  if (!(Math.max(...seq.hnLin.map(Math.abs)) > 100)) throw new Error('hn_lin stays small: the case is not extreme');
  if (!seq.gates.some((v) => v === 1) || !seq.gates.some((v) => v === 0)) throw new Error('no saturated gate: the case is not extreme');
});

/** An RNN case with half of gx at ±[150, 250]; the rest stays O(1) so that some units are unsaturated. */
function extremeRnnCase(row: CellRow, seed: number, whh: number): Case {
  const c = makeCase(row, seed, 3, 5, 37, 7, [5, 2, 1]);
  const rng = new Rng(seed + 100);
  c.whh = rng.uniformArray(c.H * c.H, -whh, whh);
  c.gx = Float32Array.from(c.gx, (v) => (rng.next() < 0.5 ? v : (rng.next() < 0.5 ? -1 : 1) * rng.uniform(150, 250)));
  return c;
}

test('rnn · per-t and sequence · tanh at ±200 pre-activations saturates to ±1 without NaN, = CPU and the step kernels', async () => {
  const ctx = await gpu();
  const row = cellRow('rnn');
  const c = extremeRnnCase(row, 3, 0.3);
  const step = (await runGpu(ctx, row, c, { schedule: 'step' })).out;
  // Saturated units are exact (tanh_safe(±200) = ±1 in f32, 1 - h² = 0); the others see sums with
  // 200-sized terms, so their absolute error is eps·200·(a few) ~ 5e-5.
  const tol = { atol: 2e-4, rtol: 1e-5 };
  for (const s of [{ schedule: 'per-t' }, { schedule: 'sequence', rows: 2 }] as Schedule[]) {
    const { out } = await runGpu(ctx, row, c, s);
    const want = cpuReference(row, c, out);
    for (const dir of ['forward', 'backward'] as const) {
      compare(s.schedule, row, c, dir, out, want, tol);
      compare(`${s.schedule} = step`, row, c, dir, out, step, TOL_SAME);
    }
    expectFinite(s.schedule, out);
    // The case really saturates: some h are exactly ±1 and some are well inside (-1, 1).
    if (!out.hs.some((v) => Math.abs(v) === 1) || !out.hs.some((v) => v !== 0 && Math.abs(v) < 0.9)) throw new Error('extreme case lost its mix');
  }
});

test('rnn relu · per-t and sequence · ±200 pre-activations: no overflow, = CPU and the step kernels', async () => {
  const ctx = await gpu();
  const row = cellRow('rnn relu');
  const c = extremeRnnCase(row, 4, 0.05);
  const step = (await runGpu(ctx, row, c, { schedule: 'step' })).out;
  // h reaches a few hundred; dot products of 37 such terms (Σ|terms| ~ 1e2..1e3) in f32 give
  // absolute errors ~eps·1e3 per step, compounded over 5 steps (measured 6e-5).
  const tol = { atol: 5e-4, rtol: 1e-5 };
  for (const s of [{ schedule: 'per-t' }, { schedule: 'sequence', rows: 2 }] as Schedule[]) {
    const { out } = await runGpu(ctx, row, c, s);
    const want = cpuReference(row, c, out);
    for (const dir of ['forward', 'backward'] as const) {
      compare(s.schedule, row, c, dir, out, want, tol);
      // Values up to a few hundred: TOL_SAME's relative part covers a few ulps of them.
      compare(`${s.schedule} = step`, row, c, dir, out, step, TOL_SAME);
    }
    expectFinite(s.schedule, out);
    if (!(Math.max(...out.hs) > 100)) throw new Error('relu case does not reach large activations');
  }
});

// ------------------------------------------------------------------ optional tensors

test('gru · step and sequence · backward without dhn and without a carry tensor (pool scratch) = CPU, scratch released', async () => {
  const ctx = await gpu();
  const row = cellRow('gru');
  const c = makeCase(row, 3, 4, 3, 19, 5, [1, 3, 2, 3]);
  c.dhn.fill(0);
  const want = cpuReference(row, c);
  const { B, T, H, G } = c;
  for (const schedule of ['step', 'sequence'] as const) {
    const g = upload(ctx, row, c);
    const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
    const b = { dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dh0: g.dh0 };
    if (schedule === 'step') gruForwardSteps(ctx, f); else gruForwardFused(ctx, f, { rowsPerWorkgroup: 3 });
    const live = ctx.memoryStats().liveBuffers;
    if (schedule === 'step') gruBackwardSteps(ctx, b); else gruBackwardFused(ctx, b, { rowsPerWorkgroup: 3 });
    if (ctx.memoryStats().liveBuffers !== live) throw new Error(`${schedule}: the backward kept its scratch carry`);
    expectClose(`${schedule} dgates`, await ctx.read(g.dgates), want.dgates, { ...TOL_B, shape: [B, T, G] });
    expectClose(`${schedule} dghh`, await ctx.read(g.dghh), want.dghh, { ...TOL_B, shape: [B, T, G] });
    expectClose(`${schedule} dh0`, await ctx.read(g.dh0), want.dh0, { ...TOL_B, shape: [B, H] });
    for (const t of Object.values(g)) t.release();
  }
});

test('rnn relu · step and sequence · without dh0 the backward records T (step) or 1 (sequence) dispatches and the same dgates', async () => {
  const ctx = await gpu();
  const row = cellRow('rnn relu');
  const c = makeCase(row, 5, 4, 3, 19, 5, [1, 3, 2, 3]);
  for (const schedule of ['step', 'sequence'] as const) {
    const g = upload(ctx, row, c);
    const f = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, hn: g.hn };
    const b = { dhs: g.dhs, dhn: g.dhn, hs: g.hs, whh: g.whh, lengths: g.lengths, dgates: g.dgates };
    const opts = { nonlinearity: 'relu' as const };
    if (schedule === 'step') rnnForwardSteps(ctx, f, opts); else rnnForwardFused(ctx, f, opts);
    const before = ctx.dispatchCount;
    if (schedule === 'step') rnnBackwardSteps(ctx, b, opts); else rnnBackwardFused(ctx, b, opts);
    const want = schedule === 'step' ? c.T : 1;
    if (ctx.dispatchCount - before !== want) throw new Error(`${schedule}: ${ctx.dispatchCount - before} dispatches without dh0, expected ${want}`);
    const hs = await ctx.read(g.hs);
    expectClose(`${schedule} dgates`, await ctx.read(g.dgates), cpuReference(row, c, { hs: new Float32Array(hs) }).dgates, { ...TOL_B, shape: [c.B, c.T, c.H] });
    for (const t of Object.values(g)) t.release();
  }
});

// ------------------------------------------------------------------ argument checks

/** Zero-filled tensors that the test releases at its end. */
function maker(ctx: GpuContext) {
  const made: Tensor[] = [];
  const z = (shape: number[], dtype: 'f32' | 'i32' = 'f32', name = 'z') => { const t = ctx.zeros(shape, dtype, name); made.push(t); return t; };
  const lengths = (values: number[]) => { const t = ctx.tensor(Int32Array.from(values), [values.length], 'lengths'); made.push(t); return t; };
  return { z, lengths, release: () => { for (const t of made) t.release(); } };
}

test('lstm · step · bad shapes, dtypes, aliasing and t out of range are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 4 * H;
  const { z, lengths, release } = maker(ctx);
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), c0: z([B, H], 'f32', 'c0'),
    lengths: lengths([T, 1]), hs: z([B, T, H], 'f32', 'hs'), cs: z([B, T, H], 'f32', 'cs'), gates: z([B, T, G], 'f32', 'gates'),
    hn: z([B, H], 'f32', 'hn'), cn: z([B, H], 'f32', 'cn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), dcn: z([B, H], 'f32', 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0,
    whh: f.whh, lengths: f.lengths, dgates: z([B, T, G], 'f32', 'dgates'), dcCarry: z([B, H], 'f32', 'dcCarry'),
    dh0: z([B, H], 'f32', 'dh0'), dc0: z([B, H], 'f32', 'dc0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = lstmK.lstmStepForward, S = lstmK.lstmStepBackward;
  // Forward
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'lstmStepForward', 'gx (flat)', '(6, 20)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, 0, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'lstmStepForward', 'whh (w6)', '(20, 6)', 'expected (4*H, H) = (24, 6)');
  expectThrows(() => F(ctx, 0, { ...f, whh: z([G], 'f32', 'w1d') }), 'whh (w1d)', '(20)', 'expected (*, *)');
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B, T, G + 4], 'f32', 'gx24') }), 'gx (gx24)', '(2, 3, 24)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, 0, { ...f, bhh: z([H], 'f32', 'b5') }), 'bhh (b5)', '(5)', 'expected (20)');
  expectThrows(() => F(ctx, 0, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'lstmStepForward', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, 0, { ...f, gates: z([B, T, H], 'f32', 'g5') }), 'gates (g5)', 'expected (2, 3, 20)');
  expectThrows(() => F(ctx, 0, { ...f, c0: z([H, B], 'f32', 'c0t') }), 'c0 (c0t)', '(5, 2)', 'expected (2, 5)');
  expectThrows(() => F(ctx, 0, { ...f, cn: z([B], 'f32', 'cn1') }), 'cn (cn1)', 'expected (2, 5)');
  expectThrows(() => F(ctx, 0, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, 0, { ...f, gx: z([B, T, G], 'i32', 'gxi') }), 'gx (gxi)', 'dtype i32', 'expected f32');
  expectThrows(() => F(ctx, 0, { ...f, h0: z([B, H], 'i32', 'h0i') }), 'h0 (h0i)', 'dtype i32', 'expected f32');
  expectThrows(() => F(ctx, 0, { ...f, cs: f.hs }), 'lstmStepForward', 'cs and hs must be different tensors');
  for (const t of [-1, T, 1.5, NaN]) expectThrows(() => F(ctx, t, f), 'lstmStepForward', 't must be an integer in [0, 2]', `got ${t}`);
  expectThrows(() => lstmK.lstmForwardSteps(ctx, { ...f, hn: z([B, T, H], 'f32', 'hn3') }), 'lstmForwardSteps', 'hn (hn3)');
  // Backward
  expectThrows(() => S(ctx, 0, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'lstmStepBackward', 'dgates (dg5)', '(2, 3, 5)', 'expected (*, *, 20)');
  expectThrows(() => S(ctx, 0, { ...b, dhs: z([B, T + 1, H], 'f32', 'dhs4') }), 'lstmStepBackward', 'dhs (dhs4)', '(2, 4, 5)', 'expected (2, 3, 5)');
  expectThrows(() => S(ctx, 0, { ...b, dcn: z([B, H + 1], 'f32', 'dcn6') }), 'dcn (dcn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, 0, { ...b, dcCarry: z([B, H], 'i32', 'carryi') }), 'dcCarry (carryi)', 'dtype i32', 'expected f32');
  expectThrows(() => S(ctx, 0, { ...b, lengths: z([B + 1], 'i32', 'len3') }), 'lengths (len3)', '(3)', 'expected (2)');
  expectThrows(() => S(ctx, 0, { ...b, dgates: b.gates }), 'lstmStepBackward', 'dgates and gates must be different tensors');
  for (const t of [-1, T]) expectThrows(() => S(ctx, t, b), 'lstmStepBackward', 't must be an integer in [0, 2]', `got ${t}`);
  expectThrows(() => lstmK.lstmBackwardInitial(ctx, { ...b, dh0: z([B, G], 'f32', 'dh0g') }), 'lstmBackwardInitial', 'dh0 (dh0g)', 'expected (2, 5)');
  expectThrows(() => lstmK.lstmBackwardSteps(ctx, { ...b, dc0: z([B, H], 'i32', 'dc0i') }), 'lstmBackwardSteps', 'dc0 (dc0i)', 'dtype i32');
  expectThrows(() => lstmK.lstmBackwardSteps(ctx, { ...b, dhn: undefined as unknown as Tensor }), 'lstmBackwardSteps', 'dhn must be a Tensor');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // The well-formed arguments are accepted (the checks above are not refusing everything).
  lstmK.lstmForwardSteps(ctx, f);
  lstmK.lstmBackwardSteps(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 2 * T + 2) throw new Error('valid arguments did not record 2T + 2 dispatches');
  release();
});

test('lstm · sequence · bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 4 * H;
  const { z, lengths, release } = maker(ctx);
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), c0: z([B, H], 'f32', 'c0'),
    lengths: lengths([T, 1]), hs: z([B, T, H], 'f32', 'hs'), cs: z([B, T, H], 'f32', 'cs'), gates: z([B, T, G], 'f32', 'gates'),
    hn: z([B, H], 'f32', 'hn'), cn: z([B, H], 'f32', 'cn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), dcn: z([B, H], 'f32', 'dcn'), gates: f.gates, cs: f.cs, c0: f.c0,
    whh: f.whh, lengths: f.lengths, dgates: z([B, T, G], 'f32', 'dgates'), dcCarry: z([B, H], 'f32', 'dcCarry'),
    dh0: z([B, H], 'f32', 'dh0'), dc0: z([B, H], 'f32', 'dc0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = lstmForwardFused, S = lstmBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'lstmForwardFused', 'gx (flat)', '(6, 20)', 'expected (*, *, 20)');
  expectThrows(() => F(ctx, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'lstmForwardFused', 'whh (w6)', 'expected (4*H, H) = (24, 6)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'lstmForwardFused', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, cn: z([B], 'f32', 'cn1') }), 'cn (cn1)', 'expected (2, 5)');
  expectThrows(() => F(ctx, { ...f, cs: f.hs }), 'lstmForwardFused', 'cs and hs must be different tensors');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'lstmForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'lstmBackwardFused', 'dgates (dg5)', 'expected (*, *, 20)');
  expectThrows(() => S(ctx, { ...b, dcn: z([B, H + 1], 'f32', 'dcn6') }), 'lstmBackwardFused', 'dcn (dcn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, { ...b, dc0: z([B, H], 'i32', 'dc0i') }), 'lstmBackwardFused', 'dc0 (dc0i)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dgates: b.gates }), 'lstmBackwardFused', 'dgates and gates must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 1.5 }), 'lstmBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => F(ctx, f, { variant: 'fast' as 'resident' }), 'lstmForwardFused', "variant must be one of 'streamed', 'resident', 'subgroup', 'auto'", 'got "fast"');
  expectThrows(() => ctx.configure({ sequenceVariant: 'cached' as 'resident' }), 'configure', 'sequenceVariant', "'streamed', 'resident', 'subgroup', 'auto'", 'cached');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose backward buffers cannot fit in workgroup memory is refused (and reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 32) + 1;
  if (lstmFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!lstmFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f);
  S(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  release();
});

test('gru · step · bad shapes, dtypes, timesteps and aliases are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const row = cellRow('gru');
  const c = makeCase(row, 9, 3, 5, 4, 2, [5, 2, 1]);
  const g = upload(ctx, row, c);
  const fwd: GruForwardTensors = { gx: g.gx, whh: g.whh, bhh: g.bhh, h0: g.h0, lengths: g.lengths, hs: g.hs, gates: g.gates, hnLin: g.hnLin, hn: g.hn };
  const step: GruBackwardStepTensors = {
    dhs: g.dhs, gates: g.gates, hnLin: g.hnLin, hs: g.hs, h0: g.h0, whh: g.whh, lengths: g.lengths, dgates: g.dgates, dghh: g.dghh, dhCarry: g.dhCarry,
  };
  const { z, release } = maker(ctx);
  const wrongWhh = z([12, 5], 'f32', 'whh_bad'), gx2H = z([3, 5, 8], 'f32', 'gx_bad'), lenF = z([3], 'f32', 'len_f32');
  const hnBad = z([3, 5], 'f32', 'hn_bad'), dgatesI = z([3, 5, 12], 'i32', 'dgates_i32'), carryBad = z([2, 4], 'f32', 'carry_bad');
  const before = ctx.dispatchCount;
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, whh: wrongWhh }), 'gruStepForward', 'whh', '(12, 5)', 'expected (15, 5)');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, gx: gx2H }), 'gruStepForward', 'gx', '(3, 5, 8)', 'expected (*, *, 12)');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, lengths: lenF }), 'gruStepForward', 'lengths', 'dtype f32', 'expected i32');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, hn: hnBad }), 'gruStepForward', 'hn', '(3, 5)', 'expected (3, 4)');
  expectThrows(() => gruStepForward(ctx, 5, fwd), 'gruStepForward', 't must be an integer in [0, 4]', 'got 5');
  expectThrows(() => gruStepForward(ctx, -1, fwd), 'gruStepForward', 'got -1');
  expectThrows(() => gruStepForward(ctx, 1.5, fwd), 'gruStepForward', 'got 1.5');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, hnLin: g.hs }), 'gruStepForward', 'hnLin and hs must be different tensors');
  expectThrows(() => gruStepForward(ctx, 0, { ...fwd, bhh: undefined as unknown as Tensor }), 'gruStepForward', 'bhh must be a Tensor');
  expectThrows(() => gruForwardSteps(ctx, { ...fwd, gates: hnBad }), 'gruForwardSteps', 'gates', 'expected (3, 5, 12)');
  expectThrows(() => gruStepBackward(ctx, 4, { ...step, dgates: dgatesI }), 'gruStepBackward', 'dgates', 'dtype i32', 'expected f32');
  expectThrows(() => gruStepBackward(ctx, 4, { ...step, dhCarry: carryBad }), 'gruStepBackward', 'dhCarry', '(2, 4)', 'expected (3, 4)');
  expectThrows(() => gruStepBackward(ctx, 5, step), 'gruStepBackward', 'got 5');
  expectThrows(() => gruStepBackward(ctx, 0, { ...step, dghh: g.dgates }), 'gruStepBackward', 'dghh and dgates must be different tensors');
  expectThrows(() => gruBackwardInitial(ctx, { dghh: g.dghh, whh: g.whh, dhCarry: g.dhCarry, dh0: carryBad }), 'gruBackwardInitial', 'dh0', 'expected (3, 4)');
  const carryBefore = await ctx.read(g.dhCarry);
  expectThrows(() => gruBackwardSteps(ctx, { ...step, dhn: carryBad, dh0: g.dh0 }), 'gruBackwardSteps', 'dhn', '(2, 4)');
  expectThrows(() => gruBackwardSteps(ctx, { ...step, dhn: g.dhn, dh0: g.dhn }), 'gruBackwardSteps', 'dhn and dh0 must be different tensors');
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  // Nor was the carry copy of gruBackwardSteps recorded.
  expectClose('dhCarry untouched', await ctx.read(g.dhCarry), carryBefore, EXACT);
  release();
  for (const t of Object.values(g)) t.release();
});

test('gru · sequence · bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 5, G = 3 * H;
  const { z, lengths, release } = maker(ctx);
  const f = {
    gx: z([B, T, G], 'f32', 'gx'), whh: z([G, H], 'f32', 'whh'), bhh: z([G], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'),
    lengths: lengths([T, 1]), hs: z([B, T, H], 'f32', 'hs'), gates: z([B, T, G], 'f32', 'gates'), hnLin: z([B, T, H], 'f32', 'hnLin'), hn: z([B, H], 'f32', 'hn'),
  };
  const b = {
    dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), gates: f.gates, hnLin: f.hnLin, hs: f.hs, h0: f.h0, whh: f.whh, lengths: f.lengths,
    dgates: z([B, T, G], 'f32', 'dgates'), dghh: z([B, T, G], 'f32', 'dghh'), dhCarry: z([B, H], 'f32', 'dhCarry'), dh0: z([B, H], 'f32', 'dh0'),
  };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = gruForwardFused, S = gruBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B * T, G], 'f32', 'flat') }), 'gruForwardFused', 'gx (flat)', '(6, 15)', 'expected (*, *, 15)');
  expectThrows(() => F(ctx, { ...f, whh: z([G, H + 1], 'f32', 'w6') }), 'gruForwardFused', 'whh (w6)', 'expected (3*H, H) = (18, 6)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T, H + 1], 'f32', 'hs6') }), 'gruForwardFused', 'hs (hs6)', '(2, 3, 6)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, hnLin: z([B, T + 1, H], 'f32', 'hl4') }), 'gruForwardFused', 'hnLin (hl4)', 'expected (2, 3, 5)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, bhh: z([H], 'f32', 'bhh5') }), 'bhh (bhh5)', 'expected (15)');
  expectThrows(() => F(ctx, { ...f, hn: f.h0 }), 'gruForwardFused', 'hn and h0 must be different tensors');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'gruForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H], 'f32', 'dg5') }), 'gruBackwardFused', 'dgates (dg5)', 'expected (2, 3, 15)');
  expectThrows(() => S(ctx, { ...b, dhs: z([B, T, G], 'f32', 'dhs15') }), 'gruBackwardFused', 'dhs (dhs15)', 'expected (*, *, 5)');
  expectThrows(() => S(ctx, { ...b, dhn: z([B, H + 1], 'f32', 'dhn6') }), 'gruBackwardFused', 'dhn (dhn6)', 'expected (2, 5)');
  expectThrows(() => S(ctx, { ...b, dh0: z([B, H], 'i32', 'dh0i') }), 'gruBackwardFused', 'dh0 (dh0i)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dhCarry: z([B], 'f32', 'c1') }), 'gruBackwardFused', 'dhCarry (c1)');
  expectThrows(() => S(ctx, { ...b, dghh: b.dgates }), 'gruBackwardFused', 'dghh and dgates must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 1.5 }), 'gruBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose backward buffers (2·3H floats per row) cannot fit in workgroup memory is
  // refused (and reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 24) + 1;
  if (gruFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!gruFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f);
  S(ctx, b);
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  release();
});

test('rnn · step · bad inputs are refused before anything is recorded', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 4;
  const { z, lengths, release } = maker(ctx);
  const f = { gx: z([B, T, H]), whh: z([H, H]), bhh: z([H]), h0: z([B, H]), lengths: lengths([T, 1]), hs: z([B, T, H]), hn: z([B, H]) };
  const bwd = { dhs: z([B, T, H]), dhn: z([B, H]), hs: f.hs, whh: f.whh, lengths: f.lengths, dgates: z([B, T, H]) };
  const dh0 = z([B, H]);
  const mk = (shape: number[], dtype: 'f32' | 'i32' = 'f32') => z(shape, dtype, 'bad');
  const before = ctx.dispatchCount;
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, gx: mk([B, T, H + 1]) }), 'rnnStepForward', 'gx', `(${B}, ${T}, ${H + 1})`, `expected (*, *, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, whh: mk([H, H + 1]) }), 'rnnStepForward', 'whh', `(${H}, ${H + 1})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, lengths: mk([B]) }), 'lengths', 'dtype f32', 'expected i32');
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, hs: mk([B, T + 1, H]) }), 'hs', `expected (${B}, ${T}, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, h0: mk([H, B]) }), 'h0', `expected (${B}, ${H})`);
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, bhh: mk([H], 'i32') }), 'bhh', 'dtype i32');
  expectThrows(() => rnnStepForward(ctx, T, f), 'rnnStepForward', 'timestep', `[0, ${T})`, `got ${T}`);
  expectThrows(() => rnnStepForward(ctx, -1, f), 'timestep');
  expectThrows(() => rnnStepForward(ctx, 0, f, { nonlinearity: 'sigmoid' as RnnNonlinearity }), 'nonlinearity', 'sigmoid');
  expectThrows(() => rnnStepForward(ctx, 0, { ...f, hn: f.h0 }), 'hn', 'h0', 'different tensors');
  expectThrows(() => rnnForwardSteps(ctx, { ...f, hn: mk([B, H + 1]) }), 'rnnForwardSteps', 'hn');
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dgates: mk([B, T, H + 1]) }), 'rnnStepBackward', 'dgates', `expected (${B}, ${T}, ${H})`);
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dhn: mk([B, H], 'i32') }), 'dhn', 'dtype i32');
  expectThrows(() => rnnStepBackward(ctx, 0, { ...bwd, dgates: bwd.dhs }), 'dgates', 'dhs', 'different tensors');
  expectThrows(() => rnnStepBackward(ctx, 1.5, bwd), 'timestep');
  expectThrows(() => rnnBackwardInitial(ctx, { dgates: bwd.dgates, whh: f.whh, dh0: mk([B, H + 1]) }), 'rnnBackwardInitial', 'dh0', `expected (${B}, ${H})`);
  expectThrows(() => rnnBackwardSteps(ctx, { ...bwd, dh0: mk([B]) }), 'rnnBackwardSteps', 'dh0');
  expectThrows(() => rnnBackwardSteps(ctx, { ...bwd, lengths: mk([B + 1], 'i32') }), 'lengths', `expected (${B})`);
  if (ctx.dispatchCount !== before) throw new Error('a dispatch was recorded for bad input');
  // The wrappers record T + 1 forward (the final-state gather) and T + 1 backward (the initial-state entry).
  const count = (rec: () => void): number => { const n = ctx.dispatchCount; rec(); return ctx.dispatchCount - n; };
  const nf = count(() => rnnForwardSteps(ctx, f)), nb = count(() => rnnBackwardSteps(ctx, { ...bwd, dh0 }));
  if (nf !== T + 1 || nb !== T + 1) throw new Error(`dispatches: forward ${nf}, backward ${nb}`);
  await ctx.sync();
  release();
});

test('rnn · sequence · bad shapes, dtypes, aliasing and options are refused before any dispatch', async () => {
  const ctx = await gpu();
  const B = 2, T = 3, H = 4;
  const { z, lengths, release } = maker(ctx);
  const f = { gx: z([B, T, H], 'f32', 'gx'), whh: z([H, H], 'f32', 'whh'), bhh: z([H], 'f32', 'bhh'), h0: z([B, H], 'f32', 'h0'), lengths: lengths([T, 1]), hs: z([B, T, H], 'f32', 'hs'), hn: z([B, H], 'f32', 'hn') };
  const b = { dhs: z([B, T, H], 'f32', 'dhs'), dhn: z([B, H], 'f32', 'dhn'), hs: f.hs, whh: f.whh, lengths: f.lengths, dgates: z([B, T, H], 'f32', 'dgates'), dh0: z([B, H], 'f32', 'dh0') };
  await ctx.sync();
  const before = ctx.dispatchCount;
  const F = rnnForwardFused, S = rnnBackwardFused;
  expectThrows(() => F(ctx, { ...f, gx: z([B, T, H + 1], 'f32', 'gx5') }), 'rnnForwardFused', 'gx (gx5)', '(2, 3, 5)', 'expected (*, *, 4)');
  expectThrows(() => F(ctx, { ...f, whh: z([H, H + 1], 'f32', 'w45') }), 'rnnForwardFused', 'whh (w45)', '(4, 5)', 'expected (5, 5)');
  expectThrows(() => F(ctx, { ...f, hs: z([B, T + 1, H], 'f32', 'hs4') }), 'rnnForwardFused', 'hs (hs4)', 'expected (2, 3, 4)');
  expectThrows(() => F(ctx, { ...f, h0: z([H, B], 'f32', 'h0t') }), 'rnnForwardFused', 'h0 (h0t)', 'expected (2, 4)');
  expectThrows(() => F(ctx, { ...f, lengths: z([B], 'f32', 'lenf') }), 'lengths (lenf)', 'dtype f32', 'expected i32');
  expectThrows(() => F(ctx, { ...f, bhh: z([H], 'i32', 'bhhi') }), 'bhh (bhhi)', 'dtype i32');
  expectThrows(() => F(ctx, { ...f, hn: f.h0 }), 'rnnForwardFused', 'hn and h0 must be different tensors');
  expectThrows(() => F(ctx, f, { nonlinearity: 'sigmoid' as RnnNonlinearity }), 'rnnForwardFused', 'nonlinearity', 'sigmoid');
  expectThrows(() => F(ctx, f, { rowsPerWorkgroup: 0 }), 'rnnForwardFused', 'rowsPerWorkgroup must be a positive integer');
  expectThrows(() => S(ctx, { ...b, dgates: z([B, T, H + 1], 'f32', 'dg5') }), 'rnnBackwardFused', 'dgates (dg5)', 'expected (2, 3, 4)');
  expectThrows(() => S(ctx, { ...b, dhn: z([B, H], 'i32', 'dhni') }), 'rnnBackwardFused', 'dhn (dhni)', 'dtype i32');
  expectThrows(() => S(ctx, { ...b, dh0: z([B], 'f32', 'dh01') }), 'rnnBackwardFused', 'dh0 (dh01)', 'expected (2, 4)');
  expectThrows(() => S(ctx, { ...b, lengths: z([B + 1], 'i32', 'len3') }), 'rnnBackwardFused', 'lengths (len3)', 'expected (2)');
  expectThrows(() => S(ctx, { ...b, dgates: b.dhs }), 'rnnBackwardFused', 'dgates and dhs must be different tensors');
  expectThrows(() => S(ctx, b, { rowsPerWorkgroup: 2.5 }), 'rnnBackwardFused', 'rowsPerWorkgroup must be a positive integer');
  if (ctx.dispatchCount !== before) throw new Error(`${ctx.dispatchCount - before} dispatches were recorded for bad input`);
  // A hidden size whose (2·H floats per row) buffers cannot fit in workgroup memory is refused (and
  // reported as unsupported).
  const bigH = Math.ceil(ctx.limits.maxComputeWorkgroupStorageSize / 8) + 1;
  if (rnnFusedSupported(ctx, bigH)) throw new Error(`H = ${bigH} reported as supported`);
  if (!rnnFusedSupported(ctx, 128)) throw new Error('H = 128 reported as unsupported');
  F(ctx, f, { nonlinearity: 'relu' });
  S(ctx, b, { nonlinearity: 'relu' });
  await ctx.sync();
  if (ctx.dispatchCount - before !== 4) throw new Error('valid arguments did not record 4 dispatches');
  release();
});

// ------------------------------------------------------------------ layers: both schedules, both directions

const LAYERS: Record<string, (schedule: RecurrentSchedule | undefined) => Recurrent> = {
  lstm: (schedule) => new LSTM({ hiddenSize: 37, numLayers: 2, bidirectional: true, schedule }),
  gru: (schedule) => new GRU({ hiddenSize: 37, numLayers: 2, bidirectional: true, schedule }),
  rnn: (schedule) => new RNN({ hiddenSize: 37, numLayers: 2, bidirectional: true, nonlinearity: 'tanh', schedule }),
  'rnn relu': (schedule) => new RNN({ hiddenSize: 37, numLayers: 2, bidirectional: true, nonlinearity: 'relu', schedule }),
};

/** Loss, every parameter's gradient and the initial-state gradients of embedding → 2-layer
 *  bidirectional layer → dense, and the dispatches computeGradients recorded. */
async function modelGradients(ctx: GpuContext, layer: Recurrent): Promise<Map<string, Float32Array>> {
  const model = new Sequential([new Embedding({ numEmbeddings: 13, embeddingDim: 7 }), layer, new Dense({ units: 13 })], { seed: 5 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  const rng = new Rng(6);
  const B = 3, T = 5;
  const before = ctx.dispatchCount;
  model.computeGradients({ x: rng.intArray(B * T, 13), shape: [B, T], y: rng.intArray(B * T, 13), lengths: Int32Array.from([5, 2, 1]) }, { training: false });
  const out = new Map<string, Float32Array>();
  out.set('dispatches', Float32Array.of(ctx.dispatchCount - before));
  out.set('loss', Float32Array.of(await model.readLoss()));
  for (const [name, p] of model.namedParameters()) out.set(`d${name}`, await ctx.read(p.grad!));
  out.set('dh0', await ctx.read(layer.initialStateGrad!.h));
  if (layer.initialStateGrad!.c) out.set('dc0', await ctx.read(layer.initialStateGrad!.c));
  model.dispose();
  return out;
}

for (const [name, make] of Object.entries(LAYERS)) {
  test(`${name} layer (2-layer bidirectional) · step = sequence · loss and every gradient (per-layer option and context setting)`, async () => {
    const ctx = await gpu();
    const settings = ctx.settings;
    try {
      ctx.configure({ recurrentSchedule: 'auto' });
      const step = await modelGradients(ctx, make('step'));
      const perLayer = await modelGradients(ctx, make('sequence'));
      ctx.configure({ recurrentSchedule: 'sequence' });
      const global = await modelGradients(ctx, make(undefined));
      // The sequence kernels really ran: per (layer, direction) the step schedule records T + 1
      // forward and T + 1 backward dispatches, the sequence schedule 2 and 2 (2 layers × 2
      // directions, T = 5).
      const saved = 4 * (2 * 5 + 2 - 4);
      for (const [what, run] of [['layer option', perLayer], ['context setting', global]] as const) {
        const d = step.get('dispatches')![0] - run.get('dispatches')![0];
        if (d !== saved) throw new Error(`${what}: the sequence schedule recorded ${d} dispatches fewer than the step schedule, expected ${saved}`);
      }
      for (const [k, want] of step) {
        if (k === 'dispatches') continue;
        expectClose(`${k} (layer option)`, perLayer.get(k)!, want, TOL_SAME);
        expectClose(`${k} (context setting)`, global.get(k)!, want, TOL_SAME);
      }
      const reverse = [...step.keys()].find((k) => k.endsWith('weight_hh_l1_reverse'))!;
      if (!step.get(reverse)!.some((v) => Math.abs(v) > 1e-4)) throw new Error(`${reverse} is (almost) zero: the comparison would be vacuous`);
      expectThrows(() => ctx.configure({ recurrentSchedule: 'fast' as RecurrentSchedule }), 'configure', 'recurrentSchedule', 'fast', "'step', 'sequence', 'auto'");
    } finally {
      ctx.configure(settings);
    }
  });
}

// ------------------------------------------------------------------ f16 storage: resident = streamed, subgroup ≈ streamed

/** A one-layer model of a CELLS row with f16 storage (W_ih, W_hh, hs), H = 6, I = 3. */
function halfLayer(row: CellRow): Layer {
  const o = { hiddenSize: 6, inputSize: 3, precision: 'f16' as const, schedule: 'sequence' as const };
  const keras = { activation: row.activation, recurrentActivation: row.recurrentActivation };
  if (row.cell === 'lstm') return new LSTM({ ...o, ...keras, peepholes: row.peepholes });
  if (row.cell === 'gru') return new GRU({ ...o, ...keras, resetAfter: row.resetAfter });
  return new RNN({ ...o, nonlinearity: row.nonlinearity });
}

for (const row of CELLS) {
  test(`${row.name} · precision f16 · sequence resident = sequence streamed, bit for bit; subgroup to rounding (loss, every gradient; B=3 T=5 ragged)`, async () => {
    const ctx = await gpu();
    if (!ctx.features.has('shader-f16')) { console.log(`  skipped: this adapter lacks 'shader-f16' (${ctx.describe()})`); return; }
    const rng = new Rng(21);
    const B = 3, T = 5;
    const batch: Batch = { x: rng.uniformArray(B * T * 3, -1, 1), shape: [B, T, 3], lengths: Int32Array.from([5, 2, 1]), y: rng.uniformArray(B * T * 6, -1, 1) };
    const runs: Map<string, Float32Array>[] = [];
    for (const variant of ['streamed', 'resident', 'subgroup'] as const) {
      const model = new Sequential([halfLayer(row)], { seed: 22 }).build(ctx);
      model.compile({ loss: 'mse', optimizer: new SGD({ lr: 0.1 }) });
      const kernels = new Set<string>(), dispatch = ctx.dispatch;
      ctx.dispatch = (name, ...rest) => { kernels.add(name); return dispatch.call(ctx, name, ...rest); };
      const prev = ctx.configure({ sequenceVariant: variant });
      try { model.computeGradients(batch, { training: false }); } finally { ctx.dispatch = dispatch; ctx.configure(prev); }
      const ran = variant === 'subgroup' && !ctx.features.has('subgroups') ? 'resident' : variant;   // the setting's fallback
      const want = { streamed: ['f16_seq_forward', 'f16_seq_backward'], resident: ['f16_res160_forward', 'f16_res160_backward'], subgroup: ['f16_sg160_forward', 'f16_sg160_backward'] }[ran];
      for (const k of want) if (![...kernels].some((n) => n.endsWith(k))) throw new Error(`${variant}: no ${k} among ${[...kernels].join(', ')}`);
      const out = new Map<string, Float32Array>([['loss', Float32Array.of(await model.readLoss())]]);
      for (const [name, p] of model.namedParameters()) out.set(`d${name}`, await ctx.read(p.grad!));
      runs.push(out);
      model.dispose();
    }
    for (const [k, v] of runs[0]) expectClose(k, runs[1].get(k)!, v, EXACT);
    // The subgroup kernels' sums differ by f32 rounding; where that moves a stored h across an f16
    // rounding boundary it changes by one f16 ulp (2^-11 relative), which the next steps carry.
    for (const [k, v] of runs[0]) expectClose(`subgroup ${k}`, runs[2].get(k)!, v, { atol: 2e-3, rtol: 2e-3 });
    const dwhh = [...runs[0].keys()].find((k) => k.endsWith('weight_hh_l0'));
    if (!dwhh || !runs[0].get(dwhh)!.some((v) => v !== 0)) throw new Error(`${dwhh ?? 'dweight_hh_l0'} is missing or zero: the comparison would be vacuous`);
  });
}

// ------------------------------------------------------------------ layers with options against the CPU model

const MODEL_SCHEDULES: { name: string; schedule: 'step' | 'sequence'; variant?: 'plain' | 'blocked'; seqVariant?: 'streamed' | 'resident' | 'subgroup' }[] = [
  { name: 'step (plain)', schedule: 'step', variant: 'plain' },
  { name: 'step (blocked)', schedule: 'step', variant: 'blocked' },
  { name: 'sequence', schedule: 'sequence', seqVariant: 'streamed' },
  { name: 'sequence resident', schedule: 'sequence', seqVariant: 'resident' },
  { name: 'sequence subgroup (resident without subgroups)', schedule: 'sequence', seqVariant: 'subgroup' },
];

const MODEL_TOL = { atol: 2e-4, rtol: 2e-3 }; // as test/model.test.ts: f32 through 2 layers, T steps, a dense head and the loss

const MODELS: Record<string, () => Layer[]> = {
  'lstm peepholes recurrentActivation=hard_sigmoid activation=relu (2-layer bidirectional)': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new LSTM({ hiddenSize: 5, numLayers: 2, bidirectional: true, peepholes: true, recurrentActivation: 'hard_sigmoid', activation: 'relu' }),
    new Dense({ units: 11 }),
  ],
  'gru resetAfter=false recurrentActivation=hard_sigmoid (2-layer bidirectional)': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new GRU({ hiddenSize: 5, numLayers: 2, bidirectional: true, resetAfter: false, recurrentActivation: 'hard_sigmoid' }),
    new Dense({ units: 11 }),
  ],
  'gru resetAfter=false activation=relu → gru resetAfter=false (stacked layers)': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }), new GRU({ hiddenSize: 7, resetAfter: false, activation: 'relu' }),
    new GRU({ hiddenSize: 4, resetAfter: false }), new Dense({ units: 11 }),
  ],
  'gru activation=linear recurrentActivation=hard_sigmoid (2-layer bidirectional)': () => [
    new Embedding({ numEmbeddings: 11, embeddingDim: 6 }),
    new GRU({ hiddenSize: 5, numLayers: 2, bidirectional: true, activation: 'linear', recurrentActivation: 'hard_sigmoid' }),
    new Dense({ units: 11 }),
  ],
};

for (const [name, layers] of Object.entries(MODELS)) {
  for (const s of MODEL_SCHEDULES) {
    test(`${name} · ${s.name} · model loss and gradients of every parameter and initial state = CPU model (lengths [4, 2, 1])`, async () => {
      const ctx = await gpu();
      const seed = 13;
      const model = new Sequential(layers(), { seed }).build(ctx);
      model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
      for (const l of model.recurrentLayers()) l.schedule = s.schedule;
      const rng = new Rng(seed + 1);
      const V = 11, B = 3, T = 4;
      const batch: Batch = { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths: Int32Array.from([4, 2, 1]) };
      const initialStates: Record<string, { h: Float64Array; c?: Float64Array }> = {};
      const owned: Tensor[] = [];
      for (const l of model.recurrentLayers()) {
        const shape = [l.numLayers * l.numDirections, B, l.hiddenSize], n = shape[0] * B * l.hiddenSize;
        const h = rng.uniformArray(n, -0.5, 0.5), c = rng.uniformArray(n, -0.5, 0.5);
        const ht = ctx.tensor(h, shape, 'h0'), ct = ctx.tensor(c, shape, 'c0');
        owned.push(ht, ct);
        l.setInitialState(l.cell === 'lstm' ? { h: ht, c: ct } : { h: ht });
        initialStates[l.name] = l.cell === 'lstm' ? { h: Float64Array.from(h), c: Float64Array.from(c) } : { h: Float64Array.from(h) };
      }
      const prev = ctx.configure({ ...(s.variant ? { stepVariant: s.variant } : {}), ...(s.seqVariant ? { sequenceVariant: s.seqVariant } : {}) });
      try { model.computeGradients(batch, { training: false }); } finally { ctx.configure(prev); }
      const loss = await model.readLoss();
      const params: Record<string, Float64Array> = {};
      for (const [k, v] of Object.entries(await stateDict(model))) params[k] = Float64Array.from(v.data);
      const ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'softmax_cross_entropy', initialStates);
      expectClose('loss', [loss], [ref.loss], MODEL_TOL);
      for (const [key, p] of model.namedParameters()) expectClose(`d${key}`, await ctx.read(p.grad!), ref.grads[key], { ...MODEL_TOL, shape: p.shape });
      for (const l of model.recurrentLayers() as Recurrent[]) {
        const g = l.initialStateGrad!;
        expectClose(`${l.name} dh0`, await ctx.read(g.h), ref.initialStateGrads[l.name].h, MODEL_TOL);
        if (g.c) expectClose(`${l.name} dc0`, await ctx.read(g.c), ref.initialStateGrads[l.name].c!, MODEL_TOL);
      }
      for (const t of owned) t.release();
      model.dispose();
    });
  }
}

// ------------------------------------------------------------------ the generation schedule

test('lstm peepholes hard_sigmoid → gru resetAfter=false relu hard_sigmoid → lstm activation=sigmoid · generation · the GPU loop\'s logits = the model\'s forward = the CPU generator', async () => {
  const ctx = await gpu();
  const model = new Sequential([
    new Embedding({ numEmbeddings: 13, embeddingDim: 5 }), new LSTM({ hiddenSize: 9, peepholes: true, recurrentActivation: 'hard_sigmoid' }),
    new GRU({ hiddenSize: 7, activation: 'relu', recurrentActivation: 'hard_sigmoid', resetAfter: false }),
    new LSTM({ hiddenSize: 6, activation: 'sigmoid' }), new Dense({ units: 13 }),
  ], { seed: 37 }).build(ctx);
  const spec = generatorSpecOf(model);
  if (typeof spec === 'string') throw new Error(spec);
  const g = packGenerator(ctx, spec);
  const prime = [1, 2, 3], N = 10, V = model.output.size;
  const out = await runGenerator(ctx, g, { prime, length: N, seed: 5, recordLogits: true });
  const all = Int32Array.from([...prime, ...out.tokens[0]]);
  const pred = await model.predict({ x: all.slice(0, -1), shape: [1, all.length - 1] });
  // f32 on both sides, different summation orders (as test/generate.test.ts).
  expectClose('vs forward', out.logits!, pred.data.subarray((prime.length - 1) * V), { atol: 2e-5, rtol: 1e-4 });
  const sd = await stateDict(model);
  const w = (k: string) => sd[k].data;
  const cpuSpec: CpuGeneratorSpec = {
    input: { embedding: w('embedding.weight'), vocab: 13, dim: 5 },
    layers: model.recurrentLayers().map((l) => ({
      cell: l.cell as 'lstm' | 'gru', hiddenSize: l.hiddenSize,
      weight_ih: w(`${l.name}.weight_ih_l0`), weight_hh: w(`${l.name}.weight_hh_l0`), bias_ih: w(`${l.name}.bias_ih_l0`), bias_hh: w(`${l.name}.bias_hh_l0`),
      ...(l.peepholes ? { weight_peephole: w(`${l.name}.weight_peephole_l0`) } : {}),
      options: { activation: l.activation, recurrentActivation: l.recurrentActivation, resetAfter: l.resetAfter },
    })),
    head: { weight: w('dense.weight'), bias: w('dense.bias'), V },
  };
  const forced = cpuGenerate(cpuSpec, { prime, length: N, seed: 5, forced: out.tokens });
  expectClose('vs CPU', out.logits!, forced.logits, { atol: 3e-5, rtol: 1e-4 }); // as test/generate.test.ts
  g.release();
  model.dispose();
});

test.run();
