// The recurrent kernels' specs: one scaffold per schedule joined with one definition per cell.
//
// A cell's step and sequence kernels are entry points of a module assembled by the registry from
//   recurrent/layout.wgsl   the bindings every cell shares (gx, whh, …, dghh, hn)
//   cells/<cell>.wgsl       the cell's math: forward and backward of one unit from its
//                           pre-activations (also used by recurrent/generate.wgsl)
//   cells/<cell>_storage.wgsl  its own bindings (index 11 up), NG (gates per unit) and the
//                           per-(b, t, j) functions the scaffolds call
//   recurrent/step.wgsl     per-timestep schedule: step_forward, step_backward, backward_initial,
//                           final_state (R batch rows per invocation, an override)
//   recurrent/sequence.wgsl whole-sequence schedule: seq_forward, seq_backward
//   recurrent/resident.wgsl the same with W_hh resident in private arrays of WMAX values per
//                           invocation (recurrent/wmax_160.wgsl or wmax_512.wgsl first): res160_forward,
//                           res160_backward, res512_forward, res512_backward
//   recurrent/subgroup.wgsl W_hh in private arrays split across each subgroup's lanes, sums by
//                           subgroupAdd (subgroups.wgsl opens the module, resident.wgsl precedes
//                           it; feature 'subgroups'): sg160_forward, …, sg512_backward
// Kernel names stay `<cell>_<op>` (lstm_step_forward, gru_seq_backward, …). Each module also comes
// with f16 storage of whh and hs (`<cell>_f16_<op>`, sums in f32): precision/f16.wgsl opens it
// (before common.wgsl) where the f32 module has precision/f32.wgsl. The typed wrappers
// that check tensors and record dispatches are in ./lstm.ts, ./gru.ts, ./rnn.ts (per timestep) and
// ./lstm_seq.ts, ./gru_seq.ts, ./rnn_seq.ts (whole sequence).
import type { GpuContext } from '../runtime/context.ts';
import { moduleFile, type BindingSpec, type KernelSpec } from '../runtime/registry.ts';
import { checkTensor, type Tensor } from '../runtime/tensor.ts';
import { ceilDiv, grid1d } from './grid.ts';
import { checkHalf } from './half.ts';
import { STEP_BLOCK_ROWS, stepKernelVariant } from './step_variant.ts';
import { RESIDENT_WMAX_BUCKETS } from './seq_variant.ts';

export type RecurrentCellName = 'lstm' | 'gru' | 'rnn';

type Kind = BindingSpec['kind'];
const RO: Kind = 'read-only-storage', RW: Kind = 'storage';

/** recurrent/layout.wgsl's bindings: WGSL name → [index, kind]. */
const LAYOUT: Record<string, [number, Kind]> = {
  gx: [0, RO], whh: [1, RO], bhh: [2, RO], h0: [3, RO], lengths: [4, RO], hs: [5, RW], params: [6, 'uniform'],
  dhs: [7, RO], dghh: [8, RW], dh0: [9, RW], hn: [10, RW],
};

/** What a cell's storage file declares and which of the bindings each scaffold entry reaches
 *  through the cell's functions (those the cell uses besides the scaffold's own). */
interface CellLayout {
  bindings: Record<string, [number, Kind]>;
  forward: string[];
  backward: string[];
  initial: string[];
  final: string[];
  overrides?: Record<string, number>;
}

const CELLS: Record<RecurrentCellName, CellLayout> = {
  lstm: {
    bindings: { c0: [11, RO], cs: [12, RW], gates: [13, RW], cn: [14, RW], dhn: [15, RO], dc_carry: [16, RW], dc0: [17, RW], peep: [18, RO] },
    forward: ['c0', 'cs', 'gates', 'peep'], backward: ['c0', 'cs', 'gates', 'dhn', 'dc_carry', 'peep'], initial: ['dc_carry', 'dc0'], final: ['cs', 'cn'],
    overrides: { ACT: 0, RACT: 2, PEEP: 0 },
  },
  gru: {
    bindings: { gates: [11, RW], hn_lin: [12, RW], dgates: [13, RW], dh_carry: [14, RW] },
    forward: ['gates', 'hn_lin'], backward: ['h0', 'hs', 'gates', 'hn_lin', 'dgates', 'dh_carry'], initial: ['dh_carry'], final: [],
    overrides: { ACT: 0, RACT: 2, SPLIT: 3 },
  },
  rnn: {
    bindings: { dhn: [11, RO] },
    forward: [], backward: ['hs', 'dhn'], initial: [], final: [], overrides: { ACT: 0 },
  },
};

/** Suffix of the step kernels built on recurrent/views_vec4.wgsl (whh, hs, dghh read as 4-vectors). */
const VEC4_VIEWS = '_v4';

/** Invocations per workgroup of the step kernels. */
export const STEP_WG = 64;
const fields = [['B', 'u32'], ['T', 'u32'], ['H', 'u32'], ['t', 'u32']] as const;

/** The element type of a recurrent kernel's whh and hs: f32, or f16 storage with f32 sums. */
export type StoragePrecision = 'f32' | 'f16';

/** The step and sequence kernels of a cell at both storage precisions, ready for registerKernels. */
export function recurrentKernels(cell: RecurrentCellName): KernelSpec[] {
  return [...cellKernels(cell, 'f32'), ...cellKernels(cell, 'f16')];
}

function cellKernels(cell: RecurrentCellName, precision: StoragePrecision): KernelSpec[] {
  const c = CELLS[cell];
  const all = { ...LAYOUT, ...c.bindings };
  const bind = (names: string[]): BindingSpec[] =>
    [...new Set(names)].map((name) => ({ name, kind: all[name][1], index: all[name][0] })).sort((a, b) => a.index! - b.index!);
  const cellParts = ['recurrent/layout.wgsl', `cells/${cell}.wgsl`, `cells/${cell}_storage.wgsl`];
  const parts = precision === 'f16' ? ['precision/f16.wgsl', 'common.wgsl', ...cellParts] : ['precision/f32.wgsl', ...cellParts];
  const family = precision === 'f16' ? `${cell}_f16` : cell;
  const features = precision === 'f16' ? { features: ['shader-f16'] } : {};
  const scalar = [...parts, 'recurrent/views_scalar.wgsl'];
  const step = moduleFile(...scalar, 'recurrent/step.wgsl');
  const step4 = moduleFile(...parts, 'recurrent/views_vec4.wgsl', 'recurrent/step.wgsl');
  const seq = moduleFile(...scalar, 'recurrent/sequence.wgsl');
  const stepOverrides = { WG: STEP_WG, R: STEP_BLOCK_ROWS, PASS: 0, ...c.overrides };
  const seqOverrides = { WG: 128, RB: 1, SH: 256, ...c.overrides };
  const forward = bind(['gx', 'whh', 'bhh', 'h0', 'lengths', 'hs', 'params', ...c.forward]);
  const backward = bind(['whh', 'lengths', 'params', 'dhs', 'dghh', ...c.backward]);
  const spec = (op: string, file: string, entry: string, bindings: BindingSpec[], overrides: Record<string, number>): KernelSpec =>
    ({ name: `${family}_${op}`, file, entry, params: fields, overrides, bindings, ...features });
  return [
    spec('step_forward', step, 'step_forward', forward, stepOverrides),
    spec('step_backward', step, 'step_backward', backward, stepOverrides),
    spec('backward_initial', step, 'backward_initial', bind(['whh', 'params', 'dghh', 'dh0', ...c.initial]), stepOverrides),
    spec(`step_forward${VEC4_VIEWS}`, step4, 'step_forward', forward, stepOverrides),
    spec(`step_backward${VEC4_VIEWS}`, step4, 'step_backward', backward, stepOverrides),
    spec(`backward_initial${VEC4_VIEWS}`, step4, 'backward_initial', bind(['whh', 'params', 'dghh', 'dh0', ...c.initial]), stepOverrides),
    spec('final_state', step, 'final_state', bind(['lengths', 'hs', 'params', 'hn', ...c.final]), stepOverrides),
    spec('seq_forward', seq, 'seq_forward', forward, seqOverrides),
    spec('seq_backward', seq, 'seq_backward', backward, seqOverrides),
    ...RESIDENT_WMAX_BUCKETS.flatMap((wmax) => {
      const res = moduleFile(...scalar, `recurrent/wmax_${wmax}.wgsl`, 'recurrent/resident.wgsl');
      return [spec(`res${wmax}_forward`, res, 'res_forward', forward, seqOverrides), spec(`res${wmax}_backward`, res, 'res_backward', backward, seqOverrides)];
    }),
    ...RESIDENT_WMAX_BUCKETS.flatMap((wmax) => {
      const sg = moduleFile('subgroups.wgsl', ...(precision === 'f32' ? ['common.wgsl'] : []), ...scalar, `recurrent/wmax_${wmax}.wgsl`, 'recurrent/resident.wgsl', 'recurrent/subgroup.wgsl');
      const needs = { features: precision === 'f16' ? ['subgroups', 'shader-f16'] : ['subgroups'] };
      return [
        { ...spec(`sg${wmax}_forward`, sg, 'sg_forward', forward, seqOverrides), ...needs },
        { ...spec(`sg${wmax}_backward`, sg, 'sg_backward', backward, seqOverrides), ...needs },
      ];
    }),
  ];
}

/** Overrides and grid of a per-timestep kernel at (B, H) for the context's step variant:
 *  'blocked' runs STEP_BLOCK_ROWS batch rows per invocation, 'plain' one; the backward kernels
 *  (step_backward, backward_initial) take 4 units per invocation. */
export function stepLaunch(ctx: GpuContext, B: number, H: number, pass: 'forward' | 'backward' = 'forward'): { overrides: { R: number }; workgroups: [number, number] } {
  const R = stepKernelVariant(ctx) === 'blocked' ? STEP_BLOCK_ROWS : 1;
  return { overrides: { R }, workgroups: grid1d(ceilDiv(B, R) * (pass === 'backward' ? ceilDiv(H, 4) : H), STEP_WG) };
}

/** Grid of final_state (one invocation per (b, j)). */
export function finalStateGrid(B: number, H: number): [number, number] {
  return grid1d(B * H, STEP_WG);
}

/** The storage precision of a recurrent kernel's whh or hs tensor: f16 storage is a u32 tensor
 *  of packed halves (./half.ts), anything else f32. */
export function storagePrecision(t: Tensor): StoragePrecision {
  return t.dtype === 'u32' ? 'f16' : 'f32';
}

/** Checks whh or hs: f32 of `shape`, or (precision f16) f16 storage of that shape. */
export function checkStored(op: string, arg: string, t: Tensor, shape: readonly number[], precision: StoragePrecision): void {
  if (precision === 'f16') checkHalf(op, arg, t, shape);
  else checkTensor(op, arg, t, shape);
}

/** Throws unless whh and hs have one storage precision; returns it. */
export function checkPrecision(op: string, whh: Tensor, hs: Tensor): StoragePrecision {
  const p = storagePrecision(whh), q = storagePrecision(hs);
  if (p !== q) throw new Error(`${op}: whh (${whh.name}) is ${p} storage and hs (${hs.name}) ${q}, expected both f32 or both f16 storage (u32 tensors of packed halves)`);
  return p;
}

/** Throws unless the context's device can run f16 storage kernels (the 'shader-f16' feature). */
export function checkHalfSupported(ctx: GpuContext, what: string): void {
  if (!ctx.features.has('shader-f16')) {
    // Dawn holds shader-f16 back on NVIDIA's Vulkan driver unless a toggle asks for it.
    const nvidia = /nvidia/i.test(ctx.adapterInfo.vendor) && ctx.adapterInfo.backend === 'vulkan'
      ? ", or in Node enable it with createContext({ dawnToggles: ['vulkan_enable_f16_on_nvidia'] }) (Dawn keeps it off on NVIDIA's Vulkan driver by default)" : '';
    throw new Error(`${what}: f16 storage needs the WebGPU feature 'shader-f16', which this adapter lacks (${ctx.describe()}); use precision 'f32' here${nvidia}`);
  }
}

/** The name of a per-timestep kernel (`step_forward`, `step_backward`, `backward_initial`) of a
 *  cell at (H, precision): when H % 4 == 0 the one reading whh, hs and dghh as 4-vectors (the same
 *  values summed in the same order; 4 loads become one on CPU drivers), else the scalar one. */
export function stepKernelName(ctx: GpuContext, cell: RecurrentCellName, op: 'step_forward' | 'step_backward' | 'backward_initial', H: number, precision: StoragePrecision): string {
  return recurrentKernelName(ctx, cell, op, precision) + (H % 4 === 0 ? VEC4_VIEWS : '');
}

/** The name of a cell's kernel `op` at a storage precision (`lstm_step_forward`, `lstm_f16_step_forward`). */
export function recurrentKernelName(ctx: GpuContext, cell: RecurrentCellName, op: string, precision: StoragePrecision): string {
  if (precision === 'f32') return `${cell}_${op}`;
  checkHalfSupported(ctx, `${cell}_f16_${op}`);
  return `${cell}_f16_${op}`;
}

/** H of f16 whh storage of (NG·H, H): its ceil(NG·H²/2) words determine H. */
export function halfHidden(op: string, whh: Tensor, NG: number): number {
  const words = whh.shape.length === 1 ? whh.shape[0] : 0;
  const H = Math.round(Math.sqrt((2 * words) / NG));
  if (H < 1 || Math.ceil((NG * H * H) / 2) !== words) {
    throw new Error(`${op}: whh (${whh.name}) is u32(${whh.shape.join(', ')}), expected f16 storage of (${NG}*H, H): u32 (ceil(${NG}·H²/2)) for some H (see halfEmpty)`);
  }
  return H;
}
