// Measured schedule choices, kept on the context (`ctx.tuned`): `tuneSchedule` records the faster
// schedule per cell and (B, T, H), and the fastest of the sequence kernels ('streamed', 'resident'
// or 'subgroup'); recurrent layers on 'auto' (and the `sequenceVariant` setting 'auto') use them.
// Entries are keyed by the adapter too, so choices exported on one machine and imported on another
// apply only where they were measured. Exported values: 'step' or 'sequence', with '/streamed' or
// '/resident' or '/subgroup' appended when the sequence variant was measured too.

/** The sizes a schedule choice is measured for. */
export interface ScheduleDims { B: number; T: number; H: number }

export type MeasuredSchedule = 'step' | 'sequence';
export type MeasuredVariant = 'streamed' | 'resident' | 'subgroup';

const isSchedule = (v: unknown): v is MeasuredSchedule => v === 'step' || v === 'sequence';
const isVariant = (v: unknown): v is MeasuredVariant => v === 'streamed' || v === 'resident' || v === 'subgroup';
/** An exported value: a schedule, optionally '/variant'. */
const isEntry = (v: unknown): v is string => typeof v === 'string' && isSchedule(v.split('/')[0]) && (v.split('/').length === 1 || (v.split('/').length === 2 && isVariant(v.split('/')[1])));
const isDim = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;

export class TunedSchedules {
  private readonly entries = new Map<string, MeasuredSchedule>();
  private readonly variants = new Map<string, MeasuredVariant>();

  /** `adapter`: the context's adapter line (`ctx.describe()`), the first part of every key. */
  constructor(private readonly adapter: string) {}

  private key(cell: string, d: ScheduleDims): string {
    return `${this.adapter}|${cell}|${d.B}|${d.T}|${d.H}`;
  }

  /** Records the schedule measured fastest for a cell at these sizes ('auto' then uses it). */
  set(cell: string, d: ScheduleDims, s: MeasuredSchedule): void {
    if (!isSchedule(s)) throw new Error(`ctx.tuned.set: schedule must be 'step' or 'sequence', got ${JSON.stringify(s)}`);
    if (![d?.B, d?.T, d?.H].every(isDim)) throw new Error(`ctx.tuned.set: sizes must be positive integers { B, T, H }, got ${JSON.stringify(d)}`);
    this.entries.set(this.key(cell, d), s);
  }

  /** The measured schedule for a cell at these sizes on this adapter, if any. */
  get(cell: string, d: ScheduleDims): MeasuredSchedule | undefined {
    return this.entries.get(this.key(cell, d));
  }

  /** Records the sequence kernel measured fastest for a cell at these sizes (with its schedule). */
  setVariant(cell: string, d: ScheduleDims, v: MeasuredVariant): void {
    if (!isVariant(v)) throw new Error(`ctx.tuned.setVariant: variant must be 'streamed' or 'resident' or 'subgroup', got ${JSON.stringify(v)}`);
    if (![d?.B, d?.T, d?.H].every(isDim)) throw new Error(`ctx.tuned.setVariant: sizes must be positive integers { B, T, H }, got ${JSON.stringify(d)}`);
    this.variants.set(this.key(cell, d), v);
  }

  /** The measured sequence kernel for a cell at these sizes on this adapter, if any. */
  getVariant(cell: string, d: ScheduleDims): MeasuredVariant | undefined {
    return this.variants.get(this.key(cell, d));
  }

  /** Every measured choice as JSON (to persist, e.g. in localStorage or a file). */
  export(): string {
    const out: Record<string, string> = {};
    for (const [k, s] of this.entries) out[k] = this.variants.has(k) ? `${s}/${this.variants.get(k)}` : s;
    return JSON.stringify(out);
  }

  /** Adds the choices of an `export()` (from any adapter); checks every entry before adding any. */
  import(json: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new Error(`ctx.tuned.import: expected the JSON that ctx.tuned.export() writes, got text that does not parse (${(e as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`ctx.tuned.import: expected a JSON object of "adapter|cell|B|T|H": 'step' | 'sequence', got ${Array.isArray(parsed) ? 'an array' : String(parsed)}`);
    }
    const entries = Object.entries(parsed as Record<string, unknown>);
    for (const [k, v] of entries) {
      const parts = k.split('|');
      if (!isEntry(v) || parts.length !== 5 || !parts.slice(2).every((p) => isDim(Number(p)))) {
        throw new Error(`ctx.tuned.import: bad entry ${JSON.stringify(k)}: ${JSON.stringify(v)}; expected "adapter|cell|B|T|H": 'step' or 'sequence', optionally followed by '/streamed' or '/resident' or '/subgroup'`);
      }
    }
    for (const [k, v] of entries) {
      const [schedule, variant] = (v as string).split('/');
      this.entries.set(k, schedule as MeasuredSchedule);
      if (variant) this.variants.set(k, variant as MeasuredVariant);
      else this.variants.delete(k);
    }
  }

  /** Forgets every measured choice. */
  clear(): void {
    this.entries.clear();
    this.variants.clear();
  }

  /** How many choices are recorded (all adapters). */
  get size(): number {
    return this.entries.size;
  }
}
