// Node-only file helpers for checkpoints: atomic writes (temp file in the same folder, fsync,
// rename), so a crash or a failed run never leaves a half-written checkpoint in place, and a
// failed write (a directory in the way, no permission, a full disk) leaves no temp file behind.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** A readable reason for a file-system error code. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EISDIR': return 'it is a directory, expected a file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'a component of the path is a file, not a folder';
    case 'ENOSPC': return 'no space left on the device';
    case 'EROFS': return 'the file system is read-only';
    case 'ENOENT': return 'no such file or folder';
    default: return err.message ?? String(e);
  }
}

/** Throws unless `path` can be a file target: not a directory (a missing file is fine). */
function checkTarget(path: string): void {
  if (typeof path !== 'string' || path.length === 0) throw new Error(`save: the path must be a non-empty string, got ${typeof path === 'string' ? 'the empty string' : typeof path}`);
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* missing: created by the rename */ }
  if (isDir) throw new Error(`${path}: cannot be written: it is a directory, expected a file path (e.g. ${join(path, 'model.safetensors')})`);
}

/**
 * Writes several files so that each is replaced atomically and a failure leaves every target as
 * it was and no temp file behind: every target is checked, then every temp file is written and
 * fsynced, then they are renamed in order (Node only). Missing parent folders are created.
 */
export function writeFilesAtomic(files: { path: string; data: Uint8Array }[]): void {
  for (const f of files) checkTarget(f.path);
  const temps: string[] = [];
  const removeTemps = () => { for (const t of temps) { try { unlinkSync(t); } catch { /* already renamed or gone */ } } };
  let current = '';
  try {
    for (const { path, data } of files) {
      current = path;
      try { mkdirSync(dirname(path) || '.', { recursive: true }); } catch (e) { throw new Error(`${path}: cannot create its folder ${dirname(path)}: ${reason(e)}`); }
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
      let fd: number;
      try { fd = openSync(tmp, 'w'); } catch (e) { throw new Error(`${path}: cannot be written (a temp file in ${dirname(path) || '.'}): ${reason(e)}`); }
      temps.push(tmp);
      try {
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } catch (e) {
        throw new Error(`${path}: writing failed: ${reason(e)}`);
      } finally {
        closeSync(fd);
      }
    }
    for (let i = 0; i < files.length; i++) {
      current = files[i].path;
      try { renameSync(temps[i], files[i].path); } catch (e) { throw new Error(`${files[i].path}: cannot be replaced: ${reason(e)}`); }
    }
  } catch (e) {
    removeTemps();
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(current) ? msg : `${current}: ${msg}`);
  }
}

/** Writes `data` to `path` atomically: a temp file in the same folder, fsync, then rename (Node only). */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  writeFilesAtomic([{ path, data }]);
}

/** Reads a whole file as bytes; a missing, unreadable or directory path throws an error naming the path (Node only). */
export function readFileBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path}: no such file`);
    if (code === 'EISDIR') throw new Error(`${path}: is a directory, expected a file`);
    throw new Error(`${path}: cannot be read (${reason(e)})`);
  }
}
