#!/usr/bin/env node
// The `webgpu-rnn` command (package.json "bin"):
//   webgpu-rnn inspect FILE [--json]        format, layers, tensors (name, shape, dtype), metadata
//   webgpu-rnn convert IN OUT [--strip P] [--add P]
//                                           between the formats in formats.ts, by OUT's extension
// Needs no GPU. Errors go to stderr as one line naming the file and what was expected; the exit
// status is 1 for a bad file, 2 for a bad command line.

import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../train/files.ts';
import { describePyTorchStateDict, type PyTorchLayerSpec } from '../interop/pytorch.ts';
import { mapNames, nameMapper } from '../interop/names.ts';
import { formatForBytes, formatForPath, formatList, type FileFormat, type TensorFileContents, type WriteResult } from './formats.ts';

const USAGE = `usage:
  webgpu-rnn inspect FILE [--json]
      the file's format, layers (from a webgpu-rnn checkpoint's config, or inferred from PyTorch
      names), every tensor's name, shape and dtype, and its metadata
  webgpu-rnn convert IN OUT [--strip PREFIX] [--add PREFIX]
      writes IN's tensors to OUT in the format of OUT's extension; --strip/--add rename them
formats read: ${formatList('read')}
formats written: ${formatList('write')}`;

/** A user error: printed without a stack, exit status `code`. */
class CliError extends Error {
  constructor(message: string, readonly code = 1) { super(message); }
}

function readInput(path: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`${path}: is a directory, expected a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${(e as Error).message})`}`);
  }
  if (size === 0) throw new CliError(`${path}: is empty (0 bytes); expected a model file (${formatList('read')})`);
  return readFileSync(path);
}

async function load(path: string): Promise<{ format: FileFormat; contents: TensorFileContents }> {
  const bytes = readInput(path);
  const format = formatForBytes(bytes) ?? formatForPath(path);
  if (!format?.read) throw new CliError(`${path}: not a file this command reads; it reads ${formatList('read')}`);
  try {
    return { format, contents: await format.read(bytes, path) };
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** Layers as a webgpu-rnn checkpoint's config lists them, or inferred from PyTorch names; a line of text. */
function layersOf(c: TensorFileContents): { source: string; layers: string[] } | { source: string; error: string } {
  if (c.metadata.config) {
    try {
      const config = JSON.parse(c.metadata.config) as { layers: Record<string, unknown>[] };
      return { source: 'webgpu-rnn config', layers: config.layers.map(({ type, name, ...rest }) => `${type} "${name}" ${JSON.stringify(rest)}`) };
    } catch (e) {
      return { source: 'webgpu-rnn config', error: `the config metadata is not valid JSON (${(e as Error).message})` };
    }
  }
  try {
    const specs = describePyTorchStateDict(c.tensors, 'the file');
    return { source: 'inferred from PyTorch names and shapes', layers: specs.map(describeSpec) };
  } catch (e) {
    return { source: 'inferred from PyTorch names and shapes', error: (e as Error).message.replace(/^the file: /, '') };
  }
}

function describeSpec(s: PyTorchLayerSpec): string {
  const [kind, path] = Object.entries(s)[0] as [string, string];
  const module = { embedding: 'nn.Embedding', linear: 'nn.Linear', lstm: 'nn.LSTM', gru: 'nn.GRU', rnn: 'nn.RNN' }[kind] ?? kind;
  return `${module} ${JSON.stringify(path)}${'bidirectional' in s && s.bidirectional ? ' (bidirectional)' : ''}`;
}

async function inspect(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const files = args.filter((a) => a !== '--json');
  if (files.length !== 1 || files[0].startsWith('-')) throw new CliError(`inspect takes one FILE (and --json), got ${args.length ? args.join(' ') : 'nothing'}\n${USAGE}`, 2);
  const path = files[0];
  const { format, contents } = await load(path);
  const layers = layersOf(contents);
  const tensors = [...contents.tensors].map(([name, t]) => ({ name, shape: t.shape, dtype: contents.dtypes.get(name) ?? t.dtype }));
  if (json) {
    console.log(JSON.stringify({ file: path, format: format.name, layers, tensors, metadata: contents.metadata }, null, 2));
    return;
  }
  const values = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const lines = [`file: ${path}`, `format: ${format.name}${contents.metadata.format ? ` (${contents.metadata.format})` : ''}`];
  if ('layers' in layers) lines.push(`layers (${layers.source}):`, ...layers.layers.map((l) => `  ${l}`));
  else lines.push(`layers: not known (${layers.error})`);
  lines.push(`tensors: ${tensors.length}, ${values} values`);
  const width = Math.max(4, ...tensors.map((t) => t.name.length));
  for (const t of tensors) lines.push(`  ${t.name.padEnd(width)}  (${t.shape.join(', ')})  ${t.dtype}`);
  const meta = Object.entries(contents.metadata).filter(([k]) => k !== 'config');
  if (meta.length) lines.push('metadata:', ...meta.map(([k, v]) => `  ${k}: ${v.length > 120 ? `${v.slice(0, 117)}...` : v}`));
  console.log(lines.join('\n'));
}

async function convert(args: string[]): Promise<void> {
  const files: string[] = [];
  const prefix: { strip?: string; add?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--strip' || a === '--add') {
      const v = args[++i];
      if (v === undefined) throw new CliError(`convert: ${a} needs a PREFIX, e.g. ${a} model.`, 2);
      prefix[a === '--strip' ? 'strip' : 'add'] = v;
    } else if (a.startsWith('-')) throw new CliError(`convert: unknown option ${a}; the options are --strip PREFIX and --add PREFIX\n${USAGE}`, 2);
    else files.push(a);
  }
  if (files.length !== 2) throw new CliError(`convert takes IN and OUT, got ${files.length} file name(s)\n${USAGE}`, 2);
  const [input, output] = files;
  if (resolve(input) === resolve(output)) throw new CliError(`convert: IN and OUT are the same file (${input}); write to another path`, 2);
  const target = formatForPath(output);
  if (!target?.write) throw new CliError(`${output}: cannot tell which format to write from its name; use an extension of a format this command writes: ${formatList('write')}`, 2);
  const { format, contents } = await load(input);
  if (format === target && !prefix.strip && !prefix.add) throw new CliError(`convert: ${input} is already ${format.name}; nothing to convert (use --strip/--add to rename)`, 2);
  let tensors = contents.tensors;
  const map = nameMapper('convert', { prefix });
  if (map) tensors = mapNames(`convert ${input}`, tensors, map).mapped;
  const dtypes = new Map([...tensors.keys()].map((k, i) => [k, [...contents.dtypes.values()][i]]));
  let result: WriteResult;
  try {
    result = await target.write({ ...contents, tensors, dtypes }, output);
  } catch (e) {
    throw new CliError(`${output}: ${(e as Error).message}`);
  }
  try {
    for (const f of result.files ?? []) writeFileAtomic(join(dirname(output), f.name), f.bytes); // beside OUT, before it
    writeFileAtomic(output, result.bytes);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const converted = [...contents.dtypes.values()].filter((d) => !['F32', 'I32'].includes(d));
  const notes = [...result.notes];
  if (converted.length) notes.push(`${converted.length} tensor(s) converted to f32/i32 (${[...new Set(converted)].join(', ')} in ${input})`);
  console.log(`${input} (${format.name}) → ${output} (${target.name}): ${tensors.size} tensors${notes.map((n) => `\n  note: ${n}`).join('')}`);
}

/** Runs the command line `argv` (without node and the script); returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'inspect') await inspect(rest);
    else if (command === 'convert') await convert(rest);
    else if (command === undefined || command === '--help' || command === '-h' || command === 'help') { console.log(USAGE); return command === undefined ? 2 : 0; }
    else throw new CliError(`unknown command ${JSON.stringify(command)}; the commands are inspect and convert\n${USAGE}`, 2);
    return 0;
  } catch (e) {
    if (e instanceof CliError) { console.error(`webgpu-rnn: ${e.message}`); return e.code; }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
