// Runs an example as a newcomer does: `examples/<name>.ts` in a fresh Node process (tsx) from the
// repository root, its output collected, killed when it runs past its time limit.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** How an example run ended: exit code (null when killed), stdout, stderr and its wall time. */
export interface ExampleRun { code: number | null; out: string; err: string; seconds: number }

/** Runs `examples/<name>.ts` with `args`, killed after `timeoutS` seconds (noted in `err`). */
export function runExample(name: string, args: string[], timeoutS: number): Promise<ExampleRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join('examples', `${name}.ts`), ...args], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WEBGPU_RNN_DEBUG: '' },
    });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { err += `\n[killed after ${timeoutS} s]`; child.kill('SIGKILL'); }, timeoutS * 1000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err, seconds: (Date.now() - started) / 1000 }); });
  });
}
