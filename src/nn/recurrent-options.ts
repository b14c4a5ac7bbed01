// The constructor options of LSTM / GRU / RNN (and `new Recurrent(cell, …)`), checked and filled
// with their defaults before the layer exists: a wrong type, range, enum or unknown key throws a
// message naming the layer, the option, the value and what was expected.
import { CELL_KINDS, type CellKind, type RecurrentSchedule } from './cells.ts';
import {
  checkBoolean, checkEnum, checkFinite, checkInteger, checkLayerName, checkNumberInRange, checkOptionsObject, layerLabel,
} from './options.ts';

/** Every option a recurrent layer takes (documented on RecurrentOptions in recurrent.ts). */
export const RECURRENT_OPTIONS = [
  'hiddenSize', 'inputSize', 'numLayers', 'bidirectional', 'dropout', 'stateful', 'forgetBias', 'nonlinearity', 'schedule', 'name',
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
  schedule: RecurrentSchedule | undefined;
}

export function checkRecurrentOptions(cell: unknown, o: unknown): CheckedRecurrentOptions {
  const kind = checkEnum('Recurrent', 'cell', cell, CELL_KINDS);
  const type = kind.toUpperCase();
  checkOptionsObject(type, o, RECURRENT_OPTIONS, '{ hiddenSize: 64 }');
  const name = o.name === undefined ? kind : checkLayerName(type, o.name);
  const owner = layerLabel(type, name);
  if (o.hiddenSize === undefined) throw new Error(`${owner}: option hiddenSize is required (a positive integer, e.g. { hiddenSize: 64 })`);
  if (o.nonlinearity !== undefined && kind !== 'rnn') throw new Error(`${owner}: option nonlinearity applies to RNN only; ${type} has fixed activations`);
  if (o.forgetBias !== undefined && kind !== 'lstm') throw new Error(`${owner}: option forgetBias applies to LSTM only`);
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
    schedule: o.schedule === undefined ? undefined : checkEnum(owner, 'option schedule', o.schedule, ['step', 'sequence', 'auto'] as const),
  };
}
