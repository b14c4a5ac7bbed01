// A progress bar for training: on a TTY one line redrawn in place (bar, loss, tokens/s, ETA); when
// output is not a TTY (CI logs, pipes), plain log lines at most every `logEverySeconds`.

export interface ProgressOptions {
  /** Total steps of this epoch (for the bar and the ETA). */
  total: number;
  label?: string;
  /** Where to write; default process.stdout in Node, console.log elsewhere. */
  stream?: { isTTY?: boolean; write(s: string): unknown };
  logEverySeconds?: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function defaultStream(): { isTTY?: boolean; write(s: string): unknown } {
  const p = (globalThis as { process?: { stdout?: { isTTY?: boolean; write(s: string): unknown } } }).process;
  if (p?.stdout) return p.stdout;
  return { isTTY: false, write: (s: string) => console.log(s.replace(/\n$/, '')) };
}

export class ProgressBar {
  private start = Date.now();
  private lastLog = 0;
  private stream: { isTTY?: boolean; write(s: string): unknown };
  private tokens = 0;

  constructor(private o: ProgressOptions) {
    this.stream = o.stream ?? defaultStream();
  }

  /** Step `done` of `total` finished, `tokens` processed in it; `metrics` shown (e.g. loss). */
  update(done: number, tokens: number, metrics: Record<string, number | undefined> = {}): void {
    this.tokens += tokens;
    const now = Date.now();
    const elapsed = (now - this.start) / 1000;
    const rate = this.tokens / Math.max(elapsed, 1e-9);
    const eta = done > 0 ? (elapsed / done) * (this.o.total - done) : Infinity;
    const m = Object.entries(metrics).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join('  ');
    const label = this.o.label ? `${this.o.label} ` : '';
    if (this.stream.isTTY) {
      const width = 24, fill = Math.round((done / Math.max(this.o.total, 1)) * width);
      const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
      this.stream.write(`\r${label}${bar} ${done}/${this.o.total}  ${m}  ${rate.toFixed(0)} tok/s  ETA ${fmtTime(eta)}   `);
      if (done >= this.o.total) this.stream.write('\n');
    } else if (done >= this.o.total || now - this.lastLog >= (this.o.logEverySeconds ?? 10) * 1000) {
      this.lastLog = now;
      this.stream.write(`${label}step ${done}/${this.o.total}  ${m}  ${rate.toFixed(0)} tok/s  elapsed ${fmtTime(elapsed)}  ETA ${fmtTime(eta)}\n`);
    }
  }
}
