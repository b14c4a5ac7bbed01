// The kernel registry: the only place that knows how a kernel is bound.
//
// A kernel is one WGSL entry point. Its spec names the file, the entry point, its bindings in
// @group(0) in binding order, the fields of its `Params` uniform (if any) in declaration order,
// and its default override constants. The runtime builds an explicit bind-group layout from the
// spec, and a test checks each spec against the WGSL text (test/registry.test.ts).

import { SHADERS } from '../shaders.generated.ts';

export type BindingKind = 'storage' | 'read-only-storage' | 'uniform';
export type ParamType = 'u32' | 'i32' | 'f32';

export interface BindingSpec {
  /** The WGSL variable name at this binding index. */
  readonly name: string;
  readonly kind: BindingKind;
  /** `@binding` index; defaults to the position in the spec's list. Lets kernels of one file use
   *  non-contiguous subsets of the file's bindings. */
  readonly index?: number;
}

export interface KernelSpec {
  /** Unique kernel name, `<family>_<op>`; also the WGSL entry point unless `entry` is given. */
  readonly name: string;
  /** File under shaders/, e.g. `lstm.wgsl`. `common.wgsl` is prepended to every file. */
  readonly file: string;
  readonly entry?: string;
  /** Bindings of @group(0), index i at position i unless `index` says otherwise. The uniform
   *  (if any) is named `params`. */
  readonly bindings: readonly BindingSpec[];
  /** Fields of the `params` uniform struct, in order; each is 4 bytes. */
  readonly params?: readonly (readonly [string, ParamType])[];
  /** Default values of `override` constants (workgroup size, modes). */
  readonly overrides?: Readonly<Record<string, number>>;
}

const registry = new Map<string, KernelSpec>();

/** Registers kernel specs; each kernel family module calls this once at import. */
export function registerKernels(specs: readonly KernelSpec[]): void {
  for (const spec of specs) {
    const existing = registry.get(spec.name);
    if (existing && existing !== spec) throw new Error(`kernel ${spec.name} is registered twice`);
    if (!(spec.file in SHADERS)) {
      throw new Error(`kernel ${spec.name}: shader file ${spec.file} not found (run npm run gen:shaders)`);
    }
    registry.set(spec.name, spec);
  }
}

/** Removes a kernel from the registry (tests that register throwaway kernels). */
export function unregisterKernel(name: string): void {
  registry.delete(name);
}

export function getKernel(name: string): KernelSpec {
  const spec = registry.get(name);
  if (!spec) throw new Error(`unknown kernel ${name}; registered: ${[...registry.keys()].join(', ')}`);
  return spec;
}

export function allKernels(): KernelSpec[] {
  return [...registry.values()];
}

/** The WGSL a kernel is compiled from: common.wgsl, then its own file. */
export function kernelSource(file: string): { code: string; commonLines: number } {
  const common = SHADERS['common.wgsl'];
  const own = SHADERS[file];
  if (own === undefined) throw new Error(`shader file ${file} not found`);
  if (file === 'common.wgsl') return { code: common, commonLines: 0 };
  return { code: `${common}\n${own}`, commonLines: common.split('\n').length };
}

/** Maps a line of the compiled source back to `file:line`. */
export function sourceLocation(file: string, line: number): string {
  const { commonLines } = kernelSource(file);
  if (line <= commonLines) return `shaders/common.wgsl:${line}`;
  return `shaders/${file}:${line - commonLines}`;
}
