// Keras and TensorFlow.js models: the Keras model config and weights ↔ our layers (load.ts,
// save.ts), Keras's masking and outputs (keras-model.ts), and TensorFlow.js LayersModel artifacts
// (model.json + weight shards, tfjs-artifacts.ts), Keras 3 .keras files (keras-file.ts: the zip,
// model.weights.h5 through h5wasm in h5.ts, Keras 3's weight paths in keras3-layout.ts).
export type { KerasTensor, KerasWeights, KerasFlavour, KerasModelParts, KerasLoadOptions } from './types.ts';
export { parseKerasModelConfig, KERAS_LAYERS, type KerasLayerSpec, type ParsedKerasModel } from './config.ts';
export { modelFromKerasConfig } from './load.ts';
export { kerasConfigFromModel, kerasPartsFromWeights, type KerasSaveOptions, type OurWeights } from './save.ts';
export { KerasModel, type KerasMask, type KerasInput } from './keras-model.ts';
export { BidirectionalLastStep, SumDirections } from '../../nn/directions.ts';
export {
  modelFromTfjs, loadTfjsModel, decodeTfjsArtifacts, encodeTfjs, encodeTfjsParts,
  type TfjsArtifactsInput, type TfjsModelArtifacts, type TfjsWeightSpec, type TfjsEncoded,
} from './tfjs-artifacts.ts';
export {
  modelFromKerasFile, encodeKerasFile, readKerasArchive, writeKerasArchive, looksLikeKerasFile, KERAS_FORMAT_VERSION,
  type KerasArchive,
} from './keras-file.ts';
