// The file formats the command line reads and writes: one entry per format. `inspect` uses
// `detect` and `read`; `convert` reads with the input's entry and writes with the entry whose
// extension the output path has. A format that cannot be written (or read) leaves that function out.
// To add a format, add an entry here; main.ts needs no change.

import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../train/safetensors.ts';
import { decodePyTorch, looksLikePickle, looksLikeZip } from '../interop/pt-reader.ts';
import { encodePyTorch } from '../interop/pt-writer.ts';
import { looksLikeOnnx, readOnnxFile, writeOnnxFile } from '../interop/onnx/tensor-file.ts';
import { looksLikeTfjsModelJson, readTfjsFile, writeTfjsFile } from '../interop/keras/tfjs-file.ts';
import { looksLikeKerasFile } from '../interop/keras/keras-file.ts';
import { readKerasTensorFile, writeKerasTensorFile } from '../interop/keras/keras-tensor-file.ts';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a format's reader gives and its writer takes. */
export interface TensorFileContents {
  /** Tensors in file order, as f32 or i32. */
  tensors: Map<string, SafeTensor>;
  /** Each tensor's dtype as stored in the file (F32, F64, F16, BF16, I64, …), for inspect. */
  dtypes: Map<string, string>;
  /** String metadata (safetensors `__metadata__`; plain values beside a .pt state_dict). */
  metadata: Record<string, string>;
}

/** What a format's writer gives. */
export interface WriteResult {
  bytes: Uint8Array;
  notes: string[];
  files?: { name: string; bytes: Uint8Array }[];
}

export interface FileFormat {
  /** Short name shown by inspect and in errors. */
  name: string;
  /** File name endings, lower case, with the dot; the first is the one suggested. */
  extensions: string[];
  /** True when `bytes` are in this format (checked before the extension). */
  detect(bytes: Uint8Array): boolean;
  read?(bytes: Uint8Array, source: string): TensorFileContents | Promise<TensorFileContents>;
  /**
   * Returns the file's bytes and notes for the user (e.g. what the format cannot keep), and any
   * files that go beside it (a tfjs model.json's weight shard), named relative to its folder.
   */
  write?(contents: TensorFileContents, target: string): WriteResult | Promise<WriteResult>;
}

/** The dtypes a safetensors header gives (the decoder converts to f32 / i32). */
function safetensorsDtypes(bytes: Uint8Array): Map<string, string> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype?: string }>;
  return new Map(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, String(v.dtype)]));
}

export const FORMATS: FileFormat[] = [
  {
    name: 'safetensors',
    extensions: ['.safetensors'],
    detect: (b) => b.length >= 9 && b[8] === 0x7b, // 8-byte length, then the JSON header's "{"
    read(bytes, source) {
      const { tensors, metadata } = decodeSafetensors(bytes, source);
      return { tensors, metadata, dtypes: safetensorsDtypes(bytes) };
    },
    write(c) {
      return { bytes: encodeSafetensors(Object.fromEntries(c.tensors), c.metadata), notes: [] };
    },
  },
  {
    // A LayersModel's model.json (its shards beside it), read by loading the Keras model into our
    // layers; written from a webgpu-rnn checkpoint's config.
    name: 'tfjs',
    extensions: ['.json'],
    detect: looksLikeTfjsModelJson,
    read: (bytes, source) => readTfjsFile(bytes, source, (p) => readFileSync(join(dirname(source), p))),
    write: (c, target) => writeTfjsFile(c, target),
  },
  {
    // Before pytorch, which takes any zip: a .keras zip holds config.json and model.weights.h5. Read by
    // loading the Keras model into our layers; written from a webgpu-rnn checkpoint's config.
    name: 'keras',
    extensions: ['.keras'],
    detect: looksLikeKerasFile,
    read: (bytes, source) => readKerasTensorFile(bytes, source),
    write: (c, target) => writeKerasTensorFile(c, target),
  },
  {
    name: 'pytorch',
    extensions: ['.pt', '.pth', '.bin'],
    detect: (b) => looksLikeZip(b) || looksLikePickle(b),
    read: (bytes, source) => decodePyTorch(bytes, source),
    write(c) {
      const dropped = Object.keys(c.metadata);
      const notes = dropped.length ? [`metadata not kept (a .pt state_dict holds tensors only): ${dropped.join(', ')}`] : [];
      return { bytes: encodePyTorch(c.tensors), notes };
    },
  },
  {
    // Read through importOnnx's graph matcher (layers and PyTorch-named parameters); written from a
    // webgpu-rnn checkpoint's layer config with exportOnnx's graph.
    name: 'onnx',
    extensions: ['.onnx'],
    detect: looksLikeOnnx,
    read: (bytes, source) => readOnnxFile(bytes, source),
    write: (c, target) => writeOnnxFile(c, target),
  },
];

/** The format whose extension `path` has, or undefined. */
export function formatForPath(path: string): FileFormat | undefined {
  const lower = path.toLowerCase();
  return FORMATS.find((f) => f.extensions.some((e) => lower.endsWith(e)));
}

/** The format `bytes` are in (by content), or undefined. */
export function formatForBytes(bytes: Uint8Array): FileFormat | undefined {
  return FORMATS.find((f) => f.detect(bytes));
}

/** "safetensors (.safetensors), pytorch (.pt, .pth, .bin)" for errors and help. */
export function formatList(can: 'read' | 'write'): string {
  return FORMATS.filter((f) => f[can]).map((f) => `${f.name} (${f.extensions.join(', ')})`).join(', ');
}
