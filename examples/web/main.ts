// The web demo: train a char-RNN live in the page (loss chart, tokens/s, Start/Pause/Reset),
// generate from it or from a checkpoint trained in Node (temperature, top-k, streamed characters),
// load and save checkpoints as safetensors files. Only the browser entry of the library is used.
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { Adam, createBrowserContext, generate, generatorSpecOf, NO_WEBGPU_MESSAGE, Rng, type GpuContext, type Sequential } from '../../src/index.ts';
import { charRnn, charRnnFromCheckpoint, encodeCharRnn, encodeText, randomBatch, vocabOf } from './charrnn.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  adapter: $('adapter'), noWebgpu: $('no-webgpu'), error: $('error'),
  text: $<HTMLTextAreaElement>('text'), textFile: $<HTMLInputElement>('text-file'), textInfo: $('text-info'),
  cell: $<HTMLSelectElement>('cell'), hidden: $<HTMLSelectElement>('hidden'), layers: $<HTMLSelectElement>('layers'),
  batch: $<HTMLInputElement>('batch'), seqlen: $<HTMLInputElement>('seqlen'), lr: $<HTMLInputElement>('lr'),
  start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), reset: $<HTMLButtonElement>('reset'),
  step: $('step'), loss: $('loss'), tps: $('tps'), chart: $<HTMLCanvasElement>('chart'),
  modelName: $('model-name'), loadHamlet: $<HTMLButtonElement>('load-hamlet'), ckptFile: $<HTMLInputElement>('ckpt-file'),
  save: $<HTMLButtonElement>('save'), prime: $<HTMLInputElement>('prime'), temperature: $<HTMLInputElement>('temperature'),
  temperatureOut: $<HTMLOutputElement>('temperature-out'), topk: $<HTMLInputElement>('topk'), length: $<HTMLInputElement>('length'),
  seed: $<HTMLInputElement>('seed'), generate: $<HTMLButtonElement>('generate'), stop: $<HTMLButtonElement>('stop'),
  genInfo: $('gen-info'), output: $('output'),
};

/** The model the page trains and samples from, with its vocabulary. */
interface Current {
  model: Sequential;
  vocab: string[];
  name: string;
  compiled: boolean;
}

let ctx: GpuContext | null = null;
let current: Current | null = null;
let training: Promise<void> | null = null;
let stopTraining = false;
let generating = false;
let stopGenerating = false;
const losses: { x: number; y: number }[] = [];
const dataRng = new Rng(12345);

/** What the browser tests read (test/browser.test.ts); also handy from the devtools console. */
const demo = {
  ready: false,
  adapter: '',
  error: '',
  losses,
  get step() { return current?.model.step ?? 0; },
  get training() { return training !== null; },
  get generating() { return generating; },
  generated: '',
  tokensPerSecond: 0,
  modelName: '',
};
(globalThis as unknown as { demo: typeof demo }).demo = demo;

function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(e);
  demo.error = msg;
  el.error.textContent = msg;
  el.error.hidden = false;
}
function clearError(): void { el.error.hidden = true; demo.error = ''; }
const guarded = <A extends unknown[]>(fn: (...a: A) => Promise<void> | void) => async (...a: A) => {
  try { clearError(); await fn(...a); } catch (e) { showError(e); } finally { refreshButtons(); }
};

// ---- chart ------------------------------------------------------------------------------------
const chart = new Chart(el.chart, {
  type: 'line',
  data: { datasets: [{ label: 'training loss', data: losses, borderColor: '#2563eb', borderWidth: 1.5, pointRadius: 0, tension: 0.15 }] },
  options: {
    animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
    scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { type: 'linear', title: { display: true, text: 'cross-entropy (nats/char)' } } },
    plugins: { tooltip: { enabled: true } },
  },
});
let lastChartUpdate = 0;
function updateChart(force = false): void {
  const now = performance.now();
  if (force || now - lastChartUpdate > 200) { chart.update('none'); lastChartUpdate = now; }
}

// ---- UI state -----------------------------------------------------------------------------------
function refreshButtons(): void {
  const ok = ctx !== null;
  const busyGen = generating, busyTrain = training !== null;
  el.start.disabled = !ok || busyTrain || busyGen;
  el.pause.disabled = !busyTrain;
  el.reset.disabled = !ok || busyGen;
  el.loadHamlet.disabled = !ok || busyTrain || busyGen;
  el.ckptFile.disabled = !ok || busyTrain || busyGen;
  el.save.disabled = !ok || !current || busyTrain || busyGen;
  el.generate.disabled = !ok || !current || busyTrain || busyGen;
  el.stop.disabled = !busyGen;
  el.modelName.textContent = current ? `${current.name} · step ${current.model.step}` : 'none yet';
  demo.modelName = el.modelName.textContent;
}

function setText(text: string, source: string): void {
  el.text.value = text;
  el.textInfo.textContent = `${source}: ${text.length.toLocaleString()} characters, ${vocabOf(text).length} distinct`;
}

function describeModel(m: Sequential, origin: string): string {
  const cfg = m.layers.map((l) => l.config());
  const rnn = cfg.find((c) => ['LSTM', 'GRU', 'RNN'].includes(String(c.type)));
  return `${origin}: ${rnn ? `${String(rnn.type)} ${String(rnn.hiddenSize)}×${String(rnn.numLayers)}` : cfg.map((c) => c.type).join('→')}`;
}

function replaceModel(next: Current): void {
  current?.model.dispose();
  current = next;
  refreshButtons();
}

/** A fresh model on the vocabulary of the text in the box (Reset). */
function freshModel(): void {
  const vocab = vocabOf(el.text.value);
  if (vocab.length < 2) throw new Error('the text needs at least two distinct characters');
  const model = charRnn(vocab.length, {
    cell: el.cell.value as 'LSTM' | 'GRU' | 'RNN', hiddenSize: Number(el.hidden.value), numLayers: Number(el.layers.value), seed: 1,
  }).build(ctx!);
  replaceModel({ model, vocab, name: describeModel(model, 'trained here'), compiled: false });
  losses.length = 0;
  updateChart(true);
  el.step.textContent = '0'; el.loss.textContent = '–'; el.tps.textContent = '–';
}

// ---- training -----------------------------------------------------------------------------------
async function trainLoop(cur: Current, ids: Int32Array, B: number, T: number): Promise<void> {
  const window: { t: number; n: number }[] = [];
  while (!stopTraining) {
    const batch = randomBatch(ids, B, T, dataRng);
    const r = await cur.model.trainStep(batch, { readLoss: true });
    const now = performance.now();
    window.push({ t: now, n: B * T });
    while (window.length > 2 && now - window[0].t > 3000) window.shift();
    if (window.length > 1) {
      const span = (now - window[0].t) / 1000;
      demo.tokensPerSecond = window.slice(1).reduce((a, w) => a + w.n, 0) / span;
      el.tps.textContent = Math.round(demo.tokensPerSecond).toLocaleString();
    }
    losses.push({ x: cur.model.step, y: r.loss! });
    el.step.textContent = String(cur.model.step);
    el.loss.textContent = r.loss!.toFixed(3);
    el.modelName.textContent = `${cur.name} · step ${cur.model.step}`;
    updateChart();
  }
  updateChart(true);
}

const start = guarded(async () => {
  if (!ctx || training) return;
  if (!current) freshModel();
  const cur = current!;
  const ids = encodeText(el.text.value, cur.vocab); // throws naming the first unknown character
  const B = Math.max(1, Math.min(256, Math.floor(Number(el.batch.value) || 16)));
  const T = Math.max(4, Math.min(256, Math.floor(Number(el.seqlen.value) || 32)));
  if (!cur.compiled) {
    cur.model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: Number(el.lr.value) || 0.005 }), clipNorm: 5 });
    cur.compiled = true;
  }
  stopTraining = false;
  training = trainLoop(cur, ids, B, T)
    .catch((e) => { showError(e); })
    .finally(() => { training = null; refreshButtons(); });
  refreshButtons();
});

async function pause(): Promise<void> {
  stopTraining = true;
  if (training) await training;
}

const reset = guarded(async () => {
  await pause();
  freshModel();
});

// ---- checkpoints ----------------------------------------------------------------------------------
function loadBytes(bytes: Uint8Array, source: string, origin: string): void {
  const loaded = charRnnFromCheckpoint(ctx!, bytes, source);
  replaceModel({ model: loaded.model, vocab: loaded.vocab, name: describeModel(loaded.model, origin), compiled: false });
  el.genInfo.textContent = `loaded ${source} (${(bytes.length / 1024).toFixed(0)} KiB, ${loaded.vocab.length} characters)`;
}

const loadHamlet = guarded(async () => {
  await pause();
  const res = await fetch('./hamlet.safetensors');
  if (!res.ok) throw new Error(`hamlet.safetensors is not shipped with this build (HTTP ${res.status}): train it with \`npx tsx examples/hamlet.ts\` and copy it to examples/web/public/`);
  loadBytes(new Uint8Array(await res.arrayBuffer()), 'hamlet.safetensors', 'Hamlet, trained in Node');
});

const loadFile = guarded(async () => {
  const f = el.ckptFile.files?.[0];
  if (!f) return;
  await pause();
  loadBytes(new Uint8Array(await f.arrayBuffer()), f.name, f.name);
  el.ckptFile.value = '';
});

const save = guarded(async () => {
  if (!current) return;
  await pause();
  const bytes = await encodeCharRnn(current.model, current.vocab, { source: 'webgpu-rnn web demo' });
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `char-rnn-step${current.model.step}.safetensors`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

// ---- generation ---------------------------------------------------------------------------------
class Stopped extends Error {}

const runGenerate = guarded(async () => {
  if (!current) return;
  await pause();
  const cur = current;
  const known = new Set(cur.vocab);
  const primeText = [...el.prime.value].filter((c) => known.has(c)).join('') || cur.vocab[0];
  const prime = encodeText(primeText, cur.vocab);
  const length = Math.max(1, Math.min(5000, Math.floor(Number(el.length.value) || 400)));
  const temperature = Number(el.temperature.value);
  const topK = Math.max(0, Math.floor(Number(el.topk.value) || 0));
  const seed = Math.max(0, Math.floor(Number(el.seed.value) || 0));
  el.output.textContent = primeText;
  demo.generated = primeText;
  generating = true;
  stopGenerating = false;
  refreshButtons();
  const started = performance.now();
  let n = 0;
  try {
    await generate(cur.model, {
      prime, length, temperature, topK, seed,
      onToken: (id) => {
        if (stopGenerating) throw new Stopped('stopped');
        const ch = cur.vocab[id];
        el.output.append(ch);
        demo.generated += ch;
        n++;
        if (n % 8 === 0) el.output.scrollTop = el.output.scrollHeight;
      },
    });
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
    for (const l of cur.model.recurrentLayers()) l.setInitialState(null);
    cur.model.resetStates();
  } finally {
    generating = false;
    const s = (performance.now() - started) / 1000;
    // The whole loop (LSTM → dense → softmax → draw) runs in one GPU kernel for this model's shape.
    const where = typeof generatorSpecOf(cur.model) === 'string' ? 'one forward per character' : 'sampled on the GPU';
    el.genInfo.textContent = `${n} characters in ${s.toFixed(1)} s (${(n / Math.max(s, 1e-9)).toFixed(0)} chars/s, ${where}), seed ${seed}, T=${temperature.toFixed(2)}, top-k ${topK || 'all'}`;
  }
});

// ---- wiring -------------------------------------------------------------------------------------
el.start.addEventListener('click', () => void start());
el.pause.addEventListener('click', () => void guarded(pause)());
el.reset.addEventListener('click', () => void reset());
el.loadHamlet.addEventListener('click', () => void loadHamlet());
el.ckptFile.addEventListener('change', () => void loadFile());
el.save.addEventListener('click', () => void save());
el.generate.addEventListener('click', () => void runGenerate());
el.stop.addEventListener('click', () => { stopGenerating = true; });
el.temperature.addEventListener('input', () => { el.temperatureOut.value = Number(el.temperature.value).toFixed(2); });
el.text.addEventListener('change', () => setText(el.text.value, 'pasted text'));
el.textFile.addEventListener('change', () => void guarded(async () => {
  const f = el.textFile.files?.[0];
  if (f) setText(await f.text(), f.name);
})());

async function init(): Promise<void> {
  const text = await fetch('./hamlet.txt').then((r) => (r.ok ? r.text() : ''), () => '');
  setText(text || 'hello webgpu. '.repeat(50), text ? 'Hamlet (First Folio)' : 'fallback text');
  if (!('gpu' in navigator)) {
    el.adapter.textContent = 'no WebGPU';
    el.noWebgpu.textContent = `${NO_WEBGPU_MESSAGE} The page can show the text, but training and generation need WebGPU.`;
    el.noWebgpu.hidden = false;
    demo.error = NO_WEBGPU_MESSAGE;
    return;
  }
  try {
    ctx = await createBrowserContext();
  } catch (e) {
    el.adapter.textContent = 'no WebGPU adapter';
    el.noWebgpu.textContent = (e as Error).message;
    el.noWebgpu.hidden = false;
    demo.error = (e as Error).message;
    return;
  }
  demo.adapter = ctx.describe();
  el.adapter.textContent = `WebGPU: ${demo.adapter}`;
  freshModel();
}

init().then(() => { demo.ready = true; refreshButtons(); }, (e) => { showError(e); demo.ready = true; });
