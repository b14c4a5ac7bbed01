// Text data for character models: a vocabulary of the distinct characters (sorted, as the
// tutorials build it) and the tutorial's reshape into B parallel streams cut into T-step batches.
// A character is a Unicode code point (what `for…of` and `Array.from` yield), never a UTF-16 unit,
// so an emoji or any other character outside the BMP is one token, not two halves of a pair.

export class CharVocab {
  readonly chars: string[];
  private index = new Map<string, number>();

  constructor(chars: Iterable<string>) {
    this.chars = [...new Set(chars)].sort();
    this.chars.forEach((c, i) => this.index.set(c, i));
  }

  /** The vocabulary of a text: its distinct characters, sorted. */
  static fromText(text: string): CharVocab {
    return new CharVocab(text);
  }

  get size(): number {
    return this.chars.length;
  }

  /** Token ids of a text, one per code point; throws naming the first character not in the vocabulary. */
  encode(text: string, source = 'text'): Int32Array {
    const chars = Array.from(text);
    const out = new Int32Array(chars.length);
    for (let i = 0; i < chars.length; i++) {
      const id = this.index.get(chars[i]);
      if (id === undefined) {
        throw new Error(`${source}: character ${JSON.stringify(chars[i])} at position ${i} is not in the vocabulary, ` +
          `expected one of the ${this.size} characters it was built from`);
      }
      out[i] = id;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]] ?? '?';
    return s;
  }
}

/**
 * The tutorial's reshape_data: x = seq[0 : n·B·T], y = seq[1 : n·B·T + 1], each split into B rows
 * (B parallel streams). Returns the streams; `charBatches` cuts them into (B, T) batches so that
 * row b of batch k+1 continues row b of batch k (what stateful training needs).
 */
export function reshapeStreams(seq: Int32Array, B: number, T: number): { x: Int32Array; y: Int32Array; rowLength: number; batches: number } {
  const tot = B * T;
  let n = Math.floor(seq.length / tot);
  if (n * tot + 1 > seq.length) n -= 1;
  if (n < 1) throw new Error(`text of ${seq.length} characters is too short for one batch of ${B} × ${T} (+1)`);
  return { x: seq.subarray(0, n * tot), y: seq.subarray(1, n * tot + 1), rowLength: n * T, batches: n };
}

export function* charBatches(seq: Int32Array, B: number, T: number): Generator<{ x: Int32Array; y: Int32Array; shape: [number, number] }> {
  const { x, y, rowLength, batches } = reshapeStreams(seq, B, T);
  for (let k = 0; k < batches; k++) {
    const bx = new Int32Array(B * T), by = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      bx.set(x.subarray(b * rowLength + k * T, b * rowLength + (k + 1) * T), b * T);
      by.set(y.subarray(b * rowLength + k * T, b * rowLength + (k + 1) * T), b * T);
    }
    yield { x: bx, y: by, shape: [B, T] };
  }
}
