// Name mapping for loading weights saved under other names: a plain `nn.LSTM` state_dict holds
// `weight_ih_l0` where our layer "lstm" wants `lstm.weight_ih_l0`; a training script's checkpoint
// holds `model.rnn.weight_ih_l0`. The mapping turns each name in the file into a model name
// before the load checks them; the load report still lists the file's own names.

import { describeValue } from '../nn/options.ts';

/**
 * How the names in a file become the model's parameter names (file name → model name).
 *
 * - `prefix: 'lstm.'` adds a prefix to every name (`weight_ih_l0` → `lstm.weight_ih_l0`).
 * - `prefix: { strip: 'model.', add: 'lstm.' }` removes a prefix where a name has it, then adds
 *   one (`model.weight_ih_l0` → `lstm.weight_ih_l0`); names without the `strip` prefix get only `add`.
 * - `rename: { 'rnn.weight_ih_l0': 'lstm.weight_ih_l0' }` maps exact file names, or
 *   `rename: (name) => …` returns the model name (or undefined to leave the name to `prefix`).
 *   A name that `rename` maps is used as it is; `prefix` applies to every other name.
 */
export interface NameMapping {
  prefix?: string | { add?: string; strip?: string };
  rename?: Record<string, string> | ((name: string) => string | undefined | null);
}

/** The option keys a NameMapping adds to the load options. */
export const NAME_MAPPING_OPTIONS = ['prefix', 'rename'] as const;

/** A checked mapping: a function from a file name to a model name. */
export type NameMapper = (fileName: string) => string;

/** Checks `prefix` and `rename` (naming `owner` in errors) and returns the mapping function, or null when none is asked for. */
export function nameMapper(owner: string, m: NameMapping): NameMapper | null {
  const { prefix, rename } = m;
  if (prefix === undefined && rename === undefined) return null;
  let strip = '', add = '';
  if (typeof prefix === 'string') add = prefix;
  else if (typeof prefix === 'object' && prefix !== null && !Array.isArray(prefix)) {
    for (const k of Object.keys(prefix)) {
      if (k !== 'add' && k !== 'strip') throw new Error(`${owner}: option prefix has an unknown key ${JSON.stringify(k)}; expected { add?: string, strip?: string }`);
    }
    for (const k of ['add', 'strip'] as const) {
      if (prefix[k] !== undefined && typeof prefix[k] !== 'string') throw new Error(`${owner}: option prefix.${k} must be a string, got ${describeValue(prefix[k])}`);
    }
    strip = prefix.strip ?? '';
    add = prefix.add ?? '';
  } else if (prefix !== undefined) {
    throw new Error(`${owner}: option prefix must be a string like "lstm." or { strip: "model.", add: "lstm." }, got ${describeValue(prefix)}`);
  }
  let lookup: (name: string) => unknown = () => undefined;
  if (typeof rename === 'function') lookup = rename;
  else if (typeof rename === 'object' && rename !== null && !Array.isArray(rename)) {
    for (const [k, v] of Object.entries(rename)) {
      if (typeof v !== 'string' || v.length === 0) throw new Error(`${owner}: option rename maps ${JSON.stringify(k)} to ${describeValue(v)}, expected a non-empty parameter name like "lstm.weight_ih_l0"`);
    }
    lookup = (name) => (Object.prototype.hasOwnProperty.call(rename, name) ? rename[name] : undefined);
  } else if (rename !== undefined) {
    throw new Error(`${owner}: option rename must be an object { fileName: modelName } or a function (name) => modelName, got ${describeValue(rename)}`);
  }
  return (name) => {
    const renamed = lookup(name);
    if (renamed !== undefined && renamed !== null) {
      if (typeof renamed !== 'string' || renamed.length === 0) throw new Error(`${owner}: option rename returned ${describeValue(renamed)} for ${JSON.stringify(name)}, expected a non-empty parameter name (or undefined to keep it)`);
      return renamed;
    }
    return add + (strip && name.startsWith(strip) ? name.slice(strip.length) : name);
  };
}

/**
 * Applies a mapping to the names of a tensor dict: returns the dict under model names and, for
 * each model name, the file name it came from. Two file names that map to one model name are an
 * error naming both.
 */
export function mapNames<T>(owner: string, entries: Iterable<[string, T]>, map: NameMapper): { mapped: Map<string, T>; fileNameOf: Map<string, string> } {
  const mapped = new Map<string, T>();
  const fileNameOf = new Map<string, string>();
  for (const [name, value] of entries) {
    const to = map(name);
    const earlier = fileNameOf.get(to);
    if (earlier !== undefined) throw new Error(`${owner}: the name mapping sends both ${JSON.stringify(earlier)} and ${JSON.stringify(name)} to ${JSON.stringify(to)}; each model parameter can come from one tensor only`);
    mapped.set(to, value);
    fileNameOf.set(to, name);
  }
  return { mapped, fileNameOf };
}

/**
 * When a strict load finds names missing and unexpected that differ only by a prefix, the mapping
 * that would fix it (`{ prefix: "lstm." }` or `{ prefix: { strip: "rnn.", add: "lstm." } }`), or ''.
 */
export function suggestPrefix(missing: readonly string[], unexpected: readonly string[]): string {
  const extra = new Set(unexpected);
  for (const m of missing) {
    const dot = m.indexOf('.');
    if (dot < 0) continue;
    const layer = m.slice(0, dot + 1), rest = m.slice(dot + 1);
    if (extra.has(rest)) return `{ prefix: ${JSON.stringify(layer)} }`;
    for (const u of unexpected) {
      if (u.endsWith(`.${rest}`)) {
        const strip = u.slice(0, u.length - rest.length);
        return `{ prefix: { strip: ${JSON.stringify(strip)}, add: ${JSON.stringify(layer)} } }`;
      }
    }
  }
  return '';
}
