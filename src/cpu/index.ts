// The CPU reference: the same ops as the WGSL kernels, written by hand in float64.
export * from './random.ts';
export * from './optim.ts';
export * from './math.ts';
export * from './seq.ts';
export * from './activation.ts';
export * from './cell_activation.ts';
export * from './matmul.ts';
export * from './rnn.ts';
export * from './softmax_xent.ts';
export * from './gru.ts';
export * from './lstm.ts';
export * from './embedding.ts';
export * from './losses.ts';
export * from './clip.ts';
export * from './model.ts';
export * from './generate.ts';
