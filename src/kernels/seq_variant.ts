// Which sequence kernel the *_seq.ts wrappers record: 'streamed' (recurrent/sequence.wgsl: every
// step reads the W_hh rows it needs from storage), 'resident' (recurrent/resident.wgsl: each
// invocation copies its share of W_hh into a private array once per dispatch and keeps it for all
// T steps) or 'subgroup' (recurrent/subgroup.wgsl: W_hh in private arrays too, split along the
// summed index across the lanes of a subgroup, loaded with coalesced reads and summed with
// subgroupAdd; needs the WebGPU feature 'subgroups'). The first two have the same summation order
// and the same results; 'subgroup' sums in another order, so it agrees with them to rounding.
// The variant comes from the call (`variant`), else the context's `sequenceVariant` setting, where
// 'auto' means the variant tuneSchedule measured faster for the cell and (B, T, H) on this context
// (recorded in `ctx.tuned`, exported and imported with it), else 'streamed'. A resident kernel needs its W_hh share to fit the private
// array, of a compile-time size: 160 or 512 values per invocation (two modules; the smaller
// compiles much faster and uses fewer registers); where it does not fit, a setting falls back to
// the streamed kernel and an explicit `variant: 'resident'` throws. The subgroup kernel uses the same
// buckets; where the adapter lacks 'subgroups' or W_hh does not fit, a setting falls back to the
// resident kernel (where it fits, else the streamed one) and an explicit `variant: 'subgroup'` throws.
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

/** Workgroup words of the subgroup kernels besides the resident kernels' RB·(H + G) floats: the
 *  subgroup size and the counter that numbers the subgroups. */
export const SUBGROUP_WORDS = 2;

/** The subgroup sizes the adapter may use, powers of two from its subgroupMinSize to its
 *  subgroupMaxSize (4 to 128, WebGPU's bounds, where the adapter does not say); null without the
 *  'subgroups' feature. */
export function subgroupSizes(ctx: GpuContext): number[] | null {
  if (!ctx.features.has('subgroups')) return null;
  const info = ctx.adapter?.info as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
  const lo = info?.subgroupMinSize || 4, hi = info?.subgroupMaxSize || 128;
  const sizes: number[] = [];
  for (let s = 4; s <= 128; s *= 2) if (s >= lo && s <= hi) sizes.push(s);
  return sizes;
}

/** Invocations per workgroup of a subgroup kernel: a multiple of the largest subgroup size (so
 *  every subgroup is full), enough for G = NG·H rows and RB·H elements, at most 256; null where the
 *  largest subgroup does not fit a workgroup. */
export function subgroupWorkgroupSize(ctx: GpuContext, sizes: readonly number[], NG: number, H: number, RB: number): number | null {
  const maxS = sizes[sizes.length - 1];
  const cap = Math.floor(Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup) / maxS) * maxS;
  if (cap < maxS) return null;
  return Math.min(cap, Math.ceil(Math.max(NG * H, RB * H) / maxS) * maxS);
}

/** W_hh values per invocation of a subgroup kernel with WG invocations in subgroups of S lanes:
 *  forward ceil(G/NS) rows × ceil(H/S) columns, backward ceil(H/NS) columns × ceil(G/S) rows. */
export function subgroupShare(NG: number, H: number, WG: number, S: number): number {
  const G = NG * H, NS = WG / S;
  return Math.max(Math.ceil(G / NS) * Math.ceil(H / S), Math.ceil(H / NS) * Math.ceil(G / S));
}

/** The subgroup kernel's launch for a cell with NG gates at hidden size H and RB rows per
 *  workgroup: its workgroup size and private-array bucket (for every subgroup size the adapter may
 *  use), or why it cannot run here. */
export function subgroupLaunch(ctx: GpuContext, NG: number, H: number, RB: number): { WG: number; wmax: number } | { why: string } {
  const sizes = subgroupSizes(ctx);
  if (!sizes) return { why: `this adapter lacks the WebGPU feature 'subgroups' (${ctx.describe()})` };
  const WG = subgroupWorkgroupSize(ctx, sizes, NG, H, RB);
  if (!WG) return { why: `its largest subgroup (${sizes[sizes.length - 1]} lanes) exceeds the ${ctx.limits.maxComputeInvocationsPerWorkgroup} invocations of a workgroup` };
  const need = Math.max(...sizes.map((S) => subgroupShare(NG, H, WG, S)));
  const wmax = RESIDENT_WMAX_BUCKETS.find((w) => need <= w);
  if (!wmax) return { why: `each of ${WG} invocations would hold ${need} weights (subgroups of ${sizes.join(', ')} lanes), expected at most ${RESIDENT_WMAX}` };
  const bytes = 4 * (RB * (H + NG * H) + SUBGROUP_WORDS);
  if (bytes > ctx.limits.maxComputeWorkgroupStorageSize) return { why: `a workgroup needs ${bytes} bytes of workgroup memory, more than maxComputeWorkgroupStorageSize (${ctx.limits.maxComputeWorkgroupStorageSize})` };
  return { WG, wmax };
}

/** Whether the subgroup kernels can run a cell with NG gates at hidden size H on this adapter
 *  (one row per workgroup). */
export function subgroupSupported(ctx: GpuContext, NG: number, H: number): boolean {
  return 'WG' in subgroupLaunch(ctx, NG, H, 1);
}

/** The variant wanted for a call: its own, else the context's setting resolved as above. Whether
 *  it fits is the caller's check. */
export function wantedVariant(ctx: GpuContext, cell: string, d: ScheduleDims, own: SequenceVariant | undefined): Exclude<SequenceVariant, 'auto'> {
  const v = own ?? ctx.settings.sequenceVariant;
  if (v === 'auto') return ctx.tuned.getVariant(cell, d) ?? 'streamed';
  return v;
}
