// Stock prices (Sung Kim, DeepLearningZeroToAll lab 12-5): predict tomorrow's GOOG close from the
// last 7 days of Open, High, Low, Volume, Close. The CSV is newest first, so reverse it, min-max
// scale every column (the lab's MinMaxScaler, over the whole file), cut windows of 7 days → the
// next close, train on the first 70% and test on the rest. LSTM 10 → its last step → dense → 1,
// MSE (the lab sums the squares; Adam hardly notices the scale), Adam 0.01, every step on the whole
// training set as one batch. The test RMSE is printed
// beside the naive forecast "tomorrow's close = today's", which is hard to beat on daily prices.
//
//   npx tsx examples/stock.ts            500 steps (the lab's iterations); plots in out/stock/
//   npx tsx examples/stock.ts --quick    200 steps; fails unless the test RMSE is within 2× the naive one
import { join } from 'node:path';
import { Dense, LastStep, Sequential, type Batch, Adam, fit, readText, parseNumericCsv } from '../src/node.ts';
import { lineChart } from './lib/plot.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';
import { adapterName, numberFlag, recurrent, rmse } from './lib/seq.ts';

run(async () => {
  const flags = parseFlags('stock',
    { epochs: 500, hidden: 10, cell: 'lstm', seed: 1, data: 'data/stock/data-02-stock_daily.csv', out: 'out/stock' },
    { epochs: 200 },
    { window: { type: 'string' }, lr: { type: 'string' } });
  const T = numberFlag('window', flags.extra.window, 7, true);
  const lr = numberFlag('lr', flags.extra.lr, 0.01);

  // Rows of Open,High,Low,Volume,Close ('#' lines are comments); a bad row names its file and line.
  const rows = parseNumericCsv(readText(flags.data), flags.data, { comments: true, columns: 5 }).reverse(); // oldest first
  const F = 5, N = rows.length;
  if (N < T + 4) throw new Error(`${flags.data}: ${N} rows, too few for windows of ${T} days and a train/test split`);
  const lo = rows[0].slice(), hi = rows[0].slice();
  for (const r of rows) for (let j = 0; j < F; j++) { lo[j] = Math.min(lo[j], r[j]); hi[j] = Math.max(hi[j], r[j]); }
  const scaled = rows.map((r) => r.map((v, j) => (v - lo[j]) / (hi[j] - lo[j] + 1e-7)));
  const close = scaled.map((r) => r[F - 1]);
  const dollars = hi[F - 1] - lo[F - 1] + 1e-7; // one scaled unit of Close, in USD
  const toDollars = (v: number) => v * dollars + lo[F - 1];

  // Window i: days i … i+T−1 (all features) → the close of day i+T. The first 70% train.
  const windows = N - T;
  const trainN = Math.floor(windows * 0.7), testN = windows - trainN;
  const makeBatch = (from: number, count: number): Batch => {
    const x = new Float32Array(count * T * F), y = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      for (let t = 0; t < T; t++) x.set(scaled[from + k + t], (k * T + t) * F);
      y[k] = close[from + k + T];
    }
    return { x, shape: [count, T, F], y };
  };
  const train = makeBatch(0, trainN), test = makeBatch(trainN, testN);
  console.log(`${flags.data}: ${N} days, ${windows} windows of ${T} days; ${trainN} train, ${testN} test`);

  const ctx = await openGpu();
  const model = new Sequential([
    recurrent(flags.cell, { hiddenSize: flags.hidden, forgetBias: 1 }),
    new LastStep(),
    new Dense({ units: 1, name: 'fc' }),
  ], { seed: flags.seed }).build(ctx, { kind: 'seq', size: F });
  model.compile({ loss: 'mse', optimizer: new Adam({ lr }) });

  // Each step sees the whole training set (one batch), so fit runs one "epoch" of --epochs steps.
  const started = Date.now();
  const steps: number[] = [], losses: number[] = [];
  await fit(model, {
    epochs: 1,
    trainBatches: function* () { for (let i = 0; i < flags.epochs; i++) yield train; },
    stepsPerEpoch: flags.epochs,
    logEvery: 5,
    onStepEnd: (step, loss) => { if (loss !== undefined) { steps.push(step); losses.push(loss); } },
  });
  const seconds = (Date.now() - started) / 1000;

  // Test: the model's forecast and the naive one (the last close in the window) against the truth.
  const pred = (await model.predict(test)).data;
  const actual = test.y as Float32Array;
  const naive = Float32Array.from({ length: testN }, (_, k) => close[trainN + k + T - 1]);
  const testRmse = rmse(pred, actual), naiveRmse = rmse(naive, actual);
  console.log(`test RMSE ${testRmse.toFixed(4)} scaled = $${(testRmse * dollars).toFixed(2)}; naive "tomorrow = today" ${naiveRmse.toFixed(4)} = $${(naiveRmse * dollars).toFixed(2)}`);

  const dir = outDir(flags.out);
  lineChart(join(dir, 'predictions.svg'), {
    title: `GOOG close, test days (${flags.cell.toUpperCase()} ${flags.hidden}, RMSE $${(testRmse * dollars).toFixed(2)}, naive $${(naiveRmse * dollars).toFixed(2)})`,
    xLabel: 'test day', yLabel: 'close (USD)',
    series: [{ name: 'actual', y: Array.from(actual, toDollars) }, { name: 'predicted', y: Array.from(pred, toDollars) }],
  });
  lineChart(join(dir, 'loss.svg'), {
    title: `GOOG next-day close (${flags.cell.toUpperCase()} ${flags.hidden}, Adam ${lr}) — ${adapterName(ctx.describe())}`,
    xLabel: 'training step (whole training set)', yLabel: 'log10 MSE (scaled units²)', series: [{ name: 'training loss', x: steps, y: losses.map(Math.log10) }],
  });
  writeMetrics(dir, {
    test_rmse: testRmse, test_rmse_usd: testRmse * dollars, naive_rmse: naiveRmse, naive_rmse_usd: naiveRmse * dollars,
    final_loss: losses[losses.length - 1], steps: flags.epochs, seconds, adapter: ctx.describe(),
  });
  // Predicting the mean of the test closes would score about their spread (≈ 0.1 scaled, 6× naive).
  if (flags.quick && !(testRmse < 2 * naiveRmse)) throw new Error(`--quick run did not learn: test RMSE ${testRmse.toFixed(4)} is not within 2× the naive ${naiveRmse.toFixed(4)}`);
  model.dispose();
  ctx.dispose();
});
