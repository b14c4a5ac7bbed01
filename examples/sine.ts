// Time-series prediction (Simplilearn lesson 8, after Géron's Hands-On ML ch. 14): the series
// y(t) = t·sin(t)/3 + 2·sin(5t), sampled every 0.1. Each training instance is 20 consecutive values
// starting at a random t; the target is the same 20 values one step (0.1) later. A vanilla RNN of
// 100 ReLU units with an output projection (a dense layer applied at every step, TF's
// OutputProjectionWrapper), MSE, Adam 1e-3, batches of 50. The stretch t ∈ [10, 16] is held out
// of training; the model then predicts its last 4 time units one step ahead, plotted against the truth.
//
//   npx tsx examples/sine.ts            30 epochs of 100 steps (3,000 iterations); plots in out/sine/
//   npx tsx examples/sine.ts --quick    3 epochs; fails unless the held-out MSE is below 0.3
import { join } from 'node:path';
import { Dense, Sequential, type Batch, Adam, fit, Rng } from '../src/node.ts';
import { lineChart } from './lib/plot.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';
import { adapterName, noDataFile, numberFlag, recurrent } from './lib/seq.ts';

const series = (t: number) => (t * Math.sin(t)) / 3 + 2 * Math.sin(5 * t);
const dt = 0.1, tMax = 30;
const holdFrom = 10, holdTo = 16; // no training window touches this stretch

run(async () => {
  const flags = parseFlags('sine',
    { epochs: 30, hidden: 100, cell: 'rnn', seed: 42, data: '', out: 'out/sine' },
    { epochs: 3 },
    { steps: { type: 'string' }, batch: { type: 'string' }, window: { type: 'string' }, lr: { type: 'string' } });
  noDataFile('sine', flags);
  const stepsPerEpoch = numberFlag('steps', flags.extra.steps, 100, true);
  const B = numberFlag('batch', flags.extra.batch, 50, true);
  const T = numberFlag('window', flags.extra.window, 20, true);
  const lr = numberFlag('lr', flags.extra.lr, 1e-3);
  const span = T * dt; // a window covers [t0, t0 + span]: T inputs, and the targets one step later
  if (span > holdTo - holdFrom - 1) throw new Error(`--window ${T} is too long: the held-out stretch has room for at most ${Math.round((holdTo - holdFrom - 1) / dt)} steps`);

  // A batch of windows starting at t0 (inputs y(t0 + k·dt), targets y(t0 + (k+1)·dt)), shape (n, T, 1).
  const windows = (starts: number[]): Batch => {
    const x = new Float32Array(starts.length * T), y = new Float32Array(starts.length * T);
    starts.forEach((t0, b) => {
      for (let k = 0; k < T; k++) { x[b * T + k] = series(t0 + k * dt); y[b * T + k] = series(t0 + (k + 1) * dt); }
    });
    return { x, shape: [starts.length, T, 1], y };
  };
  // Training starts are uniform over [0, tMax − span] minus those whose window would touch the held-out stretch.
  const rng = new Rng(flags.seed);
  const randomStart = (): number => {
    for (;;) {
      const t0 = rng.uniform(0, tMax - span);
      if (t0 + span < holdFrom || t0 > holdTo) return t0;
    }
  };
  // Held-out: one window ending at each grid point of the stretch's last 4 time units (fewer for
  // windows over 2 time units long), every window wholly inside the stretch.
  const firstEnd = Math.max(holdTo - 4, holdFrom + span);
  const testEnds = Array.from({ length: Math.round((holdTo - firstEnd) / dt) + 1 }, (_, k) => firstEnd + k * dt);
  const test = windows(testEnds.map((end) => end - span));

  const ctx = await openGpu();
  const model = new Sequential([
    recurrent(flags.cell, { hiddenSize: flags.hidden, nonlinearity: 'relu' }),
    new Dense({ units: 1, name: 'projection' }), // applied at every step
  ], { seed: flags.seed }).build(ctx, { kind: 'seq', size: 1 });
  model.compile({ loss: 'mse', optimizer: new Adam({ lr }) });

  const started = Date.now();
  const steps: number[] = [], losses: number[] = [], evalSteps: number[] = [], evalLosses: number[] = [];
  const history = await fit(model, {
    epochs: flags.epochs,
    trainBatches: function* () { for (let i = 0; i < stepsPerEpoch; i++) yield windows(Array.from({ length: B }, randomStart)); },
    stepsPerEpoch,
    logEvery: 10,
    evalBatches: () => [test],
    onStepEnd: (step, loss) => { if (loss !== undefined) { steps.push(step); losses.push(loss); } },
    onEpochEnd: (log) => {
      evalSteps.push(log.epoch * stepsPerEpoch);
      evalLosses.push(log.evalLoss!);
      console.log(`epoch ${log.epoch}: training MSE ${log.loss.toFixed(4)}  held-out MSE ${log.evalLoss!.toFixed(4)}  (${log.seconds.toFixed(1)} s)`);
    },
  });
  const seconds = (Date.now() - started) / 1000;

  // One step ahead over the held-out stretch: each window's last output against the next value.
  const { data } = await model.predict(test);
  const pred = testEnds.map((_, b) => data[b * T + T - 1]);
  const truth = testEnds.map((end) => series(end));
  const naive = testEnds.map((end) => series(end - dt));
  const mse = (a: number[]) => a.reduce((s, v, i) => s + (v - truth[i]) ** 2, 0) / a.length;
  const heldOut = history[history.length - 1].evalLoss!;
  console.log(`held-out: MSE over all steps ${heldOut.toFixed(4)}; next value ${mse(pred).toFixed(4)} (naive "next = current" ${mse(naive).toFixed(4)})`);

  const dir = outDir(flags.out);
  lineChart(join(dir, 'predictions.svg'), {
    title: `t·sin(t)/3 + 2·sin(5t), held-out stretch, one step ahead (${flags.cell.toUpperCase()} ${flags.hidden})`,
    xLabel: 't', yLabel: 'y(t)',
    series: [{ name: 'target', x: testEnds, y: truth }, { name: 'prediction', x: testEnds, y: pred }],
  });
  lineChart(join(dir, 'loss.svg'), {
    title: `time series (${flags.cell.toUpperCase()} ${flags.hidden}${flags.cell === 'rnn' ? ' ReLU' : ''} + projection, Adam ${lr}) — ${adapterName(ctx.describe())}`,
    xLabel: `training step (batches of ${B} windows)`, yLabel: 'log10 MSE',
    series: [{ name: 'training MSE', x: steps, y: losses.map(Math.log10) }, { name: 'held-out MSE', x: evalSteps, y: evalLosses.map(Math.log10) }],
  });
  writeMetrics(dir, {
    heldout_mse: heldOut, next_value_mse: mse(pred), naive_mse: mse(naive), first_epoch_mse: history[0].loss,
    final_train_mse: history[history.length - 1].loss, epochs: history.length, seconds, adapter: ctx.describe(),
  });
  // The targets span −3.5 … 6.7 (variance ≈ 8); "next = current" scores about 0.7 there.
  if (flags.quick && !(heldOut < 0.3)) throw new Error(`--quick run did not learn: held-out MSE ${heldOut.toFixed(4)} is not below 0.3`);
  model.dispose();
  ctx.dispose();
});
