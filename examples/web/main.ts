// The web demo: train a char-RNN live in the page (loss chart, tokens/s, Start/Pause/Reset, a
// sample every N steps), generate from it at any time or from a checkpoint trained in Node
// (temperature, top-k, streamed characters), load and save checkpoints as safetensors files.
// Only the browser entry of the library is used. The parts: charrnn.ts (model, vocabulary,
// checkpoints), loss-chart.ts, explain.ts (the "what is happening" panel), turns.ts (training
// steps and sampling take turns on the model), webgpu-support.ts (why WebGPU is unavailable).
import { Adam, createBrowserContext, decodeSafetensors, generate, generatorSpecOf, Rng, type GpuContext, type Sequential } from '../../src/index.ts';
import {
  charCount, charRnn, charRnnFromCheckpoint, describeLayers, encodeCharRnn, encodeText, randomBatch, sameArchitecture,
  settingsOf, unseenCharacters, vocabOf, type CharRnnSettings,
} from './charrnn.ts';
import { explanation } from './explain.ts';
import { LossChart } from './loss-chart.ts';
import { Turns } from './turns.ts';
import { currentEnvironment, NO_ADAPTER_REASON, webgpuUnavailableReason } from './webgpu-support.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  adapter: $('adapter'), noWebgpu: $('no-webgpu'), error: $('error'), explain: $('explain'), footer: $('footer'),
  text: $<HTMLTextAreaElement>('text'), textFile: $<HTMLInputElement>('text-file'), textInfo: $('text-info'), textNote: $('text-note'),
  cell: $<HTMLSelectElement>('cell'), hidden: $<HTMLSelectElement>('hidden'), layers: $<HTMLSelectElement>('layers'), settingsNote: $('settings-note'),
  batch: $<HTMLInputElement>('batch'), seqlen: $<HTMLInputElement>('seqlen'), lr: $<HTMLInputElement>('lr'), sampleEvery: $<HTMLInputElement>('sample-every'),
  start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), reset: $<HTMLButtonElement>('reset'),
  step: $('step'), loss: $('loss'), tps: $('tps'), chart: $<HTMLCanvasElement>('chart'),
  modelName: $('model-name'), loadHamlet: $<HTMLButtonElement>('load-hamlet'), ckptFile: $<HTMLInputElement>('ckpt-file'),
  save: $<HTMLButtonElement>('save'), prime: $<HTMLInputElement>('prime'), temperature: $<HTMLInputElement>('temperature'),
  temperatureOut: $<HTMLOutputElement>('temperature-out'), topk: $<HTMLInputElement>('topk'), length: $<HTMLInputElement>('length'),
  seed: $<HTMLInputElement>('seed'), generate: $<HTMLButtonElement>('generate'), stop: $<HTMLButtonElement>('stop'),
  genInfo: $('gen-info'), outputCaption: $('output-caption'), output: $('output'),
};

/** The model the page trains and samples from, with its vocabulary. */
interface Current {
  model: Sequential;
  vocab: string[];
  /** 'trained here', or where the checkpoint came from. */
  name: string;
  /** Built here from the settings, not loaded: it may be rebuilt freely until its first step. */
  fresh: boolean;
  settings: CharRnnSettings | null;
  /** Compiling its kernels, once (see warmUp). */
  warming?: Promise<void>;
}

/** The loss the shipped Hamlet checkpoint reached when it was trained in Node (README), unless its metadata says. */
const HAMLET_CHECKPOINT_LOSS = 1.94;

let ctx: GpuContext | null = null;
let current: Current | null = null;
let unavailable = '';
let training: Promise<void> | null = null;
let stopTraining = false;
let compiling = false;
let generating = false;
let stopGenerating = false;
let hamletText = '';
let hamletCheckpoint: Promise<Uint8Array | null> | null = null;
const turns = new Turns();
const dataRng = new Rng(12345);
const chart = new LossChart(el.chart);

/** What the browser tests read (test/browser.test.ts); also handy from the devtools console. */
const demo = {
  ready: false,
  adapter: '',
  error: '',
  phase: 'starting',
  /** Every phase the page went through, in order (consecutive repeats dropped). */
  phases: ['starting'],
  losses: chart.raw,
  get step() { return current?.model.step ?? 0; },
  get training() { return training !== null; },
  get generating() { return generating; },
  get vocab() { return current?.vocab ?? []; },
  generated: '',
  /** The samples drawn from the current model: by the Generate button, or automatically during training. */
  samples: [] as { step: number; auto: boolean; text: string }[],
  tokensPerSecond: 0,
  modelName: '',
  kernelsCompiled: 0,
  compileMs: 0,
  /** Time of the first training step after the kernels were compiled. */
  firstStepMs: 0,
};
(globalThis as unknown as { demo: typeof demo }).demo = demo;

// ---- messages -----------------------------------------------------------------------------------
function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.warn(e); // shown in the page; a user's mistake is not a console error
  demo.error = msg;
  el.error.textContent = msg;
  el.error.hidden = false;
}
function clearError(): void { el.error.hidden = true; demo.error = ''; }
const guarded = <A extends unknown[]>(fn: (...a: A) => Promise<void> | void) => async (...a: A) => {
  try { clearError(); await fn(...a); } catch (e) { showError(e); } finally { refresh(); }
};

function showUnavailable(adapterLine: string, reason: string): void {
  unavailable = reason;
  el.adapter.textContent = adapterLine;
  el.noWebgpu.textContent = reason;
  el.noWebgpu.hidden = false;
  demo.error = reason;
}

const unseenMessage = (unseen: string[]) =>
  `the text has characters the model has not seen (${unseen.slice(0, 8).join(' ')}${unseen.length > 8 ? ' …' : ''}): ` +
  'press Reset to start a new model with them';

// ---- settings -----------------------------------------------------------------------------------
const intIn = (input: HTMLInputElement, lo: number, hi: number, fallback: number) =>
  Math.max(lo, Math.min(hi, Math.floor(Number(input.value) || fallback)));
const batchSize = () => intIn(el.batch, 1, 256, 16);
const seqLen = () => intIn(el.seqlen, 4, 256, 32);
const sampleEvery = () => intIn(el.sampleEvery, 0, 100_000, 0);
const learningRate = () => { const lr = Number(el.lr.value); return lr > 0 && Number.isFinite(lr) ? lr : 0.005; };
const topK = () => Math.max(0, Math.floor(Number(el.topk.value) || 0));

function chosenSettings(): CharRnnSettings {
  return { cell: el.cell.value as CharRnnSettings['cell'], hiddenSize: Number(el.hidden.value), numLayers: Number(el.layers.value) };
}
const sameSettings = (a: CharRnnSettings | null, b: CharRnnSettings) =>
  a !== null && a.cell === b.cell && a.hiddenSize === b.hiddenSize && a.numLayers === b.numLayers;

/** The text's characters missing from `vocab` (remembered: asked after every step of a long text). */
const unseenIn = (() => {
  let last = { text: '', vocab: [] as string[], unseen: [] as string[] };
  return (text: string, vocab: string[]): string[] => {
    if (text !== last.text || vocab !== last.vocab) last = { text, vocab, unseen: unseenCharacters(text, vocab) };
    return last.unseen;
  };
})();

/** A model built here that has not taken a step: rebuilding it loses nothing. */
function isPristine(): boolean {
  return current !== null && current.fresh && current.model.step === 0 && training === null && !compiling;
}

/** Shows the selects as a loaded model has them, where they offer its values. */
function showSettingsOf(s: CharRnnSettings | null): void {
  if (!s) return;
  const pick = (sel: HTMLSelectElement, v: string) => { if (Array.from(sel.options).some((o) => o.value === v)) sel.value = v; };
  pick(el.cell, s.cell);
  pick(el.hidden, String(s.hiddenSize));
  pick(el.layers, String(s.numLayers));
}

// ---- page state ---------------------------------------------------------------------------------
function phase(): string {
  if (unavailable) return 'no-webgpu';
  if (!current) return 'starting';
  if (compiling) return 'compiling';
  if (generating) return 'generating';
  if (training) return 'training';
  if (!current.fresh) return 'loaded';
  return current.model.step === 0 ? 'new' : 'paused';
}

/** Brings buttons, notes, footer and the explanation in line with the state. */
function refresh(): void {
  const ok = ctx !== null;
  const busyTrain = training !== null;
  el.start.disabled = !ok || busyTrain;
  el.pause.disabled = !busyTrain;
  el.reset.disabled = !ok || generating;
  el.loadHamlet.disabled = !ok || generating;
  el.ckptFile.disabled = !ok || generating;
  el.save.disabled = !ok || !current;
  el.generate.disabled = !ok || !current || generating;
  el.stop.disabled = !generating;
  el.modelName.textContent = current ? `${current.name}: ${describeLayers(current.model)} · step ${current.model.step}` : 'none yet';
  demo.modelName = el.modelName.textContent;
  if (current) {
    el.footer.textContent = `Everything runs on your GPU through WebGPU: ${describeLayers(current.model)}, fused WGSL kernels, Adam. ` +
      'Checkpoints are safetensors with PyTorch parameter names.';
  }
  const settingsDiffer = current !== null && !isPristine() && !sameSettings(current.settings, chosenSettings());
  el.settingsNote.hidden = !settingsDiffer;
  const unseen = current && !isPristine() ? unseenIn(el.text.value, current.vocab) : [];
  el.textNote.hidden = unseen.length === 0;
  if (unseen.length) el.textNote.textContent = `${unseenMessage(unseen)}.`;
  el.explain.textContent = explanation({
    unavailable: unavailable || undefined, starting: !current && !unavailable, compiling, training: busyTrain, generating,
    modelName: current?.name ?? '', fresh: current?.fresh ?? true, layers: current ? describeLayers(current.model) : '',
    step: current?.model.step ?? 0, vocabSize: current?.vocab.length ?? 0, batch: batchSize(), seqLen: seqLen(), lr: learningRate(),
    sampleEvery: sampleEvery(), temperature: Number(el.temperature.value), topK: topK(), smoothedLoss: chart.latestSmoothed,
  });
  const p = phase();
  demo.phase = p;
  if (demo.phases[demo.phases.length - 1] !== p) demo.phases.push(p);
}

function setText(text: string, source: string): void {
  el.text.value = text;
  textChanged(source);
}

/** Updates the info line and the reference line; a pristine model is rebuilt on the new characters. */
function textChanged(source = 'your text'): void {
  const text = el.text.value;
  el.textInfo.textContent = `${source}: ${charCount(text).toLocaleString()} characters, ${vocabOf(text).length} distinct`;
  const isHamlet = hamletText !== '' && text === hamletText;
  void hamletLoss().then((loss) => chart.setReference(isHamlet && loss !== null ? loss : null, `Hamlet checkpoint trained in Node: ${loss?.toFixed(2)}`));
  if (isPristine() && vocabOf(text).join('') !== current!.vocab.join('')) freshModel();
  refresh();
}

function clearResults(): void {
  chart.clear();
  el.output.textContent = '';
  el.outputCaption.textContent = '';
  el.genInfo.textContent = '';
  demo.generated = '';
  demo.samples.length = 0;
  el.step.textContent = String(current?.model.step ?? 0); el.loss.textContent = '–'; el.tps.textContent = '–';
}

function replaceModel(next: Current): void {
  current?.model.dispose();
  current = next;
  clearResults();
  refresh();
}

/** A new model on the vocabulary of the text in the box, with the settings shown (Reset). */
function freshModel(): void {
  const vocab = vocabOf(el.text.value);
  if (vocab.length < 2) throw new Error(`the text has ${vocab.length} distinct character${vocab.length === 1 ? '' : 's'}, expected at least two to learn from`);
  const settings = chosenSettings();
  const model = charRnn(vocab.length, { ...settings, seed: 1 }).build(ctx!);
  replaceModel({ model, vocab, name: 'trained here', fresh: true, settings });
}

// ---- kernels ------------------------------------------------------------------------------------
/**
 * Compiles the kernels of a training step and of sampling before the first step, asynchronously
 * (createComputePipelineAsync, through ctx.precompile): compiled on first use instead, they would
 * freeze the page for seconds. The step is traced on a scratch copy of the model.
 */
function warmUp(cur: Current): Promise<void> {
  cur.warming ??= compileKernels(cur).catch((e: unknown) => { cur.warming = undefined; throw e; });
  return cur.warming;
}

async function compileKernels(cur: Current): Promise<void> {
  compiling = true;
  refresh();
  const started = performance.now();
  const V = cur.vocab.length, B = batchSize(), T = seqLen();
  const scratch = sameArchitecture(cur.model).build(ctx!, { kind: 'tokens', size: V });
  try {
    scratch.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: 1e-3 }), clipNorm: 5 });
    const ids = Int32Array.from({ length: B * T }, (_, i) => i % V);
    demo.kernelsCompiled += await ctx!.precompile(() => Promise.all([
      scratch.trainStep({ x: ids, y: ids, shape: [B, T] }),
      generate(scratch, { prime: [0], length: 1, topK: Math.min(topK(), V) }),
    ]));
  } finally {
    scratch.dispose();
    compiling = false;
    demo.compileMs = performance.now() - started;
    refresh();
  }
}

// ---- training -----------------------------------------------------------------------------------
/**
 * The text as the model's token ids. An edit during training applies from the next step, unless
 * the new text has characters the model lacks or is too short: then training goes on with the old
 * text and the note under the text says what to do.
 */
const textIds = (() => {
  let last = { text: '', vocab: [] as string[], ids: new Int32Array(0) as Int32Array };
  return (cur: Current): Int32Array => {
    const text = el.text.value;
    if (text === last.text && cur.vocab === last.vocab) return last.ids;
    const usable = unseenIn(text, cur.vocab).length === 0 && charCount(text) >= seqLen() + 2;
    if (usable || cur.vocab !== last.vocab) last = { text, vocab: cur.vocab, ids: encodeText(text, cur.vocab) };
    return last.ids;
  };
})();

async function trainLoop(cur: Current): Promise<void> {
  await warmUp(cur);
  const window: { t: number; n: number }[] = [];
  let first = true;
  while (!stopTraining && cur === current) {
    // Batch, length and learning rate are read every step, so changing them applies at once.
    const B = batchSize(), T = seqLen();
    const ids = textIds(cur);
    const started = performance.now();
    const r = await turns.take(() => {
      if (cur.model.optimizer) cur.model.optimizer.lr = learningRate();
      return cur.model.trainStep(randomBatch(ids, B, T, dataRng), { readLoss: true });
    });
    const now = performance.now();
    if (first) { demo.firstStepMs = now - started; first = false; }
    window.push({ t: now, n: B * T });
    while (window.length > 2 && now - window[0].t > 3000) window.shift();
    if (window.length > 1) {
      const span = (now - window[0].t) / 1000;
      demo.tokensPerSecond = window.slice(1).reduce((a, w) => a + w.n, 0) / span;
      el.tps.textContent = Math.round(demo.tokensPerSecond).toLocaleString();
    }
    chart.add(cur.model.step, r.loss!);
    el.step.textContent = String(cur.model.step);
    el.loss.textContent = r.loss!.toFixed(3);
    refresh();
    const every = sampleEvery();
    if (every > 0 && cur.model.step % every === 0 && !generating && !stopTraining) await drawSample(cur, true);
  }
  chart.draw(true);
}

const start = guarded(async () => {
  if (!ctx || training) return;
  if (!current) freshModel();
  const unseen = unseenIn(el.text.value, current!.vocab);
  if (unseen.length) {
    if (!isPristine()) throw new Error(unseenMessage(unseen));
    freshModel();
  }
  const cur = current!;
  if (charCount(el.text.value) < seqLen() + 2) throw new Error(`the text has ${charCount(el.text.value)} characters, expected at least ${seqLen() + 2} for windows of ${seqLen()} (seq len)`);
  if (!cur.model.optimizer) cur.model.compile({ loss: 'softmax_cross_entropy', optimizer: new Adam({ lr: learningRate() }), clipNorm: 5 });
  stopTraining = false;
  training = trainLoop(cur)
    .catch((e) => { showError(e); })
    .finally(() => { training = null; refresh(); });
  refresh();
});

async function pause(): Promise<void> {
  stopTraining = true;
  if (training) await training;
}

const reset = guarded(async () => {
  await pause();
  freshModel();
});

// ---- checkpoints --------------------------------------------------------------------------------
function fetchHamletCheckpoint(): Promise<Uint8Array | null> {
  hamletCheckpoint ??= fetch('./hamlet.safetensors').then(async (r) => (r.ok ? new Uint8Array(await r.arrayBuffer()) : null), () => null);
  return hamletCheckpoint;
}

/** The shipped checkpoint's loss: from its metadata when recorded there, else the README's measurement. */
async function hamletLoss(): Promise<number | null> {
  const bytes = await fetchHamletCheckpoint();
  if (!bytes) return null;
  try {
    const { metadata } = decodeSafetensors(bytes, 'hamlet.safetensors');
    const recorded = Number(metadata.loss ?? metadata.validationLoss ?? metadata.val_loss);
    return Number.isFinite(recorded) && recorded > 0 ? recorded : HAMLET_CHECKPOINT_LOSS;
  } catch {
    return null;
  }
}

function loadBytes(bytes: Uint8Array, source: string, origin: string): void {
  const loaded = charRnnFromCheckpoint(ctx!, bytes, source);
  const settings = settingsOf(loaded.model);
  showSettingsOf(settings);
  replaceModel({ model: loaded.model, vocab: loaded.vocab, name: origin, fresh: false, settings });
  el.genInfo.textContent = `loaded ${source} (${(bytes.length / 1024).toFixed(0)} KiB, ${loaded.vocab.length} characters)`;
}

const loadHamlet = guarded(async () => {
  await pause();
  const bytes = await fetchHamletCheckpoint();
  if (!bytes) throw new Error('hamlet.safetensors is not shipped with this build: train it with `npx tsx examples/hamlet.ts` and copy it to examples/web/public/');
  loadBytes(bytes, 'hamlet.safetensors', 'Hamlet, trained in Node');
});

const loadFile = guarded(async () => {
  const f = el.ckptFile.files?.[0];
  el.ckptFile.value = '';
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  await pause();
  loadBytes(bytes, f.name, f.name);
});

const save = guarded(async () => {
  const cur = current;
  if (!cur) return;
  // Between two steps: training goes on.
  const bytes = await turns.take(() => encodeCharRnn(cur.model, cur.vocab, { source: 'webgpu-rnn web demo' }));
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `char-rnn-step${cur.model.step}.safetensors`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

// ---- generation ---------------------------------------------------------------------------------
class Stopped extends Error {}

/** Draws a sample with the Generate settings into the output, between two training steps. */
async function drawSample(cur: Current, auto: boolean): Promise<void> {
  generating = true;
  stopGenerating = false;
  refresh();
  try {
    await warmUp(cur);
    await turns.take(() => sampleInto(cur, auto));
  } finally {
    generating = false;
    refresh();
  }
}

async function sampleInto(cur: Current, auto: boolean): Promise<void> {
  if (cur !== current) return; // replaced while waiting for the turn
  const known = new Set(cur.vocab);
  const primeText = [...el.prime.value].filter((c) => known.has(c)).join('') || cur.vocab[0];
  const length = Math.max(1, Math.min(5000, Math.floor(Number(el.length.value) || 400)));
  const temperature = Number(el.temperature.value);
  const k = Math.min(topK(), cur.vocab.length); // top-k beyond the vocabulary means all of it
  const seed = Math.max(0, Math.floor(Number(el.seed.value) || 0));
  const step = cur.model.step;
  el.outputCaption.textContent = `${auto ? 'sample drawn during training' : 'sample'} at step ${step} · T=${temperature.toFixed(2)}, top-k ${k || 'all'}, seed ${seed}`;
  el.output.textContent = primeText;
  demo.generated = primeText;
  const started = performance.now();
  let n = 0;
  try {
    await generate(cur.model, {
      prime: encodeText(primeText, cur.vocab), length, temperature, topK: k, seed,
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
    const s = (performance.now() - started) / 1000;
    // The whole loop (LSTM → dense → softmax → draw) runs in one GPU kernel for this model's shape.
    const where = typeof generatorSpecOf(cur.model) === 'string' ? 'one forward per character' : 'sampled on the GPU';
    el.genInfo.textContent = `${n} characters in ${s.toFixed(1)} s (${(n / Math.max(s, 1e-9)).toFixed(0)} chars/s, ${where})`;
    demo.samples.push({ step, auto, text: demo.generated });
  }
}

const runGenerate = guarded(async () => {
  if (!current || generating) return;
  await drawSample(current, false);
});

// ---- wiring -------------------------------------------------------------------------------------
/** A settings control changed: a pristine model is rebuilt with it, otherwise Reset applies it. */
const settingsChanged = guarded(() => { if (isPristine() && !sameSettings(current!.settings, chosenSettings())) freshModel(); });

let textTimer: ReturnType<typeof setTimeout> | undefined;
el.start.addEventListener('click', () => void start());
el.pause.addEventListener('click', () => void guarded(pause)());
el.reset.addEventListener('click', () => void reset());
el.loadHamlet.addEventListener('click', () => void loadHamlet());
el.ckptFile.addEventListener('change', () => void loadFile());
el.save.addEventListener('click', () => void save());
el.generate.addEventListener('click', () => void runGenerate());
el.stop.addEventListener('click', () => { stopGenerating = true; });
el.temperature.addEventListener('input', () => { el.temperatureOut.value = Number(el.temperature.value).toFixed(2); });
for (const s of [el.cell, el.hidden, el.layers]) s.addEventListener('change', () => void settingsChanged());
for (const i of [el.batch, el.seqlen, el.lr, el.sampleEvery]) i.addEventListener('change', () => refresh());
el.text.addEventListener('input', () => { clearTimeout(textTimer); textTimer = setTimeout(() => void guarded(() => textChanged())(), 250); });
el.textFile.addEventListener('change', () => void guarded(async () => {
  const f = el.textFile.files?.[0];
  if (f) setText(await f.text(), f.name);
})());

async function init(): Promise<void> {
  hamletText = await fetch('./hamlet.txt').then((r) => (r.ok ? r.text() : ''), () => '');
  setText(hamletText || 'hello webgpu. '.repeat(50), hamletText ? 'Hamlet (First Folio)' : 'fallback text');
  const reason = webgpuUnavailableReason(currentEnvironment());
  if (reason) {
    showUnavailable(location.protocol === 'file:' ? 'not served: opened from a file' : 'no WebGPU', reason);
    return;
  }
  try {
    ctx = await createBrowserContext();
  } catch (e) {
    console.warn(e);
    const noAdapter = /no WebGPU adapter/i.test((e as Error).message);
    showUnavailable(noAdapter ? 'no WebGPU adapter' : 'WebGPU failed to start', noAdapter ? NO_ADAPTER_REASON : `WebGPU failed to start: ${(e as Error).message}`);
    return;
  }
  demo.adapter = ctx.describe();
  el.adapter.textContent = `WebGPU: ${demo.adapter}`;
  freshModel();
}

init().then(() => { demo.ready = true; refresh(); }, (e) => { showError(e); demo.ready = true; refresh(); });
