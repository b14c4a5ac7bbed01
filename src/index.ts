/**
 * webgpu-rnn's browser-safe entry (`import … from 'webgpu-rnn'` in a bundler, or
 * `'webgpu-rnn/browser'`): what users write code against — the context (`createBrowserContext`,
 * `GpuContext` with its settings, `Tensor`), layers (`Sequential`, `Embedding`, `LSTM`, `GRU`,
 * `RNN`, `Dense`, …), training (`Adam`, `SGD`, `fit`, `tuneSchedule`), checkpoints as bytes
 * (`encodeModel`, `decodeModelInto`, …), generation, `createPredictor` (inference on onnxruntime-web's
 * wasm backend where the adapter is a software fallback), data loaders and the float64 CPU reference
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
export type { LossScaleOption, DynamicLossScaleOptions } from './nn/loss-scale.ts';
export { Model, type InputBatch, type OutputTargets, type ModelTargets, type CustomTargets, type OutputLoss, type ModelCompileOptions, type OutputData } from './nn/graph.ts';
export { Input, type GraphValue, type RecurrentValue, type StateValues, type RecurrentCallOptions } from './nn/graph-value.ts';
export { Concatenate, Add } from './nn/merge.ts';
export { Embedding, OneHot, type EmbeddingOptions } from './nn/embedding.ts';
export { Recurrent, LSTM, GRU, RNN, type RecurrentOptions, type RecurrentState } from './nn/recurrent.ts';
export { Dense, Dropout, LastStep, type DenseOptions } from './nn/layers.ts';
export { Attention, type AttentionOptions } from './nn/attention.ts';
export { layerFromConfig, type LayerConfig } from './nn/config.ts';
export type { CellKind } from './nn/cells.ts';

// Training.
export { LOSS_KINDS, type LossKind } from './train/losses.ts';
export { Optimizer, Adam, SGD, type AdamOptions, type SGDOptions, type LrSchedule, type OptimizerState } from './train/optimizers.ts';
export { fit, type FitOptions, type EpochLog, type BatchSource, type GraphBatch } from './train/fit.ts';
export { LossOps, type CustomLoss, type LossTerm } from './train/custom-loss.ts';
export { ProgressBar, type ProgressOptions } from './train/progress.ts';
export { tuneSchedule, type TuneResult, type ScheduleTiming } from './train/tune.ts';

// Checkpoints (as bytes; files on disk are in the Node entry).
export {
  CHECKPOINT_FORMAT, stateDict, loadStateDict, encodeModel, decodeModelInto, encodeTrainingState,
  decodeTrainingStateInto, decodeCheckpointInto, modelFromCheckpoint, graphModelFromCheckpoint,
  type CheckpointModel, type StateDict, type LoadOptions, type LoadReport, type CheckpointLoadReport,
} from './train/checkpoint.ts';
export { CheckpointError, encodeSafetensors, decodeSafetensors, type SafeTensor, type SafeDType } from './train/safetensors.ts';

// Generation.
export {
  generate, generateSamples, generatorSpecOf, sampleLogits, argmaxDecode,
  type GenerateOptions, type GenerateEngine, type SampleOptions,
} from './train/generate.ts';
export {
  beamSearch, greedyDecode, type DecoderSteps, type LayerDecoder, type BeamSearchOptions, type DecodeResult, type Hypothesis, type LengthNormalization,
} from './train/decode.ts';
export { createStream, type StreamingSession, type StreamOptions, type StreamBlock, type StreamPushOptions, type StreamOutput } from './train/stream.ts';
// Inference on the engine that suits the adapter (onnxruntime-web's wasm on software fallbacks).
export { createPredictor, type Predictor, type PredictorOptions, type PredictorEngine, type OnnxRuntimeModule } from './nn/predictor.ts';

// Data (browser-safe loaders; the Node file readers are in the Node entry).
export { CharVocab, charBatches, reshapeStreams } from './data/text.ts';
export { parseCsv, parseNumericCsv, type CsvOptions } from './data/csv.ts';
export { parseIdxImages, parseIdxLabels } from './data/idx.ts';
export { parseReviews, tokenize, WordVocab, padLeft, csvRows, type Review } from './data/imdb.ts';
export {
  dateExamples, dateBatch, type DateExamples, type DateExamplesOptions, type DatePair, type DateBatch, type DateBatchOptions,
  type DateVocab, type DateGenerator, type DateFormat,
} from './data/dates.ts';

// Models from other frameworks (PyTorch, ONNX, Keras / TensorFlow.js) are in `webgpu-rnn/interop`.

// The float64 CPU reference, and its seeded random numbers.
export { Rng } from './cpu/random.ts';
export * as cpu from './cpu/index.ts';
