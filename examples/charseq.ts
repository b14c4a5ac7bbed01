// " if you want you" (Sung Kim, DeepLearningZeroToAll lab 12-2): the sentence minus its last
// character goes in, the sentence minus its first comes out, one character ahead at every step.
// One-hot characters → LSTM with hidden size = the vocabulary (10) → dense head → softmax, Adam 0.1
// on the one sentence (batch 1 × 15 steps). The lab prints the loss and the prediction each step.
//
//   npx tsx examples/charseq.ts            100 steps; prints the loss and the prediction at each
//   npx tsx examples/charseq.ts --quick    the same 100 steps; fails unless the reconstruction is exact
//                                          and the loss is below 0.1
import { join } from 'node:path';
import { Dense, OneHot, Sequential, type Batch, Adam, CharVocab } from '../src/node.ts';
import { lineChart } from './lib/plot.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';
import { adapterName, argmaxRows, noDataFile, numberFlag, recurrent } from './lib/seq.ts';

run(async () => {
  const flags = parseFlags('charseq',
    { epochs: 100, hidden: 10, cell: 'lstm', seed: 1, data: '', out: 'out/charseq' },
    {},
    { lr: { type: 'string' } });
  noDataFile('charseq', flags);
  const lr = numberFlag('lr', flags.extra.lr, 0.1);

  const sample = ' if you want you';
  const vocab = CharVocab.fromText(sample); // 10 distinct characters, sorted
  const ids = vocab.encode(sample);
  const target = sample.slice(1);
  const batch: Batch = { x: ids.slice(0, -1), shape: [1, ids.length - 1], y: ids.slice(1) };
  console.log(`sample ${JSON.stringify(sample)}: vocabulary ${vocab.size}, ${ids.length - 1} steps`);

  const ctx = await openGpu();
  const model = new Sequential([
    new OneHot(vocab.size),
    recurrent(flags.cell, { hiddenSize: flags.hidden, forgetBias: 1 }),
    new Dense({ units: vocab.size, name: 'logits' }),
  ], { seed: flags.seed }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr }) });

  const started = Date.now();
  const losses: number[] = [];
  let prediction = '';
  for (let step = 0; step < flags.epochs; step++) {
    const { loss } = await model.trainStep(batch, { readLoss: true });
    const { data } = await model.predict(batch);
    prediction = vocab.decode(argmaxRows(data, vocab.size));
    losses.push(loss!);
    console.log(`${String(step).padStart(4)}  loss ${loss!.toFixed(5)}  prediction: ${prediction}`);
  }
  const seconds = (Date.now() - started) / 1000;

  const dir = outDir(flags.out);
  lineChart(join(dir, 'loss.svg'), {
    title: `" if you want you" (${flags.cell.toUpperCase()} ${flags.hidden} + dense, Adam ${lr}) — ${adapterName(ctx.describe())}`,
    xLabel: 'training step', yLabel: 'log10 cross-entropy (nats/char)', series: [{ name: 'training loss', y: losses.map(Math.log10) }],
  });
  const exact = prediction === target;
  const finalLoss = losses[losses.length - 1];
  writeMetrics(dir, {
    final_loss: finalLoss, prediction, exact, steps: flags.epochs, seconds, adapter: ctx.describe(),
  });
  // A uniform guess costs ln 10 ≈ 2.3 nats; exact reconstruction with confidence needs far less.
  if (flags.quick && !(exact && finalLoss < 0.1)) throw new Error(`--quick run did not learn: the prediction is "${prediction}" (want "${target}"), loss ${finalLoss.toFixed(4)} (want < 0.1)`);
  model.dispose();
  ctx.dispose();
});
