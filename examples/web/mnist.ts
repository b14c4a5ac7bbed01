// MNIST rows as timesteps, in the browser: a checkpoint trained in Node by examples/mnist.ts reads a
// drawn or bundled digit row by row, showing the class probabilities after every row; "Train here"
// trains a smaller LSTM on 2,000 bundled digits on the visitor's GPU. What to copy into your app:
// `everyStepModel` (one forward pass gives a prediction per row), `readDigit` (a (1, 28, 28) batch
// → softmax per row) and `trainHere` (Sequential, compile, trainStep, predict).
import {
  Adam, Dense, encodeModel, LastStep, LSTM, parseIdxImages, parseIdxLabels, Rng, Sequential, type GpuContext,
} from '../../src/index.ts';
import { digitFromCanvas, drawDigit, SIDE } from './digit.ts';
import { everyStepModel } from './every-step.ts';
import { LossChart } from './loss-chart.ts';
import { $, fetchShipped, guarded, pageState, runPage, startWebGpu } from './page.ts';

const CLASSES = 10;
const el = {
  draw: $<HTMLCanvasElement>('draw'), clear: $<HTMLButtonElement>('clear'), index: $<HTMLInputElement>('digit-index'),
  pick: $<HTMLButtonElement>('pick'), random: $<HTMLButtonElement>('random'), digitLabel: $('digit-label'), modelInfo: $('model-info'),
  answer: $('answer'), answerP: $('answer-p'), seen: $<HTMLCanvasElement>('seen'), rows: $<HTMLCanvasElement>('rows'), bars: $('bars'),
  epochs: $<HTMLInputElement>('epochs'), train: $<HTMLButtonElement>('train'), stop: $<HTMLButtonElement>('stop'),
  reader: $<HTMLSelectElement>('reader'), step: $('step'), loss: $('loss'), accuracy: $('accuracy'), chart: $<HTMLCanvasElement>('chart'),
};
const chart = new LossChart(el.chart, 'cross-entropy (nats)');

let ctx: GpuContext | null = null;
let shipped: Sequential | null = null; // the Node checkpoint, every row's output
let trainedReader: Sequential | null = null; // the model trained here, every row's output
let test: { images: Float32Array; labels: Uint8Array } | null = null;
// Fetched at start-up, so that training works offline once the page has loaded.
let trainSet: Promise<{ images: Float32Array; labels: Uint8Array }> | null = null;
let current: Float32Array | null = null;
let reading = Promise.resolve();
/** Counts read requests: a queued reading that a newer request has overtaken is skipped. */
let requests = 0;
let stopTraining = false;

Object.assign(pageState, {
  /** The test digit shown, or -1 for a drawing. */
  shown: -1,
  /** P(class) after each of the 28 rows, for the digit shown. */
  rows: [] as number[][],
  answer: -1,
  /** Set once a reading is on screen (counts readings, so a test can wait for the next). */
  readings: 0,
  losses: chart.raw,
  testAccuracy: [] as number[],
  training: false,
  checkpointAccuracy: '',
});

/** Bytes in [0, 255] → pixels in [0, 1], as examples/mnist.ts scales them. */
const toPixels = (bytes: Uint8Array) => Float32Array.from(bytes, (b) => b / 255);

async function loadIdx(images: string, labels: string): Promise<{ images: Float32Array; labels: Uint8Array }> {
  const how = 'run `npx tsx examples/web/bundle-data.ts` to write it';
  const img = parseIdxImages(await fetchShipped(images, how), images);
  return { images: toPixels(img.pixels), labels: parseIdxLabels(await fetchShipped(labels, how), labels) };
}

function softmaxRows(logits: Float32Array, rows: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const z = Array.from(logits.subarray(r * CLASSES, (r + 1) * CLASSES));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(e.map((v) => v / s));
  }
  return out;
}

/** The model's class probabilities after each row of a 28×28 digit: one forward pass, (1, 28, 10) logits. */
async function readDigit(model: Sequential, pixels: Float32Array): Promise<number[][]> {
  const { data } = await model.predict({ x: pixels, shape: [1, SIDE, SIDE] });
  return softmaxRows(data, SIDE);
}

// ---- showing a reading --------------------------------------------------------------------------
/** Row r of the heatmap is P(class) after reading row r of the digit beside it; the classes label the columns. */
function showRows(rows: number[][]): void {
  const c = el.rows.getContext('2d')!;
  const top = el.rows.height - el.seen.height, h = el.seen.height / SIDE, w = el.rows.width / CLASSES;
  c.clearRect(0, 0, el.rows.width, el.rows.height);
  c.fillStyle = '#5b6573';
  c.font = '12px system-ui, sans-serif';
  c.textAlign = 'center';
  for (let k = 0; k < CLASSES; k++) c.fillText(String(k), (k + 0.5) * w, top - 6);
  rows.forEach((p, r) => p.forEach((v, k) => {
    c.fillStyle = `rgba(29, 78, 216, ${v.toFixed(3)})`;
    c.fillRect(k * w, top + r * h, w - 1, h - 1);
  }));
}

function showBars(p: number[]): void {
  el.bars.replaceChildren(...p.map((v, k) => {
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.innerHTML = `<span>${k}</span><i style="width:${(100 * v).toFixed(1)}%"></i><span>${(100 * v).toFixed(1)}%</span>`;
    return bar;
  }));
}

/** Reads `pixels` with the chosen model and shows it (one reading at a time; only the newest request is read). */
function read(pixels: Float32Array | null, shown: number): Promise<void> {
  const request = ++requests;
  current = pixels;
  reading = reading.then(guarded(async () => {
    if (request !== requests) return;
    drawDigit(el.seen, pixels);
    const model = el.reader.value === 'trained' && trainedReader ? trainedReader : shipped;
    if (!model || !pixels) {
      showRows([]);
      el.bars.replaceChildren();
      el.answer.textContent = '–';
      el.answerP.textContent = '';
      return;
    }
    const rows = await readDigit(model, pixels);
    if (request !== requests) return; // a newer request came while this one ran
    const last = rows[SIDE - 1];
    const answer = last.indexOf(Math.max(...last));
    showRows(rows);
    showBars(last);
    el.answer.textContent = String(answer);
    el.answerP.textContent = `(${(100 * last[answer]).toFixed(1)}% after the last row)`;
    Object.assign(pageState, { shown, rows, answer, readings: (pageState.readings as number) + 1 });
  }));
  return reading;
}

function showTestDigit(i: number): void {
  if (!test) return;
  const n = test.labels.length;
  const k = Math.max(0, Math.min(n - 1, Math.floor(i) || 0));
  el.index.value = String(k);
  el.digitLabel.textContent = `test digit #${k}, labelled ${test.labels[k]}`;
  clearDrawing();
  void read(test.images.slice(k * SIDE * SIDE, (k + 1) * SIDE * SIDE), k);
}

// ---- drawing ------------------------------------------------------------------------------------
function clearDrawing(): void {
  el.draw.getContext('2d')!.clearRect(0, 0, el.draw.width, el.draw.height);
}

function setUpDrawing(): void {
  const c = el.draw.getContext('2d', { willReadFrequently: true })!;
  c.lineWidth = 22;
  c.lineCap = 'round';
  c.lineJoin = 'round';
  c.strokeStyle = '#111';
  let last: { x: number; y: number } | null = null;
  const at = (e: PointerEvent) => {
    const r = el.draw.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * el.draw.width) / r.width, y: ((e.clientY - r.top) * el.draw.height) / r.height };
  };
  el.draw.addEventListener('pointerdown', (e) => {
    if (pageState.shown !== -1) { clearDrawing(); el.digitLabel.textContent = 'your drawing'; pageState.shown = -1; }
    el.draw.setPointerCapture(e.pointerId);
    last = at(e);
    c.beginPath();
    c.arc(last.x, last.y, c.lineWidth / 2, 0, 2 * Math.PI);
    c.fillStyle = c.strokeStyle as string;
    c.fill();
  });
  el.draw.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    c.beginPath();
    c.moveTo(last.x, last.y);
    c.lineTo(p.x, p.y);
    c.stroke();
    last = p;
  });
  // Read when the stroke ends: a digit is a few strokes, and a forward pass per stroke is cheap.
  const end = () => { if (last) { last = null; void read(digitFromCanvas(el.draw), -1); } };
  el.draw.addEventListener('pointerup', end);
  el.draw.addEventListener('pointercancel', end);
}

// ---- training here ------------------------------------------------------------------------------
/** Test accuracy of a many-to-one model (its logits at the last row) on the bundled test digits. */
async function accuracy(model: Sequential): Promise<number> {
  const { images, labels } = test!;
  const { data } = await model.predict({ x: images, shape: [labels.length, SIDE, SIDE] });
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    const z = data.subarray(i * CLASSES, (i + 1) * CLASSES);
    if (z.indexOf(Math.max(...z)) === labels[i]) right++;
  }
  return right / labels.length;
}

async function trainHere(): Promise<void> {
  if (!ctx || !trainSet || pageState.training) return;
  const train = await trainSet;
  const B = 50, N = train.labels.length, epochs = Math.max(1, Math.min(50, Math.floor(Number(el.epochs.value)) || 3));
  // The same architecture as examples/mnist.ts, smaller: LSTM over the rows → last row → 10 logits.
  const model = new Sequential([
    new LSTM({ hiddenSize: 32, inputSize: SIDE }),
    new LastStep(),
    new Dense({ units: CLASSES, name: 'logits' }),
  ], { seed: 1 }).build(ctx);
  model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 1e-2 }) });
  chart.clear();
  (pageState.testAccuracy as number[]).length = 0;
  pageState.training = true;
  stopTraining = false;
  el.train.disabled = true;
  el.stop.disabled = false;
  const rng = new Rng(7);
  try {
    for (let epoch = 0; epoch < epochs && !stopTraining; epoch++) {
      const order = Array.from({ length: N }, (_, i) => i);
      for (let i = N - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
      for (let s = 0; s + B <= N && !stopTraining; s += B) {
        const x = new Float32Array(B * SIDE * SIDE), y = new Int32Array(B);
        for (let k = 0; k < B; k++) {
          const idx = order[s + k];
          x.set(train.images.subarray(idx * SIDE * SIDE, (idx + 1) * SIDE * SIDE), k * SIDE * SIDE);
          y[k] = train.labels[idx];
        }
        const r = await model.trainStep({ x, shape: [B, SIDE, SIDE], y }, { readLoss: true });
        chart.add(model.step, r.loss!);
        el.step.textContent = String(model.step);
        el.loss.textContent = r.loss!.toFixed(3);
      }
      const acc = await accuracy(model);
      (pageState.testAccuracy as number[]).push(acc);
      el.accuracy.textContent = `${(100 * acc).toFixed(1)}% after epoch ${epoch + 1}`;
    }
    chart.draw(true);
    // For reading row by row, the trained model is rebuilt without its LastStep from its own bytes.
    trainedReader?.dispose();
    trainedReader = everyStepModel(ctx, await encodeModel(model), 'the model trained here').model;
    (el.reader.querySelector('option[value=trained]') as HTMLOptionElement).disabled = false;
  } finally {
    model.dispose();
    pageState.training = false;
    el.train.disabled = false;
    el.stop.disabled = true;
  }
}

// ---- start --------------------------------------------------------------------------------------
el.clear.addEventListener('click', () => { clearDrawing(); pageState.shown = -1; el.digitLabel.textContent = ''; void read(null, -1); });
el.pick.addEventListener('click', () => showTestDigit(Number(el.index.value)));
el.index.addEventListener('change', () => showTestDigit(Number(el.index.value)));
el.random.addEventListener('click', () => showTestDigit(Math.floor(Math.random() * (test?.labels.length ?? 1))));
el.train.addEventListener('click', () => void guarded(trainHere)());
el.stop.addEventListener('click', () => { stopTraining = true; });
el.reader.addEventListener('change', () => void read(current, pageState.shown as number));

runPage(async () => {
  setUpDrawing();
  drawDigit(el.seen, null);
  ctx = await startWebGpu();
  if (!ctx) return;
  const bytes = await fetchShipped('mnist.safetensors', 'train it with `npx tsx examples/mnist.ts --hidden 64 --epochs 3 --batch 100 --lr 5e-3 --ship examples/web/public/mnist.safetensors`');
  const loaded = everyStepModel(ctx, bytes, 'mnist.safetensors');
  shipped = loaded.model;
  const m = loaded.metadata;
  pageState.checkpointAccuracy = m.test_accuracy ?? '';
  el.modelInfo.textContent = `${describe(shipped)}, ${(bytes.length / 1024).toFixed(0)} KiB` +
    (m.test_accuracy ? `, ${(100 * Number(m.test_accuracy)).toFixed(2)}% on the ${Number(m.test_images).toLocaleString('en-US')} test images` : '');
  test = await loadIdx('mnist/test-images.idx', 'mnist/test-labels.idx');
  trainSet = loadIdx('mnist/train-images.idx', 'mnist/train-labels.idx');
  trainSet.catch(() => undefined); // its error is shown when Train is pressed
  for (const b of [el.clear, el.pick, el.random, el.train]) b.disabled = false;
  showTestDigit(0);
  await reading;
});

function describe(model: Sequential): string {
  return model.layers.map((l) => {
    const c = l.config() as { type: string; hiddenSize?: number; units?: number };
    return `${c.type}${c.hiddenSize ? ` ${c.hiddenSize}` : c.units ? ` ${c.units}` : ''}`;
  }).join(' → ');
}
