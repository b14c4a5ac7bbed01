// Helpers for turning element counts into dispatch sizes.

/**
 * Workgroup counts for `n` threads in 1-D groups of `wg`, folded into y when x would exceed
 * `maxPerDim` (shaders recover the flat index as gid.x + gid.y * num_workgroups.x * WG).
 */
export function grid1d(n: number, wg: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
