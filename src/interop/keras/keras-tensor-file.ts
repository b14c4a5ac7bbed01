// A .keras file as a file of named tensors, for the command line's `inspect` and `convert`: reading
// loads the Keras model and gives our parameters under their PyTorch names plus the layer config in
// the metadata keys a webgpu-rnn checkpoint uses (and, as for tfjs model.json, the Keras input mask
// and softmax in `keras_mask` / `keras_softmax`, so .keras → model.json keeps them); writing needs
// that config (a webgpu-rnn checkpoint has it).
import { contentsFromKerasModel, kerasModelFromContents, type KerasTensorContents } from './tensor-contents.ts';
import { kerasPartsFromWeights } from './save.ts';
import { modelFromKerasConfig } from './load.ts';
import { readKerasArchive, writeKerasArchive } from './keras-file.ts';

/** Tensors in file order, their stored dtypes, and string metadata (the command line's TensorFileContents). */
export type KerasTensorFile = KerasTensorContents;

export async function readKerasTensorFile(bytes: Uint8Array, source: string): Promise<KerasTensorFile> {
  const archive = await readKerasArchive(bytes, source);
  const contents = contentsFromKerasModel(modelFromKerasConfig(archive.config, archive.weights, { source }));
  for (const key of ['keras_version', 'date_saved']) {
    if (typeof archive.metadata[key] === 'string') contents.metadata[key] = archive.metadata[key] as string;
  }
  return contents;
}

export async function writeKerasTensorFile(contents: KerasTensorFile, target: string): Promise<{ bytes: Uint8Array; notes: string[] }> {
  const { model: kerasModel, values } = kerasModelFromContents(contents, 'a .keras file', 'encodeKerasFile');
  const parts = kerasPartsFromWeights(kerasModel, values, 'keras3');
  const notes = kerasModel.mask ? [] : ['no input mask: Keras runs every step (convert a model loaded from Keras with mask_zero / Masking to keep one)'];
  return { bytes: await writeKerasArchive({ config: parts.modelConfig, weights: parts.weights }, target), notes };
}
