// createPredictor: inference on the engine that suits the adapter. On a GPU the model's own
// kernels (`model.predict`) win; on a software fallback adapter (SwiftShader, lavapipe/llvmpipe,
// WARP) every dispatch is emulated on the CPU and a CPU library with SIMD kernels is an order of
// magnitude faster. There the predictor runs the model's ONNX export (`exportOnnx`) on
// onnxruntime-web's wasm backend — an optional peer dependency, imported on first use, the same
// code in Node and in the browser. 'auto' picks the engine from the context's adapter facts and
// says why in `reason`.
//
// The ONNX file holds a copy of the weights, so the predictor re-exports when they may have
// changed: a training step (`model.step`), a load (loadStateDict / decodeModelInto /
// loadCheckpoint give every parameter new host values) or a rebuild (new GPU buffers).
// The exporter (with its protobuf codec) is imported on first use, so that a page's bundler keeps
// it out of the root entry's chunk.
import type { AdapterFacts } from '../runtime/adapter-facts.ts';
import { Sequential, type Batch } from './model.ts';
import { checkBatch } from './batch.ts';
import { OneHot } from './embedding.ts';
import { checkEnum, checkOptionsObject, describeValue } from './options.ts';

/** Where a predictor runs: 'webgpu' (the model's kernels) or 'wasm' (onnxruntime-web); 'auto' chooses. */
export type PredictorEngine = 'auto' | 'webgpu' | 'wasm';

/** The parts of onnxruntime-web the predictor uses (so that its types are not needed to compile). */
export interface OnnxRuntimeModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OnnxRuntimeSession> };
  Tensor: new (type: 'int32' | 'int64' | 'float32', data: Int32Array | BigInt64Array | Float32Array, dims: readonly number[]) => unknown;
}

interface OnnxRuntimeSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release(): Promise<void>;
}

export interface PredictorOptions {
  /**
   * 'auto' (default): 'wasm' where the adapter is a CPU implementation or a fallback adapter
   * (`ctx.adapterFacts`), onnxruntime-web can be imported and every layer has an ONNX form;
   * 'webgpu' otherwise. 'webgpu' or 'wasm' force an engine ('wasm' throws when it cannot run).
   */
  engine?: PredictorEngine;
  /**
   * The onnxruntime-web module, for a bundled page: `ort: await import('onnxruntime-web')` lets
   * the page's bundler resolve it. By default it is imported by name on first use (Node, or a page
   * with an import map).
   */
  ort?: OnnxRuntimeModule;
}

/** A model's inference on one engine; outputs as `model.predict` gives them. */
export interface Predictor {
  /** The engine it runs on. */
  readonly engine: 'webgpu' | 'wasm';
  /** One line saying why this engine was chosen. */
  readonly reason: string;
  /** The model's outputs for a batch (its `x`, `shape` and `lengths`): (B, T, D) or (B, D). */
  predict(batch: Batch): Promise<{ data: Float32Array; shape: number[] }>;
  /** Releases the onnxruntime session (the model itself is not disposed). Later calls throw. */
  dispose(): Promise<void>;
}

const OWNER = 'createPredictor';
const ENGINES = ['auto', 'webgpu', 'wasm'] as const;
const ORT_INSTALL = 'npm install onnxruntime-web';

/**
 * A predictor for a built Sequential model, on the engine `options.engine` names or, with
 * 'auto', the faster one for the model's adapter (see {@link PredictorOptions.engine}). The
 * 'wasm' engine runs the model's ONNX export on onnxruntime-web (install it with
 * `npm install onnxruntime-web`) and gives the same outputs as `model.predict` within float32
 * rounding; it re-exports the weights when they change through training steps (`trainStep`,
 * `fit`), loads (`loadStateDict`, `decodeModelInto`, `loadCheckpoint`) or a rebuild. Weights
 * written some other way (`ctx.write` into a parameter's buffer) are not seen: make a new
 * predictor then. Stateful recurrent layers and initial states set with `setInitialStates` are
 * not part of an ONNX file: 'auto' keeps a stateful model on 'webgpu', and the 'wasm' engine
 * always starts from zero states.
 */
export async function createPredictor(model: Sequential, options: PredictorOptions = {}): Promise<Predictor> {
  checkOptionsObject(OWNER, options, ['engine', 'ort'], "{ engine: 'auto' }");
  const engine = options.engine === undefined ? 'auto' : checkEnum(OWNER, 'option engine', options.engine, ENGINES);
  if (options.ort !== undefined && !isOrtModule(options.ort)) {
    throw new Error(`${OWNER}: option ort is ${describeValue(options.ort)}; expected the onnxruntime-web module (ort: await import('onnxruntime-web'))`);
  }
  if (!(model instanceof Sequential)) {
    throw new Error(`${OWNER}: expected a built Sequential model, got ${describeValue(model)}; a graph Model has no ONNX export yet, so call its predict(inputs) directly`);
  }
  const ctx = model.contextOrNull;
  if (!ctx) throw new Error(`${OWNER}: the model is not built; call model.build(ctx) first`);

  if (engine === 'webgpu') return gpuPredictor(model, "engine 'webgpu' was asked for");
  const stateful = model.recurrentLayers().filter((l) => l.stateful).map((l) => `"${l.name}"`);
  if (engine === 'auto') {
    const facts = ctx.adapterFacts;
    if (!facts.isCpu && !facts.isFallback) return gpuPredictor(model, `the adapter is a GPU${facts.vendor ? ` (${facts.vendor})` : ''}: the model's own WebGPU kernels`);
    const adapter = describeAdapter(facts);
    if (stateful.length) return gpuPredictor(model, `${adapter}, but layer ${stateful.join(', ')} is stateful (its carried state is not in an ONNX file): WebGPU`);
    let ort: OnnxRuntimeModule;
    try {
      ort = options.ort ?? (await loadOnnxRuntimeWeb());
    } catch {
      return gpuPredictor(model, `${adapter}, but onnxruntime-web could not be imported (${ORT_INSTALL} for a faster CPU path): WebGPU`);
    }
    let session: OnnxRuntimeSession;
    try {
      session = await ort.InferenceSession.create(await exportForWasm(model), { executionProviders: ['wasm'] });
    } catch (e) {
      return gpuPredictor(model, `${adapter}, but the model cannot run on onnxruntime-web (${(e as Error).message}): WebGPU`);
    }
    return new WasmPredictor(model, ort, session, `${adapter}: the model's ONNX export on onnxruntime-web's wasm backend`);
  }
  // engine === 'wasm'
  if (stateful.length) throw new Error(`${OWNER}: engine 'wasm' cannot run stateful layer ${stateful.join(', ')} (its carried state is not in an ONNX file); expected stateless recurrent layers, or engine 'webgpu'`);
  const ort = options.ort ?? (await loadOnnxRuntimeWeb());
  let bytes: Uint8Array;
  try {
    bytes = await exportForWasm(model);
  } catch (e) {
    throw new Error(`${OWNER}: engine 'wasm' runs the model's ONNX export, which failed: ${(e as Error).message}`);
  }
  return new WasmPredictor(model, ort, await createSession(ort, bytes), "engine 'wasm' was asked for: the model's ONNX export on onnxruntime-web's wasm backend");
}

/** The model as ONNX bytes for the wasm engine (exportOnnx, imported on first use). */
async function exportForWasm(model: Sequential): Promise<Uint8Array> {
  const { exportOnnx } = await import('../interop/onnx/export.ts');
  return exportOnnx(model, exportOptions(model));
}

/**
 * Token ids as int32 (no conversion per batch), except into OneHot: onnxruntime-web's wasm build
 * implements OneHot for int64 indices only.
 */
function exportOptions(model: Sequential): { tokenType: 'int32' | 'int64' } {
  return { tokenType: model.layers[0] instanceof OneHot ? 'int64' : 'int32' };
}

function describeAdapter(f: AdapterFacts): string {
  return f.isFallback ? 'the adapter is a software fallback' : `the adapter is a CPU implementation${f.vendor ? ` (${f.vendor})` : ''}`;
}

function isOrtModule(v: unknown): v is OnnxRuntimeModule {
  const m = v as Partial<OnnxRuntimeModule> | null;
  return typeof m === 'object' && m !== null && typeof m.InferenceSession?.create === 'function' && typeof m.Tensor === 'function';
}

/** onnxruntime-web, an optional peer dependency, imported on first use (the module loader keeps it). */
async function loadOnnxRuntimeWeb(): Promise<OnnxRuntimeModule> {
  let mod: unknown;
  try {
    // A variable specifier keeps bundlers from failing where the package is not installed;
    // a bundled page passes the module itself (option ort).
    const name = 'onnxruntime-web';
    mod = await import(name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new Error(
      `${OWNER}: engine 'wasm' needs onnxruntime-web, an optional peer dependency, which ${missing ? 'is not installed' : `could not be imported (${(e as Error).message})`}; ` +
      `expected it installed (${ORT_INSTALL}), or in a bundled page passed as { ort: await import('onnxruntime-web') }`,
    );
  }
  // The module itself, or (through some loaders) its default export.
  const ort = isOrtModule(mod) ? mod : (mod as { default?: unknown } | null)?.default;
  if (!isOrtModule(ort)) throw new Error(`${OWNER}: the onnxruntime-web module has no InferenceSession and Tensor; expected onnxruntime-web 1.30 or later (${ORT_INSTALL})`);
  return ort;
}

async function createSession(ort: OnnxRuntimeModule, bytes: Uint8Array): Promise<OnnxRuntimeSession> {
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  } catch (e) {
    throw new Error(`${OWNER}: onnxruntime-web could not load the model's ONNX export (${(e as Error).message}); expected onnxruntime-web 1.30 or later with its wasm backend`);
  }
}

function gpuPredictor(model: Sequential, reason: string): Predictor {
  let disposed = false;
  return {
    engine: 'webgpu',
    reason,
    predict(batch: Batch) {
      if (disposed) return Promise.reject(new Error('predict: this predictor was disposed; create a new one with createPredictor(model)'));
      return model.predict(batch);
    },
    async dispose() { disposed = true; },
  };
}

/**
 * What the exported weights depend on: the training step count, and each parameter's host values
 * (replaced by every load) and GPU buffer (replaced by a rebuild), compared by identity.
 */
function weightsVersion(model: Sequential): unknown[] {
  return [model.step, ...model.namedParameters().flatMap(([, p]) => [p.init, p.value])];
}

function sameVersion(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

class WasmPredictor implements Predictor {
  readonly engine = 'wasm';
  private version: unknown[];
  private disposed = false;
  /** Runs are chained: one session runs one batch at a time, and a re-export waits its turn. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly model: Sequential, private readonly ort: OnnxRuntimeModule, private session: OnnxRuntimeSession, readonly reason: string) {
    this.version = weightsVersion(model);
  }

  predict(batch: Batch): Promise<{ data: Float32Array; shape: number[] }> {
    if (this.disposed) return Promise.reject(new Error('predict: this predictor was disposed; create a new one with createPredictor(model)'));
    let run: () => Promise<{ data: Float32Array; shape: number[] }>;
    try {
      // The same checks as model.predict, before anything is read back or run.
      const checked = checkBatch('predict', batch, this.model.input);
      if (this.model.namedParameters().some(([, p]) => !p.value || p.value.released)) {
        throw new Error('predict: the model was disposed; expected a built model (a predictor answers for its model\'s current weights)');
      }
      for (const l of this.model.layers) l.checkRun({ B: checked.B, T: checked.T, training: false });
      run = () => this.run(checked.x, checked.shape, checked.lengths);
    } catch (e) {
      return Promise.reject(e);
    }
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async run(x: Int32Array | Float32Array, shape: number[], lengths: Int32Array): Promise<{ data: Float32Array; shape: number[] }> {
    if (this.disposed) throw new Error('predict: this predictor was disposed; create a new one with createPredictor(model)');
    const version = weightsVersion(this.model);
    if (!sameVersion(version, this.version)) {
      // The weights changed since the export: export again and swap the session.
      const fresh = await createSession(this.ort, await exportForWasm(this.model));
      await this.session.release();
      this.session = fresh;
      this.version = version;
    }
    const { Tensor } = this.ort;
    let input: unknown;
    if (x instanceof Float32Array) input = new Tensor('float32', x, shape);
    else if (exportOptions(this.model).tokenType === 'int64') input = new Tensor('int64', BigInt64Array.from(x, BigInt), shape);
    else input = new Tensor('int32', x, shape);
    const feeds = {
      [this.model.input.kind === 'tokens' ? 'tokens' : 'inputs']: input,
      lengths: new Tensor('int32', lengths, [lengths.length]),
    };
    const out = (await this.session.run(feeds)).output;
    return { data: new Float32Array(out.data as Float32Array), shape: out.dims.map(Number) };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await this.session.release();
  }
}
