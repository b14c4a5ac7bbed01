// A really long sentence (Sung Kim, DeepLearningZeroToAll lab 12-4): cut the 180 characters into
// 170 windows of 10 (x = sentence[i : i+10], y = sentence[i+1 : i+11]), train on all of them as
// one batch with 2 stacked LSTMs (TF MultiRNNCell, hidden = the vocabulary, 25) and a softmax
// (dense) layer on every step, Adam 0.1. Then, as the lab prints it: the first window's whole
// prediction followed by the last character of every later window's prediction, which should
// spell the sentence from its second character on.
//
//   npx tsx examples/sentence.ts            500 steps (the lab's iterations), each over all 170 windows
//   npx tsx examples/sentence.ts --quick    150 steps; fails unless at most 2 of the 179 characters are wrong
import { join } from 'node:path';
import { Dense, OneHot, Sequential, type Batch, Adam, fit, CharVocab } from '../src/node.ts';
import { lineChart } from './lib/plot.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';
import { adapterName, argmaxRows, noDataFile, numberFlag, recurrent } from './lib/seq.ts';

const sentence = "if you want to build a ship, don't drum up people together to collect wood and don't assign them tasks " +
  'and work, but rather teach them to long for the endless immensity of the sea.';

run(async () => {
  const flags = parseFlags('sentence',
    { epochs: 500, hidden: 25, cell: 'lstm', seed: 1, data: '', out: 'out/sentence' },
    { epochs: 150 },
    { window: { type: 'string' }, layers: { type: 'string' }, lr: { type: 'string' } });
  noDataFile('sentence', flags);
  const T = numberFlag('window', flags.extra.window, 10, true);
  const numLayers = numberFlag('layers', flags.extra.layers, 2, true);
  const lr = numberFlag('lr', flags.extra.lr, 0.1);

  // Every window of T characters and the same window shifted by one: the whole data set, one batch.
  const vocab = CharVocab.fromText(sentence);
  const ids = vocab.encode(sentence);
  const B = ids.length - T;
  if (B < 1) throw new Error(`--window ${T} is not shorter than the sentence (${ids.length} characters)`);
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  for (let i = 0; i < B; i++) {
    x.set(ids.subarray(i, i + T), i * T);
    y.set(ids.subarray(i + 1, i + T + 1), i * T);
  }
  const batch: Batch = { x, shape: [B, T], y };
  console.log(`sentence: ${ids.length} characters, vocabulary ${vocab.size}, ${B} windows of ${T}`);

  const ctx = await openGpu();
  const model = new Sequential([
    new OneHot(vocab.size),
    recurrent(flags.cell, { hiddenSize: flags.hidden, numLayers, forgetBias: 1 }),
    new Dense({ units: vocab.size, name: 'softmax' }),
  ], { seed: flags.seed }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr }) });

  // Each step is a pass over the whole data set, so fit runs one "epoch" of --epochs steps.
  const started = Date.now();
  const steps: number[] = [], losses: number[] = [];
  await fit(model, {
    epochs: 1,
    trainBatches: function* () { for (let i = 0; i < flags.epochs; i++) yield batch; },
    stepsPerEpoch: flags.epochs,
    logEvery: 5,
    onStepEnd: (step, loss) => { if (loss !== undefined) { steps.push(step); losses.push(loss); } },
  });
  const seconds = (Date.now() - started) / 1000;

  // The lab's printout: all of window 0's prediction, then the last character of each other window's.
  const { data } = await model.predict(batch);
  const pred = argmaxRows(data, vocab.size); // (B·T) class ids
  let text = vocab.decode(pred.subarray(0, T));
  for (let i = 1; i < B; i++) text += vocab.decode([pred[i * T + T - 1]]);
  const want = sentence.slice(1);
  let wrong = 0;
  for (let i = 0; i < want.length; i++) if (text[i] !== want[i]) wrong++;
  console.log(`\nreconstructed (${wrong} of ${want.length} characters wrong):\n${text}\n`);

  const dir = outDir(flags.out);
  lineChart(join(dir, 'loss.svg'), {
    title: `long sentence (${numLayers} × ${flags.cell.toUpperCase()} ${flags.hidden} + dense, Adam ${lr}) — ${adapterName(ctx.describe())}`,
    xLabel: `training step (all ${B} windows)`, yLabel: 'cross-entropy (nats/char)', series: [{ name: 'training loss', x: steps, y: losses }],
  });
  const finalLoss = losses[losses.length - 1];
  writeMetrics(dir, {
    final_loss: finalLoss, wrong_chars: wrong, chars: want.length, steps: flags.epochs, seconds, adapter: ctx.describe(), reconstructed: text,
  });
  if (flags.quick && !(wrong <= 2)) throw new Error(`--quick run did not learn: ${wrong} of ${want.length} reconstructed characters are wrong (want at most 2)`);
  model.dispose();
  ctx.dispose();
});
