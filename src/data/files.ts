// Node-only readers for the data loaders: clear errors naming the file, never a stack trace.
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export function readBytes(path: string): Uint8Array {
  let st;
  try { st = statSync(path); } catch { throw new Error(`${path}: no such file`); }
  if (st.isDirectory()) throw new Error(`${path}: is a directory, expected a file`);
  return new Uint8Array(readFileSync(path));
}

/** Reads a UTF-8 text file (transparently gunzipping *.gz); refuses an empty file. */
export function readText(path: string): string {
  let bytes = readBytes(path);
  if (path.endsWith('.gz')) {
    try { bytes = new Uint8Array(gunzipSync(bytes)); } catch (e) { throw new Error(`${path}: not a valid gzip file (${(e as Error).message})`); }
  }
  const text = new TextDecoder('utf-8').decode(bytes);
  if (text.length === 0) throw new Error(`${path}: the file is empty`);
  return text;
}
