// The recurrent cells' Keras activations as the codes their WGSL takes (common.wgsl's cell_act):
// the override constants ACT / RACT of the LSTM and GRU kernels and the generation program table.
import { CELL_ACTIVATIONS, type CellActivation, type GateActivation } from '../cpu/cell_activation.ts';

/** The code of a cell activation: 0 tanh, 1 relu, 2 sigmoid, 3 hard_sigmoid, 4 linear. */
export function cellActivationCode(what: string, a: CellActivation): number {
  const code = CELL_ACTIVATIONS.indexOf(a);
  if (code < 0) throw new Error(`${what} must be one of ${CELL_ACTIVATIONS.join(', ')}, got ${JSON.stringify(a)}`);
  return code;
}

/** The code of a gate activation: 2 sigmoid, 3 hard_sigmoid. */
export function gateActivationCode(what: string, a: GateActivation): number {
  if (a !== 'sigmoid' && a !== 'hard_sigmoid') throw new Error(`${what} must be one of sigmoid, hard_sigmoid, got ${JSON.stringify(a)}`);
  return CELL_ACTIVATIONS.indexOf(a);
}
