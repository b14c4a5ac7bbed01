// A many-to-one checkpoint (… → LSTM → LastStep → … → Dense) rebuilt without its LastStep, so one
// forward pass gives the prediction after every timestep: a recurrent layer is causal, so its
// output at step t depends on steps 0…t only, and every layer after LastStep (Dropout, Dense) works
// per timestep as well. The output at the last step is exactly what the checkpoint's own model
// predicts; the steps before it show the network making up its mind as it reads. One pass over
// the sequence, instead of one run per prefix.
import {
  decodeModelInto, decodeSafetensors, layerFromConfig, Sequential, type GpuContext, type LayerConfig,
} from '../../src/index.ts';

export function everyStepModel(ctx: GpuContext, bytes: Uint8Array, source: string): { model: Sequential; metadata: Record<string, string> } {
  const { metadata } = decodeSafetensors(bytes, source);
  if (!metadata.config) throw new Error(`${source}: no layer config in its metadata; expected a checkpoint saved by saveCheckpoint or encodeModel`);
  const config = JSON.parse(metadata.config) as { layers: LayerConfig[]; input: { kind: 'seq' | 'tokens'; size: number }; seed?: number };
  const layers = config.layers.filter((l) => l.type !== 'LastStep').map(layerFromConfig);
  const model = new Sequential(layers, { seed: config.seed ?? 1 }).build(ctx, config.input);
  // The parameters are named by layer (lstm.weight_ih_l0, logits.weight, …), so dropping the
  // parameterless LastStep leaves every name as the checkpoint has it.
  decodeModelInto(model, bytes, source);
  return { model, metadata };
}
