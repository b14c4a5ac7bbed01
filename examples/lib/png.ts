// A grid of grayscale images as a PNG (pngjs does the encoding): rows × columns of equal-sized
// cells, values in [0, 1] (clamped; NaN draws as a dark red "unknown"), scaled up by `scale`
// pixels per value, separated by a white gutter, with an optional coloured line under a cell row.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

export interface GrayImage {
  width: number;
  height: number;
  /** (height, width) values in [0, 1]. */
  data: ArrayLike<number>;
}

export function writeImageGrid(path: string, grid: GrayImage[][], o: { scale?: number; gutter?: number; markRow?: number } = {}): void {
  const s = o.scale ?? 3, g = o.gutter ?? 4;
  const cw = Math.max(...grid.flat().map((c) => c.width)), ch = Math.max(...grid.flat().map((c) => c.height));
  const cols = Math.max(...grid.map((r) => r.length)), rows = grid.length;
  const png = new PNG({ width: g + cols * (cw * s + g), height: g + rows * (ch * s + g) });
  png.data.fill(255);
  grid.forEach((row, r) => row.forEach((img, c) => {
    const x0 = g + c * (cw * s + g), y0 = g + r * (ch * s + g);
    for (let y = 0; y < img.height * s; y++) {
      for (let x = 0; x < img.width * s; x++) {
        const v = img.data[Math.floor(y / s) * img.width + Math.floor(x / s)];
        const at = ((y0 + y) * png.width + x0 + x) * 4;
        const mark = o.markRow !== undefined && Math.floor(y / s) === o.markRow && y % s === 0 && c > 0;
        const rgb = mark ? [220, 40, 40] : Number.isNaN(v) ? [60, 20, 20] : Array(3).fill(Math.round(255 * Math.min(1, Math.max(0, v))));
        png.data[at] = rgb[0]; png.data[at + 1] = rgb[1]; png.data[at + 2] = rgb[2]; png.data[at + 3] = 255;
      }
    }
  }));
  writeFileSync(path, PNG.sync.write(png));
}
