/**
 * `webgpu-rnn/interop`: models in and out of other frameworks' files — PyTorch state_dicts
 * (`modelFromPyTorch`, `.pt` read safely with `decodePyTorch` and written with `encodePyTorch`),
 * ONNX (`exportOnnx`, `importOnnx`) and Keras / TensorFlow.js LayersModels (`modelFromTfjs`,
 * `loadTfjsModel`, `encodeTfjs`, and the Keras config mapping `modelFromKerasConfig` /
 * `kerasConfigFromModel` under the `.keras` file reader). Browser-safe; kept out of the root entry
 * so that its size and names stay those of the library itself.
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />

// PyTorch: state_dicts by name (with prefix / rename mapping), .pt files read safely and written.
export {
  modelFromPyTorch, describePyTorchStateDict, decodePyTorch, encodePyTorch,
  type PyTorchLayerSpec, type ModelFromPyTorchOptions, type PyTorchFile, type NameMapping,
} from './interop/index.ts';

// ONNX: export to the ONNX LSTM/GRU/RNN operators, import of ours or torch.onnx.export's.
export { exportOnnx, importOnnx, type OnnxExportOptions, type OnnxImportOptions } from './interop/onnx/index.ts';

// Keras / TensorFlow.js: LayersModel artifacts (model.json + weight shards) and Keras model configs.
export {
  modelFromTfjs, loadTfjsModel, encodeTfjs, modelFromKerasConfig, kerasConfigFromModel, KerasModel,
  BidirectionalLastStep, SumDirections, KERAS_LAYERS,
  type TfjsArtifactsInput, type TfjsModelArtifacts, type TfjsWeightSpec, type TfjsEncoded,
  type KerasTensor, type KerasWeights, type KerasFlavour, type KerasModelParts, type KerasLoadOptions, type KerasSaveOptions,
  type KerasMask, type KerasInput,
} from './interop/keras/index.ts';

// Keras 3 .keras files (config.json + model.weights.h5 in a zip; HDF5 through h5wasm, loaded on first use).
export { modelFromKerasFile, encodeKerasFile, readKerasArchive, writeKerasArchive, type KerasArchive } from './interop/keras/index.ts';
