// Dawn prints "Warning: maxDynamic…BuffersPerPipelineLayout artificially reduced from N to 16 …"
// straight to file descriptor 2 from native code whenever an instance first lists its adapters on
// a driver that reports more than Dawn supports (Mesa's lavapipe, RADV). It is harmless and not
// actionable, and no Dawn option turns it off. The listing happens synchronously inside
// `requestAdapter()`, so for the duration of that one call fd 2 is pointed at a temporary file;
// afterwards fd 2 is restored and everything printed meanwhile except those two lines is written
// back to it.
//
// Only on Linux and only when stderr is a terminal or a pipe, which reopen as the same stream
// through /proc/self/fd. A regular file is left alone: reopening it would give stderr its own file
// offset, so later writes could overwrite each other. WEBGPU_RNN_DAWN_WARNINGS=show disables this.

import { closeSync, constants, fstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DAWN_LIMIT_WARNING = /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

/** Removes Dawn's limit-clamping notices from captured stderr text. */
export function withoutDawnLimitWarnings(text: string): string {
  return text.split('\n').filter((line) => !DAWN_LIMIT_WARNING.test(line)).join('\n');
}

/** Whether fd 2 can be swapped and restored safely here (see the header). */
function canRedirectStderr(): boolean {
  if (process.platform !== 'linux' || process.env.WEBGPU_RNN_DAWN_WARNINGS === 'show') return false;
  try {
    const st = fstatSync(2);
    if (!st.isFIFO() && !st.isCharacterDevice()) return false;
  } catch {
    return false;
  }
  // A stderr write still queued in Node (a full pipe) must not be redirected under it.
  const queued = (process.stderr as { writableLength?: number }).writableLength ?? 0;
  return queued === 0;
}

/**
 * Runs `fn` (synchronous native calls) with Dawn's limit warnings removed from what it prints to
 * stderr; anything else it prints still reaches stderr. Falls back to running `fn` as is whenever
 * stderr cannot be swapped safely.
 */
export function filterDawnWarnings<T>(fn: () => T): T {
  if (!canRedirectStderr()) return fn();
  const flags = constants.O_WRONLY | constants.O_NOCTTY | (fstatSync(2).isFIFO() ? constants.O_NONBLOCK : 0);
  let saved = -1;
  try {
    // A second descriptor of the same terminal or pipe (non-blocking open of a pipe fails instead
    // of waiting when nobody reads it).
    saved = openSync('/proc/self/fd/2', flags);
  } catch {
    return fn();
  }
  const capturePath = join(tmpdir(), `webgpu-rnn-stderr-${process.pid}-${Date.now()}.txt`);
  let swapped = false;
  try {
    closeSync(2);
    const fd = openSync(capturePath, 'w'); // the lowest free descriptor: 2
    swapped = fd === 2;
    if (!swapped) {
      // Another thread took descriptor 2 first; put stderr back where it can still go.
      closeSync(fd);
    }
  } catch {
    swapped = false;
  }
  try {
    return fn();
  } finally {
    let captured = '';
    if (swapped) {
      try { captured = readFileSync(capturePath, 'utf8'); } catch { /* nothing captured */ }
      try { closeSync(2); } catch { /* already closed */ }
    }
    try {
      const restored = openSync(`/proc/self/fd/${saved}`, flags);
      if (restored !== 2) closeSync(restored);
    } catch { /* stderr stays closed: nothing more can be done */ }
    try { closeSync(saved); } catch { /* already closed */ }
    try { unlinkSync(capturePath); } catch { /* never created */ }
    const rest = withoutDawnLimitWarnings(captured);
    if (rest.trim()) {
      try { writeSync(2, rest.endsWith('\n') ? rest : `${rest}\n`); } catch { /* stderr is gone */ }
    }
  }
}
