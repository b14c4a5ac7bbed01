// .onnx as a file of named tensors, for the command line's `inspect` and `convert`: reading gives
// the imported model's parameters under PyTorch names plus its layer config in the metadata keys a
// webgpu-rnn checkpoint uses (so `convert model.onnx model.safetensors` makes a checkpoint that
// modelFromCheckpoint rebuilds); writing needs that config (a webgpu-rnn checkpoint has it).
import type { SafeTensor } from '../../train/safetensors.ts';
import { CHECKPOINT_FORMAT } from '../../train/checkpoint.ts';
import { layerFromConfig, type LayerConfig } from '../../nn/config.ts';
import type { ActDesc } from '../../nn/layer.ts';
import { Sequential } from '../../nn/model.ts';
import { decodeModel } from './proto.ts';
import { encodeOnnx } from './export.ts';
import { modelFromOnnx } from './import.ts';

/** Tensors in file order, their stored dtypes, and string metadata (the command line's TensorFileContents). */
export interface OnnxTensorFile {
  tensors: Map<string, SafeTensor>;
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

/** True when `bytes` decode as an ONNX ModelProto with a graph. */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes[0] !== 0x08) return false; // field 1 (ir_version), a varint, comes first
  try {
    return decodeModel(bytes).graph.node.length > 0;
  } catch {
    return false;
  }
}

export function readOnnxFile(bytes: Uint8Array, source: string): OnnxTensorFile {
  const model = modelFromOnnx(bytes, { source, finalSoftmax: 'drop' });
  const tensors = new Map<string, SafeTensor>();
  const dtypes = new Map<string, string>();
  for (const [name, p] of model.namedParameters()) {
    tensors.set(name, { dtype: 'F32', shape: [...p.shape], data: p.init });
    dtypes.set(name, 'F32');
  }
  const m = decodeModel(bytes);
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify({ layers: model.layers.map((l) => l.config()), input: model.input, seed: model.seed }),
    onnx_producer: `${m.graph.name ? `${m.graph.name}, ` : ''}${m.producerName} ${m.producerVersion}`.trim(),
    onnx_opset: String(m.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? ''),
  };
  return { tensors, dtypes, metadata };
}

export function writeOnnxFile(contents: OnnxTensorFile, target: string): { bytes: Uint8Array; notes: string[] } {
  const config = contents.metadata.config;
  if (contents.metadata.format !== CHECKPOINT_FORMAT || !config) {
    throw new Error(`an ONNX file needs the model's layers, and the input has no webgpu-rnn layer config; convert a webgpu-rnn checkpoint (.safetensors saved by saveCheckpoint/encodeModel), or build the model in code and use exportOnnx`);
  }
  const c = JSON.parse(config) as { layers: LayerConfig[]; input: ActDesc; seed?: number };
  const model = new Sequential(c.layers.map(layerFromConfig), { seed: c.seed ?? 1 }).configure(c.input);
  const weights = Object.fromEntries([...contents.tensors].map(([k, t]) => [k, { data: t.data }]));
  const notes = ['inputs: tokens (B, T) int64 or inputs (B, T, I) float32, and lengths (B) int32; output: output'];
  return { bytes: encodeOnnx(model, weights), notes };
}
