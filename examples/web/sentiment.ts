// IMDb sentiment in the browser: a checkpoint trained in Node by examples/sentiment.ts (its
// vocabulary and review length are in the checkpoint's metadata) reads a typed review and gives
// P(positive), and the prediction after every word colours that word. What to copy into your app:
// the metadata → WordVocab lines in `start`, and `readReview` (tokenize → ids → padLeft → predict).
import { padLeft, tokenize, WordVocab, type Sequential } from '../../src/index.ts';
import { everyStepModel } from './every-step.ts';
import { $, fetchShipped, guarded, pageState, runPage, startWebGpu } from './page.ts';

const el = {
  review: $<HTMLTextAreaElement>('review'), probability: $('probability'), verdict: $('verdict'), words: $('words'), modelInfo: $('model-info'),
  exPositive: $<HTMLButtonElement>('ex-positive'), exNegative: $<HTMLButtonElement>('ex-negative'), exMixed: $<HTMLButtonElement>('ex-mixed'),
};
const EXAMPLES = {
  positive: 'One of the best films I have seen this year. Beautifully shot, brilliantly acted, and the score is perfect. I loved every minute and will watch it again.',
  negative: 'What a waste of time. The plot makes no sense, the dialogue is awful and the acting is even worse. I wanted to leave after twenty minutes. Avoid it.',
  mixed: 'The first hour is boring and the lead is badly miscast, but the last act is excellent and the ending is genuinely moving.',
};

let model: Sequential | null = null;
let vocab: WordVocab | null = null;
let maxlen = 0;
let reading = Promise.resolve();
/** Counts read requests: a queued reading that a newer request has overtaken is skipped. */
let requests = 0;

Object.assign(pageState, {
  /** The text last read, and what the model made of it. */
  text: '',
  probability: NaN,
  /** Every word of the text with P(positive) after reading up to it, or null for a word it skips. */
  words: [] as { word: string; p: number | null }[],
  readings: 0,
  checkpointAccuracy: '',
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * What the model makes of a review: the words as examples/sentiment.ts makes them (tokenize, the
 * training vocabulary, unknown words dropped, the last `maxlen` ids left-padded with zeros), one
 * forward pass, and the sigmoid of the logit after every word; the last is P(positive).
 */
async function readReview(text: string): Promise<{ probability: number; words: { word: string; p: number | null }[] }> {
  const words = tokenize(text);
  const ids = words.map((w) => vocab!.id(w)); // 0: not in the vocabulary
  const known = ids.filter((id) => id > 0);
  const { data } = await model!.predict({ x: padLeft([known], maxlen), shape: [1, maxlen] }); // (1, maxlen, 1) logits
  // The j-th of the last n known words is read at step maxlen − n + j; earlier ones are cut off.
  const n = Math.min(known.length, maxlen), cut = known.length - n;
  let j = -cut - 1;
  const out = words.map((word, i) => {
    if (ids[i] === 0) return { word, p: null };
    j++;
    return { word, p: j < 0 ? null : sigmoid(data[maxlen - n + j]) };
  });
  return { probability: sigmoid(data[maxlen - 1]), words: out };
}

/** Red (negative) through white to green (positive). */
function colourOf(p: number): string {
  const t = Math.abs(p - 0.5) * 2;
  return p >= 0.5 ? `rgba(22, 163, 74, ${(0.65 * t).toFixed(3)})` : `rgba(220, 38, 38, ${(0.65 * t).toFixed(3)})`;
}

function show(r: { probability: number; words: { word: string; p: number | null }[] }, anyKnown: boolean): void {
  el.probability.textContent = r.probability.toFixed(3);
  el.verdict.textContent = !anyKnown ? '(no word it knows: this is its guess for an empty review)' : r.probability >= 0.5 ? 'positive' : 'negative';
  el.words.replaceChildren(...r.words.map(({ word, p }) => {
    const s = document.createElement('span');
    s.textContent = word;
    if (p === null) s.className = 'skipped';
    else { s.style.background = colourOf(p); s.title = `P(positive) after "${word}": ${p.toFixed(3)}`; }
    return s;
  }));
}

function read(): Promise<void> {
  const request = ++requests;
  reading = reading.then(guarded(async () => {
    if (!model || request !== requests) return;
    const text = el.review.value;
    const r = await readReview(text);
    if (request !== requests) return; // a newer request came while this one ran
    show(r, r.words.some((w) => w.p !== null));
    Object.assign(pageState, { text, probability: r.probability, words: r.words, readings: (pageState.readings as number) + 1 });
  }));
  return reading;
}

let timer: ReturnType<typeof setTimeout> | undefined;
el.review.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => void read(), 150); });
for (const [button, text] of [[el.exPositive, EXAMPLES.positive], [el.exNegative, EXAMPLES.negative], [el.exMixed, EXAMPLES.mixed]] as const) {
  button.addEventListener('click', () => { el.review.value = text; void read(); });
}

runPage(async () => {
  const ctx = await startWebGpu();
  if (!ctx) return;
  const name = 'sentiment.safetensors';
  const bytes = await fetchShipped(name, 'train it with `npx tsx examples/sentiment.ts --vocab 10000 --embed 32 --hidden 32 --maxlen 100 --epochs 3 --lr 3e-3 --ship examples/web/public/sentiment.safetensors`');
  const loaded = everyStepModel(ctx, bytes, name);
  const m = loaded.metadata;
  if (!m.vocabulary || !m.maxlen) throw new Error(`${name}: no vocabulary or maxlen in its metadata; expected a checkpoint written by examples/sentiment.ts --ship`);
  // The words in id order; with one document of distinct words, fromDocuments keeps that order.
  vocab = WordVocab.fromDocuments([JSON.parse(m.vocabulary) as string[]]);
  maxlen = Number(m.maxlen);
  model = loaded.model;
  pageState.checkpointAccuracy = m.test_accuracy ?? '';
  el.modelInfo.textContent = `${vocab.size.toLocaleString('en-US')} words, the last ${maxlen} of a review, ${(bytes.length / 1024 / 1024).toFixed(2)} MiB` +
    (m.test_accuracy ? `, ${(100 * Number(m.test_accuracy)).toFixed(1)}% right on ${Number(m.test_reviews).toLocaleString('en-US')} test reviews` : '');
  await read();
});
