// A tfjs model.json as a file of named tensors, for the command line's `inspect` and `convert`:
// reading loads the model (its shards through `readShard`) and gives our parameters under their
// PyTorch names plus the layer config in the metadata keys a webgpu-rnn checkpoint uses, and the
// Keras input mask and softmax in `keras_mask` / `keras_softmax`; writing needs that config (a
// webgpu-rnn checkpoint has it) and gives model.json plus one weight shard.
import { contentsFromKerasModel, kerasModelFromContents, type KerasTensorContents } from './tensor-contents.ts';
import { kerasPartsFromWeights } from './save.ts';
import { encodeTfjsParts, modelFromTfjs } from './tfjs-artifacts.ts';

/** Tensors in file order, their stored dtypes, and string metadata (the command line's TensorFileContents). */
export type TfjsTensorFile = KerasTensorContents;

/** True when `bytes` are a JSON object with a tfjs weightsManifest (a LayersModel's model.json). */
export function looksLikeTfjsModelJson(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) return false;
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return typeof j === 'object' && j !== null && 'weightsManifest' in j && 'modelTopology' in j;
  } catch {
    return false;
  }
}

export function readTfjsFile(bytes: Uint8Array, source: string, readShard: (path: string) => Uint8Array): TfjsTensorFile {
  const json = new TextDecoder().decode(bytes);
  const manifest = (JSON.parse(json) as { weightsManifest?: { paths?: string[] }[] }).weightsManifest ?? [];
  const shards = new Map<string, Uint8Array>();
  for (const g of manifest) {
    for (const p of g.paths ?? []) {
      try { shards.set(p, readShard(p)); } catch (e) { throw new Error(`${source}: weight shard ${JSON.stringify(p)} cannot be read (${(e as Error).message}); it must lie beside model.json`); }
    }
  }
  return contentsFromKerasModel(modelFromTfjs({ modelJson: json, shards }, { source }));
}

/** model.json's bytes and its one shard (named after the output: model.json → model.weights.bin). */
export function writeTfjsFile(contents: TfjsTensorFile, target: string): { bytes: Uint8Array; notes: string[]; files: { name: string; bytes: Uint8Array }[] } {
  const { model: kerasModel, values } = kerasModelFromContents(contents, 'a tfjs model.json', 'encodeTfjs');
  const base = target.replace(/\\/g, '/').split('/').pop()!.replace(/\.json$/i, '');
  const shard = `${base}.weights.bin`;
  const enc = encodeTfjsParts(kerasPartsFromWeights(kerasModel, values, 'tfjs'), shard);
  const notes = [`weights in ${shard} beside it`];
  if (!kerasModel.mask) notes.push('no input mask: tfjs runs every step (convert a model loaded from Keras with mask_zero / Masking to keep one)');
  return { bytes: new TextEncoder().encode(JSON.stringify(enc.modelJson)), notes, files: [{ name: shard, bytes: enc.weightData }] };
}
