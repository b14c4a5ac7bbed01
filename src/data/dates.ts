// Date normalisation as a toy translation task (the Simplilearn lesson's encoder–decoder, with
// dates instead of sentences): a seeded generator of (human-written date, ISO "YYYY-MM-DD") pairs
// in 24 formats, a split that keeps some formats out of training, character vocabularies and
// batches of token ids for an encoder–decoder (source optionally reversed, target shifted by one).
//
// Dates lie in 1950-01-01 … 2049-12-31, drawn uniformly by day. A two-digit year yy means 19yy
// when yy ≥ 50 and 20yy when yy < 50 (the range's pivot), so every written date names one day.
// Numeric formats are unambiguous by their separator: "/" is month/day/year (US), "." and "-" are
// day.month.year, a four-digit year first is year/month/day.
import { Rng } from '../cpu/random.ts';

/** The first and last dates the generator draws, inclusive (ISO). */
export const DATE_RANGE = { first: '1950-01-01', last: '2049-12-31' } as const;

/** A calendar day: year, month 1–12, day 1–31, weekday 0 = Monday … 6 = Sunday. */
export interface CalendarDate { year: number; month: number; day: number; weekday: number }

/** One written form of a date. `render` may draw case and separator variants from `rng`. */
export interface DateFormat {
  /** A short unique name (used to hold formats out of training). */
  readonly name: string;
  /** How 2021-03-03 looks in this format (one of its variants). */
  readonly example: string;
  render(date: CalendarDate, rng: Rng): string;
}

/** A source sentence, its ISO translation and the format it was written in. */
export interface DatePair { source: string; target: string; format: string }

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'] as const;
export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

// The inverse of daysFromCivil; 1970-01-01 was a Thursday (weekday 3).
function civilFromDays(z: number): CalendarDate {
  const weekday = (((z + 3) % 7) + 7) % 7;
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp + (mp < 10 ? 3 : -9);
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day, weekday };
}

function parseIso(what: string, iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  const z = m ? daysFromCivil(+m[1], +m[2], +m[3]) : NaN;
  if (!m || isoDate(civilFromDays(z)) !== iso) throw new Error(`dates: ${what} must be an ISO date "YYYY-MM-DD", got ${JSON.stringify(iso)}`);
  return z;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
/** The ISO form "YYYY-MM-DD" of a date. */
export const isoDate = (d: CalendarDate): string => `${d.year}-${pad2(d.month)}-${pad2(d.day)}`;
/** A day as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 23rd, 31st. */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  return `${n}${teen ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}
const yy = (d: CalendarDate): string => pad2(d.year % 100);
const mon = (d: CalendarDate): string => MONTHS[d.month - 1].slice(0, 3);
const month = (d: CalendarDate): string => MONTHS[d.month - 1];
const wd = (d: CalendarDate): string => WEEKDAYS[d.weekday].slice(0, 3);
const weekday = (d: CalendarDate): string => WEEKDAYS[d.weekday];

// Case variants of a format with words: as written, all lower case, all upper case.
function cased(text: string, rng: Rng): string {
  const k = rng.int(3);
  return k === 1 ? text.toLowerCase() : k === 2 ? text.toUpperCase() : text;
}
const pick = <T>(rng: Rng, options: readonly T[]): T => options[rng.int(options.length)];

// A format whose words take case variants.
const words = (name: string, example: string, f: (d: CalendarDate, rng: Rng) => string): DateFormat =>
  ({ name, example, render: (d, rng) => cased(f(d, rng), rng) });
// A format of digits and separators only.
const digits = (name: string, example: string, f: (d: CalendarDate, rng: Rng) => string): DateFormat =>
  ({ name, example, render: f });

/** Every format the generator writes (24). */
export const DATE_FORMATS: readonly DateFormat[] = [
  words('ordinal-of', '3rd of March 2021', (d) => `${ordinal(d.day)} of ${month(d)} ${d.year}`),
  words('the-ordinal-of', 'the 3rd of March, 2021', (d, r) => `the ${ordinal(d.day)} of ${month(d)}${pick(r, [',', ''])} ${d.year}`),
  words('weekday-us-short', 'Wed 3/3/21', (d) => `${wd(d)} ${d.month}/${d.day}/${yy(d)}`),
  words('month-day-year', 'March 3, 2021', (d, r) => `${month(d)} ${d.day}${pick(r, [',', ''])} ${d.year}`),
  words('mon-day-year', 'Mar 3, 2021', (d, r) => `${mon(d)}${pick(r, ['', '.'])} ${d.day}${pick(r, [',', ''])} ${d.year}`),
  words('day-month-year', '3 March 2021', (d) => `${d.day} ${month(d)} ${d.year}`),
  words('day-mon-yy', '3 Mar 21', (d) => `${d.day} ${mon(d)} ${yy(d)}`),
  words('full-weekday', 'Wednesday, March 3rd, 2021', (d, r) => `${weekday(d)}, ${month(d)} ${ordinal(d.day)}${pick(r, [',', ''])} ${d.year}`),
  words('weekday-day-month', 'Wed 3 March 2021', (d) => `${wd(d)} ${d.day} ${month(d)} ${d.year}`),
  words('rfc-2822', 'Wed, 03 Mar 2021', (d) => `${wd(d)}, ${pad2(d.day)} ${mon(d)} ${d.year}`),
  words('dd-mon-yyyy', '03-Mar-2021', (d) => `${pad2(d.day)}-${mon(d)}-${d.year}`),
  words('yyyy-mon-dd', '2021 Mar 03', (d) => `${d.year} ${mon(d)} ${pad2(d.day)}`),
  words('month-the-ordinal', 'March the 3rd, 2021', (d, r) => `${month(d)} the ${ordinal(d.day)}${pick(r, [',', ''])} ${d.year}`),
  words('ordinal-month-yy', "3rd March '21", (d) => `${ordinal(d.day)} ${month(d)} '${yy(d)}`),
  words('weekday-dotted', 'Wednesday 03.03.2021', (d) => `${weekday(d)} ${pad2(d.day)}.${pad2(d.month)}.${d.year}`),
  words('month-year-day', 'March 2021, day 3', (d) => `${month(d)} ${d.year}, day ${d.day}`),
  digits('iso', '2021-03-03', (d) => isoDate(d)),
  digits('ymd-slash', '2021/03/03', (d) => `${d.year}/${pad2(d.month)}/${pad2(d.day)}`),
  digits('compact', '20210303', (d) => `${d.year}${pad2(d.month)}${pad2(d.day)}`),
  digits('us-slash', '3/3/2021', (d) => `${d.month}/${d.day}/${d.year}`),
  digits('us-padded', '03/03/2021', (d) => `${pad2(d.month)}/${pad2(d.day)}/${d.year}`),
  digits('dmy-dots', '03.03.2021', (d) => `${pad2(d.day)}.${pad2(d.month)}.${d.year}`),
  digits('dmy-short-dots', '3.3.21', (d) => `${d.day}.${d.month}.${yy(d)}`),
  digits('dmy-dash', '03-03-2021', (d) => `${pad2(d.day)}-${pad2(d.month)}-${d.year}`),
];

/**
 * The formats `dateExamples` keeps out of training by default: each is made of pieces that other
 * formats teach (month names, ordinals, dotted days, two-digit years), in a new arrangement.
 */
export const HELD_OUT_FORMATS: readonly string[] = ['month-the-ordinal', 'rfc-2822', 'dmy-short-dots'];

function formatsByName(what: string, names: readonly string[]): DateFormat[] {
  if (!Array.isArray(names)) throw new Error(`dates: ${what} must be an array of format names, got ${typeof names}`);
  return names.map((n) => {
    const f = DATE_FORMATS.find((g) => g.name === n);
    if (!f) throw new Error(`dates: ${what} names an unknown format ${JSON.stringify(n)}; expected one of ${DATE_FORMATS.map((g) => g.name).join(', ')}`);
    return f;
  });
}

export interface DateGeneratorOptions {
  /** Seed of the generator's PRNG (mulberry32); the same seed gives the same pairs. Default 1. */
  seed?: number;
  /** Names of the formats to write in (default: all of `DATE_FORMATS`). */
  formats?: readonly string[];
  /** First and last dates, ISO, inclusive (default `DATE_RANGE`; must lie within it). */
  first?: string;
  last?: string;
}

/** Seeded (human-written date, ISO date) pairs: each draws a day uniformly, then a format. */
export class DateGenerator {
  readonly formats: readonly DateFormat[];
  private readonly rng: Rng;
  private readonly firstDay: number;
  private readonly days: number;

  constructor(options: DateGeneratorOptions = {}) {
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`DateGenerator: option seed must be a non-negative integer, got ${String(seed)}`);
    this.rng = new Rng(seed);
    this.formats = options.formats === undefined ? DATE_FORMATS : formatsByName('option formats', options.formats);
    if (this.formats.length === 0) throw new Error('DateGenerator: option formats is empty; expected at least one format name');
    const lo = parseIso('option first', options.first ?? DATE_RANGE.first);
    const hi = parseIso('option last', options.last ?? DATE_RANGE.last);
    const min = parseIso('first', DATE_RANGE.first), max = parseIso('last', DATE_RANGE.last);
    if (lo > hi || lo < min || hi > max) {
      throw new Error(`DateGenerator: the range ${options.first ?? DATE_RANGE.first} … ${options.last ?? DATE_RANGE.last} is empty or leaves ${DATE_RANGE.first} … ${DATE_RANGE.last}; expected first ≤ last within it`);
    }
    this.firstDay = lo;
    this.days = hi - lo + 1;
  }

  /** The next pair. */
  next(): DatePair {
    const date = civilFromDays(this.firstDay + this.rng.int(this.days));
    const format = this.formats[this.rng.int(this.formats.length)];
    return { source: format.render(date, this.rng), target: isoDate(date), format: format.name };
  }

  /** The next `n` pairs. */
  pairs(n: number): DatePair[] {
    if (!Number.isInteger(n) || n < 0) throw new Error(`DateGenerator.pairs: n must be a non-negative integer, got ${String(n)}`);
    return Array.from({ length: n }, () => this.next());
  }
}

export interface DateExamplesOptions {
  /** Seed of the whole split. Default 1. */
  seed?: number;
  /** Training pairs, in the formats not held out. */
  train: number;
  /** Test pairs in the same formats as training (new draws; a date may repeat). */
  test: number;
  /** Test pairs written only in the held-out formats. Default `test`. */
  heldOutTest?: number;
  /** Formats kept out of training (default `HELD_OUT_FORMATS`). */
  heldOut?: readonly string[];
}

/** A training set, a test set in the same formats and a test set in formats training never saw. */
export interface DateExamples {
  train: DatePair[];
  test: DatePair[];
  heldOutTest: DatePair[];
  /** The names of the held-out formats. */
  heldOut: string[];
  /** The source and target vocabularies (`dateVocabularies()`). */
  vocab: { source: DateVocab; target: DateVocab };
}

/** Pairs for training and testing, with the formats in `heldOut` kept out of training. */
export function dateExamples(options: DateExamplesOptions): DateExamples {
  if (!options || typeof options !== 'object') throw new Error('dateExamples: expected an options object { train, test, seed?, heldOut?, heldOutTest? }');
  const count = (k: 'train' | 'test' | 'heldOutTest', v: unknown): number => {
    if (!Number.isInteger(v) || (v as number) < 0) throw new Error(`dateExamples: option ${k} must be a non-negative integer count, got ${String(v)}`);
    return v as number;
  };
  const nTrain = count('train', options.train), nTest = count('test', options.test);
  const nHeld = count('heldOutTest', options.heldOutTest ?? nTest);
  const heldOut = formatsByName('option heldOut', options.heldOut ?? HELD_OUT_FORMATS).map((f) => f.name);
  const seen = DATE_FORMATS.map((f) => f.name).filter((n) => !heldOut.includes(n));
  if (seen.length === 0) throw new Error('dateExamples: option heldOut holds out every format; expected at least one format left for training');
  const root = new Rng(options.seed ?? 1);
  const trainGen = new DateGenerator({ seed: root.seed(), formats: seen });
  const testGen = new DateGenerator({ seed: root.seed(), formats: seen });
  const heldGen = heldOut.length > 0 ? new DateGenerator({ seed: root.seed(), formats: heldOut }) : null;
  if (!heldGen && nHeld > 0) throw new Error(`dateExamples: option heldOutTest is ${nHeld} but no format is held out; expected heldOutTest 0 or a non-empty heldOut`);
  return { train: trainGen.pairs(nTrain), test: testGen.pairs(nTest), heldOutTest: heldGen ? heldGen.pairs(nHeld) : [], heldOut, vocab: dateVocabularies() };
}

/** Token ids shared by both vocabularies. */
export const PAD = 0, START = 1, END = 2;

/** A character vocabulary with pad (0), start (1) and end (2) tokens before the characters. */
export class DateVocab {
  /** The special tokens' ids (the same in every DateVocab): padding, decoder start, end of output. */
  readonly pad = PAD;
  readonly start = START;
  readonly end = END;
  readonly chars: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort();
    this.ids = new Map(this.chars.map((c, i) => [c, i + 3]));
  }

  /** Number of ids: the three special tokens plus the characters. */
  get size(): number { return this.chars.length + 3; }

  /** The ids of `text`'s characters (no start or end token). */
  encode(text: string): number[] {
    return Array.from(text, (c, i) => {
      const id = this.ids.get(c);
      if (id === undefined) throw new Error(`DateVocab.encode: character ${JSON.stringify(c)} at ${i} of ${JSON.stringify(text)} is not in the vocabulary; expected one of ${JSON.stringify(this.chars.join(''))}`);
      return id;
    });
  }

  /** The text of `ids`, stopping at the first end token and skipping pad and start tokens. */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === END) break;
      if (id >= 3 && id < this.size) s += this.chars[id - 3];
    }
    return s;
  }
}

/**
 * The source vocabulary (every character any format can write, in every case variant) and the
 * target vocabulary (digits and "-").
 */
export function dateVocabularies(): { source: DateVocab; target: DateVocab } {
  const chars = new Set<string>('0123456789');
  for (const f of DATE_FORMATS) for (const c of f.example) chars.add(c);
  // Every letter of every month and weekday name and ordinal suffix, and the words "of", "the", "day".
  for (const w of [...MONTHS, ...WEEKDAYS, 'st nd rd th of the day']) for (const c of w) { chars.add(c.toLowerCase()); chars.add(c.toUpperCase()); }
  for (const c of [',', '.', '/', '-', "'", ' ']) chars.add(c);
  return { source: new DateVocab(chars), target: new DateVocab('0123456789-') };
}

export interface DateBatchOptions {
  /** Reverse each source row's characters (padding stays at the end), as the lesson does. Default true. */
  reverseSource?: boolean;
}

/** Token ids of a batch of pairs for an encoder–decoder trained with teacher forcing. */
export interface DateBatch {
  /** (B, S) source ids, rows padded with PAD to the longest. */
  source: Int32Array;
  sourceLengths: Int32Array;
  /** (B, T) decoder inputs: START then the target's characters (the target shifted by one). */
  decoderInput: Int32Array;
  /** (B, T) what the decoder must output: the target's characters then END. */
  decoderTarget: Int32Array;
  /** Per-row target lengths (characters + END), for loss weights and decoder lengths. */
  targetLengths: Int32Array;
  B: number;
  S: number;
  T: number;
}

/** Encodes `pairs` as one batch (see `DateBatch`). */
export function dateBatch(pairs: readonly DatePair[], vocab: { source: DateVocab; target: DateVocab }, options: DateBatchOptions = {}): DateBatch {
  if (!Array.isArray(pairs) || pairs.length === 0) throw new Error(`dateBatch: pairs must be a non-empty array of { source, target }, got ${Array.isArray(pairs) ? 'an empty array' : typeof pairs}`);
  const reverse = options.reverseSource ?? true;
  if (typeof reverse !== 'boolean') throw new Error(`dateBatch: option reverseSource must be a boolean, got ${JSON.stringify(reverse)}`);
  const src = pairs.map((p) => vocab.source.encode(p.source));
  const tgt = pairs.map((p) => vocab.target.encode(p.target));
  const B = pairs.length, S = Math.max(...src.map((s) => s.length)), T = Math.max(...tgt.map((t) => t.length)) + 1;
  const source = new Int32Array(B * S), decoderInput = new Int32Array(B * T), decoderTarget = new Int32Array(B * T);
  const sourceLengths = new Int32Array(B), targetLengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const s = reverse ? [...src[b]].reverse() : src[b];
    source.set(s, b * S);
    sourceLengths[b] = s.length;
    decoderInput.set([START, ...tgt[b]], b * T);
    decoderTarget.set([...tgt[b], END], b * T);
    targetLengths[b] = tgt[b].length + 1;
  }
  return { source, sourceLengths, decoderInput, decoderTarget, targetLengths, B, S, T };
}
