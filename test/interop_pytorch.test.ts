// PyTorch itself judges our PyTorch interop (test/judges/torch_judge.py, run with Debian's
// python3-torch 1.13; one Python process per direction runs every case):
//   PyTorch → ours: PyTorch builds each model (seeded), torch.save's its state_dict and writes
//     inputs, outputs, loss and the gradients of one training step; we load the .pt with
//     modelFromPyTorch (a description, or inferred from the names and shapes), run the same
//     inputs and compare outputs (1e-5) and gradients (1e-5 + 1e-4 relative).
//   ours → PyTorch: we build the same architectures with our own initialisation, save .pt
//     (encodePyTorch) and .safetensors (encodeModel), and write our outputs, loss and gradients;
//     PyTorch loads both files (torch.load(weights_only=True); safetensors as the format reads)
//     into the same modules and compares with the same tolerances.
// Cases: Embedding / feature inputs, LSTM, GRU, RNN (tanh, relu), stacked, bidirectional,
// variable lengths (PyTorch's packed sequences), a many-to-one head, Linear heads, a bare
// nn.LSTM state_dict. Without PyTorch this file says so and skips; with CI=true it fails.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpu } from './helpers/gpu.ts';
import { closeReport } from './helpers/expect.ts';
import { Sequential, Embedding, LSTM, GRU, RNN, Dense, LastStep, type Layer, type Batch } from '../src/nn/index.ts';
import { SGD } from '../src/train/optimizers.ts';
import { encodeModel, stateDict } from '../src/train/checkpoint.ts';
import { encodePyTorch, modelFromPyTorch, type PyTorchLayerSpec } from '../src/interop/index.ts';

const test = suite('interop_pytorch');
const JUDGE = fileURLToPath(new URL('./judges/torch_judge.py', import.meta.url));
/** Debian's python3 (with python3-torch); WEBGPU_RNN_PYTHON picks another interpreter (a venv with torch). */
const PYTHON = process.env.WEBGPU_RNN_PYTHON || '/usr/bin/python3';
const SKIP_MESSAGE = 'skipped: PyTorch not installed (apt-get install python3-torch)';

interface Case {
  name: string;
  cell: 'lstm' | 'gru' | 'rnn';
  nonlinearity?: 'tanh' | 'relu';
  vocab?: number; emb?: number; input?: number;
  hidden: number; layers: number; bidirectional: boolean;
  head?: number; lastStep?: boolean;
  loss: 'ce' | 'mse';
  batch: number; steps: number;
  lengths?: boolean; lengthsOf?: number[];
  /** The state_dict of the nn.LSTM/GRU/RNN alone (no module prefix). */
  bare?: boolean;
  /** Load without a description: modelFromPyTorch infers the modules. */
  infer?: boolean;
}

const CASES: Case[] = [
  { name: 'lstm_embedding_linear', cell: 'lstm', vocab: 11, emb: 5, hidden: 6, layers: 1, bidirectional: false, head: 11, loss: 'ce', batch: 3, steps: 5 },
  { name: 'lstm_stacked_bidirectional_lengths', cell: 'lstm', vocab: 13, emb: 4, hidden: 5, layers: 2, bidirectional: true, head: 13, loss: 'ce', batch: 3, steps: 6, lengths: true, lengthsOf: [6, 3, 4] },
  { name: 'gru_features_stacked_bidirectional', cell: 'gru', input: 4, hidden: 5, layers: 2, bidirectional: true, head: 3, loss: 'mse', batch: 2, steps: 5 },
  { name: 'gru_embedding_last_step_lengths', cell: 'gru', vocab: 9, emb: 4, hidden: 6, layers: 1, bidirectional: false, lastStep: true, head: 4, loss: 'ce', batch: 3, steps: 5, lengths: true, lengthsOf: [5, 2, 4] },
  { name: 'gru_inferred_bidirectional', cell: 'gru', vocab: 8, emb: 3, hidden: 4, layers: 1, bidirectional: true, head: 8, loss: 'ce', batch: 2, steps: 4, infer: true },
  { name: 'rnn_tanh_embedding_stacked', cell: 'rnn', nonlinearity: 'tanh', vocab: 10, emb: 4, hidden: 6, layers: 2, bidirectional: false, head: 10, loss: 'ce', batch: 3, steps: 5 },
  { name: 'rnn_relu_bidirectional', cell: 'rnn', nonlinearity: 'relu', input: 3, hidden: 5, layers: 1, bidirectional: true, loss: 'mse', batch: 2, steps: 4 },
  { name: 'lstm_bare_inferred', cell: 'lstm', input: 3, hidden: 4, layers: 1, bidirectional: false, loss: 'mse', batch: 2, steps: 4, bare: true, infer: true },
];

/** What torch_judge.py writes per case (and what we write for it to check). */
interface Run {
  x: number[]; xShape: number[]; lengths: number[]; y: number[]; yShape: number[];
  out: number[]; outShape: number[]; mask?: boolean[]; loss: number; grads: Record<string, number[]>;
}

function torchAvailable(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  return r.status === 0;
}

function judge(mode: 'export' | 'check', dir: string): unknown {
  const r = spawnSync(PYTHON, [JUDGE, mode, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`torch_judge.py ${mode} failed (exit ${r.status}):\n${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function description(c: Case): PyTorchLayerSpec[] {
  const d: PyTorchLayerSpec[] = [];
  if (c.vocab) d.push({ embedding: 'emb' });
  const rec = { bidirectional: c.bidirectional, numLayers: c.layers };
  const path = c.bare ? '' : 'rnn';
  if (c.cell === 'rnn') d.push({ rnn: path, nonlinearity: c.nonlinearity!, ...rec });
  else d.push(c.cell === 'lstm' ? { lstm: path, ...rec } : { gru: path, ...rec });
  if (c.lastStep) d.push({ lastStep: true });
  if (c.head) d.push({ linear: 'fc' });
  return d;
}

function batchOf(c: Case, r: Run): Batch {
  return {
    x: c.vocab ? Int32Array.from(r.x) : Float32Array.from(r.x), shape: r.xShape, lengths: r.lengths,
    y: c.loss === 'ce' ? Int32Array.from(r.y) : Float32Array.from(r.y),
  };
}

/** Outputs, loss and gradients of one step of `model` on the case's batch. */
async function runOurs(model: Sequential, c: Case, r: Run): Promise<Run> {
  const ctx = model.context;
  const batch = batchOf(c, r);
  const out = await model.predict(batch);
  model.computeGradients(batch);
  const loss = await model.readLoss();
  const grads: Record<string, number[]> = {};
  for (const [name, p] of model.namedParameters()) grads[name] = Array.from(await ctx.read(p.grad!));
  return { ...r, out: Array.from(out.data), outShape: out.shape, loss, grads };
}

const compileFor = (model: Sequential, c: Case) => model.compile({ loss: c.loss === 'ce' ? 'softmax_cross_entropy' : 'mse', optimizer: new SGD({ lr: 0.1 }) });

const available = torchAvailable();
if (!available) {
  console.log(`interop_pytorch: ${SKIP_MESSAGE}`);
  if (process.env.CI === 'true') test('PyTorch judge is installed (required with CI=true)', () => { throw new Error(`PyTorch is required in CI: ${SKIP_MESSAGE.replace('skipped: ', '')}; scripts/setup.mjs --judges installs it`); });
  else test.skip(SKIP_MESSAGE, () => {});
} else {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-torch-'));
  writeFileSync(join(dir, 'cases.json'), JSON.stringify(CASES));
  let exported: unknown = null;
  const torchRun = (c: Case): Run => {
    exported ??= judge('export', dir);
    return JSON.parse(readFileSync(join(dir, `${c.name}.torch.json`), 'utf8'));
  };

  for (const c of CASES) {
    test(`PyTorch → ours: ${c.name}${c.infer ? ' (modules inferred)' : ''}`, async () => {
      const ctx = await gpu();
      const r = torchRun(c);
      const { model } = modelFromPyTorch(ctx, readFileSync(join(dir, `${c.name}.pt`)), c.infer ? undefined : description(c), { source: `${c.name}.pt` });
      try {
        compileFor(model, c);
        const ours = await runOurs(model, c, r);
        const problems: string[] = [];
        // Outputs past a row's length are PyTorch's zero padding: compared only where valid.
        const keep = (a: number[]) => a.filter((_, i) => r.mask?.[i] ?? true);
        const outs = closeReport('output', keep(ours.out), keep(r.out), { atol: 1e-5, rtol: 0 });
        if (outs) problems.push(outs);
        const loss = closeReport('loss', [ours.loss], [r.loss], { atol: 1e-5, rtol: 1e-5 });
        if (loss) problems.push(loss);
        for (const [name, g] of Object.entries(r.grads)) {
          const ourName = c.bare ? `${c.cell}.${name}` : name; // a bare module's layer is named after its kind
          const mine = ours.grads[ourName];
          if (!mine) { problems.push(`no gradient for ${ourName} (ours: ${Object.keys(ours.grads).join(', ')})`); continue; }
          // float32 sums in another order: 1e-5 absolute plus 1e-4 relative.
          const rep = closeReport(`d${name}`, mine, g, { atol: 1e-5, rtol: 1e-4 });
          if (rep) problems.push(rep);
        }
        if (problems.length) throw new Error(`${c.name}:\n${problems.join('\n')}`);
      } finally {
        model.dispose();
      }
    });
  }

  test('ours → PyTorch: every case loads from .pt and .safetensors, outputs and gradients agree', async () => {
    const ctx = await gpu();
    for (const c of CASES) {
      const layers: Layer[] = [];
      if (c.vocab) layers.push(new Embedding({ numEmbeddings: c.vocab, embeddingDim: c.emb!, name: 'emb' }));
      const o = { hiddenSize: c.hidden, numLayers: c.layers, bidirectional: c.bidirectional, name: 'rnn' };
      layers.push(c.cell === 'lstm' ? new LSTM(o) : c.cell === 'gru' ? new GRU(o) : new RNN({ ...o, nonlinearity: c.nonlinearity }));
      if (c.lastStep) layers.push(new LastStep());
      if (c.head) layers.push(new Dense({ units: c.head, name: 'fc' }));
      const model = new Sequential(layers, { seed: 7 }).configure(c.vocab ? { kind: 'tokens', size: c.vocab } : { kind: 'seq', size: c.input! });
      model.build(ctx);
      try {
        compileFor(model, c);
        const ours = await runOurs(model, c, torchRun(c));
        writeFileSync(join(dir, `${c.name}.ours.json`), JSON.stringify(ours));
        writeFileSync(join(dir, `${c.name}.ours.pt`), encodePyTorch(await stateDict(model)));
        writeFileSync(join(dir, `${c.name}.ours.safetensors`), await encodeModel(model));
      } finally {
        model.dispose();
      }
    }
    const report = judge('check', dir) as { results: { case: string; format: string; ok: boolean; message?: string; outErr?: number; gradErr?: number }[] };
    const failed = report.results.filter((e) => !e.ok);
    if (report.results.length !== CASES.length * 2) throw new Error(`the judge reported ${report.results.length} results, expected ${CASES.length * 2}`);
    if (failed.length) throw new Error(`PyTorch disagrees:\n${failed.map((e) => `  ${e.case} (${e.format}): ${e.message}`).join('\n')}`);
  });

  test.after(() => rmSync(dir, { recursive: true, force: true }));
}

test.run();
