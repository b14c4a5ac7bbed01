// The activations a recurrent cell can use, with Keras names and semantics (float64):
//   activation (LSTM's candidate g and output act(c), GRU's candidate n):
//     'tanh' (default), 'relu', 'sigmoid', 'hard_sigmoid', 'linear'
//   recurrentActivation (LSTM's i, f, o and GRU's r, z gates): 'sigmoid' (default), 'hard_sigmoid'
// hard_sigmoid is Keras 2's and TensorFlow.js's clip(0.2·x + 0.5, 0, 1), the one tfjs models
// were trained with (Keras 3 changed it to relu6(x + 3) / 6, a different slope).
import { sigmoid } from './math.ts';

export type CellActivation = 'tanh' | 'relu' | 'sigmoid' | 'hard_sigmoid' | 'linear';
export type GateActivation = 'sigmoid' | 'hard_sigmoid';

/** Every activation a cell accepts, and those its gates accept (for option checks). */
export const CELL_ACTIVATIONS: readonly CellActivation[] = ['tanh', 'relu', 'sigmoid', 'hard_sigmoid', 'linear'];
export const GATE_ACTIVATIONS: readonly GateActivation[] = ['sigmoid', 'hard_sigmoid'];

/** Keras 2 / TensorFlow.js hard sigmoid: clip(0.2·x + 0.5, 0, 1). */
export const hardSigmoid = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));

/** y = act(x). */
export function cellActivate(act: CellActivation, x: number): number {
  switch (act) {
    case 'tanh': return Math.tanh(x);
    case 'relu': return x > 0 ? x : 0;
    case 'sigmoid': return sigmoid(x);
    case 'hard_sigmoid': return hardSigmoid(x);
    case 'linear': return x;
  }
}

/**
 * act'(x) written from the output y = act(x), which is what the cells save. Every activation here
 * allows it: hard_sigmoid's slope is 0.2 exactly where its output is strictly inside (0, 1), relu's
 * is 1 where its output is positive (the kinks get the one-sided slope 0, as in PyTorch and tfjs).
 */
export function cellActivationGrad(act: CellActivation, y: number): number {
  switch (act) {
    case 'tanh': return 1 - y * y;
    case 'relu': return y > 0 ? 1 : 0;
    case 'sigmoid': return y * (1 - y);
    case 'hard_sigmoid': return y > 0 && y < 1 ? 0.2 : 0;
    case 'linear': return 1;
  }
}
