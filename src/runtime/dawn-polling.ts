// Paced polling for Dawn's Node binding while the runtime waits for the GPU.
//
// dawn.node (the `webgpu` package) learns that GPU work has finished by calling
// wgpuInstanceProcessEvents from setImmediate, again and again, for as long as one of its promises
// (onSubmittedWorkDone, mapAsync) is pending: a busy loop on the main thread for the whole wait. On
// a CPU driver (lavapipe, SwiftShader) the "GPU" is the same CPU cores, so that loop takes a core
// from the very work it waits for: on a 2-core machine an LSTM training step took ~1.5x as long.
//
// dawn.node looks setImmediate up on the global object each time it schedules a poll, so while the
// runtime waits (GpuContext.sync, read) `pacedWait` puts a pacing setImmediate there: dawn.node's
// polls run at once during the first SPIN_MS of a wait (short waits stay short), then once per
// millisecond (setTimeout), and the real setImmediate is back when no wait is left. Other callers
// are passed straight to the real one: dawn.node's callbacks are native functions, theirs are not.
// Pacing adds up to a millisecond to a wait, which a real GPU's short steps would feel while its
// cores lose nothing to the loop: WEBGPU_RNN_DAWN_POLL=auto (default) paces on CPU drivers only,
// 'paced' on every adapter, 'spin' nowhere (dawn.node's own loop).

/** How long a wait polls at full speed before its polls are paced (ms). */
const SPIN_MS = 0.2;
/** Delay between paced polls (ms; Node's timers resolve whole milliseconds). */
const PACE_MS = 1;

type SetImmediate = typeof globalThis.setImmediate;

let waiting = 0;
let since = 0;
let real: SetImmediate | null = null;

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).includes('[native code]');
}

function install(): void {
  if (waiting++ > 0) return;
  since = performance.now();
  const original = globalThis.setImmediate;
  real = original;
  const paced = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    if (!isNative(fn) || performance.now() - since < SPIN_MS) return original(fn, ...args);
    return setTimeout(fn, PACE_MS, ...args);
  }) as unknown as SetImmediate;
  globalThis.setImmediate = paced;
}

function uninstall(): void {
  if (--waiting > 0 || !real) return;
  globalThis.setImmediate = real;
  real = null;
}

/** Where waits are paced (WEBGPU_RNN_DAWN_POLL): 'auto' (default) on CPU drivers, 'paced' everywhere, 'spin' nowhere. */
export type PollingMode = 'auto' | 'paced' | 'spin';

export function pollingMode(env: Record<string, string | undefined> = process.env): PollingMode {
  const v = env.WEBGPU_RNN_DAWN_POLL;
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'paced' || v === 'spin') return v;
  throw new Error(`WEBGPU_RNN_DAWN_POLL must be 'auto', 'paced' or 'spin', got ${JSON.stringify(v)}`);
}

/** Runs `start` (which makes one dawn.node promise) and awaits it with dawn.node's polls paced. */
export async function pacedWait<T>(start: () => Promise<T>): Promise<T> {
  install();
  try {
    return await start();
  } finally {
    uninstall();
  }
}
