// Checkpoint files in Node: atomic writes, clear errors, nothing overwritten or half-loaded on failure.
import { statSync } from 'node:fs';
import { decodeCheckpointInto, encodeModel, encodeTrainingState, requireBuiltModel, type CheckpointLoadReport, type CheckpointModel } from './checkpoint.ts';
import { readFileBytes, writeFilesAtomic } from './files.ts';
import { describeValue } from '../nn/options.ts';
import type { NameMapping } from '../interop/names.ts';

/** `model.safetensors` → `model.train.safetensors`. */
export function trainingStatePath(path: string): string {
  return path.endsWith('.safetensors') ? `${path.slice(0, -'.safetensors'.length)}.train.safetensors` : `${path}.train.safetensors`;
}

function checkPath(action: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) throw new Error(`${action}: path must be a non-empty string like "model.safetensors", got ${describeValue(path)}`);
}

function checkOptions(action: string, opts: unknown, known: string[]): void {
  if (typeof opts !== 'object' || opts === null) throw new Error(`${action}: options must be an object like { trainingState: true }, got ${describeValue(opts)}`);
  for (const [k, v] of Object.entries(opts)) {
    if (!known.includes(k)) throw new Error(`${action}: unknown option ${JSON.stringify(k)}; the options are ${known.join(', ')}`);
    if ((k === 'trainingState' || k === 'strict') && v !== undefined && typeof v !== 'boolean') {
      throw new Error(`${action}: option ${k} must be a boolean (true or false), got ${describeValue(v)}`);
    }
  }
}

/** A new id per save, stored in both files so that a load can tell they belong together. */
function newCheckpointId(): string {
  return `${Date.now().toString(36)}-${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
}

/**
 * Saves the parameters to `path` (PyTorch-loadable safetensors) and, with `trainingState`, the
 * optimizer/RNG/carried states to `<path minus .safetensors>.train.safetensors`; `metadata` adds
 * string entries to the model file's header (e.g. a vocabulary). Both files are written to temp
 * files first and then renamed into place, the training state first, so a failed save (a
 * directory in the way, no permission, a full disk) leaves the previous pair as it was and no temp
 * file behind. Missing parent folders are created. The model must be built and not disposed.
 */
export async function saveCheckpoint(
  path: string, model: CheckpointModel, opts: { trainingState?: boolean; metadata?: Record<string, string> } = {},
): Promise<void> {
  checkPath('saveCheckpoint', path);
  checkOptions('saveCheckpoint', opts, ['trainingState', 'metadata']);
  requireBuiltModel(model, `save ${path}`);
  if (opts.trainingState && !model.optimizer) throw new Error(`save ${trainingStatePath(path)}: the model has no optimizer to save (compile it first, or save without trainingState)`);
  const id = newCheckpointId();
  const modelBytes = await encodeModel(model, opts.metadata, id);
  const stateBytes = opts.trainingState ? await encodeTrainingState(model, id) : null;
  const files = stateBytes ? [{ path: trainingStatePath(path), data: stateBytes }] : [];
  writeFilesAtomic([...files, { path, data: modelBytes }]);
}

/** Reads a checkpoint file, refusing a directory or an empty file with a message naming the path. */
function readCheckpointFile(path: string, missingHint = ''): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new Error(`${path}: is a directory, expected a .safetensors file`);
    size = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: no such file${missingHint}`);
    if ((e as NodeJS.ErrnoException).code) throw new Error(`${path}: cannot be read (${(e as Error).message})`);
    throw e;
  }
  if (size === 0) throw new Error(`${path}: is empty (0 bytes); expected a safetensors file`);
  return readFileBytes(path);
}

/**
 * Loads parameters from `path` into a built model and, with `trainingState`, the optimizer state,
 * counters, RNG and carried states from the `.train.safetensors` file beside it. All or nothing:
 * both files are read and checked against the model before anything is written, so a missing,
 * truncated, corrupt or mismatched file throws naming the file and the model is left unchanged.
 * `strict: false` loads what matches (see LoadOptions); the report lists what was missing or ignored.
 * `prefix` / `rename` map the file's names to the model's (see NameMapping); a PyTorch `.pt` file
 * (torch.save of a state_dict) loads too.
 */
export async function loadCheckpoint(
  path: string, model: CheckpointModel, opts: { trainingState?: boolean; strict?: boolean } & NameMapping = {},
): Promise<CheckpointLoadReport> {
  checkPath('loadCheckpoint', path);
  checkOptions('loadCheckpoint', opts, ['trainingState', 'strict', 'prefix', 'rename']);
  requireBuiltModel(model, `load ${path}`);
  const statePath = trainingStatePath(path);
  if (opts.trainingState && !model.optimizer) throw new Error(`load ${statePath}: compile the model with an optimizer before loading its training state`);
  const bytes = readCheckpointFile(path);
  const stateBytes = opts.trainingState ? readCheckpointFile(statePath, ' (was the checkpoint saved with trainingState: true?)') : null;
  return decodeCheckpointInto(model, bytes, stateBytes, { strict: opts.strict, prefix: opts.prefix, rename: opts.rename, source: path, trainingStateSource: statePath });
}
