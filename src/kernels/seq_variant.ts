// Which sequence kernel the *_seq.ts wrappers record: 'streamed' (recurrent/sequence.wgsl: every
// step reads the W_hh rows it needs from storage) or 'resident' (recurrent/resident.wgsl: each
// invocation copies its share of W_hh into a private array once per dispatch and keeps it for all
// T steps). Same bindings, same summation order, same results; only the memory traffic differs.
// The variant comes from the call (`variant`), else the context's `sequenceVariant` setting, where
// 'auto' means the variant tuneSchedule measured faster for the cell and (B, T, H) on this context
// (recorded in `ctx.tuned`, exported and imported with it), else 'streamed'. A resident kernel needs its W_hh share to fit the private
// array, of a compile-time size: 160 or 512 values per invocation (two modules; the smaller
// compiles much faster and uses fewer registers); where it does not fit, a setting falls back to
// the streamed kernel and an explicit `variant: 'resident'` throws.
import type { GpuContext } from '../runtime/context.ts';
import type { SequenceVariant } from '../runtime/settings.ts';
import type { ScheduleDims } from '../runtime/tuned.ts';

export type { SequenceVariant } from '../runtime/settings.ts';

/** Private-array sizes of the resident kernels (recurrent/wmax_*.wgsl), smallest first. */
export const RESIDENT_WMAX_BUCKETS = [160, 512] as const;

/** Values of W_hh each invocation of a resident kernel can hold at most. */
export const RESIDENT_WMAX = 512;

/** Invocations per workgroup of a resident kernel for G = NG·H gate rows and RB·H elements. */
export function residentWorkgroupSize(ctx: GpuContext, NG: number, H: number, RB: number): number {
  const maxInv = Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup);
  return Math.min(maxInv, Math.ceil(Math.max(NG * H, RB * H) / 32) * 32);
}

/** The smallest private-array size that holds W_hh (NG·H, H) over WG invocations: ceil(G/WG) rows
 *  of H (forward) and ceil(H/WG) columns of G (backward) per invocation; null when none does. */
export function residentBucket(NG: number, H: number, WG: number): number | null {
  const G = NG * H, need = Math.max(Math.ceil(G / WG) * H, Math.ceil(H / WG) * G);
  return RESIDENT_WMAX_BUCKETS.find((w) => need <= w) ?? null;
}

/** Whether the resident kernels can run a cell with NG gates at hidden size H on this adapter
 *  (one row per workgroup: RB·(H + G) floats of workgroup memory). */
export function residentSupported(ctx: GpuContext, NG: number, H: number): boolean {
  const fitsMemory = 4 * (H + NG * H) <= ctx.limits.maxComputeWorkgroupStorageSize;
  return fitsMemory && residentBucket(NG, H, residentWorkgroupSize(ctx, NG, H, 1)) !== null;
}

/** The variant wanted for a call: its own, else the context's setting resolved as above. Whether
 *  it fits is the caller's check. */
export function wantedVariant(ctx: GpuContext, cell: string, d: ScheduleDims, own: SequenceVariant | undefined): 'streamed' | 'resident' {
  const v = own ?? ctx.settings.sequenceVariant;
  if (v === 'auto') return ctx.tuned.getVariant(cell, d) ?? 'streamed';
  return v;
}
