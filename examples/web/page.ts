// What every example page shares: starting WebGPU (the adapter line in the header, or the banner
// saying why it is unavailable), the error banner, and `window.page`, the state the browser tests
// read (test/browser.test.ts; also handy from the devtools console). The char-RNN page (main.ts)
// predates it and keeps its own `window.demo`.
import { createBrowserContext, type GpuContext } from '../../src/index.ts';
import { currentEnvironment, NO_ADAPTER_REASON, webgpuUnavailableReason } from './webgpu-support.ts';

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The page's state for tests: `ready` once started (with or without WebGPU); the rest is per page. */
export interface PageState {
  ready: boolean;
  adapter: string;
  error: string;
  /** Set by the page: what it has computed so far (predictions, losses, …). */
  [key: string]: unknown;
}

export const pageState: PageState = { ready: false, adapter: '', error: '' };
(globalThis as unknown as { page: PageState }).page = pageState;

/** Shows a message in the error banner (a user's mistake, e.g. a bad CSV, is not a console error). */
export function showError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.warn(e);
  pageState.error = msg;
  $('error').textContent = msg;
  $('error').hidden = false;
}

export function clearError(): void {
  $('error').hidden = true;
  pageState.error = '';
}

/** Wraps an event handler: clears the error banner first, shows what it throws. */
export const guarded = <A extends unknown[]>(fn: (...a: A) => Promise<void> | void) => async (...a: A): Promise<void> => {
  try { clearError(); await fn(...a); } catch (e) { showError(e); }
};

function showUnavailable(adapterLine: string, reason: string): void {
  $('adapter').textContent = adapterLine;
  $('no-webgpu').textContent = reason;
  $('no-webgpu').hidden = false;
  pageState.error = reason;
}

/**
 * Opens WebGPU for the page: the context, or null after the page has said why it cannot (no
 * navigator.gpu, an insecure origin, no adapter). This is all the setup a page of your own needs:
 * `const ctx = await createBrowserContext()`.
 */
export async function startWebGpu(): Promise<GpuContext | null> {
  const reason = webgpuUnavailableReason(currentEnvironment());
  if (reason) {
    showUnavailable(location.protocol === 'file:' ? 'not served: opened from a file' : 'no WebGPU', reason);
    return null;
  }
  try {
    const ctx = await createBrowserContext();
    pageState.adapter = ctx.describe();
    $('adapter').textContent = `WebGPU: ${pageState.adapter}`;
    return ctx;
  } catch (e) {
    console.warn(e);
    const noAdapter = /no WebGPU adapter/i.test((e as Error).message);
    showUnavailable(noAdapter ? 'no WebGPU adapter' : 'WebGPU failed to start', noAdapter ? NO_ADAPTER_REASON : `WebGPU failed to start: ${(e as Error).message}`);
    return null;
  }
}

/** Fetches a file shipped in public/ as bytes, with a message naming it when it is missing. */
export async function fetchShipped(name: string, howToMake: string): Promise<Uint8Array> {
  const r = await fetch(`./${name}`);
  if (!r.ok) throw new Error(`${name} is not shipped with this build (HTTP ${r.status}): ${howToMake}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Runs the page's start-up, then marks it ready for the tests whatever happened. */
export function runPage(init: () => Promise<void>): void {
  init().catch(showError).finally(() => { pageState.ready = true; });
}
