// Small SVG line charts for loss curves and predictions (a picture beats a column of numbers).
import { writeFileSync } from 'node:fs';

export interface Series {
  name: string;
  y: ArrayLike<number>;
  x?: ArrayLike<number>;
  color?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Writes an SVG line chart with axes, ticks, a title and a legend. */
export function lineChart(path: string, o: { title: string; xLabel: string; yLabel: string; series: Series[]; width?: number; height?: number }): void {
  const W = o.width ?? 720, H = o.height ?? 400, L = 70, R = 20, T = 40, Bm = 50;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (const s of o.series) {
    for (let i = 0; i < s.y.length; i++) {
      const x = s.x ? s.x[i] : i, y = s.y[i];
      if (!Number.isFinite(y)) continue;
      xmin = Math.min(xmin, x); xmax = Math.max(xmax, x); ymin = Math.min(ymin, y); ymax = Math.max(ymax, y);
    }
  }
  if (!Number.isFinite(xmin)) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }
  if (xmax === xmin) xmax = xmin + 1;
  if (ymax === ymin) { ymax += 0.5; ymin -= 0.5; }
  const pad = (ymax - ymin) * 0.05; ymin -= pad; ymax += pad;
  const sx = (x: number) => L + ((x - xmin) / (xmax - xmin)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - ymin) / (ymax - ymin)) * (H - T - Bm);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  for (const t of niceTicks(ymin, ymax)) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(xmin, xmax)) parts.push(`<text x="${sx(t)}" y="${H - Bm + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - Bm}" stroke="black"/><line x1="${L}" x2="${W - R}" y1="${H - Bm}" y2="${H - Bm}" stroke="black"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text x="16" y="${(T + H - Bm) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - Bm) / 2})">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length];
    const pts: string[] = [];
    for (let i = 0; i < s.y.length; i++) if (Number.isFinite(s.y[i])) pts.push(`${sx(s.x ? s.x[i] : i).toFixed(1)},${sy(s.y[i]).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${pts.join(' ')}"/>`);
    parts.push(`<rect x="${W - R - 150}" y="${T + 6 + k * 18}" width="12" height="3" fill="${color}"/><text x="${W - R - 132}" y="${T + 11 + k * 18}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  writeFileSync(path, `${parts.join('\n')}\n`);
}
