// The "what is happening" panel: one short paragraph for the page's current state, so that a
// visitor knows what the model is doing, what the numbers mean and what to press next.

export interface PageState {
  /** Why WebGPU cannot be used, if it cannot. */
  unavailable?: string;
  /** No model yet (the page is starting). */
  starting?: boolean;
  compiling?: boolean;
  training?: boolean;
  generating?: boolean;
  /** 'trained here' for a model built in the page, else the checkpoint's name. */
  modelName: string;
  /** Built in the page from the settings (not loaded from a checkpoint). */
  fresh: boolean;
  layers: string;
  step: number;
  vocabSize: number;
  batch: number;
  seqLen: number;
  lr: number;
  sampleEvery: number;
  temperature: number;
  topK: number;
  smoothedLoss: number | null;
}

export function explanation(s: PageState): string {
  if (s.unavailable) return 'Nothing can run here without WebGPU: the message above says why and what to do. The text can still be read and edited.';
  if (s.starting) return 'Looking for WebGPU and building a model…';
  const guessing = Math.log(s.vocabSize).toFixed(2);
  if (s.compiling) {
    return `Compiling the GPU kernels of ${s.layers} for this adapter: once per model shape, in the background, ` +
      'so the page stays responsive. Training or sampling starts as soon as they are ready.';
  }
  if (s.generating) {
    return `Sampling: the model reads the prime, then draws one character at a time from the distribution it predicts ` +
      `(temperature ${s.temperature.toFixed(2)}: lower is safer, higher is wilder; top-k ${s.topK || 'off'}: only the k likeliest may be drawn), ` +
      `the whole loop in one GPU kernel${s.training ? '. Training goes on after the sample' : ''}.`;
  }
  if (s.training) {
    return `Training, step ${s.step}: each step takes ${s.batch} random windows of ${s.seqLen} characters from the text, ` +
      `predicts every next character, and nudges all the weights with Adam (learning rate ${s.lr}) so that the right ones become likelier. ` +
      `The loss is the average surprise at the next character, in nats: ${guessing} is guessing among all ${s.vocabSize} characters, ` +
      `and below about 2 words start to appear${s.sampleEvery > 0 ? `. A sample every ${s.sampleEvery} steps shows what it has learned` : ''}.`;
  }
  if (!s.fresh) {
    return `${s.modelName} is loaded (${s.layers}, ${s.step} steps of training). Generate samples from it; Start trains it further on the text.`;
  }
  if (s.step === 0) {
    return `A new ${s.layers} with random weights, over the ${s.vocabSize} distinct characters of the text (its loss starts near ${guessing}, ` +
      'pure guessing). Start trains it right here on your GPU; changing the text or the settings now rebuilds it.';
  }
  const loss = s.smoothedLoss === null ? '' : ` with a loss of ${s.smoothedLoss.toFixed(2)}`;
  return `Paused at step ${s.step}${loss}. Start goes on, Generate samples from the model as it is now, Reset starts a new model with the settings above.`;
}
