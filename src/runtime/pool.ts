// BufferPool: GPU buffers recycled by (size class, usage) so that a training loop that releases
// what it acquires allocates nothing after its first step. Size classes are powers of two
// (at least 256 bytes), so a released buffer serves any request up to its class.

interface PooledInfo {
  size: number;
  usage: number;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private info = new Map<GPUBuffer, PooledInfo>();
  private live = new Set<GPUBuffer>();

  constructor(private readonly device: GPUDevice, private readonly onDestroy?: (b: GPUBuffer) => void) {}

  static sizeClass(bytes: number): number {
    let s = 256;
    while (s < bytes) s *= 2;
    return s;
  }

  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const maxSize = this.device.limits.maxBufferSize;
    if (size > maxSize && bytes <= maxSize) return this.acquireExact(bytes, usage, label);
    if (bytes > maxSize) throw new Error(`${label}: ${bytes} bytes exceed the adapter's maxBufferSize of ${maxSize}`);
    const key = `${size}|${usage}`;
    const list = this.free.get(key);
    let buf = list?.pop();
    if (buf) {
      buf.label = label;
    } else {
      buf = this.device.createBuffer({ size, usage, label });
      this.info.set(buf, { size, usage });
    }
    this.live.add(buf);
    return buf;
  }

  private acquireExact(bytes: number, usage: number, label: string): GPUBuffer {
    const size = Math.ceil(bytes / 16) * 16; // whole vec4s: kernels may read 16-byte units
    const buf = this.device.createBuffer({ size, usage, label });
    this.info.set(buf, { size, usage });
    this.live.add(buf);
    return buf;
  }

  release(buf: GPUBuffer): void {
    const info = this.info.get(buf);
    if (!info || !this.live.has(buf)) return;
    this.live.delete(buf);
    const key = `${info.size}|${info.usage}`;
    let list = this.free.get(key);
    if (!list) { list = []; this.free.set(key, list); }
    list.push(buf);
  }

  /** Destroys the free buffers (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) { this.onDestroy?.(b); this.info.delete(b); b.destroy(); }
    }
    this.free.clear();
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) { this.onDestroy?.(b); this.info.delete(b); b.destroy(); }
    this.live.clear();
  }

  stats(): { liveBuffers: number; liveBytes: number; pooledBuffers: number; pooledBytes: number } {
    let liveBytes = 0, pooledBuffers = 0, pooledBytes = 0;
    for (const b of this.live) liveBytes += this.info.get(b)!.size;
    for (const list of this.free.values()) for (const b of list) { pooledBuffers++; pooledBytes += this.info.get(b)!.size; }
    return { liveBuffers: this.live.size, liveBytes, pooledBuffers, pooledBytes };
  }
}
