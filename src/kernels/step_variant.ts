// Which per-timestep kernels the LSTM / GRU / RNN step wrappers record (src/kernels/{lstm,gru,rnn}.ts):
//   'plain'    one thread per (b, j): each thread reads its own W_hh rows for one batch row, so
//              W_hh is read B times per step.
//   'blocked'  one thread per (block of STEP_BLOCK_ROWS batch rows, j): each W_hh weight is loaded
//              once per block and multiplied into STEP_BLOCK_ROWS accumulators per gate.
// Both give bit-identical results (every sum runs in the same order); only the speed differs. The
// setting is read when a wrapper records its dispatches, so it applies to work recorded after the
// call. Default: 'blocked'. bench/step_kernels.ts on lavapipe (2 shared cores, load ~17-22),
// plain / blocked wall time of the whole forward, backward: LSTM 2.6x, 1.6x at B=64 T=100 H=128 and
// 2.8x, 1.65x at B=16 T=50; GRU 2.7x, 4.2x and 2.1x, 1.6x; RNN 1.3x, 1.9x and 1.2x, 1.06x; at
// B = 1..3 the two are within noise (the step time is then dominated by dispatch overhead).

export type StepKernelVariant = 'plain' | 'blocked';

/** Batch rows per thread in the blocked kernels (the WGSL override R; 1..4). */
export const STEP_BLOCK_ROWS = 4;

let current: StepKernelVariant = 'blocked';

/** Selects the step-kernel variant for every LSTM / GRU / RNN step wrapper recorded from now on. */
export function setStepKernelVariant(v: StepKernelVariant): void {
  if (v !== 'plain' && v !== 'blocked') {
    throw new Error(`setStepKernelVariant: variant must be 'plain' or 'blocked', got ${JSON.stringify(v)}`);
  }
  current = v;
}

/** The step-kernel variant the wrappers record now. */
export function getStepKernelVariant(): StepKernelVariant {
  return current;
}

/** Runs `fn` with the variant set to `v`, restoring the previous setting afterwards (also on throw). */
export function withStepKernelVariant<T>(v: StepKernelVariant, fn: () => T): T {
  const prev = current;
  setStepKernelVariant(v);
  try {
    return fn();
  } finally {
    current = prev;
  }
}
