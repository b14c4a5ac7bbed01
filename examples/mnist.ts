// MNIST digits read row by row (the Simplilearn deck): each 28×28 image is a sequence of 28
// timesteps of 28 pixels scaled to [0, 1]; the recurrent layer's output at the last row goes through
// a dense layer to 10 logits, trained with softmax cross-entropy and Adam 1e-3 in batches of 150.
// The deck's cell is a vanilla RNN of 150 units (`--cell rnn`); the default is an LSTM of 128.
// After every epoch the 10,000 test images are classified (argmax of the logits).
//
//   npx tsx examples/mnist.ts               full run (60k images; loss curve, checkpoint in out/mnist/)
//   npx tsx examples/mnist.ts --cell rnn    the deck's RNN of 150 units
//   npx tsx examples/mnist.ts --quick       3,000 training / 1,000 test images, LSTM 48, batch 50, lr 1e-2,
//                                           2 epochs: about a minute on a software GPU
//   npx tsx examples/mnist.ts --deep        the deck's deep RNN: three stacked basic RNN cells of 100 units
//                                           (MultiRNNCell), the top layer's last output → dense 10, clip 5;
//                                           with --quick: RNN 48 ×3, lr 3e-3, 3 epochs (63% of 1,000 test digits)
//   npx tsx examples/mnist.ts --hidden 64 --epochs 3 --batch 100 --lr 5e-3 --ship examples/web/public/mnist.safetensors
//                                           also writes the final model with its measured test accuracy
//                                           in the metadata (the web page's shipped checkpoint)
import { join } from 'node:path';
import { Dense, GRU, LastStep, LSTM, RNN, Sequential, type Batch, Adam, fit, saveCheckpoint, loadMnist, MNIST_DEFAULT_DIR, type MnistSet } from '../src/node.ts';
import { accuracy, chunks, shuffledBatches } from './lib/batches.ts';
import { lineChart } from './lib/plot.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';

run(async () => {
  const flags = parseFlags('mnist',
    // hidden 0 = the cell's default: 150 for rnn (the deck), 128 for lstm and gru.
    { epochs: 10, hidden: 0, cell: 'lstm', seed: 123, data: MNIST_DEFAULT_DIR, out: 'out/mnist' },
    { epochs: 2, hidden: 48 },
    { batch: { type: 'string' }, lr: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' }, ship: { type: 'string' }, deep: { type: 'boolean' } });
  // --deep: the deck's MultiRNNCell of three BasicRNNCells (tanh) of 100 units.
  const deep = flags.extra.deep === true;
  const layers = deep ? 3 : 1;
  const cell = deep ? 'rnn' : flags.cell;
  const hidden = flags.hidden || (deep ? 100 : cell === 'rnn' ? 150 : 128);
  const B = Number(flags.extra.batch ?? (flags.quick ? 50 : 150));
  const lr = Number(flags.extra.lr ?? (flags.quick ? (deep ? 3e-3 : 1e-2) : 1e-3));
  // The deep RNN learns more slowly: its quick run takes 3 epochs unless --epochs says otherwise.
  const epochs = deep && flags.quick && !process.argv.some((a) => a === '--epochs' || a.startsWith('--epochs=')) ? 3 : flags.epochs;
  const nTrain = Number(flags.extra.train ?? (flags.quick ? 3000 : Infinity));
  const nTest = Number(flags.extra.test ?? (flags.quick ? 1000 : Infinity));
  if (!Number.isInteger(B) || B < 1) throw new Error(`--batch must be a positive integer, got ${flags.extra.batch}`);
  if (!(lr > 0)) throw new Error(`--lr must be a positive number, got ${flags.extra.lr}`);
  if (!(nTrain >= 1 && nTest >= 1)) throw new Error('--train and --test must be positive counts');

  // --data is the folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-… (or *.gz).
  const train = loadMnist(flags.data, 'train', nTrain);
  const test = loadMnist(flags.data, 't10k', nTest);
  const T = train.rows, I = train.cols; // 28 timesteps of 28 pixels
  console.log(`MNIST: ${train.count} training and ${test.count} test images of ${T}×${I}, rows as timesteps`);

  // A batch: images (B, 28, 28) as float features, labels (B) as class ids for the (B, 10) logits.
  const batchOf = (set: MnistSet, idx: ArrayLike<number>): Batch => {
    const x = new Float32Array(idx.length * T * I), y = new Int32Array(idx.length);
    for (let k = 0; k < idx.length; k++) {
      x.set(set.images.subarray(idx[k] * T * I, (idx[k] + 1) * T * I), k * T * I);
      y[k] = set.labels[idx[k]];
    }
    return { x, shape: [idx.length, T, I], y };
  };
  const testBatches = function* () {
    for (const idx of chunks(Int32Array.from({ length: test.count }, (_, i) => i), 500)) {
      const batch = batchOf(test, idx);
      yield { batch, labels: batch.y! };
    }
  };

  const ctx = await openGpu();
  const Cell = { lstm: LSTM, gru: GRU, rnn: RNN }[cell];
  const model = new Sequential([
    new Cell({ hiddenSize: hidden, inputSize: I, numLayers: layers }),
    new LastStep(),
    new Dense({ units: 10, name: 'logits' }),
  ], { seed: flags.seed }).build(ctx);
  // Stacked tanh RNNs over 28 steps explode now and then; clipping keeps the deep model steady.
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr }), ...(deep ? { clipNorm: 5 } : {}) });

  const dir = outDir(flags.out);
  const ckpt = join(dir, 'mnist.safetensors');
  const started = Date.now();
  const losses: number[] = [], testAcc: number[] = [];
  const history = await fit(model, {
    epochs,
    trainBatches: shuffledBatches(train.count, B, flags.seed, (idx) => batchOf(train, idx)),
    stepsPerEpoch: Math.floor(train.count / B),
    logEvery: 5,
    checkpoint: (m) => saveCheckpoint(ckpt, m),
    onStepEnd: (_step, loss) => { if (loss !== undefined) losses.push(loss); },
    onEpochEnd: async (log) => {
      testAcc.push(await accuracy(model, testBatches()));
      console.log(`epoch ${log.epoch}: loss ${log.loss.toFixed(4)}  test accuracy ${(100 * testAcc[testAcc.length - 1]).toFixed(2)}%  (${log.seconds.toFixed(1)} s, ${(log.tokensPerSecond / T).toFixed(0)} images/s)`);
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const title = `MNIST rows (${layers > 1 ? `${layers} × ` : ''}${cell.toUpperCase()} ${hidden}) — ${ctx.describe()}`;
  lineChart(join(dir, 'loss.svg'), {
    title, xLabel: 'loss read-back (every 5 steps)', yLabel: 'cross-entropy (nats)', series: [{ name: 'training loss', y: losses }],
  });
  lineChart(join(dir, 'accuracy.svg'), {
    title, xLabel: 'epoch', yLabel: 'test accuracy (%)',
    series: [{ name: 'test accuracy', x: testAcc.map((_, i) => i + 1), y: testAcc.map((a) => 100 * a) }],
  });

  const acc = testAcc[testAcc.length - 1];
  const last = history[history.length - 1];
  writeMetrics(dir, {
    test_accuracy: acc, test_images: test.count, train_images: train.count, final_loss: last.loss, epochs: history.length,
    cell, layers, hidden, seconds, images_per_second: last.tokensPerSecond / T, adapter: ctx.describe(), checkpoint: ckpt,
  });
  // Chance is 10%; 120 steps on 3,000 images already read most digits (about 2/3 of them).
  if (flags.quick && !(acc > 0.5)) throw new Error(`--quick run did not learn: test accuracy ${(100 * acc).toFixed(1)}% is not above 50%`);
  if (typeof flags.extra.ship === 'string') {
    // Weights only (no Adam state): what a page needs to classify, with what it scored here.
    await saveCheckpoint(flags.extra.ship, model, { metadata: {
      test_accuracy: acc.toFixed(4), test_images: String(test.count), train_images: String(train.count), epochs: String(history.length),
    } });
    console.log(`shipped checkpoint: ${flags.extra.ship}`);
  }
  model.dispose();
  ctx.dispose();
});
