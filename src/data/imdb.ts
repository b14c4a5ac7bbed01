// IMDb reviews for sentiment: the `review,sentiment` CSV of Python Machine Learning ch. 8 (quoted
// reviews with commas, quotes and newlines; sentiment 1 = positive, 0 = negative), a word
// tokenizer, a frequency-ranked vocabulary (most frequent word = 1, 0 = padding) and the tutorial's
// fixed-length sequences, left-padded with zeros and keeping the last words of a long review.

export interface Review {
  text: string;
  /** 1 = positive, 0 = negative. */
  label: number;
  /** The line of the file the row starts on (for messages). */
  line: number;
}

/**
 * CSV rows of `text` one at a time, with the 1-based line each starts on: the RFC 4180 rules and
 * messages of `parseCsv` (csv.ts), but scanning with indexOf/slice instead of a character at a
 * time, which parses the 33 MB IMDb file several times faster, and lazily, so that a run that wants
 * the first few hundred reviews does not parse all 25,000.
 */
export function* csvRows(text: string, source: string): Generator<{ fields: string[]; line: number }> {
  const n = text.length;
  const stop = /[,\r\n]/g;
  let i = 0, line = 1;
  while (i < n) {
    const startLine = line;
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) { i += text[i] === '\r' ? 2 : 1; line++; continue; }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new Error(`${source}:${startLine}: unterminated quoted field`);
          const part = text.slice(i, q);
          for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++;
          field += part;
          if (text[q + 1] === '"') { field += '"'; i = q + 2; continue; }
          i = q + 1;
          break;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new Error(`${source}:${line}: unexpected character ${JSON.stringify(text[i])} after a quoted field`);
        }
      } else {
        stop.lastIndex = i;
        const m = stop.exec(text);
        const end = m ? m.index : n;
        field = text.slice(i, end);
        i = end;
      }
      fields.push(field);
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') { i++; line++; }
      break;
    }
    yield { fields, line: startLine };
  }
}

/**
 * Parses the CSV text: a header naming `review` and `sentiment` (in any order, other columns
 * ignored), then one row per review; `limit` stops after that many reviews. A short row, an empty
 * review or a sentiment other than 0/1 throws `source:line: …`.
 */
export function parseReviews(text: string, source: string, limit = Infinity): Review[] {
  const rows = csvRows(text, source);
  const first = rows.next();
  if (first.done) throw new Error(`${source}: the file has no rows`);
  const head = first.value;
  const header = head.fields.map((f) => f.trim().toLowerCase());
  const ti = header.indexOf('review'), li = header.indexOf('sentiment');
  if (ti < 0 || li < 0) throw new Error(`${source}:${head.line}: header is ${JSON.stringify(head.fields.join(','))}, expected columns "review" and "sentiment"`);
  const out: Review[] = [];
  for (const r of rows) {
    if (out.length >= limit) break;
    if (r.fields.length !== header.length) throw new Error(`${source}:${r.line}: ${r.fields.length} fields, expected ${header.length} (${header.join(',')})`);
    const s = r.fields[li].trim();
    if (s !== '0' && s !== '1') throw new Error(`${source}:${r.line}: sentiment ${JSON.stringify(r.fields[li])} is not 0 or 1`);
    if (r.fields[ti].trim() === '') throw new Error(`${source}:${r.line}: empty review`);
    out.push({ text: r.fields[ti], label: Number(s), line: r.line });
  }
  if (out.length === 0) throw new Error(`${source}: no reviews after the header`);
  return out;
}

/**
 * Words of a review: lowercased, HTML line breaks (`<br />`) and other tags removed, split on
 * anything that is not a letter or an apostrophe; apostrophes at a word's ends are dropped
 * ("don't" stays one word, "'the'" becomes "the").
 */
export function tokenize(text: string): string[] {
  const clean = text.toLowerCase().replace(/<[^>]*>/g, ' ');
  const out: string[] = [];
  for (const m of clean.matchAll(/[\p{L}']+/gu)) {
    const w = m[0].replace(/^'+|'+$/g, '');
    if (w) out.push(w);
  }
  return out;
}

/**
 * Word ids by frequency (the tutorial's word_to_int): the most frequent word is 1, the next 2, …;
 * 0 is padding. Ties are broken by first appearance, so the ids are deterministic. With `maxSize`
 * the vocabulary (padding included) has at most that many ids; rarer words are dropped when
 * encoding (Keras' `num_words` without an out-of-vocabulary id).
 */
export class WordVocab {
  readonly words: string[];
  private index = new Map<string, number>();

  private constructor(words: string[]) {
    this.words = words;
    words.forEach((w, i) => this.index.set(w, i + 1));
  }

  static fromDocuments(docs: Iterable<string[]>, maxSize = Infinity): WordVocab {
    if (!(maxSize >= 2)) throw new Error(`WordVocab: maxSize must be at least 2 (padding + one word), got ${maxSize}`);
    const counts = new Map<string, number>();
    for (const doc of docs) for (const w of doc) counts.set(w, (counts.get(w) ?? 0) + 1);
    const order = [...counts.keys()]; // first appearance
    const rank = new Map(order.map((w, i) => [w, i]));
    order.sort((a, b) => counts.get(b)! - counts.get(a)! || rank.get(a)! - rank.get(b)!);
    return new WordVocab(order.slice(0, Math.min(order.length, maxSize - 1)));
  }

  /** Number of ids, padding included (the Embedding's numEmbeddings). */
  get size(): number {
    return this.words.length + 1;
  }

  /** The id of a word, or 0 when it is not in the vocabulary. */
  id(word: string): number {
    return this.index.get(word) ?? 0;
  }

  /** Ids of the words that are in the vocabulary (unknown words dropped). */
  encode(words: string[]): number[] {
    const out: number[] = [];
    for (const w of words) {
      const id = this.index.get(w);
      if (id !== undefined) out.push(id);
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] > 0) out.push(this.words[ids[i] - 1] ?? '?');
    return out.join(' ');
  }
}

/**
 * The tutorial's fixed-length sequences: each row (N, T) holds the last T ids of its review,
 * right-aligned, with zeros (padding) on the left of shorter reviews.
 */
export function padLeft(seqs: ArrayLike<number>[], T: number): Int32Array {
  if (!Number.isInteger(T) || T < 1) throw new Error(`padLeft: length must be a positive integer, got ${T}`);
  const out = new Int32Array(seqs.length * T);
  seqs.forEach((s, i) => {
    const n = Math.min(s.length, T);
    for (let k = 0; k < n; k++) out[i * T + T - n + k] = s[s.length - n + k];
  });
  return out;
}
