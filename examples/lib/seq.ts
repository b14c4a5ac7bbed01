// Small helpers the sequence examples share: the recurrent layer picked by --cell, argmax
// decoding of per-step logits, RMSE, and a refusal of --data where an example has no data file.
import { GRU, LSTM, RNN, type Recurrent, type RecurrentOptions } from '../../src/node.ts';
import type { CommonFlags } from './cli.ts';

/**
 * The recurrent layer for --cell lstm|gru|rnn. `forgetBias` is passed to an LSTM only and
 * `nonlinearity` to an RNN only (the layers refuse options that do not apply to them).
 */
export function recurrent(cell: CommonFlags['cell'], o: RecurrentOptions): Recurrent {
  const { forgetBias, nonlinearity, ...common } = o;
  if (cell === 'lstm') return new LSTM({ ...common, ...(forgetBias !== undefined ? { forgetBias } : {}) });
  if (cell === 'gru') return new GRU(common);
  return new RNN({ ...common, ...(nonlinearity ? { nonlinearity } : {}) });
}

/** Argmax over the last axis of (rows, V) logits: one class id per row. */
export function argmaxRows(logits: ArrayLike<number>, V: number): Int32Array {
  const rows = logits.length / V;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[r * V + v] > logits[r * V + best]) best = v;
    out[r] = best;
  }
  return out;
}

/** Root mean squared difference of two equally long arrays. */
export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`rmse: lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Examples whose data lives in the source refuse --data instead of silently ignoring it. */
export function noDataFile(name: string, flags: CommonFlags): void {
  if (flags.data) throw new Error(`--data: ${name} has no data file (its text is in examples/${name}.ts)`);
}

/** Parses a numeric extra flag (e.g. --lr) with a default; refuses anything but a positive number. */
export function numberFlag(name: string, value: string | boolean | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return n;
}

/** The adapter's name alone ("llvmpipe", "NVIDIA H100 …") for chart titles; the full line is in metrics.json. */
export function adapterName(describe: string): string {
  return describe.split(/:| \(/)[0].trim() || describe;
}
