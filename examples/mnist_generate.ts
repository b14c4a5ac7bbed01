// Drawing the bottom half of an MNIST digit from its top half (the UNIST deck): rows are timesteps,
// and the network learns to predict the next row from the rows so far — 2 stacked LSTMs →
// dense ReLU 100 → dense 28, mean squared error, Adam 5e-4 — trained on every step of rows 0–26
// against rows 1–27. To draw, it reads the 14 given rows, then feeds each predicted row back in as
// the next input, one step at a time, carrying the LSTM state (14 steps). The PNG shows, per test
// digit: the original | the input half (the unknown half dark red) | the generated digit (a red
// tick marks where generation starts).
//
//   npx tsx examples/mnist_generate.ts           full run (out/mnist_generate/: grid.png, loss.svg, metrics)
//   npx tsx examples/mnist_generate.ts --quick   2,000 training images, 2 × LSTM 32, lr 5e-3, 2 epochs: about a minute
import { join } from 'node:path';
import { Dense, GRU, LSTM, RNN, Sequential, type Batch, Adam, fit, saveCheckpoint, loadMnist, MNIST_DEFAULT_DIR, type MnistSet } from '../src/node.ts';
import { chunks, shuffledBatches } from './lib/batches.ts';
import { lineChart } from './lib/plot.ts';
import { writeImageGrid } from './lib/png.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';

run(async () => {
  const flags = parseFlags('mnist_generate',
    { epochs: 3, hidden: 128, cell: 'lstm', seed: 123, data: MNIST_DEFAULT_DIR, out: 'out/mnist_generate' },
    { epochs: 2, hidden: 32 },
    { batch: { type: 'string' }, lr: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' } });
  const B = Number(flags.extra.batch ?? (flags.quick ? 50 : 100));
  const lr = Number(flags.extra.lr ?? (flags.quick ? 5e-3 : 5e-4));
  const nTrain = Number(flags.extra.train ?? (flags.quick ? 2000 : Infinity));
  const nTest = Number(flags.extra.test ?? (flags.quick ? 200 : 1000));
  if (!Number.isInteger(B) || B < 1) throw new Error(`--batch must be a positive integer, got ${flags.extra.batch}`);
  if (!(lr > 0)) throw new Error(`--lr must be a positive number, got ${flags.extra.lr}`);
  if (!(nTrain >= 1 && nTest >= 1)) throw new Error('--train and --test must be positive counts');

  const train = loadMnist(flags.data, 'train', nTrain);
  const test = loadMnist(flags.data, 't10k', nTest);
  const R = train.rows, W = train.cols, HALF = R / 2; // 28 rows of 28 pixels; 14 given, 14 drawn
  console.log(`MNIST: ${train.count} training images, ${test.count} test images to complete (${HALF} rows given, ${R - HALF} drawn)`);

  // Next-row prediction: inputs rows 0..26, targets rows 1..27, both (B, 27, 28).
  const batchOf = (set: MnistSet, idx: ArrayLike<number>): Batch => {
    const n = idx.length, T = R - 1;
    const x = new Float32Array(n * T * W), y = new Float32Array(n * T * W);
    for (let k = 0; k < n; k++) {
      const img = set.images.subarray(idx[k] * R * W, (idx[k] + 1) * R * W);
      x.set(img.subarray(0, T * W), k * T * W);
      y.set(img.subarray(W), k * T * W);
    }
    return { x, shape: [n, T, W], y };
  };

  const ctx = await openGpu();
  const Cell = { lstm: LSTM, gru: GRU, rnn: RNN }[flags.cell];
  const rnn = new Cell({ hiddenSize: flags.hidden, numLayers: 2, inputSize: W });
  const model = new Sequential([
    rnn,
    new Dense({ units: 100, activation: 'relu', name: 'hidden' }),
    new Dense({ units: W, name: 'row' }),
  ], { seed: flags.seed }).build(ctx);
  model.compile({ loss: 'mse', optimizer: new Adam({ lr }) });

  const dir = outDir(flags.out);
  const ckpt = join(dir, 'mnist_generate.safetensors');
  const started = Date.now();
  const losses: number[] = [];
  const history = await fit(model, {
    epochs: flags.epochs,
    trainBatches: shuffledBatches(train.count, B, flags.seed, (idx) => batchOf(train, idx)),
    stepsPerEpoch: Math.floor(train.count / B),
    logEvery: 5,
    checkpoint: (m) => saveCheckpoint(ckpt, m),
    onStepEnd: (_step, loss) => { if (loss !== undefined) losses.push(loss); },
    onEpochEnd: (log) => console.log(`epoch ${log.epoch}: next-row MSE ${log.loss.toFixed(5)}  (${log.seconds.toFixed(1)} s, ${(log.tokensPerSecond / (R - 1)).toFixed(0)} images/s)`),
  });
  const seconds = (Date.now() - started) / 1000;

  // Drawing: read rows 0..13 (the output at row 13 predicts row 14), then feed each prediction back.
  const draw = async (idx: Int32Array): Promise<Float32Array> => {
    const n = idx.length;
    const top = new Float32Array(n * HALF * W);
    for (let k = 0; k < n; k++) top.set(test.images.subarray(idx[k] * R * W, idx[k] * R * W + HALF * W), k * HALF * W);
    const out = new Float32Array(n * (R - HALF) * W); // (n, 14, 28)
    let pred = await model.predict({ x: top, shape: [n, HALF, W] });
    for (let s = 0; s < R - HALF; s++) {
      const row = new Float32Array(n * W);
      const T = pred.shape[1];
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < W; j++) row[k * W + j] = Math.min(1, Math.max(0, pred.data[(k * T + T - 1) * W + j]));
        out.set(row.subarray(k * W, (k + 1) * W), (k * (R - HALF) + s) * W);
      }
      if (s === R - HALF - 1) break;
      rnn.setInitialState(rnn.finalState()); // carry (h, c) of both layers into the next single step
      pred = await model.predict({ x: row, shape: [n, 1, W] });
    }
    rnn.setInitialState(null);
    return out;
  };

  // Mean squared error of the drawn bottom halves against the truth, beside two naive drawings.
  let mse = 0, blank = 0, repeat = 0;
  const drawn: Float32Array[] = [];
  for (const idx of chunks(Int32Array.from({ length: test.count }, (_, i) => i), 250)) {
    const gen = await draw(idx);
    drawn.push(gen);
    for (let k = 0; k < idx.length; k++) {
      const img = test.images.subarray(idx[k] * R * W, (idx[k] + 1) * R * W);
      for (let r = HALF; r < R; r++) for (let j = 0; j < W; j++) {
        const truth = img[r * W + j];
        mse += (gen[(k * (R - HALF) + r - HALF) * W + j] - truth) ** 2;
        blank += truth ** 2;
        repeat += (img[(HALF - 1) * W + j] - truth) ** 2; // every drawn row = the last given row
      }
    }
  }
  const cells = test.count * (R - HALF) * W;
  mse /= cells; blank /= cells; repeat /= cells;

  // The grid: original | input half | generated, for the first 10 test digits.
  const gen0 = drawn[0];
  const rows = Array.from({ length: Math.min(10, test.count) }, (_, k) => {
    const img = test.images.subarray(k * R * W, (k + 1) * R * W);
    const input = Float32Array.from(img, (v, i) => (i < HALF * W ? v : NaN));
    const generated = Float32Array.from(img, (v, i) => (i < HALF * W ? v : gen0[k * (R - HALF) * W + i - HALF * W]));
    return [img, input, generated].map((data) => ({ width: W, height: R, data }));
  });
  writeImageGrid(join(dir, 'grid.png'), rows, { scale: 3, markRow: HALF });
  lineChart(join(dir, 'loss.svg'), {
    title: `MNIST next-row LSTM (2 × ${flags.cell.toUpperCase()} ${flags.hidden}) — ${ctx.describe()}`,
    xLabel: 'loss read-back (every 5 steps)', yLabel: 'next-row MSE (teacher forced)', series: [{ name: 'training loss', y: losses }],
  });
  console.log(`drew ${test.count} bottom halves: MSE ${mse.toFixed(4)} (blank ${blank.toFixed(4)}, repeating the last given row ${repeat.toFixed(4)}); grid in ${join(dir, 'grid.png')}`);

  const last = history[history.length - 1];
  writeMetrics(dir, {
    generated_mse: mse, blank_mse: blank, repeat_row_mse: repeat, final_loss: last.loss, test_images: test.count,
    train_images: train.count, epochs: history.length, cell: flags.cell, hidden: flags.hidden, seconds,
    images_per_second: last.tokensPerSecond / (R - 1), adapter: ctx.describe(), grid: join(dir, 'grid.png'),
  });
  // Drawing nothing costs `blank`; a model that learned strokes must do clearly better.
  if (flags.quick && !(mse < 0.85 * blank)) throw new Error(`--quick run did not learn: drawn-half MSE ${mse.toFixed(4)} is not below 0.85 × the blank drawing's ${blank.toFixed(4)}`);
  model.dispose();
  ctx.dispose();
});
