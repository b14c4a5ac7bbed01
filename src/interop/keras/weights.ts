// Keras weight layouts ↔ ours (PyTorch's). Keras kernels are (in, gates·units), ours (gates·units,
// in); LSTM gates are i, f, c, o in both; GRU gates are z, r, h in Keras and r, z, n here. Keras
// has one recurrent bias except GRU reset_after=True ((2, 3H): input row, recurrent row); we keep
// PyTorch's two, so on load the second is zero and on save they are added (exact for LSTM, RNN and
// a GRU with the reset gate before the product, whose recurrent bias sits outside r).

/** Our gate block k takes Keras's block ORDER[cell][k]. */
const KERAS_BLOCK: Record<'lstm' | 'gru' | 'rnn', number[]> = { lstm: [0, 1, 2, 3], gru: [1, 0, 2], rnn: [0] };

/** Each gate unit once, as [our row in a (gates·H, ·) weight, Keras's column in its (·, gates·H) one]. */
function gateUnits(cell: 'lstm' | 'gru' | 'rnn', H: number): [ours: number, keras: number][] {
  return KERAS_BLOCK[cell].flatMap((kerasBlock, blk) => Array.from({ length: H }, (_, j): [number, number] => [blk * H + j, kerasBlock * H + j]));
}

/** Keras (rows, gates·H) → ours (gates·H, rows), gate blocks reordered. */
export function kernelToOurs(cell: 'lstm' | 'gru' | 'rnn', k: Float32Array, rows: number, H: number): Float32Array {
  const units = gateUnits(cell, H), G = units.length;
  const out = new Float32Array(G * rows);
  for (const [ours, keras] of units) for (let r = 0; r < rows; r++) out[ours * rows + r] = k[r * G + keras];
  return out;
}

/** Ours (gates·H, rows) → Keras (rows, gates·H). */
export function kernelToKeras(cell: 'lstm' | 'gru' | 'rnn', w: Float32Array, rows: number, H: number): Float32Array {
  const units = gateUnits(cell, H), G = units.length;
  const out = new Float32Array(G * rows);
  for (const [ours, keras] of units) for (let r = 0; r < rows; r++) out[r * G + keras] = w[ours * rows + r];
  return out;
}

/** A (gates·H) bias, Keras gate order → ours. */
export function biasToOurs(cell: 'lstm' | 'gru' | 'rnn', b: Float32Array, H: number): Float32Array {
  return kernelToOurs(cell, b, 1, H);
}

/** A (gates·H) bias, our gate order → Keras's. */
export function biasToKeras(cell: 'lstm' | 'gru' | 'rnn', b: Float32Array, H: number): Float32Array {
  return kernelToKeras(cell, b, 1, H);
}

/** A plain (rows, cols) matrix transposed: Dense's kernel (in, units) ↔ our weight (units, in). */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}
