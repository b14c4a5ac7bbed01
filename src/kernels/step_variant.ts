// Which per-timestep kernels the LSTM / GRU / RNN step wrappers record (src/kernels/{lstm,gru,rnn}.ts):
// one kernel per cell (shaders/recurrent/step.wgsl), with the batch rows per invocation as the
// override R:
//   'plain'    R = 1: one invocation per (b, j), each reading its own W_hh rows for one batch row,
//              so W_hh is read B times per step.
//   'blocked'  R = STEP_BLOCK_ROWS: one invocation per (block of rows, j); each W_hh weight is
//              loaded once per block and multiplied into one accumulator lane per row.
// Both give bit-identical results (every sum runs in the same order); only the speed differs. The
// variant is the context's setting (`ctx.configure({ stepVariant })`), read when a wrapper records
// its dispatches. Default: 'blocked', faster wherever measured: bench/step_kernels.ts on lavapipe
// (2 shared cores), plain / blocked wall time of the whole forward, backward: LSTM 2.6x, 1.6x at
// B=64 T=100 H=128 and 2.8x, 1.65x at B=16 T=50; GRU 2.7x, 4.2x and 2.1x, 1.6x; RNN 1.3x, 1.9x and
// 1.2x, 1.06x (measured when 'plain' was a kernel of its own; as R = 1 of the shared kernel it
// keeps one row's gates in the vector lanes, and bench/baseline.ts measures it against that old kernel).
import type { GpuContext } from '../runtime/context.ts';
import type { StepKernelVariant } from '../runtime/settings.ts';

export type { StepKernelVariant } from '../runtime/settings.ts';

/** Batch rows per thread in the blocked kernels (the WGSL override R; 1..4). */
export const STEP_BLOCK_ROWS = 4;

/** The step-kernel variant the wrappers record on this context now. */
export function stepKernelVariant(ctx: GpuContext): StepKernelVariant {
  return ctx.settings.stepVariant;
}
