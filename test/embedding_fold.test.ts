// Embedding → recurrent layer with the table folded into W_ih (Embedding.foldInto): for a batch with
// more tokens than table rows, gx = (W_ih·tableᵀ)[:, token] + b_ih, and dW_ih, dtable come from the
// scatter-added d(W_ih·tableᵀ). Checked against the float64 CPU model (which never folds) for every
// cell, on both sides of the switch (B·T > V folds, B·T ≤ V does not), with ragged lengths and two
// stacked layers; that the kernels run are the ones each side should; that bidirectional and f16
// layers never fold; and that training with the fold follows training without it.
import { suite } from 'uvu';
import { Dense, Embedding, GRU, LSTM, RNN, Sequential, type Layer } from '../src/nn/index.ts';
import type { Batch } from '../src/nn/model.ts';
import { Adam, SGD } from '../src/train/optimizers.ts';
import { stateDict } from '../src/train/checkpoint.ts';
import { Rng } from '../src/cpu/random.ts';
import { cpuModelForwardBackward, type CpuLayerConfig } from '../src/cpu/model.ts';
import type { GpuContext } from '../src/runtime/context.ts';
import { expectClose } from './helpers/expect.ts';
import { gpu } from './helpers/gpu.ts';

const test = suite('embedding_fold');
const TOL = { atol: 2e-4, rtol: 2e-3 }; // f32 through the fold, the recurrence, the head and the loss (as the model tests)

/** The kernel names a call dispatches. */
function kernelsOf(ctx: GpuContext, run: () => void): Set<string> {
  const seen = new Set<string>();
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (name, args) => { seen.add(name); dispatch(name, args); };
  try { run(); } finally { ctx.dispatch = dispatch; }
  return seen;
}

const CELLS: Record<string, (o: { hiddenSize: number; numLayers?: number; bidirectional?: boolean; precision?: 'f32' | 'f16' }) => Layer> = {
  lstm: (o) => new LSTM(o),
  'gru resetAfter=false': (o) => new GRU({ ...o, resetAfter: false }),
  rnn: (o) => new RNN(o),
};

/** The batch of B×T tokens over V, with ragged lengths (row 0 full). */
function batchOf(V: number, B: number, T: number, seed: number): Batch {
  const rng = new Rng(seed);
  const lengths = Int32Array.from({ length: B }, (_, b) => (b === 0 ? T : 1 + Math.floor(rng.next() * T)));
  return { x: rng.intArray(B * T, V), shape: [B, T], y: rng.intArray(B * T, V), lengths };
}

for (const [cell, make] of Object.entries(CELLS)) {
  for (const [B, T, folds] of [[4, 5, true], [2, 3, false]] as const) {
    test(`${cell} (2 layers) · B=${B} T=${T}, V=9: ${folds ? 'folded (B·T > V)' : 'not folded (B·T ≤ V)'} · loss and every gradient = CPU model`, async () => {
      const ctx = await gpu();
      const V = 9;
      const model = new Sequential([new Embedding({ numEmbeddings: V, embeddingDim: 6 }), make({ hiddenSize: 7, numLayers: 2 }), new Dense({ units: V })], { seed: 3 }).build(ctx);
      try {
        model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
        const batch = batchOf(V, B, T, 11);
        const kernels = kernelsOf(ctx, () => model.computeGradients(batch, { training: false }));
        const gathered = kernels.has('embedding_project_one_hot'), looked = kernels.has('embedding_forward');
        if (gathered !== folds || looked === folds) throw new Error(`kernels ${[...kernels].join(', ')}: expected the ${folds ? 'folded' : 'plain'} input path`);
        const params: Record<string, Float64Array> = {};
        for (const [k, v] of Object.entries(await stateDict(model))) params[k] = Float64Array.from(v.data);
        const ref = cpuModelForwardBackward(model.layers.map((l) => l.config() as CpuLayerConfig), params, batch, 'softmax_cross_entropy');
        expectClose('loss', [await model.readLoss()], [ref.loss], TOL);
        for (const [key, p] of model.namedParameters()) expectClose(`d${key}`, await ctx.read(p.grad!), ref.grads[key], { ...TOL, shape: p.shape });
      } finally { model.dispose(); }
    });
  }
}

test('bidirectional and f16 recurrent layers never fold (the projection runs as before)', async () => {
  const ctx = await gpu();
  const layers: Layer[] = [new LSTM({ hiddenSize: 5, bidirectional: true })];
  if (ctx.features.has('shader-f16')) layers.push(new GRU({ hiddenSize: 5, precision: 'f16' }));
  for (const rec of layers) {
    const model = new Sequential([new Embedding({ numEmbeddings: 4, embeddingDim: 3 }), rec, new Dense({ units: 4 })], { seed: 5 }).build(ctx);
    try {
      model.compile({ loss: 'softmax_cross_entropy', optimizer: new SGD({ lr: 0.1 }) });
      const kernels = kernelsOf(ctx, () => model.computeGradients(batchOf(4, 3, 6, 2), { training: false }));
      if (!kernels.has('embedding_forward') || kernels.has('embedding_project_one_hot')) throw new Error(`${rec.name}: kernels ${[...kernels].join(', ')}, expected the embedding lookup and no fold`);
      if (!(await model.readLoss() > 0)) throw new Error(`${rec.name}: no loss`);
    } finally { model.dispose(); }
  }
});

test('training 5 Adam steps with the fold follows the same steps without it (weights within 1e-4)', async () => {
  const ctx = await gpu();
  const V = 6, B = 4, T = 8;
  const run = async (fold: boolean) => {
    const emb = new Embedding({ numEmbeddings: V, embeddingDim: 5 });
    const model = new Sequential([emb, new LSTM({ hiddenSize: 8 }), new Dense({ units: V })], { seed: 9 }).build(ctx);
    if (!fold) emb.foldInto = null;   // the plain path on the same batches
    model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 0.01 }), clipNorm: 1 });
    for (let i = 0; i < 5; i++) await model.trainStep(batchOf(V, B, T, 20 + i));
    const w = await stateDict(model);
    model.dispose();
    return w;
  };
  const folded = await run(true), plain = await run(false);
  for (const [k, v] of Object.entries(plain)) expectClose(k, folded[k].data, v.data, { atol: 1e-4, rtol: 1e-3 });
});

test.run();
