// GpuContext: one WebGPU device plus everything the library keeps per device — the buffer pool,
// the pipeline cache, the uniform and bind-group caches, and the command encoder that dispatches
// are recorded into. Work is recorded lazily into one compute pass and submitted on `flush()`
// (or implicitly by `read()`/`write()`), so a whole training step becomes one command buffer.

import { adapterFactsOf, type AdapterFacts } from './adapter-facts.ts';
import { checkAllocation } from './limits.ts';
import { BufferPool } from './pool.ts';
import { getKernel, kernelSource, moduleParts, sourceLocation, type KernelSpec } from './registry.ts';
import {
  BYTES_PER_ELEMENT, Tensor, checkShapeValid, dtypeOf, numel, shapeString, typedArrayFor,
  type AnyTypedArray, type DType, type TypedArrayFor,
} from './tensor.ts';
import { checkSettings, DEFAULT_SETTINGS, type ContextSettings } from './settings.ts';
import { TunedSchedules } from './tuned.ts';

// GPUBufferUsage / GPUMapMode / GPUShaderStage as numbers: Node has no such globals by default.
export const BufferUsage = {
  MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128, QUERY_RESOLVE: 512,
} as const;
const MAP_READ_MODE = 1;
const SHADER_STAGE_COMPUTE = 4;

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'vulkan', 'opengles', 'browser', … as known to the code that made the context. */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  /** The adapter reported itself as a fallback (software) adapter. */
  isFallbackAdapter?: boolean;
}

export interface DispatchArgs {
  /** Buffers by binding name (the spec's names); `params` is filled from `params`. */
  bindings: Record<string, Tensor | GPUBuffer>;
  /** Values for the spec's `params` fields. */
  params?: Record<string, number>;
  /** Override constants beyond the spec's defaults. */
  overrides?: Record<string, number>;
  /** Number of workgroups in x, y, z. */
  workgroups: readonly [number, number?, number?];
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  id: number;
}

/** A small insertion-ordered LRU map. */
class Lru<K, V> {
  private map = new Map<K, V>();
  constructor(private readonly capacity: number, private readonly onEvict?: (v: V) => void) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }
  set(k: K, v: V): void {
    this.map.set(k, v);
    if (this.map.size > this.capacity) {
      const [oldK, oldV] = this.map.entries().next().value as [K, V];
      this.map.delete(oldK);
      this.onEvict?.(oldV);
    }
  }
  deleteWhere(pred: (k: K) => boolean): void {
    for (const k of [...this.map.keys()]) if (pred(k)) { const v = this.map.get(k)!; this.map.delete(k); this.onEvict?.(v); }
  }
  clear(): void { for (const v of this.map.values()) this.onEvict?.(v); this.map.clear(); }
  get size(): number { return this.map.size; }
}

export class GpuContext {
  readonly pool: BufferPool;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  /** What the defaults depend on (CPU driver or GPU, fallback, vendor), worked out once. */
  readonly adapterFacts: AdapterFacts;
  /** Schedule choices measured on this context's adapter (`tuneSchedule`); export/import to keep them. */
  readonly tuned: TunedSchedules;
  private currentSettings: Readonly<ContextSettings> = DEFAULT_SETTINGS;

  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, CachedPipeline>();
  /** While `precompile` runs its callback: the pipelines its dispatches need, by cache key. */
  private collecting: Map<string, { spec: KernelSpec; constants: Record<string, number> }> | null = null;
  private layouts = new Map<string, GPUBindGroupLayout>();
  private uniforms: Lru<string, GPUBuffer>;
  private bindGroups = new Lru<string, GPUBindGroup>(8192);
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private nextPipelineId = 1;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingError: Error | null = null;
  private lost: string | null = null;
  private disposed = false;
  /** Set by dispose(): reads still waiting for the GPU reject instead of returning data. */
  private readsAborted = false;
  /** Reads waiting for their staging buffer to map; the device is destroyed only after them. */
  private pendingReads = new Set<Promise<unknown>>();
  /** Resolves once the device and its buffers are destroyed (after dispose/close). */
  private released: Promise<void> | null = null;
  /** Kernels recorded into the open command encoder (named in a validation error). */
  private recordedKernels = new Set<string>();
  /** Dispatches recorded since the context was made (for tests and benchmarks). */
  dispatchCount = 0;
  /** Command buffers submitted since the context was made (for tests and benchmarks). */
  submitCount = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter | null,
    readonly adapterInfo: AdapterSummary,
    private releaseHandle: (() => void) | null = null,
    /** Awaits a promise of the device's (work done, a buffer mapped); Node paces Dawn's polls here. */
    private readonly waitFor: <T>(start: () => Promise<T>) => Promise<T> = (start) => start(),
  ) {
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    this.adapterFacts = adapterFactsOf(adapterInfo, adapterInfo.isFallbackAdapter ?? false);
    this.tuned = new TunedSchedules(this.describe());
    this.pool = new BufferPool(device, (buf) => this.forgetBuffer(buf));
    this.uniforms = new Lru<string, GPUBuffer>(4096, (b) => { this.forgetBuffer(b); b.destroy(); });
    device.addEventListener('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      if (!this.pendingError && !this.disposed) this.pendingError = gpuErrorFor('a WebGPU call outside a command buffer', err);
    });
    device.lost.then((info) => {
      if (!this.disposed) this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /** One line naming the adapter, e.g. `llvmpipe (mesa, vulkan)`. */
  describe(): string {
    const a = this.adapterInfo;
    const name = a.description || a.device || a.architecture || 'unknown adapter';
    // Mesa's software Vulkan driver calls its device llvmpipe; the driver itself is lavapipe.
    const driver = a.backend === 'vulkan' && /llvmpipe/i.test(name) ? 'lavapipe, ' : '';
    return `${name} (${driver}${a.vendor || 'unknown vendor'}, ${a.backend}${a.featureLevel === 'compatibility' ? ', compatibility' : ''})`;
  }

  /**
   * What this context runs when a layer or a call names no choice of its own (see
   * {@link ContextSettings}). Read-only: change it with {@link GpuContext.configure}.
   */
  get settings(): Readonly<ContextSettings> {
    return this.currentSettings;
  }

  /**
   * Changes some settings for work recorded from now on, e.g.
   * `ctx.configure({ recurrentSchedule: 'step' })`. Every key and value is checked before any is
   * applied. Returns the settings as they were, so `ctx.configure(previous)` restores them.
   */
  configure(settings: Partial<ContextSettings>): Readonly<ContextSettings> {
    const checked = checkSettings('configure', settings);
    const previous = this.currentSettings;
    const defined = Object.fromEntries(Object.entries(checked).filter(([, v]) => v !== undefined));
    this.currentSettings = Object.freeze({ ...previous, ...defined });
    return previous;
  }

  get isLost(): boolean {
    return this.lost !== null;
  }

  private checkAlive(): void {
    if (this.disposed) throw disposedError();
    if (this.lost !== null) throw new Error(`GPU device was lost (${this.lost}); create a new context and resume from a checkpoint`);
  }

  // ---------------------------------------------------------------- tensors

  /** An uninitialised tensor from the pool (contents are whatever the buffer held). */
  empty<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D, name = 'tensor'): Tensor<D> {
    this.checkAlive();
    checkShapeValid(name, shape);
    this.checkAllocation(name, shape);
    const bytes = numel(shape) * BYTES_PER_ELEMENT;
    const buffer = this.pool.acquire(bytes, STORAGE_USAGE, name);
    return new Tensor<D>(buffer, [...shape], dtype, name, (t) => this.pool.release(t.buffer));
  }

  /** A tensor filled with zeros (cleared on the GPU, in order with recorded work). */
  zeros<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D, name = 'zeros'): Tensor<D> {
    const t = this.empty(shape, dtype, name);
    this.clear(t);
    return t;
  }

  /**
   * Throws, naming `label`, its shape and bytes, the limit and what to do, unless a tensor of this
   * shape fits this device: one buffer (maxBufferSize) that one storage binding can cover
   * (maxStorageBufferBindingSize). Every tensor the context makes is checked; layers call it for
   * their parameters before allocating anything.
   */
  checkAllocation(label: string, shape: readonly number[]): void {
    checkAllocation(this.limits, label, shape);
  }

  /** A tensor holding `data` (its dtype follows the typed array; plain arrays become f32). */
  tensor(data: AnyTypedArray | number[], shape: readonly number[], name = 'tensor'): Tensor {
    const arr = Array.isArray(data) ? new Float32Array(data) : data;
    const dtype = dtypeOf(arr);
    if (!dtype) throw new Error(`${name}: data must be a Float32Array, Int32Array, Uint32Array or number[]`);
    if (arr.length !== numel(shape)) {
      throw new Error(`${name}: ${arr.length} values given for shape ${shapeString(shape)} (${numel(shape)} expected)`);
    }
    const t = this.empty(shape, dtype, name);
    this.write(t, arr);
    return t;
  }

  /** Overwrites a tensor's contents. Recorded work before this call sees the old contents. */
  write(t: Tensor, data: AnyTypedArray): void {
    this.checkAlive();
    checkUsable('write', t);
    if (!dtypeOf(data)) throw new Error(`write ${t.name}: data must be a Float32Array, Int32Array or Uint32Array, got ${describeValue(data)}`);
    if (data.length !== t.size) throw new Error(`write ${t.name}: ${data.length} values given, tensor has ${t.size}`);
    if (dtypeOf(data) !== t.dtype) throw new Error(`write ${t.name}: ${dtypeOf(data)} data given, tensor is ${t.dtype}`);
    this.flush();
    this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Reads a tensor back (flushes recorded work first). */
  async read<D extends DType>(t: Tensor<D>): Promise<TypedArrayFor<D>> {
    this.checkAlive();
    checkUsable('read', t);
    const bytes = await this.readBytes(t.buffer, 0, t.byteSize);
    return typedArrayFor(t.dtype, bytes) as TypedArrayFor<D>;
  }

  /** Reads `byteLength` bytes of a buffer at `offset`. */
  async readBytes(buffer: GPUBuffer, offset: number, byteLength: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const size = Math.ceil(byteLength / 4) * 4;
    if (!Number.isInteger(offset) || offset < 0 || offset % 4 !== 0 || offset + size > buffer.size) {
      throw new Error(`read ${buffer.label || 'buffer'}: bytes ${offset}..${offset + size} are outside its ${buffer.size} bytes (the offset must be a multiple of 4)`);
    }
    const staging = this.pool.acquire(size, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.endPass();
    this.getEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    // Tracked so that dispose() destroys the device only once no map is pending (Dawn in Node
    // crashes at a later garbage collection otherwise).
    const op = this.mapStaging(staging, size, byteLength, buffer.label || 'buffer');
    this.pendingReads.add(op);
    try {
      return await op;
    } finally {
      this.pendingReads.delete(op);
    }
  }

  private async mapStaging(staging: GPUBuffer, size: number, byteLength: number, what: string): Promise<ArrayBuffer> {
    try {
      await this.waitFor(() => staging.mapAsync(MAP_READ_MODE, 0, size));
    } catch (e) {
      if (this.readsAborted) throw disposedError(`while a read of ${what} was pending`);
      this.checkAlive();
      this.throwPendingError();
      throw new Error(`read ${what}: the GPU could not map the result (${(e as Error).message})`);
    }
    if (this.readsAborted) {
      staging.unmap();
      throw disposedError(`while a read of ${what} was pending`);
    }
    const out = staging.getMappedRange(0, size).slice(0, byteLength);
    staging.unmap();
    this.pool.release(staging);
    this.throwPendingError();
    return out;
  }

  /** Records a copy of `src` into `dst` (whole tensors, or byte ranges). */
  copy(src: Tensor | GPUBuffer, dst: Tensor | GPUBuffer, bytes?: number, srcOffset = 0, dstOffset = 0): void {
    this.checkAlive();
    if (src instanceof Tensor) checkUsable('copy', src);
    if (dst instanceof Tensor) checkUsable('copy', dst);
    const s = src instanceof Tensor ? src.buffer : src;
    const d = dst instanceof Tensor ? dst.buffer : dst;
    const n = bytes ?? (src instanceof Tensor ? src.byteSize : s.size);
    // Checked here so that a bad range is named instead of failing later inside WebGPU.
    const srcName = src instanceof Tensor ? src.name : s.label || 'buffer';
    const dstName = dst instanceof Tensor ? dst.name : d.label || 'buffer';
    for (const [what, v] of [['byte count', n], ['source offset', srcOffset], ['destination offset', dstOffset]] as const) {
      if (!Number.isInteger(v) || v < 0 || v % 4 !== 0) throw new Error(`copy ${srcName} → ${dstName}: ${what} must be a non-negative multiple of 4, got ${v}`);
    }
    const srcBytes = src instanceof Tensor ? src.byteSize : s.size, dstBytes = dst instanceof Tensor ? dst.byteSize : d.size;
    if (srcOffset + n > srcBytes) throw new Error(`copy ${srcName} → ${dstName}: bytes ${srcOffset}..${srcOffset + n} are past the end of ${srcName} (${srcBytes} bytes)`);
    if (dstOffset + n > dstBytes) throw new Error(`copy ${srcName} → ${dstName}: bytes ${dstOffset}..${dstOffset + n} are past the end of ${dstName} (${dstBytes} bytes)`);
    if (s === d && srcOffset < dstOffset + n && dstOffset < srcOffset + n) throw new Error(`copy ${srcName} → ${dstName}: the source and destination ranges overlap in one buffer`);
    this.endPass();
    this.getEncoder().copyBufferToBuffer(s, srcOffset, d, dstOffset, n);
  }

  /** Records zero-filling of a tensor. */
  clear(t: Tensor): void {
    this.checkAlive();
    checkUsable('clear', t);
    this.endPass();
    this.getEncoder().clearBuffer(t.buffer, 0, t.byteSize);
  }

  // ---------------------------------------------------------------- kernels

  private shaderModule(file: string): GPUShaderModule {
    let m = this.modules.get(file);
    if (!m) {
      const { code } = kernelSource(file);
      // WEBGPU_RNN_DUMP_WGSL=matmul.wgsl or =cells/lstm.wgsl (any module with that part), or =all,
      // prints the final WGSL (common.wgsl prepended, the parts joined).
      const dump = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WEBGPU_RNN_DUMP_WGSL;
      if (dump && (dump === 'all' || dump.split(',').some((d) => moduleParts(file).includes(d)))) console.log(`// ===== final WGSL of shaders/${file} =====\n${code}`);
      m = this.device.createShaderModule({ code, label: `shaders/${file}` });
      this.modules.set(file, m);
    }
    return m;
  }

  private bindGroupLayout(spec: KernelSpec): GPUBindGroupLayout {
    let layout = this.layouts.get(spec.name);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `${spec.name} layout`,
        entries: spec.bindings.map((b, i) => ({
          binding: b.index ?? i,
          visibility: SHADER_STAGE_COMPUTE,
          buffer: { type: b.kind },
        })),
      });
      this.layouts.set(spec.name, layout);
    }
    return layout;
  }

  private pipelineKey(spec: KernelSpec, overrides?: Record<string, number>): { key: string; constants: Record<string, number> } {
    const constants = { ...(spec.overrides ?? {}), ...(overrides ?? {}) };
    const names = Object.keys(constants).sort();
    return { key: `${spec.name}|${names.map((n) => `${n}=${constants[n]}`).join(',')}`, constants };
  }

  /** The pipeline for a kernel with the given overrides, created (synchronously) on first use. */
  pipeline(name: string, overrides?: Record<string, number>): CachedPipeline {
    this.checkAlive();
    const spec = getKernel(name);
    const { key, constants } = this.pipelineKey(spec, overrides);
    let p = this.pipelines.get(key);
    if (!p) {
      const layout = this.bindGroupLayout(spec);
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ label: `${spec.name} pipeline layout`, bindGroupLayouts: [layout] }),
        compute: { module: this.shaderModule(spec.file), entryPoint: spec.entry ?? spec.name, constants },
      });
      p = { pipeline, layout, id: this.nextPipelineId++ };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Compiles a kernel and waits for the result, throwing a readable error (kernel name, file and
   * line) if the WGSL does not compile or the pipeline is invalid. Use it to warm the cache.
   */
  async compile(name: string, overrides?: Record<string, number>): Promise<void> {
    this.checkAlive();
    const spec = getKernel(name);
    this.device.pushErrorScope('validation');
    const module = this.shaderModule(spec.file);
    const moduleError = await this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length || moduleError) {
      this.modules.delete(spec.file);
      const lines = errors.map((m) => `  ${sourceLocation(spec.file, m.lineNum)}:${m.linePos}: ${m.message}`);
      throw new Error(`kernel ${spec.name}: WGSL compile error\n${lines.join('\n')}`);
    }
    this.device.pushErrorScope('validation');
    this.pipeline(name, overrides);
    const err = await this.device.popErrorScope();
    if (err) {
      this.pipelines.delete(this.pipelineKey(spec, overrides).key);
      throw new Error(`kernel ${spec.name} (shaders/${spec.file}): pipeline creation failed: ${err.message}`);
    }
  }

  /**
   * Compiles, without blocking, every pipeline that `record` dispatches. `record` runs with its
   * dispatches collected instead of recorded (its writes, copies and clears still happen, so give
   * it a scratch model or scratch tensors); each pipeline not yet cached is then created with
   * `createComputePipelineAsync` and stored in the pipeline cache, so the first real use finds it.
   * In a page this keeps the first training step from freezing the tab while kernels compile.
   * Only the dispatches `record` makes before its first `await` are collected; a promise it
   * returns is awaited afterwards. Returns the number of pipelines created.
   */
  async precompile(record: () => unknown): Promise<number> {
    this.checkAlive();
    if (this.collecting) throw new Error('precompile: already collecting (precompile calls cannot be nested)');
    const wanted = new Map<string, { spec: KernelSpec; constants: Record<string, number> }>();
    this.collecting = wanted;
    let pending: unknown;
    try { pending = record(); } finally { this.collecting = null; }
    await pending;
    const created = await Promise.all([...wanted].map(async ([key, { spec, constants }]) => {
      const layout = this.bindGroupLayout(spec);
      let pipeline: GPUComputePipeline;
      try {
        pipeline = await this.device.createComputePipelineAsync({
          label: key,
          layout: this.device.createPipelineLayout({ label: `${spec.name} pipeline layout`, bindGroupLayouts: [layout] }),
          compute: { module: this.shaderModule(spec.file), entryPoint: spec.entry ?? spec.name, constants },
        });
      } catch (e) {
        throw new Error(`kernel ${spec.name} (shaders/${spec.file}): pipeline creation failed: ${(e as Error).message}`);
      }
      if (this.pipelines.has(key)) return 0; // made meanwhile by a dispatch
      this.pipelines.set(key, { pipeline, layout, id: this.nextPipelineId++ });
      return 1;
    }));
    return created.reduce<number>((a, n) => a + n, 0);
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) { id = this.nextBufferId++; this.bufferIds.set(b, id); }
    return id;
  }

  /** Drops cached bind groups that reference a buffer about to be destroyed. */
  private forgetBuffer(b: GPUBuffer): void {
    const id = this.bufferIds.get(b);
    if (id === undefined) return;
    const tag = `#${id}:`;
    this.bindGroups.deleteWhere((k) => k.includes(tag));
  }

  private uniformFor(spec: KernelSpec, params: Record<string, number> | undefined): GPUBuffer | null {
    const fields = spec.params;
    if (!fields || fields.length === 0) return null;
    const data = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
    const view = new DataView(data);
    fields.forEach(([fname, type], i) => {
      const v = params?.[fname];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`kernel ${spec.name}: param ${fname} is ${v}, expected a finite number`);
      if (type === 'f32') view.setFloat32(i * 4, v, true);
      else if (type === 'i32') view.setInt32(i * 4, v, true);
      else {
        if (v < 0 || !Number.isInteger(v)) throw new Error(`kernel ${spec.name}: param ${fname} must be a non-negative integer, got ${v}`);
        view.setUint32(i * 4, v, true);
      }
    });
    const bytes = new Uint8Array(data);
    let key = spec.name + ':';
    for (let i = 0; i < bytes.length; i += 4) key += view.getUint32(i, true).toString(36) + ',';
    let buf = this.uniforms.get(key);
    if (!buf) {
      buf = this.device.createBuffer({ size: data.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: `${spec.name} params` });
      this.device.queue.writeBuffer(buf, 0, data);
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  /** Records one dispatch of a registered kernel. */
  dispatch(name: string, args: DispatchArgs): void {
    this.checkAlive();
    const spec = getKernel(name);
    if (this.collecting) {
      const { key, constants } = this.pipelineKey(spec, args.overrides);
      if (!this.pipelines.has(key)) this.collecting.set(key, { spec, constants });
      return;
    }
    // Everything WebGPU would refuse is checked before the pipeline, the bind group or the
    // dispatch is made, so a mistake is named here instead of surfacing later as engine text.
    const [x, y = 1, z = 1] = args.workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    for (const v of [x, y, z]) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`kernel ${spec.name}: workgroup counts must be non-negative integers, got ${x}x${y}x${z}`);
    }
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new Error(`kernel ${spec.name}: ${x}x${y}x${z} workgroups exceed the adapter's limit of ${maxWg} per dimension (maxComputeWorkgroupsPerDimension); use a smaller batch or sequence, or fold the grid into y (grid1d)`);
    }
    const bound = spec.bindings.map((b) => {
      if (b.kind === 'uniform' && b.name === 'params') return null;
      const v = args.bindings[b.name];
      if (v === undefined) throw new Error(`kernel ${spec.name}: binding ${b.name} was not given`);
      if (v instanceof Tensor) {
        if (v.released) throw new Error(`kernel ${spec.name}: ${b.name} (${v.name}) was released`);
      } else if (!isGpuBuffer(v)) {
        throw new Error(`kernel ${spec.name}: binding ${b.name} must be a Tensor or a GPUBuffer, got ${describeValue(v)}`);
      }
      const { buffer, size } = bindingRange(v);
      const limit = b.kind === 'uniform' ? this.limits.maxUniformBufferBindingSize : this.limits.maxStorageBufferBindingSize;
      const limitName = b.kind === 'uniform' ? 'maxUniformBufferBindingSize' : 'maxStorageBufferBindingSize';
      if (size > limit) {
        const what = v instanceof Tensor ? `${v.name} ${shapeString(v.shape)}` : buffer.label || 'a buffer';
        throw new Error(`kernel ${spec.name}: ${b.name} (${what}) binds ${size} bytes, more than this adapter's ${limitName} of ${limit}; use smaller sizes (batch, vocabulary, hidden) or an adapter with larger limits`);
      }
      return { buffer, size };
    });
    const { pipeline, layout, id } = this.pipeline(name, args.overrides);
    const entries = spec.bindings.map((b, i) => {
      const r = bound[i];
      if (r) return r;
      const uniform = this.uniformFor(spec, args.params);
      if (!uniform) throw new Error(`kernel ${spec.name}: binding params has no fields in the spec`);
      return { buffer: uniform, size: uniform.size };
    });
    const buffers = entries.map((e) => e.buffer);
    let key = `${id}`;
    for (const e of entries) key += `#${this.bufferId(e.buffer)}:${e.size}#`;
    // WebGPU refuses a buffer bound twice in one dispatch when one binding is writable; say which.
    for (let i = 0; i < buffers.length; i++) {
      for (let j = i + 1; j < buffers.length; j++) {
        if (buffers[i] === buffers[j] && (spec.bindings[i].kind === 'storage' || spec.bindings[j].kind === 'storage')) {
          throw new Error(`kernel ${spec.name}: ${spec.bindings[i].name} and ${spec.bindings[j].name} are the same buffer, and one is written`);
        }
      }
    }
    if (x === 0 || y === 0 || z === 0) return;
    let group = this.bindGroups.get(key);
    if (!group) {
      // The label names what is bound, so a validation error that still happens says so.
      const what = spec.bindings.map((b, i) => `${b.name}=${entries[i].buffer.label || '?'}`).join(', ');
      group = this.device.createBindGroup({
        label: `${spec.name} bind group (${what})`,
        layout,
        // Each tensor binds its own bytes (rounded up to whole vec4s), not its pooled buffer.
        entries: entries.map((e, i) => ({ binding: spec.bindings[i].index ?? i, resource: { buffer: e.buffer, offset: 0, size: e.size } })),
      });
      this.bindGroups.set(key, group);
    }
    this.recordedKernels.add(spec.name);
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
  }

  // ---------------------------------------------------------------- recording

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      // One validation scope per command buffer: an error that still happens is reported on the
      // next read()/sync() naming the kernels it held, not as a bare engine message.
      this.device.pushErrorScope('validation');
      this.recordedKernels.clear();
      this.encoder = this.device.createCommandEncoder({ label: 'webgpu-rnn commands' });
    }
    return this.encoder;
  }

  private getPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.getEncoder().beginComputePass({ label: 'webgpu-rnn pass' });
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }

  /** The encoder work is being recorded into, with no compute pass open (for timestamp writes etc.). */
  commandEncoder(): GPUCommandEncoder {
    this.endPass();
    return this.getEncoder();
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    if (this.disposed) throw disposedError();
    this.endPass();
    if (this.encoder) {
      const cb = this.encoder.finish();
      this.encoder = null;
      this.device.queue.submit([cb]);
      this.submitCount++;
      const names = [...this.recordedKernels];
      const kernels = names.length > 6 ? `${names.slice(0, 6).join(' / ')} and ${names.length - 6} more` : names.join(' / ');
      this.device.popErrorScope().then((err) => {
        if (err && !this.pendingError && !this.disposed) {
          this.pendingError = gpuErrorFor(names.length ? `a command buffer with kernel ${kernels}` : 'a copy or clear', err);
        }
      }, () => { /* the device is gone: device.lost reports it */ });
    }
  }

  /** Submits recorded work and waits until the GPU has finished it. */
  async sync(): Promise<void> {
    this.checkAlive();
    this.flush();
    await this.waitFor(() => this.device.queue.onSubmittedWorkDone());
    this.checkAlive();
    this.throwPendingError();
  }

  private throwPendingError(): void {
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
  }

  /** Live GPU memory the context holds in tensors and pooled buffers. */
  memoryStats(): { liveBuffers: number; liveBytes: number; pooledBuffers: number; pooledBytes: number; uniformBuffers: number } {
    return { ...this.pool.stats(), uniformBuffers: this.uniforms.size };
  }

  /**
   * Releases the device and every buffer, safe whatever is in flight. Work recorded but not yet
   * submitted is dropped; reads still waiting reject with "GpuContext was disposed"; every later
   * call throws it. The device itself is destroyed only once the GPU has finished the work already
   * submitted (destroying it earlier crashes Dawn in Node), so a Node process still exits by
   * itself. Safe to call twice. Use `await ctx.close()` to finish pending work first.
   */
  dispose(): void {
    if (this.disposed) return;
    this.readsAborted = true;
    this.stopRecording(false);
  }

  /**
   * Submits what was recorded, lets pending reads finish, waits until the GPU is idle, then
   * releases everything as `dispose()` does. Later calls throw "GpuContext was disposed".
   */
  async close(): Promise<void> {
    if (!this.disposed) this.stopRecording(this.lost === null);
    await this.released;
  }

  private stopRecording(submit: boolean): void {
    if (submit) {
      try { this.flush(); } catch { /* a lost device: nothing more can run */ }
    } else if (this.encoder) {
      try { this.pass?.end(); } catch { /* already ended */ }
      this.device.popErrorScope().catch(() => undefined);
    }
    this.encoder = null;
    this.pass = null;
    this.disposed = true;
    this.released = this.releaseWhenIdle();
  }

  private async releaseWhenIdle(): Promise<void> {
    try { await this.waitFor(() => this.device.queue.onSubmittedWorkDone()); } catch { /* lost: nothing is running */ }
    await Promise.allSettled([...this.pendingReads]);
    this.bindGroups.clear();
    this.uniforms.clear();
    this.pool.destroyAll();
    this.device.destroy();
    this.releaseHandle?.();
    this.releaseHandle = null;
  }
}

/** The error every call on a disposed context throws. */
function disposedError(when = ''): Error {
  return new Error(`GpuContext was disposed${when ? ` ${when}` : ''}: ctx.dispose() or ctx.close() released the device; create a new context (createContext()) to continue`);
}

/** A WebGPU error that got past the library's checks, named by what was being done. */
function gpuErrorFor(what: string, err: GPUError): Error {
  const message = String(err.message);
  const kind = err.constructor?.name === 'GPUOutOfMemoryError' ? 'ran out of GPU memory' : 'was rejected by WebGPU';
  // Bind groups are labelled "<kernel> bind group (<binding>=<tensor>, …)": name that one first.
  const group = /"([A-Za-z0-9_]+) bind group \(([^)]*)\)"/.exec(message);
  const subject = group ? `kernel ${group[1]} (bound: ${group[2]})` : what;
  const first = message.split('\n').filter((l) => l.trim()).slice(0, 3).join(' ');
  return new Error(`${subject} ${kind}. This is a missing check in webgpu-rnn; please report it with this message. Details: ${first}`);
}

/** Throws unless `t` is a tensor that has not been released. */
function checkUsable(op: string, t: Tensor): void {
  if (!(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor, got ${describeValue(t)}`);
  if (t.released) throw new Error(`${op} ${t.name}: the tensor was released and can no longer be used`);
}

function isGpuBuffer(v: unknown): v is GPUBuffer {
  return typeof v === 'object' && v !== null && typeof (v as GPUBuffer).size === 'number' && typeof (v as GPUBuffer).mapAsync === 'function';
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} (upload it with ctx.tensor first)`;
  return typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : `${typeof v} ${String(v)}`;
}

/** The bytes a binding covers: a tensor's own bytes rounded up to whole vec4s, or a whole buffer. */
export function bindingRange(v: Tensor | GPUBuffer): { buffer: GPUBuffer; size: number } {
  if (v instanceof Tensor) return { buffer: v.buffer, size: Math.min(v.buffer.size, Math.ceil(v.byteSize / 16) * 16) };
  return { buffer: v, size: v.size };
}

/** Features and limits the library asks for when the adapter has them. */
export function deviceDescriptor(adapter: GPUAdapter, label = 'webgpu-rnn'): GPUDeviceDescriptor {
  const wanted = ['timestamp-query', 'subgroups', 'shader-f16'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const L = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
    maxBufferSize: L.maxBufferSize,
  };
  return { label, requiredFeatures, requiredLimits };
}

/**
 * Makes a context from any `GPU` object (navigator.gpu in a browser, Dawn's in Node).
 * Returns null when the GPU object has no adapter for these options.
 */
export async function contextFromGpu(
  gpu: GPU,
  backend: string,
  adapterOptions: GPURequestAdapterOptions = {},
  releaseHandle: (() => void) | null = null,
  waitFor?: <T>(start: () => Promise<T>) => Promise<T>,
): Promise<GpuContext | null> {
  const adapter = await gpu.requestAdapter(adapterOptions);
  if (!adapter) return null;
  const info = adapter.info;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice(deviceDescriptor(adapter));
  } catch (e) {
    const name = info?.description || info?.device || 'the adapter';
    throw new Error(`could not create a WebGPU device on ${name} (${backend}): ${(e as Error).message}`);
  }
  const featureLevel = adapterOptions.featureLevel === 'compatibility' || !adapter.features.has('core-features-and-limits') ? 'compatibility' : 'core';
  return new GpuContext(device, adapter, {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    backend,
    featureLevel,
    isFallbackAdapter: info?.isFallbackAdapter === true,
  }, releaseHandle, waitFor);
}
