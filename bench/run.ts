// Benchmarks: ours vs tfjs (webgpu on the same Dawn adapter, cpu, wasm), in one run.
//   npm run bench                     default sizes (a few minutes on lavapipe)
//   npm run bench -- --full           the issue's sizes (Hamlet B64 T100, IMDb B64 T200 E256)
//   npm run bench -- --json           one JSON object per line and configuration
//   npm run bench -- --peers webgpu,cpu,wasm   which tfjs backends to run (default all three; 'none' for none)
//   npm run bench -- --only lstm      configurations whose name contains this
//   npm run bench -- --budget-ms 1500 time budget of each of our timings (default 4000; a GPU needs less)
//   npm run bench -- --kernels        also the step-vs-sequence kernel timings (bench/kernels.ts)
//   npm run bench -- --stream         also streaming-inference latency per block (bench/stream.ts)
//   npm run bench -- --no-baseline    without the comparison with the previous recurrent kernels
//   npm run bench -- --torch-device cuda   PyTorch on the GPU (cuDNN) instead of the CPU: torch_cuda_ms
//   npm run bench -- --no-torch       without PyTorch CPU (default: run when /usr/bin/python3 has torch;
//                                     --python <path> for another interpreter)
//   npm run bench -- --baseline <ref> that comparison against another commit (default: bench/baseline.ts)
// Last, sampling 1,000 characters from the shipped Hamlet checkpoint with the per-token loop and
// with the on-GPU generation kernel (bench/sampling.ts; alone: npm run bench:sampling). Then the
// recurrent kernels against the baseline commit's, both loaded in this process, old and new
// alternating (bench/baseline.ts; alone: npm run bench:baseline): old ms, new ms, ratio = old / new.
//
// Per configuration: our Sequential training step (forward, loss, backward, clip 5, Adam; one
// command buffer, synced, loss not read back) with each recurrent schedule ('step': one dispatch
// per timestep, 'sequence': one dispatch for all timesteps, W_hh streamed from storage every step;
// 'resident': the sequence kernels keeping W_hh in private arrays for all T steps, null where W_hh
// does not fit; 'subgroup' (ours_subgroup_schedule_ms): W_hh split across subgroup lanes, sums by
// subgroupAdd, null with a note where the adapter has no subgroups or W_hh does not fit; each sequence variant again with f16 storage where the adapter has shader-f16),
// and the same model in tfjs
// (tf.sequential with tf.layers.embedding/lstm/gru/dense; one optimizer.minimize step with Adam;
// tfjs has no global-norm clip, so it is left out there), warmed up before timing.
// gflops = matmul FLOPs of our step / our time, where the FLOPs are 2·B·T·(I·G + H·G + H·V)
// forward (input projection, recurrence, head) and 3× that for a training step (forward, dX, dW);
// ceiling_gflops = best GFLOP/s of our own matmul kernels measured in this run.
// torch_cpu_ms = the same model and step in PyTorch on the CPU with 2 threads (bench/torch_peer.py,
// one python process for all configurations, run before ours so the two never overlap), median of
// several steps after a warm-up; ours_vs_torch_cpu = ours ms / torch ms (below 1: ours faster).
// With --torch-device cuda the same on the GPU with cuDNN, each step timed to its end: torch_cuda_ms.
// ours_wasm_ms (inference configurations) = createPredictor(model, { engine: 'wasm' }): the same
// model's ONNX export on onnxruntime-web's wasm backend, the engine 'auto' picks on CPU adapters.
import { createContext } from '../src/node.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { Dense, Embedding, GRU, LastStep, LSTM, Sequential, type Layer, type RecurrentSchedule } from '../src/nn/index.ts';
import { createPredictor } from '../src/nn/predictor.ts';
import { Adam } from '../src/train/optimizers.ts';
import { MATMUL_VARIANTS, matmul } from '../src/kernels/matmul.ts';
import { Rng } from '../src/cpu/random.ts';
import { residentSupported, subgroupSupported } from '../src/kernels/seq_variant.ts';
import type { Batch } from '../src/nn/model.ts';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { wallMs } from './timing.ts';
import { benchLstmKernels, defaultRowsList } from './kernels.ts';
import { benchSampling } from './sampling.ts';
import { benchStream } from './stream.ts';
import { benchBaseline, printBaselineTable } from './baseline.ts';

const argv = process.argv.slice(2);
const flag = (k: string) => argv.includes(k);
const opt = (k: string, d: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const FULL = flag('--full');
const JSON_OUT = flag('--json');
const PEERS = opt('--peers', 'webgpu,cpu,wasm').split(',').filter((p) => p && p !== 'none');
const ONLY = opt('--only', '');
/** Where the PyTorch peer runs: 'cpu' (2 threads; column torch_cpu_ms) or 'cuda' (torch_cuda_ms). */
const TORCH_DEVICE = opt('--torch-device', 'cpu');
if (TORCH_DEVICE !== 'cpu' && TORCH_DEVICE !== 'cuda') throw new Error(`bench: --torch-device must be cpu or cuda, got ${JSON.stringify(TORCH_DEVICE)}`);
/** Wall-clock budget of each of our timings (two trials of as many calls as fit in a third of it). */
const BUDGET_MS = Number(opt('--budget-ms', '4000'));
/** A tfjs configuration gets one timed step only when that step takes longer than this. */
const TFJS_STEP_LIMIT_MS = Number(opt('--tfjs-limit-ms', '20000'));
/** A tfjs configuration whose warm-up step takes longer than this is not timed further. */
const TFJS_SKIP_MS = Number(opt('--tfjs-skip-ms', '60000'));

interface Config {
  name: string;
  cell: 'lstm' | 'gru';
  kind: 'charrnn' | 'imdb';
  train: boolean;
  B: number; T: number; V: number; E: number; H: number;
  /** Stacked recurrent layers (default 1). */
  layers?: number;
}

const hamlet = FULL ? { B: 64, T: 100 } : { B: 16, T: 50 };
const imdb = FULL ? { B: 64, T: 200, E: 256 } : { B: 16, T: 50, E: 64 };
const large = FULL ? { B: 128, T: 128 } : { B: 8, T: 32 };
const CONFIGS: Config[] = ([
  { name: 'hamlet-lstm-train', cell: 'lstm', kind: 'charrnn', train: true, ...hamlet, V: 65, E: 65, H: 128 },
  { name: 'hamlet-gru-train', cell: 'gru', kind: 'charrnn', train: true, ...hamlet, V: 65, E: 65, H: 128 },
  { name: 'imdb-lstm-train', cell: 'lstm', kind: 'imdb', train: true, B: imdb.B, T: imdb.T, V: 20000, E: imdb.E, H: 128 },
  { name: 'hamlet-lstm-infer', cell: 'lstm', kind: 'charrnn', train: false, ...hamlet, V: 65, E: 65, H: 128 },
  { name: 'large-lstm2-train', cell: 'lstm', kind: 'charrnn', train: true, ...large, V: 256, E: 256, H: 512, layers: 2 },
] as Config[]).filter((c) => !ONLY || c.name.includes(ONLY));

function log(s: string): void {
  if (!JSON_OUT) console.log(s);
  else console.error(s);
}

function makeBatch(c: Config, seed: number): Batch {
  const rng = new Rng(seed);
  const x = rng.intArray(c.B * c.T, c.V);
  if (c.kind === 'charrnn') return { x, shape: [c.B, c.T], y: rng.intArray(c.B * c.T, c.V) };
  return { x, shape: [c.B, c.T], y: Float32Array.from({ length: c.B }, () => (rng.next() < 0.5 ? 0 : 1)) };
}

function flopsOf(c: Config): number {
  const G = (c.cell === 'lstm' ? 4 : 3) * c.H;
  const head = c.kind === 'charrnn' ? c.T * c.H * c.V : c.H; // many-to-one: one head row per sequence
  const upper = ((c.layers ?? 1) - 1) * c.T * (c.H * G + c.H * G); // layers above the first: input H
  const fwd = 2 * c.B * (c.T * (c.E * G + c.H * G) + upper + head);
  return c.train ? 3 * fwd : fwd;
}

// ---------------------------------------------------------------- ours

/** How the recurrent layers run: the sequence kernels' variant and the storage precision. */
interface Variant { seqVariant?: 'streamed' | 'resident' | 'subgroup'; precision?: 'f32' | 'f16' }

function benchModel(ctx: GpuContext, c: Config, schedule?: RecurrentSchedule, v: Variant = {}): Sequential {
  const Cell = c.cell === 'lstm' ? LSTM : GRU;
  const precision = v.precision ?? 'f32';
  const layers: Layer[] = c.kind === 'charrnn'
    ? [new Embedding({ numEmbeddings: c.V, embeddingDim: c.E }), new Cell({ hiddenSize: c.H, numLayers: c.layers ?? 1, schedule, precision }), new Dense({ units: c.V })]
    : [new Embedding({ numEmbeddings: c.V, embeddingDim: c.E }), new Cell({ hiddenSize: c.H, schedule, precision }), new LastStep(), new Dense({ units: 1 })];
  return new Sequential(layers, { seed: 1 }).build(ctx);
}

async function oursMs(ctx: GpuContext, c: Config, schedule: RecurrentSchedule, v: Variant = {}): Promise<{ ms: number; peakBytes: number }> {
  const prev = ctx.configure({ sequenceVariant: v.seqVariant ?? 'streamed' });
  try { return await oursVariantMs(ctx, c, schedule, v); } finally { ctx.configure(prev); }
}

/** A sequence-kernel variant's time, or null with a note where it cannot run on this adapter. */
async function variantMs(ctx: GpuContext, c: Config, v: Variant): Promise<{ ms: number | null; note?: string }> {
  if (v.precision === 'f16' && !ctx.features.has('shader-f16')) return { ms: null, note: "no 'shader-f16' on this adapter" };
  if (v.seqVariant === 'resident' && !residentSupported(ctx, c.cell === 'lstm' ? 4 : 3, c.H)) return { ms: null, note: `W_hh (H = ${c.H}) does not fit the resident kernel` };
  if (v.seqVariant === 'subgroup' && !ctx.features.has('subgroups')) return { ms: null, note: "no 'subgroups' on this adapter" };
  if (v.seqVariant === 'subgroup' && !subgroupSupported(ctx, c.cell === 'lstm' ? 4 : 3, c.H)) return { ms: null, note: `W_hh (H = ${c.H}) does not fit the subgroup kernel` };
  try {
    return { ms: (await oursMs(ctx, c, 'sequence', v)).ms };
  } catch (e) {
    return { ms: null, note: (e as Error).message.split('\n')[0] };
  }
}

async function oursVariantMs(ctx: GpuContext, c: Config, schedule: RecurrentSchedule, v: Variant): Promise<{ ms: number; peakBytes: number }> {
  const model = benchModel(ctx, c, schedule, v);
  model.compile({ loss: c.kind === 'charrnn' ? 'softmax_cross_entropy' : 'sigmoid_cross_entropy', optimizer: new Adam({ lr: 0.002 }), clipNorm: 5 });
  const batch = makeBatch(c, 2);
  const step = c.train
    ? async () => { await model.trainStep(batch); await ctx.sync(); }
    : async () => { await model.predict(batch); };
  const ms = await wallMs(step, { warmup: 2, budgetMs: BUDGET_MS, trials: 2 });
  const peakBytes = ctx.memoryStats().liveBytes + ctx.memoryStats().pooledBytes;
  model.dispose();
  return { ms, peakBytes };
}

/** Inference through the wasm engine (onnxruntime-web); null with a note when it cannot run. */
async function oursWasmMs(ctx: GpuContext, c: Config): Promise<{ ms: number | null; note?: string }> {
  const model = benchModel(ctx, c);
  try {
    const predictor = await createPredictor(model, { engine: 'wasm' });
    const batch = makeBatch(c, 2);
    const ms = await wallMs(async () => { await predictor.predict(batch); }, { warmup: 2, budgetMs: BUDGET_MS, trials: 2 });
    await predictor.dispose();
    return { ms };
  } catch (e) {
    return { ms: null, note: (e as Error).message.split('\n')[0] };
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------- ceiling

async function gemmCeiling(ctx: GpuContext): Promise<{ gflops: number; variant: string; shape: string }> {
  const rng = new Rng(3);
  const shapes = [[512, 512, 512], [hamlet.B * hamlet.T, 128, 512]];
  let best = { gflops: 0, variant: '', shape: '' };
  for (const [M, K, N] of shapes) {
    const a = ctx.tensor(rng.uniformArray(M * K), [M, K], 'a'), b = ctx.tensor(rng.uniformArray(K * N), [K, N], 'b'), out = ctx.empty([M, N], 'f32', 'out');
    for (const variant of MATMUL_VARIANTS) {
      const ms = await wallMs(async () => { for (let r = 0; r < 4; r++) matmul(ctx, a, b, out, { variant }); await ctx.sync(); }, { warmup: 1, budgetMs: 1500, trials: 2 }) / 4;
      const gflops = (2 * M * N * K) / (ms * 1e6);
      if (gflops > best.gflops) best = { gflops, variant, shape: `${M}x${K}x${N}` };
    }
    for (const t of [a, b, out]) t.release();
  }
  return best;
}

// ---------------------------------------------------------------- tfjs

type Tf = typeof import('@tensorflow/tfjs');
let tfPromise: Promise<Tf> | null = null;

async function loadTf(): Promise<Tf> {
  if (!tfPromise) {
    tfPromise = (async () => {
      // tfjs-backend-webgpu looks for navigator.gpu: give it Dawn's GPU object (the same adapter ours uses).
      const { create } = await import('webgpu');
      const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
      if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
      if (!g.navigator!.gpu) Object.defineProperty(g.navigator, 'gpu', { value: create([]), configurable: true });
      const tf = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-webgpu');
      await import('@tensorflow/tfjs-backend-wasm');
      return tf;
    })();
  }
  return tfPromise;
}

async function tfjsMs(backend: string, c: Config): Promise<{ ms: number | null; note?: string }> {
  const tf = await loadTf();
  const ok = await tf.setBackend(backend).catch((e: Error) => { log(`tfjs ${backend}: ${e.message}`); return false; });
  if (!ok) return { ms: null, note: `backend ${backend} unavailable` };
  await tf.ready();
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: c.V, outputDim: c.E, inputLength: c.T }));
  const rnn = { units: c.H, returnSequences: c.kind === 'charrnn' };
  // tfjs's GRU has no reset_after (PyTorch's form): its reset-before GRU does the same matmul work.
  for (let l = 0; l < (c.layers ?? 1); l++) {
    const seqOut = l < (c.layers ?? 1) - 1 || rnn.returnSequences;
    m.add(c.cell === 'lstm' ? tf.layers.lstm({ ...rnn, returnSequences: seqOut }) : tf.layers.gru({ ...rnn, returnSequences: seqOut }));
  }
  m.add(tf.layers.dense({ units: c.kind === 'charrnn' ? c.V : 1 }));
  const batch = makeBatch(c, 2);
  const x = tf.tensor2d(Float32Array.from(batch.x), [c.B, c.T]);
  const y = c.kind === 'charrnn' ? tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), c.V) : tf.tensor2d(batch.y as Float32Array, [c.B, 1]);
  const opt = tf.train.adam(0.002);
  const step = async () => {
    if (c.train) {
      const loss = opt.minimize(() => {
        const out = m.apply(x, { training: true }) as import('@tensorflow/tfjs').Tensor;
        return c.kind === 'charrnn'
          ? tf.losses.softmaxCrossEntropy(y, out.reshape([c.B * c.T, c.V]))
          : tf.losses.sigmoidCrossEntropy(y, out);
      }, true);
      await loss!.data();
      loss!.dispose();
    } else {
      const out = m.predict(x) as import('@tensorflow/tfjs').Tensor;
      await out.data();
      out.dispose();
    }
  };
  try {
    let t0 = performance.now();
    await step(); // warm-up: shader compilation, weight creation (not timed)
    const warm = performance.now() - t0;
    // A configuration whose warm-up step alone takes over a minute gets no timed step (the issue:
    // skip a tfjs configuration only where it would take over a minute, and say so).
    if (warm > TFJS_SKIP_MS) return { ms: warm, note: `skipped after the warm-up step alone took ${(warm / 1000).toFixed(0)} s (> ${TFJS_SKIP_MS / 1000} s); its time is the warm-up step's` };
    t0 = performance.now();
    await step();
    const first = performance.now() - t0;
    if (first > TFJS_STEP_LIMIT_MS) return { ms: first, note: `one timed step only (${(first / 1000).toFixed(1)} s > ${TFJS_STEP_LIMIT_MS / 1000} s); warm-up ${(warm / 1000).toFixed(1)} s` };
    const ms = await wallMs(step, { warmup: 0, reps: first > 3000 ? 1 : 2, trials: first > 3000 ? 1 : 2 });
    return { ms: Math.min(ms, first), note: `warm-up step ${(warm / 1000).toFixed(1)} s` };
  } catch (e) {
    // e.g. tfjs-backend-wasm 4.22 has no UnsortedSegmentSum kernel, which the embedding gradient needs.
    return { ms: null, note: `failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    m.dispose(); x.dispose(); y.dispose(); opt.dispose();
  }
}

// ---------------------------------------------------------------- PyTorch

/** Rows of bench/torch_peer.py by configuration name, or a note saying why there are none. */
function torchRows(configs: Config[]): { rows: Map<string, Record<string, unknown>>; note?: string } {
  const rows = new Map<string, Record<string, unknown>>();
  const label = `PyTorch ${TORCH_DEVICE === 'cuda' ? 'CUDA' : 'CPU'}`;
  if (flag('--no-torch')) return { rows, note: `${label}: not run (--no-torch)` };
  if (configs.length === 0) return { rows };
  const python = opt('--python', '/usr/bin/python3');
  const script = fileURLToPath(new URL('./torch_peer.py', import.meta.url));
  const steps = TORCH_DEVICE === 'cuda' ? 30 : 7;
  const run = spawnSync(python, [script], { input: JSON.stringify({ configs, device: TORCH_DEVICE, warmup: 2, steps }), encoding: 'utf8', timeout: 15 * 60_000 });
  if (run.error) return { rows, note: `${label}: not run (${python}: ${run.error.message})` };
  let note: string | undefined;
  for (const line of run.stdout.split('\n').filter((l) => l.trim())) {
    let r: Record<string, unknown>;
    try { r = JSON.parse(line); } catch { continue; }
    if (typeof r.unavailable === 'string') note = `${label}: not run (${r.unavailable})`;
    else if (typeof r.config === 'string') rows.set(r.config, r);
  }
  if (run.status !== 0) note = `${label}: ${python} exited with ${run.status ?? run.signal}: ${run.stderr.trim().split('\n').pop()}`;
  return { rows, note };
}

// ---------------------------------------------------------------- main

const ctx = await createContext();
const adapter = ctx.describe();
log(`adapter: ${adapter}; ${FULL ? 'full' : 'default'} sizes; tfjs peers: ${PEERS.join(', ') || 'none'}`);
const started = performance.now();
const torch = torchRows(CONFIGS);
if (torch.note) log(torch.note);
else log(`PyTorch ${TORCH_DEVICE === 'cuda' ? 'CUDA' : 'CPU (2 threads)'}: ${[...torch.rows.values()].map((r) => `${r.config} ${r.torch_ms} ms`).join(', ')}`);
const ceiling = await gemmCeiling(ctx);
log(`GEMM ceiling: ${ceiling.gflops.toFixed(2)} GFLOP/s (${ceiling.variant}, ${ceiling.shape})`);

const rows: Record<string, unknown>[] = [];
for (const c of CONFIGS) {
  const step = await oursMs(ctx, c, 'step');
  // 'sequence' throws where a size has no sequence kernel on this adapter: reported as null.
  const seq = await oursMs(ctx, c, 'sequence').catch((e: Error) => { log(`${c.name} sequence schedule: ${e.message.split('\n')[0]}`); return { ms: Infinity, peakBytes: 0 }; });
  const variants: Record<string, Variant> = {
    resident: { seqVariant: 'resident' }, subgroup: { seqVariant: 'subgroup' }, sequence_f16: { seqVariant: 'streamed', precision: 'f16' }, resident_f16: { seqVariant: 'resident', precision: 'f16' },
  };
  const timed: Record<string, { ms: number | null; note?: string }> = {};
  for (const [k, v] of Object.entries(variants)) timed[k] = await variantMs(ctx, c, v);
  const ours = Math.min(step.ms, seq.ms, timed.resident.ms ?? Infinity, timed.subgroup.ms ?? Infinity);
  const fmt = (t: { ms: number | null; note?: string }) => (t.ms === null ? `- (${t.note})` : `${t.ms.toFixed(1)} ms`);
  log(`  ${c.name} ours: step schedule ${step.ms.toFixed(1)} ms, sequence schedule ${seq.ms.toFixed(1)} ms, resident ${fmt(timed.resident)}, subgroup ${fmt(timed.subgroup)}; f16: sequence ${fmt(timed.sequence_f16)}, resident ${fmt(timed.resident_f16)}`);
  const row: Record<string, unknown> = {
    config: c.name, adapter, B: c.B, T: c.T, V: c.V, E: c.E, H: c.H, train: c.train,
    ours_ms: +ours.toFixed(2), ours_step_schedule_ms: +step.ms.toFixed(2), ours_sequence_schedule_ms: Number.isFinite(seq.ms) ? +seq.ms.toFixed(2) : null,
    ...Object.fromEntries(Object.entries(timed).flatMap(([k, t]) => {
      const name = k === 'resident' ? 'ours_resident_schedule' : `ours_${k}_schedule`;
      return [[`${name}_ms`, t.ms === null ? null : +t.ms.toFixed(2)], ...(t.note ? [[`${name}_note`, t.note]] : [])];
    })),
    tokens_per_s: Math.round((c.B * c.T) / (ours / 1000)),
    gflops: +(flopsOf(c) / (ours * 1e6)).toFixed(3), ceiling_gflops: +ceiling.gflops.toFixed(3),
    of_ceiling: +((flopsOf(c) / (ours * 1e6)) / ceiling.gflops).toFixed(3),
    gpu_pool_bytes: Math.max(step.peakBytes, seq.peakBytes),
  };
  if (!c.train) {
    const w = await oursWasmMs(ctx, c);
    row.ours_wasm_ms = w.ms === null ? null : +w.ms.toFixed(2);
    if (w.note) row.ours_wasm_note = w.note;
    log(`  ${c.name} ours, wasm engine (onnxruntime-web): ${w.ms === null ? `- (${w.note})` : `${w.ms.toFixed(1)} ms`}`);
  }
  const t = torch.rows.get(c.name);
  const torchMs = typeof t?.torch_ms === 'number' ? t.torch_ms : null;
  row[`torch_${TORCH_DEVICE}_ms`] = torchMs;
  row[`ours_vs_torch_${TORCH_DEVICE}`] = torchMs === null ? null : +(ours / torchMs).toFixed(3);
  if (t?.torch_version) row.torch_version = t.torch_version;
  if (t?.torch_gpu) row.torch_gpu = t.torch_gpu;
  if (t?.torch_note) row[`torch_${TORCH_DEVICE}_note`] = t.torch_note;
  for (const p of ['webgpu', 'cpu', 'wasm']) {
    if (!PEERS.includes(p)) { row[`tfjs_${p}_ms`] = null; continue; }
    const r = await tfjsMs(p, c);
    row[`tfjs_${p}_ms`] = r.ms === null ? null : +r.ms.toFixed(1);
    row[`speedup_vs_tfjs_${p}`] = r.ms === null ? null : +(r.ms / ours).toFixed(2);
    if (r.note) row[`tfjs_${p}_note`] = r.note;
    log(`  ${c.name} tfjs-${p}: ${r.ms === null ? '-' : r.ms.toFixed(1)} ms${r.note ? ` (${r.note})` : ''}`);
  }
  rows.push(row);
  if (JSON_OUT) console.log(JSON.stringify(row));
  else log(`${c.name}: ours ${ours.toFixed(1)} ms (step ${step.ms.toFixed(1)}, sequence ${seq.ms.toFixed(1)}), tfjs-webgpu ${row.tfjs_webgpu_ms ?? '-'} ms, tfjs-cpu ${row.tfjs_cpu_ms ?? '-'} ms, tfjs-wasm ${row.tfjs_wasm_ms ?? '-'} ms`);
}

if (!JSON_OUT) {
  const f = (v: unknown, d = 1) => (typeof v === 'number' ? v.toFixed(d) : '-');
  console.log(`\nadapter: ${adapter}`);
  console.table(rows.map((r) => ({
    config: r.config, 'B×T': `${r.B}×${r.T}`, 'ours ms': f(r.ours_ms), 'step/seq ms': `${f(r.ours_step_schedule_ms)} / ${f(r.ours_sequence_schedule_ms)}`, 'ours wasm ms': f(r.ours_wasm_ms),
    'tfjs-webgpu ms': f(r.tfjs_webgpu_ms), '×': f(r.speedup_vs_tfjs_webgpu, 2), 'tfjs-cpu ms': f(r.tfjs_cpu_ms), '× cpu': f(r.speedup_vs_tfjs_cpu, 2),
    'tfjs-wasm ms': f(r.tfjs_wasm_ms), '× wasm': f(r.speedup_vs_tfjs_wasm, 2),
    [`torch-${TORCH_DEVICE} ms`]: f(r[`torch_${TORCH_DEVICE}_ms`]), 'ours/torch': f(r[`ours_vs_torch_${TORCH_DEVICE}`], 2), 'GFLOP/s': f(r.gflops, 2), 'of ceiling': `${f((r.of_ceiling as number) * 100, 0)}%`,
  })));
  for (const r of rows) for (const p of ['webgpu', 'cpu', 'wasm']) if (r[`tfjs_${p}_note`]) console.log(`${r.config} tfjs-${p}: ${r[`tfjs_${p}_note`]}`);
}

if (!ONLY || 'sampling'.includes(ONLY) || ONLY.includes('sampl') || 'hamlet-sample-1000'.includes(ONLY)) {
  const srows = await benchSampling(ctx, { length: 1000, log });
  for (const r of srows) {
    if (JSON_OUT) console.log(JSON.stringify(r));
  }
}

if (flag('--stream') || ONLY.includes('stream')) {
  for (const r of await benchStream(ctx, { log })) if (JSON_OUT) console.log(JSON.stringify(r));
}

if (flag('--kernels')) {
  const krows = await benchLstmKernels(ctx, hamlet.B, hamlet.T, 128, defaultRowsList(ctx, hamlet.B, 128));
  for (const k of krows) {
    if (JSON_OUT) console.log(JSON.stringify({ config: `kernel: ${k.kernel}`, adapter, ...k, ceiling_gflops: +ceiling.gflops.toFixed(3) }));
    else log(`${k.kernel.padEnd(20)} B${k.B} T${k.T} H${k.H} rows/wg ${k.rows_per_wg ?? '-'}: ${k.dispatches} dispatches, wall ${k.wall_ms.toFixed(2)} ms, gpu ${k.gpu_ms?.toFixed(2) ?? 'n/a'} ms, ${k.gflops.toFixed(2)} GFLOP/s (ceiling ${ceiling.gflops.toFixed(2)})`);
  }
}
ctx.dispose();

if (!flag('--no-baseline')) {
  const base = await benchBaseline({ ref: argv.includes('--baseline') ? opt('--baseline', '') : undefined, only: ONLY || undefined, log });
  if ('note' in base) log(base.note);
  else if (JSON_OUT) for (const r of base.rows) console.log(JSON.stringify(r));
  else {
    console.log(`\nrecurrent kernels, old (${base.baseline}) vs new (this tree); ratio = old ms / new ms, ≥ 0.95: new at least as fast`);
    printBaselineTable(base.rows);
  }
}
log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exit(0);
