// Variable-length input sequences (the Simplilearn deck, "Handling Sequences of Variable Lengths"):
// a basic RNN cell of 5 tanh units over a batch of 4 sequences of 2 steps of 3 inputs, where
// instance 1 has only one step (its second is zero padding), `seq_length_batch = [2, 1, 2, 2]`.
// Prints the outputs and the final states as the deck does: past a sequence's length the output is
// a zero vector, and a row's final state is its output at its own last step (t = 0 for instance 1).
// The weights are our seeded initialisation, not TensorFlow's, so the numbers differ from the
// deck's; the GPU's values are checked against the float64 CPU reference.
//
//   npx tsx examples/variable_length.ts            prints outputs and states, writes values.json and metrics.json
//   npx tsx examples/variable_length.ts --seed 7   other weights
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RNN, Sequential, cpu, stateDict } from '../src/node.ts';
import { openGpu, outDir, parseFlags, run, writeMetrics } from './lib/cli.ts';
import { noDataFile } from './lib/seq.ts';

run(async () => {
  const flags = parseFlags('variable_length', { epochs: 1, hidden: 5, cell: 'rnn', seed: 42, data: '', out: 'out/variable_length' }, {});
  noDataFile('variable_length', flags);
  if (flags.cell !== 'rnn') throw new Error(`--cell: variable_length runs the deck's BasicRNNCell (rnn), got ${flags.cell}`);
  const B = 4, T = 2, I = 3, H = flags.hidden;

  const xBatch = Float32Array.from([
    // step 0     step 1
    0, 1, 2, 9, 8, 7, // instance 0
    3, 4, 5, 0, 0, 0, // instance 1 (padded with a zero vector)
    6, 7, 8, 6, 5, 4, // instance 2
    9, 0, 1, 3, 2, 1, // instance 3
  ]);
  const seqLengthBatch = Int32Array.from([2, 1, 2, 2]);

  const ctx = await openGpu();
  const rnn = new RNN({ hiddenSize: H, inputSize: I, name: 'rnn' });
  const model = new Sequential([rnn], { seed: flags.seed }).build(ctx);
  const { out } = model.forward({ x: xBatch, shape: [B, T, I], lengths: seqLengthBatch });
  const outputs = await ctx.read(out.t) as Float32Array;
  const states = await ctx.read(rnn.finalState().h) as Float32Array; // (1, B, H)

  // The float64 reference on the same weights.
  const sd = await stateDict(model);
  const ref = cpu.rnnForward(xBatch, {
    weight_ih: sd['rnn.weight_ih_l0'].data, weight_hh: sd['rnn.weight_hh_l0'].data,
    bias_ih: sd['rnn.bias_ih_l0'].data, bias_hh: sd['rnn.bias_hh_l0'].data,
  }, new Float64Array(B * H), seqLengthBatch);
  let maxDiff = 0;
  for (let i = 0; i < B * T * H; i++) maxDiff = Math.max(maxDiff, Math.abs(outputs[i] - ref.hs[i]));
  for (let i = 0; i < B * H; i++) maxDiff = Math.max(maxDiff, Math.abs(states[i] - ref.hn[i]));

  const vec = (a: Float32Array, at: number) => `[${Array.from(a.subarray(at, at + H), (v) => (v < 0 ? '' : ' ') + v.toFixed(8)).join(' ')}]`;
  console.log('>>> print(outputs_val)');
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const note = t === seqLengthBatch[b] - 1 ? ' # final state' : t >= seqLengthBatch[b] ? ' # zero vector' : '';
      console.log(`${b === 0 && t === 0 ? '[[' : t === 0 ? ' [' : '  '}${vec(outputs, (b * T + t) * H)}${t === T - 1 ? ']' : ''}${b === B - 1 && t === T - 1 ? ']' : ''}${note}`);
    }
  }
  console.log('>>> print(states_val)');
  for (let b = 0; b < B; b++) {
    console.log(`${b === 0 ? '[' : ' '}${vec(states, b * H)}${b === B - 1 ? ']' : ''} # t = ${seqLengthBatch[b] - 1}`);
  }

  // What the deck points out, checked: zero outputs past a length, final state = last valid output.
  let zeroPast = true, finalIsLast = true;
  for (let b = 0; b < B; b++) {
    for (let t = seqLengthBatch[b]; t < T; t++) for (let j = 0; j < H; j++) zeroPast &&= outputs[(b * T + t) * H + j] === 0;
    for (let j = 0; j < H; j++) finalIsLast &&= states[b * H + j] === outputs[(b * T + seqLengthBatch[b] - 1) * H + j];
  }
  const dir = outDir(flags.out);
  writeFileSync(join(dir, 'values.json'), `${JSON.stringify({
    seq_length_batch: Array.from(seqLengthBatch), outputs_shape: [B, T, H], outputs: Array.from(outputs), states_shape: [1, B, H], states: Array.from(states),
  })}\n`);
  writeMetrics(dir, {
    max_abs_diff_vs_cpu: maxDiff, zero_past_length: zeroPast, final_state_is_last_output: finalIsLast, hidden: H, seed: flags.seed, adapter: ctx.describe(),
  });
  // f32 on the GPU against float64: a tanh of sums of a few O(10) products.
  if (!(maxDiff < 1e-5) || !zeroPast || !finalIsLast) {
    throw new Error(`the GPU's values do not match the CPU reference (max |Δ| ${maxDiff}) or the deck's rules (zero past length: ${zeroPast}, final = last output: ${finalIsLast})`);
  }
  model.dispose();
  ctx.dispose();
});
