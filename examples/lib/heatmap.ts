// Attention heat maps as one PNG: for each example a grid of output characters (rows) × source
// characters (columns), each cell shaded by its weight (white 0 … dark blue 1), labelled with the
// characters in a built-in 5 × 7 font. The end token's row is labelled ■.
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from './font5x7.ts';

export interface AttentionMap {
  source: string;
  /** The output characters; `weights` may have one more row, the end token's. */
  output: string;
  /** (rows = output steps, columns = source characters) weights in [0, 1]. */
  weights: number[][];
}

// Glyphs drawn at twice their size.
const CELL = 20, GAP = 24, MARGIN = 10, SCALE = 2;

/** Writes the maps stacked vertically, each with its source along the top and output down the left. */
export function attentionHeatMaps(path: string, maps: readonly AttentionMap[]): void {
  const cols = Math.max(...maps.map((m) => m.source.length));
  const heights = maps.map((m) => (1 + m.weights.length) * CELL);
  const png = new PNG({ width: 2 * MARGIN + (1 + cols) * CELL, height: 2 * MARGIN + heights.reduce((a, h) => a + h, 0) + GAP * (maps.length - 1) });
  png.data.fill(255);
  const put = (x: number, y: number, rgb: readonly number[]) => {
    const at = (y * png.width + x) * 4;
    png.data[at] = rgb[0]; png.data[at + 1] = rgb[1]; png.data[at + 2] = rgb[2]; png.data[at + 3] = 255;
  };
  // A character centred in the cell whose top-left corner is (x0, y0).
  const label = (ch: string, x0: number, y0: number) => {
    const ox = x0 + Math.floor((CELL - SCALE * GLYPH_WIDTH) / 2), oy = y0 + Math.floor((CELL - SCALE * GLYPH_HEIGHT) / 2);
    for (let y = 0; y < SCALE * GLYPH_HEIGHT; y++) {
      for (let x = 0; x < SCALE * GLYPH_WIDTH; x++) if (glyphPixel(ch, Math.floor(x / SCALE), Math.floor(y / SCALE))) put(ox + x, oy + y, [0, 0, 0]);
    }
  };
  let top = MARGIN;
  maps.forEach((m, i) => {
    [...m.source].forEach((ch, c) => label(ch, MARGIN + (1 + c) * CELL, top));
    m.weights.forEach((row, r) => {
      const y0 = top + (1 + r) * CELL;
      label(r < m.output.length ? m.output[r] : '■', MARGIN, y0);
      row.forEach((w, c) => {
        const v = Math.min(1, Math.max(0, Number.isFinite(w) ? w : 0));
        // White to dark blue; a 1-pixel light grid line between cells.
        const rgb = [255 - 235 * v, 255 - 200 * v, 255 - 95 * v].map(Math.round);
        const x0 = MARGIN + (1 + c) * CELL;
        for (let y = 0; y < CELL; y++) for (let x = 0; x < CELL; x++) put(x0 + x, y0 + y, x === 0 || y === 0 ? [225, 225, 225] : rgb);
      });
    });
    top += heights[i] + GAP;
  });
  writeFileSync(path, PNG.sync.write(png));
}
