// The kernel registry: the only place that knows how a kernel is bound.
//
// A kernel is one WGSL entry point. Its spec names the module (a file of shaders/, or the parts it
// is assembled from: text concatenation, each error line mapped back to its part), the entry
// point, its bindings in @group(0) in binding order, the fields of its `Params` uniform (if any)
// in declaration order, and its default override constants. The runtime builds an explicit bind-group layout from the
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
  /** The module's source under shaders/: one file (`matmul.wgsl`) or the parts the module is
   *  assembled from, joined by `+` (`recurrent/layout.wgsl+cells/lstm.wgsl+…`; see `moduleFile`).
   *  `common.wgsl` is prepended to every module, unless the module lists it as a part: then a part
   *  before it can open the module (an `enable` directive must come first). */
  readonly file: string;
  readonly entry?: string;
  /** Bindings of @group(0), index i at position i unless `index` says otherwise. The uniform
   *  (if any) is named `params`. */
  readonly bindings: readonly BindingSpec[];
  /** Fields of the `params` uniform struct, in order; each is 4 bytes. */
  readonly params?: readonly (readonly [string, ParamType])[];
  /** Default values of `override` constants (workgroup size, modes). */
  readonly overrides?: Readonly<Record<string, number>>;
  /** Device features the module needs (`shader-f16`); absent: none. Its wrappers check them. */
  readonly features?: readonly string[];
}

const registry = new Map<string, KernelSpec>();

/** The `file` of a module assembled from several files of shaders/, concatenated in this order. */
export function moduleFile(...parts: string[]): string {
  return parts.join('+');
}

/** The files a module is assembled from. */
export function moduleParts(file: string): string[] {
  return file.split('+');
}

/** Registers kernel specs; each kernel family module calls this once at import. */
export function registerKernels(specs: readonly KernelSpec[]): void {
  for (const spec of specs) {
    const existing = registry.get(spec.name);
    if (existing && existing !== spec) throw new Error(`kernel ${spec.name} is registered twice`);
    for (const part of moduleParts(spec.file)) {
      if (!(part in SHADERS)) throw new Error(`kernel ${spec.name}: shader file ${part} not found (run npm run gen:shaders)`);
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

/** One part of an assembled module: its file and the module line its first line is on. */
export interface PartLines { file: string; first: number; lines: number }

/**
 * The WGSL a module is compiled from: common.wgsl (unless listed), then each part in order, joined by newlines
 * (text concatenation, nothing rewritten), with the line range each part occupies.
 */
export function kernelSource(file: string): { code: string; parts: PartLines[] } {
  const listed = moduleParts(file);
  const names = listed.includes('common.wgsl') ? listed : ['common.wgsl', ...listed];
  const parts: PartLines[] = [];
  const texts: string[] = [];
  let first = 1;
  for (const name of names) {
    const text = SHADERS[name];
    if (text === undefined) throw new Error(`shader file ${name} not found`);
    const lines = text.split('\n').length;
    parts.push({ file: name, first, lines });
    texts.push(text);
    first += lines;
  }
  return { code: texts.join('\n'), parts };
}

/** Maps a line of a module's compiled source back to `shaders/<part>:<line>`. */
export function sourceLocation(file: string, line: number): string {
  const { parts } = kernelSource(file);
  const part = parts.find((p) => line >= p.first && line < p.first + p.lines) ?? parts[parts.length - 1];
  return `shaders/${part.file}:${line - part.first + 1}`;
}
