// Input layers for token ids: Embedding (a trainable table, PyTorch nn.Embedding: weight (V, E),
// init N(0, 1)) and OneHot (the tutorials' one-hot characters, as a gather — never a dense
// one-hot matmul; it has no parameters).
import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import { hostFloat32Array } from '../runtime/limits.ts';
import { embeddingBackward, embeddingForward, oneHotForward } from '../kernels/embedding.ts';
import { Layer, checkAct, type Act, type ActDesc, type Parameter, type RunInfo } from './layer.ts';
import { checkInteger, checkLayerName, checkOptionsObject, describeValue, layerLabel } from './options.ts';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  name?: string;
}

const EMBEDDING_OPTIONS = ['numEmbeddings', 'embeddingDim', 'name'] as const;

export class Embedding extends Layer {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  private weight!: Parameter;

  constructor(o: EmbeddingOptions) {
    checkOptionsObject('Embedding', o, EMBEDDING_OPTIONS, '{ numEmbeddings: 65, embeddingDim: 16 }');
    const name = o.name === undefined ? 'embedding' : checkLayerName('Embedding', o.name);
    super(name);
    const owner = layerLabel('Embedding', name);
    this.numEmbeddings = checkInteger(owner, 'option numEmbeddings', o.numEmbeddings, 1);
    this.embeddingDim = checkInteger(owner, 'option embeddingDim', o.embeddingDim, 1);
  }

  inputDesc(): ActDesc {
    return { kind: 'tokens', size: this.numEmbeddings };
  }

  configure(input: ActDesc, rng: Rng): ActDesc {
    if (input.kind !== 'tokens') throw new Error(`${this.name}: Embedding takes token ids, got ${input.kind}`);
    if (input.size !== this.numEmbeddings) throw new Error(`${this.name}: vocabulary ${input.size} given, numEmbeddings is ${this.numEmbeddings}`);
    this.params = [];
    const n = this.numEmbeddings * this.embeddingDim;
    const init = hostFloat32Array(`${this.name}.weight`, [this.numEmbeddings, this.embeddingDim]);
    for (let i = 0; i < n; i++) init[i] = rng.normal();
    this.weight = this.addParam('weight', [this.numEmbeddings, this.embeddingDim], init);
    return { kind: 'seq', size: this.embeddingDim };
  }

  /**
   * Set by Sequential when the next layer is a unidirectional f32 recurrent layer. For a batch with
   * more tokens than rows in the table (B·T > V) that layer then takes the token ids and folds the
   * table into its input weights (W_ih·tableᵀ, a (G, V) matrix whose columns it gathers), so the
   * (B·T, E)·(E, G) projection and its two gradient GEMMs become products of V rows; the gradient
   * of the table comes from that layer too.
   */
  foldInto: { acceptsFold(B: number, T: number): boolean } | null = null;

  /** The table (V, E), for the layer that folds it. */
  get table(): Parameter {
    return this.weight;
  }

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    checkAct(this.name, x, 'tokens');
    if (this.foldInto?.acceptsFold(run.B, run.T)) return x;
    const y = this.buffer('y', [run.B, run.T, this.embeddingDim]);
    embeddingForward(ctx, this.weight.value!, x.t, y);
    return { kind: 'seq', t: y };
  }

  backward(ctx: GpuContext, dy: Tensor, run: RunInfo): Tensor | null {
    // Deterministic scatter-add through the batch's token index (a counting sort on the host).
    const index = run.tokenIndex?.();
    if (!index) throw new Error(`${this.name}: backward needs the batch's token ids`);
    embeddingBackward(ctx, dy, index.offsets, index.positions, this.weight.grad!, { accumulate: true });
    return null;
  }

  config(): Record<string, unknown> {
    return { type: 'Embedding', name: this.name, numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim };
  }
}

export class OneHot extends Layer {
  readonly numClasses: number;

  constructor(numClasses: number, name = 'one_hot') {
    super(checkLayerName('OneHot', name));
    if (typeof numClasses === 'object' && numClasses !== null) {
      throw new Error(`OneHot: the first argument is the number of classes, e.g. new OneHot(65), got ${describeValue(numClasses)}`);
    }
    this.numClasses = checkInteger(layerLabel('OneHot', name), 'numClasses', numClasses, 1);
  }

  inputDesc(): ActDesc {
    return { kind: 'tokens', size: this.numClasses };
  }

  configure(input: ActDesc): ActDesc {
    if (input.kind !== 'tokens') throw new Error(`${this.name}: OneHot takes token ids, got ${input.kind}`);
    if (input.size !== this.numClasses) throw new Error(`${this.name}: vocabulary ${input.size} given, numClasses is ${this.numClasses}`);
    return { kind: 'seq', size: this.numClasses };
  }

  /**
   * Set by Sequential when the next layer is a unidirectional recurrent layer: the token ids then
   * pass straight through and that layer gathers W_ih's columns instead of multiplying a one-hot
   * matrix (same result, no (B, T, V) buffer, no GEMM).
   */
  passTokens = false;

  forward(ctx: GpuContext, x: Act, run: RunInfo): Act {
    checkAct(this.name, x, 'tokens');
    if (this.passTokens) return x;
    const y = this.buffer('y', [run.B, run.T, this.numClasses]);
    oneHotForward(ctx, x.t, y);
    return { kind: 'seq', t: y };
  }

  backward(): Tensor | null {
    return null;
  }

  config(): Record<string, unknown> {
    return { type: 'OneHot', name: this.name, numClasses: this.numClasses };
  }
}
