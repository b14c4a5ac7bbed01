// The page side of the kernel tests in the browser: loads each test file (bundled with `uvu`
// aliased to test/browser-uvu.ts and the GPU fixture to test/browser-gpu.ts), runs the suites and
// leaves the results on `window.kernelTests` for Node to read.
import { runQueued, setCurrentFile, type BrowserTestResult } from './browser-uvu.ts';
import { gpu, disposeGpu } from './browser-gpu.ts';

interface KernelTestsState {
  done: boolean;
  adapter: string;
  results: BrowserTestResult[];
  error?: string;
}

const state: KernelTestsState = { done: false, adapter: '', results: [] };
(globalThis as unknown as { kernelTests: KernelTestsState }).kernelTests = state;

export async function runKernelTests(files: [string, () => Promise<unknown>][]): Promise<void> {
  const log = document.getElementById('log');
  try {
    const ctx = await gpu();
    state.adapter = ctx.describe();
    if (log) log.textContent = `adapter: ${state.adapter}\n`;
    for (const [file, load] of files) {
      setCurrentFile(file);
      await load();
    }
    await runQueued((r) => {
      state.results.push(r);
      if (log) log.textContent += `${r.ok ? (r.skipped ? 'skip' : 'ok  ') : 'FAIL'} ${r.file} › ${r.name}${r.error ? `\n     ${r.error}` : ''}\n`;
    });
  } catch (e) {
    state.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  } finally {
    await disposeGpu();
    state.done = true;
  }
}
