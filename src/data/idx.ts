// The idx format of MNIST: a big-endian header (magic 0x00000803 for u8 images (n, rows, cols),
// 0x00000801 for u8 labels (n)) followed by the bytes.

export function parseIdxImages(bytes: Uint8Array, source: string): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  if (bytes.length < 16) throw new Error(`${source}: ${bytes.length} bytes, too short for an idx image file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0);
  if (magic !== 0x803) throw new Error(`${source}: magic number 0x${magic.toString(16)}, expected 0x803 (idx u8 images)`);
  const count = dv.getUint32(4), rows = dv.getUint32(8), cols = dv.getUint32(12);
  const need = 16 + count * rows * cols;
  if (bytes.length < need) throw new Error(`${source}: header says ${count} images of ${rows}×${cols} (${need} bytes) but the file has ${bytes.length} (truncated?)`);
  return { count, rows, cols, pixels: bytes.subarray(16, need) };
}

export function parseIdxLabels(bytes: Uint8Array, source: string): Uint8Array {
  if (bytes.length < 8) throw new Error(`${source}: ${bytes.length} bytes, too short for an idx label file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0);
  if (magic !== 0x801) throw new Error(`${source}: magic number 0x${magic.toString(16)}, expected 0x801 (idx u8 labels)`);
  const count = dv.getUint32(4);
  if (bytes.length < 8 + count) throw new Error(`${source}: header says ${count} labels but the file has ${bytes.length - 8} (truncated?)`);
  return bytes.subarray(8, 8 + count);
}
