// A drawing → the 28×28 input MNIST's images are: the digit's bounding box scaled (keeping its
// aspect ratio, anti-aliased) to fit a 20×20 box, then placed in a 28×28 field so that its centre of
// mass is the centre, as LeCun et al. preprocessed the digits. Pixels in [0, 1], ink = 1, row-major:
// row r is the model's timestep r.

export const SIDE = 28;
const BOX = 20;

/** The ink of a canvas (its alpha channel, strokes drawn on a transparent canvas) as 28×28 pixels, or null when it is blank. */
export function digitFromCanvas(canvas: HTMLCanvasElement): Float32Array | null {
  const { width, height } = canvas;
  const ink = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[(y * width + x) * 4 + 3] > 0) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const scale = BOX / Math.max(w, h);
  const sw = Math.max(1, Math.round(w * scale)), sh = Math.max(1, Math.round(h * scale));
  const small = document.createElement('canvas');
  small.width = sw;
  small.height = sh;
  const sctx = small.getContext('2d')!;
  sctx.imageSmoothingEnabled = true;
  sctx.imageSmoothingQuality = 'high';
  sctx.drawImage(canvas, x0, y0, w, h, 0, 0, sw, sh);
  const px = sctx.getImageData(0, 0, sw, sh).data;
  // Centre of mass of the scaled digit, then the integer shift that puts it at (14, 14).
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) { const a = px[(y * sw + x) * 4 + 3] / 255; mass += a; mx += a * x; my += a * y; }
  const ox = Math.round(SIDE / 2 - mx / mass), oy = Math.round(SIDE / 2 - my / mass);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const tx = x + ox, ty = y + oy;
      if (tx >= 0 && tx < SIDE && ty >= 0 && ty < SIDE) out[ty * SIDE + tx] = px[(y * sw + x) * 4 + 3] / 255;
    }
  }
  return out;
}

/** Draws 28×28 pixels in [0, 1] onto a canvas, each pixel a square (ink dark on white). */
export function drawDigit(canvas: HTMLCanvasElement, pixels: Float32Array | null): void {
  const c = canvas.getContext('2d')!;
  const cell = canvas.width / SIDE;
  c.fillStyle = '#fff';
  c.fillRect(0, 0, canvas.width, canvas.height);
  if (!pixels) return;
  for (let i = 0; i < SIDE * SIDE; i++) {
    if (pixels[i] <= 0) continue;
    const v = Math.round(255 * (1 - pixels[i]));
    c.fillStyle = `rgb(${v},${v},${v})`;
    c.fillRect((i % SIDE) * cell, Math.floor(i / SIDE) * cell, Math.ceil(cell), Math.ceil(cell));
  }
}
