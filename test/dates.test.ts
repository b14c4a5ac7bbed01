// The date-translation data (src/data/dates.ts): determinism by seed, every format read back to
// the same ISO date by a parser written here independently (regular expressions per format and
// JavaScript's Date for weekdays), held-out formats absent from training, vocabularies covering
// every character, and batches (reversed source, target shifted by one). No GPU needed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DATE_FORMATS, DATE_RANGE, DateGenerator, END, HELD_OUT_FORMATS, PAD, START, dateBatch, dateExamples, dateVocabularies,
  type DatePair,
} from '../src/data/dates.ts';
import { expectThrows } from './helpers/expect.ts';

const test = suite('dates');

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday']; // Date.getUTCDay order

/** Month number of a full or three-letter name, any case; 0 when unknown. */
function monthOf(word: string): number {
  const w = word.toLowerCase();
  return MONTH_NAMES.findIndex((m) => m === w || m.slice(0, 3) === w) + 1;
}
const fullYear = (y: string): number => (y.length === 4 ? +y : +y >= 50 ? 1900 + +y : 2000 + +y);

// One pattern per format, with the groups that hold day, month, year and weekday. `O` is an
// ordinal day (3rd), `M` a month name, `N` a weekday name.
const D = '(\\d{1,2})', DD = '(\\d{2})', O = '(\\d{1,2})(st|nd|rd|th)', M = '([A-Za-z]+)', N = '([A-Za-z]+)', Y = '(\\d{4})', YY = '(\\d{2})';
type Field = 'd' | 'o' | 'sfx' | 'm' | 'mn' | 'y' | 'yy' | 'wd';
const PARSERS: Record<string, [string, Field[]]> = {
  'ordinal-of': [`${O} of ${M} ${Y}`, ['o', 'sfx', 'mn', 'y']],
  'the-ordinal-of': [`the ${O} of ${M},? ${Y}`, ['o', 'sfx', 'mn', 'y']],
  'weekday-us-short': [`${N} ${D}/${D}/${YY}`, ['wd', 'm', 'd', 'yy']],
  'month-day-year': [`${M} ${D},? ${Y}`, ['mn', 'd', 'y']],
  'mon-day-year': [`${M}\\.? ${D},? ${Y}`, ['mn', 'd', 'y']],
  'day-month-year': [`${D} ${M} ${Y}`, ['d', 'mn', 'y']],
  'day-mon-yy': [`${D} ${M} ${YY}`, ['d', 'mn', 'yy']],
  'full-weekday': [`${N}, ${M} ${O},? ${Y}`, ['wd', 'mn', 'o', 'sfx', 'y']],
  'weekday-day-month': [`${N} ${D} ${M} ${Y}`, ['wd', 'd', 'mn', 'y']],
  'rfc-2822': [`${N}, ${DD} ${M} ${Y}`, ['wd', 'd', 'mn', 'y']],
  'dd-mon-yyyy': [`${DD}-${M}-${Y}`, ['d', 'mn', 'y']],
  'yyyy-mon-dd': [`${Y} ${M} ${DD}`, ['y', 'mn', 'd']],
  'month-the-ordinal': [`${M} the ${O},? ${Y}`, ['mn', 'o', 'sfx', 'y']],
  'ordinal-month-yy': [`${O} ${M} '${YY}`, ['o', 'sfx', 'mn', 'yy']],
  'weekday-dotted': [`${N} ${DD}\\.${DD}\\.${Y}`, ['wd', 'd', 'm', 'y']],
  'month-year-day': [`${M} ${Y}, day ${D}`, ['mn', 'y', 'd']],
  iso: [`${Y}-${DD}-${DD}`, ['y', 'm', 'd']],
  'ymd-slash': [`${Y}/${DD}/${DD}`, ['y', 'm', 'd']],
  compact: [`${Y}${DD}${DD}`, ['y', 'm', 'd']],
  'us-slash': [`${D}/${D}/${Y}`, ['m', 'd', 'y']],
  'us-padded': [`${DD}/${DD}/${Y}`, ['m', 'd', 'y']],
  'dmy-dots': [`${DD}\\.${DD}\\.${Y}`, ['d', 'm', 'y']],
  'dmy-short-dots': [`${D}\\.${D}\\.${YY}`, ['d', 'm', 'yy']],
  'dmy-dash': [`${DD}-${DD}-${Y}`, ['d', 'm', 'y']],
};

const expectedSuffix = (n: number): string => (n >= 11 && n <= 13 ? 'th' : n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th');

/** Reads `source` in format `format` back to ISO, checking the weekday and ordinal suffix. */
function parseBack(source: string, format: string): string {
  const spec = PARSERS[format];
  if (!spec) throw new Error(`no parser for format ${format}`);
  const m = new RegExp(`^${spec[0]}$`, 'i').exec(source);
  if (!m) throw new Error(`${format}: ${JSON.stringify(source)} does not match ${spec[0]}`);
  let day = 0, month = 0, year = 0, weekday = '', suffix = '';
  spec[1].forEach((f, i) => {
    const v = m[i + 1];
    if (f === 'd' || f === 'o') day = +v;
    else if (f === 'sfx') suffix = v.toLowerCase();
    else if (f === 'm') month = +v;
    else if (f === 'mn') month = monthOf(v);
    else if (f === 'y' || f === 'yy') year = fullYear(v);
    else weekday = v.toLowerCase();
  });
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) throw new Error(`${format}: ${JSON.stringify(source)} is not a real date`);
  if (weekday) {
    const want = DAY_NAMES[date.getUTCDay()];
    if (weekday !== want && weekday !== want.slice(0, 3)) throw new Error(`${format}: ${JSON.stringify(source)} says ${weekday}, the day was a ${want}`);
  }
  if (suffix && suffix !== expectedSuffix(day)) throw new Error(`${format}: ${JSON.stringify(source)}: day ${day} with suffix ${suffix}`);
  return date.toISOString().slice(0, 10);
}

test('at least 20 formats with unique names, each with a parser here, and each example is 2021-03-03', () => {
  assert.ok(DATE_FORMATS.length >= 20, `${DATE_FORMATS.length} formats`);
  assert.is(new Set(DATE_FORMATS.map((f) => f.name)).size, DATE_FORMATS.length);
  for (const f of DATE_FORMATS) assert.is(parseBack(f.example, f.name), '2021-03-03', f.name);
});

test('every format parses back to the same ISO date, weekdays and ordinals correct (6,000 pairs)', () => {
  const gen = new DateGenerator({ seed: 7 });
  const byFormat = new Map<string, number>();
  for (const p of gen.pairs(6000)) {
    assert.is(parseBack(p.source, p.format), p.target, `${p.format}: ${p.source}`);
    assert.ok(p.target >= DATE_RANGE.first && p.target <= DATE_RANGE.last, p.target);
    byFormat.set(p.format, (byFormat.get(p.format) ?? 0) + 1);
  }
  assert.is(byFormat.size, DATE_FORMATS.length, 'every format was drawn');
});

test('case variants: lower, upper and as-written all occur; two-digit years follow the 1950–2049 pivot', () => {
  const pairs = new DateGenerator({ seed: 3, formats: ['month-day-year', 'day-mon-yy'] }).pairs(300);
  const words = pairs.filter((p) => p.format === 'month-day-year').map((p) => p.source.split(' ')[0]);
  assert.ok(words.some((w) => w === w.toLowerCase()) && words.some((w) => w === w.toUpperCase()) && words.some((w) => /^[A-Z][a-z]+$/.test(w)));
  for (const p of pairs.filter((q) => q.format === 'day-mon-yy')) {
    const yy = +p.source.slice(-2);
    assert.is(p.target.slice(0, 4), String(yy >= 50 ? 1900 + yy : 2000 + yy), p.source);
  }
  // The range's edges are reachable and 2-digit years resolve on both sides of the pivot.
  const edges = new DateGenerator({ seed: 1, formats: ['dmy-short-dots'], first: '1950-01-01', last: '1950-01-01' }).next();
  assert.equal([edges.source, edges.target], ['1.1.50', '1950-01-01']);
  const last = new DateGenerator({ seed: 1, formats: ['dmy-short-dots'], first: '2049-12-31', last: '2049-12-31' }).next();
  assert.equal([last.source, last.target], ['31.12.49', '2049-12-31']);
});

test('determinism: the same seed gives the same pairs, another seed others', () => {
  const a = dateExamples({ seed: 5, train: 200, test: 50 });
  const b = dateExamples({ seed: 5, train: 200, test: 50 });
  const c = dateExamples({ seed: 6, train: 200, test: 50 });
  assert.equal(a, b);
  assert.not.equal(a.train, c.train);
});

test('held-out formats never appear in training or the same-format test set; the held-out test uses only them', () => {
  const ex = dateExamples({ seed: 2, train: 3000, test: 500, heldOutTest: 500 });
  assert.equal(ex.heldOut, [...HELD_OUT_FORMATS]);
  const held = new Set(ex.heldOut);
  for (const p of [...ex.train, ...ex.test]) assert.not.ok(held.has(p.format), p.format);
  for (const p of ex.heldOutTest) assert.ok(held.has(p.format), p.format);
  // Not only the format's name: no training source even matches a held-out format's pattern.
  const patterns = ex.heldOut.map((n) => new RegExp(`^${PARSERS[n][0]}$`, 'i'));
  for (const p of ex.train) for (const re of patterns) assert.not.ok(re.test(p.source), `${p.source} (${p.format}) looks held out`);
  assert.is(new Set(ex.heldOutTest.map((p) => p.format)).size, held.size);
  assert.is(ex.vocab.source.size, dateVocabularies().source.size, 'the split carries the vocabularies');
  const custom = dateExamples({ seed: 2, train: 100, test: 0, heldOutTest: 20, heldOut: ['iso'] });
  assert.ok(custom.heldOutTest.every((p) => p.format === 'iso') && custom.train.every((p) => p.format !== 'iso'));
});

test('vocabularies cover every character of every format and variant; encode/decode round-trip', () => {
  const voc = dateVocabularies();
  const pairs = new DateGenerator({ seed: 11 }).pairs(5000);
  for (const p of pairs) {
    assert.is(voc.source.decode(voc.source.encode(p.source)), p.source);
    assert.is(voc.target.decode(voc.target.encode(p.target)), p.target);
  }
  assert.is(voc.target.size, 3 + 11); // pad, start, end, 0–9 and "-"
  assert.is(voc.target.decode([...voc.target.encode('23'), END, ...voc.target.encode('4')]), '23', 'decode stops at END');
  expectThrows(() => voc.target.encode('2021/03'), /character "\/" at 4 of "2021\/03"/, /expected one of "-0123456789"/);
});

test('batches: source reversed per row with padding at the end, decoder input = START + target, target = chars + END', () => {
  const voc = dateVocabularies();
  const pairs: DatePair[] = [
    { source: '3.3.21', target: '2021-03-03', format: 'dmy-short-dots' },
    { source: 'March 3, 2021', target: '2021-03-03', format: 'month-day-year' },
  ];
  const b = dateBatch(pairs, voc);
  assert.equal([b.B, b.S, b.T], [2, 13, 11]);
  assert.equal([...b.sourceLengths], [6, 13]);
  assert.is(voc.source.decode(b.source.subarray(0, 13)), '12.3.3');
  assert.equal([...b.source.subarray(6, 13)], [PAD, PAD, PAD, PAD, PAD, PAD, PAD]);
  assert.is(voc.source.decode(b.source.subarray(13, 26)), '1202 ,3 hcraM');
  assert.is(b.decoderInput[0], START);
  assert.equal([...b.decoderInput.subarray(1, 11)], voc.target.encode('2021-03-03'));
  assert.equal([...b.decoderTarget.subarray(0, 10)], voc.target.encode('2021-03-03'));
  assert.is(b.decoderTarget[10], END);
  assert.equal([...b.targetLengths], [11, 11]);
  const plain = dateBatch(pairs, voc, { reverseSource: false });
  assert.is(voc.source.decode(plain.source.subarray(0, 13)), '3.3.21');
});

test('bad options are refused naming the option, the value and what was expected', () => {
  expectThrows(() => new DateGenerator({ formats: ['nope'] }), /unknown format "nope"/, /expected one of ordinal-of/);
  expectThrows(() => new DateGenerator({ first: '2021-02-30' }), /option first/, /ISO date "YYYY-MM-DD", got "2021-02-30"/);
  expectThrows(() => new DateGenerator({ first: '1900-01-01' }), /1900-01-01/, /expected first ≤ last within it/);
  expectThrows(() => new DateGenerator({ seed: -1 }), /option seed/, /non-negative integer, got -1/);
  expectThrows(() => dateExamples({ train: 1.5, test: 0 }), /option train/, /non-negative integer count, got 1.5/);
  expectThrows(() => dateExamples({ train: 1, test: 0, heldOut: DATE_FORMATS.map((f) => f.name) }), /holds out every format/, /at least one format left/);
  expectThrows(() => dateBatch([], dateVocabularies()), /pairs must be a non-empty array/, /got an empty array/);
});

test.run();
