// The example pages in Chromium (part 3 of test/browser.test.ts, which builds the app, serves it
// and starts the browser): MNIST, sentiment and stock. For each page: it loads on the SwiftShader
// adapter and names it; the shipped checkpoints give in the page what they give in Node for fixed
// inputs (10 MNIST test digits, row by row; 5 IMDb test reviews, word by word), computed here with
// the same files; training in the page lowers the loss (MNIST "train here", stock) and works
// offline once the page has loaded; a bad CSV is named with its line; without WebGPU or from a
// file:// URL every page says why; screenshots of each page.
import { suite } from 'uvu';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { gpu } from './helpers/gpu.ts';
import { modelFromCheckpoint, padLeft, parseIdxImages, parseIdxLabels, parseNumericCsv, parseReviews, tokenize, WordVocab } from '../src/index.ts';
import { everyStepModel } from '../examples/web/every-step.ts';

export interface PagesEnv {
  browser: Browser;
  base: string;
  /** The built app, for file:// URLs. */
  webDir: string;
  work: string;
}

interface Options {
  root: string;
  screenshots: string;
  env: () => PagesEnv;
  log: (m: string) => void;
  /** Closes the browser and server: after the last suite. */
  teardown: () => Promise<void>;
}

/** The page's `window.page` (examples/web/page.ts plus what each page adds). */
type PageState = Record<string, unknown> & { ready: boolean; adapter: string; error: string };
type PageWindow = { page: PageState };

const softmax = (z: ArrayLike<number>) => {
  const m = Math.max(...Array.from(z));
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const argmax = (p: number[]) => p.indexOf(Math.max(...p));
const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
/** Page (SwiftShader) and Node (lavapipe or Dawn's GL) sum in different orders: probabilities agree to this. */
const TOLERANCE = 2e-3;

export function registerPageSuites(o: Options): void {
  const consoleErrors: string[] = [];
  const shippedMnist = join(o.root, 'examples', 'web', 'public', 'mnist.safetensors');
  const shippedSentiment = join(o.root, 'examples', 'web', 'public', 'sentiment.safetensors');

  async function open(name: string, prepare?: (p: Page) => Promise<unknown>): Promise<Page> {
    const e = o.env();
    const p = await e.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`); });
    p.on('pageerror', (err) => consoleErrors.push(`${name}: ${err.message}`));
    await prepare?.(p);
    await p.goto(`${e.base}/${name}.html`);
    await p.waitForFunction(() => (globalThis as unknown as { page?: PageState }).page?.ready === true, undefined, { timeout: 120_000 });
    return p;
  }
  const state = (p: Page) => p.evaluate(() => JSON.parse(JSON.stringify((globalThis as unknown as PageWindow).page)) as PageState);
  async function loaded(p: Page): Promise<PageState> {
    const s = await state(p);
    if (s.error) throw new Error(`the page reported: ${s.error}`);
    if (!/swiftshader/i.test(s.adapter)) throw new Error(`expected the SwiftShader adapter, got ${JSON.stringify(s.adapter)}`);
    if (!((await p.textContent('#adapter')) ?? '').includes(s.adapter)) throw new Error('the header does not name the adapter');
    return s;
  }
  async function screenshot(p: Page, name: string): Promise<void> {
    mkdirSync(o.screenshots, { recursive: true });
    await p.screenshot({ path: join(o.screenshots, name), fullPage: true });
  }

  // ---- MNIST ----------------------------------------------------------------------------------
  const mnist = suite('browser: MNIST page');
  let mp: Page | null = null;
  mnist.after(async () => { await mp?.close().catch(() => undefined); });

  mnist('loads the shipped checkpoint, states its test accuracy and reads test digit #0', async () => {
    if (!existsSync(shippedMnist)) throw new Error('examples/web/public/mnist.safetensors is missing (see the README\'s browser section)');
    mp = await open('mnist');
    const s = await loaded(mp);
    if (!(Number(s.checkpointAccuracy) > 0.9)) throw new Error(`checkpoint accuracy ${s.checkpointAccuracy}`);
    if (!/% on the 10,000 test images/.test((await mp.textContent('#model-info')) ?? '')) throw new Error(`model info: ${await mp.textContent('#model-info')}`);
    if (s.shown !== 0 || (s.rows as number[][]).length !== 28) throw new Error(`digit #0 was not read: shown ${s.shown}, ${(s.rows as unknown[]).length} rows`);
  });

  mnist('the shipped checkpoint gives in the page the probabilities Node gives, after every row, for 10 test digits', async () => {
    const p = mp!;
    const pageRows: number[][][] = [];
    for (let i = 0; i < 10; i++) {
      const before = (await state(p)).readings as number;
      await p.fill('#digit-index', String(i));
      await p.click('#pick');
      // Picking fires both the input's change and the button's click; wait for this digit's reading.
      await p.waitForFunction(([n, k]) => { const s = (globalThis as unknown as PageWindow).page; return (s.readings as number) > n && s.shown === k; }, [before, i], { timeout: 60_000 });
      const s = await state(p);
      if (s.shown !== i) throw new Error(`showing ${s.shown}, expected ${i}`);
      pageRows.push(s.rows as number[][]);
    }
    const ctx = await gpu();
    const bytes = new Uint8Array(readFileSync(shippedMnist));
    const images = parseIdxImages(new Uint8Array(readFileSync(join(o.root, 'examples', 'web', 'public', 'mnist', 'test-images.idx'))), 'test-images.idx');
    const labels = parseIdxLabels(new Uint8Array(readFileSync(join(o.root, 'examples', 'web', 'public', 'mnist', 'test-labels.idx'))), 'test-labels.idx');
    const x = Float32Array.from(images.pixels.subarray(0, 10 * 784), (b) => b / 255);
    // Node: the checkpoint's own model (… → LastStep → Dense), and the same without LastStep.
    const { model } = modelFromCheckpoint(ctx, bytes, 'mnist.safetensors');
    const final = (await model.predict({ x, shape: [10, 28, 28] })).data;
    model.dispose();
    const reader = everyStepModel(ctx, bytes, 'mnist.safetensors').model;
    const rows = (await reader.predict({ x, shape: [10, 28, 28] })).data;
    reader.dispose();
    let right = 0;
    for (let i = 0; i < 10; i++) {
      const node = softmax(final.subarray(i * 10, (i + 1) * 10));
      const page = pageRows[i][27];
      if (argmax(page) !== argmax(node) || maxAbsDiff(page, node) > TOLERANCE) throw new Error(`digit ${i}: page ${page.map((v) => v.toFixed(4))} vs Node ${node.map((v) => v.toFixed(4))}`);
      for (let r = 0; r < 28; r++) {
        const nodeRow = softmax(rows.subarray((i * 28 + r) * 10, (i * 28 + r + 1) * 10));
        if (maxAbsDiff(pageRows[i][r], nodeRow) > TOLERANCE) throw new Error(`digit ${i} row ${r}: page ${pageRows[i][r].map((v) => v.toFixed(4))} vs Node ${nodeRow.map((v) => v.toFixed(4))}`);
      }
      if (argmax(node) === labels[i]) right++;
    }
    o.log(`MNIST page: 10 test digits read as in Node (${right}/10 right)`);
    if (right < 9) throw new Error(`only ${right} of the first 10 test digits are right`);
  });

  mnist('a digit drawn on the canvas is scaled, centred and read', async () => {
    const p = mp!;
    const before = (await state(p)).readings as number;
    const box = (await p.locator('#draw').boundingBox())!;
    await p.mouse.move(box.x + 140, box.y + 40);
    await p.mouse.down();
    for (let y = 40; y <= 240; y += 10) await p.mouse.move(box.x + 140, box.y + y);
    await p.mouse.up();
    await p.waitForFunction((n) => { const s = (globalThis as unknown as PageWindow).page; return (s.readings as number) > n && s.shown === -1; }, before, { timeout: 60_000 });
    const s = await state(p);
    const last = (s.rows as number[][])[27];
    if (s.shown !== -1) throw new Error(`shown ${s.shown}, expected -1 (a drawing)`);
    if (Math.abs(last.reduce((a, b) => a + b, 0) - 1) > 1e-4) throw new Error(`probabilities sum to ${last.reduce((a, b) => a + b, 0)}`);
    o.log(`MNIST page: a vertical stroke is read as ${s.answer} (${(100 * last[s.answer as number]).toFixed(1)}%)`);
    if (s.answer !== 1) throw new Error(`a vertical stroke was read as ${s.answer}, expected 1`);
  });

  mnist('train here lowers the loss and reports test accuracy, offline once the page has loaded', async () => {
    const p = mp!;
    await p.context().setOffline(true);
    try {
      await p.fill('#epochs', '1');
      await p.click('#train');
      await p.waitForFunction(() => { const s = (globalThis as unknown as PageWindow).page; return (s.testAccuracy as number[]).length === 1 && !s.training || s.error !== ''; }, undefined, { timeout: 600_000, polling: 500 });
    } finally {
      await p.context().setOffline(false);
    }
    const s = await state(p);
    if (s.error) throw new Error(`the page reported: ${s.error}`);
    const ys = (s.losses as { y: number }[]).map((l) => l.y);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const first = mean(ys.slice(0, 5)), last = mean(ys.slice(-5)), acc = (s.testAccuracy as number[])[0];
    o.log(`MNIST train here: ${ys.length} steps, loss ${first.toFixed(3)} → ${last.toFixed(3)}, test accuracy ${(100 * acc).toFixed(1)}%`);
    if (!(ys.length === 40 && last < first - 0.3)) throw new Error(`the loss did not fall: ${first.toFixed(3)} → ${last.toFixed(3)} over ${ys.length} steps`);
    if (!(acc > 0.2)) throw new Error(`test accuracy ${acc} is not above chance`);
    await p.selectOption('#reader', 'trained');
    await p.fill('#digit-index', '3');
    await p.click('#pick');
    await p.waitForFunction(() => (globalThis as unknown as PageWindow).page.shown === 3, undefined, { timeout: 60_000 });
    await p.selectOption('#reader', 'shipped');
    await p.waitForFunction(() => (globalThis as unknown as PageWindow).page.answer === 0, undefined, { timeout: 60_000 }); // test digit #3 is a 0
    await screenshot(p, 'mnist.png');
  });
  mnist.run();

  // ---- sentiment ------------------------------------------------------------------------------
  const sentiment = suite('browser: sentiment page');
  let sp: Page | null = null;
  sentiment.after(async () => { await sp?.close().catch(() => undefined); });

  sentiment('loads the shipped checkpoint with its vocabulary and states its test accuracy', async () => {
    if (!existsSync(shippedSentiment)) throw new Error('examples/web/public/sentiment.safetensors is missing (see the README\'s browser section)');
    sp = await open('sentiment');
    const s = await loaded(sp);
    if (!(Number(s.checkpointAccuracy) > 0.7)) throw new Error(`checkpoint accuracy ${s.checkpointAccuracy}`);
    if (!/% right on 5,000 test reviews/.test((await sp.textContent('#model-info')) ?? '')) throw new Error(`model info: ${await sp.textContent('#model-info')}`);
    if (!((s.readings as number) >= 1 && (s.probability as number) > 0.5)) throw new Error(`the preset positive review reads as ${s.probability}`);
  });

  sentiment('the shipped checkpoint gives in the page the P(positive) Node gives for 5 test reviews, word by word', async () => {
    const p = sp!;
    const csv = join(o.root, 'data', 'imdb', 'movie_data_25k.csv.gz');
    const reviews = parseReviews(gunzipSync(readFileSync(csv)).toString('utf8'), csv, 20005).slice(20000); // from the test split
    const bytes = new Uint8Array(readFileSync(shippedSentiment));
    const ctx = await gpu();
    const { model, metadata } = modelFromCheckpoint(ctx, bytes, 'sentiment.safetensors');
    const vocab = WordVocab.fromDocuments([JSON.parse(metadata.vocabulary) as string[]]);
    const maxlen = Number(metadata.maxlen);
    const nodeP: number[] = [];
    for (const r of reviews) nodeP.push(sigmoid((await model.predict({ x: padLeft([vocab.encode(tokenize(r.text))], maxlen), shape: [1, maxlen] })).data[0]));
    model.dispose();
    for (let i = 0; i < reviews.length; i++) {
      const before = (await state(p)).readings as number;
      await p.fill('#review', reviews[i].text);
      await p.waitForFunction(([n, text]) => { const s = (globalThis as unknown as PageWindow).page; return (s.readings as number) > n && s.text === text; }, [before, reviews[i].text] as const, { timeout: 60_000 });
      const s = await state(p);
      if (s.text !== reviews[i].text) throw new Error(`review ${i}: the page read another text`);
      const got = s.probability as number;
      if (Math.abs(got - nodeP[i]) > TOLERANCE) throw new Error(`review ${i}: P(positive) ${got.toFixed(4)} in the page, ${nodeP[i].toFixed(4)} in Node`);
      const words = s.words as { word: string; p: number | null }[];
      const read = words.filter((w) => w.p !== null);
      if (read.length !== Math.min(maxlen, vocab.encode(tokenize(reviews[i].text)).length)) throw new Error(`review ${i}: ${read.length} words coloured`);
      if (Math.abs(read[read.length - 1].p! - got) > 1e-9) throw new Error(`review ${i}: the last word's colour is not the final prediction`);
      if (words.length !== tokenize(reviews[i].text).length) throw new Error(`review ${i}: ${words.length} words shown`);
    }
    o.log(`sentiment page: 5 test reviews as in Node: P(positive) ${nodeP.map((v) => v.toFixed(3)).join(', ')} (labels ${reviews.map((r) => r.label).join(', ')})`);
  });

  sentiment('unknown words are shown grey and skipped; the example buttons read their review', async () => {
    const p = sp!;
    const before = (await state(p)).readings as number;
    await p.click('#ex-mixed');
    await p.waitForFunction((n) => ((globalThis as unknown as PageWindow).page.readings as number) > n, before, { timeout: 60_000 });
    await p.fill('#review', 'Zxqvbnm flurbington, a truly great film.');
    await p.waitForFunction(() => ((globalThis as unknown as PageWindow).page.text as string).startsWith('Zxqvbnm'), undefined, { timeout: 60_000 });
    const s = await state(p);
    const words = s.words as { word: string; p: number | null }[];
    if (words[0].word !== 'zxqvbnm' || words[0].p !== null || words[1].p !== null) throw new Error(`unknown words: ${JSON.stringify(words.slice(0, 2))}`);
    if (!(await p.locator('#words span.skipped').first().isVisible())) throw new Error('no skipped word shown');
    await p.click('#ex-mixed');
    await p.waitForFunction(() => ((globalThis as unknown as PageWindow).page.text as string).startsWith('The first hour'), undefined, { timeout: 60_000 });
    await screenshot(p, 'sentiment.png');
  });
  sentiment.run();

  // ---- stock ----------------------------------------------------------------------------------
  const stock = suite('browser: stock page');
  let kp: Page | null = null;
  stock.after(async () => { await kp?.close().catch(() => undefined); });

  stock('trains the lab\'s configuration offline, lowers the loss and charts both RMSEs; the naive one is Node\'s', async () => {
    kp = await open('stock');
    await loaded(kp);
    await kp.context().setOffline(true);
    try {
      await kp.fill('#steps', '60');
      await kp.click('#train');
      await kp.waitForFunction(() => { const s = (globalThis as unknown as PageWindow).page; return (s.rmse as number) > 0 || s.error !== ''; }, undefined, { timeout: 300_000, polling: 500 });
    } finally {
      await kp.context().setOffline(false);
    }
    const s = await state(kp);
    if (s.error) throw new Error(`the page reported: ${s.error}`);
    const ys = (s.losses as { y: number }[]).map((l) => l.y);
    o.log(`stock page: 60 steps in ${(s.trainSeconds as number).toFixed(1)} s, loss ${ys[0].toFixed(4)} → ${ys[ys.length - 1].toFixed(4)}; test RMSE $${(s.rmseUsd as number).toFixed(2)}, naive $${(s.naiveRmseUsd as number).toFixed(2)}`);
    if (!(ys[ys.length - 1] < ys[0] / 3)) throw new Error(`the loss did not fall: ${ys[0]} → ${ys[ys.length - 1]}`);
    // The naive forecast needs no GPU: Node computes it from the same file as examples/stock.ts does.
    const file = join(o.root, 'examples', 'web', 'public', 'stock', 'data-02-stock_daily.csv');
    const rows = parseNumericCsv(readFileSync(file, 'utf8'), file, { comments: true, columns: 5 }).reverse();
    const close = rows.map((r) => r[4]);
    const windows = rows.length - 7, trainN = Math.floor(windows * 0.7);
    let sq = 0;
    for (let k = trainN; k < windows; k++) sq += (close[k + 7] - close[k + 6]) ** 2;
    const naiveUsd = Math.sqrt(sq / (windows - trainN));
    if (Math.abs((s.naiveRmseUsd as number) - naiveUsd) > 0.01) throw new Error(`naive RMSE $${s.naiveRmseUsd} in the page, $${naiveUsd.toFixed(4)} in Node`);
    if (!((s.rmse as number) < 0.25)) throw new Error(`test RMSE ${s.rmse} (scaled) after training`);
    if (!((await kp.textContent('#rmse')) ?? '').startsWith('$')) throw new Error('the RMSE is not shown');
    await screenshot(kp, 'stock.png');
  });

  stock('a dropped CSV with a bad row is named with its file and line, and the data stays', async () => {
    const p = kp!;
    const e = o.env();
    const bad = join(e.work, 'prices.csv');
    writeFileSync(bad, '# Open,High,Low,Volume,Close\n1,2,3,4,5\n1,2,three,4,5\n');
    await p.setInputFiles('#csv-file', bad);
    await p.waitForFunction(() => (globalThis as unknown as PageWindow).page.error !== '', undefined, { timeout: 30_000 });
    let s = await state(p);
    if (!/^prices\.csv:3/.test(s.error) || !/three/.test(s.error)) throw new Error(`message: ${s.error}`);
    if (s.dataName !== 'data-02-stock_daily.csv') throw new Error(`the data changed to ${s.dataName}`);
    if (!(await p.locator('#error').isVisible())) throw new Error('the message is not shown');
    const short = join(e.work, 'short.csv');
    writeFileSync(short, '1,2,3,4,5\n'.repeat(5));
    await p.setInputFiles('#csv-file', short);
    await p.waitForFunction(() => /short\.csv/.test((globalThis as unknown as PageWindow).page.error), undefined, { timeout: 30_000 });
    s = await state(p);
    if (!/short\.csv: 5 rows of prices, expected at least 11/.test(s.error)) throw new Error(`message: ${s.error}`);
  });
  stock.run();

  // ---- every page -----------------------------------------------------------------------------
  const all = suite('browser: every example page');
  all.after(o.teardown);
  const PAGES = ['mnist', 'sentiment', 'stock'];

  all('without navigator.gpu every page says so; every page links to the others', async () => {
    for (const name of PAGES) {
      const p = await open(name, (q) => q.addInitScript(() => { delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu; }));
      try {
        const banner = p.locator('#no-webgpu');
        if (!(await banner.isVisible()) || !/no WebGPU/.test((await banner.textContent()) ?? '')) throw new Error(`${name}: banner ${await banner.textContent()}`);
        const links = await p.$$eval('nav.pages a', (as) => as.map((a) => a.getAttribute('href')));
        if (links.join(' ') !== './index.html ./mnist.html ./sentiment.html ./stock.html') throw new Error(`${name}: links ${links.join(' ')}`);
      } finally {
        await p.close();
      }
    }
  });

  all('opened from a file:// URL every page says to serve it', async () => {
    const e = o.env();
    for (const name of PAGES) {
      const p = await e.browser.newPage();
      try {
        await p.goto(pathToFileURL(join(e.webDir, `${name}.html`)).href);
        const banner = (await p.textContent('#no-webgpu')) ?? '';
        if (!/opened from a file/.test(banner) || !/npm run web:dev/.test(banner)) throw new Error(`${name}: ${banner}`);
      } finally {
        await p.close();
      }
    }
  });

  all('no errors in the pages\' consoles', () => {
    if (consoleErrors.length) throw new Error(`console errors:\n${consoleErrors.join('\n')}`);
  });
  all.run();
}
