// The browser race: ours against tfjs-webgpu and onnxruntime-web in one headless Chromium page
// (WebGPU on SwiftShader, launched as test/browser.test.ts does), training step and inference at
// B16 T50 H128 V65. onnxruntime-web runs the inference rows only, on the model exported to ONNX,
// with its WebGPU execution provider (ort_web_ms) and its wasm provider (ort_wasm_ms); ours_auto_ms
// is ours through createPredictor (engine 'auto': on this fallback adapter, our ONNX export on ort's wasm).
//   npm run bench:browser                  a table
//   npm run bench:browser -- --json        one JSON object per line and configuration
//   npm run bench:browser -- --only gru    only the configurations whose name contains "gru"
//   npm run bench:browser -- --schedule sequence   our recurrent schedule (step, sequence; default auto)
//   npm run bench:browser -- --ours-only   ours alone (no tfjs, no onnxruntime-web)
// bench/browser-race-page.ts is bundled with esbuild and served on 127.0.0.1 with onnxruntime-web's
// wasm/mjs files under /ort/; per side, the median of 5 steps after 2 warm-ups (fewer timed steps,
// at least one, where a side's steps exceed 30 s). The page is cross-origin isolated (COOP/COEP) so
// ort's wasm can run ORT_WASM_THREADS threads. Chromium must be /usr/bin/chromium (or CHROMIUM_PATH).
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { RaceRow } from './browser-race-page.ts';

const JSON_OUT = process.argv.includes('--json');
const onlyAt = process.argv.indexOf('--only');
const ONLY = onlyAt > 0 ? process.argv[onlyAt + 1] ?? '' : '';
const scheduleAt = process.argv.indexOf('--schedule');
const SCHEDULE = scheduleAt > 0 ? process.argv[scheduleAt + 1] ?? '' : 'auto';
if (!['step', 'sequence', 'auto'].includes(SCHEDULE)) throw new Error(`bench:browser: --schedule must be step, sequence or auto, got ${JSON.stringify(SCHEDULE)}`);
const OURS_ONLY = process.argv.includes('--ours-only');
/** ort's wasm threads: the 2 cores this benchmark was written for (threads need the COOP/COEP headers below). */
const ORT_WASM_THREADS = 2;
/** onnxruntime-web's dist folder (its .wasm and .mjs files), served under /ort/. */
const ORT_DIST = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--no-default-browser-check', '--disable-features=MediaRouter,OptimizationHints',
];
const TIMEOUT_MS = 30 * 60_000;
const log = (s: string) => (JSON_OUT ? console.error(s) : console.log(s));

if (!existsSync(CHROMIUM)) {
  console.error(`Chromium is not installed at ${CHROMIUM}: install Debian's chromium (npm run setup -- --browser) or set CHROMIUM_PATH.`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'webgpu-rnn-race-'));
const { build } = await import('esbuild');
await build({
  entryPoints: [fileURLToPath(new URL('./browser-race-page.ts', import.meta.url))],
  bundle: true, platform: 'browser', format: 'esm', target: 'es2022', outfile: join(dir, 'race.js'), logLevel: 'warning',
  // onnxruntime-web's builds that load their wasm glue (.mjs) from env.wasm.wasmPaths rather than inlining it.
  conditions: ['onnxruntime-web-use-extern-wasm'],
});
writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>webgpu-rnn browser race</title><script type="module" src="./race.js"></script>\n');

const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const ortFile = /^\/ort\/(ort-wasm-[\w.-]+\.(?:wasm|mjs))$/.exec(path)?.[1];
  if (ortFile && existsSync(join(ORT_DIST, ortFile))) {
    res.writeHead(200, { ...ISOLATION, 'content-type': ortFile.endsWith('.wasm') ? 'application/wasm' : 'text/javascript' });
    res.end(readFileSync(join(ORT_DIST, ortFile)));
    return;
  }
  if (path.startsWith('/ort/')) { res.writeHead(404, ISOLATION); res.end(); return; }
  const file = path === '/race.js' ? 'race.js' : 'index.html';
  res.writeHead(200, { ...ISOLATION, 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8' });
  res.end(readFileSync(join(dir, file)));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
interface RaceState { done: boolean; adapter: string; rows: RaceRow[]; error: string; progress: string }
let result: RaceState;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${base}?${new URLSearchParams({ ortDist: '/ort/', ortThreads: String(ORT_WASM_THREADS), only: ONLY, schedule: SCHEDULE, oursOnly: OURS_ONLY ? '1' : '0' })}`);
  const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
  if (!isolated) throw new Error('the race page is not cross-origin isolated, so onnxruntime-web\'s wasm cannot use threads');
  log(`Chromium ${browser.version()} (SwiftShader WebGPU), page ${base}, onnxruntime-web wasm threads: ${ORT_WASM_THREADS}`);
  const started = Date.now();
  let printed = 0, lastProgress = '';
  for (;;) {
    const st = await page.evaluate(() => (globalThis as unknown as { race?: RaceState }).race ?? null);
    if (st) {
      if (st.progress !== lastProgress) { log(`  ${st.progress}`); lastProgress = st.progress; }
      for (; printed < st.rows.length; printed++) if (JSON_OUT) console.log(JSON.stringify({ ...st.rows[printed], adapter: st.adapter, browser: `Chromium ${browser.version()}` }));
      if (st.done) { result = st; break; }
    }
    if (Date.now() - started > TIMEOUT_MS) throw new Error(`the race page did not finish within ${TIMEOUT_MS / 60_000} minutes`);
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}

if (result.error) { console.error(`the race page failed: ${result.error}`); process.exit(1); }
if (!JSON_OUT) {
  console.log(`\nadapter: ${result.adapter}`);
  const f = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));
  console.table(result.rows.map((r) => ({
    config: r.config, 'B×T': `${r.B}×${r.T}`, 'ours ms': f(r.ours_ms), 'tfjs-webgpu ms': f(r.tfjs_webgpu_ms), '×': f(r.speedup_vs_tfjs_webgpu, 2),
    'ort webgpu ms': f(r.ort_web_ms), '× ort webgpu': f(r.vs_ort_web, 2), 'ort wasm ms': f(r.ort_wasm_ms), '× ort wasm': f(r.vs_ort_wasm, 2),
    'ours auto ms (engine)': r.ours_auto_ms === undefined ? '-' : `${f(r.ours_auto_ms ?? null)} (${r.ours_auto_engine ?? '?'})`,
    'ort wasm / ours auto': f(r.ort_wasm_vs_ours_auto ?? null, 2),
    'timed steps (ours/tfjs/ort webgpu/ort wasm)': `${r.ours_steps}/${r.tfjs_steps}/${r.ort_web_steps}/${r.ort_wasm_steps}`,
  })));
  for (const r of result.rows) {
    if (r.tfjs_webgpu_note) console.log(`${r.config} tfjs-webgpu: ${r.tfjs_webgpu_note}`);
    if (r.ort_web_placement) console.log(`${r.config} ort webgpu node placement: ${r.ort_web_placement}`);
    if (r.ort_web_note && !r.train) console.log(`${r.config} ort webgpu: ${r.ort_web_note}`);
    if (r.ort_wasm_note && !r.train) console.log(`${r.config} ort wasm: ${r.ort_wasm_note}`);
    if (r.ours_auto_note) console.log(`${r.config} ours through createPredictor: ${r.ours_auto_note}`);
  }
  if (result.rows.length) console.log(`ort wasm threads: ${result.rows[0].ort_wasm_threads}`);
  if (result.rows.some((r) => r.train)) console.log(`training rows: ${result.rows.find((r) => r.train)!.ort_web_note}`);
}
process.exit(0);
