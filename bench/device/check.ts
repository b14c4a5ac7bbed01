// The fast paths checked on the adapter they will be timed on, before any timing: every recurrent
// schedule and kernel variant, at each storage precision the adapter has, against the float64 CPU
// model (src/cpu/model.ts). A new driver (a first GPU, NVIDIA's f16 behind a Dawn toggle) can
// compile a kernel and still compute garbage; this says so per path instead of timing it.
//   npx tsx bench/device/check.ts [--json]        (on the GPU machine: node .gpu/check.mjs --json)
//
// Per cell (LSTM, LSTM peepholes, GRU, GRU resetAfter=false, RNN) and size (awkward: B5 T7 H37;
// realistic: B64 T16 H128), one model Embedding → cell → Dense with ragged lengths; for each path
// (step plain / blocked, sequence with each sequence variant) and precision (f32; f16 where the
// adapter has 'shader-f16'): the loss and the gradient of every parameter from one
// computeGradients, compared with the CPU model on the same f32 master weights.
// score = max over values of |gpu - cpu| / (atol + rtol·|cpu|); a path passes when score ≤ 1.
// f32: atol 2e-4, rtol 2e-3 (the model tests' tolerance). f16 storage rounds W_hh, the hidden
// states and the head weight to 11 bits while the reference keeps f32 weights: ten times that,
// atol 2e-3, rtol 2e-2 (on lavapipe f16 paths score below 1e-3 of it; wrong results are off by O(1)).
// `kernels` lists the recurrent kernels the path dispatched, so a variant that fell back (W_hh too
// large, no 'subgroups') is visible. Exit status 1 when any path fails.
import { createContext } from '../../src/node.ts';
import type { GpuContext } from '../../src/runtime/context.ts';
import { SEQUENCE_VARIANTS, STEP_KERNEL_VARIANTS } from '../../src/runtime/settings.ts';
import { Dense, Embedding, GRU, LSTM, RNN, Sequential, type Layer } from '../../src/nn/index.ts';
import type { Batch } from '../../src/nn/model.ts';
import { SGD } from '../../src/train/optimizers.ts';
import { stateDict } from '../../src/train/checkpoint.ts';
import { Rng } from '../../src/cpu/random.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../../src/cpu/model.ts';

export interface CheckRow {
  config: string; adapter: string; cell: string; B: number; T: number; H: number;
  path: string; precision: 'f32' | 'f16'; kernels: string[]; score: number; max_abs_err: number; worst: string; ok: boolean;
}

type Precision = 'f32' | 'f16';
const CELLS: Record<string, (H: number, precision: Precision) => Layer> = {
  lstm: (H, precision) => new LSTM({ hiddenSize: H, precision }),
  'lstm peepholes': (H, precision) => new LSTM({ hiddenSize: H, peepholes: true, precision }),
  gru: (H, precision) => new GRU({ hiddenSize: H, precision }),
  'gru resetAfter=false': (H, precision) => new GRU({ hiddenSize: H, resetAfter: false, precision }),
  rnn: (H, precision) => new RNN({ hiddenSize: H, precision }),
};
const SIZES = [{ B: 5, T: 7, H: 37 }, { B: 64, T: 16, H: 128 }];
const TOL: Record<Precision, { atol: number; rtol: number }> = { f32: { atol: 2e-4, rtol: 2e-3 }, f16: { atol: 2e-3, rtol: 2e-2 } };
const V = 29, E = 16;

interface Path { name: string; schedule: 'step' | 'sequence'; settings: Record<string, string> }
const PATHS: Path[] = [
  ...STEP_KERNEL_VARIANTS.map((v) => ({ name: `step ${v}`, schedule: 'step' as const, settings: { stepVariant: v } })),
  ...SEQUENCE_VARIANTS.filter((v) => v !== 'auto').map((v) => ({ name: `sequence ${v}`, schedule: 'sequence' as const, settings: { sequenceVariant: v } })),
];

/** Runs every path of every cell and size on `ctx`; `log` gets one line per path and `onRow` each
 *  row as soon as it is known (so a run stopped by a time limit keeps what it checked). */
export async function checkPaths(ctx: GpuContext, log: (s: string) => void = () => {}, onRow: (r: CheckRow) => void = () => {}): Promise<CheckRow[]> {
  const adapter = ctx.describe();
  const precisions: Precision[] = ctx.features.has('shader-f16') ? ['f32', 'f16'] : ['f32'];
  if (precisions.length === 1) log(`f16: not checked, this adapter has no 'shader-f16'`);
  const rows: CheckRow[] = [];
  // The recurrent kernels each path records (fallbacks show here).
  const seen = new Set<string>();
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (name, args) => { if (/_(step|seq|res|sg)\w*_(forward|backward)$/.test(name)) seen.add(name); dispatch(name, args); };
  try {
    for (const { B, T, H } of SIZES) {
      const rng = new Rng(B * 1000 + H);
      const lengths = Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + Math.floor(rng.next() * T)));
      const batch: Batch = { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths };
      for (const [cell, make] of Object.entries(CELLS)) {
        let ref: ReturnType<typeof cpuModelForwardBackward> | null = null;
        for (const precision of precisions) {
          for (const path of PATHS) {
            const model = new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: E }), make(H, precision), new Dense({ units: V })], { seed: 7 }).build(ctx);
            try {
              model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
              for (const l of model.recurrentLayers()) l.schedule = path.schedule;
              if (!ref) {
                const params: Record<string, Float64Array> = {};
                for (const [k, v] of Object.entries(await stateDict(model))) params[k] = Float64Array.from(v.data);
                ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'softmax_cross_entropy');
              }
              seen.clear();
              const prev = ctx.configure(path.settings);
              try { model.computeGradients(batch, { training: false }); } finally { ctx.configure(prev); }
              const tol = TOL[precision];
              let score = 0, maxAbs = 0, worst = '';
              const take = (what: string, got: ArrayLike<number>, want: ArrayLike<number>) => {
                for (let i = 0; i < want.length; i++) {
                  const d = Math.abs(got[i] - want[i]);
                  const s = Number.isFinite(d) ? d / (tol.atol + tol.rtol * Math.abs(want[i])) : Infinity;
                  if (s > score || (s === score && !worst)) { score = s; worst = `${what}[${i}]: ${got[i]} vs ${want[i]}`; }
                  maxAbs = Math.max(maxAbs, Number.isFinite(d) ? d : Infinity);
                }
              };
              take('loss', [await model.readLoss()], [ref.loss]);
              for (const [key, p] of model.namedParameters()) take(`d${key}`, await ctx.read(p.grad!), ref.grads[key]);
              const row: CheckRow = {
                config: `check: ${cell} ${path.name} ${precision}`, adapter, cell, B, T, H, path: path.name, precision,
                kernels: [...seen].sort(), score: +score.toPrecision(3), max_abs_err: +maxAbs.toPrecision(3), worst, ok: score <= 1,
              };
              rows.push(row);
              onRow(row);
              log(`${row.ok ? 'ok  ' : 'FAIL'} ${cell.padEnd(20)} B${B} T${T} H${H} ${path.name.padEnd(18)} ${precision}  score ${row.score}  max |err| ${row.max_abs_err}  (${row.kernels.join(', ')})${row.ok ? '' : `  worst ${worst}`}`);
            } finally {
              model.dispose();
            }
          }
        }
      }
    }
  } finally {
    ctx.dispatch = dispatch;
  }
  return rows;
}

// Run directly (also as the bundle .gpu/check.mjs).
if (/check\.(ts|mjs|js)$/.test(process.argv[1] ?? '')) {
  const json = process.argv.includes('--json');
  const ctx = await createContext();
  const log = json ? (s: string) => console.error(s) : console.log;
  log(`adapter: ${ctx.describe()}; features: ${[...ctx.features].sort().join(' ')}`);
  const rows = await checkPaths(ctx, log, json ? (r) => console.log(JSON.stringify(r)) : undefined);
  const failed = rows.filter((r) => !r.ok);
  log(`${rows.length - failed.length} paths agree with the float64 CPU model, ${failed.length} do not`);
  ctx.dispose();
  process.exitCode = failed.length ? 1 : 0;
}
