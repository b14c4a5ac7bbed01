// Shared plumbing for the examples: flags, the adapter line, metrics JSON, clear errors.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContext, type GpuContext } from '../../src/node.ts';

export interface CommonFlags {
  epochs: number;
  hidden: number;
  cell: 'lstm' | 'gru' | 'rnn';
  seed: number;
  data: string;
  out: string;
  quick: boolean;
}

type Extra = Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>;

/**
 * Parses the common flags (--epochs, --hidden, --cell, --seed, --data, --out, --quick) plus
 * `extra`, with the example's defaults; `quick` overrides apply when --quick is given.
 */
export function parseFlags<E extends Extra>(
  name: string, defaults: Omit<CommonFlags, 'quick'>, quick: Partial<CommonFlags>, extra: E = {} as E,
): CommonFlags & { extra: Record<keyof E, string | boolean | undefined> } {
  const parsed = parseArgs({
    options: {
      epochs: { type: 'string' }, hidden: { type: 'string' }, cell: { type: 'string' }, seed: { type: 'string' },
      data: { type: 'string' }, out: { type: 'string' }, quick: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      ...extra,
    },
    strict: true,
  });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    console.log(`usage: npx tsx examples/${name}.ts [--epochs N] [--hidden N] [--cell lstm|gru|rnn] [--seed N] [--data PATH] [--out DIR] [--quick]` +
      Object.keys(extra).map((k) => ` [--${k}${extra[k].type === 'string' ? ' X' : ''}]`).join(''));
    console.log(`defaults: ${JSON.stringify(defaults)}; --quick: ${JSON.stringify(quick)}`);
    process.exit(0);
  }
  const base = { ...defaults, quick: values.quick as boolean, ...(values.quick ? quick : {}) };
  const int = (k: string, v: unknown): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
    return n;
  };
  if (values.epochs !== undefined) base.epochs = int('epochs', values.epochs);
  if (values.hidden !== undefined) base.hidden = int('hidden', values.hidden);
  if (values.seed !== undefined) base.seed = int('seed', values.seed);
  if (values.cell !== undefined) {
    if (!['lstm', 'gru', 'rnn'].includes(values.cell as string)) throw new Error(`--cell must be lstm, gru or rnn, got ${values.cell}`);
    base.cell = values.cell as CommonFlags['cell'];
  }
  if (values.data !== undefined) base.data = values.data as string;
  if (values.out !== undefined) base.out = values.out as string;
  const ex = {} as Record<keyof E, string | boolean | undefined>;
  for (const k of Object.keys(extra) as (keyof E)[]) ex[k] = values[k as string];
  return { ...base, extra: ex };
}

/** Creates the GPU context and prints the adapter. */
export async function openGpu(): Promise<GpuContext> {
  const ctx = await createContext();
  console.log(`adapter: ${ctx.describe()}`);
  return ctx;
}

export function outDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes the final metrics as JSON and prints them as one line. */
export function writeMetrics(dir: string, metrics: Record<string, unknown>): void {
  writeFileSync(join(dir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  // The one-line summary shows the scalars; nested objects are in the JSON file.
  const line = Object.entries(metrics).filter(([, v]) => typeof v !== 'object' || v === null)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`).join('  ');
  console.log(`final: ${line}`);
}

/** Runs an example's main; any error becomes one clear line (no stack trace) and exit code 1. */
export function run(main: () => Promise<void>): void {
  main().then(
    () => { process.exitCode = process.exitCode ?? 0; },
    (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      console.error(`error: ${msg}`);
      if (process.env.WEBGPU_RNN_DEBUG) console.error(e);
      process.exit(1);
    },
  );
}
