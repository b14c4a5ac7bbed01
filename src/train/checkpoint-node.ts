// Checkpoint files in Node: atomic writes, clear errors, nothing overwritten on failure.
import { existsSync } from 'node:fs';
import type { Sequential } from '../nn/model.ts';
import { decodeModelInto, decodeTrainingStateInto, encodeModel, encodeTrainingState } from './checkpoint.ts';
import { readFileBytes, writeFileAtomic } from './files.ts';

/** `model.safetensors` → `model.train.safetensors`. */
export function trainingStatePath(path: string): string {
  return path.endsWith('.safetensors') ? `${path.slice(0, -'.safetensors'.length)}.train.safetensors` : `${path}.train.safetensors`;
}

/**
 * Saves the parameters to `path` (PyTorch-loadable safetensors) and, with `trainingState`, the
 * optimizer/RNG/carried states to `<path minus .safetensors>.train.safetensors`; `metadata` adds
 * string entries to the model file's header (e.g. a vocabulary). Both files are
 * written atomically, the training state first, so a crash leaves the previous pair usable.
 */
export async function saveCheckpoint(
  path: string, model: Sequential, opts: { trainingState?: boolean; metadata?: Record<string, string> } = {},
): Promise<void> {
  const modelBytes = await encodeModel(model, opts.metadata);
  const stateBytes = opts.trainingState ? await encodeTrainingState(model) : null;
  if (stateBytes) writeFileAtomic(trainingStatePath(path), stateBytes);
  writeFileAtomic(path, modelBytes);
}

/**
 * Loads parameters from `path` into a built model (and the training state when asked and present).
 * A truncated, corrupt or mismatched file throws naming the file; the model is left unchanged.
 */
export async function loadCheckpoint(path: string, model: Sequential, opts: { trainingState?: boolean } = {}): Promise<{ metadata: Record<string, string> }> {
  const bytes = readFileBytes(path);
  const statePath = trainingStatePath(path);
  const stateBytes = opts.trainingState && existsSync(statePath) ? readFileBytes(statePath) : null;
  if (opts.trainingState && !stateBytes) throw new Error(`${statePath}: no such file (saved without trainingState?)`);
  const r = decodeModelInto(model, bytes, path);
  if (stateBytes) decodeTrainingStateInto(model, stateBytes, statePath);
  return r;
}
