// The shapes Keras models travel in between the Keras readers and writers (tfjs model.json, the
// .keras file) and the mapping onto our layers.

/** One Keras weight: its shape as Keras gives it (a kernel is (in, units·gates)) and its values, row-major. */
export interface KerasTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * A Keras model's weights by Keras layer name, each list in the order of Keras's
 * `layer.get_weights()` (Bidirectional: the forward layer's, then the backward layer's).
 */
export type KerasWeights = Map<string, KerasTensor[]>;

/**
 * Which Keras writes the config: 'tfjs' (TensorFlow.js and Keras 2: `class_name` + `config`, dtype
 * strings) or 'keras3' (adds `module` / `registered_name`, dtype policy objects, `build_config`).
 */
export type KerasFlavour = 'tfjs' | 'keras3';

/** What kerasConfigFromModel gives: the model's `{ class_name, config }` and its weights. */
export interface KerasModelParts {
  modelConfig: { class_name: string; config: Record<string, unknown> } & Record<string, unknown>;
  weights: KerasWeights;
}

/** Options of modelFromKerasConfig and the readers built on it. */
export interface KerasLoadOptions {
  /** Names the file in errors (default 'Keras model'). */
  source?: string;
  /** The model's seed (dropout masks). Default 1. */
  seed?: number;
}
