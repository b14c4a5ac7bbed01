// One entry point for the tensor files a model loads from: safetensors (ours, or PyTorch's
// safetensors.torch.save_file) and PyTorch's torch.save zip (.pt). The format is told by the
// first bytes, not the file name, so a renamed file still loads.

import { decodeSafetensors, type SafeTensor } from '../train/safetensors.ts';
import { decodePyTorch, looksLikePickle, looksLikeZip } from './pt-reader.ts';

/** The tensor file formats decodeTensorFile reads. */
export type TensorFileFormat = 'safetensors' | 'pytorch';

/** Which format the bytes hold: a zip or a bare pickle is PyTorch's; anything else is read as safetensors. */
export function tensorFileFormat(bytes: Uint8Array): TensorFileFormat {
  return looksLikeZip(bytes) || looksLikePickle(bytes) ? 'pytorch' : 'safetensors';
}

/**
 * Decodes safetensors or torch.save bytes into tensors (f32 / i32) and string metadata; throws a
 * CheckpointError naming `source` for anything else.
 */
export function decodeTensorFile(input: Uint8Array | ArrayBuffer, source = 'checkpoint'): { tensors: Map<string, SafeTensor>; metadata: Record<string, string>; format: TensorFileFormat } {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (tensorFileFormat(bytes) === 'pytorch') {
    const { tensors, metadata } = decodePyTorch(bytes, source);
    return { tensors, metadata, format: 'pytorch' };
  }
  return { ...decodeSafetensors(bytes, source), format: 'safetensors' };
}
