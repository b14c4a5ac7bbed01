// The page side of `npm run bench:browser` (bench/browser-race.ts bundles it with esbuild): ours
// against tfjs-webgpu on the same navigator.gpu adapter, training step and inference, one page.
// Results go to globalThis.race ({ done, adapter, rows, error }) for the driver to read.
import { Adam, createBrowserContext, Dense, Embedding, GRU, LSTM, Sequential, type Batch, type GpuContext } from '../src/index.ts';
import { Rng } from '../src/cpu/random.ts';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';

interface RaceConfig { name: string; cell: 'lstm' | 'gru'; train: boolean; B: number; T: number; V: number; H: number }
export interface RaceRow { config: string; B: number; T: number; V: number; H: number; train: boolean; ours_ms: number; tfjs_webgpu_ms: number | null; speedup_vs_tfjs_webgpu: number | null; ours_steps: number; tfjs_steps: number; tfjs_webgpu_note?: string }

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

async function ours(ctx: GpuContext, c: RaceConfig): Promise<{ ms: number; steps: number }> {
  const Cell = c.cell === 'lstm' ? LSTM : GRU;
  const model = new Sequential([new Embedding({ numEmbeddings: c.V, embeddingDim: c.V }), new Cell({ hiddenSize: c.H }), new Dense({ units: c.V })], { seed: 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.002 }), clipNorm: 5 });
  const batch = batchOf(c);
  try {
    return await medianMs(c.train ? async () => { await model.trainStep(batch); await ctx.sync(); } : async () => { await model.predict(batch); });
  } finally { model.dispose(); }
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

async function main(): Promise<void> {
  const ctx = await createBrowserContext();
  state.adapter = ctx.describe();
  const ok = await tf.setBackend('webgpu').catch(() => false);
  if (ok) await tf.ready();
  for (const c of CONFIGS) {
    state.progress = `${c.name}: ours`;
    const o = await ours(ctx, c);
    let t: { ms: number; steps: number } | null = null, note: string | undefined;
    if (!ok) note = 'tfjs webgpu backend unavailable in this page';
    else {
      state.progress = `${c.name}: tfjs-webgpu`;
      t = await tfjs(c).catch((e: Error) => { note = `failed: ${e.message.split('\n')[0]}`; return null; });
    }
    state.rows.push({
      config: c.name, B: c.B, T: c.T, V: c.V, H: c.H, train: c.train,
      ours_ms: +o.ms.toFixed(1), ours_steps: o.steps,
      tfjs_webgpu_ms: t ? +t.ms.toFixed(1) : null, tfjs_steps: t?.steps ?? 0,
      speedup_vs_tfjs_webgpu: t ? +(t.ms / o.ms).toFixed(2) : null,
      ...(note ? { tfjs_webgpu_note: note } : {}),
    });
  }
  ctx.dispose();
}

main().catch((e: Error) => { state.error = e.stack ?? e.message; }).finally(() => { state.done = true; });
