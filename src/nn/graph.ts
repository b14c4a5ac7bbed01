// Model: a graph of layers with several inputs and outputs (Keras functional style). Built from
// `Input`s and the values that calling layers on them gives (see graph-value.ts):
//
//   const source = Input.tokens('source', V), target = Input.tokens('target', V);
//   const enc = new LSTM({ hiddenSize: 32, name: 'encoder' }).call(new Embedding({ ... }).call(source));
//   const dec = new LSTM({ hiddenSize: 32, name: 'decoder' }).call(new Embedding({ ... }).call(target), { initialState: enc.state });
//   const model = new Model({ inputs: { source, target }, outputs: { logits: new Dense({ units: V }).call(dec) } });
//
// Every input carries its own shape and lengths: a node runs with the RunInfo of the input its
// main (first) input came from. Final states are values like any other: they feed initial states,
// Dense bridges or model outputs, and their gradients flow back (dh_n, dc_n) into the layer.
// A training step is one submission, with the GPU-side non-finite guard shared with Sequential
// (step-guard.ts). Everything is checked on the host before anything is written or recorded.

import type { GpuContext } from '../runtime/context.ts';
import { Tensor } from '../runtime/tensor.ts';
import { Rng } from '../cpu/random.ts';
import { hashU32 } from '../cpu/seq.ts';
import { buildTokenIndex } from '../cpu/embedding.ts';
import { seqAxpy } from '../kernels/seq.ts';
import { Layer, type Act, type ActDesc, type Parameter, type RunInfo } from './layer.ts';
import { Recurrent } from './recurrent.ts';
import { GraphValue, Input, type GraphNode, type LayerNode } from './graph-value.ts';
import { BATCH_FIELDS, checkBatch, type CheckedBatch } from './batch.ts';
import { checkBoolean, checkOptionsObject, closestName, describeValue } from './options.ts';
import { Loss, LOSS_KINDS, type LossKind, type Targets, makeLoss } from '../train/losses.ts';
import type { Optimizer } from '../train/optimizers.ts';
import type { Batch } from './model.ts';
import {
  checkClipNormOption, checkOptimizerOption, checkStepReady, makeGuardBuffers, readStepStatus, recordGuardedUpdate, releaseGuardBuffers,
  type GuardBuffers, type StepResult,
} from './step-guard.ts';
import { checkLossScaleOption, type LossScaleOption, type LossScaler } from './loss-scale.ts';
import type { CustomLoss } from '../train/custom-loss.ts';
import { LossOps } from '../train/custom-loss.ts';

/** One input's data: token ids (B, T) or features (B, T, I), with its own lengths. */
export interface InputBatch {
  x: Int32Array | Float32Array | number[];
  /** [B, T] for token ids, [B, T, I] for features. */
  shape: number[];
  /** (B) valid lengths in [1, T]; all T when omitted. */
  lengths?: Int32Array | number[];
}

/** One output's targets, as for Sequential's batch (`y`, and `weights` for softmax cross-entropy). */
export interface OutputTargets {
  y: Int32Array | Float32Array | number[];
  weights?: Float32Array | number[];
}

/** Targets of a custom loss: whatever its `check` takes. */
export interface CustomTargets {
  [key: string]: unknown;
}

/** A run's targets: per output for built-in losses, or what a custom loss takes. */
export type ModelTargets<O extends string> = Partial<Record<O, OutputTargets>> | CustomTargets;

/** A built-in loss for one output, with its weight in the total (default 1). */
export type OutputLoss = LossKind | { kind: LossKind; weight?: number };

export interface ModelCompileOptions<O extends string> {
  /**
   * Per output: a built-in loss (its targets come in `targets[output]`), several weighted; or a
   * `CustomLoss` recorded on the GPU (its targets are its own to prepare).
   */
  loss: Partial<Record<O, OutputLoss>> | CustomLoss<O>;
  optimizer: Optimizer;
  /** Clip gradients to this global norm before each update; omit for no clipping. */
  clipNorm?: number;
  /**
   * Loss scaling in trainStep, as in Sequential's compile: a fixed scale in [1, 2^126], 'dynamic'
   * (2^15, halved on overflow, doubled after 2000 applied steps) or `{ initialScale, growthInterval }`.
   * Every output's loss gradient (built-in or custom) is scaled; the reported loss is not.
   * forward / backward / applyGradients take the gradients as given: no scaling there.
   */
  lossScale?: LossScaleOption;
}

/** What `predict` reads back per output. */
export interface OutputData {
  data: Float32Array;
  shape: number[];
}

/** The description of a value after configuration: an activation, or a state (count = L·D). */
type ValueDesc = ActDesc | { kind: 'state'; size: number; count: number };

interface Stream {
  input: Input;
  key: string;
}

/** A checked run: every input's batch, the outputs' targets, the mode. */
interface CheckedRun {
  batches: Map<string, CheckedBatch>;
  targets: Map<string, Targets> | null;
  customTargets: unknown;
  training: boolean;
  B: number;
}

interface BuiltinLoss {
  output: string;
  loss: Loss;
  weight: number;
}

const GRAPH_OPTIONS = ['inputs', 'outputs', 'seed'] as const;
const INPUT_FIELDS = ['x', 'shape', 'lengths'] as const;
const TARGET_FIELDS = ['y', 'weights'] as const;

/** A tensor viewed with another shape (same buffer, same element count); releasing it frees nothing. */
function viewAs(t: Tensor, shape: number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  return new Tensor(t.buffer, shape, t.dtype, t.name, () => {});
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export class Model<I extends string = string, O extends string = string> {
  readonly seed: number;
  readonly inputNames: I[];
  readonly outputNames: O[];
  /** The nodes in a topological order (every node after the nodes it takes values from). */
  private readonly nodes: GraphNode[];
  private readonly inputValues: Map<I, Input>;
  private readonly outputValues: Map<O, GraphValue>;
  private readonly descs = new Map<GraphValue, ValueDesc>();
  /** The input each value's batch dimensions come from. */
  private readonly streams = new Map<GraphValue, Stream>();
  private rng: Rng;
  private stepRng: Rng;
  private ctx: GpuContext | null = null;
  private builtinLosses: BuiltinLoss[] = [];
  private customLoss: CustomLoss<O> | null = null;
  private lossOps: LossOps | null = null;
  optimizer: Optimizer | null = null;
  clipNorm: number | undefined = undefined;
  /** The loss scale (compile's `lossScale`) and its growth counter; null: no loss scaling. */
  lossScaler: LossScaler | null = null;
  /** Training steps applied (skipped steps do not count). */
  step = 0;
  private guardBufs: GuardBuffers | null = null;
  private buffers = new Map<string, Tensor>();
  private stepInFlight = false;
  /** The last forward's runs and activations, for backward. */
  private last: { runs: Map<string, RunInfo>; acts: Map<GraphValue, Act>; training: boolean; rngBefore: number } | null = null;
  /** Whether a public backward recorded gradients that applyGradients has not applied yet. */
  private gradientsPending = false;

  constructor(o: { inputs: Record<I, Input>; outputs: Record<O, GraphValue>; seed?: number }) {
    checkOptionsObject('Model', o, GRAPH_OPTIONS, '{ inputs: { x }, outputs: { y } }');
    const seed = o.seed;
    if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`Model: option seed must be an integer, got ${describeValue(seed)}`);
    this.seed = (seed as number | undefined) ?? 1;
    this.rng = new Rng(this.seed);
    this.stepRng = new Rng(hashU32(this.seed ^ 0x5eed));
    const inputs = o.inputs as unknown, outputs = o.outputs as unknown;
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || inputs instanceof GraphValue || Object.keys(inputs).length === 0) {
      throw new Error(`Model: option inputs must be a non-empty object of Inputs by name, e.g. { source, target }, got ${describeValue(inputs)}`);
    }
    if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs) || outputs instanceof GraphValue || Object.keys(outputs).length === 0) {
      throw new Error(`Model: option outputs must be a non-empty object of graph values by name, e.g. { logits }, got ${describeValue(outputs)}`);
    }
    this.inputValues = new Map();
    for (const [k, v] of Object.entries(inputs)) {
      if (!(v instanceof Input)) throw new Error(`Model: inputs.${k} must be an Input (Input.tokens or Input.sequence), got ${v instanceof GraphValue ? v.describe() : describeValue(v)}`);
      this.inputValues.set(k as I, v);
    }
    this.outputValues = new Map();
    for (const [k, v] of Object.entries(outputs)) {
      if (!(v instanceof GraphValue)) throw new Error(`Model: outputs.${k} must be a graph value (what calling a layer returned), got ${describeValue(v)}`);
      this.outputValues.set(k as O, v);
    }
    this.inputNames = [...this.inputValues.keys()];
    this.outputNames = [...this.outputValues.keys()];
    this.nodes = this.sortNodes();
    this.configureNodes();
    // Only a model that was made claims its nodes, so a failed construction can be retried.
    for (const n of this.nodes) owners.set(n, this);
  }

  /** The nodes reachable from the outputs, each after its inputs' nodes; checks the wiring. */
  private sortNodes(): GraphNode[] {
    const order: GraphNode[] = [];
    const done = new Set<GraphNode>(), visiting = new Set<GraphNode>();
    const usedInputs = new Set<Input>();
    const known = new Set<Input>(this.inputValues.values());
    const visit = (v: GraphValue, path: string): void => {
      const node = v.producer;
      if (!node) {
        const inp = v as Input;
        if (!known.has(inp)) {
          throw new Error(`Model: ${path} depends on ${v.describe()}, which is not one of the model's inputs (${[...this.inputValues.keys()].join(', ')}); add it to inputs`);
        }
        usedInputs.add(inp);
        return;
      }
      if (done.has(node)) return;
      if (visiting.has(node)) throw new Error(`Model: the graph has a cycle through ${v.describe()}; expected each value to depend only on values made before it`);
      if (owners.has(node) && owners.get(node) !== this) {
        throw new Error(`Model: ${v.describe()} belongs to another Model; layers own their weights, so build this model from new layers`);
      }
      visiting.add(node);
      for (const x of node.inputs) visit(x, path);
      visiting.delete(node);
      done.add(node);
      order.push(node);
    };
    for (const [k, v] of this.outputValues) visit(v, `outputs.${k}`);
    for (const [k, inp] of this.inputValues) {
      if (!usedInputs.has(inp)) throw new Error(`Model: inputs.${k} (${inp.describe()}) is not used by any output; remove it or connect it`);
    }
    const names = new Set<string>();
    for (const n of order) {
      const named = n.type === 'layer' ? n.layer : n.op;
      let name = named.name, i = 1;
      while (names.has(name)) name = `${named.name}_${i++}`;
      named.name = name;
      names.add(name);
    }
    return order;
  }

  /** Each node's output descriptions from its inputs' (seeded parameters), and each value's stream. */
  private configureNodes(): void {
    for (const [k, inp] of this.inputValues) {
      this.descs.set(inp, { kind: inp.kind, size: inp.size });
      this.streams.set(inp, { input: inp, key: k });
    }
    for (const node of this.nodes) {
      const ins = node.inputs.map((v) => this.descs.get(v)!);
      const stream = this.streams.get(node.inputs[0])!;
      const label = node.type === 'layer' ? `${node.layer.constructor.name} ${JSON.stringify(node.layer.name)}` : JSON.stringify(node.op.name);
      let outs: ValueDesc[];
      try {
        if (node.type === 'op') {
          outs = node.op.configureInputs(ins.map((d, i) => this.asActDesc(d, label, i)), this.rng);
          if (!Array.isArray(outs) || outs.length !== node.outputs.length) {
            throw new Error(`gives ${Array.isArray(outs) ? outs.length : describeValue(outs)} outputs, but was called for ${node.outputs.length}`);
          }
        } else if (node.layer instanceof Recurrent) {
          const r = node.layer;
          const main = this.asActDesc(ins[0], label, 0);
          const out = r.configure(main, this.rng);
          const LD = r.numLayers * r.numDirections, H = r.hiddenSize;
          if (node.initialState) {
            for (let i = 1; i < ins.length; i++) {
              const d = ins[i];
              const ok = (d.kind === 'state' && d.count === LD && d.size === H) || (d.kind === 'vec' && LD === 1 && d.size === H);
              if (!ok) {
                const got = d.kind === 'state' ? `a state (${d.count}, B, ${d.size})` : d.kind === 'vec' ? `a vector (B, ${d.size})` : `a ${d.kind} value of size ${d.size}`;
                throw new Error(`initialState.${i === 1 ? 'h' : 'c'} is ${got} (${node.inputs[i].describe()}); expected (numLayers·directions = ${LD}, B, hiddenSize = ${H})${LD === 1 ? ` or a vector (B, ${H})` : ''}`);
              }
            }
          }
          const state: ValueDesc = { kind: 'state', size: H, count: LD };
          outs = [out, state, ...(r.cell === 'lstm' ? [state] : [])];
        } else {
          outs = [node.layer.configure(this.asActDesc(ins[0], label, 0), this.rng)];
        }
      } catch (e) {
        throw new Error(`Model: ${label}: ${(e as Error).message}`);
      }
      node.outputs.forEach((v, i) => { this.descs.set(v, outs[i]); this.streams.set(v, stream); });
    }
  }

  /** A value's description as a node input: a state of one layer and direction is a (B, H) vector. */
  private asActDesc(d: ValueDesc, label: string, i: number): ActDesc {
    if (d.kind !== 'state') return d;
    if (d.count !== 1) throw new Error(`input ${i} is a state of ${d.count} layers·directions (${d.count}, B, ${d.size}); only a recurrent layer's initialState takes that (a state of one layer and direction can feed ${label} as a (B, ${d.size}) vector)`);
    return { kind: 'vec', size: d.size };
  }

  /** Every layer of the graph, in running order. */
  get layers(): Layer[] {
    return this.nodes.filter((n): n is LayerNode => n.type === 'layer').map((n) => n.layer);
  }

  /** Uploads every node's parameters. */
  build(ctx: GpuContext): this {
    for (const n of this.nodes) (n.type === 'layer' ? n.layer : n.op).build(ctx);
    this.ctx = ctx;
    return this;
  }

  get context(): GpuContext {
    return this.requireCtx();
  }

  get contextOrNull(): GpuContext | null {
    return this.ctx;
  }

  private requireCtx(): GpuContext {
    if (!this.ctx) throw new Error('Model: call build(ctx) first');
    return this.ctx;
  }

  /** Parameters with their state-dict names (`<layer name>.<param>`), in running order. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const n of this.nodes) {
      const owner = n.type === 'layer' ? n.layer : n.op;
      for (const p of owner.parameters()) out.push([`${owner.name}.${p.name}`, p]);
    }
    return out;
  }

  recurrentLayers(): Recurrent[] {
    return this.layers.filter((l): l is Recurrent => l instanceof Recurrent);
  }

  resetStates(): void {
    for (const l of this.recurrentLayers()) l.resetState();
  }

  rngState(): number {
    return this.stepRng.getState();
  }

  setRngState(s: number): void {
    this.stepRng.setState(s);
  }

  /** The configuration that rebuilds this graph (layers' configs and the wiring), for checkpoints. */
  config(): Record<string, unknown> {
    const ids = new Map<GraphValue, string>();
    for (const [k, v] of this.inputValues) ids.set(v, `input:${k}`);
    const nodes = this.nodes.map((n) => {
      const owner = n.type === 'layer' ? n.layer : n.op;
      n.outputs.forEach((v, i) => ids.set(v, `${owner.name}:${i}`));
      return { layer: owner.config(), op: n.type === 'op', inputs: n.inputs.map((v) => ids.get(v)!), ...(n.type === 'layer' && n.initialState ? { initialState: true } : {}) };
    });
    return {
      seed: this.seed,
      inputs: Object.fromEntries([...this.inputValues].map(([k, v]) => [k, { kind: v.kind, size: v.size, name: v.name }])),
      nodes,
      outputs: Object.fromEntries([...this.outputValues].map(([k, v]) => [k, ids.get(v)])),
    };
  }

  /** The output's description (for losses and shapes). */
  outputDesc(name: O): ActDesc {
    const d = this.descs.get(this.outputValues.get(name)!)!;
    return d.kind === 'state' ? { kind: 'vec', size: d.size } : d;
  }

  /** The shape of a value for a batch of B rows and T steps. */
  private shapeOf(v: GraphValue, B: number, T: number): number[] {
    const d = this.descs.get(v)!;
    if (d.kind === 'state') return [d.count, B, d.size];
    return d.kind === 'vec' ? [B, d.size] : d.kind === 'tokens' ? [B, T] : [B, T, d.size];
  }

  /**
   * Sets the losses, the optimizer and clipping; everything is checked before anything changes.
   * Without a loss for an output, that output gets no gradient in trainStep.
   */
  compile(o: ModelCompileOptions<O>): this {
    const ctx = this.requireCtx();
    checkOptionsObject('compile', o as unknown, ['loss', 'optimizer', 'clipNorm', 'lossScale'], "{ loss: { logits: 'softmax_cross_entropy' }, optimizer: new Adam() }");
    const optimizer = checkOptimizerOption('compile', o.optimizer);
    const clipNorm = checkClipNormOption('compile', o.clipNorm);
    const lossScaler = checkLossScaleOption('compile', o.lossScale);
    if (this.stepInFlight) throw new Error('compile: a trainStep is still running; await it first');
    const loss = o.loss as unknown;
    const builtin: BuiltinLoss[] = [];
    let custom: CustomLoss<O> | null = null;
    const example = `{ ${this.outputNames[0]}: 'softmax_cross_entropy' }`;
    if (typeof loss === 'object' && loss !== null && typeof (loss as CustomLoss<O>).record === 'function') {
      custom = loss as CustomLoss<O>;
    } else if (typeof loss !== 'object' || loss === null || Array.isArray(loss) || Object.keys(loss).length === 0) {
      throw new Error(`compile: option loss must be an object of losses by output name, e.g. ${example}, or a custom loss { record(ops, outputs) }, got ${describeValue(loss)}`);
    } else {
      for (const [k, spec] of Object.entries(loss)) {
        if (!this.outputValues.has(k as O)) {
          const near = closestName(k, this.outputNames);
          throw new Error(`compile: loss for unknown output ${JSON.stringify(k)}${near ? ` (did you mean ${near}?)` : ''}; the outputs are ${this.outputNames.join(', ')}`);
        }
        const s = typeof spec === 'string' ? { kind: spec, weight: 1 } : spec as { kind?: unknown; weight?: unknown };
        if (typeof s !== 'object' || s === null || !LOSS_KINDS.includes(s.kind as LossKind)) {
          throw new Error(`compile: loss.${k} is ${describeValue(spec)}; expected one of ${LOSS_KINDS.join(', ')} or { kind, weight }`);
        }
        const d = this.descs.get(this.outputValues.get(k as O)!)!;
        if (d.kind === 'state' && d.count !== 1) throw new Error(`compile: loss.${k}: the output is a state of ${d.count} layers·directions; a built-in loss takes a state of one (use a custom loss or backward() for the others)`);
        const weight = s.weight ?? 1;
        if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) throw new Error(`compile: loss.${k}.weight is ${describeValue(weight)}; expected a positive finite number`);
        builtin.push({ output: k, loss: makeLoss(s.kind as LossKind, this.outputDesc(k as O)), weight });
      }
    }
    // Everything is valid: from here on the model changes.
    for (const b of this.builtinLosses) b.loss.dispose();
    this.builtinLosses = builtin;
    this.customLoss = custom;
    this.lossOps ??= new LossOps(ctx);
    if (this.optimizer && this.optimizer !== optimizer) this.releaseOwnOptimizer();
    this.optimizer = optimizer;
    optimizer.attach(ctx, this.namedParameters().map(([key, p]) => ({ key, p })));
    this.clipNorm = clipNorm;
    this.lossScaler = lossScaler;
    releaseGuardBuffers(this.guardBufs);
    this.guardBufs = makeGuardBuffers(ctx, this.grads());
    return this;
  }

  private grads(): Tensor[] {
    return this.namedParameters().map(([, p]) => p.grad!);
  }

  private releaseOwnOptimizer(): void {
    const opt = this.optimizer;
    if (opt && opt.attachedTo(this.namedParameters().map(([, p]) => p))) opt.release();
  }

  /** A cached graph-owned buffer. */
  private buffer(key: string, shape: readonly number[], dtype: 'f32' | 'i32' | 'u32' = 'f32'): Tensor {
    const ctx = this.requireCtx();
    const have = this.buffers.get(key);
    if (have && have.dtype === dtype && sameShape(have.shape, shape)) return have;
    have?.release();
    const t = ctx.empty(shape, dtype, `model.${key}`);
    this.buffers.set(key, t);
    return t;
  }

  /** `{ training?: boolean }`-style options, checked. */
  private runOptions(owner: string, opts: unknown, known: readonly string[]): Record<string, unknown> {
    if (opts === undefined) return {};
    checkOptionsObject(owner, opts, known, `{ ${known[0]}: true }`);
    for (const k of known) if (opts[k] !== undefined) checkBoolean(owner, `option ${k}`, opts[k]);
    return opts;
  }

  /**
   * Every check of a run on the host, before anything is written or recorded: each input's
   * batch, equal batch sizes, the targets (with `withTargets`), every node's per-run checks and
   * every per-run tensor against the device's limits. Changes nothing.
   */
  private checkRun(owner: string, inputs: unknown, training: boolean, targets: unknown, withTargets: boolean): CheckedRun {
    const ctx = this.requireCtx();
    if (withTargets && this.builtinLosses.length === 0 && !this.customLoss) throw new Error(`${owner}: the model has no loss; call model.compile({ loss, optimizer }) first`);
    const want = `{ ${this.inputNames.join(', ')} }`;
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs) || ArrayBuffer.isView(inputs)) {
      throw new Error(`${owner}: the inputs must be an object ${want} of { x, shape, lengths? }, got ${describeValue(inputs)}`);
    }
    for (const k of Object.keys(inputs)) {
      if (this.inputValues.has(k as I)) continue;
      const near = closestName(k, this.inputNames);
      throw new Error(`${owner}: unknown input ${JSON.stringify(k)}${near ? ` (did you mean ${near}?)` : ''}; the model's inputs are ${want}`);
    }
    const batches = new Map<string, CheckedBatch>();
    let B = -1, firstB = '';
    for (const [k, inp] of this.inputValues) {
      const b = (inputs as Record<string, unknown>)[k];
      const where = `${owner}: input ${JSON.stringify(k)}`;
      if (b === undefined) throw new Error(`${where} is missing; expected { x, shape${inp.kind === 'tokens' ? ': [B, T]' : `: [B, T, ${inp.size}]`}, lengths? } for each of ${want}`);
      if (typeof b === 'object' && b !== null && !Array.isArray(b)) {
        for (const f of Object.keys(b)) {
          if ((INPUT_FIELDS as readonly string[]).includes(f)) continue;
          const hint = (BATCH_FIELDS as readonly string[]).includes(f) ? ' (targets go in the targets argument, by output name)' : '';
          throw new Error(`${where}: unknown field ${JSON.stringify(f)}${hint}; an input has ${INPUT_FIELDS.join(', ')}`);
        }
      }
      const c = checkBatch(where, b, { kind: inp.kind, size: inp.size });
      if (B < 0) { B = c.B; firstB = k; } else if (c.B !== B) {
        throw new Error(`${where}: batch size ${c.B} (shape [${c.shape.join(', ')}]) differs from input ${JSON.stringify(firstB)}'s ${B}; expected every input to have the same B`);
      }
      batches.set(k, c);
    }
    const dims = (v: GraphValue): CheckedBatch => batches.get(this.streams.get(v)!.key)!;
    let checkedTargets: Map<string, Targets> | null = null;
    let customTargets: unknown;
    if (withTargets) {
      checkedTargets = new Map();
      if (this.customLoss) {
        customTargets = this.customLoss.check ? this.customLoss.check(targets, this.outputShapes(batches)) : targets;
      } else {
        const names = this.builtinLosses.map((b) => b.output);
        if (typeof targets !== 'object' || targets === null || Array.isArray(targets)) {
          throw new Error(`${owner}: the targets must be an object { ${names.join(', ')} } of { y, weights? }, got ${describeValue(targets)}`);
        }
        for (const k of Object.keys(targets)) {
          if (names.includes(k)) continue;
          throw new Error(`${owner}: targets.${k} is given, but ${this.outputValues.has(k as O) ? 'that output has no loss' : 'the model has no such output'}; expected targets for ${names.join(', ')}`);
        }
        for (const { output, loss } of this.builtinLosses) {
          const t = (targets as Record<string, unknown>)[output];
          const where = `${owner}: targets.${output}`;
          if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new Error(`${where} must be an object { y, weights? }, got ${describeValue(t)}`);
          for (const f of Object.keys(t)) {
            if (!(TARGET_FIELDS as readonly string[]).includes(f)) throw new Error(`${where}: unknown field ${JSON.stringify(f)}; targets have ${TARGET_FIELDS.join(', ')}`);
          }
          const v = this.outputValues.get(output as O)!;
          const c = dims(v);
          checkedTargets.set(output, loss.check(t as unknown as Batch, { owner: where, outShape: this.shapeOf(v, c.B, c.T), B: c.B, T: c.T, lengths: c.lengths }));
        }
      }
    }
    for (const n of this.nodes) {
      const c = dims(n.inputs[0]);
      if (n.type === 'op') n.op.checkRunInputs?.(n.inputs.map((v) => ({ B: dims(v).B, T: dims(v).T, training })));
      else n.layer.checkRun({ B: c.B, T: c.T, training });
    }
    // Every per-run tensor must fit the device: each value (and its gradient) and the layers' scratch.
    for (const [k, inp] of this.inputValues) ctx.checkAllocation(`input ${JSON.stringify(k)} at batch ${B} × ${batches.get(k)!.T} steps`, this.shapeOf(inp, B, batches.get(k)!.T));
    for (const n of this.nodes) {
      const c = dims(n.inputs[0]);
      for (const v of n.outputs) ctx.checkAllocation(`${v.describe()} at batch ${c.B} × ${c.T} steps`, this.shapeOf(v, c.B, c.T));
      if (n.type === 'layer') for (const [label, width] of Object.entries(n.layer.runWidths())) ctx.checkAllocation(`${n.layer.name}.${label} at batch ${c.B} × ${c.T} steps`, [c.B, c.T, width]);
    }
    return { batches, targets: checkedTargets, customTargets, training, B };
  }

  /** Each output's shape for these batches. */
  private outputShapes(batches: Map<string, CheckedBatch>): Record<O, number[]> {
    const out = {} as Record<O, number[]>;
    for (const [k, v] of this.outputValues) {
      const c = batches.get(this.streams.get(v)!.key)!;
      out[k] = this.shapeOf(v, c.B, c.T);
    }
    return out;
  }

  /**
   * Uploads a checked run: every input, its lengths and token index, the step seed (advancing the
   * step RNG in training) and the targets. Every write of a run happens here, before any recording.
   */
  private upload(c: CheckedRun): Map<string, RunInfo> {
    const ctx = this.requireCtx();
    const seed = c.training ? this.stepRng.seed() : 0;
    const seedT = this.buffer('seed', [1], 'u32');
    ctx.write(seedT, Uint32Array.of(seed));
    const runs = new Map<string, RunInfo>();
    for (const [k, b] of c.batches) {
      const inp = this.inputValues.get(k as I)!;
      const tokens = inp.kind === 'tokens';
      const xT = this.buffer(`input.${k}.x`, b.shape, tokens ? 'i32' : 'f32');
      ctx.write(xT, b.x);
      const lenT = this.buffer(`input.${k}.lengths`, [b.B], 'i32');
      ctx.write(lenT, b.lengths);
      const hostTokens = tokens ? (b.x as Int32Array) : undefined;
      const run: RunInfo = { B: b.B, T: b.T, lengths: lenT, hostLengths: b.lengths, hostTokens, training: c.training, seed, seedTensor: seedT };
      if (hostTokens) {
        let index: { offsets: Tensor; positions: Tensor } | null = null;
        run.tokenIndex = () => {
          if (!index) {
            const idx = buildTokenIndex(hostTokens, inp.size, [b.B, b.T]);
            index = { offsets: this.buffer(`input.${k}.offsets`, [inp.size + 1], 'i32'), positions: this.buffer(`input.${k}.positions`, [b.B * b.T], 'i32') };
            ctx.write(index.offsets, idx.offsets);
            ctx.write(index.positions, idx.positions);
          }
          return index;
        };
        // Built now, before anything is recorded, so that a step stays one submission.
        if (c.training) run.tokenIndex();
      }
      runs.set(k, run);
    }
    if (c.targets) for (const b of this.builtinLosses) b.loss.upload(ctx, c.targets.get(b.output)!);
    if (this.customLoss && c.targets) this.customLoss.upload?.(this.lossOps!, c.customTargets);
    return runs;
  }

  private runOf(runs: Map<string, RunInfo>, v: GraphValue): RunInfo {
    return runs.get(this.streams.get(v)!.key)!;
  }

  /** Records the forward pass of every node; returns every value's activation. */
  private recordForward(runs: Map<string, RunInfo>): Map<GraphValue, Act> {
    const ctx = this.requireCtx();
    const acts = new Map<GraphValue, Act>();
    for (const [k, inp] of this.inputValues) acts.set(inp, { kind: inp.kind, t: this.buffers.get(`input.${k}.x`)! });
    // A state of one layer and direction (1, B, H) goes to other nodes as a (B, H) vector.
    const asInput = (v: GraphValue): Act => {
      const a = acts.get(v)!;
      return this.descs.get(v)!.kind === 'state' ? { kind: 'vec', t: viewAs(a.t, a.t.shape.slice(1)) } : a;
    };
    for (const n of this.nodes) {
      const run = this.runOf(runs, n.inputs[0]);
      if (n.type === 'op') {
        const outs = n.op.forwardInputs(ctx, n.inputs.map(asInput), n.inputs.map((v) => this.runOf(runs, v)));
        n.outputs.forEach((v, i) => acts.set(v, outs[i]));
      } else if (n.layer instanceof Recurrent) {
        const r = n.layer;
        const stateShape = [r.numLayers * r.numDirections, run.B, r.hiddenSize];
        if (n.initialState) {
          const h = acts.get(n.inputs[1])!.t, c = n.initialState.c ? acts.get(n.inputs[2])!.t : undefined;
          r.setInitialState({ h: viewAs(h, stateShape), ...(c ? { c: viewAs(c, stateShape) } : {}) });
        }
        acts.set(n.outputs[0], r.forward(ctx, acts.get(n.inputs[0])!, run));
        if (n.initialState) r.setInitialState(null);
        const fin = r.finalState();
        acts.set(n.outputs[1], { kind: 'vec', t: fin.h });
        if (fin.c) acts.set(n.outputs[2], { kind: 'vec', t: fin.c });
      } else {
        acts.set(n.outputs[0], n.layer.forward(ctx, asInput(n.inputs[0]), run));
      }
    }
    return acts;
  }

  /** Whether a value's gradient is needed: something upstream has parameters (or is a wanted float input). */
  private gradNeeds(inputGrads: boolean): (v: GraphValue) => boolean {
    const memo = new Map<GraphValue, boolean>();
    const needs = (v: GraphValue): boolean => {
      const have = memo.get(v);
      if (have !== undefined) return have;
      let r: boolean;
      const n = v.producer;
      if (!n) r = inputGrads && (v as Input).kind === 'seq';
      else r = (n.type === 'layer' ? n.layer : n.op).parameters().length > 0 || n.inputs.some(needs);
      memo.set(v, r);
      return r;
    };
    return needs;
  }

  /**
   * Records the backward pass from upstream gradients of some values (outputs, final states).
   * Parameter gradients are cleared first, then accumulated; returns every value's gradient.
   */
  private recordBackward(runs: Map<string, RunInfo>, acts: Map<GraphValue, Act>, upstream: Map<GraphValue, Tensor>, inputGrads: boolean): Map<GraphValue, Tensor> {
    const ctx = this.requireCtx();
    for (const g of this.grads()) ctx.clear(g);
    const needs = this.gradNeeds(inputGrads);
    const grads = new Map<GraphValue, Tensor>();
    const accumulators = new Map<GraphValue, Tensor>();
    let accId = 0;
    const ids = new Map<GraphValue, number>();
    const add = (v: GraphValue, g: Tensor | null | undefined): void => {
      if (!g || !needs(v)) return;
      const have = grads.get(v);
      if (!have) { grads.set(v, g); return; }
      // A value used twice: its gradient is the sum, in a buffer of the model's own.
      let acc = accumulators.get(v);
      if (!acc || acc !== have) {
        if (!ids.has(v)) ids.set(v, accId++);
        acc = this.buffer(`grad.${ids.get(v)}`, acts.get(v)!.t.shape);
        ctx.copy(have, acc, have.byteSize);
        accumulators.set(v, acc);
        grads.set(v, acc);
      }
      seqAxpy(ctx, 1, g, acc);
    };
    for (const [v, g] of upstream) add(v, g);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      const dOuts = n.outputs.map((v) => grads.get(v) ?? null);
      if (dOuts.every((d) => d === null)) continue;
      const run = this.runOf(runs, n.inputs[0]);
      const wants = n.inputs.map(needs);
      if (n.type === 'op') {
        const dIns = n.op.backwardInputs(ctx, dOuts, n.inputs.map((v) => this.runOf(runs, v)), wants);
        // Gradients of a state fed as a (B, H) vector go back in the state's shape.
        n.inputs.forEach((v, j) => {
          const d = dIns[j];
          add(v, d && this.descs.get(v)!.kind === 'state' ? viewAs(d, [...acts.get(v)!.t.shape]) : d);
        });
      } else if (n.layer instanceof Recurrent) {
        const r = n.layer;
        let dy = dOuts[0];
        if (!dy) {
          dy = this.buffer(`zeros.${r.name}`, acts.get(n.outputs[0])!.t.shape);
          ctx.clear(dy);
        }
        r.finalStateGrad = { h: dOuts[1], c: dOuts[2] ?? null };
        try {
          add(n.inputs[0], r.backward(ctx, dy, run, wants[0]));
        } finally {
          r.finalStateGrad = null;
        }
        if (n.initialState && r.initialStateGrad) {
          const hv = n.inputs[1];
          add(hv, viewAs(r.initialStateGrad.h, [...acts.get(hv)!.t.shape]));
          if (n.initialState.c && r.initialStateGrad.c) {
            const cv = n.inputs[2];
            add(cv, viewAs(r.initialStateGrad.c, [...acts.get(cv)!.t.shape]));
          }
        }
      } else {
        const inDesc = this.descs.get(n.inputs[0])!;
        const dx = n.layer.backward(ctx, dOuts[0]!, run, wants[0]);
        // Gradients of a state fed as a (B, H) vector go back in the state's shape.
        add(n.inputs[0], dx && inDesc.kind === 'state' ? viewAs(dx, [...acts.get(n.inputs[0])!.t.shape]) : dx);
      }
    }
    return grads;
  }

  /**
   * Records the losses on the outputs; returns the upstream gradients (times `lossScale`) and the
   * total loss buffer (1, never scaled).
   */
  private recordLosses(acts: Map<GraphValue, Act>, withGrad: boolean, lossScale = 1): { upstream: Map<GraphValue, Tensor>; loss: Tensor } {
    const ctx = this.requireCtx();
    const upstream = new Map<GraphValue, Tensor>();
    if (this.customLoss) {
      const outs = {} as Record<O, Tensor>;
      for (const [k, v] of this.outputValues) outs[k] = acts.get(v)!.t;
      const r = this.customLoss.record(this.lossOps!, outs, withGrad);
      if (withGrad) {
        for (const [k, g] of Object.entries(r.grads ?? {}) as [O, Tensor][]) {
          const v = this.outputValues.get(k);
          if (!v) throw new Error(`custom loss: gradient for unknown output ${JSON.stringify(k)}; the outputs are ${this.outputNames.join(', ')}`);
          if (!(g instanceof Tensor) || g.size !== acts.get(v)!.t.size) throw new Error(`custom loss: the gradient for ${k} must be a tensor of shape (${acts.get(v)!.t.shape.join(', ')}), got ${g instanceof Tensor ? g.toString() : describeValue(g)}`);
          if (lossScale !== 1) {
            const scaled = this.buffer(`loss.${k}.scaledGrad`, g.shape);
            ctx.clear(scaled);
            seqAxpy(ctx, lossScale, g, scaled);
            upstream.set(v, scaled);
            continue;
          }
          upstream.set(v, g);
        }
      }
      return { upstream, loss: r.loss };
    }
    let total: Tensor | null = null;
    const single = this.builtinLosses.length === 1 && this.builtinLosses[0].weight === 1;
    if (!single) { total = this.buffer('loss.total', [1]); ctx.clear(total); }
    for (const b of this.builtinLosses) {
      const v = this.outputValues.get(b.output as O)!;
      const a = acts.get(v)!;
      const out = this.descs.get(v)!.kind === 'state' ? { kind: 'vec' as const, t: viewAs(a.t, a.t.shape.slice(1)) } : a;
      let g = b.loss.record(ctx, out, withGrad);
      if (total) seqAxpy(ctx, b.weight, b.loss.lossBuffer(ctx), total);
      // The loss weight and the loss scale in one pass (w·S·g: S a power of two keeps it exact).
      if (g && b.weight * lossScale !== 1) {
        const scaled = this.buffer(`loss.${b.output}.grad`, g.shape);
        ctx.clear(scaled);
        seqAxpy(ctx, b.weight * lossScale, g, scaled);
        g = scaled;
      }
      if (g) upstream.set(v, viewAs(g, [...a.t.shape]));
    }
    return { upstream, loss: total ?? this.builtinLosses[0].loss.lossBuffer(ctx) };
  }

  /**
   * Records the forward pass and returns every output's tensor (not read back; valid until the
   * next run). With `training`, dropout is on and the step's seed advances. `backward` may follow.
   */
  forward(inputs: { [K in I]: InputBatch }, opts: { training?: boolean } = {}): Record<O, Tensor> {
    const o = this.runOptions('forward', opts, ['training']);
    if (this.stepInFlight) throw new Error('forward: a trainStep is still running; await it first');
    const training = (o.training as boolean | undefined) ?? false;
    const checked = this.checkRun('forward', inputs, training, undefined, false);
    const rngBefore = this.stepRng.getState();
    const runs = this.upload(checked);
    const acts = this.recordForward(runs);
    this.last = { runs, acts, training, rngBefore };
    this.gradientsPending = false;
    const out = {} as Record<O, Tensor>;
    for (const [k, v] of this.outputValues) out[k] = acts.get(v)!.t;
    return out;
  }

  /**
   * Records the backward pass of the last `forward` from upstream gradients of any outputs (final
   * states included; each the output's shape, f32). Clears, then accumulates the parameters'
   * gradients; returns the gradients of the float (sequence) inputs (token inputs: null). Follow
   * with `applyGradients()` to update.
   */
  backward(upstream: Partial<Record<O, Tensor>>): Record<I, Tensor | null> {
    const last = this.last;
    if (!last) throw new Error('backward: no forward to go back through; call model.forward(inputs) first');
    if (this.stepInFlight) throw new Error('backward: a trainStep is still running; await it first');
    if (typeof upstream !== 'object' || upstream === null || Array.isArray(upstream) || upstream instanceof Tensor) {
      throw new Error(`backward: expected an object of upstream gradients by output name { ${this.outputNames.join(', ')} }, got ${describeValue(upstream)}`);
    }
    const up = new Map<GraphValue, Tensor>();
    for (const [k, g] of Object.entries(upstream)) {
      const v = this.outputValues.get(k as O);
      if (!v) {
        const near = closestName(k, this.outputNames);
        throw new Error(`backward: gradient for unknown output ${JSON.stringify(k)}${near ? ` (did you mean ${near}?)` : ''}; the outputs are ${this.outputNames.join(', ')}`);
      }
      if (g === undefined) continue;
      const shape = last.acts.get(v)!.t.shape;
      if (!(g instanceof Tensor) || g.dtype !== 'f32' || !sameShape(g.shape, shape) || g.released) {
        throw new Error(`backward: the gradient of ${k} is ${g instanceof Tensor ? `${g.toString()}${g.released ? ' (released)' : ''}` : describeValue(g)}; expected an f32 tensor of the output's shape (${shape.join(', ')})`);
      }
      up.set(v, g as Tensor);
    }
    const grads = this.recordBackward(last.runs, last.acts, up, true);
    this.gradientsPending = true;
    const out = {} as Record<I, Tensor | null>;
    for (const [k, inp] of this.inputValues) out[k] = inp.kind === 'seq' ? (grads.get(inp) ?? this.zeroGrad(k, last.acts.get(inp)!.t.shape)) : null;
    return out;
  }

  /** Zeros for an input no gradient reached. */
  private zeroGrad(key: string, shape: readonly number[]): Tensor {
    const t = this.buffer(`grad.input.${key}`, shape);
    this.requireCtx().clear(t);
    return t;
  }

  /**
   * Applies the gradients of the last `backward`: global-norm clipping (compile's clipNorm), the
   * non-finite guard (on the norm, and on `loss` when given: a (1) tensor) and the optimizer's
   * update, then reads the step status. A skipped step changes nothing, as in trainStep.
   */
  async applyGradients(opts: { loss?: Tensor; readLoss?: boolean } = {}): Promise<StepResult> {
    const ctx = this.requireCtx();
    checkOptionsObject('applyGradients', opts, ['loss', 'readLoss'], '{ loss }');
    if (opts.loss !== undefined && !(opts.loss instanceof Tensor && opts.loss.size === 1 && opts.loss.dtype === 'f32')) {
      throw new Error(`applyGradients: option loss is ${describeValue(opts.loss)}; expected a (1) f32 tensor (the loss the gradients came from), or omit it`);
    }
    if (this.stepInFlight) throw new Error('applyGradients: a trainStep is still running; await it first');
    const { optimizer, guard } = checkStepReady('applyGradients', this.optimizer, this.optimizer !== null, this.guardBufs, this.namedParameters().map(([, p]) => p));
    if (!this.gradientsPending) throw new Error('applyGradients: no gradients to apply; call model.backward({ output: gradient }) after model.forward(inputs) first');
    const lr = optimizer.currentLr();
    let loss = opts.loss;
    if (!loss) { loss = this.buffer('loss.none', [1]); ctx.write(loss, new Float32Array(1)); }
    this.stepInFlight = true;
    try {
      optimizer.prepareStep(lr);
      recordGuardedUpdate(ctx, optimizer, this.grads(), this.clipNorm, guard, loss);
      this.gradientsPending = false;
      const result = await readStepStatus(ctx, guard, opts.readLoss === true);
      this.finishStep(result.skipped, this.last?.training ? this.last.rngBefore : null);
      return result;
    } finally {
      this.stepInFlight = false;
    }
  }

  private finishStep(skipped: boolean, rngBefore: number | null): void {
    if (skipped) {
      if (rngBefore !== null) this.stepRng.setState(rngBefore);
      for (const l of this.layers) l.stepSkipped(this.requireCtx());
    } else {
      this.step++;
      this.optimizer!.commitStep();
    }
  }

  /**
   * Forward, losses and backward with the gradients left in each parameter's grad (cleared
   * first); for gradient tests. With `inputGrads`, returns the gradients of the sequence inputs
   * (null for token inputs, or without `inputGrads`). Training mode by default.
   */
  computeGradients(inputs: { [K in I]: InputBatch }, targets: ModelTargets<O>, opts: { training?: boolean; inputGrads?: boolean } = {}): Record<I, Tensor | null> {
    const o = this.runOptions('computeGradients', opts, ['training', 'inputGrads']);
    const checked = this.checkRun('computeGradients', inputs, (o.training as boolean | undefined) ?? true, targets, true);
    const rngBefore = this.stepRng.getState();
    const runs = this.upload(checked);
    const acts = this.recordForward(runs);
    this.last = { runs, acts, training: checked.training, rngBefore };
    this.gradientsPending = true;
    const { upstream } = this.recordLosses(acts, true);
    const grads = this.recordBackward(runs, acts, upstream, o.inputGrads === true);
    const out = {} as Record<I, Tensor | null>;
    for (const [k, inp] of this.inputValues) out[k] = grads.get(inp) ?? null;
    return out;
  }

  /**
   * One training step: forward, losses, backward, the global gradient norm (clipping) and the
   * update in one submission, then a 16-byte status read back. Everything is checked first; a
   * rejected call changes nothing. A non-finite norm or loss skips the update on the GPU (the
   * result says `skipped: true`), exactly as Sequential.trainStep.
   */
  async trainStep(inputs: { [K in I]: InputBatch }, targets: ModelTargets<O>, opts: { readLoss?: boolean } = {}): Promise<StepResult> {
    const ctx = this.requireCtx();
    const o = this.runOptions('trainStep', opts, ['readLoss']);
    if (this.stepInFlight) throw new Error('trainStep: the previous trainStep has not finished; await each step before starting the next');
    const { optimizer, guard } = checkStepReady('trainStep', this.optimizer, this.builtinLosses.length > 0 || this.customLoss !== null, this.guardBufs, this.namedParameters().map(([, p]) => p));
    const checked = this.checkRun('trainStep', inputs, true, targets, true);
    const lr = optimizer.currentLr();
    const rngBefore = this.stepRng.getState();
    this.stepInFlight = true;
    try {
      const runs = this.upload(checked);
      optimizer.prepareStep(lr); // a write too, so before the recording: one submission per step
      const acts = this.recordForward(runs);
      this.last = { runs, acts, training: true, rngBefore };
      this.gradientsPending = false;
      const lossScale = this.lossScaler?.scale ?? 1;
      const { upstream, loss } = this.recordLosses(acts, true, lossScale);
      this.recordBackward(runs, acts, upstream, false);
      recordGuardedUpdate(ctx, optimizer, this.grads(), this.clipNorm, guard, loss, lossScale);
      const result = await readStepStatus(ctx, guard, o.readLoss === true, this.lossScaler);
      this.finishStep(result.skipped, rngBefore);
      return result;
    } finally {
      this.stepInFlight = false;
    }
  }

  /** The total loss of a batch without training (no dropout, nothing updated or counted). */
  async evaluate(inputs: { [K in I]: InputBatch }, targets: ModelTargets<O>): Promise<number> {
    const ctx = this.requireCtx();
    if (this.stepInFlight) throw new Error('evaluate: a trainStep is still running; await it first');
    const checked = this.checkRun('evaluate', inputs, false, targets, true);
    const runs = this.upload(checked);
    const acts = this.recordForward(runs);
    const { loss } = this.recordLosses(acts, false);
    return (await ctx.read(loss))[0];
  }

  /** Runs the model (no dropout) and reads every output back. */
  async predict(inputs: { [K in I]: InputBatch }): Promise<Record<O, OutputData>> {
    const ctx = this.requireCtx();
    if (this.stepInFlight) throw new Error('predict: a trainStep is still running; await it first');
    const checked = this.checkRun('predict', inputs, false, undefined, false);
    const runs = this.upload(checked);
    const acts = this.recordForward(runs);
    const out = {} as Record<O, OutputData>;
    for (const [k, v] of this.outputValues) {
      const t = acts.get(v)!.t;
      out[k] = { data: (await ctx.read(t)) as Float32Array, shape: [...t.shape] };
    }
    return out;
  }

  dispose(): void {
    for (const n of this.nodes) (n.type === 'layer' ? n.layer : n.op).dispose();
    for (const t of this.buffers.values()) t.release();
    this.buffers.clear();
    for (const b of this.builtinLosses) b.loss.dispose();
    this.lossOps?.dispose();
    this.releaseOwnOptimizer();
    releaseGuardBuffers(this.guardBufs);
    this.guardBufs = null;
  }
}

/** Which Model each node belongs to (a node's layer owns weights: one model per node). */
const owners = new WeakMap<GraphNode, Model>();
