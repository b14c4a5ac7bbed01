// The constructor options of LSTM / GRU / RNN (and `new Recurrent(cell, …)`), checked and filled
// with their defaults before the layer exists: a wrong type, range, enum or unknown key throws a
// message naming the layer, the option, the value and what was expected.
import { CELL_KINDS, type CellKind, type RecurrentSchedule } from './cells.ts';
import {
  checkBoolean, checkEnum, checkFinite, checkInteger, checkLayerName, checkNumberInRange, checkOptionsObject, layerLabel,
} from './options.ts';
import { CELL_ACTIVATIONS, GATE_ACTIVATIONS, type CellActivation, type GateActivation } from '../cpu/cell_activation.ts';

/** Every option a recurrent layer takes (documented on RecurrentOptions in recurrent.ts). */
export const RECURRENT_OPTIONS = [
  'hiddenSize', 'inputSize', 'numLayers', 'bidirectional', 'dropout', 'stateful', 'forgetBias', 'nonlinearity',
  'activation', 'recurrentActivation', 'resetAfter', 'peepholes', 'schedule', 'precision', 'name',
] as const;

/** The checked options with defaults applied (inputSize 0 = inferred from the previous layer). */
export interface CheckedRecurrentOptions {
  cell: CellKind;
  name: string;
  hiddenSize: number;
  inputSize: number;
  numLayers: number;
  bidirectional: boolean;
  dropout: number;
  stateful: boolean;
  forgetBias: number;
  nonlinearity: 'tanh' | 'relu';
  /** LSTM/GRU cell activation (Keras `activation`); 'tanh' for RNN, which uses nonlinearity. */
  activation: CellActivation;
  /** LSTM/GRU gate activation (Keras `recurrent_activation`); 'sigmoid' for RNN. */
  recurrentActivation: GateActivation;
  /** GRU: reset gate after the product (PyTorch, default) or before it (false: TF1/Keras/tfjs); true otherwise. */
  resetAfter: boolean;
  /** LSTM: peephole connections (TF1 use_peepholes, ONNX P); false otherwise. */
  peepholes: boolean;
  schedule: RecurrentSchedule | undefined;
  /** Storage of W_hh and the hidden states in the recurrence: 'f32' (default) or 'f16'. */
  precision: 'f32' | 'f16';
}

export function checkRecurrentOptions(cell: unknown, o: unknown): CheckedRecurrentOptions {
  const kind = checkEnum('Recurrent', 'cell', cell, CELL_KINDS);
  const type = kind.toUpperCase();
  checkOptionsObject(type, o, RECURRENT_OPTIONS, '{ hiddenSize: 64 }');
  const name = o.name === undefined ? kind : checkLayerName(type, o.name);
  const owner = layerLabel(type, name);
  if (o.hiddenSize === undefined) throw new Error(`${owner}: option hiddenSize is required (a positive integer, e.g. { hiddenSize: 64 })`);
  if (o.nonlinearity !== undefined && kind !== 'rnn') throw new Error(`${owner}: option nonlinearity applies to RNN only; ${type} takes options activation and recurrentActivation (Keras names)`);
  if (o.forgetBias !== undefined && kind !== 'lstm') throw new Error(`${owner}: option forgetBias applies to LSTM only`);
  if (o.peepholes !== undefined && kind !== 'lstm') throw new Error(`${owner}: option peepholes applies to LSTM only`);
  if (o.resetAfter !== undefined && kind !== 'gru') throw new Error(`${owner}: option resetAfter applies to GRU only`);
  for (const key of ['activation', 'recurrentActivation'] as const) {
    if (o[key] !== undefined && kind === 'rnn') throw new Error(`${owner}: option ${key} applies to LSTM and GRU only; RNN takes option nonlinearity ('tanh' or 'relu')`);
  }
  return {
    cell: kind,
    name,
    hiddenSize: checkInteger(owner, 'option hiddenSize', o.hiddenSize, 1),
    inputSize: o.inputSize === undefined ? 0 : checkInteger(owner, 'option inputSize (0 = inferred)', o.inputSize, 0),
    numLayers: o.numLayers === undefined ? 1 : checkInteger(owner, 'option numLayers', o.numLayers, 1),
    bidirectional: o.bidirectional === undefined ? false : checkBoolean(owner, 'option bidirectional', o.bidirectional),
    dropout: o.dropout === undefined ? 0 : checkNumberInRange(owner, 'option dropout', o.dropout, 0, 1),
    stateful: o.stateful === undefined ? false : checkBoolean(owner, 'option stateful', o.stateful),
    forgetBias: o.forgetBias === undefined ? 0 : checkFinite(owner, 'option forgetBias', o.forgetBias),
    nonlinearity: o.nonlinearity === undefined ? 'tanh' : checkEnum(owner, 'option nonlinearity', o.nonlinearity, ['tanh', 'relu'] as const),
    activation: o.activation === undefined ? 'tanh' : checkEnum(owner, 'option activation', o.activation, CELL_ACTIVATIONS),
    recurrentActivation: o.recurrentActivation === undefined ? 'sigmoid' : checkEnum(owner, 'option recurrentActivation', o.recurrentActivation, GATE_ACTIVATIONS),
    resetAfter: o.resetAfter === undefined ? true : checkBoolean(owner, 'option resetAfter', o.resetAfter),
    peepholes: o.peepholes === undefined ? false : checkBoolean(owner, 'option peepholes', o.peepholes),
    schedule: o.schedule === undefined ? undefined : checkEnum(owner, 'option schedule', o.schedule, ['step', 'sequence', 'auto'] as const),
    precision: o.precision === undefined ? 'f32' : checkEnum(owner, 'option precision', o.precision, ['f32', 'f16'] as const),
  };
}
