// Stock prices in the browser: examples/stock.ts's configuration trained in the page on the bundled
// GOOG prices or a CSV the visitor drops in, then the test days' closes, the LSTM's forecast and
// the naive "tomorrow = today" forecast in one chart with both RMSEs. What to copy into your app:
// `windowsOf` (a table → (N, T, F) windows and targets), `train` (Sequential, compile, trainStep)
// and `evaluate` (predict on the test windows).
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { Adam, Dense, LastStep, LSTM, parseNumericCsv, Sequential, type Batch, type GpuContext } from '../../src/index.ts';
import { LossChart } from './loss-chart.ts';
import { $, fetchShipped, guarded, pageState, runPage, startWebGpu } from './page.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Legend);

const T = 7, F = 5; // 7 days of Open, High, Low, Volume, Close
const SHIPPED = 'stock/data-02-stock_daily.csv';
const el = {
  dataName: $('data-name'), dataInfo: $('data-info'), csvFile: $<HTMLInputElement>('csv-file'), steps: $<HTMLInputElement>('steps'),
  train: $<HTMLButtonElement>('train'), step: $('step'), loss: $('loss'), seconds: $('seconds'), rmse: $('rmse'), naiveRmse: $('naive-rmse'),
};
const lossChart = new LossChart($<HTMLCanvasElement>('loss-chart'), 'MSE (scaled units²)');
const prices = new Chart($<HTMLCanvasElement>('prices'), {
  type: 'line',
  data: { datasets: [
    { label: 'actual', data: [] as { x: number; y: number }[], borderColor: '#111827', borderWidth: 2, pointRadius: 0 },
    { label: 'LSTM', data: [], borderColor: '#2563eb', borderWidth: 2, pointRadius: 0 },
    { label: 'naive: tomorrow = today', data: [], borderColor: '#d97706', borderWidth: 1, borderDash: [5, 4], pointRadius: 0 },
  ] },
  options: {
    animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
    scales: { x: { type: 'linear', title: { display: true, text: 'test day' } }, y: { type: 'linear', title: { display: true, text: 'close (USD)' } } },
  },
});

let ctx: GpuContext | null = null;
let data: { name: string; windows: Windows } | null = null;

Object.assign(pageState, { dataName: '', losses: lossChart.raw, training: false, rmse: NaN, naiveRmse: NaN, rmseUsd: NaN, naiveRmseUsd: NaN, trainSeconds: 0 });

interface Windows { train: Batch; test: Batch; testNaive: Float32Array; toDollars: (v: number) => number; dollars: number; days: number }

/**
 * examples/stock.ts's data preparation: rows oldest first, every column min-max scaled over the
 * file, window i = days i … i+6 → the close of day i+7; the first 70% of the windows train.
 */
function windowsOf(csv: string, name: string): Windows {
  // A bad row throws `name:line: …`; '#' lines are comments, as in the lab's file.
  const rows = parseNumericCsv(csv, name, { comments: true, columns: F }).reverse();
  const N = rows.length;
  if (N < T + 4) throw new Error(`${name}: ${N} rows of prices, expected at least ${T + 4} (windows of ${T} days, a train and a test part)`);
  const lo = rows[0].slice(), hi = rows[0].slice();
  for (const r of rows) for (let j = 0; j < F; j++) { lo[j] = Math.min(lo[j], r[j]); hi[j] = Math.max(hi[j], r[j]); }
  const scaled = rows.map((r) => r.map((v, j) => (v - lo[j]) / (hi[j] - lo[j] + 1e-7)));
  const close = scaled.map((r) => r[F - 1]);
  const windows = N - T, trainN = Math.floor(windows * 0.7);
  const batch = (from: number, count: number): Batch => {
    const x = new Float32Array(count * T * F), y = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      for (let t = 0; t < T; t++) x.set(scaled[from + k + t], (k * T + t) * F);
      y[k] = close[from + k + T];
    }
    return { x, shape: [count, T, F], y };
  };
  const dollars = hi[F - 1] - lo[F - 1] + 1e-7;
  return {
    train: batch(0, trainN), test: batch(trainN, windows - trainN),
    testNaive: Float32Array.from({ length: windows - trainN }, (_, k) => close[trainN + k + T - 1]), // the last close in each window
    toDollars: (v) => v * dollars + lo[F - 1], dollars, days: N,
  };
}

const rmse = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
};

function useData(csv: string, name: string): void {
  const windows = windowsOf(csv, name); // throws before anything changes
  data = { name, windows };
  pageState.dataName = name;
  el.dataName.textContent = name;
  el.dataInfo.textContent = `${windows.days} days → ${windows.train.shape[0]} training and ${windows.test.shape[0]} test windows`;
}

/** examples/stock.ts's model and optimizer, trained for `steps` steps on the whole training set at once. */
async function train(w: Windows, steps: number): Promise<Sequential> {
  const model = new Sequential([
    new LSTM({ hiddenSize: 10, forgetBias: 1 }),
    new LastStep(),
    new Dense({ units: 1, name: 'fc' }),
  ], { seed: 1 }).build(ctx!, { kind: 'seq', size: F });
  model.compile({ loss: 'mse', optimizer: new Adam({ lr: 0.01 }) });
  const started = performance.now();
  for (let s = 1; s <= steps; s++) {
    // Reading the loss waits for the GPU: every 5th step is enough for the chart.
    const r = await model.trainStep(w.train, { readLoss: s % 5 === 0 || s === 1 || s === steps });
    if (r.loss !== undefined) {
      lossChart.add(s, r.loss);
      el.step.textContent = String(s);
      el.loss.textContent = r.loss.toExponential(2);
      el.seconds.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
    }
  }
  lossChart.draw(true);
  pageState.trainSeconds = (performance.now() - started) / 1000;
  return model;
}

/** The test windows' forecasts against the truth, beside the naive forecast, in the chart. */
async function evaluate(model: Sequential, w: Windows): Promise<void> {
  const pred = (await model.predict(w.test)).data;
  const actual = w.test.y as Float32Array;
  const r = rmse(pred, actual), naive = rmse(w.testNaive, actual);
  const line = (v: ArrayLike<number>) => Array.from(v, (y, x) => ({ x, y: w.toDollars(y) }));
  prices.data.datasets[0].data = line(actual);
  prices.data.datasets[1].data = line(pred);
  prices.data.datasets[2].data = line(w.testNaive);
  prices.update('none');
  el.rmse.textContent = `$${(r * w.dollars).toFixed(2)}`;
  el.naiveRmse.textContent = `$${(naive * w.dollars).toFixed(2)}`;
  Object.assign(pageState, { rmse: r, naiveRmse: naive, rmseUsd: r * w.dollars, naiveRmseUsd: naive * w.dollars });
}

const trainAndEvaluate = guarded(async () => {
  if (!ctx || !data || pageState.training) return;
  const steps = Math.max(1, Math.min(5000, Math.floor(Number(el.steps.value)) || 500));
  pageState.training = true;
  el.train.disabled = true;
  lossChart.clear();
  try {
    const model = await train(data.windows, steps);
    await evaluate(model, data.windows);
    model.dispose();
  } finally {
    pageState.training = false;
    el.train.disabled = false;
  }
});

const useFile = guarded(async (f: File | undefined) => {
  if (!f) return;
  useData(await f.text(), f.name);
  if (ctx) await trainAndEvaluate();
});

el.train.addEventListener('click', () => void trainAndEvaluate());
el.csvFile.addEventListener('change', () => { void useFile(el.csvFile.files?.[0]); el.csvFile.value = ''; });
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => { e.preventDefault(); void useFile(e.dataTransfer?.files[0]); });

runPage(async () => {
  const bytes = await fetchShipped(SHIPPED, 'run `npx tsx examples/web/bundle-data.ts` to copy it from data/stock/');
  useData(new TextDecoder().decode(bytes), 'data-02-stock_daily.csv');
  ctx = await startWebGpu();
  if (ctx) el.train.disabled = false;
});
