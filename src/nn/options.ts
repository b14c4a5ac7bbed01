// Checks for the options users pass to layer constructors and to generation: the type, integer
// ranges, enums and unknown keys (a typo such as `hiden_size` is an error with a suggestion, not a
// silently ignored key). Every message names the owner (`LSTM "lstm"`), the option, the bad value
// as it was given (`the string "false"`, `NaN`, `1.5`) and what was expected, and is thrown before
// anything is built, recorded or counted.

/** The value as a user should read it in an error: `the string "16"`, `NaN`, `an array of 2`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string': return `the string ${JSON.stringify(v)}`;
    case 'number': return String(v);
    case 'boolean': return `the boolean ${v}`;
    case 'bigint': return `the bigint ${v}n`;
    case 'function': return 'a function';
    case 'symbol': return 'a symbol';
  }
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const ctor = (v as object).constructor?.name;
  const article = (name: string) => (/^[AEIOU]/i.test(name) ? `an ${name}` : `a ${name}`);
  if (ArrayBuffer.isView(v)) return article(ctor ?? 'typed array');
  return ctor && ctor !== 'Object' ? article(ctor) : 'an object';
}

/** Edit distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known name closest to `key` (ignoring case, `_` and `-`), if it is close enough to be a typo. */
export function closestName(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined, bestD = Infinity;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d < bestD) { best = k; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(norm(best).length / 4)) ? best : undefined;
}

/**
 * Checks that `o` is a plain options object whose keys are all known. `example` shows a valid
 * call in the message when `o` is not an object at all (`new LSTM(16)`).
 */
export function checkOptionsObject(owner: string, o: unknown, known: readonly string[], example: string): asserts o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || ArrayBuffer.isView(o)) {
    throw new Error(`${owner}: expected an options object like ${example}, got ${describeValue(o)}`);
  }
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    const near = closestName(key, known);
    throw new Error(`${owner}: unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}; the options are ${known.join(', ')}`);
  }
}

/** An integer in [min, max]; `what` is e.g. "option hiddenSize". */
export function checkInteger(owner: string, what: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? 'a positive integer' : `an integer ≥ ${min}`) : `an integer in [${min}, ${max}]`;
    throw new Error(`${owner}: ${what} must be ${range}, got ${describeValue(v)}`);
  }
  return v;
}

/** A finite number in [min, max) (or [min, max] with `maxInclusive`). */
export function checkNumberInRange(owner: string, what: string, v: unknown, min: number, max: number, maxInclusive = false): number {
  if (typeof v !== 'number' || !(v >= min) || !(maxInclusive ? v <= max : v < max)) {
    throw new Error(`${owner}: ${what} must be a number in [${min}, ${max}${maxInclusive ? ']' : ')'}, got ${describeValue(v)}`);
  }
  return v;
}

/** A finite number (any sign). */
export function checkFinite(owner: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${owner}: ${what} must be a finite number, got ${describeValue(v)}`);
  return v;
}

/** A finite number > 0. */
export function checkPositive(owner: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new Error(`${owner}: ${what} must be a finite number > 0, got ${describeValue(v)}`);
  return v;
}

/** true or false (a string "false" is an error, not a truthy value). */
export function checkBoolean(owner: string, what: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new Error(`${owner}: ${what} must be a boolean (true or false), got ${describeValue(v)}`);
  return v;
}

/** One of the listed strings. */
export function checkEnum<T extends string>(owner: string, what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    const near = typeof v === 'string' ? closestName(v, allowed) : undefined;
    throw new Error(`${owner}: ${what} must be one of ${allowed.join(', ')}, got ${describeValue(v)}${near ? ` (did you mean ${near}?)` : ''}`);
  }
  return v as T;
}

/** A layer name: a non-empty string (it prefixes the layer's parameter names). */
export function checkLayerName(type: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new Error(`${type}: name must be a non-empty string, got ${describeValue(v)}`);
  return v;
}

/** How errors name a layer: `LSTM "lstm"`. */
export function layerLabel(type: string, name: string): string {
  return `${type} ${JSON.stringify(name)}`;
}
