// Rebuilding layers from the JSON each layer's config() writes (stored in checkpoints).
import { Layer } from './layer.ts';
import { Dense, Dropout, LastStep } from './layers.ts';
import { BidirectionalLastStep, SumDirections } from './directions.ts';
import { Embedding, OneHot } from './embedding.ts';
import { GRU, LSTM, RNN } from './recurrent.ts';
import type { Activation } from '../kernels/activation.ts';
import type { CellActivation, GateActivation } from '../cpu/cell_activation.ts';

export type LayerConfig = Record<string, unknown> & { type: string; name: string };

/** A layer from its config() JSON (same type, sizes and options, storage precision included;
 *  parameters are initialised fresh). */
export function layerFromConfig(c: LayerConfig): Layer {
  const name = c.name;
  switch (c.type) {
    case 'Embedding': return new Embedding({ numEmbeddings: c.numEmbeddings as number, embeddingDim: c.embeddingDim as number, name });
    case 'OneHot': return new OneHot(c.numClasses as number, name);
    case 'Dense': return new Dense({ units: c.units as number, inputSize: c.inputSize as number, activation: c.activation as Activation | undefined, bias: c.bias as boolean, precision: c.precision as 'f32' | 'f16' | undefined, name });
    case 'Dropout': return new Dropout(c.rate as number, name);
    case 'LastStep': return new LastStep(name);
    case 'BidirectionalLastStep': return new BidirectionalLastStep(name);
    case 'SumDirections': return new SumDirections(name);
    case 'LSTM': case 'GRU': case 'RNN': {
      const o = {
        hiddenSize: c.hiddenSize as number, inputSize: c.inputSize as number, numLayers: c.numLayers as number,
        bidirectional: c.bidirectional as boolean, dropout: c.dropout as number, stateful: c.stateful as boolean,
        precision: c.precision as 'f32' | 'f16' | undefined, name,
      };
      // Configs written before the Keras cell options existed lack them: the defaults apply.
      const keras = { activation: c.activation as CellActivation | undefined, recurrentActivation: c.recurrentActivation as GateActivation | undefined };
      if (c.type === 'LSTM') return new LSTM({ ...o, ...keras, forgetBias: c.forgetBias as number | undefined, peepholes: c.peepholes as boolean | undefined });
      if (c.type === 'GRU') return new GRU({ ...o, ...keras, resetAfter: c.resetAfter as boolean | undefined });
      return new RNN({ ...o, nonlinearity: c.nonlinearity as 'tanh' | 'relu' | undefined });
    }
    default: throw new Error(`layer config: unknown layer type ${JSON.stringify(c.type)}`);
  }
}
