// The protocol of a layer with several inputs or outputs, as a node of a `Model` graph.
//
// A single-input layer (`Layer`) is a node with one input and one output. A `GraphOp` is the general
// case: attention (queries and keys in; context and weights out), concatenation, a recurrent layer
// that also takes initial states and gives final states. Each input arrives with the RunInfo of the
// stream it came from (its own B, T and lengths: a decoder's target and an encoder's source differ),
// and backward gets one upstream gradient per output (null where nothing flows back).

import type { GpuContext } from '../runtime/context.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { Rng } from '../cpu/random.ts';
import type { Act, ActDesc, Parameter, RunCheck, RunInfo } from './layer.ts';

export interface GraphOp {
  /** Prefix of this node's parameter names in a state dict (`attention` → `attention.weight`). */
  name: string;
  /** Output descriptions from input descriptions; creates the parameters on the CPU (seeded). */
  configureInputs(inputs: ActDesc[], rng: Rng): ActDesc[];
  /** Per-run checks before anything is recorded (one RunCheck per input); throws naming the node. */
  checkRunInputs?(runs: RunCheck[]): void;
  /** Records the forward pass; `runs[i]` is the stream input i came from. */
  forwardInputs(ctx: GpuContext, inputs: Act[], runs: RunInfo[]): Act[];
  /**
   * Records the backward pass. `dOutputs[j]` is the gradient of output j (null: none flows back).
   * Accumulates into the parameters' grads (cleared by the model first). Returns one gradient per
   * input: null where `needInputGrads[i]` is false or the input is token ids.
   */
  backwardInputs(ctx: GpuContext, dOutputs: (Tensor | null)[], runs: RunInfo[], needInputGrads: boolean[]): (Tensor | null)[];
  parameters(): Parameter[];
  build(ctx: GpuContext): void;
  dispose(): void;
  /** A JSON-able description used to rebuild the node from a checkpoint. */
  config(): Record<string, unknown>;
}
