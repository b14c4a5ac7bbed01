// Per-context settings: the choices that used to be process-wide (the recurrent schedule, the
// step-kernel variant, the GEMM variant, the sequence kernels' rows per workgroup and variant). They live on
// the GpuContext (`ctx.settings`, changed with `ctx.configure`), so two models on two contexts in
// one process or page run with different settings side by side. A layer or a kernel call that names
// its own choice (the recurrent `schedule` option, matmul's `variant`, `rowsPerWorkgroup`) wins.
import { closestName, describeValue } from '../nn/options.ts';

/**
 * How the recurrence is recorded: 'step' (one dispatch per timestep), 'sequence' (one dispatch for
 * all timesteps; throws where the cell or size has no sequence kernel on this adapter) or 'auto':
 * the schedule measured fastest for this adapter, cell and (B, T, H) by `tuneSchedule`
 * (`ctx.tuned`) when it has been measured; otherwise sequence where supported on a real GPU
 * (where dispatch latency dominates) and step on CPU drivers (lavapipe/llvmpipe), where bench/
 * measured the step schedule faster (see bench/RESULTS.md).
 */
export type RecurrentSchedule = 'step' | 'sequence' | 'auto';

/**
 * The per-timestep LSTM / GRU / RNN kernels: 'plain' (one thread per (b, j)) or 'blocked' (one
 * thread per block of batch rows and j, so each W_hh weight is loaded once per block). Both give
 * bit-identical results; 'blocked' is faster wherever measured.
 */
export type StepKernelVariant = 'plain' | 'blocked';

/**
 * The sequence kernels: 'streamed' (every step reads W_hh from storage), 'resident' (each
 * invocation keeps its share of W_hh in a private array for all T steps; where it does not fit, the
 * streamed kernel runs), 'subgroup' (W_hh in private arrays split across the lanes of each
 * subgroup, coalesced loads, sums by subgroupAdd; where the adapter lacks 'subgroups' or W_hh does
 * not fit, the resident kernel runs, else the streamed one) or 'auto': the variant `tuneSchedule`
 * measured fastest for the cell and (B, T, H) on this context, else 'streamed'. 'streamed' and
 * 'resident' give the same results (same summation order); 'subgroup' agrees with them to rounding.
 */
export type SequenceVariant = 'streamed' | 'resident' | 'subgroup' | 'auto';

/** GEMM variants: 'register' (vec4 loads, 4×4 register blocks) and 'tiled' (workgroup memory). */
export type MatmulVariant = 'tiled' | 'register';

/** What a context runs when a layer or a call names no choice of its own. */
export interface ContextSettings {
  /** Schedule of every recurrent layer without a `schedule` option. Default 'auto'. */
  recurrentSchedule: RecurrentSchedule;
  /** Per-timestep kernel variant. Default 'blocked'. */
  stepVariant: StepKernelVariant;
  /** GEMM variant of `matmul` calls that name none. Default 'register'. */
  matmulVariant: MatmulVariant;
  /**
   * Batch rows per workgroup of the sequence kernels. 'auto' (default): 1 on a real GPU (most
   * workgroups in flight); on a CPU driver as many as keep ≥ 4 workgroups, so each workgroup reuses
   * the W_hh it reads for several rows. Always capped by the workgroup-memory limit.
   */
  sequenceRows: number | 'auto';
  /** Sequence-kernel variant. Default 'auto'. */
  sequenceVariant: SequenceVariant;
}

export const RECURRENT_SCHEDULES: readonly RecurrentSchedule[] = ['step', 'sequence', 'auto'];
export const STEP_KERNEL_VARIANTS: readonly StepKernelVariant[] = ['plain', 'blocked'];
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tiled', 'register'];
export const SEQUENCE_VARIANTS: readonly SequenceVariant[] = ['streamed', 'resident', 'subgroup', 'auto'];

export const DEFAULT_SETTINGS: Readonly<ContextSettings> = Object.freeze({
  recurrentSchedule: 'auto',
  stepVariant: 'blocked',
  matmulVariant: 'register',
  sequenceRows: 'auto',
  sequenceVariant: 'auto',
});

const KEYS = Object.keys(DEFAULT_SETTINGS) as (keyof ContextSettings)[];

function checkChoice(owner: string, key: string, v: unknown, allowed: readonly string[]): void {
  if (typeof v !== 'string' || !allowed.includes(v)) {
    throw new Error(`${owner}: setting ${key} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(v)}`);
  }
}

/**
 * Checks a partial settings object (every key known, every value allowed) and returns it typed.
 * `owner` names the caller in the message (`configure`, `createContext`).
 */
export function checkSettings(owner: string, s: unknown): Partial<ContextSettings> {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new Error(`${owner}: expected a settings object like { recurrentSchedule: 'step' }, got ${describeValue(s)}`);
  }
  const o = s as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if ((KEYS as string[]).includes(key)) continue;
    const near = closestName(key, KEYS);
    throw new Error(`${owner}: unknown setting ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}; the settings are ${KEYS.join(', ')}`);
  }
  if (o.recurrentSchedule !== undefined) checkChoice(owner, 'recurrentSchedule', o.recurrentSchedule, RECURRENT_SCHEDULES);
  if (o.stepVariant !== undefined) checkChoice(owner, 'stepVariant', o.stepVariant, STEP_KERNEL_VARIANTS);
  if (o.matmulVariant !== undefined) checkChoice(owner, 'matmulVariant', o.matmulVariant, MATMUL_VARIANTS);
  if (o.sequenceVariant !== undefined) checkChoice(owner, 'sequenceVariant', o.sequenceVariant, SEQUENCE_VARIANTS);
  const rows = o.sequenceRows;
  if (rows !== undefined && rows !== 'auto' && !(typeof rows === 'number' && Number.isInteger(rows) && rows >= 1 && rows <= 1024)) {
    throw new Error(`${owner}: setting sequenceRows must be 'auto' or an integer in [1, 1024], got ${describeValue(rows)}`);
  }
  return o as Partial<ContextSettings>;
}
