// Gate order between PyTorch's layout (ours) and the ONNX LSTM/GRU/RNN operators.
//   LSTM: PyTorch i, f, g, o   — ONNX i, o, f, c   (c is PyTorch's g)
//   GRU:  PyTorch r, z, n      — ONNX z, r, h      (h is PyTorch's n; linear_before_reset = 1)
//   RNN:  one gate, no reordering.
import type { CellKind } from '../../nn/cells.ts';

/** ONNX gate block k holds PyTorch gate block TORCH_BLOCK_OF_ONNX[cell][k]. */
const TORCH_BLOCK_OF_ONNX: Record<string, readonly number[]> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0] };

/** PyTorch gate block j comes from ONNX gate block ONNX_BLOCK_OF_TORCH[cell][j]. */
const ONNX_BLOCK_OF_TORCH: Record<string, readonly number[]> = { lstm: [0, 2, 3, 1], gru: [1, 0, 2], rnn: [0] };

/** Copies a (gates·H, cols) row-major matrix into `dst` at `offset`, block k of it taken from block order[k] of `src`. */
function permuteBlocks(src: ArrayLike<number>, dst: Float32Array, offset: number, H: number, cols: number, order: readonly number[]): void {
  const block = H * cols;
  order.forEach((from, k) => {
    for (let i = 0; i < block; i++) dst[offset + k * block + i] = src[from * block + i];
  });
}

/** A PyTorch-ordered (G, cols) weight or (G) bias written in ONNX gate order into `dst` at `offset`. */
export function torchToOnnxGates(cell: CellKind, src: ArrayLike<number>, dst: Float32Array, offset: number, H: number, cols: number): void {
  permuteBlocks(src, dst, offset, H, cols, TORCH_BLOCK_OF_ONNX[cell]);
}

/** An ONNX-ordered (G, cols) weight or (G) bias as a new PyTorch-ordered Float32Array. */
export function onnxToTorchGates(cell: CellKind, src: ArrayLike<number>, H: number, cols: number): Float32Array {
  const order = ONNX_BLOCK_OF_TORCH[cell];
  const out = new Float32Array(order.length * H * cols);
  permuteBlocks(src, out, 0, H, cols, order);
  return out;
}

/** Gates per cell: the G in (G, I) is gates·H. */
export const GATE_COUNT: Record<string, number> = { lstm: 4, gru: 3, rnn: 1 };

/** The ONNX operator of each cell. */
export const ONNX_OP_OF_CELL: Record<string, string> = { lstm: 'LSTM', gru: 'GRU', rnn: 'RNN' };
