// The training-loss chart: every step's loss (faint, it is noisy with random batches), its
// exponential moving average (the trend to read), and an optional dashed reference line such as
// the loss of the checkpoint trained in Node.
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend, type Plugin } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip, Legend);

/** Weight of the past in the moving average (TensorBoard's "smoothing" of 0.9). */
const SMOOTHING = 0.9;

interface Point { x: number; y: number }
interface Reference { value: number; label: string }

/** Draws the reference as a dashed horizontal line across the plot, labelled at its right end. */
const referenceLine = (get: () => Reference | null): Plugin<'line'> => ({
  id: 'referenceLine',
  afterDatasetsDraw(chart) {
    const ref = get();
    const y = chart.scales.y;
    if (!ref || ref.value < y.min || ref.value > y.max) return;
    const py = y.getPixelForValue(ref.value);
    const { left, right } = chart.chartArea;
    const c = chart.ctx;
    c.save();
    c.strokeStyle = '#b45309';
    c.setLineDash([6, 4]);
    c.beginPath();
    c.moveTo(left, py);
    c.lineTo(right, py);
    c.stroke();
    c.fillStyle = '#b45309';
    c.font = '12px system-ui, sans-serif';
    c.textAlign = 'right';
    c.fillText(ref.label, right - 4, py - 5);
    c.restore();
  },
});

export class LossChart {
  /** Every step's loss, as plotted. */
  readonly raw: Point[] = [];
  /** The moving average of `raw`, bias-corrected so that it starts at the first loss. */
  readonly smoothed: Point[] = [];
  private reference: Reference | null = null;
  private average = 0;
  private chart: Chart<'line', Point[]>;
  private lastDraw = 0;

  /** `yLabel` names the loss on the y axis (the char-RNN's default: nats per character). */
  constructor(canvas: HTMLCanvasElement, yLabel = 'loss (nats per character)') {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          { label: 'loss per step', data: this.raw, borderColor: 'rgba(37, 99, 235, 0.25)', borderWidth: 1, pointRadius: 0 },
          { label: 'smoothed', data: this.smoothed, borderColor: '#1d4ed8', borderWidth: 2, pointRadius: 0 },
        ],
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        scales: {
          x: { type: 'linear', min: 0, suggestedMax: 100, title: { display: true, text: 'step' } },
          y: { type: 'linear', title: { display: true, text: yLabel } },
        },
        plugins: { tooltip: { enabled: true }, legend: { display: true, labels: { boxHeight: 2 } } },
      },
      plugins: [referenceLine(() => this.reference)],
    });
  }

  add(step: number, loss: number): void {
    this.raw.push({ x: step, y: loss });
    this.average = SMOOTHING * this.average + (1 - SMOOTHING) * loss;
    this.smoothed.push({ x: step, y: this.average / (1 - SMOOTHING ** this.raw.length) });
    this.draw();
  }

  /** The latest smoothed loss, or null before the first step. */
  get latestSmoothed(): number | null {
    return this.smoothed.length ? this.smoothed[this.smoothed.length - 1].y : null;
  }

  /** A dashed line at `value` (kept in view, also before the first step), or none. */
  setReference(value: number | null, label = ''): void {
    this.reference = value === null ? null : { value, label };
    const y = this.chart.options.scales!.y!;
    y.suggestedMin = value === null ? undefined : value - 0.25;
    y.suggestedMax = value === null ? undefined : value + 2;
    this.draw(true);
  }

  clear(): void {
    this.raw.length = 0;
    this.smoothed.length = 0;
    this.average = 0;
    this.draw(true);
  }

  /** Redraws at most five times a second unless forced: drawing is not free while training. */
  draw(force = false): void {
    const now = performance.now();
    if (force || now - this.lastDraw > 200) { this.chart.update('none'); this.lastDraw = now; }
  }
}
