// Every kernel family; importing this registers all kernels.
export * from './grid.ts';
export * from './adam.ts';
export * from './seq.ts';
export * from './matmul.ts';
export * from './activation.ts';
export * from './rnn.ts';
export * from './softmax_xent.ts';
export * from './gru.ts';
export * from './lstm.ts';
export * from './embedding.ts';
export * from './losses.ts';
export * from './clip.ts';
export * from './lstm_seq.ts';
export * from './step_variant.ts';
export * from './gru_seq.ts';
export * from './rnn_seq.ts';
export * from './generate.ts';
