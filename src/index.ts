/**
 * webgpu-rnn's browser-safe entry (`import … from 'webgpu-rnn'` in a bundler, or
 * `'webgpu-rnn/browser'`): what users write code against — the context (`createBrowserContext`,
 * `GpuContext` with its settings, `Tensor`), layers (`Sequential`, `Embedding`, `LSTM`, `GRU`,
 * `RNN`, `Dense`, …), training (`Adam`, `SGD`, `fit`, `tuneSchedule`), checkpoints as bytes
 * (`encodeModel`, `decodeModelInto`, …), generation, data loaders and the float64 CPU reference
 * (`cpu`). Kernels, their specs, the registry and the cell drivers are in `webgpu-rnn/kernels`.
 * It never imports `webgpu` or Node built-ins.
 * @packageDocumentation
 */
/// <reference types="@webgpu/types" preserve="true" />
// The WebGPU types (GPUDevice, GPUBuffer, …) the declarations use; @webgpu/types is a dependency.

// The context and tensors.
export { GpuContext, contextFromGpu, type AdapterSummary, type DispatchArgs } from './runtime/context.ts';
export { createBrowserContext } from './runtime/browser-device.ts';
export {
  DEFAULT_SETTINGS, type ContextSettings, type RecurrentSchedule, type StepKernelVariant, type MatmulVariant,
} from './runtime/settings.ts';
export type { AdapterFacts } from './runtime/adapter-facts.ts';
export type { TunedSchedules, ScheduleDims, MeasuredSchedule } from './runtime/tuned.ts';
export { Tensor, type DType, type AnyTypedArray, type TypedArrayFor } from './runtime/tensor.ts';

// Layers and models.
export { Layer, type Act, type ActDesc, type ActKind, type Parameter, type RunInfo, type RunCheck } from './nn/layer.ts';
export { Sequential, type Batch, type CompileOptions, type StepResult } from './nn/model.ts';
export { Embedding, OneHot, type EmbeddingOptions } from './nn/embedding.ts';
export { Recurrent, LSTM, GRU, RNN, type RecurrentOptions, type RecurrentState } from './nn/recurrent.ts';
export { Dense, Dropout, LastStep, type DenseOptions } from './nn/layers.ts';
export { layerFromConfig, type LayerConfig } from './nn/config.ts';
export type { CellKind } from './nn/cells.ts';

// Training.
export { LOSS_KINDS, type LossKind } from './train/losses.ts';
export { Optimizer, Adam, SGD, type AdamOptions, type SGDOptions, type LrSchedule, type OptimizerState } from './train/optimizers.ts';
export { fit, type FitOptions, type EpochLog, type BatchSource } from './train/fit.ts';
export { ProgressBar, type ProgressOptions } from './train/progress.ts';
export { tuneSchedule, type TuneResult, type ScheduleTiming } from './train/tune.ts';

// Checkpoints (as bytes; files on disk are in the Node entry).
export {
  CHECKPOINT_FORMAT, stateDict, loadStateDict, encodeModel, decodeModelInto, encodeTrainingState,
  decodeTrainingStateInto, decodeCheckpointInto, modelFromCheckpoint,
  type StateDict, type LoadOptions, type LoadReport, type CheckpointLoadReport,
} from './train/checkpoint.ts';
export { CheckpointError, encodeSafetensors, decodeSafetensors, type SafeTensor, type SafeDType } from './train/safetensors.ts';

// Generation.
export {
  generate, generateSamples, generatorSpecOf, sampleLogits, argmaxDecode,
  type GenerateOptions, type GenerateEngine, type SampleOptions,
} from './train/generate.ts';

// Data (browser-safe loaders; the Node file readers are in the Node entry).
export { CharVocab, charBatches, reshapeStreams } from './data/text.ts';
export { parseCsv, parseNumericCsv, type CsvOptions } from './data/csv.ts';
export { parseIdxImages, parseIdxLabels } from './data/idx.ts';
export { parseReviews, tokenize, WordVocab, padLeft, csvRows, type Review } from './data/imdb.ts';

// Models from other frameworks: PyTorch state_dicts (.pt read safely and written, name mapping on
// load) and ONNX files (export, and import of ours or torch.onnx.export's).
export {
  modelFromPyTorch, describePyTorchStateDict, decodePyTorch, encodePyTorch,
  type PyTorchLayerSpec, type ModelFromPyTorchOptions, type PyTorchFile, type NameMapping,
} from './interop/index.ts';
export { exportOnnx, importOnnx, type OnnxExportOptions, type OnnxImportOptions } from './interop/onnx/index.ts';

// The float64 CPU reference, and its seeded random numbers.
export { Rng } from './cpu/random.ts';
export * as cpu from './cpu/index.ts';
