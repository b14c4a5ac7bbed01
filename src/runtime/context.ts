// GpuContext: one WebGPU device plus everything the library keeps per device — the buffer pool,
// the pipeline cache, the uniform and bind-group caches, and the command encoder that dispatches
// are recorded into. Work is recorded lazily into one compute pass and submitted on `flush()`
// (or implicitly by `read()`/`write()`), so a whole training step becomes one command buffer.

import { BufferPool } from './pool.ts';
import { getKernel, kernelSource, sourceLocation, type KernelSpec } from './registry.ts';
import {
  BYTES_PER_ELEMENT, Tensor, checkShapeValid, dtypeOf, numel, shapeString, typedArrayFor,
  type AnyTypedArray, type DType, type TypedArrayFor,
} from './tensor.ts';

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

  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, CachedPipeline>();
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
  /** Dispatches recorded since the context was made (for tests and benchmarks). */
  dispatchCount = 0;
  /** Command buffers submitted since the context was made (for tests and benchmarks). */
  submitCount = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter | null,
    readonly adapterInfo: AdapterSummary,
    private releaseHandle: (() => void) | null = null,
  ) {
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    this.pool = new BufferPool(device, (buf) => this.forgetBuffer(buf));
    this.uniforms = new Lru<string, GPUBuffer>(4096, (b) => { this.forgetBuffer(b); b.destroy(); });
    device.addEventListener('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      if (!this.pendingError) this.pendingError = new Error(`WebGPU error: ${err.message}`);
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

  get isLost(): boolean {
    return this.lost !== null;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('GpuContext was disposed');
    if (this.lost !== null) throw new Error(`GPU device was lost (${this.lost}); create a new context and resume from a checkpoint`);
  }

  // ---------------------------------------------------------------- tensors

  /** An uninitialised tensor from the pool (contents are whatever the buffer held). */
  empty<D extends DType = 'f32'>(shape: readonly number[], dtype: D = 'f32' as D, name = 'tensor'): Tensor<D> {
    this.checkAlive();
    checkShapeValid(name, shape);
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
    if (data.length !== t.size) throw new Error(`write ${t.name}: ${data.length} values given, tensor has ${t.size}`);
    if (dtypeOf(data) !== t.dtype) throw new Error(`write ${t.name}: ${dtypeOf(data)} data given, tensor is ${t.dtype}`);
    this.flush();
    this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Reads a tensor back (flushes recorded work first). */
  async read<D extends DType>(t: Tensor<D>): Promise<TypedArrayFor<D>> {
    const bytes = await this.readBytes(t.buffer, 0, t.byteSize);
    return typedArrayFor(t.dtype, bytes) as TypedArrayFor<D>;
  }

  /** Reads `byteLength` bytes of a buffer at `offset`. */
  async readBytes(buffer: GPUBuffer, offset: number, byteLength: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.pool.acquire(size, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.endPass();
    this.getEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MAP_READ_MODE, 0, size);
    } catch (e) {
      this.checkAlive();
      this.throwPendingError();
      throw e;
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
    const s = src instanceof Tensor ? src.buffer : src;
    const d = dst instanceof Tensor ? dst.buffer : dst;
    const n = bytes ?? (src instanceof Tensor ? src.byteSize : s.size);
    this.endPass();
    this.getEncoder().copyBufferToBuffer(s, srcOffset, d, dstOffset, n);
  }

  /** Records zero-filling of a tensor. */
  clear(t: Tensor): void {
    this.checkAlive();
    this.endPass();
    this.getEncoder().clearBuffer(t.buffer, 0, t.byteSize);
  }

  // ---------------------------------------------------------------- kernels

  private shaderModule(file: string): GPUShaderModule {
    let m = this.modules.get(file);
    if (!m) {
      const { code } = kernelSource(file);
      // WEBGPU_RNN_DUMP_WGSL=lstm.wgsl (or =all) prints the final WGSL (common.wgsl prepended).
      const dump = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WEBGPU_RNN_DUMP_WGSL;
      if (dump && (dump === 'all' || dump.split(',').includes(file))) console.log(`// ===== final WGSL of shaders/${file} =====\n${code}`);
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

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) { id = this.nextBufferId++; this.bufferIds.set(b, id); }
    return id;
  }

  /** Drops cached bind groups that reference a buffer about to be destroyed. */
  private forgetBuffer(b: GPUBuffer): void {
    const id = this.bufferIds.get(b);
    if (id === undefined) return;
    const tag = `#${id}#`;
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
    const { pipeline, layout, id } = this.pipeline(name, args.overrides);
    let uniform: GPUBuffer | null = null;
    const buffers: GPUBuffer[] = spec.bindings.map((b) => {
      if (b.kind === 'uniform' && b.name === 'params') {
        uniform = this.uniformFor(spec, args.params);
        if (!uniform) throw new Error(`kernel ${spec.name}: binding params has no fields in the spec`);
        return uniform;
      }
      const v = args.bindings[b.name];
      if (v === undefined) throw new Error(`kernel ${spec.name}: binding ${b.name} was not given`);
      if (v instanceof Tensor) {
        if (v.released) throw new Error(`kernel ${spec.name}: ${b.name} (${v.name}) was released`);
        return v.buffer;
      }
      return v;
    });
    let key = `${id}`;
    for (const buf of buffers) key += `#${this.bufferId(buf)}#`;
    // WebGPU refuses a buffer bound twice in one dispatch when one binding is writable; say which.
    for (let i = 0; i < buffers.length; i++) {
      for (let j = i + 1; j < buffers.length; j++) {
        if (buffers[i] === buffers[j] && (spec.bindings[i].kind === 'storage' || spec.bindings[j].kind === 'storage')) {
          throw new Error(`kernel ${spec.name}: ${spec.bindings[i].name} and ${spec.bindings[j].name} are the same buffer, and one is written`);
        }
      }
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        label: `${spec.name} bind group`,
        layout,
        entries: buffers.map((buffer, i) => ({ binding: spec.bindings[i].index ?? i, resource: { buffer } })),
      });
      this.bindGroups.set(key, group);
    }
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new Error(`kernel ${spec.name}: ${x}x${y}x${z} workgroups exceed the adapter's limit of ${maxWg} per dimension`);
    }
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCount++;
  }

  // ---------------------------------------------------------------- recording

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'webgpu-rnn commands' });
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
    if (this.disposed) return;
    this.endPass();
    if (this.encoder) {
      const cb = this.encoder.finish();
      this.encoder = null;
      this.device.queue.submit([cb]);
      this.submitCount++;
    }
  }

  /** Submits recorded work and waits until the GPU has finished it. */
  async sync(): Promise<void> {
    this.checkAlive();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
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

  /** Releases the device (and, in Node, Dawn) so the process can exit. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder = null;
    this.pass = null;
    this.bindGroups.clear();
    this.pool.destroyAll();
    this.device.destroy();
    this.releaseHandle?.();
    this.releaseHandle = null;
  }
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
): Promise<GpuContext | null> {
  const adapter = await gpu.requestAdapter(adapterOptions);
  if (!adapter) return null;
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  const info = adapter.info;
  const featureLevel = adapterOptions.featureLevel === 'compatibility' || !adapter.features.has('core-features-and-limits') ? 'compatibility' : 'core';
  return new GpuContext(device, adapter, {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    backend,
    featureLevel,
  }, releaseHandle);
}
