// The page side of `npm run bench:browser` (bench/browser-race.ts bundles it with esbuild): ours
// against tfjs-webgpu on the same navigator.gpu adapter, training step and inference, one page; for
// inference also onnxruntime-web on the same model exported with exportOnnx (same weights), on its
// WebGPU execution provider and on its wasm provider (threads as the driver's query string says).
// onnxruntime-web only runs a model, so training rows carry ort_*_ms: null with a note saying so.
// Results go to globalThis.race ({ done, adapter, rows, error }) for the driver to read.
import { Adam, createBrowserContext, createPredictor, Dense, Embedding, GRU, LSTM, Sequential, type Batch, type GpuContext, type RecurrentSchedule } from '../src/index.ts';
import { Rng } from '../src/cpu/random.ts';
import { exportOnnx } from '../src/interop/onnx/index.ts';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
// Two builds of onnxruntime-web, each with its own env: the WebGPU one (its native WebGPU execution
// provider) and the plain wasm one (the CPU kernels without the WebGPU build's asyncify overhead).
import * as ortWebgpu from 'onnxruntime-web/webgpu';
import * as ortWasm from 'onnxruntime-web/wasm';

interface RaceConfig { name: string; cell: 'lstm' | 'gru'; train: boolean; B: number; T: number; V: number; H: number }
export interface RaceRow {
  config: string; B: number; T: number; V: number; H: number; train: boolean; ours_ms: number; ours_steps: number;
  tfjs_webgpu_ms: number | null; speedup_vs_tfjs_webgpu: number | null; tfjs_steps: number; tfjs_webgpu_note?: string;
  /** onnxruntime-web's WebGPU execution provider; vs_ort_web is its time over ours; max_abs_diff is against our output. */
  ort_web_ms: number | null; vs_ort_web: number | null; ort_web_steps: number; ort_web_note?: string; ort_web_max_abs_diff?: number;
  /** Where onnxruntime-web's WebGPU session placed the nodes (from its session log). */
  ort_web_placement?: string;
  /** onnxruntime-web's wasm provider with ort_wasm_threads threads; vs_ort_wasm is its time over ours. */
  ort_wasm_ms: number | null; vs_ort_wasm: number | null; ort_wasm_steps: number; ort_wasm_note?: string; ort_wasm_max_abs_diff?: number; ort_wasm_threads: number;
  /** Inference through `createPredictor(model)` (engine 'auto': the wasm engine on this fallback
   *  adapter), its engine, and ort_wasm_ms / ours_auto_ms (≥ 0.5: within 2× of ort's wasm). */
  ours_auto_ms?: number | null; ours_auto_engine?: string; ort_wasm_vs_ours_auto?: number | null; ours_auto_note?: string;
}

const B = 16, T = 50, H = 128, V = 65;
const CONFIGS: RaceConfig[] = [
  { name: 'hamlet-lstm-train', cell: 'lstm', train: true, B, T, V, H },
  { name: 'hamlet-gru-train', cell: 'gru', train: true, B, T, V, H },
  { name: 'hamlet-lstm-infer', cell: 'lstm', train: false, B, T, V, H },
  { name: 'hamlet-gru-infer', cell: 'gru', train: false, B, T, V, H },
];
const WARMUP = 2, STEPS = 5;
/** A side whose steps are slow gets fewer timed steps: at least one, then until this budget is spent. */
const BUDGET_MS = 30_000;
/** ort's output must match ours this closely on the timed batch before its time counts. */
const ORT_TOLERANCE = 1e-3;
const ORT_TRAIN_NOTE = 'onnxruntime-web runs inference only (no training)';
const query = new URLSearchParams(location.search);
/** Where the driver serves node_modules/onnxruntime-web/dist, and how many wasm threads to ask for. */
const ORT_DIST = new URL(query.get('ortDist') ?? '/ort/', location.href).href;
const ORT_THREADS = Number(query.get('ortThreads') ?? '1');
/** A substring of configuration names to run (the driver's --only), else all. */
const ONLY = query.get('only') ?? '';
/** Our recurrent layers' schedule (the driver's --schedule; default 'auto'), and whether the peers run. */
const SCHEDULE = (query.get('schedule') ?? 'auto') as RecurrentSchedule;
const OURS_ONLY = query.get('oursOnly') === '1';

const state = { done: false, adapter: '', rows: [] as RaceRow[], error: '', progress: '' };
(globalThis as unknown as { race: typeof state }).race = state;

function batchOf(c: RaceConfig): Batch {
  const rng = new Rng(2);
  return { x: rng.intArray(c.B * c.T, c.V), shape: [c.B, c.T], y: rng.intArray(c.B * c.T, c.V) };
}

/** Median wall ms of `step` after `WARMUP` untimed calls. */
async function medianMs(step: () => Promise<void>): Promise<{ ms: number; steps: number }> {
  for (let i = 0; i < WARMUP; i++) await step();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < STEPS && (times.length === 0 || performance.now() - started < BUDGET_MS)) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], steps: times.length };
}

interface OursResult {
  ms: number; steps: number; inference?: { onnx: Uint8Array; output: Float32Array };
  auto?: { ms: number | null; engine?: string; note?: string };
}

/** Ours, and for inference the model as ONNX and its output on the batch, for onnxruntime-web to match. */
async function ours(ctx: GpuContext, c: RaceConfig): Promise<OursResult> {
  const Cell = c.cell === 'lstm' ? LSTM : GRU;
  const model = new Sequential([new Embedding({ numEmbeddings: c.V, embeddingDim: c.V }), new Cell({ hiddenSize: c.H, schedule: SCHEDULE }), new Dense({ units: c.V })], { seed: 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.002 }), clipNorm: 5 });
  const batch = batchOf(c);
  try {
    const timed = await medianMs(c.train ? async () => { await model.trainStep(batch); await ctx.sync(); } : async () => { await model.predict(batch); });
    if (c.train) return timed;
    const output = (await model.predict(batch)).data;
    // No lengths input: every row runs T steps, as in our batch, and the recurrent operators get no sequence_lens.
    const onnx = await exportOnnx(model, { lengths: false, tokenType: 'int32' });
    return { ...timed, inference: { onnx, output }, auto: await oursAuto(model, batch, output) };
  } finally { model.dispose(); }
}

/** The same model through createPredictor's automatic choice (the page hands it onnxruntime-web). */
async function oursAuto(model: Sequential, batch: Batch, want: Float32Array): Promise<NonNullable<OursResult['auto']>> {
  try {
    const predictor = await createPredictor(model, { ort: ortWasm });
    try {
      const got = (await predictor.predict(batch)).data;
      const diff = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
      if (!(diff <= ORT_TOLERANCE)) return { ms: null, engine: predictor.engine, note: `output differs from predict by ${diff}` };
      return { ms: (await medianMs(async () => { await predictor.predict(batch); })).ms, engine: predictor.engine };
    } finally { await predictor.dispose(); }
  } catch (e) {
    return { ms: null, note: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function tfjs(c: RaceConfig): Promise<{ ms: number; steps: number }> {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: c.V, outputDim: c.V, inputLength: c.T }));
  m.add((c.cell === 'lstm' ? tf.layers.lstm : tf.layers.gru)({ units: c.H, returnSequences: true }));
  m.add(tf.layers.dense({ units: c.V }));
  const batch = batchOf(c);
  const x = tf.tensor2d(Float32Array.from(batch.x), [c.B, c.T]);
  const y = tf.oneHot(tf.tensor1d(batch.y as Int32Array, 'int32'), c.V);
  const opt = tf.train.adam(0.002);
  const step = async () => {
    const out = c.train
      ? opt.minimize(() => tf.losses.softmaxCrossEntropy(y, (m.apply(x, { training: true }) as tf.Tensor).reshape([c.B * c.T, c.V])), true)!
      : m.predict(x) as tf.Tensor;
    await out.data();
    out.dispose();
  };
  try { return await medianMs(step); } finally { m.dispose(); x.dispose(); y.dispose(); opt.dispose(); }
}

interface OrtResult { ms: number | null; steps: number; note?: string; placement?: string; maxDiff?: number }
type Ort = typeof ortWebgpu;

/**
 * The console lines printed while `body` runs (still printed as well). ort's wasm module binds
 * console.log/error once, when it loads, so the tap is installed at page start, before that.
 */
let tapped: string[] | null = null;
for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const print = console[m].bind(console);
  console[m] = (...args: unknown[]) => {
    tapped?.push(args.map(String).join(' '));
    print(...args);
  };
}

async function captureConsole<R>(body: () => Promise<R>): Promise<{ result: R; lines: string[] }> {
  const lines: string[] = [];
  tapped = lines;
  try { return { result: await body(), lines }; } finally { tapped = null; }
}

/**
 * Where onnxruntime-web put the nodes, from its verbose session log ("All nodes placed on [X]" or one
 * "Node(s) placed on [X]. Number of nodes: n" per provider, and "webgpu kernel not found ... Op type:
 * Y" for each op it left to the CPU), and whether the recurrent op (LSTM / GRU) is among those
 * (null: the log did not say).
 */
async function ortPlacement(ort: Ort, onnx: Uint8Array, recurrentOp: string): Promise<{ placement: string; recurrentOnCpu: boolean | null }> {
  const { result: session, lines } = await captureConsole(() => ort.InferenceSession.create(onnx, { executionProviders: ['webgpu'], logSeverityLevel: 0, logVerbosityLevel: 0 }));
  await session.release();
  const placed: string[] = [];
  const noKernel = new Set<string>();
  for (const line of lines) {
    const all = /All nodes placed on \[(\w+)\]\.\s*Number of nodes: (\d+)/.exec(line);
    const some = /Node\(s\) placed on \[(\w+)\]\.\s*Number of nodes: (\d+)/.exec(line);
    if (all) placed.push(`all ${all[2]} nodes on ${all[1]}`);
    else if (some) placed.push(`${some[2]} nodes on ${some[1]}`);
    const missing = /webgpu kernel not found in registries for Op type: (\w+)/.exec(line);
    if (missing) noKernel.add(missing[1]);
  }
  if (!placed.length) return { placement: `no node placement in the session log (${lines.length} lines)`, recurrentOnCpu: null };
  return {
    placement: placed.join(', ') + (noKernel.size ? `; no WebGPU kernel for ${[...noKernel].join(', ')}` : ''),
    recurrentOnCpu: noKernel.has(recurrentOp) || !placed.some((p) => p.includes('WebGpuExecutionProvider')),
  };
}

/** Largest |a[i] − b[i]|; NaN anywhere makes it NaN. */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > max) max = d;
  }
  return max;
}

/** One onnxruntime-web provider on the exported model: output checked against ours, then timed. */
async function ortSide(ort: Ort, ep: 'webgpu' | 'wasm', c: RaceConfig, inference: NonNullable<OursResult['inference']>): Promise<OrtResult> {
  const recurrentOp = c.cell.toUpperCase();
  const where = ep === 'webgpu' ? await ortPlacement(ort, inference.onnx, recurrentOp) : undefined;
  const placement = where?.placement;
  // A fallback is timed all the same (it is what a user of ort's WebGPU provider gets) but said so.
  const fallback = where?.recurrentOnCpu ? `fell back: the ${recurrentOp} node was not placed on WebGPU (${placement})`
    : where?.recurrentOnCpu === null ? `could not confirm that the ${recurrentOp} node ran on WebGPU: ${placement}` : undefined;
  const session = await ort.InferenceSession.create(inference.onnx, { executionProviders: [ep] });
  const tokens = new ort.Tensor('int32', Int32Array.from(batchOf(c).x), [c.B, c.T]);
  try {
    const run = async () => (await session.run({ tokens })).output;
    const out = await run();
    const got = out.data as Float32Array;
    out.dispose();
    if (got.length !== inference.output.length) return { ms: null, steps: 0, placement, note: `output has ${got.length} values, ours ${inference.output.length}` };
    const maxDiff = maxAbsDiff(got, inference.output);
    if (!(maxDiff <= ORT_TOLERANCE)) return { ms: null, steps: 0, placement, maxDiff, note: `output differs from ours: max |diff| ${maxDiff.toExponential(2)} > ${ORT_TOLERANCE}` };
    const timed = await medianMs(async () => { (await run()).dispose(); });
    return { ...timed, placement, maxDiff, note: fallback };
  } finally { await session.release(); }
}

async function ortOrNote(ort: Ort, ep: 'webgpu' | 'wasm', c: RaceConfig, o: OursResult): Promise<OrtResult> {
  if (!o.inference) return { ms: null, steps: 0, note: ORT_TRAIN_NOTE };
  state.progress = `${c.name}: onnxruntime-web ${ep}`;
  return ortSide(ort, ep, c, o.inference).catch((e: Error) => ({ ms: null, steps: 0, note: `failed: ${e.message.split('\n')[0]}` }));
}

async function main(): Promise<void> {
  const ctx = await createBrowserContext();
  state.adapter = ctx.describe();
  const ok = await tf.setBackend('webgpu').catch(() => false);
  if (ok) await tf.ready();
  for (const ort of [ortWebgpu, ortWasm]) {
    ort.env.wasm.wasmPaths = ORT_DIST;
    ort.env.wasm.numThreads = ORT_THREADS;
  }
  for (const c of CONFIGS.filter((k) => k.name.includes(ONLY))) {
    state.progress = `${c.name}: ours`;
    const o = await ours(ctx, c);
    let t: { ms: number; steps: number } | null = null, note: string | undefined;
    if (!ok) note = 'tfjs webgpu backend unavailable in this page';
    else if (OURS_ONLY) note = 'not run (--ours-only)';
    else {
      state.progress = `${c.name}: tfjs-webgpu`;
      t = await tfjs(c).catch((e: Error) => { note = `failed: ${e.message.split('\n')[0]}`; return null; });
    }
    const skipped: OrtResult = { ms: null, steps: 0, note: 'not run (--ours-only)' };
    const web = OURS_ONLY ? skipped : await ortOrNote(ortWebgpu, 'webgpu', c, o);
    const wasm = OURS_ONLY ? skipped : await ortOrNote(ortWasm, 'wasm', c, o);
    const ratio = (ms: number | null) => (ms === null ? null : +(ms / o.ms).toFixed(2));
    state.rows.push({
      config: c.name, B: c.B, T: c.T, V: c.V, H: c.H, train: c.train,
      ours_ms: +o.ms.toFixed(1), ours_steps: o.steps,
      tfjs_webgpu_ms: t ? +t.ms.toFixed(1) : null, tfjs_steps: t?.steps ?? 0,
      speedup_vs_tfjs_webgpu: t ? +(t.ms / o.ms).toFixed(2) : null,
      ...(note ? { tfjs_webgpu_note: note } : {}),
      ort_web_ms: web.ms === null ? null : +web.ms.toFixed(1), vs_ort_web: ratio(web.ms), ort_web_steps: web.steps,
      ...(web.note ? { ort_web_note: web.note } : {}), ...(web.placement ? { ort_web_placement: web.placement } : {}),
      ...(web.maxDiff !== undefined ? { ort_web_max_abs_diff: +web.maxDiff.toExponential(2) } : {}),
      ort_wasm_ms: wasm.ms === null ? null : +wasm.ms.toFixed(1), vs_ort_wasm: ratio(wasm.ms), ort_wasm_steps: wasm.steps,
      ...(wasm.note ? { ort_wasm_note: wasm.note } : {}), ...(wasm.maxDiff !== undefined ? { ort_wasm_max_abs_diff: +wasm.maxDiff.toExponential(2) } : {}),
      // What ort settled on: it drops to 1 thread where the page is not cross-origin isolated.
      ort_wasm_threads: ortWasm.env.wasm.numThreads ?? ORT_THREADS,
      ...(o.auto ? {
        ours_auto_ms: o.auto.ms === null ? null : +o.auto.ms.toFixed(1), ours_auto_engine: o.auto.engine,
        ort_wasm_vs_ours_auto: o.auto.ms === null || wasm.ms === null ? null : +(wasm.ms / o.auto.ms).toFixed(2),
        ...(o.auto.note ? { ours_auto_note: o.auto.note } : {}),
      } : {}),
    });
  }
  ctx.dispose();
}

main().catch((e: Error) => { state.error = e.stack ?? e.message; }).finally(() => { state.done = true; });
