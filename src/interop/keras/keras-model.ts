// KerasModel: a Sequential loaded from a Keras model, with Keras's masking and output conventions.
//
// Keras skips masked steps (Embedding mask_zero: token 0; Masking: every feature equal to
// mask_value). Ours skip the steps past each row's length, so a row's valid steps must be one block:
// right-padded rows map to lengths directly, and left-padded rows (pad_sequences' default) are
// rotated so their valid steps start at t = 0, run, and rotated back. A mask with a hole is an error.
// At masked steps of a sequence output Keras repeats the last output of each direction (the forward
// direction's last valid output after the block, zeros before it; the reverse direction the
// opposite); predict() writes those values too, by running the layers after the last recurrent
// layer (Dense, merge) on the host from the recurrent layer's final states. A final softmax Dense
// is kept as logits in the model (what the softmax cross-entropy loss takes) and applied by predict().

import type { GpuContext } from '../../runtime/context.ts';
import type { Batch } from '../../nn/model.ts';
import { Sequential } from '../../nn/model.ts';
import { Recurrent } from '../../nn/recurrent.ts';
import { Dense, Dropout, LastStep } from '../../nn/layers.ts';
import { describeValue } from '../../nn/options.ts';
import { SumDirections, BidirectionalLastStep } from '../../nn/directions.ts';

/** How a Keras model masks its input: token 0 (Embedding mask_zero), a feature value (Masking), or not at all. */
export type KerasMask = { kind: 'zero' } | { kind: 'value'; value: number } | null;

/** A batch as Keras takes it: x (B, T) token ids or (B, T, I) features, row-major. */
export interface KerasInput {
  x: Int32Array | Float32Array | number[];
  shape: number[];
}

/** Where each row's valid steps lie: [start, start + length). */
interface RowSpans {
  starts: Int32Array;
  lengths: Int32Array;
}

export class KerasModel {
  /**
   * @param model the layers (configured, the Keras weights as initial values); build it with `build(ctx)`
   * @param mask how the input is masked
   * @param softmax the last Dense applies softmax in Keras: the model gives logits, predict() probabilities
   * @param name the Keras model's name
   */
  constructor(readonly model: Sequential, readonly mask: KerasMask, readonly softmax: boolean, readonly name: string) {}

  /** Uploads the weights to `ctx`. */
  build(ctx: GpuContext): this {
    this.model.build(ctx);
    return this;
  }

  /** Each row's valid block from the mask; a row with a gap or with no valid step is an error. */
  private spans(input: KerasInput): RowSpans {
    const { x, shape } = input;
    const tokens = this.model.input.kind === 'tokens';
    if (!Array.isArray(shape) || shape.length !== (tokens ? 2 : 3)) throw new Error(`Keras model "${this.name}": shape is ${describeValue(shape)}; expected ${tokens ? '[B, T] token ids' : '[B, T, features]'}`);
    const [B, T] = shape, F = tokens ? 1 : shape[2];
    if (x.length !== B * T * F) throw new Error(`Keras model "${this.name}": x has ${x.length} values; shape [${shape.join(', ')}] needs ${B * T * F}`);
    const starts = new Int32Array(B), lengths = new Int32Array(B).fill(T);
    const mask = this.mask;
    if (!mask) return { starts, lengths };
    const valid = (b: number, t: number): boolean => {
      if (mask.kind === 'zero') return x[b * T + t] !== 0;
      for (let f = 0; f < F; f++) if (x[(b * T + t) * F + f] !== mask.value) return true;
      return false;
    };
    const what = mask.kind === 'zero' ? 'token 0 (Embedding mask_zero)' : `every feature = ${mask.value} (Masking)`;
    for (let b = 0; b < B; b++) {
      let s = 0;
      while (s < T && !valid(b, s)) s++;
      let e = T;
      while (e > s && !valid(b, e - 1)) e--;
      if (s === T) throw new Error(`Keras model "${this.name}": row ${b} is masked at every step (${what}); expected at least one valid step per row`);
      for (let t = s; t < e; t++) {
        if (!valid(b, t)) throw new Error(`Keras model "${this.name}": row ${b} is masked at step ${t} between valid steps ${s} and ${e - 1} (${what}); expected the padding before or after a row's valid steps, not inside them`);
      }
      starts[b] = s;
      lengths[b] = e - s;
    }
    return { starts, lengths };
  }

  /** Rotates each row of a (B, T, F) array left by its start (direction 1) or back (−1). */
  private static rotate<A extends Int32Array | Float32Array | Float64Array>(a: A, B: number, T: number, F: number, starts: Int32Array, dir: 1 | -1): A {
    const out = new (a.constructor as { new (n: number): A })(a.length);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const src = dir === 1 ? (t + starts[b]) % T : t, dst = dir === 1 ? t : (t + starts[b]) % T;
        out.set(a.subarray((b * T + src) * F, (b * T + src + 1) * F), (b * T + dst) * F);
      }
    }
    return out;
  }

  /**
   * Our batch for a Keras input: lengths from the mask, left-padded rows rotated to start at t = 0.
   * `y` (sequence targets (B, T) or (B, T, K), or one per row) and `weights` are rotated the same
   * way. Use it with `model.trainStep` / `model.evaluate`.
   */
  toBatch(input: KerasInput & { y?: Int32Array | Float32Array | number[]; weights?: Float32Array | number[] }): Batch {
    const { starts, lengths } = this.spans(input);
    const [B, T] = input.shape;
    const tokens = this.model.input.kind === 'tokens';
    const x = tokens ? Int32Array.from(input.x as ArrayLike<number>) : Float32Array.from(input.x as ArrayLike<number>);
    const moved = starts.some((s) => s !== 0);
    const rot = <A extends Int32Array | Float32Array | Float64Array>(a: A): A => (moved ? KerasModel.rotate(a, B, T, a.length / (B * T), starts, 1) : a);
    const batch: Batch = { x: rot(x), shape: [...input.shape], lengths };
    // Targets and weights keep their array type (the model checks it); only per-step ones move.
    const rotAny = <A extends Int32Array | Float32Array | number[]>(a: A): A => (Array.isArray(a) ? Array.from(rot(Float64Array.from(a))) as A : rot(a as Int32Array | Float32Array) as A);
    if (input.y !== undefined) batch.y = input.y.length % (B * T) === 0 && this.model.output.kind === 'seq' ? rotAny(input.y) : input.y;
    if (input.weights !== undefined) batch.weights = input.weights.length === B * T ? rotAny(input.weights) : input.weights;
    return batch;
  }

  /** Keras's predictions for a batch: (B, units) or (B, T, units), masked steps as Keras gives them. */
  async predict(input: KerasInput): Promise<{ data: Float32Array; shape: number[] }> {
    const spans = this.spans(input);
    const batch = this.toBatch(input);
    const out = await this.model.predict(batch);
    const [B, T] = input.shape;
    let data = out.data;
    if (this.model.output.kind === 'seq') {
      const D = out.shape[2];
      if (spans.starts.some((s) => s !== 0)) data = KerasModel.rotate(data, B, T, D, spans.starts, -1);
      if (this.mask) await this.fillMasked(data, B, T, D, spans);
    }
    if (this.softmax) softmaxRows(data, out.shape[out.shape.length - 1]);
    return { data, shape: out.shape };
  }

  /** Writes Keras's outputs at masked steps (see the header) into `data` (B, T, D). */
  private async fillMasked(data: Float32Array, B: number, T: number, D: number, { starts, lengths }: RowSpans): Promise<void> {
    if (starts.every((s, b) => s === 0 && lengths[b] === T)) return;
    const layers = this.model.layers;
    const lastRec = layers.map((l) => l instanceof Recurrent).lastIndexOf(true);
    const ctx = this.model.context;
    // Without a recurrent layer every step is computed alike: the rotation back was all.
    if (lastRec < 0) return;
    const rec = layers[lastRec] as Recurrent;
    const H = rec.hiddenSize, dirs = rec.numDirections;
    const hn = (await ctx.read(rec.finalState().h)) as Float32Array; // (L·dirs, B, H): this layer's last stacked layer last
    const base = (rec.numLayers - 1) * dirs;
    const head: ((v: Float64Array) => Promise<Float64Array>)[] = [];
    for (const l of layers.slice(lastRec + 1)) {
      if (l instanceof SumDirections) head.push(async (v) => { const h = v.length / 2; return v.subarray(0, h).map((a, i) => a + v[h + i]); });
      else if (l instanceof Dense) {
        const [w, bias] = await Promise.all(l.parameters().map((p) => ctx.read(p.value!) as Promise<Float32Array>));
        head.push(async (v) => denseHost(v, w, bias, l.units, l.activation));
      } else if (!(l instanceof Dropout) && !(l instanceof LastStep || l instanceof BidirectionalLastStep)) {
        throw new Error(`Keras model "${this.name}": cannot give Keras's masked-step outputs through layer ${l.name}`);
      }
    }
    const run = async (v: Float64Array) => { for (const f of head) v = await f(v); return v; };
    for (let b = 0; b < B; b++) {
      const s = starts[b], e = s + lengths[b];
      if (s === 0 && e === T) continue;
      const fwd = hn.subarray((base * B + b) * H, (base * B + b + 1) * H);
      const rev = dirs === 2 ? hn.subarray(((base + 1) * B + b) * H, ((base + 1) * B + b + 1) * H) : null;
      // Before the block: forward zeros, reverse its output at the first valid step; after: the opposite.
      const before = new Float64Array(H * dirs), after = new Float64Array(H * dirs);
      after.set(fwd, 0);
      if (rev) before.set(rev, H);
      const [vb, va] = [await run(before), await run(after)];
      if (vb.length !== D) throw new Error(`Keras model "${this.name}": masked-step output has ${vb.length} features, expected ${D}`);
      for (let t = 0; t < s; t++) data.set(vb, (b * T + t) * D);
      for (let t = e; t < T; t++) data.set(va, (b * T + t) * D);
    }
  }

  /** Releases the model's GPU buffers. */
  dispose(): void {
    this.model.dispose();
  }
}

/** y = act(W v + b) in float64 on the host, W (units, in). */
function denseHost(v: Float64Array, w: Float32Array, bias: Float32Array | undefined, units: number, act: string | undefined): Float64Array {
  const n = v.length, y = new Float64Array(units);
  for (let o = 0; o < units; o++) {
    let s = bias ? bias[o] : 0;
    for (let i = 0; i < n; i++) s += w[o * n + i] * v[i];
    y[o] = act === 'relu' ? Math.max(0, s) : act === 'tanh' ? Math.tanh(s) : act === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : s;
  }
  return y;
}

/** Softmax over each row of width D, in place. */
function softmaxRows(a: Float32Array, D: number): void {
  for (let r = 0; r < a.length; r += D) {
    let m = -Infinity;
    for (let i = 0; i < D; i++) m = Math.max(m, a[r + i]);
    let s = 0;
    for (let i = 0; i < D; i++) s += Math.exp(a[r + i] - m);
    for (let i = 0; i < D; i++) a[r + i] = Math.exp(a[r + i] - m) / s;
  }
}
