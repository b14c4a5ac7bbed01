// The 'subgroup' sequence variant (recurrent/subgroup.wgsl, src/kernels/seq_variant.ts): how W_hh
// is shared among the lanes of every subgroup size WebGPU allows (4..128), the kernels against
// the float64 CPU reference at hidden sizes that are not multiples of the subgroup size, and the
// fallbacks: an explicit `variant: 'subgroup'` is refused, naming the missing feature and what to
// use, on adapters without subgroups (Dawn's GL ES backend), where the setting `sequenceVariant:
// 'subgroup'` runs the resident kernels; the measured choice is kept in ctx.tuned. Each test
// asserts the behaviour matching the adapter it runs on, so it passes on lavapipe (subgroups of 8
// lanes) and on GL ES (none) alike. The table of every cell and option × f32/f16 × forward/backward
// with ragged lengths runs the variant in test/recurrent.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RESIDENT_WMAX_BUCKETS, subgroupLaunch, subgroupShare } from '../src/kernels/seq_variant.ts';
import { LSTM, GRU, Dense, OneHot, Sequential } from '../src/nn/index.ts';
import type { Batch } from '../src/nn/model.ts';
import { Rng } from '../src/cpu/random.ts';
import { SGD } from '../src/train/optimizers.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { expectClose, expectRejects, type Tolerance } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';
import { buffersOf, cellRow, cpuReference, makeCase, runGpu, type CellRow, type Case, type GpuRun, type Outputs } from './helpers/recurrent_cases.ts';

const test = suite('subgroup variant');

// As test/recurrent.test.ts's TOL_F / TOL_B: f32 sums of H (forward) or G (backward) O(1) terms
// against float64, a few ulps each, compounding over T steps; the summation order is the kernel's own.
const TOL_F: Tolerance = { atol: 2e-6, rtol: 1e-5 };
const TOL_B: Tolerance = { atol: 5e-6, rtol: 1e-4 };

function compareAll(what: string, row: CellRow, c: Case, got: Outputs, want: Record<string, ArrayLike<number>>): void {
  const { forward, backward } = buffersOf(row);
  for (const [dir, tol] of [[forward, TOL_F], [backward, TOL_B]] as const) {
    for (const [name, w] of Object.entries(dir)) expectClose(`${what} ${name}`, got[name], want[name], { ...tol, shape: w ? [c.B, c.T, w * c.H] : [c.B, c.H] });
  }
}

const kernelsOf = (run: GpuRun) => [...run.kernels].filter((k) => /_(sg|res)\d+_|_seq_/.test(k)).sort();

/** The kernels the setting 'subgroup' runs on this adapter: sg* where it has subgroups, else res*. */
const expectedKernels = (ctx: GpuContext, cell: string) =>
  (ctx.features.has('subgroups') ? [`${cell}_sg160_backward`, `${cell}_sg160_forward`] : [`${cell}_res160_backward`, `${cell}_res160_forward`]);

const GATES = { lstm: 4, gru: 3, rnn: 1 } as const;

test('W_hh shared among subgroups of 4..128 lanes: every (row, column) held by exactly one lane, within the private-array bound', () => {
  // The index maps of recurrent/subgroup.wgsl, replayed: forward, subgroup g holds rows r = g + i·NS
  // and lane s the columns k = s + m·S at i·KS + m; backward, subgroup g the columns j = g + c·NS and
  // lane s the rows r = s + m·S at c·MR + m.
  for (const NG of [1, 3, 4]) {
    for (const H of [1, 5, 13, 33, 37, 128]) {
      for (const WG of [128, 256]) {
        for (let S = 4; S <= 128; S *= 2) {
          const G = NG * H, NS = WG / S, KS = Math.ceil(H / S), MR = Math.ceil(G / S), bound = subgroupShare(NG, H, WG, S);
          for (const dir of ['forward', 'backward'] as const) {
            const seen = new Uint8Array(G * H);
            let most = 0;
            for (let g = 0; g < NS; g++) {
              for (let s = 0; s < S; s++) {
                if (dir === 'forward') {
                  for (let i = 0; g + i * NS < G; i++) for (let k = s; k < H; k += S) { seen[(g + i * NS) * H + k]++; most = Math.max(most, i * KS + Math.floor(k / S) + 1); }
                } else {
                  for (let j = g; j < H; j += NS) for (let r = s; r < G; r += S) { seen[r * H + j]++; most = Math.max(most, Math.floor(j / NS) * MR + Math.floor(r / S) + 1); }
                }
              }
            }
            const what = `${dir} NG=${NG} H=${H} WG=${WG} S=${S}`;
            if (seen.some((n) => n !== 1)) throw new Error(`${what}: a weight is held by ${seen.find((n) => n !== 1)} lanes, expected exactly 1`);
            if (most > bound) throw new Error(`${what}: a lane indexes ${most} values, expected at most subgroupShare = ${bound}`);
          }
        }
      }
    }
  }
});

test('the launch: a workgroup of whole subgroups, the smallest bucket, and the reason where it cannot run', async () => {
  const ctx = await gpu();
  const launch = subgroupLaunch(ctx, 4, 37, 1);
  if (!ctx.features.has('subgroups')) {
    assert.ok('why' in launch && /lacks the WebGPU feature 'subgroups'/.test(launch.why), JSON.stringify(launch));
    return;
  }
  if (!('WG' in launch)) throw new Error(`LSTM H=37 should run the subgroup kernel here: ${launch.why}`);
  const max = (ctx.adapter?.info as { subgroupMaxSize?: number } | undefined)?.subgroupMaxSize ?? 128;
  assert.ok(launch.WG % max === 0 && launch.WG <= 256, `WG = ${launch.WG}, expected a multiple of ${max} up to 256`);
  assert.is(launch.wmax, RESIDENT_WMAX_BUCKETS[0]);
  const big = subgroupLaunch(ctx, 4, 300, 1);
  assert.ok('why' in big && /expected at most 512/.test(big.why), JSON.stringify(big));
});

for (const name of ['lstm peepholes activation=hard_sigmoid', 'gru resetAfter=false', 'rnn relu']) {
  test(`${name} · explicit variant 'subgroup' · the subgroup kernels = CPU (B=3 H=13 T=4, ragged), or refused before anything is recorded without subgroups`, async () => {
    const ctx = await gpu();
    const row = cellRow(name);
    const c = makeCase(row, 31, 3, 4, 13, 5, [4, 1, 3]);
    if (!ctx.features.has('subgroups')) {
      // Work an earlier test left recorded would be submitted by this call's uploads: finish it first.
      await ctx.sync();
      const before = { d: ctx.dispatchCount, s: ctx.submitCount };
      await expectRejects(() => runGpu(ctx, row, c, { schedule: 'sequence', seqVariant: 'subgroup' }),
        "variant 'subgroup' cannot run W_hh", "lacks the WebGPU feature 'subgroups'", "use variant 'resident' or 'streamed'");
      if (ctx.dispatchCount !== before.d || ctx.submitCount !== before.s) throw new Error('the refused call recorded or submitted work');
      return;
    }
    const run = await runGpu(ctx, row, c, { schedule: 'sequence', seqVariant: 'subgroup' });
    assert.equal(kernelsOf(run), [`${row.cell}_sg160_backward`, `${row.cell}_sg160_forward`]);
    compareAll('subgroup', row, c, run.out, cpuReference(row, c));
  });
}

// WebGPU allows subgroups of 4 to 128 lanes; this adapter has one size. An adapter that reports
// 4..128 gets workgroups of 128 or 256 lanes (multiples of 128), which the kernel splits into NS = WG / S
// subgroups of whatever size it runs with; H = 5 is below every size, 13 and 33 are not multiples.
for (const H of [5, 13, 33]) {
  test(`lstm, gru, rnn · setting 'subgroup' on an adapter reporting subgroup sizes 4..128 · H=${H} = CPU (resident kernels without subgroups)`, async () => {
    const ctx = await gpu();
    const own = Object.getOwnPropertyDescriptor(ctx, 'adapter')!;
    Object.defineProperty(ctx, 'adapter', { value: { info: { subgroupMinSize: 4, subgroupMaxSize: 128 } }, configurable: true });
    const prev = ctx.configure({ sequenceVariant: 'subgroup' });
    try {
      for (const name of ['lstm', 'gru resetAfter=false', 'rnn']) {
        const row = cellRow(name);
        const c = makeCase(row, 40 + H, 3, 4, H, 3, [4, 2, 3]);
        if (ctx.features.has('subgroups')) {
          const launch = subgroupLaunch(ctx, GATES[row.cell], H, 1);
          assert.ok('WG' in launch && launch.WG % 128 === 0, `${name}: ${JSON.stringify(launch)}, expected workgroups of whole 128-lane subgroups`);
        }
        const run = await runGpu(ctx, row, c, { schedule: 'sequence' });
        assert.equal(kernelsOf(run), expectedKernels(ctx, row.cell), name);
        compareAll(`${name} H=${H}`, row, c, run.out, cpuReference(row, c));
      }
    } finally {
      ctx.configure(prev);
      Object.defineProperty(ctx, 'adapter', own);
    }
  });
}

function model(ctx: GpuContext) {
  const m = new Sequential([new OneHot(7), new LSTM({ hiddenSize: 8, schedule: 'sequence' }), new GRU({ hiddenSize: 5, schedule: 'sequence', resetAfter: false }), new Dense({ units: 7 })], { seed: 5 }).build(ctx);
  m.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
  return m;
}

async function lossAndKernels(ctx: GpuContext, b: Batch): Promise<{ loss: number; kernels: string[] }> {
  const m = model(ctx), kernels = new Set<string>(), dispatch = ctx.dispatch;
  ctx.dispatch = (name, ...rest) => { kernels.add(name); return dispatch.call(ctx, name, ...rest); };
  try { m.computeGradients(b, { training: false }); } finally { ctx.dispatch = dispatch; }
  const loss = await m.readLoss();
  m.dispose();
  return { loss, kernels: [...kernels].filter((k) => /_(sg|res)\d+_|_seq_/.test(k)).sort() };
}

test("a model under the setting 'subgroup' and under a measured 'subgroup' (ctx.tuned, exported and imported): the subgroup kernels (resident without subgroups), the streamed loss to rounding", async () => {
  const ctx = await gpu();
  const rng = new Rng(6);
  const B = 3, T = 5;
  const b: Batch = { x: rng.intArray(B * T, 7), shape: [B, T], y: rng.intArray(B * T, 7), lengths: Int32Array.from([5, 3, 1]) };
  const want = [...expectedKernels(ctx, 'gru'), ...expectedKernels(ctx, 'lstm')].sort();
  let prev = ctx.configure({ sequenceVariant: 'streamed' });
  const streamed = await lossAndKernels(ctx, b);
  ctx.configure({ sequenceVariant: 'subgroup' });
  const set = await lossAndKernels(ctx, b);
  ctx.configure(prev);
  assert.equal(set.kernels, want);
  // Another summation order in W_hh·h_prev: f32 rounding through two layers and the loss.
  expectClose('loss', [set.loss], [streamed.loss], { atol: 1e-6, rtol: 1e-5 });

  ctx.tuned.clear();
  ctx.tuned.set('lstm', { B, T, H: 8 }, 'sequence');
  ctx.tuned.set('gru', { B, T, H: 5 }, 'sequence');
  ctx.tuned.setVariant('lstm', { B, T, H: 8 }, 'subgroup');
  ctx.tuned.setVariant('gru', { B, T, H: 5 }, 'subgroup');
  const saved = ctx.tuned.export();
  assert.ok(saved.includes('"sequence/subgroup"'), saved);
  ctx.tuned.clear();
  ctx.tuned.import(saved);
  assert.is(ctx.tuned.getVariant('gru', { B, T, H: 5 }), 'subgroup');
  prev = ctx.configure({ sequenceVariant: 'auto' });
  try {
    const tuned = await lossAndKernels(ctx, b);
    assert.equal(tuned.kernels, want);
    assert.is(tuned.loss, set.loss);
  } finally {
    ctx.configure(prev);
    ctx.tuned.clear();
  }
});

test.run();
